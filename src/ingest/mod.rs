//! One feed from fetch to stored hits. `pass` runs one pass over every feed
//! (`newshound once`), `schedule` says when a feed is due again, and `matching` holds
//! the rules compiled for matching.
//!
//! The flow per feed: read its validators, fetch (conditional GET), then off the async
//! workers decode, parse and match every story against the compiled rules, then hand the
//! lot to the store, which writes stories, hits and alerts in one transaction (shared with
//! other feeds waiting to be written). A feed's failure is recorded against that feed and
//! never stops the others.

use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::config::{Config, Feed};
use crate::fetch::{FetchError, Fetched, Fetcher, Validators, shown};
use crate::store::{
    Failure, FetchMeta, Incoming, IngestJob, IngestOutcome, LateMatcher, StoreError, StoreHandle,
};
use crate::story::{FeedError, ParsedFeed, Story, parse_feed};

mod contained;
mod matching;
mod pass;
mod replay;
mod schedule;

use contained::on_a_parse_thread;
pub use contained::{catch_panic, panic_message};
pub use matching::CompiledRules;
pub(crate) use pass::host_key;
pub use pass::run_pass;
pub use replay::{ReplayReport, replay_new_rules};
use schedule::jitter;
pub use schedule::{
    CHECK_NOT_MODIFIED_AFTER, HINTS_SET_ASIDE_AFTER_GAP, JITTER, MAX_BACKOFF, MAX_HINTED_INTERVAL,
    next_due_after_failure, next_due_after_success,
};

/// What happened to one feed in a pass.
#[derive(Debug, Clone)]
pub enum FeedOutcome {
    Ingested {
        outcome: IngestOutcome,
        stories: usize,
        repairs: Vec<String>,
        /// The repair saying the document broke off part-way, if it did: what followed
        /// the break was not read.
        read_in_part: Option<String>,
    },
    NotModified,
    Failed {
        error: String,
        /// The server was never reached ([`FetchError::unreachable`]).
        unreachable: bool,
        /// The feed had not been failing before this fetch.
        first_failure: bool,
    },
    /// 410 Gone earlier: not fetched.
    Skipped,
}

/// One feed's pass, as it is shown: URL and name with any password hidden
/// ([`crate::fetch::shown`]).
#[derive(Debug, Clone)]
pub struct FeedReport {
    pub url: String,
    pub name: String,
    pub outcome: FeedOutcome,
    /// Where the feed moved permanently, if it did: it is fetched there, and the config
    /// should say so.
    pub moved_to: Option<String>,
}

impl FeedReport {
    pub fn new(
        url: &str,
        name: &str,
        outcome: FeedOutcome,
        moved_to: Option<String>,
    ) -> FeedReport {
        FeedReport {
            url: shown(url).into_owned(),
            name: shown(name).into_owned(),
            outcome,
            moved_to: moved_to.map(|m| shown(&m).into_owned()),
        }
    }
}

/// A feed failed to yield stories: either the fetch or the parse.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FeedFailure {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Parse(#[from] FeedError),
    /// newshound itself failed on the feed (a panic): recorded like any failure, so the
    /// feed backs off instead of being retried at once, and every other feed goes on.
    #[error("newshound failed on this feed (a bug; please report it): {0}")]
    Internal(String),
}

/// A fetch that succeeded, up to matching.
enum Retrieved {
    NotModified(crate::fetch::CacheHints),
    /// A body byte for byte the one last ingested (with the same charset, from the
    /// same URL): it holds nothing new either, so it is not parsed or matched again.
    /// Servers that ignore conditional requests send these on every poll.
    Unchanged(Box<crate::fetch::Body>),
    Parsed {
        body: Box<crate::fetch::Body>,
        /// [`body_hash`] of the body, stored with its stories.
        hash: String,
        /// The feed without its stories, which are in `incoming`.
        parsed: ParsedFeed,
        incoming: Vec<Incoming>,
        feed_name: String,
    },
}

