//! `grant_type=authorization_code` (RFC 6749 §4.1.3, OIDC Core §3.1.3, RFC 7636 §4.6).

use axum::response::Response;

use super::{active_account, refresh_ttl};
use crate::app::AppState;
use crate::domain::claims_request::ClaimsRequest;
use crate::domain::client::{Client, GrantType};
use crate::domain::pkce::CodeChallenge;
use crate::domain::scope::Scopes;
use crate::error::OAuthError;
use crate::oidc::issue::{self, GrantOrganisation, UserContext};
use crate::secrets::{now, PlainToken};
use crate::storage::codes::Redemption;
use crate::storage::tokens::TokenFamily;

/// What the client presents to redeem a code.
pub struct Redeem<'a> {
    pub code: &'a str,
    pub redirect_uri: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
}

pub async fn grant(
    state: &AppState,
    client: &Client,
    presented: Redeem<'_>,
    jkt: Option<&str>,
) -> Result<Response, OAuthError> {
    let code = presented.code;
    let code_hash = PlainToken::from_received(code).hashed();
    let code = match state.storage.redeem_code(&code_hash).await? {
        Redemption::Fresh(c) => c,
        Redemption::Unknown => return Err(OAuthError::invalid_grant("unknown authorization code")),
        Redemption::Reused => {
            tracing::warn!(client_id = %client.client_id, "authorization code reused; its tokens are revoked");
            return Err(OAuthError::invalid_grant(
                "the authorization code was already used",
            ));
        }
    };
    if code.client_id != client.client_id.as_str() {
        return Err(OAuthError::invalid_grant(
            "the code was issued to another client",
        ));
    }
    if code.expires_at < now() {
        return Err(OAuthError::invalid_grant(
            "the authorization code has expired",
        ));
    }
    if presented.redirect_uri != Some(code.redirect_uri.as_str()) {
        return Err(OAuthError::invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    match (&code.code_challenge, presented.code_verifier) {
        (Some(challenge), Some(verifier)) => {
            if !CodeChallenge::from_stored(challenge.clone()).verify(verifier) {
                return Err(OAuthError::invalid_grant("PKCE verification failed"));
            }
        }
        (Some(_), None) => return Err(OAuthError::invalid_grant("code_verifier is missing")),
        // A verifier for a code issued without a challenge is a downgrade attempt
        // (RFC 9700 §2.1.1).
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier sent for a code issued without PKCE",
            ))
        }
        (None, None) => {}
    }
    // RFC 9449 §10: a code requested with `dpop_jkt` is redeemed only with that key's proof.
    if let Some(bound) = &code.dpop_jkt {
        if jkt.is_none_or(|j| !crate::secrets::constant_time_eq(j, bound)) {
            return Err(OAuthError::invalid_grant(
                "the code is bound to another DPoP key (dpop_jkt)",
            ));
        }
    }
    let session = state
        .storage
        .session_by_sid(&code.sid)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the session of this code has ended"))?;
    let account = active_account(state, &code.sub).await?;
    let scope = Scopes::from_list(code.scope.split(' ').filter(|s| !s.is_empty()));
    let organisation =
        issue::grant_organisation(state, client, &account.sub, code.organisation_id.as_ref())
            .await?;
    if let GrantOrganisation::Lost = organisation {
        return Err(OAuthError::invalid_grant(
            "the person is no longer entitled to this application",
        ));
    }

    let family = TokenFamily {
        id: uuid::Uuid::new_v4().simple().to_string(),
        client_id: client.client_id.as_str().to_owned(),
        sub: account.sub.clone(),
        sid: session.sid.clone(),
        scope: scope.to_string(),
        auth_time: code.auth_time,
        amr: code.amr.clone(),
        expires_at: session.expires_at,
        revoked_at: None,
        organisation_id: code.organisation_id.clone(),
        // §5: a public client's refresh tokens are bound to its key (a confidential client's
        // are bound to its credentials already).
        dpop_jkt: jkt.filter(|_| client.is_public()).map(str::to_owned),
        claims: code.claims.clone(),
    };
    let refresh = client
        .allows_grant(GrantType::RefreshToken)
        .then(PlainToken::generate);
    let refresh_row = refresh.as_ref().map(|r| {
        (
            r.hashed(),
            (now() + refresh_ttl(state, client)).min(family.expires_at),
        )
    });
    if !state
        .storage
        .insert_family(
            &family,
            Some(&code_hash),
            refresh_row.as_ref().map(|(h, e)| (h, *e)),
        )
        .await?
    {
        return Err(OAuthError::invalid_grant(
            "the session of this code has ended",
        ));
    }

    let user = UserContext {
        account: &account,
        sid: family.sid.as_str(),
        auth_time: family.auth_time,
        amr: session.amr.clone(),
        family_id: &family.id,
        affiliation: organisation.affiliation(),
    };
    let access = issue::access_token(state, client, &scope, Some(&user), jkt)?;
    let id_token = if scope.contains("openid") {
        Some(issue::id_token(
            state,
            client,
            &user,
            &scope,
            code.nonce.as_deref(),
            &access.token,
            &ClaimsRequest::from_stored(code.claims.as_deref()),
        )?)
    } else {
        None
    };
    Ok(issue::token_response(access, &scope, id_token, refresh))
}
