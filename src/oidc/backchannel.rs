//! OpenID Connect Back-Channel Logout 1.0: when a session ends, every client that took part
//! in it and registered a `backchannel_logout_uri` receives a signed logout token.
//!
//! Delivery runs in the background with a few retries; the person's logout never waits on a
//! relying party. (A durable outbox for deliveries that outlive a node restart is future work,
//! noted in docs/decisions.md.)

use std::time::Duration;

use serde_json::json;

use super::jwt::TYP_LOGOUT;
use crate::app::AppState;
use crate::domain::client::Client;
use crate::error::Internal;
use crate::secrets::{now, PlainToken};

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The logout token (§2.4) for `client`: `iss`, `aud`, `iat`, `exp`, `jti`, `sub`, `sid`,
/// `events`, and never a `nonce`.
pub fn logout_token(
    state: &AppState,
    client: &Client,
    sub: &str,
    sid: &str,
) -> Result<String, Internal> {
    let iat = now();
    let claims = json!({
        "iss": state.config.issuer,
        "aud": client.client_id.as_str(),
        "iat": iat,
        "exp": iat + 120,
        "jti": PlainToken::generate_with_bytes(16).expose(),
        "sub": sub,
        "sid": sid,
        "events": { EVENT: {} },
    });
    let payload = serde_json::to_vec(&claims).map_err(|e| Internal::Other(e.to_string()))?;
    Ok(state.keys.sign(client.id_token_alg, TYP_LOGOUT, &payload)?)
}

/// Sends logout tokens to `client_ids` in the background.
pub fn notify(state: &AppState, sub: String, sid: String, client_ids: Vec<String>) {
    let state = state.clone();
    tokio::spawn(async move {
        for client_id in client_ids {
            let client = match state.storage.client(&client_id).await {
                Ok(Some(c)) => c,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, %client_id, "back-channel logout: client lookup failed");
                    continue;
                }
            };
            let Some(uri) = client.backchannel_logout_uri.clone() else {
                continue;
            };
            let token = match logout_token(&state, &client, &sub, &sid) {
                Ok(t) => t,
                Err(e) => {
                    tracing::error!(error = %e, %client_id, "back-channel logout: signing failed");
                    continue;
                }
            };
            let state = state.clone();
            tokio::spawn(async move { deliver(&state, &client_id, uri.as_str(), &token).await });
        }
    });
}

/// POSTs the token (§2.5), retrying a failed delivery twice.
async fn deliver(state: &AppState, client_id: &str, uri: &str, token: &str) {
    for attempt in 0..3u32 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_secs(u64::from(attempt) * 2)).await;
        }
        let result = state
            .http
            .post(uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cache-control", "no-store")
            .body(format!(
                "logout_token={}",
                url::form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>()
            ))
            .send()
            .await;
        match result {
            Ok(r) if r.status().is_success() => {
                tracing::info!(%client_id, "back-channel logout delivered");
                return;
            }
            Ok(r) => {
                tracing::warn!(%client_id, status = %r.status(), attempt, "back-channel logout refused")
            }
            Err(e) => tracing::warn!(%client_id, error = %e, attempt, "back-channel logout failed"),
        }
    }
}
