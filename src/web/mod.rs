//! HTML pages and browser state: the SSO cookie, CSRF protection, login and logout pages.

pub mod account;
pub mod client;
pub mod console;
pub mod cookies;
pub mod delegations;
pub mod format;
pub mod i18n;
pub mod login;
pub mod new_password;
pub mod organisation;
pub mod pages;
pub mod rate_limit;
pub mod reset;
pub mod statics;
pub mod totp_setup;
