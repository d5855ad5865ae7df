//! Alert delivery against real servers: an SMTP server over TCP and an HTTP webhook
//! receiver on 127.0.0.1. Retry schedules run on a manual clock (virtual time), so no
//! test waits for a retry.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use newshound::alert::{Clock, Deliverer, DeliveryReport};
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

/// Queues the alerts of `fixture` as an ingest at `T0` would, and returns a deliverer
/// on a manual clock at `T0`.
fn queued(ws: &Workspace, fixture_name: &str) -> (Deliverer, StoreHandle, Clock) {
    let config = Config::load(&ws.config()).expect("valid config");
    let feed = config.feeds[0].clone();
    let mut store = Store::open(&config.storage.path).unwrap();
    store.sync_feeds([(feed.url.as_str(), None)]).unwrap();
    let id = store.feed_id(feed.url.as_str()).unwrap().unwrap();
    let parsed =
        newshound::story::parse_feed(&fixture(fixture_name), Some(&feed.url), None, 1 << 20)
            .unwrap();
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

#[test]
fn email_alerts_end_to_end() {
    let smtp = SmtpServer::start();
    let feeds = TestServer::files(vec![(
        "/world.rss",
        "application/rss+xml",
        fixture("world.rss"),
    )]);
    let ws = Workspace::new(&config(
        &feeds.url("/world.rss"),
        "desk",
        &email_channel("desk", &smtp.url(), ""),
    ));
    let out = ws.run(&["once"]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("alerts: 2 delivered"),
        "{}",
        stdout(&out)
    );

    let mut received = smtp.received();
    received.sort_by_key(|m| m.header("Subject"));
    assert_eq!(
        received.len(),
        2,
        "one message per story, naming every rule it matched"
    );
    assert_eq!(
        smtp.connections(),
        1,
        "one SMTP connection carries the batch"
    );
    let peskov = &received[1];
    assert_eq!(
        peskov.header("Subject").as_deref(),
        Some("[newshound] Peskov, Kremlin: Kremlin spokesman Peskov rejects the proposal")
    );
    assert_eq!(peskov.from, "<alerts@example.org>");
    assert_eq!(peskov.to, ["<desk@example.org>"]);
    assert_eq!(
        peskov.header("Auto-Submitted").as_deref(),
        Some("auto-generated")
    );
    assert_eq!(
        peskov.header("X-Newshound-Rule").as_deref(),
        Some("Peskov, Kremlin")
    );
    assert_eq!(
        peskov.header("List-Id").as_deref(),
        Some("newshound desk <desk.newshound.example.org>")
    );
    let message_id = peskov.header("Message-ID").unwrap();
    assert!(
        message_id.starts_with('<') && message_id.ends_with("@newshound.example.org>"),
        "{message_id}"
    );

    let parsed = peskov.parsed();
    let content_type = peskov.header("Content-Type").unwrap();
    assert!(
        content_type.starts_with("multipart/alternative"),
        "{content_type}"
    );
    assert_eq!(parsed.text_body_count(), 1);
    assert_eq!(parsed.html_body_count(), 1);
    let text = parsed.body_text(0).unwrap();
    let html = parsed.body_html(0).unwrap();
    assert!(
        text.contains("https://news.example.org/2026/11/peskov-rejects"),
        "{text}"
    );
    assert!(text.contains("Dmitry *Peskov* told reporters"), "{text}");
    assert!(text.contains("Matched rules: Peskov, Kremlin"), "{text}");
    assert!(
        html.contains("Dmitry <b>Peskov</b> told reporters"),
        "{html}"
    );
    assert!(
        html.contains(
            "href=\"https:&#x2f;&#x2f;news.example.org&#x2f;2026&#x2f;11&#x2f;peskov-rejects\""
        ),
        "{html}"
    );
    assert!(html.contains("World Desk"), "{html}");

    // Delivery state is visible, and a second pass sends nothing again.
    let hits = ws.json(&["hits", "--since", "100000d"]);
    for hit in hits.as_array().unwrap() {
        assert_eq!(hit["deliveries"][0]["state"], "sent", "{hit}");
    }
    ws.ok(&["once"]);
    assert_eq!(smtp.received().len(), 2);
}

#[test]
fn hostile_feed_text_is_escaped_and_cannot_add_headers() {
    let smtp = SmtpServer::start();
    let feed = r#"<rss version="2.0"><channel><title>Evil</title><item><guid>e1</guid>
        <title>Peskov&#13;&#10;Bcc: victim@example.org &lt;script&gt;alert(1)&lt;/script&gt;</title>
        <description>&lt;img src="https://tracker.example/x.png" onerror="alert(2)"&gt;&lt;a href="javascript:alert(3)" onclick="x()"&gt;Peskov&lt;/a&gt; &lt;style&gt;body{}&lt;/style&gt;</description>
        <link>javascript:alert(4)</link></item></channel></rss>"#;
    let feeds = TestServer::files(vec![(
        "/evil.rss",
        "application/rss+xml",
        feed.as_bytes().to_vec(),
    )]);
    let ws = Workspace::new(&config(
        &feeds.url("/evil.rss"),
        "desk",
        &email_channel("desk", &smtp.url(), ""),
    ));
    ws.ok(&["once"]);
    let received = smtp.received();
    assert_eq!(received.len(), 1);
    let message = &received[0];
    assert_eq!(message.header("Bcc"), None, "no header injected");
    let subject = message.header("Subject").unwrap();
    assert!(
        subject.starts_with("[newshound] Peskov: Peskov Bcc: victim@example.org"),
        "{subject}"
    );
    let parsed = message.parsed();
    let html = parsed.body_html(0).unwrap().to_string();
    for banned in [
        "<script",
        "onerror",
        "onclick",
        "javascript:",
        "<img",
        "tracker.example",
        "<style",
    ] {
        assert!(!html.contains(banned), "{banned} survived: {html}");
    }
    assert!(
        html.contains(">Peskov Bcc: victim@example.org</h2>"),
        "the title is text on one line, its script dropped: {html}"
    );
    assert!(
        !html.contains("href"),
        "a javascript: link is no link: {html}"
    );
    assert!(html.contains("<b>Peskov</b>"), "{html}");
}

#[tokio::test]
async fn digests_group_hits_by_rule_once_the_window_passes() {
    let smtp = SmtpServer::start();
    let ws = Workspace::new(&config(
        "https://news.example.org/feed",
        "desk",
        &email_channel("desk", &smtp.url(), "digest = \"15m\""),
    ));
    let (deliverer, store, clock) = queued(&ws, "world.rss");
    deliverer.deliver_due().await.unwrap();
    assert!(smtp.received().is_empty(), "the window has not passed");
    clock.advance(Duration::from_secs(15 * 60));
    let report = deliverer.deliver_due().await.unwrap();
    assert_eq!(report.delivered, 2, "both alerts went in one message");
    let received = smtp.received();
    assert_eq!(received.len(), 1);
    let subject = received[0].header("Subject").unwrap();
    assert_eq!(
        subject,
        "[newshound] digest: 2 stories for Embassy reopening, Kremlin, Peskov"
    );
    let parsed = received[0].parsed();
    let text = parsed.body_text(0).unwrap();
    let (embassy, kremlin, peskov) = (
        text.find("== Embassy reopening ==").unwrap(),
        text.find("== Kremlin ==").unwrap(),
        text.find("== Peskov ==").unwrap(),
    );
    assert!(embassy < kremlin && kremlin < peskov, "{text}");
    assert!(
        text[embassy..kremlin].contains("Embassy in Kyiv to reopen next month"),
        "{text}"
    );
    assert!(
        text[peskov..].contains("Kremlin spokesman Peskov rejects the proposal"),
        "{text}"
    );
    assert!(parsed.body_html(0).unwrap().contains("<h3>Peskov</h3>"));
    assert!(states(&store).await.iter().all(|s| s.state == "sent"));
}

#[tokio::test]
async fn smtp_transient_failure_is_retried_on_schedule() {
    let smtp = SmtpServer::start();
    smtp.reply_with(&["451 4.3.0 mailbox busy, try later"]);
    let ws = Workspace::new(&config(
        "https://news.example.org/feed",
        "desk",
        &email_channel("desk", &smtp.url(), ""),
    ));
    let (deliverer, store, clock) = queued(&ws, "world.rss");
    let first = deliverer.deliver_due().await.unwrap();
    assert_eq!((first.delivered, first.retrying), (1, 1));
    let failed: Vec<AlertState> = states(&store)
        .await
        .into_iter()
        .filter(|s| s.state == "failed")
        .collect();
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("mailbox busy"),
        "{failed:?}"
    );
    let wait = failed[0].next_attempt - T0;
    assert!(
        (4..=6).contains(&wait),
        "first retry after 5 s ± 10%: {wait}"
    );
    // Nothing is retried early; at the retry time it is delivered.
    assert_eq!(deliverer.deliver_due().await.unwrap().delivered, 0);
    clock.advance(Duration::from_secs(wait as u64));
    assert_eq!(deliverer.deliver_due().await.unwrap().delivered, 1);
    assert_eq!(smtp.received().len(), 2);
    assert!(states(&store).await.iter().all(|s| s.state == "sent"));
}

