//! Webhook delivery to a real HTTP receiver on 127.0.0.1.

use super::*;

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
    let hook = receiver(vec![Reply::status(200).delayed(Duration::from_secs(5)); 2]);
    let ws = Workspace::new(&config(
        "https://news.example.org/feed",
        "ops",
        &format!(
            "{}timeout = \"1s\"\n",
            webhook_channel(&hook.url("/hook"), "json")
        ),
    ));
    ws.write("hook.secret", &format!("{SECRET}\n"));
    let (deliverer, store, clock) = queued_body(&ws, &three_peskov_stories());
    let started = std::time::Instant::now();
    let slow = deliverer.deliver_due().await.unwrap();
    assert_eq!((slow.delivered, slow.retrying), (0, 3));
    assert!(started.elapsed() < Duration::from_secs(5));
    // No answer in time to a request sent may be that payload's doing: the next alert
    // is tried all the same. Two in a row are a receiver that hangs: the third is not
    // sent, and the round costs two waits, not three.
    assert_eq!(hook.requests().len(), 2);
    let waiting = states(&store).await;
    for state in &waiting {
        let error = state.last_error.clone().unwrap_or_default();
        assert!(error.contains("timed out"), "{error}");
    }
    let third = waiting[2].last_error.as_deref().unwrap();
    assert!(
        third.starts_with("not tried: the channel was unavailable (")
            && third.ends_with(", twice in a row)"),
        "{third}"
    );
    clock.advance(Duration::from_secs(3600));
    assert_eq!(deliverer.deliver_due().await.unwrap().delivered, 3);
}

#[tokio::test]
async fn an_alert_the_receiver_fails_on_does_not_hold_back_the_others() {
    // A receiver whose application fails on one payload (its gateway answers 502).
    let hook = receiver(vec![Reply::status(502)]);
    let (states, _) = one_round_to(&hook).await;
    assert_eq!(hook.requests().len(), 2);
    let mut outcomes: Vec<&str> = states.iter().map(|s| s.state.as_str()).collect();
    outcomes.sort_unstable();
    assert_eq!(outcomes, ["failed", "sent"]);
}

#[tokio::test]
async fn a_throttling_receiver_costs_a_round_one_request() {
    // 429 speaks for the receiver, not for one alert: asked for a pause longer than a
    // round takes, the others wait for the retry untried, with the receiver's
    // Retry-After.
    let hook = receiver(vec![Reply::status(429).header("Retry-After", "60")]);
    let (waiting, (deliverer, clock, _ws)) = one_round_to(&hook).await;
    assert_eq!(hook.requests().len(), 1);
    assert_eq!(waiting[0].last_error.as_deref(), Some("HTTP 429"));
    assert_eq!(
        waiting[1].last_error.as_deref(),
        Some("not tried: the channel was unavailable (HTTP 429)")
    );
    for state in &waiting {
        assert_eq!(state.state, "failed");
        assert_eq!(state.next_attempt - T0, 60, "the receiver's Retry-After");
    }
    clock.advance(Duration::from_secs(60));
    assert_eq!(deliverer.deliver_due().await.unwrap().delivered, 2);
    assert_eq!(hook.requests().len(), 3);
}

#[tokio::test]
async fn a_receiver_keeping_a_pace_gets_a_burst_in_one_round() {
    // Discord's way: a few requests, then 429 with a pause of a second or two. The
    // round keeps the pace — each refused alert is sent again after the pause — and
    // nothing counts a failed attempt.
    let n = 12;
    let served = Mutex::new(0usize);
    let hook = TestServer::start(move |_: &Request| {
        let mut served = served.lock().unwrap();
        *served += 1;
        if served.is_multiple_of(6) {
            Reply::status(429).header("Retry-After", "2")
        } else {
            Reply::status(204)
        }
    });
    let (deliverer, store, clock, _ws) = queued_for(&hook, &peskov_stories(n));
    let round = deliverer.deliver_due().await.unwrap();
    assert_eq!(
        round,
        DeliveryReport {
            delivered: n,
            ..Default::default()
        }
    );
    let throttled = (n - 1) / 5;
    assert_eq!(hook.requests().len(), n + throttled);
    assert_eq!(
        clock.now() - T0,
        2 * throttled as i64,
        "a pause of 2 s each time"
    );
    let ids: std::collections::BTreeSet<String> = hook
        .requests()
        .iter()
        .map(|r| r.headers["webhook-id"].clone())
        .collect();
    assert_eq!(
        ids.len(),
        n,
        "the refused alert is sent again, under its own id"
    );
    assert!(
        states(&store)
            .await
            .iter()
            .all(|s| s.state == "sent" && s.last_error.is_none()),
        "{:?}",
        states(&store).await
    );
}

