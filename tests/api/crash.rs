//! Issue 12 (tests): a single node on SQLite killed with SIGKILL in the middle of writes
//! leaves a database that opens, passes `PRAGMA integrity_check`, and serves again.

use std::process::{Command, Stdio};

use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_survives_kill_9_during_writes() {
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let base = format!("http://127.0.0.1:{port}");
    let db = dir.path().join("idp.db");
    let start = || {
        Command::new(env!("CARGO_BIN_EXE_mpsv-idp"))
            .arg("serve")
            .env_remove("MPSV_IDP_CONFIG")
            .env("MPSV_IDP_ISSUER", &base)
            .env("MPSV_IDP_BIND", format!("127.0.0.1:{port}"))
            .env(
                "MPSV_IDP_DATABASE_URL",
                format!("sqlite://{}?mode=rwc", db.display()),
            )
            .env("MPSV_IDP_KEY_DIR", dir.path().join("keys"))
            .env("MPSV_IDP_MAIL_FOLDER", dir.path().join("mail"))
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap();
    let up = |http: reqwest::Client| {
        let url = format!("{base}/readyz");
        async move {
            for _ in 0..300 {
                if let Ok(r) = http.get(&url).send().await {
                    if r.status() == StatusCode::OK {
                        return true;
                    }
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            false
        }
    };
    let mut node = start();
    assert!(up(http.clone()).await, "the node starts");
    // Writers: every visit to the account page parks a login (a row), every one of the
    // password form's answers counts against a rate limit (another row).
    let mut writers = Vec::new();
    for w in 0..4 {
        let (http, base) = (http.clone(), base.clone());
        writers.push(tokio::spawn(async move {
            let mut done = 0u32;
            for i in 0..10_000 {
                let r = if (i + w) % 2 == 0 {
                    http.get(format!("{base}/account")).send().await
                } else {
                    http.post(format!("{base}/password/forgot"))
                        .form(&[("login", "nikdo"), ("csrf", "x")])
                        .send()
                        .await
                };
                if r.is_err() {
                    break; // the node is gone
                }
                done += 1;
            }
            done
        }));
    }
    // Let the writes run, then kill the node without warning.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    node.kill().unwrap(); // SIGKILL
    node.wait().unwrap();
    let mut total = 0;
    for w in writers {
        total += w.await.unwrap();
    }
    assert!(total > 0, "writes were under way");

    // The file opens and is intact.
    let storage =
        mpsv_idp::storage::Storage::connect(&format!("sqlite://{}?mode=rwc", db.display()), 1)
            .await
            .unwrap();
    let (check,): (String,) = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(storage.pool())
        .await
        .unwrap();
    assert_eq!(check, "ok");
    storage.close().await;
    // And the node serves again on it.
    let mut node = start();
    assert!(
        up(http.clone()).await,
        "the node starts again on the same database"
    );
    node.kill().unwrap();
    node.wait().unwrap();
}
