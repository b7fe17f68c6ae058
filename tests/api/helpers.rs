//! Test harness: the real server on a random port with a fresh database (SQLite file or a new
//! PostgreSQL database), a browser-like client that keeps cookies and does not follow
//! redirects, and an `openidconnect` relying party.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use mpsv_idp::app::{self, AppState};
use mpsv_idp::config::Config;
use mpsv_idp::domain::account::{Account, Username};
use mpsv_idp::storage::Storage;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreTokenResponse,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
};
use reqwest::header::{HeaderMap, LOCATION};
use reqwest::StatusCode;

/// Which database a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub const PASSWORD: &str = "Správné-heslo-2026";
pub const REDIRECT: &str = "http://127.0.0.1:9/cb";

/// Is a PostgreSQL server configured for tests? When `MPSV_IDP_REQUIRE_POSTGRES` is set (as the
/// test script and CI do), a missing server fails the test instead of skipping it.
pub fn postgres_url() -> Option<String> {
    let url = std::env::var("MPSV_IDP_TEST_POSTGRES_URL").ok();
    if url.is_none() && std::env::var("MPSV_IDP_REQUIRE_POSTGRES").is_ok() {
        panic!("MPSV_IDP_REQUIRE_POSTGRES is set but MPSV_IDP_TEST_POSTGRES_URL is not");
    }
    url
}

/// Runs a test body against both databases: `db_test!(name)` defines `name::sqlite` and
/// `name::postgres`, calling `async fn name(db: Db)`.
#[macro_export]
macro_rules! db_test {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Db::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if $crate::helpers::postgres_url().is_none() {
                    eprintln!("skipped: MPSV_IDP_TEST_POSTGRES_URL is not set");
                    return;
                }
                super::$name($crate::helpers::Db::Postgres).await
            }
        }
    )+};
}

pub struct TestApp {
    pub base: String,
    pub state: AppState,
    pub browser: reqwest::Client,
    _dir: Arc<tempfile::TempDir>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<()>>,
}

impl TestApp {
    /// Shuts the node down as SIGTERM would and waits until `app::serve` has returned.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(served) = self.served.take() {
            let _ = served.await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// One key folder generated per test process, copied into each app (RSA generation is slow).
fn template_keys() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // Under target/ (cargo's per-target scratch folder), not littering /tmp.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("test-keys");
        mpsv_idp::keys::KeyStore::open(&dir, 300).expect("template keys");
        dir
    })
}

pub async fn spawn_app(db: Db) -> TestApp {
    spawn_app_with(db, |_| {}).await
}

pub async fn spawn_app_with(db: Db, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let key_dir = dir.path().join("keys");
    std::fs::create_dir_all(&key_dir).unwrap();
    for entry in std::fs::read_dir(template_keys()).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, key_dir.join(p.file_name().unwrap())).unwrap();
    }
    let database_url = fresh_database(db, dir.path()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let mut config = Config {
        issuer: base.clone(),
        bind: addr.to_string(),
        database_url,
        key_dir,
        db_max_connections: 4,
        ..Config::default()
    };
    config.mail.folder = dir.path().join("mail");
    adjust(&mut config);
    let state = AppState::build(config).await.expect("app state");
    let (tx, served) = serve(listener, &state);
    TestApp {
        base,
        state,
        browser: browser(),
        _dir: Arc::new(dir),
        shutdown: Some(tx),
        served: Some(served),
    }
}

/// Serves `state` on `listener` until the returned sender fires (or is dropped), as `main`
/// does until SIGTERM.
fn serve(
    listener: tokio::net::TcpListener,
    state: &AppState,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let serve_state = state.clone();
    let served = tokio::spawn(async move {
        let _ = app::serve(listener, serve_state, async {
            let _ = rx.await;
        })
        .await;
    });
    (tx, served)
}

/// A second node of the same IdP: the same configuration (issuer, database, keys) served on
/// another port, as a load balancer would spread requests over both.
pub async fn spawn_node(app: &TestApp) -> TestApp {
    spawn_node_with(app, |_| {}).await
}

/// [`spawn_node`] with a changed configuration (its own key folder, another KEK).
pub async fn spawn_node_with(app: &TestApp, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let mut config = app.state.config.clone();
    config.bind = addr.to_string();
    adjust(&mut config);
    let state = AppState::build(config).await.expect("second node");
    let (tx, served) = serve(listener, &state);
    TestApp {
        base: format!("http://{addr}"),
        state,
        browser: app.browser.clone(),
        _dir: app._dir.clone(),
        shutdown: Some(tx),
        served: Some(served),
    }
}

