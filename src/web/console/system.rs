//! Console pages of administrators beside clients (`clients.rs`): signing keys, the audit log,
//! the settings in force.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::{
    confirmation, enc, messages, refusal, Block, Cell, Field, Form, Staff, StaffForm, Table,
};
use crate::app::AppState;
use crate::audit::Filter;
use crate::domain::client::SigningAlg;
use crate::domain::permission::Permission;
use crate::error::PageError;
use crate::http::see_other;
use crate::secrets::now;
use crate::services::{self};
use crate::web::extract::CsrfForm;
use crate::web::format::datetime;

#[derive(serde::Deserialize)]
pub struct Q {
    pub(super) notice: Option<String>,
    pub(super) error: Option<String>,
    event: Option<String>,
    actor: Option<String>,
    subject: Option<String>,
    before: Option<i64>,
}

/// `GET /admin/keys`
pub async fn keys(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<Q>,
) -> Result<Response, PageError> {
    staff.require(Permission::ManageKeys)?;
    let lang = staff.lang;
    let t = staff.t();
    let mut blocks = messages(&staff, q.notice.as_deref(), q.error.as_deref());
    blocks.push(Block::Table(Table {
        caption: t.get("console.keys").into(),
        headers: vec![
            "kid".into(),
            "alg".into(),
            t.get("console.state").into(),
            t.get("console.signs_from").into(),
        ],
        rows: state
            .keys
            .states(now())
            .into_iter()
            .map(|(k, s)| {
                vec![
                    Cell::Text(k.meta.kid.clone()),
                    Cell::Text(k.meta.alg.clone()),
                    Cell::Text(s.label().to_owned()),
                    Cell::Text(datetime(k.meta.active_from, lang)),
                ]
            })
            .collect(),
        empty: String::new(),
    }));
    blocks.push(Block::Form(
        t.get("console.rotate_key").into(),
        Form::post(
            "/admin/keys/rotate",
            t.get("console.rotate_key"),
            vec![Field::select(
                "alg",
                "alg",
                SigningAlg::ALL
                    .iter()
                    .map(|a| (a.as_str().to_owned(), a.as_str().to_owned(), false))
                    .collect(),
            )],
        ),
    ));
    Ok(staff.page(StatusCode::OK, t.get("console.keys"), blocks, "/admin/keys"))
}

/// `POST /admin/keys/rotate` (confirmed): pre-publishes a new key.
pub async fn rotate_key(
    State(state): State<AppState>,
    CsrfForm {
        who: staff, form, ..
    }: StaffForm,
) -> Result<Response, PageError> {
    staff.require(Permission::ManageKeys)?;
    if let Some(r) = confirmation(
        &staff,
        &form,
        "/admin/keys/rotate",
        staff.t().get("console.confirm_rotate_key"),
        "/admin/keys",
    ) {
        return Ok(r);
    }
    let Ok(alg) = form.get("alg").unwrap_or("").parse::<SigningAlg>() else {
        return Ok(see_other(&format!(
            "/admin/keys?lang={}&error=alg",
            staff.lang.code()
        )));
    };
    let delay = state.config.keys.rotation_delay;
    let rotated =
        services::keys::rotate(state.services(), &state.keys, staff.actor(), alg, delay).await;
    if let Err(e) = rotated {
        return Ok(see_other(&format!(
            "/admin/keys?lang={}&error={}",
            staff.lang.code(),
            enc(&refusal(e)?)
        )));
    }
    Ok(see_other(&format!(
        "/admin/keys?lang={}&notice=key",
        staff.lang.code()
    )))
}

/// `GET /admin/audit?event=&actor=&subject=&before=`
pub async fn audit_log(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<Q>,
) -> Result<Response, PageError> {
    staff.require(Permission::ReadAudit)?;
    let lang = staff.lang;
    let t = staff.t();
    let nonempty = |s: &Option<String>| s.clone().filter(|v| !v.trim().is_empty());
    let rows = state
        .audit
        .query(&Filter {
            event: nonempty(&q.event),
            actor: nonempty(&q.actor),
            subject: nonempty(&q.subject),
            from: None,
            until: None,
            before: q.before,
            limit: 100,
        })
        .await?;
    let mut blocks = vec![Block::Form(
        String::new(),
        Form::get(
            "/admin/audit",
            t.get("console.filter"),
            vec![
                Field::input("event", t.get("console.event"), "text", false)
                    .with_value(q.event.clone().unwrap_or_default()),
                Field::input("actor", t.get("console.actor"), "text", false)
                    .with_value(q.actor.clone().unwrap_or_default()),
                Field::input("subject", t.get("console.subject"), "text", false)
                    .with_value(q.subject.clone().unwrap_or_default()),
            ],
        ),
    )];
    let next = (rows.len() == 100)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    blocks.push(Block::Table(Table {
        caption: t.get("console.audit").into(),
        headers: [
            "console.time",
            "console.event",
            "console.actor",
            "console.subject",
            "console.source",
            "console.details",
        ]
        .iter()
        .map(|k| t.get(k).to_owned())
        .collect(),
        rows: rows
            .into_iter()
            .map(|r| {
                vec![
                    Cell::Text(datetime(r.at, lang)),
                    Cell::Text(r.event),
                    Cell::Text(r.actor.unwrap_or_default()),
                    Cell::Text(r.subject.unwrap_or_default()),
                    Cell::Text(r.source_ip.unwrap_or_default()),
                    Cell::Text(r.details),
                ]
            })
            .collect(),
        empty: t.get("console.nothing_found").into(),
    }));
    if let Some(before) = next {
        let keep = |k: &str, v: &Option<String>| {
            v.as_deref()
                .map(|v| format!("&{k}={}", enc(v)))
                .unwrap_or_default()
        };
        blocks.push(Block::Link(
            format!(
                "/admin/audit?lang={}&before={before}{}{}{}",
                lang.code(),
                keep("event", &q.event),
                keep("actor", &q.actor),
                keep("subject", &q.subject)
            ),
            t.get("console.older").into(),
        ));
    }
    Ok(staff.page(
        StatusCode::OK,
        t.get("console.audit"),
        blocks,
        "/admin/audit",
    ))
}

/// `GET /admin/settings`: the settings in force (read-only: they come from the configuration
/// file every node is deployed with).
pub async fn settings(State(state): State<AppState>, staff: Staff) -> Result<Response, PageError> {
    staff.require(Permission::ReadSettings)?;
    let t = staff.t();
    let blocks = vec![
        Block::Text(t.get("console.settings_intro").into()),
        Block::Table(Table {
            caption: t.get("console.settings").into(),
            headers: vec![
                t.get("console.setting").into(),
                t.get("console.value").into(),
            ],
            rows: state
                .config
                .summary()
                .into_iter()
                .map(|(k, v)| vec![Cell::Text(k.to_owned()), Cell::Text(v)])
                .collect(),
            empty: String::new(),
        }),
    ];
    Ok(staff.page(
        StatusCode::OK,
        t.get("console.settings"),
        blocks,
        "/admin/settings",
    ))
}
