//! Typed configuration: defaults, then an optional TOML file, then `MPSV_IDP_*` environment
//! variables. Validated once at start and passed explicitly; there is no global configuration.

mod load;

use std::path::PathBuf;

use anyhow::{bail, Context};
use serde::Deserialize;
use url::Url;

/// The whole configuration of one node.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The issuer identifier (OIDC Discovery §3): every endpoint URL is derived from it.
    pub issuer: String,
    /// Address the HTTP server binds to.
    pub bind: String,
    /// `sqlite://path?mode=rwc` (embedded default) or `postgres://…`.
    pub database_url: String,
    /// Folder holding the signing keys.
    pub key_dir: PathBuf,
    /// Number of tokio worker threads (0 = one per core).
    pub workers: usize,
    /// Maximum number of pooled database connections.
    pub db_max_connections: u32,
    /// Seconds a request waits for a database connection before it is answered 503.
    pub db_acquire_timeout: u64,
    /// Seconds a request may take in all before it is answered 503 with `Retry-After` (its
    /// transaction rolled back): bounds a database that accepts connections but never
    /// answers. On PostgreSQL also each statement's `statement_timeout`.
    pub request_timeout: u64,
    /// Password hashes computed at once (0 = one less than the cores, at least one), so a
    /// burst of logins queues instead of starving token requests.
    pub password_hash_concurrency: usize,
    /// How long a node may use a cached client registration (a change made elsewhere is seen
    /// within this time; 0 disables the cache).
    pub client_cache_seconds: u64,
    /// Reverse proxies whose forwarding header is believed: addresses or ranges
    /// (`10.42.0.0/16`, as a Kubernetes ingress controller's pods move within one).
    pub trusted_proxies: Vec<TrustedProxy>,
    /// Which header those proxies set: `x-forwarded-for` (default) or `forwarded` (RFC 7239).
    /// Only that one is read, so a client cannot slip in the other one past a proxy that
    /// neither sets nor removes it.
    pub forwarded_header: ForwardedHeader,
    pub tokens: TokenLifetimes,
    pub session: SessionConfig,
    pub keys: KeyConfig,
    pub password: crate::domain::password_policy::PasswordPolicy,
    pub lockout: crate::domain::lockout::LockoutPolicy,
    pub limits: Limits,
    pub mail: MailConfig,
    pub metrics: MetricsConfig,
    pub protocol: ProtocolConfig,
    pub passkeys: PasskeyConfig,
    /// Upstream OpenID Providers people may sign in through (`[[upstream]]`), profiled for
    /// the national identification point (NIA, "Identita občana").
    #[serde(rename = "upstream")]
    pub upstreams: Vec<UpstreamConfig>,
}

/// One upstream OpenID Provider. We are its relying party: code flow with PKCE, `state` and
/// `nonce`, the ID token checked as OIDC Core §3.1.3.7 says; the redirect URI to register
/// there is `<issuer>/login/upstream/callback`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Short id in URLs, the database and the audit log (`nia`): a-z, 0-9, `-`.
    pub id: String,
    /// The provider's name on the login page ("Identita občana").
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    /// The client secret (`client_secret_basic`); better `client_secret_file`.
    pub client_secret: Option<Redacted>,
    pub client_secret_file: Option<PathBuf>,
    #[serde(default = "default_upstream_scopes")]
    pub scopes: Vec<String>,
    /// `acr_values` asked for (NIA: the eIDAS level of assurance).
    #[serde(default = "default_upstream_acr")]
    pub acr_values: Vec<String>,
    /// The ID token's `acr` must be one of these (each is our MFA level); a sign-in at any
    /// other level, or without `acr`, is refused.
    #[serde(default = "default_upstream_acr")]
    pub accepted_acr: Vec<String>,
}

fn default_upstream_scopes() -> Vec<String> {
    vec!["openid".into(), "profile".into()]
}

/// eIDAS levels of assurance "substantial" and "high" (Commission Implementing Regulation
/// (EU) 2015/1502), as NIA names them in `acr`.
fn default_upstream_acr() -> Vec<String> {
    vec![
        "http://eidas.europa.eu/LoA/substantial".into(),
        "http://eidas.europa.eu/LoA/high".into(),
    ]
}

