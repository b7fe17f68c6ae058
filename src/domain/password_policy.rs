//! The MPSV password policy (decree 82/2018 Coll. practice) as pure rules.
//!
//! What a new password must satisfy: at least 12 characters for users and 17 for privileged
//! accounts (administrators, operators); any Unicode characters; not containing the username,
//! the given name or the family name; not a known common password. What the caller checks with
//! stored data, reported through the same [`Violation`] type: not one of the last
//! [`PasswordPolicy::history`] passwords ([`Violation::Reused`]) and not changed again within
//! [`PasswordPolicy::min_change_interval_minutes`] ([`Violation::TooSoon`], see
//! [`PasswordPolicy::change_allowed`]). [`PasswordPolicy::expired`] tells when a password is older
//! than the 18 months allowed.
//!
//! Passwords are compared after Unicode NFKC ([`normalize`]), so the same password typed on
//! different keyboards or input methods (full-width letters, ligatures, decomposed accents) is
//! the same password, and its length is counted in Unicode scalar values after NFKC. The hash
//! must be computed from the normalised form too.
//!
//! The common-password list is `data/common-passwords.txt` (see `data/README.md` for where it
//! comes from), compiled into the binary and parsed once on first use; [`warm_up`] lets the
//! server pay that cost at start rather than on the first password change.
//!
//! Nothing here does I/O, knows about HTTP or SQL, or is async.

use std::collections::HashSet;
use std::sync::LazyLock;

use serde::Deserialize;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Seconds in a minute and in a day; all times here are Unix seconds, as everywhere in the crate.
const MINUTE: i64 = 60;
const DAY: i64 = 24 * 60 * MINUTE;

/// The MPSV minimum length for ordinary users.
const MPSV_MIN_LENGTH_USER: usize = 12;
/// The MPSV minimum length for administrators and operators.
const MPSV_MIN_LENGTH_PRIVILEGED: usize = 17;
/// 18 months, rounded up to whole days (1.5 × 365.25 = 547.9).
const MPSV_MAX_AGE_DAYS: i64 = 548;

/// The password policy as configured. The defaults are MPSV's rules; a configuration may make
/// them stricter ([`PasswordPolicy::validate`] refuses anything weaker).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordPolicy {
    /// Minimum length for ordinary users, in Unicode scalar values after NFKC.
    pub min_length_user: usize,
    /// Minimum length for administrators and operators.
    pub min_length_privileged: usize,
    /// How many previous passwords a new one must differ from (checked by the caller against the
    /// stored hashes).
    pub history: usize,
    /// A password older than this many days must be changed before anything else.
    pub max_age_days: i64,
    /// A password may not be changed again sooner than this many minutes after the last change
    /// (so that the history cannot be flushed by changing the password 12 times in a row).
    pub min_change_interval_minutes: i64,
    /// How long an initial password (from the credentials letter or an operator's reset) works
    /// before it must have been changed. The letter travels by post, hence days, not hours.
    pub initial_password_days: i64,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length_user: MPSV_MIN_LENGTH_USER,
            min_length_privileged: MPSV_MIN_LENGTH_PRIVILEGED,
            history: 12,
            max_age_days: MPSV_MAX_AGE_DAYS,
            min_change_interval_minutes: 30,
            initial_password_days: 60,
        }
    }
}

/// A configured policy weaker than MPSV's rules, or self-contradictory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("password_policy.min_length_user must be at least {MPSV_MIN_LENGTH_USER}")]
    UserLengthTooLow,
    #[error("password_policy.min_length_privileged must be at least {MPSV_MIN_LENGTH_PRIVILEGED} and at least min_length_user")]
    PrivilegedLengthTooLow,
    #[error("password_policy.max_age_days must be between 1 and {MPSV_MAX_AGE_DAYS} (18 months)")]
    MaxAgeOutOfRange,
    #[error("password_policy.{0} must not be negative")]
    Negative(&'static str),
}

/// A proposed new password with what it must not contain.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    /// The password as typed (not yet normalised).
    pub password: &'a str,
    pub username: &'a str,
    pub given_name: &'a str,
    pub family_name: &'a str,
    /// An administrator or operator: the longer minimum applies.
    pub privileged: bool,
}

