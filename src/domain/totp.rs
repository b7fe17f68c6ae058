//! Time-based one-time passwords, the second factor (RFC 6238, built on HOTP, RFC 4226).
//!
//! The parameters are the ones every authenticator app understands: HMAC-SHA1, 6 digits,
//! a 30-second step counted from the Unix epoch (T0 = 0). A code is accepted for the current
//! step and one step either side, to forgive clock skew (RFC 6238 §5.2), and never twice:
//! the caller stores the step that [`verify`] returns and passes it back next time, so a code
//! seen over someone's shoulder cannot be replayed within its window (RFC 6238 §5.2, last
//! paragraph).
//!
//! Enrolment shows the secret as an `otpauth://` URI (Google's Key Uri Format), which
//! `web::qr` draws as a QR code, and hands out single-use recovery codes
//! (`domain::recovery`) for a lost phone.
//!
//! Everything here is pure: the caller supplies the time and keeps the state.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rand::Rng;
use sha1::Sha1;
use subtle::{ConditionallySelectable, ConstantTimeEq};

use super::ParseError;

/// Digits in a code shown by the app.
pub const DIGITS: u32 = 6;
/// Seconds per time step (RFC 6238 `X`).
pub const STEP_SECONDS: i64 = 30;
/// How many steps before and after the current one are still accepted.
pub const ALLOWED_SKEW_STEPS: i64 = 1;
/// Bytes in a shared secret: 160 bits, the length RFC 4226 §4 recommends (R6).
const SECRET_BYTES: usize = 20;

/// The shared secret between us and the user's authenticator app. Unlike passwords it cannot
/// be stored as a hash (we must compute codes from it), so it is kept out of `Debug` output
/// and logs, and only [`TotpSecret::to_base32`] reveals it, for storage and enrolment.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret([u8; SECRET_BYTES]);

impl TotpSecret {
    /// A fresh random secret from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = [0u8; SECRET_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Parses a stored or typed-in secret: RFC 4648 base32, case-insensitive, with or without
    /// `=` padding, spaces ignored. It must decode to exactly 160 bits, the only size we issue.
    pub fn from_base32(s: &str) -> Result<Self, ParseError> {
        let bytes =
            base32_decode(s).ok_or_else(|| ParseError::new("TOTP secret is not valid base32"))?;
        let bytes: [u8; SECRET_BYTES] = bytes
            .try_into()
            .map_err(|_| ParseError::new("TOTP secret must be 160 bits"))?;
        Ok(Self(bytes))
    }

    /// Base32 without padding (32 upper-case characters), as authenticator apps expect it.
    pub fn to_base32(&self) -> String {
        base32_encode(&self.0)
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(***)")
    }
}

/// The time step that `now` (Unix seconds) falls in: `floor((now - T0) / X)` with T0 = 0.
pub fn step_at(now: i64) -> i64 {
    now.div_euclid(STEP_SECONDS)
}

/// The 6-digit code for a time step, zero-padded.
pub fn code_at(secret: &TotpSecret, step: i64) -> String {
    code_with_digits(&secret.0, step, DIGITS)
}

