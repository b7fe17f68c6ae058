//! TOTP enrolment, shared by the login (mandatory for administrators and operators) and the
//! account page (optional for everyone else). The secret being enrolled travels in the form,
//! sealed with the data key together with the account and an expiry, so nothing half-enrolled
//! is stored; it is saved only once the person proves their app produces the right code.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::app::AppState;
use crate::domain::account::Account;
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
    let qr = totp::qr_data_uri(&uri).map_err(|_| Internal::Other("QR code too long".into()))?;
    Ok(Enrolment {
        sealed,
        secret_base32: grouped(&b32),
        qr_data_uri: qr,
    })
}

/// The same sealed secret again (the person already scanned it), with its QR code and text.
pub fn resume(state: &AppState, account: &Account, sealed: &str) -> Result<Enrolment, Internal> {
    let (b32, secret) =
        open(state, account, sealed).ok_or_else(|| Internal::Other("enrolment expired".into()))?;
    let uri = totp::otpauth_uri(&secret, "MPSV OKslužby", &account.username);
    let qr = totp::qr_data_uri(&uri).map_err(|_| Internal::Other("QR code too long".into()))?;
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
    if sub != account.sub || exp.parse::<i64>().ok()? < now() {
        return None;
    }
    Some((b32.to_owned(), TotpSecret::from_base32(b32).ok()?))
}

/// Checks the first code and stores the secret; returns fresh recovery codes to show once.
pub async fn confirm(
    state: &AppState,
    account: &Account,
    sealed: &str,
    code: &str,
) -> Result<Option<Vec<String>>, Internal> {
    let Some((b32, secret)) = open(state, account, sealed) else {
        return Ok(None);
    };
    let Some(step) = totp::verify(&secret, code, now(), None) else {
        return Ok(None);
    };
    let stored = state.data_key.seal(b32.as_bytes());
    state
        .storage
        .set_totp(&account.sub, Some(&stored), Some(step))
        .await?;
    Ok(Some(new_recovery_codes(state, account).await?))
}

/// Replaces the recovery codes; returns them for display (only hashes are stored).
pub async fn new_recovery_codes(
    state: &AppState,
    account: &Account,
) -> Result<Vec<String>, Internal> {
    let codes = totp::generate_recovery_codes(10);
    let hashes: Vec<String> = codes
        .iter()
        .map(|c| c.hashed().as_str().to_owned())
        .collect();
    state
        .storage
        .replace_recovery_codes(&account.sub, &hashes)
        .await?;
    Ok(codes.iter().map(|c| c.display()).collect())
}
