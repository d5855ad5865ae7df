//! Health notices — what the `health_channels` are told — of feeds and of the alert
//! channels themselves.
//!
//! A feed's health changes with each fetch ([`health_transition`], in the fetch's
//! transaction): failing for longer than `stale_after`, working again, and answering
//! without a new story for longer than its `quiet_after` ([`quiet_since`]).
//!
//! A channel is *failing* from its first failed delivery until it delivers again. Once
//! it has failed for longer than `failing_after`, the health channels (other than
//! itself) are told, once; and once more when it delivers again. The delivery records
//! write the channel's state in the transaction that records the attempt
//! ([`delivered`], [`failed`]); a delivery round turns the state into notices
//! ([`Store::channel_health`]), so a channel that fails and is then left alone — every
//! alert dead, or the next retry hours away — is still told of in time.

use rusqlite::{Connection, params};

use super::{Result, Store};
use crate::story::hex;

/// Where health notices go, and after how long a failing feed or channel is told of.
#[derive(Debug, Clone, Default)]
pub struct Health {
    /// Seconds a feed fails before it is stale.
    pub stale_after: i64,
    /// Seconds a feed answers without a new story before it is quiet (`[fetch]
    /// quiet_after`, or the feed's own); 0 never.
    pub quiet_after: i64,
    /// Seconds a channel's deliveries fail before the health channels are told.
    pub failing_after: i64,
    pub channels: Vec<String>,
}

/// What a notice is about.
#[derive(Debug, Clone, Copy)]
pub(super) enum About<'a> {
    Feed(i64),
    Channel(&'a str),
}

/// Queues one notice per health channel — except, for a notice about a channel, that
/// channel itself.
pub(super) fn queue_notice(
    conn: &Connection,
    about: About<'_>,
    now: i64,
    health: &Health,
    kind: &str,
    message: &str,
) -> Result<()> {
    for channel in &health.channels {
        let (feed_id, about_channel, subject) = match about {
            About::Feed(id) => (Some(id), None, id.to_string()),
            About::Channel(c) if c == channel => continue,
            About::Channel(c) => (None, Some(c), format!("channel:{c}")),
        };
        // Derived from the database's own value too, as alert ids are
        // (`ingest::alert_id`): another database's notice of the same second is another.
        let notice_id = {
            use sha2::{Digest, Sha256};
            let salt = super::salt(conn)?;
            let mut h = Sha256::new();
            h.update(format!("{salt}\0{subject}\0{kind}\0{now}\0{channel}"));
            hex(&h.finalize()[..16])
        };
        conn.execute(
            "INSERT INTO notices (notice_id, channel, feed_id, about_channel, kind, message, next_attempt, created)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
            params![notice_id, channel, feed_id, about_channel, kind, message, now],
        )?;
    }
    Ok(())
}

/// Records that `channel` delivered: it is no longer failing. When the health channels
/// were told it was, the next round tells them it recovered.
pub(super) fn delivered(conn: &Connection, channel: &str, now: i64) -> Result<()> {
    conn.prepare_cached("DELETE FROM channel_health WHERE channel = ?1 AND notified = 0")?
        .execute([channel])?;
    conn.prepare_cached(
        "UPDATE channel_health SET recovered = ?2 WHERE channel = ?1 AND recovered IS NULL",
    )?
    .execute(params![channel, now])?;
    Ok(())
}

/// Records that a delivery through `channel` failed: failing since now, unless it was
/// already.
pub(super) fn failed(conn: &Connection, channel: &str, now: i64, error: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO channel_health (channel, failing_since, last_error) VALUES (?1, ?2, ?3)
         ON CONFLICT (channel) DO UPDATE SET last_error = excluded.last_error, recovered = NULL",
    )?
    .execute(params![channel, now, error])?;
    Ok(())
}

/// A change in a channel's health that a delivery round found, and told the health
/// channels of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelChange {
    /// The channel has failed since `since` (Unix seconds), for longer than
    /// `failing_after`; `message` is what the notices say.
    Failing {
        channel: String,
        since: i64,
        message: String,
    },
    /// The channel delivered again after the health channels were told it was failing.
    Recovered { channel: String, message: String },
}

