//! The ingest transaction: a fetched feed's stories, their hits and the alerts they
//! owe are written together or not at all.
//!
//! This is the invariant everything else leans on: a story is marked seen in the same
//! transaction that records its hits and queues their alerts, so a crash at any instant
//! either loses the whole fetch (and it is fetched again) or keeps all of it.

use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::health::health_transition;
use super::health::{About, Health, queue_notice};
use super::stories::{FeedWrite, Sites, sites_elsewhere, upsert_story};
use super::{Result, Store, StoreError, WriteTx};
use crate::rules::Span;
use crate::story::{Story, hex};

/// A rule that matched an incoming story, and where its alerts go.
#[derive(Debug, Clone)]
pub struct IncomingHit {
    pub rule: String,
    pub channels: Vec<String>,
    pub spans: Vec<Span>,
}

/// A parsed story with the rules it matched.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub story: Story,
    /// [`Story::content_hash`], computed with the parse rather than on the store thread.
    pub content_hash: String,
    /// The rules the story matched; `None` when it was not matched because the store held
    /// it with the same text when asked ([`Store::unchanged_stories`]). Should the store
    /// find it new or changed after all, the job's [`LateMatcher`] matches it there.
    pub hits: Option<Vec<IncomingHit>>,
}

impl Incoming {
    /// A story matched against the rules.
    pub fn matched(story: Story, hits: Vec<IncomingHit>) -> Incoming {
        Incoming::with_hash(story.content_hash(), story, Some(hits))
    }

    /// A story whose hash is known, with its hits or `None` if it was not matched.
    pub fn with_hash(
        content_hash: String,
        story: Story,
        hits: Option<Vec<IncomingHit>>,
    ) -> Incoming {
        Incoming {
            story,
            content_hash,
            hits,
        }
    }
}

/// Matches a story on the store thread: for a story that arrived unmatched because the
/// store held it unchanged, but that the write finds new or changed after all — the
/// document repeats an entry with different texts (the first rewrites the row the
/// second was compared with), or another process wrote the feed in between. Rare, and it
/// keeps a stale answer from costing a hit.
#[derive(Clone)]
pub struct LateMatcher(std::sync::Arc<MatchFn>);

type MatchFn = dyn Fn(&Story) -> Vec<IncomingHit> + Send + Sync;

impl LateMatcher {
    pub fn new(f: impl Fn(&Story) -> Vec<IncomingHit> + Send + Sync + 'static) -> LateMatcher {
        LateMatcher(std::sync::Arc::new(f))
    }
}

impl std::fmt::Debug for LateMatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LateMatcher")
    }
}

/// Dates before this one (1995-01-01) are a feed's mistake, not a story's age: some
/// publishing systems write 1 January 1970 (time zero) for "no date". A story dated so
/// is alerted as if its feed gave no date, instead of being held back as old.
const EARLIEST_PLAUSIBLE_DATE: i64 = 788_918_400;

/// The latest plausible date a feed gives a story, published or updated: how recent the
/// story is. An article first published days ago and updated today — a live page, a
/// report rewritten as news comes in — is today's news.
fn latest_date(story: &Story) -> Option<i64> {
    latest_of(
        story.published.map(|d| d.timestamp()),
        story.updated.map(|d| d.timestamp()),
    )
}

/// The later of two dates (Unix seconds), each ignored when implausible.
pub(super) fn latest_of(published: Option<i64>, updated: Option<i64>) -> Option<i64> {
    [published, updated]
        .into_iter()
        .flatten()
        .filter(|&d| d >= EARLIEST_PLAUSIBLE_DATE)
        .max()
}

/// Whether a story whose latest date is `latest` is recent enough to alert.
pub(super) fn fresh(latest: Option<i64>, now: i64, max_age: i64) -> bool {
    latest.is_none_or(|d| d >= now - max_age)
}

/// How often at most a feed's possible gaps are told to the health channels (and of
/// all feeds', at most one a day).
const GAP_NOTICE_EVERY: i64 = 7 * 86400;

/// What a successful fetch says about the feed itself.
#[derive(Debug, Clone, Default)]
pub struct FetchMeta {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub title: Option<String>,
    pub encoding: Option<String>,
    pub repairs: Vec<String>,
    /// The hash of the body, recorded with its stories (see `ingest::body_hash`).
    pub body_hash: Option<String>,
    pub next_due: i64,
    /// When it is due if this fetch shows a possible gap: at its own interval, the
    /// feed's caching hints set aside (they may be what let stories slip by). `None`:
    /// at `next_due` all the same.
    pub next_due_without_hints: Option<i64>,
    /// Where a recovery notice goes if the feed had been reported stale.
    pub health: Health,
}

