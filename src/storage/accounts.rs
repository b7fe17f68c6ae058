//! Person accounts.

use sqlx::FromRow;

use super::{conflict_on_unique, Result, Storage, Tx};
use crate::domain::account::{Account, AccountStatus, Role};
use crate::domain::id::Subject;
use crate::domain::text::search_key;
use crate::secrets::now;

#[derive(FromRow)]
struct AccountRow {
    sub: Subject,
    username: String,
    given_name: String,
    family_name: String,
    email: Option<String>,
    email_verified: i64,
    locale: String,
    status: String,
    password_hash: String,
    role: String,
    password_changed_at: i64,
    must_change_password: i64,
    initial_password_expires_at: Option<i64>,
    failed_logins: i64,
    locked_until: Option<i64>,
    totp_secret: Option<String>,
    totp_last_step: Option<i64>,
    passkeys: i64,
    mpsv_client_id: Option<String>,
}

impl From<AccountRow> for Account {
    fn from(r: AccountRow) -> Self {
        Account {
            sub: r.sub,
            username: r.username,
            given_name: r.given_name,
            family_name: r.family_name,
            email: r.email,
            email_verified: r.email_verified != 0,
            locale: r.locale,
            status: AccountStatus::parse(&r.status),
            password_hash: r.password_hash,
            // An unknown role is treated as the least privileged one.
            role: Role::parse(&r.role).unwrap_or(Role::User),
            password_changed_at: r.password_changed_at,
            must_change_password: r.must_change_password != 0,
            initial_password_expires_at: r.initial_password_expires_at,
            failed_logins: r.failed_logins,
            locked_until: r.locked_until,
            totp_secret: r.totp_secret,
            totp_last_step: r.totp_last_step,
            passkeys: r.passkeys,
            mpsv_client_id: r.mpsv_client_id,
        }
    }
}

macro_rules! columns {
    () => {
        "a.sub, a.username, p.given_name, p.family_name, p.email, p.email_verified, p.locale, \
         a.status, a.password_hash, a.role, a.password_changed_at, a.must_change_password, \
         a.initial_password_expires_at, a.failed_logins, a.locked_until, a.totp_secret, \
         a.totp_last_step, p.mpsv_client_id, \
         (SELECT COUNT(*) FROM passkeys k WHERE k.sub = a.sub) AS passkeys"
    };
}

/// Accounts read through their person: names, e-mail and locale belong to the person.
macro_rules! from {
    () => {
        " FROM accounts a JOIN persons p ON p.sub = a.sub"
    };
}

