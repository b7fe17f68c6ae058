//! The `claims` request parameter (OIDC Core §5.5): individual claims for the ID token and
//! for userinfo, within what the client is registered for.

use serde_json::{json, Value};

use crate::code_flow::decode_payload;
use crate::db_test;
use crate::helpers::*;

db_test!(
    individually_requested_claims_are_released_where_asked,
    malformed_or_unmeetable_claims_requests_are_refused,
);

/// `flow` with its scope replaced by `scope`.
fn with_scope(flow: Flow, scope: &str) -> Flow {
    let mut u = url::Url::parse(&flow.url).unwrap();
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "scope" {
                scope.to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    u.query_pairs_mut().clear().extend_pairs(&pairs);
    Flow {
        url: u.to_string(),
        ..flow
    }
}

async fn individually_requested_claims_are_released_where_asked(db: Db) {
    let app = spawn_app(db).await;
    let s = app
        .register(ClientSpec::confidential("claims-app"))
        .await
        .unwrap();
    app.add_user("jana.novakova").await;
    let rp = app.rp("claims-app", Some(s.clone())).await;
    let doc = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(doc["claims_parameter_supported"], true);

    // Only `openid` as scope; single claims asked for each target. `mpsv_client_id` needs the
    // mpsv scope, which this client is not registered for; `nickname` we do not have.
    let claims = json!({
        "id_token": {"preferred_username": null, "mpsv_client_id": null, "nickname": null},
        "userinfo": {"email": {"essential": true}, "given_name": null},
    })
    .to_string();
    let flow = with_scope(start_flow(&rp, &[("claims", &claims)]), "openid");
    let back = app.login(&flow.url, "jana.novakova").await;
    let code = param(&back, "code").unwrap();
    let r = app
        .post_basic(
            "/token",
            "claims-app",
            &s,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", flow.verifier.secret()),
            ],
        )
        .await;
    let tokens: Value = r.json().await.unwrap();
    let id = decode_payload(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["preferred_username"], "jana.novakova");
    for absent in [
        "mpsv_client_id",
        "nickname",
        "email",
        "given_name",
        "family_name",
    ] {
        assert!(id.get(absent).is_none(), "{absent} in {id}");
    }
    let at = tokens["access_token"].as_str().unwrap();
    let info: Value = reqwest::Client::new()
        .get(app.url("/userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["given_name"], "Jana");
    assert!(info["email"].is_string(), "{info}");
    for absent in ["preferred_username", "family_name", "email_verified"] {
        assert!(info.get(absent).is_none(), "{absent} in {info}");
    }

    // The grant keeps what was asked: the refreshed ID token carries it again.
    let r = app
        .post_basic(
            "/token",
            "claims-app",
            &s,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    let refreshed: Value = r.json().await.unwrap();
    let id = decode_payload(refreshed["id_token"].as_str().unwrap());
    assert_eq!(id["preferred_username"], "jana.novakova");
    assert!(id.get("given_name").is_none());
}

async fn malformed_or_unmeetable_claims_requests_are_refused(db: Db) {
    let app = spawn_app(db).await;
    let s = app
        .register(ClientSpec::confidential("claims-app"))
        .await
        .unwrap();
    app.add_user("jana.novakova").await;
    let rp = app.rp("claims-app", Some(s)).await;
    let error = |claims: &str| {
        let flow = start_flow(&rp, &[("claims", claims)]);
        let browser = app.browser.clone();
        async move {
            let r = browser.get(&flow.url).send().await.unwrap();
            param(&location(r.headers()), "error")
        }
    };
    assert_eq!(error("not json").await.as_deref(), Some("invalid_request"));
    assert_eq!(error("[1, 2]").await.as_deref(), Some("invalid_request"));
    let two_people = r#"{"id_token":{"sub":{"value":"a"}},"userinfo":{"sub":{"value":"b"}}}"#;
    assert_eq!(error(two_people).await.as_deref(), Some("invalid_request"));
    // §5.5.1.1: an essential acr none of whose values we offer cannot be met.
    let unknown = r#"{"id_token":{"acr":{"essential":true,"values":["urn:other:loa:4"]}}}"#;
    assert_eq!(
        error(unknown).await.as_deref(),
        Some("unmet_authentication_requirements")
    );
    // An essential MFA acr is the MFA level: a person without a second factor cannot meet it.
    let mfa = r#"{"id_token":{"acr":{"essential":true,"values":["urn:mpsv:idp:acr:mfa"]}}}"#;
    let flow = start_flow(&rp, &[("claims", mfa)]);
    let to = app.login(&flow.url, "jana.novakova").await;
    let back = app.back_from_mfa_page(&to).await;
    assert_eq!(
        param(&back, "error").as_deref(),
        Some("unmet_authentication_requirements"),
        "{back}"
    );
}
