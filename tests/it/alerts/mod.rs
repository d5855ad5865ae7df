//! Alert delivery against real servers: an SMTP server over TCP and an HTTP webhook
//! receiver on 127.0.0.1. Retry schedules run on a manual clock (virtual time), so no
//! test waits for a retry.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use newshound::alert::{ALERTS_PER_READ, Clock, Deliverer, DeliveryReport};
use newshound::config::Config;
use newshound::ingest::CompiledRules;
use newshound::store::{AlertState, FetchMeta, IngestJob, Store, StoreHandle};

use crate::smtp_server::SmtpServer;
use crate::support::{
    RefusingPort, Reply, Request, TestServer, Workspace, assert_exit, fixture, stderr, stdout,
};

/// The start of virtual time in these tests.
const T0: i64 = 1_800_000_000;

fn email_channel(name: &str, smtp: &str, extra: &str) -> String {
    format!(
        "[channel.{name}]\nkind = \"email\"\nto = [\"desk@example.org\"]\nfrom = \"newshound <alerts@example.org>\"\nsmtp = \"{smtp}\"\n{extra}\n"
    )
}

const RULES: &str = r#"
[[rule]]
name = "Peskov"
query = 'Peskov OR Песков'
channels = ["CHANNEL"]

[[rule]]
name = "Embassy reopening"
query = 'embass* NEAR/8 reopen*'
channels = ["CHANNEL"]

[[rule]]
name = "Kremlin"
query = 'Kremlin'
channels = ["CHANNEL"]
"#;

fn config(feed_url: &str, channel: &str, channel_toml: &str) -> String {
    format!(
        "[alerts]\nmax_age = \"100000d\"\n\n[[feed]]\nurl = \"{feed_url}\"\n\n{channel_toml}\n{}",
        RULES.replace("CHANNEL", channel)
    )
}

/// A feed server serving the `world.rss` fixture at `/world.rss`.
fn world_feed() -> TestServer {
    TestServer::files(vec![(
        "/world.rss",
        "application/rss+xml",
        fixture("world.rss"),
    )])
}

/// Queues the alerts of `fixture` as an ingest at `T0` would, and returns a deliverer
/// on a manual clock at `T0`.
fn queued(ws: &Workspace, fixture_name: &str) -> (Deliverer, StoreHandle, Clock) {
    queued_body(ws, &fixture(fixture_name))
}

/// Three stories that each match `Peskov`, as an RSS feed.
fn three_peskov_stories() -> Vec<u8> {
    peskov_stories(3)
}

/// `n` stories that each match `Peskov`, as an RSS feed.
fn peskov_stories(n: usize) -> Vec<u8> {
    let items: String = (1..=n)
        .map(|i| {
            format!(
                "<item><title>Peskov, part {i}</title><link>https://news.example.org/{i}</link>\
                 <guid>peskov-{i}</guid><description>Peskov said {i}.</description></item>"
            )
        })
        .collect();
    format!("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Wire</title>{items}</channel></rss>")
        .into_bytes()
}

/// Like [`queued`], from a feed body.
fn queued_body(ws: &Workspace, body: &[u8]) -> (Deliverer, StoreHandle, Clock) {
    let config = Config::load(&ws.config()).expect("valid config");
    let feed = config.feeds[0].clone();
    let mut store = Store::open(&config.storage.path).unwrap();
    store.sync_feeds([(feed.url.as_str(), None)]).unwrap();
    let id = store.feed_id(feed.url.as_str()).unwrap().unwrap();
    let parsed = newshound::story::parse_feed(body, Some(&feed.url), None, 1 << 20).unwrap();
    let meta = FetchMeta {
        title: parsed.title.clone(),
        ..FetchMeta::default()
    };
    let incoming =
        CompiledRules::new(&config.rules).match_stories(parsed.stories, "World Desk", &feed);
    store
        .ingest(&IngestJob {
            feed_id: id,
            meta,
            incoming,
            now: T0,
            max_age: i64::MAX / 2,
            late_matcher: None,
        })
        .unwrap();
    let store = StoreHandle::spawn(store);
    let clock = Clock::manual(T0);
    let deliverer = Deliverer::new(Arc::new(config), store.clone(), clock.clone()).unwrap();
    (deliverer, store, clock)
}

