//! Loading and validating the configuration.
//!
//! Two stages, as the operator's file allows anything and the daemon must trust what it
//! runs: serde reads `Raw…` structs (every table with `deny_unknown_fields`, every value
//! that can be wrong kept with its span), then [`Config::load`] turns them into typed
//! settings — durations, sizes, URLs, compiled queries — or the first error as
//! `FILE:LINE:COL: message`. Secrets are never read here: the config only records where
//! they are ([`Secret`]), and they are read when a channel sends.

mod channel;
mod raw;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use toml::Spanned;
use url::Url;

use crate::rules::Query;

use self::channel::{unknown_channel, validate_channel};
use self::raw::{
    RawInclude, RawMain, Source, parse_duration, parse_http_url, parse_size, positive,
};

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
}

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
    pub tags: Vec<String>,
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
    /// One message per day.
    Daily,
}

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

impl Rule {
    /// Whether the rule applies to stories of this feed.
    pub fn applies_to(&self, feed_name: &str, feed_url: &str, tags: &[String]) -> bool {
        self.feeds.is_empty()
            || self.feeds.iter().any(|f| match f {
                FeedFilter::Tag(t) => tags.iter().any(|x| x == t),
                FeedFilter::Name(n) => n == feed_name || n == feed_url,
            })
    }
}

impl Config {
    /// The channels' secrets this process cannot read, with why: `newshound check` names
    /// them (the service may still read them: `LoadCredential=` files exist only there).
    pub fn unreadable_secrets(&self) -> Vec<(String, String)> {
        self.channels
            .values()
            .filter_map(|channel| {
                let secret = match &channel.kind {
                    ChannelKind::Email(email) => email.password.as_ref(),
                    ChannelKind::Webhook(hook) => hook.secret.as_ref(),
                    ChannelKind::Log => None,
                }?;
                let error = secret.read().err()?;
                Some((channel.name.clone(), format!("{error:#}")))
            })
            .collect()
    }

    /// Reads, parses and validates the configuration at `path` and its includes.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let main = Source::read(path)?;
        let raw: RawMain = main.parse()?;
        let dir = path.parent().map(Path::to_owned).unwrap_or_default();
        let resolve = |p: &str| -> PathBuf {
            let p = Path::new(p);
            if p.is_absolute() {
                p.to_owned()
            } else {
                dir.join(p)
            }
        };

        // Includes: each pattern resolved against the config's folder, in sorted order.
        let mut includes: Vec<(Source, RawInclude)> = Vec::new();
        for pattern in &raw.include {
            let full = resolve(pattern.get_ref());
            let full_text = full.to_string_lossy().into_owned();
            let paths = glob::glob(&full_text).map_err(|e| {
                main.error(
                    pattern.span(),
                    format!("include {:?}: bad pattern: {e}", pattern.get_ref()),
                )
            })?;
            // A folder the pattern cannot be read in is an error, not a match fewer:
            // rules that silently stop loading are alerts silently lost.
            let mut paths = paths.collect::<Result<Vec<PathBuf>, _>>().map_err(|e| {
                main.error(
                    pattern.span(),
                    format!(
                        "include {:?}: cannot read {}: {}",
                        pattern.get_ref(),
                        e.path().display(),
                        e.error()
                    ),
                )
            })?;
            paths.sort();
            if paths.is_empty() {
                let is_pattern = pattern.get_ref().contains(['*', '?', '[']);
                let why = if is_pattern {
                    "matches no file"
                } else {
                    "no such file"
                };
                return Err(main.error(
                    pattern.span(),
                    format!("include {:?}: {why}", pattern.get_ref()),
                ));
            }
            for p in paths {
                let source = Source::read(&p)?;
                let raw_include: RawInclude = source.parse()?;
                includes.push((source, raw_include));
            }
        }

