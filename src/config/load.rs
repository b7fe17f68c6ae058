//! Where the configuration comes from: defaults, the TOML file, then the environment (any
//! setting as `MPSV_IDP_<SECTION>__<KEY>` through figment, and the documented one-name
//! variables on top).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use figment::providers::{Env, Format, Toml};
use figment::Figment;

use super::*;

impl Config {
    /// Defaults, then the file (if given), then the environment: every setting as
    /// `MPSV_IDP_<SECTION>__<KEY>` (e.g. `MPSV_IDP_PASSWORD__MIN_LENGTH=14`,
    /// `MPSV_IDP_TOKENS__ACCESS_TOKEN=300`) through figment, and on top the documented
    /// one-name variables (`MPSV_IDP_ISSUER`, `MPSV_IDP_SMTP_HOST`, … see [`Config::apply_env`]).
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut config = Self::layered(file, Env::prefixed("MPSV_IDP_"))?;
        config.apply_env(|name| std::env::var(name).ok())?;
        config.validate()?;
        Ok(config)
    }

    /// The file and the `__`-nested variables of `env` over the defaults.
    pub(super) fn layered(file: Option<&Path>, env: Env) -> anyhow::Result<Self> {
        let mut figment = Figment::new();
        if let Some(path) = file {
            // Read here, so that a missing file is an error rather than no settings.
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading configuration {}", path.display()))?;
            figment = figment.merge(Toml::string(&text));
        }
        // Only nested names and the top-level settings that have no one-name variable: the
        // prefix is also used by the one-name variables and by the tests' own variables.
        const TOP_LEVEL: [&str; 2] = ["password_hash_concurrency", "client_cache_seconds"];
        let env = env
            .filter(|k| k.as_str().contains("__") || TOP_LEVEL.iter().any(|t| k == *t))
            .split("__");
        figment
            .merge(env)
            .extract()
            .map_err(|e| anyhow::anyhow!("configuration: {e}"))
    }

    /// Environment overrides, one variable per setting (`MPSV_IDP_ISSUER`, …).
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        fn int<T: std::str::FromStr>(name: &str, value: String) -> anyhow::Result<T> {
            value
                .trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("{name} must be a whole number, got {value:?}"))
        }
        if let Some(v) = var("MPSV_IDP_ISSUER") {
            self.issuer = v;
        }
        if let Some(v) = var("MPSV_IDP_BIND") {
            self.bind = v;
        }
        if let Some(v) = var("MPSV_IDP_DATABASE_URL") {
            self.database_url = v;
        }
        if let Some(v) = var("MPSV_IDP_KEY_DIR") {
            self.key_dir = PathBuf::from(v);
        }
        if let Some(v) = var("MPSV_IDP_WORKERS") {
            self.workers = int("MPSV_IDP_WORKERS", v)?;
        }
        if let Some(v) = var("MPSV_IDP_MAIL_MODE") {
            self.mail.mode = v;
        }
        if let Some(v) = var("MPSV_IDP_MAIL_FOLDER") {
            self.mail.folder = PathBuf::from(v);
        }
        if let Some(v) = var("MPSV_IDP_SMTP_HOST") {
            self.mail.smtp_host = v;
        }
        if let Some(v) = var("MPSV_IDP_SMTP_PASSWORD") {
            self.mail.smtp_password = Some(v);
        }
        if let Some(v) = var("MPSV_IDP_TRUSTED_PROXIES") {
            self.trusted_proxies = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse()
                        .map_err(|e| anyhow::anyhow!("MPSV_IDP_TRUSTED_PROXIES: {e}"))
                })
                .collect::<anyhow::Result<_>>()?;
        }
        if let Some(v) = var("MPSV_IDP_FORWARDED_HEADER") {
            self.forwarded_header = match v.trim().to_ascii_lowercase().as_str() {
                "x-forwarded-for" => ForwardedHeader::XForwardedFor,
                "forwarded" => ForwardedHeader::Forwarded,
                _ => bail!("MPSV_IDP_FORWARDED_HEADER must be x-forwarded-for or forwarded"),
            };
        }
        if let Some(v) = var("MPSV_IDP_METRICS_BIND") {
            self.metrics.bind = Some(v);
        }
        if let Some(v) = var("MPSV_IDP_METRICS_TOKEN") {
            self.metrics.token = Some(v);
        }
        if let Some(v) = var("MPSV_IDP_KEK") {
            self.keys.kek = Some(Redacted(v));
        }
        if let Some(v) = var("MPSV_IDP_KEK_FILE") {
            self.keys.kek_file = Some(PathBuf::from(v));
        }
        if let Some(v) = var("MPSV_IDP_KEK_PREVIOUS") {
            self.keys.previous_keks = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Redacted(s.to_owned()))
                .collect();
        }
        if let Some(v) = var("MPSV_IDP_DB_ACQUIRE_TIMEOUT") {
            self.db_acquire_timeout = int("MPSV_IDP_DB_ACQUIRE_TIMEOUT", v)?;
        }
        if let Some(v) = var("MPSV_IDP_REQUEST_TIMEOUT") {
            self.request_timeout = int("MPSV_IDP_REQUEST_TIMEOUT", v)?;
        }
        if let Some(v) = var("MPSV_IDP_DB_MAX_CONNECTIONS") {
            self.db_max_connections = int("MPSV_IDP_DB_MAX_CONNECTIONS", v)?;
        }
        let lifetimes: [(&str, &mut i64); 7] = [
            ("MPSV_IDP_ACCESS_TOKEN_TTL", &mut self.tokens.access_token),
            ("MPSV_IDP_ID_TOKEN_TTL", &mut self.tokens.id_token),
            ("MPSV_IDP_REFRESH_TOKEN_TTL", &mut self.tokens.refresh_token),
            ("MPSV_IDP_CODE_TTL", &mut self.tokens.authorization_code),
            ("MPSV_IDP_SESSION_TTL", &mut self.session.absolute_timeout),
            ("MPSV_IDP_SESSION_IDLE_TTL", &mut self.session.idle_timeout),
            ("MPSV_IDP_KEY_ROTATION_DELAY", &mut self.keys.rotation_delay),
        ];
        for (name, slot) in lifetimes {
            if let Some(v) = var(name) {
                *slot = int(name, v)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    // figment's own test harness fixes the closure's error type.
    #[allow(clippy::result_large_err)]
    fn every_setting_can_come_from_the_environment_over_the_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "idp.toml",
                "issuer = \"https://idp.example.cz\"\n[password]\nmin_length_user = 13\n",
            )?;
            jail.set_env("MPSV_IDP_PASSWORD__MIN_LENGTH_PRIVILEGED", "20");
            jail.set_env("MPSV_IDP_TOKENS__ACCESS_TOKEN", "300");
            jail.set_env("MPSV_IDP_CLIENT_CACHE_SECONDS", "2");
            // One-name variables and other programs' variables are not nested settings.
            jail.set_env("MPSV_IDP_TEST_POSTGRES_URL", "postgres://elsewhere");
            let c = Config::layered(Some(Path::new("idp.toml")), Env::prefixed("MPSV_IDP_"))
                .map_err(|e| e.to_string())?;
            assert_eq!(c.issuer, "https://idp.example.cz");
            assert_eq!(c.password.min_length_user, 13);
            assert_eq!(c.password.min_length_privileged, 20);
            assert_eq!(c.tokens.access_token, 300);
            assert_eq!(c.client_cache_seconds, 2);
            // An unknown nested name is an error that names it, not silently ignored.
            jail.set_env("MPSV_IDP_PASSWORD__MIN_LENGHT", "9");
            let e = Config::layered(None, Env::prefixed("MPSV_IDP_"))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains("min_lenght"), "{e}");
            Ok(())
        });
    }
}
