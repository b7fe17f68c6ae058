//! The administration API (issue 6): role boundaries on every kind of endpoint, the
//! operations of operators and administrators, problem+json errors, pagination, and the
//! OpenAPI document — through HTTP, on SQLite and PostgreSQL.

use mpsv_idp::domain::id::Subject;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::db_test;
use crate::helpers::*;

db_test!(
    each_role_reaches_only_its_own_endpoints,
    an_operator_runs_the_register_through_the_api,
    an_administrator_manages_clients_keys_staff_and_reads_the_audit_log,
    the_openapi_document_describes_every_route,
    the_console_is_closed_to_anonymous_people_and_plain_users,
);

/// Registers a client_credentials client with these scopes; returns an access token.
pub(crate) async fn token(app: &TestApp, id: &str, scopes: &[&str]) -> String {
    let secret = "automation-secret-0123456789abcdefghijklmnop";
    let (client, _) = mpsv_idp::cli::client_from_args(mpsv_idp::cli::ClientArgs {
        client_id: id.into(),
        name: id.into(),
        redirect_uris: vec![],
        post_logout_redirect_uris: vec![],
        backchannel_logout_uri: None,
        auth_method: "client_secret_basic".into(),
        grant_types: vec!["client_credentials".into()],
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        application: None,
        id_token_alg: "RS256".into(),
        access_token_alg: "ES256".into(),
        jwks_file: None,
        no_pkce: false,
        require_par: false,
        require_signed_request: false,
        dpop: false,
        fapi2: false,
        access_token_ttl: None,
        refresh_token_ttl: None,
        secret: Some(secret.into()),
    })
    .unwrap();
    app.state.storage.insert_client(&client).await.unwrap();
    let r = app
        .post_basic(
            "/token",
            id,
            secret,
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    v["access_token"].as_str().unwrap().to_owned()
}

/// One API call; returns (status, body as JSON or Null, content type).
pub(crate) async fn call(
    app: &TestApp,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value, String) {
    let mut req = reqwest::Client::new().request(method, app.url(&format!("/admin/api/v1{path}")));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = r.bytes().await.unwrap();
    let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, v, ct)
}

