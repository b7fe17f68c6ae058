//! The application: shared state, the one router builder, and `serve`. `main` and every
//! test go through these, so tests exercise exactly what production runs.

use std::future::Future;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::http::{header, HeaderName, HeaderValue, Request};
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::audit::AuditLog;
use crate::config::Config;
use crate::http::cookies::CookiePolicy;
use crate::keys::sealing::DataKey;
use crate::keys::KeyStore;
use crate::oidc;
use crate::password::Passwords;
use crate::storage::Storage;
use crate::telemetry::{self, Metrics};
use crate::web;
use crate::web::rate_limit::Limiter;

/// Absolute URLs of our endpoints, derived from the issuer once.
pub struct Endpoints {
    pub authorization: String,
    pub token: String,
    pub userinfo: String,
    pub jwks: String,
    pub revocation: String,
    pub introspection: String,
    pub end_session: String,
}

impl Endpoints {
    fn new(issuer: &str) -> Self {
        let u = |p: &str| format!("{issuer}{p}");
        Self {
            authorization: u("/authorize"),
            token: u("/token"),
            userinfo: u("/userinfo"),
            jwks: u("/jwks"),
            revocation: u("/revoke"),
            introspection: u("/introspect"),
            end_session: u("/logout"),
        }
    }
}

pub struct Inner {
    pub config: Config,
    pub storage: Storage,
    pub audit: AuditLog,
    pub keys: Arc<KeyStore>,
    pub passwords: Passwords,
    pub metrics: Metrics,
    pub cookies: CookiePolicy,
    pub endpoints: Endpoints,
    /// Outgoing HTTP (back-channel logout), with short timeouts and no redirects.
    pub http: reqwest::Client,
    /// The discovery document, rendered once (cheap to clone).
    pub discovery: axum::body::Bytes,
    /// Seals TOTP secrets at rest.
    pub data_key: DataKey,
    pub login_limiter: Limiter,
    pub reset_limiter: Limiter,
    pub password_change_limiter: Limiter,
    pub password_change_account_limiter: Limiter,
    pub mailer: crate::mail::Mailer,
    /// Wakes this node's back-channel logout delivery task (`oidc::backchannel::run`).
    pub logout_outbox: tokio::sync::Notify,
}

/// Cheap to clone; handed to every handler.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Opens the database (applying migrations) and the key folder.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        // Migrations on a connection of their own, without the statement timeout that bounds
        // requests: building an index on a large table may take longer than a request may.
        let migrator = Storage::connect(&config.database_url, 1)
            .await
            .context("connecting to the database")?;
        migrator.migrate().await.context("applying migrations")?;
        migrator.close().await;
        let storage = Storage::connect_bounded(
            &config.database_url,
            config.db_max_connections,
            Duration::from_secs(config.db_acquire_timeout),
            Some(Duration::from_secs(config.request_timeout)),
        )
        .await
        .context("connecting to the database")?;
        let storage =
            storage.with_client_cache(std::time::Duration::from_secs(config.client_cache_seconds));
        let (keys, data_key) = open_keys(&config, &storage).await?;
        check_data_key(&storage, &data_key).await?;
        crate::domain::password_policy::warm_up();
        config
            .password
            .validate()
            .map_err(|e| anyhow::anyhow!("password policy: {e}"))?;
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        // Leave a core to the token endpoint during a burst of logins.
        let hashers = match config.password_hash_concurrency {
            0 => cores.saturating_sub(1).max(1),
            n => n,
        };
        let passwords = Passwords::new(hashers).context("password hasher")?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("HTTP client")?;
        let endpoints = Endpoints::new(&config.issuer);
        let discovery = oidc::discovery::document(&config.issuer, &endpoints)
            .to_string()
            .into();
        Ok(Self(Arc::new(Inner {
            cookies: CookiePolicy {
                secure: config.secure_cookies(),
            },
            metrics: Metrics::new().context("metrics registry")?,
            audit: AuditLog::new(storage.clone()),
            storage,
            keys: Arc::new(keys),
            passwords,
            http,
            endpoints,
            discovery,
            data_key,
            mailer: crate::mail::Mailer::new(&config.mail).context("mail transport")?,
            logout_outbox: tokio::sync::Notify::new(),
            login_limiter: Limiter::per_minute("login", config.limits.login_per_minute),
            reset_limiter: Limiter::per_minute("reset", config.limits.password_reset_per_minute),
            password_change_limiter: Limiter::per_minute(
                "new-password",
                config.limits.password_change_per_minute,
            ),
            password_change_account_limiter: Limiter::per_minute(
                "new-password-account",
                config.limits.password_change_per_account_per_minute,
            ),
            config,
        })))
    }
}