impl UpstreamConfig {
    /// The client secret, from the file when one is named.
    pub fn secret(&self) -> anyhow::Result<String> {
        match (&self.client_secret_file, &self.client_secret) {
            (Some(f), _) => Ok(std::fs::read_to_string(f)
                .with_context(|| format!("upstream {}: client_secret_file", self.id))?
                .trim()
                .to_owned()),
            (None, Some(s)) => Ok(s.0.clone()),
            (None, None) => bail!("upstream {}: client_secret or client_secret_file", self.id),
        }
    }
}

/// Passkeys (WebAuthn). They work only where the issuer has a domain name: browsers refuse
/// WebAuthn for IP addresses (WebAuthn Level 3 §5.1.3: the RP ID is a valid domain), and
/// outside `https` except on `localhost`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasskeyConfig {
    pub enabled: bool,
    /// The relying party id: the issuer's host (the default) or a registrable suffix of it
    /// (`mpsv.cz` for `https://idp.mpsv.cz`). Passkeys are bound to it for good: changing it
    /// makes every registered passkey unusable.
    pub rp_id: Option<String>,
    /// The name authenticators show beside the account.
    pub rp_name: String,
}

impl Default for PasskeyConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            rp_id: None,
            rp_name: "MPSV – OKslužby".into(),
        }
    }
}

/// Protocol choices that apply to every client (a client may be stricter).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProtocolConfig {
    /// Every authorization request must come through the PAR endpoint (RFC 9126 §5,
    /// `require_pushed_authorization_requests` in discovery).
    pub require_pushed_authorization_requests: bool,
    /// Every authorization request must be a signed request object (RFC 9101 §10.5,
    /// `require_signed_request_object` in discovery).
    pub require_signed_request_object: bool,
    /// DPoP proofs must carry our nonce (RFC 9449 §8; `use_dpop_nonce` hands it out). On by
    /// default: a proof then cannot be made in advance, only within the nonce's window.
    pub dpop_nonce: bool,
    /// The applications whose tokens say `submit_permission: true` only at the MFA level
    /// (`urn:mpsv:idp:acr:mfa`); below it they say false and
    /// `submit_permission_mfa_required: true`, and the application asks for a step-up.
    /// (`poskytovatel`, `rodina`.)
    pub submit_requires_mfa: Vec<String>,
}

impl Default for ProtocolConfig {
    fn default() -> Self {
        Self {
            require_pushed_authorization_requests: false,
            require_signed_request_object: false,
            dpop_nonce: true,
            submit_requires_mfa: Vec::new(),
        }
    }
}

/// An address or a range of addresses (CIDR) of trusted reverse proxies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedProxy(ipnet::IpNet);

impl TrustedProxy {
    pub fn contains(&self, ip: &std::net::IpAddr) -> bool {
        self.0.contains(&ip.to_canonical())
    }
}

impl std::str::FromStr for TrustedProxy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.contains('/') {
            let net: ipnet::IpNet = s
                .parse()
                .map_err(|_| format!("{s:?} is not an address range (CIDR)"))?;
            // `10.0.0.1/8` is a typo for `10.0.0.0/8` or for one address: refuse it.
            if net.network() != net.addr() {
                return Err(format!("{s:?} has host bits set; write {}", net.trunc()));
            }
            // Everyone's forwarding header believed would let any client choose its address
            // (and its rate-limit bucket).
            if net.prefix_len() == 0 {
                return Err(format!("{s:?} would trust every client; list the proxies"));
            }
            // Peers are compared in canonical form (an IPv4 peer is never `::ffff:a.b.c.d`).
            if let ipnet::IpNet::V6(v6) = net {
                if v6.addr().to_ipv4_mapped().is_some() {
                    return Err(format!("{s:?}: write IPv4 ranges as IPv4 (a.b.c.d/n)"));
                }
            }
            Ok(Self(net))
        } else {
            let ip: std::net::IpAddr = s
                .parse()
                .map_err(|_| format!("{s:?} is not an IP address"))?;
            Ok(Self(ipnet::IpNet::from(ip.to_canonical())))
        }
    }
}

impl std::fmt::Display for TrustedProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let full = matches!(
            self.0,
            ipnet::IpNet::V4(n) if n.prefix_len() == 32
        ) || matches!(self.0, ipnet::IpNet::V6(n) if n.prefix_len() == 128);
        if full {
            write!(f, "{}", self.0.addr())
        } else {
            write!(f, "{}", self.0)
        }
    }
}