#[tokio::test]
async fn a_receiver_throttling_for_more_than_a_minute_leaves_the_rest_for_the_retry() {
    // 429 without Retry-After, every time: the round pauses a second at a time for a
    // minute, then the alerts count a failed attempt and wait for their retries.
    let hook = receiver(vec![Reply::status(429); 1000]);
    let (waiting, (_deliverer, clock, _ws)) = one_round_to(&hook).await;
    assert_eq!(
        hook.requests().len(),
        61,
        "the first try and 60 after a second each"
    );
    assert_eq!(clock.now() - T0, 60);
    assert_eq!(waiting[0].last_error.as_deref(), Some("HTTP 429"));
    assert_eq!(
        waiting[1].last_error.as_deref(),
        Some("not tried: the channel was unavailable (HTTP 429)")
    );
    assert!(
        waiting
            .iter()
            .all(|s| s.state == "failed" && s.attempts == 1),
        "{waiting:?}"
    );
}

#[tokio::test]
async fn a_receiver_that_refuses_connections_is_tried_once_a_round() {
    let (down, deliverer, store, clock, _ws) = queued_for_a_refusing_receiver();
    assert_eq!(deliverer.deliver_due().await.unwrap().retrying, 2);
    let waiting = states(&store).await;
    let untried = waiting[1].last_error.as_deref().unwrap();
    assert!(
        untried.starts_with("not tried: the channel was unavailable ("),
        "{untried}"
    );
    // Each alert moves along its own schedule, and arrives once the receiver is up.
    assert!(waiting.iter().all(|s| s.attempts == 1), "{waiting:?}");
    let hook = TestServer::on(down.listen(), |_| Reply::status(204));
    clock.advance(Duration::from_secs(10));
    assert_eq!(deliverer.deliver_due().await.unwrap().delivered, 2);
    assert_eq!(hook.requests().len(), 2);
}

#[tokio::test]
async fn retries_are_spread_either_side_of_the_schedule() {
    // Forty alerts failing at once must not all come back at the same second: each
    // retry is the schedule's ±10% (5 s: from 4.5 s to 5.5 s, kept in whole seconds).
    let n = 40;
    let hook = TestServer::start(|_: &Request| Reply::status(500));
    let (deliverer, store, _clock, _ws) = queued_for(&hook, &peskov_stories(n));
    assert_eq!(deliverer.deliver_due().await.unwrap().retrying, n);
    let delays: std::collections::BTreeSet<i64> = states(&store)
        .await
        .iter()
        .map(|s| s.next_attempt - T0)
        .collect();
    assert_eq!(delays, [4, 5].into(), "both sides of 5 s");
}

/// The log lines (warnings and errors) written on this thread while `run` runs.
async fn logged<T>(run: impl std::future::Future<Output = T>) -> (T, String) {
    let capture = newshound::log_capture::Capture::start(tracing::Level::WARN);
    let out = run.await;
    (out, capture.lines())
}

#[tokio::test]
async fn alerts_not_tried_are_logged_once_for_all_as_retrying_then_as_dead() {
    // A receiver that is never up: each round tries the first alert, logged on its own,
    // and fails the other untried, with one line for all such — "will retry" while
    // retries are left, "marked dead" once they are spent, and never a line for none.
    let (_down, deliverer, store, clock, _ws) = queued_for_a_refusing_receiver();
    for round in 1..=10 {
        let (report, log) = logged(deliverer.deliver_due()).await;
        let report = report.unwrap();
        let together: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("alerts not sent"))
            .collect();
        assert_eq!(together.len(), 1, "round {round}: {log}");
        // The alert tried has a line of its own; the one not tried, none.
        let (retrying, spent) = (
            log.matches("delivery failed; will retry").count(),
            log.matches("delivery failed and the retries are spent")
                .count(),
        );
        assert_eq!(
            (retrying, spent),
            if round < 10 { (1, 0) } else { (0, 1) },
            "round {round}: {log}"
        );
        let own = log.lines().find(|l| l.contains("delivery failed")).unwrap();
        assert!(!own.contains("not tried"), "round {round}: {own}");
        if round < 10 {
            assert_eq!((report.retrying, report.dead), (2, 0), "round {round}");
            assert!(
                together[0].contains("alerts not sent; they will retry")
                    && together[0].contains("alerts=1"),
                "round {round}: {log}"
            );
        } else {
            assert_eq!((report.retrying, report.dead), (0, 2));
            assert!(
                together[0].contains("alerts not sent, and their retries are spent; marked dead")
                    && together[0].contains("alerts=1"),
                "{log}"
            );
        }
        clock.advance(Duration::from_secs(30 * 3600));
    }
    assert!(states(&store).await.iter().all(|s| s.state == "dead"));
}

