//! Passkeys: this IdP as a WebAuthn relying party (WebAuthn Level 3), with `webauthn-rs`
//! doing the verification. This module keeps the ceremonies: each challenge is stored in the
//! database under the login or session it belongs to (one at a time), taken back once, and
//! refused after [`CEREMONY_SECONDS`]; the browser only ever sees the options.
//!
//! - Registration (the account page): resident key and user verification required, the
//!   account's passkeys excluded, one WebAuthn user handle per account.
//! - Sign-in without a username: a discoverable credential names its account (user handle and
//!   credential id, both checked against what was registered).
//! - Sign-in after the password: the account's passkeys are the allowed credentials.
//!
//! A passkey proves `hwk` (device-bound) or `swk` (synced, backup eligible) and `user`
//! (RFC 8176), and counts as the MFA level: the authenticator verified the person.

use webauthn_rs::prelude::{
    Credential, DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, Url, Uuid,
    Webauthn, WebauthnBuilder,
};

use crate::config::Config;
use crate::domain::account::{Account, AccountStatus};
use crate::domain::amr::{Amr, Method};
use crate::domain::id::Subject;
use crate::error::Internal;
use crate::jose::b64 as b64url;
use crate::secrets::{now, PlainToken};
use crate::storage::passkeys::StoredPasskey;
use crate::storage::{Storage, StorageError};

/// How long a challenge may be answered (WebAuthn Level 3 §15.1 recommends 300 s for
/// ceremonies with user verification; the options say the same to the browser).
pub const CEREMONY_SECONDS: i64 = 300;

/// The longest name a person may give a passkey.
pub const MAX_NAME: usize = 60;

/// Why a ceremony did not succeed. Every one of them is shown to the person as the same
/// "the passkey was not accepted" (no detail that would help an attacker), and audited with
/// its reason.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// No challenge is outstanding (never started, answered already, or for someone else).
    #[error("no WebAuthn ceremony is waiting")]
    NoCeremony,
    #[error("the WebAuthn ceremony expired")]
    Expired,
    /// The browser's answer is not a WebAuthn credential at all.
    #[error("malformed credential: {0}")]
    Malformed(String),
    /// webauthn-rs refused it (signature, origin, RP ID, challenge, flags, counter…).
    #[error("verification failed: {0}")]
    Rejected(String),
    /// Not registered here (or removed), or not the account's.
    #[error("unknown credential")]
    UnknownCredential,
    /// The user handle does not belong to the credential.
    #[error("the user handle does not match the credential")]
    WrongUser,
    /// The signature counter went back: a possibly cloned authenticator (§7.2 step 22).
    #[error("the signature counter did not increase")]
    Counter,
    /// The credential is registered already (to this or another account).
    #[error("the credential is already registered")]
    AlreadyRegistered,
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<StorageError> for PasskeyError {
    fn from(e: StorageError) -> Self {
        PasskeyError::Internal(e.into())
    }
}

impl PasskeyError {
    /// The `reason` in the audit record.
    pub fn reason(&self) -> &'static str {
        match self {
            PasskeyError::NoCeremony => "no_ceremony",
            PasskeyError::Expired => "expired",
            PasskeyError::Malformed(_) => "malformed",
            PasskeyError::Rejected(_) => "rejected",
            PasskeyError::UnknownCredential => "unknown_credential",
            PasskeyError::WrongUser => "wrong_user_handle",
            PasskeyError::Counter => "counter",
            PasskeyError::AlreadyRegistered => "already_registered",
            PasskeyError::Internal(_) => "internal",
        }
    }
}

/// The relying party. `None` from [`RelyingParty::new`] when passkeys are off or cannot
/// work for this issuer (an IP address).
pub struct RelyingParty {
    webauthn: Webauthn,
}

/// What a ceremony is for (the `kind` column).
const REGISTER: &str = "register";
const DISCOVER: &str = "discover";
const SECOND_FACTOR: &str = "second_factor";

/// A registration in progress: the library's state and the user handle it was made for.
#[derive(serde::Serialize, serde::Deserialize)]
struct Registration {
    state: PasskeyRegistration,
    user_handle: Uuid,
}

