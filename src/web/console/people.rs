//! Console pages of operators about people: search, consents, accounts and letters, account
//! status and sessions, statutory roles. Organisations are in `organisations.rs`.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{
    confirmation, enc, messages, refusal, Block, Cell, Field, Form, Staff, StaffForm, Table,
};
use crate::app::AppState;
use crate::domain::account::{AccountStatus, Role, Username};
use crate::domain::client::Application;
use crate::domain::date::Date;
use crate::domain::organisation::Organisation;
use crate::domain::permission::Permission;
use crate::domain::person::{ConsentForm, Person};
use crate::error::PageError;
use crate::http::see_other;
use crate::pages::i18n::Lang;
use crate::registry::{self, consents::Subject};
use crate::secrets::now;
use crate::web::extract::CsrfForm;
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
    let Some(p) = state.storage.person(&sub).await? else {
        return Err(PageError::not_found(lang));
    };
    let account = state.storage.account(&sub).await?;
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
    let consents = state.storage.consents_of(&sub).await?;
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
                    Cell::Text(org_name(&c.organisation_id)),
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
                                org_name(&c.organisation_id)
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
            if !v.iter().any(|(id, _, _)| *id == c.organisation_id) {
                v.push((
                    c.organisation_id.clone(),
                    org_name(&c.organisation_id),
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
    }

    // Sessions (of clients' accounts only: staff are not the operators' business).
    if account.as_ref().is_some_and(|a| a.role == Role::User) {
        let sessions = state.storage.sessions_of(&sub).await?;
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
        .statutory_roles(None, Some(&sub), now())
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
                    Cell::Text(org_name(&r.organisation_id)),
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
                            org_name(&r.organisation_id)
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
                        o.id.clone(),
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

/// `POST /admin/consents`: for an existing person (`person`) or a new one (names).
pub async fn record_consent(
    State(state): State<AppState>,
    CsrfForm {
        who: staff, form, ..
    }: StaffForm,
) -> Result<Response, PageError> {
    staff.require(Permission::ManageConsentsAndAccounts)?;
    let g = |k: &str| form.get(k).unwrap_or("").to_owned();
    let org = g("organisation");
    let return_to = match form.get("person") {
        Some(sub) => format!("/admin/persons/{sub}"),
        None => format!("/admin/organisations/{org}"),
    };
    let result = async {
        let app: Application = g("form")
            .parse()
            .map_err(|_| registry::RegistryError::Invalid("form: poskytovatel or rodina".into()))?;
        let paper = ConsentForm::new(
            Date::parse(&g("signed_on"))?,
            Date::parse(&g("received_on"))?,
            &g("reference"),
        )?;
        let new_person;
        let subject = match form.get("person") {
            Some(sub) => Subject::Existing(sub),
            None => {
                new_person = Person::new(&g("given_name"), &g("family_name"), form.get("email"))?;
                Subject::New(&new_person)
            }
        };
        registry::consents::record(&state, staff.actor(), subject, &org, app, &paper).await
    }
    .await;
    match result {
        Ok(r) => Ok(back(
            &format!("/admin/persons/{}", r.person_sub),
            staff.lang,
            Ok("consent"),
        )),
        Err(e) => Ok(back(&return_to, staff.lang, Err(refusal(e)?))),
    }
}

/// `POST /admin/consents/{id}/withdraw` (confirmed)
pub async fn withdraw_consent(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm {
        who: staff, form, ..
    }: StaffForm,
) -> Result<Response, PageError> {
    staff.require(Permission::ManageConsentsAndAccounts)?;
    let person = form.get("person").unwrap_or("").to_owned();
    let here = format!("/admin/persons/{person}");
    if let Some(r) = confirmation(
        &staff,
        &form,
        &format!("/admin/consents/{id}/withdraw"),
        staff.t().get("console.confirm_withdraw"),
        &here,
    ) {
        return Ok(r);
    }
    let reason = form.get("reason").unwrap_or("withdrawn");
    match registry::consents::withdraw(&state, staff.actor(), &id, reason).await {
        Ok(()) => Ok(back(&here, staff.lang, Ok("withdrawn"))),
        Err(e) => Ok(back(&here, staff.lang, Err(refusal(e)?))),
    }
}

fn pdf(l: registry::accounts::IssuedLetter) -> Response {
    let mut r = (StatusCode::OK, l.pdf).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"dopis-{}.pdf\"",
        l.username
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// `POST /admin/persons/{sub}/account`: the account, and its letter downloaded at once.
pub async fn create_account(
    State(state): State<AppState>,
    Path(sub): Path<String>,
    CsrfForm {
        who: staff, form, ..
    }: StaffForm,
) -> Result<Response, PageError> {
    staff.require(Permission::ManageConsentsAndAccounts)?;
    let here = format!("/admin/persons/{sub}");
    let result = async {
        let username = form.get("username").map(Username::parse).transpose()?;
        registry::accounts::create(
            &state,
            staff.actor(),
            &sub,
            form.get("organisation").unwrap_or(""),
            username,
        )
        .await
    }
    .await;
    match result {
        Ok(l) => Ok(pdf(l)),
        Err(e) => Ok(back(&here, staff.lang, Err(refusal(e)?))),
    }
}

/// `POST /admin/persons/{sub}/letter` (confirmed): a new initial password and its letter.
pub async fn reissue_letter(
    State(state): State<AppState>,
    Path(sub): Path<String>,
    CsrfForm {
        who: staff, form, ..
    }: StaffForm,
) -> Result<Response, PageError> {
    staff.require(Permission::ManageConsentsAndAccounts)?;
    let here = format!("/admin/persons/{sub}");
    if let Some(r) = guard_user_account(&state, &staff, &sub).await? {
        return Ok(r);
    }
    if let Some(r) = confirmation(
        &staff,
        &form,
        &format!("{here}/letter"),
        staff.t().get("console.confirm_reissue"),
        &here,
    ) {
        return Ok(r);
    }
    match registry::accounts::reissue_letter(
        &state,
        staff.actor(),
        &sub,
        form.get("organisation").unwrap_or(""),
    )
    .await
    {
        Ok(l) => Ok(pdf(l)),
        Err(e) => Ok(back(&here, staff.lang, Err(refusal(e)?))),
    }
}

/// Operators manage clients' accounts only, never staff ones.
async fn guard_user_account(
    state: &AppState,
    staff: &Staff,
    sub: &str,
) -> Result<Option<Response>, PageError> {
    Ok(match state.storage.account(sub).await? {
        Some(a) if a.role != Role::User => Some(crate::pages::error_page(
            StatusCode::FORBIDDEN,
            "console.forbidden",
            "",
            staff.lang,
        )),
        _ => None,
    })
}

/// `POST /admin/persons/{sub}/status` (lock and disable confirmed)
pub async fn change_status(
    State(state): State<AppState>,
    Path(sub): Path<String>,
    CsrfForm {
        who: staff, form, ..
    }: StaffForm,
) -> Result<Response, PageError> {
    staff.require(Permission::ManageAccountStatus)?;
    let here = format!("/admin/persons/{sub}");
    if let Some(r) = guard_user_account(&state, &staff, &sub).await? {
        return Ok(r);
    }
    let action: registry::accounts::StatusAction = match form.get("action").unwrap_or("").parse() {
        Ok(a) => a,
        Err(e) => return Ok(back(&here, staff.lang, Err(refusal(e)?))),
    };
    if matches!(
        action,
        registry::accounts::StatusAction::Lock | registry::accounts::StatusAction::Disable
    ) {
        if let Some(r) = confirmation(
            &staff,
            &form,
            &format!("{here}/status"),
            staff.t().get("console.confirm_status"),
            &here,
        ) {
            return Ok(r);
        }
    }
    if let Err(e) = registry::accounts::set_status(&state, staff.actor(), &sub, action, "").await {
        return Ok(back(&here, staff.lang, Err(refusal(e)?)));
    }
    Ok(back(&here, staff.lang, Ok("status")))
}

/// `POST /admin/persons/{sub}/sessions/end` (confirmed): sign out everywhere.
pub async fn end_sessions(
    State(state): State<AppState>,
    Path(sub): Path<String>,
    CsrfForm {
        who: staff, form, ..
    }: StaffForm,
) -> Result<Response, PageError> {
    staff.require(Permission::ManageAccountStatus)?;
    let here = format!("/admin/persons/{sub}");
    if let Some(r) = guard_user_account(&state, &staff, &sub).await? {
        return Ok(r);
    }
    if let Some(r) = confirmation(
        &staff,
        &form,
        &format!("{here}/sessions/end"),
        staff.t().get("console.confirm_sessions"),
        &here,
    ) {
        return Ok(r);
    }
    if let Err(e) = registry::accounts::end_sessions(&state, staff.actor(), &sub).await {
        return Ok(back(&here, staff.lang, Err(refusal(e)?)));
    }
    Ok(back(&here, staff.lang, Ok("sessions")))
}

/// `POST /admin/persons/{sub}/statutory/start`
pub async fn start_role(
    State(state): State<AppState>,
    Path(sub): Path<String>,
    CsrfForm {
        who: staff, form, ..
    }: StaffForm,
) -> Result<Response, PageError> {
    staff.require(Permission::ManageStatutoryRoles)?;
    let here = format!("/admin/persons/{sub}");
    match registry::statutory::start(
        &state,
        staff.actor(),
        &sub,
        form.get("organisation").unwrap_or(""),
        now(),
    )
    .await
    {
        Ok(_) => Ok(back(&here, staff.lang, Ok("role_started"))),
        Err(e) => Ok(back(&here, staff.lang, Err(refusal(e)?))),
    }
}

/// `POST /admin/persons/{sub}/statutory/end` (confirmed, with the date and the reason)
pub async fn end_role(
    State(state): State<AppState>,
    Path(sub): Path<String>,
    CsrfForm {
        who: staff, form, ..
    }: StaffForm,
) -> Result<Response, PageError> {
    staff.require(Permission::ManageStatutoryRoles)?;
    let here = format!("/admin/persons/{sub}");
    let t = staff.t();
    if form.get("confirm") != Some("yes") {
        // The confirmation page asks for the reason and, optionally, a later date.
        let org = form.get("organisation").unwrap_or("").to_owned();
        // Say whose role, in which organisation, before asking.
        let person_name = state.storage.person(&sub).await?.map(|p| p.name());
        let org_name = state.storage.organisation(&org).await?.map(|o| o.name);
        let (Some(person_name), Some(org_name)) = (person_name, org_name) else {
            return Err(PageError::not_found(staff.lang));
        };
        return Ok(staff.page(
            StatusCode::OK,
            t.get("console.confirm_title"),
            vec![
                Block::Facts(vec![
                    (t.get("console.name").into(), person_name),
                    (t.get("console.organisation").into(), org_name),
                ]),
                Block::Text(t.get("console.confirm_end_role").into()),
                Block::Form(
                    String::new(),
                    Form::post(
                        format!("{here}/statutory/end"),
                        t.get("console.end_role"),
                        vec![
                            Field::hidden("organisation", org),
                            Field::hidden("confirm", "yes"),
                            Field::input("reason", t.get("console.reason"), "text", true),
                            Field::input("on", t.get("console.end_on"), "date", false)
                                .with_hint(t.get("console.end_on_hint")),
                        ],
                    ),
                ),
                Block::Link(here.clone(), t.get("console.cancel").into()),
            ],
            &here,
        ));
    }
    let result = async {
        let at = form
            .get("on")
            .map(|d| Date::parse(d).map(Date::start_in_prague))
            .transpose()?;
        registry::statutory::end(
            &state,
            staff.actor(),
            &sub,
            form.get("organisation").unwrap_or(""),
            at,
            form.get("reason").unwrap_or(""),
        )
        .await
    }
    .await;
    match result {
        Ok(()) => Ok(back(&here, staff.lang, Ok("role_ended"))),
        Err(e) => Ok(back(&here, staff.lang, Err(refusal(e)?))),
    }
}
