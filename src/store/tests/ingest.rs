//! Writing fetches: stories, hits and alerts in one transaction, dedupe as database
//! facts, retention, group commit, and the stories a fetch need not match again.

use super::*;

#[test]
fn ingest_writes_stories_hits_and_one_alert_per_channel() {
    let (mut store, a, _) = setup();
    let incoming = vec![Incoming::matched(
        story("guid:1", Some("https://a.example/1"), "t"),
        vec![hit("R1"), hit("R2")],
    )];
    let outcome = store.ingest(&job(a, incoming.clone(), 1000)).unwrap();
    assert_eq!(
        outcome,
        IngestOutcome {
            new_stories: 1,
            updated_stories: 0,
            new_hits: 2,
            alerts_queued: 2,
            possible_gap: None,
        }
    );
    let rules: Vec<String> = store
        .conn()
        .prepare("SELECT rules FROM outbox ORDER BY channel")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(
        rules,
        [r#"["R1","R2"]"#, r#"["R1","R2"]"#],
        "one message per (story, channel) names every rule"
    );
    // The same fetch again changes nothing.
    let again = store.ingest(&job(a, incoming, 2000)).unwrap();
    assert_eq!(again, IngestOutcome::default());
}

#[test]
fn dedupe_is_a_database_fact() {
    let (store, a, _) = setup();
    let insert = |identity: &str, link: Option<&str>| {
        store.conn().execute(
            "INSERT INTO stories (feed_id, identity, link, first_seen, content_hash) VALUES (?1, ?2, ?3, 0, '')",
            rusqlite::params![a, identity, link],
        )
    };
    insert("guid:1", Some("https://x/1")).unwrap();
    assert!(
        insert("guid:1", None).is_err(),
        "one story per identity in a feed"
    );
    assert!(
        insert("guid:2", Some("https://x/1")).is_err(),
        "one story per canonical link"
    );
    let story_id: i64 = store
        .conn()
        .query_row("SELECT id FROM stories", [], |r| r.get(0))
        .unwrap();
    let hit = |rule: &str| {
        store.conn().execute(
            "INSERT INTO hits (story_id, rule, spans, detected_at) VALUES (?1, ?2, '[]', 0)",
            rusqlite::params![story_id, rule],
        )
    };
    hit("R").unwrap();
    assert!(hit("R").is_err(), "one hit per (story, rule)");
}

#[test]
fn the_same_link_in_two_feeds_is_one_story() {
    let (mut store, a, b) = setup();
    let first = [Incoming::matched(
        story("guid:a1", Some("https://news.example/x"), "from A"),
        vec![hit("R1")],
    )];
    let second = [Incoming::matched(
        story("guid:b7", Some("https://news.example/x"), "from B"),
        vec![hit("R1"), hit("R2")],
    )];
    store.ingest(&job(a, first.to_vec(), 1000)).unwrap();
    let outcome = store.ingest(&job(b, second.to_vec(), 1100)).unwrap();
    assert_eq!(outcome.new_stories, 0);
    assert_eq!(outcome.new_hits, 1, "only R2 is new for the story");
    assert_eq!(count(&store, "SELECT COUNT(*) FROM stories"), 1);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM hits"), 2);
    let title: String = store
        .conn()
        .query_row("SELECT title FROM stories", [], |r| r.get(0))
        .unwrap();
    assert_eq!(title, "from A", "the first feed's text stays");
}

#[test]
fn an_entry_repeated_in_one_document_is_one_story() {
    // The first fetch of a feed inserts without looking up first; a later fetch looks
    // up first. Either way a repeated entry is found, not stored twice.
    let (mut store, a, _) = setup();
    let first = vec![
        Incoming::matched(story("guid:x", None, "first text"), vec![hit("R1")]),
        Incoming::matched(
            story("guid:x", None, "second text"),
            vec![hit("R1"), hit("R2")],
        ),
    ];
    let outcome = store.ingest(&job(a, first, 1000)).unwrap();
    assert_eq!(outcome.new_stories, 1);
    assert_eq!(
        outcome.updated_stories, 1,
        "the repeat's text replaces the first"
    );
    assert_eq!(outcome.new_hits, 2, "R1 once, then R2");
    let later = vec![
        Incoming::matched(story("guid:y", None, "new"), Vec::new()),
        Incoming::matched(story("guid:y", None, "new"), Vec::new()),
        Incoming::matched(
            story("guid:x", None, "second text"),
            vec![hit("R1"), hit("R2")],
        ),
    ];
    let outcome = store.ingest(&job(a, later, 2000)).unwrap();
    assert_eq!(
        (
            outcome.new_stories,
            outcome.updated_stories,
            outcome.new_hits
        ),
        (1, 0, 0)
    );
    assert_eq!(count(&store, "SELECT COUNT(*) FROM stories"), 2);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM hits"), 2);
}

#[test]
fn a_content_that_repeats_the_summary_is_stored_once() {
    let (mut store, a, _) = setup();
    let mut repeated = story("guid:r", None, "title");
    repeated.summary = "Peskov said the talks would go on.".to_owned();
    repeated.content = repeated.summary.clone();
    let mut distinct = story("guid:d", None, "other");
    distinct.summary = "A short summary.".to_owned();
    distinct.content = "A short summary, and the article itself.".to_owned();
    let incoming =
        [repeated.clone(), distinct.clone()].map(|story| Incoming::matched(story, Vec::new()));
    store.ingest(&job(a, incoming.to_vec(), 1000)).unwrap();
    let raw = |store: &Store, identity: &str| -> (String, i64) {
        store
            .conn()
            .query_row(
                "SELECT content, content_is_summary FROM stories WHERE identity = ?1",
                [identity],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
    };
    assert_eq!(
        raw(&store, "guid:r"),
        (String::new(), 1),
        "the text is kept once"
    );
    assert_eq!(raw(&store, "guid:d"), (distinct.content.clone(), 0));
    let read = |store: &Store| -> Vec<(String, String)> {
        let mut stories = store.stories_since(0).unwrap();
        stories.sort_by_key(|s| s.title.clone());
        stories
            .into_iter()
            .map(|s| (s.summary, s.content))
            .collect()
    };
    assert_eq!(
        read(&store),
        [
            (distinct.summary.clone(), distinct.content.clone()),
            (repeated.summary.clone(), repeated.content.clone()),
        ]
    );
    // An update that makes them differ stores both again.
    let mut changed = repeated.clone();
    changed.content = "The whole article, longer than its summary.".to_owned();
    let update = [Incoming::matched(changed.clone(), Vec::new())];
    let outcome = store.ingest(&job(a, update.to_vec(), 2000)).unwrap();
    assert_eq!(outcome.updated_stories, 1);
    assert_eq!(raw(&store, "guid:r"), (changed.content.clone(), 0));
    assert_eq!(read(&store)[1], (changed.summary, changed.content));
}

#[test]
fn old_stories_are_matched_but_not_alerted() {
    let (mut store, a, _) = setup();
    let now = 1_795_000_000; // 2026-11-18
    let dated = |id: &str, published: i64| {
        let mut s = story(id, None, id);
        s.published = chrono::DateTime::from_timestamp(published, 0);
        Incoming::matched(s, vec![hit("R")])
    };
    let outcome = store
        .ingest(&IngestJob {
            max_age: 3 * DAY,
            ..job(
                a,
                vec![
                    dated("guid:old", now - 4 * DAY),
                    dated("guid:recent", now - 2 * DAY),
                ],
                now,
            )
        })
        .unwrap();
    assert_eq!(
        (outcome.new_hits, outcome.alerts_queued),
        (2, 2),
        "the recent one alerted on both channels, the old one not"
    );
    // Time zero, and any date before feeds existed, is a feed's mistake: alerted.
    let outcome = store
        .ingest(&IngestJob {
            max_age: 3 * DAY,
            ..job(
                a,
                vec![dated("guid:zero", 0), dated("guid:1980", 315_532_800)],
                now,
            )
        })
        .unwrap();
    assert_eq!((outcome.new_hits, outcome.alerts_queued), (2, 4));
    // A story's age is the latest date its feed gives: published long ago, updated
    // yesterday, it is recent.
    let mut live = story("guid:live", None, "live");
    live.published = chrono::DateTime::from_timestamp(now - 4 * DAY, 0);
    live.updated = chrono::DateTime::from_timestamp(now - DAY, 0);
    let outcome = store
        .ingest(&IngestJob {
            max_age: 3 * DAY,
            ..job(a, vec![Incoming::matched(live, vec![hit("R")])], now)
        })
        .unwrap();
    assert_eq!((outcome.new_hits, outcome.alerts_queued), (1, 2));
}

#[test]
fn pruned_stories_never_come_back_as_new() {
    let (mut store, a, _) = setup();
    let keep = Duration::from_secs(90 * DAY as u64);
    let plain = [Incoming::matched(
        story("guid:plain", None, "nothing"),
        vec![],
    )];
    let matched = [Incoming::matched(
        story("guid:hit", None, "something"),
        vec![hit("R")],
    )];
    store.ingest(&job(a, plain.to_vec(), 0)).unwrap();
    store.ingest(&job(a, matched.to_vec(), 0)).unwrap();
    assert_eq!(store.prune(91 * DAY, keep).unwrap(), (1, 0));
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM stories WHERE pruned = 1 AND title = ''"
        ),
        1
    );
    // The feed still carries the pruned story: it is recognised, not new.
    let outcome = store.ingest(&job(a, plain.to_vec(), 92 * DAY)).unwrap();
    assert_eq!(outcome, IngestOutcome::default());
    // Stories with hits are kept whole; a tombstone goes once no feed has listed it for
    // four times `keep` — not four times `keep` after it was first seen, when the feed
    // listing it would make it new again.
    assert_eq!(store.prune(361 * DAY, keep).unwrap(), (0, 0));
    assert_eq!(
        store.ingest(&job(a, plain.to_vec(), 362 * DAY)).unwrap(),
        IngestOutcome::default()
    );
    assert_eq!(store.prune(362 * DAY + 360 * DAY, keep).unwrap(), (0, 0));
    assert_eq!(
        store.prune(362 * DAY + 360 * DAY + 1, keep).unwrap(),
        (0, 1)
    );
    assert_eq!(count(&store, "SELECT COUNT(*) FROM stories"), 1);
    assert_eq!(store.integrity_check().unwrap(), "ok");
    // Forgotten, it would be new again; nothing lists a story that long in practice.
    let outcome = store.ingest(&job(a, plain.to_vec(), 800 * DAY)).unwrap();
    assert_eq!(outcome.new_stories, 1);
}

