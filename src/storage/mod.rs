//! All SQL lives here. One storage layer speaks both databases through sqlx's `Any` driver:
//! the same SQL text with `$N` placeholders (which SQLite also understands) and only portable
//! types (`BIGINT`/`INTEGER` as `i64`, `TEXT`). Migrations are per dialect.

/// A statutory role in force at `$2`.
macro_rules! statutory_now {
    () => {
        "from_at <= $2 AND (until_at IS NULL OR until_at > $2)"
    };
}

pub mod accounts;
pub mod client_cache;
pub mod clients;
pub mod codes;
pub mod delegations;
pub mod deliveries;
pub mod demo;
pub mod keys;
pub mod limits;
pub mod login_requests;
pub mod organisations;
pub mod passkeys;
pub mod people;
pub mod pushed_requests;
pub mod revocations;
pub mod sessions;
pub mod statutory;
pub mod tokens;
pub mod upstream;

use std::str::FromStr;

use sqlx::any::{AnyPoolOptions, AnyQueryResult};
use sqlx::{AnyPool, Executor};

/// Which database the pool talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("stored value is invalid: {0}")]
    Corrupt(String),
    #[error("unsupported database URL (use sqlite:// or postgres://)")]
    UnsupportedUrl,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

pub type Result<T> = std::result::Result<T, StorageError>;

/// A write transaction (from [`Storage::begin_write`]): an action and its audit record are
/// written in one, so neither exists without the other.
pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// The database handle shared by every request.
#[derive(Clone)]
pub struct Storage {
    pool: AnyPool,
    /// SQLite: one connection for the hot paths' writes (see `connect_bounded`).
    writer: Option<AnyPool>,
    backend: Backend,
    /// The SQLite file, if any: migrations lock `<file>.migrate-lock` (see [`Storage::migrate`]).
    sqlite_file: Option<std::path::PathBuf>,
    clients: client_cache::ClientCache,
    revocations: revocations::Revocations,
}