/// The signing keys and the data key where the configuration keeps them: in the database
/// sealed with the KEK when one is configured (many nodes), else in the key folder.
pub async fn open_keys(config: &Config, storage: &Storage) -> anyhow::Result<(KeyStore, DataKey)> {
    let max = config.max_signed_lifetime();
    match config.keys.keks().context("the key-encryption key")? {
        Some(keks) => {
            let keks = Arc::new(keks);
            // The data key first: it refuses a database that a key folder's data key was used
            // with, before any signing key is created here instead of imported.
            let data_key = crate::keys::data_key_from_database(storage, &keks)
                .await
                .context("the data key in the database")?;
            let keys = KeyStore::open_database(storage.clone(), keks, max)
                .await
                .context("the signing keys in the database")?;
            Ok((keys, data_key))
        }
        None => {
            // A KEK that did not arrive (an unmounted secret) must not turn into a key folder
            // of this node's own: it would sign with keys no other node knows.
            if storage.holds_sealed_keys().await? {
                anyhow::bail!(
                    "this database keeps its keys sealed with a KEK, and none is configured: \
                     set MPSV_IDP_KEK or MPSV_IDP_KEK_FILE (keys.kek_file)"
                );
            }
            let dir = config.key_dir.clone();
            tokio::task::spawn_blocking(move || {
                Ok::<_, crate::keys::KeyError>((
                    KeyStore::open(&dir, max)?,
                    DataKey::load_or_create(&dir)?,
                ))
            })
            .await
            .context("key loading task")?
            .context("opening the key folder")
        }
    }
}

/// Refuses to start with a data key that does not open what the database holds (issue 11.16):
/// the check value stored by the first node, and a stored TOTP secret. A node with another
/// key would otherwise seal secrets nobody else can open, and fail every second-factor login.
async fn check_data_key(storage: &Storage, key: &DataKey) -> anyhow::Result<()> {
    use crate::keys::sealing::CHECK_PLAINTEXT;
    // The stored TOTP secrets first: on a database from before the check value, a node with
    // a wrong key must not be the one that stores it (every right key would then be refused).
    if let Some(totp) = storage.any_sealed_totp_secret().await? {
        if key.open(&totp).is_err() {
            anyhow::bail!(
                "data.key does not match this database: it cannot open the stored TOTP secrets"
            );
        }
    }
    let stored = storage
        .key_check("data_key", &key.seal(CHECK_PLAINTEXT))
        .await
        .context("reading the data key check")?;
    let opens = |sealed: &str| key.open(sealed).is_ok_and(|p| p == CHECK_PLAINTEXT);
    if !opens(&stored) {
        anyhow::bail!(
            "data.key does not match this database: it cannot open the check value the first \
             node stored. Give every node the same key folder (or data.key) and restart."
        );
    }
    Ok(())
}