/// A passkey that passed: its account, what it proved and its stored row.
pub struct SignedIn {
    pub account: Account,
    pub passkey: StoredPasskey,
    /// `hwk` or `swk`.
    pub method: Method,
}

impl RelyingParty {
    /// The relying party for `config`'s issuer; `None` (and a log line saying why) when
    /// passkeys are disabled or the issuer has no domain name.
    pub fn new(config: &Config) -> Option<Self> {
        if !config.passkeys.enabled {
            return None;
        }
        let origin = match Url::parse(&config.issuer) {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!(error = %e, "passkeys are off: the issuer is not a URL");
                return None;
            }
        };
        let Some(host) = origin.domain().map(str::to_owned) else {
            tracing::info!(
                issuer = %config.issuer,
                "passkeys are off: WebAuthn needs a domain name, not an IP address"
            );
            return None;
        };
        let rp_id = config.passkeys.rp_id.clone().unwrap_or(host);
        // The origin is the issuer's scheme, host and port only.
        let origin = match Url::parse(&origin.origin().ascii_serialization()) {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!(error = %e, "passkeys are off: no origin");
                return None;
            }
        };
        let built = WebauthnBuilder::new(&rp_id, &origin)
            .map(|b| {
                b.rp_name(&config.passkeys.rp_name)
                    .timeout(std::time::Duration::from_secs(CEREMONY_SECONDS as u64))
            })
            .and_then(|b| b.build());
        match built {
            Ok(webauthn) => Some(Self { webauthn }),
            Err(e) => {
                tracing::warn!(error = %e, rp_id = %rp_id, "passkeys are off: the RP ID does not suit the issuer");
                None
            }
        }
    }

    /// Starts registering a passkey for `account`, signed in with the session `sid`.
    pub async fn start_registration(
        &self,
        storage: &Storage,
        account: &Account,
        sid: &str,
    ) -> Result<serde_json::Value, PasskeyError> {
        let existing = storage.passkeys_of(&account.sub).await?;
        let user_handle = match existing.first() {
            Some(p) => Uuid::parse_str(&p.user_handle)
                .map_err(|_| Internal::Stored("passkey user handle"))?,
            None => Uuid::new_v4(),
        };
        let exclude = existing
            .iter()
            .map(|p| parse_passkey(p).map(|k| k.cred_id().clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let (options, state) = self
            .webauthn
            .start_passkey_registration(
                user_handle,
                &account.username,
                &account.name(),
                Some(exclude),
            )
            .map_err(|e| PasskeyError::Rejected(e.to_string()))?;
        // Sign-in without a username needs a discoverable credential (a resident key):
        // required, not the library's "discouraged" (docs/decisions.md "Passkeys library").
        let mut options = serde_json::to_value(&options).map_err(Internal::from)?;
        if let Some(sel) = options
            .pointer_mut("/publicKey/authenticatorSelection")
            .and_then(|v| v.as_object_mut())
        {
            sel.insert("residentKey".into(), "required".into());
            sel.insert("requireResidentKey".into(), true.into());
        }
        let stored =
            serde_json::to_string(&Registration { state, user_handle }).map_err(Internal::from)?;
        storage
            .put_ceremony(
                &register_key(sid),
                REGISTER,
                Some(&account.sub),
                &stored,
                now() + CEREMONY_SECONDS,
            )
            .await?;
        Ok(options)
    }

    /// Verifies the browser's answer to the registration started in session `sid`; the new
    /// passkey's row (not stored yet: the caller stores it with its audit record).
    pub async fn finish_registration(
        &self,
        storage: &Storage,
        account: &Account,
        sid: &str,
        credential: &str,
        name: &str,
    ) -> Result<StoredPasskey, PasskeyError> {
        let ceremony = take(storage, &register_key(sid), REGISTER, Some(&account.sub)).await?;
        let reg: Registration = serde_json::from_str(&ceremony)
            .map_err(|_| Internal::Stored("passkey registration"))?;
        let answer: RegisterPublicKeyCredential =
            serde_json::from_str(credential).map_err(|e| PasskeyError::Malformed(e.to_string()))?;
        let passkey = self
            .webauthn
            .finish_passkey_registration(&answer, &reg.state)
            .map_err(|e| PasskeyError::Rejected(e.to_string()))?;
        let cred = Credential::from(passkey.clone());
        let t = now();
        Ok(StoredPasskey {
            id: PlainToken::generate_with_bytes(12).expose().to_owned(),
            sub: account.sub.clone(),
            credential_id: b64url(passkey.cred_id()),
            user_handle: reg.user_handle.to_string(),
            name: name.to_owned(),
            credential: serde_json::to_string(&passkey).map_err(Internal::from)?,
            sign_count: i64::from(cred.counter),
            backup_eligible: i64::from(cred.backup_eligible),
            backup_state: i64::from(cred.backup_state),
            created_at: t,
            last_used_at: None,
        })
    }

    /// Starts a sign-in for the interaction `login`: with `account`'s passkeys after its
    /// password, or (no account yet) with any discoverable one.
    pub async fn start_login(
        &self,
        storage: &Storage,
        login: &str,
        account: Option<&Account>,
    ) -> Result<RequestChallengeResponse, PasskeyError> {
        let (options, kind, stored) = match account {
            Some(a) => {
                let keys = storage
                    .passkeys_of(&a.sub)
                    .await?
                    .iter()
                    .map(parse_passkey)
                    .collect::<Result<Vec<_>, _>>()?;
                if keys.is_empty() {
                    return Err(PasskeyError::UnknownCredential);
                }
                let (options, state) = self
                    .webauthn
                    .start_passkey_authentication(&keys)
                    .map_err(|e| PasskeyError::Rejected(e.to_string()))?;
                let stored = serde_json::to_string(&state).map_err(Internal::from)?;
                (options, SECOND_FACTOR, stored)
            }
            None => {
                let (mut options, state) = self
                    .webauthn
                    .start_discoverable_authentication()
                    .map_err(|e| PasskeyError::Rejected(e.to_string()))?;
                // Asked for with a button, so a modal dialog rather than autofill.
                options.mediation = None;
                let stored = serde_json::to_string(&state).map_err(Internal::from)?;
                (options, DISCOVER, stored)
            }
        };
        storage
            .put_ceremony(
                &login_key(login),
                kind,
                account.map(|a| &a.sub),
                &stored,
                now() + CEREMONY_SECONDS,
            )
            .await?;
        Ok(options)
    }

    /// Verifies the browser's answer to the sign-in started for interaction `login`; for the
    /// second factor, `account` is the one whose password was right. The counter and flags
    /// are recorded. The account must still be active (the caller checks the lockout).
    pub async fn finish_login(
        &self,
        storage: &Storage,
        login: &str,
        account: Option<&Account>,
        credential: &str,
    ) -> Result<SignedIn, PasskeyError> {
        let kind = if account.is_some() {
            SECOND_FACTOR
        } else {
            DISCOVER
        };
        let state = take(storage, &login_key(login), kind, account.map(|a| &a.sub)).await?;
        let answer: PublicKeyCredential =
            serde_json::from_str(credential).map_err(|e| PasskeyError::Malformed(e.to_string()))?;
        let row = storage
            .passkey_by_credential(&b64url(answer.get_credential_id()))
            .await?
            .ok_or(PasskeyError::UnknownCredential)?;
        let mut passkey = parse_passkey(&row)?;
        let result = match account {
            Some(a) => {
                if row.sub != a.sub {
                    return Err(PasskeyError::UnknownCredential);
                }
                let state: PasskeyAuthentication = serde_json::from_str(&state)
                    .map_err(|_| Internal::Stored("passkey authentication"))?;
                self.webauthn
                    .finish_passkey_authentication(&answer, &state)
                    .map_err(|e| PasskeyError::Rejected(e.to_string()))?
            }
            None => {
                // The authenticator names the account by the user handle it was given at
                // registration: it must be the one stored with this credential.
                let (handle, _) = self
                    .webauthn
                    .identify_discoverable_authentication(&answer)
                    .map_err(|e| PasskeyError::Malformed(e.to_string()))?;
                if handle.to_string() != row.user_handle {
                    return Err(PasskeyError::WrongUser);
                }
                let state: DiscoverableAuthentication = serde_json::from_str(&state)
                    .map_err(|_| Internal::Stored("passkey authentication"))?;
                self.webauthn
                    .finish_discoverable_authentication_v2(&answer, state, &passkey)
                    .map_err(|e| PasskeyError::Rejected(e.to_string()))?
            }
        };
        passkey.update_credential(&result);
        let cred = Credential::from(passkey.clone());
        let stored = serde_json::to_string(&passkey).map_err(Internal::from)?;
        let recorded = storage
            .record_passkey_use(
                &row.id,
                &stored,
                i64::from(cred.counter),
                cred.backup_eligible,
                cred.backup_state,
                now(),
            )
            .await?;
        if !recorded {
            return Err(PasskeyError::Counter);
        }
        let account = match account {
            Some(a) => a.clone(),
            None => storage
                .account(&row.sub)
                .await?
                .filter(|a| a.status == AccountStatus::Active)
                .ok_or(PasskeyError::UnknownCredential)?,
        };
        let method = if cred.backup_eligible {
            Method::SoftwareKey
        } else {
            Method::HardwareKey
        };
        Ok(SignedIn {
            account,
            passkey: row,
            method,
        })
    }
}

/// What a passkey sign-in adds to the methods proved so far.
pub fn proved(amr: Amr, method: Method) -> Amr {
    amr.with(method).with(Method::UserPresence)
}

fn register_key(sid: &str) -> String {
    format!("register:{sid}")
}

fn login_key(login: &str) -> String {
    format!("login:{login}")
}

/// Takes the ceremony under `key` if it is of `kind`, for `sub`, and unexpired; its state.
async fn take(
    storage: &Storage,
    key: &str,
    kind: &str,
    sub: Option<&Subject>,
) -> Result<String, PasskeyError> {
    let c = storage
        .take_ceremony(key)
        .await?
        .ok_or(PasskeyError::NoCeremony)?;
    if c.kind != kind || c.sub.as_ref() != sub {
        return Err(PasskeyError::NoCeremony);
    }
    if c.expires_at <= now() {
        return Err(PasskeyError::Expired);
    }
    Ok(c.state)
}

fn parse_passkey(p: &StoredPasskey) -> Result<Passkey, PasskeyError> {
    serde_json::from_str(&p.credential)
        .map_err(|_| PasskeyError::Internal(Internal::Stored("passkey credential")))
}

/// A passkey's name as the person typed it: trimmed, 1–[`MAX_NAME`] characters, no control
/// characters. `None` when empty or unusable.
pub fn parse_name(s: &str) -> Option<String> {
    let s = s.trim();
    let n = s.chars().count();
    ((1..=MAX_NAME).contains(&n) && !s.chars().any(char::is_control)).then(|| s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            parse_name("  Klíč v notebooku ").as_deref(),
            Some("Klíč v notebooku")
        );
        assert_eq!(parse_name("   "), None);
        assert_eq!(parse_name("a\nb"), None);
        assert!(parse_name(&"x".repeat(MAX_NAME)).is_some());
        assert!(parse_name(&"x".repeat(MAX_NAME + 1)).is_none());
    }

    #[test]
    fn no_relying_party_for_an_ip_address_or_when_disabled() {
        let mut c = Config {
            issuer: "http://127.0.0.1:8080".into(),
            ..Config::default()
        };
        assert!(RelyingParty::new(&c).is_none());
        c.issuer = "http://localhost:8080".into();
        assert!(RelyingParty::new(&c).is_some());
        c.passkeys.rp_id = Some("example.org".into());
        assert!(
            RelyingParty::new(&c).is_none(),
            "RP ID not a suffix of the host"
        );
        c.passkeys.rp_id = None;
        c.passkeys.enabled = false;
        assert!(RelyingParty::new(&c).is_none());
    }
}
