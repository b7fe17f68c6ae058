//! Passkeys (WebAuthn credentials) and the state of WebAuthn ceremonies in progress.
//! The credential itself is kept as the serialised webauthn-rs value; the columns beside it
//! (counter, backup flags, last use) are what the account page and the console show.

use sqlx::FromRow;

use super::{conflict_on_unique, Result, Storage, Tx};
use crate::domain::id::Subject;

/// A registered passkey as stored.
#[derive(Debug, Clone, FromRow)]
pub struct StoredPasskey {
    pub id: String,
    pub sub: Subject,
    /// base64url (no padding) of the credential id.
    pub credential_id: String,
    pub user_handle: String,
    pub name: String,
    /// The serialised `webauthn_rs::prelude::Passkey`.
    pub credential: String,
    pub sign_count: i64,
    pub backup_eligible: i64,
    pub backup_state: i64,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

macro_rules! columns {
    () => {
        "id, sub, credential_id, user_handle, name, credential, sign_count, backup_eligible, \
         backup_state, created_at, last_used_at"
    };
}

/// A ceremony taken back from the database (once).
#[derive(Debug, FromRow)]
pub struct Ceremony {
    pub kind: String,
    pub sub: Option<Subject>,
    pub state: String,
    pub expires_at: i64,
}

impl Storage {
    /// Stores a new passkey in the caller's transaction; `Conflict` when the credential id is
    /// already registered (to anyone: WebAuthn Level 3 §7.1 step 26).
    pub async fn insert_passkey(&self, tx: &mut Tx, p: &StoredPasskey) -> Result<()> {
        let r = sqlx::query(
            "INSERT INTO passkeys (id, sub, credential_id, user_handle, name, credential, \
             sign_count, backup_eligible, backup_state, created_at, last_used_at) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
        )
        .bind(&p.id)
        .bind(&p.sub)
        .bind(&p.credential_id)
        .bind(&p.user_handle)
        .bind(&p.name)
        .bind(&p.credential)
        .bind(p.sign_count)
        .bind(p.backup_eligible)
        .bind(p.backup_state)
        .bind(p.created_at)
        .bind(p.last_used_at)
        .execute(&mut **tx)
        .await;
        conflict_on_unique(r, "passkey")?;
        Ok(())
    }

    /// The passkeys of an account, oldest first.
    pub async fn passkeys_of(&self, sub: &Subject) -> Result<Vec<StoredPasskey>> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM passkeys WHERE sub = $1 ORDER BY created_at, id"
        ))
        .bind(sub)
        .fetch_all(self.pool())
        .await?)
    }

    /// The passkey with this credential id (base64url), whoever it belongs to.
    pub async fn passkey_by_credential(
        &self,
        credential_id: &str,
    ) -> Result<Option<StoredPasskey>> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM passkeys WHERE credential_id = $1"
        ))
        .bind(credential_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Records a successful use. The counter only moves forward (a stored value that another
    /// node raised meanwhile is not lowered); `false` when the stored counter is already at or
    /// past `sign_count` although both are non-zero — a possibly cloned authenticator
    /// (WebAuthn Level 3 §7.2 step 22), and nothing was written.
    pub async fn record_passkey_use(
        &self,
        id: &str,
        credential: &str,
        sign_count: i64,
        backup_eligible: bool,
        backup_state: bool,
        at: i64,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE passkeys SET credential = $1, sign_count = $2, backup_eligible = $3, \
             backup_state = $4, last_used_at = $5 \
             WHERE id = $6 AND (sign_count < $2 OR (sign_count = 0 AND $2 = 0))",
        )
        .bind(credential)
        .bind(sign_count)
        .bind(i64::from(backup_eligible))
        .bind(i64::from(backup_state))
        .bind(at)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Renames one of the account's passkeys; `false` when it has no such passkey.
    pub async fn rename_passkey(
        &self,
        tx: &mut Tx,
        sub: &Subject,
        id: &str,
        name: &str,
    ) -> Result<bool> {
        let r = sqlx::query("UPDATE passkeys SET name = $1 WHERE id = $2 AND sub = $3")
            .bind(name)
            .bind(id)
            .bind(sub)
            .execute(&mut **tx)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Removes one of the account's passkeys; the removed row, or `None` when it had none.
    pub async fn delete_passkey(
        &self,
        tx: &mut Tx,
        sub: &Subject,
        id: &str,
    ) -> Result<Option<StoredPasskey>> {
        Ok(sqlx::query_as(concat!(
            "DELETE FROM passkeys WHERE id = $1 AND sub = $2 RETURNING ",
            columns!()
        ))
        .bind(id)
        .bind(sub)
        .fetch_optional(&mut **tx)
        .await?)
    }

    /// Locks the account's row for the rest of the transaction and says which second
    /// factors it has: (TOTP enrolled, number of passkeys); `None` without such an account.
    pub async fn lock_second_factors(
        &self,
        tx: &mut Tx,
        sub: &Subject,
    ) -> Result<Option<(bool, i64)>> {
        sqlx::query("UPDATE accounts SET sub = sub WHERE sub = $1")
            .bind(sub)
            .execute(&mut **tx)
            .await?;
        let row: Option<(i64, i64)> = sqlx::query_as(
            "SELECT CASE WHEN totp_secret IS NULL THEN 0 ELSE 1 END, \
             (SELECT COUNT(*) FROM passkeys k WHERE k.sub = a.sub) FROM accounts a WHERE sub = $1",
        )
        .bind(sub)
        .fetch_optional(&mut **tx)
        .await?;
        Ok(row.map(|(totp, passkeys)| (totp != 0, passkeys)))
    }

    /// Removes every passkey of an account (an operator resetting the second factors);
    /// how many there were.
    pub async fn delete_passkeys_of(&self, tx: &mut Tx, sub: &Subject) -> Result<u64> {
        let r = sqlx::query("DELETE FROM passkeys WHERE sub = $1")
            .bind(sub)
            .execute(&mut **tx)
            .await?;
        Ok(r.rows_affected())
    }

    /// Starts (or restarts) the ceremony under `key`: the previous one there, if any, is
    /// replaced, so each login or session has at most one challenge outstanding.
    pub async fn put_ceremony(
        &self,
        key: &str,
        kind: &str,
        sub: Option<&Subject>,
        state: &str,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO webauthn_ceremonies (key, kind, sub, state, expires_at) \
             VALUES ($1,$2,$3,$4,$5) ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, \
             sub = excluded.sub, state = excluded.state, expires_at = excluded.expires_at",
        )
        .bind(key)
        .bind(kind)
        .bind(sub)
        .bind(state)
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Takes the ceremony under `key`, deleting it in the same statement: a challenge is
    /// answered at most once, even with two nodes racing. An expired one is taken too (and
    /// refused by the caller).
    pub async fn take_ceremony(&self, key: &str) -> Result<Option<Ceremony>> {
        Ok(sqlx::query_as(
            "DELETE FROM webauthn_ceremonies WHERE key = $1 \
             RETURNING kind, sub, state, expires_at",
        )
        .bind(key)
        .fetch_optional(self.pool())
        .await?)
    }
}