        let storage = {
            let raw_storage = raw.storage.unwrap_or_default();
            let path = match &raw_storage.path {
                Some(p) => {
                    // SQLite reads "" and ":memory:" as a database that vanishes with the
                    // process, and "file:…" as a URI: nothing would be kept.
                    let text = p.get_ref();
                    if text.trim().is_empty() || text == ":memory:" || text.starts_with("file:") {
                        return Err(main.error(
                            p.span(),
                            format!(
                                "`storage.path` must name a database file, not {text:?} \
                                 (leave it out for the default)"
                            ),
                        ));
                    }
                    let path = resolve(text);
                    if path.is_dir() {
                        return Err(main.error(
                            p.span(),
                            format!(
                                "`storage.path` names a folder, {}: name a file in it, such as {}",
                                path.display(),
                                path.join("newshound.db").display()
                            ),
                        ));
                    }
                    path
                }
                // Under systemd, StateDirectory= names the place for state.
                None => match std::env::var_os("STATE_DIRECTORY") {
                    Some(state) => Path::new(&state).join("newshound.db"),
                    None => dir.join("newshound.db"),
                },
            };
            let keep = match &raw_storage.keep {
                Some(k) => parse_duration(&main, k, "storage.keep")?,
                None => Duration::from_secs(90 * 86400),
            };
            Storage { path, keep }
        };
        let alerts = Alerts {
            max_age: match raw.alerts.as_ref().and_then(|a| a.max_age.as_ref()) {
                Some(m) => parse_duration(&main, m, "alerts.max_age")?,
                None => Duration::from_secs(3 * 86400),
            },
            templates: match raw.alerts.as_ref().and_then(|a| a.templates.as_ref()) {
                Some(t) => {
                    let folder = resolve(t.get_ref());
                    if !folder.is_dir() {
                        return Err(main.error(
                            t.span(),
                            format!("`alerts.templates`: {} is not a folder", folder.display()),
                        ));
                    }
                    // Parse them now, so a broken template is a config error, not a
                    // failed delivery.
                    crate::alert::render::Templates::new(Some(&folder))
                        .map_err(|e| main.error(t.span(), format!("`alerts.templates`: {e:#}")))?;
                    Some(folder)
                }
                None => None,
            },
        };
        let raw_fetch = raw.fetch.unwrap_or_default();
        let defaults = Fetch::default();
        let duration_or = |v: &Option<Spanned<String>>, key: &str, default: Duration| match v {
            Some(v) => parse_duration(&main, v, key),
            None => Ok(default),
        };
        let fetch = Fetch {
            interval: duration_or(&raw_fetch.interval, "fetch.interval", defaults.interval)?,
            timeout: duration_or(&raw_fetch.timeout, "fetch.timeout", defaults.timeout)?,
            connect_timeout: duration_or(
                &raw_fetch.connect_timeout,
                "fetch.connect_timeout",
                defaults.connect_timeout,
            )?,
            max_body: match &raw_fetch.max_body {
                Some(v) => parse_size(&main, v, "fetch.max_body")?,
                None => defaults.max_body,
            },
            concurrency: match &raw_fetch.concurrency {
                Some(v) => positive(&main, v, "fetch.concurrency", 1024)?,
                None => defaults.concurrency,
            },
            per_host: match &raw_fetch.per_host {
                Some(v) => positive(&main, v, "fetch.per_host", 64)?,
                None => defaults.per_host,
            },
            user_agent: raw_fetch.user_agent.clone().unwrap_or(defaults.user_agent),
            stale_after: duration_or(
                &raw_fetch.stale_after,
                "fetch.stale_after",
                defaults.stale_after,
            )?,
            health_channels: raw_fetch
                .health_channels
                .iter()
                .map(|c| c.get_ref().clone())
                .collect(),
        };

        // Channels.
        let mut channels = BTreeMap::new();
        for (name, raw_channel) in &raw.channel {
            let channel = validate_channel(&main, name, raw_channel, &resolve)?;
            channels.insert(name.clone(), channel);
        }
        for c in &raw_fetch.health_channels {
            if !channels.contains_key(c.get_ref()) {
                return Err(main.error(c.span(), unknown_channel(c.get_ref(), &channels)));
            }
        }

        // Feeds, from the main file and the includes.
        let mut feeds = Vec::new();
        let mut seen_urls: BTreeSet<String> = BTreeSet::new();
        let all_feeds = raw.feed.iter().map(|f| (&main, f)).chain(
            includes
                .iter()
                .flat_map(|(s, r)| r.feed.iter().map(move |f| (s, f))),
        );
        for (source, raw_feed) in all_feeds {
            let url = parse_http_url(source, &raw_feed.url, "feed.url")?;
            if !seen_urls.insert(url.as_str().to_owned()) {
                return Err(source.error(raw_feed.url.span(), format!("duplicate feed URL {url}")));
            }
            let interval = match &raw_feed.interval {
                Some(v) => parse_duration(source, v, "feed.interval")?,
                None => fetch.interval,
            };
            feeds.push(Feed {
                url,
                name: raw_feed.name.clone().filter(|n| !n.trim().is_empty()),
                interval,
                tags: raw_feed.tags.clone(),
            });
        }
        let tags: BTreeSet<&str> = feeds
            .iter()
            .flat_map(|f| f.tags.iter().map(String::as_str))
            .collect();

