//! A small OKslužby relying party, shared by `examples/poskytovatel.rs` and
//! `examples/rodina.rs`: the integration the two applications can copy (docs/integration.md).
//!
//! - sign-in with the authorization code flow + PKCE + state + nonce (`openidconnect` crate),
//!   the ID token validated (signature from the IdP's JWKS, issuer, audience, expiry, nonce);
//! - the authorization request **pushed** (PAR, RFC 9126): the browser carries only a
//!   `request_uri`, never the parameters, so nothing in it can be altered on the way;
//! - **DPoP-bound tokens** (RFC 9449): every call to the token endpoint and userinfo carries a
//!   fresh proof signed with this application's key (josekit, ES256), the server's nonce is
//!   kept and used, and a stolen access token is useless without the key;
//! - the person, the organisation they act for and their permissions from the `mpsv` and
//!   `organisation` claims;
//! - **Podat** (submit) enabled only when `submit_permission` is true, and re-checked at the
//!   IdP (userinfo) at the moment of submitting — the claim in the ID token may be minutes old;
//! - token refresh (rotation: the new refresh token replaces the old one);
//! - RP-initiated logout (`end_session_endpoint` with `id_token_hint`);
//! - a back-channel logout endpoint that validates the logout token and ends the local
//!   sessions of that IdP session.
//!
//! Configuration (environment): `IDP_ISSUER` (default `http://127.0.0.1:8080`),
//! `RP_CLIENT_ID`, `RP_CLIENT_SECRET`, `RP_PORT` (default 8091 / 8092). The client must be
//! registered with a `pushed_authorization_request_endpoint`-capable IdP; the demo clients
//! require PAR and DPoP (`mpsv-idp client add --require-par --dpop`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, bail, Context};
use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, RefreshToken, Scope, TokenResponse,
};
use serde::Deserialize;
use serde_json::Value;

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Which application this is.
#[derive(Clone, Copy)]
pub struct App {
    /// `poskytovatel` or `rodina` (the value of the `apps` claim).
    pub code: &'static str,
    pub title: &'static str,
    pub default_client_id: &'static str,
    pub default_port: u16,
}

/// A signed-in person in this application.
#[derive(Clone)]
struct Local {
    id_token: String,
    access_token: String,
    refresh_token: Option<String>,
    /// The ID token's claims (verified).
    claims: Value,
    /// The IdP's session id (`sid`): what a back-channel logout names.
    idp_sid: String,
    /// `DPoP` when the access token is bound to our key (RFC 9449 §5), else `Bearer`.
    token_type: String,
}

struct Shared {
    app: App,
    base: String,
    issuer: String,
    client: Client,
    http: reqwest::Client,
    discovery: Value,
    /// Local sessions by cookie value.
    sessions: Mutex<HashMap<String, Local>>,
    /// Authorization requests in flight, by `state`.
    pending: Mutex<HashMap<String, (Nonce, PkceCodeVerifier)>>,
    secret: String,
    dpop: Dpop,
}

/// This application's DPoP key and the IdP's latest nonce (RFC 9449 §8). One key for the
/// whole application instance; an application may as well keep one per signed-in person.
struct Dpop {
    signer: josekit::jws::alg::ecdsa::EcdsaJwsSigner,
    public: josekit::jwk::Jwk,
    nonce: Mutex<Option<String>>,
}

impl Dpop {
    fn new() -> anyhow::Result<Self> {
        use josekit::jwk::KeyPair as _;
        let pair =
            josekit::jwk::alg::ec::EcKeyPair::generate(josekit::jwk::alg::ec::EcCurve::P256)?;
        Ok(Self {
            signer: josekit::jws::ES256.signer_from_jwk(&pair.to_jwk_private_key())?,
            public: pair.to_jwk_public_key(),
            nonce: Mutex::new(None),
        })
    }

