//! Issue 12.4: the database goes away and comes back. Requests are answered 503 with
//! `Retry-After` (never 500, never a hang past the pool's acquire timeout), `/readyz` fails,
//! and the node recovers by itself. PostgreSQL only: the test cuts a TCP relay between the
//! node and the database.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use reqwest::StatusCode;

use crate::helpers::*;

/// A TCP relay to the database that the test can cut (every connection dropped, new ones
/// refused) and restore.
struct Relay {
    addr: std::net::SocketAddr,
    open: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Relay {
    async fn start(upstream: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let open = Arc::new(AtomicBool::new(true));
        let links = Arc::new(Mutex::new(Vec::new()));
        let (o, l) = (open.clone(), links.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !o.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is closed at once
                }
                let upstream = upstream.clone();
                let link = tokio::spawn(async move {
                    if let Ok(mut out) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
                l.lock().unwrap().push(link);
            }
        });
        Self { addr, open, links }
    }

    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_going_away_gives_503s_and_the_node_recovers_by_itself() {
    let Some(base) = postgres_url() else {
        eprintln!("skipped: MPSV_IDP_TEST_POSTGRES_URL is not set");
        return;
    };
    let server = url::Url::parse(&base).unwrap();
    let upstream = format!(
        "{}:{}",
        server.host_str().unwrap(),
        server.port().unwrap_or(5432)
    );
    let relay = Relay::start(upstream).await;
    let relay_addr = relay.addr;
    let app = spawn_app_with(Db::Postgres, move |c| {
        let mut u = url::Url::parse(&c.database_url).unwrap();
        u.set_host(Some("127.0.0.1")).unwrap();
        u.set_port(Some(relay_addr.port())).unwrap();
        c.database_url = u.to_string();
        c.db_acquire_timeout = 2;
        c.client_cache_seconds = 0;
    })
    .await;
    let mut spec = ClientSpec::confidential("robot");
    spec.grant_types = vec!["client_credentials"];
    let secret = app.register(spec).await.unwrap();
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let token = || {
        let (http, url, secret) = (http.clone(), app.url("/token"), secret.clone());
        async move {
            http.post(url)
                .basic_auth("robot", Some(secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap()
        }
    };
    let ready = || {
        let (http, url) = (http.clone(), app.url("/readyz"));
        async move { http.get(url).send().await.unwrap() }
    };
    assert_eq!(ready().await.status(), StatusCode::OK);
    assert_eq!(token().await.status(), StatusCode::OK);

    relay.cut();
    let mut seen_unavailable = false;
    for _ in 0..20 {
        let r = ready().await;
        if r.status() == StatusCode::SERVICE_UNAVAILABLE {
            assert!(r.headers().get("retry-after").is_some());
            seen_unavailable = true;
            break;
        }
    }
    assert!(seen_unavailable, "/readyz fails while the database is away");
    for r in [
        token().await,
        http.get(app.url("/account")).send().await.unwrap(),
        http.get(app.url("/admin/api/v1/clients"))
            .send()
            .await
            .unwrap(),
    ] {
        let status = r.status();
        assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{:?}", r.url());
        if status == StatusCode::SERVICE_UNAVAILABLE {
            assert!(r.headers().get("retry-after").is_some(), "{:?}", r.url());
        }
    }
    let r = token().await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");

    relay.restore();
    let mut recovered = false;
    for _ in 0..50 {
        if ready().await.status() == StatusCode::OK && token().await.status() == StatusCode::OK {
            recovered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(recovered, "the node recovers without a restart");
}
