//! Consents to personal-data processing (MPSV rule 3): recording one assigns the person's
//! MPSV client identifier; withdrawing one removes the access it granted at the next moment
//! claims are evaluated (token refresh, userinfo, introspection, login).

use super::{Actor, RegistryError, Result};
use crate::app::AppState;
use crate::audit::{Event, Record};
use crate::domain::client::Application;
use crate::domain::id::{OrganisationId, Subject};
use crate::domain::mpsv_id::MpsvClientId;
use crate::domain::person::{ConsentForm, Person};

/// Whose consent it is: a person already known, or a new one the operator just typed.
pub enum Consenter<'a> {
    Existing(&'a Subject),
    New(&'a Person),
}

/// A recorded consent.
#[derive(Debug)]
pub struct Recorded {
    pub consent_id: String,
    pub person_sub: Subject,
    pub mpsv_client_id: MpsvClientId,
}

pub async fn record(
    state: &AppState,
    actor: Actor<'_>,
    subject: Consenter<'_>,
    organisation_id: &OrganisationId,
    form: Application,
    paper: &ConsentForm,
) -> Result<Recorded> {
    let storage = &state.storage;
    let organisation = storage
        .organisation(organisation_id)
        .await?
        .ok_or(RegistryError::NotFound("organisation"))?;
    let mut tx = storage.begin_write().await?;
    // Audit records are appended last, after every other write of the transaction: the audit
    // chain's lock is then the last one taken, so it never joins a lock cycle.
    let mut records = Vec::new();
    let sub = match subject {
        Consenter::Existing(sub) => {
            super::ensure_not_staff(state, sub).await?;
            storage
                .person(sub)
                .await?
                .ok_or(RegistryError::NotFound("person"))?
                .sub
        }
        Consenter::New(person) => {
            storage.insert_person_in(&mut tx, person, actor).await?;
            records.push(
                Record::new(Event::PersonCreated)
                    .actor(actor)
                    .subject(person.sub.clone())
                    .detail("name", person.name()),
            );
            person.sub.clone()
        }
    };
    let consent_id = uuid::Uuid::new_v4().to_string();
    let mpsv_client_id = storage
        .record_consent_in(
            &mut tx,
            &consent_id,
            &sub,
            &organisation.id,
            form,
            paper,
            actor,
        )
        .await?;
    records.push(
        Record::new(Event::ConsentRecorded)
            .actor(actor)
            .subject(sub.clone())
            .detail("consent_id", consent_id.clone())
            .detail("form", form.as_str())
            .detail("organisation_id", organisation.id.clone())
            .detail("ico", organisation.ico.as_str())
            .detail("signed_on", paper.signed_on.to_string())
            .detail("received_on", paper.received_on.to_string())
            .detail("reference", paper.reference.clone())
            .detail("mpsv_client_id", mpsv_client_id.as_str()),
    );
    for r in records {
        state.audit.append(&mut tx, r).await?;
    }
    super::commit(tx).await?;
    Ok(Recorded {
        consent_id,
        person_sub: sub,
        mpsv_client_id,
    })
}

pub async fn withdraw(
    state: &AppState,
    actor: Actor<'_>,
    consent_id: &str,
    reason: &str,
) -> Result<()> {
    let consent = state
        .storage
        .consent(consent_id)
        .await?
        .ok_or(RegistryError::NotFound("consent"))?;
    let mut tx = state.storage.begin_write().await?;
    if !state
        .storage
        .withdraw_consent_in(&mut tx, consent_id, actor, reason)
        .await?
    {
        return Err(RegistryError::Refused("the consent is already withdrawn"));
    }
    state
        .audit
        .append(
            &mut tx,
            Record::new(Event::ConsentWithdrawn)
                .actor(actor)
                .subject(consent.person_sub.clone())
                .detail("consent_id", consent_id)
                .detail("form", consent.form.clone())
                .detail("organisation_id", consent.organisation_id.clone())
                .detail("reason", reason),
        )
        .await?;
    super::commit(tx).await
}
