//! Signing keys: a rotation (a new key published now, signing after the delay), validated,
//! stored and audited together (docs/keys.md).

use super::Services;
use crate::audit::{Event, Record};
use crate::domain::client::SigningAlg;
use crate::keys::{KeyError, KeyMeta, KeyStore, MAX_ROTATION_DELAY};
use crate::registry::{Actor, RegistryError, Result};

/// Pre-publishes a new key for `alg` that signs `delay` seconds from now; its audit record
/// (`key.rotated`: kid, algorithm, from when it signs, the delay) is written with the key.
pub async fn rotate(
    s: Services<'_>,
    keys: &KeyStore,
    actor: Actor<'_>,
    alg: SigningAlg,
    delay: i64,
) -> Result<KeyMeta> {
    if !(0..=MAX_ROTATION_DELAY).contains(&delay) {
        return Err(RegistryError::Invalid(format!(
            "delay must be 0 to {MAX_ROTATION_DELAY} seconds"
        )));
    }
    let record = |meta: &KeyMeta| {
        Record::new(Event::KeyRotated)
            .actor(actor)
            .subject(meta.kid.clone())
            .detail("alg", meta.alg.clone())
            .detail("active_from", meta.active_from)
            .detail("delay", delay)
    };
    keys.rotate_recorded(alg, delay, Some((s.audit, &record)))
        .await
        .map_err(|e| match e {
            KeyError::Invalid(why) => RegistryError::Invalid(why),
            other => RegistryError::Internal(crate::error::Internal::from(other)),
        })
}
