//! Console pages of operators about people: the search and a person's page. Their actions are
//! in `consents.rs`, `accounts.rs` and `statutory.rs`; organisations in `organisations.rs`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::{enc, messages, Block, Cell, Field, Form, Staff, Table};
use crate::app::AppState;
use crate::domain::account::{AccountStatus, Role};
use crate::domain::client::Application;
use crate::domain::id::Subject;
use crate::domain::organisation::Organisation;
use crate::domain::permission::Permission;
use crate::error::PageError;
use crate::http::see_other;
use crate::pages::i18n::Lang;
use crate::secrets::now;
use crate::web::format::datetime;

#[derive(serde::Deserialize)]
pub struct Q {
    pub(super) q: Option<String>,
    pub(super) notice: Option<String>,
    pub(super) error: Option<String>,
}

/// Back to `path` with a notice key or an error message.
pub(super) fn back(path: &str, lang: Lang, outcome: Result<&str, String>) -> Response {
    let extra = match outcome {
        Ok(notice) => format!("notice={notice}"),
        Err(e) => format!("error={}", enc(&e)),
    };
    see_other(&format!("{path}?lang={}&{extra}", lang.code()))
}

// ---------- people ----------

/// `GET /admin/persons?q=`
pub async fn persons(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<Q>,
) -> Result<Response, PageError> {
    staff.require(Permission::ReadRegister)?;
    let lang = staff.lang;
    let t = staff.t();
    let query = q.q.clone().unwrap_or_default();
    let rows = state.storage.search_persons(&query, 100, 0).await?;
    let mut blocks = messages(&staff, q.notice.as_deref(), q.error.as_deref());
    blocks.push(Block::Form(
        String::new(),
        Form::get(
            "/admin/persons",
            t.get("console.search"),
            vec![
                Field::input("q", t.get("console.person_query"), "text", false)
                    .with_value(query.clone()),
            ],
        ),
    ));
    blocks.push(Block::Table(Table {
        caption: t.get("console.persons").into(),
        headers: [
            "console.name",
            "login.username",
            "account.email",
            "account.mpsv_client_id",
            "console.status",
        ]
        .iter()
        .map(|k| t.get(k).to_owned())
        .collect(),
        rows: rows
            .into_iter()
            .map(|p| {
                vec![
                    Cell::Link(
                        format!("/admin/persons/{}?lang={}", p.sub, lang.code()),
                        format!("{} {}", p.given_name, p.family_name),
                    ),
                    Cell::Text(p.username.unwrap_or_else(|| "–".into())),
                    Cell::Text(p.email.unwrap_or_else(|| "–".into())),
                    Cell::Text(p.mpsv_client_id.unwrap_or_else(|| "–".into())),
                    Cell::Text(
                        p.status
                            .map(|s| t.get(&format!("console.status_{s}")).to_owned())
                            .unwrap_or_else(|| t.get("console.no_account").into()),
                    ),
                ]
            })
            .collect(),
        empty: t.get("console.nothing_found").into(),
    }));
    Ok(staff.page(
        StatusCode::OK,
        t.get("console.persons"),
        blocks,
        "/admin/persons",
    ))
}