/// An email channel for these recipients on `smtp`.
fn email_to(smtp: &SmtpServer, to: &[&str]) -> String {
    format!(
        "[channel.desk]\nkind = \"email\"\nto = {to:?}\nfrom = \"alerts@example.org\"\nsmtp = \"{}\"\n",
        smtp.url()
    )
}

/// Delivers the fixture's two alerts to `to` through a mail server that answers RCPT
/// for addresses containing `part` with `reply`.
async fn deliver_refusing(
    part: &str,
    reply: &str,
    to: &[&str],
) -> (SmtpServer, DeliveryReport, Vec<AlertState>) {
    let smtp = SmtpServer::start();
    smtp.refuse_recipient(part, reply);
    let ws = Workspace::new(&config(
        "https://news.example.org/feed",
        "desk",
        &email_to(&smtp, to),
    ));
    let (deliverer, store, _) = queued(&ws, "world.rss");
    let report = deliverer.deliver_due().await.unwrap();
    let states = states(&store).await;
    (smtp, report, states)
}

#[tokio::test]
async fn a_recipient_refused_for_good_does_not_cost_the_others_the_alert() {
    let (smtp, report, states) = deliver_refusing(
        "gone@",
        "550 5.1.1 no such user",
        &["desk@example.org", "gone@example.org"],
    )
    .await;
    assert_eq!((report.delivered, report.retrying, report.dead), (2, 0, 0));
    let received = smtp.received();
    assert_eq!(received.len(), 2);
    for message in &received {
        assert_eq!(message.to, ["<desk@example.org>"]);
    }
    assert!(states.iter().all(|s| s.state == "sent"));
    assert_eq!(smtp.connections(), 1, "the connection carries on");
}

