//! "Act on behalf of" (docs/domain.md): when a person signs in to an MPSV application, their
//! entitlement decides whether they may, and which organisation they act for.
//!
//! - No organisation entitles them for the application: refused (a page says why and whom to
//!   contact; its button returns `error=access_denied` to the application).
//! - One does: it is used.
//! - Several do: the one chosen for this application earlier in the session is reused; the
//!   application's first login in a session reuses the session's current organisation when
//!   entitled; otherwise, and always with `prompt=select_account`, the person picks one.
//!
//! Each choice is bound to that client's grant (a choice in one application never changes
//! another application's tokens) and becomes the session's current organisation.

use crate::app::AppState;
use crate::audit::{Event, Record};
use crate::domain::client::{Application, Client};
use crate::domain::entitlement::Affiliation;
use crate::domain::id::OrganisationId;
use crate::domain::id::Subject;
use crate::error::Internal;
use crate::interaction::AuthorizationRequest;
use crate::secrets::now;
use crate::storage::sessions::Session;

/// Whom the person acts for in the application, or what must happen first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Acts for this organisation.
    Act(OrganisationId),
    /// No organisation entitles them (audited).
    Deny,
    /// Several do and none is settled: the person must choose.
    Choose,
}

pub async fn decide(
    state: &AppState,
    client: &Client,
    app: Application,
    req: &AuthorizationRequest,
    session: &Session,
) -> Result<Decision, Internal> {
    let entitled = entitled(state, &session.sub, app).await?;
    if entitled.is_empty() {
        state
            .audit
            .record(
                Record::new(Event::AccessDenied)
                    .actor(session.sub.clone())
                    .subject(session.sub.clone())
                    .detail("client_id", client.client_id.as_str())
                    .detail("application", app.as_str()),
            )
            .await?;
        tracing::info!(client_id = %client.client_id.as_str(), "no entitlement for the application");
        return Ok(Decision::Deny);
    }
    let is_entitled = |id: &OrganisationId| entitled.iter().any(|a| a.organisation.id == *id);
    if let [only] = entitled.as_slice() {
        return Ok(Decision::Act(only.organisation.id.clone()));
    }
    if !req.prompt_select_account {
        let remembered = state
            .storage
            .session_client_organisation(&session.sid, client.client_id.as_str())
            .await?;
        let reuse = match remembered {
            Some(org) => Some(org).filter(is_entitled),
            // The application's first login in this session: the session's organisation.
            None => session.organisation_id.clone().filter(is_entitled),
        };
        if let Some(org) = reuse {
            return Ok(Decision::Act(org));
        }
    }
    Ok(Decision::Choose)
}

/// The person's affiliations that entitle them to `app`, as of now.
pub async fn entitled(
    state: &AppState,
    sub: &Subject,
    app: Application,
) -> Result<Vec<Affiliation>, Internal> {
    Ok(state
        .storage
        .affiliations(sub, now())
        .await?
        .into_iter()
        .filter(|a| a.entitled(app))
        .collect())
}
