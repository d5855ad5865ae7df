//! Telling an outage of this host's network from feeds that fail.
//!
//! A failing feed backs off exponentially (up to an hour), which is right for a server
//! in trouble and wrong when the trouble was here: after an hour without a network (or a
//! DNS resolver), every feed would wait out the backoff its failures earned — up to an
//! hour unread after the network is back. So the daemon watches for feeds of several servers
//! that worked and then, one after another, could not reach their servers, with no fetch
//! reaching its server in between; the next fetch that does ends the outage, and the
//! feeds that began failing during it are fetched again at once. A feed failing already
//! (a server long gone) is no sign either way: a few dead feeds failing in a row are not
//! an outage.

use std::collections::HashSet;
use std::time::Duration;

use crate::ingest::{FeedOutcome, FeedReport};
use crate::store::{FailingFeed, StoreHandle};

/// How many servers, reached before, must have become unreachable in a row to take it
/// for this host's outage rather than theirs.
pub const OUTAGE_SERVERS: usize = 3;

/// What a fetch changed about an outage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The run of lost servers is an outage now.
    Began,
    /// The outage that began at `since` is over.
    Ended { since: i64 },
}

/// What one fetch says about the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// The server answered, whatever it said.
    Reached,
    /// No address, no connection, no answer in time, for a feed that was not failing.
    Lost,
    /// Nothing about the network: a feed failing already, one not fetched.
    Unknown,
}

/// The current run of unreachable fetches.
#[derive(Debug, Default)]
pub struct Outage {
    /// When the run began.
    since: Option<i64>,
    /// The servers (host and port) lost in it.
    servers: HashSet<String>,
}

impl Outage {
    /// The outage a daemon finds going on at its start: feeds of [`OUTAGE_SERVERS`]
    /// servers or more that could not reach them since the last fetch of any feed that
    /// did, as `Store::failing_since_any_success` lists them. Without it, a daemon
    /// restarted during an outage would take its feeds, failing already, for no sign.
    pub fn at_start(failing: &[FailingFeed]) -> Outage {
        let lost: Vec<&FailingFeed> = failing.iter().filter(|f| f.unreachable).collect();
        let servers: HashSet<String> = lost
            .iter()
            .filter_map(|f| {
                let url = url::Url::parse(&f.url).ok()?;
                Some(crate::ingest::host_key(&url, f.moved_to.as_deref()))
            })
            .collect();
        if servers.len() < OUTAGE_SERVERS {
            return Outage::default();
        }
        Outage {
            since: lost.iter().map(|f| f.failing_since).min(),
            servers,
        }
    }

    /// Notes a fetch of `server` at `now`, and says when it made the run of lost
    /// servers an outage (the [`OUTAGE_SERVERS`]th server lost) or ended one (the first
    /// server reached after it).
    pub fn note(&mut self, server: &str, reach: Reach, now: i64) -> Option<Change> {
        match reach {
            Reach::Unknown => None,
            Reach::Lost => {
                self.since.get_or_insert(now);
                let before = self.servers.len();
                self.servers.insert(server.to_owned());
                (before < OUTAGE_SERVERS && self.servers.len() >= OUTAGE_SERVERS)
                    .then_some(Change::Began)
            }
            Reach::Reached => {
                let since = self.since.take();
                let servers = std::mem::take(&mut self.servers);
                since
                    .filter(|_| servers.len() >= OUTAGE_SERVERS)
                    .map(|since| Change::Ended { since })
            }
        }
    }

    /// When the outage going on began, once it is taken for one.
    pub fn ongoing(&self) -> Option<i64> {
        self.since.filter(|_| self.servers.len() >= OUTAGE_SERVERS)
    }
}

impl Reach {
    /// What a fetch's outcome says: any answer, an error status included, is a server
    /// reached.
    pub fn of(outcome: &FeedOutcome) -> Reach {
        match outcome {
            FeedOutcome::Failed {
                unreachable: true,
                first_failure: true,
                ..
            } => Reach::Lost,
            FeedOutcome::Failed {
                unreachable: true, ..
            }
            | FeedOutcome::Skipped => Reach::Unknown,
            FeedOutcome::Ingested { .. }
            | FeedOutcome::NotModified
            | FeedOutcome::Failed { .. } => Reach::Reached,
        }
    }
}