impl Storage {
    /// Opens the pool. SQLite gets WAL, `synchronous=NORMAL` (durable across application
    /// crashes; the WAL survives) and a busy timeout so concurrent writers wait instead of failing.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        Self::connect_with(url, max_connections, std::time::Duration::from_secs(5)).await
    }

    /// [`Storage::connect`] with the longest a request waits for a connection: past it the
    /// request fails as "unavailable" (503 with `Retry-After`) instead of hanging while the
    /// database is away (issue 12.4).
    pub async fn connect_with(
        url: &str,
        max_connections: u32,
        acquire_timeout: std::time::Duration,
    ) -> Result<Self> {
        Self::connect_bounded(url, max_connections, acquire_timeout, None).await
    }

    /// [`Storage::connect_with`] and, on PostgreSQL, a `statement_timeout` for every statement
    /// (a statement stuck behind a lock fails instead of holding its request forever).
    pub async fn connect_bounded(
        url: &str,
        max_connections: u32,
        acquire_timeout: std::time::Duration,
        statement_timeout: Option<std::time::Duration>,
    ) -> Result<Self> {
        let statement_timeout_ms = statement_timeout.map(|d| d.as_millis());
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StorageError::UnsupportedUrl);
        };
        let sqlite_file = match backend {
            Backend::Sqlite => sqlite_file(url),
            Backend::Postgres => None,
        };
        if let Some(parent) = sqlite_file.as_deref().and_then(std::path::Path::parent) {
            if !parent.as_os_str().is_empty() {
                let _ = std::fs::create_dir_all(parent);
            }
        }
        let open = |max: u32| {
            AnyPoolOptions::new()
                .max_connections(max.max(1))
                .acquire_timeout(acquire_timeout)
                // A SQLite connection is a file handle that cannot go stale: skip the ping sqlx
                // sends before handing out each connection (one worker-thread round trip per
                // query). PostgreSQL connections can be cut by the network, so they keep it.
                .test_before_acquire(backend == Backend::Postgres)
                .after_connect(move |conn, _meta| {
                    Box::pin(async move {
                        if let (Backend::Postgres, Some(ms)) = (backend, statement_timeout_ms) {
                            // A number we formatted: no injection.
                            let set = format!("SET statement_timeout = {ms}");
                            conn.execute(sqlx::AssertSqlSafe(set)).await?;
                        }
                        if backend == Backend::Sqlite {
                            for pragma in [
                                "PRAGMA journal_mode = WAL",
                                "PRAGMA synchronous = NORMAL",
                                "PRAGMA foreign_keys = ON",
                                "PRAGMA busy_timeout = 5000",
                            ] {
                                conn.execute(pragma).await?;
                            }
                        }
                        Ok(())
                    })
                })
                .connect(url)
        };
        let pool = open(max_connections).await?;
        // SQLite lets one connection write at a time; the others wait in the busy handler,
        // which sleeps in steps of up to 100 ms (the p99 of 138 ms in BENCHMARKS.md). The
        // token endpoint's writes therefore queue for one connection of their own instead
        // (`Storage::writer`), in order, without sleeping.
        let writer = match backend {
            Backend::Sqlite if sqlite_file.is_some() => Some(open(1).await?),
            _ => None,
        };
        let revocations = revocations::Revocations::new(backend, sqlite_file.as_deref());
        Ok(Self {
            pool,
            writer,
            backend,
            sqlite_file,
            clients: client_cache::ClientCache::new(std::time::Duration::ZERO),
            revocations,
        })
    }

    /// Caches client registrations for `ttl` (zero: no cache; the CLI uses none).
    pub fn with_client_cache(mut self, ttl: std::time::Duration) -> Self {
        self.clients = client_cache::ClientCache::new(ttl);
        self
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The pool for the writes of the token endpoint and other hot paths, each a statement or
    /// a transaction of its own that calls nothing else while it is open: on SQLite one
    /// connection, so these writers queue in order instead of sleeping on SQLite's lock; on
    /// PostgreSQL the ordinary pool.
    pub fn writer(&self) -> &AnyPool {
        self.writer.as_ref().unwrap_or(&self.pool)
    }

    /// Begins a transaction that will read and then write. On SQLite it takes the write lock
    /// first (a write that changes nothing), so it waits for other writers under the busy
    /// timeout: a deferred transaction that reads first and then writes fails at once with
    /// "database is locked" when another connection wrote in between (SQLite docs,
    /// "BEGIN DEFERRED" and SQLITE_BUSY_SNAPSHOT in WAL mode).
    pub async fn begin_write(&self) -> Result<Tx> {
        Self::begin_write_on(&self.pool, self.backend).await
    }

    async fn begin_write_on(pool: &AnyPool, backend: Backend) -> Result<Tx> {
        let mut tx = pool.begin().await?;
        if backend == Backend::Sqlite {
            sqlx::query("UPDATE mpsv_id_sequence SET next = next WHERE id = 0")
                .execute(&mut *tx)
                .await?;
        }
        Ok(tx)
    }

    /// [`Storage::begin_write`] on [`Storage::writer`]: for the hot paths' own transactions.
    pub async fn writer_tx(&self) -> Result<Tx> {
        Self::begin_write_on(self.writer(), self.backend).await
    }

    /// Applies the migrations of this backend's dialect. PostgreSQL serialises migrators
    /// with an advisory lock (sqlx); for SQLite, whose migrator takes none, processes and
    /// nodes starting together on one file wait for each other on an exclusive file lock
    /// (else both run migration 1 and the second fails on "table already exists").
    pub async fn migrate(&self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => {
                let _lock = match &self.sqlite_file {
                    Some(file) => {
                        let mut name = file.clone().into_os_string();
                        name.push(".migrate-lock");
                        Some(lock_file(name.into()).await?)
                    }
                    None => None,
                };
                sqlx::migrate!("migrations/sqlite").run(&self.pool).await?
            }
            Backend::Postgres => {
                sqlx::migrate!("migrations/postgres")
                    .run(&self.pool)
                    .await?
            }
        }
        Ok(())
    }

    /// The check value `name` as the first node stored it: `candidate` is stored if there is
    /// none yet (exactly one node's value wins), and the stored value is returned.
    pub async fn key_check(&self, name: &str, candidate: &str) -> Result<String> {
        sqlx::query(
            "INSERT INTO key_checks (name, sealed) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(candidate)
        .execute(&self.pool)
        .await?;
        let (sealed,): (String,) = sqlx::query_as("SELECT sealed FROM key_checks WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        Ok(sealed)
    }

    /// One stored TOTP secret (sealed), if any account has one.
    pub async fn any_sealed_totp_secret(&self) -> Result<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT totp_secret FROM accounts WHERE totp_secret IS NOT NULL LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(s,)| s))
    }

    /// A trivial query, for `/readyz`.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Deletes rows that can no longer matter (expired codes, login requests, revoked-token
    /// markers). Run periodically by the server.
    pub async fn purge_expired(&self, now: i64) -> Result<u64> {
        let mut n = 0;
        // Spent refresh tokens are kept while their family lives (reuse detection needs
        // them); a family never outlives its session, so both go when the session expires.
        for sql in [
            // Spent codes are kept a day past expiry so that a late replay is still detected
            // (and revokes its tokens) rather than looking unknown.
            "DELETE FROM authorization_codes WHERE expires_at < $1 - 86400",
            "DELETE FROM login_requests WHERE expires_at < $1",
            "DELETE FROM pushed_requests WHERE expires_at < $1",
            "DELETE FROM webauthn_ceremonies WHERE expires_at < $1",
            "DELETE FROM upstream_logins WHERE expires_at < $1",
            "DELETE FROM upstream_link_codes WHERE expires_at < $1",
            "DELETE FROM revoked_tokens WHERE expires_at < $1",
            "DELETE FROM used_assertions WHERE expires_at < $1",
            "DELETE FROM password_resets WHERE expires_at < $1",
            "DELETE FROM refresh_tokens WHERE family_id IN \
             (SELECT id FROM token_families WHERE expires_at < $1)",
            "DELETE FROM token_families WHERE expires_at < $1",
            "DELETE FROM session_clients WHERE sid IN (SELECT sid FROM sessions WHERE expires_at < $1)",
            "DELETE FROM sessions WHERE expires_at < $1",
            "DELETE FROM rate_limits WHERE window_start < $1 - 120",
            // The outbox's history: kept 30 days after delivery or giving up.
            "DELETE FROM logout_deliveries WHERE delivered_at < $1 - 2592000 \
             OR given_up_at < $1 - 2592000",
        ] {
            n += sqlx::query(sql)
                .bind(now)
                .execute(self.writer())
                .await?
                .rows_affected();
        }
        Ok(n)
    }

    pub async fn close(&self) {
        if let Some(w) = &self.writer {
            w.close().await;
        }
        self.pool.close().await;
    }
}

