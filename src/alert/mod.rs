//! Alert delivery: the outbox worker, its channels (log, email, webhook), digests and
//! feed-health notices.
//!
//! The outbox rows written by the ingest transaction are the only source of work. A
//! round reads the rows that are due, sends them, and records each outcome: `sent` only
//! after the channel accepted the message, otherwise `failed` with the next attempt from
//! [`retry`], or `dead` when the error is permanent or the schedule is spent. Every
//! message carries the id fixed when its row was written, so a resend after a crash is
//! recognisably the same alert.

mod digest;
pub mod email;
mod notice;
mod outcome;
pub mod render;
pub mod retry;
mod sample;
pub mod webhook;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

pub use self::outcome::Unrecorded;
use self::outcome::{Rows, Unwritten};
use self::render::{AlertView, Templates};
use self::retry::Attempt;
use crate::config::{ChannelKind, Config, DEFAULT_LOG_CHANNEL, Email, Webhook};
use crate::lockfile::{self, LockFile};
use crate::store::{DueAlert, StoreError, StoreHandle};

/// Where "now" comes from, and how waiting is done: the system clock, or a manual
/// clock that tests set and that "sleeps" by moving itself forward — virtual time that
/// keeps real network timeouts real (tokio's paused clock would fire them early).
#[derive(Debug, Clone)]
pub enum Clock {
    System,
    Manual(Arc<AtomicI64>),
}

impl Clock {
    /// A manual clock starting at `unix` seconds.
    pub fn manual(unix: i64) -> Clock {
        Clock::Manual(Arc::new(AtomicI64::new(unix)))
    }

    /// Unix seconds.
    pub fn now(&self) -> i64 {
        match self {
            Clock::System => crate::store::unix_now(),
            Clock::Manual(now) => now.load(Ordering::SeqCst),
        }
    }

    /// Moves a manual clock forward; no effect on the system clock.
    pub fn advance(&self, by: Duration) {
        if let Clock::Manual(now) = self {
            now.fetch_add(by.as_secs() as i64, Ordering::SeqCst);
        }
    }

    /// Waits `duration`: really on the system clock, virtually on a manual one.
    pub async fn sleep(&self, duration: Duration) {
        match self {
            Clock::System => tokio::time::sleep(duration).await,
            Clock::Manual(_) => self.advance(duration),
        }
    }
}

/// What a delivery run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub delivered: usize,
    pub retrying: usize,
    pub dead: usize,
}

impl std::ops::AddAssign for DeliveryReport {
    fn add_assign(&mut self, o: DeliveryReport) {
        self.delivered += o.delivered;
        self.retrying += o.retrying;
        self.dead += o.dead;
    }
}

/// The delivery worker.
pub struct Deliverer {
    config: Arc<Config>,
    store: StoreHandle,
    /// Held through each round, so that two processes never send the same alert.
    lock: LockFile,
    /// Outcomes the database could not take (it was locked, or failing), written before
    /// anything more is sent. Without this, an alert delivered but not marked sent reads
    /// as due and goes out again every round for as long as the database fails.
    unwritten: std::sync::Mutex<Vec<Unwritten>>,
    http: reqwest::Client,
    templates: Templates,
    clock: Clock,
}

impl Deliverer {
    pub fn new(config: Arc<Config>, store: StoreHandle, clock: Clock) -> anyhow::Result<Deliverer> {
        let http = reqwest::Client::builder()
            .user_agent(&config.fetch.user_agent)
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let templates = Templates::new(config.alerts.templates.as_deref())?;
        Ok(Deliverer {
            lock: LockFile::beside(&config.storage.path, lockfile::DELIVERY),
            unwritten: std::sync::Mutex::default(),
            config,
            store,
            http,
            templates,
            clock,
        })
    }

