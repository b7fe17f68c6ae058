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
    metrics_are_private_and_their_labels_bounded,
    pages_carry_security_headers_and_both_languages,
    rotated_keys_are_prepublished_and_old_tokens_stay_valid,
    expired_sessions_and_their_tokens_are_purged,
    over_https_cookies_are_host_prefixed_and_hsts_is_sent,
);

const METRICS_TOKEN: &str = "metrics-token-0123456789abcdef0123456789";

async fn health_readiness_and_metrics_answer(db: Db) {
    let app = spawn_app_with(db, |c| c.metrics.token = Some(METRICS_TOKEN.into())).await;
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
    let m = reqwest::Client::new()
        .get(app.url("/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
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

/// Issue 11.1: `/metrics` is not public by default, a token guards it on the main listener,
/// a separate listener serves it alone, and no request value becomes a new label.
async fn metrics_are_private_and_their_labels_bounded(db: Db) {
    let http = reqwest::Client::new();
    // Default: not served on the main listener at all.
    let app = spawn_app(db).await;
    let r = http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    drop(app);

    let app = spawn_app_with(db, |c| c.metrics.token = Some(METRICS_TOKEN.into())).await;
    for auth in [None, Some("Bearer wrong"), Some("Basic Zm9vOmJhcg==")] {
        let mut req = http.get(app.url("/metrics"));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
        assert!(r.headers().get("www-authenticate").is_some());
    }
    // Random methods and paths: each would have been a new series before.
    for i in 0..20 {
        let method = reqwest::Method::from_bytes(format!("RND{i}X").as_bytes()).unwrap();
        http.request(method, app.url(&format!("/no/such/{i}")))
            .send()
            .await
            .unwrap();
        http.request(
            reqwest::Method::from_bytes(format!("M{i}").as_bytes()).unwrap(),
            app.url("/jwks"),
        )
        .send()
        .await
        .unwrap();
    }
    let m = http
        .get(app.url("/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!m.contains("RND"), "{m}");
    assert!(!m.contains("/no/such"), "{m}");
    assert!(
        m.contains("mpsv_idp_http_requests_total{endpoint=\"unmatched\",method=\"other\",status=\"404\"} 20"),
        "{m}"
    );
    assert!(
        m.contains(
            "mpsv_idp_http_requests_total{endpoint=\"/jwks\",method=\"other\",status=\"405\"} 20"
        ),
        "{m}"
    );
    drop(app);

    // A separate listener serves the metrics alone, without a token.
    let app = spawn_app(db).await;
    http.get(app.url("/jwks")).send().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = mpsv_idp::app::metrics_router(app.state.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let r = http
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("mpsv_idp_http_requests_total"));
    let r = http
        .get(format!("http://{addr}/jwks"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
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
    use openidconnect::core::CoreJwsSigningAlgorithm as Theirs;
    for (alg, theirs) in [
        (SigningAlg::RS256, Theirs::RsaSsaPkcs1V15Sha256),
        (SigningAlg::EdDSA, Theirs::EdDsa),
    ] {
        rotation_keeps_tokens_valid(db, alg, theirs).await;
    }
}

async fn rotation_keeps_tokens_valid(
    db: Db,
    alg: SigningAlg,
    theirs: openidconnect::core::CoreJwsSigningAlgorithm,
) {
    let app = spawn_app(db).await;
    let mut spec = ClientSpec::confidential("poskytovatel");
    spec.id_token_alg = alg.as_str();
    spec.access_token_alg = alg.as_str();
    let s = app.register(spec).await;
    app.add_user("jana.novakova").await;
    let rp = app.rp("poskytovatel", s.clone()).await;
    let (_, before) = app.code_flow(&rp, "jana.novakova").await;
    let old_kid = decode_header(before.access_token().secret())["kid"]
        .as_str()
        .unwrap()
        .to_owned();

    // Pre-publish: the next key is in JWKS but does not sign yet.
    let next = app.state.keys.rotate(alg, 3600).await.unwrap();
    let jwks = reqwest::get(app.url("/jwks"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(jwks.contains(&next.kid) && jwks.contains(&old_kid));
    assert_eq!(app.state.keys.current(alg).unwrap().meta.kid, old_kid);

    // A rotation with no delay signs at once; the old key stays published and its tokens valid.
    let now_key = app.state.keys.rotate(alg, 0).await.unwrap();
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
        .claims(
            &rp.id_token_verifier().set_allowed_algs(vec![theirs]),
            &flow.nonce,
        )
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