#[test]
fn a_group_writes_like_its_feeds_one_by_one() {
    let (mut store, a, b) = setup();
    let jobs = [
        job(
            a,
            vec![Incoming::matched(
                story("guid:a1", Some("https://news.example/x"), "from A"),
                vec![hit("R1")],
            )],
            1000,
        ),
        // The same link from another feed, in the same group: still one story, and
        // only the rule new to it is a new hit.
        job(
            b,
            vec![Incoming::matched(
                story("guid:b7", Some("https://news.example/x"), "from B"),
                vec![hit("R1"), hit("R2")],
            )],
            1000,
        ),
    ];
    let outcomes: Vec<IngestOutcome> = store
        .ingest_group(&jobs)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(store.ingest_commits(), 1, "one transaction for the group");
    assert_eq!((outcomes[0].new_stories, outcomes[0].new_hits), (1, 1));
    assert_eq!((outcomes[1].new_stories, outcomes[1].new_hits), (0, 1));
    assert_eq!(count(&store, "SELECT COUNT(*) FROM stories"), 1);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM hits"), 2);
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM feeds WHERE status = 'ok'"),
        2
    );
}

#[test]
fn one_failing_feed_does_not_cost_its_group_the_others() {
    let (mut store, a, b) = setup();
    let one = |id: &str| vec![Incoming::matched(story(id, None, id), vec![hit("R")])];
    // No feed 9999: its story breaks the foreign key, and that write fails.
    let jobs = [
        job(a, one("guid:1"), 1000),
        job(9999, one("guid:2"), 1000),
        job(b, one("guid:3"), 1000),
    ];
    let results = store.ingest_group(&jobs);
    assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
    assert!(results[1].is_err());
    assert_eq!(count(&store, "SELECT COUNT(*) FROM stories"), 2);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM outbox"), 4);
}