#[tokio::test]
async fn a_recipient_refused_for_now_holds_the_message_for_everyone() {
    let (smtp, report, states) = deliver_refusing(
        "later@",
        "450 4.2.1 try again later",
        &["desk@example.org", "later@example.org"],
    )
    .await;
    assert_eq!((report.delivered, report.retrying), (0, 2));
    // Nobody has it yet, so the retry sends it to everyone once.
    assert!(smtp.received().is_empty());
    for state in states {
        assert_eq!(state.state, "failed");
        let error = state.last_error.unwrap();
        assert!(
            error.starts_with("recipient later@example.org refused: ")
                && error.contains("try again later"),
            "{error}"
        );
    }
    assert_eq!(smtp.connections(), 1, "RSET keeps the connection");
}

#[tokio::test]
async fn every_recipient_refused_for_good_is_dead_and_says_who() {
    let (_smtp, report, states) =
        deliver_refusing("gone@", "550 5.1.1 no such user", &["gone@example.org"]).await;
    assert_eq!((report.delivered, report.dead), (0, 2));
    for state in states {
        assert_eq!(state.state, "dead");
        let error = state.last_error.unwrap();
        assert!(
            error.starts_with("recipient gone@example.org refused: "),
            "{error}"
        );
        assert!(error.contains("no such user"), "{error}");
    }
}

/// The fixture's two alerts queued for an email channel, and a round run while another
/// connection holds the database's write lock: the first alert goes out, and marking it
/// sent fails once the busy timeout has run out. The lock is still held.
struct SentUnrecorded {
    smtp: SmtpServer,
    ws: Workspace,
    deliverer: Deliverer,
    store: StoreHandle,
    clock: Clock,
    locker: rusqlite::Connection,
}

