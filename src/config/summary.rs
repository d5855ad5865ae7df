//! What `newshound check` says of a configuration: its summary, and warnings of what
//! is valid but most likely not meant.

use std::fmt;
use std::time::Duration;

use super::{
    ChannelKind, Config, Digest, Email, Feed, FeedFilter, POLITE_INTERVAL, SmtpTransport, TlsMode,
    WebhookFormat,
};

/// Whether `path` is a Discord webhook's: `/api/webhooks/…`, or with the API's version,
/// `/api/v10/webhooks/…`.
fn discord_webhook_path(path: &str) -> bool {
    let mut segments = path.trim_start_matches('/').split('/');
    if segments.next() != Some("api") {
        return false;
    }
    match segments.next() {
        Some("webhooks") => true,
        Some(version) if version.starts_with('v') && version[1..].parse::<u32>().is_ok() => {
            segments.next() == Some("webhooks")
        }
        _ => false,
    }
}

impl ChannelKind {
    /// Where and how the channel sends, for `check`: ": to … via …; …", or nothing. A
    /// webhook is named by its origin only: the rest of its URL can be its secret.
    fn details(&self) -> String {
        match self {
            ChannelKind::Email(email) => {
                let via = match &email.transport {
                    SmtpTransport::Smtp { host, port } => format!(
                        "smtp://{host}:{port} ({})",
                        match email.tls {
                            TlsMode::Opportunistic => "STARTTLS when offered",
                            TlsMode::Required => "STARTTLS required",
                        }
                    ),
                    SmtpTransport::Smtps { host, port } => format!("smtps://{host}:{port}"),
                    SmtpTransport::Sendmail => "sendmail".to_owned(),
                };
                let digest = match email.digest {
                    None => String::new(),
                    Some(Digest::Every(window)) => {
                        format!("; a digest every {}", shown_duration(window))
                    }
                    Some(Digest::Daily { at, utc: true }) => {
                        format!("; a digest a day at {} UTC", at.format("%H:%M"))
                    }
                    Some(Digest::Daily { at, utc: false }) => format!(
                        "; a digest a day at {}, the host's time (now UTC{})",
                        at.format("%H:%M"),
                        chrono::Local::now().offset()
                    ),
                };
                format!(": to {} via {via}{digest}", email.to.join(", "))
            }
            ChannelKind::Webhook(hook) => format!(
                ": {} to {}/…{}",
                hook.format.name(),
                hook.url.origin().ascii_serialization(),
                if hook.secret.is_some() {
                    ", signed"
                } else {
                    ""
                }
            ),
            ChannelKind::Log => String::new(),
        }
    }
}

impl Config {
    /// Feeds read more often than once a minute (`"5s"` written for `"5m"`): a site may
    /// take that for abuse and block newshound, which then misses its stories. And feeds
    /// read less often than `[alerts] max_age`: a story published just after one read is
    /// too old to alert by the next. Each names the first such feed and counts the others.
    fn interval_warnings(&self) -> Vec<String> {
        let feeds_where = |test: &dyn Fn(&Feed) -> bool| -> Option<(&Feed, String)> {
            let found: Vec<&Feed> = self.feeds.iter().filter(|f| test(f)).collect();
            let others = match found.len().checked_sub(1)? {
                0 => String::new(),
                1 => " (and 1 other feed)".to_owned(),
                n => format!(" (and {n} other feeds)"),
            };
            Some((found[0], others))
        };
        let mut warnings = Vec::new();
        if let Some((first, others)) = feeds_where(&|f| f.interval < POLITE_INTERVAL) {
            warnings.push(format!(
                "feed {} is read every {}{others}: more often than once a minute, which many \
                 sites take for abuse and answer by blocking the reader",
                crate::fetch::shown(first.url.as_str()),
                shown_duration(first.interval),
            ));
        }
        // The longest a healthy feed waits between two reads: its interval, stretched by
        // the jitter.
        let longest_wait = |f: &Feed| f.interval.mul_f64(1.0 + crate::ingest::JITTER);
        if let Some((first, others)) = feeds_where(&|f| longest_wait(f) >= self.alerts.max_age) {
            warnings.push(format!(
                "`alerts.max_age` is {}, but feed {} is read every {}{others}: a story it \
                 publishes just after one read is older than that by the next, and is stored \
                 but never alerted",
                shown_duration(self.alerts.max_age),
                crate::fetch::shown(first.url.as_str()),
                shown_duration(first.interval),
            ));
        }
        warnings
    }