/// What tells a fetched body from the last one ingested: its bytes and what they are
/// read with (the URL they came from resolves relative links, the charset decodes).
fn body_hash(url: &Url, charset: Option<&str>, bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(url.as_str());
    h.update([0]);
    h.update(charset.unwrap_or_default());
    h.update([0]);
    h.update(bytes);
    crate::story::hex(&h.finalize()[..16])
}

/// What `retrieve` knows of a feed from the store.
struct Known<'a> {
    feed_id: i64,
    /// The hash of the body last ingested ([`body_hash`]).
    last_body: Option<&'a str>,
    /// Whether the store holds any of its stories (if not, there is nothing to ask).
    has_stories: bool,
    /// Where to fetch it: where it last moved permanently to, else its configured URL.
    fetch_url: &'a Url,
}

/// Fetches a feed, then hashes the body and, unless it is the one last ingested, parses
/// it and matches the stories the store does not hold unchanged — off the async workers:
/// all of it is CPU work, and a large feed would hold up timers and deliveries.
async fn retrieve(
    rules: &Arc<CompiledRules>,
    fetcher: &Fetcher,
    store: &StoreHandle,
    feed: &Feed,
    validators: &Validators,
    known: Known<'_>,
) -> Result<Retrieved, FeedFailure> {
    let mut body = match fetcher
        .fetch_at_most(known.fetch_url, validators, feed.max_body)
        .await?
    {
        Fetched::NotModified { cache } => return Ok(Retrieved::NotModified(cache)),
        Fetched::Body(body) => body,
    };
    let limit = feed.max_body;
    let (bytes, base, charset) = (
        std::mem::take(&mut body.bytes),
        body.url.clone(),
        body.charset.clone(),
    );
    let (rules, store) = (rules.clone(), store.clone());
    let (feed_id, has_stories) = (known.feed_id, known.has_stories);
    let last_body = known.last_body.map(str::to_owned);
    let read = on_a_parse_thread({
        let feed = feed.clone();
        move || -> Result<_, FeedError> {
            let hash = body_hash(&base, charset.as_deref(), &bytes);
            if last_body.as_ref() == Some(&hash) {
                return Ok(None);
            }
            let unchanged = |stories: &[Story], hashes: &[String]| {
                if has_stories {
                    stored_unchanged(&store, feed_id, stories, hashes)
                } else {
                    Vec::new()
                }
            };
            let read = parse_and_match(
                &bytes,
                Some(&base),
                charset.as_deref(),
                limit,
                &rules,
                &feed,
                unchanged,
            )?;
            Ok(Some((hash, read)))
        }
    })
    .await
    .map_err(FeedFailure::Internal)??;
    let Some((hash, (parsed, incoming, feed_name))) = read else {
        tracing::debug!(feed = %shown(feed.url.as_str()), "the body is the one last ingested; not read again");
        return Ok(Retrieved::Unchanged(body));
    };
    Ok(Retrieved::Parsed {
        body,
        hash,
        parsed,
        incoming,
        feed_name,
    })
}

/// Asks the store, from a parse thread, which of a feed's stories it holds with the
/// same text. Should it not answer, every story is matched: the answer only saves work.
pub fn stored_unchanged(
    store: &StoreHandle,
    feed_id: i64,
    stories: &[Story],
    hashes: &[String],
) -> Vec<bool> {
    let asked: Vec<(String, String)> = stories
        .iter()
        .zip(hashes)
        .map(|(story, hash)| (story.identity.clone(), hash.clone()))
        .collect();
    match store.call_blocking(move |s| s.unchanged_stories(feed_id, &asked)) {
        Ok(unchanged) => {
            let skipped = unchanged.iter().filter(|u| **u).count();
            tracing::debug!(
                feed_id,
                stories = stories.len(),
                skipped,
                "stories held unchanged are not matched again"
            );
            unchanged
        }
        Err(error) => {
            tracing::debug!(feed_id, %error, "cannot ask which stories are unchanged; matching all");
            Vec::new()
        }
    }
}

