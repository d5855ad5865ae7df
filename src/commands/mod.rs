//! What each subcommand does, as library functions that write to a given output, so
//! that `main.rs` stays a thin shell and tests can call the same code.

mod listing;
mod once;
mod opml;
mod output;
mod test_rule;

pub use listing::{feeds, hits};
pub use once::once;
pub use output::{Watched, reader_gone, stdout};

/// Sends a sample alert through one channel (`newshound send-test`), with a store that
/// is not needed: nothing is queued.
pub async fn send_test(
    config: crate::config::Config,
    channel: &str,
) -> anyhow::Result<crate::alert::retry::Attempt> {
    let store = crate::store::StoreHandle::spawn(crate::store::Store::open_in_memory()?);
    let deliverer = crate::alert::Deliverer::new(
        std::sync::Arc::new(config),
        store,
        crate::alert::Clock::System,
    )?;
    deliverer.send_test(channel).await
}
/// `newshound check --database`: what the database holds and whether SQLite finds it
/// sound, read without changing it. An error when it cannot be used: damaged, or of a
/// newer schema than this newshound knows.
pub fn check_database(path: &std::path::Path, out: &mut dyn std::io::Write) -> anyhow::Result<()> {
    let shown = path.display();
    let Some(found) = crate::store::inspect(path) else {
        writeln!(
            out,
            "  database: {shown} does not exist yet; the first run creates it"
        )?;
        return Ok(());
    };
    for problem in &found.problems {
        writeln!(out, "  database problem: {problem}")?;
    }
    if !found.problems.is_empty() {
        anyhow::bail!(
            "the database {shown} is damaged, or not a newshound database: restore it from a \
             backup, or move it aside and start afresh (stories seen before would then be new \
             again)"
        );
    }
    if found.schema > found.current {
        anyhow::bail!(
            "the database {shown} has schema version {}, newer than this newshound knows ({}); \
             upgrade newshound",
            found.schema,
            found.current
        );
    }
    match found.counts {
        Some([feeds, stories, hits, waiting, dead]) => {
            let schema = if found.schema == found.current {
                "current".to_owned()
            } else {
                format!("migrated to {} at the next run", found.current)
            };
            writeln!(
                out,
                "  database: {shown}: sound; schema {} ({schema}); feeds {feeds}, stories \
                 {stories}, hits {hits}; alerts waiting {waiting}, dead {dead}",
                found.schema
            )?;
        }
        None => writeln!(
            out,
            "  database: {shown}: empty (schema 0); the first run sets it up"
        )?,
    }
    Ok(())
}

pub use opml::import_opml;
pub use test_rule::{
    FeedSample, Marker, RuleOutcome, Sample, Source, describe_query_error, fetch_stories,
    test_rule, test_rule_stories,
};

/// A Unix time as RFC 3339 in UTC, for output.
pub(crate) fn format_time(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%SZ").to_string())
        .unwrap_or_else(|| unix.to_string())
}

/// Since when a stored feed has been quiet (answering without a new story for longer
/// than its configured `quiet_after`), and that `quiet_after` in seconds, as of `now`.
pub(crate) fn quiet_since(
    config: &crate::config::Config,
    now: i64,
) -> impl Fn(&crate::store::FeedRow) -> Option<(i64, i64)> {
    let quiet_after: std::collections::HashMap<String, i64> = config
        .feeds
        .iter()
        .map(|f| (f.url.as_str().to_owned(), f.quiet_after.as_secs() as i64))
        .collect();
    move |row| {
        let after = quiet_after.get(&row.url).copied().unwrap_or(0);
        row.quiet_since(after, now).map(|since| (since, after))
    }
}

/// What `feeds` and `once` say of a quiet feed.
pub(crate) fn quiet(since: i64, quiet_after: i64) -> String {
    format!(
        "no new story since {} (longer than its quiet_after, {}): the site may have moved its \
         feed",
        format_time(since),
        crate::config::shown_duration(std::time::Duration::from_secs(quiet_after as u64))
    )
}

/// A Unix time as RFC 3339, for JSON.
pub(crate) fn rfc3339(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}
