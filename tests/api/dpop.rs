//! DPoP (RFC 9449): proofs at the token endpoint bind the tokens to the client's key; a bound
//! token is worth nothing at userinfo without a fresh proof of that key.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use josekit::jwk::alg::ec::{EcCurve, EcKeyPair};
use josekit::jwk::KeyPair;
use josekit::jws::{JwsHeader, ES256};
use reqwest::StatusCode;
use serde_json::{json, Map, Value};

use crate::code_flow::decode_payload;
use crate::db_test;
use crate::helpers::*;

db_test!(
    client_credentials_tokens_are_bound_to_the_proof_key,
    proofs_are_refused_unless_fresh_and_for_this_request,
    a_bound_token_needs_its_proof_at_userinfo,
    codes_and_public_refresh_tokens_are_bound_to_the_key,
    a_client_can_require_dpop_and_nonces_can_be_off,
);

/// A client's DPoP key.
struct DpopKey {
    key: EcKeyPair,
    jkt: String,
}

impl DpopKey {
    fn new() -> Self {
        let key = EcKeyPair::generate(EcCurve::P256).unwrap();
        let jwk = key.to_jwk_public_key();
        let jkt = mpsv_idp::oidc::dpop::thumbprint(jwk.as_ref()).unwrap();
        Self { key, jkt }
    }

    /// A proof for `htm` `htu` with a fresh jti and iat now, plus `extra` claims.
    fn proof(&self, htm: &str, htu: &str, extra: &[(&str, Value)]) -> String {
        let mut c = Map::new();
        c.insert(
            "jti".into(),
            json!(mpsv_idp::secrets::PlainToken::generate().expose()),
        );
        c.insert("htm".into(), json!(htm));
        c.insert("htu".into(), json!(htu));
        c.insert("iat".into(), json!(mpsv_idp::secrets::now()));
        for (k, v) in extra {
            c.insert((*k).into(), v.clone());
        }
        self.sign(&c, "dpop+jwt")
    }

    fn sign(&self, claims: &Map<String, Value>, typ: &str) -> String {
        let mut header = JwsHeader::new();
        header.set_token_type(typ);
        header.set_jwk(self.key.to_jwk_public_key());
        let signer = ES256
            .signer_from_jwk(&self.key.to_jwk_private_key())
            .unwrap();
        josekit::jws::serialize_compact(
            Value::Object(claims.clone()).to_string().as_bytes(),
            &header,
            &signer,
        )
        .unwrap()
    }
}

/// The server's current DPoP nonce, as a refused nonce-less proof hands it out (§8).
async fn nonce(app: &TestApp, key: &DpopKey) -> String {
    let r = reqwest::Client::new()
        .post(app.url("/token"))
        .header("DPoP", key.proof("POST", &app.url("/token"), &[]))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    r.headers()
        .get("dpop-nonce")
        .expect("DPoP-Nonce header")
        .to_str()
        .unwrap()
        .to_owned()
}

async fn token_request(
    app: &TestApp,
    client: (&str, &str),
    proof: Option<String>,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new()
        .post(app.url("/token"))
        .basic_auth(client.0, Some(client.1))
        .form(form);
    if let Some(p) = proof {
        req = req.header("DPoP", p);
    }
    let r = req.send().await.unwrap();
    (r.status(), r.json().await.unwrap())
}

async fn robot(app: &TestApp, adjust: impl FnOnce(&mut ClientSpec)) -> String {
    let mut spec = ClientSpec::confidential("robot");
    spec.grant_types = vec!["client_credentials"];
    adjust(&mut spec);
    app.register(spec).await.unwrap()
}

const CC: [(&str, &str); 1] = [("grant_type", "client_credentials")];

