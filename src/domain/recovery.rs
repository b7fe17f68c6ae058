//! Recovery codes: single-use codes that stand in for the authenticator app when the phone is
//! lost, handed out at TOTP enrolment. Only a keyed hash of each is stored
//! (`keys::sealing::DataKey::recovery_code_hash`).

use std::collections::HashSet;
use std::fmt;

use rand::{Rng, RngExt};

/// Recovery codes handed out at enrolment.
pub const RECOVERY_CODE_COUNT: usize = 10;

/// Recovery-code alphabet: lower-case letters and digits without the look-alikes
/// `0`/`o`, `1`/`l`/`i`. 31 symbols, each carrying log2(31) ≈ 4.95 bits.
const RECOVERY_ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";
/// Symbols in a recovery code, shown as three groups of six: 18 × 4.95 ≈ 89 bits, above the
/// 80 bits that make an offline search hopeless even with the key (NIST SP 800-63B §5.1.2
/// asks 64 bits of a look-up secret; we keep a margin).
const RECOVERY_LEN: usize = 18;
const RECOVERY_GROUP: usize = 6;

/// A single-use code that stands in for the authenticator app when the phone is lost.
/// Shown to the user once at enrolment ([`RecoveryCode::display`]); only a keyed hash of
/// [`RecoveryCode::normalized`] is stored (`keys::sealing::DataKey::recovery_code_hash`).
/// Never printed by `Debug`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RecoveryCode(String);

impl RecoveryCode {
    fn generate(rng: &mut impl Rng) -> Self {
        let code = (0..RECOVERY_LEN)
            .map(|_| char::from(RECOVERY_ALPHABET[rng.random_range(0..RECOVERY_ALPHABET.len())]))
            .collect();
        Self(code)
    }

    /// The code as the user should see it: `xxxxxx-xxxxxx-xxxxxx`.
    pub fn display(&self) -> String {
        self.0
            .as_bytes()
            .chunks(RECOVERY_GROUP)
            .filter_map(|c| std::str::from_utf8(c).ok())
            .collect::<Vec<_>>()
            .join("-")
    }

    /// The code as it is hashed: what [`normalize_recovery_code`] makes of the typed input.
    pub fn normalized(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode(***)")
    }
}

/// `n` distinct fresh recovery codes ([`RECOVERY_CODE_COUNT`] is the usual `n`).
pub fn generate_recovery_codes(n: usize) -> Vec<RecoveryCode> {
    let mut rng = rand::rng();
    let mut seen = HashSet::with_capacity(n);
    let mut codes = Vec::with_capacity(n);
    while codes.len() < n {
        let code = RecoveryCode::generate(&mut rng);
        if seen.insert(code.0.clone()) {
            codes.push(code);
        }
    }
    codes
}

/// What the user typed, in the form that was hashed: spaces and dashes removed, lower-case.
pub fn normalize_recovery_code(input: &str) -> String {
    input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_code() {
        let code = RecoveryCode("abcdefghjk".to_owned());
        assert!(!format!("{code:?}").contains("abcde"));
    }

    #[test]
    fn recovery_codes_are_unique_and_well_formed() {
        let codes = generate_recovery_codes(RECOVERY_CODE_COUNT);
        assert_eq!(codes.len(), 10);
        let shown: HashSet<String> = codes.iter().map(RecoveryCode::display).collect();
        assert_eq!(shown.len(), 10);
        for s in &shown {
            assert_eq!(s.len(), 20);
            assert_eq!((&s[6..7], &s[13..14]), ("-", "-"));
            assert!(s
                .bytes()
                .filter(|&b| b != b'-')
                .all(|b| RECOVERY_ALPHABET.contains(&b)));
            for ambiguous in ['0', 'o', 'O', '1', 'l', 'I', 'i'] {
                assert!(!s.contains(ambiguous), "{s} contains {ambiguous}");
            }
        }
    }

    #[test]
    fn a_typed_recovery_code_normalises_to_the_issued_one() {
        let code = &generate_recovery_codes(1)[0];
        let typed = format!(" {} ", code.display().to_uppercase().replace('-', " - "));
        assert_eq!(normalize_recovery_code(&typed), code.normalized());
        assert_eq!(normalize_recovery_code(&code.display()), code.normalized());
    }

    #[test]
    fn recovery_codes_carry_at_least_80_bits() {
        let bits = RECOVERY_LEN as f64 * (RECOVERY_ALPHABET.len() as f64).log2();
        assert!(bits >= 80.0, "{bits}");
    }

    #[test]
    fn normalising_strips_spaces_and_dashes_and_lowercases() {
        assert_eq!(normalize_recovery_code("AbCdE-fGhJk"), "abcdefghjk");
        assert_eq!(normalize_recovery_code(" abcde  fghjk "), "abcdefghjk");
    }
}
