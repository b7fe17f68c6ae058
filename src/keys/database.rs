//! Keys kept in the database, sealed with the KEK (issue 12.1): the signing keys of every
//! node and the one data key. What a row is and says is the associated data of its sealing
//! (`signing-key:<kid>:<alg>:<active_from>`, `data-key`), so a sealed value moved to another
//! row, or a row whose algorithm or activation time was changed, does not open. A row that
//! does not open is not used at all — not even published — so whoever can write to the
//! database but lacks the KEK cannot plant a key that nodes would trust.

use std::path::Path;
use std::sync::Arc;

use super::kek::Keks;
use super::sealing::DataKey;
use super::{files, KeyError, KeyMeta, LoadedKey};
use crate::domain::client::SigningAlg;
use crate::secrets::now;
use crate::storage::keys::StoredSigningKey;
use crate::storage::Storage;

const DATA_KEY: &str = "data-key";

fn purpose(kid: &str, alg: &str, active_from: i64) -> String {
    format!("signing-key:{kid}:{alg}:{active_from}")
}

/// Creates a first key for each algorithm that has none. Nodes starting together race on
/// `(alg, generation)`: exactly one insert wins, the others load the winner's key.
pub(super) async fn ensure_initial_keys(storage: &Storage, keks: &Keks) -> Result<(), KeyError> {
    let existing = storage.signing_keys().await?;
    for alg in SigningAlg::ALL {
        if !existing.iter().any(|k| k.alg == alg.as_str()) {
            // Generation 0, not "the next one": a node that read the table before another
            // node's first key landed must lose against it, not add a second first key.
            let created = insert_new(storage, keks, *alg, now(), Some(0), None).await?;
            match created {
                Some(meta) => tracing::info!(kid = %meta.kid, alg = %alg, "created the first key"),
                None => tracing::info!(alg = %alg, "another node created the first key"),
            }
        }
    }
    Ok(())
}

/// A new key that signs from `active_from` (a rotation). Two rotations at once both land,
/// one generation after the other.
pub(super) async fn generate(
    storage: &Storage,
    keks: &Keks,
    alg: SigningAlg,
    active_from: i64,
    recorded: Option<super::Recorder<'_>>,
) -> Result<KeyMeta, KeyError> {
    insert_new(storage, keks, alg, active_from, None, recorded)
        .await?
        .ok_or_else(|| KeyError::Invalid("the new key could not be stored; try again".into()))
}

/// Generates a key and inserts it at `generation`, or (`None`) at the next generation of its
/// algorithm, trying the one after on a lost race (two rotations at once both land). With a
/// fixed generation a lost race gives `None`: another node's key won. With `recorded`, the
/// audit record goes in the transaction that stores the key.
async fn insert_new(
    storage: &Storage,
    keks: &Keks,
    alg: SigningAlg,
    active_from: i64,
    generation: Option<i64>,
    recorded: Option<super::Recorder<'_>>,
) -> Result<Option<KeyMeta>, KeyError> {
    // RSA generation takes a while: off the async workers.
    let key = tokio::task::spawn_blocking(move || files::fresh_key(alg))
        .await
        .map_err(|e| KeyError::Task(e.to_string()))??;
    let (pem, public) = (key.to_pem()?, key.public_jwk());
    let mut meta = KeyMeta {
        kid: files::thumbprint(&public)?,
        alg: alg.as_str().to_owned(),
        created_at: now(),
        active_from,
        generation: 0,
    };
    let mut row = StoredSigningKey {
        kid: meta.kid.clone(),
        alg: meta.alg.clone(),
        generation: 0,
        created_at: meta.created_at,
        active_from,
        public_jwk: serde_json::to_string(&public)?,
        private_key: keks
            .current
            .seal(&purpose(&meta.kid, &meta.alg, active_from), &pem),
        kek_id: keks.current.id().to_owned(),
    };
    if let Some(g) = generation {
        row.generation = g;
        meta.generation = g;
        return Ok(storage.insert_signing_key(&row).await?.then_some(meta));
    }
    for _ in 0..5 {
        row.generation = storage.next_key_generation(alg.as_str()).await?;
        meta.generation = row.generation;
        let mut tx = storage.begin_write().await?;
        if storage.insert_signing_key_in(&mut tx, &row).await? {
            if let Some((audit, record)) = &recorded {
                audit.append(&mut tx, record(&meta)).await?;
            }
            tx.commit()
                .await
                .map_err(crate::storage::StorageError::from)?;
            return Ok(Some(meta));
        }
        // Another rotation took this generation: nothing was written; the next one.
    }
    Ok(None)
}