impl<'de> Deserialize<'de> for TrustedProxy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForwardedHeader {
    #[default]
    XForwardedFor,
    Forwarded,
}

impl ForwardedHeader {
    pub fn as_str(self) -> &'static str {
        match self {
            ForwardedHeader::XForwardedFor => "x-forwarded-for",
            ForwardedHeader::Forwarded => "forwarded",
        }
    }
}

/// Who may read the Prometheus metrics. Neither set (the default): `/metrics` is not served at
/// all. `bind`: a second listener (e.g. `127.0.0.1:9090`, or an address only the monitoring
/// network reaches) serves `/metrics` alone. `token`: `/metrics` on the main listener (and on the
/// metrics listener, if any) answers only `Authorization: Bearer <token>`.
#[derive(Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    pub bind: Option<String>,
    pub token: Option<String>,
}

impl std::fmt::Debug for MetricsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsConfig")
            .field("bind", &self.bind)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// Per-IP rate limits (attempts per minute).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    pub login_per_minute: u32,
    pub password_reset_per_minute: u32,
    /// New passwords checked (each costs Argon2 runs: the history and the hash) per address
    /// and per account, at the forced change, the account page and a reset link.
    pub password_change_per_minute: u32,
    pub password_change_per_account_per_minute: u32,
    /// Pending logins (rows waiting for the login form) one client address may hold at once.
    pub pending_logins_per_address: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            login_per_minute: 30,
            password_reset_per_minute: 5,
            password_change_per_minute: 10,
            password_change_per_account_per_minute: 5,
            pending_logins_per_address: 200,
        }
    }
}

/// Outgoing mail (password reset links). In `folder` mode every message is written as an
/// `.eml` file into `folder` instead of being sent: for development and tests.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// `folder` or `smtp`.
    pub mode: String,
    pub folder: PathBuf,
    pub from: String,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_username: Option<String>,
    pub smtp_password: Option<String>,
    /// Use STARTTLS (port 587) or implicit TLS (port 465); `false` only for a local relay.
    pub smtp_tls: bool,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            mode: "folder".into(),
            folder: PathBuf::from("mail"),
            from: "OKslužby MPSV <noreply@mpsv.cz>".into(),
            smtp_host: "localhost".into(),
            smtp_port: 587,
            smtp_username: None,
            smtp_password: None,
            smtp_tls: true,
        }
    }
}

/// Token lifetimes in seconds; a client may override the access and refresh lifetimes.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenLifetimes {
    pub authorization_code: i64,
    pub access_token: i64,
    pub id_token: i64,
    pub refresh_token: i64,
    /// How long a pending login (an authorization request waiting for the form) stays valid.
    pub login_request: i64,
    /// How long a pushed authorization request's `request_uri` may be used (RFC 9126 §2.2;
    /// FAPI 2.0 asks for less than 600 seconds).
    pub pushed_request: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    /// Absolute lifetime of the single sign-on session, in seconds.
    pub absolute_timeout: i64,
    /// The session ends after this long without use by the browser, in seconds.
    pub idle_timeout: i64,
    /// Force the `Secure` flag and the `__Host-` cookie prefix even on plain HTTP issuers.
    pub secure_cookies: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeyConfig {
    /// Seconds between pre-publishing a rotated key in JWKS and signing with it. Relying
    /// parties cache JWKS; the delay must exceed their cache lifetime.
    pub rotation_delay: i64,
    /// How often a running server re-reads the keys (folder or database), in seconds.
    pub reload_interval: u64,
    /// File holding the key-encryption key (`mpsv-idp keys generate-kek`). With a KEK (here
    /// or in `MPSV_IDP_KEK`) the signing keys and the data key are kept in the database,
    /// sealed with it, and `key_dir` is not used: any number of nodes share them.
    pub kek_file: Option<PathBuf>,
    /// Files of earlier KEKs, during a KEK rotation: what they sealed is still opened and
    /// re-sealed with the current KEK at start.
    pub previous_kek_files: Vec<PathBuf>,
    /// The KEK itself, from `MPSV_IDP_KEK` only (never from the configuration file).
    #[serde(skip)]
    pub kek: Option<Redacted>,
    /// Earlier KEKs, from `MPSV_IDP_KEK_PREVIOUS` (comma-separated).
    #[serde(skip)]
    pub previous_keks: Vec<Redacted>,
}

