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