    /// Feeds configured twice under one address written two ways — `http` and `https`,
    /// with and without `www.`, with and without a trailing slash — as an OPML import
    /// beside entries written by hand makes them: the feed is read twice.
    fn feeds_listed_twice(&self) -> Vec<String> {
        // (Two feeds never have the same URL: that is a config error.)
        let position: std::collections::HashMap<&str, usize> = self
            .feeds
            .iter()
            .enumerate()
            .map(|(i, f)| (f.url.as_str(), i))
            .collect();
        let mut warnings = Vec::new();
        for (i, feed) in self.feeds.iter().enumerate() {
            let earlier = crate::story::canonical::same_page_elsewhere(feed.url.as_str())
                .iter()
                .filter_map(|other| position.get(other.as_str()).copied())
                .filter(|&j| j < i)
                .min()
                .map(|j| &self.feeds[j]);
            if let Some(earlier) = earlier {
                warnings.push(format!(
                    "feeds {} and {} are one address written two ways: the feed is read \
                     twice; keep one of them",
                    crate::fetch::shown(earlier.url.as_str()),
                    crate::fetch::shown(feed.url.as_str()),
                ));
            }
        }
        warnings
    }

    /// What is valid but most likely not meant, one line each, for `newshound check` and
    /// the daemon's log: no feeds, no rules, and a rule's `feeds` entry that names no feed.
    /// Such an entry may be a feed's own title, so it is no error; but a typo there makes
    /// the rule match nothing, silently. A rule's query with an operator written in lower
    /// case ([`crate::rules::Query::notes`]). Feeds read more often than once a minute, or
    /// less often than `[alerts] max_age`. A feed listed twice under one address written
    /// two ways. Feeds that moved permanently, whose new address the config should name.
    /// And alerts waiting for a channel that is no longer configured, which are not sent
    /// until it is back; and a database whose folder does not exist. `stored`: what the
    /// database knows (nothing before the first run).
    pub fn warnings(&self, stored: &crate::store::Stored) -> Vec<String> {
        let titles = &stored.titles;
        let mut warnings = Vec::new();
        if self.feeds.is_empty() {
            warnings.push("no [[feed]] is configured: nothing is fetched".to_owned());
        }
        warnings.extend(self.interval_warnings());
        warnings.extend(self.database_folder_warning());
        warnings.extend(self.addresses_needing_smtputf8());
        warnings.extend(self.mail_ports_of_the_other_scheme());
        warnings.extend(self.webhook_formats_for_another_service());
        if self.rules.is_empty() {
            warnings.push(
                "no [[rule]] is configured: stories are stored, but nothing is matched or alerted"
                    .to_owned(),
            );
        }
        for rule in &self.rules {
            for note in rule.query.notes() {
                warnings.push(format!("rule `{}`: {note}", rule.name));
            }
            for filter in &rule.feeds {
                let FeedFilter::Name(wanted) = filter else {
                    continue; // tags are checked when the config loads
                };
                let named = self.feeds.iter().any(|feed| filter.names(feed, titles));
                if !named {
                    warnings.push(format!(
                        "rule `{}`: no feed is called {wanted:?} (by its `name`, its `url` or, \
                         unnamed, its own title so far), so this entry of the rule's `feeds` \
                         matches nothing",
                        rule.name
                    ));
                }
            }
        }
        warnings.extend(self.feeds_listed_twice());
        for feed in &self.feeds {
            if let Some(to) = stored.moved.get(feed.url.as_str()) {
                warnings.push(format!(
                    "feed {} moved permanently to {}: it is fetched there; write that as its \
                     `url` (the feed keeps its stories and state)",
                    crate::fetch::shown(feed.url.as_str()),
                    crate::fetch::shown(to),
                ));
            }
        }
        for (channel, count) in &stored.waiting {
            if self.channel_kind(channel).is_none() {
                warnings.push(format!(
                    "{count} alert{} wait{} for channel `{channel}`, which is not in the \
                     configuration: {} sent once it is back, or `newshound requeue --channel \
                     {channel} --to CHANNEL` sends them through another",
                    if *count == 1 { "" } else { "s" },
                    if *count == 1 { "s" } else { "" },
                    if *count == 1 { "it is" } else { "they are" },
                ));
            }
        }
        warnings
    }

    /// The email channels, by name.
    fn email_channels(&self) -> impl Iterator<Item = (&str, &Email)> {
        self.channels
            .iter()
            .filter_map(|(name, channel)| match &channel.kind {
                ChannelKind::Email(email) => Some((name.as_str(), email)),
                _ => None,
            })
    }

    /// Email addresses with letters outside ASCII before the @ (a domain is written in
    /// ASCII when the config loads): only a mail server that takes SMTPUTF8 delivers to
    /// them, and one that does not refuses every alert.
    fn addresses_needing_smtputf8(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        for (name, email) in self.email_channels() {
            let addresses = email.to.iter().map(|a| ("to", a));
            for (key, address) in addresses.chain([("from", &email.from)]) {
                if !address.is_ascii()
                    && let Ok(mailbox) = address.parse::<lettre::message::Mailbox>()
                    && !mailbox.email.user().is_ascii()
                {
                    warnings.push(format!(
                        "channel `{name}`: `{key}` address {} is not ASCII before the @: only \
                         a mail server that takes SMTPUTF8 can deliver it (`newshound \
                         send-test {name}` shows whether this one does)",
                        mailbox.email
                    ));
                }
            }
        }
        warnings
    }

