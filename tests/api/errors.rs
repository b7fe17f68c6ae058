//! Every malformed or hostile request gets the RFC's error, in the place the RFC says, and
//! never a 500 or a redirect to an unverified URI.

use reqwest::StatusCode;
use serde_json::Value;

use crate::code_flow::urlencode;
use crate::db_test;
use crate::helpers::*;

db_test!(
    unknown_client_and_unregistered_redirect_uri_get_a_page_not_a_redirect,
    errors_after_the_redirect_uri_is_verified_go_back_to_the_client,
    prompt_none_without_a_session_is_login_required,
    token_endpoint_errors_follow_rfc_6749,
    wrong_pkce_verifier_expired_code_and_mismatched_redirect_are_invalid_grant,
    login_failures_do_not_reveal_whether_the_account_exists,
    the_login_form_requires_its_csrf_token,
    hostile_input_never_gets_a_500,
);

async fn authorize(app: &TestApp, query: &str) -> reqwest::Response {
    app.browser
        .get(app.url(&format!("/authorize?{query}")))
        .send()
        .await
        .unwrap()
}

const PKCE: &str =
    "code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256";

async fn unknown_client_and_unregistered_redirect_uri_get_a_page_not_a_redirect(db: Db) {
    let app = spawn_app(db).await;
    app.register(ClientSpec::confidential("poskytovatel")).await;
    let cb = urlencode(REDIRECT);
    for q in [
        format!("client_id=nikdo&response_type=code&scope=openid&redirect_uri={cb}&{PKCE}"),
        format!(
            "client_id=poskytovatel&response_type=code&scope=openid&redirect_uri={}&{PKCE}",
            urlencode("https://evil.example/cb")
        ),
        format!(
            "client_id=poskytovatel&response_type=code&scope=openid&redirect_uri={}&{PKCE}",
            urlencode("http://127.0.0.1:9/cb/")
        ),
        format!("client_id=poskytovatel&response_type=code&scope=openid&{PKCE}"),
        format!("response_type=code&scope=openid&redirect_uri={cb}"),
        format!(
            "client_id=poskytovatel&client_id=poskytovatel&response_type=code&redirect_uri={cb}"
        ),
    ] {
        let r = authorize(&app, &q).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{q}");
        assert!(r.headers().get("location").is_none(), "{q}");
        let html = r.text().await.unwrap();
        assert!(html.contains("<html lang=\"cs\">"), "{html}");
    }
}

async fn errors_after_the_redirect_uri_is_verified_go_back_to_the_client(db: Db) {
    let app = spawn_app(db).await;
    let mut spec = ClientSpec::confidential("robot");
    spec.grant_types = vec!["client_credentials"];
    app.register(spec).await;
    let mut spec = ClientSpec::confidential("robot-code");
    spec.grant_types = vec!["authorization_code", "client_credentials"];
    app.register(spec).await;
    app.register(ClientSpec::confidential("poskytovatel")).await;
    let cb = urlencode(REDIRECT);
    let base = format!("client_id=poskytovatel&redirect_uri={cb}&state=st");
    let cases = [
        (format!("{base}&response_type=token&scope=openid&{PKCE}"), "unsupported_response_type"),
        (format!("{base}&scope=openid&{PKCE}"), "invalid_request"),
        (format!("{base}&response_type=code&scope=openid%20admin&{PKCE}"), "invalid_scope"),
        (format!("{base}&response_type=code&{PKCE}"), "invalid_scope"),
        (format!("{base}&response_type=code&scope=openid"), "invalid_request"),
        (format!("{base}&response_type=code&scope=openid&code_challenge=abc&code_challenge_method=plain"), "invalid_request"),
        (format!("{base}&response_type=code&scope=openid&{PKCE}&prompt=none%20login"), "invalid_request"),
        (format!("{base}&response_type=code&scope=openid&{PKCE}&max_age=-1"), "invalid_request"),
        (format!("{base}&response_type=code&scope=openid&{PKCE}&request=eyJ"), "invalid_request_object"),
        (format!("{base}&response_type=code&scope=openid&{PKCE}&request_uri=urn%3Ax"), "request_uri_not_supported"),
        (format!("{base}&response_type=code&scope=openid&{PKCE}&response_mode=fragment"), "invalid_request"),
        (format!("{base}&response_type=code&scope=openid&{PKCE}&id_token_hint=garbage"), "invalid_request"),
        (format!("client_id=robot&redirect_uri={cb}&state=st&response_type=code&scope=openid&{PKCE}"), "unauthorized_client"),
    ];
    for (q, expected) in cases {
        let r = authorize(&app, &q).await;
        if expected == "unauthorized_client" {
            // robot has no redirect URI registration for code; it is registered with one here.
        }
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{q}");
        let back = location(r.headers());
        assert!(back.starts_with(REDIRECT), "{back}");
        assert_eq!(param(&back, "error").as_deref(), Some(expected), "{q}");
        assert_eq!(param(&back, "state").as_deref(), Some("st"));
        assert_eq!(param(&back, "iss").as_deref(), Some(app.base.as_str()));
        assert!(param(&back, "code").is_none());
    }
}

