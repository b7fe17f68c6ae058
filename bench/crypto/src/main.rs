// A single-thread rate for each operation on the same JWS signing input (warm-up, then a
// timed loop). Run: cargo run --release --manifest-path bench/crypto/Cargo.toml
// Compared: OpenSSL through josekit (what mpsv-idp signs with), ring (what rustls brings) and
// aws-lc-rs.
use josekit::jws::{ES256, RS256};
use ring::rand::SystemRandom;
use ring::signature::{self, KeyPair};
use std::time::Instant;

fn rate(name: &str, n: u32, mut f: impl FnMut()) {
    for _ in 0..n / 10 { f(); }
    let t = Instant::now();
    for _ in 0..n { f(); }
    let s = t.elapsed().as_secs_f64();
    println!("{name:<40} {:>10.0} /s", n as f64 / s);
}

fn main() {
    let msg = b"eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiIxMjM0NTY3ODkwIiwiaXNzIjoiaHR0cHM6Ly9pZHAubXBzdi5jeiIsImV4cCI6MTcwMDAwMDAwMH0";
    // RSA-2048
    let rsa = RS256.generate_key_pair(2048).unwrap();
    let der = rsa.to_der_private_key();
    let signer = RS256.signer_from_der(&der).unwrap();
    let verifier = RS256.verifier_from_der(&rsa.to_der_public_key()).unwrap();
    let sig = signer.sign(msg).unwrap();
    rate("RS256 sign, OpenSSL (josekit)", 3000, || { signer.sign(msg).unwrap(); });
    rate("RS256 verify, OpenSSL (josekit)", 30000, || { verifier.verify(msg, &sig).unwrap(); });
    // ring needs PKCS#8 DER for RSA: josekit's to_der_private_key is PKCS#8.
    let rk = signature::RsaKeyPair::from_pkcs8(&der).unwrap();
    let rng = SystemRandom::new();
    let mut out = vec![0u8; rk.public().modulus_len()];
    rate("RS256 sign, ring", 3000, || { rk.sign(&signature::RSA_PKCS1_SHA256, &rng, msg, &mut out).unwrap(); });
    let pk = signature::UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, rk.public().as_ref().to_vec());
    rk.sign(&signature::RSA_PKCS1_SHA256, &rng, msg, &mut out).unwrap();
    let rsig = out.clone();
    rate("RS256 verify, ring", 30000, || { pk.verify(msg, &rsig).unwrap(); });
    {
        use aws_lc_rs::signature::{self as a, KeyPair as _};
        let arng = aws_lc_rs::rand::SystemRandom::new();
        let ak = a::RsaKeyPair::from_pkcs8(&der).unwrap();
        let mut out = vec![0u8; ak.public_modulus_len()];
        rate("RS256 sign, aws-lc-rs", 3000, || { ak.sign(&a::RSA_PKCS1_SHA256, &arng, msg, &mut out).unwrap(); });
        let apk = a::UnparsedPublicKey::new(&a::RSA_PKCS1_2048_8192_SHA256, ak.public_key().as_ref().to_vec());
        ak.sign(&a::RSA_PKCS1_SHA256, &arng, msg, &mut out).unwrap();
        let s2 = out.clone();
        rate("RS256 verify, aws-lc-rs", 30000, || { apk.verify(msg, &s2).unwrap(); });
        let p8 = a::EcdsaKeyPair::generate_pkcs8(&a::ECDSA_P256_SHA256_FIXED_SIGNING, &arng).unwrap();
        let ek = a::EcdsaKeyPair::from_pkcs8(&a::ECDSA_P256_SHA256_FIXED_SIGNING, p8.as_ref()).unwrap();
        rate("ES256 sign, aws-lc-rs", 30000, || { ek.sign(&arng, msg).unwrap(); });
        let es = ek.sign(&arng, msg).unwrap();
        let epk = a::UnparsedPublicKey::new(&a::ECDSA_P256_SHA256_FIXED, ek.public_key().as_ref().to_vec());
        rate("ES256 verify, aws-lc-rs", 30000, || { epk.verify(msg, es.as_ref()).unwrap(); });
    }
    // P-256
    let ec = ES256.generate_key_pair().unwrap();
    let ecder = ec.to_der_private_key();
    let esigner = ES256.signer_from_der(&ecder).unwrap();
    let everifier = ES256.verifier_from_der(&ec.to_der_public_key()).unwrap();
    let esig = esigner.sign(msg).unwrap();
    rate("ES256 sign, OpenSSL (josekit)", 30000, || { esigner.sign(msg).unwrap(); });
    rate("ES256 verify, OpenSSL (josekit)", 30000, || { everifier.verify(msg, &esig).unwrap(); });
    let pkcs8 = signature::EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let ek = signature::EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    rate("ES256 sign, ring", 30000, || { ek.sign(&rng, msg).unwrap(); });
    let rs = ek.sign(&rng, msg).unwrap();
    let epk = signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, ek.public_key().as_ref().to_vec());
    rate("ES256 verify, ring", 30000, || { epk.verify(msg, rs.as_ref()).unwrap(); });
}
