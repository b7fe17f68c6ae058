//! The staff console (`/admin`): server-rendered pages for operators (the register) and
//! administrators (clients, keys, audit), in the same look, languages and accessibility bar
//! as the login pages. Every form carries the session's CSRF token; destructive actions ask
//! for confirmation first. Pages are assembled from a few blocks (`Block`) rendered by one
//! template, so every page gets the same labelled fields, captions and headings.

pub mod accounts;
pub mod clients;
pub mod consents;
pub mod deliveries;
pub mod organisations;
pub mod people;
pub mod statutory;
pub mod system;
pub mod upstream;

use askama::Template;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::extract::{query_lang, signed_in, CsrfForm, Principal};
use super::login;
use crate::app::AppState;
use crate::domain::account::{Account, Role};
use crate::domain::permission::{allows, Permission};
use crate::error::PageError;
use crate::http::params::Params;
use crate::interaction::Purpose;
use crate::pages::i18n::{Lang, Texts};
use crate::pages::{error_page, html, Chrome};
use crate::registry::RegistryError;
use crate::session::SessionCookie;
use crate::storage::sessions::Session;

pub enum Block {
    Heading(String),
    Text(String),
    Notice(String),
    Error(String),
    /// A secret shown once (label, value).
    Secret(String, String),
    Facts(Vec<(String, String)>),
    Table(Table),
    /// A form under an optional heading.
    Form(String, Form),
    Link(String, String),
}

pub struct Table {
    pub caption: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
    /// Shown instead of an empty table.
    pub empty: String,
}

pub enum Cell {
    Text(String),
    Link(String, String),
    Action(Form),
}

pub struct Form {
    pub action: String,
    pub method: &'static str,
    pub fields: Vec<Field>,
    pub submit: String,
    /// An accessible name for the button when its text alone is ambiguous (in tables).
    pub label: String,
    pub secondary: bool,
    pub inline: bool,
}

impl Form {
    pub fn post(action: impl Into<String>, submit: impl Into<String>, fields: Vec<Field>) -> Self {
        Form {
            action: action.into(),
            method: "post",
            fields,
            submit: submit.into(),
            label: String::new(),
            secondary: false,
            inline: false,
        }
    }

    pub fn get(action: impl Into<String>, submit: impl Into<String>, fields: Vec<Field>) -> Self {
        Form {
            method: "get",
            ..Form::post(action, submit, fields)
        }
    }

    /// A one-button form in a table row.
    pub fn button(
        action: impl Into<String>,
        submit: impl Into<String>,
        label: String,
        fields: Vec<Field>,
    ) -> Self {
        Form {
            label,
            secondary: true,
            inline: true,
            ..Form::post(action, submit, fields)
        }
    }
}

pub enum Field {
    Hidden(String, String),
    Input(Input),
    Select(Select),
    Check(Check),
}

pub struct Input {
    pub id: String,
    pub name: String,
    pub label: String,
    /// `text`, `email`, `date`, `textarea`.
    pub kind: &'static str,
    pub value: String,
    pub required: bool,
    pub hint: String,
}

pub struct Select {
    pub id: String,
    pub name: String,
    pub label: String,
    /// (value, label, selected)
    pub options: Vec<(String, String, bool)>,
    pub required: bool,
}

pub struct Check {
    pub id: String,
    pub name: String,
    pub label: String,
    pub checked: bool,
}

impl Field {
    pub fn hidden(name: &str, value: impl Into<String>) -> Field {
        Field::Hidden(name.to_owned(), value.into())
    }

    pub fn input(name: &str, label: &str, kind: &'static str, required: bool) -> Field {
        Field::Input(Input {
            id: format!("f-{name}"),
            name: name.to_owned(),
            label: label.to_owned(),
            kind,
            value: String::new(),
            required,
            hint: String::new(),
        })
    }

    pub fn with_value(mut self, v: impl Into<String>) -> Field {
        if let Field::Input(i) = &mut self {
            i.value = v.into();
        }
        self
    }

    pub fn with_hint(mut self, h: impl Into<String>) -> Field {
        if let Field::Input(i) = &mut self {
            i.hint = h.into();
        }
        self
    }

    pub fn select(name: &str, label: &str, options: Vec<(String, String, bool)>) -> Field {
        Field::Select(Select {
            id: format!("f-{name}"),
            name: name.to_owned(),
            label: label.to_owned(),
            options,
            required: true,
        })
    }

    pub fn check(name: &str, label: &str, checked: bool) -> Field {
        Field::Check(Check {
            id: format!("f-{name}"),
            name: name.to_owned(),
            label: label.to_owned(),
            checked,
        })
    }
}

#[derive(Template)]
#[template(path = "console.html")]
struct ConsolePage<'a> {
    c: Chrome,
    t: &'static Texts,
    title: &'a str,
    blocks: Vec<Block>,
    csrf: &'a str,
    operator: bool,
    administrator: bool,
}

