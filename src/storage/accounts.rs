//! Person accounts.

use sqlx::FromRow;

use super::{conflict_on_unique, Result, Storage};
use crate::domain::account::{Account, AccountStatus};
use crate::secrets::now;

#[derive(FromRow)]
struct AccountRow {
    sub: String,
    username: String,
    given_name: String,
    family_name: String,
    email: Option<String>,
    email_verified: i64,
    locale: String,
    status: String,
    password_hash: String,
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
        }
    }
}

macro_rules! columns {
    () => {
        "sub, username, given_name, family_name, email, email_verified, locale, status, password_hash"
    };
}

impl Storage {
    pub async fn insert_account(&self, a: &Account) -> Result<()> {
        let r = sqlx::query(
            "INSERT INTO accounts (sub, username, given_name, family_name, email, email_verified, \
             locale, status, password_hash, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
        )
        .bind(a.sub.clone())
        .bind(a.username.clone())
        .bind(a.given_name.clone())
        .bind(a.family_name.clone())
        .bind(a.email.clone())
        .bind(i64::from(a.email_verified))
        .bind(a.locale.clone())
        .bind(a.status.as_str())
        .bind(a.password_hash.clone())
        .bind(now())
        .execute(self.pool())
        .await;
        conflict_on_unique(r, "username")?;
        Ok(())
    }

    pub async fn account_by_username(&self, username: &str) -> Result<Option<Account>> {
        let sql = concat!("SELECT ", columns!(), " FROM accounts WHERE username = $1");
        let row: Option<AccountRow> = sqlx::query_as(sql)
            .bind(username)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(Account::from))
    }

    pub async fn account(&self, sub: &str) -> Result<Option<Account>> {
        let sql = concat!("SELECT ", columns!(), " FROM accounts WHERE sub = $1");
        let row: Option<AccountRow> = sqlx::query_as(sql)
            .bind(sub)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(Account::from))
    }

    pub async fn set_password_hash(&self, sub: &str, hash: &str) -> Result<()> {
        sqlx::query("UPDATE accounts SET password_hash = $1 WHERE sub = $2")
            .bind(hash)
            .bind(sub)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn set_account_status(&self, sub: &str, status: AccountStatus) -> Result<bool> {
        let r = sqlx::query("UPDATE accounts SET status = $1 WHERE sub = $2")
            .bind(status.as_str())
            .bind(sub)
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected() == 1)
    }
}
