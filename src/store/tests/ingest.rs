//! Writing fetches: stories, hits and alerts in one transaction, retention, group
//! commit, and the stories a fetch need not match again (dedupe: `dedupe.rs`).

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
            known_again: 0,
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
fn each_channels_alert_names_the_rules_routed_to_it_and_no_other() {
    let (mut store, a, _) = setup();
    let routed = |rule: &str, channels: &[&str]| IncomingHit {
        channels: channels.iter().map(|c| c.to_string()).collect(),
        ..hit(rule)
    };
    let incoming = vec![Incoming::matched(
        story("guid:1", Some("https://a.example/1"), "t"),
        vec![
            routed("Both", &["desk", "ops"]),
            routed("Desk only", &["desk"]),
            routed("Ops only", &["ops"]),
        ],
    )];
    let outcome = store.ingest(&job(a, incoming, 1000)).unwrap();
    assert_eq!((outcome.new_hits, outcome.alerts_queued), (3, 2));
    let rows: Vec<(String, String)> = store
        .conn()
        .prepare("SELECT channel, rules FROM outbox ORDER BY channel")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(
        rows,
        [
            ("desk".to_owned(), r#"["Both","Desk only"]"#.to_owned()),
            ("ops".to_owned(), r#"["Both","Ops only"]"#.to_owned()),
        ]
    );
    assert_eq!(store.ingest_commits(), 1, "one transaction a fetch");
}

#[test]
fn outcomes_add_up_count_by_count_but_a_gap_stays_one_feeds() {
    let gap = PossibleGap {
        entries: 4,
        last_success: Some(100),
    };
    let mut total = IngestOutcome {
        new_stories: 1,
        updated_stories: 2,
        new_hits: 3,
        alerts_queued: 4,
        known_again: 5,
        possible_gap: Some(gap),
    };
    total += IngestOutcome {
        new_stories: 10,
        updated_stories: 20,
        new_hits: 30,
        alerts_queued: 40,
        known_again: 50,
        possible_gap: None,
    };
    total += IngestOutcome {
        new_stories: 100,
        updated_stories: 200,
        new_hits: 300,
        alerts_queued: 400,
        known_again: 500,
        possible_gap: Some(PossibleGap {
            entries: 9,
            last_success: None,
        }),
    };
    assert_eq!(
        total,
        IngestOutcome {
            new_stories: 111,
            updated_stories: 222,
            new_hits: 333,
            alerts_queued: 444,
            known_again: 555,
            possible_gap: Some(gap),
        }
    );
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
        let mut stories: Vec<_> = store.with_stories_since(0, |s| s.collect()).unwrap();
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
            "SELECT COUNT(*) FROM stories WHERE pruned = 1 AND summary = '' AND title = 'nothing'"
        ),
        1,
        "the text goes; the title stays, to tell it from other articles under a shared link"
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
fn retention_runs_in_short_batches_that_each_look_at_a_story_once() {
    // Seven old stories without hits, one old story with a hit, two recent ones: batches
    // of three walk the old ones in the order they were first seen, each once.
    let (mut store, a, _) = setup();
    let keep = Duration::from_secs(90 * DAY as u64);
    for (i, seen) in [5, 1, 3, 2, 7, 4, 6].into_iter().enumerate() {
        let old = story(&format!("guid:old{i}"), None, "old news");
        store
            .ingest(&job(a, vec![Incoming::matched(old, vec![])], seen))
            .unwrap();
    }
    let kept = story("guid:hit", None, "a hit");
    store
        .ingest(&job(a, vec![Incoming::matched(kept, vec![hit("R")])], 3))
        .unwrap();
    for i in 0..2 {
        let new = story(&format!("guid:new{i}"), None, "news");
        store
            .ingest(&job(a, vec![Incoming::matched(new, vec![])], 80 * DAY))
            .unwrap();
    }
    let now = 91 * DAY;
    let mut batches = Vec::new();
    let mut after = None;
    loop {
        let batch = store.prune_batch(now, keep, after, 3).unwrap();
        batches.push((batch.pruned, batch.next.map(|(seen, _)| seen)));
        match batch.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    // Eight old stories (the hit's among them) in batches of three; the last finds
    // fewer than three and ends the run.
    assert_eq!(batches, [(3, Some(3)), (2, Some(5)), (2, None)]);
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM stories WHERE pruned = 1"),
        7
    );
    assert_eq!(
        store.prune(now, keep).unwrap(),
        (0, 0),
        "nothing is left to do"
    );
    // Deleting walks the same way: once no feed has listed them for four times `keep`.
    let later = 3 * DAY + 4 * 90 * DAY + 1 + 7;
    let mut deleted = 0;
    let mut after = None;
    loop {
        let batch = store.prune_batch(later, keep, after, 2).unwrap();
        deleted += batch.deleted;
        match batch.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(deleted, 7);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM stories"), 3);
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

#[test]
fn a_retention_batch_finds_its_stories_through_the_first_seen_index() {
    let (store, _, _) = setup();
    let plan = query_plan(
        &store,
        "SELECT first_seen, id FROM stories
         WHERE first_seen < ?1 AND (first_seen, id) > (?2, ?3)
         ORDER BY first_seen, id LIMIT 1 OFFSET ?4",
        [100, 0, 0, 10],
    );
    assert!(
        plan.iter()
            .any(|step| step.contains("INDEX stories_by_first_seen"))
            && !plan.iter().any(|step| step.contains("TEMP B-TREE")),
        "{plan:?}"
    );
}

#[test]
fn a_pruned_untitled_story_keeps_the_text_that_names_it() {
    // Told from other articles under a shared link by its text, as a titled story is by
    // its title ([`Story::name`]).
    let (mut store, a, _) = setup();
    let mut note = story("guid:note", None, "");
    note.summary = "An untitled note".to_owned();
    note.content = "An untitled note, and more".to_owned();
    store
        .ingest(&job(a, vec![Incoming::matched(note, vec![])], 0))
        .unwrap();
    assert_eq!(
        store
            .prune(91 * DAY, Duration::from_secs(90 * DAY as u64))
            .unwrap(),
        (1, 0)
    );
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM stories
             WHERE pruned = 1 AND summary = 'An untitled note' AND content = ''"
        ),
        1
    );
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

#[test]
fn a_group_whose_commit_fails_writes_its_feeds_one_by_one() {
    let (mut store, a, b) = setup();
    // A check made only at the commit (a deferred foreign key), which one feed's story
    // breaks: as a disk that fills up fails the commit that writes a large feed's pages.
    store
        .conn()
        .execute_batch(
            "CREATE TABLE parent (id INTEGER PRIMARY KEY);
             CREATE TABLE child (parent INTEGER
                 REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);
             CREATE TRIGGER poisoned AFTER INSERT ON stories WHEN NEW.title = 'poison'
             BEGIN INSERT INTO child (parent) VALUES (1); END;",
        )
        .unwrap();
    let one =
        |id: &str, title: &str| vec![Incoming::matched(story(id, None, title), vec![hit("R")])];
    let jobs = [
        job(a, one("guid:1", "fine"), 1000),
        job(b, one("guid:2", "poison"), 1000),
    ];
    let results = store.ingest_group(&jobs);
    assert_eq!(results[0].as_ref().unwrap().new_stories, 1);
    let error = results[1].as_ref().unwrap_err().to_string();
    assert!(error.contains("FOREIGN KEY"), "{error}");
    assert_eq!(count(&store, "SELECT COUNT(*) FROM stories"), 1);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM outbox"), 2);
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
    assert!(
        err.is_one_feeds(),
        "one feed's failure: a pass goes on with the others"
    );
    assert!(!StoreError::Gone.is_one_feeds());
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
    let stored: Vec<_> = store.with_stories_to_replay(now, |s| s.collect()).unwrap();
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
