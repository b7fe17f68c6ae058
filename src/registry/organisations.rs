//! Registering organisations (audited).

use super::{Actor, Result};
use crate::app::AppState;
use crate::audit::{Event, Record};
use crate::domain::organisation::Organisation;

pub async fn create(state: &AppState, actor: Actor<'_>, o: &Organisation) -> Result<()> {
    let mut tx = state.storage.begin_write().await?;
    state.storage.insert_organisation_in(&mut tx, o).await?;
    state
        .audit
        .append(
            &mut tx,
            Record::new(Event::OrganisationCreated)
                .actor(actor)
                .subject(o.id.clone())
                .detail("ico", o.ico.as_str())
                .detail("name", o.name.clone())
                .detail("social_service_provider", o.kind.social_service_provider)
                .detail("nno_family_support", o.kind.nno_family_support),
        )
        .await?;
    super::commit(tx).await
}
