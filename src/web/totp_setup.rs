//! TOTP enrolment, shared by the login (mandatory for administrators and operators) and the
//! account page (optional for everyone else). The secret being enrolled travels in the form,
//! sealed with the data key together with the account and an expiry, so nothing half-enrolled
//! is stored; it is saved only once the person proves their app produces the right code.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::app::AppState;
use crate::audit::{Event, Record};
use crate::domain::account::Account;
use crate::domain::recovery;
use crate::domain::totp::{self, TotpSecret};
use crate::error::Internal;
use crate::secrets::now;

/// How long an enrolment form stays valid.
const ENROLMENT_SECONDS: i64 = 900;

/// A secret being enrolled, with what the form needs to show.
pub struct Enrolment {
    pub sealed: String,
    pub secret_base32: String,
    pub qr_data_uri: String,
}

pub fn start(state: &AppState, account: &Account) -> Result<Enrolment, Internal> {
    let secret = TotpSecret::generate();
    let b32 = secret.to_base32();
    let payload = format!("{}|{}|{}", account.sub, now() + ENROLMENT_SECONDS, b32);
    let sealed = URL_SAFE_NO_PAD.encode(state.data_key.seal(payload.as_bytes()));
    let uri = totp::otpauth_uri(&secret, "MPSV OKslužby", &account.username);
    let qr = super::qr::qr_data_uri(&uri)
        .map_err(|_| Internal::Stored("TOTP enrolment URI too long for a QR code"))?;
    Ok(Enrolment {
        sealed,
        secret_base32: grouped(&b32),
        qr_data_uri: qr,
    })
}

/// The same sealed secret again (the person already scanned it), with its QR code and text.
pub fn resume(state: &AppState, account: &Account, sealed: &str) -> Result<Enrolment, Internal> {
    let (b32, secret) = open(state, account, sealed).ok_or(Internal::Stored("TOTP enrolment"))?;
    let uri = totp::otpauth_uri(&secret, "MPSV OKslužby", &account.username);
    let qr = super::qr::qr_data_uri(&uri)
        .map_err(|_| Internal::Stored("TOTP enrolment URI too long for a QR code"))?;
    Ok(Enrolment {
        sealed: sealed.to_owned(),
        secret_base32: grouped(&b32),
        qr_data_uri: qr,
    })
}

/// The secret in groups of four, easier to type by hand.
fn grouped(s: &str) -> String {
    s.as_bytes()
        .chunks(4)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Opens a sealed enrolment for `account`; `None` when forged, expired or someone else's.
pub fn open(state: &AppState, account: &Account, sealed: &str) -> Option<(String, TotpSecret)> {
    let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
    let text = String::from_utf8(
        state
            .data_key
            .open(std::str::from_utf8(&bytes).ok()?)
            .ok()?,
    )
    .ok()?;
    let mut parts = text.splitn(3, '|');
    let (sub, exp, b32) = (parts.next()?, parts.next()?, parts.next()?);
    if account.sub != sub || exp.parse::<i64>().ok()? < now() {
        return None;
    }
    Some((b32.to_owned(), TotpSecret::from_base32(b32).ok()?))
}

/// How a confirmation ended.
pub enum Confirmed {
    /// Stored, with the recovery codes to show once.
    Enrolled(Vec<String>),
    /// The code was wrong or the form expired or was forged: try again.
    Failed,
    /// The account got a second factor meanwhile (enrolled elsewhere): nothing was written.
    AlreadyEnrolled,
}

/// Checks the first code and stores the secret with fresh recovery codes, only if the
/// account still has no second factor (atomically: see `Storage::enrol_totp`), and audits
/// it in the same transaction.
pub async fn confirm(
    state: &AppState,
    account: &Account,
    sealed: &str,
    code: &str,
    ip: Option<String>,
) -> Result<Confirmed, Internal> {
    let Some((b32, secret)) = open(state, account, sealed) else {
        return Ok(Confirmed::Failed);
    };
    let Some(step) = totp::verify(&secret, code, now(), None) else {
        return Ok(Confirmed::Failed);
    };
    let stored = state.data_key.seal(b32.as_bytes());
    let (codes, hashes) = recovery_codes(state, account);
    let mut tx = state.storage.begin_write().await?;
    if !state
        .storage
        .enrol_totp(&mut tx, &account.sub, &stored, Some(step), &hashes)
        .await?
    {
        return Ok(Confirmed::AlreadyEnrolled);
    }
    state
        .audit
        .append(
            &mut tx,
            Record::new(Event::TotpEnrolled)
                .actor(account.sub.clone())
                .subject(account.sub.clone())
                .ip(ip),
        )
        .await?;
    tx.commit()
        .await
        .map_err(crate::storage::StorageError::from)?;
    Ok(Confirmed::Enrolled(codes))
}

/// Fresh recovery codes for display and their keyed hashes for storage.
fn recovery_codes(state: &AppState, account: &Account) -> (Vec<String>, Vec<String>) {
    let codes = recovery::generate_recovery_codes(recovery::RECOVERY_CODE_COUNT);
    let hashes = codes
        .iter()
        .map(|c| {
            state
                .data_key
                .recovery_code_hash(&account.sub, c.normalized())
        })
        .collect();
    (codes.iter().map(|c| c.display()).collect(), hashes)
}

/// Replaces the recovery codes of an account with a TOTP secret, audited in the same
/// transaction; returns them for display, `None` when the account has no second factor.
pub async fn new_recovery_codes(
    state: &AppState,
    account: &Account,
    ip: Option<String>,
) -> Result<Option<Vec<String>>, Internal> {
    let (codes, hashes) = recovery_codes(state, account);
    let mut tx = state.storage.begin_write().await?;
    if !state
        .storage
        .replace_recovery_codes(&mut tx, &account.sub, &hashes)
        .await?
    {
        return Ok(None);
    }
    state
        .audit
        .append(
            &mut tx,
            Record::new(Event::RecoveryCodesRegenerated)
                .actor(account.sub.clone())
                .subject(account.sub.clone())
                .ip(ip),
        )
        .await?;
    tx.commit()
        .await
        .map_err(crate::storage::StorageError::from)?;
    Ok(Some(codes))
}

/// Whether a typed recovery code is an unused one of the account's; spends it if so.
pub async fn use_recovery_code(
    state: &AppState,
    account: &Account,
    typed: &str,
) -> Result<bool, Internal> {
    let normalized = recovery::normalize_recovery_code(typed);
    if normalized.is_empty() || normalized.len() > 64 {
        return Ok(false);
    }
    let hash = state.data_key.recovery_code_hash(&account.sub, &normalized);
    Ok(state.storage.use_recovery_code(&account.sub, &hash).await?)
}
