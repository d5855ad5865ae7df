//! The alert channels' health: failing since the first failed delivery, told of once
//! past `failing_after`, and once more on the first delivery after that. And alerts
//! moved from one channel to another.

use super::*;

const CONFIGURED: &[&str] = &["desk", "ops", "log"];

fn health() -> Health {
    Health {
        failing_after: 3600,
        channels: vec!["ops".to_owned(), "desk".to_owned(), "log".to_owned()],
        ..Health::default()
    }
}

/// Two stories with a hit each, queued for `desk` and `ops`; the outbox ids of `desk`'s.
fn two_alerts(store: &mut Store, feed: i64) -> Vec<i64> {
    queue_matched(store, feed, 2);
    store
        .conn()
        .prepare("SELECT id FROM outbox WHERE channel = 'desk' ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// A failed delivery through `desk` at `at`.
fn fail(store: &mut Store, ids: &[i64], error: &str, at: i64, next: Option<i64>) {
    store
        .mark_failed(Table::Outbox, "desk", ids, error, at, next)
        .unwrap();
}

/// A delivery through `desk` at `at`.
fn sent(store: &mut Store, ids: &[i64], at: i64) {
    store.mark_sent(Table::Outbox, "desk", ids, at).unwrap();
}

/// (recipient, kind, about_channel, message) of every notice, oldest first.
fn notices(store: &Store) -> Vec<(String, String, String, String)> {
    store
        .conn()
        .prepare("SELECT channel, kind, about_channel, message FROM notices ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

#[test]
fn notice_ids_are_never_those_of_another_database() {
    // The same failure at the same second in two databases: two notices, two ids.
    let notice_ids = || {
        let (mut store, a, _) = setup();
        let desk = two_alerts(&mut store, a);
        fail(&mut store, &desk, "connection refused", 1000, Some(1300));
        store
            .channel_health(1000 + 3600, &health(), CONFIGURED)
            .unwrap();
        store
            .conn()
            .prepare("SELECT notice_id FROM notices ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .collect::<rusqlite::Result<Vec<_>>>()
            .unwrap()
    };
    let (first, second) = (notice_ids(), notice_ids());
    assert_eq!(first.len(), 2, "told to ops and log: {first:?}");
    assert!(
        first.iter().all(|id| !second.contains(id)),
        "{first:?} {second:?}"
    );
}

#[test]
fn a_channel_failing_longer_than_failing_after_is_told_of_once_and_its_recovery_once() {
    let (mut store, a, _) = setup();
    let desk = two_alerts(&mut store, a);
    let retry = |store: &mut Store, at: i64, error: &str| {
        fail(store, &desk[..1], error, at, Some(at + 300));
    };
    retry(&mut store, 1000, "connection refused");
    assert_eq!(
        store
            .channel_health(1000 + 1800, &health(), CONFIGURED)
            .unwrap(),
        []
    );
    retry(&mut store, 3000, "451 try again later");
    let changes = store
        .channel_health(1000 + 3600, &health(), CONFIGURED)
        .unwrap();
    let message = "deliveries through channel `desk` have been failing since \
                   1970-01-01T00:16:40Z: 451 try again later; alerts waiting for a retry: 2, \
                   dead: 0 (`newshound hits` shows them; `newshound requeue --channel desk` \
                   sends the dead again)";
    assert_eq!(
        changes,
        [ChannelChange::Failing {
            channel: "desk".to_owned(),
            since: 1000,
            message: message.to_owned(),
        }],
        "failing since the first failure, with the last error"
    );
    let told: Vec<_> = notices(&store)
        .into_iter()
        .map(|(to, kind, about, text)| {
            assert_eq!((about.as_str(), text.as_str()), ("desk", message));
            (to, kind)
        })
        .collect();
    assert_eq!(
        told,
        [
            ("ops".to_owned(), "channel_failing".to_owned()),
            ("log".to_owned(), "channel_failing".to_owned()),
        ],
        "every health channel but the failing one"
    );
    retry(&mut store, 9000, "451 try again later");
    assert_eq!(
        store.channel_health(9000, &health(), CONFIGURED).unwrap(),
        []
    );
    assert_eq!(notices(&store).len(), 2, "told once");

    sent(&mut store, &desk[1..], 9100);
    let changes = store.channel_health(9200, &health(), CONFIGURED).unwrap();
    assert!(
        matches!(&changes[..], [ChannelChange::Recovered { channel, .. }] if channel == "desk"),
        "{changes:?}"
    );
    let kinds: Vec<_> = notices(&store).into_iter().map(|n| (n.0, n.1)).collect();
    assert_eq!(
        kinds[2..],
        [
            ("ops".to_owned(), "channel_recovered".to_owned()),
            ("log".to_owned(), "channel_recovered".to_owned()),
        ]
    );
    assert_eq!(
        store.channel_health(99_000, &health(), CONFIGURED).unwrap(),
        []
    );
    assert_eq!(count(&store, "SELECT COUNT(*) FROM channel_health"), 0);
    let due = store.due_notices(&["ops"], 99_000).unwrap();
    assert_eq!(
        due.iter().map(|n| &n.about).collect::<Vec<_>>(),
        [
            &NoticeAbout::Channel("desk".to_owned()),
            &NoticeAbout::Channel("desk".to_owned())
        ]
    );
}

#[test]
fn a_delivery_before_failing_after_ends_the_failure_untold() {
    let (mut store, a, _) = setup();
    let desk = two_alerts(&mut store, a);
    fail(&mut store, &desk[..1], "HTTP 400", 1000, None);
    sent(&mut store, &desk[1..], 1100);
    assert_eq!(
        store.channel_health(99_000, &health(), CONFIGURED).unwrap(),
        []
    );
    assert!(notices(&store).is_empty());
}

#[test]
fn a_channel_no_longer_configured_is_not_told_of() {
    let (mut store, a, _) = setup();
    let desk = two_alerts(&mut store, a);
    fail(&mut store, &desk, "refused", 1000, Some(2000));
    assert_eq!(
        store.channel_health(99_000, &health(), &["ops"]).unwrap(),
        []
    );
    assert!(notices(&store).is_empty());
    // Back in the configuration, it is.
    assert_eq!(
        store
            .channel_health(99_000, &health(), CONFIGURED)
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_channel_that_was_told_of_and_fails_again_before_a_round_stays_failing() {
    let (mut store, a, _) = setup();
    let desk = two_alerts(&mut store, a);
    fail(&mut store, &desk[..1], "refused", 1000, Some(2000));
    assert_eq!(
        store
            .channel_health(5000, &health(), CONFIGURED)
            .unwrap()
            .len(),
        1
    );
    // One delivery, then failures again, all between two rounds: still failing.
    sent(&mut store, &desk[1..], 5100);
    fail(&mut store, &desk[..1], "refused", 5200, Some(9000));
    assert_eq!(
        store.channel_health(5300, &health(), CONFIGURED).unwrap(),
        []
    );
    assert_eq!(notices(&store).len(), 2, "no recovery told");
}

#[test]
fn alerts_move_to_another_channel_unless_it_has_them_queued_already() {
    let (mut store, a, _) = setup();
    let desk = two_alerts(&mut store, a);
    sent(&mut store, &desk[..1], 1100);
    let which = Requeue {
        channel: Some("desk"),
        ..Requeue::default()
    };
    // `ops` has the same alerts queued (both stories matched for both channels).
    assert_eq!(store.move_alerts(which, "ops", 1200).unwrap(), (0, 1));
    // To a third channel: the undelivered one moves, due now, with a new id; the sent
    // one stays.
    assert_eq!(store.move_alerts(which, "mail", 1200).unwrap(), (1, 0));
    let states = store.alert_states().unwrap();
    let by_channel = |c: &str| states.iter().filter(|s| s.channel == c).count();
    assert_eq!((by_channel("desk"), by_channel("mail")), (1, 1));
    let moved = states.iter().find(|s| s.channel == "mail").unwrap();
    assert_eq!(
        (moved.state.as_str(), moved.attempts, moved.next_attempt),
        ("pending", 0, 1200)
    );
    assert!(
        states
            .iter()
            .all(|s| s.channel == "mail" || s.alert_id != moved.alert_id)
    );
    assert_eq!(store.move_alerts(which, "mail", 1300).unwrap(), (0, 0));
}
