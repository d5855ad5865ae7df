//! The store's invariants, checked against a real (in-memory) SQLite database.

use super::*;
use crate::story::Story;

const DAY: i64 = 86400;

fn story(identity: &str, link: Option<&str>, title: &str) -> Story {
    Story {
        identity: identity.to_owned(),
        link: link.map(str::to_owned),
        link_names_others: false,
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

/// The steps of SQLite's plan for `sql` run with `params` (`EXPLAIN QUERY PLAN`'s
/// details, in order).
fn query_plan(store: &Store, sql: &str, params: impl rusqlite::Params) -> Vec<String> {
    store
        .conn()
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap()
        .query_map(params, |r| r.get(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
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

/// Stories `guid:1` to `guid:n` of `feed`, each with a hit of rule `R1`, ingested at
/// 1000: an alert each for every channel of `R1`.
fn queue_matched(store: &mut Store, feed: i64, n: usize) {
    let incoming = (1..=n)
        .map(|i| {
            let id = format!("guid:{i}");
            Incoming::matched(story(&id, None, &id), vec![hit("R1")])
        })
        .collect();
    store.ingest(&job(feed, incoming, 1000)).unwrap();
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
fn a_database_opened_to_be_read_is_neither_created_nor_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.sqlite");
    assert!(matches!(
        Store::open_existing(&missing),
        Err(StoreError::Open { .. })
    ));
    assert!(!missing.exists(), "created");

    // An older schema is refused, and left as it is for the daemon of its version.
    let path = dir.path().join("db.sqlite");
    let known = schema::MIGRATIONS.len() as i64;
    drop(database_at_version(&path, 14));
    let refused = Store::open_existing(&path).unwrap_err();
    assert!(
        matches!(refused, StoreError::TooOld { found: 14, known: k, .. } if k == known),
        "{refused:?}"
    );
    assert_eq!(
        refused.to_string(),
        format!(
            "the database {} has schema version 14; this newshound reads version {known}, \
             to which `once` or `run` brings it (a newshound older than that cannot open \
             it then)",
            path.display()
        )
    );
    let version: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 14);

    // Once migrated, it is read; one newer than this newshound is refused as by `open`.
    drop(Store::open(&path).unwrap());
    let store = Store::open_existing(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), known);
    drop(store);
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", known + 1)
        .unwrap();
    assert!(matches!(
        Store::open_existing(&path),
        Err(StoreError::TooNew { .. })
    ));
}

/// What opening the database at `path` logs (at info level and above).
fn logged_opening(path: &std::path::Path) -> String {
    let capture = crate::log_capture::Capture::start(tracing::Level::INFO);
    drop(Store::open(path).unwrap());
    capture.lines()
}

#[test]
fn an_upgrade_of_the_schema_is_logged_and_a_new_database_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    assert_eq!(logged_opening(&path), "", "a new database");
    assert_eq!(logged_opening(&path), "", "a current one");
    let older = dir.path().join("older.sqlite");
    drop(database_at_version(&older, 14));
    let log = logged_opening(&older);
    assert!(
        log.contains(&format!(
            "database migrated to this newshound's schema; an older newshound cannot open it \
             now database={} from=14 to={}",
            older.display(),
            schema::MIGRATIONS.len()
        )),
        "{log}"
    );
}

/// A database at `path` as a newshound of schema `version` left it (its first `version`
/// migrations run), for a test of what later migrations do with its rows.
fn database_at_version(path: &std::path::Path, version: usize) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).unwrap();
    for migration in &schema::MIGRATIONS[..version] {
        conn.execute_batch(migration).unwrap();
    }
    conn.pragma_update(None, "user_version", version as i64)
        .unwrap();
    conn
}

/// The alert ids of the store's outbox, in the order they were queued.
fn alert_ids(store: &Store) -> Vec<String> {
    store
        .alert_states()
        .unwrap()
        .into_iter()
        .map(|s| s.alert_id)
        .collect()
}

