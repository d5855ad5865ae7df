//! Per-feed state: validators for conditional GET, the outcome of the last fetch, when
//! the feed is next due, and how it has been failing.

use std::collections::{BTreeMap, HashMap};

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::health::{About, Health, health_transition, queue_notice, quiet_since};
use super::{Result, Store};

/// What the database knows that the configuration's warnings need
/// ([`crate::config::Config::warnings`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stored {
    /// Each feed's own title, as last fetched, by URL.
    pub titles: HashMap<String, String>,
    /// How many alerts wait (pending, or to be retried), by channel.
    pub waiting: BTreeMap<String, i64>,
    /// Where feeds moved permanently (301/308), by URL.
    pub moved: HashMap<String, String>,
}

/// Reads [`Stored`] on any connection (`newshound check` opens one read-only).
pub(super) fn read_stored(conn: &Connection) -> rusqlite::Result<Stored> {
    let mut stmt = conn.prepare("SELECT url, title FROM feeds WHERE title IS NOT NULL")?;
    let titles = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut stmt = conn.prepare(
        "SELECT channel, COUNT(*) FROM outbox WHERE state IN ('pending', 'failed') GROUP BY channel",
    )?;
    let waiting = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Stored {
        titles,
        waiting,
        moved: read_moved(conn)?,
    })
}

/// Where feeds moved permanently, by URL.
fn read_moved(conn: &Connection) -> rusqlite::Result<HashMap<String, String>> {
    let mut stmt = conn.prepare("SELECT url, moved_to FROM feeds WHERE moved_to IS NOT NULL")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// The outcome of a feed's last fetch, as `newshound feeds` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedStatus {
    /// Never fetched yet.
    New,
    Ok,
    NotModified,
    Error,
    /// The server said 410 Gone; the feed is no longer polled.
    Gone,
}

impl FeedStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedStatus::New => "new",
            FeedStatus::Ok => "ok",
            FeedStatus::NotModified => "not_modified",
            FeedStatus::Error => "error",
            FeedStatus::Gone => "gone",
        }
    }

    fn parse(s: &str) -> FeedStatus {
        match s {
            "ok" => FeedStatus::Ok,
            "not_modified" => FeedStatus::NotModified,
            "error" => FeedStatus::Error,
            "gone" => FeedStatus::Gone,
            _ => FeedStatus::New,
        }
    }
}

/// A feed failing since the last successful fetch of any feed
/// ([`Store::failing_since_any_success`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailingFeed {
    pub url: String,
    /// Where a permanent redirect pointed: it is fetched there.
    pub moved_to: Option<String>,
    pub failing_since: i64,
    /// Whether its last fetch never reached the server ([`Failure::Unreachable`]).
    pub unreachable: bool,
}

/// What a failed fetch met, as far as the feed's record cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// 410 Gone: the feed is no longer polled.
    Gone,
    /// The server was never reached (DNS, connection, timeout): what every feed meets
    /// while this host's own network is down.
    Unreachable,
    /// Anything else: the server answered, badly.
    Other,
}

/// One feed's stored state.
#[derive(Debug, Clone, Serialize)]
pub struct FeedRow {
    #[serde(skip)]
    pub id: i64,
    pub url: String,
    /// The configured name, else the feed's own title, else the URL.
    pub name: String,
    pub status: FeedStatus,
    pub stories: i64,
    pub last_fetch: Option<i64>,
    pub next_due: i64,
    pub consecutive_errors: i64,
    pub last_error: Option<String>,
    #[serde(skip)]
    pub etag: Option<String>,
    #[serde(skip)]
    pub last_modified: Option<String>,
    pub failing_since: Option<i64>,
    pub encoding: Option<String>,
    /// Lenient repairs the last successful parse needed.
    pub repairs: Vec<String>,
    /// Where a permanent redirect pointed.
    pub moved_to: Option<String>,
    /// The hash of the last body ingested (see `ingest::body_hash`).
    #[serde(skip)]
    pub body_hash: Option<String>,
    /// Fetches that found every entry new (see [`super::PossibleGap`]).
    pub possible_gaps: i64,
    pub last_possible_gap: Option<i64>,
    /// When its newest story appeared: the latest date its entries gave, or when it last
    /// brought a story new to the database. A feed that answers but has nothing new for
    /// weeks may have moved on unannounced.
    pub newest_story: Option<i64>,
    /// When the feed first answered (a 200 or a 304).
    pub first_success: Option<i64>,
    /// When the feed last sent a whole body (a 200), not a 304.
    #[serde(skip)]
    pub body_at: Option<i64>,
    /// Its validators are not sent any more: its server answered 304 while the feed
    /// had changed.
    pub validators_ignored: bool,
}