/// A new empty database of the kind `db` (SQLite: a file in `dir`).
pub async fn fresh_database(db: Db, dir: &Path) -> String {
    match db {
        Db::Sqlite => format!("sqlite://{}?mode=rwc", dir.join("idp.db").display()),
        Db::Postgres => fresh_postgres_database().await,
    }
}

/// A KEK for tests, fixed so that failures can be reproduced.
pub const TEST_KEK: &str = "a2V5LWVuY3J5cHRpb24ta2V5LWZvci10ZXN0cy0zMmI";

/// Keys in the database under `kek` instead of the template key folder.
pub fn with_kek(c: &mut Config, kek: &str) {
    c.keys.kek = Some(mpsv_idp::config::Redacted(kek.to_owned()));
}

async fn fresh_postgres_database() -> String {
    let base = postgres_url().expect("postgres url");
    let admin = Storage::connect(&base, 1)
        .await
        .expect("connect to postgres");
    let name = format!("mpsv_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(admin.pool())
        .await
        .expect("create database");
    admin.close().await;
    // Replace the database name (the last path segment) in the URL.
    let (prefix, rest) = base.rsplit_once('/').expect("postgres url with a database");
    let query = rest
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    format!("{prefix}/{name}{query}")
}

/// A cookie-keeping client under test control: it follows no redirects except the IdP's own
/// hand-over from its pages back to the protocol (`/authorize/resume`) and from the protocol
/// to the refusal page (`/login/denied`), so tests see the answer that matters (a code for
/// the client, the next page, the refusal) as one response.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            match attempt.url().path() {
                "/authorize/resume" | "/login/denied" if attempt.previous().len() < 5 => {
                    attempt.follow()
                }
                _ => attempt.stop(),
            }
        }))
        .build()
        .unwrap()
}

/// The RP's own HTTP client (no redirects, as openidconnect recommends against SSRF).
pub fn rp_http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub type Rp = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Options for registering a test client.
pub struct ClientSpec<'a> {
    pub id: &'a str,
    pub auth_method: &'a str,
    pub grant_types: Vec<&'a str>,
    pub id_token_alg: &'a str,
    pub access_token_alg: &'a str,
    pub backchannel: Option<String>,
    pub jwks: Option<String>,
    pub no_pkce: bool,
    /// Authorization requests only through PAR (RFC 9126).
    pub require_par: bool,
    /// Authorization requests only as signed request objects (RFC 9101).
    pub require_signed_request: bool,
    /// Tokens only DPoP-bound (RFC 9449).
    pub dpop: bool,
    /// The FAPI 2.0 Security Profile.
    pub fapi2: bool,
    /// `poskytovatel` or `rodina`: an MPSV application client (scopes incl. mpsv, organisation).
    pub application: Option<&'a str>,
}

impl<'a> ClientSpec<'a> {
    pub fn confidential(id: &'a str) -> Self {
        Self {
            id,
            auth_method: "client_secret_basic",
            grant_types: vec![],
            id_token_alg: "RS256",
            access_token_alg: "RS256",
            backchannel: None,
            jwks: None,
            no_pkce: false,
            require_par: false,
            require_signed_request: false,
            dpop: false,
            fapi2: false,
            application: None,
        }
    }
}

