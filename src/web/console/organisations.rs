//! Console pages of operators about organisations: search, registration, members and
//! representatives, delegations on the organisation's behalf, consents.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::people::{back, consent_fields, Q};
use super::{confirmation, messages, refusal, Block, Cell, Field, Form, Staff, StaffForm, Table};
use crate::app::AppState;
use crate::domain::account::Role;
use crate::domain::id::OrganisationId;
use crate::domain::id::Subject;
use crate::domain::organisation::{Ico, Organisation, OrganisationKind, Seat};
use crate::domain::permission::Permission;
use crate::error::PageError;
use crate::registry;
use crate::secrets::now;
use crate::web::extract::CsrfForm;
use crate::web::format::datetime;

/// `GET /admin/organisations?q=`
pub async fn organisations(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<Q>,
) -> Result<Response, PageError> {
    staff.require(Permission::ReadRegister)?;
    let lang = staff.lang;
    let t = staff.t();
    let query = q.q.clone().unwrap_or_default();
    let rows = state.storage.search_organisations(&query, 200).await?;
    let yes_no = |b: bool| {
        t.get(if b { "console.yes" } else { "console.no" })
            .to_owned()
    };
    let mut blocks = messages(&staff, q.notice.as_deref(), q.error.as_deref());
    blocks.push(Block::Form(
        String::new(),
        Form::get(
            "/admin/organisations",
            t.get("console.search"),
            vec![
                Field::input("q", t.get("console.organisation_query"), "text", false)
                    .with_value(query),
            ],
        ),
    ));
    blocks.push(Block::Table(Table {
        caption: t.get("console.organisations").into(),
        headers: [
            "console.organisation",
            "organisation.ico",
            "console.city",
            "console.provider",
            "console.nno",
        ]
        .iter()
        .map(|k| t.get(k).to_owned())
        .collect(),
        rows: rows
            .into_iter()
            .map(|o| {
                vec![
                    Cell::Link(
                        format!("/admin/organisations/{}?lang={}", o.id, lang.code()),
                        o.name.clone(),
                    ),
                    Cell::Text(o.ico.as_str().to_owned()),
                    Cell::Text(o.seat.city.clone()),
                    Cell::Text(yes_no(o.kind.social_service_provider)),
                    Cell::Text(yes_no(o.kind.nno_family_support)),
                ]
            })
            .collect(),
        empty: t.get("console.nothing_found").into(),
    }));
    if staff.account.role == Role::Operator {
        blocks.push(Block::Form(
            t.get("console.new_organisation").into(),
            Form::post(
                "/admin/organisations",
                t.get("console.create"),
                vec![
                    Field::input("ico", t.get("organisation.ico"), "text", true),
                    Field::input("name", t.get("console.organisation"), "text", true),
                    Field::input("legal_form", t.get("console.legal_form"), "text", true),
                    Field::input("street", t.get("console.street"), "text", true),
                    Field::input("city", t.get("console.city"), "text", true),
                    Field::input("postcode", t.get("console.postcode"), "text", true),
                    Field::check("social_service_provider", t.get("console.provider"), false),
                    Field::check("nno_family_support", t.get("console.nno"), false),
                ],
            ),
        ));
    }
    Ok(staff.page(
        StatusCode::OK,
        t.get("console.organisations"),
        blocks,
        "/admin/organisations",
    ))
}

/// `POST /admin/organisations`
pub async fn create_organisation(
    State(state): State<AppState>,
    CsrfForm {
        who: staff, form, ..
    }: StaffForm,
) -> Result<Response, PageError> {
    staff.require(Permission::ManageOrganisations)?;
    let g = |k: &str| form.get(k).unwrap_or("").to_owned();
    let result = async {
        let o = Organisation::new(
            Ico::parse(&g("ico"))?,
            &g("name"),
            &g("legal_form"),
            Seat::parse(&g("street"), &g("city"), &g("postcode"))?,
            OrganisationKind {
                social_service_provider: form.get("social_service_provider").is_some(),
                nno_family_support: form.get("nno_family_support").is_some(),
            },
        )?;
        registry::organisations::create(&state, staff.actor(), &o).await?;
        Ok::<_, registry::RegistryError>(o.id)
    }
    .await;
    match result {
        Ok(id) => Ok(back(
            &format!("/admin/organisations/{id}"),
            staff.lang,
            Ok("created"),
        )),
        Err(e) => Ok(back("/admin/organisations", staff.lang, Err(refusal(e)?))),
    }
}

