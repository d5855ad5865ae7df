//! The alert outbox and feed-health notices: what is owed to which channel, and the
//! state of each delivery.
//!
//! Rows move pending → sent | failed (retry at) | dead. A row is marked sent only after
//! the channel accepted it, so a crash can at worst send the in-flight row again — with
//! the same id, fixed when the row was written.

use std::ops::RangeInclusive;

use rusqlite::params;

use super::health;
use super::hits::{STORY_COLUMNS, StoredStory, stored_story};
use super::{Result, Store};
use crate::rules::Span;

/// Which table a deliverable row lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Outbox,
    Notices,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Outbox => "outbox",
            Table::Notices => "notices",
        }
    }

    /// The column of the stable id messages carry.
    fn id_column(self) -> &'static str {
        match self {
            Table::Outbox => "alert_id",
            Table::Notices => "notice_id",
        }
    }
}

/// Which alerts `requeue` puts back in the queue.
#[derive(Debug, Clone, Copy, Default)]
pub struct Requeue<'a> {
    /// Only this channel's.
    pub channel: Option<&'a str>,
    /// Only the alert (or notice) with this id.
    pub id: Option<&'a str>,
    /// Also those waiting for a retry, not only the dead: a server fixed now need not
    /// wait hours for the next attempt.
    pub waiting: bool,
}

/// An alert due for delivery, with what a message needs.
#[derive(Debug, Clone)]
pub struct DueAlert {
    pub outbox_id: i64,
    /// Stable across attempts: the Message-ID and webhook-id derive from it.
    pub alert_id: String,
    pub channel: String,
    pub rules: Vec<String>,
    pub attempts: i64,
    pub created: i64,
    /// When it may be tried (again).
    pub next_attempt: i64,
    /// When the first of its hits was detected.
    pub detected_at: i64,
    pub story: StoredStory,
    /// The spans of every rule of the alert, for snippets and highlighting.
    pub spans: Vec<Span>,
}

/// A feed-health notice due for delivery.
#[derive(Debug, Clone)]
pub struct DueNotice {
    pub id: i64,
    pub notice_id: String,
    pub channel: String,
    pub about: NoticeAbout,
    /// `stale`, `recovered`, `possible_gap`, `gone` or `quiet` (about a feed);
    /// `channel_failing` or
    /// `channel_recovered` (about a channel).
    pub kind: String,
    pub message: String,
    pub attempts: i64,
    pub created: i64,
}

/// What a notice is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeAbout {
    /// A feed: its name (or title, or URL) and URL, passwords hidden.
    Feed { name: String, url: String },
    /// An alert channel, by name.
    Channel(String),
}

/// One alert's delivery state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertState {
    pub alert_id: String,
    pub channel: String,
    pub state: String,
    pub attempts: i64,
    pub next_attempt: i64,
    pub last_error: Option<String>,
}

/// Alerts still owed to a channel, for the summary of what is pending and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub channel: String,
    pub count: i64,
    pub next_attempt: i64,
    pub last_error: Option<String>,
}

/// A channel's alerts due at `?1` (`?2`: the channel) among the rows `?3` to `?4`, in
/// the order they were queued: read through the index of the alerts owed
/// (`outbox_owed`), without sorting them.
pub(crate) const OWED_AMONG: &str = "o.state IN ('pending', 'failed') AND o.next_attempt <= ?1
     AND o.channel = ?2 AND o.id BETWEEN ?3 AND ?4 ORDER BY o.id";

/// Up to `?5` of the alerts [`OWED_AMONG`] names, with their stories.
pub(crate) fn due_alerts_sql() -> String {
    format!(
        "SELECT o.id, o.alert_id, o.channel, o.rules, o.attempts, o.created, o.next_attempt, {STORY_COLUMNS}
         FROM outbox o JOIN stories s ON s.id = o.story_id JOIN feeds f ON f.id = s.feed_id
         WHERE {OWED_AMONG} LIMIT ?5"
    )
}

/// Undelivered alerts per state.
pub(crate) const OUTBOX_COUNTS: &str = "SELECT state, COUNT(*) FROM outbox WHERE state IN ('pending', 'failed', 'dead') GROUP BY state";

