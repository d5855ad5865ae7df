//! Digest channels: one message per window listing the hits that waited for it.

use sha2::{Digest as _, Sha256};

use super::render::{DigestView, Rendered};
use super::retry::Attempt;
use super::{Deliverer, DeliveryReport, Rows, email};
use crate::config::{Digest, Email};
use crate::store::{StoreError, Table};
use crate::story::hex;

impl Deliverer {
    /// Sends a digest channel's waiting alerts as one message once its window has
    /// passed since the oldest of them — and, after a failed attempt, not before the
    /// retry schedule says: a mail server that is down must not cost the digest an
    /// attempt every delivery round (and its alerts their lives within a minute).
    pub(super) async fn send_digest(
        &self,
        channel: &str,
        email: &Email,
        window: Digest,
        now: i64,
    ) -> Result<DeliveryReport, StoreError> {
        let name = channel.to_owned();
        let alerts = self
            .store
            .call(move |s| s.undelivered_alerts(&[name.as_str()]))
            .await?;
        let Some(oldest) = alerts.iter().map(|a| a.created).min() else {
            return Ok(DeliveryReport::default());
        };
        let window = match window {
            Digest::Every(d) => d.as_secs() as i64,
            Digest::Daily => 86400,
        };
        let retry_pending = alerts
            .iter()
            .any(|a| a.attempts > 0 && a.next_attempt > now);
        if oldest + window > now || retry_pending {
            return Ok(DeliveryReport::default());
        }
        let ids: Vec<i64> = alerts.iter().map(|a| a.outbox_id).collect();
        let attempts = alerts.iter().map(|a| a.attempts).max().unwrap_or(0);
        let digest_id = {
            let mut h = Sha256::new();
            for a in &alerts {
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
                    .digest(&DigestView::new(channel, &alerts))
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