impl TestApp {
    /// The same server seen from another browser (its own cookies).
    pub fn with_browser(app: &TestApp) -> TestApp {
        TestApp {
            base: app.base.clone(),
            state: app.state.clone(),
            browser: browser(),
            _dir: app._dir.clone(),
            shutdown: None,
            served: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A public JSON document of the server (discovery, JWKS).
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        reqwest::get(self.url(path))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Registers a client; returns its secret (if it has one).
    pub async fn register(&self, spec: ClientSpec<'_>) -> Option<String> {
        let jwks_file = spec.jwks.as_ref().map(|j| {
            let p = self._dir.path().join(format!("{}-jwks.json", spec.id));
            std::fs::write(&p, j).unwrap();
            p
        });
        let args = mpsv_idp::cli::ClientArgs {
            client_id: spec.id.into(),
            name: format!("Aplikace {}", spec.id),
            redirect_uris: vec![REDIRECT.into()],
            post_logout_redirect_uris: vec!["http://127.0.0.1:9/loggedout".into()],
            backchannel_logout_uri: spec.backchannel,
            auth_method: spec.auth_method.into(),
            grant_types: spec.grant_types.iter().map(|s| s.to_string()).collect(),
            scopes: if spec.application.is_some() {
                ["openid", "profile", "email", "mpsv", "organisation"]
                    .map(String::from)
                    .to_vec()
            } else {
                vec![]
            },
            application: spec.application.map(String::from),
            id_token_alg: spec.id_token_alg.into(),
            access_token_alg: spec.access_token_alg.into(),
            jwks_file,
            no_pkce: spec.no_pkce,
            require_par: spec.require_par,
            require_signed_request: spec.require_signed_request,
            dpop: spec.dpop,
            fapi2: spec.fapi2,
            access_token_ttl: None,
            refresh_token_ttl: None,
            secret: None,
        };
        let (client, secret) = mpsv_idp::cli::client_from_args(args).expect("client args");
        self.state
            .storage
            .insert_client(&client)
            .await
            .expect("insert client");
        secret.map(|s| s.expose().to_owned())
    }

    /// Creates an active account with the test password; returns its `sub`.
    pub async fn add_user(&self, username: &str) -> String {
        let mut account = Account::new(
            &Username::parse(username).unwrap(),
            "Jana",
            "Nováková",
            Some(format!("{username}@example.cz")),
            hash(PASSWORD),
            mpsv_idp::secrets::now(),
        );
        account.email_verified = true;
        let sub = account.sub.clone();
        self.state
            .storage
            .insert_account(&account)
            .await
            .expect("insert account");
        sub.into()
    }

    /// An `openidconnect` RP configured from our discovery document.
    pub async fn rp(&self, client_id: &str, secret: Option<String>) -> Rp {
        let meta = CoreProviderMetadata::discover_async(
            IssuerUrl::new(self.base.clone()).unwrap(),
            &rp_http(),
        )
        .await
        .expect("discovery");
        CoreClient::from_provider_metadata(
            meta,
            ClientId::new(client_id.into()),
            secret.map(ClientSecret::new),
        )
        .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap())
    }
}

/// Hashes once per distinct password and process (Argon2 is slow on purpose).
pub fn hash(password: &str) -> String {
    static CACHE: OnceLock<Mutex<Vec<(String, String)>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(Vec::new()));
    if let Some((_, h)) = cache.lock().unwrap().iter().find(|(p, _)| p == password) {
        return h.clone();
    }
    let h = mpsv_idp::password::hash_now(password).unwrap();
    cache.lock().unwrap().push((password.into(), h.clone()));
    h
}

/// One authorization request in flight, as an RP would hold it.
pub struct Flow {
    pub url: String,
    pub csrf: CsrfToken,
    pub nonce: Nonce,
    pub verifier: PkceCodeVerifier,
}

pub fn start_flow(rp: &Rp, extra: &[(&str, &str)]) -> Flow {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut req = rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge);
    for (k, v) in extra {
        req = req.add_extra_param(*k, *v);
    }
    let (url, csrf, nonce) = req.url();
    Flow {
        url: url.to_string(),
        csrf,
        nonce,
        verifier,
    }
}

pub fn location(headers: &HeaderMap) -> String {
    headers
        .get(LOCATION)
        .expect("Location header")
        .to_str()
        .unwrap()
        .to_owned()
}

/// The value of a hidden input in an HTML page.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no input {name} in {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

/// A query parameter of a URL.
pub fn param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

