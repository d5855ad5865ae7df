//! Email delivery with lettre: SMTP (STARTTLS when offered, or required), SMTPS, or the
//! local sendmail; one transport per channel and batch, so one connection carries the
//! batch.

use std::time::Duration;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSendmailTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use super::render::Rendered;
use super::retry::{self, Attempt};
use crate::config::{Email, SmtpTransport, TlsMode};

/// How long one SMTP conversation may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// A channel's way to send mail.
pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Sendmail(AsyncSendmailTransport<Tokio1Executor>),
}

impl Mailer {
    /// Builds the transport, reading the password now (it is never kept in the config).
    pub fn new(email: &Email) -> anyhow::Result<Mailer> {
        let (host, port, tls) = match &email.transport {
            SmtpTransport::Sendmail => return Ok(Mailer::Sendmail(AsyncSendmailTransport::new())),
            SmtpTransport::Smtp { host, port } => {
                let params = TlsParameters::new(host.clone())?;
                let tls = match email.tls {
                    TlsMode::Opportunistic => Tls::Opportunistic(params),
                    TlsMode::Required => Tls::Required(params),
                };
                (host, *port, tls)
            }
            SmtpTransport::Smtps { host, port } => {
                (host, *port, Tls::Wrapper(TlsParameters::new(host.clone())?))
            }
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
            .port(port)
            .tls(tls)
            .timeout(Some(SMTP_TIMEOUT));
        if let Some(user) = &email.username {
            let password = match &email.password {
                Some(secret) => secret.read()?.expose_secret().to_owned(),
                None => String::new(),
            };
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        Ok(Mailer::Smtp(builder.build()))
    }

    /// Sends one message and classifies the outcome.
    pub async fn send(&self, message: Message) -> Attempt {
        match self {
            Mailer::Smtp(t) => match t.send(message).await {
                Ok(_) => Attempt::Delivered,
                Err(e) => retry::smtp_error(&e),
            },
            Mailer::Sendmail(t) => match t.send(message).await {
                Ok(()) => Attempt::Delivered,
                // A local MTA that failed may well work later.
                Err(e) => Attempt::Transient {
                    error: crate::fetch::error_chain(&e),
                    retry_after: None,
                },
            },
        }
    }
}

/// Everything a message carries besides its bodies.
pub struct Envelope<'a> {
    pub email: &'a Email,
    pub channel: &'a str,
    /// The stable alert id; the Message-ID derives from it.
    pub id: &'a str,
    pub rules: &'a [String],
}

/// Builds the multipart/alternative message.
pub fn message(envelope: &Envelope<'_>, rendered: &Rendered) -> anyhow::Result<Message> {
    let from: Mailbox = envelope.email.from.parse()?;
    let domain = from.email.domain().to_owned();
    let mut builder = Message::builder()
        .from(from)
        .subject(rendered.subject.clone())
        .message_id(Some(format!("<{}@newshound.{domain}>", envelope.id)))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".into(),
        ))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Newshound-Rule"),
            super::render::one_line(&envelope.rules.join(", ")),
        ))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("List-Id"),
            format!(
                "newshound {} <{}.newshound.{domain}>",
                envelope.channel,
                list_label(envelope.channel)
            ),
        ));
    for to in &envelope.email.to {
        builder = builder.to(to.parse()?);
    }
    Ok(builder.multipart(
        MultiPart::alternative()
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(rendered.text.clone()),
            )
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(rendered.html.clone()),
            ),
    )?)
}

/// A channel name as a List-Id label: letters, digits and hyphens.
fn list_label(channel: &str) -> String {
    channel
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}