/// Every stored key that this node can open. Keys already loaded (`cached`, by kid) are
/// reused instead of opened and parsed again. A row sealed by a KEK this node lacks (a
/// signing key rotated during a KEK rollout) is skipped with a warning; one that does not open
/// under a KEK the node has, or whose kid is not its key's thumbprint, is skipped as an error.
pub(super) async fn load_all(
    storage: &Storage,
    keks: &Keks,
    cached: &[Arc<LoadedKey>],
) -> Result<Vec<Arc<LoadedKey>>, KeyError> {
    let mut keys = Vec::new();
    for row in storage.signing_keys().await? {
        if let Some(k) = cached.iter().find(|k| {
            k.meta.kid == row.kid
                && k.meta.active_from == row.active_from
                && k.meta.alg == row.alg
                && k.meta.generation == row.generation
        }) {
            keys.push(Arc::clone(k));
            continue;
        }
        let Some(kek) = keks.find(&row.kek_id) else {
            tracing::warn!(
                kid = %row.kid,
                kek = %row.kek_id,
                "a signing key is sealed with a KEK this node does not have; it is not used \
                 here (give the node that KEK as MPSV_IDP_KEK or MPSV_IDP_KEK_PREVIOUS)"
            );
            continue;
        };
        let opened = kek.open(
            &purpose(&row.kid, &row.alg, row.active_from),
            &row.private_key,
        );
        let meta = KeyMeta {
            kid: row.kid.clone(),
            alg: row.alg.clone(),
            created_at: row.created_at,
            active_from: row.active_from,
            generation: row.generation,
        };
        let key = match opened.ok().map(|pem| LoadedKey::new(meta, &pem)) {
            Some(Ok(key))
                if files::thumbprint(&public_members(&key)).is_ok_and(|t| t == row.kid) =>
            {
                key
            }
            _ => {
                tracing::error!(
                    kid = %row.kid,
                    "a stored signing key does not open under its KEK or is not the key its \
                     kid names (changed in the database?); it is not used"
                );
                continue;
            }
        };
        keys.push(Arc::new(key));
    }
    Ok(keys)
}

/// The members of a key's public JWK without our `kid`/`alg`/`use`.
fn public_members(key: &LoadedKey) -> serde_json::Map<String, serde_json::Value> {
    let mut public = key.public_jwk.clone();
    for member in ["kid", "alg", "use"] {
        public.remove(member);
    }
    public
}

/// Re-seals under the current KEK every row that an earlier KEK (one given as previous)
/// sealed: step 2 of a KEK rotation (`mpsv-idp keys reseal`, docs/keys.md), run once every
/// node has the new KEK. Returns how many rows it re-sealed.
pub async fn reseal(storage: &Storage, keks: &Keks) -> Result<usize, KeyError> {
    let current = keks.current.id();
    let mut resealed = 0;
    for row in storage.signing_keys().await? {
        if row.kek_id == current {
            continue;
        }
        let Some(old) = keks.find(&row.kek_id) else {
            continue;
        };
        let what = purpose(&row.kid, &row.alg, row.active_from);
        let Ok(pem) = old.open(&what, &row.private_key) else {
            continue;
        };
        let sealed = keks.current.seal(&what, &pem);
        if storage
            .reseal_signing_key(&row.kid, &row.kek_id, &sealed, current)
            .await?
        {
            resealed += 1;
        }
    }
    if let Some(stored) = storage.data_key().await? {
        if stored.kek_id != current {
            if let Some(Ok(bytes)) = keks
                .find(&stored.kek_id)
                .map(|old| old.open(DATA_KEY, &stored.sealed))
            {
                let sealed = keks.current.seal(DATA_KEY, &bytes);
                if storage
                    .reseal_data_key(&stored.kek_id, &sealed, current)
                    .await?
                {
                    resealed += 1;
                }
            }
        }
    }
    if resealed > 0 {
        tracing::info!(resealed, kek = %current, "re-sealed stored keys under the current KEK");
    }
    Ok(resealed)
}

/// The data key from the database, created on first use (of nodes starting together one
/// wins). Refused when the database was used with a key folder's `data.key` before: that one
/// must be imported (`mpsv-idp keys import`), or the TOTP secrets it sealed would be lost.
pub async fn data_key_from_database(storage: &Storage, keks: &Keks) -> Result<DataKey, KeyError> {
    if storage.data_key().await?.is_none() {
        if storage.has_key_check("data_key").await? {
            return Err(KeyError::Invalid(
                "this database was used with the data key of a key folder (data.key); import \
                 it with `mpsv-idp keys import --from <key folder>` before starting with a KEK"
                    .into(),
            ));
        }
        let fresh = super::sealing::fresh();
        storage
            .insert_data_key(
                &keks.current.seal(DATA_KEY, &*fresh),
                keks.current.id(),
                now(),
            )
            .await?;
    }
    let stored = storage
        .data_key()
        .await?
        .ok_or_else(|| KeyError::Invalid("the stored data key vanished".into()))?;
    let bytes = keks
        .open(&stored.kek_id, DATA_KEY, &stored.sealed)
        .map_err(|_| wrong_kek("the data key", &stored.kek_id, keks))?;
    DataKey::from_bytes(&bytes)
        .map_err(|_| KeyError::Invalid("the stored data key must hold 32 bytes".into()))
}

