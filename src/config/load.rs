//! [`Config::load`]: from the `Raw…` structs serde read to the validated settings, one
//! section at a time, stopping at the first error.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use crate::rules::Query;

use super::channel::{unknown_channel, validate_channel};
use super::raw::{
    RawAlerts, RawFetch, RawInclude, RawLog, RawMain, RawStorage, Source, parse_duration,
    parse_duration_or_zero, parse_http_url, parse_size, positive,
};
use super::{
    Alerts, Channel, ChannelKind, Config, ConfigError, DEFAULT_LOG_CHANNEL, Feed, FeedFilter,
    Fetch, Rule, Storage,
};

/// Resolves a path written in the config against the config file's folder.
type Resolve<'a> = &'a dyn Fn(&str) -> PathBuf;

impl Config {
    /// Reads, parses and validates the configuration at `path` and its includes.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let main = Source::read(path)?;
        let mut raw: RawMain = main.parse()?;
        let dir = path.parent().map(Path::to_owned).unwrap_or_default();
        let resolve = |p: &str| -> PathBuf {
            let p = Path::new(p);
            if p.is_absolute() {
                p.to_owned()
            } else {
                dir.join(p)
            }
        };

        let includes = includes(&main, &raw.include, &resolve)?;
        let storage = storage(
            &main,
            raw.storage.take().unwrap_or_default(),
            &dir,
            &resolve,
        )?;
        let alerts = alerts(&main, raw.alerts.as_ref(), &resolve)?;
        let raw_fetch = raw.fetch.take().unwrap_or_default();
        let fetch = fetch(&main, &raw_fetch)?;

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

        let feeds = feeds(&main, &raw, &includes, &fetch)?;
        let rules = rules(&main, &raw, &includes, &channels, &feeds)?;
        let log_level = log_level(&main, raw.log.take())?;

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
}