/// A secret setting: cloned with the configuration, never printed.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Redacted(pub String);

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl KeyConfig {
    /// The KEKs this node is given, if any (then keys live in the database).
    pub fn keks(&self) -> Result<Option<crate::keys::kek::Keks>, crate::keys::kek::KekError> {
        use crate::keys::kek::{Kek, Keks};
        let current = match (&self.kek, &self.kek_file) {
            (Some(text), _) => Kek::parse(&text.0, "MPSV_IDP_KEK")?,
            (None, Some(path)) => Kek::from_file(path)?,
            (None, None) => return Ok(None),
        };
        let mut previous = Vec::new();
        for (i, text) in self.previous_keks.iter().enumerate() {
            previous.push(Kek::parse(
                &text.0,
                &format!("MPSV_IDP_KEK_PREVIOUS (item {})", i + 1),
            )?);
        }
        for path in &self.previous_kek_files {
            previous.push(Kek::from_file(path)?);
        }
        Ok(Some(Keks { current, previous }))
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            issuer: "http://127.0.0.1:8080".into(),
            bind: "127.0.0.1:8080".into(),
            database_url: "sqlite://data/mpsv-idp.db?mode=rwc".into(),
            key_dir: PathBuf::from("keys"),
            workers: 0,
            db_max_connections: 8,
            db_acquire_timeout: 5,
            request_timeout: 30,
            password_hash_concurrency: 0,
            client_cache_seconds: 5,
            trusted_proxies: Vec::new(),
            forwarded_header: ForwardedHeader::default(),
            tokens: TokenLifetimes::default(),
            session: SessionConfig::default(),
            keys: KeyConfig::default(),
            password: Default::default(),
            lockout: Default::default(),
            limits: Limits::default(),
            mail: MailConfig::default(),
            metrics: MetricsConfig::default(),
            protocol: ProtocolConfig::default(),
            passkeys: PasskeyConfig::default(),
            upstreams: Vec::new(),
        }
    }
}

impl Default for TokenLifetimes {
    fn default() -> Self {
        Self {
            authorization_code: 60,
            access_token: 300,
            id_token: 300,
            refresh_token: 8 * 3600,
            login_request: 1800,
            pushed_request: 60,
        }
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            absolute_timeout: 10 * 3600,
            idle_timeout: 30 * 60,
            secure_cookies: None,
        }
    }
}

impl Default for KeyConfig {
    fn default() -> Self {
        Self {
            rotation_delay: 24 * 3600,
            reload_interval: 30,
            kek_file: None,
            previous_kek_files: Vec::new(),
            kek: None,
            previous_keks: Vec::new(),
        }
    }
}

