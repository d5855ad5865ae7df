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
            let esc = slack_escape;
            // (A `|` in the address would end it: percent-encoded, it is the same.)
            let title = match link {
                Some(url) => format!("<{}|{}>", esc(&url.replace('|', "%7C")), esc(&view.title)),
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
            // A feed's text is shown as written, not as Discord's markdown: a title
            // "S*P 500 *falls*" stays that, and a `)` in an address does not end it.
            let title = match link {
                Some(url) => format!(
                    "**[{}]({})**",
                    discord_escape(&view.title.replace(['[', ']'], "")),
                    url.replace('(', "%28").replace(')', "%29")
                ),
                None => format!("**{}**", discord_escape(&view.title)),
            };
            let text = format!(
                "{title}\n{} · rules: {}\n> {}",
                discord_escape(&view.feed),
                discord_escape(&view.rules.join(", ")),
                view.snippet_text_escaped(discord_escape)
            );
            discord_message(&text)
        }
    }
}

/// What a health notice says: of a feed (`url` its address) or of an alert channel.
#[derive(Debug)]
pub struct NoticeView<'a> {
    /// The notice's stable id.
    pub id: &'a str,
    /// `stale`, `recovered`, `possible_gap`, `gone`, `quiet`, `channel_failing` or
    /// `channel_recovered`.
    pub kind: &'a str,
    /// One line naming what happened and to what ("feed failing: World Desk").
    pub title: &'a str,
    /// The feed's or channel's name.
    pub about: &'a str,
    /// The feed's address; none for a channel.
    pub url: Option<&'a str>,
    pub message: &'a str,
    pub detected_at: &'a str,
}

/// The body of a health notice's POST: the `feed_health` or `channel_health` object,
/// or, for Slack and Discord (which refuse a message without text), the notice as a
/// text message.
pub fn notice_payload(format: WebhookFormat, notice: &NoticeView) -> serde_json::Value {
    match format {
        WebhookFormat::Json => match notice.url {
            Some(url) => json!({
                "type": "feed_health",
                "id": notice.id,
                "status": notice.kind,
                "feed": { "name": notice.about, "url": url },
                "message": notice.message,
                "detected_at": notice.detected_at,
            }),
            None => json!({
                "type": "channel_health",
                "id": notice.id,
                "status": notice.kind.strip_prefix("channel_").unwrap_or(notice.kind),
                "channel": notice.about,
                "message": notice.message,
                "detected_at": notice.detected_at,
            }),
        },
        WebhookFormat::Slack => json!({
            "text": format!(
                "*{}*\n{}",
                slack_escape(notice.title),
                slack_escape(notice.message)
            )
        }),
        WebhookFormat::Discord => discord_message(&format!(
            "**{}**\n{}",
            discord_escape(notice.title),
            discord_escape(notice.message)
        )),
    }
}

/// `text` for Slack's mrkdwn, in which only `&`, `<` and `>` need escaping.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A Discord message of `text`, cut to what Discord takes (it refuses content over
/// 2,000 characters), notifying nobody an `@` in it names.
fn discord_message(text: &str) -> serde_json::Value {
    let text: String = text.chars().take(1990).collect();
    json!({ "content": text, "allowed_mentions": { "parse": [] } })
}

/// `text` with the characters Discord's markdown reads as formatting escaped by a
/// backslash, so that it shows as written — `<` too, which opens a mention, a channel
/// link or a timestamp (`<@123>`, `<t:1764300000>`).
fn discord_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '*' | '_' | '~' | '`' | '|' | '<' | '>' | '#' | '[' | ']'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
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

    #[test]
    fn slack_and_discord_show_a_feeds_text_as_written() {
        use crate::rules::{Field, Span};
        let story = crate::store::StoredStory {
            id: 1,
            feed: "#1 Markets_Desk".into(),
            link: Some("https://wiki.example/Peskov_(press_secretary)?a|b".into()),
            title: "S*P 500 falls; [Peskov] `speaks`".into(),
            summary: "Kremlin ~spokesman~ Peskov said *no*".into(),
            content: String::new(),
            authors: String::new(),
            categories: String::new(),
            published: None,
            updated: None,
            first_seen: 0,
        };
        let spans = [Span {
            field: Field::Summary,
            start: 20,
            end: 26,
        }];
        let view = AlertView::of_story(&story, &["Peskov".into()], &spans);
        let text = |format, key: &str| {
            payload(format, &view, "id", "2026-11-28T00:00:00Z", "")[key]
                .as_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(
            text(WebhookFormat::Discord, "content"),
            "**[S\\*P 500 falls; Peskov \\`speaks\\`](https://wiki.example/Peskov_%28press_secretary%29?a|b)**\n\
             \\#1 Markets\\_Desk · rules: Peskov\n\
             > Kremlin \\~spokesman\\~ *Peskov* said \\*no\\*"
        );
        assert!(
            text(WebhookFormat::Slack, "text").starts_with(
                "*<https://wiki.example/Peskov_(press_secretary)?a%7Cb|S*P 500 falls; [Peskov] `speaks`>*"
            ),
            "{}",
            text(WebhookFormat::Slack, "text")
        );

        // A story without a link is named, not linked.
        let unlinked = crate::store::StoredStory {
            link: None,
            title: "Peskov <speaks> & *listens*".into(),
            ..story
        };
        let view = AlertView::of_story(&unlinked, &["Peskov".into()], &[]);
        let first_line = |format, key: &str| {
            payload(format, &view, "id", "2026-11-28T00:00:00Z", "")[key]
                .as_str()
                .unwrap()
                .lines()
                .next()
                .unwrap()
                .to_owned()
        };
        assert_eq!(
            first_line(WebhookFormat::Discord, "content"),
            "**Peskov \\<speaks\\> & \\*listens\\***"
        );
        assert_eq!(
            first_line(WebhookFormat::Slack, "text"),
            "*Peskov &lt;speaks&gt; &amp; *listens**"
        );
    }
}
