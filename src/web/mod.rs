//! HTML pages and browser state: the SSO cookie, CSRF protection, login and logout pages.

pub mod cookies;
pub mod i18n;
pub mod login;
pub mod pages;
pub mod statics;