/// What an ingest changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestOutcome {
    pub new_stories: usize,
    pub updated_stories: usize,
    pub new_hits: usize,
    pub alerts_queued: usize,
    /// Stories the feed listed under new guids and addresses, known by their titles and
    /// dates.
    pub known_again: usize,
    /// Every entry was new to a feed that had stories before.
    pub possible_gap: Option<PossibleGap>,
}

/// Sums the counts of several ingests (a gap is one feed's: it is not summed).
impl std::ops::AddAssign for IngestOutcome {
    fn add_assign(&mut self, o: IngestOutcome) {
        self.new_stories += o.new_stories;
        self.updated_stories += o.updated_stories;
        self.new_hits += o.new_hits;
        self.alerts_queued += o.alerts_queued;
        self.known_again += o.known_again;
    }
}

/// A fetch that found every one of its entries new, from a feed that had stories stored:
/// nothing overlaps the fetch before, so the feed may have published more stories since
/// then than its document lists, and those were missed for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PossibleGap {
    /// The entries in the document, all new.
    pub entries: usize,
    /// The feed's last successful fetch before this one (unix seconds).
    pub last_success: Option<i64>,
}

impl PossibleGap {
    /// What the operator is told, as of `now`.
    pub fn describe(&self, now: i64) -> String {
        let since = match self.last_success {
            Some(at) => format!(
                "since the last successful fetch {} ago",
                rough_duration(now - at)
            ),
            None => "since the fetch before".to_owned(),
        };
        format!(
            "all {} entries are new {since}: stories published in between may have been missed \
             (if this recurs, give the feed a shorter interval)",
            self.entries
        )
    }
}