/// One rule a new password breaks. [`Violation::message_key`] names the user-facing text in
/// `locales/*.toml`; the text may hold `{name}` placeholders, which the caller fills from
/// [`Violation::params`] (or with [`Violation::fill`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// Shorter than `min` Unicode scalar values after NFKC.
    TooShort { min: usize },
    /// Contains the username (case and diacritics ignored).
    ContainsUsername,
    /// Contains the given or the family name (case and diacritics ignored).
    ContainsName,
    /// Is, ignoring case, one of the most common passwords.
    Common,
    /// Is one of the last [`PasswordPolicy::history`] passwords (found by the caller).
    Reused,
    /// The password was changed less than `minutes` ago (found by the caller with
    /// [`PasswordPolicy::change_allowed`]; `minutes` is the configured interval).
    TooSoon { minutes: i64 },
}

impl Violation {
    /// The translation key of the user-facing text.
    pub fn message_key(&self) -> &'static str {
        match self {
            Violation::TooShort { .. } => "password.too_short",
            Violation::ContainsUsername => "password.contains_username",
            Violation::ContainsName => "password.contains_name",
            Violation::Common => "password.common",
            Violation::Reused => "password.reused",
            Violation::TooSoon { .. } => "password.too_soon",
        }
    }

    /// The values of the placeholders in the text, by name (`min` → `{min}`).
    pub fn params(&self) -> Vec<(&'static str, String)> {
        match self {
            Violation::TooShort { min } => vec![("min", min.to_string())],
            Violation::TooSoon { minutes } => vec![("minutes", minutes.to_string())],
            Violation::ContainsUsername
            | Violation::ContainsName
            | Violation::Common
            | Violation::Reused => Vec::new(),
        }
    }

    /// `text` (the translation of [`Violation::message_key`]) with its placeholders filled.
    pub fn fill(&self, text: &str) -> String {
        self.params()
            .iter()
            .fold(text.to_owned(), |acc, (name, value)| {
                acc.replace(&format!("{{{name}}}"), value)
            })
    }
}

impl PasswordPolicy {
    /// Refuses a configuration weaker than MPSV's rules.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.min_length_user < MPSV_MIN_LENGTH_USER {
            return Err(PolicyError::UserLengthTooLow);
        }
        if self.min_length_privileged < MPSV_MIN_LENGTH_PRIVILEGED
            || self.min_length_privileged < self.min_length_user
        {
            return Err(PolicyError::PrivilegedLengthTooLow);
        }
        if !(1..=MPSV_MAX_AGE_DAYS).contains(&self.max_age_days) {
            return Err(PolicyError::MaxAgeOutOfRange);
        }
        if self.min_change_interval_minutes < 0 {
            return Err(PolicyError::Negative("min_change_interval_minutes"));
        }
        if self.initial_password_days < 0 {
            return Err(PolicyError::Negative("initial_password_days"));
        }
        Ok(())
    }

    /// The minimum length that applies to an account.
    pub fn min_length(&self, privileged: bool) -> usize {
        if privileged {
            self.min_length_privileged
        } else {
            self.min_length_user
        }
    }

    /// Checks the rules that need nothing stored, and returns every one that is broken (so the
    /// form can show them all at once), in a fixed order.
    pub fn check(&self, c: &Candidate) -> Result<(), Vec<Violation>> {
        let password = normalize(c.password);
        let mut violations = Vec::new();

        let min = self.min_length(c.privileged);
        if password.chars().count() < min {
            violations.push(Violation::TooShort { min });
        }

        let folded = fold(&password);
        if contains_part(&folded, c.username) {
            violations.push(Violation::ContainsUsername);
        }
        if name_parts(c.given_name)
            .iter()
            .chain(&name_parts(c.family_name))
            .any(|part| folded.contains(part.as_str()))
        {
            violations.push(Violation::ContainsName);
        }

        if is_common_normalized(&password) {
            violations.push(Violation::Common);
        }

        if violations.is_empty() {
            Ok(())
        } else {
            Err(violations)
        }
    }

    /// Whether a password last changed at `last_changed_at` may be changed at `now` (both Unix
    /// seconds). A clock that went backwards does not allow a change.
    pub fn change_allowed(&self, last_changed_at: i64, now: i64) -> bool {
        now.saturating_sub(last_changed_at)
            >= self.min_change_interval_minutes.saturating_mul(MINUTE)
    }

    /// Whether a password changed at `changed_at` is past its maximum age at `now` (both Unix
    /// seconds): from the first second of day [`PasswordPolicy::max_age_days`] it must be changed.
    pub fn expired(&self, changed_at: i64, now: i64) -> bool {
        now.saturating_sub(changed_at) >= self.max_age_days.saturating_mul(DAY)
    }

    /// When an initial password issued at `issued_at` stops working (Unix seconds).
    pub fn initial_password_expires_at(&self, issued_at: i64) -> i64 {
        issued_at.saturating_add(self.initial_password_days.saturating_mul(DAY))
    }
}

