//! Outgoing e-mail (password reset links). `smtp` mode sends through a relay with lettre
//! (STARTTLS or implicit TLS by port); `folder` mode writes each message as an `.eml` file into
//! the configured folder, for development and tests.

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::app::AppState;
use crate::config::MailConfig;
use crate::domain::account::Account;
use crate::pages::i18n::Lang;
use crate::secrets::PlainToken;
use crate::services::password_links::Link;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("bad address: {0}")]
    Address(String),
    #[error("building the message: {0}")]
    Build(String),
    #[error("sending: {0}")]
    Send(String),
    #[error("writing the message file: {0}")]
    Io(#[from] std::io::Error),
}

#[derive(Clone)]
pub struct Mailer {
    config: MailConfig,
    smtp: Option<AsyncSmtpTransport<Tokio1Executor>>,
}

impl Mailer {
    pub fn new(config: &MailConfig) -> Result<Self, MailError> {
        let smtp = if config.mode == "smtp" {
            let builder = if !config.smtp_tls {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.smtp_host)
            } else if config.smtp_port == 465 {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&config.smtp_host)
                    .map_err(|e| MailError::Send(e.to_string()))?
            } else {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.smtp_host)
                    .map_err(|e| MailError::Send(e.to_string()))?
            };
            let mut builder = builder.port(config.smtp_port);
            if let (Some(u), Some(p)) = (&config.smtp_username, &config.smtp_password) {
                builder = builder.credentials(Credentials::new(u.clone(), p.clone()));
            }
            Some(builder.build())
        } else {
            None
        };
        Ok(Self {
            config: config.clone(),
            smtp,
        })
    }

    /// Sends a plain-text message.
    pub async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), MailError> {
        let from: Mailbox = self
            .config
            .from
            .parse()
            .map_err(|_| MailError::Address(self.config.from.clone()))?;
        let to: Mailbox = to.parse().map_err(|_| MailError::Address(to.to_owned()))?;
        let message = Message::builder()
            .from(from)
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| MailError::Build(e.to_string()))?;
        match &self.smtp {
            Some(t) => {
                t.send(message)
                    .await
                    .map_err(|e| MailError::Send(e.to_string()))?;
            }
            None => {
                let dir = &self.config.folder;
                tokio::fs::create_dir_all(dir).await?;
                let name = format!(
                    "{}-{}.eml",
                    crate::secrets::now(),
                    uuid::Uuid::new_v4().simple()
                );
                tokio::fs::write(dir.join(name), message.formatted()).await?;
            }
        }
        Ok(())
    }
}

/// Mails `account` the link that sets a password with `token` (`services::password_links`).
/// A failure is logged, not returned: the link is stored and a new one can be asked for.
pub async fn send_password_link(
    state: &AppState,
    account: &Account,
    token: &PlainToken,
    kind: Link,
    lang: Lang,
) {
    let Some(email) = account.email.as_deref() else {
        return;
    };
    let t = lang.texts();
    let link = format!(
        "{}/password/reset?token={}&lang={}",
        state.config.issuer,
        token.expose(),
        lang.code()
    );
    let (subject_key, body_key) = match kind {
        Link::Reset => ("forgot.mail_subject", "forgot.mail_body"),
        Link::Welcome => ("welcome.mail_subject", "welcome.mail_body"),
    };
    let body = t
        .get(body_key)
        .replace("{username}", &account.username)
        .replace("{link}", &link);
    if let Err(e) = state.mailer.send(email, t.get(subject_key), body).await {
        tracing::error!(error = %e, "password link mail failed");
    }
}
