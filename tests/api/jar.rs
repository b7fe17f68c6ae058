//! Signed request objects (RFC 9101): the authorization request as a JWT the client signed,
//! by value at the authorization endpoint and through the PAR endpoint.

use josekit::jwk::alg::ec::{EcCurve, EcKeyPair};
use josekit::jwk::KeyPair;
use josekit::jws::{JwsHeader, ES256};
use reqwest::StatusCode;
use serde_json::{json, Map, Value};

use crate::db_test;
use crate::helpers::*;

db_test!(
    a_signed_request_object_signs_in_once,
    request_objects_are_refused_unless_signed_for_us,
    request_objects_can_be_pushed_and_required,
);

/// A client with a registered ES256 key, and that key.
async fn jar_client(
    app: &TestApp,
    id: &str,
    adjust: impl FnOnce(&mut ClientSpec),
) -> (String, EcKeyPair) {
    let key = EcKeyPair::generate(EcCurve::P256).unwrap();
    let mut jwk = key.to_jwk_public_key();
    jwk.set_key_id("rp-1");
    jwk.set_algorithm("ES256");
    let mut spec = ClientSpec::confidential(id);
    spec.jwks = Some(json!({ "keys": [Value::Object(jwk.as_ref().clone())] }).to_string());
    adjust(&mut spec);
    (app.register(spec).await.unwrap(), key)
}

/// The authorization request of `flow` as request object claims, framed for `app`.
fn claims(app: &TestApp, client_id: &str, flow: &Flow) -> Map<String, Value> {
    let now = mpsv_idp::secrets::now();
    let mut c: Map<String, Value> = url::Url::parse(&flow.url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect();
    c.insert("iss".into(), json!(client_id));
    c.insert("aud".into(), json!(app.base));
    c.insert("iat".into(), json!(now));
    c.insert("nbf".into(), json!(now));
    c.insert("exp".into(), json!(now + 60));
    c.insert(
        "jti".into(),
        json!(mpsv_idp::secrets::PlainToken::generate().expose()),
    );
    c
}

fn sign(key: &EcKeyPair, claims: &Map<String, Value>) -> String {
    let mut header = JwsHeader::new();
    header.set_token_type("oauth-authz-req+jwt");
    header.set_key_id("rp-1");
    let signer = ES256.signer_from_jwk(&key.to_jwk_private_key()).unwrap();
    josekit::jws::serialize_compact(
        Value::Object(claims.clone()).to_string().as_bytes(),
        &header,
        &signer,
    )
    .unwrap()
}

/// `/authorize` with the object and the outer parameters given.
fn authorize_url(app: &TestApp, client_id: &str, jwt: &str, outer: &[(&str, &str)]) -> String {
    let mut u = url::Url::parse(&app.url("/authorize")).unwrap();
    u.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("request", jwt)
        .extend_pairs(outer);
    u.to_string()
}

async fn a_signed_request_object_signs_in_once(db: Db) {
    let app = spawn_app(db).await;
    let (secret, key) = jar_client(&app, "jar-app", |_| {}).await;
    app.add_user("jana.novakova").await;
    let rp = app.rp("jar-app", Some(secret)).await;

    let doc = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(doc["request_parameter_supported"], true);
    assert_eq!(doc["request_uri_parameter_supported"], false);
    assert_eq!(doc["require_signed_request_object"], false);
    let algs = doc["request_object_signing_alg_values_supported"]
        .as_array()
        .unwrap();
    assert!(algs.contains(&json!("ES256")) && !algs.contains(&json!("none")));

    let flow = start_flow(&rp, &[]);
    let jwt = sign(&key, &claims(&app, "jar-app", &flow));
    // Only the object's parameters count (RFC 9101 §5): the outer state is ignored, the
    // object's comes back (redeem checks it).
    let url = authorize_url(
        &app,
        "jar-app",
        &jwt,
        &[("state", "outer"), ("scope", "openid")],
    );
    let back = app.login(&url, "jana.novakova").await;
    let tokens = app.redeem(&rp, &flow, &back).await;
    assert!(openidconnect::TokenResponse::id_token(&tokens).is_some());

    // The same object again is a replay (its jti): refused, on a page since the outer request
    // names no redirect URI.
    let r = app.browser.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("jti"));
}