    /// A proof for one request (§4.2): `htm`, `htu` (without query), a fresh `jti`, `iat`,
    /// the server's nonce if it gave one, and at a resource the access token's hash (`ath`).
    fn proof(&self, method: &str, url: &str, access_token: Option<&str>) -> anyhow::Result<String> {
        use base64::Engine;
        use sha2::Digest;
        let mut htu = url::Url::parse(url)?;
        htu.set_query(None);
        htu.set_fragment(None);
        let mut claims = serde_json::json!({
            "jti": CsrfToken::new_random().secret(),
            "htm": method,
            "htu": htu.as_str(),
            "iat": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs(),
        });
        if let Some(n) = self.nonce.lock().unwrap().clone() {
            claims["nonce"] = n.into();
        }
        if let Some(t) = access_token {
            claims["ath"] = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(sha2::Sha256::digest(t.as_bytes()))
                .into();
        }
        let mut header = josekit::jws::JwsHeader::new();
        header.set_token_type("dpop+jwt");
        header.set_jwk(self.public.clone());
        Ok(josekit::jws::serialize_compact(
            claims.to_string().as_bytes(),
            &header,
            &self.signer,
        )?)
    }
}

/// An HTTP failure on the way to the IdP, as the `openidconnect` crate wants its errors.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct HttpError(String);

