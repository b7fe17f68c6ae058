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
);

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
    let html = app
        .browser
        .get(app.url("/account/totp"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
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