impl Config {
    /// The settings in force, as administrators read them (console, API): every setting that
    /// shapes security or behaviour, never a secret (the database URL shows only its kind).
    pub fn summary(&self) -> Vec<(&'static str, String)> {
        let p = &self.password;
        vec![
            ("issuer", self.issuer.clone()),
            ("db_max_connections", self.db_max_connections.to_string()),
            (
                "db_acquire_timeout",
                format!("{} s", self.db_acquire_timeout),
            ),
            ("request_timeout", format!("{} s", self.request_timeout)),
            (
                "database",
                if self.database_url.starts_with("sqlite") {
                    "SQLite"
                } else {
                    "PostgreSQL"
                }
                .into(),
            ),
            (
                "tokens.authorization_code",
                format!("{} s", self.tokens.authorization_code),
            ),
            (
                "tokens.access_token",
                format!("{} s", self.tokens.access_token),
            ),
            ("tokens.id_token", format!("{} s", self.tokens.id_token)),
            (
                "tokens.refresh_token",
                format!("{} s", self.tokens.refresh_token),
            ),
            (
                "session.absolute_timeout",
                format!("{} s", self.session.absolute_timeout),
            ),
            (
                "session.idle_timeout",
                format!("{} s", self.session.idle_timeout),
            ),
            ("password.min_length_user", p.min_length_user.to_string()),
            (
                "password.min_length_privileged",
                p.min_length_privileged.to_string(),
            ),
            ("password.history", p.history.to_string()),
            ("password.max_age_days", p.max_age_days.to_string()),
            (
                "password.min_change_interval_minutes",
                p.min_change_interval_minutes.to_string(),
            ),
            (
                "password.initial_password_days",
                p.initial_password_days.to_string(),
            ),
            ("lockout.threshold", self.lockout.threshold.to_string()),
            (
                "lockout.first_lock_seconds",
                self.lockout.first_lock_seconds.to_string(),
            ),
            (
                "lockout.max_lock_seconds",
                self.lockout.max_lock_seconds.to_string(),
            ),
            (
                "limits.login_per_minute",
                self.limits.login_per_minute.to_string(),
            ),
            (
                "limits.password_reset_per_minute",
                self.limits.password_reset_per_minute.to_string(),
            ),
            (
                "limits.password_change_per_minute",
                self.limits.password_change_per_minute.to_string(),
            ),
            (
                "limits.password_change_per_account_per_minute",
                self.limits
                    .password_change_per_account_per_minute
                    .to_string(),
            ),
            (
                "limits.pending_logins_per_address",
                self.limits.pending_logins_per_address.to_string(),
            ),
            (
                "keys.rotation_delay",
                format!("{} s", self.keys.rotation_delay),
            ),
            (
                "keys.store",
                match (&self.keys.kek, &self.keys.kek_file) {
                    (None, None) => format!("folder {}", self.key_dir.display()),
                    _ => format!(
                        "database, sealed with the KEK ({} previous)",
                        self.keys.previous_keks.len() + self.keys.previous_kek_files.len()
                    ),
                },
            ),
            (
                "client_cache_seconds",
                self.client_cache_seconds.to_string(),
            ),
            ("mail.mode", self.mail.mode.clone()),
            (
                "metrics",
                match (&self.metrics.bind, &self.metrics.token) {
                    (None, None) => "off".into(),
                    (Some(b), None) => format!("listener {b}"),
                    (None, Some(_)) => "bearer token".into(),
                    (Some(b), Some(_)) => format!("listener {b}, bearer token"),
                },
            ),
            ("forwarded_header", self.forwarded_header.as_str().into()),
            (
                "trusted_proxies",
                self.trusted_proxies
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        ]
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        for app in &self.protocol.submit_requires_mfa {
            app.parse::<crate::domain::client::Application>()
                .map_err(|_| {
                    anyhow::anyhow!(
                        "protocol.submit_requires_mfa: {app:?} is not poskytovatel or rodina"
                    )
                })?;
        }
        let mut ids = std::collections::HashSet::new();
        for u in &self.upstreams {
            if u.id.is_empty()
                || u.id.len() > 32
                || !u
                    .id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                || !ids.insert(u.id.as_str())
            {
                bail!("upstream id {:?}: 1-32 of a-z, 0-9, - and unique", u.id);
            }
            let url = Url::parse(&u.issuer)
                .with_context(|| format!("upstream {}: issuer must be a URL", u.id))?;
            if url.scheme() != "https" && !is_loopback(&url) {
                bail!("upstream {}: issuer must use https", u.id);
            }
            if !u.scopes.iter().any(|s| s == "openid") {
                bail!("upstream {}: scopes must include openid", u.id);
            }
            if u.accepted_acr.is_empty() {
                bail!(
                    "upstream {}: accepted_acr must name at least one level",
                    u.id
                );
            }
            u.secret()?;
        }
        let issuer = Url::parse(&self.issuer).context("issuer must be an absolute URL")?;
        // OIDC Discovery §3: https, no query or fragment. Plain http is allowed for loopback
        // development only.
        if issuer.query().is_some() || issuer.fragment().is_some() {
            bail!("issuer must not have a query or fragment");
        }
        if issuer.scheme() != "https" && !is_loopback(&issuer) {
            bail!("issuer must use https unless it is a loopback address");
        }
        if self.issuer.ends_with('/') {
            bail!("issuer must not end with '/'");
        }
        // Every duration within bounds (issue 11.11): positive, and small enough that adding it
        // to a Unix time can never overflow, and sane for an IdP.
        const DAY: i64 = 86_400;
        for (name, v, max) in [
            (
                "tokens.authorization_code",
                self.tokens.authorization_code,
                600,
            ),
            (
                "tokens.access_token",
                self.tokens.access_token,
                *crate::domain::client::ACCESS_TOKEN_TTL.end(),
            ),
            ("tokens.id_token", self.tokens.id_token, 3600),
            (
                "tokens.refresh_token",
                self.tokens.refresh_token,
                *crate::domain::client::REFRESH_TOKEN_TTL.end(),
            ),
            ("tokens.login_request", self.tokens.login_request, DAY),
            ("tokens.pushed_request", self.tokens.pushed_request, 599),
            (
                "session.absolute_timeout",
                self.session.absolute_timeout,
                30 * DAY,
            ),
            ("session.idle_timeout", self.session.idle_timeout, 30 * DAY),
        ] {
            if !(1..=max).contains(&v) {
                bail!("{name} must be 1 to {max} seconds, got {v}");
            }
        }
        if !(0..=crate::keys::MAX_ROTATION_DELAY).contains(&self.keys.rotation_delay) {
            bail!(
                "keys.rotation_delay must be 0 to {} seconds",
                crate::keys::MAX_ROTATION_DELAY
            );
        }
        if self.keys.kek.is_some() && self.keys.kek_file.is_some() {
            bail!("give the KEK once: MPSV_IDP_KEK or keys.kek_file (MPSV_IDP_KEK_FILE), not both");
        }
        let has_previous =
            !self.keys.previous_keks.is_empty() || !self.keys.previous_kek_files.is_empty();
        if has_previous && self.keys.kek.is_none() && self.keys.kek_file.is_none() {
            bail!("previous KEKs are given but no current KEK (MPSV_IDP_KEK or keys.kek_file)");
        }
        if !(1..=3600).contains(&self.keys.reload_interval) {
            bail!("keys.reload_interval must be 1 to 3600 seconds");
        }
        let l = &self.lockout;
        if !(1..=100).contains(&l.threshold)
            || !(1..=DAY).contains(&l.first_lock_seconds)
            || !(l.first_lock_seconds..=DAY).contains(&l.max_lock_seconds)
        {
            bail!(
                "lockout: threshold 1 to 100, first_lock_seconds 1 to 86400, max_lock_seconds \
                 from first_lock_seconds to 86400"
            );
        }
        let p = &self.password;
        if p.min_change_interval_minutes > 7 * 24 * 60 || p.initial_password_days > 365 {
            bail!(
                "password.min_change_interval_minutes must be at most 10080 and \
                 password.initial_password_days at most 365"
            );
        }
        if !(2..=300).contains(&self.request_timeout) {
            bail!("request_timeout must be 2 to 300 seconds");
        }
        if !(1..=60).contains(&self.db_acquire_timeout) {
            bail!("db_acquire_timeout must be 1 to 60 seconds");
        }
        if self.client_cache_seconds > 300 {
            bail!("client_cache_seconds must be at most 300");
        }
        if !matches!(self.mail.mode.as_str(), "folder" | "smtp") {
            bail!("mail.mode must be folder or smtp");
        }
        if let Some(t) = &self.metrics.token {
            // A bearer secret: long enough not to be guessed, and valid in a header.
            if t.len() < 32 || !t.bytes().all(|b| b.is_ascii_graphic()) {
                bail!("metrics.token must be at least 32 visible ASCII characters");
            }
        }
        Ok(())
    }

    /// Whether cookies get `Secure` and the `__Host-` prefix (RFC 6265bis §4.1.3.2).
    pub fn secure_cookies(&self) -> bool {
        self.session
            .secure_cookies
            .unwrap_or_else(|| self.issuer.starts_with("https://"))
    }

    /// Whether the issuer is a loopback address (a developer's machine, a test).
    pub fn issuer_is_loopback(&self) -> bool {
        Url::parse(&self.issuer).is_ok_and(|u| is_loopback(&u))
    }

    /// The longest lifetime of anything we sign: a retired key stays in JWKS this long. A
    /// client may be given access tokens up to the per-client maximum, so that counts too
    /// (issue 11.11).
    pub fn max_signed_lifetime(&self) -> i64 {
        self.tokens
            .access_token
            .max(self.tokens.id_token)
            .max(*crate::domain::client::ACCESS_TOKEN_TTL.end())
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests;