/// HOTP (RFC 4226 §5.3) over the step as an 8-byte big-endian counter, `digits` long.
///
/// A negative step is hashed as its two's-complement bits; [`verify`] never asks for one.
/// HMAC accepts keys of any length, so creating it cannot fail; were it ever to, the empty
/// string returned matches no entered code (we fail closed rather than panic).
fn code_with_digits(key: &[u8], step: i64, digits: u32) -> String {
    let Ok(mut mac) = <Hmac<Sha1> as KeyInit>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(&step.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    // Dynamic truncation: the low nibble of the last byte picks four bytes, top bit masked.
    let offset = usize::from(hash[hash.len() - 1] & 0x0f);
    let binary = u32::from_be_bytes([
        hash[offset] & 0x7f,
        hash[offset + 1],
        hash[offset + 2],
        hash[offset + 3],
    ]);
    let value = u64::from(binary) % 10u64.pow(digits);
    format!("{value:0width$}", width = digits as usize)
}

/// Checks an entered code at time `now` (Unix seconds) and returns the step it matched.
///
/// Spaces in `code` are ignored (apps show `123 456`); anything else that is not exactly six
/// ASCII digits is refused. The current step and [`ALLOWED_SKEW_STEPS`] either side are
/// tried, but no step at or before `last_used_step`: store the returned step and pass it
/// back next time, so each code works once. All candidates are compared in constant time.
pub fn verify(
    secret: &TotpSecret,
    code: &str,
    now: i64,
    last_used_step: Option<i64>,
) -> Option<i64> {
    let entered: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if entered.len() != DIGITS as usize || !entered.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = step_at(now);
    let mut found = subtle::Choice::from(0);
    let mut matched: i64 = 0;
    for step in (current - ALLOWED_SKEW_STEPS)..=(current + ALLOWED_SKEW_STEPS) {
        if step < 0 || last_used_step.is_some_and(|last| step <= last) {
            continue;
        }
        let hit = code_at(secret, step).as_bytes().ct_eq(entered.as_bytes());
        // Keep the latest matching step without branching on the comparison.
        matched = i64::conditional_select(&matched, &step, hit);
        found |= hit;
    }
    bool::from(found).then_some(matched)
}

/// Characters left as they are in the URI: RFC 3986 unreserved. Everything else, including
/// `:` `@` `&` and spaces, is percent-encoded (spaces as `%20`, not `+`).
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The enrolment URI in Google's Key Uri Format:
/// `otpauth://totp/Issuer:account?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30`.
///
/// The issuer appears both as the label prefix and as a parameter, as the format recommends.
/// Issuer and account are percent-encoded; neither should contain a `:` of its own.
pub fn otpauth_uri(secret: &TotpSecret, issuer: &str, account: &str) -> String {
    let issuer = utf8_percent_encode(issuer, URI_COMPONENT).to_string();
    let account = utf8_percent_encode(account, URI_COMPONENT);
    format!(
        "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}\
         &algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        secret = secret.to_base32(),
    )
}

/// RFC 4648 §6 base32, upper-case, without padding.
fn base32_encode(bytes: &[u8]) -> String {
    data_encoding::BASE32_NOPAD.encode(bytes)
}

/// Decodes base32 leniently as to case, spaces and trailing `=`; `None` on any other
/// character or on leftover bits that are not zero (a truncated or mistyped secret).
fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let cleaned: String = s
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    data_encoding::BASE32_NOPAD
        .decode(cleaned.trim_end_matches('=').as_bytes())
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B uses this ASCII seed for SHA1.
    const RFC_SEED: &[u8; 20] = b"12345678901234567890";

    fn rfc_secret() -> TotpSecret {
        TotpSecret(*RFC_SEED)
    }

    /// (Unix time, 8-digit TOTP) from RFC 6238 Appendix B, SHA1 rows.
    const RFC_VECTORS: [(i64, &str); 6] = [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1111111111, "14050471"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
        (20000000000, "65353130"),
    ];

    #[test]
    fn codes_match_the_rfc_6238_sha1_test_vectors() {
        for (time, expected) in RFC_VECTORS {
            assert_eq!(
                code_with_digits(RFC_SEED, step_at(time), 8),
                expected,
                "8 digits at {time}"
            );
            // Six digits are the value mod 10^6, i.e. the last six of the eight.
            assert_eq!(
                code_at(&rfc_secret(), step_at(time)),
                expected[2..],
                "6 digits at {time}"
            );
        }
    }

    #[test]
    fn hotp_matches_the_rfc_4226_test_values() {
        // RFC 4226 Appendix D, counters 0 and 9.
        assert_eq!(code_with_digits(RFC_SEED, 0, 6), "755224");
        assert_eq!(code_with_digits(RFC_SEED, 9, 6), "520489");
    }

    #[test]
    fn the_current_code_is_accepted_and_returns_its_step() {
        let secret = TotpSecret::generate();
        let now = 1_700_000_015;
        let code = code_at(&secret, step_at(now));
        assert_eq!(verify(&secret, &code, now, None), Some(step_at(now)));
    }

    #[test]
    fn one_step_of_clock_skew_either_way_is_accepted() {
        let secret = rfc_secret();
        let now = 1_700_000_015;
        let step = step_at(now);
        for s in [step - 1, step + 1] {
            let code = code_at(&secret, s);
            assert_eq!(verify(&secret, &code, now, None), Some(s));
        }
    }

    #[test]
    fn two_steps_of_skew_are_refused() {
        let secret = rfc_secret();
        let now = 1_700_000_015;
        let step = step_at(now);
        for s in [step - 2, step + 2] {
            let code = code_at(&secret, s);
            // Guard against a chance collision with an accepted step making the test flaky.
            let collides = (step - 1..=step + 1).any(|t| code_at(&secret, t) == code);
            assert!(collides || verify(&secret, &code, now, None).is_none());
        }
    }

    #[test]
    fn a_used_code_is_refused_when_replayed() {
        let secret = rfc_secret();
        let now = 1_700_000_015;
        let code = code_at(&secret, step_at(now));
        let used = verify(&secret, &code, now, None);
        assert_eq!(used, Some(step_at(now)));
        assert_eq!(verify(&secret, &code, now, used), None);
        assert_eq!(verify(&secret, &code, now + 20, used), None);
    }

    #[test]
    fn a_code_from_before_the_last_used_step_is_refused() {
        let secret = rfc_secret();
        let now = 1_700_000_015;
        let step = step_at(now);
        let previous = code_at(&secret, step - 1);
        // The user already signed in with the current code; the older one is now dead.
        assert_eq!(verify(&secret, &previous, now, Some(step)), None);
        // But the next step's code is still fine.
        let next = code_at(&secret, step + 1);
        assert_eq!(verify(&secret, &next, now, Some(step)), Some(step + 1));
    }

    #[test]
    fn spaces_in_the_entered_code_are_ignored() {
        let secret = rfc_secret();
        let now = 1_700_000_015;
        let code = code_at(&secret, step_at(now));
        let spaced = format!(" {} {} ", &code[..3], &code[3..]);
        assert_eq!(verify(&secret, &spaced, now, None), Some(step_at(now)));
    }

    #[test]
    fn malformed_codes_are_refused() {
        let secret = rfc_secret();
        let now = 1111111109;
        let code = code_at(&secret, step_at(now));
        assert_eq!(code, "081804");
        for bad in [
            "",
            "08180",
            "0818045",
            "07081804",
            "08180a",
            "081-804",
            "+81804",
            "０８１８０４", // full-width digits are not ASCII
            "081804\0",
        ] {
            assert_eq!(verify(&secret, bad, now, None), None, "{bad:?}");
        }
    }

    #[test]
    fn a_wrong_secret_does_not_verify() {
        let now = 1_700_000_015;
        let code = code_at(&rfc_secret(), step_at(now));
        let other = TotpSecret::generate();
        let collides = (-1..=1).any(|d| code_at(&other, step_at(now) + d) == code);
        assert!(collides || verify(&other, &code, now, None).is_none());
    }

    #[test]
    fn a_secret_survives_a_base32_round_trip() {
        let secret = TotpSecret::generate();
        let encoded = secret.to_base32();
        assert_eq!(encoded.len(), 32);
        assert!(!encoded.contains('='));
        assert_eq!(TotpSecret::from_base32(&encoded), Ok(secret.clone()));
        // Lower case, spaces and padding are tolerated.
        let sloppy = format!("{} ==", encoded.to_lowercase());
        assert_eq!(TotpSecret::from_base32(&sloppy), Ok(secret));
    }

    #[test]
    fn base32_matches_rfc_4648_test_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32_encode(plain.as_bytes()), encoded);
            assert_eq!(base32_decode(encoded), Some(plain.as_bytes().to_vec()));
        }
        assert_eq!(base32_encode(RFC_SEED), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    }

    #[test]
    fn bad_base32_secrets_are_refused() {
        assert!(TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1").is_err());
        assert!(TotpSecret::from_base32("MZXW6YTBOI").is_err()); // too short
        assert!(base32_decode("MZXW6YTBOJ").is_none()); // non-zero leftover bits
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let secret = rfc_secret();
        let shown = format!("{secret:?}");
        assert!(!shown.contains(&secret.to_base32()));
        assert!(!shown.contains("1234"));
    }

    #[test]
    fn the_otpauth_uri_follows_the_key_uri_format() {
        let secret = rfc_secret();
        let uri = otpauth_uri(&secret, "MPSV OKslužby", "jan.novak@example.cz");
        assert_eq!(
            uri,
            "otpauth://totp/MPSV%20OKslu%C5%BEby:jan.novak%40example.cz\
             ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=MPSV%20OKslu%C5%BEby\
             &algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn query_characters_in_names_cannot_break_the_uri() {
        let uri = otpauth_uri(&rfc_secret(), "A&B", "x?secret=AAAA&y#z");
        assert!(uri.starts_with("otpauth://totp/A%26B:x%3Fsecret%3DAAAA%26y%23z?secret=GEZ"));
        assert_eq!(uri.matches("secret=").count(), 1);
        assert!(!uri.contains('#'));
    }
}