async fn prompt_none_without_a_session_is_login_required(db: Db) {
    let app = spawn_app(db).await;
    let s = app.register(ClientSpec::confidential("poskytovatel")).await;
    let rp = app.rp("poskytovatel", s).await;
    let flow = start_flow(&rp, &[("prompt", "none")]);
    let r = app.browser.get(&flow.url).send().await.unwrap();
    let back = location(r.headers());
    assert_eq!(param(&back, "error").as_deref(), Some("login_required"));
    assert_eq!(
        param(&back, "state").as_deref(),
        Some(flow.csrf.secret().as_str())
    );
}

async fn token_endpoint_errors_follow_rfc_6749(db: Db) {
    let app = spawn_app(db).await;
    let s = app
        .register(ClientSpec::confidential("poskytovatel"))
        .await
        .unwrap();
    let token = |form: Vec<(&'static str, &'static str)>, secret: String| {
        let app = &app;
        async move {
            app.post_basic("/token", "poskytovatel", &secret, &form)
                .await
        }
    };
    // Wrong secret: 401 invalid_client with a Basic challenge.
    let r = token(
        vec![("grant_type", "authorization_code"), ("code", "x")],
        "wrong".into(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
    // Unknown client: the same answer.
    let r = app
        .post_basic(
            "/token",
            "nikdo",
            "x",
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
    for (form, status, error) in [
        (
            vec![("grant_type", "password")],
            400,
            "unsupported_grant_type",
        ),
        (vec![("code", "x")], 400, "invalid_request"),
        (
            vec![("grant_type", "authorization_code")],
            400,
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("code", "nonexistent"),
            ],
            400,
            "invalid_grant",
        ),
        (
            vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", "nonexistent"),
            ],
            400,
            "invalid_grant",
        ),
        (
            vec![("grant_type", "client_credentials")],
            400,
            "unauthorized_client",
        ),
        (
            vec![
                ("grant_type", "refresh_token"),
                ("grant_type", "refresh_token"),
            ],
            400,
            "invalid_request",
        ),
    ] {
        let r = token(form.clone(), s.clone()).await;
        assert_eq!(r.status().as_u16(), status, "{form:?}");
        assert_eq!(r.json::<Value>().await.unwrap()["error"], error, "{form:?}");
    }
    // Two authentication methods at once.
    let r = reqwest::Client::new()
        .post(app.url("/token"))
        .basic_auth("poskytovatel", Some(&s))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_secret", s.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
    // Not a form.
    let r = reqwest::Client::new()
        .post(app.url("/token"))
        .basic_auth("poskytovatel", Some(&s))
        .json(&serde_json::json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
    // The registered method must be used: client_secret_post for a basic client fails.
    let r = reqwest::Client::new()
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("client_id", "poskytovatel"),
            ("client_secret", s.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

async fn wrong_pkce_verifier_expired_code_and_mismatched_redirect_are_invalid_grant(db: Db) {
    let app = spawn_app(db).await;
    let s = app
        .register(ClientSpec::confidential("poskytovatel"))
        .await
        .unwrap();
    app.add_user("jana.novakova").await;
    let rp = app.rp("poskytovatel", Some(s.clone())).await;
    let flow = start_flow(&rp, &[]);
    let back = app.login(&flow.url, "jana.novakova").await;
    let mut next_code = {
        let mut first = Some(param(&back, "code").unwrap());
        move || first.take()
    };
    let code = next_code().unwrap();
    let good = flow.verifier.secret().clone();
    let wrong = "x".repeat(43);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![
                ("redirect_uri", REDIRECT),
                ("code_verifier", wrong.as_str()),
            ],
            "PKCE",
        ),
        (vec![("redirect_uri", REDIRECT)], "code_verifier is missing"),
        (
            vec![
                ("redirect_uri", "http://127.0.0.1:9/other"),
                ("code_verifier", good.as_str()),
            ],
            "redirect_uri",
        ),
    ];
    // Each failure spends the code, so get a fresh one (SSO, no form) per case.
    let mut code = code;
    for (extra, why) in cases {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
        ];
        form.extend(extra);
        let r = app.post_basic("/token", "poskytovatel", &s, &form).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{why}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "invalid_grant", "{why}");
        assert!(
            body["error_description"].as_str().unwrap().contains(why),
            "{body}"
        );
        let f = start_flow_with_verifier(&rp, &good);
        let r = app.browser.get(&f).send().await.unwrap();
        code = param(&location(r.headers()), "code").unwrap();
    }
    // An expired code.
    sqlx::query("UPDATE authorization_codes SET expires_at = 0")
        .execute(app.state.storage.pool())
        .await
        .unwrap();
    let r = app
        .post_basic(
            "/token",
            "poskytovatel",
            &s,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &good),
            ],
        )
        .await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("expired"));
}

