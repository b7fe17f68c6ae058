//! Signing in through an upstream OpenID Provider (issue 15.2, the NIA profile): every check
//! of the ID token (nonce, issuer, audience, signature, level of assurance), the upstream's
//! error, single-use `state` bound to the browser, an unlinked identity (no account, a code
//! for the operator), linking from the account page (password + a session with a second
//! factor; an identity linked to someone else refused), signing in with the linked identity
//! (`amr` `mfa` + `urn:mpsv:idp:amr:eid`, MFA level) and unlinking. The upstream here is a
//! small OP written for the test, so each claim can be got wrong on purpose; the browser
//! tests run the real npm `oidc-provider` instead.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use mpsv_idp::config::{Redacted, UpstreamConfig};
use mpsv_idp::domain::totp::{code_at, step_at};
use mpsv_idp::jose::jws::sign;
use mpsv_idp::jose::SigningKey;
use mpsv_idp::secrets::now;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::accounts::{enrol_on_account_page, follow, post_form, setup};
use crate::db_test;
use crate::helpers::*;

db_test!(
    an_unlinked_identity_signs_no_one_in_and_every_id_token_check_holds,
    a_person_links_their_identity_signs_in_with_it_and_unlinks_it,
);

/// What the fake upstream puts into the next ID token (beside what it got).
#[derive(Default, Clone)]
struct Next {
    sub: String,
    acr: Option<String>,
    /// Overrides of claims: wrong nonce, iss, aud.
    overrides: serde_json::Map<String, Value>,
    /// Sign with a key not in the JWKS.
    foreign_key: bool,
}

struct Op {
    base: String,
    key: SigningKey,
    stranger: SigningKey,
    next: Mutex<Next>,
    /// The nonce of the last authorization request the test saw.
    nonce: Mutex<String>,
}

async fn spawn_op() -> Arc<Op> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let op = Arc::new(Op {
        base: format!("http://{addr}"),
        key: SigningKey::generate(mpsv_idp::jose::Alg::ES256).unwrap(),
        stranger: SigningKey::generate(mpsv_idp::jose::Alg::ES256).unwrap(),
        next: Mutex::new(Next::default()),
        nonce: Mutex::new(String::new()),
    });
    let router = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(|State(op): State<Arc<Op>>| async move {
                Json(json!({
                    "issuer": op.base,
                    "authorization_endpoint": format!("{}/auth", op.base),
                    "token_endpoint": format!("{}/token", op.base),
                    "jwks_uri": format!("{}/jwks", op.base),
                    "response_types_supported": ["code"],
                    "subject_types_supported": ["pairwise"],
                    "id_token_signing_alg_values_supported": ["ES256"],
                    "acr_values_supported": ["http://eidas.europa.eu/LoA/low", "http://eidas.europa.eu/LoA/substantial", "http://eidas.europa.eu/LoA/high"],
                }))
            }),
        )
        .route(
            "/jwks",
            get(|State(op): State<Arc<Op>>| async move {
                let mut jwk = op.key.public_jwk();
                jwk.insert("kid".into(), "k1".into());
                Json(json!({ "keys": [jwk] }))
            }),
        )
        .route(
            "/token",
            post(|State(op): State<Arc<Op>>, body: String| async move {
                assert!(body.contains("code_verifier="), "PKCE: {body}");
                let next = op.next.lock().unwrap().clone();
                let mut claims = json!({
                    "iss": op.base,
                    "aud": "mpsv-idp",
                    "sub": next.sub,
                    "iat": now(),
                    "exp": now() + 300,
                    "nonce": op.nonce.lock().unwrap().clone(),
                    "given_name": "Jana",
                    "family_name": "Nováková",
                    "birthdate": "1980-04-02",
                });
                if let Some(acr) = &next.acr {
                    claims["acr"] = acr.clone().into();
                }
                for (k, v) in next.overrides {
                    claims[k] = v;
                }
                let key = if next.foreign_key { &op.stranger } else { &op.key };
                let id_token = sign(key, "k1", "JWT", claims.to_string().as_bytes()).unwrap();
                Json(json!({
                    "access_token": "upstream-at",
                    "token_type": "Bearer",
                    "expires_in": 60,
                    "id_token": id_token,
                }))
            }),
        )
        .with_state(op.clone());
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    op
}