async fn sent_unrecorded() -> SentUnrecorded {
    let smtp = SmtpServer::start();
    let ws = Workspace::new(&config(
        "https://news.example.org/feed",
        "desk",
        &email_channel("desk", &smtp.url(), ""),
    ));
    let (deliverer, store, clock) = queued(&ws, "world.rss");
    let locker = rusqlite::Connection::open(ws.dir.path().join("newshound.db")).unwrap();
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let error = deliverer.deliver_due().await.unwrap_err();
    assert!(error.to_string().contains("locked"), "{error}");
    assert_eq!(smtp.received().len(), 1);
    SentUnrecorded {
        smtp,
        ws,
        deliverer,
        store,
        clock,
        locker,
    }
}

#[tokio::test]
async fn an_alert_sent_while_the_database_cannot_record_it_is_not_sent_again() {
    let SentUnrecorded {
        smtp,
        deliverer,
        store,
        locker,
        ..
    } = sent_unrecorded().await;
    // While the database still cannot take it, a round sends nothing (the alert reads
    // as due, and would go out again every round).
    assert!(deliverer.deliver_due().await.is_err());
    assert_eq!(smtp.received().len(), 1);
    drop(locker);
    // The next round records it first, then sends only the other alert.
    let round = deliverer.deliver_due().await.unwrap();
    assert_eq!(round.delivered, 1);
    let (ids, total) = distinct_message_ids(&smtp);
    assert_eq!((ids.len(), total), (2, 2), "each alert once");
    assert!(states(&store).await.iter().all(|s| s.state == "sent"));
}

#[tokio::test]
async fn outcomes_not_yet_recorded_survive_a_reload() {
    let SentUnrecorded {
        smtp,
        ws,
        deliverer,
        store,
        clock,
        locker,
    } = sent_unrecorded().await;
    // A reload replaces the worker while the outcome is still unrecorded.
    let unrecorded = deliverer.into_unrecorded();
    assert_eq!(unrecorded.len(), 1);
    let config = Arc::new(Config::load(&ws.config()).unwrap());
    let reloaded = Deliverer::new(config, store.clone(), clock).unwrap();
    reloaded.adopt(unrecorded);
    drop(locker);
    assert_eq!(reloaded.deliver_due().await.unwrap().delivered, 1);
    let (ids, total) = distinct_message_ids(&smtp);
    assert_eq!((ids.len(), total), (2, 2), "each alert once");
    assert!(states(&store).await.iter().all(|s| s.state == "sent"));
}

#[tokio::test]
async fn a_mail_server_that_stops_answering_is_given_up_on_at_the_timeout() {
    let smtp = SmtpServer::start();
    // It takes the message and then says nothing for longer than the channel waits.
    smtp.slow(Duration::from_secs(4));
    let ws = Workspace::new(&config(
        "https://news.example.org/feed",
        "desk",
        &email_channel("desk", &smtp.url(), "timeout = \"1s\""),
    ));
    let (deliverer, store, clock) = queued(&ws, "world.rss");
    let started = std::time::Instant::now();
    let stalled = deliverer.deliver_due().await.unwrap();
    assert_eq!((stalled.delivered, stalled.retrying), (0, 2));
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "each message waits 1 s, not for the server: {:?}",
        started.elapsed()
    );
    for state in states(&store).await {
        assert_eq!(state.state, "failed");
        assert_eq!(
            state.last_error.as_deref(),
            Some("the mail server did not finish within 1s (the channel's timeout)")
        );
    }
    smtp.slow(Duration::ZERO);
    clock.advance(Duration::from_secs(3600));
    let recovered = deliverer.deliver_due().await.unwrap();
    assert_eq!(recovered.delivered, 2);
    assert!(states(&store).await.iter().all(|s| s.state == "sent"));
}

#[test]
fn smtp_login_and_one_connection_per_batch() {
    let smtp = SmtpServer::start();
    let feeds = TestServer::files(vec![(
        "/world.rss",
        "application/rss+xml",
        fixture("world.rss"),
    )]);
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("smtp-password");
    std::fs::write(&secret, "s3cret pass\n").unwrap();
    let ws = Workspace::new(&config(
        &feeds.url("/world.rss"),
        "desk",
        &email_channel(
            "desk",
            &smtp.url(),
            &format!(
                "username = \"newshound\"\npassword_file = \"{}\"",
                secret.display()
            ),
        ),
    ));
    let out = ws.ok(&["once"]);
    assert!(out.contains("alerts: 2 delivered"), "{out}");
    assert_eq!(smtp.received().len(), 2);
    assert_eq!(
        smtp.logins(),
        ["newshound:s3cret pass"],
        "one login, with the password from the file (its last newline dropped)"
    );
    assert_eq!(smtp.connections(), 1);
    assert_eq!(smtp.quits(), 1, "the batch ends with QUIT");
}