/// Sends a request to the IdP with a DPoP proof, once more with the server's nonce when it
/// answers `use_dpop_nonce` (§8: 400 at the token and PAR endpoints, 401 at userinfo).
async fn send_with_dpop(
    s: &Shared,
    request: openidconnect::HttpRequest,
    access_token: Option<&str>,
) -> Result<openidconnect::HttpResponse, HttpError> {
    let (parts, body) = request.into_parts();
    let url = parts.uri.to_string();
    for attempt in 0..2 {
        let proof = s
            .dpop
            .proof(parts.method.as_str(), &url, access_token)
            .map_err(|e| HttpError(e.to_string()))?;
        let r = s
            .http
            .request(parts.method.clone(), &url)
            .headers(parts.headers.clone())
            .header("DPoP", proof)
            .body(body.clone())
            .send()
            .await
            .map_err(|e| HttpError(e.to_string()))?;
        let status = r.status();
        let headers = r.headers().clone();
        if let Some(n) = headers.get("dpop-nonce").and_then(|v| v.to_str().ok()) {
            *s.dpop.nonce.lock().unwrap() = Some(n.to_owned());
        }
        let bytes = r
            .bytes()
            .await
            .map_err(|e| HttpError(e.to_string()))?
            .to_vec();
        let challenge = headers
            .get(header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let wants_nonce = challenge.contains("use_dpop_nonce")
            || (status == StatusCode::BAD_REQUEST
                && serde_json::from_slice::<Value>(&bytes)
                    .is_ok_and(|e| e["error"] == "use_dpop_nonce"));
        if wants_nonce && attempt == 0 {
            continue;
        }
        let mut response = openidconnect::HttpResponse::new(bytes);
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        return Ok(response);
    }
    Err(HttpError("the IdP refused our DPoP nonce twice".into()))
}

/// An HTTP client for `openidconnect` (token endpoint) that adds our DPoP proofs.
fn dpop_client(
    s: &S,
) -> impl Fn(
    openidconnect::HttpRequest,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<openidconnect::HttpResponse, HttpError>> + Send>,
> {
    let s = Arc::clone(s);
    move |request| {
        let s = Arc::clone(&s);
        Box::pin(async move { send_with_dpop(&s, request, None).await })
    }
}

/// `DPoP` or `Bearer` (token types are case-insensitive, RFC 6749 §7.1; the crate lowercases).
fn token_type(t: &openidconnect::core::CoreTokenType) -> String {
    if t.as_ref().eq_ignore_ascii_case("dpop") {
        "DPoP".into()
    } else {
        "Bearer".into()
    }
}

/// Basic authentication of the client (RFC 6749 §2.3.1: both parts form-encoded first).
fn basic_auth(s: &Shared) -> String {
    use base64::Engine;
    let pair = format!(
        "{}:{}",
        urlencode(s.client.client_id().as_str()),
        urlencode(&s.secret)
    );
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

type S = Arc<Shared>;

fn cookie_name(app: &App) -> String {
    // Cookies do not see ports: both example apps on 127.0.0.1 need their own name.
    format!("rp_{}", app.code)
}

/// Starts the application; returns when it stops.
pub async fn run(app: App) -> anyhow::Result<()> {
    let issuer = std::env::var("IDP_ISSUER").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let client_id = std::env::var("RP_CLIENT_ID").unwrap_or_else(|_| app.default_client_id.into());
    let secret = std::env::var("RP_CLIENT_SECRET").context("RP_CLIENT_SECRET is required")?;
    let port: u16 = std::env::var("RP_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(app.default_port);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let oidc_http = openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()?;
    // Discovery: the endpoints and keys come from the IdP, never hard-coded.
    let meta = CoreProviderMetadata::discover_async(IssuerUrl::new(issuer.clone())?, &oidc_http)
        .await
        .context("OpenID Connect discovery")?;
    let discovery: Value = http
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await?
        .json()
        .await?;
    let client = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(client_id),
        Some(ClientSecret::new(secret.clone())),
    )
    .set_redirect_uri(RedirectUrl::new(format!("{base}/callback"))?);
    let shared = Arc::new(Shared {
        app,
        base,
        issuer,
        client,
        http,
        discovery,
        sessions: Mutex::new(HashMap::new()),
        pending: Mutex::new(HashMap::new()),
        secret,
        dpop: Dpop::new()?,
    });
    let router = Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/callback", get(callback))
        .route("/submit", post(submit))
        .route("/refresh", post(refresh))
        .route("/logout", get(logout))
        .route("/backchannel-logout", post(backchannel_logout))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("{} listening on {}", app.title, shared.base);
    axum::serve(listener, router).await?;
    Ok(())
}

fn session_of(s: &S, headers: &HeaderMap) -> Option<(String, Local)> {
    let name = cookie_name(&s.app);
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())?;
    let local = s.sessions.lock().unwrap().get(&cookie).cloned()?;
    Some((cookie, local))
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(s: &S, body: &str) -> Response {
    Html(format!(
        "<!doctype html><html lang=\"cs\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>body{{font-family:sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.5}}\
         button{{font-size:1rem;padding:.5rem 1rem}} dt{{font-weight:bold}} .msg{{background:#eef4fb;border-left:4px solid #0b4f9c;padding:.5rem 1rem}}\
         .err{{background:#fdecea;border-left:4px solid #b00020;padding:.5rem 1rem}}</style></head>\
         <body><header><p><strong>{title}</strong> (ukázková aplikace)</p></header><main>{body}</main></body></html>",
        title = esc(s.app.title)
    ))
    .into_response()
}

#[derive(Deserialize)]
struct HomeQ {
    msg: Option<String>,
}

fn flag(v: &Value) -> &'static str {
    if v.as_bool() == Some(true) {
        "ano"
    } else {
        "ne"
    }
}

async fn home(State(s): State<S>, headers: HeaderMap, Query(q): Query<HomeQ>) -> Response {
    let msg = q
        .msg
        .map(|m| {
            format!(
                "<p class=\"msg\" role=\"status\" id=\"msg\">{}</p>",
                esc(&m)
            )
        })
        .unwrap_or_default();
    let Some((_, local)) = session_of(&s, &headers) else {
        return page(
            &s,
            &format!(
                "<h1>{}</h1>{msg}<p>Nejste přihlášeni.</p><p><a id=\"login\" href=\"/login\">Přihlásit se přes MPSV</a></p>",
                esc(s.app.title)
            ),
        );
    };
    let c = &local.claims;
    let org = &c["organisation"];
    let submit = c["submit_permission"].as_bool() == Some(true);
    let apps: Vec<&str> = c["apps"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    page(
        &s,
        &format!(
            "<h1>{title}</h1>{msg}\
             <dl>\
             <dt>Osoba</dt><dd id=\"person\">{name} ({username})</dd>\
             <dt>Identifikátor klienta MPSV</dt><dd id=\"mpsv-id\">{mpsv}</dd>\
             <dt>Jedná za organizaci</dt><dd id=\"organisation\">{org_name} (IČO {ico})</dd>\
             <dt>Statutární zástupce</dt><dd id=\"statutory\">{statutory}</dd>\
             <dt>Oprávnění k podání</dt><dd id=\"submit-permission\">{submit_text}</dd>\
             <dt>Aplikace</dt><dd id=\"apps\">{apps}</dd>\
             <dt>Vazba tokenu (Token binding)</dt><dd id=\"token-binding\">{binding}</dd>\
             </dl>\
             <form method=\"post\" action=\"/submit\"><button id=\"submit\" type=\"submit\"{disabled}>Podat</button></form>\
             <form method=\"post\" action=\"/refresh\"><button id=\"refresh\" type=\"submit\">Obnovit tokeny</button></form>\
             <p><a id=\"logout\" href=\"/logout\">Odhlásit se</a> · <a href=\"/login?prompt=select_account\">Změnit organizaci</a></p>",
            title = esc(s.app.title),
            name = esc(c["name"].as_str().unwrap_or("")),
            username = esc(c["preferred_username"].as_str().unwrap_or("")),
            mpsv = esc(c["mpsv_client_id"].as_str().unwrap_or("–")),
            org_name = esc(org["name"].as_str().unwrap_or("–")),
            ico = esc(org["ico"].as_str().unwrap_or("–")),
            statutory = flag(&c["statutory_representative"]),
            submit_text = if submit {
                format!("ano ({})", if c["submit_permission_source"] == "delegation" { "z pověření" } else { "statutární zástupce" })
            } else {
                "ne".into()
            },
            apps = esc(&apps.join(", ")),
            disabled = if submit { "" } else { " disabled" },
            binding = if local.token_type == "DPoP" {
                "DPoP – token platí jen s klíčem této aplikace"
            } else {
                "Bearer"
            },
        ),
    )
}

/// The page of a sign-in that failed between this application and the IdP.
fn login_failed(s: &S, e: &anyhow::Error) -> Response {
    let text = format!(
        "<h1>Přihlášení se nepodařilo</h1><p class=\"err\">{}</p>",
        esc(&e.to_string())
    );
    (StatusCode::BAD_GATEWAY, page(s, &text)).into_response()
}

#[derive(Deserialize)]
struct LoginQ {
    prompt: Option<String>,
}

async fn login(State(s): State<S>, Query(q): Query<LoginQ>) -> Response {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut req = s
        .client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for scope in ["profile", "email", "mpsv", "organisation"] {
        req = req.add_scope(Scope::new(scope.into()));
    }
    if q.prompt.as_deref() == Some("select_account") {
        req = req.add_extra_param("prompt", "select_account");
    }
    let (url, state, nonce) = req.url();
    match push(&s, &url).await {
        Ok(url) => {
            s.pending
                .lock()
                .unwrap()
                .insert(state.secret().clone(), (nonce, verifier));
            Redirect::to(url.as_str()).into_response()
        }
        Err(e) => login_failed(&s, &e),
    }
}

/// PAR (RFC 9126 §2): the parameters `openidconnect` put in the authorization URL go to the
/// IdP directly, with the client's authentication and a DPoP proof (which binds the code to
/// our key, RFC 9449 §10.1); the browser is sent with the `request_uri` alone (§4).
async fn push(s: &Shared, authorize: &url::Url) -> anyhow::Result<url::Url> {
    let endpoint = s.discovery["pushed_authorization_request_endpoint"]
        .as_str()
        .context("the IdP has no pushed_authorization_request_endpoint")?;
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(authorize.query_pairs())
        .finish();
    let request = openidconnect::http::Request::post(endpoint)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::AUTHORIZATION, basic_auth(s))
        .body(form.into_bytes())?;
    let r = send_with_dpop(s, request, None).await?;
    let body: Value = serde_json::from_slice(r.body()).unwrap_or(Value::Null);
    if r.status() != StatusCode::CREATED {
        bail!(
            "PAR: {} {}",
            body["error"].as_str().unwrap_or("error"),
            body["error_description"].as_str().unwrap_or("")
        );
    }
    let request_uri = body["request_uri"]
        .as_str()
        .context("PAR: no request_uri")?;
    let mut url = authorize.clone();
    url.query_pairs_mut()
        .clear()
        .append_pair("client_id", s.client.client_id().as_str())
        .append_pair("request_uri", request_uri);
    Ok(url)
}

#[derive(Deserialize)]
struct CallbackQ {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// The verified ID token's claims as JSON (the `mpsv` and `organisation` claims are ours, not
/// the crate's standard ones): signature, issuer, audience, expiry and nonce were checked by
/// `openidconnect` before this reads the payload.
fn payload(jwt: &str) -> Value {
    use base64::Engine;
    jwt.split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null)
}

async fn callback(State(s): State<S>, Query(q): Query<CallbackQ>) -> Response {
    let pending = q
        .state
        .as_deref()
        .and_then(|st| s.pending.lock().unwrap().remove(st));
    let Some((nonce, verifier)) = pending else {
        return (
            StatusCode::BAD_REQUEST,
            page(
                &s,
                "<h1>Neplatný návrat z přihlášení</h1><p><a href=\"/\">Zpět</a></p>",
            ),
        )
            .into_response();
    };
    if let Some(e) = q.error {
        // e.g. access_denied: the IdP already explained why; say it here too.
        let text = if e == "access_denied" {
            "Do této aplikace nemáte přístup (MPSV neeviduje souhlas, který by vás opravňoval)."
        } else {
            "Přihlášení se nepodařilo."
        };
        return (
            StatusCode::FORBIDDEN,
            page(&s, &format!(
                "<h1 id=\"refused\">Přístup odepřen</h1><p>{text}</p><p class=\"err\">{}: {}</p><p><a href=\"/\">Zpět</a></p>",
                esc(&e),
                esc(q.error_description.as_deref().unwrap_or(""))
            )),
        )
            .into_response();
    }
    let Some(code) = q.code else {
        return (StatusCode::BAD_REQUEST, "no code").into_response();
    };
    let result = async {
        let http = dpop_client(&s);
        let tokens = s
            .client
            .exchange_code(AuthorizationCode::new(code))?
            .set_pkce_verifier(verifier)
            .request_async(&http)
            .await
            .map_err(|e| anyhow!("token request: {e:?}"))?;
        let id_token = tokens.id_token().ok_or_else(|| anyhow!("no ID token"))?;
        id_token.claims(&s.client.id_token_verifier(), &nonce)?;
        let raw = id_token.to_string();
        let claims = payload(&raw);
        Ok::<_, anyhow::Error>(Local {
            idp_sid: claims["sid"].as_str().unwrap_or("").to_owned(),
            claims,
            id_token: raw,
            access_token: tokens.access_token().secret().clone(),
            refresh_token: tokens.refresh_token().map(|r| r.secret().clone()),
            token_type: token_type(tokens.token_type()),
        })
    }
    .await;
    match result {
        Ok(local) => {
            let cookie = CsrfToken::new_random().secret().clone();
            s.sessions.lock().unwrap().insert(cookie.clone(), local);
            (
                [(
                    header::SET_COOKIE,
                    format!(
                        "{}={cookie}; Path=/; HttpOnly; SameSite=Lax",
                        cookie_name(&s.app)
                    ),
                )],
                Redirect::to("/"),
            )
                .into_response()
        }
        Err(e) => login_failed(&s, &e),
    }
}

/// Submitting re-checks the permission at the IdP now (userinfo, evaluated from the register
/// at this moment): a statutory role ended a minute ago must not submit on a stale token.
async fn submit(State(s): State<S>, headers: HeaderMap) -> Response {
    let Some((cookie, local)) = session_of(&s, &headers) else {
        return Redirect::to("/?msg=Nejste+přihlášeni.").into_response();
    };
    let userinfo = s.discovery["userinfo_endpoint"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let info = call_userinfo(&s, &userinfo, &local).await;
    // What the IdP says now also replaces what the page shows.
    if let Some(i) = &info {
        if let Some(l) = s.sessions.lock().unwrap().get_mut(&cookie) {
            for k in [
                "organisation",
                "statutory_representative",
                "submit_permission",
                "submit_permission_source",
                "apps",
            ] {
                l.claims[k] = i[k].clone();
            }
        }
    }
    match info {
        Some(i) if i["submit_permission"].as_bool() == Some(true) => {
            Redirect::to("/?msg=Podání+bylo+odesláno.").into_response()
        }
        Some(_) => {
            Redirect::to("/?msg=Podání+odmítnuto:+nemáte+oprávnění+k+podání.").into_response()
        }
        None => {
            // The token is no longer valid (signed out, access ended): the local session too.
            s.sessions.lock().unwrap().remove(&cookie);
            Redirect::to("/?msg=Podání+odmítnuto:+přihlášení+skončilo.").into_response()
        }
    }
}

/// Userinfo with the access token: a DPoP-bound one with a proof that carries its hash
/// (RFC 9449 §7), a bearer token as RFC 6750 says.
async fn call_userinfo(s: &Shared, userinfo: &str, local: &Local) -> Option<Value> {
    let scheme = if local.token_type == "DPoP" {
        "DPoP"
    } else {
        "Bearer"
    };
    let request = openidconnect::http::Request::get(userinfo)
        .header(
            header::AUTHORIZATION,
            format!("{scheme} {}", local.access_token),
        )
        .body(Vec::new())
        .ok()?;
    let r = if scheme == "DPoP" {
        send_with_dpop(s, request, Some(&local.access_token)).await
    } else {
        let r = s
            .http
            .get(userinfo)
            .bearer_auth(&local.access_token)
            .send()
            .await
            .ok()?;
        let status = r.status();
        let mut response = openidconnect::HttpResponse::new(r.bytes().await.ok()?.to_vec());
        *response.status_mut() = status;
        Ok(response)
    }
    .ok()?;
    if !r.status().is_success() {
        return None;
    }
    serde_json::from_slice(r.body()).ok()
}

async fn refresh(State(s): State<S>, headers: HeaderMap) -> Response {
    let Some((cookie, local)) = session_of(&s, &headers) else {
        return Redirect::to("/").into_response();
    };
    let Some(rt) = local.refresh_token.clone() else {
        return Redirect::to("/?msg=Bez+obnovovacího+tokenu.").into_response();
    };
    let rt = RefreshToken::new(rt);
    let result = s
        .client
        .exchange_refresh_token(&rt)
        .map_err(|e| anyhow!("{e}"));
    let http = dpop_client(&s);
    let result = match result {
        Ok(req) => req.request_async(&http).await.map_err(|e| anyhow!("{e:?}")),
        Err(e) => Err(e),
    };
    match result {
        Ok(t) => {
            let mut sessions = s.sessions.lock().unwrap();
            if let Some(l) = sessions.get_mut(&cookie) {
                l.access_token = t.access_token().secret().clone();
                l.token_type = token_type(t.token_type());
                // Rotation: the old refresh token is spent.
                l.refresh_token = t.refresh_token().map(|r| r.secret().clone());
                if let Some(id) = t.id_token() {
                    l.id_token = id.to_string();
                    l.claims = payload(&l.id_token);
                }
            }
            Redirect::to("/?msg=Tokeny+obnoveny.").into_response()
        }
        Err(_) => {
            s.sessions.lock().unwrap().remove(&cookie);
            Redirect::to("/?msg=Přihlášení+skončilo.").into_response()
        }
    }
}

/// RP-initiated logout: the local session ends here, the SSO session at the IdP.
async fn logout(State(s): State<S>, headers: HeaderMap) -> Response {
    let Some((cookie, local)) = session_of(&s, &headers) else {
        return Redirect::to("/").into_response();
    };
    s.sessions.lock().unwrap().remove(&cookie);
    let end = s.discovery["end_session_endpoint"].as_str().unwrap_or("");
    let url = format!(
        "{end}?id_token_hint={}&post_logout_redirect_uri={}&client_id={}",
        local.id_token,
        urlencode(&format!("{}/", s.base)),
        urlencode(s.client.client_id().as_str()),
    );
    Redirect::to(&url).into_response()
}

fn urlencode(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

#[derive(Deserialize)]
struct LogoutForm {
    logout_token: String,
}

/// OpenID Connect Back-Channel Logout 1.0 §2.6: validate the logout token, then end every
/// local session of that IdP session (`sid`) or person (`sub`).
async fn backchannel_logout(State(s): State<S>, Form(f): Form<LogoutForm>) -> Response {
    match verify_logout_token(&s, &f.logout_token).await {
        Ok(claims) => {
            let sid = claims["sid"].as_str().map(str::to_owned);
            let sub = claims["sub"].as_str().map(str::to_owned);
            let mut sessions = s.sessions.lock().unwrap();
            let before = sessions.len();
            sessions.retain(|_, l| {
                let same_sid = sid.as_deref().is_some_and(|x| x == l.idp_sid);
                let same_sub =
                    sid.is_none() && sub.as_deref().is_some_and(|x| l.claims["sub"] == x);
                !(same_sid || same_sub)
            });
            println!(
                "{}: back-channel logout ended {} session(s)",
                s.app.title,
                before - sessions.len()
            );
            ([(header::CACHE_CONTROL, "no-store")], StatusCode::OK).into_response()
        }
        Err(e) => {
            eprintln!("{}: logout token refused: {e}", s.app.title);
            (StatusCode::BAD_REQUEST, "invalid logout token").into_response()
        }
    }
}

async fn verify_logout_token(s: &S, token: &str) -> anyhow::Result<Value> {
    use josekit::jws::{JwsVerifier, ES256, RS256};
    let header = josekit::jwt::decode_header(token)?;
    let kid = header
        .claim("kid")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("no kid"))?
        .to_owned();
    let alg = header
        .claim("alg")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let jwks_uri = s.discovery["jwks_uri"].as_str().unwrap_or("");
    let jwks = s.http.get(jwks_uri).send().await?.bytes().await?;
    let set = josekit::jwk::JwkSet::from_bytes(&jwks)?;
    let jwk = set
        .get(&kid)
        .first()
        .copied()
        .ok_or_else(|| anyhow!("unknown kid"))?;
    let verifier: Box<dyn JwsVerifier> = match alg.as_str() {
        "RS256" => Box::new(RS256.verifier_from_jwk(jwk)?),
        "ES256" => Box::new(ES256.verifier_from_jwk(jwk)?),
        other => return Err(anyhow!("unexpected alg {other}")),
    };
    let (payload, _) = josekit::jwt::decode_with_verifier(token, &*verifier)?;
    let claims: Value = serde_json::from_str(&payload.to_string())?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let aud_ok = match &claims["aud"] {
        Value::String(a) => a == s.client.client_id().as_str(),
        Value::Array(a) => a.iter().any(|x| x == s.client.client_id().as_str()),
        _ => false,
    };
    let event = claims["events"]
        .get("http://schemas.openid.net/event/backchannel-logout")
        .is_some();
    if claims["iss"] != s.issuer.as_str()
        || !aud_ok
        || !event
        || claims.get("nonce").is_some()
        || claims["iat"].as_i64().is_none_or(|t| t > now + 60)
        || claims["exp"].as_i64().is_some_and(|e| e < now)
        || (claims["sid"].is_null() && claims["sub"].is_null())
    {
        return Err(anyhow!("logout token claims are not acceptable"));
    }
    Ok(claims)
}
