//! When the daemon fetches each feed: never two fetches of one feed at once, intervals
//! changed at a reload or while stopped, a clock set back, the network coming back.

use super::*;

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
    let row = |p: &str| feed_row(&feeds, &server.url(p)).clone();
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
    // Said once, when the third server was lost.
    let log = std::fs::read_to_string(ws.dir.path().join("daemon.log")).unwrap();
    let said = log
        .matches("could no longer reach their servers, one after another")
        .count();
    assert_eq!(said, 1, "{log}");
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
    let resumed = log
        .lines()
        .find(|l| l.contains("the feeds that failed during it are fetched again now"))
        .unwrap_or_else(|| panic!("{log}"));
    // The outage lasted seconds of this test, as the line says.
    let lasted = resumed.split("lasted=").nth(1).unwrap_or_default();
    assert!(
        lasted.starts_with(|c: char| c.is_ascii_digit()) && !lasted.contains("year"),
        "{resumed}"
    );
}
