//! Verifying what a client signed with its registered keys (its JWK Set): `private_key_jwt`
//! assertions (RFC 7523) and request objects (RFC 9101).

use josekit::jwk::JwkSet;
use josekit::jws::{EdDSA, JwsHeader, JwsVerifier, ES256, ES384, PS256, RS256};

use crate::domain::client::Client;

/// The algorithms a client may sign with: exactly these are accepted and advertised
/// (`token_endpoint_auth_signing_alg_values_supported`,
/// `request_object_signing_alg_values_supported`). `none` is never among them.
pub const SIGNING_ALGS: [&str; 5] = ["RS256", "PS256", "ES256", "ES384", "EdDSA"];

/// The payload and header of `jwt` if one of the client's keys, with an allowed algorithm,
/// verifies its signature. A `kid` in the header must name the key.
pub fn verify(client: &Client, jwt: &str) -> Option<(Vec<u8>, JwsHeader)> {
    let jwks = JwkSet::from_bytes(client.jwks.as_deref()?.as_bytes()).ok()?;
    let verifiers: Vec<(Option<String>, Box<dyn JwsVerifier>)> = jwks
        .keys()
        .iter()
        .filter_map(|jwk| {
            // Without `alg`, the key's type (and an EC key's curve) says which one it is for.
            let curve = jwk.parameter("crv").and_then(|c| c.as_str());
            let alg = jwk.algorithm().unwrap_or(match (jwk.key_type(), curve) {
                ("EC", Some("P-384")) => "ES384",
                ("EC", _) => "ES256",
                ("OKP", _) => "EdDSA",
                _ => "RS256",
            });
            let v: Box<dyn JwsVerifier> = match alg {
                "RS256" => Box::new(RS256.verifier_from_jwk(jwk).ok()?),
                "PS256" => Box::new(PS256.verifier_from_jwk(jwk).ok()?),
                "ES256" => Box::new(ES256.verifier_from_jwk(jwk).ok()?),
                "ES384" => Box::new(ES384.verifier_from_jwk(jwk).ok()?),
                "EdDSA" => Box::new(EdDSA.verifier_from_jwk(jwk).ok()?),
                _ => return None,
            };
            Some((jwk.key_id().map(str::to_owned), v))
        })
        .collect();
    josekit::jws::deserialize_compact_with_selector(jwt, |header| {
        let alg = header.algorithm();
        Ok(verifiers
            .iter()
            .find(|(kid, v)| {
                Some(v.algorithm().name()) == alg
                    && (header.key_id().is_none() || kid.as_deref() == header.key_id())
            })
            .map(|(_, v)| &**v))
    })
    .ok()
}
