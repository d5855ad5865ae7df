//! Feed-health notices to the `health_channels`.

use super::*;

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
        Health::with_format(feeds, hook, fetch, "json")
    }

    /// With the webhook's `format`.
    fn with_format(feeds: &TestServer, hook: &TestServer, fetch: &str, format: &str) -> Health {
        let ws = Workspace::new(&format!(
            "[fetch]\n{fetch}health_channels = [\"ops\"]\n[[feed]]\nurl = \"{}\"\n[channel.ops]\nkind = \"webhook\"\nformat = \"{format}\"\nurl = \"{}\"\n",
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
    let notices = || hook.json_bodies();
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
async fn slack_and_discord_health_channels_are_told_in_a_message_they_take() {
    // Both refuse a post without their message field ("no_text", "Cannot send an empty
    // message"): the notice must be that message, not the JSON notice object.
    for (format, field) in [("slack", "text"), ("discord", "content")] {
        let feeds = TestServer::start(|_: &Request| Reply::status(503));
        let hook = receiver(vec![]);
        let health = Health::with_format(&feeds, &hook, "stale_after = \"1h\"\n", format);
        for minutes in [0, 120] {
            health.fetch_at(minutes).await;
        }
        health.clock.advance(Duration::from_secs(120 * 60));
        let report = health.deliverer.deliver_due().await.unwrap();
        assert_eq!(report.delivered, 1, "{format}");
        let sent = hook.json_bodies();
        assert_eq!(sent.len(), 1, "{format}: {sent:?}");
        let keys: Vec<&String> = sent[0].as_object().unwrap().keys().collect();
        assert!(!keys.contains(&&"type".to_owned()), "{format}: {}", sent[0]);
        let text = sent[0][field].as_str().unwrap();
        let url = feeds.url("/feed");
        let expected_title = match format {
            "slack" => format!("*feed failing: {url}*\n{url}"),
            _ => format!("**feed failing: {url}**\n{url}"),
        };
        assert!(text.starts_with(&expected_title), "{format}: {text}");
        assert!(text.contains("HTTP 503"), "{format}: {text}");
        if format == "discord" {
            assert_eq!(sent[0]["allowed_mentions"]["parse"], serde_json::json!([]));
        }
    }
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
        hook.json_bodies()
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
async fn a_feed_that_answers_without_a_new_story_for_quiet_after_is_told_once() {
    // The same document every time: its stories were new once, then nothing is.
    let feeds =
        TestServer::start(|_: &Request| Reply::ok("application/rss+xml", fixture("world.rss")));
    let hook = receiver(vec![]);
    let health = Health::new(&feeds, &hook, "quiet_after = \"3d\"\n");
    let clock = &health.clock;
    let days = async |at: i64| {
        clock.advance(Duration::from_secs((T0 + at * 86400 - clock.now()) as u64));
        health.fetch_at(at * 24 * 60).await;
        health.deliverer.deliver_due().await.unwrap();
        hook.json_bodies()
    };
    assert!(days(0).await.is_empty());
    assert!(days(2).await.is_empty(), "two days");
    let sent = days(3).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["type"], "feed_health");
    assert_eq!(sent[0]["status"], "quiet");
    assert_eq!(sent[0]["feed"]["url"], feeds.url("/feed"));
    assert_eq!(
        sent[0]["message"],
        format!(
            "{} answers but has brought no new story for longer than 3days (quiet_after): its \
             newest story is from {}; the site may have moved its feed (`newshound feeds` \
             shows its state)",
            feeds.url("/feed"),
            chrono::DateTime::from_timestamp(T0, 0)
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
    );
    assert_eq!(days(4).await.len(), 1, "once");
}

#[tokio::test]
async fn a_channel_failing_for_an_hour_is_told_to_the_other_health_channels_and_so_is_its_recovery()
{
    let down = RefusingPort::new();
    let hook = receiver(vec![]);
    let ws = Workspace::new(&format!(
        "[alerts]\nmax_age = \"100000d\"\nfailing_after = \"1h\"\n\
         [fetch]\nhealth_channels = [\"ops\", \"desk\"]\n\
         [[feed]]\nurl = \"http://127.0.0.1:9/feed\"\n\
         {}\
         [channel.ops]\nkind = \"webhook\"\nurl = \"{}\"\n\
         [[rule]]\nname = \"Peskov\"\nquery = 'Peskov'\nchannels = [\"desk\"]\n",
        email_channel("desk", &format!("smtp://127.0.0.1:{}", down.port()), ""),
        hook.url("/hook")
    ));
    let (deliverer, store, clock) = queued_body(&ws, &three_peskov_stories());
    let told = || hook.json_bodies();
    // The mail server is down: the alerts fail, and retry, for 35 minutes: not told yet.
    for minutes in [0, 5, 30] {
        clock.advance(Duration::from_secs(minutes * 60));
        let report = deliverer.deliver_due().await.unwrap();
        assert_eq!(report.delivered, 0);
    }
    assert!(told().is_empty(), "{:?}", told());
    // Past the hour: the webhook channel is told, once; the failing channel is not told
    // of itself.
    clock.advance(Duration::from_secs(30 * 60));
    deliverer.deliver_due().await.unwrap();
    clock.advance(Duration::from_secs(60 * 60));
    deliverer.deliver_due().await.unwrap();
    let sent = told();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["type"], "channel_health");
    assert_eq!(sent[0]["status"], "failing");
    assert_eq!(sent[0]["channel"], "desk");
    let message = sent[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "deliveries through channel `desk` have been failing since 2027-01-15T08:00:00Z: "
        ) && message.contains("alerts waiting for a retry: 3, dead: 0"),
        "{message}"
    );
    // The server comes up: the alerts go out, and the webhook channel hears so.
    let smtp = SmtpServer::on(down.listen());
    clock.advance(Duration::from_secs(24 * 60 * 60));
    let report = deliverer.deliver_due().await.unwrap();
    assert_eq!(report.delivered, 3 + 1, "three alerts and the notice");
    let sent = told();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(
        (&sent[1]["type"], &sent[1]["status"], &sent[1]["channel"]),
        (
            &serde_json::json!("channel_health"),
            &serde_json::json!("recovered"),
            &serde_json::json!("desk")
        )
    );
    let subjects: Vec<_> = smtp
        .received()
        .iter()
        .map(|m| m.header("Subject").unwrap())
        .collect();
    assert_eq!(subjects.len(), 3, "{subjects:?}");
    assert!(
        subjects
            .iter()
            .all(|s| s.starts_with("[newshound] Peskov:")),
        "the mail channel gets its alerts, not notices about itself: {subjects:?}"
    );
    assert!(states(&store).await.iter().all(|s| s.state == "sent"));
}

#[tokio::test]
async fn a_failing_webhook_is_told_by_email() {
    let smtp = SmtpServer::start();
    let hook = receiver(vec![Reply::status(503); 20]);
    let ws = Workspace::new(&format!(
        "[alerts]\nmax_age = \"100000d\"\n[fetch]\nhealth_channels = [\"mail\"]\n\
         [[feed]]\nurl = \"http://127.0.0.1:9/feed\"\n\
         {}\
         [channel.ops]\nkind = \"webhook\"\nurl = \"{}\"\n\
         [[rule]]\nname = \"Peskov\"\nquery = 'Peskov'\nchannels = [\"ops\"]\n",
        email_channel("mail", &smtp.url(), ""),
        hook.url("/hook")
    ));
    let (deliverer, _store, clock) = queued_body(&ws, &three_peskov_stories());
    for minutes in [0, 5, 30, 40] {
        clock.advance(Duration::from_secs(minutes * 60));
        deliverer.deliver_due().await.unwrap();
    }
    let received = smtp.received();
    assert_eq!(received.len(), 1, "one notice");
    assert_eq!(
        received[0].header("Subject").as_deref(),
        Some("[newshound] alert channel failing: ops")
    );
    let text = received[0].parsed().body_text(0).unwrap().into_owned();
    assert!(
        text.contains("deliveries through channel `ops` have been failing since ")
            && text.contains("HTTP 503"),
        "{text}"
    );
}
