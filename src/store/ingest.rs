//! The ingest transaction: a fetched feed's stories, their hits and the alerts they
//! owe are written together or not at all.
//!
//! This is the invariant everything else leans on: a story is marked seen in the same
//! transaction that records its hits and queues their alerts, so a crash at any instant
//! either loses the whole fetch (and it is fetched again) or keeps all of it.

use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::feeds::health_transition;
use super::health::{About, Health, queue_notice};
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
/// carries the same Message-ID / webhook-id.
pub(super) fn alert_id(story_id: i64, channel: &str, rules: &[String]) -> String {
    let mut h = Sha256::new();
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
        let outcome = write_fetch(&tx, job)?;
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
    /// one feed's own writes fail, the group is rolled back and each feed is written on
    /// its own, so that feed's failure costs no other feed its write.
    pub fn ingest_group(&mut self, jobs: &[IngestJob]) -> Vec<Result<IngestOutcome>> {
        if let [job] = jobs {
            return vec![self.ingest(job)];
        }
        let tx = match WriteTx::begin(&self.conn) {
            Ok(tx) => tx,
            Err(error) => return jobs.iter().map(|_| Err(error.duplicate())).collect(),
        };
        let mut outcomes = Vec::with_capacity(jobs.len());
        for job in jobs {
            match write_fetch(&tx, job) {
                Ok(outcome) => outcomes.push(outcome),
                Err(error) => {
                    tracing::debug!(%error, feed_id = job.feed_id, "a write in a group failed; writing its feeds one by one");
                    drop(tx);
                    return jobs.iter().map(|j| self.ingest(j)).collect();
                }
            }
        }
        match tx.commit() {
            Ok(()) => {
                self.ingest_commits += 1;
                outcomes.into_iter().map(Ok).collect()
            }
            Err(error) => jobs.iter().map(|_| Err(error.duplicate())).collect(),
        }
    }
}

/// Records a story's hits, each rule once (a rule that hit the story before is skipped),
/// and — when the story is `fresh` (recent enough to alert) — one alert per channel
/// naming every newly hit rule routed to it. Returns how many hits and alerts were new.
pub(super) fn record_hits(
    tx: &rusqlite::Connection,
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
            alert_id(story_id, channel, &rules),
            story_id,
            channel,
            serde_json::to_string(&rules).expect("rules serialise"),
            now
        ])?;
    }
    Ok((new_rules.len(), channels.len()))
}