/// The one router: every endpoint, the middleware stack, and the security headers.
pub fn build_router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let trace = TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
        let id = req
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        // The path only: query strings can carry personal data or secrets.
        tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
    });
    let router = Router::new()
        .nest(crate::admin::BASE, crate::admin::routes())
        .route(
            "/.well-known/openid-configuration",
            get(oidc::discovery::handler),
        )
        .route("/jwks", get(oidc::jwks::handler))
        .route(
            "/authorize",
            get(oidc::authorize::get).post(oidc::authorize::post),
        )
        .route("/authorize/resume", get(oidc::authorize::resume))
        .route("/login", get(web::login::show).post(web::login::submit))
        .route(
            "/login/otp",
            get(web::login::otp_form).post(web::login::otp_submit),
        )
        .route(
            "/login/password",
            get(web::login::change_form).post(web::login::change_submit),
        )
        .route(
            "/login/totp",
            get(web::login::enrol_form).post(web::login::enrol_submit),
        )
        .route("/login/totp/done", post(web::login::enrolled_continue))
        .route(
            "/login/organisation",
            get(web::organisation::choose_form).post(web::organisation::choose_submit),
        )
        .route("/login/denied", get(web::organisation::denied))
        .route("/account", get(web::account::show))
        .route(
            "/account/password",
            get(web::account::password_form).post(web::account::password_submit),
        )
        .route(
            "/account/totp",
            get(web::account::totp_form).post(web::account::totp_submit),
        )
        .route("/account/totp/remove", post(web::account::totp_remove))
        .route(
            "/account/recovery-codes",
            post(web::account::recovery_codes),
        )
        .route("/account/sessions/end", post(web::account::end_session))
        .route("/admin", get(web::console::home))
        .route("/admin/persons", get(web::console::people::persons))
        .route("/admin/persons/{sub}", get(web::console::people::person))
        .route(
            "/admin/persons/{sub}/account",
            post(web::console::people::create_account),
        )
        .route(
            "/admin/persons/{sub}/letter",
            post(web::console::people::reissue_letter),
        )
        .route(
            "/admin/persons/{sub}/status",
            post(web::console::people::change_status),
        )
        .route(
            "/admin/persons/{sub}/sessions/end",
            post(web::console::people::end_sessions),
        )
        .route(
            "/admin/persons/{sub}/statutory/start",
            post(web::console::people::start_role),
        )
        .route(
            "/admin/persons/{sub}/statutory/end",
            post(web::console::people::end_role),
        )
        .route(
            "/admin/consents",
            post(web::console::people::record_consent),
        )
        .route(
            "/admin/consents/{id}/withdraw",
            post(web::console::people::withdraw_consent),
        )
        .route(
            "/admin/organisations",
            get(web::console::organisations::organisations)
                .post(web::console::organisations::create_organisation),
        )
        .route(
            "/admin/organisations/{id}",
            get(web::console::organisations::organisation),
        )
        .route(
            "/admin/organisations/{id}/delegations",
            post(web::console::organisations::grant_delegation),
        )
        .route(
            "/admin/organisations/{id}/delegations/{delegation}/revoke",
            post(web::console::organisations::revoke_delegation),
        )
        .route(
            "/admin/clients",
            get(web::console::system::clients).post(web::console::system::create_client),
        )
        .route(
            "/admin/clients/{id}",
            get(web::console::system::client).post(web::console::system::update_client),
        )
        .route(
            "/admin/clients/{id}/secret",
            post(web::console::system::rotate_secret),
        )
        .route("/admin/keys", get(web::console::system::keys))
        .route("/admin/keys/rotate", post(web::console::system::rotate_key))
        .route("/admin/audit", get(web::console::system::audit_log))
        .route(
            "/admin/deliveries",
            get(web::console::deliveries::deliveries),
        )
        .route("/admin/settings", get(web::console::system::settings))
        .route(
            "/account/delegations",
            get(web::delegations::show).post(web::delegations::submit),
        )
        .route("/account/done", post(web::account::done))
        .route(
            "/password/forgot",
            get(web::reset::forgot_form).post(web::reset::forgot_submit),
        )
        .route(
            "/password/reset",
            get(web::reset::reset_form).post(web::reset::reset_submit),
        )
        .route("/token", post(oidc::token::handler))
        .route(
            "/userinfo",
            get(oidc::userinfo::get).post(oidc::userinfo::post),
        )
        .route("/revoke", post(oidc::revoke::handler))
        .route("/introspect", post(oidc::introspect::handler))
        .route("/logout", get(oidc::logout::get).post(oidc::logout::post))
        .route("/logout/confirm", post(oidc::logout::confirm))
        .route("/healthz", get(health))
        .route("/readyz", get(ready))
        .route("/metrics", get(telemetry::metrics))
        .route("/static/style.css", get(web::statics::style))
        .route("/static/form_post.js", get(web::statics::form_post_js))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            request_deadline,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::http::client::remember_source,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            telemetry::track,
        ))
        .layer(axum::middleware::from_fn(retry_after));
    let router = security_headers(router);
    // HSTS only when served over HTTPS (RFC 6797 §7.2: not over plain HTTP).
    let router = if state.config.issuer.starts_with("https://") {
        router.layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        ))
    } else {
        router
    };
    router
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(trace)
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

/// Security headers for every response (OWASP HTTP Headers Cheat Sheet). Handlers that need a
/// different CSP (the form_post page) set their own; these apply only where none is set.
fn security_headers(router: Router<AppState>) -> Router<AppState> {
    let headers = [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    headers.into_iter().fold(router, |r, (name, value)| {
        r.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ))
    })
}

/// Every 503 says when to try again (RFC 9110 §10.2.3): the database is away and a node
/// recovers by itself when it returns.
async fn retry_after(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut r = next.run(req).await;
    if r.status() == axum::http::StatusCode::SERVICE_UNAVAILABLE {
        r.headers_mut()
            .entry(header::RETRY_AFTER)
            .or_insert(HeaderValue::from_static("5"));
    }
    r
}

