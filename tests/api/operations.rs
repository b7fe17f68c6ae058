//! Health, readiness, metrics, security headers and key rotation.

use openidconnect::core::CoreUserInfoClaims;
use openidconnect::{OAuth2TokenResponse, TokenResponse};
use reqwest::StatusCode;

use crate::code_flow::decode_header;
use crate::db_test;
use crate::helpers::*;
use mpsv_idp::domain::client::SigningAlg;

db_test!(
    health_readiness_and_metrics_answer,
    pages_carry_security_headers_and_both_languages,
    rotated_keys_are_prepublished_and_old_tokens_stay_valid,
    expired_sessions_and_their_tokens_are_purged,
    over_https_cookies_are_host_prefixed_and_hsts_is_sent,
);

async fn health_readiness_and_metrics_answer(db: Db) {
    let app = spawn_app(db).await;
    assert_eq!(
        reqwest::get(app.url("/healthz")).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        reqwest::get(app.url("/readyz")).await.unwrap().status(),
        StatusCode::OK
    );
    let r = reqwest::get(app.url("/jwks")).await.unwrap();
    assert!(r.headers().get("x-request-id").is_some());
    let m = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        m.contains(
            "mpsv_idp_http_requests_total{endpoint=\"/jwks\",method=\"GET\",status=\"200\"} 1"
        ),
        "{m}"
    );
    assert!(m.contains("mpsv_idp_http_request_duration_seconds_bucket{endpoint=\"/jwks\""));
}

async fn pages_carry_security_headers_and_both_languages(db: Db) {
    let app = spawn_app(db).await;
    let s = app.register(ClientSpec::confidential("poskytovatel")).await;
    let rp = app.rp("poskytovatel", s).await;
    let flow = start_flow(&rp, &[("ui_locales", "en")]);
    let r = app.browser.get(&flow.url).send().await.unwrap();
    let login = location(r.headers());
    let r = app.browser.get(app.url(&login)).send().await.unwrap();
    let h = r.headers().clone();
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"));
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["cache-control"], "no-store");
    let cookie = h["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    let html = r.text().await.unwrap();
    assert!(html.contains("<html lang=\"en\">") && html.contains("Sign in"));
    assert!(html.contains("<label for=\"username\">Username</label>"));
    let r = app
        .browser
        .get(app.url(&login.replace("lang=en", "lang=cs")))
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    assert!(html.contains("<html lang=\"cs\">") && html.contains("Uživatelské jméno"));
}

async fn rotated_keys_are_prepublished_and_old_tokens_stay_valid(db: Db) {
    let app = spawn_app(db).await;
    let s = app.register(ClientSpec::confidential("poskytovatel")).await;
    app.add_user("jana.novakova").await;
    let rp = app.rp("poskytovatel", s.clone()).await;
    let (_, before) = app.code_flow(&rp, "jana.novakova").await;
    let old_kid = decode_header(before.access_token().secret())["kid"]
        .as_str()
        .unwrap()
        .to_owned();

    // Pre-publish: the next key is in JWKS but does not sign yet.
    let next = app.state.keys.rotate(SigningAlg::RS256, 3600).unwrap();
    let jwks = reqwest::get(app.url("/jwks"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(jwks.contains(&next.kid) && jwks.contains(&old_kid));
    assert_eq!(
        app.state.keys.current(SigningAlg::RS256).unwrap().meta.kid,
        old_kid
    );

    // A rotation with no delay signs at once; the old key stays published and its tokens valid.
    let now_key = app.state.keys.rotate(SigningAlg::RS256, 0).unwrap();
    let rp = app.rp("poskytovatel", s).await;
    let flow = start_flow(&rp, &[]);
    let r = app.browser.get(&flow.url).send().await.unwrap();
    let after = app.redeem(&rp, &flow, &location(r.headers())).await;
    assert_eq!(
        decode_header(after.access_token().secret())["kid"],
        now_key.kid
    );
    after
        .id_token()
        .unwrap()
        .claims(&rp.id_token_verifier(), &flow.nonce)
        .expect("new key verifies");
    let jwks = reqwest::get(app.url("/jwks"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(jwks.contains(&old_kid), "retired key still published");
    let info: CoreUserInfoClaims = rp
        .user_info(before.access_token().clone(), None)
        .unwrap()
        .request_async(&rp_http())
        .await
        .expect("a token signed by the retired key is still valid");
    assert!(info.subject().as_str().len() > 10);
}

async fn expired_sessions_and_their_tokens_are_purged(db: Db) {
    let app = spawn_app(db).await;
    let s = app.register(ClientSpec::confidential("poskytovatel")).await;
    app.add_user("jana.novakova").await;
    let rp = app.rp("poskytovatel", s).await;
    app.code_flow(&rp, "jana.novakova").await;
    let pool = app.state.storage.pool();
    let count = |table: &'static str| async move {
        let sql = match table {
            "sessions" => "SELECT COUNT(*) FROM sessions",
            "token_families" => "SELECT COUNT(*) FROM token_families",
            _ => "SELECT COUNT(*) FROM refresh_tokens",
        };
        let (n,): (i64,) = sqlx::query_as(sql).fetch_one(pool).await.unwrap();
        n
    };
    let now = mpsv_idp::secrets::now();
    // Nothing live is removed.
    app.state.storage.purge_expired(now).await.unwrap();
    assert_eq!(
        (
            count("sessions").await,
            count("token_families").await,
            count("refresh_tokens").await
        ),
        (1, 1, 1)
    );
    // Once the session's absolute lifetime is over, it goes with its tokens.
    app.state
        .storage
        .purge_expired(now + 11 * 3600)
        .await
        .unwrap();
    assert_eq!(
        (
            count("sessions").await,
            count("token_families").await,
            count("refresh_tokens").await
        ),
        (0, 0, 0)
    );
}

async fn over_https_cookies_are_host_prefixed_and_hsts_is_sent(db: Db) {
    // The issuer says https (a TLS-terminating proxy in front); the test talks plain HTTP.
    let app = spawn_app_with(db, |c| c.issuer = c.issuer.replace("http://", "https://")).await;
    app.register(ClientSpec::confidential("poskytovatel")).await;
    let plain = reqwest::get(app.url("/healthz")).await.unwrap();
    assert_eq!(
        plain.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
    let r = app
        .browser
        .get(app.url(&format!(
            "/authorize?client_id=poskytovatel&response_type=code&scope=openid&redirect_uri={}&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
            crate::code_flow::urlencode(REDIRECT)
        )))
        .send()
        .await
        .unwrap();
    let login = location(r.headers());
    let r = app.browser.get(app.url(&login)).send().await.unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("__Host-mpsv_csrf="), "{cookie}");
    assert!(cookie.contains("; Secure") && cookie.contains("Path=/") && !cookie.contains("Domain"));
}
