//! Signing in through an upstream identity provider (`crate::upstream`; NIA): the button on
//! the login page (`POST /login/upstream`), and the callback (`GET /login/upstream/callback`)
//! for both a sign-in and a signed-in person linking their identity (`web::upstream_links`).
//!
//! A linked identity signs its person in (`amr` `mfa` + `urn:mpsv:idp:amr:eid`, the MFA
//! level). An unlinked one signs no one in and creates nothing: a page says how to link it,
//! with a one-time code an operator can link it with after checking the person.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::{advance, too_many_requests};
use crate::app::AppState;
use crate::audit::{Event, Record};
use crate::domain::account::AccountStatus;
use crate::domain::amr::{Amr, Method};
use crate::error::PageError;
use crate::http::client::ClientMeta;
use crate::http::params::Params;
use crate::http::see_other;
use crate::interaction::{check_csrf, load, Interaction, Stage};
use crate::pages::i18n::{Lang, Texts};
use crate::pages::{html, Chrome};
use crate::secrets::{now, HashedToken};
use crate::session::Browser;
use crate::storage::upstream::{LinkCode, UpstreamLink, UpstreamLogin};
use crate::upstream::{login_expiry, Identity, Upstream, UpstreamError};

/// How long an unlinked identity's code lets an operator link it.
pub const LINK_CODE_SECONDS: i64 = 7 * 86_400;

/// `POST /login/upstream` (form: `id`, `csrf`, `lang`, `upstream`).
pub async fn start(
    State(state): State<AppState>,
    meta: ClientMeta,
    browser: Browser,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Params::parse(&body).unwrap_or_default();
    let lang = Lang::parse(form.get("lang"));
    if !state
        .login_limiter
        .allow(&state.storage, &meta.limit_key(), now())
        .await?
    {
        return Ok(too_many_requests(lang));
    }
    let pending = load(&state, form.get("id"), lang).await?;
    if pending.stage != Stage::Password {
        return Err(PageError::bad_request("login.expired", "", lang));
    }
    check_csrf(&browser.csrf, &form, &pending, lang)?;
    let Some(upstream) = state.upstreams.get(form.get("upstream").unwrap_or("")) else {
        return Err(PageError::bad_request("login.expired", "", lang));
    };
    let login = UpstreamLogin {
        upstream: upstream.config.id.clone(),
        purpose: "login".into(),
        login_request_id: Some(pending.id().to_owned()),
        sub: None,
        sid: None,
        nonce: String::new(),
        pkce_verifier: String::new(),
        expires_at: login_expiry(),
    };
    match redirect(&state, upstream, login).await? {
        Ok(r) => Ok(r),
        Err(e) => {
            failed(&state, &meta, upstream, None, &e).await?;
            login_page(&state, &browser, &pending, lang).await
        }
    }
}

/// Begins the round trip, stores it, and sends the browser to the upstream; the inner
/// error when the upstream cannot be used.
pub(crate) async fn redirect(
    state: &AppState,
    upstream: &Upstream,
    mut login: UpstreamLogin,
) -> Result<Result<Response, UpstreamError>, PageError> {
    let begun = match state.upstreams.begin(upstream).await {
        Ok(b) => b,
        Err(e) => return Ok(Err(e)),
    };
    login.nonce = begun.nonce;
    login.pkce_verifier = begun.pkce_verifier;
    state
        .storage
        .insert_upstream_login(&begun.state.hashed(), &login)
        .await?;
    Ok(Ok(see_other(&begun.url)))
}