    /// Every channel alerts may go to: the configured ones and the implicit log channel.
    fn channels(&self) -> Vec<(String, ChannelKind)> {
        let mut channels: Vec<(String, ChannelKind)> = self
            .config
            .channels
            .values()
            .map(|c| (c.name.clone(), c.kind.clone()))
            .collect();
        if !self.config.channels.contains_key(DEFAULT_LOG_CHANNEL) {
            channels.push((DEFAULT_LOG_CHANNEL.to_owned(), ChannelKind::Log));
        }
        channels
    }

    /// Channels whose alerts go one by one (not digests).
    fn immediate_channels(&self) -> Vec<String> {
        self.channels()
            .into_iter()
            .filter(|(_, kind)| {
                !matches!(
                    kind,
                    ChannelKind::Email(Email {
                        digest: Some(_),
                        ..
                    })
                )
            })
            .map(|(name, _)| name)
            .collect()
    }

    /// One round: sends every alert and notice that is due now — after any other
    /// process's round has ended ([`lockfile`]), and once the outcomes of earlier rounds
    /// that the database could not take are written.
    pub async fn deliver_due(&self) -> Result<DeliveryReport, StoreError> {
        let _round = self.lock.acquire().await;
        self.write_unwritten().await?;
        let now = self.clock.now();
        let immediate = self.immediate_channels();
        let due = self
            .store
            .call(move |s| {
                s.due_alerts(
                    &immediate.iter().map(String::as_str).collect::<Vec<_>>(),
                    now,
                )
            })
            .await?;
        let mut by_channel: BTreeMap<String, Vec<DueAlert>> = BTreeMap::new();
        for alert in due {
            by_channel
                .entry(alert.channel.clone())
                .or_default()
                .push(alert);
        }
        // The channels are sent to side by side: a slow receiver holds back its own
        // alerts, not another channel's.
        let sends = by_channel.into_iter().filter_map(|(channel, alerts)| {
            // Only the configured channels' alerts are read: those of a channel removed
            // from the config wait, untouched, until it returns or they are requeued.
            let kind = self.config.channel_kind(&channel).cloned()?;
            Some(async move { self.send_alerts(&channel, &kind, alerts).await })
        });
        let mut report = DeliveryReport::default();
        let mut failed = None;
        for sent in futures_util::future::join_all(sends).await {
            match sent {
                Ok(sent) => report += sent,
                // Every channel has had its turn; the first error is the round's.
                Err(error) => failed = failed.or(Some(error)),
            }
        }
        if let Some(error) = failed {
            return Err(error);
        }
        for (channel, kind) in self.channels() {
            if let ChannelKind::Email(
                email @ Email {
                    digest: Some(window),
                    ..
                },
            ) = &kind
            {
                report += self.send_digest(&channel, email, *window, now).await?;
            }
        }
        report += self.send_notices(now).await?;
        Ok(report)
    }

    /// Rounds until nothing more is due before `deadline` (Unix seconds), sleeping
    /// until the next retry. Digest windows are not waited for.
    pub async fn deliver_until(&self, deadline: i64) -> Result<DeliveryReport, StoreError> {
        let mut report = DeliveryReport::default();
        loop {
            let round = self.deliver_due().await?;
            report += round;
            let immediate = self.immediate_channels();
            let next = self
                .store
                .call(move |s| {
                    s.next_attempt(&immediate.iter().map(String::as_str).collect::<Vec<_>>())
                })
                .await?;
            let now = self.clock.now();
            match next {
                // A retry that fell due while the round ran is taken at once — unless
                // the round could not touch it (a notice for a channel no longer
                // configured), which would only spin.
                Some(at) if at <= now && round != DeliveryReport::default() => {}
                Some(at) if at <= now => return Ok(report),
                Some(at) if at <= deadline => {
                    self.clock
                        .sleep(Duration::from_secs((at - now) as u64))
                        .await;
                }
                _ => return Ok(report),
            }
        }
    }