/// `GET /admin/organisations/{id}`
pub async fn organisation(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Query(q): Query<Q>,
) -> Result<Response, PageError> {
    staff.require(Permission::ReadRegister)?;
    let lang = staff.lang;
    let t = staff.t();
    let Some(o) = state
        .storage
        .organisation(&OrganisationId::lookup(&id))
        .await?
    else {
        return Err(PageError::not_found(lang));
    };
    let here = format!("/admin/organisations/{id}");
    let yes_no = |b: bool| {
        t.get(if b { "console.yes" } else { "console.no" })
            .to_owned()
    };
    let mut blocks = messages(&staff, q.notice.as_deref(), q.error.as_deref());
    blocks.push(Block::Facts(vec![
        (t.get("organisation.ico").into(), o.ico.as_str().to_owned()),
        (t.get("console.legal_form").into(), o.legal_form.clone()),
        (
            t.get("console.seat").into(),
            format!("{}, {} {}", o.seat.street, o.seat.postcode, o.seat.city),
        ),
        (
            t.get("console.provider").into(),
            yes_no(o.kind.social_service_provider),
        ),
        (
            t.get("console.nno").into(),
            yes_no(o.kind.nno_family_support),
        ),
    ]));
    let t_now = now();
    let statutory = state
        .storage
        .statutory_roles(Some(&OrganisationId::lookup(&id)), None, t_now)
        .await?;
    let members = state.storage.members(&OrganisationId::lookup(&id)).await?;
    let is_statutory = |sub: &Subject| {
        statutory
            .iter()
            .any(|r| r.person_sub == sub && r.from_at <= t_now)
    };
    blocks.push(Block::Heading(t.get("console.members").into()));
    blocks.push(Block::Table(Table {
        caption: t.get("console.members").into(),
        headers: ["console.name", "login.username", "account.org_role"]
            .iter()
            .map(|k| t.get(k).to_owned())
            .collect(),
        rows: members
            .iter()
            .map(|m| {
                vec![
                    Cell::Link(
                        format!("/admin/persons/{}?lang={}", m.sub, lang.code()),
                        format!("{} {}", m.given_name, m.family_name),
                    ),
                    Cell::Text(
                        m.username
                            .clone()
                            .unwrap_or_else(|| t.get("console.no_account").into()),
                    ),
                    Cell::Text(
                        t.get(if is_statutory(&m.sub) {
                            "account.statutory"
                        } else {
                            "account.member"
                        })
                        .into(),
                    ),
                ]
            })
            .collect(),
        empty: t.get("console.no_members").into(),
    }));
    let delegations = state
        .storage
        .delegations(&OrganisationId::lookup(&id))
        .await?;
    blocks.push(Block::Heading(t.get("delegations.title").into()));
    blocks.push(Block::Table(Table {
        caption: t.get("delegations.title").into(),
        headers: [
            "delegations.delegate",
            "delegations.granted_by",
            "delegations.since",
            "account.session_action",
        ]
        .iter()
        .map(|k| t.get(k).to_owned())
        .collect(),
        rows: delegations
            .iter()
            .map(|d| {
                vec![
                    Cell::Text(d.delegate_name.clone()),
                    Cell::Text(d.delegator_name.clone()),
                    Cell::Text(datetime(d.created_at, lang)),
                    Cell::Action(Form::button(
                        format!("{here}/delegations/{}/revoke", d.id),
                        t.get("delegations.revoke"),
                        format!("{}: {}", t.get("delegations.revoke"), d.delegate_name),
                        vec![],
                    )),
                ]
            })
            .collect(),
        empty: t.get("delegations.none").into(),
    }));
    let reps: Vec<(String, String, bool)> = members
        .iter()
        .filter(|m| is_statutory(&m.sub))
        .map(|m| {
            (
                m.sub.to_string(),
                format!("{} {}", m.given_name, m.family_name),
                false,
            )
        })
        .collect();
    let others: Vec<(String, String, bool)> = members
        .iter()
        .filter(|m| !is_statutory(&m.sub))
        .map(|m| {
            (
                m.sub.to_string(),
                format!("{} {}", m.given_name, m.family_name),
                false,
            )
        })
        .collect();
    if !reps.is_empty() && !others.is_empty() {
        blocks.push(Block::Form(
            t.get("console.grant_delegation").into(),
            Form::post(
                format!("{here}/delegations"),
                t.get("delegations.grant"),
                vec![
                    Field::select("delegator", t.get("console.delegator"), reps),
                    Field::select("delegate", t.get("delegations.delegate"), others),
                ],
            ),
        ));
    }
    let consents = state
        .storage
        .consents_for_organisation(&OrganisationId::lookup(&id))
        .await?;
    blocks.push(Block::Heading(t.get("console.consents").into()));
    blocks.push(Block::Table(Table {
        caption: t.get("console.consents").into(),
        headers: [
            "console.name",
            "console.form",
            "console.received",
            "console.reference",
            "console.state",
        ]
        .iter()
        .map(|k| t.get(k).to_owned())
        .collect(),
        rows: consents
            .into_iter()
            .map(|(c, name)| {
                vec![
                    Cell::Link(
                        format!("/admin/persons/{}?lang={}", c.person_sub, lang.code()),
                        name,
                    ),
                    Cell::Text(t.get(&format!("app.{}", c.form)).to_owned()),
                    Cell::Text(c.received_on),
                    Cell::Text(c.reference),
                    Cell::Text(if c.withdrawn_at.is_some() {
                        t.get("console.withdrawn").into()
                    } else {
                        t.get("console.active").into()
                    }),
                ]
            })
            .collect(),
        empty: t.get("console.no_consents").into(),
    }));
    blocks.push(Block::Form(
        t.get("console.record_consent_new").into(),
        Form::post(
            "/admin/consents",
            t.get("console.record"),
            consent_fields(&staff, std::slice::from_ref(&o), None),
        ),
    ));
    Ok(staff.page(StatusCode::OK, &o.name, blocks, &here))
}

