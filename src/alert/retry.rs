//! What is retried, and when — decided here and nowhere else.
//!
//! The schedule is Standard Webhooks': after the first attempt, retry after 5 s, 5 min,
//! 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h, each with ±10% jitter; a longer
//! `Retry-After` from the server wins. Email follows the same schedule. What counts as
//! transient: HTTP 408, 429, 5xx and network errors; SMTP 4xx replies and connection or
//! TLS failures (lettre reports these as neither transient nor permanent), and a login
//! the server refuses. Everything else is permanent.
//!
//! Some transient failures are the receiver's, never the message's: it could not be
//! reached (refused, no such host, a TLS failure, no answer to the connection), or the
//! mail server refused the login. Those are [`Attempt::Unavailable`]: the round does not
//! try the channel's other alerts, which would meet the same, each after as long a wait.
//! What may be one message's doing — no answer in time to a request sent, 5xx — stays
//! per alert, so that one message a receiver chokes on cannot hold back the others; but
//! two alerts in a row left unanswered ([`Attempt::Unanswered`]) mean a receiver that
//! hangs, and stop the round for the channel too ([`Breaker`]).
//!
//! A receiver asking for fewer requests (HTTP 429, [`Attempt::Throttled`]: Slack and
//! Discord allow a few messages a second) is a pace to keep, not a failure: the round
//! waits as long as it says (a second when it does not; up to [`THROTTLED_PAUSE_MAX`])
//! and sends the same alert again, for up to [`THROTTLED_WAIT`] a round; past either, the
//! channel's alerts count a failed attempt and wait for their retries (and the receiver's
//! `Retry-After`), as when it is unavailable. A burst of alerts then goes out within the
//! minute instead of a few each retry, hours apart. A 429 is an answer: it never makes
//! an unanswered alert before it and one after it "two in a row".

use std::time::Duration;

/// Delays before each retry, after the first attempt at once.
pub const SCHEDULE: [Duration; 9] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(14 * 3600),
    Duration::from_secs(20 * 3600),
    Duration::from_secs(24 * 3600),
];

/// The outcome of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Delivered,
    /// Worth trying again, after at least `retry_after` if the server said so.
    Transient {
        error: String,
        retry_after: Option<Duration>,
    },
    /// Trying again would fail the same way.
    Permanent(String),
    /// Transient, and about the receiver as a whole (see the module's notes): the
    /// channel's other alerts wait for their retry untried.
    Unavailable {
        error: String,
        retry_after: Option<Duration>,
    },
    /// Transient: the message was sent and not answered within the channel's timeout.
    /// Once may be the message's doing; twice in a row, the receiver hangs.
    Unanswered(String),
    /// The receiver asked for fewer requests (HTTP 429), after `retry_after` if it said.
    Throttled {
        error: String,
        retry_after: Option<Duration>,
    },
}

impl Attempt {
    /// The error of a failed attempt.
    pub fn error(&self) -> Option<&str> {
        match self {
            Attempt::Delivered => None,
            Attempt::Transient { error, .. }
            | Attempt::Unavailable { error, .. }
            | Attempt::Throttled { error, .. }
            | Attempt::Unanswered(error)
            | Attempt::Permanent(error) => Some(error),
        }
    }

    /// The error text, for adding detail to it.
    pub(crate) fn error_mut(&mut self) -> Option<&mut String> {
        match self {
            Attempt::Delivered => None,
            Attempt::Transient { error, .. }
            | Attempt::Unavailable { error, .. }
            | Attempt::Throttled { error, .. }
            | Attempt::Unanswered(error)
            | Attempt::Permanent(error) => Some(error),
        }
    }
}

/// The most a round waits for one channel's receiver that asks for fewer requests,
/// before its alerts count a failed attempt and wait for their retries.
pub const THROTTLED_WAIT: Duration = Duration::from_secs(60);

/// The longest pause a round takes when a receiver asks for one; a longer `Retry-After`
/// is the retry schedule's.
pub const THROTTLED_PAUSE_MAX: Duration = Duration::from_secs(10);

/// How long to wait for a receiver that asked for fewer requests without saying how long.
const THROTTLED_PAUSE: Duration = Duration::from_secs(1);

/// What a round does after one alert's attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Record the outcome and go on to the channel's next alert.
    Next,
    /// Wait this long and send the same alert again (nothing recorded).
    Again(Duration),
    /// Record the outcome and stop trying the channel this round: its other due alerts
    /// count a failed attempt with this error and `Retry-After`.
    Stop(String, Option<Duration>),
}