impl FeedRow {
    /// Since when the feed has answered without a new story, if for `quiet_after` seconds
    /// or longer (counted as the health notices count it); a feed failing, gone or never
    /// fetched is not quiet.
    pub fn quiet_since(&self, quiet_after: i64, now: i64) -> Option<i64> {
        matches!(self.status, FeedStatus::Ok | FeedStatus::NotModified)
            .then(|| quiet_since(self.newest_story, self.first_success, quiet_after, now))
            .flatten()
    }
}

/// A feed's columns, with `stories` (an expression over `f`) in fifth place.
macro_rules! feed_columns {
    ($stories:literal) => {
        concat!(
            "f.id, f.url, COALESCE(f.name, f.title, f.url), f.status, ",
            $stories,
            ", f.last_fetch, f.next_due, f.consecutive_errors, f.last_error, f.etag,
             f.last_modified, f.failing_since, f.encoding, f.repairs, f.moved_to, f.body_hash,
             f.possible_gaps, f.last_possible_gap, f.newest_story, f.body_at,
             f.validators_ignored, f.first_success"
        )
    };
}

fn feed_row(r: &Row<'_>) -> rusqlite::Result<FeedRow> {
    let status: String = r.get(3)?;
    let repairs: Option<String> = r.get(13)?;
    Ok(FeedRow {
        id: r.get(0)?,
        url: r.get(1)?,
        name: crate::fetch::shown(&r.get::<_, String>(2)?).into_owned(),
        status: FeedStatus::parse(&status),
        stories: r.get(4)?,
        last_fetch: r.get(5)?,
        next_due: r.get(6)?,
        consecutive_errors: r.get(7)?,
        last_error: r.get(8)?,
        etag: r.get(9)?,
        last_modified: r.get(10)?,
        failing_since: r.get(11)?,
        encoding: r.get(12)?,
        repairs: repairs
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default(),
        moved_to: r.get(14)?,
        body_hash: r.get(15)?,
        possible_gaps: r.get(16)?,
        last_possible_gap: r.get(17)?,
        newest_story: r.get(18)?,
        body_at: r.get(19)?,
        validators_ignored: r.get(20)?,
        first_success: r.get(21)?,
    })
}

/// Whether a feed moved to this address (`?1`): asked of each URL new to the database
/// when the config is synced, through the index of the addresses feeds moved to.
pub(crate) const MOVED_HERE: &str = "SELECT EXISTS (SELECT 1 FROM feeds WHERE moved_to = ?1)";

