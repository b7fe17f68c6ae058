//! Signing keys: where they are kept (the database under a KEK, or files in `keys/` for a
//! single node), the published JWK Set, signing and verification.
//!
//! Life cycle of a key (per algorithm):
//! - **next**: created by `keys rotate` with `active_from` in the future; already published in
//!   JWKS so relying parties can cache it before it signs anything;
//! - **current**: the key with the latest `active_from` that is not in the future; it signs;
//! - **retired**: superseded by a newer current key; still published until every token it
//!   signed has expired (`superseded + max token lifetime`), then pruned by the next rotation.

mod database;
mod files;
pub mod kek;
pub mod sealing;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use crate::domain::client::SigningAlg;
use crate::jose::{Compact, Header, JoseError, SigningKey, VerifyingKey};
use crate::secrets::now;
use crate::storage::{Storage, StorageError};

pub use database::{data_key_from_database, import_folder, reseal, Imported};
use kek::Keks;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key folder: {0}")]
    Io(#[from] std::io::Error),
    #[error("key: {0}")]
    Jose(#[from] JoseError),
    #[error("key metadata: {0}")]
    Json(#[from] serde_json::Error),
    #[error("invalid key: {0}")]
    Invalid(String),
    #[error("keys in the database: {0}")]
    Storage(#[from] StorageError),
    #[error("{0}")]
    Kek(#[from] kek::KekError),
    /// A stored key sealed by a KEK this node does not have.
    #[error(
        "{what} is sealed with the KEK {stored}, which this node does not have (its KEKs: \
         {known}); give it the KEK the other nodes use (MPSV_IDP_KEK), or during a KEK \
         rotation the old one in MPSV_IDP_KEK_PREVIOUS"
    )]
    WrongKek {
        what: String,
        stored: String,
        known: String,
    },
    #[error("a background task failed: {0}")]
    Task(String),
}

/// Metadata kept beside each private key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyMeta {
    pub kid: String,
    pub alg: String,
    pub created_at: i64,
    /// From when this key signs (until a newer key's `active_from`).
    pub active_from: i64,
    /// Its place among the keys of its algorithm: a rotation takes the next one. Key times
    /// are whole seconds, so a key rotated in the same second as the one before it activates
    /// at the same moment; the later generation signs (files written before this field
    /// existed read as 0 and fall back to `created_at`, then `kid`).
    #[serde(default)]
    pub generation: i64,
}

impl KeyMeta {
    /// The order in which keys of one algorithm take over: the later key signs. The `kid`
    /// last makes it total, so every node picks the same key even in a tie.
    fn order(&self) -> (i64, i64, i64, &str) {
        (
            self.active_from,
            self.generation,
            self.created_at,
            self.kid.as_str(),
        )
    }
}

/// A key ready for use.
pub struct LoadedKey {
    pub meta: KeyMeta,
    pub alg: SigningAlg,
    signer: SigningKey,
    verifier: VerifyingKey,
    /// The public JWK with `kid`, `alg` and `use`.
    pub public_jwk: serde_json::Map<String, serde_json::Value>,
}

/// Where a key stands in its life cycle at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    Next,
    Current,
    /// Retired at the given time, still published.
    Retired(i64),
    /// Retired long enough that nothing it signed is still valid.
    Expired,
}

impl KeyState {
    pub fn label(self) -> &'static str {
        match self {
            KeyState::Next => "next",
            KeyState::Current => "current",
            KeyState::Retired(_) => "retired",
            KeyState::Expired => "expired",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("no current signing key for {0}")]
    NoKey(SigningAlg),
    #[error("signing failed: {0}")]
    Jose(#[from] JoseError),
}

/// Where the keys are kept.
enum Source {
    /// `keys/`: one node, or nodes sharing a folder.
    Files(PathBuf),
    /// The database, sealed with the KEK (issue 12.1): any number of nodes.
    Database { storage: Storage, keks: Arc<Keks> },
}

/// The keys of this node, reloaded periodically so that a rotation made by the CLI or another
/// node takes effect without a restart.
pub struct KeyStore {
    source: Source,
    max_lifetime: i64,
    keys: RwLock<Arc<Vec<Arc<LoadedKey>>>>,
    /// The JWK Set as served, until the keys change or a retired key's time runs out.
    jwks_cache: RwLock<Option<JwksCache>>,
}

/// The serialised JWK Set of one set of loaded keys, valid until `until` (exclusive).
struct JwksCache {
    keys: Arc<Vec<Arc<LoadedKey>>>,
    bytes: axum::body::Bytes,
    until: i64,
}

impl KeyStore {
    /// Loads the folder, generating a first key for each algorithm that has none.
    pub fn open(dir: &Path, max_lifetime: i64) -> Result<Self, KeyError> {
        files::ensure_initial_keys(dir)?;
        let keys = files::load_all(dir)?;
        Ok(Self {
            source: Source::Files(dir.to_owned()),
            max_lifetime,
            keys: RwLock::new(Arc::new(keys)),
            jwks_cache: RwLock::new(None),
        })
    }