#[test]
fn alert_ids_are_never_those_of_another_database() {
    // The same stories, the same row ids, rules and channels, in two databases: a new
    // database (the old one lost, or a second newshound) must not repeat the first's
    // Message-IDs and webhook-ids, which mail systems and receivers drop as seen.
    let queued = || {
        let (mut store, a, _) = setup();
        queue_matched(&mut store, a, 3);
        store
    };
    let (first, second) = (queued(), queued());
    let (ids, other) = (alert_ids(&first), alert_ids(&second));
    assert_eq!(ids.len(), 6, "three stories, two channels");
    assert!(
        ids.iter().all(|id| !other.contains(id)),
        "{ids:?} {other:?}"
    );
    let distinct: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len());
    // Within a database, an alert keeps its id: moved to another channel and back, it
    // is the alert it was.
    let mut first = first;
    let which = Requeue {
        channel: Some("ops"),
        id: None,
        waiting: true,
    };
    first.move_alerts(which, "mail", 2000).unwrap();
    let back = Requeue {
        channel: Some("mail"),
        id: None,
        waiting: true,
    };
    first.move_alerts(back, "ops", 2000).unwrap();
    assert_eq!(
        alert_ids(&first)
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>(),
        ids.into_iter().collect()
    );
}

#[test]
fn alerts_queued_before_the_database_had_its_own_value_keep_their_ids() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    {
        let conn = database_at_version(&path, 14);
        conn.execute(
            "INSERT INTO feeds (url) VALUES ('https://a.example/feed')",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO stories (feed_id, identity, title, summary, content, authors, categories,
                 first_seen, content_hash)
             VALUES (1, 'guid:1', 't', '', '', '', '', 1000, 'h')",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO outbox (alert_id, story_id, channel, rules, next_attempt, created)
             VALUES ('queued-before', 1, 'ops', '[\"R1\"]', 1000, 1000)",
            [],
        )
        .unwrap();
    }
    let mut store = Store::open(&path).unwrap();
    assert_eq!(
        alert_ids(&store),
        ["queued-before"],
        "a resend is the same alert"
    );
    let salt: String = store
        .conn()
        .query_row("SELECT salt FROM instance", [], |r| r.get(0))
        .unwrap();
    assert_eq!(salt.len(), 32, "{salt}");
    let feed = store.feed_id("https://a.example/feed").unwrap().unwrap();
    queue_matched(&mut store, feed, 2);
    assert_eq!(alert_ids(&store).len(), 1 + 2 * 2);
    drop(store);
    let again = Store::open(&path).unwrap();
    let kept: String = again
        .conn()
        .query_row("SELECT salt FROM instance", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kept, salt, "made once");
}