        // Rules.
        let default_channels: Vec<String> = {
            let logs: Vec<String> = channels
                .values()
                .filter(|c| matches!(c.kind, ChannelKind::Log))
                .map(|c| c.name.clone())
                .collect();
            if logs.is_empty() {
                vec![DEFAULT_LOG_CHANNEL.to_owned()]
            } else {
                logs
            }
        };
        let mut rules = Vec::new();
        let mut seen_rules: BTreeSet<String> = BTreeSet::new();
        let all_rules = raw.rule.iter().map(|r| (&main, r)).chain(
            includes
                .iter()
                .flat_map(|(s, r)| r.rule.iter().map(move |x| (s, x))),
        );
        for (source, raw_rule) in all_rules {
            let name = raw_rule.name.get_ref().trim().to_owned();
            if name.is_empty() {
                return Err(source.error(raw_rule.name.span(), "`rule.name` must not be empty"));
            }
            if !seen_rules.insert(name.clone()) {
                return Err(source.error(
                    raw_rule.name.span(),
                    format!("duplicate rule name `{name}`"),
                ));
            }
            let query = Query::parse(raw_rule.query.get_ref())
                .map_err(|e| source.query_error(&raw_rule.query, &name, &e))?;
            let mut rule_channels = Vec::new();
            for c in &raw_rule.channels {
                let known = channels.contains_key(c.get_ref())
                    || (c.get_ref() == DEFAULT_LOG_CHANNEL
                        && !channels
                            .values()
                            .any(|c| matches!(c.kind, ChannelKind::Log)));
                if !known {
                    return Err(source.error(
                        c.span(),
                        format!("rule `{name}`: {}", unknown_channel(c.get_ref(), &channels)),
                    ));
                }
                rule_channels.push(c.get_ref().clone());
            }
            if rule_channels.is_empty() {
                rule_channels = default_channels.clone();
            }
            let mut filters = Vec::new();
            for f in &raw_rule.feeds {
                let text = f.get_ref().trim();
                if let Some(tag) = text.strip_prefix("tag:") {
                    if !tags.contains(tag) {
                        return Err(source.error(
                            f.span(),
                            format!("rule `{name}`: no feed has the tag `{tag}`"),
                        ));
                    }
                    filters.push(FeedFilter::Tag(tag.to_owned()));
                } else {
                    filters.push(FeedFilter::Name(text.to_owned()));
                }
            }
            rules.push(Rule {
                name,
                query,
                channels: rule_channels,
                feeds: filters,
            });
        }

        let log_level = match raw.log.and_then(|l| l.level) {
            Some(level) => {
                let text = level.get_ref().trim().to_ascii_lowercase();
                if !matches!(text.as_str(), "error" | "warn" | "info" | "debug" | "trace") {
                    return Err(main.error(
                        level.span(),
                        format!(
                            "`log.level` is error, warn, info, debug or trace, not {:?}",
                            level.get_ref()
                        ),
                    ));
                }
                Some(text)
            }
            None => None,
        };
        let mut files = vec![path.to_owned()];
        files.extend(includes.iter().map(|(s, _)| s.path.clone()));
        Ok(Config {
            path: path.to_owned(),
            files,
            storage,
            alerts,
            fetch,
            feeds,
            channels,
            rules,
            log_level,
        })
    }

    /// Where feed-health notices go.
    pub fn health(&self) -> crate::store::Health {
        crate::store::Health {
            stale_after: self.fetch.stale_after.as_secs() as i64,
            channels: self.fetch.health_channels.clone(),
        }
    }

    /// The channel names in use: the configured ones, plus the implicit log channel
    /// when a rule relies on it.
    pub fn channel_kind(&self, name: &str) -> Option<&ChannelKind> {
        match self.channels.get(name) {
            Some(c) => Some(&c.kind),
            None if name == DEFAULT_LOG_CHANNEL => Some(&ChannelKind::Log),
            None => None,
        }
    }
}

impl fmt::Display for Config {
    /// The summary `newshound check` prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}: ok", self.path.display())?;
        if self.files.len() > 1 {
            writeln!(
                f,
                "  includes: {}",
                self.files[1..]
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )?;
        }
        writeln!(f, "  database: {}", self.storage.path.display())?;
        writeln!(f, "  feeds: {}", self.feeds.len())?;
        for feed in &self.feeds {
            let name = feed
                .name
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            writeln!(
                f,
                "    {}{name}, every {}",
                crate::fetch::shown(feed.url.as_str()),
                humantime::format_duration(feed.interval)
            )?;
        }
        writeln!(f, "  channels: {}", self.channels.len())?;
        for channel in self.channels.values() {
            writeln!(f, "    {} ({})", channel.name, channel.kind.name())?;
        }
        writeln!(f, "  rules: {}", self.rules.len())?;
        for rule in &self.rules {
            writeln!(
                f,
                "    {}: {} → {}",
                rule.name,
                rule.query.source(),
                rule.channels.join(", ")
            )?;
        }
        Ok(())
    }
}
