//! The `claims` request parameter (OIDC Core §5.5): individual claims a client asks for, for
//! the ID token and for userinfo, each voluntary (`null`) or essential, optionally with the
//! value(s) wanted. Claims are released only if the client is registered for the scope that
//! would release them (§5.5: "the OP MAY … not return Claims it is not willing to release").

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ParseError;

/// One requested claim (§5.5.1); `null` in the request is the default: voluntary, any value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Individual {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub essential: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<Value>>,
}

/// The members of the `claims` object we act on; others are ignored (§5.5).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClaimsRequest {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub userinfo: BTreeMap<String, Option<Individual>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub id_token: BTreeMap<String, Option<Individual>>,
}

/// Where a claim is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    IdToken,
    Userinfo,
}

/// The longest `claims` value accepted (it travels in the URL and is stored with the grant).
const MAX_LEN: usize = 4096;

impl ClaimsRequest {
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        if text.len() > MAX_LEN {
            return Err(ParseError::new("claims is too long"));
        }
        serde_json::from_str(text).map_err(|e| ParseError::new(format!("claims is not valid: {e}")))
    }

    /// The stored form (JSON), as kept with the code and the token family.
    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A stored form read back; unreadable means nothing was requested.
    pub fn from_stored(text: Option<&str>) -> Self {
        text.and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default()
    }

    fn members(&self, target: Target) -> &BTreeMap<String, Option<Individual>> {
        match target {
            Target::IdToken => &self.id_token,
            Target::Userinfo => &self.userinfo,
        }
    }

    /// The names of the claims asked for at `target`.
    pub fn names(&self, target: Target) -> impl Iterator<Item = &str> {
        self.members(target).keys().map(String::as_str)
    }

    /// §5.5.1.1: the `acr` values an essential `acr` request for the ID token accepts.
    pub fn essential_acr(&self) -> Option<Vec<&str>> {
        let acr = self.id_token.get("acr")?.as_ref()?;
        if acr.essential != Some(true) {
            return None;
        }
        let mut wanted: Vec<&str> = acr
            .values
            .iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        wanted.extend(acr.value.as_ref().and_then(Value::as_str));
        Some(wanted)
    }

    /// §5.5.1: a `sub` asked for with a value: the person the client expects.
    pub fn expected_sub(&self) -> Result<Option<&str>, ParseError> {
        let mut subs = [Target::IdToken, Target::Userinfo]
            .into_iter()
            .filter_map(|t| self.members(t).get("sub")?.as_ref()?.value.as_ref())
            .map(|v| {
                v.as_str()
                    .ok_or(ParseError::new("the sub value must be a string"))
            });
        let first = subs.next().transpose()?;
        match subs.next().transpose()? {
            Some(second) if Some(second) != first => {
                Err(ParseError::new("claims asks for two different sub values"))
            }
            _ => Ok(first),
        }
    }
}

/// The scope that releases a claim (OIDC Core §5.4 and the MPSV claims contract).
pub fn scope_of(claim: &str) -> Option<&'static str> {
    Some(match claim {
        "name" | "given_name" | "family_name" | "preferred_username" | "locale" => "profile",
        "email" | "email_verified" => "email",
        "mpsv_client_id" => "mpsv",
        "organisation"
        | "statutory_representative"
        | "submit_permission"
        | "submit_permission_source"
        | "apps" => "organisation",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_examples_of_oidc_core_5_5() {
        let c = ClaimsRequest::parse(
            r#"{"userinfo":{"given_name":{"essential":true},"nickname":null,
                "email":{"essential":true},"email_verified":{"essential":true}},
               "id_token":{"auth_time":{"essential":true},
                "acr":{"essential":true,"values":["urn:mpsv:idp:acr:mfa"]}},
               "unknown_member":{}}"#,
        )
        .unwrap();
        assert_eq!(
            c.names(Target::Userinfo).collect::<Vec<_>>(),
            ["email", "email_verified", "given_name", "nickname"]
        );
        assert_eq!(c.essential_acr(), Some(vec!["urn:mpsv:idp:acr:mfa"]));
        assert_eq!(ClaimsRequest::from_stored(Some(&c.to_stored())), c);
        assert!(ClaimsRequest::parse("[1]").is_err());
        assert!(ClaimsRequest::parse(r#"{"userinfo":{"email":{"essential":"yes"}}}"#).is_err());
    }

    #[test]
    fn two_different_sub_values_are_refused() {
        let c = ClaimsRequest::parse(
            r#"{"id_token":{"sub":{"value":"a"}},"userinfo":{"sub":{"value":"b"}}}"#,
        )
        .unwrap();
        assert!(c.expected_sub().is_err());
        let c = ClaimsRequest::parse(r#"{"id_token":{"sub":{"value":"a"}}}"#).unwrap();
        assert_eq!(c.expected_sub().unwrap(), Some("a"));
    }
}
