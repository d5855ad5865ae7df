//! Digest channels: one message per window listing the hits that waited for it.

use sha2::{Digest as _, Sha256};

use super::render::{DigestView, Rendered};
use super::retry::Attempt;
use super::{Deliverer, DeliveryReport, Rows, email};
use crate::config::{Digest, Email};
use crate::store::{StoreError, Table};
use crate::story::hex;

/// The most stories one digest message lists: a digest that waited through a long
/// outage, or a broad rule, is sent as several messages instead of one that a mail server
/// might refuse for its size (and so fail for good).
pub const DIGEST_MAX_STORIES: usize = 200;

impl Deliverer {
    /// Sends a digest channel's waiting alerts once they are due — its window has passed
    /// since the oldest of them, or a daily digest's time of day has come since it was
    /// queued — as messages of at most [`DIGEST_MAX_STORIES`] stories. After a failed
    /// attempt, not before the retry schedule says: a mail server that is down must not
    /// cost the digest an attempt every delivery round (and its alerts their lives within
    /// a minute).
    pub(super) async fn send_digest(
        &self,
        channel: &str,
        email: &Email,
        window: Digest,
        now: i64,
        last: i64,
    ) -> Result<DeliveryReport, StoreError> {
        let name = channel.to_owned();
        let waiting = self.store.call(move |s| s.digest_waiting(&name)).await?;
        let Some((oldest, retry_at)) = waiting else {
            return Ok(DeliveryReport::default());
        };
        let due = match window {
            Digest::Every(d) => oldest + d.as_secs() as i64 <= now,
            Digest::Daily { at, utc: true } => oldest <= latest_daily(&chrono::Utc, at, now),
            Digest::Daily { at, utc: false } => oldest <= latest_daily(&chrono::Local, at, now),
        };
        if !due || retry_at.is_some_and(|at| at > now) {
            return Ok(DeliveryReport::default());
        }
        // One message's alerts are read at a time, of those queued up to the outbox row
        // `last` when the round began.
        let mut report = DeliveryReport::default();
        let mut after = 0;
        loop {
            let name = channel.to_owned();
            let part = self
                .store
                .call(move |s| s.undelivered_alerts(&name, after + 1..=last, DIGEST_MAX_STORIES))
                .await?;
            let Some(final_alert) = part.last() else {
                break;
            };
            after = final_alert.outbox_id;
            let sent = self.send_digest_message(channel, email, &part).await?;
            let failed = sent.delivered == 0;
            report += sent;
            if failed {
                break; // the rest waits for the retry with it
            }
        }
        Ok(report)
    }

    /// Sends one digest message listing `alerts`, and records the outcome for them all.
    async fn send_digest_message(
        &self,
        channel: &str,
        email: &Email,
        alerts: &[crate::store::DueAlert],
    ) -> Result<DeliveryReport, StoreError> {
        let ids: Vec<i64> = alerts.iter().map(|a| a.outbox_id).collect();
        let attempts = alerts.iter().map(|a| a.attempts).max().unwrap_or(0);
        let digest_id = {
            let mut h = Sha256::new();
            for a in alerts {
                h.update(a.alert_id.as_bytes());
            }
            hex(&h.finalize()[..16])
        };
        let rules: Vec<String> = {
            let mut r: Vec<String> = alerts
                .iter()
                .flat_map(|a| a.rules.iter().cloned())
                .collect();
            r.sort();
            r.dedup();
            r
        };
        let attempt = match email::Mailer::new(email) {
            Ok(mailer) => {
                let built = self
                    .templates
                    .digest(&DigestView::new(channel, alerts))
                    .and_then(|rendered: Rendered| {
                        email::message(
                            &email::Envelope {
                                email,
                                channel,
                                id: &digest_id,
                                rules: &rules,
                            },
                            &rendered,
                        )
                    });
                match built {
                    Ok(message) => mailer.send_one(message).await,
                    Err(error) => Attempt::Permanent(format!("building the digest: {error:#}")),
                }
            }
            Err(error) => Attempt::Transient {
                error: format!("{error:#}"),
                retry_after: None,
            },
        };
        let rows = Rows {
            table: Table::Outbox,
            ids: &ids,
            attempts,
            channel,
            id: &digest_id,
        };
        self.record(rows, attempt).await
    }
}

/// The latest time at or before `now` (Unix seconds) when a daily digest sent at `at`,
/// the local time of `zone`, was due. A time the clocks skip that day (a spring-forward
/// gap) is taken an hour later; one they repeat, at its first occurrence.
fn latest_daily<Tz: chrono::TimeZone>(zone: &Tz, at: chrono::NaiveTime, now: i64) -> i64 {
    use chrono::LocalResult;
    let today = chrono::DateTime::from_timestamp(now, 0)
        .unwrap_or_default()
        .with_timezone(zone)
        .date_naive();
    let on = |date: chrono::NaiveDate| {
        let local = date.and_time(at);
        match zone.from_local_datetime(&local) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t.timestamp()),
            LocalResult::None => zone
                .from_local_datetime(&(local + chrono::Duration::hours(1)))
                .earliest()
                .map(|t| t.timestamp()),
        }
    };
    today
        .iter_days()
        .rev()
        .take(3)
        .filter_map(on)
        .find(|&t| t <= now)
        .unwrap_or(i64::MIN)
}

#[cfg(test)]
mod tests {
    use chrono::{FixedOffset, NaiveTime, TimeZone, Utc};

    use super::latest_daily;

    fn at(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn a_daily_digest_is_due_at_its_time_of_day() {
        let utc = |d: u32, h: u32, m: u32| {
            Utc.with_ymd_and_hms(2026, 11, d, h, m, 0)
                .unwrap()
                .timestamp()
        };
        // Before 08:00: yesterday's 08:00; from 08:00 on: today's.
        assert_eq!(latest_daily(&Utc, at(8, 0), utc(27, 7, 59)), utc(26, 8, 0));
        assert_eq!(latest_daily(&Utc, at(8, 0), utc(27, 8, 0)), utc(27, 8, 0));
        assert_eq!(latest_daily(&Utc, at(8, 0), utc(27, 23, 0)), utc(27, 8, 0));
        // In a zone three hours ahead, 08:00 there is 05:00 UTC.
        let moscow = FixedOffset::east_opt(3 * 3600).unwrap();
        assert_eq!(
            latest_daily(&moscow, at(8, 0), utc(27, 5, 30)),
            utc(27, 5, 0)
        );
        assert_eq!(
            latest_daily(&moscow, at(8, 0), utc(27, 4, 30)),
            utc(26, 5, 0)
        );
    }
}