#[tokio::test]
async fn fetches_queued_behind_the_store_thread_are_written_together() {
    let (store, a, b) = setup();
    let handle = StoreHandle::spawn(store);
    // Hold the store thread until every fetch is queued behind it.
    let (open, gate) = std::sync::mpsc::channel::<()>();
    let (holding, held_now) = tokio::sync::oneshot::channel();
    let held = tokio::spawn({
        let handle = handle.clone();
        async move {
            handle
                .call(move |_| {
                    let _ = holding.send(());
                    gate.recv().ok();
                    Ok(())
                })
                .await
        }
    });
    held_now.await.unwrap();
    let pending: Vec<PendingIngest> = (0..10)
        .map(|i| {
            let feed = if i % 2 == 0 { a } else { b };
            let incoming = vec![Incoming::matched(
                story(&format!("guid:{i}"), None, "t"),
                vec![hit("R")],
            )];
            handle.send_ingest(job(feed, incoming, 1000)).unwrap()
        })
        .collect();
    open.send(()).unwrap();
    held.await.unwrap().unwrap();
    for answer in pending {
        assert_eq!(answer.await.unwrap().new_stories, 1);
    }
    let (commits, stories) = handle
        .call(|s| Ok((s.ingest_commits(), count(s, "SELECT COUNT(*) FROM stories"))))
        .await
        .unwrap();
    assert_eq!((commits, stories), (1, 10));
}

