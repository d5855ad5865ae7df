//! HTTP fetching of feeds: conditional GET, limits, redirects, and errors an operator
//! can act on.
//!
//! reqwest sets no body cap and no default timeouts, so this module sets both: a connect
//! timeout and a total timeout on every request, and `max_body` counted on the decoded
//! stream (reqwest decompresses gzip, brotli, deflate and zstd as it reads), so a
//! compression bomb stops at the limit. Redirects are followed here, not by reqwest, so
//! that a permanent move can be reported and a redirect to a non-HTTP scheme refused.

use std::time::Duration;

use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Client, StatusCode};
use url::Url;

use crate::config::Fetch as FetchConfig;

/// The most redirects followed for one fetch.
pub const MAX_REDIRECTS: usize = 5;

const ACCEPT: &str = "application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml;q=0.9, \
                      application/xml;q=0.8, text/xml;q=0.8, application/json;q=0.7, */*;q=0.5";

/// A feed fetch failure, one variant per cause an operator would act on differently.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("DNS lookup failed: {0}")]
    Dns(String),
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("TLS failed: {0}")]
    Tls(String),
    #[error("timed out after {}", humantime::format_duration(*.0))]
    Timeout(Duration),
    #[error("{}", status_message(*code, *retry_after))]
    Status {
        code: u16,
        retry_after: Option<Duration>,
    },
    #[error(
        "HTTP 410 Gone: the feed was removed; polling stopped (`newshound once --feed` with its URL tries it again)"
    )]
    Gone,
    #[error(
        "the body is larger than `max_body` ({}): raise it — in `[fetch]`, or for this feed in its `[[feed]]` — if the feed is really this large",
        bytesize::ByteSize::b(*.0)
    )]
    TooLarge(u64),
    #[error("redirect failed: {0}")]
    Redirect(String),
    #[error("reading the body failed: {0}")]
    Body(String),
    #[error("request failed: {0}")]
    Other(String),
}

/// What a feed's HTTP status says: its code and reason, how long the server asked to
/// wait, and, for the statuses an operator can act on, what to look at.
fn status_message(code: u16, retry_after: Option<Duration>) -> String {
    let reason = reqwest::StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map(|r| format!(" {r}"))
        .unwrap_or_default();
    let wait = retry_after
        .map(|d| format!(" (retry after {})", humantime::format_duration(d)))
        .unwrap_or_default();
    let hint = match code {
        401 => {
            ": the server wants a login, or refused the one given (a feed's login is \
             written in its url: https://user:password@host/…)"
        }
        403 => {
            ": the server refuses this reader (some sites refuse a User-Agent they do not \
             know, or one without a way to reach its operator: `[fetch] user_agent`)"
        }
        404 => ": nothing at this address (the site may have moved its feed)",
        _ => "",
    };
    format!("HTTP {code}{reason}{wait}{hint}")
}

impl FetchError {
    /// Whether the server was never reached: no address for its name, no connection, or
    /// no answer in time — what every fetch meets while this host's own network is down.
    pub fn unreachable(&self) -> bool {
        matches!(
            self,
            FetchError::Dns(_) | FetchError::Connect(_) | FetchError::Timeout(_)
        )
    }

    /// How long the server asked us to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Validators from the last successful fetch, sent back for a conditional GET.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// What the server said about caching.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheHints {
    /// `Cache-Control: max-age`.
    pub max_age: Option<Duration>,
}

/// A successful fetch.
#[derive(Debug, Clone)]
pub enum Fetched {
    /// 304: the feed has not changed since the validators were issued.
    NotModified { cache: CacheHints },
    /// 200 with the decoded body.
    Body(Box<Body>),
}

#[derive(Debug, Clone)]
pub struct Body {
    pub bytes: Vec<u8>,
    /// The `charset` of `Content-Type`.
    pub charset: Option<String>,
    pub validators: Validators,
    /// The URL the body came from, after redirects.
    pub url: Url,
    /// Where a 301/308 said the feed now lives, if it moved permanently.
    pub moved_to: Option<Url>,
    pub cache: CacheHints,
}

/// An HTTP client configured for feeds; cheap to clone, connections are pooled and
/// reused per host.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: Client,
    max_body: u64,
    timeout: Duration,
}