impl Store {
    /// The channels whose last delivery failed, by name.
    pub fn failing_channels(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT channel FROM channel_health WHERE recovered IS NULL ORDER BY channel",
        )?;
        let names = stmt.query_map([], |r| r.get(0))?;
        Ok(names.collect::<rusqlite::Result<_>>()?)
    }

    /// Turns the channels' health into notices: for each of `configured` that has failed
    /// for longer than `health.failing_after` without the health channels being told,
    /// a `channel_failing` notice; for each that was told of and has delivered since, a
    /// `channel_recovered` one. Returns the changes, for the log.
    pub fn channel_health(
        &mut self,
        now: i64,
        health: &Health,
        configured: &[&str],
    ) -> Result<Vec<ChannelChange>> {
        // Asked every few seconds by the daemon; nearly always there is nothing to do,
        // and the write lock is not taken for nothing.
        let due: bool = self
            .conn()
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM channel_health
                                WHERE (notified = 1 AND recovered IS NOT NULL)
                                   OR (notified = 0 AND failing_since <= ?1))",
            )?
            .query_row([now - health.failing_after], |r| r.get(0))?;
        if !due {
            return Ok(Vec::new());
        }
        let tx = self.write_transaction()?;
        let rows: Vec<(String, i64, String, bool, Option<i64>)> = {
            let mut stmt = tx.prepare(
                "SELECT channel, failing_since, last_error, notified, recovered FROM channel_health",
            )?;
            stmt.query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<rusqlite::Result<_>>()?
        };
        let mut changes = Vec::new();
        for (channel, since, error, notified, recovered) in rows {
            if !configured.contains(&channel.as_str()) {
                continue;
            }
            let at = crate::commands::rfc3339(since);
            if notified && recovered.is_some() {
                let message =
                    format!("channel `{channel}` is delivering again (failing since {at})");
                queue_notice(
                    &tx,
                    About::Channel(&channel),
                    now,
                    health,
                    "channel_recovered",
                    &message,
                )?;
                tx.execute("DELETE FROM channel_health WHERE channel = ?1", [&channel])?;
                changes.push(ChannelChange::Recovered { channel, message });
            } else if !notified && now - since >= health.failing_after {
                let (waiting, dead): (i64, i64) = tx.query_row(
                    "SELECT COALESCE(SUM(state IN ('pending', 'failed')), 0), COALESCE(SUM(state = 'dead'), 0)
                     FROM outbox WHERE channel = ?1 AND state IN ('pending', 'failed', 'dead')",
                    [&channel],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                let message = format!(
                    "deliveries through channel `{channel}` have been failing since {at}: {error}; \
                     alerts waiting for a retry: {waiting}, dead: {dead} (`newshound hits` shows \
                     them; `newshound requeue --channel {channel}` sends the dead again)"
                );
                queue_notice(
                    &tx,
                    About::Channel(&channel),
                    now,
                    health,
                    "channel_failing",
                    &message,
                )?;
                tx.execute(
                    "UPDATE channel_health SET notified = 1 WHERE channel = ?1",
                    [&channel],
                )?;
                changes.push(ChannelChange::Failing {
                    channel,
                    since,
                    message,
                });
            }
        }
        tx.commit()?;
        Ok(changes)
    }
}

/// Queues the notices a feed's change of health owes: `stale` once when it has failed
/// for longer than `stale_after`, `recovered` once when it succeeds again after that;
/// after a success, `quiet` once when it has answered without a new story for longer
/// than `quiet_after` ([`quiet_since`]), and again only after a new story. `error` is
/// the failure, or `None` after a success. Runs inside the caller's transaction, so the
/// notice and the feed's state change together.
pub(super) fn health_transition(
    conn: &Connection,
    feed_id: i64,
    now: i64,
    health: &Health,
    error: Option<&str>,
) -> Result<()> {
    let (url, failing_since, notified, newest_story, first_success, quiet_notified): (
        String,
        Option<i64>,
        i64,
        Option<i64>,
        Option<i64>,
        bool,
    ) = conn
        .prepare_cached(
            "SELECT url, failing_since, stale_notified, newest_story, first_success, quiet_notified
             FROM feeds WHERE id = ?1",
        )?
        .query_row([feed_id], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?;
    let url = crate::fetch::shown(&url);
    if error.is_none() {
        let quiet = quiet_since(newest_story, first_success, health.quiet_after, now);
        if quiet.is_some() != quiet_notified {
            conn.prepare_cached("UPDATE feeds SET quiet_notified = ?2 WHERE id = ?1")?
                .execute(params![feed_id, quiet.is_some()])?;
        }
        match quiet {
            Some(since) if !quiet_notified => {
                let message =
                    quiet_message(&url, since, newest_story.is_some(), health.quiet_after);
                tracing::warn!(feed = %url, "{message}");
                queue_notice(conn, About::Feed(feed_id), now, health, "quiet", &message)?;
            }
            // (With `quiet_after` now "0s", the feed is only no longer watched.)
            None if quiet_notified && health.quiet_after > 0 => {
                tracing::info!(feed = %url, "the feed brings new stories again");
            }
            _ => {}
        }
    }
    let (kind, message) = match (error, failing_since, notified) {
        (Some(error), Some(since), 0) if now - since >= health.stale_after => (
            "stale",
            format!(
                "{url} has been failing since {}: {error}",
                crate::commands::rfc3339(since)
            ),
        ),
        (None, _, 1) => ("recovered", format!("{url} is working again")),
        _ => return Ok(()),
    };
    conn.execute(
        "UPDATE feeds SET stale_notified = ?2 WHERE id = ?1",
        params![feed_id, i64::from(kind == "stale")],
    )?;
    queue_notice(conn, About::Feed(feed_id), now, health, kind, &message)
}

/// Since when a feed that answers has brought nothing new, if for `quiet_after` seconds
/// or longer (0: never quiet): since its newest story, or — one that never listed a
/// story — since it first answered.
pub fn quiet_since(
    newest_story: Option<i64>,
    first_success: Option<i64>,
    quiet_after: i64,
    now: i64,
) -> Option<i64> {
    let since = newest_story.or(first_success)?;
    (quiet_after > 0 && now - since >= quiet_after).then_some(since)
}

/// What the health channels are told of a quiet feed.
fn quiet_message(url: &str, since: i64, had_stories: bool, quiet_after: i64) -> String {
    let since = crate::commands::rfc3339(since);
    let what = if had_stories {
        format!("its newest story is from {since}")
    } else {
        format!("it has listed no story since it first answered, at {since}")
    };
    format!(
        "{url} answers but has brought no new story for longer than {} (quiet_after): {what}; \
         the site may have moved its feed (`newshound feeds` shows its state)",
        crate::config::shown_duration(std::time::Duration::from_secs(quiet_after as u64))
    )
}
