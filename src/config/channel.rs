//! Validation of `[channel.NAME]` tables: which keys each kind accepts, and what their
//! values must look like.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use lettre::Address;
use lettre::address::AddressError;
use lettre::message::Mailbox;
use toml::Spanned;
use url::Url;

use super::raw::{RawChannel, Source, parse_duration, parse_http_url};
use super::{
    Channel, ChannelKind, ConfigError, DEFAULT_EMAIL_TIMEOUT, DEFAULT_WEBHOOK_TIMEOUT, Digest,
    Email, Secret, SmtpTransport, TlsMode, Webhook, WebhookFormat,
};

pub(super) fn unknown_channel(name: &str, channels: &BTreeMap<String, Channel>) -> String {
    if channels.is_empty() {
        format!("unknown channel `{name}`: no [channel.{name}] is defined")
    } else {
        let known: Vec<&str> = channels.keys().map(String::as_str).collect();
        format!(
            "unknown channel `{name}`: defined channels are {}",
            known.join(", ")
        )
    }
}

pub(super) fn validate_channel(
    source: &Source,
    name: &str,
    raw: &Spanned<RawChannel>,
    resolve: &dyn Fn(&str) -> PathBuf,
) -> Result<Channel, ConfigError> {
    let span = raw.span();
    let raw = raw.get_ref();
    let kind = raw.kind.get_ref().as_str();
    // Which keys each kind accepts; any other key present is an error that names it.
    let present: [(&str, Option<Range<usize>>); 14] = [
        ("to", raw.to.as_ref().map(Spanned::span)),
        ("from", raw.from.as_ref().map(Spanned::span)),
        ("smtp", raw.smtp.as_ref().map(Spanned::span)),
        ("tls", raw.tls.as_ref().map(Spanned::span)),
        ("username", raw.username.as_ref().map(Spanned::span)),
        ("password", raw.password.as_ref().map(Spanned::span)),
        (
            "password_file",
            raw.password_file.as_ref().map(Spanned::span),
        ),
        ("password_env", raw.password_env.as_ref().map(Spanned::span)),
        ("digest", raw.digest.as_ref().map(Spanned::span)),
        ("url", raw.url.as_ref().map(Spanned::span)),
        ("format", raw.format.as_ref().map(Spanned::span)),
        ("secret", raw.secret.as_ref().map(Spanned::span)),
        ("secret_file", raw.secret_file.as_ref().map(Spanned::span)),
        ("timeout", raw.timeout.as_ref().map(Spanned::span)),
    ];
    let allowed: &[&str] = match kind {
        "email" => &[
            "to",
            "from",
            "smtp",
            "tls",
            "username",
            "password_file",
            "password_env",
            "digest",
            "timeout",
        ],
        "webhook" => &["url", "format", "secret_file", "timeout"],
        "log" => &[],
        other => {
            return Err(source.error(
                raw.kind.span(),
                format!("channel `{name}`: unknown kind `{other}`: expected email, webhook or log"),
            ));
        }
    };
    for (key, at) in &present {
        if let Some(at) = at
            && !allowed.contains(key)
        {
            let message = match *key {
                "password" => format!(
                    "channel `{name}`: passwords are never written inline; use password_file or password_env"
                ),
                "secret" => {
                    format!("channel `{name}`: secrets are never written inline; use secret_file")
                }
                _ => format!("channel `{name}`: `{key}` is not a setting of a {kind} channel"),
            };
            return Err(source.error(at.clone(), message));
        }
    }
    let timeout = |default: Duration| match &raw.timeout {
        Some(t) => parse_duration(source, t, &format!("channel.{name}.timeout")),
        None => Ok(default),
    };
    let missing = |key: &str| {
        source.error(
            span.clone(),
            format!("channel `{name}`: a {kind} channel needs `{key}`"),
        )
    };
    let kind = match kind {
        "email" => {
            let to = raw.to.as_ref().ok_or_else(|| missing("to"))?;
            if to.get_ref().is_empty() {
                return Err(source.error(
                    to.span(),
                    format!("channel `{name}`: `to` needs at least one address"),
                ));
            }
            let to_addresses = to
                .get_ref()
                .iter()
                .map(|address| mailbox(address))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|m| source.error(to.span(), format!("channel `{name}`: `to`: {m}")))?;
            let from = raw.from.as_ref().ok_or_else(|| missing("from"))?;
            let from_address = mailbox(from.get_ref())
                .map_err(|m| source.error(from.span(), format!("channel `{name}`: `from`: {m}")))?;
            let smtp = raw.smtp.as_ref().ok_or_else(|| missing("smtp"))?;
            let transport = parse_smtp(smtp.get_ref())
                .map_err(|m| source.error(smtp.span(), format!("channel `{name}`: `smtp`: {m}")))?;
            let tls = match raw.tls.as_ref().map(|t| (t.get_ref().as_str(), t.span())) {
                None | Some(("opportunistic", _)) => TlsMode::Opportunistic,
                Some(("required", _)) => TlsMode::Required,
                Some((other, at)) => {
                    return Err(source.error(at, format!("channel `{name}`: `tls` is \"required\" or \"opportunistic\", not {other:?}")));
                }
            };
            let password = match (&raw.password_file, &raw.password_env) {
                (Some(_), Some(env)) => {
                    return Err(source.error(
                        env.span(),
                        format!("channel `{name}`: give password_file or password_env, not both"),
                    ));
                }
                (Some(file), None) => Some(Secret::File(resolve(file.get_ref()))),
                (None, Some(env)) => Some(Secret::Env(env.get_ref().clone())),
                (None, None) => None,
            };
            let digest = match &raw.digest {
                None => None,
                Some(d) => Some(parse_digest(source, d, name)?),
            };
            ChannelKind::Email(Email {
                to: to_addresses,
                from: from_address,
                transport,
                tls,
                username: raw.username.as_ref().map(|u| u.get_ref().clone()),
                password,
                digest,
                timeout: timeout(DEFAULT_EMAIL_TIMEOUT)?,
            })
        }
        "webhook" => {
            let url = raw.url.as_ref().ok_or_else(|| missing("url"))?;
            let url = parse_http_url(source, url, &format!("channel.{name}.url"))?;
            let format = match raw
                .format
                .as_ref()
                .map(|f| (f.get_ref().as_str(), f.span()))
            {
                None | Some(("json", _)) => WebhookFormat::Json,
                Some(("slack", _)) => WebhookFormat::Slack,
                Some(("discord", _)) => WebhookFormat::Discord,
                Some((other, at)) => {
                    return Err(source.error(
                        at,
                        format!(
                            "channel `{name}`: `format` is json, slack or discord, not {other:?}"
                        ),
                    ));
                }
            };
            ChannelKind::Webhook(Webhook {
                url,
                format,
                secret: raw
                    .secret_file
                    .as_ref()
                    .map(|f| Secret::File(resolve(f.get_ref()))),
                timeout: timeout(DEFAULT_WEBHOOK_TIMEOUT)?,
            })
        }
        _ => ChannelKind::Log,
    };
    Ok(Channel {
        name: name.to_owned(),
        kind,
    })
}