#[test]
fn a_database_of_an_older_schema_is_upgraded_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    {
        // A database written before the body hash was kept.
        let conn = database_at_version(&path, 2);
        conn.execute(
            "INSERT INTO feeds (url, etag, status, last_success)
             VALUES ('https://a.example/feed', '\"v1\"', 'ok', 4000)",
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
        feed.first_success,
        Some(4000),
        "quiet, if ever, from its last success"
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
             VALUES ('n2', 'ops', 1, 'possible_gap', 'gap', 5, 5), ('n5', 'ops', 1, 'quiet', 'quiet', 5, 5)",
            [],
        )
        .unwrap();
    store
        .conn()
        .execute(
            "INSERT INTO notices (notice_id, channel, about_channel, kind, message, next_attempt, created)
             VALUES ('n3', 'ops', 'desk', 'channel_failing', 'failing', 5, 5)",
            [],
        )
        .unwrap();
    assert!(
        store
            .conn()
            .execute(
                "INSERT INTO notices (notice_id, channel, kind, message, next_attempt, created)
                 VALUES ('n4', 'ops', 'stale', 'about nothing', 5, 5)",
                [],
            )
            .is_err(),
        "a notice is about a feed or a channel"
    );
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

#[test]
fn feeds_failing_before_their_kind_was_stored_are_marked_from_their_messages() {
    // Migration 9 reads whether a failing feed's server was reached from the message
    // recorded before it, which is a `FetchError`'s.
    use crate::fetch::FetchError;
    let errors = [
        FetchError::Dns("no such host".into()),
        FetchError::Connect("refused".into()),
        FetchError::Timeout(std::time::Duration::from_secs(30)),
        FetchError::Tls("bad certificate".into()),
        FetchError::Status {
            code: 503,
            retry_after: None,
        },
        FetchError::Body("cut".into()),
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    {
        let conn = database_at_version(&path, 8);
        for (i, error) in errors.iter().enumerate() {
            conn.execute(
                "INSERT INTO feeds (url, status, last_error, failing_since)
                 VALUES (?1, 'error', ?2, 100)",
                rusqlite::params![format!("https://{i}.example/feed"), error.to_string()],
            )
            .unwrap();
        }
    }
    let store = Store::open(&path).unwrap();
    let failing = store.failing_since_any_success().unwrap();
    assert_eq!(failing.len(), errors.len());
    for (feed, error) in failing.iter().zip(&errors) {
        assert_eq!(feed.unreachable, error.unreachable(), "{error}");
    }
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
fn a_full_disk_or_a_read_only_database_says_what_to_do() {
    let (mut store, a, _) = setup();
    let stories = |n: usize| {
        (0..n)
            .map(|i| {
                let mut s = story(&format!("guid:{i}"), None, "Peskov");
                s.content = "words ".repeat(2000);
                Incoming::matched(s, Vec::new())
            })
            .collect::<Vec<_>>()
    };
    // SQLite's page limit fails a write as a full disk does.
    let pages = count(&store, "PRAGMA page_count");
    store
        .conn()
        .execute_batch(&format!("PRAGMA max_page_count = {}", pages + 4))
        .unwrap();
    let err = store.ingest(&job(a, stories(50), 1000)).unwrap_err();
    assert!(
        err.to_string().ends_with(
            "database or disk is full; free space on the disk that holds the database \
             (a fetch that could not be stored is fetched again)"
        ),
        "{err}"
    );
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM stories"),
        0,
        "nothing half written"
    );
    store
        .conn()
        .execute_batch("PRAGMA query_only = ON")
        .unwrap();
    let err = store.ingest(&job(a, stories(1), 1000)).unwrap_err();
    assert!(
        err.to_string()
            .contains("; newshound's user must be able to write"),
        "{err}"
    );
}

#[test]
fn a_write_lock_held_by_another_process_says_who_may_hold_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("newshound.db");
    let mut store = Store::open(&path).unwrap();
    store
        .sync_feeds([("https://a.example/feed", None)])
        .unwrap();
    let a = store.feed_id("https://a.example/feed").unwrap().unwrap();
    store
        .conn()
        .busy_timeout(std::time::Duration::from_millis(50))
        .unwrap();
    // A sqlite3 shell left inside a transaction.
    let shell = rusqlite::Connection::open(&path).unwrap();
    shell.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let peskov = Incoming::matched(story("guid:1", None, "Peskov"), Vec::new());
    let err = store
        .ingest(&job(a, vec![peskov.clone()], 1000))
        .unwrap_err();
    assert!(
        err.to_string().ends_with(
            "database is locked; another process held the database's write lock longer \
             than newshound waits for it (10 s): a sqlite3 shell left inside a transaction, \
             or a tool copying the file (`newshound backup` copies without holding it); what \
             could not be written is tried again"
        ),
        "{err}"
    );
    shell.execute_batch("COMMIT").unwrap();
    store.ingest(&job(a, vec![peskov], 1000)).unwrap();
    assert_eq!(count(&store, "SELECT COUNT(*) FROM stories"), 1);
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

#[test]
fn outbox_counts_are_read_through_the_state_index() {
    let (mut store, a, _) = setup();
    queue_matched(&mut store, a, 4);
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
    store
        .mark_sent(Table::Outbox, "desk", &ids[..3], 1100)
        .unwrap();
    store
        .mark_failed(Table::Outbox, "desk", &ids[3..5], "busy", 1100, Some(2000))
        .unwrap();
    store
        .mark_failed(Table::Outbox, "desk", &ids[5..6], "refused", 1100, None)
        .unwrap();
    assert_eq!(store.outbox_counts().unwrap(), (2, 2, 1));
    let plan = &query_plan(&store, outbox::OUTBOX_COUNTS, [])[0];
    assert!(plan.contains("USING COVERING INDEX outbox_due"), "{plan}");
}

#[test]
fn due_alerts_are_read_in_queue_order_a_chunk_at_a_time_without_sorting() {
    let (mut store, a, _) = setup();
    queue_matched(&mut store, a, 5);
    let last = store.last_alert_row().unwrap();
    let read = |store: &Store, after: i64| -> Vec<i64> {
        let alerts = store.due_alerts("desk", 1500, after + 1..=last, 2).unwrap();
        assert!(alerts.iter().all(|a| a.channel == "desk"));
        alerts.iter().map(|a| a.outbox_id).collect()
    };
    let first = read(&store, 0);
    assert_eq!(first.len(), 2);
    assert!(first[0] < first[1]);
    // One waiting for its retry is passed over; the next read starts after the last.
    let second = read(&store, first[1]);
    store
        .mark_failed(
            Table::Outbox,
            "desk",
            &second[..1],
            "busy",
            1100,
            Some(2000),
        )
        .unwrap();
    let rest = read(&store, first[1]);
    assert_eq!(rest.len(), 2);
    assert!(rest[0] == second[1] && rest[1] > second[1]);
    assert_eq!(read(&store, rest[1]), Vec::<i64>::new());
    let attempts = store
        .due_alert_attempts("desk", 1500, first[1] + 1..=last)
        .unwrap();
    assert_eq!(attempts, [(rest[0], 0), (rest[1], 0)]);
    assert_eq!(
        store.due_alerts("desk", 2000, 1..=last, 10).unwrap().len(),
        5
    );
    // Alerts queued after a round began are left to the next round.
    let later = vec![Incoming::matched(
        story("guid:6", None, "guid:6"),
        vec![hit("R1")],
    )];
    store.ingest(&job(a, later, 1200)).unwrap();
    assert!(store.last_alert_row().unwrap() > last);
    assert_eq!(read(&store, rest[1]), Vec::<i64>::new());
    assert_eq!(
        store
            .due_alerts("desk", 2000, 1..=i64::MAX, 10)
            .unwrap()
            .len(),
        6
    );
    // Through the index of alerts owed, in its order: a backlog is never sorted whole,
    // its stories' text included, for each chunk.
    for sql in [
        outbox::due_alerts_sql(),
        format!(
            "SELECT o.id, o.attempts FROM outbox o WHERE {}",
            outbox::OWED_AMONG
        ),
    ] {
        let mut params: Vec<rusqlite::types::Value> =
            vec![1500.into(), "desk".to_owned().into(), 1.into(), 9.into()];
        if sql.contains("?5") {
            params.push(2.into());
        }
        let plan = query_plan(&store, &sql, rusqlite::params_from_iter(params));
        assert!(
            plan.iter().any(|s| s.contains("INDEX outbox_owed")),
            "{plan:?}"
        );
        assert!(!plan.iter().any(|s| s.contains("TEMP B-TREE")), "{plan:?}");
    }
}

#[test]
fn a_write_ahead_log_a_large_write_grew_is_cut_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    let mut store = Store::open(&path).unwrap();
    store
        .sync_feeds([("https://a.example/feed", None)])
        .unwrap();
    let feed = store.feed_id("https://a.example/feed").unwrap().unwrap();
    // One fetch of 2,000 stories of 5 KB: about 10 MB in one transaction.
    let incoming = (0..2000)
        .map(|i| {
            let mut story = story(&format!("guid:{i}"), None, &format!("story {i}"));
            story.content = format!("{i} ").repeat(1250);
            Incoming::matched(story, Vec::new())
        })
        .collect();
    store.ingest(&job(feed, incoming, 1_800_000_000)).unwrap();
    let wal = dir.path().join("db.sqlite-wal");
    assert!(std::fs::metadata(&wal).unwrap().len() > 2 * WAL_SIZE_LIMIT);
    // The next write after the checkpoint reuses the log from its start, and cuts it.
    store
        .sync_feeds([("https://b.example/feed", None)])
        .unwrap();
    let len = std::fs::metadata(&wal).unwrap().len();
    assert!(len <= WAL_SIZE_LIMIT, "{len}");
}

mod addresses;
mod channels;
mod dedupe;
mod feeds;
mod ingest;
mod properties;
