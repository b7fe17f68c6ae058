//! `/account/delegations`: a statutory representative, signed in, delegates *submit* to
//! colleagues of the same organisation or revokes a delegation (MPSV rule 4). The rules and
//! the audit are in `registry::delegations`; this page only shows and asks.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::extract::{CsrfForm, SsoSession};
use super::format::datetime;
use crate::app::AppState;
use crate::domain::id::OrganisationId;
use crate::domain::id::Subject;
use crate::error::PageError;
use crate::http::see_other;
use crate::pages::i18n::{Lang, Texts};
use crate::pages::{html, Chrome};
use crate::registry::{self, RegistryError};
use crate::secrets::now;
use crate::storage::sessions::Session;

#[derive(serde::Deserialize)]
pub struct Q {
    notice: Option<String>,
    error: Option<String>,
}

struct Row {
    id: String,
    delegate: String,
    delegator: String,
    since: String,
}

struct Candidate {
    sub: String,
    label: String,
}

struct OrganisationBlock {
    id: String,
    name: String,
    ico: String,
    delegations: Vec<Row>,
    candidates: Vec<Candidate>,
}

#[derive(Template)]
#[template(path = "delegations.html")]
struct DelegationsPage<'a> {
    c: Chrome,
    t: &'static Texts,
    notice: &'a str,
    error: &'a str,
    organisations: Vec<OrganisationBlock>,
    csrf: &'a str,
}

/// `GET /account/delegations`
pub async fn show(
    State(state): State<AppState>,
    SsoSession {
        session,
        account,
        lang,
    }: SsoSession,
    Query(q): Query<Q>,
) -> Result<Response, PageError> {
    let notice = match q.notice.as_deref() {
        Some("granted") => "delegations.notice_granted",
        Some("revoked") => "delegations.notice_revoked",
        _ => "",
    };
    let error = match q.error.as_deref() {
        Some("exists") => "delegations.error_exists",
        Some("refused") => "delegations.error_refused",
        _ => "",
    };
    render(&state, &session, &account.sub, lang, notice, error).await
}

async fn render(
    state: &AppState,
    session: &Session,
    sub: &Subject,
    lang: Lang,
    notice: &str,
    error: &str,
) -> Result<Response, PageError> {
    let t = now();
    let mut organisations = Vec::new();
    for a in state.storage.affiliations(sub, t).await? {
        if !a.statutory {
            continue;
        }
        let org = a.organisation;
        let delegations = state.storage.delegations(&org.id).await?;
        let statutory = state
            .storage
            .statutory_roles(Some(&org.id), None, t)
            .await?;
        let candidates = state
            .storage
            .members(&org.id)
            .await?
            .into_iter()
            .filter(|m| m.sub != sub && m.username.is_some())
            // Representatives may submit already.
            .filter(|m| {
                !statutory
                    .iter()
                    .any(|r| r.person_sub == m.sub && r.from_at <= t)
            })
            .filter(|m| {
                !delegations
                    .iter()
                    .any(|d| d.delegate_sub == m.sub && d.delegator_sub == sub)
            })
            .map(|m| Candidate {
                label: format!(
                    "{} {} ({})",
                    m.given_name,
                    m.family_name,
                    m.username.as_deref().unwrap_or("")
                ),
                sub: m.sub.into(),
            })
            .collect();
        organisations.push(OrganisationBlock {
            delegations: delegations
                .into_iter()
                .map(|d| Row {
                    id: d.id,
                    delegate: d.delegate_name,
                    delegator: d.delegator_name,
                    since: datetime(d.created_at, lang),
                })
                .collect(),
            candidates,
            id: org.id.into(),
            name: org.name,
            ico: org.ico.as_str().to_owned(),
        });
    }
    let page = DelegationsPage {
        c: Chrome::new(
            lang,
            format!("/account/delegations?lang={}", lang.other().code()),
        ),
        t: lang.texts(),
        notice,
        error,
        organisations,
        csrf: &session.csrf,
    };
    Ok(html(StatusCode::OK, page.render()))
}

/// `POST /account/delegations`: `action=grant` with `delegate`, or `action=revoke` with
/// `delegation`; always for one `organisation` the person represents now.
pub async fn submit(
    State(state): State<AppState>,
    CsrfForm {
        who: SsoSession {
            session: _,
            account,
            ..
        },
        form,
        lang,
    }: CsrfForm<SsoSession>,
) -> Result<Response, PageError> {
    let org = &OrganisationId::lookup(form.get("organisation").unwrap_or(""));
    let back = |what: &str| see_other(&format!("/account/delegations?lang={}&{what}", lang.code()));
    // Only a current representative acts for the organisation here (the delegator of a
    // grant is always the person themself; revoking covers any of the organisation's).
    let represents = state
        .storage
        .affiliation(&account.sub, org, now())
        .await?
        .is_some_and(|a| a.statutory);
    if !represents {
        return Ok(back("error=refused"));
    }
    let result = match form.get("action") {
        Some("grant") => registry::delegations::grant(
            &state,
            account.sub.as_str(),
            org,
            &account.sub,
            &Subject::lookup(form.get("delegate").unwrap_or("")),
        )
        .await
        .map(|_| "notice=granted"),
        Some("revoke") => registry::delegations::revoke(
            &state,
            account.sub.as_str(),
            org,
            form.get("delegation").unwrap_or(""),
            "revoked by a statutory representative",
        )
        .await
        .map(|_| "notice=revoked"),
        _ => Err(RegistryError::Invalid("unknown action".into())),
    };
    match result {
        Ok(notice) => Ok(back(notice)),
        Err(RegistryError::Conflict(_)) => Ok(back("error=exists")),
        Err(RegistryError::Internal(e)) => Err(PageError::Internal(e)),
        Err(_) => Ok(back("error=refused")),
    }
}