#[tokio::test]
async fn smtp_down_then_up_loses_nothing() {
    let down = RefusingPort::new();
    let url = format!("smtp://127.0.0.1:{}", down.port());
    let ws = Workspace::new(&config(
        "https://news.example.org/feed",
        "desk",
        &email_channel("desk", &url, ""),
    ));
    let (deliverer, store, clock) = queued(&ws, "world.rss");
    let report = deliverer.deliver_until(T0 + 400).await.unwrap();
    assert_eq!(report.delivered, 0);
    assert!(
        states(&store)
            .await
            .iter()
            .all(|s| s.state == "failed" && s.attempts >= 2),
        "retried while down"
    );
    let smtp = SmtpServer::on(down.listen());
    clock.advance(Duration::from_secs(3600));
    let up = deliverer.deliver_until(clock.now() + 60).await.unwrap();
    assert_eq!(up.delivered, 2);
    assert_eq!(smtp.received().len(), 2);
}

#[test]
fn smtp_permanent_failure_is_dead_visible_and_requeued() {
    let smtp = SmtpServer::start();
    smtp.reply_with(&["550 5.1.1 no such mailbox", "550 5.1.1 no such mailbox"]);
    let feeds = TestServer::files(vec![(
        "/world.rss",
        "application/rss+xml",
        fixture("world.rss"),
    )]);
    let ws = Workspace::new(&config(
        &feeds.url("/world.rss"),
        "desk",
        &email_channel("desk", &smtp.url(), ""),
    ));
    let once = ws.run(&["once"]);
    assert_exit(&once, 0);
    let out = stdout(&once);
    assert!(
        out.contains("alerts: 0 delivered, 2 failed for good"),
        "{out}"
    );
    let hits = ws.json(&["hits", "--since", "100000d"]);
    // The log names the channel and the alert of each failure.
    let log = stderr(&once);
    for hit in hits.as_array().unwrap() {
        let id = hit["deliveries"][0]["alert_id"].as_str().unwrap();
        assert!(
            log.lines()
                .any(|l| l.contains("delivery failed permanently; marked dead")
                    && l.contains("channel=desk")
                    && l.contains(&format!("id={id}"))
                    && l.contains("no such mailbox")),
            "{log}"
        );
    }
    for hit in hits.as_array().unwrap() {
        assert_eq!(hit["deliveries"][0]["state"], "dead", "{hit}");
        assert!(
            hit["deliveries"][0]["last_error"]
                .as_str()
                .unwrap()
                .contains("no such mailbox"),
            "{hit}"
        );
    }
    assert!(
        ws.ok(&["hits", "--since", "100000d"])
            .contains("desk: dead (1 attempts, ")
    );
    // One alert by its id, as the log named it; then the rest of the channel's.
    let first_id = hits[0]["deliveries"][0]["alert_id"].as_str().unwrap();
    assert_eq!(
        ws.ok(&["requeue", "--id", first_id])
            .lines()
            .next()
            .unwrap(),
        "1 dead alert put back in the queue; `newshound once` (or the daemon) delivers them"
    );
    let missing = ws.run(&["requeue", "--id", "no-such-alert"]);
    assert_exit(&missing, 1);
    assert!(
        stderr(&missing).contains("no dead alerts with id no-such-alert (add --waiting"),
        "{}",
        stderr(&missing)
    );
    assert!(ws.ok(&["once"]).contains("alerts: 1 delivered"));
    assert_eq!(
        ws.ok(&["requeue", "--channel", "desk"])
            .lines()
            .next()
            .unwrap(),
        "1 dead alert put back in the queue; `newshound once` (or the daemon) delivers them"
    );
    assert!(ws.ok(&["once"]).contains("alerts: 1 delivered"));
    assert_eq!(smtp.received().len(), 2);
    let bad = ws.run(&["requeue", "--channel", "nope"]);
    assert_eq!(bad.status.code(), Some(2));
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

#[tokio::test]
async fn webhook_retries_500s_on_schedule_and_delivers_once() {
    let hook = flaky_receiver(2);
    let ws = Workspace::new(&config(
        "https://news.example.org/feed",
        "ops",
        &webhook_channel(&hook.url("/hook"), "json"),
    ));
    ws.write("hook.secret", &format!("{SECRET}\n"));
    let (deliverer, store, clock) = queued(&ws, "world.rss");
    let report = deliverer.deliver_until(T0 + 3600).await.unwrap();
    assert_eq!(report.delivered, 2);
    let requests = hook.requests();
    // Each of the two alerts: 500, 500, then 200 — one accepted delivery each.
    assert_eq!(requests.len(), 6, "{requests:?}");
    let mut ids: Vec<&str> = requests
        .iter()
        .map(|r| r.headers["webhook-id"].as_str())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 2, "every retry carries the same webhook-id");
    assert!(
        requests.iter().all(verify),
        "signatures verify independently"
    );
    // The retries waited 5 s and then 5 min (±10%) of virtual time.
    let elapsed = clock.now() - T0;
    assert!((4 + 270..=6 + 330).contains(&elapsed), "{elapsed}");
    let states = states(&store).await;
    assert!(
        states.iter().all(|s| s.state == "sent" && s.attempts == 3),
        "{states:?}"
    );

    let body: serde_json::Value = serde_json::from_slice(&requests[5].body).unwrap();
    assert_eq!(body["type"], "hit");
    assert_eq!(body["id"], requests[5].headers["webhook-id"].as_str());
    assert_eq!(body["story"]["feed"], "World Desk");
    assert!(
        body["story"]["url"]
            .as_str()
            .unwrap()
            .starts_with("https://news.example.org/")
    );
    assert!(body["detected_at"].as_str().unwrap().ends_with('Z'));
    let published: std::collections::BTreeSet<String> = requests
        .iter()
        .filter_map(|r| serde_json::from_slice::<serde_json::Value>(&r.body).ok())
        .filter_map(|b| b["story"]["published"].as_str().map(str::to_owned))
        .collect();
    let expected = ["2026-11-26T08:00:00Z", "2026-11-26T09:10:00Z"].map(str::to_owned);
    assert_eq!(
        published,
        expected.into(),
        "RFC 3339, as the design's payload"
    );
    assert!(body["rules"].is_array() && body["matched"].is_array());
}