/// When a round stops trying a channel's alerts, or waits before trying again: at once
/// when the receiver is unavailable; when it has left two alerts in a row unanswered;
/// and when it asks for fewer requests for longer than [`THROTTLED_PAUSE_MAX`] at once or
/// [`THROTTLED_WAIT`] in all.
#[derive(Debug, Default)]
pub struct Breaker {
    unanswered: bool,
    /// Waited this round for a receiver that asked for fewer requests.
    waited: Duration,
}

impl Breaker {
    /// Takes an attempt's outcome and says what the round does next.
    pub fn judge(&mut self, attempt: &Attempt) -> Verdict {
        let unanswered_before = std::mem::take(&mut self.unanswered);
        match attempt {
            Attempt::Throttled { error, retry_after } => {
                let wait = retry_after.unwrap_or(THROTTLED_PAUSE).max(THROTTLED_PAUSE);
                if wait <= THROTTLED_PAUSE_MAX && self.waited + wait <= THROTTLED_WAIT {
                    self.waited += wait;
                    Verdict::Again(wait)
                } else {
                    Verdict::Stop(error.clone(), *retry_after)
                }
            }
            Attempt::Unavailable { error, retry_after } => {
                Verdict::Stop(error.clone(), *retry_after)
            }
            Attempt::Unanswered(error) if unanswered_before => {
                Verdict::Stop(format!("{error}, twice in a row"), None)
            }
            Attempt::Unanswered(_) => {
                self.unanswered = true;
                Verdict::Next
            }
            _ => Verdict::Next,
        }
    }
}