/// The writes of one fetch, inside the caller's transaction.
fn write_fetch(tx: &WriteTx<'_>, job: &IngestJob) -> Result<IngestOutcome> {
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
    for item in incoming {
        let (story_id, changed) = upsert_story(tx, feed_id, known, item, now, &mut outcome)?;
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
        let (new_hits, alerts) = record_hits(tx, story_id, hits, fresh, now)?;
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

/// `SELECT` of the columns [`Existing`] is read from, in its fields' order, then `$rest`
/// (a literal, so that the statement is one constant: the lookups run once per story).
macro_rules! select_existing {
    ($rest:literal) => {
        concat!(
            "SELECT id, content_hash, pruned, feed_id, link, title, identity FROM stories ",
            $rest
        )
    };
}

/// Finds or inserts the story; returns its id and whether it is new or its text changed
/// (and so must be matched). `known` says whether the feed had stories stored before
/// this fetch; when it had none, the story can only be found after an insert fails.
fn upsert_story(
    tx: &WriteTx<'_>,
    feed_id: i64,
    known: bool,
    item: &Incoming,
    now: i64,
    outcome: &mut IngestOutcome,
) -> Result<(i64, bool)> {
    let (story, hash) = (&item.story, &item.content_hash);
    let row = |r: &rusqlite::Row<'_>| {
        Ok(Existing {
            id: r.get(0)?,
            hash: r.get(1)?,
            pruned: r.get(2)?,
            feed_id: r.get(3)?,
            link: r.get(4)?,
            title: r.get(5)?,
            identity: r.get(6)?,
        })
    };
    let by_identity = || {
        tx.prepare_cached(select_existing!("WHERE feed_id = ?1 AND identity = ?2"))?
            .query_row(params![feed_id, story.identity], row)
            .optional()
    };
    let mut existing: Option<Existing> = if known { by_identity()? } else { None };
    if existing.is_none() {
        // New to this feed. Most such stories are new to the database too, so the row
        // is inserted straight away; it gives way to the UNIQUE index on links when the
        // same article is stored already — carried by another feed, or by this one
        // under a new guid — and, in a first fetch, to the feed's own identities when
        // the document repeats an entry. The row that refused it is the story.
        if insert_story(tx, feed_id, story, hash, now, false)? {
            outcome.new_stories += 1;
            return Ok((tx.last_insert_rowid(), true));
        }
        if !known {
            existing = by_identity()?;
        }
    }
    let existing = match existing {
        Some(found) => found,
        // (A story without a link cannot conflict there, so this finds the row.)
        None => tx
            .prepare_cached(select_existing!("WHERE link = ?1 AND shared_link = 0"))?
            .query_row([&story.link], row)?,
    };
    let existing = if shares_link(story, &existing, feed_id) {
        // Found by its link, but another article of the same feed: a story of its own,
        // left out of the link's dedupe — unless one of the feed's others by that link
        // has its title (republished under a new guid).
        let same_title = tx
            .prepare_cached(select_existing!(
                "WHERE feed_id = ?1 AND link = ?2 AND title = ?3 LIMIT 1"
            ))?
            .query_row(params![feed_id, story.link, story.title], row)
            .optional()?;
        match same_title {
            Some(found) => found,
            None => {
                if insert_story(tx, feed_id, story, hash, now, true)? {
                    outcome.new_stories += 1;
                    return Ok((tx.last_insert_rowid(), true));
                }
                existing
            }
        }
    } else {
        existing
    };
    if let Some(old_link) = reused_guid(story, &existing, feed_id) {
        // The stored article is recognised by its link from now on, and the guid names
        // the new one: the next article under it is compared with the latest.
        let renamed = tx
            .prepare_cached("UPDATE OR IGNORE stories SET identity = ?2 WHERE id = ?1")?
            .execute(params![existing.id, format!("link:{old_link}")])?;
        if renamed == 1 {
            return upsert_story(tx, feed_id, known, item, now, outcome);
        }
        let item = Incoming {
            story: Story {
                identity: format!("link:{}", story.link.as_deref().unwrap_or_default()),
                ..story.clone()
            },
            content_hash: hash.clone(),
            hits: None,
        };
        return upsert_story(tx, feed_id, known, &item, now, outcome);
    }
    match (
        existing.id,
        existing.hash,
        existing.pruned,
        existing.feed_id,
    ) {
        // Retention dropped its text: it is old news, never new again. The feed still
        // lists it, so its row must stay (noted at most once a day).
        (id, _, 1, _) => {
            tx.prepare_cached(
                "UPDATE stories SET last_listed = ?2
                 WHERE id = ?1 AND COALESCE(last_listed, first_seen) < ?2 - 86400",
            )?
            .execute(params![id, now])?;
            Ok((id, false))
        }
        (id, old_hash, _, _) if old_hash == *hash => Ok((id, false)),
        // Carried by another feed: that feed's text stays; this feed's version is
        // matched too (a rule may be limited to this feed), and the hits' UNIQUE
        // constraint keeps any rule from alerting twice.
        (id, _, _, owner) if owner != feed_id => Ok((id, true)),
        (id, _, _, _) => {
            tx.prepare_cached(
                "UPDATE stories SET title = ?2, summary = ?3, content = ?4, authors = ?5, categories = ?6,
                     updated = ?7, content_hash = ?8, content_is_summary = ?9
                 WHERE id = ?1",
            )?
            .execute(
                params![
                    id,
                    story.title,
                    story.summary,
                    stored_content(story),
                    story.authors.join(", "),
                    story.categories.join(", "),
                    story.updated.map(|d| d.timestamp()),
                    hash,
                    content_is_summary(story)
                ],
            )?;
            outcome.updated_stories += 1;
            Ok((id, true))
        }
    }
}

/// A stored story an incoming one was found as.
struct Existing {
    id: i64,
    hash: String,
    pruned: i64,
    feed_id: i64,
    link: Option<String>,
    title: String,
    identity: String,
}

/// Whether `story`, found by its link, is another article of the same feed than the
/// stored story: each with a guid of its own, and another title. Some feeds link every
/// entry to their front page (or a section's); the same canonical link in two feeds is
/// one story, but within one feed a guid of its own makes a story of its own — taken for
/// an update of the first, every later article would have overwritten it and never
/// alerted a rule that matched before. An article republished under a new guid with the
/// same title is still the stored story.
fn shares_link(story: &Story, existing: &Existing, feed_id: i64) -> bool {
    another_article(story, existing, feed_id)
        && existing.identity.starts_with("guid:")
        && story.identity != existing.identity
}

/// What both [`shares_link`] and [`reused_guid`] ask first: whether `story`, with a guid,
/// could be another article than the stored story of the same feed — which retention
/// has not emptied, and whose title is another.
fn another_article(story: &Story, existing: &Existing, feed_id: i64) -> bool {
    story.identity.starts_with("guid:")
        && existing.feed_id == feed_id
        && existing.pruned == 0
        && existing.title != story.title
}

/// Whether `story` carries the guid of another article of its feed: found by its guid,
/// but with another link and another title than the stored story — a feed that gives
/// every entry the same guid, one entry at a time (a "latest bulletin" feed), so that the
/// guid never tells two articles apart. Taken for an update, the new article would never
/// alert a rule that matched the old one; so the articles are told apart by their links,
/// as entries sharing a guid within one document are ([`crate::story`]). An article
/// whose title and address both change is taken for a new one: an alert too many rather
/// than one missed. Returns the stored story's link.
fn reused_guid<'a>(story: &Story, existing: &'a Existing, feed_id: i64) -> Option<&'a str> {
    let link = story.link.as_deref()?;
    let old = existing.link.as_deref()?;
    (another_article(story, existing, feed_id) && old != link).then_some(old)
}