#[tokio::test]
async fn a_webhook_receiver_slower_than_the_timeout_is_retried() {
    let hook = receiver(vec![
        Reply::status(200).delayed(Duration::from_secs(5)),
        Reply::status(200).delayed(Duration::from_secs(5)),
    ]);
    let ws = Workspace::new(&config(
        "https://news.example.org/feed",
        "ops",
        &format!(
            "{}timeout = \"1s\"\n",
            webhook_channel(&hook.url("/hook"), "json")
        ),
    ));
    ws.write("hook.secret", &format!("{SECRET}\n"));
    let (deliverer, store, clock) = queued(&ws, "world.rss");
    let started = std::time::Instant::now();
    let slow = deliverer.deliver_due().await.unwrap();
    assert_eq!((slow.delivered, slow.retrying), (0, 2));
    assert!(started.elapsed() < Duration::from_secs(5));
    for state in states(&store).await {
        let error = state.last_error.unwrap_or_default();
        assert!(error.contains("timed out"), "{error}");
    }
    clock.advance(Duration::from_secs(3600));
    assert_eq!(deliverer.deliver_due().await.unwrap().delivered, 2);
}

/// The fixture's two alerts sent in one round to a signed JSON webhook at `hook`; the
/// alerts' states after it.
async fn one_round_to(hook: &TestServer) -> Vec<AlertState> {
    let ws = Workspace::new(&config(
        "https://news.example.org/feed",
        "ops",
        &webhook_channel(&hook.url("/hook"), "json"),
    ));
    ws.write("hook.secret", SECRET);
    let (deliverer, store, _clock) = queued(&ws, "world.rss");
    deliverer.deliver_due().await.unwrap();
    states(&store).await
}

#[tokio::test]
async fn webhook_retry_after_is_honoured_and_4xx_is_permanent() {
    let hook = receiver(vec![
        Reply::status(429).header("Retry-After", "120"),
        Reply::ok("application/json", "{\"error\":\n  \"unknown hook\"}").with_status(404),
    ]);
    let states = one_round_to(&hook).await;
    let throttled = states
        .iter()
        .find(|s| s.state == "failed")
        .expect("the 429 waits");
    assert_eq!(
        throttled.next_attempt - T0,
        120,
        "a longer Retry-After wins over the 5 s retry"
    );
    let dead = states
        .iter()
        .find(|s| s.state == "dead")
        .expect("the 404 is final");
    // The receiver's explanation is kept, on one line.
    assert_eq!(
        dead.last_error.as_deref(),
        Some("HTTP 404: {\"error\": \"unknown hook\"}")
    );
}

