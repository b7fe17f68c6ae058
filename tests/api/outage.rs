//! Issue 12.4: the database goes away and comes back. Requests are answered 503 with
//! `Retry-After` (never 500, never a hang past the pool's acquire timeout), `/readyz` fails,
//! and the node recovers by itself. PostgreSQL only: the test cuts a TCP relay between the
//! node and the database.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use reqwest::StatusCode;

use crate::helpers::*;

/// A TCP relay to the database that the test can cut (every connection dropped, new ones
/// refused), freeze (connections stay open but nothing passes either way: a black-holed
/// database) and restore.
struct Relay {
    addr: std::net::SocketAddr,
    open: Arc<AtomicBool>,
    frozen: tokio::sync::watch::Sender<bool>,
    links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Relay {
    async fn start(upstream: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let open = Arc::new(AtomicBool::new(true));
        let (frozen, _) = tokio::sync::watch::channel(false);
        let links = Arc::new(Mutex::new(Vec::new()));
        let (o, l, f) = (open.clone(), links.clone(), frozen.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !o.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is closed at once
                }
                let upstream = upstream.clone();
                let mut frozen = f.subscribe();
                let link = tokio::spawn(async move {
                    if *frozen.borrow() {
                        // Accepted and never answered.
                        let _held = &inbound;
                        std::future::pending::<()>().await;
                    }
                    if let Ok(mut out) = tokio::net::TcpStream::connect(upstream).await {
                        let froze = tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut inbound, &mut out) => false,
                            _ = frozen.wait_for(|f| *f) => true,
                        };
                        if froze {
                            // Both ends stay open; nothing passes any more.
                            std::future::pending::<()>().await;
                        }
                    }
                });
                l.lock().unwrap().push(link);
            }
        });
        Self {
            addr,
            open,
            frozen,
            links,
        }
    }

    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        self.close_links();
    }

    fn freeze(&self) {
        self.frozen.send_replace(true);
    }

    fn close_links(&self) {
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    /// Back to normal: frozen connections are closed (as the kernel would, at last), new
    /// ones pass.
    fn restore(&self) {
        self.frozen.send_replace(false);
        self.close_links();
        self.open.store(true, Ordering::SeqCst);
    }
}

/// A node whose database connections go through `relay`.
async fn node_behind(relay: &Relay, adjust: impl FnOnce(&mut mpsv_idp::config::Config)) -> TestApp {
    let relay_addr = relay.addr;
    spawn_app_with(Db::Postgres, move |c| {
        let mut u = url::Url::parse(&c.database_url).unwrap();
        u.set_host(Some("127.0.0.1")).unwrap();
        u.set_port(Some(relay_addr.port())).unwrap();
        c.database_url = u.to_string();
        c.client_cache_seconds = 0;
        adjust(c);
    })
    .await
}

fn upstream_of(base: &str) -> String {
    let server = url::Url::parse(base).unwrap();
    format!(
        "{}:{}",
        server.host_str().unwrap(),
        server.port().unwrap_or(5432)
    )
}

/// The client the tests talk through: bounded, so that a hang fails the test instead of
/// stalling it.
fn bounded_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_going_away_gives_503s_and_the_node_recovers_by_itself() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("mpsv_idp=warn")
        .with_test_writer()
        .try_init();
    let Some(base) = postgres_url() else {
        eprintln!("skipped: MPSV_IDP_TEST_POSTGRES_URL is not set");
        return;
    };
    let relay = Relay::start(upstream_of(&base)).await;
    let app = node_behind(&relay, |c| c.db_acquire_timeout = 2).await;
    let mut spec = ClientSpec::confidential("robot");
    spec.grant_types = vec!["client_credentials"];
    let secret = app.register(spec).await.unwrap();
    let http = bounded_client();
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

/// A database that accepts connections and never answers (a black-holed network): past the
/// pool's acquire timeout, the request deadline answers 503 with `Retry-After` instead of a
/// hang; a refresh cut off this way rotated nothing (the old refresh token still works, once);
/// the node recovers by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_never_answers_gives_503s_within_the_request_timeout() {
    let Some(base) = postgres_url() else {
        eprintln!("skipped: MPSV_IDP_TEST_POSTGRES_URL is not set");
        return;
    };
    let relay = Relay::start(upstream_of(&base)).await;
    // The acquire timeout far longer than the request deadline: the 503 must come from the
    // deadline, not from the pool.
    let app = node_behind(&relay, |c| {
        c.db_acquire_timeout = 60;
        c.request_timeout = 2;
    })
    .await;
    let secret = app
        .register(ClientSpec::confidential("poskytovatel"))
        .await
        .unwrap();
    app.add_user("jana.novakova").await;
    let rp = app.rp("poskytovatel", Some(secret.clone())).await;
    let (_, tokens) = app.code_flow(&rp, "jana.novakova").await;
    let rt = openidconnect::OAuth2TokenResponse::refresh_token(&tokens)
        .unwrap()
        .secret()
        .clone();
    let http = bounded_client();
    let refresh = || {
        let (http, url, secret, rt) = (http.clone(), app.url("/token"), secret.clone(), rt.clone());
        async move {
            http.post(url)
                .basic_auth("poskytovatel", Some(secret))
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", rt.as_str()),
                ])
                .send()
                .await
                .expect("an answer, not a hang")
        }
    };

    relay.freeze();
    let r = refresh().await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.headers().get("retry-after").is_some());
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    let at = openidconnect::OAuth2TokenResponse::access_token(&tokens)
        .secret()
        .clone();
    let authorize = format!(
        "/authorize?client_id=poskytovatel&response_type=code&scope=openid&state=s&nonce=n\
         &redirect_uri={}&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM\
         &code_challenge_method=S256",
        crate::code_flow::urlencode(REDIRECT)
    );
    for path in ["/readyz", "/userinfo", authorize.as_str()] {
        let r = http
            .get(app.url(path))
            .bearer_auth(&at)
            .send()
            .await
            .expect("an answer");
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(r.headers().get("retry-after").is_some(), "{path}");
    }

    relay.restore();
    let mut answer = None;
    for _ in 0..50 {
        let r = refresh().await;
        if r.status() != StatusCode::SERVICE_UNAVAILABLE {
            answer = Some(r.status());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(
        answer,
        Some(StatusCode::OK),
        "the refresh cut off by the deadline rotated nothing: the old token still works"
    );
    assert_eq!(
        refresh().await.status(),
        StatusCode::BAD_REQUEST,
        "and only once"
    );
}