/// The file of a SQLite URL (`None` for an in-memory database).
fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or("");
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    Some(std::path::PathBuf::from(path))
}

/// Opens (creating) `path` and holds an exclusive lock on it until the file is dropped; waits
/// off the async workers while another holder has it.
async fn lock_file(path: std::path::PathBuf) -> Result<std::fs::File> {
    let locked = tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        file.lock()?;
        Ok::<_, std::io::Error>(file)
    })
    .await
    .map_err(|e| StorageError::Corrupt(format!("migration lock task: {e}")))?;
    locked.map_err(|e| StorageError::Database(sqlx::Error::Io(e)))
}

/// Maps a unique-key violation to a client-facing conflict, right where the query runs.
pub(crate) fn conflict_on_unique(
    result: std::result::Result<AnyQueryResult, sqlx::Error>,
    what: &'static str,
) -> Result<AnyQueryResult> {
    match result {
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            Err(StorageError::Conflict(what))
        }
        other => Ok(other?),
    }
}

/// Parses a stored string into a domain value; a failure means the row is corrupt.
pub(crate) fn parse_stored<T: FromStr>(s: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    s.parse()
        .map_err(|e: T::Err| StorageError::Corrupt(e.to_string()))
}

pub(crate) fn to_json_list(items: impl IntoIterator<Item = impl Into<String>>) -> String {
    let v: Vec<String> = items.into_iter().map(Into::into).collect();
    serde_json::Value::from(v).to_string()
}

pub(crate) fn from_json_list(s: &str) -> Result<Vec<String>> {
    serde_json::from_str(s).map_err(|e| StorageError::Corrupt(e.to_string()))
}
