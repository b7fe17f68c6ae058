//! `grant_type=refresh_token` (RFC 6749 §6) with rotation: every use spends the token and
//! returns a new one; presenting a spent token revokes the whole family (RFC 9700 §4.14.2).

use axum::response::Response;

use super::{active_account, refresh_ttl, requested_scope};
use crate::app::AppState;
use crate::domain::claims_request::ClaimsRequest;
use crate::domain::client::Client;
use crate::domain::scope::Scopes;
use crate::error::OAuthError;
use crate::oidc::issue::{self, GrantOrganisation, UserContext};
use crate::secrets::PlainToken;
use crate::storage::tokens::{Rotation, TokenFamily};

pub async fn grant(
    state: &AppState,
    client: &Client,
    presented: &str,
    requested: Option<&Scopes>,
    jkt: Option<&str>,
) -> Result<Response, OAuthError> {
    let old = PlainToken::from_received(presented).hashed();
    let new = PlainToken::generate();
    let mut scope = Ok(Scopes::default());
    // The token must belong to this client (RFC 6749 §6) and the scope may only narrow
    // (§3.3); both are checked before the rotation commits, so a refused request spends nothing.
    let rotation = state
        .storage
        .rotate_refresh_token(&old, &new.hashed(), refresh_ttl(state, client), |f| {
            let granted = Scopes::from_list(f.scope.split(' ').filter(|s| !s.is_empty()));
            scope = requested_scope(requested, &granted);
            f.client_id == client.client_id.as_str() && scope.is_ok() && key_ok(f, jkt)
        })
        .await?;
    let family = match rotation {
        Rotation::Rotated(f) => f,
        Rotation::Reused => {
            tracing::warn!(client_id = %client.client_id, "refresh token reused; family revoked");
            return Err(OAuthError::invalid_grant(
                "the refresh token was already used",
            ));
        }
        Rotation::Refused(f) if f.client_id != client.client_id.as_str() => {
            return Err(OAuthError::invalid_grant("invalid refresh token"))
        }
        Rotation::Refused(f) if !key_ok(&f, jkt) => {
            return Err(OAuthError::invalid_grant(
                "the refresh token is bound to a DPoP key: send a proof signed with it",
            ))
        }
        Rotation::Refused(_) => {
            return Err(scope
                .err()
                .unwrap_or_else(|| OAuthError::invalid_scope("invalid scope")))
        }
        Rotation::Invalid => return Err(OAuthError::invalid_grant("invalid refresh token")),
    };
    let scope = scope?;
    // A disabled or removed person's grant ends at its next use.
    let account = match active_account(state, &family.sub).await {
        Ok(a) => a,
        Err(e) => {
            state.storage.revoke_family(&family.id).await?;
            return Err(e);
        }
    };
    // Claims are evaluated now: a withdrawn consent ends the grant here.
    let organisation =
        issue::grant_organisation(state, client, &family.sub, family.organisation_id.as_ref())
            .await?;
    if let GrantOrganisation::Lost = organisation {
        state.storage.revoke_family(&family.id).await?;
        tracing::info!(client_id = %client.client_id, "grant ended: no longer entitled");
        return Err(OAuthError::invalid_grant(
            "the person is no longer entitled to this application",
        ));
    }
    let user = UserContext {
        account: &account,
        sid: family.sid.as_str(),
        auth_time: family.auth_time,
        amr: family.amr.clone(),
        family_id: &family.id,
        affiliation: organisation.affiliation(),
    };
    let access = issue::access_token(state, client, &scope, Some(&user), jkt)?;
    // OIDC Core §12.2: an ID token may be returned; it carries no nonce.
    let id_token = if scope.contains("openid") {
        Some(issue::id_token(
            state,
            client,
            &user,
            &scope,
            None,
            &access.token,
            &ClaimsRequest::from_stored(family.claims.as_deref()),
        )?)
    } else {
        None
    };
    Ok(issue::token_response(access, &scope, id_token, Some(new)))
}

/// RFC 9449 §5: a bound family's refresh token is used only with a proof of its key.
fn key_ok(f: &TokenFamily, jkt: Option<&str>) -> bool {
    match &f.dpop_jkt {
        None => true,
        Some(bound) => jkt.is_some_and(|j| crate::secrets::constant_time_eq(j, bound)),
    }
}
