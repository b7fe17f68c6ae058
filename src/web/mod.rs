//! HTML pages and browser state: the SSO cookie, CSRF protection, login and logout pages.

pub mod account;
pub mod console;
pub mod delegations;
pub mod format;
pub mod login;
pub mod new_password;
pub mod organisation;
pub mod rate_limit;
pub mod reset;
pub mod statics;
pub mod totp_setup;