impl Store {
    /// Makes sure every configured feed has a row, with its configured name. Feeds
    /// removed from the config keep their rows (and stories) but are not listed.
    ///
    /// A configured URL that is new, but where a feed no longer configured moved
    /// permanently, takes over that feed's row: the operator updated the config as the
    /// move asked, and the feed keeps its history, validators and schedule (stories
    /// known only by their guid are not new again).
    pub fn sync_feeds<'a>(
        &mut self,
        feeds: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
    ) -> Result<()> {
        let feeds: Vec<(&str, Option<&str>)> = feeds.into_iter().collect();
        let configured = serde_json::to_string(&feeds.iter().map(|(u, _)| u).collect::<Vec<_>>())
            .expect("strings serialize");
        let tx = self.write_transaction()?;
        {
            let mut known = tx.prepare("SELECT EXISTS (SELECT 1 FROM feeds WHERE url = ?1)")?;
            let mut moved_here = tx.prepare(MOVED_HERE)?;
            let mut adopt = tx.prepare(
                "UPDATE feeds SET url = ?1, moved_to = NULL
                 WHERE id = (SELECT id FROM feeds
                             WHERE moved_to = ?1
                               AND url NOT IN (SELECT value FROM json_each(?2))
                             ORDER BY last_fetch DESC LIMIT 1)",
            )?;
            let mut upsert = tx.prepare(
                "INSERT INTO feeds (url, name) VALUES (?1, ?2)
                 ON CONFLICT (url) DO UPDATE SET name = excluded.name",
            )?;
            for (url, name) in feeds {
                // (Only a URL new to the database can take over a row: most are known.
                // And few feeds moved: the configured list is bound only for a URL that
                // one moved to.)
                let new = !known.query_row([url], |r| r.get::<_, bool>(0))?;
                if new
                    && moved_here.query_row([url], |r| r.get::<_, bool>(0))?
                    && adopt.execute(params![url, configured])? > 0
                {
                    tracing::info!(feed = %crate::fetch::shown(url), "the config now names the address this feed moved to; it keeps its history");
                }
                upsert.execute(params![url, name])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The state of the feeds with these URLs, in that order (unknown URLs skipped).
    pub fn feeds(&self, urls: &[&str]) -> Result<Vec<FeedRow>> {
        let mut stmt = self.conn.prepare(concat!(
            "SELECT ",
            feed_columns!("(SELECT COUNT(*) FROM stories s WHERE s.feed_id = f.id)"),
            " FROM feeds f WHERE f.url = ?1"
        ))?;
        let mut rows = Vec::new();
        for url in urls {
            if let Some(row) = stmt.query_row([url], feed_row).optional()? {
                rows.push(row);
            }
        }
        Ok(rows)
    }

    /// Of the feeds with these URLs, how many failed at their last fetch, and how many
    /// answer but were told of as quiet (no new story for their `quiet_after`) and have
    /// brought none since.
    pub fn unhealthy_feeds(&self, urls: &[String]) -> Result<(i64, i64)> {
        let urls = serde_json::to_string(urls).expect("strings serialise");
        Ok(self
            .conn
            .prepare_cached(
                "SELECT COALESCE(SUM(status = 'error'), 0),
                        COALESCE(SUM(quiet_notified = 1 AND status IN ('ok', 'not_modified')), 0)
                 FROM feeds WHERE url IN (SELECT value FROM json_each(?1))",
            )?
            .query_row([urls], |r| Ok((r.get(0)?, r.get(1)?)))?)
    }

    /// What the configuration's warnings need to know.
    pub fn stored(&self) -> Result<Stored> {
        Ok(read_stored(&self.conn)?)
    }

    /// Forgets where a feed moved: it is fetched at its configured address again.
    pub fn clear_moved(&mut self, feed_id: i64) -> Result<()> {
        self.conn
            .execute("UPDATE feeds SET moved_to = NULL WHERE id = ?1", [feed_id])?;
        Ok(())
    }

    /// Where feeds moved permanently, by URL.
    pub fn moved_feeds(&self) -> Result<HashMap<String, String>> {
        Ok(read_moved(&self.conn)?)
    }

    /// The state of one feed as a fetch needs it: like [`Store::feeds`], but `stories` is
    /// 1 when the feed has any stored and 0 when it has none, not their number. Counting
    /// takes time in proportion to a feed's history (retention keeps identities for
    /// months), and every fetch, a 304 included, reads this row.
    pub fn feed_for_fetch(&self, url: &str) -> Result<Option<FeedRow>> {
        Ok(self
            .conn
            .prepare_cached(concat!(
                "SELECT ",
                feed_columns!("EXISTS (SELECT 1 FROM stories s WHERE s.feed_id = f.id)"),
                " FROM feeds f WHERE f.url = ?1"
            ))?
            .query_row([url], feed_row)
            .optional()?)
    }

    /// Records a fetch that brought nothing new: a 304 (the validators still hold,
    /// `validators` is `None`), or a body byte for byte the one last ingested, whose
    /// response's ETag and Last-Modified replace the stored ones.
    pub fn record_not_modified(
        &mut self,
        feed_id: i64,
        now: i64,
        next_due: i64,
        health: &Health,
        validators: Option<(Option<&str>, Option<&str>)>,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE feeds SET status = 'not_modified', last_fetch = ?2, last_success = ?2, next_due = ?3,
                 consecutive_errors = 0, failing_since = NULL, last_error = NULL,
                 first_success = COALESCE(first_success, ?2)
             WHERE id = ?1",
            params![feed_id, now, next_due],
        )?;
        if let Some((etag, last_modified)) = validators {
            tx.execute(
                "UPDATE feeds SET etag = ?2, last_modified = ?3, body_at = ?4 WHERE id = ?1",
                params![feed_id, etag, last_modified, now],
            )?;
        }
        health_transition(&tx, feed_id, now, health, None)?;
        tx.commit()?;
        Ok(())
    }

    /// Stops sending a feed's validators: its server answered 304 while the feed had
    /// changed, so a conditional GET would miss its stories.
    pub fn ignore_validators(&mut self, feed_id: i64) -> Result<()> {
        self.conn.execute(
            "UPDATE feeds SET validators_ignored = 1, etag = NULL, last_modified = NULL WHERE id = ?1",
            [feed_id],
        )?;
        Ok(())
    }

    /// Records a failed fetch or parse. `gone` marks a 410, which stops polling. A feed
    /// failing for longer than `health.stale_after` queues one notice per health channel.
    pub fn record_failure(
        &mut self,
        feed_id: i64,
        now: i64,
        error: &str,
        next_due: i64,
        failure: Failure,
        health: &Health,
    ) -> Result<()> {
        let gone = failure == Failure::Gone;
        let tx = self.write_transaction()?;
        let was_gone: bool = tx
            .prepare_cached("SELECT status = 'gone' FROM feeds WHERE id = ?1")?
            .query_row([feed_id], |r| r.get(0))?;
        tx.execute(
            "UPDATE feeds SET status = ?2, last_error = ?3, last_fetch = ?4, next_due = ?5,
                 consecutive_errors = consecutive_errors + 1,
                 failing_since = COALESCE(failing_since, ?4), unreachable = ?6
             WHERE id = ?1",
            params![
                feed_id,
                if gone { "gone" } else { "error" },
                error,
                now,
                next_due,
                failure == Failure::Unreachable
            ],
        )?;
        if gone && !was_gone {
            // Polling stops here, so the feed never fails long enough to be stale: the
            // health channels hear of it now.
            let url: String =
                tx.query_row("SELECT url FROM feeds WHERE id = ?1", [feed_id], |r| {
                    r.get(0)
                })?;
            let url = crate::fetch::shown(&url);
            let message = format!(
                "{url} answered 410 Gone: the server says the feed was removed, and newshound \
                 no longer fetches it; replace or remove it in the config \
                 (`newshound once --feed {url}` tries it again)"
            );
            queue_notice(&tx, About::Feed(feed_id), now, health, "gone", &message)?;
        } else {
            health_transition(&tx, feed_id, now, health, Some(error))?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Makes the gone feeds (410) among these URLs due at `now`, to be tried again
    /// (`once --feed`); returns how many were gone. One that answers is polled again.
    pub fn revive_feeds(&mut self, urls: &[&str], now: i64) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let mut revived = 0;
        for url in urls {
            revived += tx.execute(
                "UPDATE feeds SET status = 'error', next_due = ?2 WHERE url = ?1 AND status = 'gone'",
                params![url, now],
            )?;
        }
        tx.commit()?;
        Ok(revived)
    }

    /// The feeds due at `now` (never the gone ones), soonest first: URL, and where it
    /// moved permanently to, if it did.
    pub fn due_feeds(&self, now: i64) -> Result<Vec<(String, Option<String>)>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT url, moved_to FROM feeds WHERE next_due <= ?1 AND status != 'gone' ORDER BY next_due",
        )?;
        let rows = stmt.query_map([now], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Spreads the feeds due before `before` over the time from `from`, each within its
    /// own bound `spread_of(url)` seconds, so that a start (or new feeds) does not fetch
    /// every feed at once.
    pub fn spread_due(
        &mut self,
        before: i64,
        from: i64,
        spread_of: impl Fn(&str) -> i64,
    ) -> Result<usize> {
        let overdue: Vec<String> = {
            let mut stmt = self
                .conn()
                .prepare("SELECT url FROM feeds WHERE next_due < ?1 AND status != 'gone'")?;
            let rows = stmt.query_map([before], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        self.due_within(&overdue, from, spread_of)
    }

    /// Brings forward the feeds that began failing at or after `since` and wait for a
    /// later retry: their failures were an outage of this host's network, now over, not
    /// theirs, and the backoff they earned would leave them unread for up to an hour. They are
    /// spread over the next seconds, a tenth of a second each (at most two minutes).
    /// Returns how many.
    pub fn resume_failed_since(&mut self, since: i64, now: i64) -> Result<usize> {
        let waiting: Vec<String> = {
            let mut stmt = self.conn().prepare(
                "SELECT url FROM feeds
                 WHERE status = 'error' AND failing_since >= ?1 AND next_due > ?2",
            )?;
            let rows = stmt.query_map([since, now], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let spread = (waiting.len() as i64 / 10).clamp(1, 120);
        self.due_within(&waiting, now, |_| spread)
    }

    /// The feeds that began failing after the last successful fetch of any feed: what a
    /// daemon starting in the middle of an outage of its network finds.
    pub fn failing_since_any_success(&self) -> Result<Vec<FailingFeed>> {
        let mut stmt = self.conn().prepare(
            "SELECT url, moved_to, failing_since, unreachable FROM feeds
             WHERE status = 'error' AND failing_since IS NOT NULL
               AND failing_since > COALESCE((SELECT MAX(last_success) FROM feeds), 0)",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(FailingFeed {
                    url: r.get(0)?,
                    moved_to: r.get(1)?,
                    failing_since: r.get(2)?,
                    unreachable: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Makes each of `urls` due at a random time within `spread_of(url)` seconds of
    /// `from`. Returns how many.
    fn due_within(
        &mut self,
        urls: &[String],
        from: i64,
        spread_of: impl Fn(&str) -> i64,
    ) -> Result<usize> {
        let tx = self.conn.transaction()?;
        for url in urls {
            let due = from + fastrand::i64(0..spread_of(url).max(1));
            tx.execute(
                "UPDATE feeds SET next_due = ?2 WHERE url = ?1",
                params![url, due],
            )?;
        }
        tx.commit()?;
        Ok(urls.len())
    }

    /// Records each feed's configured interval (seconds). A feed whose interval is now
    /// shorter than the one recorded is brought forward to one new interval after its
    /// last fetch (or to `now`, if that has passed): the wait the old interval planned no
    /// longer applies. Returns how many feeds were brought forward.
    pub fn apply_intervals<'a>(
        &mut self,
        now: i64,
        feeds: impl IntoIterator<Item = (&'a str, i64)>,
    ) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let mut brought = 0;
        {
            let mut forward = tx.prepare(
                "UPDATE feeds SET next_due = MAX(?2, COALESCE(last_fetch, 0) + ?3)
                 WHERE url = ?1 AND status != 'gone' AND interval > ?3
                   AND next_due > MAX(?2, COALESCE(last_fetch, 0) + ?3)",
            )?;
            let mut record =
                tx.prepare("UPDATE feeds SET interval = ?2 WHERE url = ?1 AND interval IS NOT ?2")?;
            for (url, interval) in feeds {
                brought += forward.execute(params![url, now, interval])?;
                record.execute(params![url, interval])?;
            }
        }
        tx.commit()?;
        Ok(brought)
    }

    /// Records where a permanent redirect pointed, so the operator can update the config.
    pub fn record_moved(&mut self, feed_id: i64, to: &str) -> Result<bool> {
        let changed = self.conn.execute(
            "UPDATE feeds SET moved_to = ?2 WHERE id = ?1 AND moved_to IS NOT ?2",
            params![feed_id, to],
        )?;
        Ok(changed > 0)
    }
}
