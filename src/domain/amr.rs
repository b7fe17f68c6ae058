//! Authentication method references (RFC 8176): what a login proved. Kept as a set in the
//! order the methods were proved, stored space-separated, and sent as a JSON array in the
//! `amr` claim (OIDC Core §2).

use std::fmt;

use super::ParseError;

/// A method this IdP authenticates with (RFC 8176 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// A password (`pwd`).
    Password,
    /// A one-time password (`otp`): the TOTP second factor or a recovery code.
    Otp,
    /// Proof of possession of a hardware-secured key (`hwk`): a passkey that cannot leave its
    /// authenticator (not backup-eligible, WebAuthn Level 3 §6.1 flag BE unset).
    HardwareKey,
    /// Proof of possession of a software-secured key (`swk`): a synced passkey (backup
    /// eligible), whose key a password manager or platform copies between devices.
    SoftwareKey,
    /// A user presence test (`user`); with passkeys we also require user verification, which
    /// the authenticator performs with its PIN or biometrics.
    UserPresence,
    /// Multiple-factor authentication (`mfa`), said of a sign-in through the national eID,
    /// whose levels "substantial" and "high" are multi-factor by definition (Commission
    /// Implementing Regulation (EU) 2015/1502, 2.2.1).
    MultiFactor,
    /// The national electronic identification (`urn:mpsv:idp:amr:eid`): signed in through an
    /// upstream provider of an eIDAS-notified means (NIA). RFC 8176 registers no value for
    /// it; this one is ours (OIDC Core §2 allows any agreed string).
    NationalEid,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Password => "pwd",
            Method::Otp => "otp",
            Method::HardwareKey => "hwk",
            Method::SoftwareKey => "swk",
            Method::UserPresence => "user",
            Method::MultiFactor => "mfa",
            Method::NationalEid => "urn:mpsv:idp:amr:eid",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        match s {
            "pwd" => Ok(Method::Password),
            "otp" => Ok(Method::Otp),
            "hwk" => Ok(Method::HardwareKey),
            "swk" => Ok(Method::SoftwareKey),
            "user" => Ok(Method::UserPresence),
            "mfa" => Ok(Method::MultiFactor),
            "urn:mpsv:idp:amr:eid" => Ok(Method::NationalEid),
            other => Err(ParseError(format!(
                "unknown authentication method {other:?}"
            ))),
        }
    }

    /// Whether the method is a second factor (the MFA level, `urn:mpsv:idp:acr:mfa`). A
    /// passkey is one even alone: it proves possession of the key, and the authenticator
    /// verified the person (PIN or biometrics) before signing (NIST SP 800-63B §5.1.8,
    /// multi-factor cryptographic authenticator).
    pub fn is_second_factor(self) -> bool {
        matches!(
            self,
            Method::Otp
                | Method::HardwareKey
                | Method::SoftwareKey
                | Method::MultiFactor
                | Method::NationalEid
        )
    }
}

/// The methods a session's authentication proved, each once, in the order proved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Amr(Vec<Method>);

impl Amr {
    /// Proved by `method` alone.
    pub fn of(method: Method) -> Self {
        Self(vec![method])
    }

    /// `self` and then `method` (no change when already proved).
    pub fn with(mut self, method: Method) -> Self {
        if !self.0.contains(&method) {
            self.0.push(method);
        }
        self
    }

    pub fn contains(&self, method: Method) -> bool {
        self.0.contains(&method)
    }

    /// Did the authentication include a second factor?
    pub fn has_second_factor(&self) -> bool {
        self.0.iter().any(|m| m.is_second_factor())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The values of the `amr` claim.
    pub fn values(&self) -> Vec<&'static str> {
        self.0.iter().map(|m| m.as_str()).collect()
    }

    /// The stored form: the values separated by single spaces (empty for none).
    pub fn parse(stored: &str) -> Result<Self, ParseError> {
        stored
            .split(' ')
            .filter(|v| !v.is_empty())
            .try_fold(Amr::default(), |amr, v| Ok(amr.with(Method::parse(v)?)))
    }
}

impl fmt::Display for Amr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.values().join(" "))
    }
}

/// For `#[sqlx(try_from = "String")]` on stored rows.
impl TryFrom<String> for Amr {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, ParseError> {
        Amr::parse(&s)
    }
}

/// In tokens and API answers: the JSON array of values.
impl serde::Serialize for Amr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.values())
    }
}

impl<'de> serde::Deserialize<'de> for Amr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let values = <Vec<String> as serde::Deserialize>::deserialize(d)?;
        values
            .iter()
            .try_fold(Amr::default(), |amr, v| Ok(amr.with(Method::parse(v)?)))
            .map_err(|e: ParseError| serde::de::Error::custom(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_in_the_order_proved() {
        let amr = Amr::of(Method::Password)
            .with(Method::Otp)
            .with(Method::Password);
        assert_eq!(amr.to_string(), "pwd otp");
        assert!(amr.has_second_factor());
        assert!(!Amr::of(Method::Password).has_second_factor());
        assert_eq!(Amr::parse("pwd  otp").unwrap(), amr);
        assert_eq!(Amr::parse("").unwrap(), Amr::default());
        assert!(Amr::parse("pwd face").is_err());
    }

    #[test]
    fn a_passkey_alone_is_the_mfa_level() {
        let amr = Amr::of(Method::SoftwareKey).with(Method::UserPresence);
        assert_eq!(amr.to_string(), "swk user");
        assert!(amr.has_second_factor());
        assert_eq!(
            Amr::parse("hwk user").unwrap().values(),
            vec!["hwk", "user"]
        );
        assert!(!Amr::of(Method::UserPresence).has_second_factor());
    }

    #[test]
    fn json_is_the_claim_array() {
        let amr = Amr::of(Method::Password).with(Method::Otp);
        let v = serde_json::to_value(&amr).unwrap();
        assert_eq!(v, serde_json::json!(["pwd", "otp"]));
        assert_eq!(serde_json::from_value::<Amr>(v).unwrap(), amr);
        assert!(serde_json::from_value::<Amr>(serde_json::json!(["x"])).is_err());
    }
}