#[tokio::test]
async fn a_backlog_longer_than_one_read_goes_out_whole_and_once() {
    // A round reads a channel's due alerts a chunk at a time: every chunk is sent, and
    // none twice.
    let n = 2 * ALERTS_PER_READ + 7;
    let hook = receiver(Vec::new());
    let (deliverer, store, _clock, _ws) = queued_for(&hook, &peskov_stories(n));
    assert_eq!(deliverer.deliver_due().await.unwrap().delivered, n);
    let ids: std::collections::BTreeSet<String> = hook
        .requests()
        .iter()
        .map(|r| r.headers["webhook-id"].clone())
        .collect();
    assert_eq!((hook.requests().len(), ids.len()), (n, n));
    assert!(states(&store).await.iter().all(|s| s.state == "sent"));
    assert_eq!(
        deliverer.deliver_due().await.unwrap(),
        DeliveryReport::default()
    );
}

#[tokio::test]
async fn a_receiver_that_throttles_mid_backlog_leaves_every_later_alert_untried() {
    // It takes one read's worth and a few more, then asks for a pause: the alerts of the
    // read in hand and of those not yet read all wait for the retry, untried.
    let n = 2 * ALERTS_PER_READ + 7;
    let accepted = ALERTS_PER_READ + 3;
    let mut script = vec![Reply::status(204); accepted];
    script.push(Reply::status(429).header("Retry-After", "60"));
    let hook = receiver(script);
    let (deliverer, store, clock, _ws) = queued_for(&hook, &peskov_stories(n));
    let round = deliverer.deliver_due().await.unwrap();
    assert_eq!((round.delivered, round.retrying), (accepted, n - accepted));
    assert_eq!(hook.requests().len(), accepted + 1);
    let waiting: Vec<AlertState> = states(&store)
        .await
        .into_iter()
        .filter(|s| s.state != "sent")
        .collect();
    assert_eq!(waiting.len(), n - accepted);
    assert_eq!(waiting[0].last_error.as_deref(), Some("HTTP 429"));
    for state in &waiting[1..] {
        assert_eq!(
            state.last_error.as_deref(),
            Some("not tried: the channel was unavailable (HTTP 429)")
        );
    }
    assert!(
        waiting
            .iter()
            .all(|s| s.attempts == 1 && s.next_attempt - T0 == 60),
        "{waiting:?}"
    );
    clock.advance(Duration::from_secs(60));
    assert_eq!(
        deliverer.deliver_due().await.unwrap().delivered,
        n - accepted
    );
    assert_eq!(hook.requests().len(), n + 1);
}

/// The fixture's two alerts queued for a signed JSON webhook on a port that refuses
/// connections (returned, so that a test can start a receiver there later).
fn queued_for_a_refusing_receiver() -> (RefusingPort, Deliverer, StoreHandle, Clock, Workspace) {
    let down = RefusingPort::new();
    let url = format!("http://127.0.0.1:{}/hook", down.port());
    let ws = Workspace::new(&config(
        "https://news.example.org/feed",
        "ops",
        &webhook_channel(&url, "json"),
    ));
    ws.write("hook.secret", SECRET);
    let (deliverer, store, clock) = queued(&ws, "world.rss");
    (down, deliverer, store, clock, ws)
}

/// The fixture's two alerts sent in one round to a signed JSON webhook at `hook`; the
/// alerts' states after it, and the deliverer, clock and workspace for more rounds.
async fn one_round_to(hook: &TestServer) -> (Vec<AlertState>, (Deliverer, Clock, Workspace)) {
    let (deliverer, store, clock, ws) = queued_for(hook, &fixture("world.rss"));
    deliverer.deliver_due().await.unwrap();
    (states(&store).await, (deliverer, clock, ws))
}

