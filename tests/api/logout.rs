//! RP-initiated logout and back-channel logout.

use openidconnect::{OAuth2TokenResponse, TokenResponse};
use reqwest::StatusCode;

use crate::code_flow::{decode_header, decode_payload, urlencode};
use crate::db_test;
use crate::helpers::*;

db_test!(
    rp_initiated_logout_ends_sso_and_notifies_every_client,
    logout_without_a_hint_asks_for_confirmation,
    an_unregistered_post_logout_redirect_uri_is_refused,
);

async fn rp_initiated_logout_ends_sso_and_notifies_every_client(db: Db) {
    let app = spawn_app(db).await;
    let receiver = Receiver::start().await;
    let mut a = ClientSpec::confidential("poskytovatel");
    a.backchannel = Some(receiver.url.clone());
    let mut b = ClientSpec::confidential("rodina");
    b.backchannel = Some(receiver.url.clone());
    b.id_token_alg = "ES256";
    let (sa, sb) = (app.register(a).await, app.register(b).await);
    let sub = app.add_user("jana.novakova").await;
    let rp_a = app.rp("poskytovatel", sa).await;
    let rp_b = app.rp("rodina", sb).await;
    let (_, ta) = app.code_flow(&rp_a, "jana.novakova").await;
    // SSO into the second client.
    let flow = start_flow(&rp_b, &[]);
    let r = app.browser.get(&flow.url).send().await.unwrap();
    let tb = app.redeem(&rp_b, &flow, &location(r.headers())).await;
    let sid = decode_payload(&ta.id_token().unwrap().to_string())["sid"]
        .as_str()
        .unwrap()
        .to_owned();

    let hint = ta.id_token().unwrap().to_string();
    let r = app
        .browser
        .get(app.url(&format!(
            "/logout?id_token_hint={hint}&post_logout_redirect_uri={}&state=bye",
            urlencode("http://127.0.0.1:9/loggedout")
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(r.headers()),
        "http://127.0.0.1:9/loggedout?state=bye"
    );

    // prompt=none now answers login_required.
    let flow = start_flow(&rp_a, &[("prompt", "none")]);
    let r = app.browser.get(&flow.url).send().await.unwrap();
    assert_eq!(
        param(&location(r.headers()), "error").as_deref(),
        Some("login_required")
    );
    // The session's refresh tokens are revoked.
    let err = rp_b
        .exchange_refresh_token(tb.refresh_token().unwrap())
        .unwrap()
        .request_async(&rp_http())
        .await
        .expect_err("refresh after logout");
    assert!(format!("{err:?}").contains("invalid_grant"));

    // Both clients received a valid logout token.
    let tokens = receiver.wait_for(2).await;
    assert_eq!(tokens.len(), 2, "logout tokens received: {tokens:?}");
    let mut audiences = Vec::new();
    for t in &tokens {
        // Signed by a key in our JWKS.
        let (payload, header) = app.state.keys.verify(t).expect("logout token verifies");
        assert_eq!(header.token_type(), Some("logout+jwt"));
        let c: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(c["iss"], app.base);
        assert_eq!(c["sub"], sub);
        assert_eq!(c["sid"], sid);
        assert!(c["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
        assert!(c.get("nonce").is_none());
        assert!(c["jti"].is_string() && c["iat"].is_i64() && c["exp"].is_i64());
        audiences.push(c["aud"].as_str().unwrap().to_owned());
        if c["aud"] == "rodina" {
            assert_eq!(decode_header(t)["alg"], "ES256");
        }
    }
    audiences.sort();
    assert_eq!(audiences, vec!["poskytovatel", "rodina"]);
}

async fn logout_without_a_hint_asks_for_confirmation(db: Db) {
    let app = spawn_app(db).await;
    let s = app.register(ClientSpec::confidential("poskytovatel")).await;
    app.add_user("jana.novakova").await;
    let rp = app.rp("poskytovatel", s).await;
    app.code_flow(&rp, "jana.novakova").await;
    let r = app
        .browser
        .get(app.url("/logout?client_id=poskytovatel"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("Chcete se odhlásit"));
    let csrf = hidden(&html, "csrf");
    // A forged confirmation changes nothing.
    let r = app
        .browser
        .post(app.url("/logout/confirm"))
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let flow = start_flow(&rp, &[("prompt", "none")]);
    let r = app.browser.get(&flow.url).send().await.unwrap();
    assert!(
        param(&location(r.headers()), "code").is_some(),
        "still signed in"
    );
    // The real confirmation signs out.
    let r = app
        .browser
        .post(app.url("/logout/confirm"))
        .form(&[("csrf", csrf.as_str()), ("client_id", "poskytovatel")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("Byli jste odhlášeni"));
    let flow = start_flow(&rp, &[("prompt", "none")]);
    let r = app.browser.get(&flow.url).send().await.unwrap();
    assert_eq!(
        param(&location(r.headers()), "error").as_deref(),
        Some("login_required")
    );
}

async fn an_unregistered_post_logout_redirect_uri_is_refused(db: Db) {
    let app = spawn_app(db).await;
    app.register(ClientSpec::confidential("poskytovatel")).await;
    for q in [
        format!(
            "client_id=poskytovatel&post_logout_redirect_uri={}",
            urlencode("https://evil.example/")
        ),
        format!(
            "post_logout_redirect_uri={}",
            urlencode("http://127.0.0.1:9/loggedout")
        ),
        "id_token_hint=not.a.token".to_owned(),
    ] {
        let r = app
            .browser
            .get(app.url(&format!("/logout?{q}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{q}");
        assert!(r.headers().get("location").is_none());
    }
}
