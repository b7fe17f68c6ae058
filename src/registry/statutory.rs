//! Statutory representatives (MPSV rules 4 and 6). Ending a role, effective now or on a
//! date, takes the submit permission away at that moment (claims are evaluated from the
//! periods), and then its consequences are carried out once: the delegations the person
//! granted lapse, their token families for the organisation are revoked, and their sessions
//! in which they acted for it end with back-channel logout to the applications.

use super::{Actor, RegistryError, Result};
use crate::app::AppState;
use crate::audit::{Event, Record};
use crate::error::Internal;
use crate::secrets::now;

pub async fn start(
    state: &AppState,
    actor: Actor<'_>,
    person_sub: &str,
    organisation_id: &str,
    from_at: i64,
) -> Result<String> {
    let storage = &state.storage;
    super::ensure_not_staff(state, person_sub).await?;
    storage
        .person(person_sub)
        .await?
        .ok_or(RegistryError::NotFound("person"))?;
    storage
        .organisation(organisation_id)
        .await?
        .ok_or(RegistryError::NotFound("organisation"))?;
    if storage
        .is_statutory(person_sub, organisation_id, from_at)
        .await?
    {
        return Err(RegistryError::Conflict("this statutory role"));
    }
    let id = uuid::Uuid::new_v4().to_string();
    storage
        .start_statutory_role(&id, person_sub, organisation_id, from_at, actor)
        .await?;
    state
        .audit
        .record(
            Record::new(Event::StatutoryRoleStarted)
                .actor(actor)
                .subject(person_sub)
                .detail("organisation_id", organisation_id)
                .detail("from", from_at),
        )
        .await?;
    Ok(id)
}

/// Records the end of the person's statutory role at `at` (now when `None`). An end in the
/// past or now is carried out at once; a later one by the periodic upkeep when it comes.
pub async fn end(
    state: &AppState,
    actor: Actor<'_>,
    person_sub: &str,
    organisation_id: &str,
    at: Option<i64>,
    reason: &str,
) -> Result<()> {
    let t = now();
    let at = at.unwrap_or(t);
    let ended = state
        .storage
        .end_statutory_role(person_sub, organisation_id, at, actor, reason)
        .await?;
    if ended == 0 {
        return Err(RegistryError::Refused(
            "the person is not a statutory representative of this organisation",
        ));
    }
    state
        .audit
        .record(
            Record::new(Event::StatutoryRoleEnded)
                .actor(actor)
                .subject(person_sub)
                .detail("organisation_id", organisation_id)
                .detail("at", at)
                .detail("reason", reason),
        )
        .await?;
    if at <= t {
        apply_pending_ends(state).await?;
    }
    Ok(())
}

/// Carries out the consequences of every role end that has come and was not yet handled.
/// Safe to run on several nodes: each end is claimed by one.
pub async fn apply_pending_ends(state: &AppState) -> std::result::Result<usize, Internal> {
    let t = now();
    let mut done = 0;
    for role in state.storage.ended_roles_pending(t).await? {
        // Still statutory through another (newer) role: nothing is taken away.
        let still = state
            .storage
            .is_statutory(&role.person_sub, &role.organisation_id, t)
            .await?;
        if still {
            state.storage.mark_role_end_applied(&role.id).await?;
            done += 1;
            continue;
        }
        // The work first, then the mark: a failure half-way is retried at the next upkeep.
        // Every step is idempotent (another node doing the same finds nothing left to do).
        let lapsed = state
            .storage
            .lapse_delegations_of(
                &role.person_sub,
                &role.organisation_id,
                "the delegator's statutory role ended",
            )
            .await?;
        for delegate in &lapsed {
            state
                .audit
                .record(
                    Record::new(Event::DelegationRevoked)
                        .actor("system")
                        .subject(delegate.clone())
                        .detail("organisation_id", role.organisation_id.clone())
                        .detail("delegator", role.person_sub.clone())
                        .detail("reason", "statutory role of the delegator ended"),
                )
                .await?;
        }
        let families = state
            .storage
            .revoke_families_for_organisation(&role.person_sub, &role.organisation_id)
            .await?;
        let sessions = state
            .storage
            .sessions_with_organisation(&role.person_sub, &role.organisation_id)
            .await?;
        for sid in &sessions {
            crate::oidc::logout::end_session(state, sid).await?;
        }
        state.storage.mark_role_end_applied(&role.id).await?;
        done += 1;
        tracing::info!(
            sub = %role.person_sub,
            organisation = %role.organisation_id,
            delegations = lapsed.len(),
            families,
            sessions = sessions.len(),
            "statutory role ended: consequences carried out"
        );
    }
    Ok(done)
}