async fn states(store: &StoreHandle) -> Vec<AlertState> {
    store.call(|s| s.alert_states()).await.unwrap()
}

/// A webhook receiver answering from a script of statuses (then 200), recording requests.
fn receiver(statuses: Vec<Reply>) -> TestServer {
    let script = Mutex::new(
        statuses
            .into_iter()
            .collect::<std::collections::VecDeque<_>>(),
    );
    TestServer::start(move |_: &Request| {
        script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| Reply::status(200))
    })
}

/// A webhook receiver that answers 500 to the first `failures` requests of each
/// webhook-id, then 200.
fn flaky_receiver(failures: usize) -> TestServer {
    let seen = Mutex::new(std::collections::HashMap::<String, usize>::new());
    TestServer::start(move |req: &Request| {
        let id = req.headers.get("webhook-id").cloned().unwrap_or_default();
        let mut seen = seen.lock().unwrap();
        let count = seen.entry(id).or_default();
        *count += 1;
        if *count <= failures {
            Reply::status(500)
        } else {
            Reply::status(200)
        }
    })
}

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Verifies a Standard Webhooks signature from first principles.
fn verify(request: &Request) -> bool {
    let key = base64::engine::general_purpose::STANDARD
        .decode(SECRET.trim_start_matches("whsec_"))
        .unwrap();
    let (id, ts) = (
        &request.headers["webhook-id"],
        &request.headers["webhook-timestamp"],
    );
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(&request.body);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    request.headers["webhook-signature"]
        .split(' ')
        .any(|s| s == format!("v1,{expected}"))
}

fn webhook_channel(url: &str, format: &str) -> String {
    format!(
        "[channel.ops]\nkind = \"webhook\"\nurl = \"{url}\"\nformat = \"{format}\"\nsecret_file = \"hook.secret\"\n"
    )
}

#[test]
fn send_test_reports_success_or_the_servers_error() {
    let smtp = SmtpServer::start();
    let hook = receiver(vec![Reply::status(403)]);
    let ws = Workspace::new(&format!(
        "{}{}",
        email_channel("desk", &smtp.url(), ""),
        "[channel.ops]\nkind = \"webhook\"\nurl = \"URL\"\n".replace("URL", &hook.url("/hook"))
    ));
    assert_eq!(
        ws.ok(&["send-test", "desk"]),
        "sent a test alert through `desk`\n"
    );
    assert_eq!(smtp.received().len(), 1);
    assert!(
        smtp.received()[0]
            .header("Subject")
            .unwrap()
            .contains("Test alert from newshound")
    );
    let failed = ws.run(&["send-test", "ops"]);
    assert_eq!(failed.status.code(), Some(1));
    assert_eq!(
        stderr(&failed).trim_end(),
        "newshound: sending through `ops` failed: HTTP 403"
    );
    assert_eq!(ws.run(&["send-test", "nope"]).status.code(), Some(2));
}

