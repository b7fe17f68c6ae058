//! The MPSV rules (DESIGN.md, "The rules from MPSV"), one test per rule and edge, through the
//! real server with the `openidconnect` crate as both relying parties, on SQLite and
//! PostgreSQL. The register is filled through `mpsv_idp::registry`, as operators fill it.

use mpsv_idp::domain::client::Application;
use mpsv_idp::domain::date::Date;
use mpsv_idp::domain::id::OrganisationId;
use mpsv_idp::domain::id::Subject;
use mpsv_idp::domain::organisation::{Ico, Organisation, OrganisationKind, Seat};
use mpsv_idp::domain::person::{ConsentForm, Person};
use mpsv_idp::registry::{self, consents::Consenter, RegistryError};
use openidconnect::{OAuth2TokenResponse, RefreshToken, Scope, TokenResponse};
use reqwest::StatusCode;
use serde_json::Value;

use crate::code_flow::decode_payload;
use crate::db_test;
use crate::helpers::*;

db_test!(
    a_poskytovatel_user_of_an_nno_in_family_support_signs_in_to_rodina_without_another_login,
    the_same_user_of_a_provider_that_is_not_an_nno_is_refused_at_rodina,
    a_rodina_only_user_is_refused_at_poskytovatel,
    submit_permission_is_statutory_delegated_or_absent,
    ending_the_delegators_statutory_role_ends_submit_and_signs_them_out_of_both_apps,
    a_statutory_role_ended_through_another_nodes_api_takes_submit_from_this_nodes_tokens,
    a_statutory_role_ended_on_a_later_date_keeps_submit_until_then,
    withdrawing_a_consent_removes_the_application,
    an_account_cannot_be_created_without_a_consent,
    a_person_in_several_organisations_chooses_one_per_application,
    mpsv_claims_are_in_userinfo_introspection_and_discovery,
    the_credentials_letter_carries_a_working_initial_password,
    a_representative_delegates_and_revokes_on_the_self_service_page,
    submitting_can_require_the_mfa_level_with_a_step_up,
);

const OPERATOR: &str = "operator-test";

/// Two application clients (sharing a back-channel receiver) and a register.
struct World {
    app: TestApp,
    poskytovatel: Rp,
    rodina: Rp,
    secrets: (String, String),
    receiver: Receiver,
}

async fn world(db: Db) -> World {
    world_with(db, |_| {}).await
}

async fn world_with(db: Db, adjust: impl FnOnce(&mut mpsv_idp::config::Config)) -> World {
    let app = spawn_app_with(db, adjust).await;
    let receiver = Receiver::start().await;
    let mut p = ClientSpec::confidential("oksluzby-poskytovatel");
    p.application = Some("poskytovatel");
    p.backchannel = Some(receiver.url.clone());
    let mut r = ClientSpec::confidential("oksluzby-rodina");
    r.application = Some("rodina");
    r.backchannel = Some(receiver.url.clone());
    let sp = app.register(p).await.unwrap();
    let sr = app.register(r).await.unwrap();
    let poskytovatel = app.rp("oksluzby-poskytovatel", Some(sp.clone())).await;
    let rodina = app.rp("oksluzby-rodina", Some(sr.clone())).await;
    World {
        app,
        poskytovatel,
        rodina,
        secrets: (sp, sr),
        receiver,
    }
}

/// Registers an organisation; returns its id.
async fn organisation(
    app: &TestApp,
    ico: &str,
    name: &str,
    provider: bool,
    nno: bool,
) -> OrganisationId {
    let o = Organisation::new(
        Ico::parse(ico).unwrap(),
        name,
        "spolek",
        Seat::parse("Husova 8", "Olomouc", "779 00").unwrap(),
        OrganisationKind {
            social_service_provider: provider,
            nno_family_support: nno,
        },
    )
    .unwrap();
    registry::organisations::create(&app.state, OPERATOR, &o)
        .await
        .unwrap();
    o.id
}

fn paper() -> ConsentForm {
    let d = Date::parse("2026-11-02").unwrap();
    ConsentForm::new(d, d.add_days(3), "MPSV-1/2026").unwrap()
}

/// A person with these consents and an account (test password, already changed).
async fn person(
    app: &TestApp,
    username: &str,
    consents: &[(&OrganisationId, Application)],
) -> Subject {
    let p = Person::new("Jiří", "Šťastný", Some(&format!("{username}@example.cz"))).unwrap();
    let mut sub: Option<Subject> = None;
    for (org, form) in consents {
        let subject = match &sub {
            Some(s) => Consenter::Existing(s),
            None => Consenter::New(&p),
        };
        let r = registry::consents::record(&app.state, OPERATOR, subject, org, *form, &paper())
            .await
            .unwrap();
        sub = Some(r.person_sub);
    }
    let sub = sub.unwrap();
    registry::accounts::create(
        &app.state,
        OPERATOR,
        &sub,
        consents[0].0,
        Some(mpsv_idp::domain::account::Username::parse(username).unwrap()),
    )
    .await
    .unwrap();
    app.state
        .storage
        .set_password(&sub, &hash(PASSWORD), mpsv_idp::secrets::now(), false, None)
        .await
        .unwrap();
    sub
}

