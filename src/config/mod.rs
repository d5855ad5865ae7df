//! Loading and validating the configuration.
//!
//! Two stages, as the operator's file allows anything and the daemon must trust what it
//! runs: serde reads `Raw…` structs (every table with `deny_unknown_fields`, every value
//! that can be wrong kept with its span), then [`Config::load`] turns them into typed
//! settings — durations, sizes, URLs, compiled queries — or the first error as
//! `FILE:LINE:COL: message`. Secrets are never read here: the config only records where
//! they are ([`Secret`]), and they are read when a channel sends.

mod channel;
mod load;
mod raw;
mod summary;

pub use raw::http_url;
pub use summary::shown_duration;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use crate::rules::Query;

/// Feeds read more often than this are warned of ([`Config::warnings`]).
pub const POLITE_INTERVAL: Duration = Duration::from_secs(60);

/// Name of the log channel used by rules that name none, when the config defines no log
/// channel of its own.
pub const DEFAULT_LOG_CHANNEL: &str = "log";

/// A configuration problem, located in a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}:{column}: {message}", file.display())]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The main file, as given.
    pub path: PathBuf,
    /// Every file read: the main file, then the includes in order. A daemon watches
    /// these for changes.
    pub files: Vec<PathBuf>,
    pub storage: Storage,
    pub alerts: Alerts,
    pub fetch: Fetch,
    pub feeds: Vec<Feed>,
    pub channels: BTreeMap<String, Channel>,
    pub rules: Vec<Rule>,
    /// `[log] level`: the log filter when `RUST_LOG` is not set.
    pub log_level: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Storage {
    /// The SQLite file.
    pub path: PathBuf,
    /// Stories without hits are pruned after this long.
    pub keep: Duration,
}

#[derive(Debug, Clone)]
pub struct Alerts {
    /// Stories published longer ago are stored and matched but never alerted.
    pub max_age: Duration,
    /// A folder of templates replacing the built-in ones (`alert.txt`, `alert.html`,
    /// `digest.txt`, `digest.html`).
    pub templates: Option<PathBuf>,
    /// A channel whose deliveries fail for longer than this gets a health notice.
    pub failing_after: Duration,
    /// A rule added or changed is matched against the stories first seen this long
    /// before; zero for none.
    pub replay: Duration,
}

/// `[alerts] replay` unless the config says otherwise.
pub const DEFAULT_REPLAY: Duration = Duration::from_secs(6 * 3600);

#[derive(Debug, Clone)]
pub struct Fetch {
    pub interval: Duration,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Largest body accepted, compressed or decompressed, in bytes.
    pub max_body: u64,
    pub concurrency: usize,
    pub per_host: usize,
    pub user_agent: String,
    /// A feed failing for longer than this gets a health notice.
    pub stale_after: Duration,
    /// A feed answering without a new story for longer than this gets a health notice
    /// (each feed may say otherwise); zero never.
    pub quiet_after: Duration,
    pub health_channels: Vec<String>,
}