/// Notes a fetch's report; when it ends an outage, brings forward the feeds that began
/// failing during it, and says so. An error of the store's is logged: the feeds then
/// keep their backoff, as before.
pub async fn note_fetch(outage: &mut Outage, store: &StoreHandle, report: &FeedReport, now: i64) {
    let server = url::Url::parse(&report.url)
        .map(|url| crate::ingest::host_key(&url, report.moved_to.as_deref()))
        .unwrap_or_default();
    let since = match outage.note(&server, Reach::of(&report.outcome), now) {
        None => return,
        Some(Change::Began) => {
            tracing::warn!(
                servers = OUTAGE_SERVERS,
                "feeds that worked could no longer reach their servers, one after another, none reached \
                 since: this host's network (or its DNS) may be down"
            );
            return;
        }
        Some(Change::Ended { since }) => since,
    };
    let lasted = humantime::format_duration(Duration::from_secs((now - since).max(0) as u64));
    match store.call(move |s| s.resume_failed_since(since, now)).await {
        Ok(feeds) => tracing::info!(
            %lasted,
            feeds,
            "a feed's server answers again after an outage; the feeds that failed during it are fetched again now"
        ),
        Err(error) => {
            tracing::error!(%error, "cannot bring forward the feeds that failed during an outage")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_is_several_servers_unreachable_until_one_is_reached() {
        let mut outage = Outage::default();
        for (at, server) in [(100, "a:443"), (101, "b:443"), (102, "b:443")] {
            assert_eq!(outage.note(server, Reach::Lost, at), None);
        }
        // A feed failing already says nothing, and does not end the run.
        assert_eq!(outage.note("c:80", Reach::Unknown, 103), None);
        assert_eq!(outage.servers.len(), 2);
        // Two servers are not enough: one fetch reaching its server ends the run.
        assert_eq!(outage.note("d:443", Reach::Reached, 104), None);
        assert_eq!(outage.servers.len(), 0);
        for (at, server) in [(200, "a:443"), (201, "b:443")] {
            assert_eq!(outage.note(server, Reach::Lost, at), None);
        }
        assert_eq!(outage.ongoing(), None, "two servers are no outage yet");
        // The third server makes it an outage, said once: not again for a server lost
        // again or a fourth one.
        assert_eq!(outage.note("c:443", Reach::Lost, 260), Some(Change::Began));
        assert_eq!(outage.ongoing(), Some(200));
        assert_eq!(outage.note("c:443", Reach::Lost, 270), None);
        assert_eq!(outage.note("d:443", Reach::Lost, 280), None);
        assert_eq!(
            outage.note("b:443", Reach::Reached, 300),
            Some(Change::Ended { since: 200 })
        );
        assert_eq!(outage.ongoing(), None);
        // Over: the next fetch that reaches its server ends nothing.
        assert_eq!(outage.note("a:443", Reach::Reached, 301), None);
    }

    #[test]
    fn a_daemon_starting_during_an_outage_finds_it() {
        let failing = |url: &str, since: i64, unreachable: bool| FailingFeed {
            url: url.to_owned(),
            moved_to: None,
            failing_since: since,
            unreachable,
        };
        let three = [
            failing("https://a.example/feed", 300, true),
            failing("https://b.example/feed", 200, true),
            failing("https://b.example/other", 100, true),
            failing("https://c.example/feed", 250, true),
            failing("https://d.example/feed", 50, false),
        ];
        assert_eq!(Outage::at_start(&three).ongoing(), Some(100));
        let mut four = three.to_vec();
        four.push(failing("https://e.example/feed", 150, true));
        assert_eq!(
            Outage::at_start(&four).ongoing(),
            Some(100),
            "more than enough"
        );
        // Two servers unreachable, and one answering 503, are no outage.
        assert_eq!(Outage::at_start(&three[..3]).ongoing(), None);
        let mut outage = Outage::at_start(&[three[0].clone(), three[1].clone(), three[4].clone()]);
        assert_eq!(outage.ongoing(), None);
        assert_eq!(outage.note("x:443", Reach::Reached, 400), None);
        // Once found, the first server reached ends it.
        let mut outage = Outage::at_start(&three);
        assert_eq!(
            outage.note("e:443", Reach::Reached, 400),
            Some(Change::Ended { since: 100 })
        );
    }

    #[test]
    fn one_dead_server_is_no_outage() {
        let mut outage = Outage::default();
        for at in 0..10 {
            outage.note("dead:443", Reach::Lost, at);
        }
        assert_eq!(outage.note("alive:443", Reach::Reached, 10), None);
    }

    #[test]
    fn only_a_feed_that_was_not_failing_counts() {
        let failed = |first_failure| FeedOutcome::Failed {
            error: String::new(),
            unreachable: true,
            first_failure,
        };
        assert_eq!(Reach::of(&failed(true)), Reach::Lost);
        assert_eq!(Reach::of(&failed(false)), Reach::Unknown);
        let refused = FeedOutcome::Failed {
            error: "HTTP 503".into(),
            unreachable: false,
            first_failure: true,
        };
        assert_eq!(Reach::of(&refused), Reach::Reached, "a server that answers");
    }
}