impl Store {
    /// Up to `limit` of a channel's alerts that are due — `pending`, or `failed` with the
    /// retry time reached — among the outbox's `rows`, in the order they were queued. A
    /// round reads a channel's alerts a chunk at a time, each chunk from the row after the
    /// last one's final row to the last row queued when the round began, so that a
    /// backlog is never held in memory whole, no row is taken twice, and a round ends.
    pub fn due_alerts(
        &self,
        channel: &str,
        now: i64,
        rows: RangeInclusive<i64>,
        limit: usize,
    ) -> Result<Vec<DueAlert>> {
        let mut stmt = self.conn().prepare_cached(&due_alerts_sql())?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let (first, last) = rows.into_inner();
        let rows = stmt.query_map(params![now, channel, first, last, limit], |r| {
            let rules: String = r.get(3)?;
            Ok(DueAlert {
                outbox_id: r.get(0)?,
                alert_id: r.get(1)?,
                channel: r.get(2)?,
                rules: serde_json::from_str(&rules).unwrap_or_default(),
                attempts: r.get(4)?,
                created: r.get(5)?,
                next_attempt: r.get(6)?,
                detected_at: 0,
                story: stored_story(r, 7)?,
                spans: Vec::new(),
            })
        })?;
        let mut alerts: Vec<DueAlert> = rows.collect::<rusqlite::Result<_>>()?;
        let mut hits = self.conn().prepare_cached(
            "SELECT rule, spans, detected_at FROM hits WHERE story_id = ?1 ORDER BY id",
        )?;
        for alert in &mut alerts {
            let found = hits.query_map([alert.story.id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })?;
            for row in found {
                let (rule, spans, detected) = row?;
                if alert.rules.contains(&rule) {
                    let spans: Vec<Span> = serde_json::from_str(&spans).unwrap_or_default();
                    alert.spans.extend(spans);
                    if alert.detected_at == 0 || detected < alert.detected_at {
                        alert.detected_at = detected;
                    }
                }
            }
            alert.spans.sort_unstable();
            alert.spans.dedup();
        }
        Ok(alerts)
    }