/// Parses a fetched body and matches its stories: the CPU work of a fetch. Stories that
/// `unchanged` says the store holds with the same text are not matched
/// ([`CompiledRules::match_changed`]). Returns the feed without its stories, the stories
/// ready for the store, and the feed's name as rules and alerts see it ([`Feed::display_name`]).
pub fn parse_and_match(
    bytes: &[u8],
    base: Option<&Url>,
    http_charset: Option<&str>,
    limit: u64,
    rules: &CompiledRules,
    feed: &Feed,
    unchanged: impl FnOnce(&[Story], &[String]) -> Vec<bool>,
) -> Result<(ParsedFeed, Vec<Incoming>, String), FeedError> {
    let mut parsed = parse_feed(bytes, base, http_charset, limit)?;
    let feed_name = feed.display_name(parsed.title.as_deref());
    let stories = std::mem::take(&mut parsed.stories);
    let incoming = rules.match_changed(stories, unchanged, &feed_name, feed);
    Ok((parsed, incoming, feed_name))
}

/// What matches, on the store thread, the stories that arrived unmatched should the
/// write find them changed after all; `None` when every story arrived matched.
pub fn late_matcher(
    rules: &Arc<CompiledRules>,
    feed: &Feed,
    feed_name: &str,
    incoming: &[Incoming],
) -> Option<LateMatcher> {
    incoming.iter().any(|i| i.hits.is_none()).then(|| {
        let (rules, feed, name) = (rules.clone(), feed.clone(), feed_name.to_owned());
        LateMatcher::new(move |story| rules.matches(story, &name, &feed))
    })
}

