//! The authorization request an interaction carries: validated by `oidc::authorize`, stored
//! with the interaction (as JSON) while the person signs in, and read by the pages for what
//! they show (the login hint, the language).

use serde::{Deserialize, Serialize};

use crate::domain::client::{ClientId, RedirectUri};
use crate::domain::id::Subject;
use crate::domain::pkce::CodeChallenge;
use crate::domain::scope::Scopes;
use crate::pages::i18n::Lang;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResponseMode {
    Query,
    FormPost,
}

/// A validated authorization request (OIDC Core §3.1.2.1), parsed once from the parameters by
/// `oidc::authorize`: the client and redirect URI are the registered ones, the scope within
/// the client's, the PKCE challenge S256. Stored as JSON with the same field names as ever,
/// so an interaction started before an upgrade finishes after it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: ClientId,
    pub redirect_uri: RedirectUri,
    pub scope: Scopes,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<CodeChallenge>,
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
    pub expected_sub: Option<Subject>,
    /// `acr_values` asked for the MFA level first (of the values we know): the login must
    /// prove a second factor, or the request fails with `unmet_authentication_requirements`.
    #[serde(default)]
    pub require_mfa: bool,
    /// `dpop_jkt` (RFC 9449 §10): the thumbprint of the DPoP key that must redeem the code.
    #[serde(default)]
    pub dpop_jkt: Option<String>,
    /// The `claims` parameter (OIDC Core §5.5).
    #[serde(default)]
    pub claims: Option<crate::domain::claims_request::ClaimsRequest>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_form_is_the_old_one_and_is_checked_on_the_way_back() {
        let stored = serde_json::json!({
            "client_id": "okr-web",
            "redirect_uri": "https://rodina.example/cb",
            "scope": "openid profile",
            "state": "s",
            "nonce": null,
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "response_mode": "Query",
            "prompt_login": false,
            "prompt_none": false,
            "max_age": null,
            "login_hint": null,
            "lang": "cs",
            "expected_sub": null
        });
        let req: AuthorizationRequest = serde_json::from_value(stored.clone()).unwrap();
        assert_eq!(req.client_id.as_str(), "okr-web");
        assert!(req.scope.contains("profile"));
        let again = serde_json::to_value(&req).unwrap();
        assert_eq!(again["redirect_uri"], stored["redirect_uri"]);
        assert_eq!(again["scope"], stored["scope"]);
        assert_eq!(again["code_challenge"], stored["code_challenge"]);

        let mut tampered = stored;
        tampered["redirect_uri"] = "javascript:alert(1)".into();
        assert!(serde_json::from_value::<AuthorizationRequest>(tampered).is_err());
    }
}