    /// A mail server address whose port is the other scheme's: 465 speaks TLS from the
    /// first byte (`smtps://`), 587 and 25 in the clear first, then STARTTLS
    /// (`smtp://`). Written the other way, every connection fails.
    fn mail_ports_of_the_other_scheme(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        for (name, email) in self.email_channels() {
            let (written, meant, host, port) = match &email.transport {
                SmtpTransport::Smtp { host, port: 465 } => ("smtp", "smtps", host, 465),
                SmtpTransport::Smtps { host, port } if matches!(port, 25 | 587) => {
                    ("smtps", "smtp", host, *port)
                }
                _ => continue,
            };
            warnings.push(format!(
                "channel `{name}`: port {port} usually speaks {}: `{written}://` there \
                 fails to connect; write `smtp = \"{meant}://{host}:{port}\"`",
                if port == 465 {
                    "TLS from the first byte"
                } else {
                    "in the clear, then STARTTLS"
                }
            ));
        }
        warnings
    }

    /// A webhook to Slack or Discord in a format that service refuses: each takes only
    /// its own message (Discord also Slack's, at an address ending `/slack`), and
    /// answers anything else with 400, which kills every alert.
    fn webhook_formats_for_another_service(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        for (name, channel) in &self.channels {
            let ChannelKind::Webhook(hook) = &channel.kind else {
                continue;
            };
            let host = hook.url.host_str().unwrap_or_default();
            let on = |domain: &str| host == domain || host.ends_with(&format!(".{domain}"));
            let (service, wants) = if host == "hooks.slack.com" {
                ("Slack", WebhookFormat::Slack)
            } else if (on("discord.com") || on("discordapp.com"))
                && discord_webhook_path(hook.url.path())
            {
                if hook.url.path().trim_end_matches('/').ends_with("/slack") {
                    ("Discord's Slack-compatible address", WebhookFormat::Slack)
                } else {
                    ("Discord", WebhookFormat::Discord)
                }
            } else {
                continue;
            };
            if hook.format != wants {
                warnings.push(format!(
                    "channel `{name}`: {service} refuses `format = \"{}\"` (every alert \
                     would fail for good); write `format = \"{}\"`",
                    hook.format.name(),
                    wants.name(),
                ));
            }
        }
        warnings
    }

    /// A database not created yet whose folder does not exist either: the first run
    /// would fail to open it (SQLite creates the file, never its folder).
    fn database_folder_warning(&self) -> Option<String> {
        let path = &self.storage.path;
        let folder = path.parent().filter(|f| !f.as_os_str().is_empty())?;
        if path.exists() || folder.is_dir() {
            return None;
        }
        Some(format!(
            "the database's folder {} does not exist: `once` and `run` cannot create {} \
             until it does (create it, or set `[storage] path`; under systemd, \
             `StateDirectory=` creates /var/lib/newshound when the service starts)",
            folder.display(),
            path.display()
        ))
    }

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
}

/// A configured duration as the messages show it: humantime's words, except that whole
/// days stay days (humantime writes "60d" as "1month 29days 13h 26m 24s", its months
/// being 30.44 days long).
pub fn shown_duration(d: Duration) -> String {
    const DAY: u64 = 86400;
    match d.as_secs() {
        secs if secs > DAY && secs % DAY == 0 && d.subsec_nanos() == 0 => {
            format!("{}days", secs / DAY)
        }
        _ => humantime::format_duration(d).to_string(),
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
            // A feed's own `quiet_after`, when it has one.
            let quiet = match feed.quiet_after {
                q if q == self.fetch.quiet_after => String::new(),
                Duration::ZERO => ", never quiet".to_owned(),
                q => format!(", quiet after {}", shown_duration(q)),
            };
            // And its own `max_body`.
            let max_body = match feed.max_body {
                m if m == self.fetch.max_body => String::new(),
                m => format!(", bodies up to {}", bytesize::ByteSize::b(m)),
            };
            writeln!(
                f,
                "    {}{name}, every {}{quiet}{max_body}",
                crate::fetch::shown(feed.url.as_str()),
                shown_duration(feed.interval)
            )?;
        }
        writeln!(f, "  channels: {}", self.channels.len())?;
        for channel in self.channels.values() {
            writeln!(
                f,
                "    {} ({}){}",
                channel.name,
                channel.kind.name(),
                channel.kind.details()
            )?;
        }
        match self.fetch.health_channels.as_slice() {
            [] => writeln!(
                f,
                "  health notices: none (`[fetch] health_channels` names the channels told of \
                 failing feeds and alert channels; until then only the log says)"
            )?,
            channels => writeln!(
                f,
                "  health notices: to {}, of a feed failing for {}{} and an alert channel for {}",
                channels.join(", "),
                shown_duration(self.fetch.stale_after),
                match self.fetch.quiet_after {
                    Duration::ZERO => String::new(),
                    q => format!(
                        " or answering without a new story for {}",
                        shown_duration(q)
                    ),
                },
                shown_duration(self.alerts.failing_after)
            )?,
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
