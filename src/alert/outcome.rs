//! Recording what delivery attempts came to: `sent`, `failed` with the next attempt, or
//! `dead` — one row, or many alerts of a channel at once with one log line. An outcome
//! the database cannot take is held and written before anything more is sent.

use std::collections::BTreeMap;
use std::time::Duration;

use super::retry::{self, Attempt};
use super::{Deliverer, DeliveryReport};
use crate::store::{DueAlert, StoreError, Table};

/// An attempt's outcome as the database records it.
#[derive(Debug, Clone)]
pub(super) enum Outcome {
    Sent {
        at: i64,
    },
    Failed {
        error: String,
        at: i64,
        next: Option<i64>,
    },
}

/// An outcome not yet written, and the rows it is for.
#[derive(Debug)]
pub(super) struct Unwritten {
    table: Table,
    channel: String,
    ids: Vec<i64>,
    outcome: Outcome,
}

/// Outcomes a worker holds because the database could not take them, handed to the
/// worker that replaces it (after a reload), so that they are still written before
/// anything more is sent.
#[derive(Debug, Default)]
pub struct Unrecorded(Vec<Unwritten>);

impl Unrecorded {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The rows an attempt was for, and how to name them in the log.
pub(super) struct Rows<'a> {
    pub(super) table: Table,
    pub(super) ids: &'a [i64],
    /// Attempts made before this one.
    pub(super) attempts: i64,
    pub(super) channel: &'a str,
    /// The alert's, digest's or notice's stable id.
    pub(super) id: &'a str,
}

impl<'a> Rows<'a> {
    pub(super) fn alert(alert: &'a DueAlert) -> Self {
        Rows {
            table: Table::Outbox,
            ids: std::slice::from_ref(&alert.outbox_id),
            attempts: alert.attempts,
            channel: &alert.channel,
            id: &alert.alert_id,
        }
    }
}

impl Deliverer {
    /// Records one failure for many alerts of a channel, with one log line for all:
    /// those a round did not try because the channel was unavailable (a receiver that is
    /// down then costs a round one wait, not one per alert), or could not send at all (a
    /// secret that cannot be read, say). Each counts an attempt and retries on its own
    /// schedule. `alerts`: each one's row id and attempts so far.
    pub(super) async fn fail_together(
        &self,
        channel: &str,
        alerts: &[(i64, i64)],
        error: String,
        retry_after: Option<Duration>,
    ) -> Result<DeliveryReport, StoreError> {
        // Alerts with as many attempts behind them retry together.
        let mut by_attempts: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
        for &(id, attempts) in alerts {
            by_attempts.entry(attempts).or_default().push(id);
        }
        let mut report = DeliveryReport::default();
        for (attempts, ids) in &by_attempts {
            let rows = Rows {
                table: Table::Outbox,
                ids,
                attempts: *attempts,
                channel,
                id: "",
            };
            let attempt = Attempt::Transient {
                error: error.clone(),
                retry_after,
            };
            report += self.settle(rows, attempt, false).await?;
        }
        if report.retrying > 0 {
            tracing::warn!(
                channel = %channel,
                alerts = report.retrying,
                error = %error,
                "alerts not sent; they will retry"
            );
        }
        if report.dead > 0 {
            tracing::error!(
                channel = %channel,
                alerts = report.dead,
                error = %error,
                "alerts not sent, and their retries are spent; marked dead"
            );
        }
        Ok(report)
    }

    /// Records an attempt's outcome, logging a failure with what it was for.
    pub(super) async fn record(
        &self,
        rows: Rows<'_>,
        attempt: Attempt,
    ) -> Result<DeliveryReport, StoreError> {
        self.settle(rows, attempt, true).await
    }

