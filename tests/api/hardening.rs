//! Issue 11: the security review's findings, one regression test each (both databases).

use mpsv_idp::domain::account::Role;
use mpsv_idp::domain::totp::{code_at, step_at, TotpSecret};
use mpsv_idp::secrets::now;
use reqwest::StatusCode;

use crate::accounts::{follow, password_step, post_form, recovery_codes, setup, sql};
use crate::db_test;
use crate::helpers::*;

db_test!(
    a_login_parked_at_enrolment_cannot_pass_or_replace_a_factor_enrolled_meanwhile,
    recovery_codes_are_long_and_stored_keyed,
    the_demo_never_overwrites_real_clients_and_can_be_listed_and_removed,
    refresh_dies_with_the_session_and_with_the_account,
    introspection_releases_the_username_only_with_the_profile_scope,
    a_disabled_client_loses_its_tokens_and_client_changes_are_audited_with_details,
    administrators_cannot_register_operator_clients_nor_oversized_lifetimes,
    new_password_checks_are_rate_limited_per_account,
    token_errors_carry_only_nqschar_and_basic_failures_a_challenge,
    the_password_rules_name_the_configured_history,
    acr_values_for_mfa_are_honoured_and_discovery_promises_only_what_is_done,
    private_key_jwt_assertions_name_only_us_and_are_not_from_the_future,
    behind_a_trusted_proxy_each_client_address_has_its_own_limit,
    a_node_with_another_data_key_refuses_to_start,
    one_address_can_hold_only_so_many_pending_logins,
    an_action_whose_audit_record_cannot_be_written_does_not_happen,
    admin_api_answers_are_never_cached,
    logout_and_new_recovery_codes_are_audited,
    the_forgot_answer_does_not_depend_on_the_accounts_work,
    an_operator_clients_secret_is_not_rotated_by_administrators,
    a_wrong_data_key_on_an_old_database_does_not_lock_out_the_right_one,
    a_privileged_forced_change_goes_on_to_enrolment,
    a_login_burst_spread_over_two_nodes_gets_no_more_attempts_than_one,
);

/// Issue 12.3: the per-address limits are kept in the database: attempts alternating between
/// two nodes of one IdP are counted together.
async fn a_login_burst_spread_over_two_nodes_gets_no_more_attempts_than_one(db: Db) {
    let a = spawn_app_with(db, |c| c.limits.login_per_minute = 4).await;
    let b = spawn_node(&a).await;
    let rp = setup(&a, "jana.novakova").await;
    let flow = start_flow(&rp, &[]);
    let (id, csrf, _) = a.open_login(&flow.url).await;
    let mut statuses = Vec::new();
    for i in 0..6 {
        let node = if i % 2 == 0 { &a } else { &b };
        // The same browser (cookies are per host, not per port) at either node.
        statuses.push(node.submit_login(&id, &csrf, "x", "y").await.status());
    }
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((ok, limited), (4, 2), "{statuses:?}");
}

/// 11.10 (review): rotating an operator client's secret would hand an administrator operator
/// powers: refused through the API; the CLI (Via::Cli) may.
async fn an_operator_clients_secret_is_not_rotated_by_administrators(db: Db) {
    use reqwest::Method;
    let app = spawn_app(db).await;
    let admin = crate::admin::token(&app, "automation", &["admin:administrator"]).await;
    crate::admin::token(&app, "operator-robot", &["admin:operator"]).await;
    let (status, body, _) = crate::admin::call(
        &app,
        Some(&admin),
        Method::POST,
        "/clients/operator-robot/secret",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(mpsv_idp::services::clients::rotate_secret(
        app.state.services(),
        "cli:test",
        "operator-robot",
        mpsv_idp::services::Via::Cli
    )
    .await
    .is_ok());
}

/// 11.16 (review): on a database that has TOTP secrets but no check value yet, a node with
/// the wrong key refuses to start without storing its own check value, so the right key
/// still starts afterwards.
async fn a_wrong_data_key_on_an_old_database_does_not_lock_out_the_right_one(db: Db) {
    let app = spawn_app(db).await;
    let rp = setup(&app, "jana.novakova").await;
    app.code_flow(&rp, "jana.novakova").await;
    crate::accounts::enrol_on_account_page(&app).await;
    sql(&app, "DELETE FROM key_checks").await;
    let other = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&app.state.config.key_dir).unwrap() {
        let p = entry.unwrap().path();
        if p.file_name().unwrap() != "data.key" {
            std::fs::copy(&p, other.path().join(p.file_name().unwrap())).unwrap();
        }
    }
    let mut wrong = app.state.config.clone();
    wrong.key_dir = other.path().to_owned();
    assert!(mpsv_idp::app::AppState::build(wrong).await.is_err());
    assert_eq!(count(&app, "SELECT COUNT(*) FROM key_checks").await, 0);
    assert!(mpsv_idp::app::AppState::build(app.state.config.clone())
        .await
        .is_ok());
}

/// Review: an administrator with an initial password changes it at login and goes on to the
/// TOTP enrolment of the same login (the change no longer deletes the login it happens in).
async fn a_privileged_forced_change_goes_on_to_enrolment(db: Db) {
    let app = spawn_app(db).await;
    let rp = setup(&app, "spravce.mpsv").await;
    sql(
        &app,
        &format!(
            "UPDATE accounts SET role = '{}', must_change_password = 1",
            Role::Administrator.as_str()
        ),
    )
    .await;
    let (r, _) = password_step(&app, &rp, "spravce.mpsv", PASSWORD).await;
    assert!(location(r.headers()).starts_with("/login/password?"));
    let html = follow(&app, &r).await;
    let new = "Nové-dlouhé-heslo-správce-2026";
    let r = post_form(
        &app,
        "/login/password",
        &[
            ("id", &hidden(&html, "id")),
            ("csrf", &hidden(&html, "csrf")),
            ("new", new),
            ("confirm", new),
        ],
    )
    .await;
    assert!(location(r.headers()).starts_with("/login/totp?"), "{r:?}");
    let html = follow(&app, &r).await;
    assert!(html.contains("Správci a operátoři se musí přihlašovat dvěma faktory"));
}

