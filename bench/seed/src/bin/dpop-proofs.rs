//! Mints DPoP proofs (RFC 9449) for bench/dpop.sh: COUNT proofs of one key for one method and
//! URL, each with its own `jti`, `iat` now, the server's nonce and, for a resource request,
//! the access token's `ath`. One compact JWT per line.
//!
//! Usage: dpop-proofs KEY_FILE HTM HTU NONCE COUNT OUT_FILE [ACCESS_TOKEN]
//! KEY_FILE holds the P-256 key (a private JWK); it is created if missing, so that the token a
//! proof binds and the later proofs at userinfo use the same key.

use std::io::Write;

use anyhow::{bail, Context};
use josekit::jwk::alg::ec::{EcCurve, EcKeyPair};
use josekit::jwk::{Jwk, KeyPair};
use josekit::jws::{JwsHeader, ES256};
use serde_json::json;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 7 && args.len() != 8 {
        bail!("usage: {} KEY_FILE HTM HTU NONCE COUNT OUT_FILE [ACCESS_TOKEN]", args[0]);
    }
    let (key_file, htm, htu, nonce, out) = (&args[1], &args[2], &args[3], &args[4], &args[6]);
    let count: usize = args[5].parse().context("COUNT must be a number")?;
    let key = match std::fs::read(key_file) {
        Ok(bytes) => EcKeyPair::from_jwk(&Jwk::from_bytes(&bytes)?)?,
        Err(_) => {
            let key = EcKeyPair::generate(EcCurve::P256)?;
            std::fs::write(key_file, key.to_jwk_private_key().to_string())?;
            key
        }
    };
    let ath = args.get(7).map(|t| mpsv_idp::oidc::dpop::token_hash(t));
    let mut header = JwsHeader::new();
    header.set_token_type("dpop+jwt");
    header.set_jwk(key.to_jwk_public_key());
    let signer = ES256.signer_from_jwk(&key.to_jwk_private_key())?;
    let iat = mpsv_idp::secrets::now();
    let mut w = std::io::BufWriter::new(std::fs::File::create(out)?);
    for i in 0..count {
        let mut claims = json!({
            "jti": format!("{iat}-{i}"), "htm": htm, "htu": htu, "iat": iat, "nonce": nonce,
        });
        if let Some(ath) = &ath {
            claims["ath"] = json!(ath);
        }
        let jwt = josekit::jws::serialize_compact(claims.to_string().as_bytes(), &header, &signer)?;
        writeln!(w, "{jwt}")?;
    }
    w.flush()?;
    Ok(())
}
