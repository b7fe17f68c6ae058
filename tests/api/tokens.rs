//! Refresh rotation and reuse detection, revocation, introspection, client credentials.

use openidconnect::{OAuth2TokenResponse, RefreshToken, TokenResponse};
use reqwest::StatusCode;
use serde_json::Value;

use crate::code_flow::{decode_header, decode_payload};
use crate::db_test;
use crate::helpers::*;

db_test!(
    refresh_rotates_and_reuse_revokes_the_whole_family,
    refresh_may_narrow_but_not_widen_the_scope,
    a_refresh_token_of_another_client_is_refused_and_kept,
    revoked_tokens_introspect_as_inactive,
    introspection_describes_live_tokens,
    introspection_answers_with_a_signed_jwt_on_request,
    client_credentials_issues_rs256_and_es256_access_tokens,
    a_reused_code_fails_and_revokes_its_tokens,
);

async fn userinfo_status(app: &TestApp, token: &str) -> StatusCode {
    reqwest::Client::new()
        .get(app.url("/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

async fn refresh_rotates_and_reuse_revokes_the_whole_family(db: Db) {
    let app = spawn_app(db).await;
    let s = app.register(ClientSpec::confidential("poskytovatel")).await;
    app.add_user("jana.novakova").await;
    let rp = app.rp("poskytovatel", s).await;
    let (_, tokens) = app.code_flow(&rp, "jana.novakova").await;
    let rt1 = tokens.refresh_token().unwrap().clone();

    let second = rp
        .exchange_refresh_token(&rt1)
        .unwrap()
        .request_async(&rp_http())
        .await
        .expect("first refresh");
    let rt2 = second
        .refresh_token()
        .expect("a rotated refresh token")
        .clone();
    assert_ne!(rt1.secret(), rt2.secret());
    // The refreshed ID token verifies (no nonce on refresh) and keeps the subject.
    let id = second.id_token().expect("ID token on refresh");
    id.claims(
        &rp.id_token_verifier(),
        |_: Option<&openidconnect::Nonce>| Ok(()),
    )
    .expect("refreshed ID token verifies");
    let at2 = second.access_token().clone();
    assert_eq!(userinfo_status(&app, at2.secret()).await, StatusCode::OK);

    // Presenting the spent token again: invalid_grant, and the family is revoked.
    let err = rp
        .exchange_refresh_token(&rt1)
        .unwrap()
        .request_async(&rp_http())
        .await
        .expect_err("reuse must fail");
    assert!(format!("{err:?}").contains("invalid_grant"), "{err:?}");
    // The newest refresh token and the access tokens of the family are dead too.
    let err = rp
        .exchange_refresh_token(&rt2)
        .unwrap()
        .request_async(&rp_http())
        .await
        .expect_err("family revoked");
    assert!(format!("{err:?}").contains("invalid_grant"));
    assert_eq!(
        userinfo_status(&app, at2.secret()).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        userinfo_status(&app, tokens.access_token().secret()).await,
        StatusCode::UNAUTHORIZED
    );
}

async fn refresh_may_narrow_but_not_widen_the_scope(db: Db) {
    let app = spawn_app(db).await;
    let s = app
        .register(ClientSpec::confidential("poskytovatel"))
        .await
        .unwrap();
    app.add_user("jana.novakova").await;
    let rp = app.rp("poskytovatel", Some(s.clone())).await;
    let (_, tokens) = app.code_flow(&rp, "jana.novakova").await;
    let rt = tokens.refresh_token().unwrap().secret().clone();
    // Widening is refused and spends nothing.
    let r = app
        .post_basic(
            "/token",
            "poskytovatel",
            &s,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &rt),
                ("scope", "openid admin"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_scope");
    let r = app
        .post_basic(
            "/token",
            "poskytovatel",
            &s,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &rt),
                ("scope", "openid"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["scope"], "openid");
    let at = decode_payload(body["access_token"].as_str().unwrap());
    assert_eq!(at["scope"], "openid");
}

async fn a_refresh_token_of_another_client_is_refused_and_kept(db: Db) {
    let app = spawn_app(db).await;
    let s1 = app.register(ClientSpec::confidential("poskytovatel")).await;
    let s2 = app
        .register(ClientSpec::confidential("rodina"))
        .await
        .unwrap();
    app.add_user("jana.novakova").await;
    let rp = app.rp("poskytovatel", s1).await;
    let (_, tokens) = app.code_flow(&rp, "jana.novakova").await;
    let rt = tokens.refresh_token().unwrap().clone();
    let r = app
        .post_basic(
            "/token",
            "rodina",
            &s2,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", rt.secret()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant");
    // The rightful client can still use it.
    rp.exchange_refresh_token(&rt)
        .unwrap()
        .request_async(&rp_http())
        .await
        .expect("still valid");
}

async fn revoked_tokens_introspect_as_inactive(db: Db) {
    let app = spawn_app(db).await;
    let s = app
        .register(ClientSpec::confidential("poskytovatel"))
        .await
        .unwrap();
    app.add_user("jana.novakova").await;
    let rp = app.rp("poskytovatel", Some(s.clone())).await;
    let (_, tokens) = app.code_flow(&rp, "jana.novakova").await;
    let at = tokens.access_token().secret().clone();
    let rt = tokens.refresh_token().unwrap().secret().clone();
    let introspect = |token: String| {
        let app = &app;
        let s = s.clone();
        async move {
            let r = app
                .post_basic("/introspect", "poskytovatel", &s, &[("token", &token)])
                .await;
            assert_eq!(r.status(), StatusCode::OK);
            r.json::<Value>().await.unwrap()["active"]
                .as_bool()
                .unwrap()
        }
    };
    assert!(introspect(at.clone()).await);
    assert!(introspect(rt.clone()).await);

    // Revoke the access token (RFC 7009): it is inactive, the refresh token lives on.
    let r = app
        .post_basic(
            "/revoke",
            "poskytovatel",
            &s,
            &[("token", &at), ("token_type_hint", "access_token")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(!introspect(at.clone()).await);
    assert_eq!(userinfo_status(&app, &at).await, StatusCode::UNAUTHORIZED);
    assert!(introspect(rt.clone()).await);

    // Revoke the refresh token: it and its family's new access tokens are inactive.
    let fresh = rp
        .exchange_refresh_token(&RefreshToken::new(rt))
        .unwrap()
        .request_async(&rp_http())
        .await
        .unwrap();
    let rt2 = fresh.refresh_token().unwrap().secret().clone();
    let at2 = fresh.access_token().secret().clone();
    let r = app
        .post_basic("/revoke", "poskytovatel", &s, &[("token", &rt2)])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(!introspect(rt2.clone()).await);
    assert!(!introspect(at2).await);
    // Unknown tokens are answered with 200 (RFC 7009 §2.2).
    let r = app
        .post_basic("/revoke", "poskytovatel", &s, &[("token", "nonsense")])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(!introspect("nonsense".into()).await);
}

async fn introspection_describes_live_tokens(db: Db) {
    let app = spawn_app(db).await;
    let s = app
        .register(ClientSpec::confidential("poskytovatel"))
        .await
        .unwrap();
    let sub = app.add_user("jana.novakova").await;
    let rp = app.rp("poskytovatel", Some(s.clone())).await;
    let (_, tokens) = app.code_flow(&rp, "jana.novakova").await;
    let rp = rp.set_introspection_url(
        openidconnect::IntrospectionUrl::new(app.url("/introspect")).unwrap(),
    );
    use openidconnect::TokenIntrospectionResponse;
    let info = rp
        .introspect(tokens.access_token())
        .request_async(&rp_http())
        .await
        .expect("introspection");
    assert!(info.active());
    assert_eq!(info.sub(), Some(sub.as_str()));
    assert_eq!(info.username(), Some("jana.novakova"));
    assert_eq!(info.client_id().map(|c| c.as_str()), Some("poskytovatel"));
    // A public client may not introspect.
    let r = reqwest::Client::new()
        .post(app.url("/introspect"))
        .form(&[
            ("client_id", "nobody"),
            ("token", tokens.access_token().secret().as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

async fn client_credentials_issues_rs256_and_es256_access_tokens(db: Db) {
    let token = "metrics-token-0123456789abcdef0123456789";
    let app = spawn_app_with(db, |c| c.metrics.token = Some(token.into())).await;
    for (id, alg) in [("robot-rs", "RS256"), ("robot-es", "ES256")] {
        let mut spec = ClientSpec::confidential(id);
        spec.grant_types = vec!["client_credentials"];
        spec.access_token_alg = alg;
        let s = app.register(spec).await.unwrap();
        let rp = app.rp(id, Some(s.clone())).await;
        let t = rp
            .exchange_client_credentials()
            .unwrap()
            .request_async(&rp_http())
            .await
            .expect("client_credentials");
        assert!(t.refresh_token().is_none());
        let h = decode_header(t.access_token().secret());
        assert_eq!(h["alg"], alg);
        assert_eq!(h["typ"], "at+jwt");
        let c = decode_payload(t.access_token().secret());
        assert_eq!(c["sub"], id);
        assert_eq!(c["client_id"], id);
        // Not a person: userinfo refuses it; introspection accepts it.
        assert_eq!(
            userinfo_status(&app, t.access_token().secret()).await,
            StatusCode::UNAUTHORIZED
        );
        let r = app
            .post_basic(
                "/introspect",
                id,
                &s,
                &[("token", t.access_token().secret())],
            )
            .await;
        assert_eq!(r.json::<Value>().await.unwrap()["active"], true);
        // The code grant is not allowed for this client.
        let r = app
            .post_basic(
                "/token",
                id,
                &s,
                &[("grant_type", "authorization_code"), ("code", "x")],
            )
            .await;
        assert_eq!(
            r.json::<Value>().await.unwrap()["error"],
            "unauthorized_client"
        );
    }
    let metrics = reqwest::Client::new()
        .get(app.url("/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("mpsv_idp_tokens_issued_total{grant_type=\"client_credentials\"} 2"),
        "{metrics}"
    );
}

async fn a_reused_code_fails_and_revokes_its_tokens(db: Db) {
    let app = spawn_app(db).await;
    let s = app.register(ClientSpec::confidential("poskytovatel")).await;
    app.add_user("jana.novakova").await;
    let rp = app.rp("poskytovatel", s).await;
    let flow = start_flow(&rp, &[]);
    let back = app.login(&flow.url, "jana.novakova").await;
    let tokens = app.redeem(&rp, &flow, &back).await;
    let code = param(&back, "code").unwrap();
    let err = rp
        .exchange_code(openidconnect::AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(openidconnect::PkceCodeVerifier::new(
            flow.verifier.secret().clone(),
        ))
        .request_async(&rp_http())
        .await
        .expect_err("a code is single-use");
    assert!(format!("{err:?}").contains("invalid_grant"));
    assert_eq!(
        userinfo_status(&app, tokens.access_token().secret()).await,
        StatusCode::UNAUTHORIZED
    );
    let err = rp
        .exchange_refresh_token(tokens.refresh_token().unwrap())
        .unwrap()
        .request_async(&rp_http())
        .await
        .expect_err("refresh token of a reused code is revoked");
    assert!(format!("{err:?}").contains("invalid_grant"));
}

/// Verifies a JWT of ours against the published JWKS with josekit (not our key store).
async fn verify_with_jwks(app: &TestApp, jwt: &str) -> (serde_json::Value, String) {
    let header = josekit::jwt::decode_header(jwt).unwrap();
    let kid = header
        .claim("kid")
        .and_then(|v| v.as_str())
        .unwrap()
        .to_owned();
    let typ = header
        .claim("typ")
        .and_then(|v| v.as_str())
        .unwrap()
        .to_owned();
    let jwks = app.get_json("/jwks").await;
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .expect("the signing key is published");
    let jwk = josekit::jwk::Jwk::from_bytes(jwk.to_string().as_bytes()).unwrap();
    let verifier = josekit::jws::RS256.verifier_from_jwk(&jwk).unwrap();
    let (payload, _) = josekit::jws::deserialize_compact(jwt, &verifier).expect("valid signature");
    (serde_json::from_slice(&payload).unwrap(), typ)
}

async fn introspection_answers_with_a_signed_jwt_on_request(db: Db) {
    let app = spawn_app(db).await;
    let s = app
        .register(ClientSpec::confidential("poskytovatel"))
        .await
        .unwrap();
    app.add_user("jana.novakova").await;
    let rp = app.rp("poskytovatel", Some(s.clone())).await;
    let (_, tokens) = app.code_flow(&rp, "jana.novakova").await;
    let doc = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(
        doc["introspection_signing_alg_values_supported"],
        serde_json::json!(["RS256"])
    );

    let ask = |token: String| {
        let app = &app;
        let s = s.clone();
        async move {
            reqwest::Client::new()
                .post(app.url("/introspect"))
                .basic_auth("poskytovatel", Some(s))
                .header("accept", "application/token-introspection+jwt")
                .form(&[("token", token)])
                .send()
                .await
                .unwrap()
        }
    };
    let r = ask(tokens.access_token().secret().clone()).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers().get("content-type").unwrap(),
        "application/token-introspection+jwt"
    );
    assert_eq!(r.headers().get("cache-control").unwrap(), "no-store");
    let (claims, typ) = verify_with_jwks(&app, &r.text().await.unwrap()).await;
    assert_eq!(typ, "token-introspection+jwt");
    assert_eq!(claims["iss"], app.base);
    assert_eq!(claims["aud"], "poskytovatel");
    assert!(claims["iat"].is_i64());
    // RFC 9701 §5: the answer lives in token_introspection, not as the JWT's own claims.
    assert!(claims.get("sub").is_none() && claims.get("exp").is_none());
    let info = &claims["token_introspection"];
    assert_eq!(info["active"], true);
    assert_eq!(info["client_id"], "poskytovatel");
    assert_eq!(info["username"], "jana.novakova");

    // An unknown token is inactive, signed all the same.
    let r = ask("not-a-token".into()).await;
    let (claims, _) = verify_with_jwks(&app, &r.text().await.unwrap()).await;
    assert_eq!(
        claims["token_introspection"],
        serde_json::json!({"active": false})
    );

    // Without the Accept header: the plain JSON of RFC 7662.
    let r = app
        .post_basic(
            "/introspect",
            "poskytovatel",
            &s,
            &[("token", tokens.access_token().secret().as_str())],
        )
        .await;
    assert!(r
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("application/json"));
}
