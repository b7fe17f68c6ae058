//! Organisations: identified by their IČO (identifikační číslo osoby), with the two flags that
//! decide which applications their people may use.

use std::fmt;

use super::ParseError;
use crate::domain::id::OrganisationId;

/// An IČO: eight digits, the last a mod-11 check digit over the first seven with weights
/// 8, 7, …, 2 (the Czech business register's rule): `c = (11 − (Σ wᵢ·dᵢ mod 11)) mod 10`.
/// Shorter historical numbers are written with leading zeros.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ico(String);

impl Ico {
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        let digits: String = input.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::new("IČO must have exactly 8 digits"));
        }
        let d: Vec<u32> = digits.bytes().map(|b| u32::from(b - b'0')).collect();
        let sum: u32 = d[..7].iter().zip((2..=8).rev()).map(|(x, w)| x * w).sum();
        let check = (11 - sum % 11) % 10;
        if d[7] != check {
            return Err(ParseError(format!(
                "IČO {digits} has a wrong check digit (expected {check})"
            )));
        }
        Ok(Self(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Ico {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an organisation is, as far as the MPSV rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OrganisationKind {
    /// A registered provider of social services (Act 108/2006).
    pub social_service_provider: bool,
    /// An NNO active in family support: its poskytovatel users may also use rodina.
    pub nno_family_support: bool,
}

/// The seat (registered office) where the credentials letter is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seat {
    pub street: String,
    pub city: String,
    /// Five digits, written `110 00`.
    pub postcode: String,
}

impl Seat {
    pub fn parse(street: &str, city: &str, postcode: &str) -> Result<Self, ParseError> {
        let digits: String = postcode.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.len() != 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::new("the postcode must have 5 digits"));
        }
        let (street, city) = (street.trim(), city.trim());
        if street.is_empty() || city.is_empty() {
            return Err(ParseError::new("the seat needs a street and a city"));
        }
        Ok(Self {
            street: street.to_owned(),
            city: city.to_owned(),
            postcode: format!("{} {}", &digits[..3], &digits[3..]),
        })
    }
}

/// An organisation as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organisation {
    pub id: OrganisationId,
    pub ico: Ico,
    pub name: String,
    /// The legal form as the register writes it (spolek, obecně prospěšná společnost, …).
    pub legal_form: String,
    pub seat: Seat,
    pub kind: OrganisationKind,
}

impl Organisation {
    pub fn new(
        ico: Ico,
        name: &str,
        legal_form: &str,
        seat: Seat,
        kind: OrganisationKind,
    ) -> Result<Self, ParseError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 255 {
            return Err(ParseError::new("the name must have 1 to 255 characters"));
        }
        Ok(Self {
            id: OrganisationId::generate(),
            ico,
            name: name.to_owned(),
            legal_form: legal_form.trim().to_owned(),
            seat,
            kind,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_icos_pass_including_remainders_zero_and_one() {
        // MPSV itself; remainder 8 → 3.
        assert_eq!(Ico::parse("00551023").unwrap().as_str(), "00551023");
        // Remainder 1 → check digit 0 (11 − 1 = 10 → 0); remainder 0 → 1 (11 → 1).
        assert!(Ico::parse("10000020").is_ok());
        assert!(Ico::parse("10000071").is_ok());
        assert!(Ico::parse("10000021").is_err());
        for ico in ["00064581", "45274649", "27074358", "00006947"] {
            assert!(Ico::parse(ico).is_ok(), "{ico}");
        }
        assert_eq!(Ico::parse(" 0055 1023 ").unwrap().as_str(), "00551023");
    }

    #[test]
    fn seats_need_a_five_digit_postcode() {
        let s = Seat::parse("Na Poříčním právu 1", "Praha 2", "12801").unwrap();
        assert_eq!(s.postcode, "128 01");
        assert!(Seat::parse("x", "y", "1280").is_err());
        assert!(Seat::parse("", "y", "12801").is_err());
    }

    #[test]
    fn wrong_icos_are_refused_with_a_reason() {
        assert!(Ico::parse("00551024")
            .unwrap_err()
            .0
            .contains("check digit"));
        assert!(Ico::parse("0055102").unwrap_err().0.contains("8 digits"));
        assert!(Ico::parse("0055102a").is_err());
        assert!(Ico::parse("").is_err());
    }
}
