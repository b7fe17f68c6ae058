//! Issue 12.2: back-channel logout through a durable outbox — written with the session's end,
//! retried with back-off, claimed by one node at a time, visible to administrators.

use mpsv_idp::domain::id::SessionId;
use mpsv_idp::secrets::now;
use mpsv_idp::storage::deliveries::DeliveryState;
use reqwest::StatusCode;

use crate::db_test;
use crate::helpers::*;

db_test!(
    a_logout_to_an_unreachable_client_waits_and_is_delivered_once_it_listens,
    deliveries_written_by_a_node_that_never_sends_them_are_sent_by_another,
    a_claimed_delivery_is_not_sent_twice_and_a_dead_claim_expires,
    a_redirect_from_the_client_is_not_followed,
    a_node_stopping_finishes_the_delivery_it_is_sending,
);

/// Issue 12.4: on SIGTERM a node drains its requests and its delivery task finishes the
/// back-channel logout it is sending (recorded as delivered), instead of leaving it claimed.
async fn a_node_stopping_finishes_the_delivery_it_is_sending(db: Db) {
    use axum::routing::post;
    let app = spawn_app(db).await;
    let arrived = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = arrived.clone();
    // A relying party that takes a second to answer.
    let router = axum::Router::new().route(
        "/bcl",
        post(move || {
            let seen = seen.clone();
            async move {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/bcl", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    signed_in(&app, &url).await;
    end_all_sessions(&app).await;
    // The delivery is under way (claimed) when the node is told to stop.
    let storage = app.state.storage.clone();
    assert!(
        wait_until(async || {
            let (n,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM logout_deliveries WHERE claimed_until IS NOT NULL",
            )
            .fetch_one(storage.pool())
            .await
            .unwrap();
            n == 1
        })
        .await
    );
    app.stop().await;
    assert_eq!(arrived.load(std::sync::atomic::Ordering::SeqCst), 1);
    let (delivered, claimed): (i64, i64) =
        sqlx::query_as("SELECT COUNT(delivered_at), COUNT(claimed_until) FROM logout_deliveries")
            .fetch_one(storage.pool())
            .await
            .unwrap();
    assert_eq!((delivered, claimed), (1, 0), "recorded, not left claimed");
}

/// A confidential client with a back-channel logout URI, a person signed in to it; returns
/// the client's secret.
async fn signed_in(app: &TestApp, backchannel: &str) -> String {
    let mut spec = ClientSpec::confidential("poskytovatel");
    spec.backchannel = Some(backchannel.to_owned());
    let secret = app.register(spec).await.unwrap();
    app.add_user("jana.novakova").await;
    let rp = app.rp("poskytovatel", Some(secret.clone())).await;
    app.code_flow(&rp, "jana.novakova").await;
    secret
}

/// The sids of every live session.
async fn live_sids(app: &TestApp) -> Vec<String> {
    let rows: Vec<(String,)> = sqlx::query_as("SELECT sid FROM sessions WHERE ended_at IS NULL")
        .fetch_all(app.state.storage.pool())
        .await
        .unwrap();
    rows.into_iter().map(|(s,)| s).collect()
}

async fn end_all_sessions(app: &TestApp) {
    for s in live_sids(app).await {
        mpsv_idp::session::end(&app.state, &SessionId::lookup(&s))
            .await
            .unwrap();
    }
}

async fn wait_until(mut done: impl AsyncFnMut() -> bool) -> bool {
    for _ in 0..100 {
        if done().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}

async fn deliveries(
    app: &TestApp,
    state: DeliveryState,
) -> Vec<mpsv_idp::storage::deliveries::Delivery> {
    app.state
        .storage
        .deliveries(state, None, 100, 0)
        .await
        .unwrap()
}

async fn a_logout_to_an_unreachable_client_waits_and_is_delivered_once_it_listens(db: Db) {
    let app = spawn_app(db).await;
    // Nothing listens on port 9.
    signed_in(&app, "http://127.0.0.1:9/bcl").await;
    end_all_sessions(&app).await;
    assert!(
        wait_until(async || {
            deliveries(&app, DeliveryState::Pending)
                .await
                .first()
                .is_some_and(|d| d.attempts >= 1)
        })
        .await,
        "the failed attempt is recorded"
    );
    let d = deliveries(&app, DeliveryState::Pending).await.remove(0);
    assert_eq!(d.last_status.as_deref(), Some("connection failed"));
    assert!(d.next_attempt_at > now(), "retried later, with back-off");
    // The client comes back at a listening address; its retry is due.
    let receiver = Receiver::start().await;
    let mut c = (*app
        .state
        .storage
        .client("poskytovatel")
        .await
        .unwrap()
        .unwrap())
    .clone();
    c.backchannel_logout_uri =
        Some(mpsv_idp::domain::client::RedirectUri::parse(&receiver.url).unwrap());
    app.state.storage.update_client(&c).await.unwrap();
    sqlx::query("UPDATE logout_deliveries SET next_attempt_at = 0")
        .execute(app.state.storage.pool())
        .await
        .unwrap();
    assert_eq!(receiver.wait_for(1).await.len(), 1);
    assert!(wait_until(async || deliveries(&app, DeliveryState::Delivered).await.len() == 1).await);
    let done = deliveries(&app, DeliveryState::Delivered).await.remove(0);
    assert_eq!(
        (done.attempts, done.last_status.as_deref()),
        (2, Some("200"))
    );
    // Administrators see it, with its attempts; and the metrics counted the failure.
    let admin = crate::admin::token(&app, "automation", &["admin:administrator"]).await;
    let (status, page, _) = crate::admin::call(
        &app,
        Some(&admin),
        reqwest::Method::GET,
        "/logout-deliveries?state=delivered",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["items"][0]["client_id"], "poskytovatel");
    assert_eq!(page["items"][0]["attempts"], 2);
    let metrics = app.state.metrics.render();
    assert!(
        metrics
            .contains("mpsv_idp_backchannel_logout_failures_total{client_id=\"poskytovatel\"} 1"),
        "{metrics}"
    );
    // Never again.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(receiver.tokens.lock().unwrap().len(), 1);
}

/// The session ends in a transaction of its own and nobody wakes the delivery task — as when
/// the node that ended it is killed right after the commit: another pass of the outbox (any
/// node's, here this one's periodic pass) sends it.
async fn deliveries_written_by_a_node_that_never_sends_them_are_sent_by_another(db: Db) {
    let app = spawn_app(db).await;
    let receiver = Receiver::start().await;
    signed_in(&app, &receiver.url).await;
    for sid in live_sids(&app).await {
        // Storage only: the outbox row is written, no task is woken.
        assert!(app
            .state
            .storage
            .end_session(&SessionId::lookup(&sid))
            .await
            .unwrap()
            .is_some());
    }
    assert_eq!(receiver.wait_for(1).await.len(), 1);
}

async fn a_claimed_delivery_is_not_sent_twice_and_a_dead_claim_expires(db: Db) {
    let app = spawn_app(db).await;
    let receiver = Receiver::start().await;
    signed_in(&app, &receiver.url).await;
    // Another node claimed it a moment ago and is sending it.
    let sid = live_sids(&app).await.remove(0);
    let mut tx = app.state.storage.begin_write().await.unwrap();
    app.state
        .storage
        .end_session_in(&mut tx, &SessionId::lookup(&sid))
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE logout_deliveries SET claimed_until = {}",
        now() + 3600
    )))
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    mpsv_idp::oidc::backchannel::wake(&app.state);
    // Two claims at once (two nodes) never get the same delivery.
    let (a, b) = tokio::join!(
        app.state.storage.claim_deliveries(now(), 30, 10),
        app.state.storage.claim_deliveries(now(), 30, 10)
    );
    assert!(
        a.unwrap().is_empty() && b.unwrap().is_empty(),
        "claimed elsewhere"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert!(
        receiver.tokens.lock().unwrap().is_empty(),
        "not sent while claimed"
    );
    // That node died: its lease runs out and this node sends it, once.
    sqlx::query("UPDATE logout_deliveries SET claimed_until = 1")
        .execute(app.state.storage.pool())
        .await
        .unwrap();
    assert_eq!(receiver.wait_for(1).await.len(), 1);
    let (a, b) = tokio::join!(
        app.state.storage.claim_deliveries(now(), 30, 10),
        app.state.storage.claim_deliveries(now(), 30, 10)
    );
    assert!(
        a.unwrap().is_empty() && b.unwrap().is_empty(),
        "delivered: nothing to claim"
    );
}

/// §2.5 does not ask an OP to follow redirects, and following one would let a client point the
/// IdP at any address: a 302 is a failed attempt.
async fn a_redirect_from_the_client_is_not_followed(db: Db) {
    use axum::routing::post;
    let app = spawn_app(db).await;
    let elsewhere = Receiver::start().await;
    let to = elsewhere.url.clone();
    let router = axum::Router::new().route(
        "/bcl",
        post(move || {
            let to = to.clone();
            async move { (StatusCode::TEMPORARY_REDIRECT, [("location", to)]) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/bcl", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    signed_in(&app, &url).await;
    end_all_sessions(&app).await;
    assert!(
        wait_until(async || {
            deliveries(&app, DeliveryState::Pending)
                .await
                .first()
                .is_some_and(|d| d.last_status.as_deref() == Some("307"))
        })
        .await
    );
    assert!(elsewhere.tokens.lock().unwrap().is_empty());
}
