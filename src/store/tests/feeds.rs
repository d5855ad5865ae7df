//! What the store keeps of each feed: possible gaps, intervals, times written ahead
//! of a clock that went back, the newest story, and the notices told of them.

use super::*;

#[test]
fn a_fetch_whose_every_entry_is_new_is_a_possible_gap() {
    let (mut store, a, b) = setup();
    let fetch = |store: &mut Store, feed: i64, ids: &[&str], now: i64| {
        let incoming = ids
            .iter()
            .map(|id| {
                let link = format!("https://news.example/{id}");
                Incoming::matched(story(id, Some(&link), id), Vec::new())
            })
            .collect();
        let meta = FetchMeta {
            next_due: now + 4 * 3600,
            next_due_without_hints: Some(now + 600),
            ..FetchMeta::default()
        };
        let job = IngestJob {
            meta,
            ..job(feed, incoming, now)
        };
        store.ingest(&job).unwrap().possible_gap
    };
    let row = |store: &Store| {
        store
            .feeds(&["https://a.example/feed"])
            .unwrap()
            .pop()
            .unwrap()
    };
    assert_eq!(
        fetch(&mut store, a, &["1", "2", "3"], 1000),
        None,
        "a first fetch"
    );
    assert_eq!(
        fetch(&mut store, a, &["2", "3", "4"], 2000),
        None,
        "overlaps"
    );
    assert_eq!(row(&store).next_due, 2000 + 4 * 3600, "hints kept");
    assert_eq!(fetch(&mut store, a, &["2", "3", "4"], 2500), None);
    assert_eq!(
        row(&store).newest_story,
        Some(2000),
        "the last fetch that brought a new story"
    );
    assert_eq!(
        fetch(&mut store, a, &["5", "6", "7"], 3000),
        Some(PossibleGap {
            entries: 3,
            last_success: Some(2500)
        })
    );
    let after = row(&store);
    assert_eq!(
        (after.possible_gaps, after.last_possible_gap, after.next_due),
        (1, Some(3000), 3000 + 600),
        "counted, and due at its own interval"
    );
    assert_eq!(
        fetch(&mut store, a, &["8"], 4000),
        None,
        "one entry says nothing"
    );
    // Stories another feed stored first were seen: no gap.
    assert_eq!(fetch(&mut store, b, &["x"], 4000), None);
    assert_eq!(fetch(&mut store, a, &["9", "x"], 5000), None);
    assert_eq!(
        fetch(&mut store, a, &["10", "11"], 6000).map(|g| g.describe(6000)),
        Some(
            "all 2 entries are new since the last successful fetch 16m ago: stories published \
             in between may have been missed (if this recurs, give the feed a shorter interval)"
                .to_owned()
        )
    );
    let after = row(&store);
    assert_eq!(
        (after.possible_gaps, after.last_possible_gap),
        (2, Some(6000))
    );
}

#[test]
fn a_possible_gap_says_how_long_ago_the_last_fetch_was_in_the_unit_that_matters() {
    let ago = |secs: i64| {
        let gap = PossibleGap {
            entries: 1,
            last_success: Some(1_000_000 - secs),
        };
        let text = gap.describe(1_000_000);
        let rest = text
            .strip_prefix("all 1 entries are new since the last successful fetch ")
            .unwrap_or_else(|| panic!("{text}"));
        rest[..rest.find(" ago:").unwrap()].to_owned()
    };
    let cases = [
        (-5, "0s"), // a clock set back
        (0, "0s"),
        (119, "119s"),
        (120, "2m"),
        (7199, "119m"),
        (7200, "2h"),
        (2 * 86400 - 1, "47h"),
        (2 * 86400, "2d"),
        (45 * 86400 + 3600, "45d"),
    ];
    for (secs, expected) in cases {
        assert_eq!(ago(secs), expected, "{secs} s");
    }
    let first = PossibleGap {
        entries: 3,
        last_success: None,
    };
    assert!(
        first
            .describe(0)
            .starts_with("all 3 entries are new since the fetch before:"),
        "{}",
        first.describe(0)
    );
}

