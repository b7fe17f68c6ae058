//! Pushed authorization requests (RFC 9126): the client pushes the request with its
//! credentials, the browser brings only `client_id` and the single-use `request_uri`.

use reqwest::StatusCode;
use serde_json::Value;

use crate::db_test;
use crate::helpers::*;

db_test!(
    a_pushed_request_signs_in_once,
    pushed_requests_are_checked_like_authorization_requests,
    a_request_uri_is_bound_to_its_client_and_expires,
    a_client_or_the_server_can_require_pushed_requests,
);

/// The authorization request's parameters as the RP library built them.
fn pushed_params(flow: &Flow) -> Vec<(String, String)> {
    flow_params(flow)
}

async fn push(
    app: &TestApp,
    client_id: &str,
    secret: &str,
    form: &[(String, String)],
) -> reqwest::Response {
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    app.post_basic("/par", client_id, secret, &form).await
}

fn authorize_url(app: &TestApp, client_id: &str, request_uri: &str) -> String {
    let mut u = url::Url::parse(&app.url("/authorize")).unwrap();
    u.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("request_uri", request_uri);
    u.to_string()
}

async fn request_uri(r: reqwest::Response) -> String {
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(
        r.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["expires_in"], 60);
    let uri = body["request_uri"].as_str().unwrap().to_owned();
    assert!(
        uri.starts_with("urn:ietf:params:oauth:request_uri:"),
        "{uri}"
    );
    uri
}

async fn a_pushed_request_signs_in_once(db: Db) {
    let app = spawn_app(db).await;
    let secret = app
        .register(ClientSpec::confidential("par-app"))
        .await
        .unwrap();
    app.add_user("jana.novakova").await;
    let rp = app.rp("par-app", Some(secret.clone())).await;

    let doc = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(
        doc["pushed_authorization_request_endpoint"],
        app.url("/par")
    );
    assert_eq!(doc["require_pushed_authorization_requests"], false);

    let flow = start_flow(&rp, &[]);
    let uri = request_uri(push(&app, "par-app", &secret, &pushed_params(&flow)).await).await;
    // The browser carries only the reference; the pushed parameters (state, PKCE, nonce) apply.
    let back = app
        .login(&authorize_url(&app, "par-app", &uri), "jana.novakova")
        .await;
    let tokens = app.redeem(&rp, &flow, &back).await;
    assert!(openidconnect::TokenResponse::id_token(&tokens).is_some());

    // Single use (RFC 9126 §4): the same reference again is refused, with a page (the
    // redirect URI it would name is not known without it).
    let r = app
        .browser
        .get(authorize_url(&app, "par-app", &uri))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("request_uri"));
}

async fn pushed_requests_are_checked_like_authorization_requests(db: Db) {
    let app = spawn_app(db).await;
    let secret = app
        .register(ClientSpec::confidential("par-app"))
        .await
        .unwrap();
    let other = app
        .register(ClientSpec::confidential("other-app"))
        .await
        .unwrap();
    let rp = app.rp("par-app", Some(secret.clone())).await;
    let good = pushed_params(&start_flow(&rp, &[]));
    let with = |name: &str, value: &str| {
        let mut p: Vec<(String, String)> =
            good.iter().filter(|(k, _)| k != name).cloned().collect();
        p.push((name.into(), value.into()));
        p
    };
    let error = |r: reqwest::Response| async move {
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        (status, body["error"].as_str().unwrap_or("").to_owned())
    };

    // Client authentication as at the token endpoint.
    let r = push(&app, "par-app", "wrong-secret", &good).await;
    assert_eq!(
        error(r).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );
    // §2.1: no request_uri inside a pushed request.
    let r = push(&app, "par-app", &secret, &with("request_uri", "urn:x")).await;
    assert_eq!(
        error(r).await,
        (StatusCode::BAD_REQUEST, "invalid_request".into())
    );
    // The body's client_id is the authenticated client's.
    let r = push(&app, "other-app", &other, &good).await;
    assert_eq!(
        error(r).await,
        (StatusCode::BAD_REQUEST, "invalid_request".into())
    );
    // The authorization endpoint's rules, answered in JSON (§2.3).
    let r = push(
        &app,
        "par-app",
        &secret,
        &with("redirect_uri", "https://evil.example/cb"),
    )
    .await;
    assert_eq!(
        error(r).await,
        (StatusCode::BAD_REQUEST, "invalid_request".into())
    );
    let r = push(&app, "par-app", &secret, &with("scope", "openid admin")).await;
    assert_eq!(
        error(r).await,
        (StatusCode::BAD_REQUEST, "invalid_scope".into())
    );
    let r = push(&app, "par-app", &secret, &with("response_type", "token")).await;
    assert_eq!(
        error(r).await,
        (StatusCode::BAD_REQUEST, "unsupported_response_type".into())
    );
    // A request object must be signed with the client's keys (RFC 9101, tests/api/jar.rs).
    let r = push(&app, "par-app", &secret, &with("request", "e30.e30.")).await;
    assert_eq!(
        error(r).await,
        (StatusCode::BAD_REQUEST, "invalid_request_object".into())
    );
    // With HTTP Basic the body may leave client_id out.
    let without: Vec<(String, String)> = good
        .iter()
        .filter(|(k, _)| k != "client_id")
        .cloned()
        .collect();
    request_uri(push(&app, "par-app", &secret, &without).await).await;
}