#[tokio::test]
async fn a_webhook_that_redirects_is_not_followed_and_says_where() {
    let hook = receiver(vec![
        Reply::status(308).header("Location", "https://hooks.example.org/new"),
        Reply::status(308).header("Location", "https://hooks.example.org/new"),
    ]);
    for state in one_round_to(&hook).await {
        assert_eq!(state.state, "dead");
        assert_eq!(
            state.last_error.as_deref(),
            Some(
                "HTTP 308: redirects to https://hooks.example.org/new; point the channel's url there"
            )
        );
    }
    assert!(hook.requests().iter().all(|r| r.method == "POST"));
}

#[tokio::test]
async fn slack_and_discord_payloads() {
    for (format, key) in [("slack", "text"), ("discord", "content")] {
        let hook = receiver(vec![]);
        let ws = Workspace::new(&config(
            "https://news.example.org/feed",
            "ops",
            &webhook_channel(&hook.url("/hook"), format),
        ));
        ws.write("hook.secret", SECRET);
        let (deliverer, _, _) = queued(&ws, "world.rss");
        deliverer.deliver_due().await.unwrap();
        let bodies: Vec<serde_json::Value> = hook
            .requests()
            .iter()
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect();
        let text = bodies
            .iter()
            .map(|b| b[key].as_str().unwrap().to_owned())
            .find(|t| t.contains("Peskov rejects"))
            .unwrap();
        match format {
            "slack" => assert!(text.starts_with("*<https://news.example.org/2026/11/peskov-rejects|Kremlin spokesman Peskov rejects the proposal>*"), "{text}"),
            _ => assert!(text.starts_with("**[Kremlin spokesman Peskov rejects the proposal](https://news.example.org/2026/11/peskov-rejects)**"), "{text}"),
        }
        assert!(text.contains("rules: Peskov, Kremlin"), "{text}");
        assert!(text.contains("*Peskov*"), "{text}");
    }
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
    let feeds = TestServer::files(vec![(
        "/world.rss",
        "application/rss+xml",
        fixture("world.rss"),
    )]);
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

/// One feed and a webhook `ops` as its health channel, with what a test needs to fetch
/// it (`ingest_feed`) and deliver on a manual clock.
struct Health {
    /// Holds the database's folder.
    _ws: Workspace,
    config: Arc<Config>,
    store: StoreHandle,
    rules: Arc<CompiledRules>,
    fetcher: newshound::fetch::Fetcher,
    clock: Clock,
    deliverer: Deliverer,
}

impl Health {
    /// Fetches the feed as at `minutes` after T0.
    async fn fetch_at(&self, minutes: i64) {
        let feed = &self.config.feeds[0];
        newshound::ingest::ingest_feed(
            &self.config,
            &self.rules,
            &self.fetcher,
            &self.store,
            feed,
            T0 + minutes * 60,
        )
        .await
        .unwrap();
    }

    fn new(feeds: &TestServer, hook: &TestServer, fetch: &str) -> Health {
        let ws = Workspace::new(&format!(
            "[fetch]\n{fetch}health_channels = [\"ops\"]\n[[feed]]\nurl = \"{}\"\n[channel.ops]\nkind = \"webhook\"\nurl = \"{}\"\n",
            feeds.url("/feed"),
            hook.url("/hook")
        ));
        let config = Arc::new(Config::load(&ws.config()).unwrap());
        let mut store = Store::open(&config.storage.path).unwrap();
        store
            .sync_feeds([(config.feeds[0].url.as_str(), None)])
            .unwrap();
        let store = StoreHandle::spawn(store);
        let clock = Clock::manual(T0);
        Health {
            rules: Arc::new(CompiledRules::new(&config.rules)),
            fetcher: newshound::fetch::Fetcher::new(&config.fetch).unwrap(),
            deliverer: Deliverer::new(config.clone(), store.clone(), clock.clone()).unwrap(),
            _ws: ws,
            config,
            store,
            clock,
        }
    }
}

#[tokio::test]
async fn feed_health_notices_once_when_stale_and_once_when_recovered() {
    let up = Arc::new(Mutex::new(false));
    let flag = up.clone();
    let feeds = TestServer::start(move |_: &Request| {
        if *flag.lock().unwrap() {
            Reply::ok("application/rss+xml", fixture("world.rss"))
        } else {
            Reply::status(503)
        }
    });
    let hook = receiver(vec![]);
    let health = Health::new(&feeds, &hook, "stale_after = \"1h\"\n");
    let (clock, deliverer) = (&health.clock, &health.deliverer);
    // Failing for 10 minutes, then two hours: one stale notice, not one per failure.
    let fetch_at = async |minutes: i64| health.fetch_at(minutes).await;
    let notices = || -> Vec<serde_json::Value> {
        hook.requests()
            .iter()
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect()
    };
    for minutes in [0, 10, 120, 130] {
        fetch_at(minutes).await;
    }
    clock.advance(Duration::from_secs(130 * 60));
    deliverer.deliver_due().await.unwrap();
    let sent = notices();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["type"], "feed_health");
    assert_eq!(sent[0]["status"], "stale");
    assert!(
        sent[0]["message"].as_str().unwrap().contains("HTTP 503"),
        "{}",
        sent[0]
    );
    // Recovery: one notice, then quiet.
    *up.lock().unwrap() = true;
    for minutes in [140, 150] {
        fetch_at(minutes).await;
    }
    clock.advance(Duration::from_secs(20 * 60));
    deliverer.deliver_due().await.unwrap();
    let sent = notices();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1]["status"], "recovered");
}

