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
db_test!(a_revocation_at_one_node_is_seen_at_once_at_the_other);

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

async fn introspect_active(node: &TestApp, secret: &str, token: &str) -> bool {
    let r = node
        .post_basic("/introspect", "robot", secret, &[("token", token)])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json::<Value>().await.unwrap()["active"]
        .as_bool()
        .unwrap()
}

/// Issue 16: nodes remember that a token was not revoked (`oidc::token_cache`); a revocation
/// at any node makes every node forget it: the revoking node before it answers, the others as
/// soon as they hear of it, not when the remembered answer ages out.
async fn a_revocation_at_one_node_is_seen_at_once_at_the_other(db: Db) {
    use mpsv_idp::oidc::token_cache::TokenCache;
    let a = spawn_app_with(db, |c| {
        with_kek(c, TEST_KEK);
        c.key_dir = c.key_dir.join("node-a");
    })
    .await;
    let b = spawn_node_with(&a, |c| c.key_dir = c.key_dir.with_file_name("node-b")).await;
    let mut spec = ClientSpec::confidential("robot");
    spec.grant_types = vec!["client_credentials"];
    let secret = a.register(spec).await.unwrap();
    // On PostgreSQL a node reuses answers only once its listener hears other nodes.
    for node in [&a, &b] {
        for _ in 0..200 {
            if node.state.storage.revocations().current().is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(node.state.storage.revocations().current().is_some());
    }

    for round in 0..3 {
        let r = a
            .post_basic(
                "/token",
                "robot",
                &secret,
                &[("grant_type", "client_credentials")],
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let at = r.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        for node in [&a, &b] {
            assert!(introspect_active(node, &secret, &at).await);
            assert!(introspect_active(node, &secret, &at).await);
            // The second answer came from the cache: this test exercises it.
            let revocations = node.state.storage.revocations();
            let known = node
                .state
                .token_cache
                .get(&TokenCache::key(&at), |e| revocations.still(e))
                .expect("remembered");
            assert_eq!(known.revoked, Some(false));
        }
        // Revoked at one node (alternately): that node knows at once. The other hears it when
        // PostgreSQL delivers the notification (SQLite: its next look at the signal file), well
        // before its remembered answer would age out (`client_cache_seconds`, here 5 s).
        let (revoker, other) = if round % 2 == 0 { (&b, &a) } else { (&a, &b) };
        let r = revoker
            .post_basic("/revoke", "robot", &secret, &[("token", &at)])
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        assert!(!introspect_active(revoker, &secret, &at).await);
        let mut seen = false;
        for _ in 0..200 {
            if !introspect_active(other, &secret, &at).await {
                seen = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(seen, "round {round}: the other node forgot its answer");
    }
}