#[derive(serde::Deserialize)]
pub struct Callback {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /login/upstream/callback?state=…&code=…` (or `error=…`).
pub async fn callback(
    State(state): State<AppState>,
    meta: ClientMeta,
    browser: Browser,
    Query(q): Query<Callback>,
) -> Result<Response, PageError> {
    let lang = Lang::Cs;
    let expired = || PageError::bad_request("login.expired", "", lang);
    let st = q
        .state
        .as_deref()
        .filter(|s| s.len() <= 128)
        .ok_or_else(expired)?;
    let login = state
        .storage
        .take_upstream_login(&HashedToken::of(st))
        .await?
        .filter(|l| l.expires_at > now())
        .ok_or_else(expired)?;
    let upstream = state.upstreams.get(&login.upstream).ok_or_else(expired)?;
    // What the upstream said, checked (the code for tokens, the ID token), or why not.
    let result = match (&q.error, &q.code) {
        (Some(error), _) => Err(UpstreamError::Answered(format!(
            "{error}: {}",
            q.error_description.as_deref().unwrap_or("")
        ))),
        (None, Some(code)) => {
            state
                .upstreams
                .complete(upstream, code, &login.nonce, &login.pkce_verifier)
                .await
        }
        (None, None) => Err(UpstreamError::Answered("no code".into())),
    };
    match login.purpose.as_str() {
        "link" => {
            super::super::upstream_links::linked(&state, &meta, &browser, login, result).await
        }
        _ => signed_in(&state, &meta, &browser, upstream, login, result).await,
    }
}

/// The callback of a sign-in.
async fn signed_in(
    state: &AppState,
    meta: &ClientMeta,
    browser: &Browser,
    upstream: &Upstream,
    login: UpstreamLogin,
    result: Result<Identity, UpstreamError>,
) -> Result<Response, PageError> {
    let expired = || PageError::bad_request("login.expired", "", Lang::Cs);
    let pending = load(state, login.login_request_id.as_deref(), Lang::Cs).await?;
    let lang = pending.lang();
    // Only the browser that pressed the button may come back into its login (no login CSRF:
    // RFC 6749 §10.12).
    if pending.stage != Stage::Password || !pending.bound_to(&browser.csrf) {
        return Err(expired());
    }
    let identity = match result {
        Ok(i) => i,
        Err(e) => {
            failed(state, meta, upstream, None, &e).await?;
            return login_page(state, browser, &pending, lang).await;
        }
    };
    let link = state
        .storage
        .upstream_link(&identity.upstream, &identity.sub)
        .await?;
    let account = match &link {
        Some(l) => state
            .storage
            .account(&l.sub)
            .await?
            .filter(|a| a.status == AccountStatus::Active),
        None => None,
    };
    let Some(account) = account else {
        return unlinked(state, meta, upstream, &identity, link.as_ref(), lang).await;
    };
    state
        .storage
        .touch_upstream_link(&identity.upstream, &identity.sub)
        .await?;
    let amr = Amr::of(Method::MultiFactor).with(Method::NationalEid);
    advance(state, browser, meta, &pending, &account, &amr, lang).await
}

/// Audits a failed round trip.
pub(crate) async fn failed(
    state: &AppState,
    meta: &ClientMeta,
    upstream: &Upstream,
    sub: Option<&crate::domain::id::Subject>,
    e: &UpstreamError,
) -> Result<(), PageError> {
    tracing::warn!(upstream = %upstream.config.id, error = %e, "upstream sign-in failed");
    let mut r = Record::new(Event::UpstreamLoginFailed)
        .ip(meta.ip_string())
        .detail("upstream", upstream.config.id.clone())
        .detail("reason", e.reason());
    if let Some(s) = sub {
        r = r.subject(s.clone());
    }
    state.audit.record(r).await?;
    Ok(())
}

/// The login form again, saying the upstream sign-in did not work.
async fn login_page(
    state: &AppState,
    browser: &Browser,
    pending: &Interaction,
    lang: Lang,
) -> Result<Response, PageError> {
    super::password::render(
        state,
        browser,
        pending,
        lang,
        "",
        "upstream.failed",
        StatusCode::OK,
    )
    .await
}

#[derive(Template)]
#[template(path = "upstream_unlinked.html")]
struct UnlinkedPage<'a> {
    c: Chrome,
    t: &'static Texts,
    upstream_name: &'a str,
    code: &'a str,
    valid_days: i64,
}

/// An identity no account is linked to (or whose account may not sign in): no one is signed
/// in and nothing is created; the page says how to link it, with a one-time code for an
/// operator.
async fn unlinked(
    state: &AppState,
    meta: &ClientMeta,
    upstream: &Upstream,
    identity: &Identity,
    link: Option<&UpstreamLink>,
    lang: Lang,
) -> Result<Response, PageError> {
    let code = new_link_code();
    state
        .storage
        .insert_link_code(
            &HashedToken::of(&normalise_code(&code)),
            &LinkCode {
                upstream: identity.upstream.clone(),
                upstream_sub: identity.sub.clone(),
                claims: serde_json::to_string(identity).map_err(crate::error::Internal::from)?,
                expires_at: now() + LINK_CODE_SECONDS,
            },
        )
        .await?;
    let mut record = Record::new(Event::UpstreamUnlinkedSignIn)
        .ip(meta.ip_string())
        .detail("upstream", identity.upstream.clone())
        .detail("upstream_sub", identity.sub.clone());
    if let Some(l) = link {
        // Linked, but the account is locked or disabled.
        record = record
            .subject(l.sub.clone())
            .detail("reason", "account_inactive");
    }
    state.audit.record(record).await?;
    let page = UnlinkedPage {
        c: Chrome::new(lang, String::new()),
        t: lang.texts(),
        upstream_name: &upstream.config.name,
        code: &code,
        valid_days: LINK_CODE_SECONDS / 86_400,
    };
    Ok(html(StatusCode::FORBIDDEN, page.render()))
}

/// Ten characters of an alphabet without look-alikes (no 0/O, 1/I/L), as `ABCDE-FGHJK`.
fn new_link_code() -> String {
    use rand::RngExt;
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    let chars: String = (0..10)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{}-{}", &chars[..5], &chars[5..])
}

/// A code as typed: upper-cased, without spaces and dashes.
pub fn normalise_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_codes_are_ten_unambiguous_characters() {
        let c = new_link_code();
        assert_eq!(c.len(), 11);
        let n = normalise_code(&c);
        assert_eq!(n.len(), 10);
        assert!(!n.contains(['0', 'O', '1', 'I', 'L']));
        assert_eq!(normalise_code(&c.to_lowercase().replace('-', " ")), n);
    }
}