/// An authorization URL for `rp` whose PKCE challenge matches `verifier`.
fn start_flow_with_verifier(rp: &Rp, verifier: &str) -> String {
    let challenge = openidconnect::PkceCodeChallenge::from_code_verifier_sha256(
        &openidconnect::PkceCodeVerifier::new(verifier.to_owned()),
    );
    let (url, _, _) = rp
        .authorize_url(
            openidconnect::core::CoreAuthenticationFlow::AuthorizationCode,
            openidconnect::CsrfToken::new_random,
            openidconnect::Nonce::new_random,
        )
        .set_pkce_challenge(challenge)
        .url();
    url.to_string()
}

async fn login_failures_do_not_reveal_whether_the_account_exists(db: Db) {
    let app = spawn_app(db).await;
    let s = app.register(ClientSpec::confidential("poskytovatel")).await;
    app.add_user("jana.novakova").await;
    app.add_user("zamceny.ucet").await;
    app.state
        .storage
        .set_account_status(
            &app.state
                .storage
                .account_by_username("zamceny.ucet")
                .await
                .unwrap()
                .unwrap()
                .sub,
            mpsv_idp::domain::account::AccountStatus::Locked,
        )
        .await
        .unwrap();
    let rp = app.rp("poskytovatel", s).await;
    let flow = start_flow(&rp, &[]);
    let (id, csrf, _) = app.open_login(&flow.url).await;
    let mut answers = Vec::new();
    for (user, pw) in [
        ("jana.novakova", "spatne-heslo-123"),
        ("neexistuje", "spatne-heslo-123"),
        ("zamceny.ucet", PASSWORD),
    ] {
        let r = app.submit_login(&id, &csrf, user, pw).await;
        let status = r.status();
        // The username is echoed back into the form; normalise it away.
        let body = r.text().await.unwrap().replace(user, "USER");
        answers.push((status, body));
    }
    assert_eq!(answers[0].0, StatusCode::OK);
    assert!(answers[0]
        .1
        .contains("Nesprávné uživatelské jméno nebo heslo."));
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[1], answers[2]);
    // The right password still works afterwards, with the same pending login.
    let r = app
        .submit_login(&id, &csrf, "jana.novakova", PASSWORD)
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