async fn each_role_reaches_only_its_own_endpoints(db: Db) {
    let app = spawn_app(db).await;
    let op = token(&app, "ops-robot", &["admin:operator"]).await;
    let adm = token(&app, "admin-robot", &["admin:administrator"]).await;
    let none = token(&app, "other-robot", &["reports"]).await;

    // No credential: 401 with a Bearer challenge and a problem document.
    let (s, v, ct) = call(&app, None, Method::GET, "/organisations", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(ct, "application/problem+json");
    assert_eq!(v["status"], 401);
    assert!(v["type"].as_str().unwrap().contains("unauthenticated"));
    // A valid token without an admin scope.
    let (s, _, _) = call(&app, Some(&none), Method::GET, "/organisations", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // A forged token.
    let (s, _, _) = call(
        &app,
        Some("e30.e30.sig"),
        Method::GET,
        "/organisations",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    let operator_only: [(Method, &str, Option<Value>); 4] = [
        (Method::GET, "/organisations", None),
        (Method::GET, "/persons", None),
        (Method::POST, "/consents", Some(json!({}))),
        (
            Method::POST,
            "/persons/x/statutory-roles/end",
            Some(json!({"organisation_id": "x", "reason": "r"})),
        ),
    ];
    let administrator_only: [(Method, &str, Option<Value>); 6] = [
        (Method::GET, "/settings", None),
        (Method::GET, "/clients", None),
        (Method::POST, "/keys/rotate", Some(json!({"alg": "ES256"}))),
        (Method::GET, "/keys", None),
        (Method::GET, "/audit", None),
        (
            Method::POST,
            "/staff",
            Some(
                json!({"username": "x", "given_name": "a", "family_name": "b", "role": "operator"}),
            ),
        ),
    ];
    for (m, path, body) in operator_only {
        let (s, v, _) = call(&app, Some(&adm), m.clone(), path, body.clone()).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "administrator at {m} {path}: {v}");
        let (s, _, _) = call(&app, Some(&op), m.clone(), path, body).await;
        assert_ne!(s, StatusCode::FORBIDDEN, "operator at {m} {path}");
        assert_ne!(s, StatusCode::UNAUTHORIZED);
    }
    for (m, path, body) in administrator_only {
        let (s, v, _) = call(&app, Some(&op), m.clone(), path, body.clone()).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "operator at {m} {path}: {v}");
        let (s, _, _) = call(&app, Some(&adm), m.clone(), path, body).await;
        assert_ne!(s, StatusCode::FORBIDDEN, "administrator at {m} {path}");
    }

    // Disabling the automation client ends its power at once (not when its token expires).
    let mut c = (*app
        .state
        .storage
        .client("ops-robot")
        .await
        .unwrap()
        .unwrap())
    .clone();
    c.enabled = false;
    app.state.storage.update_client(&c).await.unwrap();
    let (s, _, _) = call(&app, Some(&op), Method::GET, "/organisations", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    c.enabled = true;
    app.state.storage.update_client(&c).await.unwrap();

    // A plain user signed in (SSO cookie) is not staff.
    let rp_secret = app.register(ClientSpec::confidential("rp")).await;
    let rp = app.rp("rp", rp_secret).await;
    app.add_user("jana.novakova").await;
    app.code_flow(&rp, "jana.novakova").await;
    let r = app
        .browser
        .get(app.url("/admin/api/v1/organisations"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Operators never manage staff accounts (no takeover of an administrator).
    let (_, staff, _) = call(
        &app,
        Some(&adm),
        Method::POST,
        "/staff",
        Some(
            json!({"username": "spravce.dva", "given_name": "Jan", "family_name": "Správce",
            "email": "jan@mpsv.example.cz", "role": "administrator"}),
        ),
    )
    .await;
    let sub = staff["sub"].as_str().unwrap();
    let (s, _, _) = call(
        &app,
        Some(&op),
        Method::POST,
        &format!("/persons/{sub}/status"),
        Some(json!({"action": "lock"})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = call(
        &app,
        Some(&op),
        Method::POST,
        &format!("/persons/{sub}/sessions/end"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Nor do staff take part in the register (no consent, role or delegation for them).
    let (_, org, _) = call(
        &app,
        Some(&op),
        Method::POST,
        "/organisations",
        Some(json!({
        "ico": "27712346", "name": "Domov Slunce", "legal_form": "o. p. s.", "street": "Lipová 1",
        "city": "Brno", "postcode": "602 00"})),
    )
    .await;
    let (s, v, _) = call(
        &app,
        Some(&op),
        Method::POST,
        "/consents",
        Some(json!({
        "person_sub": sub, "organisation_id": org["id"], "form": "poskytovatel",
        "signed_on": "2026-11-02", "received_on": "2026-11-05", "reference": "X"})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, _, _) = call(
        &app,
        Some(&op),
        Method::POST,
        &format!("/persons/{sub}/statutory-roles"),
        Some(json!({"organisation_id": org["id"]})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn an_operator_runs_the_register_through_the_api(db: Db) {
    let app = spawn_app(db).await;
    let op = token(&app, "ops-robot", &["admin:operator"]).await;
    let t = Some(op.as_str());
    let org = |ico: &str, name: &str, nno: bool| {
        json!({"ico": ico, "name": name, "legal_form": "spolek", "street": "Husova 8",
               "city": "Olomouc", "postcode": "779 00", "social_service_provider": true,
               "nno_family_support": nno})
    };
    let (s, v, ct) = call(
        &app,
        t,
        Method::POST,
        "/organisations",
        Some(org("27712347", "Špatné", false)),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(ct, "application/problem+json");
    assert!(v["detail"].as_str().unwrap().contains("check digit"), "{v}");
    let (s, created, _) = call(
        &app,
        t,
        Method::POST,
        "/organisations",
        Some(org("26543214", "Šťastná rodina, z. ú.", true)),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let org_id = created["id"].as_str().unwrap().to_owned();
    let (s, _, _) = call(
        &app,
        t,
        Method::POST,
        "/organisations",
        Some(org("26543214", "Znovu", true)),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    for (ico, name) in [("27712346", "Domov Slunce"), ("26910021", "Klubíčko")] {
        call(
            &app,
            t,
            Method::POST,
            "/organisations",
            Some(org(ico, name, false)),
        )
        .await;
    }
    // Pages of two.
    let (_, p1, _) = call(&app, t, Method::GET, "/organisations?limit=2", None).await;
    assert_eq!(p1["items"].as_array().unwrap().len(), 2);
    let cursor = p1["next_cursor"].as_str().unwrap();
    let (_, p2, _) = call(
        &app,
        t,
        Method::GET,
        &format!("/organisations?limit=2&cursor={cursor}"),
        None,
    )
    .await;
    assert_eq!(p2["items"].as_array().unwrap().len(), 1);
    assert!(p2["next_cursor"].is_null());
    let (s, _, _) = call(&app, t, Method::GET, "/organisations?limit=0", None).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, found, _) = call(&app, t, Method::GET, "/organisations?q=stastna", None).await;
    assert_eq!(found["items"][0]["ico"], "26543214");

    // Consent for a new person, then the account with its letter.
    let consent = |person: Value| {
        let mut c = json!({"organisation_id": org_id, "form": "poskytovatel",
            "signed_on": "2026-11-02", "received_on": "2026-11-05", "reference": "MPSV-7/2026"});
        for (k, v) in person.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let (s, boss, _) = call(&app, t, Method::POST, "/consents",
        Some(consent(json!({"person": {"given_name": "Marie", "family_name": "Svobodová", "email": "marie@example.cz"}})))).await;
    assert_eq!(s, StatusCode::CREATED, "{boss}");
    assert!(boss["mpsv_client_id"].as_str().unwrap().starts_with("MP"));
    let boss_sub = boss["person_sub"].as_str().unwrap().to_owned();
    let (_, clerk, _) = call(
        &app,
        t,
        Method::POST,
        "/consents",
        Some(consent(
            json!({"person": {"given_name": "Lukáš", "family_name": "Procházka"}}),
        )),
    )
    .await;
    let clerk_sub = clerk["person_sub"].as_str().unwrap().to_owned();
    // Same form twice for the same organisation: conflict.
    let (s, _, _) = call(
        &app,
        t,
        Method::POST,
        "/consents",
        Some(consent(json!({"person_sub": boss_sub}))),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);

    let r = reqwest::Client::new()
        .post(app.url(&format!("/admin/api/v1/persons/{boss_sub}/account")))
        .bearer_auth(&op)
        .json(&json!({"organisation_id": org_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert!(r.headers().contains_key("x-letter-reference"));
    assert!(r.bytes().await.unwrap().starts_with(b"%PDF"));
    let (s, _, _) = call(
        &app,
        t,
        Method::POST,
        &format!("/persons/{boss_sub}/account"),
        Some(json!({"organisation_id": org_id})),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, sessions, _) = call(
        &app,
        t,
        Method::GET,
        &format!("/persons/{boss_sub}/sessions"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(sessions.as_array().unwrap().is_empty());
    let (_, person, _) = call(&app, t, Method::GET, &format!("/persons/{boss_sub}"), None).await;
    assert_eq!(person["username"], "marie.svobodova");
    assert_eq!(person["status"], "active");
    assert_eq!(person["consents"].as_array().unwrap().len(), 1);
    let (_, search, _) = call(
        &app,
        t,
        Method::GET,
        &format!("/persons?q={}", boss["mpsv_client_id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(search["items"][0]["sub"], boss_sub.as_str());

    // Statutory role, a delegation, and the role's end lapsing it.
    let (s, _, _) = call(
        &app,
        t,
        Method::POST,
        &format!("/persons/{boss_sub}/statutory-roles"),
        Some(json!({"organisation_id": org_id})),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, d, _) = call(
        &app,
        t,
        Method::POST,
        &format!("/organisations/{org_id}/delegations"),
        Some(json!({"delegator_sub": boss_sub, "delegate_sub": clerk_sub})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    let (_, detail, _) = call(
        &app,
        t,
        Method::GET,
        &format!("/organisations/{org_id}"),
        None,
    )
    .await;
    assert_eq!(detail["delegations"][0]["delegate_sub"], clerk_sub.as_str());
    assert_eq!(detail["delegations"][0]["created_by"], "client:ops-robot");
    assert!(detail["members"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["statutory_representative"] == true));
    let (s, _, _) = call(
        &app,
        t,
        Method::POST,
        &format!("/persons/{boss_sub}/statutory-roles/end"),
        Some(json!({"organisation_id": org_id, "reason": "odvolána"})),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, detail, _) = call(
        &app,
        t,
        Method::GET,
        &format!("/organisations/{org_id}"),
        None,
    )
    .await;
    assert!(detail["delegations"].as_array().unwrap().is_empty());

    // A new letter (the old password stops working), signing out everywhere.
    let r = reqwest::Client::new()
        .post(app.url(&format!("/admin/api/v1/persons/{boss_sub}/letters")))
        .bearer_auth(&op)
        .json(&json!({"organisation_id": org_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert!(r.bytes().await.unwrap().starts_with(b"%PDF"));
    let (s, _, _) = call(
        &app,
        t,
        Method::POST,
        &format!("/persons/{boss_sub}/sessions/end"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);

    // Lock and unlock the account; withdraw the consent.
    let (s, _, _) = call(
        &app,
        t,
        Method::POST,
        &format!("/persons/{boss_sub}/status"),
        Some(json!({"action": "lock", "reason": "test"})),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, person, _) = call(&app, t, Method::GET, &format!("/persons/{boss_sub}"), None).await;
    assert_eq!(person["status"], "locked");
    call(
        &app,
        t,
        Method::POST,
        &format!("/persons/{boss_sub}/status"),
        Some(json!({"action": "unlock"})),
    )
    .await;
    let consent_id = person["consents"][0]["id"].as_str().unwrap();
    let (s, _, _) = call(
        &app,
        t,
        Method::POST,
        &format!("/consents/{consent_id}/withdraw"),
        Some(json!({"reason": "odvolán"})),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _, _) = call(
        &app,
        t,
        Method::POST,
        &format!("/consents/{consent_id}/withdraw"),
        Some(json!({"reason": "znovu"})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // Bad JSON and unknown routes are problems too, never 500.
    let r = reqwest::Client::new()
        .post(app.url("/admin/api/v1/consents"))
        .bearer_auth(&op)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    let (s, _, ct) = call(&app, t, Method::GET, "/nothing-here", None).await;
    assert_eq!(
        (s, ct.as_str()),
        (StatusCode::NOT_FOUND, "application/problem+json")
    );

    // Every action is in the audit log with the automation client as actor.
    let log = app
        .state
        .audit
        .query(&mpsv_idp::audit::Filter {
            actor: Some("client:ops-robot".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    for e in [
        "organisation.created",
        "consent.recorded",
        "account.created",
        "letter.issued",
        "statutory.started",
        "delegation.granted",
        "statutory.ended",
        "account.status_changed",
        "consent.withdrawn",
    ] {
        assert!(
            log.iter().any(|r| r.event == e),
            "{e} missing from the audit log"
        );
    }
}

async fn an_administrator_manages_clients_keys_staff_and_reads_the_audit_log(db: Db) {
    let app = spawn_app(db).await;
    let adm = token(&app, "admin-robot", &["admin:administrator"]).await;
    let t = Some(adm.as_str());
    let (s, v, _) = call(
        &app,
        t,
        Method::POST,
        "/clients",
        Some(json!({
        "client_id": "oksluzby-rodina", "name": "OKslužby – rodina",
        "redirect_uris": ["http://rodina.example.cz/cb"], "application": "rodina"})),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "plain http off loopback: {v}"
    );
    let (s, created, _) = call(
        &app,
        t,
        Method::POST,
        "/clients",
        Some(json!({
        "client_id": "oksluzby-rodina", "name": "OKslužby – rodina",
        "redirect_uris": ["https://rodina.example.cz/cb"], "application": "rodina",
        "scopes": ["openid", "profile", "mpsv", "organisation"]})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(created["application"], "rodina");
    let (s, _, _) = call(
        &app,
        t,
        Method::POST,
        "/clients",
        Some(json!({
        "client_id": "oksluzby-rodina", "name": "x", "redirect_uris": ["https://x.cz/cb"]})),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _, _) = call(
        &app,
        t,
        Method::PATCH,
        "/clients/oksluzby-rodina",
        Some(json!({"redirect_uris": ["https://rodina.example.cz/cb#frag"]})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, changed, _) = call(&app, t, Method::PATCH, "/clients/oksluzby-rodina",
        Some(json!({"redirect_uris": ["https://rodina.example.cz/cb", "https://rodina.example.cz/cb2"]}))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(changed["redirect_uris"].as_array().unwrap().len(), 2);
    // Signed request objects need keys (RFC 9101): refused without, accepted with them.
    let signed = json!({"require_signed_request_object": true});
    let (s, _, _) = call(
        &app,
        t,
        Method::PATCH,
        "/clients/oksluzby-rodina",
        Some(signed),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let key =
        josekit::jwk::alg::ec::EcKeyPair::generate(josekit::jwk::alg::ec::EcCurve::P256).unwrap();
    let mut jwk = josekit::jwk::KeyPair::to_jwk_public_key(&key);
    jwk.set_key_id("rodina-1");
    let jwks = json!({"keys": [Value::Object(jwk.as_ref().clone())]}).to_string();
    let (s, _, _) = call(
        &app,
        t,
        Method::PATCH,
        "/clients/oksluzby-rodina",
        Some(json!({"jwks": "not a key set"})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, changed, _) = call(
        &app,
        t,
        Method::PATCH,
        "/clients/oksluzby-rodina",
        Some(json!({"jwks": jwks, "require_signed_request_object": true,
            "require_pushed_authorization_requests": true})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{changed}");
    assert_eq!(changed["require_signed_request_object"], true);
    assert_eq!(changed["require_pushed_authorization_requests"], true);
    // Rotating the secret: the old one stops working at once.
    let (_, rotated, _) = call(
        &app,
        t,
        Method::POST,
        "/clients/oksluzby-rodina/secret",
        None,
    )
    .await;
    let new_secret = rotated["client_secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    // (The node's registration cache would serve the old one for up to 5 s: ask storage.)
    let c = app.state.storage.clients().await.unwrap();
    let c = c
        .iter()
        .find(|c| c.client_id.as_str() == "oksluzby-rodina")
        .unwrap();
    assert!(c.secret_hash.as_ref().unwrap().matches(new_secret));
    assert!(!c.secret_hash.as_ref().unwrap().matches(&secret));
    let (s, _, _) = call(
        &app,
        t,
        Method::PATCH,
        "/clients/oksluzby-rodina",
        Some(json!({"enabled": false})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (_, list, _) = call(&app, t, Method::GET, "/clients", None).await;
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["client_id"] == "oksluzby-rodina" && c["enabled"] == false));

    // Keys: list, rotate (pre-published as next).
    let (_, keys, _) = call(&app, t, Method::GET, "/keys", None).await;
    let before = keys.as_array().unwrap().len();
    let (s, k, _) = call(
        &app,
        t,
        Method::POST,
        "/keys/rotate",
        Some(json!({"alg": "ES256", "delay": 3600})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{k}");
    assert_eq!(k["state"], "next");
    let (_, keys, _) = call(&app, t, Method::GET, "/keys", None).await;
    assert_eq!(keys.as_array().unwrap().len(), before + 1);
    let (s, _, _) = call(
        &app,
        t,
        Method::POST,
        "/keys/rotate",
        Some(json!({"alg": "HS256"})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // Staff: an operator whose first password is set through a mailed link, never shown to
    // the administrator (issue 11.10); staff need an e-mail address; a plain user cannot be
    // made here.
    let (s, _, _) = call(&app, t, Method::POST, "/staff", Some(json!({
        "username": "operator.bez", "given_name": "Ondřej", "family_name": "Operátor", "role": "operator"}))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, staff, _) = call(
        &app,
        t,
        Method::POST,
        "/staff",
        Some(json!({
        "username": "operator.novy", "given_name": "Ondřej", "family_name": "Operátor",
        "email": "ondrej@mpsv.example.cz", "role": "operator"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(staff["password_setup"], "mailed");
    assert!(staff.get("initial_password").is_none());
    let link = crate::accounts::wait_for_mail(&app).await;
    let page = reqwest::get(app.url(&link)).await.unwrap();
    assert_eq!(
        page.status(),
        StatusCode::OK,
        "the link opens the password form"
    );
    let a = app
        .state
        .storage
        .account(&Subject::lookup(staff["sub"].as_str().unwrap()))
        .await
        .unwrap()
        .unwrap();
    assert!(a.must_change_password);
    let (s, _, _) = call(
        &app,
        t,
        Method::POST,
        "/staff",
        Some(json!({
        "username": "obycejny", "given_name": "O", "family_name": "B", "role": "user"})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // The audit log, filtered and paged.
    let (_, page, _) = call(&app, t, Method::GET, "/audit?event=client.changed", None).await;
    // The redirect URIs, the keys with the signed-request rule, disabling.
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    assert_eq!(page["items"][0]["actor"], "client:admin-robot");
    let (_, p1, _) = call(&app, t, Method::GET, "/audit?limit=2", None).await;
    let cursor = p1["next_cursor"].as_str().unwrap();
    let (_, p2, _) = call(
        &app,
        t,
        Method::GET,
        &format!("/audit?limit=2&cursor={cursor}"),
        None,
    )
    .await;
    assert!(p2["items"][0]["id"].as_i64().unwrap() < p1["items"][1]["id"].as_i64().unwrap());
    let (s, _, _) = call(&app, t, Method::GET, "/audit?limit=100000", None).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn the_openapi_document_describes_every_route(db: Db) {
    let app = spawn_app(db).await;
    let (s, doc, _) = call(&app, None, Method::GET, "/openapi.json", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/organisations",
        "/organisations/{id}",
        "/persons/{sub}/account",
        "/consents",
        "/persons/{sub}/statutory-roles/end",
        "/clients",
        "/clients/{id}/secret",
        "/keys/rotate",
        "/audit",
        "/staff",
    ] {
        assert!(paths.contains_key(p), "{p} is not documented");
    }
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

async fn the_console_is_closed_to_anonymous_people_and_plain_users(db: Db) {
    let app = spawn_app(db).await;
    // Anonymous: sent to sign in first.
    let r = app.browser.get(app.url("/admin")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(r.headers()).starts_with("/login?"));
    // A plain user, signed in: every console page and form is refused.
    let rp_secret = app.register(ClientSpec::confidential("rp")).await;
    let rp = app.rp("rp", rp_secret).await;
    app.add_user("jana.novakova").await;
    app.code_flow(&rp, "jana.novakova").await;
    for path in [
        "/admin",
        "/admin/persons",
        "/admin/organisations",
        "/admin/clients",
        "/admin/keys",
        "/admin/audit",
    ] {
        let r = app.browser.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let r = app
        .browser
        .post(app.url("/admin/organisations"))
        .form(&[("ico", "27712346"), ("name", "X"), ("lang", "cs")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(app
        .state
        .storage
        .search_organisations("", 10)
        .await
        .unwrap()
        .is_empty());
}
