//! Accounts of MPSV's clients (rules 3 and 5): created only for a person with an active
//! consent, with a random initial password that is printed on a credentials letter to the
//! organisation's seat and never stored in clear. Re-issuing a letter resets the password,
//! so the previous letter stops working.

use rand::RngExt;
use secrecy::SecretString;

use super::{Actor, RegistryError, Result};
use crate::app::AppState;
use crate::audit::{Event, Record};
use crate::domain::account::{Account, Username};
use crate::domain::date::Date;
use crate::domain::id::{OrganisationId, Subject};
use crate::domain::password_policy::Candidate;
use crate::domain::person::Person;
use crate::letter::{self, Letter};
use crate::secrets::now;
use crate::storage::people::LetterRecord;

/// A letter ready to be sent: the PDF and its reference. The initial password is inside the
/// PDF only.
pub struct IssuedLetter {
    pub reference: String,
    pub pdf: Vec<u8>,
    pub username: String,
    pub password_expires_at: i64,
}

impl std::fmt::Debug for IssuedLetter {
    /// Never prints the PDF (it carries the password).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedLetter")
            .field("reference", &self.reference)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Unambiguous characters for passwords read off paper (no 0/O, 1/l/I).
const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A random initial password: four groups of four characters (≈ 92 bits), easy to type from
/// a letter.
fn initial_password() -> String {
    let mut rng = rand::rng();
    (0..4)
        .map(|_| {
            (0..4)
                .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// Creates the account of a person with an active consent and issues its first letter,
/// addressed to `organisation_id` (one the person holds a consent for). `username` defaults
/// to `given.family`, numbered when taken.
pub async fn create(
    state: &AppState,
    actor: Actor<'_>,
    person_sub: &Subject,
    organisation_id: &OrganisationId,
    username: Option<Username>,
) -> Result<IssuedLetter> {
    let storage = &state.storage;
    let person = storage
        .person(person_sub)
        .await?
        .ok_or(RegistryError::NotFound("person"))?;
    // MPSV rule 3: no consent, no account.
    if !storage.has_active_consent(&person.sub).await? || person.mpsv_client_id.is_none() {
        return Err(RegistryError::Refused(
            "the person has no active consent: record a signed consent first",
        ));
    }
    if storage.account(&person.sub).await?.is_some() {
        return Err(RegistryError::Conflict("an account for this person"));
    }
    let username = match username {
        Some(u) => u,
        None => free_username(state, &person).await?,
    };
    let (password, hash, t, expires_at) = new_password(state, &person, &username).await?;
    let mut account = Account::new(
        &username,
        &person.given_name,
        &person.family_name,
        person.email.clone(),
        hash,
        t,
    );
    account.sub = person.sub.clone();
    account.must_change_password = true;
    account.initial_password_expires_at = Some(expires_at);
    // The letter first: a wrong organisation changes nothing.
    let letter = render(
        state,
        &person,
        &account.username,
        organisation_id,
        &password,
        expires_at,
    )
    .await?;
    let mut tx = storage.begin_write().await?;
    storage.insert_account_in(&mut tx, &account).await?;
    record_letter(
        state,
        &mut tx,
        actor,
        &person,
        organisation_id,
        &letter,
        Some(
            Record::new(Event::AccountCreated)
                .actor(actor)
                .subject(person.sub.clone())
                .detail("username", username.as_str()),
        ),
    )
    .await?;
    super::commit(tx).await?;
    Ok(letter)
}

/// Re-issues the letter: a new initial password replaces the current one (the previous
/// letter stops working) and every session of the person ends.
pub async fn reissue_letter(
    state: &AppState,
    actor: Actor<'_>,
    person_sub: &Subject,
    organisation_id: &OrganisationId,
) -> Result<IssuedLetter> {
    let storage = &state.storage;
    let person = storage
        .person(person_sub)
        .await?
        .ok_or(RegistryError::NotFound("person"))?;
    let account = storage
        .account(person_sub)
        .await?
        .ok_or(RegistryError::NotFound("account"))?;
    let username = Username::parse(&account.username)?;
    let (password, hash, t, expires_at) = new_password(state, &person, &username).await?;
    // The letter first: a wrong organisation leaves the current password and sessions alone.
    let letter = render(
        state,
        &person,
        &account.username,
        organisation_id,
        &password,
        expires_at,
    )
    .await?;
    // The new password, the end of every session and the letter's record commit together.
    let mut tx = storage.begin_write().await?;
    storage
        .set_password_in(&mut tx, person_sub, &hash, t, true, Some(expires_at))
        .await?;
    let ended = end_all_sessions_in(state, &mut tx, person_sub).await?;
    record_letter(
        state,
        &mut tx,
        actor,
        &person,
        organisation_id,
        &letter,
        None,
    )
    .await?;
    super::commit(tx).await?;
    crate::session::notify_ended(state, ended);
    storage.delete_login_requests_of(person_sub).await?;
    Ok(letter)
}

/// Ends every live session of the person in the caller's transaction; the back-channel
/// logouts go out after the commit (`session::notify_ended`).
async fn end_all_sessions_in(
    state: &AppState,
    tx: &mut crate::storage::Tx,
    sub: &Subject,
) -> Result<Vec<crate::storage::sessions::EndedSession>> {
    let mut ended = Vec::new();
    for s in state.storage.sessions_of(sub).await? {
        let e = state.storage.end_session_in(tx, &s.sid).await?;
        ended.push((s.sid, e));
    }
    Ok(ended)
}

async fn free_username(state: &AppState, person: &Person) -> Result<Username> {
    let base = person.proposed_username()?;
    for n in 1..1000 {
        let candidate = if n == 1 {
            base.clone()
        } else {
            Username::parse(&format!("{}{n}", base.as_str()))?
        };
        if state
            .storage
            .account_by_username(candidate.as_str())
            .await?
            .is_none()
        {
            return Ok(candidate);
        }
    }
    Err(RegistryError::Refused(
        "no free username: give one explicitly",
    ))
}

/// A random initial password that passes the policy, its Argon2id hash, when it was issued
/// and until when it works.
async fn new_password(
    state: &AppState,
    person: &Person,
    username: &Username,
) -> Result<(String, String, i64, i64)> {
    loop {
        let password = initial_password();
        let ok = state
            .config
            .password
            .check(&Candidate {
                password: &password,
                username: username.as_str(),
                given_name: &person.given_name,
                family_name: &person.family_name,
                privileged: false,
            })
            .is_ok();
        if ok {
            let hash = state
                .passwords
                .hash(SecretString::from(password.clone()))
                .await?;
            let t = now();
            let expires_at = state.config.password.initial_password_expires_at(t);
            return Ok((password, hash, t, expires_at));
        }
    }
}

/// Renders the letter to the organisation's seat (checking that the person holds a consent
/// there); writes nothing.
async fn render(
    state: &AppState,
    person: &Person,
    username: &str,
    organisation_id: &OrganisationId,
    password: &str,
    expires_at: i64,
) -> Result<IssuedLetter> {
    let storage = &state.storage;
    let organisation = storage
        .organisation(organisation_id)
        .await?
        .ok_or(RegistryError::NotFound("organisation"))?;
    let affiliation = storage
        .affiliation(&person.sub, organisation_id, now())
        .await?
        .ok_or(RegistryError::Refused(
            "the person has no active consent for this organisation",
        ))?;
    let today = Date::in_prague(now());
    let reference = format!(
        "MPSV-IDP/{}/{}",
        &today.to_string()[..4],
        uuid::Uuid::new_v4().simple().to_string()[..8].to_uppercase()
    );
    let letter = Letter {
        organisation_name: organisation.name.clone(),
        organisation_ico: organisation.ico.as_str().to_owned(),
        seat_street: organisation.seat.street.clone(),
        seat_postcode: organisation.seat.postcode.clone(),
        seat_city: organisation.seat.city.clone(),
        person_name: person.name(),
        username: username.to_owned(),
        initial_password: password.to_owned(),
        mpsv_client_id: person
            .mpsv_client_id
            .as_ref()
            .map(|i| i.as_str().to_owned())
            .unwrap_or_default(),
        applications: affiliation
            .apps()
            .into_iter()
            .map(|a| a.name().to_owned())
            .collect(),
        login_url: state.config.issuer.clone(),
        issued_on: today.czech(),
        expires_on: Date::in_prague(expires_at).czech(),
        reference: reference.clone(),
    };
    let pdf = letter::render(&letter).map_err(crate::error::Internal::from)?;
    Ok(IssuedLetter {
        reference,
        pdf,
        username: username.to_owned(),
        password_expires_at: expires_at,
    })
}

/// Records and audits the issue of a rendered letter, in the caller's transaction, as its last
/// writes (`first`: a record that goes before the letter's, e.g. the account's creation).
async fn record_letter(
    state: &AppState,
    tx: &mut crate::storage::Tx,
    actor: Actor<'_>,
    person: &Person,
    organisation_id: &OrganisationId,
    letter: &IssuedLetter,
    first: Option<Record>,
) -> Result<()> {
    state
        .storage
        .insert_letter_in(
            tx,
            &LetterRecord {
                reference: &letter.reference,
                person_sub: &person.sub,
                organisation_id,
                issued_by: actor,
                password_expires_at: letter.password_expires_at,
            },
        )
        .await?;
    if let Some(r) = first {
        state.audit.append(tx, r).await?;
    }
    state
        .audit
        .append(
            tx,
            Record::new(Event::LetterIssued)
                .actor(actor)
                .subject(person.sub.clone())
                .detail("reference", letter.reference.clone())
                .detail("organisation_id", organisation_id)
                .detail("username", letter.username.clone())
                .detail("password_expires_at", letter.password_expires_at),
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_passwords_are_long_random_and_readable() {
        let a = initial_password();
        assert_eq!(a.len(), 19);
        assert_ne!(a, initial_password());
        assert!(a.chars().all(|c| c == '-' || ALPHABET.contains(&(c as u8))));
        assert!(!a.contains(['0', 'O', '1', 'l', 'I']));
    }
}

/// What staff may do to an account's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusAction {
    Lock,
    Unlock,
    Disable,
    Enable,
}

impl std::str::FromStr for StatusAction {
    type Err = RegistryError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "lock" => Ok(StatusAction::Lock),
            "unlock" => Ok(StatusAction::Unlock),
            "disable" => Ok(StatusAction::Disable),
            "enable" => Ok(StatusAction::Enable),
            _ => Err(RegistryError::Invalid(
                "action must be lock, unlock, disable or enable".into(),
            )),
        }
    }
}

impl StatusAction {
    pub fn as_str(self) -> &'static str {
        match self {
            StatusAction::Lock => "lock",
            StatusAction::Unlock => "unlock",
            StatusAction::Disable => "disable",
            StatusAction::Enable => "enable",
        }
    }
}

/// Locks, unlocks, disables or enables an account (audited). Locking and disabling end the
/// person's sessions with back-channel logout; unlocking also lifts a temporary lock left by
/// failed logins. Who may do this to whom is the caller's decision.
pub async fn set_status(
    state: &AppState,
    actor: Actor<'_>,
    sub: &Subject,
    action: StatusAction,
    reason: &str,
) -> Result<()> {
    let status = match action {
        StatusAction::Lock => crate::domain::account::AccountStatus::Locked,
        StatusAction::Disable => crate::domain::account::AccountStatus::Disabled,
        StatusAction::Unlock | StatusAction::Enable => {
            crate::domain::account::AccountStatus::Active
        }
    };
    let mut tx = state.storage.begin_write().await?;
    if !state
        .storage
        .set_account_status_in(&mut tx, sub, status)
        .await?
    {
        return Err(RegistryError::NotFound("account"));
    }
    let ended = match action {
        StatusAction::Unlock | StatusAction::Enable => {
            state.storage.record_login_success_in(&mut tx, sub).await?;
            Vec::new()
        }
        StatusAction::Lock | StatusAction::Disable => {
            end_all_sessions_in(state, &mut tx, sub).await?
        }
    };
    state
        .audit
        .append(
            &mut tx,
            Record::new(Event::AccountStatusChanged)
                .actor(actor)
                .subject(sub)
                .detail("action", action.as_str())
                .detail("reason", reason),
        )
        .await?;
    super::commit(tx).await?;
    crate::session::notify_ended(state, ended);
    Ok(())
}

/// Removes the person's second factors — TOTP with its recovery codes, and every passkey —
/// and ends their sessions, after an operator checked who is asking (the recovery for a
/// person who lost them all: docs/decisions.md "Passkeys: recovery"); audited with what was
/// removed. They sign in with the password again and may enrol new factors.
pub async fn reset_second_factors(state: &AppState, actor: Actor<'_>, sub: &Subject) -> Result<()> {
    let mut tx = state.storage.begin_write().await?;
    let (totp, passkeys) = state
        .storage
        .lock_second_factors(&mut tx, sub)
        .await?
        .ok_or(RegistryError::NotFound("account"))?;
    state.storage.remove_totp(&mut tx, sub).await?;
    state.storage.delete_passkeys_of(&mut tx, sub).await?;
    let ended = end_all_sessions_in(state, &mut tx, sub).await?;
    state
        .audit
        .append(
            &mut tx,
            Record::new(Event::SecondFactorsReset)
                .actor(actor)
                .subject(sub)
                .detail("totp", totp)
                .detail("passkeys", passkeys)
                .detail("sessions", ended.len()),
        )
        .await?;
    super::commit(tx).await?;
    crate::session::notify_ended(state, ended);
    Ok(())
}

/// Ends every session of the person ("sign out everywhere"), with back-channel logout;
/// audited. Returns how many ended.
pub async fn end_sessions(state: &AppState, actor: Actor<'_>, sub: &Subject) -> Result<usize> {
    let mut tx = state.storage.begin_write().await?;
    let ended = end_all_sessions_in(state, &mut tx, sub).await?;
    let n = ended.len();
    state
        .audit
        .append(
            &mut tx,
            Record::new(Event::SessionsEndedByStaff)
                .actor(actor)
                .subject(sub)
                .detail("sessions", n),
        )
        .await?;
    super::commit(tx).await?;
    crate::session::notify_ended(state, ended);
    Ok(n)
}
