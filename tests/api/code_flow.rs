//! The authorization code flow with PKCE, as a certified RP library sees it.

use openidconnect::core::CoreUserInfoClaims;
use openidconnect::{AccessTokenHash, OAuth2TokenResponse, TokenResponse};
use reqwest::StatusCode;
use serde_json::json;

use crate::db_test;
use crate::helpers::*;

db_test!(
    discovery_is_accepted_by_the_rp_library,
    code_flow_with_pkce_gives_verifiable_tokens_and_userinfo,
    es256_and_eddsa_id_tokens_on_client_request,
    a_second_client_signs_in_without_a_form,
    prompt_login_and_max_age_zero_ask_for_the_password_again,
    form_post_response_mode_posts_the_code,
    public_client_uses_pkce_without_a_secret,
    an_id_token_hint_for_someone_else_gets_login_required,
    a_finished_login_is_resumed_once_and_only_by_its_browser,
);

async fn discovery_is_accepted_by_the_rp_library(db: Db) {
    let app = spawn_app(db).await;
    let _rp = app.rp("any", None).await;
    let doc = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(doc["issuer"], app.base);
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    assert_eq!(doc["backchannel_logout_supported"], true);
    let jwks = app.get_json("/jwks").await;
    let algs: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["alg"].as_str().unwrap())
        .collect();
    assert!(algs.contains(&"RS256") && algs.contains(&"ES256"));
}

async fn code_flow_with_pkce_gives_verifiable_tokens_and_userinfo(db: Db) {
    let app = spawn_app(db).await;
    let secret = app.register(ClientSpec::confidential("poskytovatel")).await;
    let sub = app.add_user("jana.novakova").await;
    let rp = app.rp("poskytovatel", secret).await;
    let (flow, tokens) = app.code_flow(&rp, "jana.novakova").await;

    let id_token = tokens.id_token().expect("id_token");
    let verifier = rp.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &flow.nonce)
        .expect("valid ID token");
    assert_eq!(claims.subject().as_str(), sub);
    assert!(claims.auth_time().is_some());
    let amr: Vec<String> = claims
        .auth_method_refs()
        .unwrap()
        .iter()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(amr, vec!["pwd"]);
    assert_eq!(
        *id_token.signing_alg().unwrap(),
        openidconnect::core::CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256
    );
    // at_hash binds the access token to the ID token (OIDC Core §3.1.3.8).
    assert_at_hash(&tokens, &verifier, claims);
    // The raw ID token carries sid.
    let payload = decode_payload(&id_token.to_string());
    assert!(payload["sid"].as_str().is_some());
    assert_eq!(payload["preferred_username"], "jana.novakova");

    // The access token is an RFC 9068 JWT.
    let header = decode_header(tokens.access_token().secret());
    assert_eq!(header["typ"], "at+jwt");
    let at = decode_payload(tokens.access_token().secret());
    assert_eq!(at["client_id"], "poskytovatel");
    assert_eq!(at["sub"], sub);

    let info: CoreUserInfoClaims = rp
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&rp_http())
        .await
        .expect("userinfo");
    assert_eq!(info.subject().as_str(), sub);
    assert_eq!(info.email().unwrap().as_str(), "jana.novakova@example.cz");
    assert_eq!(
        info.family_name().unwrap().get(None).unwrap().as_str(),
        "Nováková"
    );
    // POST to userinfo with the token in the body works too (RFC 6750 §2.2).
    let r = reqwest::Client::new()
        .post(app.url("/userinfo"))
        .form(&[("access_token", tokens.access_token().secret().as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(tokens.refresh_token().is_some());
}

/// The ID token's `at_hash` is the one the `openidconnect` crate computes from the access
/// token with the ID token's algorithm and key.
fn assert_at_hash(
    tokens: &openidconnect::core::CoreTokenResponse,
    verifier: &openidconnect::core::CoreIdTokenVerifier<'_>,
    claims: &openidconnect::core::CoreIdTokenClaims,
) {
    let id_token = tokens.id_token().unwrap();
    let expected = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected));
}