/// "45s", "12m", "5h", "3d": a duration to the unit that matters.
fn rough_duration(secs: i64) -> String {
    match secs.max(0) {
        s if s < 120 => format!("{s}s"),
        s if s < 2 * 3600 => format!("{}m", s / 60),
        s if s < 2 * 86400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

/// The stable id of one alert: the same on every attempt, so a resend after a crash
/// carries the same Message-ID / webhook-id; and never one an alert of another database
/// had, since it is derived from this database's own random value (`salt`, migration
/// 15) as well as from the story's row id, which a new database counts from 1 again.
pub(super) fn alert_id(salt: &str, story_id: i64, channel: &str, rules: &[String]) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update([0]);
    h.update(story_id.to_le_bytes());
    h.update(channel.as_bytes());
    for rule in rules {
        h.update([0]);
        h.update(rule.as_bytes());
    }
    hex(&h.finalize()[..16])
}

/// One successful fetch of a feed, ready to be written.
#[derive(Debug, Clone)]
pub struct IngestJob {
    pub feed_id: i64,
    pub meta: FetchMeta,
    pub incoming: Vec<Incoming>,
    pub now: i64,
    /// Stories published more than this many seconds before `now` are never alerted.
    pub max_age: i64,
    /// Matches the stories that arrived unmatched, should the write find them changed;
    /// required when any did.
    pub late_matcher: Option<LateMatcher>,
}

impl Store {
    /// Which of a feed's stories, given as (identity, content hash), the store holds with
    /// the same text — or holds only as an identity, its text pruned: old news, never new
    /// again. Either way a write would find them unchanged, so they need no matching.
    pub fn unchanged_stories(
        &self,
        feed_id: i64,
        stories: &[(String, String)],
    ) -> Result<Vec<bool>> {
        let mut lookup = self.conn.prepare_cached(
            "SELECT pruned = 1 OR content_hash = ?3 FROM stories WHERE feed_id = ?1 AND identity = ?2",
        )?;
        stories
            .iter()
            .map(|(identity, hash)| {
                Ok(lookup
                    .query_row(params![feed_id, identity, hash], |r| r.get(0))
                    .optional()?
                    .unwrap_or(false))
            })
            .collect()
    }

    /// Writes one successful fetch of a feed in one transaction: the feed's new state,
    /// new and updated stories, hits for rules that had not hit them before, and an
    /// outbox row per (story, channel) for those new hits — unless the story is older
    /// than `max_age` seconds by the latest date its feed gives it (`latest_date`), in
    /// which case hits are kept but nothing is alerted (a date before 1995 is taken for a
    /// feed's mistake: see `EARLIEST_PLAUSIBLE_DATE`).
    pub fn ingest(&mut self, job: &IngestJob) -> Result<IngestOutcome> {
        let tx = WriteTx::begin(&self.conn)?;
        let outcome = write_fetch(&tx, &self.salt, job)?;
        tx.commit()?;
        self.ingest_commits += 1;
        Ok(outcome)
    }

    /// Writes several fetches in one transaction (group commit): each feed's writes are
    /// still all-or-nothing, and a group costs one commit instead of one per feed —
    /// most of a write's cost when feeds arrive faster than they are written.
    ///
    /// The write lock is taken first, so a database held by another process fails the
    /// whole group at once (after the busy timeout), as it would fail each feed. Should
    /// one feed's own writes fail, or the commit (a disk that fills up fails the commit
    /// that writes a large feed's pages), the group is rolled back and each feed is
    /// written on its own, so that one feed's failure costs no other feed its write.
    pub fn ingest_group(&mut self, jobs: &[IngestJob]) -> Vec<Result<IngestOutcome>> {
        if let [job] = jobs {
            return vec![self.ingest(job)];
        }
        let tx = match WriteTx::begin(&self.conn) {
            Ok(tx) => tx,
            Err(error) => return jobs.iter().map(|_| Err(error.duplicate())).collect(),
        };
        let salt = &self.salt;
        let written = jobs
            .iter()
            .map(|job| write_fetch(&tx, salt, job))
            .collect::<Result<Vec<_>>>()
            .and_then(move |outcomes| tx.commit().map(|()| outcomes));
        match written {
            Ok(outcomes) => {
                self.ingest_commits += 1;
                outcomes.into_iter().map(Ok).collect()
            }
            // Rolled back (the transaction was dropped uncommitted).
            Err(error) => {
                tracing::debug!(%error, "a group's write failed; writing its feeds one by one");
                jobs.iter().map(|j| self.ingest(j)).collect()
            }
        }
    }
}

/// Records a story's hits, each rule once (a rule that hit the story before is skipped),
/// and — when the story is `fresh` (recent enough to alert) — one alert per channel
/// naming every newly hit rule routed to it. Returns how many hits and alerts were new.
pub(super) fn record_hits(
    tx: &rusqlite::Connection,
    salt: &str,
    story_id: i64,
    hits: &[IncomingHit],
    fresh: bool,
    now: i64,
) -> Result<(usize, usize)> {
    let mut new_rules: Vec<&IncomingHit> = Vec::new();
    for hit in hits {
        let spans = serde_json::to_string(&hit.spans).expect("spans serialise");
        let inserted = tx
            .prepare_cached(
                "INSERT INTO hits (story_id, rule, spans, detected_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (story_id, rule) DO NOTHING",
            )?
            .execute(params![story_id, hit.rule, spans, now])?;
        if inserted > 0 {
            new_rules.push(hit);
        }
    }
    if new_rules.is_empty() || !fresh {
        return Ok((new_rules.len(), 0));
    }
    let mut channels: Vec<&str> = new_rules
        .iter()
        .flat_map(|h| h.channels.iter().map(String::as_str))
        .collect();
    channels.sort_unstable();
    channels.dedup();
    for channel in &channels {
        let rules: Vec<String> = new_rules
            .iter()
            .filter(|h| h.channels.iter().any(|c| c == channel))
            .map(|h| h.rule.clone())
            .collect();
        tx.prepare_cached(
            "INSERT INTO outbox (alert_id, story_id, channel, rules, next_attempt, created)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        )?
        .execute(params![
            alert_id(salt, story_id, channel, &rules),
            story_id,
            channel,
            serde_json::to_string(&rules).expect("rules serialise"),
            now
        ])?;
    }
    Ok((new_rules.len(), channels.len()))
}

/// The writes of one fetch, inside the caller's transaction.
fn write_fetch(tx: &WriteTx<'_>, salt: &str, job: &IngestJob) -> Result<IngestOutcome> {
    let IngestJob {
        feed_id,
        ref meta,
        ref incoming,
        now,
        max_age,
        ref late_matcher,
    } = *job;
    let mut outcome = IngestOutcome::default();
    // A feed with nothing stored (its first fetch) has no stories to look up: each is
    // inserted straight away, and looked up only if a constraint refuses it.
    let known = !incoming.is_empty()
        && tx
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM stories WHERE feed_id = ?1)")?
            .query_row([feed_id], |r| r.get::<_, bool>(0))?;
    let read_before = !incoming.is_empty()
        && tx
            .prepare_cached("SELECT last_success IS NOT NULL FROM feeds WHERE id = ?1")?
            .query_row([feed_id], |r| r.get::<_, bool>(0))?;
    let sites_elsewhere = if read_before || incoming.is_empty() {
        Sites::default()
    } else {
        sites_elsewhere(tx, feed_id, incoming)?
    };
    let feed = FeedWrite {
        feed_id,
        known,
        read_before,
        sites_elsewhere: &sites_elsewhere,
        now,
    };
    for item in incoming {
        let (story_id, changed) = upsert_story(tx, feed, item, &mut outcome)?;
        if !changed {
            continue; // unchanged text: it was matched when it last changed
        }
        let late;
        let hits = match (&item.hits, late_matcher) {
            (Some(hits), _) => hits,
            (None, Some(LateMatcher(matcher))) => {
                tracing::debug!(feed_id, identity = %item.story.identity, "a story thought unchanged changed; matching it now");
                late = matcher(&item.story);
                &late
            }
            (None, None) => return Err(StoreError::Unmatched(item.story.identity.clone())),
        };
        let fresh = fresh(latest_date(&item.story), now, max_age);
        let (new_hits, alerts) = record_hits(tx, salt, story_id, hits, fresh, now)?;
        outcome.new_hits += new_hits;
        outcome.alerts_queued += alerts;
    }
    // Nothing overlaps what the feed had: the document may have moved on past stories
    // published since the last fetch (a window too short for the interval, or newshound
    // stopped for a while). One new entry in a feed that lists one is no sign of it.
    if known && incoming.len() >= 2 && outcome.new_stories == incoming.len() {
        let (url, last_success): (String, Option<i64>) = tx
            .prepare_cached("SELECT url, last_success FROM feeds WHERE id = ?1")?
            .query_row([feed_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let gap = PossibleGap {
            entries: incoming.len(),
            last_success,
        };
        // The health channels hear of it at most once a week per feed, and of one feed a
        // day: after an outage many feeds show it at once, and `newshound feeds` lists
        // them all.
        let told: bool = tx
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM notices WHERE kind = 'possible_gap'
                     AND (created > ?2 OR (feed_id = ?1 AND created > ?3)))",
            )?
            .query_row(params![feed_id, now - 86400, now - GAP_NOTICE_EVERY], |r| {
                r.get(0)
            })?;
        if !told {
            let message = format!(
                "{}: {}; `newshound feeds` counts every feed's possible gaps",
                crate::fetch::shown(&url),
                gap.describe(now)
            );
            queue_notice(
                tx,
                About::Feed(feed_id),
                now,
                &meta.health,
                "possible_gap",
                &message,
            )?;
        }
        outcome.possible_gap = Some(gap);
    }
    let gap = outcome.possible_gap.is_some();
    // The feed's newest story: the latest date its entries give (a date ahead of the
    // clock counts as now), or now when it brought a story new to the database.
    let newest = incoming
        .iter()
        .filter_map(|i| latest_date(&i.story))
        .map(|d| d.min(now))
        .chain((outcome.new_stories > 0).then_some(now))
        .max();
    tx.prepare_cached(
        "UPDATE feeds SET status = 'ok', etag = ?2, last_modified = ?3, title = COALESCE(?4, title),
             encoding = ?5, repairs = ?6, last_fetch = ?7, last_success = ?7, next_due = ?8,
             consecutive_errors = 0, failing_since = NULL, last_error = NULL, body_hash = ?9,
             body_at = ?7, first_success = COALESCE(first_success, ?7),
             possible_gaps = possible_gaps + ?10,
             last_possible_gap = CASE WHEN ?10 THEN ?7 ELSE last_possible_gap END,
             newest_story = CASE WHEN ?11 IS NULL THEN newest_story
                                 ELSE MAX(COALESCE(newest_story, ?11), ?11) END
         WHERE id = ?1",
    )?
    .execute(
        params![
            feed_id,
            meta.etag,
            meta.last_modified,
            meta.title,
            meta.encoding,
            (!meta.repairs.is_empty()).then(|| serde_json::to_string(&meta.repairs).expect("repairs serialise")),
            now,
            meta.next_due_without_hints.filter(|_| gap).unwrap_or(meta.next_due),
            meta.body_hash,
            gap,
            newest
        ],
    )?;
    health_transition(tx, feed_id, now, &meta.health, None)?;
    Ok(outcome)
}