impl Fetcher {
    pub fn new(config: &FetchConfig) -> anyhow::Result<Fetcher> {
        let client = Client::builder()
            .user_agent(&config.user_agent)
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(90))
            .build()?;
        Ok(Fetcher {
            client,
            max_body: config.max_body,
            timeout: config.timeout,
        })
    }

    /// Fetches a feed, conditionally when validators are given.
    pub async fn fetch(&self, url: &Url, validators: &Validators) -> Result<Fetched, FetchError> {
        self.fetch_at_most(url, validators, self.max_body).await
    }

    /// [`Fetcher::fetch`] with a feed's own `max_body`.
    pub async fn fetch_at_most(
        &self,
        url: &Url,
        validators: &Validators,
        max_body: u64,
    ) -> Result<Fetched, FetchError> {
        let mut current = url.clone();
        let mut moved_to = None;
        for hop in 0..=MAX_REDIRECTS {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT, HeaderValue::from_static(ACCEPT));
            // Validators belong to the original URL's response; send them on every hop,
            // as a redirect usually leads to the same document.
            if let Some(etag) = validators
                .etag
                .as_deref()
                .and_then(|v| HeaderValue::from_str(v).ok())
            {
                headers.insert(header::IF_NONE_MATCH, etag);
            }
            if let Some(lm) = validators
                .last_modified
                .as_deref()
                .and_then(|v| HeaderValue::from_str(v).ok())
            {
                headers.insert(header::IF_MODIFIED_SINCE, lm);
            }
            let response = self
                .client
                .get(current.clone())
                .headers(headers)
                .send()
                .await
                .map_err(|e| self.classify(&e))?;
            let status = response.status();
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                let location = response
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .ok_or_else(|| {
                        FetchError::Redirect(format!("HTTP {} without a Location", status.as_u16()))
                    })?;
                let next = current
                    .join(location)
                    .map_err(|e| FetchError::Redirect(format!("bad Location {location:?}: {e}")))?;
                if !matches!(next.scheme(), "http" | "https") {
                    return Err(FetchError::Redirect(format!("to a non-HTTP URL {next}")));
                }
                if hop == MAX_REDIRECTS {
                    return Err(FetchError::Redirect(format!(
                        "more than {MAX_REDIRECTS} redirects (a loop?)"
                    )));
                }
                // Only a permanent move on the first hop says the configured URL is stale.
                if hop == 0
                    && matches!(
                        status,
                        StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT
                    )
                {
                    moved_to = Some(next.clone());
                }
                current = next;
                continue;
            }
            let cache = CacheHints {
                max_age: max_age(response.headers()),
            };
            if status == StatusCode::NOT_MODIFIED {
                return Ok(Fetched::NotModified { cache });
            }
            if status == StatusCode::GONE {
                return Err(FetchError::Gone);
            }
            if !status.is_success() {
                return Err(FetchError::Status {
                    code: status.as_u16(),
                    retry_after: retry_after(response.headers()),
                });
            }
            let header_text = |name| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v: &HeaderValue| v.to_str().ok())
                    .map(str::to_owned)
            };
            let validators = Validators {
                etag: header_text(header::ETAG),
                last_modified: header_text(header::LAST_MODIFIED),
            };
            let charset =
                header_text(header::CONTENT_TYPE).and_then(|ct| crate::story::charset_of(&ct));
            let bytes = self.read_body(response, max_body).await?;
            return Ok(Fetched::Body(Box::new(Body {
                bytes,
                charset,
                validators,
                url: current,
                moved_to,
                cache,
            })));
        }
        unreachable!("the loop returns on its last hop")
    }

    /// Reads the body, counting decoded bytes against `max_body`.
    async fn read_body(
        &self,
        mut response: reqwest::Response,
        max_body: u64,
    ) -> Result<Vec<u8>, FetchError> {
        if response.content_length().is_some_and(|n| n > max_body) {
            return Err(FetchError::TooLarge(max_body));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.classify(&e))? {
            if body.len() as u64 + chunk.len() as u64 > max_body {
                return Err(FetchError::TooLarge(max_body));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// Turns a reqwest error into the cause an operator can act on.
    fn classify(&self, error: &reqwest::Error) -> FetchError {
        let chain = cause(error);
        let lower = chain.to_ascii_lowercase();
        if error.is_timeout() || lower.contains("timed out") {
            FetchError::Timeout(self.timeout)
        } else if lower.contains("dns error")
            || lower.contains("failed to lookup address")
            || lower.contains("name or service not known")
        {
            FetchError::Dns(dns_detail(&chain))
        } else if lower.contains("certificate")
            || lower.contains("tls")
            || lower.contains("handshake")
            || lower.contains("corrupt message")
        {
            FetchError::Tls(chain)
        } else if error.is_connect() {
            FetchError::Connect(chain)
        } else if error.is_body() || error.is_decode() {
            FetchError::Body(chain)
        } else {
            FetchError::Other(chain)
        }
    }
}

/// An error and its causes on one line, without repeats.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    error_chain_of(error, "http://")
}

/// [`error_chain`] of a protocol whose address in the clear is written `in_clear`
/// (`http://`, `smtp://`), which a TLS failure's explanation suggests.
pub fn error_chain_of(error: &(dyn std::error::Error + 'static), in_clear: &str) -> String {
    let text = chain_parts(error).join(": ");
    // An error that wraps one of its own kind may say its kind twice ("Connection
    // error: Connection error: invalid peer certificate").
    let mut parts: Vec<&str> = text.split(": ").collect();
    parts.dedup();
    explained(parts.join(": "), in_clear)
}

/// An error's text, with what its terse ending means. rustls names the failures an
/// operator is most likely to meet — a server whose certificate a private authority
/// issued, not installed here; a TLS address (`https://`, `smtps://`) of a server
/// answering in the clear — only by their codes.
fn explained(text: String, in_clear: &str) -> String {
    if text.ends_with("invalid peer certificate: UnknownIssuer") {
        text + " (no authority in this system's trust store issued the server's certificate)"
    } else if text.ends_with("received corrupt message of type InvalidContentType") {
        format!(
            "{text} (the server did not answer in TLS: is its address {in_clear}, or its \
             port another?)"
        )
    } else {
        text
    }
}

/// An error and its sources, each once: a source whose words an earlier part holds — an
/// error that shows its source in its own message, or SQLite's, which repeats its message
/// after its code (`Error code 26: file is not a database`) — is left out.
fn chain_parts(error: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        let text = e.to_string();
        let words = text
            .strip_prefix("Error code ")
            .and_then(|rest| rest.split_once(": "))
            .filter(|(code, _)| code.bytes().all(|b| b.is_ascii_digit()))
            .map_or(text.as_str(), |(_, words)| words);
        if !parts.iter().any(|p| p.contains(words)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts
}

/// A URL as newshound shows it in logs, command output and alerts: a password in it
/// (a feed behind HTTP authentication is configured as `https://user:password@host/…`,
/// which reqwest sends as Basic credentials) is replaced by `***`. Anything else,
/// including text that is not a URL, is shown as it is.
pub fn shown(url: &str) -> std::borrow::Cow<'_, str> {
    if !url.contains('@') {
        return url.into();
    }
    match Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            String::from(parsed).into()
        }
        _ => url.into(),
    }
}