async fn client_credentials_tokens_are_bound_to_the_proof_key(db: Db) {
    let app = spawn_app(db).await;
    let s = robot(&app, |_| {}).await;
    let key = DpopKey::new();
    let doc = app.get_json("/.well-known/openid-configuration").await;
    let algs = doc["dpop_signing_alg_values_supported"].as_array().unwrap();
    assert!(algs.contains(&json!("ES256")) && !algs.contains(&json!("none")));

    // Without our nonce: use_dpop_nonce, with the nonce in the DPoP-Nonce header (§8).
    let htu = app.url("/token");
    let r = reqwest::Client::new()
        .post(&htu)
        .basic_auth("robot", Some(&s))
        .header("DPoP", key.proof("POST", &htu, &[]))
        .form(&CC)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let nonce = r.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "use_dpop_nonce");

    let proof = key.proof("POST", &htu, &[("nonce", json!(nonce))]);
    let (status, body) = token_request(&app, ("robot", &s), Some(proof.clone()), &CC).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    let at = body["access_token"].as_str().unwrap();
    assert_eq!(decode_payload(at)["cnf"]["jkt"], key.jkt);

    // Introspection tells the resource server which key to expect (§6.2).
    let r = app
        .post_basic("/introspect", "robot", &s, &[("token", at)])
        .await;
    let info: Value = r.json().await.unwrap();
    assert_eq!(info["active"], true);
    assert_eq!(info["token_type"], "DPoP");
    assert_eq!(info["cnf"]["jkt"], key.jkt);

    // The same proof again is a replay (§11.1).
    let (status, body) = token_request(&app, ("robot", &s), Some(proof), &CC).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_dpop_proof"))
    );
    // Without a proof the same client still gets a plain bearer token.
    let (_, body) = token_request(&app, ("robot", &s), None, &CC).await;
    assert_eq!(body["token_type"], "Bearer");
    assert!(decode_payload(body["access_token"].as_str().unwrap())
        .get("cnf")
        .is_none());
}

