//! Setting a new password, wherever it happens (forced at login, on the account page, through
//! a reset link): the MPSV policy, the history of the last passwords, the minimum interval
//! between voluntary changes, then the hash (off the async threads), the audit record, and the
//! end of the person's other sessions (OWASP Session Management: invalidate on password change).

use secrecy::SecretString;

use crate::app::AppState;
use crate::audit::{Event, Record};
use crate::domain::account::Account;
use crate::domain::password_policy::{Candidate, Violation};
use crate::error::Internal;
use crate::http::client::ClientMeta;
use crate::http::params::Params;
use crate::pages::i18n::Lang;
use crate::secrets::now;

/// Why the password changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// Initial or expired password, at login.
    Forced,
    /// The person chose to, on the account page (the minimum interval applies).
    Voluntary,
    /// A reset link.
    Reset,
}

/// What a password change leaves alive: the session in use (account page), or the pending
/// login that is changing the password (forced change at login).
#[derive(Debug, Clone, Copy, Default)]
pub struct Keep<'a> {
    pub sid: Option<&'a str>,
    pub login: Option<&'a str>,
}

/// Checks and sets the password from the form's `new` and `confirm`. On a refused password,
/// returns the translated reasons.
pub async fn set_new_password(
    state: &AppState,
    account: &Account,
    form: &Params,
    why: Why,
    meta: &ClientMeta,
    keep: Keep<'_>,
    lang: Lang,
) -> Result<Result<(), Vec<String>>, Internal> {
    match check_new_password(state, account, form, why, meta, lang).await? {
        Ok(hash) => {
            store_new_password(state, account, &hash, why, meta, keep).await?;
            Ok(Ok(()))
        }
        Err(messages) => Ok(Err(messages)),
    }
}

/// Checks the form's new password against the policy and the history; returns its hash.
pub async fn check_new_password(
    state: &AppState,
    account: &Account,
    form: &Params,
    why: Why,
    meta: &ClientMeta,
    lang: Lang,
) -> Result<Result<String, Vec<String>>, Internal> {
    let t = lang.texts();
    let new = form.get("new").unwrap_or("");
    let confirm = form.get("confirm").unwrap_or("");
    let policy = &state.config.password;
    let mut violations = match policy.check(&Candidate {
        password: new,
        username: &account.username,
        given_name: &account.given_name,
        family_name: &account.family_name,
        privileged: account.role.privileged(),
    }) {
        Ok(()) => Vec::new(),
        Err(v) => v,
    };
    let at = now();
    if why == Why::Voluntary && !policy.change_allowed(account.password_changed_at, at) {
        violations.push(Violation::TooSoon {
            minutes: policy.min_change_interval_minutes,
        });
    }
    let mut messages: Vec<String> = violations
        .iter()
        .map(|v| v.fill(t.get(v.message_key())))
        .collect();
    if new != confirm {
        messages.push(t.get("password.mismatch").to_owned());
    }
    if !messages.is_empty() {
        return Ok(Err(messages));
    }
    // What follows costs up to `history + 1` Argon2 runs: bounded per address and per account
    // (issue 11.9), counted only for candidates that passed the cheap checks above.
    let at = now();
    let by_address = state
        .password_change_limiter
        .allow(&state.storage, &meta.limit_key(), at)
        .await?;
    let by_account = state
        .password_change_account_limiter
        .allow(&state.storage, account.sub.as_str(), at)
        .await?;
    if !by_address || !by_account {
        tracing::warn!(sub = %account.sub, "new-password checks over the rate limit");
        return Ok(Err(vec![t.get("password.rate_limited").to_owned()]));
    }
    // Not one of the last N passwords (the current one included).
    let history = state
        .storage
        .password_history(&account.sub, policy.history as i64)
        .await?;
    if state
        .passwords
        .find_match(SecretString::from(new.to_owned()), history)
        .await?
        .is_some()
    {
        return Ok(Err(vec![
            Violation::Reused.fill(t.get(Violation::Reused.message_key()))
        ]));
    }
    let hash = state
        .passwords
        .hash(SecretString::from(new.to_owned()))
        .await?;
    Ok(Ok(hash))
}

/// Stores a checked password; audits; ends the person's other sessions and any login of
/// theirs still half-way (it began with the old password).
pub async fn store_new_password(
    state: &AppState,
    account: &Account,
    hash: &str,
    why: Why,
    meta: &ClientMeta,
    keep: Keep<'_>,
) -> Result<(), Internal> {
    let event = match why {
        Why::Reset => Event::PasswordResetCompleted,
        _ => Event::PasswordChanged,
    };
    let mut tx = state.storage.begin_write().await?;
    state
        .storage
        .set_password_in(&mut tx, &account.sub, hash, now(), false, None)
        .await?;
    // The other sessions end with the change, in its transaction (OWASP Session Management:
    // invalidate on password change); their back-channel logouts go after the commit.
    let mut ended = Vec::new();
    for s in state.storage.sessions_of(&account.sub).await? {
        if Some(s.sid.as_str()) != keep.sid {
            let e = state.storage.end_session_in(&mut tx, &s.sid).await?;
            ended.push((s.sid, e));
        }
    }
    state
        .storage
        .delete_login_requests_of_in(&mut tx, &account.sub, keep.login)
        .await?;
    // The audit record last (see `registry::consents::record`).
    state
        .audit
        .append(
            &mut tx,
            Record::new(event)
                .actor(account.sub.clone())
                .subject(account.sub.clone())
                .ip(meta.ip_string())
                .detail(
                    "reason",
                    match why {
                        Why::Forced => "forced",
                        Why::Voluntary => "voluntary",
                        Why::Reset => "reset",
                    },
                ),
        )
        .await?;
    tx.commit()
        .await
        .map_err(crate::storage::StorageError::from)?;
    crate::session::notify_ended(state, ended);
    Ok(())
}
