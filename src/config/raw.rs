//! The configuration as written: serde structs that accept exactly the documented keys
//! (`deny_unknown_fields`) and keep the span of every value that can be wrong, and the
//! helpers that turn a span into `FILE:LINE:COL` and parse humane values.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use url::Url;

use super::ConfigError;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMain {
    #[serde(default)]
    pub(super) include: Vec<Spanned<String>>,
    pub(super) storage: Option<RawStorage>,
    pub(super) alerts: Option<RawAlerts>,
    pub(super) fetch: Option<RawFetch>,
    #[serde(default)]
    pub(super) feed: Vec<RawFeed>,
    #[serde(default)]
    pub(super) channel: BTreeMap<String, Spanned<RawChannel>>,
    #[serde(default)]
    pub(super) rule: Vec<RawRule>,
    pub(super) log: Option<RawLog>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLog {
    pub(super) level: Option<Spanned<String>>,
}

/// What an included file may hold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawInclude {
    #[serde(default)]
    pub(super) feed: Vec<RawFeed>,
    #[serde(default)]
    pub(super) rule: Vec<RawRule>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStorage {
    pub(super) path: Option<Spanned<String>>,
    pub(super) keep: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAlerts {
    pub(super) max_age: Option<Spanned<String>>,
    pub(super) templates: Option<Spanned<String>>,
    pub(super) failing_after: Option<Spanned<String>>,
    pub(super) replay: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFetch {
    pub(super) interval: Option<Spanned<String>>,
    pub(super) timeout: Option<Spanned<String>>,
    pub(super) connect_timeout: Option<Spanned<String>>,
    pub(super) max_body: Option<Spanned<String>>,
    pub(super) concurrency: Option<Spanned<i64>>,
    pub(super) per_host: Option<Spanned<i64>>,
    pub(super) user_agent: Option<String>,
    pub(super) stale_after: Option<Spanned<String>>,
    pub(super) quiet_after: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) health_channels: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFeed {
    pub(super) url: Spanned<String>,
    pub(super) name: Option<String>,
    pub(super) interval: Option<Spanned<String>>,
    pub(super) quiet_after: Option<Spanned<String>>,
    pub(super) max_body: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) tags: Vec<String>,
}

/// Every setting of every channel kind; which are allowed depends on `kind`, checked
/// in validation so that the error can name the key and its place.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawChannel {
    pub(super) kind: Spanned<String>,
    pub(super) to: Option<Spanned<Vec<String>>>,
    pub(super) from: Option<Spanned<String>>,
    pub(super) smtp: Option<Spanned<String>>,
    pub(super) tls: Option<Spanned<String>>,
    pub(super) username: Option<Spanned<String>>,
    pub(super) password: Option<Spanned<String>>,
    pub(super) password_file: Option<Spanned<String>>,
    pub(super) password_env: Option<Spanned<String>>,
    pub(super) digest: Option<Spanned<String>>,
    pub(super) url: Option<Spanned<String>>,
    pub(super) format: Option<Spanned<String>>,
    pub(super) secret: Option<Spanned<String>>,
    pub(super) secret_file: Option<Spanned<String>>,
    pub(super) timeout: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    pub(super) name: Spanned<String>,
    pub(super) query: Spanned<String>,
    #[serde(default)]
    pub(super) channels: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) feeds: Vec<Spanned<String>>,
}

/// One file's text, for turning byte spans into line and column.
pub(super) struct Source {
    pub(super) path: PathBuf,
    pub(super) text: String,
}

impl Source {
    pub(super) fn read(path: &Path) -> Result<Source, ConfigError> {
        let bytes = std::fs::read(path).map_err(|e| ConfigError {
            file: path.to_owned(),
            line: 1,
            column: 1,
            message: format!("cannot read the file: {e}"),
        })?;
        match String::from_utf8(bytes) {
            Ok(text) => Ok(Source {
                path: path.to_owned(),
                text,
            }),
            // Saved in a legacy encoding (windows-1251, say): pointed at where it starts.
            Err(e) => {
                let valid = e.utf8_error().valid_up_to();
                let bytes = e.into_bytes();
                let text = String::from_utf8_lossy(&bytes[..valid]).into_owned();
                let source = Source {
                    path: path.to_owned(),
                    text,
                };
                Err(source.error(
                    valid..valid,
                    "the file is not UTF-8, which TOML must be: save it as UTF-8",
                ))
            }
        }
    }

