//! Mail servers and recipients that refuse, fail or stop answering: nothing is lost,
//! and nothing is sent twice.

use super::*;

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
    let (deliverer, store, clock) = queued_body(&ws, &three_peskov_stories());
    let started = std::time::Instant::now();
    let stalled = deliverer.deliver_due().await.unwrap();
    assert_eq!((stalled.delivered, stalled.retrying), (0, 3));
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "each message waits 1 s, not for the server: {:?}",
        started.elapsed()
    );
    // A message sent and not finished may be that message's doing: the next one is
    // tried all the same, on a new connection. Two in a row are a server that hangs:
    // the third is not sent.
    assert_eq!(smtp.connections(), 2);
    let unfinished = "the mail server did not finish within 1s (the channel's timeout)";
    let waiting = states(&store).await;
    for state in &waiting[..2] {
        assert_eq!((state.state.as_str(), state.attempts), ("failed", 1));
        assert_eq!(state.last_error.as_deref(), Some(unfinished));
    }
    assert_eq!(
        waiting[2].last_error.as_deref(),
        Some(
            format!("not tried: the channel was unavailable ({unfinished}, twice in a row)")
                .as_str()
        )
    );
    smtp.slow(Duration::ZERO);
    clock.advance(Duration::from_secs(3600));
    let recovered = deliverer.deliver_due().await.unwrap();
    assert_eq!(recovered.delivered, 3);
    assert!(states(&store).await.iter().all(|s| s.state == "sent"));
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
    let feeds = world_feed();
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

#[tokio::test]
async fn a_refused_login_is_tried_once_a_round_and_loses_no_alert() {
    // A wrong password is the channel's failure, not the messages': one login per round
    // (a server counting failed logins may lock the account), and the alerts wait for
    // the password to be mended instead of dying.
    let smtp = SmtpServer::start();
    smtp.refuse_logins(Some("535 5.7.8 authentication failed"));
    let ws = Workspace::new(&config(
        "https://news.example.org/feed",
        "desk",
        &email_channel(
            "desk",
            &smtp.url(),
            "username = \"newshound\"\npassword_env = \"PATH\"",
        ),
    ));
    let (deliverer, store, clock) = queued(&ws, "world.rss");
    let round = deliverer.deliver_due().await.unwrap();
    assert_eq!((round.retrying, round.dead), (2, 0));
    assert_eq!(smtp.logins().len(), 1);
    let waiting = states(&store).await;
    for state in &waiting {
        let error = state.last_error.as_deref().unwrap();
        assert!(error.contains("authentication failed"), "{error}");
        assert_eq!(state.state, "failed");
    }
    smtp.refuse_logins(None);
    clock.advance(Duration::from_secs(10));
    assert_eq!(deliverer.deliver_due().await.unwrap().delivered, 2);
    assert_eq!(smtp.received().len(), 2);
}

#[tokio::test]
async fn a_mail_server_that_never_lets_newshound_in_is_tried_once_a_round() {
    // It accepts the connection and never greets: not the messages' doing, so the round
    // waits once, not once per alert.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let held = accepted.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            held.lock().unwrap().push(stream);
        }
    });
    let ws = Workspace::new(&config(
        "https://news.example.org/feed",
        "desk",
        &email_channel(
            "desk",
            &format!("smtp://127.0.0.1:{port}"),
            "timeout = \"1s\"",
        ),
    ));
    let (deliverer, store, _clock) = queued(&ws, "world.rss");
    let round = deliverer.deliver_due().await.unwrap();
    assert_eq!(round.retrying, 2);
    assert_eq!(accepted.lock().unwrap().len(), 1);
    let waiting = states(&store).await;
    let first = format!(
        "the mail server 127.0.0.1:{port} did not let newshound in within 1s (the channel's \
         timeout)"
    );
    assert_eq!(waiting[0].last_error.as_deref(), Some(first.as_str()));
    assert_eq!(
        waiting[1].last_error.as_deref(),
        Some(format!("not tried: the channel was unavailable ({first})").as_str())
    );
}
