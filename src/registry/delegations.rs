//! Delegation of submit (MPSV rule 4): a statutory representative lets a colleague of the
//! same organisation submit; the delegation holds while the delegator is still statutory
//! (`domain::entitlement::DelegationFacts`). Representatives do it themselves on the
//! delegation page; operators do it on the organisation's behalf (`on_behalf`).

use super::{Actor, RegistryError, Result};
use crate::app::AppState;
use crate::audit::{Event, Record};
use crate::domain::id::OrganisationId;
use crate::domain::id::Subject;
use crate::secrets::now;

/// `delegator` delegates submit for the organisation to `delegate`. `actor` is the delegator
/// themself, or an operator acting on the organisation's behalf.
pub async fn grant(
    state: &AppState,
    actor: Actor<'_>,
    organisation_id: &OrganisationId,
    delegator_sub: &Subject,
    delegate_sub: &Subject,
) -> Result<String> {
    let storage = &state.storage;
    super::ensure_not_staff(state, delegate_sub).await?;
    if delegator_sub == delegate_sub {
        return Err(RegistryError::Refused(
            "a representative cannot delegate to themself",
        ));
    }
    if !storage
        .is_statutory(delegator_sub, organisation_id, now())
        .await?
    {
        return Err(RegistryError::Refused(
            "only a statutory representative of the organisation can delegate submit",
        ));
    }
    if !storage.is_member(delegate_sub, organisation_id).await? {
        return Err(RegistryError::Refused(
            "submit can be delegated only to a member of the same organisation",
        ));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let mut tx = storage.begin_write().await?;
    let inserted = storage
        .insert_delegation_in(
            &mut tx,
            &id,
            organisation_id,
            delegate_sub,
            delegator_sub,
            actor,
            now(),
        )
        .await?;
    if !inserted {
        return Err(RegistryError::Refused(
            "only a statutory representative of the organisation can delegate submit",
        ));
    }
    state
        .audit
        .append(
            &mut tx,
            Record::new(Event::DelegationGranted)
                .actor(actor)
                .subject(delegate_sub)
                .detail("delegation_id", id.clone())
                .detail("organisation_id", organisation_id)
                .detail("delegator", delegator_sub),
        )
        .await?;
    super::commit(tx).await?;
    Ok(id)
}

/// Revokes a delegation of the organisation.
pub async fn revoke(
    state: &AppState,
    actor: Actor<'_>,
    organisation_id: &OrganisationId,
    delegation_id: &str,
    reason: &str,
) -> Result<()> {
    let delegation = state
        .storage
        .delegations(organisation_id)
        .await?
        .into_iter()
        .find(|d| d.id == delegation_id)
        .ok_or(RegistryError::NotFound("delegation"))?;
    let mut tx = state.storage.begin_write().await?;
    if !state
        .storage
        .revoke_delegation_in(&mut tx, delegation_id, organisation_id, actor, reason)
        .await?
    {
        return Err(RegistryError::NotFound("delegation"));
    }
    state
        .audit
        .append(
            &mut tx,
            Record::new(Event::DelegationRevoked)
                .actor(actor)
                .subject(delegation.delegate_sub)
                .detail("delegation_id", delegation_id)
                .detail("organisation_id", organisation_id)
                .detail("delegator", delegation.delegator_sub)
                .detail("reason", reason),
        )
        .await?;
    super::commit(tx).await
}
