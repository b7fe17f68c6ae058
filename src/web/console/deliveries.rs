//! Console page of administrators: the back-channel logout outbox (issue 12.2).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::{Block, Cell, Field, Form, Staff, Table};
use crate::app::AppState;
use crate::domain::permission::Permission;
use crate::error::PageError;
use crate::web::format::datetime;

#[derive(serde::Deserialize)]
pub struct DeliveriesQuery {
    /// `pending` (default), `delivered` or `given_up`.
    state: Option<String>,
}

/// `GET /admin/deliveries?state=pending|delivered|given_up`: the back-channel logout outbox
/// (issue 12.2), newest first, with attempts and the last status of each delivery.
pub async fn deliveries(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<DeliveriesQuery>,
) -> Result<Response, PageError> {
    use crate::storage::deliveries::DeliveryState;
    staff.require(Permission::ManageClients)?;
    let lang = staff.lang;
    let t = staff.t();
    let which = q.state.as_deref().unwrap_or("pending");
    let kind = DeliveryState::parse(which).unwrap_or(DeliveryState::Pending);
    let rows = state.storage.deliveries(kind, None, 200, 0).await?;
    let states = [
        ("pending", "console.delivery_pending"),
        ("delivered", "console.delivery_delivered"),
        ("given_up", "console.delivery_given_up"),
    ];
    let mut blocks = vec![Block::Form(
        String::new(),
        Form::get(
            "/admin/deliveries",
            t.get("console.filter"),
            vec![Field::select(
                "state",
                t.get("console.state"),
                states
                    .iter()
                    .map(|(v, k)| ((*v).to_owned(), t.get(k).to_owned(), *v == which))
                    .collect(),
            )],
        ),
    )];
    blocks.push(Block::Table(Table {
        caption: t.get("console.deliveries").into(),
        headers: vec![
            t.get("console.client_name").into(),
            t.get("console.subject").into(),
            t.get("console.time").into(),
            t.get("console.attempts").into(),
            t.get("console.last_status").into(),
            t.get("console.next_attempt").into(),
        ],
        rows: rows
            .into_iter()
            .map(|d| {
                let next = match (d.delivered_at, d.given_up_at) {
                    (Some(at), _) => format!(
                        "{} {}",
                        t.get("console.delivery_delivered"),
                        datetime(at, lang)
                    ),
                    (_, Some(at)) => format!(
                        "{} {}",
                        t.get("console.delivery_given_up"),
                        datetime(at, lang)
                    ),
                    _ => datetime(d.next_attempt_at, lang),
                };
                vec![
                    Cell::Link(
                        format!("/admin/clients/{}?lang={}", d.client_id, lang.code()),
                        d.client_id,
                    ),
                    Cell::Link(
                        format!("/admin/persons/{}?lang={}", d.sub, lang.code()),
                        d.sub.into(),
                    ),
                    Cell::Text(datetime(d.created_at, lang)),
                    Cell::Text(d.attempts.to_string()),
                    Cell::Text(d.last_status.unwrap_or_default()),
                    Cell::Text(next),
                ]
            })
            .collect(),
        empty: t.get("console.no_deliveries").into(),
    }));
    Ok(staff.page(
        StatusCode::OK,
        t.get("console.deliveries"),
        blocks,
        "/admin/deliveries",
    ))
}
