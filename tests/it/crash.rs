//! Crash safety: SIGKILL at many moments, a database locked by another process, and a
//! full disk. Nothing is lost, nothing is corrupted, and every error says what happened.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use crate::smtp_server::SmtpServer;
use crate::support::{Reply, Request, TestServer, Workspace, assert_exit, says_disk_full, stderr};

const FEEDS: usize = 3;
const ITEMS: usize = 10;

fn feeds_server() -> TestServer {
    TestServer::start(|req: &Request| {
        let feed: usize = req.path.trim_start_matches("/feed").parse().unwrap_or(0);
        let items: String = (0..ITEMS)
            .map(|i| format!("<item><guid>f{feed}-{i}</guid><title>Peskov statement {feed}.{i}</title><description>{}</description></item>", "Kremlin words. ".repeat(40)))
            .collect();
        Reply::ok(
            "application/rss+xml",
            format!(
                "<rss version=\"2.0\"><channel><title>Feed {feed}</title>{items}</channel></rss>"
            ),
        )
    })
}

fn config(feeds: &TestServer, smtp: &SmtpServer, hook: &TestServer) -> String {
    let mut config = String::from("[alerts]\nmax_age = \"100000d\"\n[fetch]\nper_host = 4\n");
    for f in 0..FEEDS {
        config.push_str(&format!(
            "[[feed]]\nurl = \"{}\"\n",
            feeds.url(&format!("/feed{f}"))
        ));
    }
    config.push_str(&format!(
        "[channel.desk]\nkind = \"email\"\nto = [\"d@example.org\"]\nfrom = \"n@example.org\"\nsmtp = \"{}\"\n\
         [channel.ops]\nkind = \"webhook\"\nurl = \"{}\"\n\
         [[rule]]\nname = \"Peskov\"\nquery = \"Peskov\"\nchannels = [\"desk\", \"ops\"]\n",
        smtp.url(),
        hook.url("/hook")
    ));
    config
}