#[test]
fn a_shortened_interval_brings_the_next_fetch_forward_never_back() {
    let (mut store, a, _) = setup();
    let url = "https://a.example/feed";
    let mut job = job(a, Vec::new(), 1000);
    job.meta.next_due = 1000 + 3600;
    store.ingest(&job).unwrap();
    let due = |store: &Store| store.feeds(&[url]).unwrap()[0].next_due;
    let apply =
        |store: &mut Store, now, interval| store.apply_intervals(now, [(url, interval)]).unwrap();
    assert_eq!(
        apply(&mut store, 1200, 3600),
        0,
        "the first time, recorded only"
    );
    assert_eq!(apply(&mut store, 1200, 7200), 0, "a longer one waits");
    assert_eq!(due(&store), 4600);
    assert_eq!(apply(&mut store, 1200, 600), 1);
    assert_eq!(due(&store), 1600, "one new interval after the last fetch");
    assert_eq!(apply(&mut store, 1200, 600), 0, "once");
    assert_eq!(apply(&mut store, 1200, 60), 1);
    assert_eq!(due(&store), 1200, "already past: now");
    assert_eq!(
        store
            .apply_intervals(1200, [("https://unknown.example/", 60)])
            .unwrap(),
        0
    );
}

#[test]
fn times_ahead_of_a_clock_that_went_back_are_rescheduled_from_now() {
    let (mut store, a, b) = setup();
    let now = 1_000_000;
    // Fetched and alerted while the clock read an hour later than it does now.
    let mut ahead = job(
        a,
        vec![Incoming::matched(
            story("guid:1", None, "x"),
            vec![hit("R")],
        )],
        now + 3600,
    );
    ahead.meta.next_due = now + 3600 + 600;
    store.ingest(&ahead).unwrap();
    let mut on_time = job(b, Vec::new(), now - 30);
    on_time.meta.next_due = now + 570;
    store.ingest(&on_time).unwrap();
    // And a channel failing since then.
    let outbox: i64 = store
        .conn()
        .query_row("SELECT MIN(id) FROM outbox", [], |r| r.get(0))
        .unwrap();
    store
        .mark_failed(
            Table::Outbox,
            "desk",
            &[outbox],
            "refused",
            now + 3600,
            Some(now + 3605),
        )
        .unwrap();
    assert_eq!(
        store.rebase_future(now).unwrap(),
        (1, 2),
        "one feed, two alerts"
    );
    let rows = store
        .feeds(&["https://a.example/feed", "https://b.example/feed"])
        .unwrap();
    assert_eq!(
        (rows[0].last_fetch, rows[0].next_due),
        (Some(now), now + 600)
    );
    assert_eq!(
        (rows[1].last_fetch, rows[1].next_due),
        (Some(now - 30), now + 570),
        "on time: untouched"
    );
    assert_eq!(
        count(
            &store,
            &format!("SELECT COUNT(*) FROM outbox WHERE created = {now} AND next_attempt = {now}")
        ),
        1
    );
    assert_eq!(
        count(
            &store,
            "SELECT failing_since FROM channel_health WHERE channel = 'desk'"
        ),
        now,
        "failing since now, so told of an hour from now, not two"
    );
    assert_eq!(store.rebase_future(now).unwrap(), (0, 0), "once");
    assert_eq!(
        store.rebase_future(now - 30).unwrap(),
        (0, 0),
        "within a minute: left alone"
    );
}

#[test]
fn a_feeds_newest_story_is_its_latest_entry_date_or_its_latest_new_story() {
    let (mut store, a, b) = setup();
    let now = 1_795_000_000;
    let dated = |id: &str, published: i64| {
        let mut s = story(id, Some(&format!("https://news.example/{id}")), id);
        s.published = chrono::DateTime::from_timestamp(published, 0);
        Incoming::matched(s, Vec::new())
    };
    let newest = |store: &Store| {
        store
            .feeds(&["https://a.example/feed", "https://b.example/feed"])
            .unwrap()
            .iter()
            .map(|r| r.newest_story)
            .collect::<Vec<_>>()
    };
    store
        .ingest(&job(
            a,
            vec![dated("1", now - 7200), dated("2", now - 3600)],
            now,
        ))
        .unwrap();
    assert_eq!(newest(&store), [Some(now), None], "new stories: now");
    // B carries A's story: nothing new to the database, but its entry's date counts.
    store
        .ingest(&job(b, vec![dated("2", now - 3600)], now + 60))
        .unwrap();
    assert_eq!(newest(&store), [Some(now), Some(now - 3600)]);
    // Older entries never move it back, and a date before 1995 does not count.
    store
        .ingest(&job(a, vec![dated("0", 0)], now + 90))
        .unwrap();
    store
        .ingest(&job(
            b,
            vec![dated("1", now - 7200), dated("0", 0)],
            now + 120,
        ))
        .unwrap();
    assert_eq!(newest(&store), [Some(now + 90), Some(now - 3600)]);
    // A date ahead of the clock counts as now.
    store
        .ingest(&job(a, vec![dated("9", now + 86400)], now + 150))
        .unwrap();
    store
        .ingest(&job(b, vec![dated("9", now + 86400)], now + 180))
        .unwrap();
    assert_eq!(newest(&store)[1], Some(now + 180));
    store.ingest(&job(a, Vec::new(), now + 240)).unwrap();
    assert_eq!(
        newest(&store)[0],
        Some(now + 150),
        "an empty fetch leaves it"
    );
}