    /// Loads the keys from the database, creating a first key for each algorithm that has
    /// none (of nodes starting together exactly one creates each).
    pub async fn open_database(
        storage: Storage,
        keks: Arc<Keks>,
        max_lifetime: i64,
    ) -> Result<Self, KeyError> {
        database::ensure_initial_keys(&storage, &keks).await?;
        let keys = database::load_all(&storage, &keks, &[]).await?;
        Ok(Self {
            source: Source::Database { storage, keks },
            max_lifetime,
            keys: RwLock::new(Arc::new(keys)),
            jwks_cache: RwLock::new(None),
        })
    }

    /// Whether the keys are kept in the database (else in a key folder).
    pub fn in_database(&self) -> bool {
        matches!(self.source, Source::Database { .. })
    }

    pub async fn reload(&self) -> Result<(), KeyError> {
        let keys = match &self.source {
            Source::Files(dir) => {
                let dir = dir.clone();
                tokio::task::spawn_blocking(move || files::load_all(&dir))
                    .await
                    .map_err(|e| KeyError::Task(e.to_string()))??
            }
            Source::Database { storage, keks } => {
                database::load_all(storage, keks, &self.snapshot()).await?
            }
        };
        if let Ok(mut slot) = self.keys.write() {
            *slot = Arc::new(keys);
        }
        Ok(())
    }

