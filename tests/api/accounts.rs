//! Accounts as MPSV requires them: password rules, first login, expiry, lockout, TOTP,
//! recovery codes, password reset, sessions, rate limits.

use mpsv_idp::domain::account::Role;
use mpsv_idp::domain::totp::{code_at, step_at, TotpSecret};
use mpsv_idp::secrets::now;
use reqwest::StatusCode;

use crate::db_test;
use crate::helpers::*;

db_test!(
    an_initial_password_must_be_changed_before_anything_else,
    an_expired_initial_password_no_longer_works,
    a_password_older_than_18_months_must_be_changed,
    password_rules_are_enforced_with_clear_messages,
    repeated_failures_lock_the_account_for_a_while_without_revealing_it,
    totp_enrolment_then_login_asks_for_the_code_once_per_step,
    recovery_codes_work_once_each,
    administrators_must_enrol_totp_at_first_login,
    password_reset_link_is_single_use_and_ends_sessions,
    an_expired_reset_link_is_refused_and_unknown_addresses_get_the_same_answer,
    sessions_are_listed_and_can_be_ended,
    idle_sessions_end,
    hashes_with_old_parameters_are_upgraded_at_login,
    too_many_attempts_from_one_address_are_throttled,
    a_login_past_its_password_belongs_to_the_browser_that_entered_it,
    an_enrolled_second_factor_cannot_be_replaced_with_a_session_alone,
    parallel_guesses_cannot_outrun_the_lockout,
);

/// Registers the usual client and a user; returns the RP.
pub(crate) async fn setup(app: &TestApp, username: &str) -> Rp {
    let s = app.register(ClientSpec::confidential("poskytovatel")).await;
    app.add_user(username).await;
    app.rp("poskytovatel", s).await
}

pub(crate) async fn sql(app: &TestApp, statement: &str) {
    sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
        .execute(app.state.storage.pool())
        .await
        .unwrap();
}

/// Submits the login form and returns the response (not following redirects).
pub(crate) async fn password_step(
    app: &TestApp,
    rp: &Rp,
    username: &str,
    password: &str,
) -> (reqwest::Response, Flow) {
    let flow = start_flow(rp, &[]);
    let (id, csrf, _) = app.open_login(&flow.url).await;
    (app.submit_login(&id, &csrf, username, password).await, flow)
}

/// Opens a page the login redirected to; returns its HTML.
pub(crate) async fn follow(app: &TestApp, r: &reqwest::Response) -> String {
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = location(r.headers());
    let page = app.browser.get(app.url(&to)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK, "{to}");
    page.text().await.unwrap()
}

