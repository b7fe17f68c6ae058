//! Who calls the administration API, and with which role:
//!
//! - a **bearer access token** issued by this IdP: from `client_credentials` for automation
//!   (its scope `admin:operator` or `admin:administrator` is the role; an administrator
//!   registers such a client with that scope), or a person's token whose scope names the
//!   person's own staff role and who signed in with the second factor;
//! - the **console's session** (a staff member signed in with TOTP); requests that change
//!   something must then echo the session's CSRF token in `X-CSRF-Token` (OWASP CSRF
//!   Prevention Cheat Sheet, "custom request headers" with a synchronizer token).
//!
//! Every handler then asks for the one permission it needs (`domain::permission`).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::Method;

use super::error::{ApiError, ApiResult};
use crate::app::AppState;
use crate::domain::account::{AccountStatus, Role};
use crate::domain::amr::Amr;
use crate::domain::id::Subject;
use crate::domain::permission::{allows, Permission};
use crate::domain::scope::Scopes;
use crate::error::BearerError;
use crate::http::client::ClientMeta;
use crate::secrets::constant_time_eq;
use crate::session::SessionCookie;

pub const SCOPE_OPERATOR: &str = "admin:operator";
pub const SCOPE_ADMINISTRATOR: &str = "admin:administrator";

/// An authenticated caller of the administration API.
#[derive(Debug, Clone)]
pub struct Admin {
    /// For the audit log: a staff member's `sub`, or `client:<client_id>`.
    pub actor: String,
    pub role: Role,
    pub ip: Option<String>,
}

impl Admin {
    pub fn require(&self, p: Permission) -> ApiResult<()> {
        if allows(self.role, p) {
            Ok(())
        } else {
            Err(ApiError::Forbidden("this role may not do that"))
        }
    }
}

/// The staff role an admin scope names, if exactly one.
fn role_of(scope: &Scopes) -> Option<Role> {
    match (
        scope.contains(SCOPE_OPERATOR),
        scope.contains(SCOPE_ADMINISTRATOR),
    ) {
        (true, false) => Some(Role::Operator),
        (false, true) => Some(Role::Administrator),
        _ => None,
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ip = match ClientMeta::from_request_parts(parts, state).await {
            Ok(meta) => meta.ip_string(),
            Err(never) => match never {},
        };
        let presented = crate::oidc::resource::presented(&parts.headers)
            .map_err(|_| ApiError::Unauthenticated("malformed Authorization header"))?;
        if let Some(token) = presented {
            // The URL the client addressed, for a DPoP proof's htu (RFC 9449 §4.3).
            // (Under a nested router `parts.uri` lacks the prefix; `OriginalUri` has it.)
            let path = parts
                .extensions
                .get::<axum::extract::OriginalUri>()
                .map_or_else(|| parts.uri.path().to_owned(), |u| u.path().to_owned());
            let url = format!("{}{path}", state.config.issuer);
            let live = crate::oidc::resource::live_token(
                state,
                &parts.headers,
                parts.method.as_str(),
                &url,
                &token,
            )
            .await
            .map_err(|e| match e {
                BearerError::Internal(e) => ApiError::Internal(e),
                BearerError::Dpop { description, .. } => ApiError::Unauthenticated(description),
                _ => ApiError::Unauthenticated("the access token is invalid, expired or revoked"),
            })?;
            let c = live.claims;
            let scope = Scopes::parse(&c.scope).unwrap_or_default();
            let role = role_of(&scope).ok_or(ApiError::Forbidden(
                "the token carries no admin scope (admin:operator or admin:administrator)",
            ))?;
            if c.sid.is_none() {
                // Disabling the client or taking the admin scope away ends its power at once,
                // not when its tokens expire.
                let client = state.storage.client(&c.client_id).await?;
                let still = client.is_some_and(|cl| {
                    cl.enabled
                        && cl.scopes.contains(match role {
                            Role::Administrator => SCOPE_ADMINISTRATOR,
                            _ => SCOPE_OPERATOR,
                        })
                });
                if !still {
                    return Err(ApiError::Unauthenticated(
                        "the client is disabled or no longer holds this admin scope",
                    ));
                }
                return Ok(Admin {
                    actor: format!("client:{}", c.client_id),
                    role,
                    ip,
                });
            }
            let account = state
                .storage
                .account(&Subject::lookup(&c.sub))
                .await?
                .filter(|a| a.status == AccountStatus::Active)
                .ok_or(ApiError::Unauthenticated("the account is not active"))?;
            if account.role != role || !c.amr.as_ref().is_some_and(Amr::has_second_factor) {
                return Err(ApiError::Forbidden(
                    "the token's admin scope must match the person's role, signed in with TOTP",
                ));
            }
            return Ok(Admin {
                actor: account.sub.into(),
                role,
                ip,
            });
        }
        let session =
            crate::session::current(state, &SessionCookie::from_headers(state, &parts.headers))
                .await?
                .ok_or(ApiError::Unauthenticated(
                    "send a bearer access token, or sign in to the console",
                ))?;
        let account = state
            .storage
            .account(&session.sub)
            .await?
            .filter(|a| a.status == AccountStatus::Active && a.role.privileged())
            .ok_or(ApiError::Forbidden("the console is for MPSV staff"))?;
        if !session.amr.has_second_factor() {
            return Err(ApiError::Forbidden("staff must sign in with TOTP"));
        }
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe {
            let sent = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if session.csrf.is_empty() || !constant_time_eq(sent, &session.csrf) {
                return Err(ApiError::Forbidden("missing or wrong X-CSRF-Token"));
            }
        }
        Ok(Admin {
            actor: account.sub.into(),
            role: account.role,
            ip,
        })
    }
}