#[test]
fn a_group_blocked_by_another_writer_fails_every_feed_with_the_lock_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    let mut store = Store::open(&path).unwrap();
    store
        .sync_feeds([
            ("https://a.example/feed", None),
            ("https://b.example/feed", None),
        ])
        .unwrap();
    let a = store.feed_id("https://a.example/feed").unwrap().unwrap();
    let b = store.feed_id("https://b.example/feed").unwrap().unwrap();
    store
        .conn()
        .busy_timeout(std::time::Duration::from_millis(20))
        .unwrap();
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let one = |id: &str| vec![Incoming::matched(story(id, None, id), vec![hit("R")])];
    let jobs = [job(a, one("guid:1"), 1000), job(b, one("guid:2"), 1000)];
    for result in store.ingest_group(&jobs) {
        let error = result.unwrap_err().to_string();
        assert!(error.contains("database is locked"), "{error}");
    }
    other.execute_batch("ROLLBACK").unwrap();
    assert!(store.ingest_group(&jobs).iter().all(Result::is_ok));
    assert_eq!(store.ingest_commits(), 1);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM stories"), 2);
}

#[test]
fn unchanged_stories_are_those_stored_with_the_same_text_or_pruned() {
    let (mut store, a, b) = setup();
    let kept = story("guid:kept", None, "kept");
    let edited = story("guid:edited", None, "before");
    let old = story("guid:old", None, "old news");
    let incoming = [kept.clone(), edited.clone()]
        .map(|s| Incoming::matched(s, Vec::new()))
        .to_vec();
    store.ingest(&job(a, incoming, 90 * DAY)).unwrap();
    store
        .ingest(&job(a, vec![Incoming::matched(old.clone(), Vec::new())], 0))
        .unwrap();
    assert_eq!(
        store
            .prune(91 * DAY, Duration::from_secs(90 * DAY as u64))
            .unwrap(),
        (1, 0)
    );

    let mut now_edited = edited.clone();
    now_edited.title = "after".to_owned();
    let fresh = story("guid:fresh", None, "fresh");
    let mut pruned_but_edited = old.clone();
    pruned_but_edited.title = "edited long after".to_owned();
    let asked: Vec<(String, String)> = [&kept, &now_edited, &fresh, &pruned_but_edited]
        .iter()
        .map(|s| (s.identity.clone(), s.content_hash()))
        .collect();
    assert_eq!(
        store.unchanged_stories(a, &asked).unwrap(),
        [true, false, false, true]
    );
    // Another feed's stories are its own.
    assert_eq!(
        store.unchanged_stories(b, &asked).unwrap(),
        [false, false, false, false]
    );
}

