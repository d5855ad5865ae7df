//! The store's invariants, checked against a real (in-memory) SQLite database.

use super::*;
use crate::story::Story;

const DAY: i64 = 86400;

fn story(identity: &str, link: Option<&str>, title: &str) -> Story {
    Story {
        identity: identity.to_owned(),
        link: link.map(str::to_owned),
        title: title.to_owned(),
        summary: String::new(),
        content: String::new(),
        authors: Vec::new(),
        categories: Vec::new(),
        published: None,
        updated: None,
    }
}

fn hit(rule: &str) -> IncomingHit {
    IncomingHit {
        rule: rule.to_owned(),
        channels: vec!["desk".to_owned(), "ops".to_owned()],
        spans: Vec::new(),
    }
}

fn setup() -> (Store, i64, i64) {
    let mut store = Store::open_in_memory().unwrap();
    store
        .sync_feeds([
            ("https://a.example/feed", None),
            ("https://b.example/feed", Some("B")),
        ])
        .unwrap();
    let a = store.feed_id("https://a.example/feed").unwrap().unwrap();
    let b = store.feed_id("https://b.example/feed").unwrap().unwrap();
    (store, a, b)
}

fn count(store: &Store, sql: &str) -> i64 {
    store.conn().query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn migrations_run_once_and_reach_the_latest_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    let store = Store::open(&path).unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        schema::MIGRATIONS.len() as i64
    );
    drop(store);
    let again = Store::open(&path).unwrap();
    assert_eq!(
        again.schema_version().unwrap(),
        schema::MIGRATIONS.len() as i64
    );
    let mode: String = again
        .conn()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn a_database_of_an_older_schema_is_upgraded_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    {
        // A database written before the body hash was kept.
        let conn = rusqlite::Connection::open(&path).unwrap();
        for migration in &schema::MIGRATIONS[..2] {
            conn.execute_batch(migration).unwrap();
        }
        conn.pragma_update(None, "user_version", 2).unwrap();
        conn.execute(
            "INSERT INTO feeds (url, etag, status) VALUES ('https://a.example/feed', '\"v1\"', 'ok')",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO notices (notice_id, channel, feed_id, kind, message, next_attempt, created)
             VALUES ('n1', 'ops', 1, 'stale', 'failing', 5, 5)",
            [],
        )
        .unwrap();
        for (identity, first_seen) in [("guid:1", 1000), ("guid:2", 3000), ("guid:3", 2000)] {
            conn.execute(
                "INSERT INTO stories (feed_id, identity, title, summary, content, authors, categories,
                     first_seen, content_hash)
                 VALUES (1, ?1, 't', '', '', '', '', ?2, 'h')",
                rusqlite::params![identity, first_seen],
            )
            .unwrap();
        }
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        schema::MIGRATIONS.len() as i64
    );
    let feed = store
        .feeds(&["https://a.example/feed"])
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(feed.etag.as_deref(), Some("\"v1\""));
    assert_eq!(feed.body_hash, None, "its next body is read");
    assert_eq!(
        (feed.stories, feed.newest_story, feed.possible_gaps),
        (3, Some(3000), 0),
        "the newest story is found in the stories"
    );
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM notices WHERE notice_id = 'n1' AND state = 'pending'"
        ),
        1,
        "notices kept through the table's rebuild"
    );
    store
        .conn()
        .execute(
            "INSERT INTO notices (notice_id, channel, feed_id, kind, message, next_attempt, created)
             VALUES ('n2', 'ops', 1, 'possible_gap', 'gap', 5, 5)",
            [],
        )
        .unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

#[test]
fn a_newer_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    drop(Store::open(&path).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    assert!(matches!(
        Store::open(&path),
        Err(StoreError::TooNew { found: 99, .. })
    ));
}

#[test]
fn a_missing_folder_is_named() {
    let err = Store::open(Path::new("/nonexistent-dir/newshound.db"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("the folder /nonexistent-dir does not exist"),
        "{err}"
    );
}

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

#[tokio::test]
async fn the_handle_runs_jobs_on_the_store_thread() {
    let (store, _, _) = setup();
    let handle = StoreHandle::spawn(store);
    let version = handle.call(|s| s.schema_version()).await.unwrap();
    assert_eq!(version, schema::MIGRATIONS.len() as i64);
}

#[test]
fn two_processes_creating_the_database_at_once_both_succeed() {
    // Found by the hostile-server test: a reader opening a new database while the daemon
    // migrated it ran the same migration twice. And switching a new database to WAL
    // could fail one of them at once with "database is locked" (about one run in ten
    // with four openers, before the switch was retried).
    for _ in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let openers: Vec<_> = (0..6)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || Store::open(&path).map(|s| s.schema_version().unwrap()))
            })
            .collect();
        for opener in openers {
            assert_eq!(
                opener.join().unwrap().unwrap(),
                schema::MIGRATIONS.len() as i64
            );
        }
    }
}

fn job(feed_id: i64, incoming: Vec<Incoming>, now: i64) -> IngestJob {
    IngestJob {
        feed_id,
        meta: FetchMeta::default(),
        incoming,
        now,
        max_age: DAY,
        late_matcher: None,
    }
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
fn outbox_counts_are_read_through_the_state_index() {
    let (mut store, a, _) = setup();
    let incoming = (1..=4)
        .map(|i| {
            let id = format!("guid:{i}");
            Incoming::matched(story(&id, None, &id), vec![hit("R1")])
        })
        .collect();
    store.ingest(&job(a, incoming, 1000)).unwrap();
    assert_eq!(
        store.outbox_counts().unwrap(),
        (8, 0, 0),
        "two channels each"
    );
    let ids: Vec<i64> = store
        .conn()
        .prepare("SELECT id FROM outbox ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    store.mark_sent(Table::Outbox, &ids[..3], 1100).unwrap();
    store
        .mark_failed(Table::Outbox, &ids[3..5], "busy", Some(2000))
        .unwrap();
    store
        .mark_failed(Table::Outbox, &ids[5..6], "refused", None)
        .unwrap();
    assert_eq!(store.outbox_counts().unwrap(), (2, 2, 1));
    let plan: String = store
        .conn()
        .query_row(
            &format!("EXPLAIN QUERY PLAN {}", outbox::OUTBOX_COUNTS),
            [],
            |r| r.get(3),
        )
        .unwrap();
    assert!(plan.contains("USING COVERING INDEX outbox_due"), "{plan}");
}

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
        2
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
