//! The FAPI 2.0 Security Profile as a client setting: pushed requests, PKCE, private_key_jwt
//! and DPoP-bound tokens together, the issuer in the response.

use josekit::jwk::alg::ec::{EcCurve, EcKeyPair};
use josekit::jwk::KeyPair;
use josekit::jws::{JwsHeader, ES256};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::db_test;
use crate::helpers::*;

db_test!(a_fapi2_client_gets_only_what_the_profile_allows);

fn assertion(key: &EcKeyPair, client_id: &str, aud: &str) -> String {
    let now = mpsv_idp::secrets::now();
    let jti = mpsv_idp::secrets::PlainToken::generate();
    let claims = json!({"iss": client_id, "sub": client_id, "aud": aud, "jti": jti.expose(),
        "iat": now, "exp": now + 60});
    let mut header = JwsHeader::new();
    header.set_key_id("fapi-1");
    let signer = ES256.signer_from_jwk(&key.to_jwk_private_key()).unwrap();
    josekit::jws::serialize_compact(claims.to_string().as_bytes(), &header, &signer).unwrap()
}

fn proof(key: &EcKeyPair, htu: &str, nonce: Option<&str>) -> String {
    let mut c = json!({"jti": mpsv_idp::secrets::PlainToken::generate().expose(), "htm": "POST",
        "htu": htu, "iat": mpsv_idp::secrets::now()});
    if let Some(n) = nonce {
        c["nonce"] = json!(n);
    }
    let mut header = JwsHeader::new();
    header.set_token_type("dpop+jwt");
    header.set_jwk(key.to_jwk_public_key());
    let signer = ES256.signer_from_jwk(&key.to_jwk_private_key()).unwrap();
    josekit::jws::serialize_compact(c.to_string().as_bytes(), &header, &signer).unwrap()
}

async fn a_fapi2_client_gets_only_what_the_profile_allows(db: Db) {
    let app = spawn_app_with(db, |c| c.tokens.authorization_code = 600).await;
    let key = EcKeyPair::generate(EcCurve::P256).unwrap();
    let mut jwk = key.to_jwk_public_key();
    jwk.set_key_id("fapi-1");
    jwk.set_algorithm("ES256");
    let jwks = json!({ "keys": [Value::Object(jwk.as_ref().clone())] }).to_string();

    // The profile needs private_key_jwt.
    use mpsv_idp::services::clients::{build, Registration};
    let secret_based = Registration {
        redirect_uris: vec![REDIRECT.into()],
        fapi2: true,
        ..Registration::new("fapi-secret", "FAPI with a secret")
    };
    let Err(e) = build(secret_based) else {
        panic!("a FAPI 2.0 client with a secret was accepted")
    };
    assert!(e.to_string().contains("FAPI 2.0"), "{e}");
    let mut spec = ClientSpec::confidential("fapi-app");
    spec.auth_method = "private_key_jwt";
    spec.jwks = Some(jwks);
    spec.fapi2 = true;
    app.register(spec).await;
    app.add_user("jana.novakova").await;
    let rp = app.rp("fapi-app", None).await;
    let flow = start_flow(&rp, &[]);

    // PAR only: the plain request is refused.
    let r = app.browser.get(&flow.url).send().await.unwrap();
    assert_eq!(
        param(&location(r.headers()), "error").as_deref(),
        Some("invalid_request")
    );
    let mut form = flow_params(&flow);
    form.push((
        "client_assertion_type".into(),
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
    ));
    form.push((
        "client_assertion".into(),
        assertion(&key, "fapi-app", &app.base),
    ));
    let r = reqwest::Client::new()
        .post(app.url("/par"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let url = pushed_authorize_url(&app, "fapi-app", r).await;
    let back = app.login(&url, "jana.novakova").await;
    // RFC 9207: the issuer comes with the code.
    assert_eq!(param(&back, "iss").as_deref(), Some(app.base.as_str()));
    let code = param(&back, "code").unwrap();
    let token = |dpop: Option<String>| {
        let form = [
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.clone()),
            ("redirect_uri", REDIRECT.to_owned()),
            ("code_verifier", flow.verifier.secret().clone()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
            ),
            ("client_assertion", assertion(&key, "fapi-app", &app.base)),
        ];
        let url = app.url("/token");
        async move {
            let mut req = reqwest::Client::new().post(url).form(&form);
            if let Some(p) = dpop {
                req = req.header("DPoP", p);
            }
            let r = req.send().await.unwrap();
            let nonce = r
                .headers()
                .get("dpop-nonce")
                .map(|v| v.to_str().unwrap().to_owned());
            (r.status(), nonce, r.json::<Value>().await.unwrap())
        }
    };
    // Without a proof: refused, and nothing spent.
    let (status, _, body) = token(None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    let htu = app.url("/token");
    let (_, nonce, body) = token(Some(proof(&key, &htu, None))).await;
    assert_eq!(body["error"], "use_dpop_nonce");
    let (status, _, body) = token(Some(proof(&key, &htu, nonce.as_deref()))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "DPoP");
}