/// When to try again after `failed_attempts` failures (counting the one just made), or
/// `None` when the schedule is spent. `jitter` in [-1, 1] spreads retries by ±10%.
pub fn next_delay(
    failed_attempts: u32,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Option<Duration> {
    let base = *SCHEDULE.get(failed_attempts.checked_sub(1)? as usize)?;
    let spread = base.as_secs_f64() * 0.1 * jitter.clamp(-1.0, 1.0);
    let jittered = Duration::from_secs_f64((base.as_secs_f64() + spread).max(1.0));
    Some(jittered.max(retry_after.unwrap_or_default()))
}

/// Classifies an HTTP response status.
pub fn http_status(status: u16, retry_after: Option<Duration>) -> Attempt {
    match status {
        200..=299 => Attempt::Delivered,
        429 => Attempt::Throttled {
            error: format!("HTTP {status}"),
            retry_after,
        },
        408 | 500..=599 => Attempt::Transient {
            error: format!("HTTP {status}"),
            retry_after,
        },
        _ => Attempt::Permanent(format!("HTTP {status}")),
    }
}

/// Classifies a failure to connect to an SMTP server, secure the connection or log in.
/// It is the channel's, not the message's — even a refusal for good such as a wrong
/// password (535), which the operator mends — so it is [`Attempt::Unavailable`]: the
/// alerts wait for their retries instead of dying, and a round does not log in again
/// for each of them (a server that counts failed logins may lock the account).
pub fn smtp_connect_error(
    host: &str,
    port: u16,
    error: &lettre::transport::smtp::Error,
) -> Attempt {
    Attempt::Unavailable {
        error: format!(
            "connecting to the mail server {}: {}",
            server(host, port),
            crate::fetch::error_chain_of(error, "smtp:// (STARTTLS)")
        ),
        retry_after: None,
    }
}

/// A mail server as messages name it: `host:port` (`[address]:port` for IPv6).
pub fn server(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Classifies an SMTP failure.
pub fn smtp_error(error: &lettre::transport::smtp::Error) -> Attempt {
    let text = crate::fetch::error_chain(error);
    if error.is_permanent() {
        Attempt::Permanent(text)
    } else {
        // Transient replies (4xx), and connection, TLS and timeout errors, which lettre
        // classes as neither.
        Attempt::Transient {
            error: text,
            retry_after: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mail_server_is_named_by_host_and_port() {
        assert_eq!(server("mail.example.org", 587), "mail.example.org:587");
        assert_eq!(server("::1", 25), "[::1]:25");
    }

    #[test]
    fn schedule_with_jitter_and_retry_after() {
        assert_eq!(next_delay(0, None, 0.0), None);
        // The design's schedule, retry by retry: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
        // 14 h, 20 h, 24 h.
        let hours = |h: u64| h * 3600;
        let schedule = [
            5,
            300,
            1800,
            hours(2),
            hours(5),
            hours(10),
            hours(14),
            hours(20),
            hours(24),
        ];
        for (failed, seconds) in (1..).zip(schedule) {
            assert_eq!(
                next_delay(failed, None, 0.0),
                Some(Duration::from_secs(seconds)),
                "after {failed} failed attempts"
            );
        }
        assert_eq!(
            next_delay(10, None, 0.0),
            None,
            "the schedule is spent: dead"
        );
        assert_eq!(next_delay(2, None, 1.0), Some(Duration::from_secs(330)));
        assert_eq!(next_delay(2, None, -1.0), Some(Duration::from_secs(270)));
        assert_eq!(
            next_delay(1, Some(Duration::from_secs(60)), 0.0),
            Some(Duration::from_secs(60)),
            "a longer Retry-After wins"
        );
        assert_eq!(
            next_delay(2, Some(Duration::from_secs(60)), 0.0),
            Some(Duration::from_secs(300))
        );
    }

    #[test]
    fn the_breaker_trips_when_unavailable_or_unanswered_twice_in_a_row() {
        let unanswered = || Attempt::Unanswered("no answer".into());
        let failed = || Attempt::Transient {
            error: "HTTP 500".into(),
            retry_after: None,
        };
        let mut breaker = Breaker::default();
        assert_eq!(
            breaker.judge(&unanswered()),
            Verdict::Next,
            "once may be the message"
        );
        assert_eq!(breaker.judge(&failed()), Verdict::Next);
        assert_eq!(breaker.judge(&unanswered()), Verdict::Next, "not in a row");
        assert_eq!(breaker.judge(&Attempt::Delivered), Verdict::Next);
        assert_eq!(breaker.judge(&unanswered()), Verdict::Next);
        assert_eq!(
            breaker.judge(&unanswered()),
            Verdict::Stop("no answer, twice in a row".into(), None)
        );
        let unavailable = Attempt::Unavailable {
            error: "refused".into(),
            retry_after: Some(Duration::from_secs(60)),
        };
        assert_eq!(
            Breaker::default().judge(&unavailable),
            Verdict::Stop("refused".into(), Some(Duration::from_secs(60)))
        );
    }

    #[test]
    fn a_receiver_asking_for_a_short_pause_is_waited_for_up_to_a_minute_a_round() {
        let throttled = |seconds: Option<u64>| Attempt::Throttled {
            error: "HTTP 429".into(),
            retry_after: seconds.map(Duration::from_secs),
        };
        let mut breaker = Breaker::default();
        assert_eq!(
            breaker.judge(&throttled(Some(2))),
            Verdict::Again(Duration::from_secs(2))
        );
        assert_eq!(
            breaker.judge(&throttled(None)),
            Verdict::Again(Duration::from_secs(1)),
            "a second when it does not say"
        );
        assert_eq!(
            breaker.judge(&throttled(Some(0))),
            Verdict::Again(Duration::from_secs(1)),
            "never at once"
        );
        for _ in 0..5 {
            assert_eq!(
                breaker.judge(&throttled(Some(10))),
                Verdict::Again(Duration::from_secs(10))
            );
        }
        assert_eq!(
            breaker.judge(&throttled(Some(6))),
            Verdict::Again(Duration::from_secs(6)),
            "60 s in all"
        );
        assert_eq!(
            breaker.judge(&throttled(Some(1))),
            Verdict::Stop("HTTP 429".into(), Some(Duration::from_secs(1))),
            "past the round's minute"
        );
        assert_eq!(
            Breaker::default().judge(&throttled(Some(11))),
            Verdict::Stop("HTTP 429".into(), Some(Duration::from_secs(11))),
            "a longer pause is the retry schedule's"
        );
        // A pause does not make one unanswered alert two in a row.
        let mut breaker = Breaker::default();
        assert_eq!(
            breaker.judge(&Attempt::Unanswered("x".into())),
            Verdict::Next
        );
        assert!(matches!(breaker.judge(&throttled(None)), Verdict::Again(_)));
        assert_eq!(
            breaker.judge(&Attempt::Unanswered("x".into())),
            Verdict::Next
        );
    }

    #[test]
    fn http_classes() {
        assert_eq!(http_status(204, None), Attempt::Delivered);
        for status in [408, 500, 502, 503, 504] {
            assert!(
                matches!(http_status(status, None), Attempt::Transient { .. }),
                "{status}"
            );
        }
        assert!(matches!(http_status(429, None), Attempt::Throttled { .. }));
        for status in [400, 401, 403, 404, 410, 422] {
            assert!(
                matches!(http_status(status, None), Attempt::Permanent(_)),
                "{status}"
            );
        }
    }
}