impl Storage {
    /// Creates an account, and its person when not yet there (staff, tests); its first
    /// password goes into the history at once. Accounts of MPSV clients are created through
    /// `registry::accounts`, which insists on a consent first.
    pub async fn insert_account_in(&self, tx: &mut Tx, a: &Account) -> Result<()> {
        sqlx::query(
            "INSERT INTO persons (sub, given_name, family_name, search_key, email, \
             email_verified, locale, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8) \
             ON CONFLICT (sub) DO NOTHING",
        )
        .bind(a.sub.clone())
        .bind(a.given_name.clone())
        .bind(a.family_name.clone())
        .bind(search_key(&a.name()))
        .bind(a.email.clone())
        .bind(i64::from(a.email_verified))
        .bind(a.locale.clone())
        .bind(now())
        .execute(&mut **tx)
        .await?;
        let r = sqlx::query(
            "INSERT INTO accounts (sub, username, status, password_hash, role, \
             password_changed_at, must_change_password, initial_password_expires_at, created_at) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
        )
        .bind(a.sub.clone())
        .bind(a.username.clone())
        .bind(a.status.as_str())
        .bind(a.password_hash.clone())
        .bind(a.role.as_str())
        .bind(a.password_changed_at)
        .bind(i64::from(a.must_change_password))
        .bind(a.initial_password_expires_at)
        .bind(now())
        .execute(&mut **tx)
        .await;
        conflict_on_unique(r, "username")?;
        sqlx::query(
            "INSERT INTO password_history (sub, password_hash, created_at) VALUES ($1,$2,$3)",
        )
        .bind(a.sub.clone())
        .bind(a.password_hash.clone())
        .bind(a.password_changed_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// [`Storage::insert_account_in`] in a transaction of its own.
    pub async fn insert_account(&self, a: &Account) -> Result<()> {
        let mut tx = self.begin_write().await?;
        self.insert_account_in(&mut tx, a).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn account_by_username(&self, username: &str) -> Result<Option<Account>> {
        let sql = concat!("SELECT ", columns!(), from!(), " WHERE a.username = $1");
        let row: Option<AccountRow> = sqlx::query_as(sql)
            .bind(username)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(Account::from))
    }

    pub async fn account(&self, sub: &Subject) -> Result<Option<Account>> {
        let sql = concat!("SELECT ", columns!(), from!(), " WHERE a.sub = $1");
        let row: Option<AccountRow> = sqlx::query_as(sql)
            .bind(sub)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(Account::from))
    }

    /// Replaces the stored hash of the same password (parameters upgraded at login).
    pub async fn upgrade_password_hash(&self, sub: &Subject, hash: &str) -> Result<()> {
        sqlx::query("UPDATE accounts SET password_hash = $1 WHERE sub = $2")
            .bind(hash)
            .bind(sub)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Sets a new password: hash, change time, history; `must_change` marks an initial or
    /// administrator-set password, `initial_expires_at` when such a password stops working.
    pub async fn set_password_in(
        &self,
        tx: &mut Tx,
        sub: &Subject,
        hash: &str,
        at: i64,
        must_change: bool,
        initial_expires_at: Option<i64>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE accounts SET password_hash = $1, password_changed_at = $2, \
             must_change_password = $3, initial_password_expires_at = $4, failed_logins = 0, \
             locked_until = NULL WHERE sub = $5",
        )
        .bind(hash)
        .bind(at)
        .bind(i64::from(must_change))
        .bind(initial_expires_at)
        .bind(sub)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "INSERT INTO password_history (sub, password_hash, created_at) VALUES ($1,$2,$3)",
        )
        .bind(sub)
        .bind(hash)
        .bind(at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// [`Storage::set_password_in`] in a transaction of its own.
    pub async fn set_password(
        &self,
        sub: &Subject,
        hash: &str,
        at: i64,
        must_change: bool,
        initial_expires_at: Option<i64>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        self.set_password_in(&mut tx, sub, hash, at, must_change, initial_expires_at)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The hashes of the last `n` passwords, newest first (the current one included).
    pub async fn password_history(&self, sub: &Subject, n: i64) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT password_hash FROM password_history WHERE sub = $1 \
             ORDER BY created_at DESC LIMIT $2",
        )
        .bind(sub)
        .bind(n)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|(h,)| h).collect())
    }

    /// Counts an attempt before its secret is checked, unless the account is locked at `now`;
    /// returns the attempts since the last success, or `None` when locked. The attempt that
    /// reaches `threshold` locks the account until `lock_until` in the same statement, so
    /// concurrent attempts are counted one by one and none slips past the lock.
    pub async fn reserve_login_attempt(
        &self,
        sub: &Subject,
        now: i64,
        threshold: i64,
        lock_until: i64,
    ) -> Result<Option<i64>> {
        let row: Option<(i64,)> = sqlx::query_as(
            "UPDATE accounts SET failed_logins = failed_logins + 1, \
             locked_until = CASE WHEN failed_logins + 1 >= $3 THEN $4 ELSE locked_until END \
             WHERE sub = $1 AND (locked_until IS NULL OR locked_until <= $2) \
             RETURNING failed_logins",
        )
        .bind(sub)
        .bind(now)
        .bind(threshold)
        .bind(lock_until)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|(n,)| n))
    }

    /// Locks until `until`, never shortening a longer lock.
    pub async fn extend_lock(&self, sub: &Subject, until: i64) -> Result<()> {
        sqlx::query(
            "UPDATE accounts SET locked_until = $1 \
             WHERE sub = $2 AND (locked_until IS NULL OR locked_until < $1)",
        )
        .bind(until)
        .bind(sub)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A successful login clears the failure count and any temporary lock.
    pub async fn record_login_success_in(&self, tx: &mut Tx, sub: &Subject) -> Result<()> {
        sqlx::query(
            "UPDATE accounts SET failed_logins = 0, locked_until = NULL \
             WHERE sub = $1 AND (failed_logins <> 0 OR locked_until IS NOT NULL)",
        )
        .bind(sub)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// [`Storage::record_login_success_in`] in a transaction of its own.
    pub async fn record_login_success(&self, sub: &Subject) -> Result<()> {
        let mut tx = self.begin_write().await?;
        self.record_login_success_in(&mut tx, sub).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Enrols a sealed TOTP secret and its recovery codes (keyed hashes), in the caller's
    /// transaction, **only if the account has no second factor yet**: the check and the write
    /// are one statement, so a parked login can never replace the owner's factor. `false`:
    /// a factor exists and nothing was written.
    pub async fn enrol_totp(
        &self,
        tx: &mut Tx,
        sub: &Subject,
        sealed: &str,
        step: Option<i64>,
        recovery_hashes: &[String],
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE accounts SET totp_secret = $1, totp_last_step = $2 \
             WHERE sub = $3 AND totp_secret IS NULL",
        )
        .bind(sealed)
        .bind(step)
        .bind(sub)
        .execute(&mut **tx)
        .await?;
        if r.rows_affected() != 1 {
            return Ok(false);
        }
        Self::write_recovery_codes(tx, sub, recovery_hashes).await?;
        Ok(true)
    }

    /// Removes the TOTP secret and every recovery code, in the caller's transaction.
    pub async fn remove_totp(&self, tx: &mut Tx, sub: &Subject) -> Result<()> {
        sqlx::query("UPDATE accounts SET totp_secret = NULL, totp_last_step = NULL WHERE sub = $1")
            .bind(sub)
            .execute(&mut **tx)
            .await?;
        Self::write_recovery_codes(tx, sub, &[]).await
    }

    /// Accepts a TOTP step only if it is later than the last accepted one, atomically across
    /// nodes (RFC 6238 §5.2: a code may be used once).
    pub async fn use_totp_step(&self, sub: &Subject, step: i64) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE accounts SET totp_last_step = $1 \
             WHERE sub = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
        )
        .bind(step)
        .bind(sub)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Replaces the recovery codes (keyed hashes) of an account that has a TOTP secret, in
    /// the caller's transaction; `false` (nothing written) when it has none.
    pub async fn replace_recovery_codes(
        &self,
        tx: &mut Tx,
        sub: &Subject,
        hashes: &[String],
    ) -> Result<bool> {
        let has: Option<(i64,)> =
            sqlx::query_as("SELECT 1 FROM accounts WHERE sub = $1 AND totp_secret IS NOT NULL")
                .bind(sub)
                .fetch_optional(&mut **tx)
                .await?;
        if has.is_none() {
            return Ok(false);
        }
        Self::write_recovery_codes(tx, sub, hashes).await?;
        Ok(true)
    }

    async fn write_recovery_codes(tx: &mut Tx, sub: &Subject, hashes: &[String]) -> Result<()> {
        let t = now();
        sqlx::query("DELETE FROM recovery_codes WHERE sub = $1")
            .bind(sub)
            .execute(&mut **tx)
            .await?;
        for h in hashes {
            sqlx::query(
                "INSERT INTO recovery_codes (sub, code_hash, created_at) VALUES ($1,$2,$3)",
            )
            .bind(sub)
            .bind(h.as_str())
            .bind(t)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// Spends a recovery code; false when unknown or already used.
    pub async fn use_recovery_code(&self, sub: &Subject, hash: &str) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE recovery_codes SET used_at = $1 \
             WHERE sub = $2 AND code_hash = $3 AND used_at IS NULL",
        )
        .bind(now())
        .bind(sub)
        .bind(hash)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn unused_recovery_codes(&self, sub: &Subject) -> Result<i64> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM recovery_codes WHERE sub = $1 AND used_at IS NULL",
        )
        .bind(sub)
        .fetch_one(self.pool())
        .await?;
        Ok(n)
    }

    pub async fn account_by_email(&self, email: &str) -> Result<Option<Account>> {
        let sql = concat!(
            "SELECT ",
            columns!(),
            from!(),
            " WHERE lower(p.email) = lower($1)"
        );
        let row: Option<AccountRow> = sqlx::query_as(sql)
            .bind(email)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(Account::from))
    }

    pub async fn set_account_status_in(
        &self,
        tx: &mut Tx,
        sub: &Subject,
        status: AccountStatus,
    ) -> Result<bool> {
        let r = sqlx::query("UPDATE accounts SET status = $1 WHERE sub = $2")
            .bind(status.as_str())
            .bind(sub)
            .execute(&mut **tx)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// [`Storage::set_account_status_in`] in a transaction of its own.
    pub async fn set_account_status(&self, sub: &Subject, status: AccountStatus) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let r = self.set_account_status_in(&mut tx, sub, status).await?;
        tx.commit().await?;
        Ok(r)
    }
}

