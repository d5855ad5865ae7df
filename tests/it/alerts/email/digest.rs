//! Digest channels: hits grouped by rule once a window passes, daily digests at their
//! time of day, and a digest the mail server refuses.

use super::*;

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
    // Titles are marked as snippets are.
    assert!(
        text[embassy..kremlin].contains("* *Embassy* in Kyiv to *reopen* next month"),
        "{text}"
    );
    assert!(
        text[peskov..].contains("* *Kremlin* spokesman *Peskov* rejects the proposal"),
        "{text}"
    );
    assert!(parsed.body_html(0).unwrap().contains("<h3>Peskov</h3>"));
    assert!(states(&store).await.iter().all(|s| s.state == "sent"));
}

#[tokio::test]
async fn a_daily_digest_goes_at_its_time_of_day_in_messages_of_at_most_200_stories() {
    let smtp = SmtpServer::start();
    let ws = Workspace::new(&config(
        "https://news.example.org/feed",
        "desk",
        &email_channel("desk", &smtp.url(), "digest = \"daily 09:30 UTC\""),
    ));
    // Queued at 08:00 UTC.
    let (deliverer, store, clock) = queued_body(&ws, &peskov_stories(250));
    clock.advance(Duration::from_secs(89 * 60));
    deliverer.deliver_due().await.unwrap();
    assert!(smtp.received().is_empty(), "09:29: not yet");
    clock.advance(Duration::from_secs(60));
    let report = deliverer.deliver_due().await.unwrap();
    assert_eq!(report.delivered, 250);
    let subjects: Vec<String> = smtp
        .received()
        .iter()
        .map(|m| m.header("Subject").unwrap())
        .collect();
    assert_eq!(
        subjects,
        [
            "[newshound] digest: 200 stories for Peskov",
            "[newshound] digest: 50 stories for Peskov"
        ]
    );
    assert!(states(&store).await.iter().all(|s| s.state == "sent"));
}

#[tokio::test]
async fn a_digest_the_mail_server_refuses_is_retried_on_schedule_and_loses_nothing() {
    let down = RefusingPort::new();
    let url = format!("smtp://127.0.0.1:{}", down.port());
    let ws = Workspace::new(&config(
        "https://news.example.org/feed",
        "desk",
        &email_channel("desk", &url, "digest = \"15m\""),
    ));
    let (deliverer, store, clock) = queued(&ws, "world.rss");
    clock.advance(Duration::from_secs(15 * 60));
    // A delivery round every 5 s for two minutes while the server is down: the digest
    // is tried on the retry schedule (at once, then after 5 s, then after 5 min), not
    // every round, and its alerts wait.
    for _ in 0..24 {
        deliverer.deliver_due().await.unwrap();
        clock.advance(Duration::from_secs(5));
    }
    let waiting = states(&store).await;
    assert!(
        waiting
            .iter()
            .all(|s| s.state == "failed" && s.attempts == 2),
        "{waiting:?}"
    );
    let smtp = SmtpServer::on(down.listen());
    clock.advance(Duration::from_secs(5 * 60));
    let up = deliverer.deliver_due().await.unwrap();
    assert_eq!(up.delivered, 2);
    assert_eq!(smtp.received().len(), 1, "one digest");
}
