//! The authorization request an interaction carries: validated by `oidc::authorize`, stored
//! with the interaction (as JSON) while the person signs in, and read by the pages for what
//! they show (the login hint, the language).

use serde::{Deserialize, Serialize};

use crate::pages::i18n::Lang;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResponseMode {
    Query,
    FormPost,
}

/// A validated authorization request (OIDC Core §3.1.2.1).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub response_mode: ResponseMode,
    pub prompt_login: bool,
    pub prompt_none: bool,
    /// `prompt=select_account`: ask again which organisation the person acts for.
    #[serde(default)]
    pub prompt_select_account: bool,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    pub lang: Lang,
    /// `sub` of a verified `id_token_hint`: the person the client expects.
    pub expected_sub: Option<String>,
    /// `acr_values` asked for the MFA level first (of the values we know): the login must
    /// prove a second factor, or the request fails with `unmet_authentication_requirements`.
    #[serde(default)]
    pub require_mfa: bool,
}