/// Fetches, parses, matches and stores one feed.
pub async fn ingest_feed(
    config: &Config,
    rules: &Arc<CompiledRules>,
    fetcher: &Fetcher,
    store: &StoreHandle,
    feed: &Feed,
    now: i64,
) -> Result<FeedReport, StoreError> {
    let url = feed.url.to_string();
    let state = store
        .call({
            let url = url.clone();
            move |s| s.feed_for_fetch(&url)
        })
        .await?
        .ok_or_else(|| StoreError::Sqlite(rusqlite::Error::QueryReturnedNoRows))?;
    let name = state.name.clone();
    let report = |outcome, moved_to: Option<&str>| {
        FeedReport::new(&url, &name, outcome, moved_to.map(str::to_owned))
    };
    if state.status == crate::store::FeedStatus::Gone {
        return Ok(report(FeedOutcome::Skipped, state.moved_to.as_deref()));
    }
    let validators = if state.validators_ignored {
        Validators::default()
    } else {
        Validators {
            etag: state.etag.clone(),
            last_modified: state.last_modified.clone(),
        }
    };
    // A feed that has answered 304 for a day is asked again at once, without its
    // validators, when it answers 304 once more: whether its feed really has not changed.
    let check_not_modified = (validators.etag.is_some() || validators.last_modified.is_some())
        && state
            .body_at
            .is_none_or(|at| now - at >= CHECK_NOT_MODIFIED_AFTER.as_secs() as i64);
    let feed_id = state.id;
    let health = config.health_of(feed);
    // A feed that showed a possible gap lately is fetched at its own interval: its
    // caching hints (Cache-Control max-age, `<ttl>`) may be what let stories slip by.
    let hints_trusted = state
        .last_possible_gap
        .is_none_or(|at| now - at >= HINTS_SET_ASIDE_AFTER_GAP.as_secs() as i64);
    let due_after_success = |max_age: Option<Duration>, ttl: Option<u32>| {
        let (max_age, ttl) = if hints_trusted {
            (max_age, ttl)
        } else {
            (None, None)
        };
        next_due_after_success(
            now,
            feed.interval,
            max_age,
            ttl,
            config.alerts.max_age,
            jitter(),
        )
    };
    // A feed that moved permanently is fetched at its new address (the design's "301/308
    // update its URL"); it keeps its configured URL as its name, and its row and history
    // follow when the config is updated to the new URL (`Store::sync_feeds`).
    let mut moved_to = state.moved_to.as_deref().and_then(|u| Url::parse(u).ok());
    let known = |fetch_url| Known {
        feed_id,
        last_body: state.body_hash.as_deref(),
        has_stories: state.stories > 0,
        fetch_url,
    };
    let none = Validators::default();
    let fetch_at =
        |at, validators| catch_panic(retrieve(rules, fetcher, store, feed, validators, known(at)));
    let mut retrieved = fetch_at(moved_to.as_ref().unwrap_or(&feed.url), &validators)
        .await
        .unwrap_or_else(|panic| Err(FeedFailure::Internal(panic)));
    let checking_not_modified =
        check_not_modified && matches!(retrieved, Ok(Retrieved::NotModified(_)));
    if checking_not_modified {
        // Should asking again fail, the 304 stands.
        let whole = fetch_at(moved_to.as_ref().unwrap_or(&feed.url), &none)
            .await
            .unwrap_or_else(|panic| Err(FeedFailure::Internal(panic)));
        if whole.is_ok() {
            retrieved = whole;
        }
    }
    // Where it moved fails: the configured address is tried once more. If that works
    // (a wrong permanent redirect, or a new home that did not last), the feed goes back
    // to it — nothing else would ever undo a move.
    if let (Err(FeedFailure::Fetch(_) | FeedFailure::Parse(_)), Some(moved)) =
        (&retrieved, &moved_to)
    {
        let again = fetch_at(&feed.url, &validators)
            .await
            .unwrap_or_else(|panic| Err(FeedFailure::Internal(panic)));
        if again.is_ok() {
            tracing::warn!(
                feed = %shown(&url),
                moved_to = %shown(moved.as_str()),
                "the address the feed moved to failed, its configured address works: fetched there again"
            );
            store.call(move |s| s.clear_moved(feed_id)).await?;
            moved_to = None;
            retrieved = again;
        }
    }
    let known_move = moved_to.as_ref().map(Url::as_str);
    let (body, hash, parsed, incoming, feed_name) = match retrieved {
        Ok(Retrieved::NotModified(cache)) => {
            let next_due = due_after_success(cache.max_age, None);
            store
                .call(move |s| s.record_not_modified(feed_id, now, next_due, &health, None))
                .await?;
            return Ok(report(FeedOutcome::NotModified, known_move));
        }
        Ok(Retrieved::Unchanged(body)) => {
            let moved = record_moved(store, &url, feed_id, &body).await?;
            let next_due = due_after_success(body.cache.max_age, None);
            store
                .call(move |s| {
                    let fresh = &body.validators;
                    let fresh = (fresh.etag.as_deref(), fresh.last_modified.as_deref());
                    s.record_not_modified(feed_id, now, next_due, &health, Some(fresh))
                })
                .await?;
            return Ok(report(
                FeedOutcome::NotModified,
                moved.as_deref().or(known_move),
            ));
        }
        Ok(Retrieved::Parsed {
            body,
            hash,
            parsed,
            incoming,
            feed_name,
        }) => (body, hash, parsed, incoming, feed_name),
        Err(error) => {
            let retry_after = match &error {
                FeedFailure::Fetch(f) => f.retry_after(),
                FeedFailure::Parse(_) | FeedFailure::Internal(_) => None,
            };
            let failure = match &error {
                FeedFailure::Fetch(FetchError::Gone) => Failure::Gone,
                FeedFailure::Fetch(f) if f.unreachable() => Failure::Unreachable,
                _ => Failure::Other,
            };
            let next_due =
                next_due_after_failure(now, feed.interval, state.consecutive_errors, retry_after);
            let message = match &moved_to {
                Some(moved) => format!("{error} (fetched at {moved}, where it moved permanently)"),
                None => error.to_string(),
            };
            tracing::warn!(feed = %shown(&url), error = %message, "feed failed");
            let recorded = message.clone();
            store
                .call(move |s| {
                    s.record_failure(feed_id, now, &recorded, next_due, failure, &health)
                })
                .await?;
            return Ok(report(
                FeedOutcome::Failed {
                    error: message,
                    unreachable: failure == Failure::Unreachable,
                    first_failure: state.consecutive_errors == 0,
                },
                known_move,
            ));
        }
    };
    let read_in_part = parsed.read_in_part().map(str::to_owned);
    if let Some(part) = &read_in_part {
        // Like a failure, on every fetch it lasts: the entries after the break are lost.
        tracing::warn!(feed = %shown(&url), "read in part: {part}; what follows is not read");
    }
    let moved = record_moved(store, &url, feed_id, &body).await?;
    let stories = incoming.len();
    let meta = FetchMeta {
        health,
        etag: body.validators.etag,
        last_modified: body.validators.last_modified,
        title: parsed.title,
        encoding: Some(parsed.encoding.to_owned()),
        repairs: parsed.repairs.clone(),
        body_hash: Some(hash),
        next_due: due_after_success(body.cache.max_age, parsed.ttl),
        next_due_without_hints: Some(due_after_success(None, None)),
    };
    let max_age = config.alerts.max_age.as_secs() as i64;
    let late_matcher = late_matcher(rules, feed, &feed_name, &incoming);
    let outcome = store
        .ingest(IngestJob {
            feed_id,
            meta,
            incoming,
            now,
            max_age,
            late_matcher,
        })
        .await?;
    if checking_not_modified && outcome.new_stories + outcome.updated_stories > 0 {
        tracing::warn!(
            feed = %shown(&url),
            "the server answered 304 (not modified) while the feed had changed ({} new, {} \
             updated): it is fetched without validators from now on",
            outcome.new_stories,
            outcome.updated_stories
        );
        store.call(move |s| s.ignore_validators(feed_id)).await?;
    }
    if outcome.known_again > 0 {
        tracing::info!(
            feed = %shown(&url),
            "{} known again by title and date: the feed gave them new guids and addresses",
            crate::story::counted(outcome.known_again, "story", "stories")
        );
    }
    if let Some(gap) = outcome.possible_gap {
        // A warning the first time in a day; a feed that shows it on every fetch (one
        // that rotates old articles in, say) is counted by `feeds`, not shouted about.
        if state.last_possible_gap.is_none_or(|at| now - at >= 86400) {
            tracing::warn!(feed = %shown(&url), "{}", gap.describe(now));
        } else {
            tracing::info!(feed = %shown(&url), "{}", gap.describe(now));
        }
    }
    Ok(FeedReport::new(
        &url,
        &feed_name,
        FeedOutcome::Ingested {
            outcome,
            stories,
            read_in_part,
            repairs: parsed.repairs,
        },
        moved.or_else(|| known_move.map(str::to_owned)),
    ))
}

/// Records where a permanent redirect pointed, warning the first time; returns it.
async fn record_moved(
    store: &StoreHandle,
    url: &str,
    feed_id: i64,
    body: &crate::fetch::Body,
) -> Result<Option<String>, StoreError> {
    let Some(moved) = &body.moved_to else {
        return Ok(None);
    };
    let to = moved.to_string();
    let first_time = store
        .call({
            let to = to.clone();
            move |s| s.record_moved(feed_id, &to)
        })
        .await?;
    if first_time {
        tracing::warn!(
            feed = %shown(url),
            moved_to = %shown(moved.as_str()),
            "feed moved permanently; fetched at its new address from now on (update its url in the config to match)"
        );
    }
    Ok(Some(to))
}
