//! Client authentication methods at the token endpoint (OIDC Core §9).

use josekit::jwk::alg::ec::{EcCurve, EcKeyPair};
use josekit::jwk::KeyPair;
use josekit::jws::{JwsHeader, ES256};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::db_test;
use crate::helpers::*;

db_test!(
    client_secret_post_works,
    private_key_jwt_works_once_per_assertion,
    assertions_of_every_allowed_algorithm_verify
);

async fn client_secret_post_works(db: Db) {
    let app = spawn_app(db).await;
    let mut spec = ClientSpec::confidential("robot");
    spec.auth_method = "client_secret_post";
    spec.grant_types = vec!["client_credentials"];
    let s = app.register(spec).await.unwrap();
    let r = reqwest::Client::new()
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "robot"),
            ("client_secret", s.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Basic is not this client's method.
    let r = app
        .post_basic(
            "/token",
            "robot",
            &s,
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

/// A client_credentials request authenticated by `private_key_jwt` with `jwt`.
async fn post_assertion(token_url: &str, jwt: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(token_url)
        .form(&[
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", jwt),
        ])
        .send()
        .await
        .unwrap()
}

fn assertion(key: &EcKeyPair, client_id: &str, aud: &str, jti: &str, exp_in: i64) -> String {
    let now = mpsv_idp::secrets::now();
    let claims = json!({"iss": client_id, "sub": client_id, "aud": aud, "jti": jti, "iat": now, "exp": now + exp_in});
    let mut header = JwsHeader::new();
    header.set_token_type("JWT");
    header.set_key_id("k1");
    let signer = ES256.signer_from_jwk(&key.to_jwk_private_key()).unwrap();
    josekit::jws::serialize_compact(claims.to_string().as_bytes(), &header, &signer).unwrap()
}

async fn private_key_jwt_works_once_per_assertion(db: Db) {
    let app = spawn_app(db).await;
    let key = EcKeyPair::generate(EcCurve::P256).unwrap();
    let mut jwk = key.to_jwk_public_key();
    jwk.set_key_id("k1");
    jwk.set_algorithm("ES256");
    let jwks = json!({ "keys": [serde_json::Value::Object(jwk.as_ref().clone())] }).to_string();
    let mut spec = ClientSpec::confidential("robot-jwt");
    spec.auth_method = "private_key_jwt";
    spec.grant_types = vec!["client_credentials"];
    spec.jwks = Some(jwks);
    app.register(spec).await;
    let token_url = app.url("/token");
    let post = |a: String| {
        let url = token_url.clone();
        async move { post_assertion(&url, &a).await }
    };
    let a = assertion(&key, "robot-jwt", &token_url, "jti-1", 60);
    let r = post(a.clone()).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    // The same assertion again is a replay.
    assert_eq!(post(a).await.status(), StatusCode::UNAUTHORIZED);
    // Wrong audience, expired, or signed by another key: refused.
    assert_eq!(
        post(assertion(
            &key,
            "robot-jwt",
            "https://elsewhere",
            "jti-2",
            60
        ))
        .await
        .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post(assertion(&key, "robot-jwt", &token_url, "jti-3", -120))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let other = EcKeyPair::generate(EcCurve::P256).unwrap();
    let r = post(assertion(&other, "robot-jwt", &token_url, "jti-4", 60)).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
    // The issuer is an accepted audience too (OIDC Core §9).
    assert_eq!(
        post(assertion(&key, "robot-jwt", &app.base, "jti-5", 60))
            .await
            .status(),
        StatusCode::OK
    );
}

/// A private JWK made by josekit (OpenSSL) and a signer for `alg`.
fn josekit_key(alg: &str) -> (josekit::jwk::Jwk, Box<dyn josekit::jws::JwsSigner>) {
    use josekit::jwk::Jwk;
    use josekit::jws::{EdDSA, ES384, PS256, RS256};
    let jwk = match alg {
        "RS256" | "PS256" => Jwk::generate_rsa_key(2048).unwrap(),
        "ES256" => Jwk::generate_ec_key(EcCurve::P256).unwrap(),
        "ES384" => Jwk::generate_ec_key(EcCurve::P384).unwrap(),
        _ => Jwk::generate_ed_key(josekit::jwk::alg::ed::EdCurve::Ed25519).unwrap(),
    };
    let signer: Box<dyn josekit::jws::JwsSigner> = match alg {
        "RS256" => Box::new(RS256.signer_from_jwk(&jwk).unwrap()),
        "PS256" => Box::new(PS256.signer_from_jwk(&jwk).unwrap()),
        "ES256" => Box::new(ES256.signer_from_jwk(&jwk).unwrap()),
        "ES384" => Box::new(ES384.signer_from_jwk(&jwk).unwrap()),
        _ => Box::new(EdDSA.signer_from_jwk(&jwk).unwrap()),
    };
    (jwk, signer)
}

async fn assertions_of_every_allowed_algorithm_verify(db: Db) {
    let app = spawn_app(db).await;
    let token_url = app.url("/token");
    for alg in ["RS256", "PS256", "ES256", "ES384", "EdDSA"] {
        let (private, signer) = josekit_key(alg);
        // Registered without `alg` and `kid`: the key's type and curve say what it is for.
        let public = private.to_public_key().unwrap();
        let jwks = json!({ "keys": [Value::Object(public.as_ref().clone())] }).to_string();
        let id = format!("robot-{}", alg.to_lowercase());
        let mut spec = ClientSpec::confidential(&id);
        spec.auth_method = "private_key_jwt";
        spec.grant_types = vec!["client_credentials"];
        spec.jwks = Some(jwks);
        app.register(spec).await;
        let now = mpsv_idp::secrets::now();
        let claims = json!({"iss": id, "sub": id, "aud": token_url, "jti": alg, "iat": now, "exp": now + 60});
        let mut header = JwsHeader::new();
        header.set_token_type("JWT");
        let jwt = josekit::jws::serialize_compact(claims.to_string().as_bytes(), &header, &*signer)
            .unwrap();
        let r = post_assertion(&token_url, &jwt).await;
        assert_eq!(
            r.status(),
            StatusCode::OK,
            "{alg}: {}",
            r.text().await.unwrap()
        );
        // The same signature under a header that names another algorithm is refused.
        let (_, rest) = jwt.split_once('.').unwrap();
        let other = if alg == "RS256" { "PS256" } else { "RS256" };
        let forged = format!(
            "{}.{rest}",
            data_encoding::BASE64URL_NOPAD.encode(format!(r#"{{"alg":"{other}"}}"#).as_bytes())
        );
        let r = post_assertion(&token_url, &forged).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{alg} as {other}");
    }
    // A JWK Set with a private key, a broken key or no usable key is not registered.
    let (private, _) = josekit_key("EdDSA");
    let with_private = json!({ "keys": [Value::Object(private.as_ref().clone())] }).to_string();
    let broken = r#"{"keys":[{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}]}"#;
    let symmetric = r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#;
    for jwks in [with_private.as_str(), broken, symmetric, "[]"] {
        assert!(
            mpsv_idp::services::clients::parse_jwks(jwks).is_err(),
            "{jwks}"
        );
    }
}