impl Storage {
    /// Stores a password-reset token (its hash) valid until `expires_at`.
    /// A password link (reset or a new staff member's first password), in the caller's
    /// transaction.
    pub async fn insert_password_reset_in(
        &self,
        tx: &mut Tx,
        token: &crate::secrets::HashedToken,
        sub: &Subject,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO password_resets (token_hash, sub, created_at, expires_at) VALUES ($1,$2,$3,$4)",
        )
        .bind(token.as_str())
        .bind(sub)
        .bind(now())
        .bind(expires_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The account of an unused, unexpired reset token.
    pub async fn password_reset(
        &self,
        token: &crate::secrets::HashedToken,
    ) -> Result<Option<Subject>> {
        let row: Option<(Subject,)> = sqlx::query_as(
            "SELECT sub FROM password_resets WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(token.as_str())
        .bind(now())
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|(s,)| s))
    }

    /// Spends a reset token (and every other open token of the account); false if it was
    /// already used or expired.
    pub async fn use_password_reset(
        &self,
        token: &crate::secrets::HashedToken,
        sub: &Subject,
    ) -> Result<bool> {
        let t = now();
        let r = sqlx::query(
            "UPDATE password_resets SET used_at = $1 \
             WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1",
        )
        .bind(t)
        .bind(token.as_str())
        .execute(self.pool())
        .await?;
        if r.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query("UPDATE password_resets SET used_at = $1 WHERE sub = $2 AND used_at IS NULL")
            .bind(t)
            .bind(sub)
            .execute(self.pool())
            .await?;
        Ok(true)
    }
}
