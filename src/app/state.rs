//! The shared state of a node: configuration, storage, audit log, keys, limiters, metrics.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::audit::AuditLog;
use crate::config::Config;
use crate::http::cookies::CookiePolicy;
use crate::keys::sealing::DataKey;
use crate::keys::KeyStore;
use crate::oidc;
use crate::oidc::endpoints::Endpoints;
use crate::password::Passwords;
use crate::storage::Storage;
use crate::telemetry::Metrics;
use crate::web::rate_limit::Limiter;

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
    /// Recently checked access tokens (signature and direct revocation).
    pub token_cache: crate::oidc::token_cache::TokenCache,
    /// Verifiers of recently seen DPoP proof keys.
    pub dpop_keys: crate::oidc::dpop::ProofKeys,
    /// The WebAuthn relying party; `None` when passkeys are off (or the issuer is an IP
    /// address, where browsers do not offer them).
    pub passkeys: Option<crate::passkeys::RelyingParty>,
    /// Upstream identity providers (NIA) people may sign in through.
    pub upstreams: crate::upstream::Upstreams,
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
        let upstreams = crate::upstream::Upstreams::new(&config, http.clone())
            .context("upstream identity providers")?;
        let endpoints = Endpoints::new(&config.issuer);
        let discovery = oidc::discovery::document(&config.issuer, &endpoints, &config.protocol)
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
            token_cache: crate::oidc::token_cache::TokenCache::new(Duration::from_secs(
                config.client_cache_seconds,
            )),
            dpop_keys: crate::oidc::dpop::ProofKeys::default(),
            passkeys: crate::passkeys::RelyingParty::new(&config),
            upstreams,
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
