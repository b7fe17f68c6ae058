//! The token request, parsed once from the form parameters into what its grant type needs
//! (RFC 6749 §4.1.3, §6 and §4.4.2). Client authentication reads its own parameters
//! (`client_id`, `client_secret`, `client_assertion`) in `oidc/client_auth.rs`.

use super::Params;
use crate::domain::client::GrantType;
use crate::domain::scope::Scopes;
use crate::error::OAuthError;

/// The grant-specific parameters of a token request.
#[derive(Debug)]
pub enum TokenRequest {
    AuthorizationCode {
        code: String,
        /// Must equal the authorization request's (RFC 6749 §4.1.3); compared as sent.
        redirect_uri: Option<String>,
        code_verifier: Option<String>,
    },
    RefreshToken {
        refresh_token: String,
        /// A narrower scope (§6); `None` keeps the grant's.
        scope: Option<Scopes>,
    },
    ClientCredentials {
        scope: Option<Scopes>,
    },
}

impl TokenRequest {
    /// The `grant_type` parameter (RFC 6749 §4.1.3): missing is `invalid_request`, unknown
    /// `unsupported_grant_type` (§5.2).
    pub fn grant_type(p: &Params) -> Result<GrantType, OAuthError> {
        match p.get("grant_type") {
            None => Err(OAuthError::invalid_request("grant_type is missing")),
            Some(g) => g.parse().map_err(|_| {
                OAuthError::unsupported_grant_type(format!("grant_type {g} is not supported"))
            }),
        }
    }

    /// The parameters `grant` needs; a missing one is `invalid_request`, a malformed scope
    /// `invalid_scope` (§5.2).
    pub fn parse(grant: GrantType, p: &Params) -> Result<Self, OAuthError> {
        let owned = |name: &str| p.get(name).map(str::to_owned);
        let required = |name: &str| {
            owned(name).ok_or_else(|| OAuthError::invalid_request(format!("{name} is missing")))
        };
        let scope = || {
            p.get("scope")
                .map(|s| Scopes::parse(s).map_err(|e| OAuthError::invalid_scope(e.0)))
                .transpose()
        };
        Ok(match grant {
            GrantType::AuthorizationCode => Self::AuthorizationCode {
                code: required("code")?,
                redirect_uri: owned("redirect_uri"),
                code_verifier: owned("code_verifier"),
            },
            GrantType::RefreshToken => Self::RefreshToken {
                refresh_token: required("refresh_token")?,
                scope: scope()?,
            },
            GrantType::ClientCredentials => Self::ClientCredentials { scope: scope()? },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(raw: &str) -> Params {
        Params::parse(raw.as_bytes()).unwrap()
    }

    fn code(e: OAuthError) -> &'static str {
        match e {
            OAuthError::Protocol { error, .. } => error.as_str(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn grant_type_missing_or_unknown() {
        let e = TokenRequest::grant_type(&params("code=x")).unwrap_err();
        assert_eq!(code(e), "invalid_request");
        let e = TokenRequest::grant_type(&params("grant_type=password")).unwrap_err();
        assert_eq!(code(e), "unsupported_grant_type");
    }

    #[test]
    fn each_grant_takes_its_parameters() {
        let p = params("code=c&redirect_uri=https%3A%2F%2Frp%2Fcb&code_verifier=v");
        match TokenRequest::parse(GrantType::AuthorizationCode, &p).unwrap() {
            TokenRequest::AuthorizationCode {
                code: c,
                redirect_uri,
                code_verifier,
            } => {
                assert_eq!(c, "c");
                assert_eq!(redirect_uri.as_deref(), Some("https://rp/cb"));
                assert_eq!(code_verifier.as_deref(), Some("v"));
            }
            other => panic!("{other:?}"),
        }
        let e = TokenRequest::parse(GrantType::AuthorizationCode, &params("")).unwrap_err();
        assert_eq!(code(e), "invalid_request");
        let e = TokenRequest::parse(GrantType::RefreshToken, &params("scope=x")).unwrap_err();
        assert_eq!(code(e), "invalid_request");
        match TokenRequest::parse(GrantType::ClientCredentials, &params("scope=a+b")).unwrap() {
            TokenRequest::ClientCredentials { scope: Some(s) } => assert_eq!(s.to_string(), "a b"),
            other => panic!("{other:?}"),
        }
    }
}