    /// Records an attempt's outcome; `log`: whether to log a failure (the caller says
    /// it otherwise, once for many).
    pub(super) async fn settle(
        &self,
        rows: Rows<'_>,
        attempt: Attempt,
        log: bool,
    ) -> Result<DeliveryReport, StoreError> {
        let now = self.clock.now();
        let count = rows.ids.len();
        let (outcome, report) = match attempt {
            Attempt::Delivered => (
                Outcome::Sent { at: now },
                DeliveryReport {
                    delivered: count,
                    ..Default::default()
                },
            ),
            Attempt::Transient { error, retry_after }
            | Attempt::Unavailable { error, retry_after }
            | Attempt::Throttled { error, retry_after } => {
                retried(&rows, error, retry_after, now, log)
            }
            Attempt::Unanswered(error) => retried(&rows, error, None, now, log),
            Attempt::Permanent(error) => {
                if log {
                    tracing::error!(
                        channel = %rows.channel,
                        id = %rows.id,
                        error = %error,
                        "delivery failed permanently; marked dead"
                    );
                }
                (
                    Outcome::Failed {
                        error,
                        at: now,
                        next: None,
                    },
                    DeliveryReport {
                        dead: count,
                        ..Default::default()
                    },
                )
            }
        };
        let unwritten = Unwritten {
            table: rows.table,
            channel: rows.channel.to_owned(),
            ids: rows.ids.to_vec(),
            outcome,
        };
        if let Err(error) = self.write(&unwritten).await {
            self.unwritten.lock().expect("not poisoned").push(unwritten);
            return Err(error);
        }
        Ok(report)
    }

    pub(super) async fn write(&self, unwritten: &Unwritten) -> Result<(), StoreError> {
        let (table, channel, ids, outcome) = (
            unwritten.table,
            unwritten.channel.clone(),
            unwritten.ids.clone(),
            unwritten.outcome.clone(),
        );
        self.store
            .call(move |s| match outcome {
                Outcome::Sent { at } => s.mark_sent(table, &channel, &ids, at),
                Outcome::Failed { error, at, next } => {
                    s.mark_failed(table, &channel, &ids, &error, at, next)
                }
            })
            .await
    }

    /// Gives up the outcomes not yet written, for the worker that replaces this one.
    pub fn into_unrecorded(self) -> Unrecorded {
        Unrecorded(self.unwritten.into_inner().expect("not poisoned"))
    }

    /// Takes over a replaced worker's unwritten outcomes: they are written before this
    /// worker sends anything.
    pub fn adopt(&self, unrecorded: Unrecorded) {
        self.unwritten
            .lock()
            .expect("not poisoned")
            .extend(unrecorded.0);
    }

    /// Writes the outcomes the database could not take earlier. Until they are written,
    /// nothing more is sent: their rows still read as due, and would go out again.
    pub(super) async fn write_unwritten(&self) -> Result<(), StoreError> {
        let waiting = std::mem::take(&mut *self.unwritten.lock().expect("not poisoned"));
        let mut waiting = waiting.into_iter();
        while let Some(unwritten) = waiting.next() {
            if let Err(error) = self.write(&unwritten).await {
                let mut kept = self.unwritten.lock().expect("not poisoned");
                kept.push(unwritten);
                kept.extend(waiting);
                return Err(error);
            }
        }
        Ok(())
    }
}

/// The outcome of a failure that is retried: when next, or dead once the schedule is
/// spent (logged unless `log` is false).
fn retried(
    rows: &Rows<'_>,
    error: String,
    retry_after: Option<Duration>,
    now: i64,
    log: bool,
) -> (Outcome, DeliveryReport) {
    let (channel, id, count) = (rows.channel, rows.id, rows.ids.len());
    let failures = (rows.attempts + 1).clamp(0, i64::from(u32::MAX)) as u32;
    let jitter = fastrand::f64() * 2.0 - 1.0;
    let next = retry::next_delay(failures, retry_after, jitter).map(|d| now + d.as_secs() as i64);
    match next {
        _ if !log => {}
        Some(at) => tracing::warn!(
            channel = %channel,
            id = %id,
            attempt = failures,
            error = %error,
            retry_at = %crate::commands::rfc3339(at),
            "delivery failed; will retry"
        ),
        None => tracing::error!(
            channel = %channel,
            id = %id,
            attempt = failures,
            error = %error,
            "delivery failed and the retries are spent; marked dead"
        ),
    }
    let report = if next.is_some() {
        DeliveryReport {
            retrying: count,
            ..Default::default()
        }
    } else {
        DeliveryReport {
            dead: count,
            ..Default::default()
        }
    };
    (
        Outcome::Failed {
            error,
            at: now,
            next,
        },
        report,
    )
}