#[tokio::test]
async fn a_possible_gap_is_told_to_the_health_channels_once_a_week() {
    // Each page lists three stories none of the pages before listed.
    let page = Arc::new(Mutex::new(0));
    let p = page.clone();
    let feeds = TestServer::start(move |_: &Request| {
        let first = *p.lock().unwrap() * 3;
        let items: String = (first..first + 3)
            .map(|i| format!("<item><title>Story {i}</title><guid>s-{i}</guid></item>"))
            .collect();
        Reply::ok(
            "application/rss+xml",
            format!("<rss version=\"2.0\"><channel><title>Busy</title>{items}</channel></rss>"),
        )
    });
    let hook = receiver(vec![]);
    let health = Health::new(&feeds, &hook, "");
    let clock = &health.clock;
    let minutes = async |at: i64| {
        clock.advance(Duration::from_secs((T0 + at * 60 - clock.now()) as u64));
        health.fetch_at(at).await;
        *page.lock().unwrap() += 1;
        health.deliverer.deliver_due().await.unwrap();
        hook.requests()
            .iter()
            .map(|r| serde_json::from_slice::<serde_json::Value>(&r.body).unwrap())
            .collect::<Vec<_>>()
    };
    assert!(minutes(0).await.is_empty(), "a first fetch is no gap");
    let sent = minutes(10).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["type"], "feed_health");
    assert_eq!(sent[0]["status"], "possible_gap");
    assert_eq!(
        sent[0]["message"],
        format!(
            "{}: all 3 entries are new since the last successful fetch 10m ago: stories \
             published in between may have been missed (if this recurs, give the feed a shorter \
             interval); `newshound feeds` counts every feed's possible gaps",
            feeds.url("/feed")
        )
    );
    assert_eq!(minutes(20).await.len(), 1, "not again within the week");
    assert_eq!(minutes(8 * 24 * 60).await.len(), 2, "again a week later");
}

#[tokio::test]
async fn required_tls_is_never_skipped() {
    // The test server offers no STARTTLS: with `tls = "required"` nothing is sent in the
    // clear, and the alert waits with an error that says why.
    let smtp = SmtpServer::start();
    let ws = Workspace::new(&config(
        "https://news.example.org/feed",
        "desk",
        &email_channel("desk", &smtp.url(), "tls = \"required\""),
    ));
    let (deliverer, store, _) = queued(&ws, "world.rss");
    let report = deliverer.deliver_due().await.unwrap();
    assert_eq!((report.delivered, report.retrying), (0, 2));
    assert!(smtp.received().is_empty());
    let states = states(&store).await;
    let error = states[0].last_error.as_deref().unwrap();
    assert!(error.to_ascii_lowercase().contains("tls"), "{error}");
}