async fn es256_and_eddsa_id_tokens_on_client_request(db: Db) {
    use openidconnect::core::CoreJwsSigningAlgorithm as Alg;
    for (id, alg, theirs) in [
        ("rodina", "ES256", Alg::EcdsaP256Sha256),
        ("poskytovatel", "EdDSA", Alg::EdDsa),
    ] {
        let app = spawn_app(db).await;
        let sub = app.add_user("petr.svoboda").await;
        let mut spec = ClientSpec::confidential(id);
        spec.id_token_alg = alg;
        spec.access_token_alg = alg;
        let secret = app.register(spec).await;
        let rp = app.rp(id, secret).await;
        let (flow, tokens) = app.code_flow(&rp, "petr.svoboda").await;
        let id_token = tokens.id_token().unwrap();
        // The openidconnect crate verifies the signature with the key it found in our JWKS
        // and, from the same alg and key, the at_hash (SHA-512 for Ed25519).
        let verifier = rp
            .id_token_verifier()
            .set_allowed_algs(vec![theirs.clone()]);
        let claims = id_token
            .claims(&verifier, &flow.nonce)
            .unwrap_or_else(|e| panic!("{alg} ID token verifies: {e:?}"));
        assert_eq!(claims.subject().as_str(), sub);
        assert_eq!(*id_token.signing_alg().unwrap(), theirs);
        assert_at_hash(&tokens, &verifier, claims);
        // The access token is signed the same way and works at userinfo and introspection.
        assert_eq!(decode_header(tokens.access_token().secret())["alg"], alg);
        let info: CoreUserInfoClaims = rp
            .user_info(tokens.access_token().clone(), None)
            .unwrap()
            .request_async(&rp_http())
            .await
            .expect("userinfo");
        assert_eq!(info.subject().as_str(), sub);
    }
    // The JWKS publishes the Ed25519 key as RFC 8037 §2 says.
    let app = spawn_app(db).await;
    let jwks = app.get_json("/jwks").await;
    let ed = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["alg"] == "EdDSA")
        .expect("an EdDSA key");
    assert_eq!(
        (&ed["kty"], &ed["crv"], &ed["use"]),
        (&json!("OKP"), &json!("Ed25519"), &json!("sig"))
    );
    assert!(ed.get("d").is_none());
    let doc = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["RS256", "ES256", "EdDSA"])
    );
}

async fn a_second_client_signs_in_without_a_form(db: Db) {
    let app = spawn_app(db).await;
    let s1 = app.register(ClientSpec::confidential("poskytovatel")).await;
    let s2 = app.register(ClientSpec::confidential("rodina")).await;
    let sub = app.add_user("jana.novakova").await;
    let rp1 = app.rp("poskytovatel", s1).await;
    let rp2 = app.rp("rodina", s2).await;
    let (_, t1) = app.code_flow(&rp1, "jana.novakova").await;
    let sid1 = decode_payload(&t1.id_token().unwrap().to_string())["sid"].clone();

    // Same browser, second client: the authorization endpoint answers with a code at once.
    let flow = start_flow(&rp2, &[]);
    let r = app.browser.get(&flow.url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let back = location(r.headers());
    assert!(back.starts_with(REDIRECT), "expected a code, got {back}");
    let t2 = app.redeem(&rp2, &flow, &back).await;
    let claims = t2
        .id_token()
        .unwrap()
        .claims(&rp2.id_token_verifier(), &flow.nonce)
        .unwrap();
    assert_eq!(claims.subject().as_str(), sub);
    assert_eq!(
        decode_payload(&t2.id_token().unwrap().to_string())["sid"],
        sid1
    );

    // prompt=none also succeeds while the session lives.
    let flow = start_flow(&rp2, &[("prompt", "none")]);
    let r = app.browser.get(&flow.url).send().await.unwrap();
    assert!(param(&location(r.headers()), "code").is_some());
}

async fn prompt_login_and_max_age_zero_ask_for_the_password_again(db: Db) {
    let app = spawn_app(db).await;
    let s = app.register(ClientSpec::confidential("poskytovatel")).await;
    app.add_user("jana.novakova").await;
    let rp = app.rp("poskytovatel", s).await;
    let (_, first) = app.code_flow(&rp, "jana.novakova").await;
    let sid = decode_payload(&first.id_token().unwrap().to_string())["sid"].clone();
    for extra in [("prompt", "login"), ("max_age", "0")] {
        let flow = start_flow(&rp, &[extra]);
        // login() asserts that the form is shown.
        let back = app.login(&flow.url, "jana.novakova").await;
        let t = app.redeem(&rp, &flow, &back).await;
        // Re-authentication keeps the session (same sid) with a new auth_time.
        assert_eq!(
            decode_payload(&t.id_token().unwrap().to_string())["sid"],
            sid
        );
    }
}

async fn form_post_response_mode_posts_the_code(db: Db) {
    let app = spawn_app(db).await;
    let s = app.register(ClientSpec::confidential("poskytovatel")).await;
    app.add_user("jana.novakova").await;
    let rp = app.rp("poskytovatel", s).await;
    let flow = start_flow(&rp, &[("response_mode", "form_post")]);
    let (id, csrf, _) = app.open_login(&flow.url).await;
    let r = app
        .submit_login(&id, &csrf, "jana.novakova", PASSWORD)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("form-action http://127.0.0.1:9"), "{csp}");
    let html = r.text().await.unwrap();
    assert!(html.contains(&format!("action=\"{REDIRECT}\"")));
    let code = hidden(&html, "code");
    assert_eq!(hidden(&html, "state"), *flow.csrf.secret());
    assert_eq!(hidden(&html, "iss"), app.base);
    let back = format!(
        "{REDIRECT}?code={code}&state={}&iss={}",
        flow.csrf.secret(),
        app.base
    );
    app.redeem(&rp, &flow, &back).await;
}