    async fn send_alerts(
        &self,
        channel: &str,
        kind: &ChannelKind,
        alerts: Vec<DueAlert>,
    ) -> Result<DeliveryReport, StoreError> {
        let mut report = DeliveryReport::default();
        match kind {
            ChannelKind::Log => {
                for alert in alerts {
                    tracing::info!(
                        target: "newshound::alert",
                        channel = %channel,
                        rules = %alert.rules.join(", "),
                        feed = %alert.story.feed,
                        link = %alert.story.link.as_deref().unwrap_or(""),
                        id = %alert.alert_id,
                        "{}",
                        render::one_line(&alert.story.headline())
                    );
                    report += self.record(Rows::alert(&alert), Attempt::Delivered).await?;
                }
            }
            ChannelKind::Webhook(hook) => {
                let key = match webhook_key(hook) {
                    Ok(key) => key,
                    Err(error) => return self.fail_together(channel, alerts, error, None).await,
                };
                let mut breaker = retry::Breaker::default();
                let mut alerts = alerts.into_iter();
                while let Some(alert) = alerts.next() {
                    let view = AlertView::new(&alert);
                    let detected = crate::commands::rfc3339(alert.detected_at);
                    let summary: String = render::one_line(&alert.story.summary)
                        .chars()
                        .take(1000)
                        .collect();
                    let body =
                        webhook::payload(hook.format, &view, &alert.alert_id, &detected, &summary)
                            .to_string();
                    let attempt = webhook::post(
                        &self.http,
                        hook,
                        key.as_deref(),
                        &alert.alert_id,
                        self.clock.now(),
                        body.into_bytes(),
                    )
                    .await;
                    report += self
                        .record_in_round(channel, &mut breaker, &alert, attempt, &mut alerts)
                        .await?;
                }
            }
            ChannelKind::Email(email) => {
                let mut mailer = match email::Mailer::new(email) {
                    Ok(mailer) => mailer,
                    Err(error) => {
                        let error = format!("{error:#}");
                        return self.fail_together(channel, alerts, error, None).await;
                    }
                };
                let mut breaker = retry::Breaker::default();
                let mut alerts = alerts.into_iter();
                while let Some(alert) = alerts.next() {
                    let attempt =
                        match self
                            .templates
                            .alert(&AlertView::new(&alert))
                            .and_then(|rendered| {
                                email::message(
                                    &email::Envelope {
                                        email,
                                        channel,
                                        id: &alert.alert_id,
                                        rules: &alert.rules,
                                    },
                                    &rendered,
                                )
                            }) {
                            Ok(message) => mailer.send(message).await,
                            Err(error) => {
                                Attempt::Permanent(format!("building the message: {error:#}"))
                            }
                        };
                    report += self
                        .record_in_round(channel, &mut breaker, &alert, attempt, &mut alerts)
                        .await?;
                }
                mailer.finish().await;
            }
        }
        Ok(report)
    }

    /// Records one alert's attempt in a round; when `breaker` trips on it, also the
    /// channel's other due alerts, `rest`, as failed untried (which empties it).
    async fn record_in_round(
        &self,
        channel: &str,
        breaker: &mut retry::Breaker,
        alert: &DueAlert,
        attempt: Attempt,
        rest: &mut std::vec::IntoIter<DueAlert>,
    ) -> Result<DeliveryReport, StoreError> {
        let tripped = breaker.trips(&attempt);
        let mut report = self.record(Rows::alert(alert), attempt).await?;
        if let Some((error, retry_after)) = tripped {
            let error = format!("not tried: the channel was unavailable ({error})");
            report += self
                .fail_together(channel, rest.collect(), error, retry_after)
                .await?;
        }
        Ok(report)
    }
}

/// The channel's signing key, read now, if it has a secret.
fn webhook_key(hook: &Webhook) -> Result<Option<Vec<u8>>, String> {
    let Some(secret) = &hook.secret else {
        return Ok(None);
    };
    use secrecy::ExposeSecret;
    let text = secret.read().map_err(|e| format!("{e:#}"))?;
    webhook::decode_secret(text.expose_secret())
        .map(Some)
        .map_err(|e| format!("{e:#}"))
}
