//! Text helpers shared by the domain: a search key that ignores case and diacritics, so that
//! `novakova` finds `Nováková` the same way on SQLite (whose `lower()` knows only ASCII) and on
//! PostgreSQL.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

pub fn search_key(s: &str) -> String {
    s.nfd()
        .filter(|c| !is_combining_mark(*c))
        .collect::<String>()
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_and_diacritics_are_ignored() {
        assert_eq!(search_key("Šťastná Rodina, z. s."), "stastna rodina, z. s.");
        assert_eq!(search_key("ŽLUŤOUČKÝ"), "zlutoucky");
    }
}