impl TestApp {
    /// Follows the authorization request to the login form and returns (id, csrf, html).
    pub async fn open_login(&self, auth_url: &str) -> (String, String, String) {
        let r = self.browser.get(auth_url).send().await.unwrap();
        assert_eq!(
            r.status(),
            StatusCode::SEE_OTHER,
            "authorize should redirect to the login form"
        );
        let login = location(r.headers());
        assert!(login.starts_with("/login?"), "{login}");
        let r = self.browser.get(self.url(&login)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let html = r.text().await.unwrap();
        (hidden(&html, "id"), hidden(&html, "csrf"), html)
    }

    pub async fn submit_login(
        &self,
        id: &str,
        csrf: &str,
        username: &str,
        password: &str,
    ) -> reqwest::Response {
        self.browser
            .post(self.url("/login"))
            .form(&[
                ("id", id),
                ("csrf", csrf),
                ("username", username),
                ("password", password),
                ("lang", "cs"),
            ])
            .send()
            .await
            .unwrap()
    }

    /// `to` is the page that says why the MFA level needs a second factor the person lacks:
    /// checks it and takes its way back to the client; returns the redirect to the client.
    pub async fn back_from_mfa_page(&self, to: &str) -> String {
        assert!(to.starts_with("/login/mfa?"), "{to}");
        let r = self.browser.get(self.url(to)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let html = r.text().await.unwrap();
        assert!(html.contains("Je potřeba druhý faktor"), "{html}");
        assert!(html.contains("statutární zástupce"), "says why");
        let id = to.split("id=").nth(1).unwrap().split('&').next().unwrap();
        assert!(html.contains(id), "the way back");
        let r = self
            .browser
            .get(self.url(&format!("/authorize/resume?id={id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        location(r.headers())
    }

    /// Signs in through the form; returns the redirect to the client with the code.
    pub async fn login(&self, auth_url: &str, username: &str) -> String {
        let (id, csrf, _) = self.open_login(auth_url).await;
        let r = self.submit_login(&id, &csrf, username, PASSWORD).await;
        assert_eq!(
            r.status(),
            StatusCode::SEE_OTHER,
            "login should redirect to the client"
        );
        location(r.headers())
    }

    /// The full code flow for `rp`: login (or SSO), code, token exchange.
    pub async fn code_flow(&self, rp: &Rp, username: &str) -> (Flow, CoreTokenResponse) {
        let flow = start_flow(rp, &[]);
        let back = self.login(&flow.url, username).await;
        let tokens = self.redeem(rp, &flow, &back).await;
        (flow, tokens)
    }

    pub async fn redeem(&self, rp: &Rp, flow: &Flow, back: &str) -> CoreTokenResponse {
        assert_eq!(
            param(back, "state").as_deref(),
            Some(flow.csrf.secret().as_str())
        );
        assert_eq!(param(back, "iss").as_deref(), Some(self.base.as_str()));
        let code = param(back, "code").expect("code in the redirect");
        rp.exchange_code(AuthorizationCode::new(code))
            .unwrap()
            .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier.secret().clone()))
            .request_async(&rp_http())
            .await
            .expect("token exchange")
    }

    /// POSTs a form to an endpoint with HTTP Basic client authentication.
    pub async fn post_basic(
        &self,
        path: &str,
        client_id: &str,
        secret: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        reqwest::Client::new()
            .post(self.url(path))
            .basic_auth(client_id, Some(secret))
            .form(form)
            .send()
            .await
            .unwrap()
    }
}

/// A back-channel logout receiver: collects the logout tokens POSTed to it.
pub struct Receiver {
    pub url: String,
    pub tokens: Arc<Mutex<Vec<String>>>,
    notify: Arc<tokio::sync::Notify>,
}

impl Receiver {
    pub async fn start() -> Self {
        Self::start_on(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()).await
    }

    /// On a given port (one that registered clients already point at).
    pub async fn start_at(port: u16) -> Self {
        Self::start_on(
            tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .unwrap(),
        )
        .await
    }

    async fn start_on(listener: tokio::net::TcpListener) -> Self {
        use axum::routing::post;
        let tokens = Arc::new(Mutex::new(Vec::new()));
        let notify = Arc::new(tokio::sync::Notify::new());
        let (t, n) = (tokens.clone(), notify.clone());
        let app = axum::Router::new().route(
            "/bcl",
            post(move |body: axum::body::Bytes| {
                let (t, n) = (t.clone(), n.clone());
                async move {
                    let form: Vec<(String, String)> =
                        url::form_urlencoded::parse(&body).into_owned().collect();
                    if let Some((_, tok)) = form.into_iter().find(|(k, _)| k == "logout_token") {
                        t.lock().unwrap().push(tok);
                        n.notify_waiters();
                    }
                    axum::http::StatusCode::OK
                }
            }),
        );
        let url = format!("http://{}/bcl", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url,
            tokens,
            notify,
        }
    }

    /// Waits (bounded) until `n` tokens have arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<String> {
        for _ in 0..100 {
            let notified = self.notify.notified();
            if self.tokens.lock().unwrap().len() >= n {
                break;
            }
            let _ = tokio::time::timeout(std::time::Duration::from_millis(100), notified).await;
        }
        self.tokens.lock().unwrap().clone()
    }
}

/// The parameters of a flow's authorization request, as a client would push them (PAR).
pub fn flow_params(flow: &Flow) -> Vec<(String, String)> {
    url::Url::parse(&flow.url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The authorization URL for a successful PAR answer (201): only `client_id` and the
/// `request_uri` travel through the browser (RFC 9126 §4).
pub async fn pushed_authorize_url(app: &TestApp, client_id: &str, r: reqwest::Response) -> String {
    assert_eq!(r.status(), StatusCode::CREATED);
    let body: serde_json::Value = r.json().await.unwrap();
    let mut u = url::Url::parse(&app.url("/authorize")).unwrap();
    u.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("request_uri", body["request_uri"].as_str().unwrap());
    u.to_string()
}