#[test]
fn a_story_sent_unmatched_that_changed_after_all_is_matched_in_the_store() {
    let (mut store, a, _) = setup();
    let first = story("guid:1", Some("https://a.example/1"), "Peskov spoke");
    store
        .ingest(&job(
            a,
            vec![Incoming::matched(first.clone(), vec![hit("R1")])],
            1000,
        ))
        .unwrap();
    // Asked before another writer changed the row: the answer said "unchanged".
    let mut other = first.clone();
    other.title = "Peskov spoke again".to_owned();
    store
        .ingest(&job(
            a,
            vec![Incoming::matched(other, vec![hit("R1")])],
            1100,
        ))
        .unwrap();
    let unmatched = || Incoming::with_hash(first.content_hash(), first.clone(), None);

    // Without a matcher the write fails whole: nothing is lost, the feed is read again.
    let err = store.ingest(&job(a, vec![unmatched()], 1200)).unwrap_err();
    assert!(
        matches!(err, StoreError::Unmatched(ref id) if id == "guid:1"),
        "{err}"
    );
    assert_eq!(count(&store, "SELECT COUNT(*) FROM hits"), 1);

    let mut late = job(a, vec![unmatched()], 1200);
    late.late_matcher = Some(LateMatcher::new(|s| {
        assert_eq!(s.title, "Peskov spoke");
        vec![hit("R1"), hit("R2")]
    }));
    let outcome = store.ingest(&late).unwrap();
    assert_eq!((outcome.updated_stories, outcome.new_hits), (1, 1));
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM hits WHERE rule = 'R2'"),
        1
    );
    assert_eq!(outcome.alerts_queued, 2, "one per channel for R2");
}

