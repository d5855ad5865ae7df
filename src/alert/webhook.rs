//! Webhook delivery: the JSON payload of the design, or Slack and Discord messages, one
//! POST per alert, signed the Standard Webhooks way when the channel has a secret.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use sha2::Sha256;

use super::render::AlertView;
use super::retry::{self, Attempt};
use crate::config::{Webhook, WebhookFormat};

/// The body of one alert's POST.
pub fn payload(
    format: WebhookFormat,
    view: &AlertView,
    id: &str,
    detected_at: &str,
    summary: &str,
) -> serde_json::Value {
    let link = view.link.as_deref();
    match format {
        WebhookFormat::Json => json!({
            "type": "hit",
            "id": id,
            "rules": view.rules,
            "matched": view.matched,
            "detected_at": detected_at,
            "story": {
                "title": view.title,
                "url": link,
                "feed": view.feed,
                "published": view.published_rfc3339,
                "updated": view.updated_rfc3339,
                "summary": summary,
            }
        }),
        WebhookFormat::Slack => {
            // Slack's mrkdwn: only &, < and > need escaping.
            let esc = |s: &str| {
                s.replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
            };
            let title = match link {
                Some(url) => format!("<{}|{}>", esc(url), esc(&view.title)),
                None => esc(&view.title),
            };
            let text = format!(
                "*{title}*\n{} · rules: {}\n> {}",
                esc(&view.feed),
                esc(&view.rules.join(", ")),
                esc(&view.snippet_text())
            );
            json!({ "text": text })
        }
        WebhookFormat::Discord => {
            let title = match link {
                Some(url) => format!("**[{}]({url})**", view.title.replace(['[', ']'], "")),
                None => format!("**{}**", view.title),
            };
            let text = format!(
                "{title}\n{} · rules: {}\n> {}",
                view.feed,
                view.rules.join(", "),
                view.snippet_text()
            );
            // Discord refuses content over 2,000 characters.
            let text: String = text.chars().take(1990).collect();
            json!({ "content": text, "allowed_mentions": { "parse": [] } })
        }
    }
}

/// The HMAC key of a `whsec_<base64>` secret.
pub fn decode_secret(text: &str) -> anyhow::Result<Vec<u8>> {
    let text = text.trim();
    let encoded = text.strip_prefix("whsec_").unwrap_or(text);
    STANDARD
        .decode(encoded)
        .map_err(|e| anyhow::anyhow!("the webhook secret is not whsec_ followed by base64: {e}"))
}

/// `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// POSTs one alert to the channel's URL, within its timeout, and classifies the outcome.
pub async fn post(
    client: &reqwest::Client,
    hook: &Webhook,
    key: Option<&[u8]>,
    id: &str,
    now: i64,
    body: Vec<u8>,
) -> Attempt {
    let mut request = client
        .post(hook.url.clone())
        .timeout(hook.timeout)
        .header(reqwest::header::CONTENT_TYPE, "application/json");
    if let Some(key) = key {
        request = request
            .header("webhook-id", id)
            .header("webhook-timestamp", now.to_string())
            .header("webhook-signature", sign(key, id, now, &body));
    }
    match request.body(body).send().await {
        Ok(response) => {
            let status = response.status();
            let mut attempt = retry::http_status(
                status.as_u16(),
                crate::fetch::retry_after(response.headers()),
            );
            if let Some(error) = attempt.error_mut()
                && let Some(detail) = explanation(response).await
            {
                error.push_str(": ");
                error.push_str(&detail);
            }
            attempt
        }
        // Not reached at all (refused, no such host, TLS): the receiver as a whole. A
        // request sent and not answered in time may be this payload's doing, once.
        Err(e) if e.is_connect() => Attempt::Unavailable {
            error: crate::fetch::cause(&e),
            retry_after: None,
        },
        Err(e) if e.is_timeout() => Attempt::Unanswered(crate::fetch::cause(&e)),
        Err(e) => Attempt::Transient {
            error: crate::fetch::cause(&e),
            retry_after: None,
        },
    }
}

/// The most a refusal's explanation is shown of.
const EXPLANATION_CHARS: usize = 200;

/// What a receiver said when it refused a delivery: where a redirect points (a webhook
/// is never followed: a POST turned into a GET would "succeed" unsent), else the start
/// of the response body on one line (receivers explain themselves there, "invalid_token").
async fn explanation(mut response: reqwest::Response) -> Option<String> {
    if response.status().is_redirection() {
        let location = response.headers().get(reqwest::header::LOCATION)?;
        let location = String::from_utf8_lossy(location.as_bytes());
        return Some(format!(
            "redirects to {location}; point the channel's url there"
        ));
    }
    // The first chunk is enough; the request's timeout bounds the wait for it.
    let chunk = response.chunk().await.ok()??;
    let text = String::from_utf8_lossy(&chunk);
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut shown: String = line.chars().take(EXPLANATION_CHARS).collect();
    if shown.len() < line.len() {
        shown.push('…');
    }
    (!shown.is_empty()).then_some(shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_webhooks_signature() {
        // The example of the Standard Webhooks specification.
        let key = decode_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert!(decode_secret("whsec_!!!").is_err());
    }
}