/// Inserts a story new to its feed; returns false, writing nothing, when a stored story
/// has the same canonical link (unless `shared_link`: another article of the feed that
/// shares its link, left out of the link's dedupe).
fn insert_story(
    tx: &WriteTx<'_>,
    feed_id: i64,
    story: &Story,
    hash: &str,
    now: i64,
    shared_link: bool,
) -> Result<bool> {
    let inserted = tx
        .prepare_cached(
            "INSERT INTO stories (feed_id, identity, link, title, summary, content, authors, categories,
                 published, updated, first_seen, content_hash, content_is_summary, shared_link)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![
            feed_id,
            story.identity,
            story.link,
            story.title,
            story.summary,
            stored_content(story),
            story.authors.join(", "),
            story.categories.join(", "),
            story.published.map(|d| d.timestamp()),
            story.updated.map(|d| d.timestamp()),
            now,
            hash,
            content_is_summary(story),
            shared_link
        ])?;
    Ok(inserted > 0)
}

/// Whether the story's content is its summary, word for word (and not empty): it is then
/// stored once, as the summary (migration 4).
fn content_is_summary(story: &Story) -> bool {
    !story.summary.is_empty() && story.content == story.summary
}

/// The content as stored: empty when it is the summary.
fn stored_content(story: &Story) -> &str {
    if content_is_summary(story) {
        ""
    } else {
        &story.content
    }
}
