//! Interactions: a login in progress, as data. The protocol (`oidc::authorize`) starts one
//! when a request needs the person, the pages (`web/`) move it through its stages, and the
//! protocol finishes it at `/authorize/resume` once it has an [`Outcome`] — the split node
//! oidc-provider makes between "interactions" and the protocol, and Ory Hydra between the
//! OAuth 2.0 server and its login UI. Neither side imports the other; both import this.
//!
//! An interaction is stored (`login_requests`) with the request it serves ([`Purpose`]), the
//! [`Stage`] it waits at, the person once the password was right, and the methods passed so
//! far. Every form is bound to it and to one browser by a CSRF token (stored hashed, echoed
//! in a cookie: OWASP CSRF Prevention Cheat Sheet, synchronizer token); the binding is renewed
//! when the password was right (OWASP Session Management Cheat Sheet: renew on privilege
//! change).

pub mod organisation;
pub mod request;

use axum::http::header;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::domain::account::{Account, AccountStatus};
use crate::domain::amr::{Amr, Method};
use crate::domain::id::{OrganisationId, Subject};
use crate::error::{Internal, PageError};
use crate::http::cookies::{self, CsrfCookie};
use crate::http::params::Params;
use crate::pages::i18n::Lang;
use crate::secrets::{now, HashedToken, PlainToken};
use crate::storage::login_requests::LoginRequest;
use crate::storage::sessions::Session;
pub use request::{AuthorizationRequest, ResponseMode};

/// What an interaction is for: where the person goes once it is done.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Purpose {
    /// An authorization request: back to a relying party (through `/authorize/resume`).
    Authorize(Box<AuthorizationRequest>),
    /// The person's own account page.
    Account { lang: Lang },
    /// The staff console (`/admin`).
    Console { lang: Lang },
}

impl Purpose {
    pub fn lang(&self) -> Lang {
        match self {
            Purpose::Authorize(r) => r.lang,
            Purpose::Account { lang } | Purpose::Console { lang } => *lang,
        }
    }
}

