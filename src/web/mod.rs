//! HTML pages and browser state: the SSO cookie, CSRF protection, login and logout pages.

pub mod account;
pub mod console;
pub mod delegations;
pub mod extract;
pub mod format;
pub mod login;
pub mod new_password;
pub mod organisation;
pub mod passkeys;
pub mod qr;
pub mod rate_limit;
pub mod reset;
pub mod statics;
pub mod totp_setup;
pub mod upstream_links;

/// The pages of people signing in and of their account (merged into `app::build_router`).
pub fn routes() -> axum::Router<crate::app::AppState> {
    use axum::routing::{get, post};
    use axum::Router;
    Router::new()
        .route("/login", get(login::show).post(login::submit))
        .route("/login/otp", get(login::otp_form).post(login::otp_submit))
        .route("/login/passkey", post(login::passkey_submit))
        .route("/login/upstream", post(login::upstream_start))
        .route("/login/upstream/callback", get(login::upstream_callback))
        .route("/login/passkey/options", post(login::passkey_options))
        .route(
            "/login/password",
            get(login::change_form).post(login::change_submit),
        )
        .route(
            "/login/totp",
            get(login::enrol_form).post(login::enrol_submit),
        )
        .route("/login/totp/done", post(login::enrolled_continue))
        .route(
            "/login/organisation",
            get(organisation::choose_form).post(organisation::choose_submit),
        )
        .route("/login/denied", get(organisation::denied))
        .route("/login/mfa", get(login::mfa_required))
        .route("/account", get(account::show))
        .route(
            "/account/password",
            get(account::password_form).post(account::password_submit),
        )
        .route(
            "/account/totp",
            get(account::totp_form).post(account::totp_submit),
        )
        .route("/account/totp/remove", post(account::totp_remove))
        .route("/account/recovery-codes", post(account::recovery_codes))
        .route("/account/upstream/link", post(upstream_links::link))
        .route("/account/upstream/unlink", post(upstream_links::unlink))
        .route("/account/passkeys", post(passkeys::register))
        .route("/account/passkeys/options", post(passkeys::options))
        .route("/account/passkeys/rename", post(passkeys::rename))
        .route("/account/passkeys/remove", post(passkeys::remove))
        .route("/account/sessions/end", post(account::end_session))
        .route(
            "/account/delegations",
            get(delegations::show).post(delegations::submit),
        )
        .route("/account/done", post(account::done))
        .route(
            "/password/forgot",
            get(reset::forgot_form).post(reset::forgot_submit),
        )
        .route(
            "/password/reset",
            get(reset::reset_form).post(reset::reset_submit),
        )
        .route("/static/style.css", get(statics::style))
        .route("/static/form_post.js", get(statics::form_post_js))
        .route("/static/passkey.js", get(statics::passkey_js))
}