fn wrong_kek(what: &str, stored: &str, keks: &Keks) -> KeyError {
    KeyError::WrongKek {
        what: what.to_owned(),
        stored: stored.to_owned(),
        known: keks.ids().join(", "),
    }
}

/// What [`import_folder`] did.
#[derive(Debug, Default)]
pub struct Imported {
    pub signing_keys: Vec<String>,
    pub already_there: Vec<String>,
    pub data_key: bool,
}

/// Imports a key folder (`keys/`) into the database, sealed with the current KEK: the
/// migration from one node with files to many nodes (docs/operations.md). Idempotent; a data
/// key that differs from one already stored is refused (it would orphan TOTP secrets).
pub async fn import_folder(
    storage: &Storage,
    keks: &Keks,
    dir: &Path,
) -> Result<Imported, KeyError> {
    let folder = dir.to_owned();
    let (keys, data) = tokio::task::spawn_blocking(move || {
        Ok::<_, KeyError>((
            files::read_all(&folder)?,
            super::sealing::read_file(&folder)?,
        ))
    })
    .await
    .map_err(|e| KeyError::Task(e.to_string()))??;
    let mut report = Imported::default();
    // The data key is checked first (a different one is refused before anything is written)
    // but stored last: a node that starts mid-import then still finds no data key and
    // refuses, instead of creating first signing keys that would outrank the imported ones.
    let mut store_data_key = None;
    if let Some(bytes) = data {
        DataKey::from_bytes(&bytes)
            .map_err(|_| KeyError::Invalid("data.key must hold 32 bytes".into()))?;
        match storage.data_key().await? {
            None => store_data_key = Some(bytes),
            Some(stored) => same_data_key(keks, &stored, &bytes)?,
        }
    }
    // Oldest first, so generations follow the order in which the keys signed.
    let mut keys = keys;
    keys.sort_by(|(a, _), (b, _)| (&a.alg, a.order()).cmp(&(&b.alg, b.order())));
    for (meta, pem) in keys {
        // Parsing proves the PEM is a key of its algorithm before it is stored.
        let loaded = LoadedKey::new(meta.clone(), &pem)?;
        let alg = loaded.alg;
        let public = public_members(&loaded);
        let mut row = StoredSigningKey {
            kid: meta.kid.clone(),
            alg: alg.as_str().to_owned(),
            generation: 0,
            created_at: meta.created_at,
            active_from: meta.active_from,
            public_jwk: serde_json::to_string(&public)?,
            private_key: keks
                .current
                .seal(&purpose(&meta.kid, alg.as_str(), meta.active_from), &pem),
            kek_id: keks.current.id().to_owned(),
        };
        let known = storage
            .signing_keys()
            .await?
            .into_iter()
            .any(|k| k.kid == meta.kid);
        if known {
            report.already_there.push(meta.kid);
            continue;
        }
        let mut stored = false;
        for _ in 0..5 {
            row.generation = storage.next_key_generation(alg.as_str()).await?;
            if storage.insert_signing_key(&row).await? {
                stored = true;
                break;
            }
        }
        if !stored {
            return Err(KeyError::Invalid(format!(
                "{}: could not be stored",
                meta.kid
            )));
        }
        report.signing_keys.push(meta.kid);
    }
    if let Some(bytes) = store_data_key {
        report.data_key = storage
            .insert_data_key(
                &keks.current.seal(DATA_KEY, &bytes),
                keks.current.id(),
                now(),
            )
            .await?;
        if !report.data_key {
            // Another import (or node) stored one meanwhile: it must be this one.
            let stored = storage
                .data_key()
                .await?
                .ok_or_else(|| KeyError::Invalid("the stored data key vanished".into()))?;
            same_data_key(keks, &stored, &bytes)?;
        }
    }
    Ok(report)
}

/// Refuses a folder's data key that differs from the stored one.
fn same_data_key(
    keks: &Keks,
    stored: &crate::storage::keys::StoredDataKey,
    bytes: &[u8],
) -> Result<(), KeyError> {
    let same = keks
        .open(&stored.kek_id, DATA_KEY, &stored.sealed)
        .map_err(|_| wrong_kek("the stored data key", &stored.kek_id, keks))?;
    if !bool::from(subtle::ConstantTimeEq::ct_eq(same.as_slice(), bytes)) {
        return Err(KeyError::Invalid(
            "the database already holds another data key; importing this data.key would make \
             the TOTP secrets sealed with one of them unreadable"
                .into(),
        ));
    }
    Ok(())
}
