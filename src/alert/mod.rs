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
        let last = self.store.call(|s| s.last_alert_row()).await?;
        // The channels are sent to side by side: a slow receiver holds back its own
        // alerts, not another channel's. Only the configured channels' alerts are read:
        // those of a channel removed from the config wait, untouched, until it returns or
        // they are requeued.
        let sends = self.immediate_channels().into_iter().filter_map(|channel| {
            let kind = self.config.channel_kind(&channel).cloned()?;
            Some(async move { self.send_due(&channel, &kind, now, last).await })
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
                report += self
                    .send_digest(&channel, email, *window, now, last)
                    .await?;
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

    /// Sends a channel's alerts due at `now` among those queued up to the outbox row
    /// `last`, reading them a chunk at a time ([`ALERTS_PER_READ`]). When the channel
    /// turns out unavailable, the alerts not yet tried count a failed attempt together
    /// and wait for their retries.
    async fn send_due(
        &self,
        channel: &str,
        kind: &ChannelKind,
        now: i64,
        last: i64,
    ) -> Result<DeliveryReport, StoreError> {
        let mut sender = None;
        let mut breaker = retry::Breaker::default();
        let mut report = DeliveryReport::default();
        let mut after = 0;
        'reads: loop {
            let name = channel.to_owned();
            let alerts = self
                .store
                .call(move |s| s.due_alerts(&name, now, after + 1..=last, ALERTS_PER_READ))
                .await?;
            if alerts.is_empty() {
                break;
            }
            // Set up once there is something to send: a secret is read, a mailer made.
            let sender = match &mut sender {
                Some(sender) => sender,
                None => match Sender::new(kind) {
                    Ok(made) => sender.insert(made),
                    Err(error) => {
                        return self.fail_due(channel, now, 1..=last, error, None).await;
                    }
                },
            };
            for alert in alerts {
                after = alert.outbox_id;
                let (attempt, verdict) = loop {
                    let attempt = self.attempt(sender, channel, &alert).await;
                    match breaker.judge(&attempt) {
                        retry::Verdict::Again(wait) => {
                            tracing::debug!(
                                channel = %channel,
                                wait = %humantime::format_duration(wait),
                                "the receiver asks for fewer requests; waiting"
                            );
                            self.clock.sleep(wait).await;
                        }
                        verdict => break (attempt, verdict),
                    }
                };
                report += self.record(Rows::alert(&alert), attempt).await?;
                if let retry::Verdict::Stop(error, retry_after) = verdict {
                    let error = format!("not tried: the channel was unavailable ({error})");
                    report += self
                        .fail_due(channel, now, after + 1..=last, error, retry_after)
                        .await?;
                    break 'reads;
                }
            }
        }
        if let Some(Sender::Email(_, mailer)) = sender {
            mailer.finish().await;
        }
        Ok(report)
    }

    /// Sends one alert.
    async fn attempt(&self, sender: &mut Sender<'_>, channel: &str, alert: &DueAlert) -> Attempt {
        match sender {
            Sender::Log => {
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
                Attempt::Delivered
            }
            Sender::Webhook(hook, key) => {
                let view = AlertView::new(alert);
                let detected = crate::commands::rfc3339(alert.detected_at);
                let summary: String = render::one_line(&alert.story.summary)
                    .chars()
                    .take(1000)
                    .collect();
                let body =
                    webhook::payload(hook.format, &view, &alert.alert_id, &detected, &summary)
                        .to_string();
                webhook::post(
                    &self.http,
                    hook,
                    key.as_deref(),
                    &alert.alert_id,
                    self.clock.now(),
                    body.into_bytes(),
                )
                .await
            }
            Sender::Email(email, mailer) => {
                let built = self
                    .templates
                    .alert(&AlertView::new(alert))
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
                    });
                match built {
                    Ok(message) => mailer.send(message).await,
                    Err(error) => Attempt::Permanent(format!("building the message: {error:#}")),
                }
            }
        }
    }

    /// Records one failure for every alert of `channel` due at `now` among the outbox's
    /// `rows` (see [`Deliverer::fail_together`]).
    async fn fail_due(
        &self,
        channel: &str,
        now: i64,
        rows: std::ops::RangeInclusive<i64>,
        error: String,
        retry_after: Option<Duration>,
    ) -> Result<DeliveryReport, StoreError> {
        let name = channel.to_owned();
        let rows = self
            .store
            .call(move |s| s.due_alert_attempts(&name, now, rows))
            .await?;
        self.fail_together(channel, &rows, error, retry_after).await
    }
}

/// The most alerts a delivery round holds in memory at once for one channel, each with
/// its story's text: a backlog (a receiver down for days) is read a chunk at a time.
pub const ALERTS_PER_READ: usize = 64;

/// How a channel's alerts go out in a round.
enum Sender<'a> {
    Log,
    /// With the signing key, when the channel has a secret.
    Webhook(&'a Webhook, Option<Vec<u8>>),
    /// One connection for the round's messages.
    Email(&'a Email, email::Mailer),
}

impl<'a> Sender<'a> {
    /// Reads the channel's secret or makes its mailer; the error says why it cannot send.
    fn new(kind: &'a ChannelKind) -> Result<Sender<'a>, String> {
        Ok(match kind {
            ChannelKind::Log => Sender::Log,
            ChannelKind::Webhook(hook) => Sender::Webhook(hook, webhook_key(hook)?),
            ChannelKind::Email(email) => Sender::Email(
                email,
                email::Mailer::new(email).map_err(|e| format!("{e:#}"))?,
            ),
        })
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