#[test]
fn possible_gaps_are_told_of_one_feed_a_day_and_of_each_once_a_week() {
    let (mut store, a, b) = setup();
    let health = Health {
        stale_after: DAY,
        channels: vec!["ops".to_owned()],
        ..Health::default()
    };
    let mut page = 0;
    let mut fetch = |store: &mut Store, feed: i64, now: i64| {
        page += 1;
        let incoming = (0..2)
            .map(|i| {
                let id = format!("{feed}-{page}-{i}");
                Incoming::matched(story(&id, None, &id), Vec::new())
            })
            .collect();
        let mut job = job(feed, incoming, now);
        job.meta.health = health.clone();
        assert_eq!(store.ingest(&job).unwrap().possible_gap.is_some(), page > 2);
    };
    let notices = |store: &Store| {
        count(
            store,
            "SELECT COUNT(*) FROM notices WHERE kind = 'possible_gap'",
        )
    };
    fetch(&mut store, a, 1000);
    fetch(&mut store, b, 1000);
    // After an outage both show a gap: one is told, `feeds` counts both.
    fetch(&mut store, a, 3 * DAY);
    fetch(&mut store, b, 3 * DAY);
    assert_eq!(notices(&store), 1);
    assert_eq!(
        store
            .feeds(&["https://a.example/feed", "https://b.example/feed"])
            .unwrap()
            .iter()
            .map(|r| r.possible_gaps)
            .collect::<Vec<_>>(),
        [1, 1]
    );
    // The next day, B (never told) is; A, told within the week, is not.
    fetch(&mut store, a, 4 * DAY + 10);
    fetch(&mut store, b, 4 * DAY + 20);
    assert_eq!(notices(&store), 2);
    fetch(&mut store, a, 5 * DAY + 30);
    assert_eq!(notices(&store), 2, "A was told two days ago");
    fetch(&mut store, a, 10 * DAY + 40);
    assert_eq!(notices(&store), 3, "A was told a week ago");
}

