//! The MPSV client identifier, assigned when a person's first consent is recorded.
//!
//! Format: `MP` followed by eight digits of a sequence number and one check digit computed
//! with the Damm algorithm over those eight digits, e.g. `MP000000013`. The Damm check digit
//! catches every single-digit error and every transposition of adjacent digits. The sequence is
//! kept in the database and only ever grows, so an identifier is never reused.

use std::fmt;

use super::ParseError;

/// Damm's quasigroup of order 10 (totally anti-symmetric).
const DAMM: [[u8; 10]; 10] = [
    [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
    [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
    [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
    [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
    [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
    [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
    [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
    [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
    [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
    [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];

fn damm(digits: &str) -> u8 {
    digits.bytes().fold(0u8, |interim, b| {
        DAMM[interim as usize][(b - b'0') as usize]
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MpsvClientId(String);

impl MpsvClientId {
    /// The identifier of sequence number `n` (1 ≤ n ≤ 99,999,999).
    pub fn from_sequence(n: i64) -> Result<Self, ParseError> {
        if !(1..=99_999_999).contains(&n) {
            return Err(ParseError::new("MPSV client identifier sequence exhausted"));
        }
        let digits = format!("{n:08}");
        let check = damm(&digits);
        Ok(Self(format!("MP{digits}{check}")))
    }

    /// Parses an identifier typed by a person (case and spaces ignored), checking its digit.
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        let s: String = input
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect::<String>()
            .to_ascii_uppercase();
        let digits = s
            .strip_prefix("MP")
            .filter(|d| d.len() == 9 && d.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| ParseError::new("an MPSV client identifier is MP and 9 digits"))?;
        if damm(digits) != 0 {
            return Err(ParseError::new(
                "the MPSV client identifier has a wrong check digit",
            ));
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MpsvClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damm_matches_the_published_example() {
        // Wikipedia's worked example: 572 → check digit 4.
        assert_eq!(damm("572"), 4);
        assert_eq!(damm("5724"), 0);
    }

    #[test]
    fn identifiers_round_trip_and_catch_typos() {
        let id = MpsvClientId::from_sequence(1).unwrap();
        assert_eq!(id.as_str().len(), 11);
        assert_eq!(
            MpsvClientId::parse(&id.as_str().to_lowercase()).unwrap(),
            id
        );
        let id = MpsvClientId::from_sequence(12_345_678).unwrap();
        let s = id.as_str();
        // Every single-digit change and every adjacent swap is detected.
        for i in 2..s.len() {
            for d in b'0'..=b'9' {
                let mut b = s.as_bytes().to_vec();
                if b[i] == d {
                    continue;
                }
                b[i] = d;
                assert!(MpsvClientId::parse(std::str::from_utf8(&b).unwrap()).is_err());
            }
            if i + 1 < s.len() && s.as_bytes()[i] != s.as_bytes()[i + 1] {
                let mut b = s.as_bytes().to_vec();
                b.swap(i, i + 1);
                assert!(MpsvClientId::parse(std::str::from_utf8(&b).unwrap()).is_err());
            }
        }
        assert!(MpsvClientId::from_sequence(0).is_err());
        assert!(MpsvClientId::parse("XX123456789").is_err());
    }
}