/// The signed-in staff member a console page is for.
pub struct Staff {
    pub session: Session,
    pub account: Account,
    pub lang: Lang,
}

impl Staff {
    pub fn t(&self) -> &'static Texts {
        self.lang.texts()
    }

    /// Renders a console page.
    pub fn page(
        &self,
        status: StatusCode,
        title: &str,
        blocks: Vec<Block>,
        self_url: &str,
    ) -> Response {
        let sep = if self_url.contains('?') { '&' } else { '?' };
        let page = ConsolePage {
            c: Chrome::new(
                self.lang,
                format!("{self_url}{sep}lang={}", self.lang.other().code()),
            ),
            t: self.t(),
            title,
            blocks,
            csrf: &self.session.csrf,
            operator: self.account.role == Role::Operator,
            administrator: self.account.role == Role::Administrator,
        };
        html(status, page.render())
    }

    pub fn actor(&self) -> &str {
        self.account.sub.as_str()
    }
}

impl Staff {
    /// Refuses (a 403 page) a staff member whose role lacks `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), PageError> {
        if allows(self.account.role, permission) {
            Ok(())
        } else {
            Err(PageError::Shown {
                status: StatusCode::FORBIDDEN,
                key: "console.forbidden",
                detail: String::new(),
                lang: self.lang,
            })
        }
    }
}

/// The staff member behind this request: a privileged account whose session proved a second
/// factor, in the page's language; otherwise the console's login, or a 403 page.
impl Principal for Staff {
    async fn find(state: &AppState, cookie: &SessionCookie, lang: Lang) -> Result<Self, Response> {
        let Some((session, account)) = signed_in(state, cookie).await? else {
            return Err(login::begin(state, Purpose::Console { lang })
                .await
                .unwrap_or_else(IntoResponse::into_response));
        };
        let otp = session.amr.has_second_factor();
        if !(account.role.privileged() && otp) {
            return Err(error_page(
                StatusCode::FORBIDDEN,
                "console.forbidden",
                "",
                lang,
            ));
        }
        Ok(Staff {
            session,
            account,
            lang,
        })
    }

    fn csrf(&self) -> &str {
        &self.session.csrf
    }
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let cookie = SessionCookie::from_headers(state, &parts.headers);
        Self::find(state, &cookie, query_lang(parts)).await
    }
}

/// A posted console form.
pub type StaffForm = CsrfForm<Staff>;

/// Destructive actions are confirmed on a page of their own: without `confirm=yes` the posted
/// fields come back as a confirmation form (OWASP: confirm state-changing, irreversible
/// operations), with a way back.
pub fn confirmation(
    staff: &Staff,
    form: &Params,
    action: &str,
    question: &str,
    back: &str,
) -> Option<Response> {
    if form.get("confirm") == Some("yes") {
        return None;
    }
    let t = staff.t();
    let mut fields: Vec<Field> = form
        .iter()
        .filter(|(k, _)| !matches!(*k, "csrf" | "lang" | "confirm"))
        .map(|(k, v)| Field::hidden(k, v))
        .collect();
    fields.push(Field::hidden("confirm", "yes"));
    Some(staff.page(
        StatusCode::OK,
        t.get("console.confirm_title"),
        vec![
            Block::Text(question.to_owned()),
            Block::Form(
                String::new(),
                Form::post(action, t.get("console.confirm"), fields),
            ),
            Block::Link(back.to_owned(), t.get("console.cancel").to_owned()),
        ],
        back,
    ))
}

/// The message of a refused registry action, for the page (internal errors propagate).
pub fn refusal(e: RegistryError) -> Result<String, PageError> {
    match e {
        RegistryError::Internal(i) => Err(PageError::Internal(i)),
        other => Ok(other.to_string()),
    }
}

/// What a console page says about a refusal passed in its URL (`?error=`): only texts of our
/// own translations — a message known by its words, or a kind of message recognised by a
/// fragment — never the URL's text itself, so a crafted link cannot put words in the page.
pub fn refusal_text(t: &Texts, message: &str) -> String {
    if let Some(known) = t.lookup(message) {
        return known.to_owned();
    }
    const KINDS: [(&str, &str); 10] = [
        ("check digit", "refusal.ico_check_digit"),
        ("must use https", "refusal.uri"),
        ("fragment", "refusal.uri"),
        ("not a date", "refusal.date"),
        ("not an e-mail address", "refusal.email"),
        ("URI", "refusal.uri"),
        ("scope", "refusal.scope"),
        ("already exists", "refusal.exists"),
        ("JWK Set", "refusal.jwks"),
        ("FAPI 2.0", "refusal.fapi2"),
    ];
    let key = KINDS
        .iter()
        .find(|(fragment, _)| message.contains(fragment))
        .map_or("refusal.other", |(_, key)| key);
    t.get(key).to_owned()
}