#[test]
fn sigkill_at_many_moments_loses_nothing() {
    let feeds = feeds_server();
    let smtp = SmtpServer::start();
    smtp.slow(Duration::from_millis(60));
    let seen: std::sync::Arc<Mutex<Vec<String>>> = Default::default();
    let record = seen.clone();
    let hook = TestServer::start(move |req: &Request| {
        std::thread::sleep(Duration::from_millis(60));
        let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or_default();
        record
            .lock()
            .unwrap()
            .push(body["id"].as_str().unwrap_or("").to_owned());
        Reply::status(204)
    });
    let ws = Workspace::new(&config(&feeds, &smtp, &hook));
    // Kill points from "during the first fetches" to "deep into delivery".
    let kills_ms = [5, 40, 80, 150, 250, 400, 600, 800, 1100, 1500, 2000, 2600];
    for ms in kills_ms {
        let mut child = Command::new(env!("CARGO_BIN_EXE_newshound"))
            .args(["--config", ws.config().to_str().unwrap(), "once"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    // Finally a pass that runs to the end.
    let out = ws.run(&["once"]);
    assert_exit(&out, 0);

    let expected = FEEDS * ITEMS;
    let hits = ws.json(&["hits", "--since", "100000d"]);
    let hits = hits.as_array().unwrap();
    assert_eq!(hits.len(), expected, "no hit is missing");
    for hit in hits {
        let states: Vec<&str> = hit["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["state"].as_str().unwrap())
            .collect();
        assert_eq!(states, ["sent", "sent"], "{hit}");
    }

    let count = |ids: Vec<String>| {
        let mut by_id: HashMap<String, usize> = HashMap::new();
        for id in ids {
            *by_id.entry(id).or_default() += 1;
        }
        by_id
    };
    let emails = count(
        smtp.received()
            .iter()
            .map(|m| m.header("Message-ID").unwrap())
            .collect(),
    );
    let posts = count(seen.lock().unwrap().clone());
    for (channel, by_id) in [("email", &emails), ("webhook", &posts)] {
        assert_eq!(by_id.len(), expected, "every {channel} alert arrived");
        let repeats: usize = by_id.values().map(|n| n - 1).sum();
        // Only the alert in flight at a kill can arrive twice — with the same id.
        assert!(
            repeats <= kills_ms.len(),
            "{channel}: {repeats} repeats for {} kills",
            kills_ms.len()
        );
    }
    let store = newshound::store::Store::open(&ws.dir.path().join("newshound.db")).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

#[test]
fn a_locked_database_is_a_clear_error_and_nothing_breaks() {
    let feeds = feeds_server();
    let ws = Workspace::new(&format!(
        "[[feed]]\nurl = \"{}\"\n[[rule]]\nname = \"P\"\nquery = \"Peskov\"\n",
        feeds.url("/feed0")
    ));
    ws.ok(&["check"]);
    // Create the database, then hold an exclusive lock on it from another process.
    ws.ok(&["feeds"]);
    let path = ws.dir.path().join("newshound.db");
    let mut locker = Command::new("python3")
        .args(["-c", &format!(
            "import sqlite3,time; c=sqlite3.connect('{}', isolation_level=None); c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(30)",
            path.display()
        )])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(locker.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "locked");
    let out = ws.run(&["once"]);
    let _ = locker.kill();
    let _ = locker.wait();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("database is locked"),
        "{}",
        stderr(&out)
    );
    // Once the lock is gone, the same pass works and the database is sound.
    assert!(ws.ok(&["once"]).contains("stories: 10 new"));
    let store = newshound::store::Store::open(&path).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

#[test]
fn a_daemon_on_a_full_disk_backs_off_instead_of_polling_every_second() {
    let feeds = feeds_server();
    let ws = Workspace::new(&format!(
        "[fetch]\ninterval = \"2s\"\n[[feed]]\nurl = \"{}\"\n[[rule]]\nname = \"P\"\nquery = \"Peskov\"\n",
        feeds.url("/feed0")
    ));
    ws.create_database(); // small
    // The database may not grow (RLIMIT_FSIZE, as in the test above): every ingest fails,
    // and the feed's next fetch time can never be written.
    let mut daemon = ws
        .command_on_a_full_disk(96, &["run"])
        .env_remove("NOTIFY_SOCKET")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let first = std::time::Instant::now();
    while feeds.requests().is_empty() {
        assert!(first.elapsed() < Duration::from_secs(30), "never fetched");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(9));
    let fetches = feeds.requests().len();
    daemon.kill().unwrap();
    daemon.wait().unwrap();
    // Backing off from its 2 s interval: fetched at about 0, 2, 6 s (then 14 s); polled
    // every tick it would have been fetched about ten times.
    assert!((2..=4).contains(&fetches), "{fetches} fetches in 9 s");
}

#[test]
fn a_full_disk_is_a_clear_error_and_a_retry_later_succeeds() {
    let feeds = feeds_server();
    let ws = Workspace::new(&format!(
        "[[feed]]\nurl = \"{}\"\n[[feed]]\nurl = \"{}\"\n[[rule]]\nname = \"P\"\nquery = \"Peskov\"\n",
        feeds.url("/feed0"),
        feeds.url("/feed1")
    ));
    ws.create_database(); // small
    // Files may not grow past 96 KiB.
    let out = ws.command_on_a_full_disk(96, &["once"]).output().unwrap();
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(says_disk_full(&err), "{err}");
    // With room again, the pass completes and nothing is corrupt or lost.
    // (A feed whose transaction committed before the disk filled keeps its stories, and
    // its body, the same again, is not read twice: not modified.)
    let again = ws.ok(&["once"]);
    assert!(
        again.contains("2 fetched") && again.contains(" 0 failed"),
        "{again}"
    );
    let store = newshound::store::Store::open(&ws.dir.path().join("newshound.db")).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    assert_eq!(store.hits(None, 0).unwrap().len(), 20);
}

#[test]
fn a_feed_too_large_for_the_space_left_costs_the_others_nothing() {
    let feeds = TestServer::start(|req: &Request| {
        let items: String = match req.path.as_str() {
            "/small" => "<item><guid>s-1</guid><title>Peskov speaks</title></item>".to_owned(),
            _ => (0..400)
                .map(|i| format!("<item><guid>b-{i}</guid><title>Peskov item {i}</title><description>{}</description></item>", format!("word{i} ").repeat(150)))
                .collect(),
        };
        Reply::ok(
            "application/rss+xml",
            format!(
                "<rss version=\"2.0\"><channel><title>{}</title>{items}</channel></rss>",
                req.path
            ),
        )
    });
    let ws = Workspace::new(&format!(
        "[alerts]\nmax_age = \"100000d\"\n[[feed]]\nurl = \"{}\"\n[[feed]]\nurl = \"{}\"\n\
         [[rule]]\nname = \"P\"\nquery = \"Peskov\"\n",
        feeds.url("/big"),
        feeds.url("/small")
    ));
    ws.create_database(); // small
    // Files may not grow past 192 KiB: the small feed's writes fit, the large one's
    // (over 400 KiB of text) do not.
    let out = ws.command_on_a_full_disk(192, &["once"]).output().unwrap();
    assert_exit(&out, 1);
    let (summary, err) = (crate::support::stdout(&out), stderr(&out));
    // The pass goes on: the small feed is stored and its alert delivered (to the log),
    // the large one is named with the error, and the error ends the run.
    assert!(
        summary.contains("2 fetched, 1 ok, 0 not modified, 1 failed"),
        "{summary}"
    );
    let failed = summary
        .lines()
        .find(|l| l.starts_with(&format!("  failed: {}", feeds.url("/big"))))
        .unwrap_or_default();
    assert!(says_disk_full(failed), "{summary}");
    // Each feed's line as it finishes (stderr is no terminal), the failed one too.
    let line = format!("error        {}: ", feeds.url("/big"));
    let told = err
        .lines()
        .find(|l| l.starts_with(&line))
        .unwrap_or_default();
    assert!(says_disk_full(told), "{err}");
    assert!(summary.contains("alerts: 1 delivered"), "{summary}");
    assert!(err.contains("Peskov speaks"), "{err}");
    assert!(
        says_disk_full(err.lines().last().unwrap_or_default()),
        "{err}"
    );
    let store = newshound::store::Store::open(&ws.dir.path().join("newshound.db")).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    assert_eq!(store.hits(None, 0).unwrap().len(), 1);
}