/// A reqwest error's chain without the wrappers that say nothing the variant does not
/// ("error sending request for url (…)", "client error (Connect)"): what is left is
/// the cause, "tcp connect error: Connection refused (os error 111)".
pub(crate) fn cause(error: &reqwest::Error) -> String {
    // Never the URL reqwest names: a webhook's path can be its secret (Slack's are), and
    // a feed's URL can carry a password.
    let parts: Vec<String> = chain_parts(error)
        .into_iter()
        .map(|p| match p.split_once(" for url (") {
            Some((head, _)) => head.to_owned(),
            None => p,
        })
        .collect();
    let causes: Vec<&str> = parts
        .iter()
        .map(String::as_str)
        .filter(|p| *p != "error sending request" && !p.starts_with("client error ("))
        .collect();
    let text = if causes.is_empty() {
        parts.join(": ")
    } else {
        causes.join(": ")
    };
    explained(text, "http://")
}

/// What a failed lookup's chain says beyond "DNS lookup failed", which the error
/// says already: hyper's and reqwest's "dns error: error resolving DNS: …" dropped.
fn dns_detail(chain: &str) -> String {
    let detail: Vec<&str> = chain
        .split(": ")
        .filter(|p| {
            !p.eq_ignore_ascii_case("dns error") && !p.eq_ignore_ascii_case("error resolving dns")
        })
        .collect();
    if detail.is_empty() {
        chain.to_owned()
    } else {
        detail.join(": ")
    }
}

/// `Cache-Control: max-age=N`.
fn max_age(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(header::CACHE_CONTROL)?.to_str().ok()?;
    value.split(',').find_map(|d| {
        let (key, n) = d.trim().split_once('=')?;
        key.eq_ignore_ascii_case("max-age")
            .then(|| n.trim().parse().ok().map(Duration::from_secs))?
    })
}