    pub(super) fn error(&self, span: Range<usize>, message: impl Into<String>) -> ConfigError {
        let at = span.start.min(self.text.len());
        let before = &self.text[..at];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        ConfigError {
            file: self.path.clone(),
            line,
            column: before[line_start..].chars().count() + 1,
            message: message.into(),
        }
    }

    /// Where `span` is, as `FILE:LINE:COL`, for a message that points at a second place.
    pub(super) fn place(&self, span: Range<usize>) -> String {
        let at = self.error(span, "");
        format!("{}:{}:{}", at.file.display(), at.line, at.column)
    }

    pub(super) fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, ConfigError> {
        toml::from_str(&self.text).map_err(|e| {
            let message = keyed_message(e.message().trim(), key_of(&e).as_deref());
            self.error(e.span().unwrap_or(0..0), message)
        })
    }

    /// The error for a bad query: its column inside the query, mapped into the file
    /// (exact for queries written on one line without escapes, which is the usual case).
    pub(super) fn query_error(
        &self,
        query: &Spanned<String>,
        rule: &str,
        e: &crate::rules::ParseError,
    ) -> ConfigError {
        let mut error = self.error(query.span(), "");
        error.column += e.column; // one for the opening quote, minus one for 1-based
        error.message = format!(
            "rule `{rule}`: bad query at column {}: {}",
            e.column, e.message
        );
        error
    }
}

/// The longest duration any setting takes: a thousand years ("never", in effect; a
/// `max_age` of `"100000d"` alerts every story). Beyond some billions of years a time
/// in seconds no longer fits the database's numbers, and wraps round.
const MAX_DURATION: Duration = Duration::from_secs(365_000 * 86_400);

pub(super) fn parse_duration(
    source: &Source,
    value: &Spanned<String>,
    key: &str,
) -> Result<Duration, ConfigError> {
    let text = value.get_ref().trim();
    match humantime::parse_duration(text) {
        Ok(d) if d.is_zero() => {
            Err(source.error(value.span(), format!("`{key}` must be longer than zero")))
        }
        Ok(d) if d > MAX_DURATION => Err(source.error(
            value.span(),
            format!("`{key}` must be at most a thousand years (\"365000d\"), not {text:?}"),
        )),
        Ok(d) => Ok(d),
        Err(e) => Err(source.error(
            value.span(),
            format!(
                "`{key}`: bad duration {text:?} ({e}); write e.g. \"90s\", \"10m\", \"1h\", \"3d\""
            ),
        )),
    }
}

/// Like [`parse_duration`], but `"0s"` is allowed: it turns the setting off.
pub(super) fn parse_duration_or_zero(
    source: &Source,
    value: &Spanned<String>,
    key: &str,
) -> Result<Duration, ConfigError> {
    match humantime::parse_duration(value.get_ref().trim()) {
        Ok(d) if d.is_zero() => Ok(Duration::ZERO),
        _ => parse_duration(source, value, key),
    }
}

/// The largest size setting (`max_body`): a feed's body is held in memory while it is
/// read and parsed, so a limit past this one is no limit, and most likely a slip.
const MAX_SIZE: u64 = 1 << 30;

pub(super) fn parse_size(
    source: &Source,
    value: &Spanned<String>,
    key: &str,
) -> Result<u64, ConfigError> {
    let text = value.get_ref().trim();
    match text.parse::<bytesize::ByteSize>() {
        Ok(size) if size.as_u64() > MAX_SIZE => Err(source.error(
            value.span(),
            format!(
                "`{key}` must be at most 1GiB, not {text:?}: a feed's body is held in memory \
                 while it is read"
            ),
        )),
        Ok(size) if size.as_u64() > 0 => Ok(size.as_u64()),
        Ok(_) => Err(source.error(value.span(), format!("`{key}` must be larger than zero"))),
        // The crate's own message describes its parser, not the operator's mistake.
        Err(_) => Err(source.error(
            value.span(),
            format!("`{key}`: bad size {text:?}; write e.g. \"512KiB\", \"10MiB\""),
        )),
    }
}

