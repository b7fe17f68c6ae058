//! A person known to MPSV: exists before any account (a consent is recorded for a person who
//! has no login yet) and carries the MPSV client identifier once the first consent is in.

use super::account::Username;
use super::date::Date;
use super::mpsv_id::MpsvClientId;
use super::ParseError;
use crate::domain::id::Subject;

#[derive(Debug, Clone)]
pub struct Person {
    /// Stable subject identifier (a UUID), the same as the account's `sub`.
    pub sub: Subject,
    pub given_name: String,
    pub family_name: String,
    pub email: Option<String>,
    pub locale: String,
    pub mpsv_client_id: Option<MpsvClientId>,
}

impl Person {
    /// A new person from what an operator typed: names are required, the e-mail is checked
    /// for shape only (it is where password-reset links go).
    pub fn new(
        given_name: &str,
        family_name: &str,
        email: Option<&str>,
    ) -> Result<Self, ParseError> {
        let given_name = given_name.trim();
        let family_name = family_name.trim();
        if given_name.is_empty() || family_name.is_empty() {
            return Err(ParseError::new("given and family name are required"));
        }
        if given_name.chars().count() > 100 || family_name.chars().count() > 100 {
            return Err(ParseError::new("a name may have at most 100 characters"));
        }
        let email = match email.map(str::trim).filter(|e| !e.is_empty()) {
            Some(e) => Some(parse_email(e)?),
            None => None,
        };
        Ok(Person {
            sub: Subject::generate(),
            given_name: given_name.to_owned(),
            family_name: family_name.to_owned(),
            email,
            locale: "cs".into(),
            mpsv_client_id: None,
        })
    }

    pub fn name(&self) -> String {
        format!("{} {}", self.given_name, self.family_name)
    }

    /// A username proposed for a new account: `given.family` without diacritics, lower-case
    /// (`Jiří Šťastný` → `jiri.stastny`); the caller appends a number when it is taken.
    pub fn proposed_username(&self) -> Result<Username, ParseError> {
        let clean = |s: &str| -> String {
            super::text::search_key(s)
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect()
        };
        Username::parse(&format!(
            "{}.{}",
            clean(&self.given_name),
            clean(&self.family_name)
        ))
    }
}

/// An e-mail address of a plausible shape: one `@`, something on both sides, a dot in the
/// domain, no spaces, at most 254 characters (RFC 5321 §4.5.3.1.3).
pub fn parse_email(input: &str) -> Result<String, ParseError> {
    let e = input.trim();
    let ok = e.len() <= 254
        && !e.chars().any(char::is_whitespace)
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if ok {
        Ok(e.to_owned())
    } else {
        Err(ParseError::new(format!("not an e-mail address: {e:?}")))
    }
}

/// A consent as recorded from the signed paper form.
#[derive(Debug, Clone)]
pub struct ConsentForm {
    pub signed_on: Date,
    pub received_on: Date,
    /// MPSV's reference number of the received form (č. j.).
    pub reference: String,
}

impl ConsentForm {
    pub fn new(signed_on: Date, received_on: Date, reference: &str) -> Result<Self, ParseError> {
        let reference = reference.trim();
        if reference.is_empty() || reference.chars().count() > 64 {
            return Err(ParseError::new(
                "the reference number is required (at most 64 characters)",
            ));
        }
        if received_on < signed_on {
            return Err(ParseError::new(
                "a consent cannot be received before it was signed",
            ));
        }
        Ok(ConsentForm {
            signed_on,
            received_on,
            reference: reference.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_person_needs_both_names_and_a_plausible_email() {
        assert!(Person::new("Jana", "", None).is_err());
        assert!(Person::new("Jana", "Nová", Some("jana")).is_err());
        assert!(Person::new("Jana", "Nová", Some("a b@x.cz")).is_err());
        let p = Person::new(" Jiří ", "Šťastný", Some("jiri@example.cz")).unwrap();
        assert_eq!(p.name(), "Jiří Šťastný");
        assert_eq!(p.proposed_username().unwrap().as_str(), "jiri.stastny");
    }

    #[test]
    fn a_consent_is_not_received_before_it_is_signed() {
        let d = |s| Date::parse(s).unwrap();
        assert!(ConsentForm::new(d("2026-11-02"), d("2026-11-01"), "1/2026").is_err());
        assert!(ConsentForm::new(d("2026-11-01"), d("2026-11-02"), " ").is_err());
        assert!(ConsentForm::new(d("2026-11-01"), d("2026-11-01"), "MPSV-1/2026").is_ok());
    }
}