/// `GET /admin/persons/{sub}`
pub async fn person(
    State(state): State<AppState>,
    staff: Staff,
    Path(sub): Path<String>,
    Query(q): Query<Q>,
) -> Result<Response, PageError> {
    staff.require(Permission::ReadRegister)?;
    let lang = staff.lang;
    let t = staff.t();
    let Some(p) = state.storage.person(&Subject::lookup(&sub)).await? else {
        return Err(PageError::not_found(lang));
    };
    let account = state.storage.account(&Subject::lookup(&sub)).await?;
    let here = format!("/admin/persons/{sub}");
    let mut blocks = messages(&staff, q.notice.as_deref(), q.error.as_deref());
    blocks.push(Block::Facts(vec![
        (t.get("console.name").into(), p.name()),
        (
            t.get("account.email").into(),
            p.email.clone().unwrap_or_else(|| "–".into()),
        ),
        (
            t.get("account.mpsv_client_id").into(),
            p.mpsv_client_id
                .as_ref()
                .map(|i| i.as_str().to_owned())
                .unwrap_or_else(|| "–".into()),
        ),
        (
            t.get("login.username").into(),
            account
                .as_ref()
                .map(|a| a.username.clone())
                .unwrap_or_else(|| t.get("console.no_account").into()),
        ),
        (
            t.get("console.status").into(),
            account
                .as_ref()
                .map(|a| {
                    t.get(&format!("console.status_{}", a.status.as_str()))
                        .to_owned()
                })
                .unwrap_or_else(|| "–".into()),
        ),
    ]));

    // Consents, with withdrawal.
    let orgs = organisations_by_id(&state).await?;
    let org_name = |id: &str| {
        orgs.iter()
            .find(|o| o.id == id)
            .map(|o| o.name.clone())
            .unwrap_or_default()
    };
    let consents = state.storage.consents_of(&Subject::lookup(&sub)).await?;
    blocks.push(Block::Heading(t.get("console.consents").into()));
    blocks.push(Block::Table(Table {
        caption: t.get("console.consents").into(),
        headers: [
            "console.organisation",
            "console.form",
            "console.signed",
            "console.received",
            "console.reference",
            "console.state",
            "account.session_action",
        ]
        .iter()
        .map(|k| t.get(k).to_owned())
        .collect(),
        rows: consents
            .iter()
            .map(|c| {
                vec![
                    Cell::Text(org_name(c.organisation_id.as_str())),
                    Cell::Text(t.get(&format!("app.{}", c.form)).to_owned()),
                    Cell::Text(c.signed_on.clone()),
                    Cell::Text(c.received_on.clone()),
                    Cell::Text(c.reference.clone()),
                    Cell::Text(if c.withdrawn_at.is_some() {
                        t.get("console.withdrawn").into()
                    } else {
                        t.get("console.active").into()
                    }),
                    if c.withdrawn_at.is_none() && staff.account.role == Role::Operator {
                        Cell::Action(Form::button(
                            format!("/admin/consents/{}/withdraw", c.id),
                            t.get("console.withdraw"),
                            format!(
                                "{}: {}",
                                t.get("console.withdraw"),
                                org_name(c.organisation_id.as_str())
                            ),
                            vec![
                                Field::hidden("person", sub.clone()),
                                Field::hidden("reason", "odvolání souhlasu"),
                            ],
                        ))
                    } else {
                        Cell::Text(String::new())
                    },
                ]
            })
            .collect(),
        empty: t.get("console.no_consents").into(),
    }));
    let active_orgs: Vec<(String, String, bool)> = {
        let mut v: Vec<(String, String, bool)> = Vec::new();
        for c in consents.iter().filter(|c| c.withdrawn_at.is_none()) {
            if !v.iter().any(|(id, _, _)| c.organisation_id == *id) {
                v.push((
                    c.organisation_id.clone().into(),
                    org_name(c.organisation_id.as_str()),
                    v.is_empty(),
                ));
            }
        }
        v
    };
    blocks.push(Block::Form(
        t.get("console.record_consent").into(),
        Form::post(
            "/admin/consents",
            t.get("console.record"),
            consent_fields(&staff, &orgs, Some(&sub)),
        ),
    ));

    // Account: create with a letter, or re-issue the letter; status.
    match &account {
        None if !active_orgs.is_empty() => blocks.push(Block::Form(
            t.get("console.create_account").into(),
            Form::post(
                format!("{here}/account"),
                t.get("console.create_account_submit"),
                vec![
                    Field::select(
                        "organisation",
                        t.get("console.letter_to"),
                        active_orgs.clone(),
                    ),
                    Field::input("username", t.get("login.username"), "text", false)
                        .with_hint(t.get("console.username_hint")),
                ],
            ),
        )),
        None => blocks.push(Block::Text(t.get("console.no_consent_no_account").into())),
        Some(a) if a.role == Role::User && !active_orgs.is_empty() => {
            blocks.push(Block::Form(
                t.get("console.reissue_letter").into(),
                Form::post(
                    format!("{here}/letter"),
                    t.get("console.reissue_submit"),
                    vec![Field::select(
                        "organisation",
                        t.get("console.letter_to"),
                        active_orgs.clone(),
                    )],
                ),
            ));
        }
        Some(_) => {}
    }
    if let Some(a) = account.as_ref().filter(|a| a.role == Role::User) {
        blocks.push(Block::Heading(t.get("console.account_status").into()));
        let mut actions = Vec::new();
        for (action, key) in match a.status {
            AccountStatus::Active => vec![("lock", "console.lock"), ("disable", "console.disable")],
            AccountStatus::Locked => {
                vec![("unlock", "console.unlock"), ("disable", "console.disable")]
            }
            AccountStatus::Disabled => vec![("enable", "console.enable")],
        } {
            actions.push(Cell::Action(Form::button(
                format!("{here}/status"),
                t.get(key),
                String::new(),
                vec![Field::hidden("action", action)],
            )));
        }
        actions.push(Cell::Action(Form::button(
            format!("{here}/sessions/end"),
            t.get("console.end_sessions"),
            String::new(),
            vec![],
        )));
        blocks.push(Block::Table(Table {
            caption: t.get("console.account_status").into(),
            headers: vec![t.get("account.session_action").into(); actions.len()],
            rows: vec![actions],
            empty: String::new(),
        }));
        // Second factors: what the person has, and the reset for one who lost them.
        blocks.push(Block::Heading(t.get("account.second_factor").into()));
        blocks.push(Block::Text(format!(
            "{}: {}; {}: {}",
            t.get("console.totp"),
            t.get(if a.totp_secret.is_some() {
                "console.yes"
            } else {
                "console.no"
            }),
            t.get("passkey.heading"),
            a.passkeys
        )));
        // National identity: links, their removal, and linking by a code.
        if !state.upstreams.all().is_empty() {
            blocks.push(Block::Heading(t.get("console.upstream").into()));
            let links = state.storage.upstream_links_of(&a.sub).await?;
            if links.is_empty() {
                blocks.push(Block::Text(t.get("console.upstream_none").into()));
            }
            for l in links {
                let name = state
                    .upstreams
                    .get(&l.upstream)
                    .map(|u| u.config.name.clone())
                    .unwrap_or_else(|| l.upstream.clone());
                blocks.push(Block::Text(format!(
                    "{}: {name} ({})",
                    t.get("console.upstream_linked"),
                    datetime(l.linked_at, lang)
                )));
                blocks.push(Block::Form(
                    String::new(),
                    Form::post(
                        format!("{here}/upstream/unlink"),
                        format!("{} – {name}", t.get("console.upstream_unlink")),
                        vec![Field::hidden("upstream", &l.upstream)],
                    ),
                ));
            }
            blocks.push(Block::Form(
                t.get("console.upstream_link").into(),
                Form::post(
                    format!("{here}/upstream/link"),
                    t.get("console.upstream_link_submit"),
                    vec![Field::input(
                        "code",
                        t.get("console.upstream_code"),
                        "text",
                        true,
                    )],
                ),
            ));
        }
        if a.has_second_factor() {
            blocks.push(Block::Text(t.get("console.reset_factors_hint").into()));
            blocks.push(Block::Form(
                t.get("console.reset_factors").into(),
                Form::post(
                    format!("{here}/second-factors/reset"),
                    t.get("console.reset_factors_submit"),
                    vec![],
                ),
            ));
        }
    }

    // Sessions (of clients' accounts only: staff are not the operators' business).
    if account.as_ref().is_some_and(|a| a.role == Role::User) {
        let sessions = state.storage.sessions_of(&Subject::lookup(&sub)).await?;
        blocks.push(Block::Heading(t.get("account.sessions").into()));
        blocks.push(Block::Table(Table {
            caption: t.get("account.sessions").into(),
            headers: [
                "account.session_started",
                "account.session_seen",
                "account.session_device",
            ]
            .iter()
            .map(|k| t.get(k).to_owned())
            .collect(),
            rows: sessions
                .into_iter()
                .map(|s| {
                    vec![
                        Cell::Text(datetime(s.created_at, lang)),
                        Cell::Text(datetime(s.last_seen_at, lang)),
                        Cell::Text(format!(
                            "{}, {}",
                            s.user_agent
                                .as_deref()
                                .map(crate::web::format::user_agent)
                                .unwrap_or_else(|| "?".into()),
                            s.ip.as_deref().unwrap_or("?")
                        )),
                    ]
                })
                .collect(),
            empty: t.get("console.no_sessions").into(),
        }));
    }

    // Statutory roles.
    let roles = state
        .storage
        .statutory_roles(None, Some(&Subject::lookup(&sub)), now())
        .await?;
    blocks.push(Block::Heading(t.get("console.statutory_roles").into()));
    blocks.push(Block::Table(Table {
        caption: t.get("console.statutory_roles").into(),
        headers: [
            "console.organisation",
            "console.since",
            "console.until",
            "account.session_action",
        ]
        .iter()
        .map(|k| t.get(k).to_owned())
        .collect(),
        rows: roles
            .iter()
            .map(|r| {
                vec![
                    Cell::Text(org_name(r.organisation_id.as_str())),
                    Cell::Text(datetime(r.from_at, lang)),
                    Cell::Text(
                        r.until_at
                            .map(|u| datetime(u, lang))
                            .unwrap_or_else(|| "–".into()),
                    ),
                    Cell::Action(Form::button(
                        format!("{here}/statutory/end"),
                        t.get("console.end_role"),
                        format!(
                            "{}: {}",
                            t.get("console.end_role"),
                            org_name(r.organisation_id.as_str())
                        ),
                        vec![Field::hidden("organisation", r.organisation_id.clone())],
                    )),
                ]
            })
            .collect(),
        empty: t.get("console.no_roles").into(),
    }));
    if !active_orgs.is_empty() {
        blocks.push(Block::Form(
            t.get("console.start_role").into(),
            Form::post(
                format!("{here}/statutory/start"),
                t.get("console.start_role_submit"),
                vec![Field::select(
                    "organisation",
                    t.get("console.organisation"),
                    active_orgs,
                )],
            ),
        ));
    }
    Ok(staff.page(StatusCode::OK, &p.name(), blocks, &here))
}