async fn proofs_are_refused_unless_fresh_and_for_this_request(db: Db) {
    let app = spawn_app(db).await;
    let s = robot(&app, |_| {}).await;
    let key = DpopKey::new();
    let nonce = json!(nonce(&app, &key).await);
    let htu = app.url("/token");
    let refused = |proof: String| {
        let app = &app;
        let s = s.clone();
        async move {
            let (status, body) = token_request(app, ("robot", &s), Some(proof), &CC).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            (
                body["error"].as_str().unwrap().to_owned(),
                body["error_description"].as_str().unwrap_or("").to_owned(),
            )
        }
    };
    let n = || ("nonce", nonce.clone());
    // Wrong method, wrong URL, old or future iat, wrong typ.
    for (proof, why) in [
        (key.proof("GET", &htu, &[n()]), "htm"),
        (key.proof("POST", &app.url("/userinfo"), &[n()]), "htu"),
        (
            key.proof("POST", "https://other-op.example/token", &[n()]),
            "htu",
        ),
        (
            key.proof(
                "POST",
                &htu,
                &[n(), ("iat", json!(mpsv_idp::secrets::now() - 600))],
            ),
            "iat",
        ),
        (
            key.proof(
                "POST",
                &htu,
                &[n(), ("iat", json!(mpsv_idp::secrets::now() + 600))],
            ),
            "iat",
        ),
    ] {
        let (error, description) = refused(proof).await;
        assert_eq!(error, "invalid_dpop_proof", "{why}");
        assert!(description.contains(why), "{why}: {description}");
    }
    let mut claims = Map::new();
    claims.insert("jti".into(), json!("j-typ"));
    claims.insert("htm".into(), json!("POST"));
    claims.insert("htu".into(), json!(htu));
    claims.insert("iat".into(), json!(mpsv_idp::secrets::now()));
    claims.insert("nonce".into(), nonce.clone());
    let (_, d) = refused(key.sign(&claims, "JWT")).await;
    assert!(d.contains("typ"), "{d}");
    // Unsigned, signed by another key than the header's, or with a private key inside.
    let body = URL_SAFE_NO_PAD.encode(Value::Object(claims.clone()).to_string());
    let jwk = Value::Object(key.key.to_jwk_public_key().as_ref().clone());
    let none =
        URL_SAFE_NO_PAD.encode(json!({"typ": "dpop+jwt", "alg": "none", "jwk": jwk}).to_string());
    let (_, d) = refused(format!("{none}.{body}.")).await;
    assert!(d.contains("alg"), "{d}");
    let other = DpopKey::new();
    let genuine = key.proof("POST", &htu, &[n()]);
    let forged = other.proof("POST", &htu, &[n()]);
    let mixed = format!(
        "{}.{}",
        genuine.rsplit_once('.').unwrap().0,
        forged.rsplit('.').next().unwrap()
    );
    let (_, d) = refused(mixed).await;
    assert!(d.contains("signature"), "{d}");
    let private = Value::Object(key.key.to_jwk_private_key().as_ref().clone());
    let head = URL_SAFE_NO_PAD
        .encode(json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": private}).to_string());
    let (_, d) = refused(format!("{head}.{body}.c2ln")).await;
    assert!(d.contains("public"), "{d}");
    // Two proofs in one request.
    let r = reqwest::Client::new()
        .post(&htu)
        .basic_auth("robot", Some(&s))
        .header("DPoP", key.proof("POST", &htu, &[n()]))
        .header("DPoP", key.proof("POST", &htu, &[n()]))
        .form(&CC)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // A made-up nonce is answered with the real one.
    let (error, _) = refused(key.proof("POST", &htu, &[("nonce", json!("made-up"))])).await;
    assert_eq!(error, "use_dpop_nonce");
}

/// A person's tokens for the public client `mobilni`, bound to `key` from the start.
async fn public_tokens(app: &TestApp, key: &DpopKey) -> Value {
    let rp = app.rp("mobilni", None).await;
    let flow = start_flow(&rp, &[("dpop_jkt", key.jkt.as_str())]);
    let back = app.login(&flow.url, "jana.novakova").await;
    let code = param(&back, "code").unwrap();
    let nonce = nonce(app, key).await;
    let htu = app.url("/token");
    let r = reqwest::Client::new()
        .post(&htu)
        .header("DPoP", key.proof("POST", &htu, &[("nonce", json!(nonce))]))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", "mobilni"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", flow.verifier.secret()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

async fn register_public(app: &TestApp) {
    let mut spec = ClientSpec::confidential("mobilni");
    spec.auth_method = "none";
    app.register(spec).await;
    app.add_user("jana.novakova").await;
}

async fn userinfo(app: &TestApp, auth: &str, proof: Option<String>) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .get(app.url("/userinfo"))
        .header("Authorization", auth);
    if let Some(p) = proof {
        req = req.header("DPoP", p);
    }
    req.send().await.unwrap()
}

/// The challenge of a refused userinfo call: (status, error in WWW-Authenticate).
fn challenge(r: &reqwest::Response) -> (StatusCode, String) {
    let h = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(h.starts_with("DPoP "), "{h}");
    let error = h
        .split("error=\"")
        .nth(1)
        .and_then(|e| e.split('"').next())
        .unwrap_or("")
        .to_owned();
    (r.status(), error)
}

async fn a_bound_token_needs_its_proof_at_userinfo(db: Db) {
    let app = spawn_app(db).await;
    register_public(&app).await;
    let key = DpopKey::new();
    let tokens = public_tokens(&app, &key).await;
    assert_eq!(tokens["token_type"], "DPoP");
    let at = tokens["access_token"].as_str().unwrap();
    let ui = app.url("/userinfo");
    let nonce = json!(nonce(&app, &key).await);
    let ath = json!(mpsv_idp::oidc::dpop::token_hash(at));

    // Used as a bearer token (stolen, without the key): refused with a DPoP challenge.
    let r = userinfo(&app, &format!("Bearer {at}"), None).await;
    assert_eq!(
        challenge(&r),
        (StatusCode::UNAUTHORIZED, "invalid_token".into())
    );
    // With the DPoP scheme but no proof, a proof without ath, or another key's proof.
    let dpop = format!("DPoP {at}");
    let r = userinfo(&app, &dpop, None).await;
    assert_eq!(challenge(&r).1, "invalid_dpop_proof");
    let r = userinfo(
        &app,
        &dpop,
        Some(key.proof("GET", &ui, &[("nonce", nonce.clone())])),
    )
    .await;
    assert_eq!(challenge(&r).1, "invalid_dpop_proof");
    let other = DpopKey::new();
    let proof = other.proof(
        "GET",
        &ui,
        &[("nonce", nonce.clone()), ("ath", ath.clone())],
    );
    let r = userinfo(&app, &dpop, Some(proof)).await;
    assert_eq!(challenge(&r).1, "invalid_dpop_proof");
    // Without our nonce: use_dpop_nonce, and the nonce comes along.
    let r = userinfo(
        &app,
        &dpop,
        Some(key.proof("GET", &ui, &[("ath", ath.clone())])),
    )
    .await;
    assert!(r.headers().contains_key("dpop-nonce"));
    assert_eq!(challenge(&r).1, "use_dpop_nonce");

    // The key's holder, with a fresh proof over this token.
    let proof = key.proof(
        "GET",
        &ui,
        &[("nonce", nonce.clone()), ("ath", ath.clone())],
    );
    let r = userinfo(&app, &dpop, Some(proof.clone())).await;
    assert_eq!(r.status(), StatusCode::OK);
    let claims: Value = r.json().await.unwrap();
    assert!(claims["sub"].is_string());
    // Each proof once.
    let r = userinfo(&app, &dpop, Some(proof)).await;
    assert_eq!(challenge(&r).1, "invalid_dpop_proof");
}

async fn codes_and_public_refresh_tokens_are_bound_to_the_key(db: Db) {
    let app = spawn_app(db).await;
    register_public(&app).await;
    let key = DpopKey::new();
    let htu = app.url("/token");
    let nonce = json!(nonce(&app, &key).await);

    let tokens = public_tokens(&app, &key).await;
    // A code requested with dpop_jkt is redeemed only with that key (§10). (Signed in
    // already: the SSO session answers at once.)
    let rp = app.rp("mobilni", None).await;
    let flow = start_flow(&rp, &[("dpop_jkt", key.jkt.as_str())]);
    let r = app.browser.get(&flow.url).send().await.unwrap();
    let back = location(r.headers());
    let redeem = |proof: Option<String>| {
        let code = param(&back, "code").unwrap();
        let verifier = flow.verifier.secret().clone();
        let htu = htu.clone();
        async move {
            let mut req = reqwest::Client::new().post(htu).form(&[
                ("grant_type", "authorization_code"),
                ("client_id", "mobilni"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT),
                ("code_verifier", verifier.as_str()),
            ]);
            if let Some(p) = proof {
                req = req.header("DPoP", p);
            }
            let r = req.send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = redeem(None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let bad = start_flow(&rp, &[("dpop_jkt", "not-a-thumbprint")]);
    let r = app.browser.get(&bad.url).send().await.unwrap();
    assert_eq!(
        param(&location(r.headers()), "error").as_deref(),
        Some("invalid_request")
    );

    // A public client's refresh token works only with a proof of its key (§5).
    let rt = tokens["refresh_token"].as_str().unwrap();
    let refresh = |proof: Option<String>| {
        let htu = htu.clone();
        let rt = rt.to_owned();
        async move {
            let mut req = reqwest::Client::new().post(htu).form(&[
                ("grant_type", "refresh_token"),
                ("client_id", "mobilni"),
                ("refresh_token", rt.as_str()),
            ]);
            if let Some(p) = proof {
                req = req.header("DPoP", p);
            }
            let r = req.send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = refresh(None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let other = DpopKey::new();
    let (_, body) = refresh(Some(other.proof("POST", &htu, &[("nonce", nonce.clone())]))).await;
    assert_eq!(body["error"], "invalid_grant");
    // The refused attempts spent nothing: the holder of the key still refreshes.
    let (status, body) = refresh(Some(key.proof("POST", &htu, &[("nonce", nonce.clone())]))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        decode_payload(body["access_token"].as_str().unwrap())["cnf"]["jkt"],
        key.jkt
    );
}

async fn a_client_can_require_dpop_and_nonces_can_be_off(db: Db) {
    let app = spawn_app_with(db, |c| c.protocol.dpop_nonce = false).await;
    let s = robot(&app, |spec| spec.dpop = true).await;
    let key = DpopKey::new();
    let (status, body) = token_request(&app, ("robot", &s), None, &CC).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    // Nonces off: a proof without one is enough, and no nonce is handed out.
    let r = reqwest::Client::new()
        .post(app.url("/token"))
        .basic_auth("robot", Some(&s))
        .header("DPoP", key.proof("POST", &app.url("/token"), &[]))
        .form(&CC)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(!r.headers().contains_key("dpop-nonce"));
    assert_eq!(r.json::<Value>().await.unwrap()["token_type"], "DPoP");

    // A proof at the PAR endpoint binds the code (§10.1).
    let secret = app
        .register(ClientSpec::confidential("par-app"))
        .await
        .unwrap();
    app.add_user("jana.novakova").await;
    let rp = app.rp("par-app", Some(secret.clone())).await;
    let flow = start_flow(&rp, &[]);
    let params = flow_params(&flow);
    let r = reqwest::Client::new()
        .post(app.url("/par"))
        .basic_auth("par-app", Some(&secret))
        .header("DPoP", key.proof("POST", &app.url("/par"), &[]))
        .form(&params)
        .send()
        .await
        .unwrap();
    let url = pushed_authorize_url(&app, "par-app", r).await;
    let back = app.login(&url, "jana.novakova").await;
    let code = param(&back, "code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", flow.verifier.secret().as_str()),
    ];
    let (status, body) = token_request(&app, ("par-app", &secret), None, &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}
