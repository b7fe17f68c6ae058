//! Passkeys (issue 15.1): registration on the account page, sign-in without a username, the
//! passkey as the second factor (also for staff, instead of TOTP), renaming and removal, and
//! every check of a ceremony (origin, challenge, user verification, counter, credential and
//! user handle, expiry). The authenticator is a software one written here to WebAuthn Level 3
//! §6 ("none" attestation, ES256 with aws-lc-rs), so each flag and field can be got wrong on
//! purpose; the browser tests use Chromium's own virtual authenticator.

use aws_lc_rs::digest::{digest, SHA256};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::accounts::{follow, password_step, post_form, setup, sql};
use crate::db_test;
use crate::helpers::*;

db_test!(
    a_passkey_added_on_the_account_page_signs_in_without_a_username,
    every_part_of_a_passkey_sign_in_is_checked,
    a_passkey_is_the_second_factor_after_the_password_and_serves_staff,
    passkeys_are_renamed_and_removed_only_with_the_password,
    an_operator_removes_the_second_factors_of_a_person_who_lost_them,
);

/// A software authenticator: one ES256 credential, with flags the test may change.
pub(crate) struct Authenticator {
    key: EcdsaKeyPair,
    pub credential_id: Vec<u8>,
    pub user_handle: Option<Vec<u8>>,
    pub counter: u32,
    pub origin: String,
    pub rp_id: String,
    /// Backup eligible and backed up (a synced passkey).
    pub synced: bool,
    /// User verification performed (UV flag).
    pub verified: bool,
}

/// Minimal CBOR (RFC 8949) for the attestation object and the COSE key.
fn cbor_head(major: u8, n: usize, out: &mut Vec<u8>) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=255 => out.extend([m | 24, n as u8]),
        _ => {
            out.push(m | 25);
            out.extend((n as u16).to_be_bytes());
        }
    }
}
fn cbor_int(i: i64, out: &mut Vec<u8>) {
    if i >= 0 {
        cbor_head(0, i as usize, out)
    } else {
        cbor_head(1, (-1 - i) as usize, out)
    }
}
fn cbor_bytes(b: &[u8], out: &mut Vec<u8>) {
    cbor_head(2, b.len(), out);
    out.extend(b);
}
fn cbor_text(s: &str, out: &mut Vec<u8>) {
    cbor_head(3, s.len(), out);
    out.extend(s.as_bytes());
}

impl Authenticator {
    pub fn new(app: &TestApp) -> Self {
        let url = url::Url::parse(&app.state.config.issuer).unwrap();
        Self {
            key: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap(),
            credential_id: (0..16).map(|_| rand::random::<u8>()).collect(),
            user_handle: None,
            counter: 0,
            origin: url.origin().ascii_serialization(),
            rp_id: url.host_str().unwrap().to_owned(),
            synced: false,
            verified: true,
        }
    }

    fn flags(&self, attested: bool) -> u8 {
        let mut f = 0x01; // UP
        if self.verified {
            f |= 0x04;
        }
        if self.synced {
            f |= 0x08 | 0x10; // BE, BS
        }
        if attested {
            f |= 0x40; // AT
        }
        f
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        json!({ "type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": false })
            .to_string()
            .into_bytes()
    }