async fn a_request_uri_is_bound_to_its_client_and_expires(db: Db) {
    let app = spawn_app(db).await;
    let secret = app
        .register(ClientSpec::confidential("par-app"))
        .await
        .unwrap();
    app.register(ClientSpec::confidential("other-app")).await;
    app.add_user("jana.novakova").await;
    let rp = app.rp("par-app", Some(secret.clone())).await;
    let flow = start_flow(&rp, &[]);
    let uri = request_uri(push(&app, "par-app", &secret, &pushed_params(&flow)).await).await;

    // Another client cannot use (nor spend) it.
    let r = app
        .browser
        .get(authorize_url(&app, "other-app", &uri))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Only references from our PAR endpoint.
    let r = app
        .browser
        .get(authorize_url(
            &app,
            "par-app",
            "https://rp.example/request.jwt",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Its own client still can.
    let back = app
        .login(&authorize_url(&app, "par-app", &uri), "jana.novakova")
        .await;
    app.redeem(&rp, &flow, &back).await;

    // An expired reference is refused (and taken away).
    let reference = mpsv_idp::secrets::PlainToken::generate();
    app.state
        .storage
        .insert_pushed_request(
            &reference.hashed(),
            "par-app",
            "client_id=par-app&response_type=code",
            mpsv_idp::secrets::now() - 1,
        )
        .await
        .unwrap();
    let expired = format!("urn:ietf:params:oauth:request_uri:{}", reference.expose());
    let r = app
        .browser
        .get(authorize_url(&app, "par-app", &expired))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

async fn a_client_or_the_server_can_require_pushed_requests(db: Db) {
    let app = spawn_app(db).await;
    let mut spec = ClientSpec::confidential("fapi-app");
    spec.require_par = true;
    let secret = app.register(spec).await.unwrap();
    app.add_user("jana.novakova").await;
    let rp = app.rp("fapi-app", Some(secret.clone())).await;

    // A plain request is refused back to the client (RFC 9126 §6).
    let flow = start_flow(&rp, &[]);
    let r = app.browser.get(&flow.url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let back = location(r.headers());
    assert_eq!(param(&back, "error").as_deref(), Some("invalid_request"));
    // Pushed, it goes through.
    let uri = request_uri(push(&app, "fapi-app", &secret, &pushed_params(&flow)).await).await;
    let back = app
        .login(&authorize_url(&app, "fapi-app", &uri), "jana.novakova")
        .await;
    app.redeem(&rp, &flow, &back).await;

    // The server-wide setting, advertised in discovery (§5).
    let strict = spawn_app_with(db, |c| {
        c.protocol.require_pushed_authorization_requests = true
    })
    .await;
    let doc = strict.get_json("/.well-known/openid-configuration").await;
    assert_eq!(doc["require_pushed_authorization_requests"], true);
    let secret = strict
        .register(ClientSpec::confidential("plain-app"))
        .await
        .unwrap();
    let rp = strict.rp("plain-app", Some(secret)).await;
    let flow = start_flow(&rp, &[]);
    let r = strict.browser.get(&flow.url).send().await.unwrap();
    let back = location(r.headers());
    assert_eq!(param(&back, "error").as_deref(), Some("invalid_request"));
}