/// Reads an address such as `desk@example.org` or `newshound <alerts@example.org>` with
/// the parser that builds the messages, so that an address `check` accepts can be sent
/// to. It comes back as the messages will write it, its domain in ASCII (`пример.рф` as
/// `xn--e1afmkfd.xn--p1ai`): any mail server takes that, not only those that take
/// SMTPUTF8.
pub(super) fn mailbox(text: &str) -> Result<String, String> {
    match (text.rfind('<'), text.rfind('>')) {
        (Some(open), Some(close)) if open < close => {}
        (None, None) => {}
        _ => return Err(format!("{text:?} has unbalanced angle brackets")),
    }
    let parsed: Mailbox = text.parse().map_err(|error| {
        if text.matches('@').count() > 1 && text.contains(',') {
            return format!(
                "{text:?} holds more than one address: give each its own string, as in \
                 [\"a@example.org\", \"b@example.org\"]"
            );
        }
        let why = match error {
            AddressError::InvalidUser => "the part before the @ is not valid",
            AddressError::InvalidDomain => "its domain is not valid",
            _ => {
                "write `name@example.org` or `Name <name@example.org>`, a name holding \
                 punctuation in double quotes"
            }
        };
        format!("{text:?} is not an email address ({why})")
    })?;
    let domain = parsed.email.domain();
    if domain.is_ascii() {
        return Ok(parsed.to_string());
    }
    let ascii = match url::Host::parse(domain) {
        Ok(url::Host::Domain(ascii)) => ascii,
        _ => return Err(format!("{text:?}: the domain {domain:?} is not valid")),
    };
    let email = Address::new(parsed.email.user(), &ascii)
        .map_err(|_| format!("{text:?}: the domain {domain:?} is not valid"))?;
    Ok(Mailbox::new(parsed.name, email).to_string())
}

pub(super) fn parse_smtp(text: &str) -> Result<SmtpTransport, String> {
    if text == "sendmail" {
        return Ok(SmtpTransport::Sendmail);
    }
    let url = Url::parse(text).map_err(|e| {
        format!("{text:?} is not smtp://host:port, smtps://host:port or \"sendmail\" ({e})")
    })?;
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| format!("{text:?} has no host"))?
        .to_owned();
    match url.scheme() {
        "smtp" => Ok(SmtpTransport::Smtp {
            host,
            port: url.port().unwrap_or(587),
        }),
        "smtps" => Ok(SmtpTransport::Smtps {
            host,
            port: url.port().unwrap_or(465),
        }),
        other => Err(format!(
            "unknown scheme `{other}`: expected smtp://, smtps:// or \"sendmail\""
        )),
    }
}

/// `digest`: a window ("15m"), or "daily" with an optional time of day, in the host's
/// local time zone or in UTC ("daily", "daily 07:30", "daily 07:30 UTC").
fn parse_digest(
    source: &Source,
    value: &Spanned<String>,
    channel: &str,
) -> Result<Digest, ConfigError> {
    let text = value.get_ref().trim();
    let Some(rest) = text.strip_prefix("daily") else {
        return parse_duration(source, value, &format!("channel.{channel}.digest"))
            .map(Digest::Every);
    };
    let mut words = rest.split_whitespace();
    let at = match words.next() {
        None => Some(super::DAILY_DIGEST_AT),
        Some(time) => chrono::NaiveTime::parse_from_str(time, "%H:%M").ok(),
    };
    let utc = match words.next() {
        None => Some(false),
        Some(zone) => zone.eq_ignore_ascii_case("utc").then_some(true),
    };
    match (at, utc, words.next()) {
        (Some(at), Some(utc), None) if rest.is_empty() || rest.starts_with(' ') => {
            Ok(Digest::Daily { at, utc })
        }
        _ => Err(source.error(
            value.span(),
            format!(
                "channel `{channel}`: `digest` is a window (\"15m\", \"1h\"), \"daily\" (at 08:00), \
                 or \"daily HH:MM\" in the host's time zone (\"daily HH:MM UTC\" in UTC), not {text:?}"
            ),
        )),
    }
}
