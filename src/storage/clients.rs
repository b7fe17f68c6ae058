//! OAuth client registrations.

use std::sync::Arc;

use sqlx::FromRow;

use super::{conflict_on_unique, from_json_list, parse_stored, to_json_list, Result, Storage, Tx};
use crate::domain::client::{Client, ClientId, RedirectUri};
use crate::domain::scope::Scopes;
use crate::secrets::{now, HashedToken};

#[derive(FromRow)]
struct ClientRow {
    client_id: String,
    name: String,
    secret_hash: Option<String>,
    auth_method: String,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    backchannel_logout_uri: Option<String>,
    grant_types: String,
    scopes: String,
    id_token_alg: String,
    access_token_alg: String,
    jwks: Option<String>,
    application: Option<String>,
    require_pkce: i64,
    require_pushed_requests: i64,
    require_signed_request_object: i64,
    dpop_bound_access_tokens: i64,
    fapi2: i64,
    access_token_ttl: Option<i64>,
    refresh_token_ttl: Option<i64>,
    enabled: i64,
}

macro_rules! columns {
    () => {
        "client_id, name, secret_hash, auth_method, redirect_uris, post_logout_redirect_uris, \
         backchannel_logout_uri, grant_types, scopes, id_token_alg, access_token_alg, jwks, \
         application, require_pkce, access_token_ttl, refresh_token_ttl, enabled, \
         require_pushed_requests, require_signed_request_object, dpop_bound_access_tokens, fapi2"
    };
}

impl ClientRow {
    fn into_client(self) -> Result<Client> {
        let uris = |s: &str| -> Result<Vec<RedirectUri>> {
            from_json_list(s)?
                .iter()
                .map(|u| RedirectUri::parse(u).map_err(|e| super::StorageError::Corrupt(e.0)))
                .collect()
        };
        Ok(Client {
            client_id: ClientId::parse(&self.client_id)
                .map_err(|e| super::StorageError::Corrupt(e.0))?,
            name: self.name,
            secret_hash: self.secret_hash.map(HashedToken::from_stored),
            auth_method: parse_stored(&self.auth_method)?,
            redirect_uris: uris(&self.redirect_uris)?,
            post_logout_redirect_uris: uris(&self.post_logout_redirect_uris)?,
            backchannel_logout_uri: self
                .backchannel_logout_uri
                .as_deref()
                .map(RedirectUri::parse)
                .transpose()
                .map_err(|e| super::StorageError::Corrupt(e.0))?,
            grant_types: from_json_list(&self.grant_types)?
                .iter()
                .map(|g| parse_stored(g))
                .collect::<Result<_>>()?,
            scopes: Scopes::from_list(from_json_list(&self.scopes)?),
            id_token_alg: parse_stored(&self.id_token_alg)?,
            access_token_alg: parse_stored(&self.access_token_alg)?,
            jwks: self.jwks,
            application: self.application.as_deref().map(parse_stored).transpose()?,
            require_pkce: self.require_pkce != 0,
            require_pushed_requests: self.require_pushed_requests != 0,
            require_signed_request_object: self.require_signed_request_object != 0,
            dpop_bound_access_tokens: self.dpop_bound_access_tokens != 0,
            fapi2: self.fapi2 != 0,
            access_token_ttl: self.access_token_ttl,
            refresh_token_ttl: self.refresh_token_ttl,
            enabled: self.enabled != 0,
        })
    }
}

const INSERT: &str = concat!(
    "INSERT INTO clients (",
    columns!(),
    ", created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22)"
);
const UPDATE: &str =
    "UPDATE clients SET name=$2, secret_hash=$3, auth_method=$4, redirect_uris=$5, \
     post_logout_redirect_uris=$6, backchannel_logout_uri=$7, grant_types=$8, scopes=$9, \
     id_token_alg=$10, access_token_alg=$11, jwks=$12, application=$13, require_pkce=$14, \
     access_token_ttl=$15, refresh_token_ttl=$16, enabled=$17, require_pushed_requests=$18, \
     require_signed_request_object=$19, dpop_bound_access_tokens=$20, \
     fapi2=$21 WHERE client_id=$1";

impl Storage {
    pub async fn insert_client(&self, c: &Client) -> Result<()> {
        let r = bind_client(sqlx::query(INSERT), c)
            .bind(now())
            .execute(self.pool())
            .await;
        conflict_on_unique(r, "client")?;
        Ok(())
    }

    /// [`Storage::insert_client`] in the caller's transaction.
    pub async fn insert_client_in(&self, tx: &mut Tx, c: &Client) -> Result<()> {
        let r = bind_client(sqlx::query(INSERT), c)
            .bind(now())
            .execute(&mut **tx)
            .await;
        conflict_on_unique(r, "client")?;
        Ok(())
    }