#[test]
fn a_crash_during_delivery_loses_nothing_and_resends_with_the_same_id() {
    let smtp = SmtpServer::start();
    smtp.slow(Duration::from_millis(400));
    // Eight matching stories, so delivery takes a while.
    let items: String = (0..8)
        .map(|i| {
            format!("<item><guid>k{i}</guid><title>Peskov statement number {i}</title></item>")
        })
        .collect();
    let feed = format!("<rss version=\"2.0\"><channel><title>Many</title>{items}</channel></rss>");
    let feeds = TestServer::files(vec![(
        "/many.rss",
        "application/rss+xml",
        feed.into_bytes(),
    )]);
    let ws = Workspace::new(&config(
        &feeds.url("/many.rss"),
        "desk",
        &email_channel("desk", &smtp.url(), ""),
    ));
    let config_path = ws.config();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_newshound"))
        .args(["--config", config_path.to_str().unwrap(), "once"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it (SIGKILL) once some, not all, messages are through.
    let started = std::time::Instant::now();
    while smtp.received().len() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "delivery never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = smtp.received().len();
    assert!(before < 8, "killed mid-delivery");
    // Restart: everything not marked sent goes out again.
    ws.ok(&["once"]);
    let (ids, total) = distinct_message_ids(&smtp);
    assert_eq!(ids.len(), 8, "every alert arrived");
    assert!(
        total - ids.len() <= 1,
        "only the in-flight alert may repeat, with the same Message-ID: {total} messages"
    );
    let hits = ws.json(&["hits", "--since", "100000d"]);
    assert_eq!(hits.as_array().unwrap().len(), 8);
    assert!(
        hits.as_array()
            .unwrap()
            .iter()
            .all(|h| h["deliveries"][0]["state"] == "sent")
    );
    let store = Store::open(&ws.dir.path().join("newshound.db")).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

#[test]
fn processes_delivering_at_the_same_time_never_send_an_alert_twice() {
    // `once` run by hand (or by two overlapping timers) while another delivers.
    let smtp = SmtpServer::start();
    smtp.slow(Duration::from_millis(150));
    let items: String = (0..6)
        .map(|i| format!("<item><guid>d{i}</guid><title>Peskov statement {i}</title></item>"))
        .collect();
    let feed = format!("<rss version=\"2.0\"><channel><title>D</title>{items}</channel></rss>");
    let feeds = TestServer::files(vec![("/d.rss", "application/rss+xml", feed.into_bytes())]);
    let ws = Workspace::new(&config(
        &feeds.url("/d.rss"),
        "desk",
        &email_channel("desk", &smtp.url(), ""),
    ));
    // Three passes at once: one stores the stories and queues their alerts, and all three
    // find those alerts due while the slow server takes them one by one.
    let runs: Vec<_> = (0..3)
        .map(|_| {
            let config = ws.config();
            std::thread::spawn(move || {
                crate::support::newshound(&["--config", config.to_str().unwrap(), "once"], None)
            })
        })
        .collect();
    for run in runs {
        assert_exit(&run.join().unwrap(), 0);
    }
    let (ids, total) = distinct_message_ids(&smtp);
    assert_eq!((ids.len(), total), (6, 6), "each alert once");
}

/// The distinct Message-IDs the server received, and how many messages it received.
fn distinct_message_ids(smtp: &SmtpServer) -> (Vec<String>, usize) {
    let mut ids: Vec<String> = smtp
        .received()
        .iter()
        .map(|m| m.header("Message-ID").unwrap())
        .collect();
    let total = ids.len();
    ids.sort();
    ids.dedup();
    (ids, total)
}

#[test]
fn once_says_what_is_still_pending_and_why() {
    let down = RefusingPort::new();
    let feeds = world_feed();
    let smtp = format!("smtp://127.0.0.1:{}", down.port());
    let ws = Workspace::new(&config(
        &feeds.url("/world.rss"),
        "desk",
        &email_channel("desk", &smtp, ""),
    ));
    // The server is down: the first attempt and the 5 s retry fail, the next retry
    // (5 min) is past the deadline.
    let out = ws.ok(&["once"]);
    assert!(
        out.contains("alerts: 0 delivered, 0 failed for good; 0 pending, 2 awaiting retry, 0 dead"),
        "{out}"
    );
    assert!(out.contains("  desk: 2 waiting, next attempt "), "{out}");
    assert!(out.contains("(last error: "), "{out}");
    let hits = ws.json(&["hits", "--since", "100000d"]);
    assert!(hits.as_array().unwrap().iter().all(|h| h["deliveries"][0]["state"] == "failed" && h["deliveries"][0]["attempts"] == 2));

    // The channel taken out of the config: its alerts wait for it, and `check` and
    // `once` say so rather than promise a next attempt.
    let with_desk = std::fs::read_to_string(ws.config()).unwrap();
    ws.write(
        "newshound.toml",
        &config(
            &feeds.url("/world.rss"),
            "console",
            "[channel.console]\nkind = \"log\"\n",
        ),
    );
    let warning = "  warning: 2 alerts wait for channel `desk`, which is not in the \
                   configuration: they are sent once it is back, or `newshound requeue \
                   --channel desk --to CHANNEL` sends them through another";
    assert!(ws.ok(&["check"]).contains(warning), "{}", ws.ok(&["check"]));
    let out = ws.ok(&["once"]);
    assert!(
        out.contains("  desk: 2 waiting for this channel, which is not in the configuration (sent once it is back; `newshound requeue --channel desk --to CHANNEL` moves them)"),
        "{out}"
    );
    ws.write("newshound.toml", &with_desk);

    // The server is fixed: waiting alerts are sent now on request, not in 5 minutes.
    let smtp = SmtpServer::on(down.listen());
    assert!(ws.ok(&["requeue"]).starts_with("0 dead alerts put back"));
    assert_eq!(
        ws.ok(&["requeue", "--waiting"]).lines().next().unwrap(),
        "2 dead or waiting alerts put back in the queue; `newshound once` (or the daemon) delivers them"
    );
    assert!(ws.ok(&["once"]).contains("alerts: 2 delivered"));
    assert_eq!(smtp.received().len(), 2);
}

#[test]
fn requeue_to_moves_the_alerts_of_a_channel_taken_out_of_the_config() {
    let feeds = world_feed();
    let down = RefusingPort::new();
    let smtp = format!("smtp://127.0.0.1:{}", down.port());
    let ws = Workspace::new(&config(
        &feeds.url("/world.rss"),
        "desk",
        &email_channel("desk", &smtp, ""),
    ));
    ws.ok(&["once"]);
    // `desk` renamed `newsroom`, a webhook now; its alerts still name `desk`.
    let hook = receiver(vec![]);
    let renamed = format!(
        "[channel.newsroom]\nkind = \"webhook\"\nurl = \"{}\"\n",
        hook.url("/hook")
    );
    ws.write(
        "newshound.toml",
        &config(&feeds.url("/world.rss"), "newsroom", &renamed),
    );
    for (args, error) in [
        (
            &["requeue", "--channel", "desk", "--to", "nowhere"][..],
            "newshound: no channel `nowhere` in the configuration",
        ),
        (
            &["requeue", "--to", "newsroom"][..],
            "newshound: `--to` moves the alerts of one channel (`--channel`, which may be gone \
             from the config) or one alert (`--id`)",
        ),
    ] {
        let out = ws.run(args);
        assert_exit(&out, 2);
        assert_eq!(stderr(&out).trim_end(), error);
    }
    assert_eq!(
        ws.ok(&["requeue", "--channel", "desk", "--to", "newsroom"]),
        "2 alerts moved to `newsroom`, due now; `newshound once` (or the daemon) delivers them\n"
    );
    let out = ws.ok(&["once"]);
    assert!(out.contains("alerts: 2 delivered"), "{out}");
    let posted = hook.json_bodies();
    assert_eq!(posted.len(), 2);
    let hits = ws.json(&["hits", "--since", "100000d"]);
    let mut deliveries: Vec<_> = hits
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|h| h["deliveries"].as_array().unwrap().clone())
        .collect();
    deliveries.sort_by_key(|d| d["alert_id"].to_string());
    deliveries.dedup();
    assert_eq!(deliveries.len(), 2, "one alert per story: {hits}");
    for delivery in &deliveries {
        assert_eq!(
            (
                &delivery["channel"],
                &delivery["state"],
                &delivery["attempts"]
            ),
            (
                &serde_json::json!("newsroom"),
                &serde_json::json!("sent"),
                &serde_json::json!(1)
            ),
            "{hits}"
        );
        assert!(
            posted.iter().any(|p| p["id"] == delivery["alert_id"]),
            "the payload carries the moved alert's new id: {hits}"
        );
    }
    // Nothing is left to move, and a sent alert never moves.
    assert_eq!(
        ws.ok(&["requeue", "--channel", "newsroom", "--to", "newsroom"]),
        "0 alerts moved to `newsroom`, due now; `newshound once` (or the daemon) delivers them\n"
    );
    let out = ws.run(&["requeue", "--id", "0123", "--to", "newsroom"]);
    assert_exit(&out, 1);
}

mod email;
mod health;
mod webhook;