async fn organisations_by_id(state: &AppState) -> Result<Vec<Organisation>, PageError> {
    Ok(state.storage.search_organisations("", 10_000).await?)
}

/// The fields of a consent: organisation (fixed or chosen), form, dates, reference; names for
/// a new person when `person` is `None`.
pub(super) fn consent_fields(
    staff: &Staff,
    orgs: &[Organisation],
    person: Option<&str>,
) -> Vec<Field> {
    let t = staff.t();
    let mut f = Vec::new();
    match person {
        Some(sub) => f.push(Field::hidden("person", sub)),
        None => {
            f.push(Field::input(
                "given_name",
                t.get("console.given_name"),
                "text",
                true,
            ));
            f.push(Field::input(
                "family_name",
                t.get("console.family_name"),
                "text",
                true,
            ));
            f.push(Field::input(
                "email",
                t.get("account.email"),
                "email",
                false,
            ));
        }
    }
    if orgs.len() == 1 {
        f.push(Field::hidden("organisation", orgs[0].id.clone()));
    } else {
        f.push(Field::select(
            "organisation",
            t.get("console.organisation"),
            orgs.iter()
                .map(|o| {
                    (
                        o.id.to_string(),
                        format!("{} (IČO {})", o.name, o.ico.as_str()),
                        false,
                    )
                })
                .collect(),
        ));
    }
    f.push(Field::select(
        "form",
        t.get("console.form"),
        vec![
            (
                "poskytovatel".into(),
                Application::Poskytovatel.name().into(),
                true,
            ),
            ("rodina".into(), Application::Rodina.name().into(), false),
        ],
    ));
    f.push(Field::input(
        "signed_on",
        t.get("console.signed"),
        "date",
        true,
    ));
    f.push(Field::input(
        "received_on",
        t.get("console.received"),
        "date",
        true,
    ));
    f.push(Field::input(
        "reference",
        t.get("console.reference"),
        "text",
        true,
    ));
    f
}
