//! PostgreSQL over TLS with the server's certificate verified (`sslmode=verify-full`), as a
//! ministry's database is reached across its network. scripts/test starts its cluster with
//! a self-signed certificate and names it in `MPSV_IDP_TEST_POSTGRES_TLS_CA`.

use reqwest::StatusCode;

use crate::helpers::*;

fn with_tls(url: &str, root: Option<&str>) -> String {
    let mut u = url::Url::parse(url).unwrap();
    u.set_host(Some("localhost")).unwrap();
    let mut q = String::from("sslmode=verify-full");
    if let Some(root) = root {
        q.push_str(&format!("&sslrootcert={root}"));
    }
    u.set_query(Some(&q));
    u.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_over_verified_tls() {
    let (Some(_), Ok(ca)) = (
        postgres_url(),
        std::env::var("MPSV_IDP_TEST_POSTGRES_TLS_CA"),
    ) else {
        eprintln!("skipped: no PostgreSQL with TLS (MPSV_IDP_TEST_POSTGRES_TLS_CA)");
        return;
    };
    let root = ca.clone();
    let app = spawn_app_with(Db::Postgres, move |c| {
        c.database_url = with_tls(&c.database_url, Some(&root));
    })
    .await;
    let (encrypted,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl")
            .fetch_one(app.state.storage.pool())
            .await
            .unwrap();
    assert_eq!(encrypted, 1, "the connection is encrypted");
    let r = reqwest::get(app.url("/readyz")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Without the certificate's root the server is not trusted: no connection at all.
    let untrusted = with_tls(&app.state.config.database_url, None);
    let refused = match mpsv_idp::storage::Storage::connect(&untrusted, 1).await {
        Ok(_) => panic!("connected to a server whose certificate nobody vouches for"),
        Err(e) => e.to_string(),
    };
    assert!(
        refused.contains("invalid peer certificate"),
        "refused for its certificate: {refused}"
    );
}