async fn public_client_uses_pkce_without_a_secret(db: Db) {
    let app = spawn_app(db).await;
    let mut spec = ClientSpec::confidential("mobilni");
    spec.auth_method = "none";
    assert!(app.register(spec).await.is_none());
    app.add_user("jana.novakova").await;
    let rp = app.rp("mobilni", None).await;
    let (flow, tokens) = app.code_flow(&rp, "jana.novakova").await;
    tokens
        .id_token()
        .unwrap()
        .claims(&rp.id_token_verifier(), &flow.nonce)
        .unwrap();
    // Without PKCE a public client is refused even if registered "without PKCE".
    let r = app
        .browser
        .get(app.url(&format!(
            "/authorize?client_id=mobilni&response_type=code&scope=openid&redirect_uri={}&state=s",
            urlencode(REDIRECT)
        )))
        .send()
        .await
        .unwrap();
    let back = location(r.headers());
    assert_eq!(param(&back, "error").as_deref(), Some("invalid_request"));
}

pub fn decode_part(jwt: &str, i: usize) -> serde_json::Value {
    use base64::Engine;
    let part = jwt.split('.').nth(i).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

pub fn decode_payload(jwt: &str) -> serde_json::Value {
    decode_part(jwt, 1)
}

pub fn decode_header(jwt: &str) -> serde_json::Value {
    decode_part(jwt, 0)
}

pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn an_id_token_hint_for_someone_else_gets_login_required(db: Db) {
    let app = spawn_app(db).await;
    let s = app.register(ClientSpec::confidential("poskytovatel")).await;
    app.add_user("jana.novakova").await;
    app.add_user("petr.svoboda").await;
    let rp = app.rp("poskytovatel", s).await;
    let (_, jana) = app.code_flow(&rp, "jana.novakova").await;
    let hint = jana.id_token().unwrap().to_string();
    // Another browser: the client expects Jana, Petr signs in.
    let other = TestApp::with_browser(&app);
    let flow = start_flow(&rp, &[("id_token_hint", hint.as_str())]);
    let back = other.login(&flow.url, "petr.svoboda").await;
    assert_eq!(
        param(&back, "error").as_deref(),
        Some("login_required"),
        "{back}"
    );
    assert!(param(&back, "code").is_none());
    // Jana herself gets her code.
    let third = TestApp::with_browser(&app);
    let flow = start_flow(&rp, &[("id_token_hint", hint.as_str())]);
    let back = third.login(&flow.url, "jana.novakova").await;
    third.redeem(&rp, &flow, &back).await;
}

/// The pages hand a finished login back to the protocol at `/authorize/resume`: only the
/// browser whose session is that login's person may resume it, and only once.
async fn a_finished_login_is_resumed_once_and_only_by_its_browser(db: Db) {
    let app = spawn_app(db).await;
    let secret = app.register(ClientSpec::confidential("poskytovatel")).await;
    app.add_user("jana.novakova").await;
    let rp = app.rp("poskytovatel", secret).await;
    let flow = start_flow(&rp, &[]);
    // A browser that follows nothing, to see the hand-over itself.
    let own = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = own.get(&flow.url).send().await.unwrap();
    let login = location(r.headers());
    let html = own
        .get(app.url(&login))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = own
        .post(app.url("/login"))
        .form(&[
            ("id", hidden(&html, "id").as_str()),
            ("csrf", hidden(&html, "csrf").as_str()),
            ("username", "jana.novakova"),
            ("password", PASSWORD),
            ("lang", "cs"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let resume = location(r.headers());
    assert!(resume.starts_with("/authorize/resume?id="), "{resume}");

    // Someone who learnt the URL but has not this browser's session gets nothing.
    let other = browser();
    let r = other.get(app.url(&resume)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.headers().get("location").is_none());

    // The browser itself gets the code, once.
    let r = own.get(app.url(&resume)).send().await.unwrap();
    let back = location(r.headers());
    assert!(back.starts_with("http://127.0.0.1:9/cb?"), "{back}");
    let r = own.get(app.url(&resume)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    app.redeem(&rp, &flow, &back).await;
}
