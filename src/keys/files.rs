//! Key files: `<kid>.pem` (PKCS#8, mode 0600) and `<kid>.json` (metadata).

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

use zeroize::Zeroizing;

use super::{KeyError, KeyMeta, LoadedKey};
use crate::domain::client::SigningAlg;
use crate::secrets::now;

/// Generates a first key for each algorithm that has none.
pub(super) fn ensure_initial_keys(dir: &Path) -> Result<(), KeyError> {
    std::fs::create_dir_all(dir)?;
    let existing = read_metas(dir)?;
    for alg in SigningAlg::ALL {
        if !existing.iter().any(|m| m.alg == alg.as_str()) {
            generate(dir, *alg, now())?;
        }
    }
    Ok(())
}

/// Creates a key that signs from `active_from`.
pub(super) fn generate(dir: &Path, alg: SigningAlg, active_from: i64) -> Result<KeyMeta, KeyError> {
    std::fs::create_dir_all(dir)?;
    let generation = read_metas(dir)?
        .iter()
        .filter(|m| m.alg == alg.as_str())
        .map(|m| m.generation + 1)
        .max()
        .unwrap_or(0);
    let key = fresh_key(alg)?;
    let (pem, public) = (key.to_pem()?, key.public_jwk());
    let meta = KeyMeta {
        kid: thumbprint(&public)?,
        alg: alg.as_str().to_owned(),
        created_at: now(),
        active_from,
        generation,
    };
    write_private(&dir.join(format!("{}.pem", meta.kid)), &pem)?;
    write_private(
        &dir.join(format!("{}.json", meta.kid)),
        &serde_json::to_vec_pretty(&meta)?,
    )?;
    Ok(meta)
}

/// A new private key.
pub(super) fn fresh_key(alg: SigningAlg) -> Result<crate::jose::SigningKey, KeyError> {
    Ok(crate::jose::SigningKey::generate(alg.jose())?)
}

pub(super) fn remove(dir: &Path, kid: &str) -> Result<(), KeyError> {
    std::fs::remove_file(dir.join(format!("{kid}.pem")))?;
    std::fs::remove_file(dir.join(format!("{kid}.json")))?;
    Ok(())
}

pub(super) fn load_all(dir: &Path) -> Result<Vec<Arc<LoadedKey>>, KeyError> {
    let mut keys = Vec::new();
    for (meta, pem) in read_all(dir)? {
        keys.push(Arc::new(LoadedKey::new(meta, &pem)?));
    }
    Ok(keys)
}

/// A key's metadata and its private PEM.
pub(super) type KeyFile = (KeyMeta, Zeroizing<Vec<u8>>);

/// Every key in the folder with its private PEM, by `kid`.
pub(super) fn read_all(dir: &Path) -> Result<Vec<KeyFile>, KeyError> {
    let mut keys = Vec::new();
    for meta in read_metas(dir)? {
        let pem = Zeroizing::new(std::fs::read(dir.join(format!("{}.pem", meta.kid)))?);
        keys.push((meta, pem));
    }
    keys.sort_by(|a, b| a.0.kid.cmp(&b.0.kid));
    Ok(keys)
}

fn read_metas(dir: &Path) -> Result<Vec<KeyMeta>, KeyError> {
    let mut metas = Vec::new();
    if !dir.exists() {
        return Ok(metas);
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json") {
            let meta: KeyMeta = serde_json::from_slice(&std::fs::read(&path)?)?;
            metas.push(meta);
        }
    }
    Ok(metas)
}

/// Writes a file readable by its owner only, atomically (temporary file, then rename).
pub(super) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), KeyError> {
    let tmp = write_temporary(path, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// `bytes` in a new owner-only file beside `path`, synced; returns its path.
fn write_temporary(path: &Path, bytes: &[u8]) -> Result<std::path::PathBuf, KeyError> {
    let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4()));
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(tmp)
}

/// Writes a new private file only if none exists at `path`, atomically: the content is
/// written to a temporary file and then hard-linked into place, which fails when the name is
/// taken — so of two processes creating the same file at once exactly one wins, and nobody
/// ever reads a half-written one. `false`: the file already existed (the caller reads it).
pub(crate) fn write_private_new(path: &Path, bytes: &[u8]) -> Result<bool, KeyError> {
    let tmp = write_temporary(path, bytes)?;
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// RFC 7638 JWK thumbprint: a key's id.
pub(super) fn thumbprint(
    jwk: &serde_json::Map<String, serde_json::Value>,
) -> Result<String, KeyError> {
    crate::jose::thumbprint(jwk).ok_or_else(|| KeyError::Invalid("unsupported key type".into()))
}