    /// `navigator.credentials.create()` for the server's options: the answer as posted.
    pub fn register(&mut self, options: &Value) -> String {
        let pk = &options["publicKey"];
        assert_eq!(pk["rp"]["id"], self.rp_id.as_str());
        self.user_handle = Some(B64.decode(pk["user"]["id"].as_str().unwrap()).unwrap());
        let client_data = self.client_data("webauthn.create", pk["challenge"].as_str().unwrap());
        self.counter += 1;
        let point = self.key.public_key().as_ref();
        let mut cose = Vec::new();
        cbor_head(5, 5, &mut cose);
        for (k, v) in [(1, 2), (3, -7), (-1, 1)] {
            cbor_int(k, &mut cose);
            cbor_int(v, &mut cose);
        }
        cbor_int(-2, &mut cose);
        cbor_bytes(&point[1..33], &mut cose);
        cbor_int(-3, &mut cose);
        cbor_bytes(&point[33..65], &mut cose);
        let mut auth_data = digest(&SHA256, self.rp_id.as_bytes()).as_ref().to_vec();
        auth_data.push(self.flags(true));
        auth_data.extend(self.counter.to_be_bytes());
        auth_data.extend([0u8; 16]); // AAGUID
        auth_data.extend((self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend(&self.credential_id);
        auth_data.extend(cose);
        let mut att = Vec::new();
        cbor_head(5, 3, &mut att);
        cbor_text("fmt", &mut att);
        cbor_text("none", &mut att);
        cbor_text("attStmt", &mut att);
        cbor_head(5, 0, &mut att);
        cbor_text("authData", &mut att);
        cbor_bytes(&auth_data, &mut att);
        json!({
            "id": B64.encode(&self.credential_id),
            "rawId": B64.encode(&self.credential_id),
            "type": "public-key",
            "response": {
                "attestationObject": B64.encode(att),
                "clientDataJSON": B64.encode(client_data),
            },
            "extensions": {},
        })
        .to_string()
    }

    /// `navigator.credentials.get()` for the server's options: the answer as posted.
    pub fn assert(&mut self, options: &Value) -> String {
        let pk = &options["publicKey"];
        let client_data = self.client_data("webauthn.get", pk["challenge"].as_str().unwrap());
        self.counter += 1;
        let mut auth_data = digest(&SHA256, self.rp_id.as_bytes()).as_ref().to_vec();
        auth_data.push(self.flags(false));
        auth_data.extend(self.counter.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend(digest(&SHA256, &client_data).as_ref());
        let signature = self.key.sign(&SystemRandom::new(), &signed).unwrap();
        json!({
            "id": B64.encode(&self.credential_id),
            "rawId": B64.encode(&self.credential_id),
            "type": "public-key",
            "response": {
                "authenticatorData": B64.encode(auth_data),
                "clientDataJSON": B64.encode(client_data),
                "signature": B64.encode(signature.as_ref()),
                "userHandle": self.user_handle.as_ref().map(|h| B64.encode(h)),
            },
            "extensions": {},
        })
        .to_string()
    }
}

/// An app whose issuer has a domain name (`localhost`): WebAuthn refuses IP addresses.
pub(crate) async fn spawn_on_localhost(db: Db) -> TestApp {
    let mut app = spawn_app_with(db, |c| {
        c.issuer = c.issuer.replace("127.0.0.1", "localhost")
    })
    .await;
    app.base = app.state.config.issuer.clone();
    app
}

async fn account_page(app: &TestApp) -> String {
    let r = app.browser.get(app.url("/account")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.text().await.unwrap()
}

async fn json_post(app: &TestApp, path: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let r = post_form(app, path, form).await;
    let status = r.status();
    assert_eq!(r.headers()["cache-control"], "no-store");
    (status, r.json().await.unwrap())
}

/// Adds a passkey on the account page of the signed-in `app` browser; returns the response
/// to the final post.
pub(crate) async fn add_passkey(
    app: &TestApp,
    auth: &mut Authenticator,
    name: &str,
) -> reqwest::Response {
    let csrf = hidden(&account_page(app).await, "csrf");
    let (status, options) = json_post(
        app,
        "/account/passkeys/options",
        &[("csrf", &csrf), ("name", name), ("current", PASSWORD)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{options}");
    let credential = auth.register(&options);
    post_form(
        app,
        "/account/passkeys",
        &[("csrf", &csrf), ("name", name), ("credential", &credential)],
    )
    .await
}

/// The options of a passkey sign-in for the login page `html` (its `id` and `csrf`).
async fn login_options(app: &TestApp, html: &str) -> Value {
    let (id, csrf) = (hidden(html, "id"), hidden(html, "csrf"));
    let (status, options) = json_post(
        app,
        "/login/passkey/options",
        &[("id", &id), ("csrf", &csrf), ("lang", "cs")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{options}");
    options
}

async fn submit_passkey(app: &TestApp, html: &str, credential: &str) -> reqwest::Response {
    let (id, csrf) = (hidden(html, "id"), hidden(html, "csrf"));
    post_form(
        app,
        "/login/passkey",
        &[
            ("id", &id),
            ("csrf", &csrf),
            ("lang", "cs"),
            ("credential", credential),
        ],
    )
    .await
}

async fn count(app: &TestApp, sql_text: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql_text.to_owned()))
        .fetch_one(app.state.storage.pool())
        .await
        .unwrap();
    n
}

fn amr_and_acr(tokens: &openidconnect::core::CoreTokenResponse) -> (Value, Value) {
    let idt = crate::code_flow::decode_payload(
        &openidconnect::TokenResponse::id_token(tokens)
            .unwrap()
            .to_string(),
    );
    (idt["amr"].clone(), idt["acr"].clone())
}

async fn a_passkey_added_on_the_account_page_signs_in_without_a_username(db: Db) {
    let app = spawn_on_localhost(db).await;
    let rp = setup(&app, "jana.novakova").await;
    app.code_flow(&rp, "jana.novakova").await;
    let html = account_page(&app).await;
    assert!(html.contains("Přístupové klíče") && html.contains("/static/passkey.js"));
    let csrf = hidden(&html, "csrf");

    // The current password first, and a name.
    let (status, body) = json_post(
        &app,
        "/account/passkeys/options",
        &[("csrf", &csrf), ("name", "Notebook"), ("current", "wrong")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "Současné heslo není správné.");
    let (status, body) = json_post(
        &app,
        "/account/passkeys/options",
        &[("csrf", &csrf), ("name", "  "), ("current", PASSWORD)],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("název"));
    let r = post_form(
        &app,
        "/account/passkeys/options",
        &[
            ("csrf", "forged"),
            ("name", "Notebook"),
            ("current", PASSWORD),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "CSRF checked");

    let (_, options) = json_post(
        &app,
        "/account/passkeys/options",
        &[("csrf", &csrf), ("name", "Notebook"), ("current", PASSWORD)],
    )
    .await;
    let pk = &options["publicKey"];
    assert_eq!(pk["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(pk["authenticatorSelection"]["userVerification"], "required");
    assert_eq!(pk["rp"]["id"], "localhost");
    assert_eq!(pk["user"]["name"], "jana.novakova");
    let mut auth = Authenticator::new(&app);
    let credential = auth.register(&options);
    let r = post_form(
        &app,
        "/account/passkeys",
        &[
            ("csrf", &csrf),
            ("name", "Klíč v notebooku"),
            ("credential", &credential),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(r.headers()).contains("notice=passkey_added"));
    // The same answer again: its challenge is spent.
    let r = post_form(
        &app,
        "/account/passkeys",
        &[
            ("csrf", &csrf),
            ("name", "Znovu"),
            ("credential", &credential),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("nebyl přidán"));
    let html = account_page(&app).await;
    assert!(html.contains("Klíč v notebooku") && html.contains("uložený v jednom zařízení"));
    assert!(html.contains("zatím nepoužit"));
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE event = 'passkey.registered'"
        )
        .await,
        1
    );

    // A second credential of the same authenticator model keeps the account's user handle
    // and excludes the first one.
    let csrf = hidden(&html, "csrf");
    let (_, options) = json_post(
        &app,
        "/account/passkeys/options",
        &[("csrf", &csrf), ("name", "Telefon"), ("current", PASSWORD)],
    )
    .await;
    assert_eq!(
        options["publicKey"]["excludeCredentials"][0]["id"],
        B64.encode(&auth.credential_id)
    );
    assert_eq!(
        B64.decode(options["publicKey"]["user"]["id"].as_str().unwrap())
            .unwrap(),
        auth.user_handle.clone().unwrap()
    );

    // Another browser signs in with the passkey alone.
    let other = TestApp::with_browser(&app);
    let flow = start_flow(&rp, &[]);
    let (_, _, html) = other.open_login(&flow.url).await;
    assert!(html.contains("Přihlásit se přístupovým klíčem"));
    let options = login_options(&other, &html).await;
    assert_eq!(options["publicKey"]["userVerification"], "required");
    assert!(options["publicKey"]["allowCredentials"]
        .as_array()
        .is_none_or(|a| a.is_empty()));
    let r = submit_passkey(&other, &html, &auth.assert(&options)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let tokens = other.redeem(&rp, &flow, &location(r.headers())).await;
    let (amr, acr) = amr_and_acr(&tokens);
    assert_eq!(amr, json!(["hwk", "user"]));
    assert_eq!(acr, "urn:mpsv:idp:acr:mfa");
    // Counter and last use recorded.
    assert_eq!(
        count(&app, "SELECT sign_count FROM passkeys").await,
        i64::from(auth.counter)
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM passkeys WHERE last_used_at IS NOT NULL"
        )
        .await,
        1
    );
}

async fn every_part_of_a_passkey_sign_in_is_checked(db: Db) {
    let app = spawn_on_localhost(db).await;
    let rp = setup(&app, "jana.novakova").await;
    app.code_flow(&rp, "jana.novakova").await;
    let mut auth = Authenticator::new(&app);
    assert_eq!(
        add_passkey(&app, &mut auth, "Klíč").await.status(),
        StatusCode::SEE_OTHER
    );
    // Another person with a passkey of their own.
    let second = TestApp::with_browser(&app);
    app.add_user("petr.svoboda").await;
    second.code_flow(&rp, "petr.svoboda").await;
    let mut theirs = Authenticator::new(&app);
    add_passkey(&second, &mut theirs, "Petrův klíč").await;

    let refused = |r: reqwest::Response| async move {
        assert_eq!(r.status(), StatusCode::OK);
        let html = r.text().await.unwrap();
        assert!(html.contains("Přístupový klíč nebyl přijat"), "{html}");
        html
    };
    let browser = TestApp::with_browser(&app);
    let flow = start_flow(&rp, &[]);
    let (_, _, html) = browser.open_login(&flow.url).await;

    // Signed for another origin (a phishing site relaying the challenge).
    let options = login_options(&browser, &html).await;
    auth.origin = "http://localhost.evil.example".into();
    let html = refused(submit_passkey(&browser, &html, &auth.assert(&options)).await).await;
    auth.origin = app.base.clone();
    // Without user verification.
    let options = login_options(&browser, &html).await;
    auth.verified = false;
    let html = refused(submit_passkey(&browser, &html, &auth.assert(&options)).await).await;
    auth.verified = true;
    // An answer to an older challenge (each new one replaces the last; each is used once).
    let old = login_options(&browser, &html).await;
    let _new = login_options(&browser, &html).await;
    let html = refused(submit_passkey(&browser, &html, &auth.assert(&old)).await).await;
    let options = login_options(&browser, &html).await;
    let answer = auth.assert(&options);
    sql(&app, "UPDATE webauthn_ceremonies SET expires_at = 0").await;
    let html = refused(submit_passkey(&browser, &html, &answer).await).await;
    // A credential nobody registered.
    let options = login_options(&browser, &html).await;
    let mut stranger = Authenticator::new(&app);
    stranger.user_handle = auth.user_handle.clone();
    let html = refused(submit_passkey(&browser, &html, &stranger.assert(&options)).await).await;
    // The right credential presented with another account's user handle.
    let options = login_options(&browser, &html).await;
    let mine = auth.user_handle.clone();
    auth.user_handle = theirs.user_handle.clone();
    let html = refused(submit_passkey(&browser, &html, &auth.assert(&options)).await).await;
    auth.user_handle = mine;
    // A counter that went back: a cloned authenticator.
    let options = login_options(&browser, &html).await;
    let counter = auth.counter;
    auth.counter = 0;
    let html = refused(submit_passkey(&browser, &html, &auth.assert(&options)).await).await;
    auth.counter = counter + 5;
    // Not JSON at all.
    login_options(&browser, &html).await;
    let html = refused(submit_passkey(&browser, &html, "{not json").await).await;
    // Without a challenge.
    let html = refused(submit_passkey(&browser, &html, &auth.assert(&options)).await).await;
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE event = 'login.passkey_failed'"
        )
        .await,
        9
    );
    for reason in [
        "rejected",
        "expired",
        "unknown_credential",
        "wrong_user_handle",
        "malformed",
        "no_ceremony",
    ] {
        let n = count(
            &app,
            &format!(
                "SELECT COUNT(*) FROM audit_log WHERE event = 'login.passkey_failed' \
                 AND details LIKE '%\"{reason}\"%'"
            ),
        )
        .await;
        assert!(n >= 1, "{reason}");
    }
    // None of it counted toward the lockout, and the right answer still signs in.
    assert_eq!(
        count(
            &app,
            "SELECT failed_logins FROM accounts WHERE username = 'jana.novakova'"
        )
        .await,
        0
    );
    let options = login_options(&browser, &html).await;
    let r = submit_passkey(&browser, &html, &auth.assert(&options)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    browser.redeem(&rp, &flow, &location(r.headers())).await;

    // A disabled account cannot sign in with its passkey.
    sql(
        &app,
        "UPDATE accounts SET status = 'disabled' WHERE username = 'jana.novakova'",
    )
    .await;
    let browser = TestApp::with_browser(&app);
    let (_, _, html) = browser.open_login(&start_flow(&rp, &[]).url).await;
    let options = login_options(&browser, &html).await;
    refused(submit_passkey(&browser, &html, &auth.assert(&options)).await).await;
}

async fn a_passkey_is_the_second_factor_after_the_password_and_serves_staff(db: Db) {
    let app = spawn_on_localhost(db).await;
    let rp = setup(&app, "jana.novakova").await;
    let (_, first) = app.code_flow(&rp, "jana.novakova").await;
    let sid = crate::code_flow::decode_payload(
        &openidconnect::TokenResponse::id_token(&first)
            .unwrap()
            .to_string(),
    )["sid"]
        .clone();
    let mut auth = Authenticator::new(&app);
    auth.synced = true;
    add_passkey(&app, &mut auth, "Správce hesel").await;
    assert!(account_page(&app).await.contains("synchronizovaný"));

    // Step-up in the same session: the passkey alone, the same sid, the MFA level.
    let flow = start_flow(&rp, &[("acr_values", "urn:mpsv:idp:acr:mfa")]);
    let r = app.browser.get(&flow.url).send().await.unwrap();
    let html = follow(&app, &r).await;
    assert!(html.contains("Použít přístupový klíč"));
    assert!(!html.contains("one-time-code"), "no TOTP, no code field");
    let options = login_options(&app, &html).await;
    assert_eq!(
        options["publicKey"]["allowCredentials"][0]["id"],
        B64.encode(&auth.credential_id)
    );
    let r = submit_passkey(&app, &html, &auth.assert(&options)).await;
    let tokens = app.redeem(&rp, &flow, &location(r.headers())).await;
    let idt = crate::code_flow::decode_payload(
        &openidconnect::TokenResponse::id_token(&tokens)
            .unwrap()
            .to_string(),
    );
    assert_eq!(idt["amr"], json!(["pwd", "swk", "user"]));
    assert_eq!(idt["acr"], "urn:mpsv:idp:acr:mfa");
    assert_eq!(idt["sid"], sid);

    // With a passkey, the password alone no longer signs in: the second factor follows.
    let other = TestApp::with_browser(&app);
    let (r, flow) = password_step(&other, &rp, "jana.novakova", PASSWORD).await;
    assert!(location(r.headers()).starts_with("/login/otp?"));
    let html = follow(&other, &r).await;
    // Someone else's passkey is not this account's second factor.
    let options = login_options(&other, &html).await;
    let mut stranger = Authenticator::new(&app);
    let r = submit_passkey(&other, &html, &stranger.assert(&options)).await;
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Přístupový klíč nebyl přijat"));
    let options = login_options(&other, &html).await;
    let r = submit_passkey(&other, &html, &auth.assert(&options)).await;
    let tokens = other.redeem(&rp, &flow, &location(r.headers())).await;
    assert_eq!(amr_and_acr(&tokens).0, json!(["pwd", "swk", "user"]));

    // Staff: an operator with a passkey and no TOTP is not asked to enrol TOTP, and reaches
    // the console with the passkey as the second factor.
    sql(
        &app,
        "UPDATE accounts SET role = 'operator' WHERE username = 'jana.novakova'",
    )
    .await;
    let staff = TestApp::with_browser(&app);
    let r = staff.browser.get(staff.url("/admin")).send().await.unwrap();
    let html = follow(&staff, &r).await;
    let (id, csrf) = (hidden(&html, "id"), hidden(&html, "csrf"));
    let r = staff
        .submit_login(&id, &csrf, "jana.novakova", PASSWORD)
        .await;
    assert!(
        location(r.headers()).starts_with("/login/otp?"),
        "not the TOTP enrolment"
    );
    let html = follow(&staff, &r).await;
    let options = login_options(&staff, &html).await;
    let r = submit_passkey(&staff, &html, &auth.assert(&options)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(r.headers()).starts_with("/admin"));
    let r = staff.browser.get(staff.url("/admin")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Their only second factor cannot be removed.
    let html = account_page(&staff).await;
    let id = html
        .split("name=\"passkey\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let r = post_form(
        &staff,
        "/account/passkeys/remove",
        &[
            ("csrf", &hidden(&html, "csrf")),
            ("passkey", &id),
            ("current", PASSWORD),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("alespoň jeden druhý faktor"));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM passkeys").await, 1);
}

async fn passkeys_are_renamed_and_removed_only_with_the_password(db: Db) {
    let app = spawn_on_localhost(db).await;
    let rp = setup(&app, "jana.novakova").await;
    app.code_flow(&rp, "jana.novakova").await;
    let mut auth = Authenticator::new(&app);
    add_passkey(&app, &mut auth, "Starý název").await;
    let html = account_page(&app).await;
    let csrf = hidden(&html, "csrf");
    let id = html
        .split("name=\"passkey\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();

    let r = post_form(
        &app,
        "/account/passkeys/rename",
        &[("csrf", &csrf), ("passkey", &id), ("name", "Nový název")],
    )
    .await;
    assert!(location(r.headers()).contains("notice=passkey_renamed"));
    let html = account_page(&app).await;
    assert!(html.contains("Nový název") && !html.contains("Starý název"));

    // Another person cannot touch it, even knowing its id.
    let other = TestApp::with_browser(&app);
    app.add_user("petr.svoboda").await;
    other.code_flow(&rp, "petr.svoboda").await;
    let other_csrf = hidden(&account_page(&other).await, "csrf");
    post_form(
        &other,
        "/account/passkeys/rename",
        &[
            ("csrf", &other_csrf),
            ("passkey", &id),
            ("name", "Ukradený"),
        ],
    )
    .await;
    post_form(
        &other,
        "/account/passkeys/remove",
        &[
            ("csrf", &other_csrf),
            ("passkey", &id),
            ("current", PASSWORD),
        ],
    )
    .await;
    assert!(account_page(&app).await.contains("Nový název"));

    // Removal needs the current password.
    let r = post_form(
        &app,
        "/account/passkeys/remove",
        &[("csrf", &csrf), ("passkey", &id), ("current", "wrong")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM passkeys").await, 1);
    let r = post_form(
        &app,
        "/account/passkeys/remove",
        &[("csrf", &csrf), ("passkey", &id), ("current", PASSWORD)],
    )
    .await;
    assert!(location(r.headers()).contains("notice=passkey_removed"));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM passkeys").await, 0);
    for event in ["passkey.renamed", "passkey.removed"] {
        assert_eq!(
            count(
                &app,
                &format!("SELECT COUNT(*) FROM audit_log WHERE event = '{event}'")
            )
            .await,
            1,
            "{event}"
        );
    }

    // A removed passkey no longer signs in; the password alone does again.
    let browser = TestApp::with_browser(&app);
    let flow = start_flow(&rp, &[]);
    let (_, _, html) = browser.open_login(&flow.url).await;
    let options = login_options(&browser, &html).await;
    let r = submit_passkey(&browser, &html, &auth.assert(&options)).await;
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Přístupový klíč nebyl přijat"));
    let back = browser.login(&flow.url, "jana.novakova").await;
    let tokens = browser.redeem(&rp, &flow, &back).await;
    assert_eq!(amr_and_acr(&tokens).0, json!(["pwd"]));
}

async fn an_operator_removes_the_second_factors_of_a_person_who_lost_them(db: Db) {
    let app = spawn_on_localhost(db).await;
    let rp = setup(&app, "jana.novakova").await;
    app.code_flow(&rp, "jana.novakova").await;
    let mut auth = Authenticator::new(&app);
    add_passkey(&app, &mut auth, "Ztracený telefon").await;
    crate::accounts::enrol_on_account_page(&app).await;
    let sub: String =
        sqlx::query_as::<_, (String,)>("SELECT sub FROM accounts WHERE username = 'jana.novakova'")
            .fetch_one(app.state.storage.pool())
            .await
            .unwrap()
            .0;

    let op = crate::admin::token(&app, "ops-robot", &["admin:operator"]).await;
    let (status, _, _) = crate::admin::call(
        &app,
        Some(&op),
        reqwest::Method::POST,
        "/persons/0/second-factors/reset",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no such account");
    let (status, _, _) = crate::admin::call(
        &app,
        Some(&op),
        reqwest::Method::POST,
        &format!("/persons/{sub}/second-factors/reset"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM passkeys").await, 0);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM accounts WHERE totp_secret IS NOT NULL"
        )
        .await,
        0
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM recovery_codes").await, 0);
    // Signed out everywhere, and the password alone signs in again.
    let r = app.browser.get(app.url("/account")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, tokens) = app.code_flow(&rp, "jana.novakova").await;
    assert_eq!(amr_and_acr(&tokens).0, json!(["pwd"]));
    let details: (String, String) = sqlx::query_as(
        "SELECT actor, details FROM audit_log WHERE event = 'account.second_factors_reset'",
    )
    .fetch_one(app.state.storage.pool())
    .await
    .unwrap();
    let d: Value = serde_json::from_str(&details.1).unwrap();
    assert_eq!(d["totp"], true);
    assert_eq!(d["passkeys"], 1);
    assert_eq!(d["sessions"], 1);
    assert!(details.0.contains("ops-robot"), "{}", details.0);

    // Operators do not touch staff accounts.
    sql(
        &app,
        "UPDATE accounts SET role = 'operator' WHERE username = 'jana.novakova'",
    )
    .await;
    let (status, _, _) = crate::admin::call(
        &app,
        Some(&op),
        reqwest::Method::POST,
        &format!("/persons/{sub}/second-factors/reset"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // An administrator does.
    let adm = crate::admin::token(&app, "admin-robot", &["admin:administrator"]).await;
    let (status, _, _) = crate::admin::call(
        &app,
        Some(&adm),
        reqwest::Method::POST,
        &format!("/persons/{sub}/second-factors/reset"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}
