//! Verifying what a client signed with its registered keys (its JWK Set): `private_key_jwt`
//! assertions (RFC 7523) and request objects (RFC 9101).

use crate::domain::client::Client;
use crate::jose::{jwk, Alg, Compact, Header};

/// The algorithms a client may sign with: exactly these are accepted and advertised
/// (`token_endpoint_auth_signing_alg_values_supported`,
/// `request_object_signing_alg_values_supported`). `none` is never among them.
pub const SIGNING_ALGS: [&str; 5] = ["RS256", "PS256", "ES256", "ES384", "EdDSA"];

/// The payload and header of `jwt` if one of the client's keys, with an allowed algorithm,
/// verifies its signature. A `kid` in the header must name the key.
pub fn verify(client: &Client, jwt: &str) -> Option<(Vec<u8>, Header)> {
    let jws = Compact::parse(jwt).ok()?;
    let alg = jws.header.algorithm().and_then(Alg::parse)?;
    // Without a `kid` every key of the algorithm is tried (RFC 7515 §6: the recipient finds
    // the key).
    let keys = jwk::usable_keys(client.jwks.as_deref()?, alg, jws.header.key_id());
    let payload = keys.iter().find_map(|k| jws.verify(k).ok())?;
    Some((payload, jws.header))
}