/// Where an interaction waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Username and password (`/login`).
    Password,
    /// The TOTP code or a recovery code, when the account has a second factor.
    SecondFactor,
    /// A new password, when the current one is initial or too old.
    ChangePassword,
    /// TOTP enrolment, when the account is privileged and has none yet.
    Enrol,
    /// This login enrolled (and so proved) a second factor; its recovery codes are shown.
    Enrolled,
    /// Which organisation the person acts for in the application.
    Organisation,
    /// The person may not use the application; a page says why (DESIGN: "Application
    /// entitlement") and its button returns `access_denied` to the client.
    NoAccess,
    /// The application asked for the MFA level and the account has no second factor: a page
    /// says why one is needed and how to set it up; its button returns
    /// `unmet_authentication_requirements` to the client.
    MfaRequired,
    /// Done: the protocol finishes it (see [`Interaction::outcome`]).
    Done,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Password => "password",
            Stage::SecondFactor => "otp",
            Stage::ChangePassword => "change",
            Stage::Enrol => "enrol",
            Stage::Enrolled => "enrolled",
            Stage::Organisation => "organisation",
            Stage::NoAccess => "no_access",
            Stage::MfaRequired => "mfa_required",
            Stage::Done => "done",
        }
    }

    fn parse(s: &str) -> Option<Stage> {
        [
            Stage::Password,
            Stage::SecondFactor,
            Stage::ChangePassword,
            Stage::Enrol,
            Stage::Enrolled,
            Stage::Organisation,
            Stage::NoAccess,
            Stage::MfaRequired,
            Stage::Done,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

/// What a finished interaction gives the protocol to answer the client with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The person signed in (the session cookie was set): decide the rest with the session.
    Authenticated,
    /// The person chose the organisation they act for.
    ActsFor(OrganisationId),
    /// The person may not use the application and has read why.
    Denied,
    /// The MFA level cannot be met (no second factor), and the person has read why.
    MfaUnavailable,
}

/// A login in progress.
#[derive(Debug, Clone)]
pub struct Interaction {
    pub id: String,
    pub client_id: String,
    pub purpose: Purpose,
    pub stage: Stage,
    /// The person, once the password was right (or the session's, for the stages after it).
    pub sub: Option<Subject>,
    /// Authentication methods passed so far.
    pub amr: Amr,
    pub expires_at: i64,
    organisation_id: Option<OrganisationId>,
    csrf_hash: String,
}

impl Interaction {
    fn from_row(row: LoginRequest) -> Result<Self, Internal> {
        let purpose: Purpose =
            serde_json::from_str(&row.params).map_err(|e| Internal::StoredParse {
                what: "interaction",
                cause: Box::new(e),
            })?;
        let stage = Stage::parse(&row.stage).ok_or(Internal::Stored("interaction stage"))?;
        Ok(Self {
            id: row.id,
            client_id: row.client_id,
            purpose,
            stage,
            sub: row.sub,
            amr: row.amr,
            expires_at: row.expires_at,
            organisation_id: row.organisation_id,
            csrf_hash: row.csrf_hash,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn lang(&self) -> Lang {
        self.purpose.lang()
    }

    /// Is it bound to the browser that sent this CSRF cookie? (Checked where no form comes
    /// back, as at the callback from an upstream identity provider.)
    pub fn bound_to(&self, cookie: &CsrfCookie) -> bool {
        cookie
            .token()
            .is_some_and(|c| HashedToken::from_stored(self.csrf_hash.clone()).matches(c.expose()))
    }

    /// The authorization request it serves, if any.
    pub fn request(&self) -> Option<&AuthorizationRequest> {
        match &self.purpose {
            Purpose::Authorize(r) => Some(r),
            Purpose::Account { .. } | Purpose::Console { .. } => None,
        }
    }

    /// What the protocol finishes it with; `None` while it is still at a page.
    pub fn outcome(&self) -> Option<Outcome> {
        match self.stage {
            Stage::Done => Some(match &self.organisation_id {
                Some(org) => Outcome::ActsFor(org.clone()),
                None => Outcome::Authenticated,
            }),
            Stage::NoAccess => Some(Outcome::Denied),
            Stage::MfaRequired => Some(Outcome::MfaUnavailable),
            _ => None,
        }
    }

    /// The page of the stage it is at (or, when done, where the protocol finishes it).
    pub fn url(&self, lang: Lang) -> String {
        let page = match self.stage {
            Stage::Password => "/login",
            Stage::SecondFactor => "/login/otp",
            Stage::ChangePassword => "/login/password",
            Stage::Enrol | Stage::Enrolled => "/login/totp",
            Stage::Organisation => "/login/organisation",
            Stage::NoAccess => "/login/denied",
            Stage::MfaRequired => "/login/mfa",
            Stage::Done => return resume_url(&self.id),
        };
        format!("{page}?id={}&lang={}", self.id, lang.code())
    }
}

/// Where the protocol finishes an interaction.
pub fn resume_url(id: &str) -> String {
    format!("/authorize/resume?id={id}")
}

/// Starts an interaction at the password stage (bound to a browser when its form is shown).
/// `None`: the client address holds too many pending ones already (issue 11.8); expired ones
/// are purged by the upkeep task.
pub async fn start(
    state: &AppState,
    client_id: &str,
    purpose: Purpose,
) -> Result<Option<Interaction>, Internal> {
    insert(state, client_id, purpose, &PlainToken::generate()).await
}

/// Starts an interaction for the person of `session` at `stage` (after the login: the
/// organisation choice or the refusal), bound to this browser by the returned token, which
/// the caller sets as the CSRF cookie ([`binding_cookie`]).
pub async fn start_for_session(
    state: &AppState,
    client_id: &str,
    purpose: Purpose,
    session: &Session,
    stage: Stage,
) -> Result<Option<(Interaction, PlainToken)>, Internal> {
    let binding = PlainToken::generate();
    let Some(mut i) = insert(state, client_id, purpose, &binding).await? else {
        return Ok(None);
    };
    state
        .storage
        .advance_login_request(&i.id, &session.sub, stage.as_str(), &session.amr)
        .await?;
    i.stage = stage;
    i.sub = Some(session.sub.clone());
    i.amr = session.amr.clone();
    Ok(Some((i, binding)))
}

async fn insert(
    state: &AppState,
    client_id: &str,
    purpose: Purpose,
    binding: &PlainToken,
) -> Result<Option<Interaction>, Internal> {
    let id = PlainToken::generate();
    let params = serde_json::to_string(&purpose).map_err(Internal::from)?;
    let source = crate::http::client::current_source();
    let expires_at = now() + state.config.tokens.login_request;
    let csrf_hash = binding.hashed();
    let stored = state
        .storage
        .insert_login_request(
            id.expose(),
            &csrf_hash,
            client_id,
            &params,
            expires_at,
            &source,
            state.config.limits.pending_logins_per_address,
        )
        .await?;
    if !stored {
        tracing::warn!(source = %source, "too many pending logins from one address");
        return Ok(None);
    }
    Ok(Some(Interaction {
        id: id.expose().to_owned(),
        client_id: client_id.to_owned(),
        purpose,
        stage: Stage::Password,
        sub: None,
        amr: Amr::default(),
        expires_at,
        organisation_id: None,
        csrf_hash: csrf_hash.as_str().to_owned(),
    }))
}

/// The interaction `id` names, unexpired; `login.expired` otherwise.
pub async fn load(
    state: &AppState,
    id: Option<&str>,
    lang: Lang,
) -> Result<Interaction, PageError> {
    let expired = || PageError::bad_request("login.expired", "", lang);
    let id = id.filter(|i| i.len() <= 64).ok_or_else(expired)?;
    let row = state.storage.login_request(id).await?.ok_or_else(expired)?;
    Ok(Interaction::from_row(row)?)
}

/// The token that binds an interaction to one browser (double-submit cookie, stored hashed
/// with it). At the password stage the browser's token is reused when present (two tabs can
/// log in at once) and the interaction is bound to it. After the password it is bound to a
/// fresh token given only to the browser that entered it (see [`advance`]), and later pages
/// never re-bind: whoever knows the id but lacks that cookie gets `login.expired`.
pub async fn bind_csrf(
    state: &AppState,
    cookie: &CsrfCookie,
    i: &Interaction,
) -> Result<PlainToken, PageError> {
    if i.stage != Stage::Password {
        return cookie
            .token()
            .filter(|c| HashedToken::from_stored(i.csrf_hash.clone()).matches(c.expose()))
            .map(|c| PlainToken::from_received(c.expose()))
            .ok_or_else(|| PageError::bad_request("login.expired", "", i.lang()));
    }
    let csrf = cookie.or_new();
    state
        .storage
        .set_login_request_csrf(&i.id, &csrf.hashed())
        .await?;
    Ok(csrf)
}

/// The `Set-Cookie` value that gives a browser the interaction's binding token (valid as
/// long as the interaction).
pub fn binding_cookie(
    state: &AppState,
    binding: &PlainToken,
    i: &Interaction,
) -> Option<axum::http::HeaderValue> {
    let max_age = (i.expires_at - now()).max(0);
    state
        .cookies
        .set(cookies::CSRF, binding.expose(), Some(max_age))
}

/// Adds the binding cookie to a response.
pub fn with_csrf_cookie(
    state: &AppState,
    mut r: Response,
    binding: &PlainToken,
    i: &Interaction,
) -> Response {
    if let Some(v) = binding_cookie(state, binding, i) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// The posted form's CSRF token must equal the cookie and hash to the one stored for this
/// interaction. A failure is refused without re-binding it to the sender.
pub fn check_csrf(
    cookie: &CsrfCookie,
    form: &Params,
    i: &Interaction,
    lang: Lang,
) -> Result<(), PageError> {
    let form_csrf = form.get("csrf");
    let ok = cookie.matches(form_csrf)
        && form_csrf.is_some_and(|f| HashedToken::from_stored(i.csrf_hash.clone()).matches(f));
    if ok {
        Ok(())
    } else {
        tracing::warn!("login form with a bad CSRF token");
        Err(PageError::bad_request("login.csrf", "", lang))
    }
}

/// The account an interaction at `stage` has authenticated so far (stages after the
/// password); `login.expired` when it is at another stage or the account may not sign in.
pub async fn authenticated_account(
    state: &AppState,
    i: &Interaction,
    stage: Stage,
    lang: Lang,
) -> Result<Account, PageError> {
    let expired = || PageError::bad_request("login.expired", "", lang);
    if i.stage != stage {
        return Err(expired());
    }
    let sub = i.sub.as_ref().ok_or_else(expired)?;
    state
        .storage
        .account(sub)
        .await?
        .filter(|a| a.status == AccountStatus::Active)
        .ok_or_else(expired)
}

/// The stage that follows the ones already passed (`amr` so far), or `None` when the login
/// is complete.
pub fn next_stage(state: &AppState, a: &Account, amr: &Amr) -> Option<Stage> {
    let t = now();
    if a.has_second_factor() && !amr.has_second_factor() {
        return Some(Stage::SecondFactor);
    }
    // Only after the password: a passkey sign-in neither used the password nor proved it.
    if amr.contains(Method::Password)
        && (a.must_change_password || state.config.password.expired(a.password_changed_at, t))
    {
        return Some(Stage::ChangePassword);
    }
    // A passkey serves staff as well as TOTP.
    if a.role.privileged() && !a.has_second_factor() {
        return Some(Stage::Enrol);
    }
    None
}

/// Records progress: the person behind the interaction and the stage that comes next.
pub async fn advance(
    state: &AppState,
    i: &Interaction,
    sub: &Subject,
    stage: Stage,
    amr: &Amr,
) -> Result<Interaction, Internal> {
    state
        .storage
        .advance_login_request(&i.id, sub, stage.as_str(), amr)
        .await?;
    Ok(Interaction {
        stage,
        sub: Some(sub.to_owned()),
        amr: amr.clone(),
        ..i.clone()
    })
}

/// Binds the interaction to a fresh token (returned for the browser's cookie).
pub async fn rebind(state: &AppState, i: &Interaction) -> Result<PlainToken, Internal> {
    let binding = PlainToken::generate();
    state
        .storage
        .set_login_request_csrf(&i.id, &binding.hashed())
        .await?;
    Ok(binding)
}

/// The pages are done: the protocol may finish the interaction of `sub` with `outcome`
/// ([`Outcome::Denied`] is the [`Stage::NoAccess`] an interaction starts at).
pub async fn finish(
    state: &AppState,
    i: &Interaction,
    sub: &Subject,
    outcome: &Outcome,
) -> Result<(), Internal> {
    let organisation = match outcome {
        Outcome::ActsFor(org) => Some(org),
        Outcome::Authenticated | Outcome::Denied | Outcome::MfaUnavailable => None,
    };
    state
        .storage
        .finish_login_request(&i.id, sub, Stage::Done.as_str(), organisation)
        .await?;
    Ok(())
}

/// Consumes the interaction at the stage it was read at: `false` when another request took
/// it first (each interaction is finished once).
pub async fn take(state: &AppState, i: &Interaction) -> Result<bool, Internal> {
    Ok(state
        .storage
        .take_login_request(&i.id, i.stage.as_str())
        .await?)
}

/// Drops the interaction (the login is over or abandoned).
pub async fn discard(state: &AppState, i: &Interaction) -> Result<(), Internal> {
    state.storage.delete_login_request(&i.id).await?;
    Ok(())
}
