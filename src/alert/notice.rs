//! Feed-health notices: a feed failing for longer than `stale_after`, and its recovery,
//! told once each to the `health_channels`; and a fetch that found every entry new (a
//! possible gap: stories may have been missed), of each feed at most once a week and of
//! one feed a day.

use super::render::{self, Rendered};
use super::retry::Attempt;
use super::{Deliverer, DeliveryReport, Rows, email, webhook, webhook_key};
use crate::config::ChannelKind;
use crate::store::{DueNotice, StoreError, Table};

impl Deliverer {
    /// Sends due feed-health notices.
    pub(super) async fn send_notices(&self, now: i64) -> Result<DeliveryReport, StoreError> {
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
        let title = match notice.kind.as_str() {
            "stale" => format!("feed failing: {}", notice.feed),
            "possible_gap" => format!("feed may be missing stories: {}", notice.feed),
            _ => format!("feed recovered: {}", notice.feed),
        };
        match self.config.channel_kind(&notice.channel) {
            None => Attempt::Transient {
                error: format!("channel `{}` is not in the configuration", notice.channel),
                retry_after: None,
            },
            Some(ChannelKind::Log) => {
                tracing::warn!(target: "newshound::health", channel = %notice.channel, feed = %notice.feed_url, "{}", notice.message);
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
                let body = serde_json::json!({
                    "type": "feed_health",
                    "id": notice.notice_id,
                    "status": notice.kind,
                    "feed": { "name": notice.feed, "url": notice.feed_url },
                    "message": notice.message,
                    "detected_at": crate::commands::rfc3339(notice.created),
                });
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
