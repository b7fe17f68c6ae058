//! Pushed authorization requests (RFC 9126): the parameters a client pushed, kept under the
//! hash of the `request_uri` it was given, until the authorization endpoint takes them (once)
//! or they expire.

use super::{Result, Storage};
use crate::secrets::{now, HashedToken};

/// What a `request_uri` referred to.
#[derive(Debug)]
pub struct PushedRequest {
    pub client_id: String,
    /// The pushed parameters, form-encoded as received (without the client's credentials).
    pub params: String,
    pub expires_at: i64,
}

impl Storage {
    pub async fn insert_pushed_request(
        &self,
        uri: &HashedToken,
        client_id: &str,
        params: &str,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO pushed_requests (uri_hash, client_id, params, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(uri.as_str())
        .bind(client_id)
        .bind(params)
        .bind(now())
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Takes the request pushed by `client_id`: deleted in the same statement, so a
    /// `request_uri` is used at most once even with two nodes racing (RFC 9126 §4), and only
    /// by its client. An expired one is taken too (and refused by the caller).
    pub async fn take_pushed_request(
        &self,
        uri: &HashedToken,
        client_id: &str,
    ) -> Result<Option<PushedRequest>> {
        let row: Option<(String, String, i64)> = sqlx::query_as(
            "DELETE FROM pushed_requests WHERE uri_hash = $1 AND client_id = $2 \
             RETURNING client_id, params, expires_at",
        )
        .bind(uri.as_str())
        .bind(client_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|(client_id, params, expires_at)| PushedRequest {
            client_id,
            params,
            expires_at,
        }))
    }
}