    fn snapshot(&self) -> Arc<Vec<Arc<LoadedKey>>> {
        match self.keys.read() {
            Ok(k) => Arc::clone(&k),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// The state of every key at time `t`.
    pub fn states(&self, t: i64) -> Vec<(Arc<LoadedKey>, KeyState)> {
        let keys = self.snapshot();
        keys.iter()
            .map(|k| (Arc::clone(k), state_of(&keys, k, t, self.max_lifetime)))
            .collect()
    }

    /// The key that signs for `alg` now.
    pub fn current(&self, alg: SigningAlg) -> Option<Arc<LoadedKey>> {
        let t = now();
        let keys = self.snapshot();
        current_of(&keys, alg, t).cloned()
    }

    /// Signs `payload` (JSON bytes) as a compact JWS with the given `typ` header.
    pub fn sign(&self, alg: SigningAlg, typ: &str, payload: &[u8]) -> Result<String, SignError> {
        let key = self.current(alg).ok_or(SignError::NoKey(alg))?;
        Ok(crate::jose::jws::sign(
            &key.signer,
            &key.meta.kid,
            typ,
            payload,
        )?)
    }

    /// Verifies a JWS signed by one of our published keys; returns the payload and header.
    pub fn verify(&self, token: &str) -> Option<(Vec<u8>, Header)> {
        let jws = Compact::parse(token).ok()?;
        let kid = jws.header.key_id()?;
        let t = now();
        let keys = self.snapshot();
        let key = keys.iter().find(|k| k.meta.kid == kid)?;
        if state_of(&keys, key, t, self.max_lifetime) == KeyState::Expired {
            return None;
        }
        let payload = jws.verify(&key.verifier).ok()?;
        Some((payload, jws.header))
    }

    /// The JWK Set document (RFC 7517 §5): next, current and retired-but-valid keys.
    pub fn jwks(&self) -> serde_json::Value {
        jwks_of(&self.snapshot(), now(), self.max_lifetime).0
    }

    /// [`KeyStore::jwks`] serialised, as `GET /jwks` serves it: made once per set of keys and
    /// kept until a reload brings other keys or a retired key stops being published (the
    /// only moments the document changes; a next key is published from its creation).
    pub fn jwks_bytes(&self) -> axum::body::Bytes {
        self.jwks_bytes_at(now())
    }

    fn jwks_bytes_at(&self, t: i64) -> axum::body::Bytes {
        let keys = self.snapshot();
        if let Ok(cache) = self.jwks_cache.read() {
            if let Some(c) = cache.as_ref() {
                if Arc::ptr_eq(&c.keys, &keys) && t < c.until {
                    return c.bytes.clone();
                }
            }
        }
        let (doc, until) = jwks_of(&keys, t, self.max_lifetime);
        let bytes = axum::body::Bytes::from(doc.to_string());
        if let Ok(mut cache) = self.jwks_cache.write() {
            *cache = Some(JwksCache {
                keys,
                bytes: bytes.clone(),
                until,
            });
        }
        bytes
    }

    /// Pre-publishes a new key for `alg`, signing from `now + delay`; prunes expired keys.
    pub async fn rotate(&self, alg: SigningAlg, delay: i64) -> Result<KeyMeta, KeyError> {
        self.rotate_recorded(alg, delay, None).await
    }

    /// [`KeyStore::rotate`] with an audit record of the new key: with keys in the database it
    /// is written in the transaction that stores the key; with a folder, after the files (a
    /// folder cannot take part in a transaction).
    pub async fn rotate_recorded(
        &self,
        alg: SigningAlg,
        delay: i64,
        recorded: Option<Recorder<'_>>,
    ) -> Result<KeyMeta, KeyError> {
        if !(0..=MAX_ROTATION_DELAY).contains(&delay) {
            return Err(KeyError::Invalid(format!(
                "the rotation delay must be 0 to {MAX_ROTATION_DELAY} seconds"
            )));
        }
        let t = now();
        let expired: Vec<String> = self
            .states(t)
            .into_iter()
            .filter(|(_, state)| *state == KeyState::Expired)
            .map(|(key, _)| key.meta.kid.clone())
            .collect();
        let meta = match &self.source {
            Source::Files(dir) => {
                let dir = dir.clone();
                let meta = tokio::task::spawn_blocking(move || {
                    for kid in &expired {
                        files::remove(&dir, kid)?;
                    }
                    files::generate(&dir, alg, t + delay)
                })
                .await
                .map_err(|e| KeyError::Task(e.to_string()))??;
                if let Some((audit, record)) = &recorded {
                    audit.record(record(&meta)).await?;
                }
                meta
            }
            Source::Database { storage, keks } => {
                for kid in &expired {
                    storage.delete_signing_key(kid).await?;
                }
                database::generate(storage, keks, alg, t + delay, recorded).await?
            }
        };
        self.reload().await?;
        Ok(meta)
    }
}

/// The audit log and the record of a new key, written with it (see
/// [`KeyStore::rotate_recorded`]).
pub type Recorder<'a> = (
    &'a crate::audit::AuditLog,
    &'a (dyn Fn(&KeyMeta) -> crate::audit::Record + Send + Sync),
);

/// The longest a rotated key may wait before it signs: 90 days.
pub const MAX_ROTATION_DELAY: i64 = 90 * 86_400;

/// The JWK Set at `t` and the moment it is to be looked at again: when a retired key expires,
/// or when a next key takes over (the key it supersedes starts its retirement then).
fn jwks_of(keys: &[Arc<LoadedKey>], t: i64, max_lifetime: i64) -> (serde_json::Value, i64) {
    let mut until = i64::MAX;
    let mut list = Vec::new();
    for k in keys {
        match state_of(keys, k, t, max_lifetime) {
            KeyState::Expired => continue,
            KeyState::Retired(superseded) => until = until.min(superseded + max_lifetime),
            KeyState::Next => until = until.min(k.meta.active_from),
            KeyState::Current => {}
        }
        list.push(serde_json::Value::Object(k.public_jwk.clone()));
    }
    (serde_json::json!({ "keys": list }), until)
}

fn current_of(keys: &[Arc<LoadedKey>], alg: SigningAlg, t: i64) -> Option<&Arc<LoadedKey>> {
    keys.iter()
        .filter(|k| k.alg == alg && k.meta.active_from <= t)
        .max_by(|a, b| a.meta.order().cmp(&b.meta.order()))
}

fn state_of(keys: &[Arc<LoadedKey>], key: &LoadedKey, t: i64, max_lifetime: i64) -> KeyState {
    if key.meta.active_from > t {
        return KeyState::Next;
    }
    match current_of(keys, key.alg, t) {
        Some(c) if c.meta.kid == key.meta.kid => KeyState::Current,
        _ => {
            // Superseded when the next newer key of its algorithm became active.
            let superseded = keys
                .iter()
                .filter(|k| {
                    k.alg == key.alg
                        && k.meta.kid != key.meta.kid
                        && k.meta.order() > key.meta.order()
                        && k.meta.active_from <= t
                })
                .map(|k| k.meta.active_from)
                .min()
                .unwrap_or(t);
            if superseded + max_lifetime > t {
                KeyState::Retired(superseded)
            } else {
                KeyState::Expired
            }
        }
    }
}

impl LoadedKey {
    /// A key from its private PEM.
    fn new(meta: KeyMeta, pem: &[u8]) -> Result<Self, KeyError> {
        let alg = parse_alg(&meta)?;
        let signer = SigningKey::from_pem(alg.jose(), pem)?;
        let verifier = signer.verifying_key()?;
        let mut public_jwk = signer.public_jwk();
        public_jwk.insert("kid".into(), meta.kid.clone().into());
        public_jwk.insert("alg".into(), alg.as_str().into());
        public_jwk.insert("use".into(), "sig".into());
        Ok(Self {
            meta,
            alg,
            signer,
            verifier,
            public_jwk,
        })
    }
}

fn parse_alg(meta: &KeyMeta) -> Result<SigningAlg, KeyError> {
    meta.alg
        .parse()
        .map_err(|_| KeyError::Invalid(format!("{}: unknown alg", meta.kid)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempdir::Dir, KeyStore) {
        let dir = tempdir::Dir::new();
        let ks = KeyStore::open(dir.path(), 300).unwrap();
        (dir, ks)
    }

    /// A tiny self-cleaning temporary folder, to avoid a dependency for two tests.
    mod tempdir {
        pub struct Dir(std::path::PathBuf);
        impl Dir {
            pub fn new() -> Self {
                let p = std::env::temp_dir().join(format!("mpsv-keys-{}", uuid::Uuid::new_v4()));
                std::fs::create_dir_all(&p).unwrap();
                Self(p)
            }
            pub fn path(&self) -> &std::path::Path {
                &self.0
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn first_start_generates_one_current_key_per_algorithm_with_private_files() {
        let (dir, ks) = store();
        let states = ks.states(now());
        assert_eq!(states.len(), SigningAlg::ALL.len());
        assert!(states.iter().all(|(_, s)| *s == KeyState::Current));
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let entry = entry.unwrap();
            if entry.path().extension().is_some_and(|e| e == "pem") {
                use std::os::unix::fs::PermissionsExt;
                let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600);
            }
        }
    }

    #[test]
    fn a_rotated_key_is_published_before_it_signs_and_the_old_one_stays_after() {
        let (_dir, ks) = store();
        let old = ks.current(SigningAlg::ES256).unwrap().meta.kid.clone();
        let next = tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(ks.rotate(SigningAlg::ES256, 100))
            .unwrap();
        assert_eq!(ks.current(SigningAlg::ES256).unwrap().meta.kid, old);
        let jwks = ks.jwks().to_string();
        assert!(jwks.contains(&next.kid) && jwks.contains(&old));
        // Once the delay has passed the new key signs and the old one is retired, still published.
        let later = now() + 150;
        let states = ks.states(later);
        let state = |kid: &str| states.iter().find(|(k, _)| k.meta.kid == kid).unwrap().1;
        assert_eq!(state(&next.kid), KeyState::Current);
        assert!(matches!(state(&old), KeyState::Retired(_)));
        // After the longest token lifetime it is no longer published.
        let states = ks.states(later + 400);
        let state = |kid: &str| states.iter().find(|(k, _)| k.meta.kid == kid).unwrap().1;
        assert_eq!(state(&old), KeyState::Expired);
    }

    #[test]
    fn the_served_jwks_follows_rotation_and_expiry() {
        let (_dir, ks) = store();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let t = now();
        let first = ks.jwks_bytes_at(t);
        assert_eq!(first, ks.jwks().to_string());
        assert_eq!(
            ks.jwks_bytes_at(t),
            first,
            "the same set of keys, the same bytes"
        );
        let old = ks.current(SigningAlg::EdDSA).unwrap().meta.kid.clone();
        let new = rt.block_on(ks.rotate(SigningAlg::EdDSA, 0)).unwrap();
        let rotated = ks.jwks_bytes_at(t);
        let text = std::str::from_utf8(&rotated).unwrap();
        assert!(text.contains(&new.kid) && text.contains(&old));
        // Once every token the old key signed has expired (max lifetime 300 s), it is gone.
        let later = ks.jwks_bytes_at(t + 400);
        let text = std::str::from_utf8(&later).unwrap();
        assert!(text.contains(&new.kid) && !text.contains(&old));
    }

    #[test]
    fn a_served_jwks_cached_before_a_takeover_drops_the_superseded_key_in_time() {
        // A pre-published key: served at once; the key it replaces is served while its tokens
        // live after the takeover, then not — although the document was cached before.
        let (_dir, ks) = store();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let t = now();
        let current = ks.current(SigningAlg::ES256).unwrap().meta.kid.clone();
        let next = rt.block_on(ks.rotate(SigningAlg::ES256, 100)).unwrap();
        let before = ks.jwks_bytes_at(t);
        let text = std::str::from_utf8(&before).unwrap();
        assert!(text.contains(&next.kid) && text.contains(&current));
        let text = String::from_utf8(ks.jwks_bytes_at(t + 350).to_vec()).unwrap();
        assert!(
            text.contains(&current),
            "retired 250 s ago, still published"
        );
        let text = String::from_utf8(ks.jwks_bytes_at(t + 450).to_vec()).unwrap();
        assert!(!text.contains(&current), "retired 350 s ago: gone");
    }

    #[test]
    fn keys_rotated_within_one_second_take_over_in_rotation_order() {
        // Key times are whole seconds: the first key and two immediate rotations all activate
        // in the same second (most runs), and each rotation must still sign at once.
        let (_dir, ks) = store();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let first = ks.current(SigningAlg::RS256).unwrap().meta.clone();
        let second = rt.block_on(ks.rotate(SigningAlg::RS256, 0)).unwrap();
        assert_eq!(ks.current(SigningAlg::RS256).unwrap().meta.kid, second.kid);
        let third = rt.block_on(ks.rotate(SigningAlg::RS256, 0)).unwrap();
        assert_eq!(ks.current(SigningAlg::RS256).unwrap().meta.kid, third.kid);
        assert_eq!(
            (first.generation, second.generation, third.generation),
            (0, 1, 2)
        );
        // The ones before are retired, not current, whatever their kids sort as.
        let states = ks.states(now());
        let state = |kid: &str| states.iter().find(|(k, _)| k.meta.kid == kid).unwrap().1;
        assert!(matches!(state(&first.kid), KeyState::Retired(_)));
        assert!(matches!(state(&second.kid), KeyState::Retired(_)));
        assert_eq!(state(&third.kid), KeyState::Current);
    }

    #[test]
    fn signatures_verify_and_tampering_is_detected() {
        let (_dir, ks) = store();
        for alg in SigningAlg::ALL.iter().copied() {
            let jws = ks.sign(alg, "JWT", br#"{"a":1}"#).unwrap();
            let (payload, header) = ks.verify(&jws).unwrap();
            assert_eq!(payload, br#"{"a":1}"#);
            assert_eq!(header.algorithm(), Some(alg.as_str()));
            let mut parts: Vec<&str> = jws.split('.').collect();
            parts[1] = "eyJhIjoyfQ";
            assert!(ks.verify(&parts.join(".")).is_none());
        }
        // An unsigned token is never accepted.
        assert!(ks.verify("eyJhbGciOiJub25lIn0.eyJhIjoxfQ.").is_none());
    }
}
