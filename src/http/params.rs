//! Request parameters as RFC 6749 §3.1 defines them: no parameter may appear twice, and a
//! parameter sent without a value is treated as omitted.

use std::collections::HashMap;

use axum::http::{header, HeaderMap};

#[derive(Debug, Default, Clone)]
pub struct Params(HashMap<String, String>);

/// The parameter that was repeated.
#[derive(Debug)]
pub struct Duplicate(pub String);

impl Params {
    pub fn parse(raw: &[u8]) -> Result<Self, Duplicate> {
        let mut map = HashMap::new();
        for (k, v) in url::form_urlencoded::parse(raw) {
            if v.is_empty() {
                continue;
            }
            if map.insert(k.to_string(), v.into_owned()).is_some() {
                return Err(Duplicate(k.into_owned()));
            }
        }
        Ok(Self(map))
    }

    /// Parameters that cannot repeat (the members of a request object, RFC 9101 §4).
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        Self(pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Every parameter, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Merges `other` in; a parameter present in both is a duplicate.
    pub fn merge(mut self, other: Params) -> Result<Self, Duplicate> {
        for (k, v) in other.0 {
            if self.0.contains_key(&k) {
                return Err(Duplicate(k));
            }
            self.0.insert(k, v);
        }
        Ok(self)
    }
}

/// Is the body `application/x-www-form-urlencoded` (RFC 6749 §3.2, §4.1.3)?
pub fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_refused_and_empty_values_omitted() {
        assert!(Params::parse(b"a=1&a=2").is_err());
        let p = Params::parse(b"a=1&b=&c=%20x").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), None);
        assert_eq!(p.get("c"), Some(" x"));
    }
}