/// The form in which a password is measured, compared and hashed: Unicode NFKC. Nothing is
/// trimmed or case-folded; spaces and any characters are allowed.
pub fn normalize(password: &str) -> String {
    password.nfkc().collect()
}

/// Whether `password` (or its lower-case form) is among the common passwords, after NFKC.
pub fn is_common(password: &str) -> bool {
    is_common_normalized(&normalize(password))
}

fn is_common_normalized(password: &str) -> bool {
    let common = &*COMMON;
    common.contains(password) || common.contains(password.to_lowercase().as_str())
}

/// Parses the common-password list now rather than on first use (a few tens of milliseconds
/// and a few megabytes, once per process).
pub fn warm_up() {
    LazyLock::force(&COMMON);
}

/// The first 100,000 entries of the xato list, most common first; see `data/README.md`.
static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    const LIST: &str = include_str!("../../data/common-passwords.txt");
    let mut set = HashSet::with_capacity(100_000);
    set.extend(LIST.lines().filter(|line| !line.is_empty()));
    set
});

/// Case and diacritics removed, for "contains the name" comparisons: NFKC, lower case, then
/// the combining marks of the canonical decomposition dropped ("Nováková" → "novakova").
fn fold(s: &str) -> String {
    s.nfkc()
        .collect::<String>()
        .to_lowercase()
        .nfd()
        .filter(|c| !is_combining_mark(*c))
        .collect()
}

/// Whether `folded` contains `part` folded, when `part` has at least 3 characters (shorter ones
/// would forbid too much by chance).
fn contains_part(folded: &str, part: &str) -> bool {
    let part = fold(part.trim());
    part.chars().count() >= 3 && folded.contains(&part)
}