/// A store with three feeds: their URLs and ids.
fn three_feeds() -> (Store, [&'static str; 3], [i64; 3]) {
    let mut store = Store::open_in_memory().unwrap();
    let urls = [
        "https://a.example/",
        "https://b.example/",
        "https://c.example/",
    ];
    store.sync_feeds(urls.map(|u| (u, None))).unwrap();
    let ids = urls.map(|url| store.feed_id(url).unwrap().unwrap());
    (store, urls, ids)
}

#[test]
fn feeds_that_failed_during_an_outage_are_brought_forward_when_it_ends() {
    let (mut store, urls, ids) = three_feeds();
    let health = Health::default();
    // a has been failing since long before; b and c began during the outage (from 1000),
    // c failing twice, b once and due before the outage ends anyway.
    for (url, at, next_due) in [
        (urls[0], 100, 20_000),
        (urls[1], 1000, 1500),
        (urls[2], 1100, 4000),
        (urls[2], 1300, 9000),
    ] {
        let feed = ids[urls.iter().position(|u| *u == url).unwrap()];
        store
            .record_failure(
                feed,
                at,
                "DNS lookup failed",
                next_due,
                Failure::Unreachable,
                &health,
            )
            .unwrap();
    }
    assert_eq!(store.resume_failed_since(1000, 2000).unwrap(), 1);
    let feeds = store.feeds(&urls).unwrap();
    let due: Vec<i64> = feeds.iter().map(|f| f.next_due).collect();
    assert_eq!(due[0], 20_000, "failing before the outage: its own trouble");
    assert_eq!(due[1], 1500, "due already");
    assert!((2000..2001).contains(&due[2]), "{due:?}");
    let errors: Vec<i64> = feeds.iter().map(|f| f.consecutive_errors).collect();
    assert_eq!(errors, [1, 1, 2], "its failures still count");
}

#[test]
fn the_feeds_failing_since_any_feed_last_worked_are_listed() {
    let (mut store, urls, [a, b, c]) = three_feeds();
    let health = Health::default();
    store
        .record_failure(
            a,
            100,
            "DNS lookup failed: x",
            9000,
            Failure::Unreachable,
            &health,
        )
        .unwrap();
    store.ingest(&job(b, Vec::new(), 150)).unwrap();
    store
        .record_failure(
            c,
            200,
            "DNS lookup failed: x",
            9000,
            Failure::Unreachable,
            &health,
        )
        .unwrap();
    assert_eq!(
        store.failing_since_any_success().unwrap(),
        [FailingFeed {
            url: urls[2].to_owned(),
            moved_to: None,
            failing_since: 200,
            unreachable: true
        }]
    );
}

#[test]
fn a_feed_answering_without_a_new_story_for_quiet_after_is_told_once_until_it_brings_one() {
    let (mut store, a, b) = setup();
    let health = Health {
        quiet_after: 7 * DAY,
        channels: vec!["ops".to_owned()],
        ..Health::default()
    };
    let ingest = |store: &mut Store, feed: i64, ids: &[&str], now: i64| {
        let incoming = ids
            .iter()
            .map(|id| Incoming::matched(story(id, None, id), Vec::new()))
            .collect();
        let mut job = job(feed, incoming, now);
        job.meta.health = health.clone();
        store.ingest(&job).unwrap();
    };
    let not_modified = |store: &mut Store, feed: i64, now: i64| {
        store
            .record_not_modified(feed, now, now + 600, &health, None)
            .unwrap()
    };
    let notices = |store: &Store| -> Vec<(i64, String)> {
        let mut stmt = store
            .conn()
            .prepare("SELECT feed_id, message FROM notices WHERE kind = 'quiet' ORDER BY id")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    };
    let quiet = |store: &Store, now: i64| {
        store
            .feeds(&["https://a.example/feed", "https://b.example/feed"])
            .unwrap()
            .iter()
            .map(|r| r.quiet_since(7 * DAY, now))
            .collect::<Vec<_>>()
    };
    // A lists two stories; B lists none.
    ingest(&mut store, a, &["1", "2"], DAY);
    ingest(&mut store, b, &[], DAY);
    not_modified(&mut store, a, 7 * DAY + 10);
    ingest(&mut store, b, &[], 7 * DAY + 10);
    assert_eq!(notices(&store), [], "six days and a bit");
    assert_eq!(quiet(&store, 7 * DAY + 10), [None, None]);
    // A week: each is told once, whether it answers 304 or the same stories.
    not_modified(&mut store, a, 8 * DAY);
    ingest(&mut store, b, &[], 8 * DAY);
    ingest(&mut store, a, &["1", "2"], 9 * DAY);
    not_modified(&mut store, b, 9 * DAY);
    let told = notices(&store);
    assert_eq!(told.len(), 2, "{told:?}");
    assert_eq!(told[0].0, a);
    assert!(
        told[0].1.contains("its newest story is from"),
        "{}",
        told[0].1
    );
    assert!(
        told[1]
            .1
            .contains("it has listed no story since it first answered"),
        "{}",
        told[1].1
    );
    assert_eq!(quiet(&store, 9 * DAY), [Some(DAY), Some(DAY)]);
    // A new story ends it; a week later it is told again.
    ingest(&mut store, a, &["1", "2", "3"], 10 * DAY);
    assert_eq!(quiet(&store, 10 * DAY)[0], None);
    not_modified(&mut store, a, 16 * DAY);
    assert_eq!(notices(&store).len(), 2);
    not_modified(&mut store, a, 17 * DAY);
    assert_eq!(notices(&store).len(), 3);
    // A failing feed is not quiet (it is stale, or will be), and 0 is never.
    store
        .record_failure(b, 20 * DAY, "HTTP 500", 21 * DAY, Failure::Other, &health)
        .unwrap();
    assert_eq!(quiet(&store, 20 * DAY)[1], None);
    let never = Health {
        quiet_after: 0,
        ..health.clone()
    };
    store
        .conn()
        .execute_batch("UPDATE feeds SET quiet_notified = 0")
        .unwrap();
    store
        .record_not_modified(a, 40 * DAY, 41 * DAY, &never, None)
        .unwrap();
    assert_eq!(notices(&store).len(), 3);
}

#[test]
fn a_config_of_new_feeds_is_synced_without_scanning_the_feeds_for_moves() {
    // Each URL new to the database is asked whether a feed moved there: by the index,
    // or syncing a config of N new feeds reads N² rows (2.5 s for 10,000).
    let (store, _, _) = three_feeds();
    let plan = query_plan(
        &store,
        crate::store::feeds::MOVED_HERE,
        ["https://d.example/"],
    );
    assert!(
        plan.iter().any(|step| step.contains("feeds_by_moved_to")),
        "{plan:?}"
    );
}