impl Default for Fetch {
    fn default() -> Self {
        Fetch {
            interval: Duration::from_secs(600),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_body: 10 * 1024 * 1024,
            concurrency: 32,
            per_host: 2,
            user_agent: format!("newshound/{}", env!("CARGO_PKG_VERSION")),
            stale_after: Duration::from_secs(86400),
            quiet_after: Duration::from_secs(7 * 86400),
            health_channels: Vec::new(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Feed {
    pub url: Url,
    /// The configured name; the feed's own title is used when absent.
    pub name: Option<String>,
    pub interval: Duration,
    /// How long it may answer without a new story before the health channels are told
    /// (`[fetch] quiet_after` unless the feed says otherwise); zero never.
    pub quiet_after: Duration,
    /// The largest body read, decompressed (`[fetch] max_body` unless the feed says
    /// otherwise: a podcast's whole archive in one document, say).
    pub max_body: u64,
    pub tags: Vec<String>,
}

impl Feed {
    /// The feed's name as rules and alerts see it: the configured name, else `title`
    /// (the feed's own), else its URL.
    pub fn display_name(&self, title: Option<&str>) -> String {
        self.name
            .as_deref()
            .or(title)
            .map_or_else(|| self.url.to_string(), str::to_owned)
    }
}

#[derive(Debug, Clone)]
pub struct Channel {
    pub name: String,
    pub kind: ChannelKind,
}

#[derive(Debug, Clone)]
pub enum ChannelKind {
    Email(Email),
    Webhook(Webhook),
    Log,
}

impl ChannelKind {
    /// The `kind` as written in the config.
    pub fn name(&self) -> &'static str {
        match self {
            ChannelKind::Email(_) => "email",
            ChannelKind::Webhook(_) => "webhook",
            ChannelKind::Log => "log",
        }
    }
}

/// How long sending one email may take unless the channel says otherwise.
pub const DEFAULT_EMAIL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one webhook delivery may take unless the channel says otherwise.
pub const DEFAULT_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone)]
pub struct Email {
    pub to: Vec<String>,
    pub from: String,
    pub transport: SmtpTransport,
    pub tls: TlsMode,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub digest: Option<Digest>,
    /// How long sending one message may take: connecting, TLS, login and the message.
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmtpTransport {
    /// `smtp://host:port`: plain connection, upgraded with STARTTLS when offered.
    Smtp { host: String, port: u16 },
    /// `smtps://host:port`: TLS from the first byte.
    Smtps { host: String, port: u16 },
    /// The local MTA's `sendmail` command.
    Sendmail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// STARTTLS when the server offers it.
    Opportunistic,
    /// Refuse to send without TLS.
    Required,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Digest {
    /// One message per window of this length.
    Every(Duration),
    /// One message a day, at this time of day: the host's local time, or UTC.
    Daily { at: chrono::NaiveTime, utc: bool },
}

/// When a `digest = "daily"` without a time is sent: a morning read.
pub const DAILY_DIGEST_AT: chrono::NaiveTime = chrono::NaiveTime::from_hms_opt(8, 0, 0).unwrap();

#[derive(Debug, Clone)]
pub struct Webhook {
    pub url: Url,
    pub format: WebhookFormat,
    pub secret: Option<Secret>,
    /// How long one delivery may take, the response included.
    pub timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFormat {
    Json,
    Slack,
    Discord,
}

impl WebhookFormat {
    /// The `format` as written in the config.
    pub fn name(self) -> &'static str {
        match self {
            WebhookFormat::Json => "json",
            WebhookFormat::Slack => "slack",
            WebhookFormat::Discord => "discord",
        }
    }
}

/// Where a secret is kept. Only the location is held; [`Secret::read`] fetches the value
/// when it is needed, so it never sits in the config or its `Debug` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    File(PathBuf),
    Env(String),
}

impl Secret {
    /// Reads the secret, trimming one trailing line end.
    pub fn read(&self) -> anyhow::Result<SecretString> {
        use anyhow::Context;
        let value = match self {
            Secret::File(path) => std::fs::read_to_string(path)
                .with_context(|| format!("reading the secret file {}", path.display()))?,
            Secret::Env(name) => {
                std::env::var(name).with_context(|| format!("reading the secret from ${name}"))?
            }
        };
        let value = value.strip_suffix('\n').unwrap_or(&value);
        let value = value.strip_suffix('\r').unwrap_or(value);
        Ok(SecretString::from(value.to_owned()))
    }
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub query: Query,
    /// The channels alerted; never empty after validation.
    pub channels: Vec<String>,
    /// Restricts the rule to some feeds; empty means all feeds.
    pub feeds: Vec<FeedFilter>,
}

/// One entry of a rule's `feeds` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedFilter {
    /// `tag:NAME`: feeds with this tag.
    Tag(String),
    /// A feed's name or URL.
    Name(String),
}

impl FeedFilter {
    /// The entry naming a feed by `text`, its name or URL. A URL is compared as the
    /// config's `url` reads once parsed (`https://example.org` is `https://example.org/`).
    pub fn name(text: &str) -> FeedFilter {
        FeedFilter::Name(match url::Url::parse(text) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => url.to_string(),
            _ => text.to_owned(),
        })
    }

