//! What each subcommand does, as library functions that write to a given output, so
//! that `main.rs` stays a thin shell and tests can call the same code.

mod listing;
mod once;
mod opml;
mod test_rule;

pub use listing::{feeds, hits};
pub use once::once;

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
pub use opml::import_opml;
pub use test_rule::{
    Marker, RuleOutcome, Sample, Source, describe_query_error, fetch_stories, test_rule,
    test_rule_stories,
};

/// A Unix time as RFC 3339 in UTC, for output.
pub(crate) fn format_time(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%SZ").to_string())
        .unwrap_or_else(|| unix.to_string())
}

/// A Unix time as RFC 3339, for JSON.
pub(crate) fn rfc3339(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}
