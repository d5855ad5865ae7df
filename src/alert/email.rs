//! Email delivery with lettre: SMTP (STARTTLS when offered, or required), SMTPS, or the
//! local sendmail. A batch's messages share one SMTP connection, opened for its first
//! message and again only after a failure, and closed with QUIT when the batch is done.

use std::time::Duration;

use lettre::Address;
use lettre::Message;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::Error as SmtpError;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Tls, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use secrecy::ExposeSecret;

use super::render::Rendered;
use super::retry::{self, Attempt};
use crate::config::{Email, SmtpTransport, TlsMode};

/// A channel's way to send mail, and how long one message may take.
pub struct Mailer {
    transport: Transport,
    /// The channel's `timeout`: lettre bounds only the TCP connect, so a server that
    /// stops answering would otherwise hold delivery forever.
    timeout: Duration,
}

enum Transport {
    Smtp(Box<Smtp>),
    /// The local MTA's `sendmail` command, found on PATH.
    Sendmail,
}

/// An SMTP server, how to talk to it, and the connection open to it, if any.
///
/// lettre's pooled transport returns a connection to its pool from a spawned task, so
/// the next message of a batch may find the pool empty and open another connection;
/// holding the connection here makes one connection carry the batch.
struct Smtp {
    host: String,
    port: u16,
    tls: Tls,
    credentials: Option<Credentials>,
    hello: ClientId,
    connection: Option<AsyncSmtpConnection>,
}

impl Mailer {
    /// Builds the mailer, reading the password now (it is never kept in the config).
    /// Nothing is connected until the first message.
    pub fn new(email: &Email) -> anyhow::Result<Mailer> {
        let mailer = |transport| Mailer {
            transport,
            timeout: email.timeout,
        };
        let (host, port, tls) = match &email.transport {
            SmtpTransport::Sendmail => {
                return Ok(mailer(Transport::Sendmail));
            }
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
        let credentials = match &email.username {
            Some(user) => {
                let password = match &email.password {
                    Some(secret) => secret.read()?.expose_secret().to_owned(),
                    None => String::new(),
                };
                Some(Credentials::new(user.clone(), password))
            }
            None => None,
        };
        Ok(mailer(Transport::Smtp(Box::new(Smtp {
            host: host.clone(),
            port,
            tls,
            credentials,
            hello: ClientId::default(),
            connection: None,
        }))))
    }

    /// Sends one message and classifies the outcome. Connecting (with TLS and login) and
    /// then the message are each bounded by the timeout.
    pub async fn send(&mut self, message: Message) -> Attempt {
        let timeout = self.timeout;
        let sent = match &mut self.transport {
            Transport::Smtp(smtp) => smtp.send(&message, timeout).await,
            Transport::Sendmail => match tokio::time::timeout(timeout, sendmail(&message)).await {
                Ok(sent) => sent,
                Err(_) => Err(Attempt::Transient {
                    error: unfinished(timeout),
                    retry_after: None,
                }),
            },
        };
        match sent {
            Ok(()) => Attempt::Delivered,
            Err(attempt) => attempt,
        }
    }

    /// Sends one message and closes the connection.
    pub async fn send_one(mut self, message: Message) -> Attempt {
        let attempt = self.send(message).await;
        self.finish().await;
        attempt
    }

    /// Ends the batch: says QUIT on an open connection.
    pub async fn finish(self) {
        if let Transport::Smtp(smtp) = self.transport
            && let Some(mut connection) = smtp.connection
        {
            // The messages are delivered already; a failed goodbye changes nothing.
            let _ = tokio::time::timeout(self.timeout, connection.quit()).await;
        }
    }
}

impl Smtp {
    /// Sends on the open connection, or on a new one. A message whose recipients were
    /// refused leaves the connection open for the next (the transaction is reset); any
    /// other error closes it, and the next message reconnects.
    async fn send(&mut self, message: &Message, timeout: Duration) -> Result<(), Attempt> {
        let mut connection = match self.connection.take() {
            Some(connection) if !connection.has_broken() => connection,
            // Not getting as far as a message is the server's failure, never the
            // message's: the channel is unavailable.
            _ => match tokio::time::timeout(timeout, self.connect()).await {
                Ok(connected) => {
                    connected.map_err(|e| retry::smtp_connect_error(&self.host, self.port, &e))?
                }
                Err(_) => {
                    let hint = port_hint(&self.tls, self.port);
                    return Err(Attempt::Unavailable {
                        error: format!(
                            "the mail server {} did not let newshound in within {} (the \
                             channel's timeout{hint})",
                            retry::server(&self.host, self.port),
                            humantime::format_duration(timeout)
                        ),
                        retry_after: None,
                    });
                }
            },
        };
        // A message cut off by the timeout drops its connection with it.
        let Ok(sent) = tokio::time::timeout(timeout, transaction(&mut connection, message)).await
        else {
            return Err(Attempt::Unanswered(unfinished(timeout)));
        };
        // A refused message leaves the connection usable unless it was aborted.
        if !connection.has_broken() {
            self.connection = Some(connection);
        }
        let refused = sent?;
        for (address, error) in refused {
            tracing::warn!(
                recipient = %address,
                error = %crate::fetch::error_chain(&error),
                "the mail server refused this recipient for good; the others were sent the alert"
            );
        }
        Ok(())
    }