/// The alerts of the feed `body` queued for a signed JSON webhook at `hook`.
fn queued_for(hook: &TestServer, body: &[u8]) -> (Deliverer, StoreHandle, Clock, Workspace) {
    let ws = Workspace::new(&config(
        "https://news.example.org/feed",
        "ops",
        &webhook_channel(&hook.url("/hook"), "json"),
    ));
    ws.write("hook.secret", SECRET);
    let (deliverer, store, clock) = queued_body(&ws, body);
    (deliverer, store, clock, ws)
}

#[tokio::test]
async fn webhook_retry_after_is_honoured_and_4xx_is_permanent() {
    let hook = receiver(vec![
        Reply::ok("application/json", "{\"error\":\n  \"unknown hook\"}").with_status(404),
        Reply::status(429).header("Retry-After", "120"),
    ]);
    let (states, _) = one_round_to(&hook).await;
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
    for state in one_round_to(&hook).await.0 {
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
        let bodies = hook.json_bodies();
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

#[tokio::test]
async fn alerts_of_a_channel_that_cannot_send_wait_for_it() {
    // The channel's secret cannot be read: nothing is sent unsigned, and the alerts wait
    // with the reason.
    let hook = receiver(Vec::new());
    let url = "https://news.example.org/feed";
    let ws = Workspace::new(&config(
        url,
        "ops",
        &webhook_channel(&hook.url("/hook"), "json"),
    ));
    let (deliverer, store, clock) = queued(&ws, "world.rss");
    assert_eq!(deliverer.deliver_due().await.unwrap().retrying, 2);
    for state in states(&store).await {
        let error = state.last_error.unwrap();
        assert!(error.contains("hook.secret"), "{error}");
    }

    // The channel removed from the config: its alerts wait for it, untouched.
    ws.write(
        "newshound.toml",
        &config(url, "console", "[channel.console]\nkind = \"log\"\n"),
    );
    let config_without = Config::load(&ws.config()).unwrap();
    let without = Deliverer::new(Arc::new(config_without), store.clone(), clock.clone()).unwrap();
    clock.advance(Duration::from_secs(600));
    assert_eq!(
        without.deliver_due().await.unwrap(),
        DeliveryReport::default()
    );
    assert!(
        states(&store).await.iter().all(|s| s.attempts == 1),
        "not counted against their retries"
    );

    // Back, with its secret: each alert goes out once.
    ws.write("hook.secret", SECRET);
    assert_eq!(deliverer.deliver_due().await.unwrap().delivered, 2);
    assert_eq!(hook.requests().len(), 2);
    assert!(hook.requests().iter().all(verify));
}

#[tokio::test]
async fn a_receiver_that_hangs_does_not_hold_back_another_channel() {
    // Channel `a-hung` accepts connections and never answers; `b-fast` answers at once.
    // Sent one after the other, `b-fast` would wait for both of `a-hung`'s timeouts.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hung = format!("http://{}/hook", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let arrived = Arc::new(Mutex::new(Vec::new()));
    let seen = arrived.clone();
    let fast = TestServer::start(move |_| {
        seen.lock().unwrap().push(std::time::Instant::now());
        Reply::status(204)
    });
    let ws = Workspace::new(&format!(
        "[alerts]\nmax_age = \"100000d\"\n\n[[feed]]\nurl = \"https://news.example.org/feed\"\n\n\
         [channel.a-hung]\nkind = \"webhook\"\nurl = \"{hung}\"\ntimeout = \"2s\"\n\n\
         [channel.b-fast]\nkind = \"webhook\"\nurl = \"{}\"\n\n\
         [[rule]]\nname = \"Peskov\"\nquery = \"Peskov OR Kremlin OR embass*\"\n\
         channels = [\"a-hung\", \"b-fast\"]\n",
        fast.url("/hook")
    ));
    let (deliverer, store, _clock) = queued(&ws, "world.rss");
    let started = std::time::Instant::now();
    let round = deliverer.deliver_due().await.unwrap();
    let took = started.elapsed();
    assert_eq!((round.delivered, round.retrying), (2, 2));
    assert!(took >= Duration::from_secs(4), "two waits of 2 s: {took:?}");
    let arrived = arrived.lock().unwrap().clone();
    assert_eq!(arrived.len(), 2);
    for at in arrived {
        assert!(
            at.duration_since(started) < Duration::from_secs(2),
            "b-fast is not held back by a-hung: {:?}",
            at.duration_since(started)
        );
    }
    let sent: Vec<String> = states(&store)
        .await
        .into_iter()
        .filter(|s| s.state == "sent")
        .map(|s| s.channel)
        .collect();
    assert_eq!(sent, ["b-fast", "b-fast"]);
}
