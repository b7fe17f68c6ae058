//! Key files: `<kid>.pem` (PKCS#8, mode 0600) and `<kid>.json` (metadata).

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use josekit::jwk::alg::ec::{EcCurve, EcKeyPair};
use josekit::jwk::alg::rsa::RsaKeyPair;
use josekit::jwk::KeyPair;
use sha2::{Digest, Sha256};
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
    let (pem, public) = fresh_pair(alg)?;
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

/// A new private key (PKCS#8 PEM) and its public JWK.
pub(super) fn fresh_pair(
    alg: SigningAlg,
) -> Result<(Vec<u8>, serde_json::Map<String, serde_json::Value>), KeyError> {
    let (pem, public) = match alg {
        SigningAlg::RS256 => {
            let pair = RsaKeyPair::generate(2048)?;
            (pair.to_pem_private_key(), pair.to_jwk_public_key())
        }
        SigningAlg::ES256 => {
            let pair = EcKeyPair::generate(EcCurve::P256)?;
            (pair.to_pem_private_key(), pair.to_jwk_public_key())
        }
    };
    Ok((pem, public.as_ref().clone()))
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

/// RFC 7638 JWK thumbprint: SHA-256 over the required members in lexicographic order.
pub(super) fn thumbprint(
    jwk: &serde_json::Map<String, serde_json::Value>,
) -> Result<String, KeyError> {
    let members: &[&str] = match jwk.get("kty").and_then(|v| v.as_str()) {
        Some("RSA") => &["e", "kty", "n"],
        Some("EC") => &["crv", "kty", "x", "y"],
        _ => return Err(KeyError::Invalid("unsupported key type".into())),
    };
    let mut canonical = serde_json::Map::new();
    for m in members {
        let v = jwk
            .get(*m)
            .ok_or_else(|| KeyError::Invalid(format!("JWK lacks {m}")))?;
        canonical.insert((*m).to_owned(), v.clone());
    }
    // serde_json's Map keeps keys sorted (no `preserve_order`), giving the canonical form.
    let json = serde_json::to_vec(&canonical)?;
    Ok(URL_SAFE_NO_PAD.encode(Sha256::digest(&json)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_matches_rfc_7638_example() {
        let jwk: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
            r#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#,
        )
        .unwrap();
        assert_eq!(
            thumbprint(&jwk).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