    /// The row ids and attempts so far of a channel's alerts due among the outbox's
    /// `rows`: what recording one failure for all of them needs, without their stories.
    pub fn due_alert_attempts(
        &self,
        channel: &str,
        now: i64,
        rows: RangeInclusive<i64>,
    ) -> Result<Vec<(i64, i64)>> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT o.id, o.attempts FROM outbox o WHERE {OWED_AMONG}"
        ))?;
        let (first, last) = rows.into_inner();
        let rows = stmt.query_map(params![now, channel, first, last], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Up to `limit` of a channel's undelivered alerts among the outbox's `rows`, due or
    /// not (a digest collects them).
    pub fn undelivered_alerts(
        &self,
        channel: &str,
        rows: RangeInclusive<i64>,
        limit: usize,
    ) -> Result<Vec<DueAlert>> {
        self.due_alerts(channel, i64::MAX, rows, limit)
    }

    /// The last row of the outbox (0 when it is empty): a delivery round sends what was
    /// queued up to it, and leaves later alerts to the next round.
    pub fn last_alert_row(&self) -> Result<i64> {
        Ok(self
            .conn()
            .query_row("SELECT COALESCE(MAX(id), 0) FROM outbox", [], |r| r.get(0))?)
    }

    /// What a digest channel's undelivered alerts are waiting for: when the oldest was
    /// queued, and the latest retry time of those tried before (a digest that failed
    /// waits for its retry) — `None` when nothing waits.
    pub fn digest_waiting(&self, channel: &str) -> Result<Option<(i64, Option<i64>)>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT MIN(created), MAX(CASE WHEN attempts > 0 THEN next_attempt END) FROM outbox
             WHERE state IN ('pending', 'failed') AND channel = ?1",
        )?;
        let (oldest, retry): (Option<i64>, Option<i64>) =
            stmt.query_row([channel], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(oldest.map(|oldest| (oldest, retry)))
    }

    /// Notices of these channels that are due.
    pub fn due_notices(&self, channels: &[&str], now: i64) -> Result<Vec<DueNotice>> {
        let mut stmt = self.conn().prepare(
            "SELECT n.id, n.notice_id, n.channel, COALESCE(f.name, f.title, f.url), f.url, n.about_channel,
                    n.kind, n.message, n.attempts, n.created
             FROM notices n LEFT JOIN feeds f ON f.id = n.feed_id
             WHERE n.state IN ('pending', 'failed') AND n.next_attempt <= ?1 ORDER BY n.id",
        )?;
        let rows = stmt.query_map([now], |r| {
            Ok(DueNotice {
                id: r.get(0)?,
                notice_id: r.get(1)?,
                channel: r.get(2)?,
                about: match r.get::<_, Option<String>>(5)? {
                    Some(channel) => NoticeAbout::Channel(channel),
                    None => NoticeAbout::Feed {
                        name: crate::fetch::shown(&r.get::<_, String>(3)?).into_owned(),
                        url: crate::fetch::shown(&r.get::<_, String>(4)?).into_owned(),
                    },
                },
                kind: r.get(6)?,
                message: r.get(7)?,
                attempts: r.get(8)?,
                created: r.get(9)?,
            })
        })?;
        let mut due = Vec::new();
        for row in rows {
            let row = row?;
            if channels.contains(&row.channel.as_str()) {
                due.push(row);
            }
        }
        Ok(due)
    }

    /// Marks rows of `channel` delivered (and the channel as delivering).
    pub fn mark_sent(&mut self, table: Table, channel: &str, ids: &[i64], now: i64) -> Result<()> {
        let tx = self.conn.transaction()?;
        health::delivered(&tx, channel, now)?;
        {
            let mut stmt = tx.prepare_cached(&format!(
                "UPDATE {} SET state = 'sent', sent_at = ?2, attempts = attempts + 1, last_error = NULL WHERE id = ?1",
                table.name()
            ))?;
            for id in ids {
                stmt.execute(params![id, now])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Records a failed attempt: `failed` with a retry time, or `dead` when `next_attempt`
    /// is `None` (a permanent error, or the retry schedule is spent).
    /// `now` is when the attempt failed: the channel is failing since then, unless it
    /// was already.
    pub fn mark_failed(
        &mut self,
        table: Table,
        channel: &str,
        ids: &[i64],
        error: &str,
        now: i64,
        next_attempt: Option<i64>,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        health::failed(&tx, channel, now, error)?;
        {
            let mut stmt = tx.prepare_cached(&format!(
                "UPDATE {} SET state = ?2, attempts = attempts + 1, last_error = ?3,
                     next_attempt = COALESCE(?4, next_attempt)
                 WHERE id = ?1",
                table.name()
            ))?;
            let state = if next_attempt.is_some() {
                "failed"
            } else {
                "dead"
            };
            for id in ids {
                stmt.execute(params![id, state, error, next_attempt])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Puts alerts back in the queue, due now with a fresh retry schedule: the dead ones
    /// (and, with `which.waiting`, those waiting for a retry) of a channel, or the one
    /// with an id. Returns how many.
    pub fn requeue(&mut self, which: Requeue<'_>, now: i64) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let mut count = 0;
        for table in [Table::Outbox, Table::Notices] {
            count += tx.execute(
                &format!(
                    "UPDATE {} SET state = 'pending', attempts = 0, next_attempt = ?1
                     WHERE (state = 'dead' OR (?4 AND state = 'failed'))
                       AND (?2 IS NULL OR channel = ?2) AND (?3 IS NULL OR {} = ?3)",
                    table.name(),
                    table.id_column()
                ),
                params![now, which.channel, which.id, which.waiting],
            )?;
        }
        tx.commit()?;
        Ok(count)
    }

    /// Moves the undelivered alerts (pending, waiting for a retry, or dead) of a channel,
    /// or the one with an id, to the channel `to`, due now with a fresh retry schedule
    /// and a new id (a message through another channel is another message): after a
    /// channel was renamed or taken out of the config, or to send through another what
    /// one cannot. An alert `to` has queued already — the same story and rules — stays
    /// where it is. Returns (moved, left in place).
    pub fn move_alerts(
        &mut self,
        which: Requeue<'_>,
        to: &str,
        now: i64,
    ) -> Result<(usize, usize)> {
        let salt = self.salt.clone();
        let tx = self.write_transaction()?;
        let rows: Vec<(i64, i64, String)> = {
            let mut stmt = tx.prepare(
                "SELECT id, story_id, rules FROM outbox
                 WHERE state IN ('pending', 'failed', 'dead') AND channel != ?3
                   AND (?1 IS NULL OR channel = ?1) AND (?2 IS NULL OR alert_id = ?2)
                 ORDER BY id",
            )?;
            stmt.query_map(params![which.channel, which.id, to], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<rusqlite::Result<_>>()?
        };
        let (mut moved, mut kept) = (0, 0);
        for (id, story_id, rules) in rows {
            let names: Vec<String> = serde_json::from_str(&rules).unwrap_or_default();
            let alert_id = super::ingest::alert_id(&salt, story_id, to, &names);
            let changed = tx.execute(
                "UPDATE outbox SET channel = ?2, alert_id = ?3, state = 'pending', attempts = 0,
                     next_attempt = ?4, last_error = NULL
                 WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM outbox WHERE alert_id = ?3)",
                params![id, to, alert_id, now],
            )?;
            if changed == 0 {
                kept += 1;
            } else {
                moved += 1;
            }
        }
        tx.commit()?;
        Ok((moved, kept))
    }

    /// How many alerts wait per state: (pending, failed, dead). Read through the index
    /// on state, so sent alerts — nearly every row, after months — are not visited (the
    /// daemon asks on every watchdog tick).
    pub fn outbox_counts(&self) -> Result<(i64, i64, i64)> {
        let mut stmt = self.conn().prepare_cached(OUTBOX_COUNTS)?;
        let mut counts = (0, 0, 0);
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
            match row? {
                (state, n) if state == "pending" => counts.0 = n,
                (state, n) if state == "failed" => counts.1 = n,
                (_, n) => counts.2 = n,
            }
        }
        Ok(counts)
    }

    /// Undelivered alerts and notices per channel, with the soonest retry and the latest
    /// error.
    pub fn waiting(&self) -> Result<Vec<Waiting>> {
        let mut stmt = self.conn().prepare(
            "SELECT channel, COUNT(*), MIN(next_attempt),
                    (SELECT last_error FROM outbox i WHERE i.channel = o.channel AND i.last_error IS NOT NULL
                     ORDER BY i.id DESC LIMIT 1)
             FROM outbox o WHERE state IN ('pending', 'failed') GROUP BY channel ORDER BY channel",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Waiting {
                channel: r.get(0)?,
                count: r.get(1)?,
                next_attempt: r.get(2)?,
                last_error: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The soonest retry time of any undelivered row of these channels.
    pub fn next_attempt(&self, channels: &[&str]) -> Result<Option<i64>> {
        let mut soonest: Option<i64> = None;
        for table in [Table::Outbox, Table::Notices] {
            let mut stmt = self.conn().prepare_cached(&format!(
                "SELECT channel, MIN(next_attempt) FROM {} WHERE state IN ('pending', 'failed') GROUP BY channel",
                table.name()
            ))?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            for row in rows {
                let (channel, at) = row?;
                if channels.contains(&channel.as_str()) {
                    soonest = Some(soonest.map_or(at, |s| s.min(at)));
                }
            }
        }
        Ok(soonest)
    }

    /// Every alert's delivery state, oldest first (for tests and tools).
    pub fn alert_states(&self) -> Result<Vec<AlertState>> {
        let mut stmt = self.conn().prepare(
            "SELECT alert_id, channel, state, attempts, next_attempt, last_error FROM outbox ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(AlertState {
                alert_id: r.get(0)?,
                channel: r.get(1)?,
                state: r.get(2)?,
                attempts: r.get(3)?,
                next_attempt: r.get(4)?,
                last_error: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