#[test]
fn an_entry_repeated_with_another_text_is_matched_when_its_twin_rewrites_the_row() {
    let (mut store, a, _) = setup();
    let stored = story("guid:twin", None, "Peskov, second text");
    store
        .ingest(&job(
            a,
            vec![Incoming::matched(stored.clone(), Vec::new())],
            1000,
        ))
        .unwrap();
    // The document carries the entry twice: the first text differs from the stored one
    // and is matched; the second is the stored text and was asked about before the first
    // rewrote the row.
    let mut first = stored.clone();
    first.title = "Peskov, first text".to_owned();
    let asked = [&first, &stored].map(|s| (s.identity.clone(), s.content_hash()));
    assert_eq!(store.unchanged_stories(a, &asked).unwrap(), [false, true]);
    let mut fetch = job(
        a,
        vec![
            Incoming::matched(first, vec![hit("R1")]),
            Incoming::with_hash(stored.content_hash(), stored, None),
        ],
        1100,
    );
    let late_calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let calls = late_calls.clone();
    fetch.late_matcher = Some(LateMatcher::new(move |_| {
        calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        vec![hit("R2")]
    }));
    let outcome = store.ingest(&fetch).unwrap();
    assert_eq!(late_calls.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert_eq!((outcome.updated_stories, outcome.new_hits), (2, 2));
}

#[test]
fn a_fetch_reads_whether_its_feed_has_stories_not_how_many() {
    let (mut store, a, _) = setup();
    let url = "https://a.example/feed";
    assert_eq!(store.feed_for_fetch(url).unwrap().unwrap().stories, 0);
    let incoming = ["guid:1", "guid:2", "guid:3"]
        .map(|id| Incoming::matched(story(id, None, id), Vec::new()))
        .to_vec();
    store.ingest(&job(a, incoming, 1000)).unwrap();
    let listed = store.feeds(&[url]).unwrap().pop().unwrap();
    let fetched = store.feed_for_fetch(url).unwrap().unwrap();
    assert_eq!((listed.stories, fetched.stories), (3, 1));
    assert_eq!(
        format!(
            "{:?}",
            FeedRow {
                stories: 3,
                ..fetched
            }
        ),
        format!("{listed:?}"),
        "the rest of the row is the same"
    );
    assert!(
        store
            .feed_for_fetch("https://unknown.example/")
            .unwrap()
            .is_none()
    );
}

#[test]
fn a_guid_a_feed_gives_one_article_after_another_is_not_taken_for_an_update() {
    // A feed of one entry at a time, every entry with the same guid.
    let (mut store, a, _) = setup();
    let bulletin = |link: &str, title: &str| {
        vec![Incoming::matched(
            story("guid:latest", Some(link), title),
            vec![hit("R1")],
        )]
    };
    let first = store
        .ingest(&job(
            a,
            bulletin("https://a.example/1", "Peskov on A"),
            1000,
        ))
        .unwrap();
    assert_eq!((first.new_stories, first.alerts_queued), (1, 2));
    // The next article: another link and another title, the same guid.
    let next = store
        .ingest(&job(
            a,
            bulletin("https://a.example/2", "Peskov on B"),
            2000,
        ))
        .unwrap();
    assert_eq!(
        (
            next.new_stories,
            next.updated_stories,
            next.new_hits,
            next.alerts_queued
        ),
        (1, 0, 1, 2),
        "a new story, hit and alerted"
    );
    // Listed again: known, by its link.
    let again = store
        .ingest(&job(
            a,
            bulletin("https://a.example/2", "Peskov on B"),
            3000,
        ))
        .unwrap();
    assert_eq!(again, IngestOutcome::default());
    // A title corrected, or an address changed, alone: an update of that story.
    for (link, title) in [
        ("https://a.example/2", "Peskov on B, corrected"),
        ("https://a.example/2-moved", "Peskov on B, corrected"),
    ] {
        let edit = store.ingest(&job(a, bulletin(link, title), 4000)).unwrap();
        assert_eq!(
            (edit.new_stories, edit.alerts_queued),
            (0, 0),
            "{link} {title}: {edit:?}"
        );
    }
    assert_eq!(count(&store, "SELECT COUNT(*) FROM stories"), 2);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM outbox"), 4);
    // A feed listing its two articles by turns: both known, nothing new.
    for (now, (link, title)) in [
        ("https://a.example/1", "Peskov on A"),
        ("https://a.example/2", "Peskov on B, corrected"),
        ("https://a.example/1", "Peskov on A"),
    ]
    .into_iter()
    .enumerate()
    {
        let turn = store
            .ingest(&job(a, bulletin(link, title), 5000 + now as i64))
            .unwrap();
        assert_eq!((turn.new_stories, turn.alerts_queued), (0, 0), "{link}");
    }
    assert_eq!(count(&store, "SELECT COUNT(*) FROM stories"), 2);
}

#[test]
fn articles_of_one_feed_sharing_a_link_are_each_a_story() {
    // A feed that links every entry to its front page, each with a guid of its own.
    let (mut store, a, b) = setup();
    let front = Some("https://a.example/");
    let entry =
        |guid: &str, title: &str| Incoming::matched(story(guid, front, title), vec![hit("R1")]);
    let first = store
        .ingest(&job(
            a,
            vec![
                entry("guid:1", "Peskov on A"),
                entry("guid:2", "Peskov on B"),
            ],
            1000,
        ))
        .unwrap();
    assert_eq!(
        (first.new_stories, first.new_hits, first.alerts_queued),
        (2, 2, 4),
        "two stories, each hit and alerted"
    );
    let again = store
        .ingest(&job(
            a,
            vec![
                entry("guid:1", "Peskov on A"),
                entry("guid:2", "Peskov on B"),
            ],
            2000,
        ))
        .unwrap();
    assert_eq!(again, IngestOutcome::default(), "each found by its guid");
    // A third article, alone in its fetch; and one republished under a new guid with
    // the same title, which is the stored story.
    let third = store
        .ingest(&job(a, vec![entry("guid:3", "Peskov on C")], 3000))
        .unwrap();
    assert_eq!((third.new_stories, third.alerts_queued), (1, 2));
    for (guid, title) in [
        ("guid:1-again", "Peskov on A"),
        ("guid:2-again", "Peskov on B"),
    ] {
        let republished = store
            .ingest(&job(a, vec![entry(guid, title)], 4000))
            .unwrap();
        assert_eq!(republished.new_stories, 0, "{title}: {republished:?}");
    }
    // Another feed with the same link: the same story, as across feeds always.
    let other = store
        .ingest(&job(b, vec![entry("guid:b", "Peskov on A")], 5000))
        .unwrap();
    assert_eq!(other.new_stories, 0, "{other:?}");
    assert_eq!(count(&store, "SELECT COUNT(*) FROM stories"), 3);
    // The lookup by link still goes through the index.
    let plan: String = store
        .conn()
        .query_row(
            "EXPLAIN QUERY PLAN SELECT id FROM stories WHERE link = 'x' AND shared_link = 0",
            [],
            |r| r.get(3),
        )
        .unwrap();
    assert!(plan.contains("stories_by_link"), "{plan}");
}

#[test]
fn articles_sharing_a_link_keep_their_own_rows_when_listed_alone() {
    // One page for every entry, and either no guids or one guid for every entry: the
    // parse knows an entry by that link (or guid) while its document lists it alone, by
    // its title and date (`hash:`) while it lists others too.
    for alone in ["link:https://a.example/today", "guid:https://a.example/"] {
        let (mut store, a, _) = setup();
        let page = Some("https://a.example/today");
        let listed_alone =
            |title: &str| Incoming::matched(story(alone, page, title), vec![hit("R1")]);
        let by_text = |title: &str| {
            Incoming::matched(
                story(&format!("hash:{title}"), page, title),
                vec![hit("R1")],
            )
        };
        let mut ingest = |incoming: Vec<Incoming>, now: i64| {
            let out = store.ingest(&job(a, incoming, now)).unwrap();
            (out.new_stories, out.updated_stories, out.alerts_queued)
        };
        assert_eq!(ingest(vec![listed_alone("Peskov on A")], 1000), (1, 0, 2));
        assert_eq!(
            ingest(vec![by_text("Peskov on B"), by_text("Peskov on A")], 2000),
            (1, 0, 2),
            "{alone}: B is new; A, stored as listed alone, is the same story"
        );
        assert_eq!(
            ingest(vec![by_text("Peskov on B"), by_text("Peskov on A")], 3000),
            (0, 0, 0)
        );
        for title in ["Peskov on B", "Peskov on A"] {
            assert_eq!(
                ingest(vec![listed_alone(title)], 4000),
                (0, 0, 0),
                "{alone}: {title}, listed alone again, finds its own row"
            );
        }
        // Listed alone under another title: the title of the story stored as listed
        // alone, corrected — an update, not a new story.
        assert_eq!(
            ingest(vec![listed_alone("Peskov on A, corrected")], 5000),
            (0, 1, 0)
        );
        assert_eq!(count(&store, "SELECT COUNT(*) FROM stories"), 2);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM outbox"), 4);
    }
}

#[test]
fn two_feeds_linking_their_articles_to_one_page_keep_them_apart() {
    // Two sections of one site, each linking every entry to the front page.
    let (mut store, a, b) = setup();
    let front = Some("https://site.example/");
    let entry = |identity: &str, title: &str| {
        Incoming::matched(story(identity, front, title), vec![hit("R1")])
    };
    let mut ingest = |feed: i64, incoming: Vec<Incoming>, now: i64| {
        let out = store.ingest(&job(feed, incoming, now)).unwrap();
        (out.new_stories, out.alerts_queued)
    };
    // Each document lists several articles under the link: known by title and date.
    assert_eq!(
        ingest(
            a,
            vec![
                entry("hash:1", "Peskov on A"),
                entry("hash:2", "Peskov on B")
            ],
            1000
        ),
        (2, 4)
    );
    assert_eq!(
        ingest(
            b,
            vec![
                entry("hash:3", "Peskov on C"),
                entry("hash:1", "Peskov on A")
            ],
            2000
        ),
        (1, 2),
        "C is new; A, under the same link and title, is the story the other feed has"
    );
    // One entry alone, with a guid of its own, under the link the other feed shares
    // among its articles: a new story unless some feed has its title there.
    assert_eq!(
        ingest(b, vec![entry("guid:9", "Peskov on D")], 3000),
        (1, 2)
    );
    assert_eq!(
        ingest(b, vec![entry("guid:10", "Peskov on B")], 4000),
        (0, 0)
    );
    assert_eq!(count(&store, "SELECT COUNT(*) FROM stories"), 4);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM outbox"), 8);
    // The articles sharing a link are found through an index of their own.
    let plan: String = store
        .conn()
        .query_row(
            "EXPLAIN QUERY PLAN SELECT id FROM stories WHERE link = 'x' AND shared_link = 1",
            [],
            |r| r.get(3),
        )
        .unwrap();
    assert!(plan.contains("stories_sharing_a_link"), "{plan}");
}

#[test]
fn a_replay_records_new_hits_once_alerts_recent_stories_and_its_rules() {
    let (mut store, a, _) = setup();
    let now = 1_795_000_000;
    let stories = [
        Incoming::matched(story("guid:old", None, "old"), vec![hit("R")]),
        Incoming::matched(story("guid:new", None, "new"), vec![]),
    ];
    store.ingest(&job(a, stories.to_vec(), now)).unwrap();
    let rules = ["f1".to_owned(), "f2".to_owned()];
    assert_eq!(store.unapplied_rules(&rules).unwrap(), [true, true]);
    let stored = store.stories_to_replay(now).unwrap();
    assert_eq!(stored.len(), 2);
    let id = |title: &str| stored.iter().find(|(_, s)| s.title == title).unwrap().1.id;
    let found = [
        // R hit this story at its ingest already: not again.
        Replayed {
            story_id: id("old"),
            latest: None,
            hits: vec![hit("R"), hit("S")],
        },
        Replayed {
            story_id: id("new"),
            latest: Some(now - 10 * DAY),
            hits: vec![hit("S")],
        },
    ];
    let applied = [("f2".to_owned(), "S".to_owned())];
    assert_eq!(
        store
            .record_replay(&found, &applied, now + 60, DAY)
            .unwrap(),
        (2, 2),
        "S on both stories; alerts on two channels for the undated one, none for the old"
    );
    assert_eq!(store.unapplied_rules(&rules).unwrap(), [true, false]);
    assert_eq!(
        store
            .record_replay(&found, &applied, now + 120, DAY)
            .unwrap(),
        (0, 0)
    );
}
