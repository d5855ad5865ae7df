//! When a feed is due again: after a success (its interval, stretched by the feed's own
//! caching hints) and after a failure (capped exponential backoff).

use std::time::Duration;

/// The longest a feed's own caching hints (`max-age`, `<ttl>`) may stretch its interval.
pub const MAX_HINTED_INTERVAL: Duration = Duration::from_secs(4 * 3600);
/// How long after a fetch that showed a possible gap (every entry new: see
/// [`crate::store::PossibleGap`]) the feed's caching hints are set aside, and it is
/// fetched at its own interval.
pub const HINTS_SET_ASIDE_AFTER_GAP: Duration = Duration::from_secs(7 * 86400);
/// How long a feed may answer 304 before it is asked once without its validators: a
/// server that answers "not modified" by a date or tag that no longer follows its feed
/// (a script's own modification time, a cached ETag) would otherwise hide every story
/// for good.
pub const CHECK_NOT_MODIFIED_AFTER: Duration = Duration::from_secs(86400);
/// The cap on the backoff of a failing feed (or its interval, if that is longer). News
/// does not keep: a site overloaded by the very story being watched, answering 503 for
/// two hours, must be read again within the hour after, not up to six hours later; and an
/// hourly request is no burden on a server that is down.
pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// How far a feed's interval is stretched or shortened at random, as a fraction of it
/// (so feeds drift apart instead of firing together).
pub const JITTER: f64 = 0.1;

/// When a feed that just succeeded is due again: its interval (±[`JITTER`] by `jitter`
/// in [-1, 1]), stretched — within bounds — when the server (`Cache-Control: max-age`)
/// or the feed (`<ttl>`) asks for less frequent polling. The bounds: [`MAX_HINTED_INTERVAL`],
/// and half of `alerts_max_age` (`[alerts] max_age`), so that a story published just
/// after one read is still young enough to alert at the next, with room for a failed
/// read between them. A configured interval is never shortened.
pub fn next_due_after_success(
    now: i64,
    interval: Duration,
    cache_max_age: Option<Duration>,
    ttl_minutes: Option<u32>,
    alerts_max_age: Duration,
    jitter: f64,
) -> i64 {
    let hinted = [
        cache_max_age,
        ttl_minutes.map(|m| Duration::from_secs(u64::from(m) * 60)),
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or_default()
    .min(MAX_HINTED_INTERVAL)
    .min(alerts_max_age / 2);
    let jittered = interval.as_secs_f64() * (1.0 + JITTER * jitter.clamp(-1.0, 1.0));
    now + (jittered.round() as i64)
        .max(1)
        .max(hinted.as_secs() as i64)
}

/// When a failing feed is tried again: exponential backoff from its interval, capped
/// at [`MAX_BACKOFF`] (never given up), or later if the server said so.
pub fn next_due_after_failure(
    now: i64,
    interval: Duration,
    consecutive_errors: i64,
    retry_after: Option<Duration>,
) -> i64 {
    let exponent = consecutive_errors.clamp(0, 16) as u32;
    let backoff = interval
        .saturating_mul(2u32.saturating_pow(exponent))
        .min(MAX_BACKOFF.max(interval));
    // (A server's `Retry-After` is at most a day: `fetch::MAX_RETRY_AFTER`.)
    let wait = backoff.max(retry_after.unwrap_or_default());
    now + wait.as_secs() as i64
}
/// A random number in [-1, 1].
pub(super) fn jitter() -> f64 {
    fastrand::f64() * 2.0 - 1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_interval_honours_hints_within_bounds() {
        let ten = Duration::from_secs(600);
        let three_days = Duration::from_secs(3 * 86400);
        let due = |max_age: Option<u64>, ttl: Option<u32>, jitter: f64| {
            next_due_after_success(
                0,
                ten,
                max_age.map(Duration::from_secs),
                ttl,
                three_days,
                jitter,
            )
        };
        assert_eq!(due(None, None, 0.0), 600);
        assert_eq!(
            due(Some(1800), None, 0.0),
            1800,
            "Cache-Control max-age stretches it"
        );
        assert_eq!(due(None, Some(60), 0.0), 3600, "so does <ttl>");
        assert_eq!(due(Some(7 * 86400), None, 0.0), 4 * 3600, "bounded");
        assert_eq!(due(Some(5), None, 0.0), 600, "a floor, never shorter");
        // Jitter stays within ±10% of the interval.
        assert_eq!(due(None, None, 1.0), 660);
        assert_eq!(due(None, None, -1.0), 540);
        for _ in 0..1000 {
            assert!((540..=660).contains(&due(None, None, super::jitter())));
        }
    }

    #[test]
    fn jitter_spreads_over_its_whole_range() {
        let draws: Vec<f64> = (0..1000).map(|_| super::jitter()).collect();
        assert!(draws.iter().all(|j| (-1.0..=1.0).contains(j)), "{draws:?}");
        // Feeds drift apart both ways (the odds of 1,000 uniform draws missing either
        // end's quarter are below 10^-120).
        assert!(draws.iter().any(|&j| j < -0.5) && draws.iter().any(|&j| j > 0.5));
    }

    #[test]
    fn hints_never_stretch_an_interval_past_half_the_alert_age() {
        let (ten, hour) = (Duration::from_secs(600), Duration::from_secs(3600));
        // Stories older than two hours are not alerted: a feed asking by <ttl> to be read
        // every four hours is read every hour.
        assert_eq!(
            next_due_after_success(0, ten, None, Some(240), 2 * hour, 0.0),
            3600
        );
        assert_eq!(
            next_due_after_success(0, ten, Some(4 * hour), None, 2 * hour, 0.0),
            3600
        );
        // Under a roomy max_age the hint stands.
        assert_eq!(
            next_due_after_success(0, ten, None, Some(240), 9 * hour, 0.0),
            4 * 3600
        );
        // The configured interval is the operator's (`check` warns when it is too long).
        assert_eq!(
            next_due_after_success(0, 3 * hour, None, Some(240), 2 * hour, 0.0),
            3 * 3600
        );
    }

    #[test]
    fn failure_backoff_is_exponential_capped_and_honours_retry_after() {
        let ten = Duration::from_secs(600);
        assert_eq!(next_due_after_failure(0, ten, 0, None), 600);
        assert_eq!(next_due_after_failure(0, ten, 1, None), 1200);
        assert_eq!(next_due_after_failure(0, ten, 2, None), 2400);
        assert_eq!(
            next_due_after_failure(0, ten, 3, None),
            3600,
            "capped at an hour"
        );
        assert_eq!(next_due_after_failure(0, ten, 40, None), 3600);
        // A feed read less often than hourly waits its own interval.
        let day = Duration::from_secs(86400);
        assert_eq!(next_due_after_failure(0, day, 5, None), 86400);
        assert_eq!(
            next_due_after_failure(0, ten, 0, Some(Duration::from_secs(3000))),
            3000
        );
    }
}
