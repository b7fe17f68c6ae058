//! Console pages of administrators on OAuth clients: the list and a new registration (the
//! secret shown once), a client's settings, a new secret. Every change goes through
//! `services::clients`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::system::Q;
use super::{
    confirmation, enc, messages, refusal, Block, Cell, Field, Form, Staff, StaffForm, Table,
};
use crate::app::AppState;
use crate::domain::client::{Application, Client, RedirectUri};
use crate::domain::permission::Permission;
use crate::error::PageError;
use crate::http::params::Params;
use crate::http::see_other;
use crate::registry::RegistryError;
use crate::services::{self, Via};
use crate::web::extract::CsrfForm;

fn lines(s: Option<&str>) -> Vec<String> {
    s.unwrap_or("")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The editable fields of a client (new or existing).
fn client_fields(staff: &Staff, c: Option<&Client>) -> Vec<Field> {
    let t = staff.t();
    let join = |l: &[RedirectUri]| l.iter().map(|u| u.as_str()).collect::<Vec<_>>().join("\n");
    let app = c.and_then(|c| c.application);
    let mut f = Vec::new();
    if c.is_none() {
        f.push(Field::input("client_id", "client_id", "text", true));
    }
    f.push(
        Field::input("name", t.get("console.client_name"), "text", true)
            .with_value(c.map(|c| c.name.clone()).unwrap_or_default()),
    );
    f.push(
        Field::input(
            "redirect_uris",
            t.get("console.redirect_uris"),
            "textarea",
            false,
        )
        .with_value(c.map(|c| join(&c.redirect_uris)).unwrap_or_default())
        .with_hint(t.get("console.redirect_uris_hint")),
    );
    f.push(
        Field::input(
            "post_logout_redirect_uris",
            t.get("console.post_logout_uris"),
            "textarea",
            false,
        )
        .with_value(
            c.map(|c| join(&c.post_logout_redirect_uris))
                .unwrap_or_default(),
        ),
    );
    f.push(
        Field::input(
            "backchannel_logout_uri",
            t.get("console.backchannel_uri"),
            "text",
            false,
        )
        .with_value(
            c.and_then(|c| c.backchannel_logout_uri.as_ref())
                .map(|u| u.as_str().to_owned())
                .unwrap_or_default(),
        ),
    );
    f.push(Field::select(
        "application",
        t.get("console.application"),
        vec![
            (
                String::new(),
                t.get("console.no_application").into(),
                app.is_none(),
            ),
            (
                "poskytovatel".into(),
                Application::Poskytovatel.name().into(),
                app == Some(Application::Poskytovatel),
            ),
            (
                "rodina".into(),
                Application::Rodina.name().into(),
                app == Some(Application::Rodina),
            ),
        ],
    ));
    f.push(
        Field::input("scopes", t.get("console.scopes"), "text", false).with_value(
            c.map(|c| c.scopes.to_string())
                .unwrap_or_else(|| "openid profile email mpsv organisation".into()),
        ),
    );
    for sw in &SWITCHES {
        f.push(Field::check(
            sw.name,
            t.get(sw.label),
            c.is_some_and(|c| (sw.get)(c)),
        ));
    }
    if let Some(c) = c {
        f.push(Field::check("enabled", t.get("console.enabled"), c.enabled));
    }
    f
}

/// `GET /admin/clients`
pub async fn clients(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<Q>,
) -> Result<Response, PageError> {
    staff.require(Permission::ManageClients)?;
    let lang = staff.lang;
    let t = staff.t();
    let list = state.storage.clients().await?;
    let mut blocks = messages(&staff, q.notice.as_deref(), q.error.as_deref());
    blocks.push(Block::Table(Table {
        caption: t.get("console.clients").into(),
        headers: [
            "client_id",
            "console.client_name",
            "console.application",
            "console.state",
        ]
        .iter()
        .map(|k| {
            if k.contains('.') {
                t.get(k).to_owned()
            } else {
                (*k).to_owned()
            }
        })
        .collect(),
        rows: list
            .iter()
            .map(|c| {
                vec![
                    Cell::Link(
                        format!(
                            "/admin/clients/{}?lang={}",
                            c.client_id.as_str(),
                            lang.code()
                        ),
                        c.client_id.as_str().to_owned(),
                    ),
                    Cell::Text(c.name.clone()),
                    Cell::Text(
                        c.application
                            .map(|a| t.get(&format!("app.{}", a.as_str())).to_owned())
                            .unwrap_or_else(|| "–".into()),
                    ),
                    Cell::Text(
                        t.get(if c.enabled {
                            "console.active"
                        } else {
                            "console.disabled"
                        })
                        .into(),
                    ),
                ]
            })
            .collect(),
        empty: t.get("console.nothing_found").into(),
    }));
    blocks.push(Block::Form(
        t.get("console.new_client").into(),
        Form::post(
            "/admin/clients",
            t.get("console.create"),
            client_fields(&staff, None),
        ),
    ));
    Ok(staff.page(
        StatusCode::OK,
        t.get("console.clients"),
        blocks,
        "/admin/clients",
    ))
}

/// A protocol requirement of a client the form switches on and off: its field, its label's
/// key, and the setting.
struct Switch {
    name: &'static str,
    label: &'static str,
    get: fn(&Client) -> bool,
    set: fn(&mut Client, bool),
}

const SWITCHES: [Switch; 4] = [
    Switch {
        name: "require_pushed_requests",
        label: "console.require_par",
        get: |c| c.require_pushed_requests,
        set: |c, v| c.require_pushed_requests = v,
    },
    Switch {
        name: "require_signed_request_object",
        label: "console.require_signed_request",
        get: |c| c.require_signed_request_object,
        set: |c, v| c.require_signed_request_object = v,
    },
    Switch {
        name: "dpop_bound_access_tokens",
        label: "console.dpop_bound",
        get: |c| c.dpop_bound_access_tokens,
        set: |c, v| c.dpop_bound_access_tokens = v,
    },
    Switch {
        name: "fapi2",
        label: "console.fapi2",
        get: |c| c.fapi2,
        set: |c, v| c.fapi2 = v,
    },
];

fn apply(c: &mut Client, form: &Params) -> Result<(), crate::domain::ParseError> {
    let name = form.get("name").unwrap_or("").trim();
    if name.is_empty() {
        return Err(crate::domain::ParseError::new("the name is required"));
    }
    c.name = name.to_owned();
    c.redirect_uris = lines(form.get("redirect_uris"))
        .iter()
        .map(|u| RedirectUri::parse(u))
        .collect::<Result<_, _>>()?;
    c.post_logout_redirect_uris = lines(form.get("post_logout_redirect_uris"))
        .iter()
        .map(|u| RedirectUri::parse(u))
        .collect::<Result<_, _>>()?;
    c.backchannel_logout_uri = form
        .get("backchannel_logout_uri")
        .map(RedirectUri::parse)
        .transpose()?;
    c.application = form
        .get("application")
        .map(str::parse::<Application>)
        .transpose()?;
    c.scopes = crate::domain::scope::Scopes::parse(form.get("scopes").unwrap_or(""))?;
    for sw in &SWITCHES {
        (sw.set)(c, form.get(sw.name).is_some());
    }
    c.validate()
}

/// `POST /admin/clients`: registers a client; its secret is shown once.
pub async fn create_client(
    State(state): State<AppState>,
    CsrfForm {
        who: staff, form, ..
    }: StaffForm,
) -> Result<Response, PageError> {
    staff.require(Permission::ManageClients)?;
    let t = staff.t();
    let made = services::clients::build(services::clients::Registration::new(
        form.get("client_id").unwrap_or(""),
        form.get("name").unwrap_or(""),
    ))
    .map_err(|e| e.to_string())
    .and_then(|(mut c, s)| apply(&mut c, &form).map(|()| (c, s)).map_err(|e| e.0));
    let (client, secret) = match made {
        Ok(v) => v,
        Err(e) => {
            return Ok(see_other(&format!(
                "/admin/clients?lang={}&error={}",
                staff.lang.code(),
                enc(&e)
            )))
        }
    };
    if let Err(e) =
        services::clients::create(state.services(), staff.actor(), &client, Via::Staff).await
    {
        return Ok(see_other(&format!(
            "/admin/clients?lang={}&error={}",
            staff.lang.code(),
            enc(&refusal(e)?)
        )));
    }
    let mut blocks = vec![Block::Notice(t.get("console.notice_client_created").into())];
    if let Some(s) = secret {
        blocks.push(Block::Secret(
            t.get("console.secret_once").into(),
            s.expose().to_owned(),
        ));
    }
    blocks.push(Block::Link(
        format!(
            "/admin/clients/{}?lang={}",
            client.client_id.as_str(),
            staff.lang.code()
        ),
        t.get("console.back_to_client").into(),
    ));
    Ok(staff.page(
        StatusCode::OK,
        client.client_id.as_str(),
        blocks,
        "/admin/clients",
    ))
}

/// `GET /admin/clients/{id}`
pub async fn client(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Query(q): Query<Q>,
) -> Result<Response, PageError> {
    staff.require(Permission::ManageClients)?;
    let lang = staff.lang;
    let t = staff.t();
    let Some(c) = state.storage.client(&id).await? else {
        return Err(PageError::not_found(lang));
    };
    let here = format!("/admin/clients/{id}");
    let mut blocks = messages(&staff, q.notice.as_deref(), q.error.as_deref());
    blocks.push(Block::Form(
        String::new(),
        Form::post(
            here.clone(),
            t.get("console.save"),
            client_fields(&staff, Some(&c)),
        ),
    ));
    if c.secret_hash.is_some() {
        blocks.push(Block::Form(
            t.get("console.rotate_secret").into(),
            Form::post(
                format!("{here}/secret"),
                t.get("console.rotate_secret"),
                vec![],
            ),
        ));
    }
    Ok(staff.page(
        StatusCode::OK,
        &format!("{} ({})", c.name, c.client_id.as_str()),
        blocks,
        &here,
    ))
}

/// `POST /admin/clients/{id}`: saves the edited registration (URIs validated).
pub async fn update_client(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm {
        who: staff, form, ..
    }: StaffForm,
) -> Result<Response, PageError> {
    staff.require(Permission::ManageClients)?;
    let here = format!("/admin/clients/{id}");
    let Some(current) = state.storage.client(&id).await? else {
        return Err(PageError::not_found(staff.lang));
    };
    let mut c = (*current).clone();
    if let Err(e) = apply(&mut c, &form) {
        return Ok(see_other(&format!(
            "{here}?lang={}&error={}",
            staff.lang.code(),
            enc(&e.0)
        )));
    }
    c.enabled = form.get("enabled").is_some();
    if let Err(e) = services::clients::update(state.services(), staff.actor(), &c, Via::Staff).await
    {
        return Ok(see_other(&format!(
            "{here}?lang={}&error={}",
            staff.lang.code(),
            enc(&refusal(e)?)
        )));
    }
    Ok(see_other(&format!(
        "{here}?lang={}&notice=saved",
        staff.lang.code()
    )))
}

/// `POST /admin/clients/{id}/secret` (confirmed): a new secret, shown once.
pub async fn rotate_secret(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm {
        who: staff, form, ..
    }: StaffForm,
) -> Result<Response, PageError> {
    staff.require(Permission::ManageClients)?;
    let t = staff.t();
    let here = format!("/admin/clients/{id}");
    if let Some(r) = confirmation(
        &staff,
        &form,
        &format!("{here}/secret"),
        t.get("console.confirm_rotate_secret"),
        &here,
    ) {
        return Ok(r);
    }
    let secret =
        match services::clients::rotate_secret(state.services(), staff.actor(), &id, Via::Staff)
            .await
        {
            Ok(s) => s,
            Err(RegistryError::NotFound(_)) => return Err(PageError::not_found(staff.lang)),
            Err(e) => {
                return Ok(see_other(&format!(
                    "{here}?lang={}&error={}",
                    staff.lang.code(),
                    enc(&refusal(e)?)
                )))
            }
        };
    Ok(staff.page(
        StatusCode::OK,
        &id,
        vec![
            Block::Secret(
                t.get("console.secret_once").into(),
                secret.expose().to_owned(),
            ),
            Block::Link(
                format!("{here}?lang={}", staff.lang.code()),
                t.get("console.back_to_client").into(),
            ),
        ],
        &here,
    ))
}
