//! Console actions of operators on a person's national-eID links: linking the identity a
//! person signed in with (by the one-time code its page showed them, after checking who they
//! are and comparing what the upstream said with the register), and removing a link. Both
//! confirmed and audited; clients' accounts only.

use axum::extract::{Path, State};
use axum::response::Response;

use super::people::back;
use super::{confirmation, StaffForm};
use crate::app::AppState;
use crate::audit::{Event, Record};
use crate::domain::account::Role;
use crate::domain::id::Subject;
use crate::domain::permission::Permission;
use crate::error::PageError;
use crate::secrets::{now, HashedToken};
use crate::storage::upstream::UpstreamLink;
use crate::storage::StorageError;
use crate::upstream::Identity;
use crate::web::extract::CsrfForm;
use crate::web::login::upstream::normalise_code;

/// The person's account, if it is a client's (operators never touch staff accounts).
async fn user_account(state: &AppState, sub: &Subject) -> Result<bool, PageError> {
    Ok(state
        .storage
        .account(sub)
        .await?
        .is_some_and(|a| a.role == Role::User))
}

/// `POST /admin/persons/{sub}/upstream/link` (form: `code`; confirmed).
pub async fn link(
    State(state): State<AppState>,
    Path(sub): Path<String>,
    CsrfForm {
        who: staff, form, ..
    }: StaffForm,
) -> Result<Response, PageError> {
    staff.require(Permission::ManageAccountStatus)?;
    let here = format!("/admin/persons/{sub}");
    let t = staff.t();
    let person = Subject::lookup(&sub);
    if !user_account(&state, &person).await? {
        return Ok(back(
            &here,
            staff.lang,
            Err(t.get("console.forbidden").into()),
        ));
    }
    let code = HashedToken::of(&normalise_code(form.get("code").unwrap_or("")));
    let bad = || {
        back(
            &here,
            staff.lang,
            Err(t.get("console.upstream_bad_code").into()),
        )
    };
    let Some(found) = state
        .storage
        .link_code(&code)
        .await?
        .filter(|c| c.expires_at > now())
    else {
        return Ok(bad());
    };
    let identity: Identity = serde_json::from_str(&found.claims)
        .map_err(|_| crate::error::Internal::Stored("link code claims"))?;
    let upstream_name = state
        .upstreams
        .get(&found.upstream)
        .map(|u| u.config.name.clone())
        .unwrap_or_else(|| found.upstream.clone());
    // The operator compares what the upstream said with the person before confirming.
    if let Some(r) = confirmation(
        &staff,
        &form,
        &format!("{here}/upstream/link"),
        &format!(
            "{} {upstream_name}: {}",
            t.get("console.upstream_confirm"),
            identity.describe()
        ),
        &here,
    ) {
        return Ok(r);
    }
    let mut tx = state.storage.begin_write().await?;
    let Some(taken) = state.storage.take_link_code(&mut tx, &code).await? else {
        return Ok(bad());
    };
    let inserted = state
        .storage
        .insert_upstream_link(
            &mut tx,
            &UpstreamLink {
                upstream: taken.upstream.clone(),
                upstream_sub: taken.upstream_sub.clone(),
                sub: person.clone(),
                linked_by: "operator".into(),
                linked_at: now(),
                last_used_at: None,
            },
        )
        .await;
    match inserted {
        Ok(()) => {}
        Err(StorageError::Conflict(_)) => {
            return Ok(back(
                &here,
                staff.lang,
                Err(t.get("console.upstream_conflict").into()),
            ))
        }
        Err(e) => return Err(crate::error::Internal::from(e).into()),
    }
    state
        .audit
        .append(
            &mut tx,
            Record::new(Event::UpstreamLinked)
                .actor(staff.account.sub.clone())
                .subject(person)
                .detail("upstream", taken.upstream)
                .detail("upstream_sub", taken.upstream_sub)
                .detail("by", "operator")
                .detail("identity", identity.describe()),
        )
        .await?;
    tx.commit().await.map_err(StorageError::from)?;
    Ok(back(&here, staff.lang, Ok("upstream_linked")))
}

/// `POST /admin/persons/{sub}/upstream/unlink` (form: `upstream`; confirmed).
pub async fn unlink(
    State(state): State<AppState>,
    Path(sub): Path<String>,
    CsrfForm {
        who: staff, form, ..
    }: StaffForm,
) -> Result<Response, PageError> {
    staff.require(Permission::ManageAccountStatus)?;
    let here = format!("/admin/persons/{sub}");
    let person = Subject::lookup(&sub);
    if !user_account(&state, &person).await? {
        return Ok(back(
            &here,
            staff.lang,
            Err(staff.t().get("console.forbidden").into()),
        ));
    }
    if let Some(r) = confirmation(
        &staff,
        &form,
        &format!("{here}/upstream/unlink"),
        staff.t().get("console.confirm_unlink"),
        &here,
    ) {
        return Ok(r);
    }
    let upstream = form.get("upstream").unwrap_or("");
    let mut tx = state.storage.begin_write().await?;
    if let Some(l) = state
        .storage
        .delete_upstream_link(&mut tx, &person, upstream)
        .await?
    {
        state
            .audit
            .append(
                &mut tx,
                Record::new(Event::UpstreamUnlinked)
                    .actor(staff.account.sub.clone())
                    .subject(person)
                    .detail("upstream", l.upstream)
                    .detail("upstream_sub", l.upstream_sub)
                    .detail("by", "operator"),
            )
            .await?;
    }
    tx.commit().await.map_err(StorageError::from)?;
    Ok(back(&here, staff.lang, Ok("upstream_unlinked")))
}
