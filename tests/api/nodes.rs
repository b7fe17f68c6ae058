//! Issue 12 (tests): two nodes of one IdP on one database behave as one — a grant from node A
//! refreshes at node B (keys from the database, no shared folder), a key rotated on A is published and trusted by B, a logout at B ends
//! the session everywhere and its back-channel logout is sent exactly once.

use openidconnect::{OAuth2TokenResponse, TokenResponse};
use reqwest::StatusCode;
use serde_json::Value;

use crate::code_flow::{decode_header, urlencode};
use crate::db_test;
use crate::helpers::*;
use mpsv_idp::domain::client::SigningAlg;

db_test!(two_nodes_on_one_database_are_one_idp);

async fn refresh(node: &TestApp, secret: &str, rt: &str) -> reqwest::Response {
    node.post_basic(
        "/token",
        "poskytovatel",
        secret,
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
    )
    .await
}

async fn userinfo(node: &TestApp, at: &str) -> StatusCode {
    reqwest::Client::new()
        .get(node.url("/userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap()
        .status()
}

async fn two_nodes_on_one_database_are_one_idp(db: Db) {
    // Keys in the database under the KEK, each node its own (unused) key folder: nothing but
    // the database is shared (issue 12.1).
    let a = spawn_app_with(db, |c| {
        c.keys.reload_interval = 1;
        with_kek(c, TEST_KEK);
        c.key_dir = c.key_dir.join("node-a");
    })
    .await;
    let b = spawn_node_with(&a, |c| c.key_dir = c.key_dir.with_file_name("node-b")).await;
    let receiver = Receiver::start().await;
    let mut spec = ClientSpec::confidential("poskytovatel");
    spec.backchannel = Some(receiver.url.clone());
    let secret = a.register(spec).await.unwrap();
    a.add_user("jana.novakova").await;
    let rp = a.rp("poskytovatel", Some(secret.clone())).await;
    let (_, tokens) = a.code_flow(&rp, "jana.novakova").await;
    let id_token = tokens.id_token().unwrap().to_string();

    // Refresh at B, userinfo at A.
    let r = refresh(&b, &secret, tokens.refresh_token().unwrap().secret()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        userinfo(&a, v["access_token"].as_str().unwrap()).await,
        StatusCode::OK
    );

    // A key rotated on A (signing at once) appears in B's JWKS, and B trusts its tokens (often
    // in the same second as the first key: the later generation signs).
    let new = a.state.keys.rotate(SigningAlg::RS256, 0).await.unwrap();
    let mut published = false;
    for _ in 0..100 {
        let jwks = reqwest::get(b.url("/jwks"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if jwks.contains(&new.kid) {
            published = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(published, "B publishes the key A rotated");
    let r = refresh(&a, &secret, v["refresh_token"].as_str().unwrap()).await;
    let v: Value = r.json().await.unwrap();
    let at = v["access_token"].as_str().unwrap();
    assert_eq!(decode_header(at)["kid"], new.kid.as_str());
    assert_eq!(
        userinfo(&b, at).await,
        StatusCode::OK,
        "B verifies A's new key"
    );

    // Logout at B (the browser's session cookie is the same for both nodes).
    let r = b
        .browser
        .get(b.url(&format!(
            "/logout?id_token_hint={id_token}&post_logout_redirect_uri={}",
            urlencode("http://127.0.0.1:9/loggedout")
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(receiver.wait_for(1).await.len(), 1);
    let r = refresh(&a, &secret, v["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "the grant ended at A too"
    );
    assert_eq!(userinfo(&a, at).await, StatusCode::UNAUTHORIZED);
    // Both nodes run a delivery task; the logout was sent once.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(receiver.tokens.lock().unwrap().len(), 1);
}