    /// Replaces every setting of an existing client; returns false when it does not exist.
    pub async fn update_client(&self, c: &Client) -> Result<bool> {
        let r = bind_client(sqlx::query(UPDATE), c)
            .execute(self.pool())
            .await?;
        // This node sees its own change at once (other nodes within the cache's lifetime).
        self.clients.forget(c.client_id.as_str());
        Ok(r.rows_affected() == 1)
    }

    /// [`Storage::update_client`] in the caller's transaction (the cache forgets the client at
    /// once; call [`Storage::forget_client`] again after the commit).
    pub async fn update_client_in(&self, tx: &mut Tx, c: &Client) -> Result<bool> {
        let r = bind_client(sqlx::query(UPDATE), c)
            .execute(&mut **tx)
            .await?;
        self.clients.forget(c.client_id.as_str());
        Ok(r.rows_affected() == 1)
    }

    /// Drops this node's cached copy of a client.
    pub fn forget_client(&self, client_id: &str) {
        self.clients.forget(client_id);
    }

    /// Revokes every token family (refresh tokens and the access tokens of those grants) of a
    /// client, in the caller's transaction; returns how many were live.
    pub async fn revoke_client_families(&self, tx: &mut Tx, client_id: &str) -> Result<u64> {
        let r = sqlx::query(
            "UPDATE token_families SET revoked_at = $1 WHERE client_id = $2 AND revoked_at IS NULL",
        )
        .bind(now())
        .bind(client_id)
        .execute(&mut **tx)
        .await?;
        Ok(r.rows_affected())
    }

    /// A client registration, from the short-lived cache when it has it.
    pub async fn client(&self, client_id: &str) -> Result<Option<Arc<Client>>> {
        if let Some(c) = self.clients.get(client_id) {
            return Ok(Some(c));
        }
        let sql = concat!("SELECT ", columns!(), " FROM clients WHERE client_id = $1");
        let row: Option<ClientRow> = sqlx::query_as(sql)
            .bind(client_id)
            .fetch_optional(self.pool())
            .await?;
        let client = row.map(ClientRow::into_client).transpose()?.map(Arc::new);
        if let Some(c) = &client {
            self.clients.put(Arc::clone(c));
        }
        Ok(client)
    }

    /// A client registration as stored, read in the caller's transaction (no cache).
    pub async fn client_in(&self, tx: &mut Tx, client_id: &str) -> Result<Option<Client>> {
        let sql = concat!("SELECT ", columns!(), " FROM clients WHERE client_id = $1");
        let row: Option<ClientRow> = sqlx::query_as(sql)
            .bind(client_id)
            .fetch_optional(&mut **tx)
            .await?;
        row.map(ClientRow::into_client).transpose()
    }

    pub async fn clients(&self) -> Result<Vec<Client>> {
        let sql = concat!("SELECT ", columns!(), " FROM clients ORDER BY client_id");
        let rows: Vec<ClientRow> = sqlx::query_as(sql).fetch_all(self.pool()).await?;
        rows.into_iter().map(ClientRow::into_client).collect()
    }

    pub async fn delete_client(&self, client_id: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM clients WHERE client_id = $1")
            .bind(client_id)
            .execute(self.pool())
            .await?;
        self.clients.forget(client_id);
        Ok(r.rows_affected() == 1)
    }
}

fn bind_client<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    c: &Client,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    q.bind(c.client_id.as_str().to_owned())
        .bind(c.name.clone())
        .bind(c.secret_hash.as_ref().map(|h| h.as_str().to_owned()))
        .bind(c.auth_method.as_str())
        .bind(to_json_list(c.redirect_uris.iter().map(|u| u.as_str())))
        .bind(to_json_list(
            c.post_logout_redirect_uris.iter().map(|u| u.as_str()),
        ))
        .bind(
            c.backchannel_logout_uri
                .as_ref()
                .map(|u| u.as_str().to_owned()),
        )
        .bind(to_json_list(c.grant_types.iter().map(|g| g.as_str())))
        .bind(to_json_list(c.scopes.iter()))
        .bind(c.id_token_alg.as_str())
        .bind(c.access_token_alg.as_str())
        .bind(c.jwks.clone())
        .bind(c.application.map(|a| a.as_str()))
        .bind(i64::from(c.require_pkce))
        .bind(c.access_token_ttl)
        .bind(c.refresh_token_ttl)
        .bind(i64::from(c.enabled))
        .bind(i64::from(c.require_pushed_requests))
        .bind(i64::from(c.require_signed_request_object))
        .bind(i64::from(c.dpop_bound_access_tokens))
        .bind(i64::from(c.fapi2))
}