async fn request_objects_are_refused_unless_signed_for_us(db: Db) {
    let app = spawn_app(db).await;
    let (secret, key) = jar_client(&app, "jar-app", |_| {}).await;
    app.register(ClientSpec::confidential("keyless-app")).await;
    let rp = app.rp("jar-app", Some(secret)).await;
    let flow = start_flow(&rp, &[]);
    let good = claims(&app, "jar-app", &flow);
    let now = mpsv_idp::secrets::now();
    let changed = |name: &str, value: Option<Value>| {
        let mut c = good.clone();
        c.insert(
            "jti".into(),
            json!(mpsv_idp::secrets::PlainToken::generate().expose()),
        );
        match value {
            Some(v) => c.insert(name.into(), v),
            None => c.remove(name),
        };
        sign(&key, &c)
    };
    // Refused objects go to the outer redirect URI if it is the client's (RFC 9101 §6.2).
    let refused = |jwt: String, client_id: &'static str| {
        let url = authorize_url(
            &app,
            client_id,
            &jwt,
            &[("redirect_uri", REDIRECT), ("state", "s1")],
        );
        let browser = app.browser.clone();
        async move {
            let r = browser.get(url).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::SEE_OTHER);
            let to = location(r.headers());
            assert!(to.starts_with(REDIRECT), "{to}");
            // The outer state: the object's own cannot be trusted.
            if param(&to, "error").as_deref() == Some("invalid_request_object") {
                assert_eq!(param(&to, "state").as_deref(), Some("s1"));
            }
            (
                param(&to, "error").unwrap(),
                param(&to, "error_description").unwrap(),
            )
        }
    };
    let payload = |c: &Map<String, Value>| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Value::Object(c.clone()).to_string())
    };

    // Unsigned (`alg: none`) and encrypted objects.
    let unsigned = format!("eyJhbGciOiJub25lIn0.{}.", payload(&good));
    let (error, why) = refused(unsigned, "jar-app").await;
    assert_eq!(error, "invalid_request_object");
    assert!(why.contains("signature"), "{why}");
    let (error, why) = refused("a.b.c.d.e".into(), "jar-app").await;
    assert_eq!(error, "invalid_request_object");
    assert!(why.contains("encrypted"), "{why}");
    // Signed by a key that is not the client's.
    let other = EcKeyPair::generate(EcCurve::P256).unwrap();
    let (error, _) = refused(sign(&other, &good), "jar-app").await;
    assert_eq!(error, "invalid_request_object");
    // The frame: aud, iss, exp, nbf, jti, the lifetime, the client_id inside.
    for (name, value, expect) in [
        ("aud", Some(json!("https://other-op.example")), "aud"),
        ("aud", None, "aud"),
        ("iss", Some(json!("someone-else")), "iss"),
        ("exp", Some(json!(now - 120)), "expired"),
        ("exp", None, "exp"),
        ("exp", Some(json!("soon")), "numbers"),
        ("nbf", Some(json!(now + 600)), "nbf"),
        ("nbf", Some(json!(now - 7200)), "hour"),
        ("jti", None, "jti"),
        ("client_id", Some(json!("keyless-app")), "client_id"),
        (
            "request_uri",
            Some(json!("https://rp.example/r.jwt")),
            "request_uri",
        ),
        ("scope", Some(json!(["openid"])), "arrays"),
    ] {
        let (error, why) = refused(changed(name, value), "jar-app").await;
        assert_eq!(error, "invalid_request_object", "{name}");
        assert!(why.contains(expect), "{name}: {why}");
    }
    // A client without registered keys cannot use request objects at all.
    let mut theirs = good.clone();
    theirs.insert("iss".into(), json!("keyless-app"));
    theirs.insert("client_id".into(), json!("keyless-app"));
    let (error, why) = refused(sign(&key, &theirs), "keyless-app").await;
    assert_eq!(error, "invalid_request_object");
    assert!(why.contains("no registered keys"), "{why}");
    // Without a usable outer redirect URI the refusal is a page, not a redirect.
    let r = app
        .browser
        .get(authorize_url(
            &app,
            "jar-app",
            &changed("aud", None),
            &[("redirect_uri", "https://evil.example/cb")],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // A good object inside still follows the authorization endpoint's own rules (and its
    // errors go back with the object's state).
    let (error, _) = refused(changed("scope", Some(json!("openid admin"))), "jar-app").await;
    assert_eq!(error, "invalid_scope");
}

async fn request_objects_can_be_pushed_and_required(db: Db) {
    let app = spawn_app(db).await;
    let (secret, key) = jar_client(&app, "signed-app", |s| s.require_signed_request = true).await;
    app.add_user("jana.novakova").await;
    let rp = app.rp("signed-app", Some(secret.clone())).await;

    // A client that must sign: plain requests are refused at both endpoints.
    let flow = start_flow(&rp, &[]);
    let r = app.browser.get(&flow.url).send().await.unwrap();
    let to = location(r.headers());
    assert_eq!(
        param(&to, "error").as_deref(),
        Some("invalid_request"),
        "{to}"
    );
    let plain = flow_params(&flow);
    let plain: Vec<(&str, &str)> = plain
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = app.post_basic("/par", "signed-app", &secret, &plain).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");

    // Pushed as an object (RFC 9126 §3): the browser brings the reference.
    let jwt = sign(&key, &claims(&app, "signed-app", &flow));
    let r = app
        .post_basic("/par", "signed-app", &secret, &[("request", &jwt)])
        .await;
    let url = pushed_authorize_url(&app, "signed-app", r).await;
    let back = app.login(&url, "jana.novakova").await;
    app.redeem(&rp, &flow, &back).await;
    // The pushed object was spent at the PAR endpoint.
    let r = app
        .post_basic("/par", "signed-app", &secret, &[("request", &jwt)])
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "invalid_request_object"
    );

    // By value at the authorization endpoint, within the SSO session.
    let flow = start_flow(&rp, &[]);
    let jwt = sign(&key, &claims(&app, "signed-app", &flow));
    let r = app
        .browser
        .get(authorize_url(&app, "signed-app", &jwt, &[]))
        .send()
        .await
        .unwrap();
    let back = location(r.headers());
    app.redeem(&rp, &flow, &back).await;

    // The server can require signed objects of every client (and says so).
    let strict = spawn_app_with(db, |c| c.protocol.require_signed_request_object = true).await;
    let doc = strict.get_json("/.well-known/openid-configuration").await;
    assert_eq!(doc["require_signed_request_object"], true);
    let s = strict
        .register(ClientSpec::confidential("plain-app"))
        .await
        .unwrap();
    let rp = strict.rp("plain-app", Some(s)).await;
    let r = strict
        .browser
        .get(&start_flow(&rp, &[]).url)
        .send()
        .await
        .unwrap();
    let to = location(r.headers());
    assert_eq!(
        param(&to, "error").as_deref(),
        Some("invalid_request"),
        "{to}"
    );
}