/// `POST /admin/organisations/{id}/delegations`: on the organisation's behalf.
pub async fn grant_delegation(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm {
        who: staff, form, ..
    }: StaffForm,
) -> Result<Response, PageError> {
    staff.require(Permission::ManageDelegations)?;
    let here = format!("/admin/organisations/{id}");
    let r = registry::delegations::grant(
        &state,
        staff.actor(),
        &OrganisationId::lookup(&id),
        &Subject::lookup(form.get("delegator").unwrap_or("")),
        &Subject::lookup(form.get("delegate").unwrap_or("")),
    )
    .await;
    match r {
        Ok(_) => Ok(back(&here, staff.lang, Ok("delegated"))),
        Err(e) => Ok(back(&here, staff.lang, Err(refusal(e)?))),
    }
}

/// `POST /admin/organisations/{id}/delegations/{d}/revoke` (confirmed)
pub async fn revoke_delegation(
    State(state): State<AppState>,
    Path((id, delegation)): Path<(String, String)>,
    CsrfForm {
        who: staff, form, ..
    }: StaffForm,
) -> Result<Response, PageError> {
    staff.require(Permission::ManageDelegations)?;
    let here = format!("/admin/organisations/{id}");
    if let Some(r) = confirmation(
        &staff,
        &form,
        &format!("{here}/delegations/{delegation}/revoke"),
        staff.t().get("console.confirm_revoke"),
        &here,
    ) {
        return Ok(r);
    }
    match registry::delegations::revoke(
        &state,
        staff.actor(),
        &OrganisationId::lookup(&id),
        &delegation,
        "revoked by an operator",
    )
    .await
    {
        Ok(()) => Ok(back(&here, staff.lang, Ok("revoked"))),
        Err(e) => Ok(back(&here, staff.lang, Err(refusal(e)?))),
    }
}