/// Percent-encodes a query value.
pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The notice (a key suffix) and the refusal a page was sent back with.
pub fn messages(staff: &Staff, notice: Option<&str>, error: Option<&str>) -> Vec<Block> {
    let t = staff.t();
    let mut b = Vec::new();
    if let Some(n) = notice.filter(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_')) {
        b.push(Block::Notice(
            t.get(&format!("console.notice_{n}")).to_owned(),
        ));
    }
    if let Some(e) = error {
        b.push(Block::Error(format!(
            "{}: {}",
            t.get("console.refused"),
            refusal_text(t, e)
        )));
    }
    b
}

/// `GET /admin`: the start page — search and what this role may do.
pub async fn home(staff: Staff) -> Result<Response, PageError> {
    let lang = staff.lang;
    let t = staff.t();
    let mut blocks = vec![Block::Text(format!(
        "{} {} ({})",
        t.get("console.signed_in_as"),
        staff.account.name(),
        t.get(match staff.account.role {
            Role::Administrator => "role.administrator",
            _ => "role.operator",
        })
    ))];
    if staff.account.role == Role::Operator {
        blocks.push(Block::Form(
            t.get("console.find_person").to_owned(),
            Form::get(
                "/admin/persons",
                t.get("console.search"),
                vec![Field::input(
                    "q",
                    t.get("console.person_query"),
                    "text",
                    false,
                )],
            ),
        ));
        blocks.push(Block::Form(
            t.get("console.find_organisation").to_owned(),
            Form::get(
                "/admin/organisations",
                t.get("console.search"),
                vec![Field::Input(Input {
                    id: "f-oq".into(),
                    name: "q".into(),
                    label: t.get("console.organisation_query").into(),
                    kind: "text",
                    value: String::new(),
                    required: false,
                    hint: String::new(),
                })],
            ),
        ));
    } else {
        blocks.push(Block::Link(
            format!("/admin/clients?lang={}", lang.code()),
            t.get("console.clients").into(),
        ));
        blocks.push(Block::Link(
            format!("/admin/keys?lang={}", lang.code()),
            t.get("console.keys").into(),
        ));
        blocks.push(Block::Link(
            format!("/admin/audit?lang={}", lang.code()),
            t.get("console.audit").into(),
        ));
    }
    Ok(staff.page(StatusCode::OK, t.get("console.title"), blocks, "/admin"))
}

/// The staff console's pages, `/admin…` (merged into `app::build_router`).
pub fn routes() -> axum::Router<crate::app::AppState> {
    use axum::routing::{get, post};
    use axum::Router;
    Router::new()
        .route("/admin", get(home))
        .route("/admin/persons", get(people::persons))
        .route("/admin/persons/{sub}", get(people::person))
        .route(
            "/admin/persons/{sub}/account",
            post(accounts::create_account),
        )
        .route(
            "/admin/persons/{sub}/letter",
            post(accounts::reissue_letter),
        )
        .route("/admin/persons/{sub}/status", post(accounts::change_status))
        .route(
            "/admin/persons/{sub}/second-factors/reset",
            post(accounts::reset_second_factors),
        )
        .route("/admin/persons/{sub}/upstream/link", post(upstream::link))
        .route(
            "/admin/persons/{sub}/upstream/unlink",
            post(upstream::unlink),
        )
        .route(
            "/admin/persons/{sub}/sessions/end",
            post(accounts::end_sessions),
        )
        .route(
            "/admin/persons/{sub}/statutory/start",
            post(statutory::start_role),
        )
        .route(
            "/admin/persons/{sub}/statutory/end",
            post(statutory::end_role),
        )
        .route("/admin/consents", post(consents::record_consent))
        .route(
            "/admin/consents/{id}/withdraw",
            post(consents::withdraw_consent),
        )
        .route(
            "/admin/organisations",
            get(organisations::organisations).post(organisations::create_organisation),
        )
        .route(
            "/admin/organisations/{id}",
            get(organisations::organisation),
        )
        .route(
            "/admin/organisations/{id}/delegations",
            post(organisations::grant_delegation),
        )
        .route(
            "/admin/organisations/{id}/delegations/{delegation}/revoke",
            post(organisations::revoke_delegation),
        )
        .route(
            "/admin/clients",
            get(clients::clients).post(clients::create_client),
        )
        .route(
            "/admin/clients/{id}",
            get(clients::client).post(clients::update_client),
        )
        .route("/admin/clients/{id}/secret", post(clients::rotate_secret))
        .route("/admin/keys", get(system::keys))
        .route("/admin/keys/rotate", post(system::rotate_key))
        .route("/admin/audit", get(system::audit_log))
        .route("/admin/deliveries", get(deliveries::deliveries))
        .route("/admin/settings", get(system::settings))
}