    /// Connects, secures and logs in as lettre's own transport does.
    async fn connect(&self) -> Result<AsyncSmtpConnection, SmtpError> {
        let wrapped = match &self.tls {
            Tls::Wrapper(params) => Some(params.clone()),
            _ => None,
        };
        // (The caller's timeout bounds connecting, TLS and login together.)
        let mut connection = AsyncSmtpConnection::connect_tokio1(
            (self.host.as_str(), self.port),
            None,
            &self.hello,
            wrapped,
            None,
        )
        .await?;
        match &self.tls {
            Tls::Opportunistic(params) if connection.can_starttls() => {
                connection.starttls(params.clone(), &self.hello).await?;
            }
            Tls::Required(params) => connection.starttls(params.clone(), &self.hello).await?,
            _ => {}
        }
        if let Some(credentials) = &self.credentials {
            connection.auth(DEFAULT_MECHANISMS, credentials).await?;
        }
        Ok(connection)
    }
}

/// Hands a message to the local MTA's `sendmail`, as lettre's transport does (`-i`, `-f`
/// and the sender, `--` and the recipients, the message on its input), but reads what
/// the command says even when it exits before taking the message — an msmtp without
/// its configuration, say: its error is the cause an operator needs, not the broken
/// pipe the message met. A local MTA that failed may well work later: every failure is
/// retried.
async fn sendmail(message: &Message) -> Result<(), Attempt> {
    use std::process::Stdio;
    use tokio::io::AsyncWriteExt;
    let failed = |error: String| Attempt::Transient {
        error,
        retry_after: None,
    };
    let envelope = message.envelope();
    let mut command = tokio::process::Command::new("sendmail");
    command.arg("-i");
    if let Some(from) = envelope.from() {
        command.arg("-f").arg(AsRef::<str>::as_ref(from));
    }
    command
        .arg("--")
        .args(envelope.to().iter().map(AsRef::<str>::as_ref))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .map_err(|e| failed(format!("cannot run sendmail: {e}")))?;
    let mut input = child.stdin.take().expect("sendmail's input is piped");
    let body = message.formatted();
    // Written while its output is read, so that neither waits on the other.
    let write = async move {
        let written = input.write_all(&body).await;
        drop(input);
        written
    };
    let (written, output) = tokio::join!(write, child.wait_with_output());
    let output = output.map_err(|e| failed(format!("sendmail: {e}")))?;
    if !output.status.success() {
        let said = [&output.stderr, &output.stdout]
            .into_iter()
            .map(|text| String::from_utf8_lossy(text).trim().to_owned())
            .find(|text| !text.is_empty())
            .unwrap_or_else(|| "(it said nothing)".to_owned());
        return Err(failed(format!(
            "sendmail failed ({}): {said}",
            output.status
        )));
    }
    written.map_err(|e| failed(format!("sendmail did not take the whole message: {e}")))
}

/// What a connection that timed out may say of its port: a server speaking TLS from the
/// first byte (port 465) waits for the client's TLS greeting as a client of `smtp://`
/// waits for the server's.
fn port_hint(tls: &Tls, port: u16) -> &'static str {
    match tls {
        Tls::Opportunistic(_) | Tls::Required(_) if port == 465 => {
            "; port 465 speaks TLS from the first byte: write smtps://"
        }
        _ => "",
    }
}

