//! `newshound send-test`: a sample alert through one channel, outside the outbox.

use super::render::AlertView;
use super::retry::Attempt;
use super::{Deliverer, email, webhook, webhook_key};
use crate::config::ChannelKind;

impl Deliverer {
    /// Sends a sample alert through one channel now, outside the outbox.
    pub async fn send_test(&self, channel: &str) -> anyhow::Result<Attempt> {
        let kind = self
            .config
            .channel_kind(channel)
            .ok_or_else(|| anyhow::anyhow!("no channel `{channel}` in the configuration"))?
            .clone();
        let story = crate::store::StoredStory {
            id: 0,
            feed: "newshound".into(),
            link: Some("https://example.org/newshound-test".into()),
            title: "Test alert from newshound".into(),
            summary: "This is a test of the channel: Kremlin spokesman Peskov said nothing at all."
                .into(),
            content: String::new(),
            authors: String::new(),
            categories: String::new(),
            published: Some(self.clock.now()),
            updated: None,
            first_seen: self.clock.now(),
        };
        let start = story.summary.find("Peskov").unwrap_or(0);
        let spans = [crate::rules::Span {
            field: crate::rules::Field::Summary,
            start,
            end: start + 6,
        }];
        let rules = vec!["Test".to_owned()];
        let view = AlertView::of_story(&story, &rules, &spans);
        let id = format!("test-{}", self.clock.now());
        Ok(match kind {
            ChannelKind::Log => {
                tracing::info!(target: "newshound::alert", channel = %channel, "{}", view.title);
                Attempt::Delivered
            }
            ChannelKind::Webhook(hook) => {
                let key = webhook_key(&hook).map_err(anyhow::Error::msg)?;
                let body = webhook::payload(
                    hook.format,
                    &view,
                    &id,
                    &crate::commands::rfc3339(self.clock.now()),
                    &story.summary,
                );
                webhook::post(
                    &self.http,
                    &hook,
                    key.as_deref(),
                    &id,
                    self.clock.now(),
                    body.to_string().into_bytes(),
                )
                .await
            }
            ChannelKind::Email(email) => {
                let mailer = email::Mailer::new(&email)?;
                let rendered = self.templates.alert(&view)?;
                mailer
                    .send_one(email::message(
                        &email::Envelope {
                            email: &email,
                            channel,
                            id: &id,
                            rules: &rules,
                        },
                        &rendered,
                    )?)
                    .await
            }
        })
    }
}
