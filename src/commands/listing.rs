//! `newshound feeds` and `newshound hits`: what the database knows, as a table or JSON.

use std::borrow::Cow;
use std::io::Write;

use serde::Serialize;

use super::{format_time, rfc3339};
use crate::config::Config;
use crate::fetch::shown;
use crate::rules::Span;
use crate::store::{Delivery, FeedStatus, Store};

#[derive(Serialize)]
struct FeedJson<'a> {
    url: Cow<'a, str>,
    name: Cow<'a, str>,
    status: FeedStatus,
    stories: i64,
    last_fetch: Option<String>,
    next_due: Option<String>,
    consecutive_errors: i64,
    last_error: Option<&'a str>,
    repaired: bool,
    repairs: &'a [String],
    moved_to: Option<&'a str>,
    possible_gaps: i64,
    last_possible_gap: Option<String>,
    newest_story: Option<String>,
    /// Since when the feed has answered without a new story, when for longer than its
    /// `quiet_after`.
    quiet_since: Option<String>,
    validators_ignored: bool,
}

/// Prints every configured feed's state.
pub fn feeds(
    config: &Config,
    store: &Store,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let urls: Vec<&str> = config.feeds.iter().map(|f| f.url.as_str()).collect();
    let rows = store.feeds(&urls)?;
    let quiet_since = super::quiet_since(config, crate::store::unix_now());
    // Feeds in the config that were never stored yet show as new, by their `name` when
    // they have one.
    let missing: Vec<(&str, Option<&str>)> = config
        .feeds
        .iter()
        .filter(|f| !rows.iter().any(|r| r.url == f.url.as_str()))
        .map(|f| (f.url.as_str(), f.name.as_deref()))
        .collect();
    if json {
        let mut items: Vec<FeedJson<'_>> = rows
            .iter()
            .map(|r| FeedJson {
                url: shown(&r.url),
                name: Cow::Borrowed(&r.name),
                status: r.status,
                stories: r.stories,
                last_fetch: r.last_fetch.map(rfc3339),
                next_due: (r.status != FeedStatus::Gone && r.next_due > 0)
                    .then(|| rfc3339(r.next_due)),
                consecutive_errors: r.consecutive_errors,
                last_error: r.last_error.as_deref(),
                repaired: !r.repairs.is_empty(),
                repairs: &r.repairs,
                moved_to: r.moved_to.as_deref(),
                possible_gaps: r.possible_gaps,
                last_possible_gap: r.last_possible_gap.map(rfc3339),
                newest_story: r.newest_story.map(rfc3339),
                quiet_since: quiet_since(r).map(|(since, _)| rfc3339(since)),
                validators_ignored: r.validators_ignored,
            })
            .collect();
        items.extend(missing.iter().map(|&(u, name)| FeedJson {
            url: shown(u),
            name: name.map_or_else(|| shown(u), Cow::Borrowed),
            status: FeedStatus::New,
            stories: 0,
            last_fetch: None,
            next_due: None,
            consecutive_errors: 0,
            last_error: None,
            repaired: false,
            repairs: &[],
            moved_to: None,
            possible_gaps: 0,
            last_possible_gap: None,
            newest_story: None,
            quiet_since: None,
            validators_ignored: false,
        }));
        serde_json::to_writer_pretty(&mut *out, &items)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<13} {:>7}  {:<20}  {:<20}  {:<20}  {:>6}  FEED",
        "STATUS", "STORIES", "NEWEST STORY", "LAST FETCH", "NEXT DUE", "ERRORS"
    )?;
    for r in &rows {
        let next = if r.status == FeedStatus::Gone {
            "never (410 Gone)".to_owned()
        } else if r.next_due > 0 {
            format_time(r.next_due)
        } else {
            "now".to_owned()
        };
        writeln!(
            out,
            "{:<13} {:>7}  {:<20}  {:<20}  {:<20}  {:>6}  {}",
            r.status.as_str(),
            r.stories,
            r.newest_story
                .map(format_time)
                .unwrap_or_else(|| "none".to_owned()),
            r.last_fetch
                .map(format_time)
                .unwrap_or_else(|| "never".to_owned()),
            next,
            r.consecutive_errors,
            feed_label(&r.name, &r.url)
        )?;
        if let Some(error) = &r.last_error {
            writeln!(out, "{:13} last error: {error}", "")?;
        }
        if !r.repairs.is_empty() {
            writeln!(out, "{:13} repaired: {}", "", r.repairs.join("; "))?;
        }
        if r.validators_ignored {
            writeln!(
                out,
                "{:13} fetched without validators: its server answered 304 (not modified) \
                 while the feed had changed",
                ""
            )?;
        }
        if let Some((since, after)) = quiet_since(r) {
            writeln!(out, "{:13} quiet: {}", "", super::quiet(since, after))?;
        }
        if let Some(last) = r.last_possible_gap {
            writeln!(
                out,
                "{:13} possible gaps: {}, the last at {}: every entry was new, so stories \
                 published between two fetches may have been missed",
                "",
                r.possible_gaps,
                format_time(last)
            )?;
        }
        if let Some(to) = &r.moved_to {
            writeln!(
                out,
                "{:13} moved permanently to {to}: fetched there; update the config to match",
                ""
            )?;
        }
    }
    for (u, name) in missing {
        writeln!(
            out,
            "{:<13} {:>7}  {:<20}  {:<20}  {:<20}  {:>6}  {}",
            "new",
            0,
            "none",
            "never",
            "now",
            0,
            feed_label(name.unwrap_or(&shown(u)), u)
        )?;
    }
    Ok(())
}

#[derive(Serialize)]
struct HitJson<'a> {
    rule: &'a str,
    detected_at: String,
    title: &'a str,
    link: Option<&'a str>,
    feed: &'a str,
    published: Option<String>,
    spans: &'a [Span],
    deliveries: &'a [Delivery],
}

/// Prints stored hits, newest first.
pub fn hits(
    store: &Store,
    rule: Option<&str>,
    since: i64,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let rows = store.hits(rule, since)?;
    if json {
        let items: Vec<HitJson<'_>> = rows
            .iter()
            .map(|h| HitJson {
                rule: &h.rule,
                detected_at: rfc3339(h.detected_at),
                title: &h.title,
                link: h.link.as_deref(),
                feed: &h.feed,
                published: h.published.map(rfc3339),
                spans: &h.spans,
                deliveries: &h.deliveries,
            })
            .collect();
        serde_json::to_writer_pretty(&mut *out, &items)?;
        writeln!(out)?;
        return Ok(());
    }
    if rows.is_empty() {
        writeln!(out, "no hits")?;
        return Ok(());
    }
    for h in &rows {
        let delivery = if h.deliveries.is_empty() {
            "not alerted (older than [alerts] max_age)".to_owned()
        } else {
            h.deliveries
                .iter()
                .map(|d| match &d.last_error {
                    Some(e) => format!("{}: {} ({} attempts, {e})", d.channel, d.state, d.attempts),
                    None => format!("{}: {}", d.channel, d.state),
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(
            out,
            "{}  {}  {}",
            format_time(h.detected_at),
            h.rule,
            h.title
        )?;
        writeln!(
            out,
            "    {} — {}",
            h.feed,
            h.link.as_deref().unwrap_or("(no link)")
        )?;
        writeln!(out, "    delivery: {delivery}")?;
    }
    Ok(())
}

/// A feed as the `feeds` table names it: its name, with its address when that differs.
fn feed_label(name: &str, url: &str) -> String {
    let url = shown(url);
    if name == url {
        name.to_owned()
    } else {
        format!("{name} <{url}>")
    }
}
