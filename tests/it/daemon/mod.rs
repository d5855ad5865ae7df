//! `newshound run` as systemd runs it: the real binary, `NOTIFY_SOCKET` pointing at a
//! datagram socket this test owns, signals, and config edits. `schedule.rs` holds when
//! feeds are fetched, `status.rs` what the daemon reports of its state.

mod schedule;
mod status;

use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::smtp_server::SmtpServer;
use crate::support::{RefusingPort, Reply, Request, TestServer, Workspace, feed_row};

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
        Daemon::start_with(ws, &[])
    }

    /// [`Daemon::start`] with these environment variables set.
    fn start_with(ws: &Workspace, env: &[(&str, &str)]) -> Daemon {
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
            .envs(env.iter().copied())
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
fn the_daemon_runs_retention_at_start_a_batch_at_a_time() {
    let feed = LiveFeed::start();
    feed.add("Peskov speaks");
    let ws = Workspace::new(&format!(
        "[storage]\nkeep = \"30d\"\n{}",
        config(&feed.server.url("/feed"), PESKOV)
    ));
    ws.ok(&["once"]);
    // More stories than one batch takes, first seen 100 days ago, without hits; the
    // story with a hit was first seen then too, and is kept whole.
    let old = newshound::store::PRUNE_BATCH * 2 + 500;
    rusqlite::Connection::open(ws.dir.path().join("newshound.db"))
        .unwrap()
        .execute_batch(&format!(
            "UPDATE stories SET first_seen = first_seen - 100 * 86400;
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {old})
             INSERT INTO stories (feed_id, identity, title, summary, content, authors,
                                  categories, first_seen, content_hash)
             SELECT 1, 'old-' || i, 'Old ' || i, 'its text', '', '', '',
                    unixepoch() - 100 * 86400 - i, 'h' FROM n;"
        ))
        .unwrap();
    let mut daemon = Daemon::start(&ws);
    daemon.wait_for("READY", |l| l == "READY=1");
    let log = || std::fs::read_to_string(ws.dir.path().join("daemon.log")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !log().contains("retention ran") {
        assert!(Instant::now() < deadline, "retention never ran: {}", log());
        std::thread::sleep(Duration::from_millis(100));
    }
    let line = log()
        .lines()
        .find(|l| l.contains("retention ran"))
        .unwrap()
        .to_owned();
    assert!(line.contains(&format!("pruned={old} ")), "{line}");
    let db = rusqlite::Connection::open(ws.dir.path().join("newshound.db")).unwrap();
    let count = |sql: &str| db.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!(
        count("SELECT COUNT(*) FROM stories WHERE pruned = 1 AND summary = ''"),
        old as i64
    );
    assert_eq!(count("SELECT COUNT(*) FROM stories WHERE pruned = 0"), 1);
    daemon.wait_for("WATCHDOG", |l| l == "WATCHDOG=1");
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

    // The daemon, as systemd runs it: its log on stdout, in the same form.
    let mut daemon = Daemon::start_with(&ws, &[("JOURNAL_STREAM", "8:12345")]);
    daemon.wait_for("READY", |l| l == "READY=1");
    daemon.signal("TERM");
    assert!(daemon.child.wait().unwrap().success());
    let log = std::fs::read_to_string(ws.dir.path().join("daemon.log")).unwrap();
    assert!(
        log.lines()
            .any(|l| l.starts_with("<6>newshound::daemon: newshound running feeds=1")),
        "{log}"
    );
    assert!(
        log.lines().all(|l| l.starts_with('<')),
        "a priority on every line, no timestamp: {log}"
    );
    assert!(!log.contains('\u{1b}'), "no colours: {log}");
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