async fn the_login_form_requires_its_csrf_token(db: Db) {
    let app = spawn_app(db).await;
    let s = app.register(ClientSpec::confidential("poskytovatel")).await;
    app.add_user("jana.novakova").await;
    let rp = app.rp("poskytovatel", s).await;
    let flow = start_flow(&rp, &[]);
    let (id, csrf, html) = app.open_login(&flow.url).await;
    assert!(
        html.contains("autocomplete=\"username\"")
            && html.contains("autocomplete=\"current-password\"")
    );
    // Wrong token.
    let r = app
        .submit_login(&id, "forged", "jana.novakova", PASSWORD)
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Right token from another browser (no cookie).
    let r = browser()
        .post(app.url("/login"))
        .form(&[
            ("id", id.as_str()),
            ("csrf", csrf.as_str()),
            ("username", "jana.novakova"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // The real form still works.
    let (id, csrf, _) = app.open_login(&flow.url).await;
    let r = app
        .submit_login(&id, &csrf, "jana.novakova", PASSWORD)
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // A finished login cannot be replayed.
    let r = app
        .submit_login(&id, &csrf, "jana.novakova", PASSWORD)
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

async fn hostile_input_never_gets_a_500(db: Db) {
    let app = spawn_app(db).await;
    let s = app
        .register(ClientSpec::confidential("poskytovatel"))
        .await
        .unwrap();
    let http = browser();
    let junk = [
        "", "%", "%zz", "a=%00", "client_id=%FF%FE", "redirect_uri=javascript:alert(1)",
        "client_id=poskytovatel&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&response_type=code&scope=%22%5C&state=%0d%0aSet-Cookie:x",
        &format!("client_id={}", "a".repeat(5000)),
        "max_age=99999999999999999999999",
    ];
    for q in junk {
        for path in [
            "/authorize",
            "/logout",
            "/login",
            "/userinfo",
            "/jwks",
            "/nonexistent",
        ] {
            let r = http
                .get(app.url(&format!("{path}?{q}")))
                .send()
                .await
                .unwrap();
            assert!(r.status().as_u16() < 500, "{path}?{q} -> {}", r.status());
        }
        for path in [
            "/token",
            "/revoke",
            "/introspect",
            "/login",
            "/authorize",
            "/logout",
            "/logout/confirm",
            "/userinfo",
        ] {
            let r = http
                .post(app.url(path))
                .header("content-type", "application/x-www-form-urlencoded")
                .basic_auth("poskytovatel", Some(&s))
                .body(q.to_owned())
                .send()
                .await
                .unwrap();
            assert!(
                r.status().as_u16() < 500,
                "POST {path} {q} -> {}",
                r.status()
            );
        }
    }
    for auth in [
        "Basic",
        "Basic %%%",
        "Bearer",
        "Bearer a.b.c",
        "Basic OmZvbw==",
        "Negotiate x",
    ] {
        for path in ["/token", "/userinfo", "/introspect", "/revoke"] {
            let r = http
                .post(app.url(path))
                .header("authorization", auth)
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials&token=x")
                .send()
                .await
                .unwrap();
            assert!(r.status().as_u16() < 500, "{path} {auth} -> {}", r.status());
        }
    }
    let r = http.get(app.url("/userinfo")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["www-authenticate"], "Bearer realm=\"mpsv-idp\"");
}
