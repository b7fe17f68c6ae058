//! The `prompt` parameter (OIDC Core §3.1.2.1).

use super::ParseError;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
    pub select_account: bool,
}

impl Prompt {
    pub fn parse(value: Option<&str>) -> Result<Self, ParseError> {
        let mut p = Prompt::default();
        let Some(value) = value else { return Ok(p) };
        for word in value.split(' ').filter(|w| !w.is_empty()) {
            match word {
                "none" => p.none = true,
                "login" => p.login = true,
                "consent" => p.consent = true,
                "select_account" => p.select_account = true,
                other => return Err(ParseError(format!("unsupported prompt value {other:?}"))),
            }
        }
        // §3.1.2.1: "If this parameter contains none with any other value, an error is returned."
        if p.none && (p.login || p.consent || p.select_account) {
            return Err(ParseError::new(
                "prompt=none cannot be combined with other values",
            ));
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_with_another_value_is_an_error() {
        assert!(Prompt::parse(Some("none login")).is_err());
        assert!(Prompt::parse(Some("login consent")).unwrap().login);
        assert!(Prompt::parse(Some("bogus")).is_err());
    }
}
