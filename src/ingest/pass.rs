//! One pass over every configured feed (`newshound once`).

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Semaphore;
use url::Url;

use super::{CompiledRules, FeedFailure, FeedOutcome, FeedReport, ingest_feed, panic_message};
use crate::config::Config;
use crate::fetch::Fetcher;
use crate::store::{StoreError, StoreHandle};

/// Runs one pass over every configured feed, bounded by `[fetch] concurrency` overall
/// and `per_host` per host. `progress` is called as each feed finishes, failed or not.
///
/// A feed whose write the database fails is reported failed and the pass goes on —
/// the other feeds' writes may still succeed (a disk with too little space left for
/// one large feed) — and the first such error is returned beside the reports, for the
/// caller to end with once it has said what the pass did.
pub async fn run_pass(
    config: Arc<Config>,
    rules: Arc<CompiledRules>,
    fetcher: Fetcher,
    store: StoreHandle,
    now: i64,
    progress: impl Fn(&FeedReport),
) -> Result<(Vec<FeedReport>, Option<StoreError>), StoreError> {
    let global = Arc::new(Semaphore::new(config.fetch.concurrency));
    let mut hosts: HashMap<String, Arc<Semaphore>> = HashMap::new();
    let mut tasks = tokio::task::JoinSet::new();
    let mut task_feeds = HashMap::new();
    let moved: HashMap<String, String> = store.call(|s| s.moved_feeds()).await?;
    for (index, feed) in config.feeds.iter().enumerate() {
        let host = host_key(&feed.url, moved.get(feed.url.as_str()).map(String::as_str));
        let per_host = hosts
            .entry(host)
            .or_insert_with(|| Arc::new(Semaphore::new(config.fetch.per_host)))
            .clone();
        let (global, config, rules, fetcher, store) = (
            global.clone(),
            config.clone(),
            rules.clone(),
            fetcher.clone(),
            store.clone(),
        );
        let feed = feed.clone();
        let task = tasks.spawn(async move {
            // Per host first, so that a slow host's feeds wait without holding global slots.
            let _host = per_host.acquire_owned().await.expect("semaphore open");
            let _slot = global.acquire_owned().await.expect("semaphore open");
            ingest_feed(&config, &rules, &fetcher, &store, &feed, now).await
        });
        task_feeds.insert(task.id(), index);
    }
    let failed_with = |index: usize, error: String| {
        let feed = &config.feeds[index];
        let url = feed.url.as_str();
        let outcome = FeedOutcome::Failed {
            error,
            unreachable: false,
            first_failure: false,
        };
        FeedReport::new(url, feed.name.as_deref().unwrap_or(url), outcome, None)
    };
    // A failure of newshound's own on one feed: the feed is reported failed, and the pass
    // goes on.
    let failed = |index: usize, why: String| {
        let url = crate::fetch::shown(config.feeds[index].url.as_str());
        tracing::error!(feed = %url, error = %why, "newshound failed on a feed");
        failed_with(index, FeedFailure::Internal(why).to_string())
    };
    let mut database_error = None;
    let mut reports: Vec<Option<FeedReport>> = vec![None; config.feeds.len()];
    while let Some(joined) = tasks.join_next_with_id().await {
        let index = task_feeds[&match &joined {
            Ok((task, _)) => *task,
            Err(panicked) => panicked.id(),
        }];
        let report = match joined {
            Ok((_, Ok(report))) => report,
            // The database failed this feed's write.
            Ok((_, Err(error))) if !error.is_one_feeds() => {
                let report = failed_with(index, error.to_string());
                database_error.get_or_insert(error);
                report
            }
            Ok((_, Err(error))) => failed(index, error.to_string()),
            // A panic outside the fetch and parse (which catch their own).
            Err(panicked) => failed(
                index,
                match panicked.try_into_panic() {
                    Ok(panic) => panic_message(&*panic),
                    Err(other) => other.to_string(),
                },
            ),
        };
        progress(&report);
        reports[index] = Some(report);
    }
    Ok((reports.into_iter().flatten().collect(), database_error))
}

/// The key of the host a feed is fetched from, for the per-host limit: host and port —
/// of the address it moved to permanently, if it did, else of its configured URL.
pub(crate) fn host_key(url: &Url, moved_to: Option<&str>) -> String {
    let moved = moved_to.and_then(|m| Url::parse(m).ok());
    let url = moved.as_ref().unwrap_or(url);
    format!(
        "{}:{}",
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(0)
    )
}
