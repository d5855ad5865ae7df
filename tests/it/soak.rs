//! The soak: `newshound run` for minutes against feeds that keep publishing, with the
//! daemon killed (SIGKILL), stopped (SIGTERM) and reloaded (SIGHUP, an edited config) at
//! random moments, `newshound once` run beside it now and then, feeds failing now and
//! then and a webhook receiver refusing first attempts. At the end every story that ever matched has been alerted on both channels,
//! each exactly once — a story, its update, its copy in a second feed and every restart
//! included. Not part of the default run (it takes minutes):
//!
//! ```sh
//! SOAK_SECS=900 cargo test --release --test it -- --ignored soak
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::smtp_server::SmtpServer;
use crate::support::{Reply, Request, TestServer};

/// Feeds publishing their own stories; as many again carry copies of them (other
/// guids, the same links).
const ORIGINALS: usize = 20;
/// How many of its latest stories a feed shows.
const SHOWN: u64 = 40;

/// Seconds between two stories of feed `base`.
fn period(base: usize) -> f64 {
    3.0 + (base % 5) as f64
}

/// The title of story `k` of feed `base` once it is `age` stories old: one story in
/// four matches from the start and is later updated (still matching); one in seven
/// matches only from its update on.
fn title(base: usize, k: u64, age: u64) -> String {
    let n = base as u64 * 31 + k;
    if n.is_multiple_of(4) {
        let updated = if age > 5 { " (updated)" } else { "" };
        format!("Peskov says {base}.{k}{updated}")
    } else if n.is_multiple_of(7) && age > 3 {
        format!("Weather turns: Peskov comments {base}.{k}")
    } else {
        format!("Weather {base}.{k}")
    }
}

/// The publishing clock: seconds since the start, stopped once the run is over.
struct Clock {
    start: f64,
    frozen: Mutex<Option<f64>>,
}

impl Clock {
    fn unix() -> f64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    }

    fn elapsed(&self) -> f64 {
        self.frozen.lock().unwrap().unwrap_or_else(Clock::unix) - self.start
    }

    fn freeze(&self) {
        *self.frozen.lock().unwrap() = Some(Clock::unix());
    }

    fn running(&self) -> bool {
        self.frozen.lock().unwrap().is_none()
    }

    /// How many stories feed `base` has published so far, less one.
    fn latest(&self, base: usize) -> u64 {
        (self.elapsed() / period(base)) as u64
    }
}

fn story_path(base: usize, k: u64) -> String {
    format!("/a/{base}/{k}")
}

fn feed_body(clock: &Clock, feed: usize, base_url: &str) -> String {
    let base = feed % ORIGINALS;
    let latest = clock.latest(base);
    let items: String = (latest.saturating_sub(SHOWN)..=latest)
        .rev()
        .map(|k| {
            let guid = if feed < ORIGINALS { "f" } else { "copy" };
            let published = clock.start + k as f64 * period(base);
            format!(
                "<item><guid>{guid}-{base}-{k}</guid><title>{}</title>\
                 <link>{base_url}{}?utm_source=feed{feed}</link>\
                 <pubDate>{}</pubDate><description>Story {k} of feed {base}.</description></item>",
                title(base, k, latest - k),
                story_path(base, k),
                httpdate(published as i64),
            )
        })
        .collect();
    format!("<rss version=\"2.0\"><channel><title>Feed {feed}</title>{items}</channel></rss>")
}