    /// Whether this entry names the feed with this name ([`Feed::display_name`]), URL
    /// and tags.
    pub fn matches(&self, feed_name: &str, feed_url: &str, tags: &[String]) -> bool {
        match self {
            FeedFilter::Tag(t) => tags.iter().any(|x| x == t),
            FeedFilter::Name(n) => n == feed_name || n == feed_url,
        }
    }
}

impl FeedFilter {
    /// Whether this entry names a configured feed as matching does — by its name, else
    /// its own title as last fetched (`titles`, by URL), or its URL — before any story of
    /// it is at hand.
    pub fn names(&self, feed: &Feed, titles: &std::collections::HashMap<String, String>) -> bool {
        let title = titles.get(feed.url.as_str()).map(String::as_str);
        self.matches(&feed.display_name(title), feed.url.as_str(), &feed.tags)
    }
}

impl Rule {
    /// Whether the rule applies to stories of this feed.
    pub fn applies_to(&self, feed_name: &str, feed_url: &str, tags: &[String]) -> bool {
        self.feeds.is_empty()
            || self
                .feeds
                .iter()
                .any(|f| f.matches(feed_name, feed_url, tags))
    }
}

impl Config {
    /// The feeds named by `wanted` — each a feed's `name`, `url` or (unnamed) its own
    /// title as last fetched, `titles` by URL — in the config's order; or what names none.
    pub fn feeds_named(
        &self,
        wanted: &[String],
        titles: &std::collections::HashMap<String, String>,
    ) -> Result<Vec<Feed>, String> {
        let mut chosen = vec![false; self.feeds.len()];
        for text in wanted {
            let filter = FeedFilter::name(text.trim());
            let mut named = false;
            for (feed, chosen) in self.feeds.iter().zip(chosen.iter_mut()) {
                if filter.names(feed, titles) {
                    *chosen = true;
                    named = true;
                }
            }
            if !named {
                return Err(format!(
                    "no configured feed is called {text:?} (by its `name`, its `url` or, \
                     unnamed, its own title); `newshound feeds` lists them"
                ));
            }
        }
        Ok(self
            .feeds
            .iter()
            .zip(chosen)
            .filter(|(_, chosen)| *chosen)
            .map(|(feed, _)| feed.clone())
            .collect())
    }

    /// Where feed-health notices go, and when: `quiet_after` is `[fetch]`'s; a feed's
    /// own is [`Config::health_of`].
    pub fn health(&self) -> crate::store::Health {
        crate::store::Health {
            stale_after: self.fetch.stale_after.as_secs() as i64,
            quiet_after: self.fetch.quiet_after.as_secs() as i64,
            failing_after: self.alerts.failing_after.as_secs() as i64,
            channels: self.fetch.health_channels.clone(),
        }
    }

    /// [`Config::health`], with `feed`'s own `quiet_after`.
    pub fn health_of(&self, feed: &Feed) -> crate::store::Health {
        crate::store::Health {
            quiet_after: feed.quiet_after.as_secs() as i64,
            ..self.health()
        }
    }

    /// The kind of the channel called `name`: a configured one, or the implicit log
    /// channel.
    pub fn channel_kind(&self, name: &str) -> Option<&ChannelKind> {
        match self.channels.get(name) {
            Some(c) => Some(&c.kind),
            None if name == DEFAULT_LOG_CHANNEL => Some(&ChannelKind::Log),
            None => None,
        }
    }
}