/// The words of a name (split at spaces, hyphens and other non-letters), folded, that have at
/// least 3 characters: "Anna-Marie Nováková" → "anna", "marie", "novakova".
fn name_parts(name: &str) -> Vec<String> {
    fold(name)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|part| part.chars().count() >= 3)
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(password: &str) -> Candidate<'_> {
        Candidate {
            password,
            username: "jnovakova",
            given_name: "Jana",
            family_name: "Nováková",
            privileged: false,
        }
    }

    fn admin(password: &str) -> Candidate<'_> {
        Candidate {
            privileged: true,
            ..user(password)
        }
    }

    fn check(c: Candidate) -> Result<(), Vec<Violation>> {
        PasswordPolicy::default().check(&c)
    }

    #[test]
    fn the_defaults_are_mpsv_rules_and_valid() {
        let p = PasswordPolicy::default();
        assert_eq!(
            (
                p.min_length_user,
                p.min_length_privileged,
                p.history,
                p.max_age_days,
                p.min_change_interval_minutes,
                p.initial_password_days
            ),
            (12, 17, 12, 548, 30, 60)
        );
        assert_eq!(p.validate(), Ok(()));
    }

    #[test]
    fn config_fills_defaults_and_refuses_unknown_fields() {
        let p: PasswordPolicy = toml::from_str("history = 24").unwrap();
        assert_eq!(p.history, 24);
        assert_eq!(p.min_length_user, 12);
        assert!(toml::from_str::<PasswordPolicy>("min_length = 8").is_err());
    }

    #[test]
    fn config_weaker_than_mpsv_rules_is_refused() {
        let weaker = |f: fn(&mut PasswordPolicy)| {
            let mut p = PasswordPolicy::default();
            f(&mut p);
            p.validate()
        };
        assert_eq!(
            weaker(|p| p.min_length_user = 8),
            Err(PolicyError::UserLengthTooLow)
        );
        assert_eq!(
            weaker(|p| p.min_length_privileged = 16),
            Err(PolicyError::PrivilegedLengthTooLow)
        );
        assert_eq!(
            weaker(|p| p.min_length_user = 20),
            Err(PolicyError::PrivilegedLengthTooLow)
        );
        assert_eq!(
            weaker(|p| p.max_age_days = 600),
            Err(PolicyError::MaxAgeOutOfRange)
        );
        assert_eq!(
            weaker(|p| p.max_age_days = 0),
            Err(PolicyError::MaxAgeOutOfRange)
        );
        assert_eq!(
            weaker(|p| p.min_change_interval_minutes = -1),
            Err(PolicyError::Negative("min_change_interval_minutes"))
        );
        assert_eq!(weaker(|p| p.min_length_privileged = 20), Ok(()));
    }

    #[test]
    fn eleven_characters_are_too_short_for_a_user_and_twelve_are_enough() {
        assert_eq!(
            check(user("Kp7#mWq2zLx")),
            Err(vec![Violation::TooShort { min: 12 }])
        );
        assert_eq!(check(user("Kp7#mWq2zLx9")), Ok(()));
    }

    #[test]
    fn sixteen_characters_are_too_short_for_a_privileged_account_and_seventeen_are_enough() {
        assert_eq!(
            check(admin("Kp7#mWq2zLx9vRt4")),
            Err(vec![Violation::TooShort { min: 17 }])
        );
        assert_eq!(check(admin("Kp7#mWq2zLx9vRt4b")), Ok(()));
    }

    #[test]
    fn length_is_counted_after_nfkc() {
        // The "ﬁ" ligature is one scalar value typed, two ("fi") after NFKC: 11 → 12.
        let ligature = "ﬁKp7#mWq2zL";
        assert_eq!(ligature.chars().count(), 11);
        assert_eq!(normalize(ligature), "fiKp7#mWq2zL");
        assert_eq!(check(user(ligature)), Ok(()));

        // A decomposed "é" is two scalar values typed, one after NFKC: 12 → 6.
        let decomposed = "e\u{301}".repeat(6);
        assert_eq!(decomposed.chars().count(), 12);
        assert_eq!(
            check(user(&decomposed)),
            Err(vec![Violation::TooShort { min: 12 }])
        );
    }

    #[test]
    fn full_width_letters_are_the_same_password_as_ascii() {
        assert_eq!(normalize("Ｋｐ７＃ｍＷｑ２ｚＬｘ９"), "Kp7#mWq2zLx9");
        // And so a full-width common password is still a common password.
        assert_eq!(
            check(user("ｑｗｅｒｔｙ１２３４５６")),
            Err(vec![Violation::Common])
        );
    }

    #[test]
    fn twelve_emoji_and_czech_letters_are_accepted() {
        let password = "🐴🦄🐑🐐🐄🐓ěščřžý";
        assert_eq!(normalize(password).chars().count(), 12);
        assert_eq!(check(user(password)), Ok(()));
        assert_eq!(check(user("Žluťoučký kůň")), Ok(()));
    }

    #[test]
    fn the_username_is_found_whatever_its_case() {
        assert_eq!(
            check(user("xx-JNovakova-2024")),
            Err(vec![Violation::ContainsUsername, Violation::ContainsName])
        );
        let c = Candidate {
            username: "vrana",
            ..user("MojeHesloVRANA!")
        };
        assert_eq!(check(c), Err(vec![Violation::ContainsUsername]));
    }

    #[test]
    fn a_username_shorter_than_three_characters_is_not_looked_for() {
        let c = Candidate {
            username: "jn",
            ..user("jn-Kp7#mWq2zLx9")
        };
        assert_eq!(check(c), Ok(()));
    }

    #[test]
    fn a_name_with_diacritics_is_found_without_them() {
        assert_eq!(
            check(user("novakova-Kp7#mW")),
            Err(vec![Violation::ContainsName])
        );
        assert_eq!(
            check(user("NOVÁKOVÁ-Kp7#mW")),
            Err(vec![Violation::ContainsName])
        );
        assert_eq!(
            check(user("jana&Kp7#mWq2z")),
            Err(vec![Violation::ContainsName])
        );
    }

    #[test]
    fn each_word_of_a_multi_word_name_is_looked_for_but_short_ones_are_not() {
        fn c(password: &str) -> Candidate<'_> {
            Candidate {
                given_name: "Anna-Marie",
                family_name: "Ng Šťastná",
                ..user(password)
            }
        }
        assert_eq!(
            check(c("MARIE-Kp7#mWq2")),
            Err(vec![Violation::ContainsName])
        );
        assert_eq!(
            check(c("stastna-Kp7#mW")),
            Err(vec![Violation::ContainsName])
        );
        assert_eq!(check(c("ng-Kp7#mWq2zLx")), Ok(()));
    }

    #[test]
    fn common_passwords_are_rejected_in_any_case() {
        for password in [
            "qwerty123456",
            "QWERTY123456",
            "1qaz2wsx3edc",
            "password1234",
        ] {
            assert_eq!(
                check(user(password)),
                Err(vec![Violation::Common]),
                "{password}"
            );
        }
        assert_eq!(
            check(admin("123456789987654321")),
            Err(vec![Violation::Common])
        );
        assert!(!is_common("Kp7#mWq2zLx9"));
    }

    #[test]
    fn all_violations_are_reported_together() {
        let c = Candidate {
            username: "novak",
            family_name: "Novák",
            ..user("Novak")
        };
        assert_eq!(
            check(c),
            Err(vec![
                Violation::TooShort { min: 12 },
                Violation::ContainsUsername,
                Violation::ContainsName,
                Violation::Common,
            ])
        );
    }

    #[test]
    fn the_common_list_has_one_hundred_thousand_distinct_entries() {
        warm_up();
        // The first 100,000 lines of the source hold no duplicates and no empty lines.
        assert_eq!(COMMON.len(), 100_000);
        assert!(COMMON.contains("123456"));
    }

    #[test]
    fn a_password_may_be_changed_again_after_thirty_minutes() {
        let p = PasswordPolicy::default();
        let t = 1_700_000_000;
        assert!(!p.change_allowed(t, t + 29 * 60));
        assert!(p.change_allowed(t, t + 30 * 60));
        assert!(p.change_allowed(t, t + 31 * 60));
        assert!(!p.change_allowed(t, t - 60), "a clock that went back");
    }

    #[test]
    fn a_password_expires_at_548_days() {
        let p = PasswordPolicy::default();
        let t = 1_700_000_000;
        assert!(!p.expired(t, t + 547 * DAY));
        assert!(!p.expired(t, t + 548 * DAY - 1));
        assert!(p.expired(t, t + 548 * DAY));
        assert_eq!(p.initial_password_expires_at(t), t + 60 * DAY);
    }

    #[test]
    fn violations_name_their_texts_and_fill_their_placeholders() {
        let v = Violation::TooShort { min: 17 };
        assert_eq!(v.message_key(), "password.too_short");
        assert_eq!(v.params(), vec![("min", "17".to_owned())]);
        assert_eq!(
            v.fill("Heslo musí mít alespoň {min} znaků."),
            "Heslo musí mít alespoň 17 znaků."
        );
        let v = Violation::TooSoon { minutes: 30 };
        assert_eq!(v.fill("{minutes} min"), "30 min");
        assert_eq!(Violation::Reused.fill("beze změny"), "beze změny");
    }

    #[test]
    fn every_message_key_has_a_czech_and_an_english_text() {
        let cs: std::collections::HashMap<String, String> =
            toml::from_str(include_str!("../../locales/cs.toml")).unwrap();
        let en: std::collections::HashMap<String, String> =
            toml::from_str(include_str!("../../locales/en.toml")).unwrap();
        for v in [
            Violation::TooShort { min: 12 },
            Violation::ContainsUsername,
            Violation::ContainsName,
            Violation::Common,
            Violation::Reused,
            Violation::TooSoon { minutes: 30 },
        ] {
            for texts in [&cs, &en] {
                let text = texts.get(v.message_key()).unwrap();
                for (name, _) in v.params() {
                    assert!(text.contains(&format!("{{{name}}}")), "{text}");
                }
            }
        }
    }
}
