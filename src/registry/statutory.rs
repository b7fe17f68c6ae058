//! Statutory representatives (MPSV rules 4 and 6). Ending a role, effective now or on a
//! date, takes the submit permission away at that moment (claims are evaluated from the
//! periods), and then its consequences are carried out once: the delegations the person
//! granted lapse, their token families for the organisation are revoked, and their sessions
//! in which they acted for it end with back-channel logout to the applications.

use super::{Actor, RegistryError, Result};
use crate::app::AppState;
use crate::audit::{Event, Record};
use crate::domain::id::OrganisationId;
use crate::domain::id::Subject;
use crate::error::Internal;
use crate::secrets::now;
use crate::storage::StorageError;

pub async fn start(
    state: &AppState,
    actor: Actor<'_>,
    person_sub: &Subject,
    organisation_id: &OrganisationId,
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
    let mut tx = storage.begin_write().await?;
    storage
        .start_statutory_role_in(&mut tx, &id, person_sub, organisation_id, from_at, actor)
        .await?;
    state
        .audit
        .append(
            &mut tx,
            Record::new(Event::StatutoryRoleStarted)
                .actor(actor)
                .subject(person_sub)
                .detail("organisation_id", organisation_id)
                .detail("from", from_at),
        )
        .await?;
    super::commit(tx).await?;
    Ok(id)
}

/// Records the end of the person's statutory role at `at` (now when `None`). An end in the
/// past or now is carried out at once; a later one by the periodic upkeep when it comes.
pub async fn end(
    state: &AppState,
    actor: Actor<'_>,
    person_sub: &Subject,
    organisation_id: &OrganisationId,
    at: Option<i64>,
    reason: &str,
) -> Result<()> {
    let t = now();
    let at = at.unwrap_or(t);
    let mut tx = state.storage.begin_write().await?;
    let ended = state
        .storage
        .end_statutory_role_in(&mut tx, person_sub, organisation_id, at, actor, reason)
        .await?;
    if ended == 0 {
        return Err(RegistryError::Refused(
            "the person is not a statutory representative of this organisation",
        ));
    }
    state
        .audit
        .append(
            &mut tx,
            Record::new(Event::StatutoryRoleEnded)
                .actor(actor)
                .subject(person_sub)
                .detail("organisation_id", organisation_id)
                .detail("at", at)
                .detail("reason", reason),
        )
        .await?;
    super::commit(tx).await?;
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
        // One transaction per role: claiming it (the mark), its consequences and their audit
        // records commit together, so a crash leaves the role pending for the next upkeep and
        // another node that claims it at the same time finds it taken.
        let mut tx = state.storage.begin_write().await?;
        if !state
            .storage
            .mark_role_end_applied_in(&mut tx, &role.id)
            .await?
        {
            continue;
        }
        // Still statutory through another (newer) role: nothing is taken away.
        let still = state
            .storage
            .is_statutory(&role.person_sub, &role.organisation_id, t)
            .await?;
        if still {
            tx.commit().await.map_err(StorageError::from)?;
            done += 1;
            continue;
        }
        let lapsed = state
            .storage
            .lapse_delegations_of_in(
                &mut tx,
                &role.person_sub,
                &role.organisation_id,
                "the delegator's statutory role ended",
            )
            .await?;
        let families = state
            .storage
            .revoke_families_for_organisation_in(&mut tx, &role.person_sub, &role.organisation_id)
            .await?;
        let sessions = state
            .storage
            .sessions_with_organisation(&role.person_sub, &role.organisation_id)
            .await?;
        let mut ended = Vec::new();
        for sid in &sessions {
            ended.push((
                sid.clone(),
                state.storage.end_session_in(&mut tx, sid).await?,
            ));
        }
        // The audit records last (see `registry::consents::record`).
        for delegate in &lapsed {
            state
                .audit
                .append(
                    &mut tx,
                    Record::new(Event::DelegationRevoked)
                        .actor("system")
                        .subject(delegate.clone())
                        .detail("organisation_id", role.organisation_id.clone())
                        .detail("delegator", role.person_sub.clone())
                        .detail("reason", "statutory role of the delegator ended"),
                )
                .await?;
        }
        tx.commit().await.map_err(StorageError::from)?;
        crate::session::notify_ended(state, ended);
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