/// Spoils the next ID token in one way.
type Spoil = Box<dyn Fn(&mut Next)>;

const SUBSTANTIAL: &str = "http://eidas.europa.eu/LoA/substantial";

async fn spawn_with_upstream(db: Db, op: &Op) -> TestApp {
    let issuer = op.base.clone();
    spawn_app_with(db, move |c| {
        c.upstreams = vec![UpstreamConfig {
            id: "nia".into(),
            name: "Identita občana".into(),
            issuer,
            client_id: "mpsv-idp".into(),
            client_secret: Some(Redacted("upstream-secret".into())),
            client_secret_file: None,
            scopes: vec!["openid".into(), "profile".into()],
            acr_values: vec![SUBSTANTIAL.into()],
            accepted_acr: vec![SUBSTANTIAL.into(), "http://eidas.europa.eu/LoA/high".into()],
        }]
    })
    .await
}

/// Presses the upstream button on a login page: the authorization request sent upstream.
async fn press(app: &TestApp, op: &Op, html: &str) -> url::Url {
    let r = post_form(
        app,
        "/login/upstream",
        &[
            ("id", &hidden(html, "id")),
            ("csrf", &hidden(html, "csrf")),
            ("lang", "cs"),
            ("upstream", "nia"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = url::Url::parse(&location(r.headers())).unwrap();
    assert!(
        to.as_str().starts_with(&format!("{}/auth?", op.base)),
        "{to}"
    );
    let q = |k: &str| {
        to.query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(q("response_type").as_deref(), Some("code"));
    assert_eq!(q("client_id").as_deref(), Some("mpsv-idp"));
    assert_eq!(q("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(q("acr_values").as_deref(), Some(SUBSTANTIAL));
    assert_eq!(
        q("redirect_uri"),
        Some(format!("{}/login/upstream/callback", app.base))
    );
    assert!(q("scope").unwrap().split(' ').any(|s| s == "profile"));
    *op.nonce.lock().unwrap() = q("nonce").unwrap();
    to
}

fn state_of(to: &url::Url) -> String {
    to.query_pairs()
        .find(|(n, _)| n == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

async fn come_back(app: &TestApp, query: &str) -> reqwest::Response {
    app.browser
        .get(app.url(&format!("/login/upstream/callback?{query}")))
        .send()
        .await
        .unwrap()
}

/// The account page of the signed-in `app` browser.
async fn account_page(app: &TestApp) -> String {
    let r = app.browser.get(app.url("/account")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.text().await.unwrap()
}

/// Links from the account page `html` (with the password): the upstream round trip, and
/// the callback's response.
async fn link_round_trip(app: &TestApp, op: &Op, html: &str) -> reqwest::Response {
    let r = post_form(
        app,
        "/account/upstream/link",
        &[
            ("csrf", &hidden(html, "csrf")),
            ("upstream", "nia"),
            ("current", PASSWORD),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = url::Url::parse(&location(r.headers())).unwrap();
    let nonce = to
        .query_pairs()
        .find(|(n, _)| n == "nonce")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    *op.nonce.lock().unwrap() = nonce;
    come_back(app, &format!("state={}&code=c1", state_of(&to))).await
}

async fn audit_count(app: &TestApp, event: &str, like: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM audit_log WHERE event = '{event}' AND details LIKE '%{like}%'"
    )))
    .fetch_one(app.state.storage.pool())
    .await
    .unwrap();
    n
}

async fn an_unlinked_identity_signs_no_one_in_and_every_id_token_check_holds(db: Db) {
    let op = spawn_op().await;
    let app = spawn_with_upstream(db, &op).await;
    let rp = setup(&app, "jana.novakova").await;
    *op.next.lock().unwrap() = Next {
        sub: "nia-pseudonym-1".into(),
        acr: Some(SUBSTANTIAL.into()),
        ..Next::default()
    };
    let flow = start_flow(&rp, &[]);
    let (_, _, html) = app.open_login(&flow.url).await;
    assert!(html.contains("Přihlásit se přes Identita občana"));

    // Each wrong ID token: back at the login form with the same message, audited.
    let cases: Vec<(&str, Spoil)> = vec![
        (
            "nonce",
            Box::new(|n| {
                n.overrides.insert("nonce".into(), "other".into());
            }),
        ),
        (
            "iss",
            Box::new(|n| {
                n.overrides
                    .insert("iss".into(), "http://evil.example".into());
            }),
        ),
        (
            "aud",
            Box::new(|n| {
                n.overrides.insert("aud".into(), "someone-else".into());
            }),
        ),
        (
            "expired",
            Box::new(|n| {
                n.overrides.insert("exp".into(), (now() - 600).into());
            }),
        ),
        ("signature", Box::new(|n| n.foreign_key = true)),
        (
            "low level",
            Box::new(|n| n.acr = Some("http://eidas.europa.eu/LoA/low".into())),
        ),
        ("no acr", Box::new(|n| n.acr = None)),
    ];
    let mut html = html;
    for (what, spoil) in &cases {
        let good = op.next.lock().unwrap().clone();
        spoil(&mut op.next.lock().unwrap());
        let to = press(&app, &op, &html).await;
        let r = come_back(&app, &format!("state={}&code=c1", state_of(&to))).await;
        *op.next.lock().unwrap() = good;
        assert_eq!(r.status(), StatusCode::OK, "{what}");
        html = r.text().await.unwrap();
        assert!(
            html.contains("Přihlášení přes národní identitu se nezdařilo"),
            "{what}: {html}"
        );
    }
    assert_eq!(
        audit_count(&app, "login.upstream_failed", "id_token").await,
        5
    );
    assert_eq!(
        audit_count(&app, "login.upstream_failed", "assurance").await,
        2
    );

    // The upstream says no (the person cancelled there).
    let to = press(&app, &op, &html).await;
    let r = come_back(
        &app,
        &format!(
            "state={}&error=access_denied&error_description=cancelled",
            state_of(&to)
        ),
    )
    .await;
    let html = r.text().await.unwrap();
    assert!(html.contains("se nezdařilo"));
    assert_eq!(
        audit_count(&app, "login.upstream_failed", "upstream_error").await,
        1
    );

    // A `state` works once, and only in the browser that pressed the button.
    let to = press(&app, &op, &html).await;
    let st = state_of(&to);
    let stranger = TestApp::with_browser(&app);
    let r = come_back(&stranger, &format!("state={st}&code=c1")).await;
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "not this browser's login"
    );
    let r = come_back(&app, &format!("state={st}&code=c1")).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "state already taken");
    let r = come_back(&app, "state=made-up&code=c1").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // A good ID token of an identity linked to no one: no session, no account, a code.
    let accounts = |app: &TestApp| {
        let pool = app.state.storage.pool().clone();
        async move {
            let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM accounts")
                .fetch_one(&pool)
                .await
                .unwrap();
            n
        }
    };
    let before = accounts(&app).await;
    let flow = start_flow(&rp, &[]);
    let (_, _, html) = app.open_login(&flow.url).await;
    let to = press(&app, &op, &html).await;
    let r = come_back(&app, &format!("state={}&code=c1", state_of(&to))).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Identita zatím není propojena s účtem"),
        "{html}"
    );
    assert!(html.contains("id=\"link-code\""));
    assert_eq!(accounts(&app).await, before, "no account created");
    let r = app.browser.get(app.url("/account")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "not signed in");
    assert_eq!(
        audit_count(&app, "login.upstream_unlinked", "nia-pseudonym-1").await,
        1
    );
}

async fn a_person_links_their_identity_signs_in_with_it_and_unlinks_it(db: Db) {
    let op = spawn_op().await;
    let app = spawn_with_upstream(db, &op).await;
    let rp = setup(&app, "jana.novakova").await;
    app.add_user("petr.svoboda").await;
    *op.next.lock().unwrap() = Next {
        sub: "nia-jana".into(),
        acr: Some(SUBSTANTIAL.into()),
        ..Next::default()
    };
    // Signed in with the password only: linking needs a second factor.
    app.code_flow(&rp, "jana.novakova").await;
    let secret = enrol_on_account_page(&app).await;
    let r = app.browser.get(app.url("/account")).send().await.unwrap();
    let html = r.text().await.unwrap();
    assert!(html.contains("Propojit lze jen po přihlášení s druhým faktorem"));
    let r = post_form(
        &app,
        "/account/upstream/link",
        &[
            ("csrf", &hidden(&html, "csrf")),
            ("upstream", "nia"),
            ("current", PASSWORD),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Password and TOTP: a session at the MFA level.
    let jana = TestApp::with_browser(&app);
    let flow = start_flow(&rp, &[]);
    let (id, csrf, _) = jana.open_login(&flow.url).await;
    let r = jana
        .submit_login(&id, &csrf, "jana.novakova", PASSWORD)
        .await;
    let html = follow(&jana, &r).await;
    let code = code_at(&secret, step_at(now()) + 1);
    let r = post_form(
        &jana,
        "/login/otp",
        &[
            ("id", &hidden(&html, "id")),
            ("csrf", &hidden(&html, "csrf")),
            ("code", &code),
        ],
    )
    .await;
    jana.redeem(&rp, &flow, &location(r.headers())).await;
    let html = account_page(&jana).await;
    assert!(html.contains("Nepropojeno."));
    let csrf = hidden(&html, "csrf");
    // The wrong password links nothing.
    let r = post_form(
        &jana,
        "/account/upstream/link",
        &[("csrf", &csrf), ("upstream", "nia"), ("current", "wrong")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = link_round_trip(&jana, &op, &html).await;
    assert!(location(r.headers()).contains("notice=upstream_linked"));
    let html = account_page(&jana).await;
    assert!(html.contains("Propojeno"), "{html}");
    assert_eq!(audit_count(&app, "upstream.linked", "nia-jana").await, 1);

    // Someone else cannot link the same identity.
    let petr = TestApp::with_browser(&app);
    petr.code_flow(&rp, "petr.svoboda").await;
    // Petr has no second factor; his session is raised to the MFA level directly.
    sqlx::query("UPDATE sessions SET amr = 'pwd otp'")
        .execute(app.state.storage.pool())
        .await
        .unwrap();
    let html = account_page(&petr).await;
    let r = link_round_trip(&petr, &op, &html).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("už propojena s jiným účtem"));
    assert_eq!(
        audit_count(&app, "upstream.link_refused", "already_linked").await,
        1
    );

    // The national identity alone now signs Jana in, at the MFA level.
    let fresh = TestApp::with_browser(&app);
    let flow = start_flow(&rp, &[("acr_values", "urn:mpsv:idp:acr:mfa")]);
    let (_, _, html) = fresh.open_login(&flow.url).await;
    let to = press(&fresh, &op, &html).await;
    let r = come_back(&fresh, &format!("state={}&code=c1", state_of(&to))).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let tokens = fresh.redeem(&rp, &flow, &location(r.headers())).await;
    let idt = crate::code_flow::decode_payload(
        &openidconnect::TokenResponse::id_token(&tokens)
            .unwrap()
            .to_string(),
    );
    assert_eq!(idt["amr"], json!(["mfa", "urn:mpsv:idp:amr:eid"]));
    assert_eq!(idt["acr"], "urn:mpsv:idp:acr:mfa");
    assert_eq!(idt["preferred_username"], "jana.novakova");

    // Unlinking (with the password): the identity signs no one in again.
    let html = account_page(&jana).await;
    let r = post_form(
        &jana,
        "/account/upstream/unlink",
        &[
            ("csrf", &hidden(&html, "csrf")),
            ("upstream", "nia"),
            ("current", PASSWORD),
        ],
    )
    .await;
    assert!(location(r.headers()).contains("notice=upstream_unlinked"));
    assert_eq!(audit_count(&app, "upstream.unlinked", "nia-jana").await, 1);
    let other = TestApp::with_browser(&app);
    let (_, _, html) = other.open_login(&start_flow(&rp, &[]).url).await;
    let to = press(&other, &op, &html).await;
    let r = come_back(&other, &format!("state={}&code=c1", state_of(&to))).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}