/// Answers 503 (with `Retry-After`, added by [`retry_after`]) when a request takes longer
/// than `request_timeout`: the bound for a database that accepts connections but never
/// answers, past the pool's acquire timeout (issue 12.4). The handler's future is dropped,
/// which rolls back its open transaction — a half-done request leaves nothing behind.
async fn request_deadline(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let limit = state.config.request_timeout;
    let api = req.uri().path().starts_with(crate::admin::BASE);
    let oauth = matches!(
        req.uri().path(),
        "/token" | "/introspect" | "/revoke" | "/userinfo"
    );
    match tokio::time::timeout(Duration::from_secs(limit), next.run(req)).await {
        Ok(r) => r,
        Err(_) => {
            let e = crate::error::Internal::TimedOut(limit);
            if api {
                crate::admin::error::ApiError::Internal(e).into_response()
            } else if oauth {
                crate::error::OAuthError::Internal(e).into_response()
            } else {
                crate::error::PageError::Internal(e).into_response()
            }
        }
    }
}

/// `GET /healthz`: the process is up.
async fn health() -> &'static str {
    "ok"
}

/// `GET /readyz`: the database answers and a signing key is available.
async fn ready(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> (axum::http::StatusCode, &'static str) {
    // Every algorithm has a current key.
    let keys_ok = crate::domain::client::SigningAlg::ALL
        .iter()
        .all(|alg| state.keys.current(*alg).is_some());
    // Bounded: a database that does not answer within two seconds is not ready.
    let ping = tokio::time::timeout(Duration::from_secs(2), state.storage.ping()).await;
    match ping {
        Ok(Ok(())) if keys_ok => (axum::http::StatusCode::OK, "ready"),
        _ => (axum::http::StatusCode::SERVICE_UNAVAILABLE, "not ready"),
    }
}

async fn not_found() -> axum::response::Response {
    crate::pages::error_page(
        axum::http::StatusCode::NOT_FOUND,
        "error.not_found",
        "",
        crate::pages::i18n::Lang::Cs,
    )
}

/// Serves until `shutdown` resolves (SIGTERM in `main`), then drains in-flight requests and
/// stops the background work: the back-channel logout task finishes the deliveries it is
/// sending (bounded by their HTTP timeout) and claims no more; the upkeep task, whose every
/// step is one transaction that the next node's upkeep repeats if it is cut, is stopped.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let upkeep = tokio::spawn(upkeep(state.clone()));
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let deliveries = tokio::spawn(oidc::backchannel::run(state.clone(), stopping));
    let metrics_server = match &state.config.metrics.bind {
        Some(bind) => {
            let listener = TcpListener::bind(bind)
                .await
                .with_context(|| format!("binding the metrics listener {bind}"))?;
            tracing::info!(bind = %bind, "metrics listening");
            let router = metrics_router(state.clone());
            Some(tokio::spawn(async move {
                let _ = axum::serve(listener, router).await;
            }))
        }
        None => None,
    };
    let router = build_router(state.clone());
    let result = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .context("HTTP server");
    upkeep.abort();
    let _ = stop.send(true);
    // A batch in flight takes at most the HTTP client's timeout (5 s) per delivery.
    let abort = deliveries.abort_handle();
    if tokio::time::timeout(Duration::from_secs(15), deliveries)
        .await
        .is_err()
    {
        abort.abort();
    }
    tracing::info!("stopped");
    if let Some(m) = metrics_server {
        m.abort();
    }
    result
}

/// The router of the separate metrics listener (`metrics.bind`): `/metrics` and nothing else.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(telemetry::metrics_listener))
        .with_state(state)
}

async fn upkeep(state: AppState) {
    let period = Duration::from_secs(state.config.keys.reload_interval.max(1));
    let mut tick = tokio::time::interval(period);
    loop {
        tick.tick().await;
        if let Err(e) = state.keys.reload().await {
            tracing::warn!(error = %e, "reloading keys failed; keeping the old set");
        }
        if let Err(e) = state.storage.purge_expired(crate::secrets::now()).await {
            tracing::warn!(error = %e, "purging expired rows failed");
        }
        // Statutory roles ended on a date that has now come (MPSV rule 6).
        if let Err(e) = crate::registry::statutory::apply_pending_ends(&state).await {
            tracing::warn!(error = %e, "carrying out ended statutory roles failed");
        }
    }
}