async fn statutory(app: &TestApp, sub: &Subject, org: &OrganisationId) {
    registry::statutory::start(
        &app.state,
        OPERATOR,
        sub,
        org,
        mpsv_idp::secrets::now() - 60,
    )
    .await
    .unwrap();
}

/// An authorization request for an application: the MPSV scopes as well.
fn app_flow(rp: &Rp, extra: &[(&str, &str)]) -> Flow {
    use openidconnect::core::CoreAuthenticationFlow;
    use openidconnect::{CsrfToken, Nonce, PkceCodeChallenge};
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut req = rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for s in ["profile", "email", "mpsv", "organisation"] {
        req = req.add_scope(Scope::new(s.into()));
    }
    for (k, v) in extra {
        req = req.add_extra_param(*k, *v);
    }
    let (url, csrf, nonce) = req.url();
    Flow {
        url: url.to_string(),
        csrf,
        nonce,
        verifier,
    }
}

/// Signs in (form or SSO) to `rp` and redeems the code; returns the ID token's claims and
/// the token response.
async fn sign_in(
    app: &TestApp,
    rp: &Rp,
    username: &str,
) -> (Value, openidconnect::core::CoreTokenResponse) {
    let flow = app_flow(rp, &[]);
    let r = app.browser.get(&flow.url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let mut back = location(r.headers());
    if back.starts_with("/login?") {
        back = app.login(&flow.url, username).await;
    }
    let tokens = app.redeem(rp, &flow, &back).await;
    let claims = decode_payload(&tokens.id_token().unwrap().to_string());
    (claims, tokens)
}

async fn userinfo(app: &TestApp, access_token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(app.url("/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
}

async fn refresh(
    rp: &Rp,
    tokens: &openidconnect::core::CoreTokenResponse,
) -> Result<Value, String> {
    let rt = tokens.refresh_token().unwrap();
    match rp
        .exchange_refresh_token(&RefreshToken::new(rt.secret().clone()))
        .unwrap()
        .request_async(&rp_http())
        .await
    {
        Ok(t) => Ok(decode_payload(&t.id_token().unwrap().to_string())),
        Err(e) => Err(format!("{e:?}")),
    }
}

fn apps(claims: &Value) -> Vec<&str> {
    claims["apps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect()
}

/// The access-denied page, and where its button leads: through the IdP back to the
/// application with `error=access_denied`.
async fn expect_denied(app: &TestApp, r: reqwest::Response, flow: &Flow, app_name: &str) {
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let html = r.text().await.unwrap();
    assert!(html.contains("Přístup do aplikace nemáte"), "{html}");
    assert!(html.contains(app_name), "{html}");
    assert!(html.contains("podpora.oksluzby@mpsv.cz"));
    let start = html.find("href=\"/authorize/resume?").expect("link back") + 6;
    let button = html[start..start + html[start..].find('"').unwrap()]
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    let r = app.browser.get(app.url(&button)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let link = location(r.headers());
    assert!(link.starts_with("http://127.0.0.1:9/cb?"), "{link}");
    assert_eq!(param(&link, "error").as_deref(), Some("access_denied"));
    assert_eq!(
        param(&link, "state").as_deref(),
        Some(flow.csrf.secret().as_str()),
        "{link}"
    );
    assert_eq!(param(&link, "iss").as_deref(), Some(app.base.as_str()));
}

// MPSV rule 2.
async fn a_poskytovatel_user_of_an_nno_in_family_support_signs_in_to_rodina_without_another_login(
    db: Db,
) {
    let w = world(db).await;
    let nno = organisation(&w.app, "26543214", "Šťastná rodina, z. ú.", true, true).await;
    person(&w.app, "jiri.stastny", &[(&nno, Application::Poskytovatel)]).await;
    let (claims, _) = sign_in(&w.app, &w.poskytovatel, "jiri.stastny").await;
    assert_eq!(apps(&claims), ["poskytovatel", "rodina"]);
    assert_eq!(claims["organisation"]["name"], "Šťastná rodina, z. ú.");
    assert_eq!(claims["organisation"]["nno_family_support"], true);

    // rodina: straight back with a code, no form.
    let flow = app_flow(&w.rodina, &[]);
    let r = w.app.browser.get(&flow.url).send().await.unwrap();
    let back = location(r.headers());
    assert!(back.starts_with(REDIRECT), "no login form expected: {back}");
    let tokens = w.app.redeem(&w.rodina, &flow, &back).await;
    let claims = decode_payload(&tokens.id_token().unwrap().to_string());
    assert_eq!(claims["organisation"]["ico"], "26543214");
}

async fn the_same_user_of_a_provider_that_is_not_an_nno_is_refused_at_rodina(db: Db) {
    let w = world(db).await;
    let org = organisation(&w.app, "27712346", "Domov Slunce, o. p. s.", true, false).await;
    person(&w.app, "jiri.stastny", &[(&org, Application::Poskytovatel)]).await;
    let (claims, _) = sign_in(&w.app, &w.poskytovatel, "jiri.stastny").await;
    assert_eq!(apps(&claims), ["poskytovatel"]);
    let flow = app_flow(&w.rodina, &[]);
    let r = w.app.browser.get(&flow.url).send().await.unwrap();
    expect_denied(&w.app, r, &flow, "OKslužby – rodina").await;
    // prompt=none gets the error at once.
    let flow = app_flow(&w.rodina, &[("prompt", "none")]);
    let r = w.app.browser.get(&flow.url).send().await.unwrap();
    assert_eq!(
        param(&location(r.headers()), "error").as_deref(),
        Some("access_denied")
    );
}

async fn a_rodina_only_user_is_refused_at_poskytovatel(db: Db) {
    let w = world(db).await;
    let org = organisation(
        &w.app,
        "26910021",
        "Rodinné centrum Klubíčko, z. s.",
        false,
        true,
    )
    .await;
    person(&w.app, "alena.vesela", &[(&org, Application::Rodina)]).await;
    let flow = app_flow(&w.poskytovatel, &[]);
    let (id, csrf, _) = w.app.open_login(&flow.url).await;
    let r = w
        .app
        .submit_login(&id, &csrf, "alena.vesela", PASSWORD)
        .await;
    expect_denied(&w.app, r, &flow, "OKslužby – poskytovatel").await;
    // The same person is welcome at rodina (the session exists: no form).
    let (claims, _) = sign_in(&w.app, &w.rodina, "alena.vesela").await;
    assert_eq!(apps(&claims), ["rodina"]);
}

// MPSV rule 4.
async fn submit_permission_is_statutory_delegated_or_absent(db: Db) {
    let w = world(db).await;
    let org = organisation(&w.app, "27712346", "Domov Slunce, o. p. s.", true, false).await;
    let p = [(&org, Application::Poskytovatel)];
    let boss = person(&w.app, "petr.dvorak", &p).await;
    let clerk = person(&w.app, "eva.cerna", &p).await;
    let delegate = person(&w.app, "tomas.kral", &p).await;
    statutory(&w.app, &boss, &org).await;
    registry::delegations::grant(&w.app.state, boss.as_str(), &org, &boss, &delegate)
        .await
        .unwrap();
    // Only a statutory representative delegates, and only to a member.
    let e = registry::delegations::grant(&w.app.state, clerk.as_str(), &org, &clerk, &boss).await;
    assert!(matches!(e, Err(RegistryError::Refused(_))), "{e:?}");

    let expect = [
        ("petr.dvorak", true, Value::from("statutory"), true),
        ("eva.cerna", false, Value::Null, false),
        ("tomas.kral", true, Value::from("delegation"), false),
    ];
    for (username, submit, source, is_statutory) in expect {
        let browser = TestApp::with_browser(&w.app);
        let (claims, _) = sign_in(&browser, &w.poskytovatel, username).await;
        assert_eq!(claims["submit_permission"], submit, "{username}");
        assert_eq!(claims["submit_permission_source"], source, "{username}");
        assert_eq!(
            claims["statutory_representative"], is_statutory,
            "{username}"
        );
    }
}

// MPSV rule 6.
async fn ending_the_delegators_statutory_role_ends_submit_and_signs_them_out_of_both_apps(db: Db) {
    let w = world(db).await;
    let nno = organisation(&w.app, "26543214", "Šťastná rodina, z. ú.", true, true).await;
    let p = [(&nno, Application::Poskytovatel)];
    let boss = person(&w.app, "marie.svobodova", &p).await;
    let delegate = person(&w.app, "lukas.prochazka", &p).await;
    statutory(&w.app, &boss, &nno).await;
    registry::delegations::grant(&w.app.state, OPERATOR, &nno, &boss, &delegate)
        .await
        .unwrap();

    // The representative in both apps (one SSO session); the delegate in poskytovatel.
    let (boss_p, boss_tokens) = sign_in(&w.app, &w.poskytovatel, "marie.svobodova").await;
    assert_eq!(boss_p["submit_permission"], true);
    sign_in(&w.app, &w.rodina, "marie.svobodova").await;
    let other = TestApp::with_browser(&w.app);
    let (d, delegate_tokens) = sign_in(&other, &w.poskytovatel, "lukas.prochazka").await;
    assert_eq!(d["submit_permission_source"], "delegation");

    registry::statutory::end(
        &w.app.state,
        OPERATOR,
        &boss,
        &nno,
        None,
        "odvolána valnou hromadou",
    )
    .await
    .unwrap();

    // Back-channel logout reached both applications for the representative's session.
    let logouts = w.receiver.wait_for(2).await;
    assert_eq!(logouts.len(), 2, "one logout token per application");
    for t in &logouts {
        let c = decode_payload(t);
        assert_eq!(c["sub"], boss.as_str());
        assert_eq!(c["sid"], boss_p["sid"]);
    }
    let auds: Vec<String> = logouts
        .iter()
        .map(|t| decode_payload(t)["aud"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(auds.contains(&"oksluzby-poskytovatel".to_owned()));
    assert!(auds.contains(&"oksluzby-rodina".to_owned()));
    // Their refresh token is dead, and the session: the next login needs the form again.
    assert!(refresh(&w.poskytovatel, &boss_tokens).await.is_err());
    let flow = app_flow(&w.poskytovatel, &[]);
    let r = w.app.browser.get(&flow.url).send().await.unwrap();
    assert!(location(r.headers()).starts_with("/login?"));

    // The delegate keeps the account but not the permission: at userinfo and at refresh.
    let info: Value = userinfo(&w.app, delegate_tokens.access_token().secret())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["submit_permission"], false);
    assert_eq!(info["submit_permission_source"], Value::Null);
    let refreshed = refresh(&w.poskytovatel, &delegate_tokens).await.unwrap();
    assert_eq!(refreshed["submit_permission"], false);
    // The delegation lapsed for good (a later reappointment does not revive it).
    assert!(w
        .app
        .state
        .storage
        .delegations(&nno)
        .await
        .unwrap()
        .is_empty());
}

async fn a_statutory_role_ended_on_a_later_date_keeps_submit_until_then(db: Db) {
    let w = world(db).await;
    let org = organisation(&w.app, "27712346", "Domov Slunce, o. p. s.", true, false).await;
    let boss = person(&w.app, "petr.dvorak", &[(&org, Application::Poskytovatel)]).await;
    statutory(&w.app, &boss, &org).await;
    let later = mpsv_idp::secrets::now() + 7 * 86_400;
    registry::statutory::end(
        &w.app.state,
        OPERATOR,
        &boss,
        &org,
        Some(later),
        "konec funkce",
    )
    .await
    .unwrap();
    let (claims, tokens) = sign_in(&w.app, &w.poskytovatel, "petr.dvorak").await;
    assert_eq!(claims["submit_permission"], true);
    // Nothing is carried out before the date.
    assert_eq!(
        registry::statutory::apply_pending_ends(&w.app.state)
            .await
            .unwrap(),
        0
    );
    assert!(refresh(&w.poskytovatel, &tokens).await.is_ok());
}

// MPSV rule 3: withdrawal.
async fn withdrawing_a_consent_removes_the_application(db: Db) {
    let w = world(db).await;
    let nno = organisation(&w.app, "26543214", "Šťastná rodina, z. ú.", true, true).await;
    let sub = person(&w.app, "jiri.stastny", &[(&nno, Application::Poskytovatel)]).await;
    let (_, tokens) = sign_in(&w.app, &w.rodina, "jiri.stastny").await;
    let consent = w.app.state.storage.consents_of(&sub).await.unwrap()[0]
        .id
        .clone();
    registry::consents::withdraw(&w.app.state, OPERATOR, &consent, "odvolán souhlas")
        .await
        .unwrap();
    let r = userinfo(&w.app, tokens.access_token().secret()).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(refresh(&w.rodina, &tokens).await.is_err());
    let flow = app_flow(&w.rodina, &[]);
    let r = w.app.browser.get(&flow.url).send().await.unwrap();
    expect_denied(&w.app, r, &flow, "OKslužby – rodina").await;
    // The identifier stays the person's and is never reused.
    let p = w.app.state.storage.person(&sub).await.unwrap().unwrap();
    assert!(p.mpsv_client_id.is_some());
}

// MPSV rule 3: no consent, no account; and IČO checked.
async fn an_account_cannot_be_created_without_a_consent(db: Db) {
    let w = world(db).await;
    let org = organisation(&w.app, "27712346", "Domov Slunce, o. p. s.", true, false).await;
    let p = Person::new("Bez", "Souhlasu", None).unwrap();
    w.app
        .state
        .storage
        .insert_person(&p, OPERATOR)
        .await
        .unwrap();
    let e = registry::accounts::create(&w.app.state, OPERATOR, &p.sub, &org, None).await;
    assert!(matches!(e, Err(RegistryError::Refused(_))), "{e:?}");
    assert!(w.app.state.storage.account(&p.sub).await.unwrap().is_none());
    assert!(p.mpsv_client_id.is_none());
    // An IČO with a wrong check digit is refused with the reason.
    let e = Ico::parse("27712347").unwrap_err();
    assert!(e.0.contains("check digit"), "{e}");
    // Identifiers: assigned in order, unique, with a valid check character.
    let a = person(&w.app, "prvni.osoba", &[(&org, Application::Poskytovatel)]).await;
    let b = person(&w.app, "druha.osoba", &[(&org, Application::Poskytovatel)]).await;
    let id = |sub: Subject| {
        let s = w.app.state.storage.clone();
        async move {
            s.person(&sub)
                .await
                .unwrap()
                .unwrap()
                .mpsv_client_id
                .unwrap()
        }
    };
    let (ia, ib) = (id(a).await, id(b).await);
    assert_ne!(ia, ib);
    assert!(mpsv_idp::domain::mpsv_id::MpsvClientId::parse(ia.as_str()).is_ok());
}

async fn a_person_in_several_organisations_chooses_one_per_application(db: Db) {
    let w = world(db).await;
    let a = organisation(&w.app, "27712346", "Domov Slunce, o. p. s.", true, false).await;
    let b = organisation(&w.app, "26543214", "Šťastná rodina, z. ú.", true, true).await;
    person(
        &w.app,
        "jan.horak",
        &[
            (&a, Application::Poskytovatel),
            (&b, Application::Poskytovatel),
        ],
    )
    .await;
    // Login to poskytovatel: the choice page offers both.
    let flow = app_flow(&w.poskytovatel, &[]);
    let (id, csrf, _) = w.app.open_login(&flow.url).await;
    let r = w.app.submit_login(&id, &csrf, "jan.horak", PASSWORD).await;
    let choice = location(r.headers());
    assert!(choice.starts_with("/login/organisation?"), "{choice}");
    let choose = |url: String, org: String| {
        let app = &w.app;
        async move {
            let page = app.browser.get(app.url(&url)).send().await.unwrap();
            assert_eq!(page.status(), StatusCode::OK);
            let html = page.text().await.unwrap();
            assert!(html.contains("Domov Slunce") && html.contains("Šťastná rodina"));
            let r = app
                .browser
                .post(app.url("/login/organisation"))
                .form(&[
                    ("id", hidden(&html, "id").as_str()),
                    ("csrf", hidden(&html, "csrf").as_str()),
                    ("lang", "cs"),
                    ("organisation", org.as_str()),
                ])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::SEE_OTHER);
            location(r.headers())
        }
    };
    let back = choose(choice, b.clone().into()).await;
    let tokens = w.app.redeem(&w.poskytovatel, &flow, &back).await;
    let c = decode_payload(&tokens.id_token().unwrap().to_string());
    assert_eq!(c["organisation"]["id"], b.as_str());

    // rodina: only b entitles; no page.
    let (rc, rodina_tokens) = sign_in(&w.app, &w.rodina, "jan.horak").await;
    assert_eq!(rc["organisation"]["id"], b.as_str());
    // poskytovatel again: remembered, no page.
    let (again, _) = sign_in(&w.app, &w.poskytovatel, "jan.horak").await;
    assert_eq!(again["organisation"]["id"], b.as_str());
    // prompt=select_account asks again; choosing a changes this grant only.
    let flow = app_flow(&w.poskytovatel, &[("prompt", "select_account")]);
    let r = w.app.browser.get(&flow.url).send().await.unwrap();
    let choice = location(r.headers());
    assert!(choice.starts_with("/login/organisation?"), "{choice}");
    let back = choose(choice, a.clone().into()).await;
    let tokens = w.app.redeem(&w.poskytovatel, &flow, &back).await;
    let c = decode_payload(&tokens.id_token().unwrap().to_string());
    assert_eq!(c["organisation"]["id"], a.as_str());
    assert_eq!(
        refresh(&w.rodina, &rodina_tokens).await.unwrap()["organisation"]["id"],
        b.as_str()
    );
    // A forged choice (an organisation not offered) is refused.
    let flow = app_flow(&w.poskytovatel, &[("prompt", "select_account")]);
    let r = w.app.browser.get(&flow.url).send().await.unwrap();
    let page = w
        .app
        .browser
        .get(w.app.url(&location(r.headers())))
        .send()
        .await
        .unwrap();
    let html = page.text().await.unwrap();
    let r = w
        .app
        .browser
        .post(w.app.url("/login/organisation"))
        .form(&[
            ("id", hidden(&html, "id").as_str()),
            ("csrf", hidden(&html, "csrf").as_str()),
            ("lang", "cs"),
            ("organisation", "not-an-organisation"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

async fn mpsv_claims_are_in_userinfo_introspection_and_discovery(db: Db) {
    let w = world(db).await;
    let org = organisation(&w.app, "27712346", "Domov Slunce, o. p. s.", true, false).await;
    let boss = person(&w.app, "petr.dvorak", &[(&org, Application::Poskytovatel)]).await;
    statutory(&w.app, &boss, &org).await;
    let (claims, tokens) = sign_in(&w.app, &w.poskytovatel, "petr.dvorak").await;
    let mpsv_id = claims["mpsv_client_id"].as_str().unwrap().to_owned();
    assert!(
        mpsv_id.starts_with("MP") && mpsv_id.len() == 11,
        "{mpsv_id}"
    );

    let info: Value = userinfo(&w.app, tokens.access_token().secret())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["mpsv_client_id"], mpsv_id.as_str());
    assert_eq!(info["organisation"]["ico"], "27712346");
    assert_eq!(info["submit_permission"], true);
    assert_eq!(info["apps"], serde_json::json!(["poskytovatel"]));

    let r = w
        .app
        .post_basic(
            "/introspect",
            "oksluzby-poskytovatel",
            &w.secrets.0,
            &[("token", tokens.access_token().secret())],
        )
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["active"], true);
    assert_eq!(v["submit_permission"], true);
    assert_eq!(v["submit_permission_source"], "statutory");
    assert_eq!(v["organisation"]["name"], "Domov Slunce, o. p. s.");
    // Another client learns that the token is active, not whom it describes.
    let r = w
        .app
        .post_basic(
            "/introspect",
            "oksluzby-rodina",
            &w.secrets.1,
            &[("token", tokens.access_token().secret())],
        )
        .await;
    let other: Value = r.json().await.unwrap();
    assert_eq!(other["active"], true);
    assert!(other.get("submit_permission").is_none() && other.get("mpsv_client_id").is_none());
    // Nor how they signed in (issue 11.5).
    for member in ["sub", "username", "sid", "amr", "auth_time", "acr", "name"] {
        assert!(other.get(member).is_none(), "{member} released: {other}");
    }
    // Evaluated at introspection time: the role ends, the next answer says so.
    registry::statutory::end(&w.app.state, OPERATOR, &boss, &org, None, "konec")
        .await
        .unwrap();

    let d = w.app.get_json("/.well-known/openid-configuration").await;
    for s in ["mpsv", "organisation"] {
        assert!(d["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&Value::from(s)));
    }
    for c in [
        "mpsv_client_id",
        "organisation",
        "submit_permission",
        "apps",
    ] {
        assert!(d["claims_supported"]
            .as_array()
            .unwrap()
            .contains(&Value::from(c)));
    }
}

// MPSV rule 5.
async fn the_credentials_letter_carries_a_working_initial_password(db: Db) {
    let w = world(db).await;
    let org = organisation(&w.app, "26543214", "Šťastná rodina, z. ú.", true, true).await;
    let p = Person::new("Řehoř", "Žďárský", None).unwrap();
    let r = registry::consents::record(
        &w.app.state,
        OPERATOR,
        Consenter::New(&p),
        &org,
        Application::Rodina,
        &paper(),
    )
    .await
    .unwrap();
    let letter = registry::accounts::create(&w.app.state, OPERATOR, &r.person_sub, &org, None)
        .await
        .unwrap();
    let text = pdf_text(&letter.pdf);
    assert!(text.contains("Přístupové údaje"), "{text}");
    assert!(text.contains("Šťastná rodina, z. ú."));
    assert!(text.contains("Řehoř Žďárský"));
    assert!(text.contains("rehor.zdarsky"));
    assert!(text.contains(r.mpsv_client_id.as_str()));
    let password = initial_password(&text);

    // The initial password works once, and leads to the change page.
    let flow = app_flow(&w.rodina, &[]);
    let (id, csrf, _) = w.app.open_login(&flow.url).await;
    let resp = w
        .app
        .submit_login(&id, &csrf, "rehor.zdarsky", &password)
        .await;
    assert!(location(resp.headers()).starts_with("/login/password?"));

    // A new letter to an organisation without the person's consent changes nothing.
    let elsewhere = organisation(&w.app, "27712346", "Domov Slunce, o. p. s.", true, false).await;
    let e =
        registry::accounts::reissue_letter(&w.app.state, OPERATOR, &r.person_sub, &elsewhere).await;
    assert!(matches!(e, Err(RegistryError::Refused(_))), "{e:?}");
    let a = w
        .app
        .state
        .storage
        .account(&r.person_sub)
        .await
        .unwrap()
        .unwrap();
    assert!(mpsv_idp::password::verify_blocking(
        &password,
        &a.password_hash
    ));

    // A new letter: the previous password stops working.
    let second = registry::accounts::reissue_letter(&w.app.state, OPERATOR, &r.person_sub, &org)
        .await
        .unwrap();
    let new_password = initial_password(&pdf_text(&second.pdf));
    assert_ne!(new_password, password);
    let other = TestApp::with_browser(&w.app);
    let flow = app_flow(&w.rodina, &[]);
    let (id, csrf, _) = other.open_login(&flow.url).await;
    let resp = other
        .submit_login(&id, &csrf, "rehor.zdarsky", &password)
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "the old letter's password is refused"
    );
    // Every letter is audited.
    let log = w
        .app
        .state
        .audit
        .for_subject(r.person_sub.as_str(), 50)
        .await
        .unwrap();
    let letters = log.iter().filter(|e| e.event == "letter.issued").count();
    assert_eq!(letters, 2);
}

fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("letter.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", path.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (Debian package poppler-utils) is needed by this test");
    String::from_utf8(out.stdout).unwrap()
}

fn initial_password(text: &str) -> String {
    text.lines()
        .find(|l| l.contains("Úvodní heslo:"))
        .and_then(|l| l.split_whitespace().last())
        .expect("password line")
        .to_owned()
}

// MPSV rule 4, self-service: the representative signed in, on /account/delegations.
async fn a_representative_delegates_and_revokes_on_the_self_service_page(db: Db) {
    let w = world(db).await;
    let org = organisation(&w.app, "27712346", "Domov Slunce, o. p. s.", true, false).await;
    let p = [(&org, Application::Poskytovatel)];
    let boss = person(&w.app, "petr.dvorak", &p).await;
    let clerk = person(&w.app, "eva.cerna", &p).await;
    statutory(&w.app, &boss, &org).await;

    sign_in(&w.app, &w.poskytovatel, "petr.dvorak").await;
    let get = |app: &TestApp| {
        let b = app.browser.clone();
        let url = app.url("/account/delegations");
        async move { b.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let html = get(&w.app).await;
    assert!(html.contains("Pověření k podání"), "{html}");
    assert!(
        html.contains("Eva Šťastný (eva.cerna)") || html.contains("eva.cerna"),
        "{html}"
    );
    let csrf = hidden(&html, "csrf");
    let post = |app: &TestApp, form: Vec<(&'static str, String)>| {
        let b = app.browser.clone();
        let url = app.url("/account/delegations");
        async move {
            let r = b.post(url).form(&form).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::SEE_OTHER);
            location(r.headers())
        }
    };
    // A form without the session's CSRF token does nothing.
    let r = w
        .app
        .browser
        .post(w.app.url("/account/delegations"))
        .form(&[
            ("action", "grant"),
            ("organisation", org.as_str()),
            ("delegate", clerk.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(w
        .app
        .state
        .storage
        .delegations(&org)
        .await
        .unwrap()
        .is_empty());

    let back = post(
        &w.app,
        vec![
            ("csrf", csrf.clone()),
            ("lang", "cs".into()),
            ("action", "grant".into()),
            ("organisation", org.clone().into()),
            ("delegate", clerk.clone().into()),
        ],
    )
    .await;
    assert!(back.contains("notice=granted"), "{back}");
    let d = w.app.state.storage.delegations(&org).await.unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].delegate_sub, clerk);
    assert_eq!(boss, d[0].created_by);
    let html = get(&w.app).await;
    assert!(html.contains("Zrušit pověření"));

    // The delegate now may submit; the delegate cannot delegate further.
    let other = TestApp::with_browser(&w.app);
    let (c, _) = sign_in(&other, &w.poskytovatel, "eva.cerna").await;
    assert_eq!(c["submit_permission_source"], "delegation");
    let html = get(&other).await;
    assert!(
        html.contains("Podle záznamů MPSV jím nyní nejste"),
        "{html}"
    );
    // Even with a valid form of their own (the session's token from the account page).
    let account = other
        .browser
        .get(other.url("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let back = post(
        &other,
        vec![
            ("csrf", hidden(&account, "csrf")),
            ("lang", "cs".into()),
            ("action", "revoke".into()),
            ("organisation", org.clone().into()),
            ("delegation", d[0].id.clone()),
        ],
    )
    .await;
    assert!(back.contains("error=refused"), "{back}");
    assert_eq!(
        w.app.state.storage.delegations(&org).await.unwrap().len(),
        1
    );

    // The representative revokes it.
    let back = post(
        &w.app,
        vec![
            ("csrf", csrf),
            ("lang", "cs".into()),
            ("action", "revoke".into()),
            ("organisation", org.clone().into()),
            ("delegation", d[0].id.clone()),
        ],
    )
    .await;
    assert!(back.contains("notice=revoked"), "{back}");
    assert!(w
        .app
        .state
        .storage
        .delegations(&org)
        .await
        .unwrap()
        .is_empty());
    let log = w
        .app
        .state
        .audit
        .for_subject(clerk.as_str(), 50)
        .await
        .unwrap();
    assert!(log.iter().any(|e| e.event == "delegation.granted"));
    assert!(log.iter().any(|e| e.event == "delegation.revoked"));
}

/// Issue 12 (two nodes): an operator ends a statutory role through node B's API; the tokens
/// that node A issued lose submit at A's next userinfo and refresh, the representative's
/// session is over at A too, and each application gets its back-channel logout once.
async fn a_statutory_role_ended_through_another_nodes_api_takes_submit_from_this_nodes_tokens(
    db: Db,
) {
    let w = world(db).await;
    let b = spawn_node(&w.app).await;
    let nno = organisation(&w.app, "26543214", "Šťastná rodina, z. ú.", true, true).await;
    let p = [(&nno, Application::Poskytovatel)];
    let boss = person(&w.app, "marie.svobodova", &p).await;
    let delegate = person(&w.app, "lukas.prochazka", &p).await;
    statutory(&w.app, &boss, &nno).await;
    registry::delegations::grant(&w.app.state, OPERATOR, &nno, &boss, &delegate)
        .await
        .unwrap();
    let (boss_p, boss_tokens) = sign_in(&w.app, &w.poskytovatel, "marie.svobodova").await;
    assert_eq!(boss_p["submit_permission"], true);
    let other = TestApp::with_browser(&w.app);
    let (d, delegate_tokens) = sign_in(&other, &w.poskytovatel, "lukas.prochazka").await;
    assert_eq!(d["submit_permission"], true);

    let op = crate::admin::token(&b, "ops-robot", &["admin:operator"]).await;
    let (status, body, _) = crate::admin::call(
        &b,
        Some(&op),
        reqwest::Method::POST,
        &format!("/persons/{boss}/statutory-roles/end"),
        Some(serde_json::json!({"organisation_id": nno, "reason": "odvolána"})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    // At node A: the delegate's access token no longer carries submit at userinfo, nor does
    // the refreshed ID token; the representative's grant ended with her session.
    let info: Value = userinfo(&w.app, delegate_tokens.access_token().secret())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["submit_permission"], false);
    let refreshed = refresh(&w.poskytovatel, &delegate_tokens).await.unwrap();
    assert_eq!(refreshed["submit_permission"], false);
    assert!(refresh(&w.poskytovatel, &boss_tokens).await.is_err());
    // One back-channel logout for the representative's session (two nodes deliver, once).
    let logouts = w.receiver.wait_for(1).await;
    assert_eq!(decode_payload(&logouts[0])["sub"], boss.as_str());
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(w.receiver.tokens.lock().unwrap().len(), 1);
    b.stop().await;
}

/// Issue 14.4 / 15.3: with `submit_requires_mfa` for poskytovatel, a representative signed in
/// with a password only is told so (`submit_permission_mfa_required`) and may not submit;
/// after a step-up within the session the same grant may.
async fn submitting_can_require_the_mfa_level_with_a_step_up(db: Db) {
    use mpsv_idp::domain::totp::{code_at, step_at};
    let w = world_with(db, |c| {
        c.protocol.submit_requires_mfa = vec!["poskytovatel".into()]
    })
    .await;
    let org = organisation(&w.app, "27712346", "Domov Slunce, o. p. s.", true, true).await;
    let boss = person(
        &w.app,
        "petr.dvorak",
        &[
            (&org, Application::Poskytovatel),
            (&org, Application::Rodina),
        ],
    )
    .await;
    statutory(&w.app, &boss, &org).await;

    let (claims, tokens) = sign_in(&w.app, &w.poskytovatel, "petr.dvorak").await;
    assert_eq!(claims["statutory_representative"], true);
    assert_eq!(claims["submit_permission"], false);
    assert_eq!(claims["submit_permission_source"], Value::Null);
    assert_eq!(claims["submit_permission_mfa_required"], true);
    let info: Value = userinfo(&w.app, tokens.access_token().secret())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["submit_permission"], false);
    assert_eq!(info["submit_permission_mfa_required"], true);
    // The other application has no such rule.
    let (claims, _) = sign_in(&w.app, &w.rodina, "petr.dvorak").await;
    assert_eq!(claims["submit_permission"], true);
    assert!(claims.get("submit_permission_mfa_required").is_none());

    // A second factor, then the application asks for the MFA level: only the code is asked.
    let secret = crate::accounts::enrol_on_account_page(&w.app).await;
    let flow = app_flow(&w.poskytovatel, &[("acr_values", "urn:mpsv:idp:acr:mfa")]);
    let r = w.app.browser.get(&flow.url).send().await.unwrap();
    assert!(location(r.headers()).starts_with("/login/otp?"));
    let html = crate::accounts::follow(&w.app, &r).await;
    let r = crate::accounts::post_form(
        &w.app,
        "/login/otp",
        &[
            ("id", &hidden(&html, "id")),
            ("csrf", &hidden(&html, "csrf")),
            (
                "code",
                &code_at(&secret, step_at(mpsv_idp::secrets::now()) + 1),
            ),
        ],
    )
    .await;
    let tokens = w
        .app
        .redeem(&w.poskytovatel, &flow, &location(r.headers()))
        .await;
    let claims = decode_payload(&tokens.id_token().unwrap().to_string());
    assert_eq!(claims["acr"], "urn:mpsv:idp:acr:mfa");
    assert_eq!(claims["submit_permission"], true);
    assert_eq!(claims["submit_permission_source"], "statutory");
    assert!(claims.get("submit_permission_mfa_required").is_none());
    let info: Value = userinfo(&w.app, tokens.access_token().secret())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["submit_permission"], true);
}