fn httpdate(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .unwrap()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// The story paths that ever matched, by the publishing clock.
fn expected(clock: &Clock) -> BTreeSet<String> {
    let mut paths = BTreeSet::new();
    for base in 0..ORIGINALS {
        let latest = clock.latest(base);
        for k in 0..=latest {
            if (0..=latest - k).any(|age| title(base, k, age).contains("Peskov")) {
                paths.insert(story_path(base, k));
            }
        }
    }
    paths
}

fn feeds_server(clock: Arc<Clock>) -> TestServer {
    let base_url = Arc::new(Mutex::new(String::new()));
    let server = TestServer::start({
        let base_url = base_url.clone();
        move |req: &Request| {
            let Some(feed) = req
                .path
                .strip_prefix("/feed/")
                .and_then(|f| f.parse::<usize>().ok())
            else {
                return Reply::status(404);
            };
            let roll = fastrand::f64();
            if clock.running() {
                if roll < 0.05 {
                    return Reply::status(500);
                }
                if roll < 0.06 {
                    return Reply::ok(
                        "text/html",
                        "<html><body>Sign in to the network</body></html>",
                    );
                }
            }
            let body = feed_body(&clock, feed, &base_url.lock().unwrap());
            let etag = format!("\"{:x}\"", fnv(body.as_bytes()));
            let reply = if req.headers.get("if-none-match") == Some(&etag) {
                Reply::status(304)
            } else {
                Reply::ok("application/rss+xml", body)
            };
            let reply = reply.header("ETag", &etag);
            if clock.running() && roll > 0.98 {
                reply.delayed(Duration::from_secs(3))
            } else {
                reply
            }
        }
    });
    *base_url.lock().unwrap() = server.base.clone();
    server
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}

/// Webhook deliveries accepted: (alert id, story path).
type Accepted = Arc<Mutex<Vec<(String, String)>>>;

/// A receiver that refuses one first attempt in ten (the alert is retried 5 s later).
fn receiver(clock: Arc<Clock>, accepted: Accepted) -> TestServer {
    let attempted = Arc::new(Mutex::new(BTreeSet::new()));
    TestServer::start(move |req: &Request| {
        let Ok(body) = serde_json::from_slice::<serde_json::Value>(&req.body) else {
            return Reply::status(400);
        };
        let id = body["id"].as_str().unwrap_or_default().to_owned();
        let first = attempted.lock().unwrap().insert(id.clone());
        if first && clock.running() && fastrand::f64() < 0.1 {
            return Reply::status(500);
        }
        let url = body["story"]["url"].as_str().unwrap_or_default();
        let path = url::Url::parse(url)
            .map(|u| u.path().to_owned())
            .unwrap_or_default();
        accepted.lock().unwrap().push((id, path));
        Reply::ok("text/plain", "ok")
    })
}

struct Daemon {
    config: std::path::PathBuf,
    dir: std::path::PathBuf,
    child: Child,
    starts: usize,
}

impl Daemon {
    fn start(dir: &std::path::Path, config: &std::path::Path, starts: usize) -> Daemon {
        let log = File::create(dir.join(format!("daemon-{starts}.log"))).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_newshound"))
            .args(["--config", config.to_str().unwrap(), "run"])
            .env_remove("NOTIFY_SOCKET")
            .env("NO_COLOR", "1")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("the newshound binary starts");
        Daemon {
            config: config.to_owned(),
            dir: dir.to_owned(),
            child,
            starts,
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([name, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn restart(&mut self) {
        *self = Daemon::start(&self.dir, &self.config, self.starts + 1);
    }

    /// SIGTERM, and the exit code once it has stopped.
    fn stop(&mut self) -> Option<i32> {
        self.signal("-TERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "SIGTERM did not stop the daemon within 30 s (run {})",
            self.starts
        );
    }
}

#[test]
#[ignore = "minutes long; run with --ignored (SOAK_SECS sets the length)"]
fn soak_every_matching_story_is_alerted_once_through_kills_and_reloads() {
    let seconds: u64 = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let clock = Arc::new(Clock {
        start: Clock::unix(),
        frozen: Mutex::new(None),
    });
    let feeds = feeds_server(clock.clone());
    let accepted: Accepted = Arc::default();
    let hook = receiver(clock.clone(), accepted.clone());
    let smtp = SmtpServer::start();
    let dir = tempfile::tempdir().unwrap();
    let mut config = format!(
        "[alerts]\nmax_age = \"100000d\"\n\
         [fetch]\ninterval = \"3s\"\ntimeout = \"5s\"\nconcurrency = 8\nper_host = 8\n\
         [channel.ops]\nkind = \"webhook\"\nurl = \"{}\"\n\
         [channel.desk]\nkind = \"email\"\nto = [\"desk@example.org\"]\nfrom = \"n@example.org\"\nsmtp = \"{}\"\n\
         [[rule]]\nname = \"Peskov\"\nquery = \"Peskov\"\nchannels = [\"ops\", \"desk\"]\n",
        hook.url("/hook"),
        smtp.url()
    );
    for feed in 0..2 * ORIGINALS {
        config.push_str(&format!(
            "[[feed]]\nurl = \"{}\"\n",
            feeds.url(&format!("/feed/{feed}"))
        ));
    }
    let config_path = dir.path().join("newshound.toml");
    std::fs::write(&config_path, &config).unwrap();

    let mut daemon = Daemon::start(dir.path(), &config_path, 1);
    let mut actions: BTreeMap<&str, usize> = BTreeMap::new();
    let mut beside = Vec::new();
    let end = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < end {
        std::thread::sleep(Duration::from_secs_f64(fastrand::f64() * 14.0 + 1.0));
        if let Some(status) = daemon.child.try_wait().unwrap() {
            panic!(
                "the daemon exited by itself ({status}); see {}",
                dir.path().display()
            );
        }
        let action = match fastrand::u32(0..22) {
            // `newshound once` beside the daemon, as a timer or an operator would run it;
            // the delivery lock keeps the two from sending an alert twice.
            20.. => {
                let config = config_path.clone();
                beside.push(std::thread::spawn(move || {
                    Command::new(env!("CARGO_BIN_EXE_newshound"))
                        .args(["--config", config.to_str().unwrap(), "once"])
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status()
                        .unwrap()
                        .code()
                }));
                "once beside it"
            }
            0..10 => {
                daemon.child.kill().unwrap();
                daemon.child.wait().unwrap();
                daemon.restart();
                "SIGKILL"
            }
            10..14 => {
                assert_eq!(daemon.stop(), Some(0), "SIGTERM exits 0");
                daemon.restart();
                "SIGTERM"
            }
            14..17 => {
                daemon.signal("-HUP");
                "SIGHUP"
            }
            _ => {
                std::fs::write(&config_path, &config).unwrap();
                "config rewritten"
            }
        };
        *actions.entry(action).or_default() += 1;
    }

    for once in beside {
        assert_eq!(
            once.join().unwrap(),
            Some(0),
            "`once` beside the daemon exits 0"
        );
    }

    // Publishing stops; everything that ever matched must arrive.
    clock.freeze();
    let expected = expected(&clock);
    let webhook_paths = || -> BTreeSet<String> {
        accepted
            .lock()
            .unwrap()
            .iter()
            .map(|(_, p)| p.clone())
            .collect()
    };
    let email_paths = || -> Vec<(String, String)> {
        smtp.received()
            .iter()
            .map(|m| {
                let parsed = m.parsed();
                let text = parsed.body_text(0).unwrap_or_default().into_owned();
                let path = text
                    .split_whitespace()
                    .find_map(|w| {
                        url::Url::parse(w)
                            .ok()
                            .filter(|u| u.path().starts_with("/a/"))
                    })
                    .map(|u| u.path().to_owned())
                    .unwrap_or_default();
                (m.header("Message-ID").unwrap_or_default(), path)
            })
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline
        && !(expected.is_subset(&webhook_paths())
            && expected.is_subset(&email_paths().into_iter().map(|(_, p)| p).collect()))
    {
        std::thread::sleep(Duration::from_secs(1));
    }
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(daemon.stop(), Some(0));

    let accepted = accepted.lock().unwrap().clone();
    let emails = email_paths();
    eprintln!(
        "soak: {seconds} s, {} starts, {actions:?}; {} feed requests; {} stories matched; \
         {} webhook deliveries, {} emails",
        daemon.starts,
        feeds.requests().len(),
        expected.len(),
        accepted.len(),
        emails.len()
    );
    for (channel, deliveries) in [("webhook", accepted), ("email", emails)] {
        let mut ids_by_path: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut deliveries_by_id: BTreeMap<String, usize> = BTreeMap::new();
        for (id, path) in deliveries {
            ids_by_path.entry(path).or_default().insert(id.clone());
            *deliveries_by_id.entry(id).or_default() += 1;
        }
        let delivered: BTreeSet<String> = ids_by_path.keys().cloned().collect();
        let missing: Vec<_> = expected.difference(&delivered).collect();
        let unexpected: Vec<_> = delivered.difference(&expected).collect();
        assert!(missing.is_empty(), "{channel}: never alerted: {missing:?}");
        assert!(
            unexpected.is_empty(),
            "{channel}: alerted without a match: {unexpected:?}"
        );
        let twice: Vec<_> = ids_by_path
            .iter()
            .filter(|(_, ids)| ids.len() > 1)
            .collect();
        assert!(
            twice.is_empty(),
            "{channel}: stories alerted as two alerts: {twice:?}"
        );
        // A restart may resend the alert that was in flight when the process was killed
        // (with the same id), at most one per kill and channel.
        let resent: usize = deliveries_by_id.values().map(|n| n - 1).sum();
        eprintln!(
            "soak: {channel}: {} alerts, {resent} resent after a kill",
            deliveries_by_id.len()
        );
        assert!(
            resent <= actions.get("SIGKILL").copied().unwrap_or(0),
            "{channel}: {resent} resends for {:?} kills",
            actions.get("SIGKILL")
        );
    }
}