/// 11.6: every answer of the administration API carries `Cache-Control: no-store`.
async fn admin_api_answers_are_never_cached(db: Db) {
    use reqwest::Method;
    let app = spawn_app(db).await;
    let admin = crate::admin::token(&app, "automation", &["admin:administrator"]).await;
    for (method, path, body) in [
        (Method::GET, "/admin/api/v1/clients", None),
        (
            Method::POST,
            "/admin/api/v1/clients",
            Some(serde_json::json!({"client_id": "robot", "name": "Robot",
                "grant_types": ["client_credentials"]})),
        ),
        (Method::POST, "/admin/api/v1/clients/robot/secret", None),
        (Method::GET, "/admin/api/v1/persons?q=x", None),
        (Method::GET, "/admin/api/v1/no-such-thing", None),
    ] {
        let mut req = reqwest::Client::new()
            .request(method.clone(), app.url(path))
            .bearer_auth(&admin);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        assert_eq!(
            r.headers()
                .get("cache-control")
                .map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{method} {path}: {}",
            r.status()
        );
    }
}

/// 11.15: RP-initiated logout and the regeneration of recovery codes leave audit records.
async fn logout_and_new_recovery_codes_are_audited(db: Db) {
    let app = spawn_app(db).await;
    let rp = setup(&app, "jana.novakova").await;
    let (_, tokens) = app.code_flow(&rp, "jana.novakova").await;
    crate::accounts::enrol_on_account_page(&app).await;
    let html = page(&app, "/account").await;
    let r = post_form(
        &app,
        "/account/recovery-codes",
        &[("csrf", &hidden(&html, "csrf")), ("current", PASSWORD)],
    )
    .await;
    assert_eq!(recovery_codes(&r.text().await.unwrap()).len(), 10);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE event = 'totp.recovery_codes_regenerated'"
        )
        .await,
        1
    );
    let hint = openidconnect::TokenResponse::id_token(&tokens)
        .unwrap()
        .to_string();
    let r = app
        .browser
        .get(app.url(&format!("/logout?id_token_hint={hint}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (details,): (String,) = sqlx::query_as(
        "SELECT details FROM audit_log WHERE event = 'session.ended' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(app.state.storage.pool())
    .await
    .unwrap();
    let d: serde_json::Value = serde_json::from_str(&details).unwrap();
    assert_eq!(d["reason"], "rp_initiated_logout");
    assert_eq!(d["client_id"], "poskytovatel");
}

/// 11.14: what the forgot-password form answers does not depend on the work done for an
/// existing account: even when that work fails (here the audit log refuses records), an
/// existing account gets the same answer as an unknown one.
async fn the_forgot_answer_does_not_depend_on_the_accounts_work(db: Db) {
    let app = spawn_app(db).await;
    setup(&app, "jana.novakova").await;
    refuse_audit_records(&app, db).await;
    let mut answers = Vec::new();
    for login in ["jana.novakova", "nikdo.takovy"] {
        let b = TestApp::with_browser(&app);
        let html = page(&b, "/password/forgot").await;
        let r = post_form(
            &b,
            "/password/forgot",
            &[("csrf", &hidden(&html, "csrf")), ("login", login)],
        )
        .await;
        answers.push((r.status(), r.text().await.unwrap()));
    }
    assert_eq!(answers[0].0, StatusCode::OK);
    assert_eq!(answers[0], answers[1]);
}

/// 11.15: an action and its audit record commit together. With the audit log refusing
/// inserts (a trigger), registering an organisation, recording a consent (with its new person)
/// or registering a client leaves nothing behind.
async fn an_action_whose_audit_record_cannot_be_written_does_not_happen(db: Db) {
    use mpsv_idp::domain::client::Application;
    use mpsv_idp::domain::date::Date;
    use mpsv_idp::domain::organisation::{Ico, Organisation, OrganisationKind, Seat};
    use mpsv_idp::domain::person::{ConsentForm, Person};
    use mpsv_idp::registry::{self, consents::Consenter};
    let app = spawn_app(db).await;
    let org = |ico: &str| {
        Organisation::new(
            Ico::parse(ico).unwrap(),
            "Spolek",
            "spolek",
            Seat::parse("Husova 8", "Olomouc", "779 00").unwrap(),
            OrganisationKind {
                social_service_provider: true,
                nno_family_support: false,
            },
        )
        .unwrap()
    };
    let first = org("27712346");
    registry::organisations::create(&app.state, "op", &first)
        .await
        .unwrap();
    // From here the audit log refuses every record.
    refuse_audit_records(&app, db).await;
    assert!(
        registry::organisations::create(&app.state, "op", &org("26543214"))
            .await
            .is_err()
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM organisations").await, 1);
    let person = Person::new("Jiří", "Šťastný", Some("jiri@example.cz")).unwrap();
    let d = Date::parse("2026-11-02").unwrap();
    let paper = ConsentForm::new(d, d.add_days(3), "MPSV-1/2026").unwrap();
    assert!(registry::consents::record(
        &app.state,
        "op",
        Consenter::New(&person),
        &first.id,
        Application::Poskytovatel,
        &paper,
    )
    .await
    .is_err());
    assert_eq!(count(&app, "SELECT COUNT(*) FROM persons").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM consents").await, 0);
    let (client, _) = mpsv_idp::cli::client_from_args(mpsv_idp::cli::ClientArgs {
        client_id: "robot".into(),
        name: "Robot".into(),
        redirect_uris: vec![],
        post_logout_redirect_uris: vec![],
        backchannel_logout_uri: None,
        auth_method: "client_secret_basic".into(),
        grant_types: vec!["client_credentials".into()],
        scopes: vec![],
        application: None,
        id_token_alg: "RS256".into(),
        access_token_alg: "RS256".into(),
        jwks_file: None,
        no_pkce: false,
        require_par: false,
        require_signed_request: false,
        dpop: false,
        fapi2: false,
        access_token_ttl: None,
        refresh_token_ttl: None,
        secret: None,
    })
    .unwrap();
    assert!(mpsv_idp::services::clients::create(
        app.state.services(),
        "admin",
        &client,
        mpsv_idp::services::Via::Staff
    )
    .await
    .is_err());
    assert_eq!(count(&app, "SELECT COUNT(*) FROM clients").await, 0);
}

/// 11.8: every visit without a session parks a login row; one client address may hold only
/// `limits.pending_logins_per_address` at once, and expired ones are purged.
async fn one_address_can_hold_only_so_many_pending_logins(db: Db) {
    let app = spawn_app_with(db, |c| {
        c.limits.pending_logins_per_address = 3;
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let visit = |from: &'static str| {
        let app = &app;
        async move {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap()
                .get(app.url("/account"))
                .header("x-forwarded-for", from)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    for _ in 0..3 {
        assert_eq!(visit("203.0.113.1").await, StatusCode::SEE_OTHER);
    }
    assert_eq!(visit("203.0.113.1").await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        visit("203.0.113.2").await,
        StatusCode::SEE_OTHER,
        "another address"
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM login_requests").await, 4);
    // Abandoned logins expire and the upkeep purges them; the address may log in again.
    sql(&app, "UPDATE login_requests SET expires_at = 1").await;
    app.state.storage.purge_expired(now()).await.unwrap();
    assert_eq!(count(&app, "SELECT COUNT(*) FROM login_requests").await, 0);
    assert_eq!(visit("203.0.113.1").await, StatusCode::SEE_OTHER);
}

/// 11.16: a node whose `data.key` differs from the one the database was sealed with does not
/// start (it would seal TOTP secrets the others cannot open); with the same key it does.
async fn a_node_with_another_data_key_refuses_to_start(db: Db) {
    let app = spawn_app(db).await;
    let other = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&app.state.config.key_dir).unwrap() {
        let p = entry.unwrap().path();
        if p.file_name().unwrap() != "data.key" {
            std::fs::copy(&p, other.path().join(p.file_name().unwrap())).unwrap();
        }
    }
    let mut config = app.state.config.clone();
    config.key_dir = other.path().to_owned();
    let err = mpsv_idp::app::AppState::build(config.clone())
        .await
        .err()
        .expect("a node with another data key must not start");
    assert!(
        format!("{err:#}").contains("data.key does not match"),
        "{err:#}"
    );
    // The same key: starts.
    std::fs::copy(
        app.state.config.key_dir.join("data.key"),
        other.path().join("data.key"),
    )
    .unwrap();
    assert!(mpsv_idp::app::AppState::build(config).await.is_ok());
}

/// 11.17: behind a trusted proxy, forwarded addresses with ports give each client its own
/// rate-limit bucket instead of the proxy's shared one; only the header the proxies are
/// configured to set is read (a client's own `Forwarded` past an X-Forwarded-For proxy is not).
async fn behind_a_trusted_proxy_each_client_address_has_its_own_limit(db: Db) {
    use mpsv_idp::config::ForwardedHeader;
    for header in [ForwardedHeader::XForwardedFor, ForwardedHeader::Forwarded] {
        let app = spawn_app_with(db, |c| {
            c.limits.login_per_minute = 2;
            c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
            c.forwarded_header = header;
        })
        .await;
        let rp = setup(&app, "jana.novakova").await;
        let flow = start_flow(&rp, &[]);
        let (id, csrf, _) = app.open_login(&flow.url).await;
        let attempt = |name: &'static str, value: &'static str| {
            let (id, csrf) = (id.clone(), csrf.clone());
            let app = &app;
            async move {
                app.browser
                    .post(app.url("/login"))
                    .header(name, value)
                    .form(&[
                        ("id", id.as_str()),
                        ("csrf", csrf.as_str()),
                        ("username", "x"),
                        ("password", "y"),
                    ])
                    .send()
                    .await
                    .unwrap()
                    .status()
            }
        };
        let (ok, limited) = (StatusCode::OK, StatusCode::TOO_MANY_REQUESTS);
        match header {
            ForwardedHeader::XForwardedFor => {
                assert_eq!(attempt("x-forwarded-for", "203.0.113.1:1111").await, ok);
                assert_eq!(attempt("x-forwarded-for", "203.0.113.1:2222").await, ok);
                assert_eq!(
                    attempt("x-forwarded-for", "203.0.113.1:3333").await,
                    limited,
                    "the same client, whatever its port"
                );
                assert_eq!(
                    attempt("x-forwarded-for", "203.0.113.2:1111").await,
                    ok,
                    "another client"
                );
                // A client's own `Forwarded` is not believed: all three count for the proxy.
                assert_eq!(attempt("forwarded", "for=198.51.100.1").await, ok);
                assert_eq!(attempt("forwarded", "for=198.51.100.2").await, ok);
                assert_eq!(attempt("forwarded", "for=198.51.100.3").await, limited);
            }
            ForwardedHeader::Forwarded => {
                assert_eq!(
                    attempt("forwarded", "for=\"[2001:db8::5]:4711\";proto=https").await,
                    ok
                );
                assert_eq!(attempt("forwarded", "for=\"[2001:db8::5]:1\"").await, ok);
                assert_eq!(attempt("forwarded", "for=2001:db8::5").await, limited);
                assert_eq!(attempt("forwarded", "for=198.51.100.9:80").await, ok);
            }
        }
    }
}

/// 11.13: a client assertion's `aud` is the issuer or the token endpoint alone (a string, or
/// an array of just that); `iat` is required and not in the future, `nbf` respected; the
/// advertised algorithms are exactly those accepted (ES384 included).
async fn private_key_jwt_assertions_name_only_us_and_are_not_from_the_future(db: Db) {
    use josekit::jwk::alg::ec::{EcCurve, EcKeyPair};
    use josekit::jws::{JwsHeader, ES384};
    use serde_json::json;
    let app = spawn_app(db).await;
    let d = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(
        d["token_endpoint_auth_signing_alg_values_supported"],
        json!(["RS256", "PS256", "ES256", "ES384", "EdDSA"])
    );
    let key = EcKeyPair::generate(EcCurve::P384).unwrap();
    let mut jwk = key.to_jwk_public_key();
    jwk.set_key_id("k1");
    // No `alg` in the JWK: its curve (P-384) says ES384.
    let jwks = json!({ "keys": [serde_json::Value::Object(jwk.as_ref().clone())] }).to_string();
    let mut spec = ClientSpec::confidential("robot-jwt");
    spec.auth_method = "private_key_jwt";
    spec.grant_types = vec!["client_credentials"];
    spec.jwks = Some(jwks);
    app.register(spec).await;
    let token_url = app.url("/token");
    let t = now();
    let mut n = 0;
    let mut post = |extra: serde_json::Value| {
        n += 1;
        let mut claims = json!({"iss": "robot-jwt", "sub": "robot-jwt", "aud": token_url,
            "jti": format!("jti-{n}"), "iat": t, "exp": t + 60});
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        let mut header = JwsHeader::new();
        header.set_key_id("k1");
        let signer = ES384.signer_from_jwk(&key.to_jwk_private_key()).unwrap();
        let jwt = josekit::jws::serialize_compact(claims.to_string().as_bytes(), &header, &signer)
            .unwrap();
        let url = token_url.clone();
        async move {
            reqwest::Client::new()
                .post(url)
                .form(&[
                    ("grant_type", "client_credentials"),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", jwt.as_str()),
                ])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(post(json!({})).await, StatusCode::OK, "ES384 accepted");
    assert_eq!(
        post(json!({"aud": [app.base.clone()]})).await,
        StatusCode::OK
    );
    for bad in [
        json!({"aud": [app.base.clone(), "https://other.example"]}),
        json!({"aud": [token_url.clone(), app.base.clone()]}),
        json!({"aud": app.url("/introspect")}),
        json!({"iat": null}),
        json!({"iat": t + 600}),
        json!({"nbf": t + 600}),
    ] {
        assert_eq!(post(bad.clone()).await, StatusCode::UNAUTHORIZED, "{bad}");
    }
}

/// 11.19 and issue 14.4: `acr_values=urn:mpsv:idp:acr:mfa` makes the login ask for the second
/// factor (alone, within an SSO session: a step-up), or fails with
/// `unmet_authentication_requirements` when the person has none; discovery lists neither
/// an empty `userinfo_signing_alg_values_supported` nor `prompt=consent`.
async fn acr_values_for_mfa_are_honoured_and_discovery_promises_only_what_is_done(db: Db) {
    let app = spawn_app(db).await;
    let d = app.get_json("/.well-known/openid-configuration").await;
    assert!(d.get("userinfo_signing_alg_values_supported").is_none());
    assert!(!d["prompt_values_supported"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v == "consent"));
    let rp = setup(&app, "jana.novakova").await;
    let mfa = [("acr_values", "urn:mpsv:idp:acr:mfa")];
    // No second factor: after the password, the page that says why one is needed and how to
    // set it up; its way back gives the application the standard error.
    let flow = start_flow(&rp, &mfa);
    let to = app.login(&flow.url, "jana.novakova").await;
    let back = app.back_from_mfa_page(&to).await;
    assert_eq!(
        param(&back, "error").as_deref(),
        Some("unmet_authentication_requirements"),
        "{back}"
    );
    // Now signed in with the password: the same request goes to that page at once, without
    // a login form; with prompt=none it fails at once (no page may be shown).
    let flow = start_flow(&rp, &mfa);
    let r = app.browser.get(&flow.url).send().await.unwrap();
    let back = app.back_from_mfa_page(&location(r.headers())).await;
    assert_eq!(
        param(&back, "error").as_deref(),
        Some("unmet_authentication_requirements"),
        "{back}"
    );
    let flow = start_flow(&rp, &[mfa[0], ("prompt", "none")]);
    let r = app.browser.get(&flow.url).send().await.unwrap();
    assert_eq!(
        param(&location(r.headers()), "error").as_deref(),
        Some("unmet_authentication_requirements")
    );
    // Another browser cannot open someone else's page.
    let flow = start_flow(&rp, &mfa);
    let r = app.browser.get(&flow.url).send().await.unwrap();
    let to = location(r.headers());
    let stranger = TestApp::with_browser(&app);
    let r = stranger
        .browser
        .get(stranger.url(&to))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // The password level is still served from the session.
    let flow = start_flow(
        &rp,
        &[("acr_values", "urn:mpsv:idp:acr:pwd urn:mpsv:idp:acr:mfa")],
    );
    let r = app.browser.get(&flow.url).send().await.unwrap();
    let pwd_tokens = app.redeem(&rp, &flow, &location(r.headers())).await;
    let id_token = |t: &openidconnect::core::CoreTokenResponse| {
        crate::code_flow::decode_payload(
            &openidconnect::TokenResponse::id_token(t)
                .unwrap()
                .to_string(),
        )
    };
    let pwd = id_token(&pwd_tokens);
    assert_eq!(pwd["acr"], "urn:mpsv:idp:acr:pwd");
    // With an authenticator app enrolled in this session (still a password-only session), the
    // MFA level asks for the second factor alone, within the session (a step-up): no password
    // form, and the page says why.
    let secret = crate::accounts::enrol_on_account_page(&app).await;
    let flow = start_flow(&rp, &mfa);
    let r = app.browser.get(&flow.url).send().await.unwrap();
    assert!(location(r.headers()).starts_with("/login/otp?"), "{r:?}");
    let html = follow(&app, &r).await;
    assert!(html.contains("id=\"otp-why\""), "{html}");
    let otp = |code: String| {
        let (id, csrf) = (hidden(&html, "id"), hidden(&html, "csrf"));
        let app = &app;
        async move {
            post_form(
                app,
                "/login/otp",
                &[("id", &id), ("csrf", &csrf), ("code", &code)],
            )
            .await
        }
    };
    // A wrong code: refused, the client gets nothing.
    let r = otp("000000".into()).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("otp-error"));
    let r = otp(code_at(&secret, step_at(now()) + 1)).await;
    let tokens = app.redeem(&rp, &flow, &location(r.headers())).await;
    let idt = id_token(&tokens);
    assert_eq!(idt["acr"], "urn:mpsv:idp:acr:mfa");
    assert!(idt["amr"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("otp")));
    // The same SSO session, raised: its sid did not change.
    assert_eq!(idt["sid"], pwd["sid"]);
    assert!(idt["auth_time"].as_i64() >= pwd["auth_time"].as_i64());
}

/// 11.20: the rules shown next to the new-password field follow `password.history`.
async fn the_password_rules_name_the_configured_history(db: Db) {
    let app = spawn_app_with(db, |c| c.password.history = 15).await;
    let rp = setup(&app, "jana.novakova").await;
    app.code_flow(&rp, "jana.novakova").await;
    let html = page(&app, "/account/password").await;
    assert!(html.contains("posledními 15 hesly"), "{html}");
    assert!(!html.contains("posledními 12 hesly"));
}

/// 11.18: an `error_description` never echoes control characters, quotes or backslashes from
/// the request (RFC 6749 §5.2 NQSCHAR); a failed HTTP Basic authentication is a 401 with
/// `WWW-Authenticate: Basic` (§5.2).
async fn token_errors_carry_only_nqschar_and_basic_failures_a_challenge(db: Db) {
    let app = spawn_app(db).await;
    app.register(ClientSpec::confidential("poskytovatel")).await;
    let r = reqwest::Client::new()
        .post(app.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=x&a%01%22%5C%0Ab%C5%BE=1&a%01%22%5C%0Ab%C5%BE=2")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: serde_json::Value = r.json().await.unwrap();
    let d = v["error_description"].as_str().unwrap();
    assert!(d.contains("appears more than once"), "{d}");
    assert!(
        d.chars()
            .all(|c| matches!(c, '\x20'..='\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e')),
        "{d:?}"
    );
    for path in ["/token", "/introspect", "/revoke"] {
        let r = app
            .post_basic(
                path,
                "poskytovatel",
                "wrong-secret",
                &[("grant_type", "client_credentials"), ("token", "x")],
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
        let challenge = r
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned());
        assert!(challenge.is_some_and(|c| c.starts_with("Basic")), "{path}");
    }
}

/// 11.9: each new-password check costs Argon2 runs (the history, the hash): a reset link (or
/// the forced change) cannot be used to run them without bound.
async fn new_password_checks_are_rate_limited_per_account(db: Db) {
    let app = spawn_app_with(db, |c| {
        c.limits.password_change_per_account_per_minute = 2;
    })
    .await;
    setup(&app, "jana.novakova").await;
    let html = page(&app, "/password/forgot").await;
    let r = post_form(
        &app,
        "/password/forgot",
        &[("csrf", &hidden(&html, "csrf")), ("login", "jana.novakova")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let link = crate::accounts::wait_for_mail(&app).await;
    let html = page(&app, &link).await;
    let (token, csrf) = (hidden(&html, "token"), hidden(&html, "csrf"));
    let mut answers = Vec::new();
    for _ in 0..3 {
        // The current password: passes the policy, fails only the (costly) history check.
        let r = post_form(
            &app,
            "/password/reset",
            &[
                ("token", &token),
                ("csrf", &csrf),
                ("new", PASSWORD),
                ("confirm", PASSWORD),
            ],
        )
        .await;
        answers.push(r.text().await.unwrap());
    }
    assert!(!answers[0].contains("Příliš mnoho pokusů o nové heslo"));
    assert!(!answers[1].contains("Příliš mnoho pokusů o nové heslo"));
    assert!(
        answers[2].contains("Příliš mnoho pokusů o nové heslo"),
        "{}",
        answers[2]
    );
}

/// 11.12 and 11.15: disabling a client kills its access tokens at once and revokes its
/// refresh families for good; the audit record says what changed.
async fn a_disabled_client_loses_its_tokens_and_client_changes_are_audited_with_details(db: Db) {
    use openidconnect::OAuth2TokenResponse;
    use reqwest::Method;
    let app = spawn_app(db).await;
    let admin = crate::admin::token(&app, "automation", &["admin:administrator"]).await;
    let secret = app
        .register(ClientSpec::confidential("poskytovatel"))
        .await
        .unwrap();
    app.add_user("jana.novakova").await;
    let rp = app.rp("poskytovatel", Some(secret.clone())).await;
    let (_, tokens) = app.code_flow(&rp, "jana.novakova").await;
    let at = tokens.access_token().secret().clone();
    let rt = tokens.refresh_token().unwrap().secret().clone();
    let userinfo = |at: String| {
        let url = app.url("/userinfo");
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(at)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(userinfo(at.clone()).await, StatusCode::OK);
    let (status, _, _) = crate::admin::call(
        &app,
        Some(&admin),
        Method::PATCH,
        "/clients/poskytovatel",
        Some(serde_json::json!({ "enabled": false })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(userinfo(at.clone()).await, StatusCode::UNAUTHORIZED);
    // Enabled again, the old grant stays dead.
    let (status, _, _) = crate::admin::call(
        &app,
        Some(&admin),
        Method::PATCH,
        "/clients/poskytovatel",
        Some(serde_json::json!({ "enabled": true, "name": "Poskytovatel 2" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let r = refresh(&app, &secret, &rt).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(userinfo(at).await, StatusCode::UNAUTHORIZED);
    // The audit records carry what changed.
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT details FROM audit_log WHERE event = 'client.changed' AND subject = 'poskytovatel' \
         ORDER BY id",
    )
    .fetch_all(app.state.storage.pool())
    .await
    .unwrap();
    assert_eq!(rows.len(), 2);
    let first: serde_json::Value = serde_json::from_str(&rows[0].0).unwrap();
    assert_eq!(
        first["changes"]["enabled"],
        serde_json::json!([true, false])
    );
    assert_eq!(first["grants_revoked"], 1);
    let second: serde_json::Value = serde_json::from_str(&rows[1].0).unwrap();
    assert_eq!(
        second["changes"]["name"],
        serde_json::json!(["Aplikace poskytovatel", "Poskytovatel 2"])
    );
    assert!(second["changes"].get("redirect_uris").is_none(), "{second}");
}

/// 11.10 and 11.11: an administrator cannot give a client operator powers (separation of
/// duties) through the API, nor lifetimes outside the limits.
async fn administrators_cannot_register_operator_clients_nor_oversized_lifetimes(db: Db) {
    use reqwest::Method;
    let app = spawn_app(db).await;
    let admin = crate::admin::token(&app, "automation", &["admin:administrator"]).await;
    let new = |scopes: serde_json::Value, ttl: Option<i64>| {
        serde_json::json!({
            "client_id": "robot",
            "name": "Robot",
            "grant_types": ["client_credentials"],
            "scopes": scopes,
            "access_token_ttl": ttl,
        })
    };
    let (status, body, _) = crate::admin::call(
        &app,
        Some(&admin),
        Method::POST,
        "/clients",
        Some(new(serde_json::json!(["admin:operator"]), None)),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["detail"]
        .as_str()
        .unwrap()
        .contains("separation of duties"));
    for ttl in [i64::MAX, 0, -5, 86_400] {
        let (status, body, _) = crate::admin::call(
            &app,
            Some(&admin),
            Method::POST,
            "/clients",
            Some(new(serde_json::json!([]), Some(ttl))),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{ttl}: {body}");
    }
    let (status, body, _) = crate::admin::call(
        &app,
        Some(&admin),
        Method::POST,
        "/clients",
        Some(new(serde_json::json!([]), Some(600))),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Nor added later.
    let (status, _, _) = crate::admin::call(
        &app,
        Some(&admin),
        Method::PATCH,
        "/clients/robot",
        Some(serde_json::json!({ "scopes": ["admin:operator"] })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM clients WHERE scopes LIKE '%admin:operator%'"
        )
        .await,
        0
    );
}

/// 11.5: the token's own client gets the username only when the token's scope releases the
/// profile.
async fn introspection_releases_the_username_only_with_the_profile_scope(db: Db) {
    use openidconnect::OAuth2TokenResponse;
    let app = spawn_app(db).await;
    let secret = app
        .register(ClientSpec::confidential("poskytovatel"))
        .await
        .unwrap();
    app.add_user("jana.novakova").await;
    let rp = app.rp("poskytovatel", Some(secret.clone())).await;
    let (_, tokens) = app.code_flow(&rp, "jana.novakova").await;
    let rt = tokens.refresh_token().unwrap().secret().clone();
    // Narrow the grant to `openid` alone.
    let r = app
        .post_basic(
            "/token",
            "poskytovatel",
            &secret,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &rt),
                ("scope", "openid"),
            ],
        )
        .await;
    let narrow: serde_json::Value = r.json().await.unwrap();
    let at = narrow["access_token"].as_str().unwrap();
    let v: serde_json::Value = app
        .post_basic("/introspect", "poskytovatel", &secret, &[("token", at)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["active"], true);
    assert!(v.get("sub").is_some());
    assert!(v.get("username").is_none(), "{v}");
    let v: serde_json::Value = app
        .post_basic(
            "/introspect",
            "poskytovatel",
            &secret,
            &[("token", tokens.access_token().secret())],
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["username"], "jana.novakova");
}

async fn refresh(app: &TestApp, secret: &str, rt: &str) -> reqwest::Response {
    app.post_basic(
        "/token",
        "poskytovatel",
        secret,
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
    )
    .await
}

/// 11.4: a family whose SSO session has ended (as one created by a code exchange racing the
/// logout would be: its session ended, the family itself never revoked) refreshes no more; nor
/// does one whose person was disabled, and that family is revoked.
async fn refresh_dies_with_the_session_and_with_the_account(db: Db) {
    use openidconnect::OAuth2TokenResponse;
    let app = spawn_app(db).await;
    let secret = app
        .register(ClientSpec::confidential("poskytovatel"))
        .await
        .unwrap();
    app.add_user("jana.novakova").await;
    let rp = app.rp("poskytovatel", Some(secret.clone())).await;
    let (_, tokens) = app.code_flow(&rp, "jana.novakova").await;
    let rt = tokens.refresh_token().unwrap().secret().clone();
    let r = refresh(&app, &secret, &rt).await;
    assert_eq!(r.status(), StatusCode::OK);
    let rt: String = r.json::<serde_json::Value>().await.unwrap()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // The session ends without its families being revoked.
    sql(&app, &format!("UPDATE sessions SET ended_at = {}", now())).await;
    let r = refresh(&app, &secret, &rt).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["error"],
        "invalid_grant"
    );

    // A fresh login; then the account is disabled.
    let other = TestApp::with_browser(&app);
    let (_, tokens) = other.code_flow(&rp, "jana.novakova").await;
    let rt = tokens.refresh_token().unwrap().secret().clone();
    sql(&app, "UPDATE accounts SET status = 'disabled'").await;
    let r = refresh(&app, &secret, &rt).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let live = count(
        &app,
        "SELECT COUNT(*) FROM token_families f JOIN sessions s ON s.sid = f.sid \
         WHERE f.revoked_at IS NULL AND s.ended_at IS NULL",
    )
    .await;
    assert_eq!(live, 0, "the disabled person's family is revoked");
}

/// The server binary, run as an operator would.
fn cli(app: &TestApp, args: &[&str], issuer: &str) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_mpsv-idp"))
        .args(args)
        .env_remove("MPSV_IDP_CONFIG")
        .env("MPSV_IDP_ISSUER", issuer)
        .env("MPSV_IDP_DATABASE_URL", &app.state.config.database_url)
        .env("MPSV_IDP_KEY_DIR", &app.state.config.key_dir)
        .env("MPSV_IDP_BIND", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(app.state.storage.pool())
        .await
        .unwrap();
    n
}

/// 11.3: `serve --demo` is refused for a non-loopback issuer; it never overwrites a real client
/// with a demo id; what it creates is marked, listed and removed with everything referring to it.
async fn the_demo_never_overwrites_real_clients_and_can_be_listed_and_removed(db: Db) {
    let app = spawn_app(db).await;
    // The guard, at the command line.
    let out = cli(&app, &["serve", "--demo"], "https://idp.okdrive.mpsv.cz");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--demo refused"), "{err}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM clients").await, 0);
    assert!(mpsv_idp::demo::check_allowed(&app.state.config, false).is_ok());

    // A real registration under a demo id, and a real person.
    let secret = app
        .register(ClientSpec::confidential("oksluzby-poskytovatel"))
        .await
        .unwrap();
    app.add_user("skutecna.osoba").await;
    mpsv_idp::demo::seed(&app.state).await.unwrap();
    let real = app
        .state
        .storage
        .client("oksluzby-poskytovatel")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        real.redirect_uris
            .iter()
            .map(|u| u.as_str().to_owned())
            .collect::<Vec<_>>(),
        vec![REDIRECT.to_owned()],
        "not overwritten"
    );
    let r = app
        .post_basic(
            "/introspect",
            "oksluzby-poskytovatel",
            &secret,
            &[("token", "x")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "its secret still works");

    // Listed: two demo clients (not the real one), three organisations, the people and staff.
    let out = cli(&app, &["demo", "list"], &app.base);
    assert!(out.status.success(), "{out:?}");
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(list.contains("client        demo-rp"), "{list}");
    assert!(list.contains("client        oksluzby-rodina"), "{list}");
    assert!(!list.contains("oksluzby-poskytovatel"), "{list}");
    assert_eq!(
        list.lines()
            .filter(|l| l.starts_with("organisation"))
            .count(),
        3
    );
    let people = count(
        &app,
        "SELECT COUNT(*) FROM demo_objects WHERE kind = 'person'",
    )
    .await;
    assert_eq!(
        list.lines().filter(|l| l.starts_with("person")).count() as i64,
        people
    );
    assert!(people >= 10);
    // A demo person signs in (a session): removal takes that too.
    let (id, csrf, _) = app.open_login(&app.url("/account")).await;
    let r = app
        .submit_login(
            &id,
            &csrf,
            mpsv_idp::demo::DEMO_USER,
            mpsv_idp::demo::DEMO_PASSWORD,
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM sessions").await, 1);

    let out = cli(&app, &["demo", "remove"], &app.base);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM demo_objects").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM organisations").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM consents").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM sessions").await, 0);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM persons").await,
        1,
        "the real person stays"
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM accounts").await, 1);
    let clients: Vec<(String,)> = sqlx::query_as("SELECT client_id FROM clients")
        .fetch_all(app.state.storage.pool())
        .await
        .unwrap();
    assert_eq!(clients, vec![("oksluzby-poskytovatel".to_owned(),)]);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE event = 'demo.removed'"
        )
        .await,
        1
    );
    // And the demo can be created again.
    mpsv_idp::demo::seed(&app.state).await.unwrap();
    assert_eq!(count(&app, "SELECT COUNT(*) FROM organisations").await, 3);
}

/// Makes the audit log refuse every new record (a trigger), as a full disk or a broken
/// replica would.
async fn refuse_audit_records(app: &TestApp, db: Db) {
    match db {
        Db::Sqlite => {
            sql(
                app,
                "CREATE TRIGGER audit_refuses BEFORE INSERT ON audit_log \
                 BEGIN SELECT RAISE(ABORT, 'audit unavailable'); END",
            )
            .await
        }
        Db::Postgres => {
            sql(
                app,
                "CREATE FUNCTION audit_refuses() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'audit unavailable'; END $$",
            )
            .await;
            sql(
                app,
                "CREATE TRIGGER audit_refuses BEFORE INSERT ON audit_log \
                 FOR EACH ROW EXECUTE FUNCTION audit_refuses()",
            )
            .await
        }
    }
}

/// The HTML of a page, as the app's browser sees it.
async fn page(app: &TestApp, path: &str) -> String {
    app.browser
        .get(app.url(path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn secret_on(html: &str) -> TotpSecret {
    TotpSecret::from_base32(
        &html
            .split("<code class=\"secret\">")
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap()
            .replace(' ', ""),
    )
    .unwrap()
}

async fn stored_factor(app: &TestApp) -> (Option<String>, Vec<String>) {
    let (secret,): (Option<String>,) = sqlx::query_as("SELECT totp_secret FROM accounts")
        .fetch_one(app.state.storage.pool())
        .await
        .unwrap();
    let codes: Vec<(String,)> =
        sqlx::query_as("SELECT code_hash FROM recovery_codes ORDER BY code_hash")
            .fetch_all(app.state.storage.pool())
            .await
            .unwrap();
    (secret, codes.into_iter().map(|(c,)| c).collect())
}

/// 11.2: someone with a staff member's password parks a login at the enrolment stage; the
/// owner enrols meanwhile. The parked login may neither finish without a code nor replace the
/// owner's seed and recovery codes.
async fn a_login_parked_at_enrolment_cannot_pass_or_replace_a_factor_enrolled_meanwhile(db: Db) {
    let app = spawn_app(db).await;
    let rp = setup(&app, "spravce.mpsv").await;
    sql(
        &app,
        &format!(
            "UPDATE accounts SET role = '{}'",
            Role::Administrator.as_str()
        ),
    )
    .await;
    // The attacker's browser reaches the enrolment stage and keeps its form.
    let attacker = TestApp::with_browser(&app);
    let (r, _) = password_step(&attacker, &rp, "spravce.mpsv", PASSWORD).await;
    assert!(location(r.headers()).starts_with("/login/totp?"));
    let parked = follow(&attacker, &r).await;
    let (a_id, a_csrf, a_enrolment) = (
        hidden(&parked, "id"),
        hidden(&parked, "csrf"),
        hidden(&parked, "enrolment"),
    );
    let attacker_secret = secret_on(&parked);

    // The owner enrols in their own login.
    let (r, _) = password_step(&app, &rp, "spravce.mpsv", PASSWORD).await;
    let html = follow(&app, &r).await;
    let secret = secret_on(&html);
    let r = post_form(
        &app,
        "/login/totp",
        &[
            ("id", &hidden(&html, "id")),
            ("csrf", &hidden(&html, "csrf")),
            ("enrolment", &hidden(&html, "enrolment")),
            ("code", &code_at(&secret, step_at(now()))),
        ],
    )
    .await;
    assert_eq!(recovery_codes(&r.text().await.unwrap()).len(), 10);
    let owners = stored_factor(&app).await;
    assert!(owners.0.is_some());

    // 1. The parked login tries to finish as if it had enrolled.
    let r = post_form(
        &attacker,
        "/login/totp/done",
        &[("id", &a_id), ("csrf", &a_csrf)],
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "no login without a code"
    );
    let account = attacker
        .browser
        .get(app.url("/account"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        account.status(),
        StatusCode::SEE_OTHER,
        "no session: off to /login"
    );
    // 2. It enrols its own seed with a valid code for it.
    let r = post_form(
        &attacker,
        "/login/totp",
        &[
            ("id", &a_id),
            ("csrf", &a_csrf),
            ("enrolment", &a_enrolment),
            ("code", &code_at(&attacker_secret, step_at(now()))),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let text = r.text().await.unwrap();
    assert!(recovery_codes(&text).is_empty(), "no codes handed out");
    assert!(text.contains("mezitím nastaven"), "{text}");
    assert_eq!(
        stored_factor(&app).await,
        owners,
        "the owner's factor stays"
    );
    // And the parked login is gone: a retry of either step finds nothing.
    let r = post_form(
        &attacker,
        "/login/totp/done",
        &[("id", &a_id), ("csrf", &a_csrf)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(stored_factor(&app).await, owners);
}

/// 11.7: recovery codes carry ≥ 80 bits and are stored as keyed hashes salted by the account:
/// neither the code nor its plain SHA-256 appears in the database.
async fn recovery_codes_are_long_and_stored_keyed(db: Db) {
    let app = spawn_app(db).await;
    let rp = setup(&app, "jana.novakova").await;
    app.code_flow(&rp, "jana.novakova").await;
    let html = page(&app, "/account/totp").await;
    let secret = secret_on(&html);
    let r = post_form(
        &app,
        "/account/totp",
        &[
            ("csrf", &hidden(&html, "csrf")),
            ("enrolment", &hidden(&html, "enrolment")),
            ("code", &code_at(&secret, step_at(now()))),
        ],
    )
    .await;
    let codes = recovery_codes(&r.text().await.unwrap());
    assert_eq!(codes.len(), 10);
    let (_, stored) = stored_factor(&app).await;
    assert_eq!(stored.len(), 10);
    for code in &codes {
        let plain: String = code.chars().filter(|c| *c != '-').collect();
        // 31 symbols each: 18 of them are ≥ 80 bits.
        assert!(plain.len() >= 17, "{code}");
        let sha = mpsv_idp::secrets::HashedToken::of(&plain);
        assert!(!stored
            .iter()
            .any(|h| h == sha.as_str() || h.contains(&plain)));
    }
}
