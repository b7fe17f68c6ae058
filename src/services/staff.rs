//! MPSV staff accounts (operators, administrators): created with the same rules and the same
//! audit record whether an administrator creates one through the API or operations staff at
//! the server (`mpsv-idp staff add`). Staff are not MPSV's clients: no consent, and always a
//! privileged role (TOTP enrolled at the first sign-in).

use super::password_links::{self, Link};
use super::Services;
use crate::audit::{Event, Record};
use crate::domain::account::{Account, Role, Username};
use crate::domain::person::Person;
use crate::registry::{Actor, RegistryError, Result};
use crate::secrets::{now, PlainToken};

/// How long a new staff member's link to set the first password stays valid.
pub const WELCOME_LINK_SECONDS: i64 = 72 * 3600;

/// A new staff member as received.
#[derive(Debug, Clone)]
pub struct NewStaff {
    pub username: String,
    pub given_name: String,
    pub family_name: String,
    pub email: Option<String>,
    /// `operator` or `administrator`.
    pub role: String,
}

/// How the first password is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstPassword {
    /// Through a single-use link mailed to the person (valid [`WELCOME_LINK_SECONDS`]), so the
    /// administrator never knows it (issue 11.10); the account's own password is random and
    /// known to nobody. Requires an e-mail address.
    Mailed,
    /// Given at the server by operations staff; `initial_until`: it must be changed at the
    /// first sign-in and cannot be used after then.
    Given { initial_until: Option<i64> },
}

impl FirstPassword {
    fn as_str(self) -> &'static str {
        match self {
            FirstPassword::Mailed => "mailed",
            FirstPassword::Given {
                initial_until: None,
            } => "given",
            FirstPassword::Given { .. } => "initial",
        }
    }
}

/// A new staff member, checked before the (slow) password hash is computed.
#[derive(Debug, Clone)]
pub struct Checked {
    username: Username,
    person: Person,
    role: Role,
    first: FirstPassword,
}

impl Checked {
    pub fn username(&self) -> &Username {
        &self.username
    }

    pub fn role(&self) -> Role {
        self.role
    }
}

/// The rules for a staff account, whoever creates it.
pub fn check(n: &NewStaff, first: FirstPassword) -> Result<Checked> {
    let role = Role::parse(&n.role)?;
    if !role.privileged() {
        // MPSV rule 3: no consent, no account.
        return Err(RegistryError::Invalid(
            "staff are operators or administrators; a client's account is created from a \
             consent"
                .into(),
        ));
    }
    let username = Username::parse(&n.username)?;
    let person = Person::new(&n.given_name, &n.family_name, n.email.as_deref())?;
    if first == FirstPassword::Mailed && person.email.is_none() {
        return Err(RegistryError::Invalid(
            "staff need an e-mail address: the link to set their password is sent there".into(),
        ));
    }
    Ok(Checked {
        username,
        person,
        role,
        first,
    })
}

/// Creates the account with `password_hash`, its audit record (`staff.created`: username,
/// role, e-mail, how the password is set) and, for [`FirstPassword::Mailed`], the link, all in
/// one transaction. Returns the account and the link's token for the caller to mail
/// (`mail::send_password_link`) once committed.
pub async fn create(
    s: Services<'_>,
    actor: Actor<'_>,
    new: Checked,
    password_hash: String,
    ip: Option<String>,
) -> Result<(Account, Option<PlainToken>)> {
    let t = now();
    let mut a = Account::new(
        &new.username,
        &new.person.given_name,
        &new.person.family_name,
        new.person.email.clone(),
        password_hash,
        t,
    );
    a.role = new.role;
    match new.first {
        FirstPassword::Mailed => {
            a.must_change_password = true;
            a.initial_password_expires_at = Some(t + WELCOME_LINK_SECONDS);
        }
        FirstPassword::Given {
            initial_until: Some(until),
        } => {
            a.must_change_password = true;
            a.initial_password_expires_at = Some(until);
        }
        FirstPassword::Given {
            initial_until: None,
        } => {}
    }
    let mut tx = s.storage.begin_write().await?;
    s.storage.insert_account_in(&mut tx, &a).await?;
    s.audit
        .append(
            &mut tx,
            Record::new(Event::StaffCreated)
                .actor(actor)
                .subject(a.sub.clone())
                .ip(ip.clone())
                .detail("username", a.username.clone())
                .detail("role", a.role.as_str())
                .detail("email", a.email.clone().unwrap_or_default())
                .detail("password_setup", new.first.as_str()),
        )
        .await?;
    let link = match new.first {
        FirstPassword::Mailed => Some(
            password_links::issue_in(
                s.storage,
                s.audit,
                &mut tx,
                &a,
                WELCOME_LINK_SECONDS,
                Link::Welcome,
                ip,
            )
            .await?,
        ),
        FirstPassword::Given { .. } => None,
    };
    crate::registry::commit(tx).await?;
    Ok((a, link))
}
