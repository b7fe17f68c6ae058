//! The configuration's defaults, the example file and the validation rules.

use super::*;

#[test]
fn defaults_are_valid() {
    Config::default().validate().unwrap();
}

#[test]
fn environment_overrides_the_file_values() {
    let mut c = Config::default();
    c.apply_env(|n| match n {
        "MPSV_IDP_ISSUER" => Some("https://idp.example.cz".into()),
        "MPSV_IDP_ACCESS_TOKEN_TTL" => Some("120".into()),
        _ => None,
    })
    .unwrap();
    assert_eq!(c.issuer, "https://idp.example.cz");
    assert_eq!(c.tokens.access_token, 120);
    assert!(c.secure_cookies());
}

#[test]
fn a_public_http_issuer_is_refused() {
    let c = Config {
        issuer: "http://idp.example.cz".into(),
        ..Config::default()
    };
    assert!(c.validate().is_err());
}

#[test]
fn the_example_file_parses() {
    let c: Config = toml::from_str(include_str!("../../mpsv-idp.example.toml")).unwrap();
    c.validate().unwrap();
    assert_eq!(c.keys.rotation_delay, 86400);
}

#[test]
fn oversized_durations_are_refused() {
    for adjust in [
        |c: &mut Config| c.tokens.access_token = i64::MAX,
        |c: &mut Config| c.tokens.refresh_token = 10 * 365 * 86_400,
        |c: &mut Config| c.session.absolute_timeout = i64::MAX / 2,
        |c: &mut Config| c.keys.rotation_delay = i64::MAX,
        |c: &mut Config| c.keys.rotation_delay = -1,
        |c: &mut Config| c.keys.reload_interval = u64::MAX,
    ] {
        let mut c = Config::default();
        adjust(&mut c);
        assert!(c.validate().is_err());
    }
}

#[test]
fn retired_keys_outlive_the_longest_client_access_token() {
    assert!(Config::default().max_signed_lifetime() >= 3600);
}

#[test]
fn a_bad_number_in_the_environment_is_an_error() {
    let mut c = Config::default();
    assert!(c
        .apply_env(|n| (n == "MPSV_IDP_WORKERS").then(|| "many".into()))
        .is_err());
}
