//! Health notices: a feed failing for longer than `stale_after`, and its recovery,
//! told once each to the `health_channels`; a feed that answered 410 Gone (and is no
//! longer fetched); a feed that answers without a new story for longer than its
//! `quiet_after`, told once until it brings one; a fetch that found every entry new (a
//! possible gap: stories may have been missed), of each feed at most once a week and of
//! one feed a day; and an alert channel whose deliveries have failed for longer than
//! `[alerts] failing_after`, and its recovery, told once each to the other health
//! channels.

use super::render::{self, Rendered};
use super::retry::Attempt;
use super::{Deliverer, DeliveryReport, Rows, email, webhook, webhook_key};
use crate::config::ChannelKind;
use crate::store::{ChannelChange, DueNotice, NoticeAbout, StoreError, Table};

impl Deliverer {
    /// Queues the notices the channels' health owes (and logs the change, whether or
    /// not there are health channels to tell), then sends the due notices.
    pub(super) async fn send_notices(&self, now: i64) -> Result<DeliveryReport, StoreError> {
        let health = self.config.health();
        let configured: Vec<String> = self.channels().into_iter().map(|(c, _)| c).collect();
        let changes = self
            .store
            .call(move |s| {
                s.channel_health(
                    now,
                    &health,
                    &configured.iter().map(String::as_str).collect::<Vec<_>>(),
                )
            })
            .await?;
        for change in changes {
            match change {
                ChannelChange::Failing {
                    channel, message, ..
                } => tracing::error!(target: "newshound::health", channel = %channel, "{message}"),
                ChannelChange::Recovered { channel, message } => {
                    tracing::info!(target: "newshound::health", channel = %channel, "{message}")
                }
            }
        }
        let channels = self.config.fetch.health_channels.clone();
        if channels.is_empty() {
            return Ok(DeliveryReport::default());
        }
        let notices = self
            .store
            .call(move |s| {
                s.due_notices(
                    &channels.iter().map(String::as_str).collect::<Vec<_>>(),
                    now,
                )
            })
            .await?;
        let mut report = DeliveryReport::default();
        for notice in notices {
            let attempt = self.send_notice(&notice).await;
            report += self
                .record(
                    Rows {
                        table: Table::Notices,
                        ids: &[notice.id],
                        attempts: notice.attempts,
                        channel: &notice.channel,
                        id: &notice.notice_id,
                    },
                    attempt,
                )
                .await?;
        }
        Ok(report)
    }

    async fn send_notice(&self, notice: &DueNotice) -> Attempt {
        let (about, about_url) = match &notice.about {
            NoticeAbout::Feed { name, url } => (name.as_str(), Some(url.as_str())),
            NoticeAbout::Channel(channel) => (channel.as_str(), None),
        };
        let title = match notice.kind.as_str() {
            "stale" => format!("feed failing: {about}"),
            "possible_gap" => format!("feed may be missing stories: {about}"),
            "gone" => format!("feed gone, no longer fetched: {about}"),
            "quiet" => format!("feed brings nothing new: {about}"),
            "channel_failing" => format!("alert channel failing: {about}"),
            "channel_recovered" => format!("alert channel delivering again: {about}"),
            _ => format!("feed recovered: {about}"),
        };
        match self.config.channel_kind(&notice.channel) {
            None => Attempt::Transient {
                error: format!("channel `{}` is not in the configuration", notice.channel),
                retry_after: None,
            },
            Some(ChannelKind::Log) => {
                match about_url {
                    Some(url) => {
                        tracing::warn!(target: "newshound::health", channel = %notice.channel, feed = %url, "{}", notice.message)
                    }
                    None => {
                        tracing::warn!(target: "newshound::health", channel = %notice.channel, about_channel = %about, "{}", notice.message)
                    }
                }
                Attempt::Delivered
            }
            Some(ChannelKind::Webhook(hook)) => {
                let key = match webhook_key(hook) {
                    Ok(key) => key,
                    Err(error) => {
                        return Attempt::Transient {
                            error,
                            retry_after: None,
                        };
                    }
                };
                let detected_at = crate::commands::rfc3339(notice.created);
                let body = webhook::notice_payload(
                    hook.format,
                    &webhook::NoticeView {
                        id: &notice.notice_id,
                        kind: &notice.kind,
                        title: &title,
                        about,
                        url: about_url,
                        message: &notice.message,
                        detected_at: &detected_at,
                    },
                );
                webhook::post(
                    &self.http,
                    hook,
                    key.as_deref(),
                    &notice.notice_id,
                    self.clock.now(),
                    body.to_string().into_bytes(),
                )
                .await
            }
            Some(ChannelKind::Email(email)) => {
                let rendered = Rendered {
                    subject: render::one_line(&format!("[newshound] {title}")),
                    text: format!("{}\n\n-- \nSent by newshound.\n", notice.message),
                    html: format!("<p>{}</p>", html_escape::encode_text(&notice.message)),
                };
                let envelope = email::Envelope {
                    email,
                    channel: &notice.channel,
                    id: &notice.notice_id,
                    rules: &[],
                };
                match (
                    email::Mailer::new(email),
                    email::message(&envelope, &rendered),
                ) {
                    (Ok(mailer), Ok(message)) => mailer.send_one(message).await,
                    (Err(e), _) => Attempt::Transient {
                        error: format!("{e:#}"),
                        retry_after: None,
                    },
                    (_, Err(e)) => Attempt::Permanent(format!("building the notice: {e:#}")),
                }
            }
        }
    }
}