pub(super) fn positive(
    source: &Source,
    value: &Spanned<i64>,
    key: &str,
    max: i64,
) -> Result<usize, ConfigError> {
    let n = *value.get_ref();
    if (1..=max).contains(&n) {
        Ok(n as usize)
    } else {
        Err(source.error(
            value.span(),
            format!("`{key}` must be between 1 and {max}, not {n}"),
        ))
    }
}

pub(super) fn parse_http_url(
    source: &Source,
    value: &Spanned<String>,
    key: &str,
) -> Result<Url, ConfigError> {
    http_url(value.get_ref()).map_err(|m| source.error(value.span(), format!("`{key}`: {m}")))
}

/// An http(s) URL, or what is wrong with the text, saying how to write an address
/// copied without its scheme (`example.org/rss`) or as a browser hands a feed to a
/// reader (`feed://example.org/rss`).
pub fn http_url(text: &str) -> Result<Url, String> {
    let trimmed = text.trim();
    let url = Url::parse(trimmed).map_err(|e| {
        let hint = match e {
            url::ParseError::RelativeUrlWithoutBase => {
                format!(" (write it whole: \"https://{trimmed}\")")
            }
            _ => String::new(),
        };
        format!("bad URL {text:?}: {e}{hint}")
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        let hint = match trimmed.strip_prefix("feed:") {
            Some(rest) if rest.starts_with("http") => format!(" (write \"{rest}\")"),
            Some(rest) => format!(" (write \"https:{rest}\" or \"http:{rest}\")"),
            None => String::new(),
        };
        return Err(format!(
            "only http and https URLs are supported, not `{}`{hint}",
            url.scheme()
        ));
    }
    Ok(url)
}

/// The dotted key a TOML error is about (`fetch.concurrency`; for an unknown key, its
/// table), when it names one. The toml crate keeps it private but writes it after the
/// message when the error has no input to quote.
fn key_of(error: &toml::de::Error) -> Option<String> {
    let mut bare = error.clone();
    bare.set_input(None);
    bare.to_string()
        .lines()
        .find_map(|l| l.strip_prefix("in `")?.strip_suffix('`').map(str::to_owned))
}

/// A deserializer's message in the config's words, naming the key it is about: serde's
/// `unknown field `intervall`, expected one of …` becomes `unknown key
/// `fetch.intervall`: expected one of …`, and `invalid type: string "many", expected
/// i64` becomes `` `fetch.concurrency`: expected an integer, found string "many" ``.
fn keyed_message(message: &str, key: Option<&str>) -> String {
    let path = |name: &str| key.map_or_else(|| name.to_owned(), |k| format!("{k}.{name}"));
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((name, expected)) = rest.split_once("`, ")
    {
        return format!("unknown key `{}`: {expected}", path(name));
    }
    if let Some(rest) = message.strip_prefix("missing field `")
        && let Some(name) = rest.strip_suffix('`')
    {
        return format!("missing key `{}`", path(name));
    }
    let Some(key) = key else {
        return message.to_owned();
    };
    let Some((found, expected)) = message
        .strip_prefix("invalid type: ")
        .and_then(|rest| rest.rsplit_once(", expected "))
    else {
        return format!("`{key}`: {message}");
    };
    let expected = match expected {
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "usize" => "an integer",
        "f32" | "f64" => "a number",
        "a sequence" => "a list",
        "a map" => "a table",
        e if e.starts_with("struct ") => "a table",
        e => e,
    };
    // A list written as its one item: say how to write it.
    let hint = match found.strip_prefix("string ") {
        Some(item) if expected == "a list" => {
            let name = key.rsplit('.').next().unwrap_or(key);
            format!(" (write `{name} = [{item}]`)")
        }
        _ => String::new(),
    };
    format!("`{key}`: expected {expected}, found {found}{hint}")
}
