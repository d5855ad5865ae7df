//! `newshound run` as systemd runs it: the real binary, `NOTIFY_SOCKET` pointing at a
//! datagram socket this test owns, signals, and config edits.

use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::smtp_server::SmtpServer;
use crate::support::{RefusingPort, Reply, Request, TestServer, Workspace};

/// A feed whose items the test can add to while the daemon runs.
struct LiveFeed {
    items: Arc<Mutex<Vec<String>>>,
    server: TestServer,
}

impl LiveFeed {
    fn start() -> LiveFeed {
        let items: Arc<Mutex<Vec<String>>> = Arc::default();
        let shared = items.clone();
        let server = TestServer::start(move |_: &Request| {
            let items: String = shared
                .lock()
                .unwrap()
                .iter()
                .enumerate()
                .map(|(i, title)| {
                    format!("<item><guid>live-{i}</guid><title>{title}</title></item>")
                })
                .collect();
            Reply::ok(
                "application/rss+xml",
                format!("<rss version=\"2.0\"><channel><title>Live</title>{items}</channel></rss>"),
            )
        });
        LiveFeed { items, server }
    }

    fn add(&self, title: &str) {
        self.items.lock().unwrap().push(title.to_owned());
    }
}

/// The daemon as a child process, with the notification socket it reports to.
struct Daemon {
    child: Child,
    socket: UnixDatagram,
    /// Every notification received so far.
    seen: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Daemon {
    fn start(ws: &Workspace) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_newshound"))
            .args(["--config", ws.config().to_str().unwrap(), "run"])
            .env("NOTIFY_SOCKET", &path)
            .env("WATCHDOG_USEC", "2000000")
            .env("WATCHDOG_PID", "")
            .env_remove("JOURNAL_STREAM")
            .env_remove("RUST_LOG")
            // The daemon logs to stdout, as systemd expects.
            .stdout(std::fs::File::create(ws.dir.path().join("daemon.log")).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Daemon {
            child,
            socket,
            seen: Vec::new(),
            _dir: dir,
        }
    }

    /// Waits for a notification line satisfying `pred` (at most 30 s), returning it.
    fn wait_for(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut buf = [0u8; 4096];
        loop {
            if let Some(found) = self.seen.iter().find(|l| pred(l)) {
                let found = found.clone();
                // Consume up to and including it, so the next wait looks further.
                let at = self.seen.iter().position(|l| *l == found).unwrap();
                self.seen.drain(..=at);
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "no {what} notification; saw {:?}",
                self.seen
            );
            if let Ok(n) = self.socket.recv(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                self.seen.extend(text.lines().map(str::to_owned));
            }
        }
    }

    /// Reads whatever notifications arrive within a moment.
    fn wait_for_quietly(&mut self) -> usize {
        let mut buf = [0u8; 4096];
        match self.socket.recv(&mut buf) {
            Ok(n) => {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                self.seen.extend(text.lines().map(str::to_owned));
                n
            }
            Err(_) => 0,
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until no alert in the workspace's database is left to deliver.
fn wait_for_delivery(ws: &Workspace) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let path = ws.dir.path().join("newshound.db");
    loop {
        if let Ok(store) = newshound::store::Store::open(&path)
            && let Ok((0, 0, _)) = store.outbox_counts()
        {
            return;
        }
        assert!(Instant::now() < deadline, "alerts never delivered");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until the database holds a hit of `rule` on a story titled `title` (read
/// directly: the config may be broken on purpose meanwhile).
fn wait_for_hit(ws: &Workspace, rule: &str, title: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let path = ws.dir.path().join("newshound.db");
    loop {
        if let Ok(store) = newshound::store::Store::open(&path)
            && let Ok(hits) = store.hits(Some(rule), 0)
            && hits.iter().any(|h| h.title == title)
        {
            return;
        }
        assert!(Instant::now() < deadline, "no {rule} hit on {title:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn config(feed: &str, rules: &str) -> String {
    format!(
        "[fetch]\ninterval = \"2s\"\n\n[[feed]]\nurl = \"{feed}\"\n\n[channel.console]\nkind = \"log\"\n{rules}"
    )
}

const PESKOV: &str = "[[rule]]\nname = \"Peskov\"\nquery = \"Peskov\"\n";
const EMBASSY: &str = "[[rule]]\nname = \"Embassy\"\nquery = \"embass* NEAR/5 reopen*\"\n";
const KREMLIN: &str = "[[rule]]\nname = \"Kremlin\"\nquery = \"Kremlin\"\n";

#[test]
fn the_daemon_notifies_reloads_and_stops_cleanly() {
    let feed = LiveFeed::start();
    feed.add("Peskov speaks");
    let ws = Workspace::new(&config(&feed.server.url("/feed"), PESKOV));
    let mut daemon = Daemon::start(&ws);

    daemon.wait_for("READY", |l| l == "READY=1");
    let status = daemon.wait_for("STATUS", |l| l.starts_with("STATUS="));
    assert!(
        status.starts_with("STATUS=feeds: 1, rules: 1, pending alerts: "),
        "{status}"
    );
    daemon.wait_for("WATCHDOG", |l| l == "WATCHDOG=1");
    wait_for_hit(&ws, "Peskov", "Peskov speaks");

    // SIGHUP with a new rule: it applies to the stories that arrive from then on. The
    // database moves only with a restart: everything keeps to the one in use.
    ws.write(
        "newshound.toml",
        &format!(
            "[storage]\npath = \"moved.db\"\n\n{}",
            config(&feed.server.url("/feed"), &format!("{PESKOV}{EMBASSY}"))
        ),
    );
    daemon.signal("HUP");
    daemon.wait_for("RELOADING", |l| l == "RELOADING=1");
    daemon.wait_for("READY after reload", |l| l == "READY=1");
    let status = daemon.wait_for("STATUS", |l| l.starts_with("STATUS="));
    assert!(status.contains("rules: 2"), "{status}");
    feed.add("The embassy will reopen");
    wait_for_hit(&ws, "Embassy", "The embassy will reopen");
    wait_for_delivery(&ws);
    assert!(ws.dir.path().join("newshound.db-delivery.lock").exists());
    assert!(
        !ws.dir.path().join("moved.db-delivery.lock").exists(),
        "delivery locks the database in use"
    );

    // An invalid edit is reported and the old rules keep working.
    ws.write(
        "newshound.toml",
        &config(
            &feed.server.url("/feed"),
            "[[rule]]\nname = \"Broken\"\nquery = \"(Peskov\"\n",
        ),
    );
    daemon.signal("HUP");
    let status = daemon.wait_for("the error in STATUS", |l| l.contains("config not reloaded"));
    assert!(
        status.contains("newshound.toml:11:10: rule `Broken`: bad query at column 1: unclosed `(`"),
        "{status}"
    );
    feed.add("Peskov again");
    wait_for_hit(&ws, "Peskov", "Peskov again");

    // An edit on disk, with no signal, reloads too.
    ws.write(
        "newshound.toml",
        &config(&feed.server.url("/feed"), &format!("{PESKOV}{KREMLIN}")),
    );
    // (Earlier notifications may still be queued; the STATUS after this reload is the
    // one with both rules and no error.)
    daemon.wait_for("the reloaded STATUS", |l| {
        l.starts_with("STATUS=") && l.contains("rules: 2") && !l.contains("error")
    });
    feed.add("Kremlin silent");
    wait_for_hit(&ws, "Kremlin", "Kremlin silent");

    // SIGTERM: STOPPING, then exit 0, promptly.
    let asked = Instant::now();
    daemon.signal("TERM");
    daemon.wait_for("STOPPING", |l| l == "STOPPING=1");
    let status = daemon.child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(
        asked.elapsed() < Duration::from_secs(15),
        "stopped in {:?}",
        asked.elapsed()
    );
}

#[test]
fn a_second_daemon_on_the_same_database_is_refused() {
    let feed = LiveFeed::start();
    let ws = Workspace::new(&config(&feed.server.url("/feed"), PESKOV));
    let mut daemon = Daemon::start(&ws);
    daemon.wait_for("READY", |l| l == "READY=1");

    let mut second = Command::new(env!("CARGO_BIN_EXE_newshound"))
        .args(["--config", ws.config().to_str().unwrap(), "run"])
        .env_remove("NOTIFY_SOCKET")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while second.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            second.kill().unwrap();
            panic!("a second daemon ran on the same database");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = second.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("another `newshound run` is using the database")
            && err.contains("newshound.db-daemon.lock"),
        "{err}"
    );
    // `once` beside the daemon is fine.
    ws.ok(&["once"]);

    // Once the first is gone (even killed), a daemon starts again.
    drop(daemon);
    let mut again = Daemon::start(&ws);
    again.wait_for("READY", |l| l == "READY=1");
}

#[test]
fn sigterm_keeps_pending_alerts() {
    let feed = LiveFeed::start();
    feed.add("Peskov speaks");
    // An SMTP server that takes its time: alerts are pending when the stop comes.
    let smtp = SmtpServer::start();
    smtp.reply_with(&["451 4.3.0 try later"; 50]);
    let channel = format!(
        "[channel.desk]\nkind = \"email\"\nto = [\"d@example.org\"]\nfrom = \"n@example.org\"\nsmtp = \"{}\"\n",
        smtp.url()
    );
    let ws = Workspace::new(&format!(
        "[fetch]\ninterval = \"2s\"\n\n[[feed]]\nurl = \"{}\"\n\n{channel}[[rule]]\nname = \"Peskov\"\nquery = \"Peskov\"\nchannels = [\"desk\"]\n",
        feed.server.url("/feed")
    ));
    let mut daemon = Daemon::start(&ws);
    daemon.wait_for("READY", |l| l == "READY=1");
    wait_for_hit(&ws, "Peskov", "Peskov speaks");
    daemon.wait_for("a pending alert in STATUS", |l| {
        l.starts_with("STATUS=") && !l.contains("pending alerts: 0")
    });
    daemon.signal("TERM");
    assert_eq!(daemon.child.wait().unwrap().code(), Some(0));
    let hits = ws.json(&["hits", "--since", "1d"]);
    let state = hits[0]["deliveries"][0]["state"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        state == "failed" || state == "pending",
        "the alert is still queued: {hits}"
    );
    assert!(smtp.received().is_empty());
}

#[test]
fn under_journald_log_lines_carry_priorities_and_no_colours_or_timestamps() {
    let ws = Workspace::new("[[feed]]\nurl = \"http://127.0.0.1:9/unreachable\"\n");
    let out = Command::new(env!("CARGO_BIN_EXE_newshound"))
        .args(["--config", ws.config().to_str().unwrap(), "once"])
        .env("JOURNAL_STREAM", "8:12345")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    let warning = log
        .lines()
        .find(|l| l.contains("feed failed"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(
        warning.starts_with("<4>newshound::ingest: feed failed"),
        "{warning}"
    );
    assert!(!log.contains('\u{1b}'), "no colours: {log}");
}

#[test]
fn the_scheduler_never_overlaps_a_feed_stops_gone_ones_and_records_moves() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (active, peak, gone) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let (a, p, g) = (active.clone(), peak.clone(), gone.clone());
    let server = TestServer::start(move |req: &Request| match req.path.as_str() {
        "/slow" => {
            // Slower than the feed's interval: a second fetch must not start meanwhile.
            let now = a.fetch_add(1, Ordering::SeqCst) + 1;
            p.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(2500));
            a.fetch_sub(1, Ordering::SeqCst);
            Reply::ok("application/rss+xml", crate::support::fixture("world.rss"))
        }
        "/gone" => {
            g.fetch_add(1, Ordering::SeqCst);
            Reply::status(410)
        }
        "/old" => Reply::status(301).header("Location", "/new"),
        "/new" => Reply::ok("application/rss+xml", crate::support::fixture("world.rss")),
        _ => Reply::status(404),
    });
    let feeds: String = ["/slow", "/gone", "/old"]
        .iter()
        .map(|p| format!("[[feed]]\nurl = \"{}\"\ninterval = \"1s\"\n", server.url(p)))
        .collect();
    let ws = Workspace::new(&format!("[fetch]\nper_host = 4\n{feeds}"));
    let mut daemon = Daemon::start(&ws);
    daemon.wait_for("READY", |l| l == "READY=1");
    // Seven seconds of schedule, reading notifications meanwhile.
    let until = Instant::now() + Duration::from_secs(7);
    while Instant::now() < until {
        let _ = daemon.wait_for_quietly();
    }
    daemon.signal("TERM");
    assert_eq!(daemon.child.wait().unwrap().code(), Some(0));
    assert_eq!(
        peak.load(Ordering::SeqCst),
        1,
        "a feed is never fetched twice at once"
    );
    assert_eq!(gone.load(Ordering::SeqCst), 1, "410 stops polling");
    let feeds = ws.json(&["feeds"]);
    let row = |p: &str| {
        feeds
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["url"] == server.url(p).as_str())
            .unwrap()
            .clone()
    };
    assert_eq!(row("/gone")["status"], "gone");
    assert_eq!(row("/old")["moved_to"], server.url("/new").as_str());
    // After the move, fetched at its new address without asking the old one.
    let asked_old = server
        .requests()
        .iter()
        .filter(|r| r.path == "/old")
        .count();
    let asked_new = server
        .requests()
        .iter()
        .filter(|r| r.path == "/new")
        .count();
    assert_eq!(asked_old, 1, "the old address is asked once");
    assert!(asked_new >= 3, "{asked_new} fetches of the new address");
    // Read at its new place meanwhile (later polls find the same body: not_modified).
    for path in ["/old", "/slow"] {
        let status = &row(path)["status"];
        assert!(
            status == "ok" || status == "not_modified",
            "{path}: {status}"
        );
        assert!(row(path)["last_error"].is_null(), "{path}");
    }
}

/// A live feed with one quiet story, configured at `interval` and fetched once by
/// `newshound once`; and its URL and workspace.
fn fetched_once_at_interval(interval: &str) -> (LiveFeed, String, Workspace) {
    let feed = LiveFeed::start();
    feed.add("Quiet morning");
    let url = feed.server.url("/feed");
    let text =
        config(&url, PESKOV).replace("interval = \"2s\"", &format!("interval = {interval:?}"));
    let ws = Workspace::new(&text);
    ws.ok(&["once"]);
    (feed, url, ws)
}

#[test]
fn a_shortened_interval_applies_at_the_reload() {
    let (feed, url, ws) = fetched_once_at_interval("1h"); // next due in an hour
    let mut daemon = Daemon::start(&ws);
    daemon.wait_for("READY", |l| l == "READY=1");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(feed.server.requests().len(), 1, "not due for an hour");

    feed.add("Peskov speaks");
    ws.write("newshound.toml", &config(&url, PESKOV));
    daemon.signal("HUP");
    daemon.wait_for("READY after reload", |l| l == "READY=1");
    wait_for_hit(&ws, "Peskov", "Peskov speaks");
    assert!(feed.server.requests().len() >= 2);
}

#[test]
fn an_interval_shortened_while_stopped_applies_at_the_start() {
    let (feed, url, ws) = fetched_once_at_interval("1h"); // next due in an hour
    let mut daemon = Daemon::start(&ws);
    daemon.wait_for("READY", |l| l == "READY=1");
    daemon.signal("TERM");
    assert_eq!(daemon.child.wait().unwrap().code(), Some(0));
    assert_eq!(feed.server.requests().len(), 1, "not due for an hour");

    feed.add("Peskov speaks");
    ws.write("newshound.toml", &config(&url, PESKOV));
    let mut daemon = Daemon::start(&ws);
    daemon.wait_for("READY", |l| l == "READY=1");
    wait_for_hit(&ws, "Peskov", "Peskov speaks");
}

#[test]
fn times_recorded_while_the_clock_was_ahead_do_not_hold_feeds_back() {
    let (_feed, _, ws) = fetched_once_at_interval("10m");
    // As if that fetch ran while the system clock was a day ahead, since corrected.
    let db = rusqlite::Connection::open(ws.dir.path().join("newshound.db")).unwrap();
    db.execute(
        "UPDATE feeds SET last_fetch = last_fetch + 86400, next_due = next_due + 86400",
        [],
    )
    .unwrap();
    drop(db);
    let mut daemon = Daemon::start(&ws);
    daemon.wait_for("READY", |l| l == "READY=1");
    // Due ten minutes after the fetch, counted from now: not yet, and not in a day.
    let feeds = ws.json(&["feeds"]);
    let at = |key: &str| {
        chrono::DateTime::parse_from_rfc3339(feeds[0][key].as_str().unwrap())
            .unwrap()
            .timestamp()
    };
    let (fetched, due) = (at("last_fetch"), at("next_due"));
    let now = chrono::Utc::now().timestamp();
    assert!((now - 60..=now).contains(&fetched), "{feeds}");
    assert!((fetched + 500..=fetched + 700).contains(&due), "{feeds}");
}

#[test]
fn the_status_line_counts_failing_and_quiet_feeds() {
    // The live feed lists nothing, and may be quiet for a second.
    let feed = LiveFeed::start();
    let refused = format!(
        "http://127.0.0.1:{}/feed",
        crate::support::RefusingPort::new().port()
    );
    let ws = Workspace::new(&format!(
        "{}[[feed]]\nurl = \"{refused}\"\n",
        config(&feed.server.url("/feed"), PESKOV).replace(
            "interval = \"2s\"\n",
            "interval = \"2s\"\nquiet_after = \"1s\"\n"
        )
    ));
    let mut daemon = Daemon::start(&ws);
    daemon.wait_for("READY", |l| l == "READY=1");
    let status = daemon.wait_for("a failing feed in STATUS", |l| {
        l.starts_with("STATUS=") && l.contains("failing")
    });
    assert!(status.starts_with("STATUS=feeds: 2 (1 failing"), "{status}");
    let status = daemon.wait_for("a quiet feed in STATUS", |l| {
        l.starts_with("STATUS=") && l.contains("quiet")
    });
    assert!(
        status.starts_with("STATUS=feeds: 2 (1 failing, 1 quiet), rules: 1, pending alerts: "),
        "{status}"
    );
}

#[test]
fn the_status_line_counts_dead_alerts_and_names_failing_channels() {
    // A webhook that refuses for good (404): the alert is dead, and `systemctl status`
    // says so until it is requeued.
    let hook = TestServer::start(|_| Reply::status(404));
    let feed = LiveFeed::start();
    feed.add("Peskov speaks");
    let ws = Workspace::new(&format!(
        "{}[channel.ops]\nkind = \"webhook\"\nurl = \"{}\"\n",
        config(
            &feed.server.url("/feed"),
            "[[rule]]\nname = \"Peskov\"\nquery = \"Peskov\"\nchannels = [\"ops\"]\n"
        ),
        hook.url("/hook")
    ));
    let mut daemon = Daemon::start(&ws);
    let status = daemon.wait_for("a dead alert in STATUS", |l| {
        l.starts_with("STATUS=") && l.contains("dead")
    });
    assert!(
        status.ends_with(
            "pending alerts: 0, failing channels: ops, dead alerts: 1 (see `newshound hits`; `newshound requeue`)"
        ),
        "{status}"
    );
    daemon.signal("TERM");
    daemon.child.wait().unwrap();
}

#[test]
fn the_daemon_logs_a_rule_limited_to_no_feed_at_its_start_and_reload() {
    let feed = LiveFeed::start();
    let rule = "[[rule]]\nname = \"Peskov\"\nquery = \"Peskov\"\nfeeds = [\"Wrold Desk\"]\n";
    let ws = Workspace::new(&config(&feed.server.url("/feed"), rule));
    let mut daemon = Daemon::start(&ws);
    daemon.wait_for("READY", |l| l == "READY=1");
    let warning = "rule `Peskov`: no feed is called \"Wrold Desk\"";
    let log = || std::fs::read_to_string(ws.dir.path().join("daemon.log")).unwrap();
    assert_eq!(log().matches(warning).count(), 1, "{}", log());
    ws.write(
        "newshound.toml",
        &config(&feed.server.url("/feed"), &format!("{rule}{KREMLIN}")),
    );
    daemon.signal("HUP");
    daemon.wait_for("the reloaded STATUS", |l| {
        l.starts_with("STATUS=") && l.contains("rules: 2")
    });
    assert_eq!(log().matches(warning).count(), 2, "{}", log());
    daemon.signal("TERM");
    daemon.child.wait().unwrap();
}

#[test]
fn a_database_replaced_under_the_daemon_stops_it_with_an_error() {
    // A backup restored over the database while the daemon runs: writing on into the
    // file it has open would lose everything with the process, and ignore the backup.
    let feed = LiveFeed::start();
    let ws = Workspace::new(&config(&feed.server.url("/feed"), PESKOV));
    let mut daemon = Daemon::start(&ws);
    daemon.wait_for("READY", |l| l == "READY=1");
    let path = ws.dir.path().join("newshound.db");
    let copy = ws.dir.path().join("restored.db");
    std::fs::copy(&path, &copy).unwrap();
    std::fs::rename(&copy, &path).unwrap();
    let deadline = Instant::now() + Duration::from_secs(40);
    let status = loop {
        if let Some(status) = daemon.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the daemon went on");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(1), "a failure, for Restart=on-failure");
    let log = std::fs::read_to_string(ws.dir.path().join("daemon.log")).unwrap();
    assert!(
        log.contains(&format!(
            "the database {} was removed or replaced while in use",
            path.display()
        )),
        "{log}"
    );
}

#[test]
fn feeds_that_failed_while_the_network_was_down_are_fetched_as_soon_as_it_is_back() {
    // Three servers unreachable in a row, none reached in between, is this host's outage:
    // once a server answers again, the feeds that failed during it are fetched at once,
    // not after the backoff their failures earned.
    let ports: Vec<RefusingPort> = (0..3).map(|_| RefusingPort::new()).collect();
    let urls: Vec<String> = ports
        .iter()
        .map(|p| format!("http://127.0.0.1:{}/feed", p.port()))
        .collect();
    let feeds: String = urls
        .iter()
        .map(|u| format!("[[feed]]\nurl = \"{u}\"\n"))
        .collect();
    let text = |more: &str| {
        format!(
            "[fetch]\ninterval = \"2s\"\n{feeds}{more}[channel.console]\nkind = \"log\"\n{PESKOV}"
        )
    };
    let ws = Workspace::new(&text(""));
    let mut daemon = Daemon::start(&ws);
    daemon.wait_for("READY", |l| l == "READY=1");
    // Four failures each: the next attempts are 16 s away.
    let deadline = Instant::now() + Duration::from_secs(40);
    while !ws
        .json(&["feeds"])
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["consecutive_errors"].as_i64() >= Some(4))
    {
        assert!(Instant::now() < deadline, "{}", ws.json(&["feeds"]));
        std::thread::sleep(Duration::from_millis(300));
    }
    daemon.wait_for("the outage in STATUS", |l| {
        l.starts_with("STATUS=feeds: 3 (3 failing), network: no server reached since ")
    });
    // A daemon restarted during the outage finds it, from the feeds' records.
    daemon.signal("TERM");
    assert_eq!(daemon.child.wait().unwrap().code(), Some(0));
    let mut daemon = Daemon::start(&ws);
    daemon.wait_for("the outage in STATUS after a restart", |l| {
        l.starts_with("STATUS=feeds: 3 (3 failing), network: no server reached since ")
    });
    let servers: Vec<TestServer> = ports
        .into_iter()
        .map(|port| {
            TestServer::on(port.listen(), |_: &Request| {
                Reply::ok(
                    "application/rss+xml",
                    "<rss version=\"2.0\"><channel><title>Back</title><item><guid>b</guid><title>Back</title></item></channel></rss>",
                )
            })
        })
        .collect();
    // The network is back; the first feed to see it is a new one.
    let canary = LiveFeed::start();
    let back = Instant::now();
    ws.write(
        "newshound.toml",
        &text(&format!(
            "[[feed]]\nurl = \"{}\"\ninterval = \"1s\"\n",
            canary.server.url("/feed")
        )),
    );
    daemon.signal("HUP");
    while servers.iter().any(|s| s.requests().is_empty()) {
        assert!(
            back.elapsed() < Duration::from_secs(8),
            "the feeds wait out their backoff: {}",
            ws.json(&["feeds"])
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    daemon.wait_for("STATUS after the outage", |l| {
        l.starts_with("STATUS=") && !l.contains("network:")
    });
    let log = std::fs::read_to_string(ws.dir.path().join("daemon.log")).unwrap();
    assert!(
        log.contains("this host's network (or its DNS) may be down"),
        "{log}"
    );
    assert!(
        log.contains("the feeds that failed during it are fetched again now"),
        "{log}"
    );
}

#[test]
fn the_log_level_follows_the_config_at_a_reload() {
    let feed = LiveFeed::start();
    feed.add("Quiet morning");
    let url = feed.server.url("/feed");
    let ws = Workspace::new(&config(&url, PESKOV));
    let mut daemon = Daemon::start(&ws);
    daemon.wait_for("READY", |l| l == "READY=1");
    let log = || std::fs::read_to_string(ws.dir.path().join("daemon.log")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while feed.server.requests().len() < 2 {
        assert!(Instant::now() < deadline, "not fetched twice");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!log().contains("DEBUG"), "{}", log());

    ws.write(
        "newshound.toml",
        &format!("[log]\nlevel = \"debug\"\n{}", config(&url, PESKOV)),
    );
    daemon.signal("HUP");
    daemon.wait_for("READY after reload", |l| l == "READY=1");
    // The same body again, now said at debug level.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !log().contains("DEBUG newshound::ingest: the body is the one last ingested") {
        assert!(Instant::now() < deadline, "{}", log());
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_rule_added_at_a_reload_meets_the_stories_already_stored() {
    let (feed, url, ws) = fetched_once_at_interval("1h"); // "Quiet morning", due in an hour
    let mut daemon = Daemon::start(&ws);
    daemon.wait_for("READY", |l| l == "READY=1");
    let rules = format!("{PESKOV}[[rule]]\nname = \"Morning\"\nquery = \"morning\"\n");
    ws.write(
        "newshound.toml",
        &config(&url, &rules).replace("interval = \"2s\"", "interval = \"1h\""),
    );
    daemon.signal("HUP");
    daemon.wait_for("READY after reload", |l| l == "READY=1");
    wait_for_hit(&ws, "Morning", "Quiet morning");
    wait_for_delivery(&ws);
    assert_eq!(
        feed.server.requests().len(),
        1,
        "found without fetching again"
    );
}

#[test]
fn a_rule_added_while_a_fetch_is_in_flight_meets_that_fetchs_stories() {
    // The fetch was matched with the rules before the reload; its story is written after
    // it, and the new rule must still meet it.
    let server = TestServer::start(move |_: &Request| {
        Reply::ok(
            "application/rss+xml",
            "<rss version=\"2.0\"><channel><title>Slow</title>\
             <item><guid>s-1</guid><title>Quiet morning</title></item></channel></rss>",
        )
        .delayed(Duration::from_secs(3))
    });
    let url = server.url("/feed");
    let ws = Workspace::new(&config(&url, PESKOV));
    let mut daemon = Daemon::start(&ws);
    daemon.wait_for("READY", |l| l == "READY=1");
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.requests().is_empty() {
        assert!(Instant::now() < deadline, "never fetched");
        std::thread::sleep(Duration::from_millis(20));
    }
    let asked = Instant::now();
    let rules = format!("{PESKOV}[[rule]]\nname = \"Morning\"\nquery = \"morning\"\n");
    ws.write("newshound.toml", &config(&url, &rules));
    daemon.signal("HUP");
    daemon.wait_for("READY after reload", |l| l == "READY=1");
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "reloaded only after the fetch was answered"
    );
    wait_for_hit(&ws, "Morning", "Quiet morning");
}