/// The error of a message the mail server did not finish within the channel's timeout.
fn unfinished(timeout: Duration) -> String {
    format!(
        "the mail server did not finish within {} (the channel's timeout)",
        humantime::format_duration(timeout)
    )
}

/// One message on an open connection: MAIL, RCPT for each recipient, DATA.
///
/// Unlike lettre's own `send`, a recipient refused for good (an address that no longer
/// exists) does not cost the other recipients the alert: the message goes to those
/// accepted, and the refused are returned. A recipient refused for now (4xx) ends the
/// transaction unsent, so the whole message is retried and nobody receives it twice; so
/// does every recipient being refused. Any other error aborts the connection, as lettre
/// does.
async fn transaction(
    connection: &mut AsyncSmtpConnection,
    message: &Message,
) -> Result<Vec<(Address, SmtpError)>, Attempt> {
    let envelope = message.envelope();
    let body = message.formatted();
    let info = connection.server_info();
    let mut options = Vec::new();
    let ascii_addresses = envelope
        .from()
        .into_iter()
        .chain(envelope.to())
        .all(|a| AsRef::<str>::as_ref(a).is_ascii());
    if !ascii_addresses {
        if !info.supports_feature(Extension::SmtpUtfEight) {
            return Err(Attempt::Permanent(
                "an address is not ASCII, and the mail server does not take SMTPUTF8".into(),
            ));
        }
        options.push(MailParameter::SmtpUtfEight);
    }
    if !body.is_ascii() {
        if !info.supports_feature(Extension::EightBitMime) {
            return Err(Attempt::Permanent(
                "the message is not ASCII, and the mail server does not take 8BITMIME".into(),
            ));
        }
        options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    if let Err(error) = connection
        .command(Mail::new(envelope.from().cloned(), options))
        .await
    {
        return Err(abort(connection, error).await);
    }
    let mut refused = Vec::new();
    let mut accepted = 0;
    for to in envelope.to() {
        match connection.command(Rcpt::new(to.clone(), Vec::new())).await {
            Ok(_) => accepted += 1,
            Err(error) if error.is_permanent() || error.is_transient() => {
                refused.push((to.clone(), error));
            }
            Err(error) => return Err(abort(connection, error).await),
        }
    }
    let for_now = refused.iter().position(|(_, e)| e.is_transient());
    if accepted == 0 || for_now.is_some() {
        // Ends the transaction and keeps the connection for the next message.
        if let Err(error) = connection.command(Rset).await {
            connection.abort().await;
            tracing::debug!(error = %error, "RSET failed; the connection is closed");
        }
        // (An envelope has a recipient, so with none accepted one was refused.)
        let Some((address, error)) = refused.into_iter().nth(for_now.unwrap_or(0)) else {
            return Err(Attempt::Permanent("the message has no recipient".into()));
        };
        let mut attempt = retry::smtp_error(&error);
        if let Some(text) = attempt.error_mut() {
            *text = format!("recipient {address} refused: {text}");
        }
        return Err(attempt);
    }
    if let Err(error) = connection.command(Data).await {
        return Err(abort(connection, error).await);
    }
    if let Err(error) = connection.message(&body).await {
        return Err(abort(connection, error).await);
    }
    Ok(refused)
}

/// Closes a connection an error left in an unknown state, as lettre does.
async fn abort(connection: &mut AsyncSmtpConnection, error: SmtpError) -> Attempt {
    connection.abort().await;
    retry::smtp_error(&error)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_on_port_465_of_smtp_says_to_write_smtps() {
        let params = || TlsParameters::new("mail.example.org".into()).unwrap();
        assert_eq!(
            port_hint(&Tls::Opportunistic(params()), 465),
            "; port 465 speaks TLS from the first byte: write smtps://"
        );
        assert_eq!(
            port_hint(&Tls::Required(params()), 465),
            port_hint(&Tls::Opportunistic(params()), 465)
        );
        assert_eq!(port_hint(&Tls::Opportunistic(params()), 587), "");
        assert_eq!(port_hint(&Tls::Wrapper(params()), 465), "");
    }
}
