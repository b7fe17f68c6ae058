//! User-facing strings, Czech first and English second, kept in `locales/*.toml` (flat
//! `key = "text"` files) rather than in templates. Both files must have the same keys; a test
//! checks it.

use std::collections::HashMap;
use std::sync::LazyLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Lang {
    #[default]
    #[serde(rename = "cs")]
    Cs,
    #[serde(rename = "en")]
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Cs => "cs",
            Lang::En => "en",
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::Cs => Lang::En,
            Lang::En => Lang::Cs,
        }
    }

    /// The first supported tag of an OIDC `ui_locales` list (BCP 47 tags, space separated).
    pub fn from_ui_locales(value: Option<&str>) -> Option<Lang> {
        value?.split(' ').find_map(|tag| {
            let primary = tag.split('-').next().unwrap_or("").to_ascii_lowercase();
            match primary.as_str() {
                "cs" => Some(Lang::Cs),
                "en" => Some(Lang::En),
                _ => None,
            }
        })
    }

    pub fn parse(code: Option<&str>) -> Lang {
        Self::from_ui_locales(code).unwrap_or_default()
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::Cs => &CS,
            Lang::En => &EN,
        }
    }
}

/// One language's strings.
pub struct Texts(HashMap<String, String>);

impl Texts {
    fn load(source: &str) -> Texts {
        // The files are part of the binary and checked by tests; an unreadable file would be
        // a build defect, shown as keys instead of text rather than a crash.
        Texts(toml::from_str(source).unwrap_or_default())
    }

    /// The text for `key`, or the key itself when it is missing.
    /// The text of `key`, if there is one.
    pub fn lookup(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    pub fn get<'a>(&'a self, key: &'a str) -> &'a str {
        self.0.get(key).map(String::as_str).unwrap_or(key)
    }
}

static CS: LazyLock<Texts> = LazyLock::new(|| Texts::load(include_str!("../../locales/cs.toml")));
static EN: LazyLock<Texts> = LazyLock::new(|| Texts::load(include_str!("../../locales/en.toml")));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_have_the_same_keys_and_parse() {
        let cs: HashMap<String, String> =
            toml::from_str(include_str!("../../locales/cs.toml")).unwrap();
        let en: HashMap<String, String> =
            toml::from_str(include_str!("../../locales/en.toml")).unwrap();
        let mut a: Vec<_> = cs.keys().collect();
        let mut b: Vec<_> = en.keys().collect();
        a.sort();
        b.sort();
        assert_eq!(a, b);
        assert!(!cs.is_empty());
    }

    #[test]
    fn ui_locales_picks_the_first_supported_language() {
        assert_eq!(
            Lang::from_ui_locales(Some("de-DE en-GB cs")),
            Some(Lang::En)
        );
        assert_eq!(Lang::from_ui_locales(Some("fr")), None);
        assert_eq!(Lang::parse(None), Lang::Cs);
    }
}