/// The included files: each pattern resolved against the config's folder, its matches in
/// sorted order.
fn includes(
    main: &Source,
    patterns: &[Spanned<String>],
    resolve: Resolve<'_>,
) -> Result<Vec<(Source, RawInclude)>, ConfigError> {
    let mut includes = Vec::new();
    for pattern in patterns {
        let written = pattern.get_ref();
        // The config's folder is a path, not a pattern: a `[`, `*` or `?` in its name
        // stands for itself.
        let folder = if Path::new(written).is_absolute() {
            String::new()
        } else {
            glob::Pattern::escape(&resolve("").to_string_lossy())
        };
        let full_text = format!("{folder}{written}");
        let paths = glob::glob(&full_text).map_err(|e| {
            // (The position counted in the pattern as written.)
            let at = e.pos.saturating_sub(folder.chars().count()) + 1;
            main.error(
                pattern.span(),
                format!(
                    "include {written:?}: bad pattern at character {at}: {}",
                    e.msg
                ),
            )
        })?;
        // A folder the pattern cannot be read in is an error, not a match fewer: rules
        // that silently stop loading are alerts silently lost.
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
    Ok(includes)
}

/// `[storage]`. `dir` is the config's folder, the database's home by default.
fn storage(
    main: &Source,
    raw: RawStorage,
    dir: &Path,
    resolve: Resolve<'_>,
) -> Result<Storage, ConfigError> {
    let path = match &raw.path {
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
    let keep = match &raw.keep {
        Some(k) => parse_duration(main, k, "storage.keep")?,
        None => Duration::from_secs(90 * 86400),
    };
    Ok(Storage { path, keep })
}

/// `[alerts]`.
fn alerts(
    main: &Source,
    raw: Option<&RawAlerts>,
    resolve: Resolve<'_>,
) -> Result<Alerts, ConfigError> {
    let max_age = match raw.and_then(|a| a.max_age.as_ref()) {
        Some(m) => parse_duration(main, m, "alerts.max_age")?,
        None => Duration::from_secs(3 * 86400),
    };
    let templates = match raw.and_then(|a| a.templates.as_ref()) {
        Some(t) => {
            let folder = resolve(t.get_ref());
            if !folder.is_dir() {
                return Err(main.error(
                    t.span(),
                    format!("`alerts.templates`: {} is not a folder", folder.display()),
                ));
            }
            // Parse them now, so a broken template is a config error, not a failed
            // delivery.
            crate::alert::render::Templates::new(Some(&folder))
                .map_err(|e| main.error(t.span(), format!("`alerts.templates`: {e:#}")))?;
            Some(folder)
        }
        None => None,
    };
    let failing_after = match raw.and_then(|a| a.failing_after.as_ref()) {
        Some(f) => parse_duration(main, f, "alerts.failing_after")?,
        None => Duration::from_secs(3600),
    };
    let replay = match raw.and_then(|a| a.replay.as_ref()) {
        // "0s": a new rule sees only the stories that arrive after it.
        Some(r) => parse_duration_or_zero(main, r, "alerts.replay")?,
        None => super::DEFAULT_REPLAY,
    };
    Ok(Alerts {
        max_age,
        templates,
        failing_after,
        replay,
    })
}

/// `[fetch]`. Its `health_channels` are checked once the channels are known.
fn fetch(main: &Source, raw: &RawFetch) -> Result<Fetch, ConfigError> {
    let defaults = Fetch::default();
    let duration_or = |v: &Option<Spanned<String>>, key: &str, default: Duration| match v {
        Some(v) => parse_duration(main, v, key),
        None => Ok(default),
    };
    Ok(Fetch {
        interval: duration_or(&raw.interval, "fetch.interval", defaults.interval)?,
        timeout: duration_or(&raw.timeout, "fetch.timeout", defaults.timeout)?,
        connect_timeout: duration_or(
            &raw.connect_timeout,
            "fetch.connect_timeout",
            defaults.connect_timeout,
        )?,
        max_body: match &raw.max_body {
            Some(v) => parse_size(main, v, "fetch.max_body")?,
            None => defaults.max_body,
        },
        concurrency: match &raw.concurrency {
            Some(v) => positive(main, v, "fetch.concurrency", 1024)?,
            None => defaults.concurrency,
        },
        per_host: match &raw.per_host {
            Some(v) => positive(main, v, "fetch.per_host", 64)?,
            None => defaults.per_host,
        },
        user_agent: raw.user_agent.clone().unwrap_or(defaults.user_agent),
        stale_after: duration_or(&raw.stale_after, "fetch.stale_after", defaults.stale_after)?,
        quiet_after: match &raw.quiet_after {
            Some(v) => parse_duration_or_zero(main, v, "fetch.quiet_after")?,
            None => defaults.quiet_after,
        },
        health_channels: raw
            .health_channels
            .iter()
            .map(|c| c.get_ref().clone())
            .collect(),
    })
}

/// The `[[feed]]`s of the main file, then of the includes.
fn feeds(
    main: &Source,
    raw: &RawMain,
    includes: &[(Source, RawInclude)],
    fetch: &Fetch,
) -> Result<Vec<Feed>, ConfigError> {
    let mut feeds = Vec::new();
    // Each URL, and where it was first written.
    let mut seen_urls: BTreeMap<String, String> = BTreeMap::new();
    let all_feeds = raw.feed.iter().map(|f| (main, f)).chain(
        includes
            .iter()
            .flat_map(|(s, r)| r.feed.iter().map(move |f| (s, f))),
    );
    for (source, raw_feed) in all_feeds {
        let url = parse_http_url(source, &raw_feed.url, "feed.url")?;
        if let Some(first) = seen_urls.get(url.as_str()) {
            return Err(source.error(
                raw_feed.url.span(),
                format!("duplicate feed URL {url} (first at {first})"),
            ));
        }
        seen_urls.insert(url.as_str().to_owned(), source.place(raw_feed.url.span()));
        let interval = match &raw_feed.interval {
            Some(v) => parse_duration(source, v, "feed.interval")?,
            None => fetch.interval,
        };
        let quiet_after = match &raw_feed.quiet_after {
            Some(v) => parse_duration_or_zero(source, v, "feed.quiet_after")?,
            None => fetch.quiet_after,
        };
        let max_body = match &raw_feed.max_body {
            Some(v) => parse_size(source, v, "feed.max_body")?,
            None => fetch.max_body,
        };
        feeds.push(Feed {
            url,
            name: raw_feed.name.clone().filter(|n| !n.trim().is_empty()),
            interval,
            quiet_after,
            max_body,
            tags: raw_feed.tags.clone(),
        });
    }
    Ok(feeds)
}

/// The `[[rule]]`s of the main file, then of the includes, with their queries compiled.
fn rules(
    main: &Source,
    raw: &RawMain,
    includes: &[(Source, RawInclude)],
    channels: &BTreeMap<String, Channel>,
    feeds: &[Feed],
) -> Result<Vec<Rule>, ConfigError> {
    let tags: BTreeSet<&str> = feeds
        .iter()
        .flat_map(|f| f.tags.iter().map(String::as_str))
        .collect();
    let has_log_channel = channels
        .values()
        .any(|c| matches!(c.kind, ChannelKind::Log));
    // A rule naming no channel goes to every log channel, or to the implicit one.
    let default_channels: Vec<String> = if has_log_channel {
        channels
            .values()
            .filter(|c| matches!(c.kind, ChannelKind::Log))
            .map(|c| c.name.clone())
            .collect()
    } else {
        vec![DEFAULT_LOG_CHANNEL.to_owned()]
    };
    let mut rules = Vec::new();
    // Each rule's name, and where it was first written.
    let mut seen_rules: BTreeMap<String, String> = BTreeMap::new();
    let all_rules = raw.rule.iter().map(|r| (main, r)).chain(
        includes
            .iter()
            .flat_map(|(s, r)| r.rule.iter().map(move |x| (s, x))),
    );
    for (source, raw_rule) in all_rules {
        let name = raw_rule.name.get_ref().trim().to_owned();
        if name.is_empty() {
            return Err(source.error(raw_rule.name.span(), "`rule.name` must not be empty"));
        }
        if let Some(first) = seen_rules.get(&name) {
            return Err(source.error(
                raw_rule.name.span(),
                format!("duplicate rule name `{name}` (first at {first})"),
            ));
        }
        seen_rules.insert(name.clone(), source.place(raw_rule.name.span()));
        let query = Query::parse(raw_rule.query.get_ref())
            .map_err(|e| source.query_error(&raw_rule.query, &name, &e))?;
        let mut rule_channels = Vec::new();
        for c in &raw_rule.channels {
            let known = channels.contains_key(c.get_ref())
                || (c.get_ref() == DEFAULT_LOG_CHANNEL && !has_log_channel);
            if !known {
                return Err(source.error(
                    c.span(),
                    format!("rule `{name}`: {}", unknown_channel(c.get_ref(), channels)),
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
                    let known = if tags.is_empty() {
                        "no feed has a tag".to_owned()
                    } else {
                        let known: Vec<&str> = tags.iter().copied().collect();
                        format!("the feeds' tags are {}", known.join(", "))
                    };
                    return Err(source.error(
                        f.span(),
                        format!("rule `{name}`: no feed has the tag `{tag}` ({known})"),
                    ));
                }
                filters.push(FeedFilter::Tag(tag.to_owned()));
            } else {
                filters.push(FeedFilter::name(text));
            }
        }
        rules.push(Rule {
            name,
            query,
            channels: rule_channels,
            feeds: filters,
        });
    }
    Ok(rules)
}

/// `[log] level`.
fn log_level(main: &Source, raw: Option<RawLog>) -> Result<Option<String>, ConfigError> {
    let Some(level) = raw.and_then(|l| l.level) else {
        return Ok(None);
    };
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
    Ok(Some(text))
}