pub(crate) async fn post_form(
    app: &TestApp,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    app.browser
        .post(app.url(path))
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn an_initial_password_must_be_changed_before_anything_else(db: Db) {
    let app = spawn_app(db).await;
    let rp = setup(&app, "jana.novakova").await;
    sql(&app, "UPDATE accounts SET must_change_password = 1").await;
    let (r, flow) = password_step(&app, &rp, "jana.novakova", PASSWORD).await;
    assert!(location(r.headers()).starts_with("/login/password?"));
    let html = follow(&app, &r).await;
    assert!(html.contains("počátečním heslem"));
    let (id, csrf) = (hidden(&html, "id"), hidden(&html, "csrf"));
    // The same password again is refused (it is in the history).
    let r = post_form(
        &app,
        "/login/password",
        &[
            ("id", &id),
            ("csrf", &csrf),
            ("new", PASSWORD),
            ("confirm", PASSWORD),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("už v nedávné době používali"));
    let new = "Nové-dlouhé-heslo-2027";
    let r = post_form(
        &app,
        "/login/password",
        &[("id", &id), ("csrf", &csrf), ("new", new), ("confirm", new)],
    )
    .await;
    let back = location(r.headers());
    assert!(back.starts_with(REDIRECT), "{back}");
    app.redeem(&rp, &flow, &back).await;
    let a = app
        .state
        .storage
        .account_by_username("jana.novakova")
        .await
        .unwrap()
        .unwrap();
    assert!(!a.must_change_password);
    // In another browser: the old password no longer works, the new one does.
    let other = TestApp::with_browser(&app);
    let (r, _) = password_step(&other, &rp, "jana.novakova", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    let (r, _) = password_step(&other, &rp, "jana.novakova", new).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

async fn an_expired_initial_password_no_longer_works(db: Db) {
    let app = spawn_app(db).await;
    let rp = setup(&app, "jana.novakova").await;
    sql(
        &app,
        &format!(
            "UPDATE accounts SET must_change_password = 1, initial_password_expires_at = {}",
            now() - 1
        ),
    )
    .await;
    let (r, _) = password_step(&app, &rp, "jana.novakova", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Platnost počátečního hesla vypršela"));
}

async fn a_password_older_than_18_months_must_be_changed(db: Db) {
    let app = spawn_app(db).await;
    let rp = setup(&app, "jana.novakova").await;
    sql(
        &app,
        &format!(
            "UPDATE accounts SET password_changed_at = {}",
            now() - 549 * 86400
        ),
    )
    .await;
    let (r, _) = password_step(&app, &rp, "jana.novakova", PASSWORD).await;
    let html = follow(&app, &r).await;
    assert!(html.contains("starší než 18 měsíců"));
}

async fn password_rules_are_enforced_with_clear_messages(db: Db) {
    let app = spawn_app(db).await;
    let rp = setup(&app, "jana.novakova").await;
    app.code_flow(&rp, "jana.novakova").await;
    // Allow a voluntary change now (the account was just created).
    sql(
        &app,
        &format!("UPDATE accounts SET password_changed_at = {}", now() - 3600),
    )
    .await;
    let html = app
        .browser
        .get(app.url("/account/password"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&html, "csrf");
    let change = |current: &'static str, new: String| {
        let app = &app;
        let csrf = csrf.clone();
        async move {
            let r = post_form(
                app,
                "/account/password",
                &[
                    ("csrf", &csrf),
                    ("current", current),
                    ("new", &new),
                    ("confirm", &new),
                ],
            )
            .await;
            (r.status(), r.text().await.unwrap())
        }
    };
    let (status, body) = change(PASSWORD, "krátké".into()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("alespoň 12 znaků"), "{body}");
    let (_, body) = change(PASSWORD, "xx-jana.novakova-xx".into()).await;
    assert!(body.contains("nesmí obsahovat vaše uživatelské jméno"));
    let (_, body) = change(PASSWORD, "Moje-novakova-heslo".into()).await;
    assert!(body.contains("nesmí obsahovat vaše jméno"));
    let (_, body) = change(PASSWORD, "password1234".into()).await;
    assert!(body.contains("nejčastěji používaná hesla"));
    let (_, body) = change("spatne-soucasne", "Úplně-jiné-heslo-42".into()).await;
    assert!(body.contains("Současné heslo není správné"));
    // Twelve characters of any kind (NFKC) are fine.
    let (status, _) = change(PASSWORD, "Žluťoučký kůň 🐎".into()).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    // A second change within 30 minutes is refused.
    let (status, body) = change("Žluťoučký kůň 🐎", "Další-dlouhé-heslo-99".into()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("nejdříve 30 minut"));
    // English too.
    let r = post_form(
        &app,
        "/account/password",
        &[
            ("csrf", &csrf),
            ("current", "Žluťoučký kůň 🐎"),
            ("new", "short"),
            ("confirm", "short"),
            ("lang", "en"),
        ],
    )
    .await;
    assert!(r.text().await.unwrap().contains("at least 12 characters"));
    // Every change is audited.
    let events = app
        .state
        .audit
        .for_subject(
            (app.state
                .storage
                .account_by_username("jana.novakova")
                .await
                .unwrap()
                .unwrap()
                .sub)
                .as_str(),
            50,
        )
        .await
        .unwrap();
    assert!(events.iter().any(|e| e.event == "password.changed"));
    assert!(matches!(
        app.state.audit.verify().await.unwrap(),
        mpsv_idp::audit::Verification::Intact { .. }
    ));
}

async fn repeated_failures_lock_the_account_for_a_while_without_revealing_it(db: Db) {
    let app = spawn_app(db).await;
    let rp = setup(&app, "jana.novakova").await;
    let flow = start_flow(&rp, &[]);
    let (id, csrf, _) = app.open_login(&flow.url).await;
    let mut bodies = Vec::new();
    for _ in 0..5 {
        let r = app
            .submit_login(&id, &csrf, "jana.novakova", "spatne-heslo-0000")
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        bodies.push(r.text().await.unwrap());
    }
    let a = app
        .state
        .storage
        .account_by_username("jana.novakova")
        .await
        .unwrap()
        .unwrap();
    assert!(a.is_locked(now()), "locked after 5 failures");
    // The right password is refused with the very same page while locked.
    let r = app
        .submit_login(&id, &csrf, "jana.novakova", PASSWORD)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.unwrap(), bodies[4]);
    let events = app
        .state
        .audit
        .for_subject(a.sub.as_str(), 50)
        .await
        .unwrap();
    assert_eq!(
        events.iter().filter(|e| e.event == "login.failed").count(),
        6
    );
    assert!(events.iter().any(|e| e.event == "account.locked"));
    // The lock lifts by itself; then the right password works and the count starts over.
    sql(
        &app,
        &format!("UPDATE accounts SET locked_until = {}", now() - 1),
    )
    .await;
    let r = app
        .submit_login(&id, &csrf, "jana.novakova", PASSWORD)
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let a = app
        .state
        .storage
        .account_by_username("jana.novakova")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.failed_logins, 0);
    assert_eq!(a.locked_until, None);
}

/// Enrols TOTP through the account page; returns the secret.
pub(crate) async fn enrol_on_account_page(app: &TestApp) -> TotpSecret {
    let html = app
        .browser
        .get(app.url("/account/totp"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("data:image/svg+xml;base64,"), "a QR code");
    let secret_text = html
        .split("<code class=\"secret\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap();
    let secret = TotpSecret::from_base32(secret_text).unwrap();
    let (csrf, enrolment) = (hidden(&html, "csrf"), hidden(&html, "enrolment"));
    // A wrong code keeps the same secret on screen.
    let r = post_form(
        app,
        "/account/totp",
        &[
            ("csrf", &csrf),
            ("enrolment", &enrolment),
            ("code", "000000"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains(secret_text));
    let code = code_at(&secret, step_at(now()));
    let r = post_form(
        app,
        "/account/totp",
        &[("csrf", &csrf), ("enrolment", &enrolment), ("code", &code)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("Záložní kódy"));
    secret
}

pub(crate) fn recovery_codes(html: &str) -> Vec<String> {
    html.split("<li><code>")
        .skip(1)
        .map(|s| s.split('<').next().unwrap().to_owned())
        .collect()
}

async fn totp_enrolment_then_login_asks_for_the_code_once_per_step(db: Db) {
    let app = spawn_app(db).await;
    let rp = setup(&app, "jana.novakova").await;
    app.code_flow(&rp, "jana.novakova").await;
    let secret = enrol_on_account_page(&app).await;
    // A fresh browser: password, then the code.
    let other = TestApp::with_browser(&app);
    let (r, flow) = password_step(&other, &rp, "jana.novakova", PASSWORD).await;
    assert!(location(r.headers()).starts_with("/login/otp?"));
    let html = follow(&other, &r).await;
    assert!(html.contains("autocomplete=\"one-time-code\""));
    let (id, csrf) = (hidden(&html, "id"), hidden(&html, "csrf"));
    // The code used at enrolment is spent; wait for the next step is not needed: use a wrong one.
    let r = other
        .browser
        .post(other.url("/login/otp"))
        .form(&[
            ("id", id.as_str()),
            ("csrf", csrf.as_str()),
            ("code", "123456"),
        ])
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("Kód není správný"));
    // The current step was consumed at enrolment; the next step's code is accepted
    // (within the ±1 step window) exactly once.
    let next = code_at(&secret, step_at(now()) + 1);
    let r = other
        .browser
        .post(other.url("/login/otp"))
        .form(&[
            ("id", id.as_str()),
            ("csrf", csrf.as_str()),
            ("code", next.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let back = location(r.headers());
    let tokens = other.redeem(&rp, &flow, &back).await;
    let idt = crate::code_flow::decode_payload(
        &openidconnect::TokenResponse::id_token(&tokens)
            .unwrap()
            .to_string(),
    );
    assert_eq!(idt["amr"], serde_json::json!(["pwd", "otp"]));
    assert_eq!(idt["acr"], "urn:mpsv:idp:acr:mfa");
    // Replay of the same code in a new login fails.
    let third = TestApp::with_browser(&app);
    let (r, _) = password_step(&third, &rp, "jana.novakova", PASSWORD).await;
    let html = follow(&third, &r).await;
    let (id, csrf) = (hidden(&html, "id"), hidden(&html, "csrf"));
    let r = third
        .browser
        .post(third.url("/login/otp"))
        .form(&[
            ("id", id.as_str()),
            ("csrf", csrf.as_str()),
            ("code", next.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("už byl použit"));
}

async fn recovery_codes_work_once_each(db: Db) {
    let app = spawn_app(db).await;
    let rp = setup(&app, "jana.novakova").await;
    app.code_flow(&rp, "jana.novakova").await;
    enrol_on_account_page(&app).await;
    let html = app
        .browser
        .get(app.url("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&html, "csrf");
    // New codes need the password.
    let r = post_form(
        &app,
        "/account/recovery-codes",
        &[("csrf", &csrf), ("current", "spatne")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = post_form(
        &app,
        "/account/recovery-codes",
        &[("csrf", &csrf), ("current", PASSWORD)],
    )
    .await;
    let codes = recovery_codes(&r.text().await.unwrap());
    assert_eq!(codes.len(), 10);
    for attempt in 0..2 {
        let b = TestApp::with_browser(&app);
        let (r, _) = password_step(&b, &rp, "jana.novakova", PASSWORD).await;
        let html = follow(&b, &r).await;
        let (id, csrf) = (hidden(&html, "id"), hidden(&html, "csrf"));
        let r = b
            .browser
            .post(b.url("/login/otp"))
            .form(&[
                ("id", id.as_str()),
                ("csrf", csrf.as_str()),
                ("code", codes[0].to_uppercase().as_str()),
            ])
            .send()
            .await
            .unwrap();
        if attempt == 0 {
            assert_eq!(
                r.status(),
                StatusCode::SEE_OTHER,
                "a recovery code replaces the app once"
            );
        } else {
            assert_eq!(r.status(), StatusCode::OK, "but not twice");
        }
    }
}

async fn administrators_must_enrol_totp_at_first_login(db: Db) {
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
    let (r, flow) = password_step(&app, &rp, "spravce.mpsv", PASSWORD).await;
    assert!(location(r.headers()).starts_with("/login/totp?"));
    let html = follow(&app, &r).await;
    assert!(html.contains("Správci a operátoři se musí přihlašovat dvěma faktory"));
    let secret = TotpSecret::from_base32(
        html.split("<code class=\"secret\">")
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap(),
    )
    .unwrap();
    let (id, csrf, enrolment) = (
        hidden(&html, "id"),
        hidden(&html, "csrf"),
        hidden(&html, "enrolment"),
    );
    let code = code_at(&secret, step_at(now()));
    let r = post_form(
        &app,
        "/login/totp",
        &[
            ("id", &id),
            ("csrf", &csrf),
            ("enrolment", &enrolment),
            ("code", &code),
        ],
    )
    .await;
    let html = r.text().await.unwrap();
    assert_eq!(recovery_codes(&html).len(), 10);
    let r = post_form(
        &app,
        "/login/totp/done",
        &[("id", &id), ("csrf", &hidden(&html, "csrf"))],
    )
    .await;
    let back = location(r.headers());
    let tokens = app.redeem(&rp, &flow, &back).await;
    let idt = crate::code_flow::decode_payload(
        &openidconnect::TokenResponse::id_token(&tokens)
            .unwrap()
            .to_string(),
    );
    assert_eq!(idt["acr"], "urn:mpsv:idp:acr:mfa");
    // An administrator cannot remove the factor.
    let html = app
        .browser
        .get(app.url("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains("/account/totp/remove"));
    let r = post_form(
        &app,
        "/account/totp/remove",
        &[("csrf", &hidden(&html, "csrf")), ("current", PASSWORD)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

/// The reset link from the newest mail in the mail folder.
pub(crate) fn mailed_link(app: &TestApp) -> Option<String> {
    let dir = app.state.config.mail.folder.clone();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    files.sort();
    let text = std::fs::read_to_string(files.last()?).ok()?;
    // Quoted-printable may wrap long lines with "=\r\n".
    let text = text
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let start = text.find("/password/reset?token=")?;
    let rest = &text[start..];
    let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
    Some(rest[..end].to_owned())
}

pub(crate) async fn wait_for_mail(app: &TestApp) -> String {
    for _ in 0..100 {
        if let Some(l) = mailed_link(app) {
            return l;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no reset mail arrived");
}

async fn password_reset_link_is_single_use_and_ends_sessions(db: Db) {
    let app = spawn_app(db).await;
    let rp = setup(&app, "jana.novakova").await;
    let (_, tokens) = app.code_flow(&rp, "jana.novakova").await;
    let b = TestApp::with_browser(&app);
    let html = b
        .browser
        .get(b.url("/password/forgot"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = b
        .browser
        .post(b.url("/password/forgot"))
        .form(&[
            ("csrf", hidden(&html, "csrf").as_str()),
            ("login", "jana.novakova@example.cz"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let sent_page = r.text().await.unwrap();
    let link = wait_for_mail(&app).await;
    let html = b
        .browser
        .get(b.url(&link))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (token, csrf) = (hidden(&html, "token"), hidden(&html, "csrf"));
    // A rule violation does not spend the link.
    let r = b
        .browser
        .post(b.url("/password/reset"))
        .form(&[
            ("token", token.as_str()),
            ("csrf", csrf.as_str()),
            ("new", "short"),
            ("confirm", "short"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let new = "Úplně-nové-heslo-2027";
    let r = b
        .browser
        .post(b.url("/password/reset"))
        .form(&[
            ("token", token.as_str()),
            ("csrf", csrf.as_str()),
            ("new", new),
            ("confirm", new),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("Heslo změněno"));
    // Single use.
    let r = b.browser.get(b.url(&link)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // The earlier session and its tokens are gone.
    let err = rp
        .exchange_refresh_token(openidconnect::OAuth2TokenResponse::refresh_token(&tokens).unwrap())
        .unwrap()
        .request_async(&rp_http())
        .await;
    assert!(err.is_err());
    let flow = start_flow(&rp, &[("prompt", "none")]);
    let r = app.browser.get(&flow.url).send().await.unwrap();
    assert_eq!(
        param(&location(r.headers()), "error").as_deref(),
        Some("login_required")
    );
    // The same answer for an address nobody has.
    let r = b
        .browser
        .post(b.url("/password/forgot"))
        .form(&[("csrf", csrf.as_str()), ("login", "nikdo@example.cz")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), sent_page);
}

async fn an_expired_reset_link_is_refused_and_unknown_addresses_get_the_same_answer(db: Db) {
    let app = spawn_app(db).await;
    setup(&app, "jana.novakova").await;
    let html = app
        .browser
        .get(app.url("/password/forgot?lang=en"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&html, "csrf");
    let answer = |login: &'static str| {
        let app = &app;
        let csrf = csrf.clone();
        async move {
            let r = app
                .browser
                .post(app.url("/password/forgot"))
                .form(&[("csrf", csrf.as_str()), ("login", login), ("lang", "en")])
                .send()
                .await
                .unwrap();
            (r.status(), r.text().await.unwrap())
        }
    };
    let known = answer("jana.novakova").await;
    let unknown = answer("neexistuje").await;
    assert_eq!(known, unknown);
    assert!(known.1.contains("If an account exists"));
    let link = wait_for_mail(&app).await;
    sql(
        &app,
        &format!("UPDATE password_resets SET expires_at = {}", now() - 1),
    )
    .await;
    let r = app.browser.get(app.url(&link)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Without the CSRF cookie the form is refused.
    let r = browser()
        .post(app.url("/password/forgot"))
        .form(&[("csrf", csrf.as_str()), ("login", "jana.novakova")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

async fn sessions_are_listed_and_can_be_ended(db: Db) {
    let app = spawn_app(db).await;
    let rp = setup(&app, "jana.novakova").await;
    app.code_flow(&rp, "jana.novakova").await;
    let other = TestApp::with_browser(&app);
    let (_, other_tokens) = other.code_flow(&rp, "jana.novakova").await;
    let html = app
        .browser
        .get(app.url("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        html.matches("name=\"sid\"").count(),
        1,
        "one other session with an end button"
    );
    assert!(html.contains("toto zařízení"));
    let r = post_form(
        &app,
        "/account/sessions/end",
        &[
            ("csrf", &hidden(&html, "csrf")),
            ("sid", &hidden(&html, "sid")),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let err = rp
        .exchange_refresh_token(
            openidconnect::OAuth2TokenResponse::refresh_token(&other_tokens).unwrap(),
        )
        .unwrap()
        .request_async(&rp_http())
        .await;
    assert!(err.is_err(), "the other session's tokens are revoked");
    // A forged form does nothing.
    let r = post_form(
        &app,
        "/account/sessions/end",
        &[("csrf", "forged"), ("sid", "x")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Without a session the account page asks to sign in.
    let r = browser().get(app.url("/account")).send().await.unwrap();
    assert!(location(r.headers()).starts_with("/login?"));
}

async fn idle_sessions_end(db: Db) {
    let app = spawn_app(db).await;
    let rp = setup(&app, "jana.novakova").await;
    app.code_flow(&rp, "jana.novakova").await;
    sql(
        &app,
        &format!("UPDATE sessions SET last_seen_at = {}", now() - 31 * 60),
    )
    .await;
    let flow = start_flow(&rp, &[("prompt", "none")]);
    let r = app.browser.get(&flow.url).send().await.unwrap();
    assert_eq!(
        param(&location(r.headers()), "error").as_deref(),
        Some("login_required")
    );
}

async fn hashes_with_old_parameters_are_upgraded_at_login(db: Db) {
    let app = spawn_app(db).await;
    let rp = setup(&app, "jana.novakova").await;
    // A hash of the same password with weaker parameters (m=4096, t=3).
    use argon2::password_hash::PasswordHasher;
    let weak = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(4096, 3, 1, None).unwrap(),
    )
    .hash_password(PASSWORD.as_bytes())
    .unwrap()
    .to_string();
    sql(
        &app,
        &format!("UPDATE accounts SET password_hash = '{weak}'"),
    )
    .await;
    app.code_flow(&rp, "jana.novakova").await;
    let a = app
        .state
        .storage
        .account_by_username("jana.novakova")
        .await
        .unwrap()
        .unwrap();
    assert!(
        a.password_hash
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{}",
        a.password_hash
    );
}

async fn too_many_attempts_from_one_address_are_throttled(db: Db) {
    let app = spawn_app_with(db, |c| c.limits.login_per_minute = 3).await;
    let rp = setup(&app, "jana.novakova").await;
    let flow = start_flow(&rp, &[]);
    let (id, csrf, _) = app.open_login(&flow.url).await;
    for _ in 0..3 {
        assert_eq!(
            app.submit_login(&id, &csrf, "x", "y").await.status(),
            StatusCode::OK
        );
    }
    let r = app
        .submit_login(&id, &csrf, "jana.novakova", PASSWORD)
        .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().get("retry-after").is_some());
}

async fn a_login_past_its_password_belongs_to_the_browser_that_entered_it(db: Db) {
    let app = spawn_app(db).await;
    let rp = setup(&app, "jana.novakova").await;
    sql(&app, "UPDATE accounts SET must_change_password = 1").await;
    // The attacker starts a login and lures the victim to its form.
    let attacker = TestApp::with_browser(&app);
    let flow = start_flow(&rp, &[]);
    let (id, attacker_csrf, _) = attacker.open_login(&flow.url).await;
    let html = app
        .browser
        .get(app.url(&format!("/login?id={id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = app
        .submit_login(&id, &hidden(&html, "csrf"), "jana.novakova", PASSWORD)
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // The attacker can neither open nor submit the next stage.
    let r = attacker
        .browser
        .get(attacker.url(&format!("/login/password?id={id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let new = "Útočníkovo-heslo-2027";
    let r = attacker
        .browser
        .post(attacker.url("/login/password"))
        .form(&[
            ("id", id.as_str()),
            ("csrf", attacker_csrf.as_str()),
            ("new", new),
            ("confirm", new),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // The victim's browser still can.
    let html = follow(&app, &r_again(&app, &id).await).await;
    assert!(html.contains("počátečním heslem"));
}

/// A redirect to the change page for the login `id`, as the victim's browser would follow.
async fn r_again(app: &TestApp, id: &str) -> reqwest::Response {
    app.browser
        .get(app.url(&format!("/login?id={id}")))
        .send()
        .await
        .unwrap()
}

async fn an_enrolled_second_factor_cannot_be_replaced_with_a_session_alone(db: Db) {
    let app = spawn_app(db).await;
    let rp = setup(&app, "jana.novakova").await;
    app.code_flow(&rp, "jana.novakova").await;
    enrol_on_account_page(&app).await;
    let before = app
        .state
        .storage
        .account_by_username("jana.novakova")
        .await
        .unwrap()
        .unwrap()
        .totp_secret;
    let html = app
        .browser
        .get(app.url("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&html, "csrf");
    let r = post_form(
        &app,
        "/account/totp",
        &[("csrf", &csrf), ("enrolment", "forged"), ("code", "123456")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let after = app
        .state
        .storage
        .account_by_username("jana.novakova")
        .await
        .unwrap()
        .unwrap()
        .totp_secret;
    assert_eq!(before, after);
}

async fn parallel_guesses_cannot_outrun_the_lockout(db: Db) {
    let app = spawn_app_with(db, |c| c.limits.login_per_minute = 1000).await;
    let rp = setup(&app, "jana.novakova").await;
    let flow = start_flow(&rp, &[]);
    let (id, csrf, _) = app.open_login(&flow.url).await;
    let guesses: Vec<_> = (0..20)
        .map(|i| {
            let b = app.browser.clone();
            let url = app.url("/login");
            let (id, csrf) = (id.clone(), csrf.clone());
            tokio::spawn(async move {
                b.post(url)
                    .form(&[
                        ("id", id.as_str()),
                        ("csrf", csrf.as_str()),
                        ("username", "jana.novakova"),
                        ("password", &format!("hadani-{i:04}-xx")),
                    ])
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    for g in guesses {
        assert_eq!(g.await.unwrap(), StatusCode::OK);
    }
    let sub = app
        .state
        .storage
        .account_by_username("jana.novakova")
        .await
        .unwrap()
        .unwrap()
        .sub;
    let checked = app
        .state
        .audit
        .for_subject(sub.as_str(), 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event == "login.failed" && e.details.contains("wrong_password"))
        .count();
    assert_eq!(
        checked, 5,
        "only the attempts before the lock reach the password check"
    );
}