/// The longest wait a `Retry-After` is taken for: a day. A server that asks for more —
/// by mistake (milliseconds written for seconds, a date a year off) or not — must not
/// hold a feed, or an alert, for longer; a server still down a day later says so again.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// `Retry-After` as seconds or an HTTP date, at most [`MAX_RETRY_AFTER`].
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = if let Ok(seconds) = value.parse::<u64>() {
        Duration::from_secs(seconds)
    } else {
        let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
        Duration::from_secs((at.timestamp() - chrono::Utc::now().timestamp()).max(0) as u64)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_says_its_reason_and_what_to_look_at() {
        let status = |code, retry_after| FetchError::Status { code, retry_after }.to_string();
        assert_eq!(
            status(403, None),
            "HTTP 403 Forbidden: the server refuses this reader (some sites refuse a \
             User-Agent they do not know, or one without a way to reach its operator: \
             `[fetch] user_agent`)"
        );
        assert_eq!(
            status(503, Some(Duration::from_secs(90))),
            "HTTP 503 Service Unavailable (retry after 1m 30s)"
        );
        // A code without a standard reason.
        assert_eq!(status(599, None), "HTTP 599");
    }

    #[test]
    fn a_failed_lookup_says_its_cause_once() {
        let chain = "dns error: error resolving DNS: failed to lookup address information: \
                     Name or service not known";
        assert_eq!(
            FetchError::Dns(dns_detail(chain)).to_string(),
            "DNS lookup failed: failed to lookup address information: Name or service not known"
        );
        assert_eq!(dns_detail("dns error"), "dns error", "nothing else to say");
    }

    #[tokio::test]
    async fn errors_never_name_the_url() {
        // A webhook's path can be its secret; a feed's URL can carry a password.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let refused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let refused_port = refused.local_addr().unwrap().port();
        drop(refused);
        let client = Client::builder()
            .timeout(Duration::from_millis(200))
            .build()
            .unwrap();
        // A server that answers one request with these bytes; its port.
        let answering = |reply: &'static [u8]| {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            std::thread::spawn(move || {
                use std::io::{Read, Write};
                let (mut stream, _) = listener.accept().unwrap();
                let _ = stream.read(&mut [0; 4096]);
                let _ = stream.write_all(reply);
            });
            port
        };
        // One that promises a body and stops short.
        let cut_port = answering(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort");
        // One whose refusal reqwest reports with the URL and no wrapper to drop.
        let refusing_port = answering(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        let mut errors = Vec::new();
        for url in [
            format!("http://u:pw@127.0.0.1:{refused_port}/services/T0/B0/SECRET"),
            format!(
                "http://127.0.0.1:{}/services/T0/B0/SECRET",
                silent.local_addr().unwrap().port()
            ),
        ] {
            errors.push(client.post(&url).send().await.unwrap_err());
        }
        let url = format!("http://u:pw@127.0.0.1:{cut_port}/services/SECRET");
        let mut response = client.get(&url).send().await.unwrap();
        errors.push(loop {
            match response.chunk().await {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("the body was cut short"),
                Err(error) => break error,
            }
        });
        let url = format!("http://127.0.0.1:{refusing_port}/services/SECRET");
        let response = client.post(&url).send().await.unwrap();
        errors.push(response.error_for_status().unwrap_err());
        // And one reqwest cannot build.
        errors.push(
            client
                .post(format!("http://127.0.0.1:{refused_port}/services/SECRET"))
                .header("webhook-id", "no\nnewlines")
                .send()
                .await
                .unwrap_err(),
        );
        for error in errors {
            let said = cause(&error);
            assert!(
                !said.contains("SECRET") && !said.contains("pw"),
                "{said} ({error})"
            );
            assert!(!said.is_empty());
        }
    }

    #[test]
    fn passwords_are_never_shown() {
        assert_eq!(
            shown("https://reader:s3cret@example.org/feed?x=1"),
            "https://reader:***@example.org/feed?x=1"
        );
        assert_eq!(
            shown("https://reader@example.org/feed"),
            "https://reader@example.org/feed"
        );
        assert_eq!(
            shown("https://example.org/feed"),
            "https://example.org/feed"
        );
        assert_eq!(shown("World Desk @ example"), "World Desk @ example");
    }

    #[test]
    fn cache_and_retry_headers() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=600"),
        );
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("120"));
        assert_eq!(max_age(&h), Some(Duration::from_secs(600)));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(120)));
        h.insert(
            header::RETRY_AFTER,
            HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        // Longer than a day, or more seconds than any clock holds: a day.
        for long in [
            "86401",
            "18446744073709551615",
            "Fri, 01 Jan 2100 00:00:00 GMT",
        ] {
            h.insert(header::RETRY_AFTER, HeaderValue::from_static(long));
            assert_eq!(retry_after(&h), Some(MAX_RETRY_AFTER), "{long}");
        }
    }
}
