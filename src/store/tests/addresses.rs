//! A story's addresses over time: tracking marks dropped by a newer canonicalisation, a
//! site moved to HTTPS or to its bare domain, the link an entry has now.

use super::*;

#[test]
fn a_story_stored_under_a_link_whose_tracking_is_now_dropped_is_not_new_again() {
    // Stored by a newshound that kept `xtor` (a feed without guids: known by its link),
    // then read by one that drops it.
    let (mut store, a, _) = setup();
    let by_link = |link: &str| {
        vec![Incoming::matched(
            story(&format!("link:{link}"), Some(link), "Peskov on the talks"),
            vec![hit("Peskov")],
        )]
    };
    for old in [
        "https://n.example/a?xtor=RSS-3208",
        "https://n.example/p?id=5&xtor=RSS-3208",
    ] {
        store.ingest(&job(a, by_link(old), 1000)).unwrap();
    }
    let alerts = count(&store, "SELECT COUNT(*) FROM outbox");
    for new in ["https://n.example/a", "https://n.example/p?id=5"] {
        let outcome = store.ingest(&job(a, by_link(new), 2000)).unwrap();
        assert_eq!(outcome.new_stories, 0, "{new}: {outcome:?}");
    }
    assert_eq!(count(&store, "SELECT COUNT(*) FROM outbox"), alerts);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM stories"), 2);
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM stories WHERE identity IN \
             ('link:https://n.example/a', 'link:https://n.example/p?id=5') \
             AND link IN ('https://n.example/a', 'https://n.example/p?id=5')"
        ),
        2,
        "known by the new identity and link from now on"
    );
    // Another link that only starts like it is another story.
    let outcome = store
        .ingest(&job(a, by_link("https://n.example/a2"), 3000))
        .unwrap();
    assert_eq!(outcome.new_stories, 1);
}

#[test]
fn a_story_of_a_site_that_moved_to_https_or_its_bare_domain_is_not_new_again() {
    // One feed known by its links, one by guids that are addresses: the site moves to
    // HTTPS and its bare domain, and every address its feeds list changes at once.
    let (mut store, a, b) = setup();
    let entry = |kind: &str, address: &str| {
        vec![Incoming::matched(
            story(
                &format!("{kind}:{address}"),
                Some(address),
                "Peskov on the talks",
            ),
            vec![hit("Peskov")],
        )]
    };
    store
        .ingest(&job(a, entry("link", "http://www.n.example/a"), 1000))
        .unwrap();
    store
        .ingest(&job(b, entry("guid", "http://www.m.example/?p=5"), 1000))
        .unwrap();
    let alerts = count(&store, "SELECT COUNT(*) FROM outbox");
    for (feed, kind, moved) in [
        (a, "link", "https://n.example/a"),
        (a, "link", "https://n.example/a/"),
        (b, "guid", "https://m.example/?p=5"),
    ] {
        let outcome = store.ingest(&job(feed, entry(kind, moved), 2000)).unwrap();
        assert_eq!(
            (outcome.new_stories, outcome.possible_gap),
            (0, None),
            "{moved}"
        );
        assert_eq!(
            count(
                &store,
                &format!(
                    "SELECT COUNT(*) FROM stories WHERE identity = '{kind}:{moved}' AND link = '{moved}'"
                )
            ),
            1,
            "known by the new address from now on"
        );
    }
    assert_eq!(count(&store, "SELECT COUNT(*) FROM outbox"), alerts);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM stories"), 2);
    // Another page of the site is another story, and so is the same address in another
    // feed that never had it.
    let outcome = store
        .ingest(&job(a, entry("link", "https://n.example/b"), 3000))
        .unwrap();
    assert_eq!(outcome.new_stories, 1);
    let outcome = store
        .ingest(&job(b, entry("link", "http://n.example/c"), 3000))
        .unwrap();
    assert_eq!(outcome.new_stories, 1);
}

#[test]
fn a_feeds_first_read_finds_another_feeds_story_under_its_links_other_form() {
    // Feed `a` stores the site's article as `http://www.…`; feed `c`, added later, lists
    // it as `https://…/` in its first read.
    let (mut store, a, _) = setup();
    store
        .sync_feeds([("https://c.example/feed", None)])
        .unwrap();
    let c = store.feed_id("https://c.example/feed").unwrap().unwrap();
    let entry = |guid: &str, link: &str| {
        Incoming::matched(
            story(guid, Some(link), "Peskov on the talks"),
            vec![hit("Peskov")],
        )
    };
    store
        .ingest(&job(
            a,
            vec![entry("guid:a-1", "http://www.n.example/a")],
            1000,
        ))
        .unwrap();
    let alerts = count(&store, "SELECT COUNT(*) FROM outbox");
    let outcome = store
        .ingest(&job(
            c,
            vec![
                entry("guid:c-1", "https://n.example/a/"),
                entry("guid:c-2", "https://n.example/b"),
                // Its own two forms of one address are its own stories, as before.
                entry("guid:c-3", "https://n.example/d"),
                entry("guid:c-4", "http://n.example/d"),
            ],
            2000,
        ))
        .unwrap();
    assert_eq!(outcome.new_stories, 3, "{outcome:?}");
    assert_eq!(count(&store, "SELECT COUNT(*) FROM outbox"), alerts + 3 * 2);
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM stories WHERE link LIKE '%n.example/a%'"
        ),
        1
    );
}

#[test]
fn a_feeds_first_read_asks_only_where_other_feeds_hold_stories() {
    let (mut store, a, b) = setup();
    store
        .ingest(&job(
            a,
            vec![
                Incoming::matched(
                    story("guid:a-1", Some("http://www.n.example/a"), "A"),
                    Vec::new(),
                ),
                // A host shorter than `https://`.
                Incoming::matched(story("guid:a-2", Some("http://x.co/a"), "B"), Vec::new()),
            ],
            1000,
        ))
        .unwrap();
    let tx = WriteTx::begin(store.conn()).unwrap();
    let incoming = [
        "https://n.example/x",
        "https://www.n.example/y",
        "https://m.example/z",
        "https://x.co/b",
    ]
    .map(|link| Incoming::matched(story(link, Some(link), "T"), Vec::new()));
    let sites = stories::sites_elsewhere(&tx, b, &incoming).unwrap();
    assert_eq!(
        sites,
        ["http://www.n.example/", "http://x.co/"]
            .map(str::to_owned)
            .into_iter()
            .collect()
    );
    // Not the feed's own stories.
    let sites = stories::sites_elsewhere(&tx, a, &incoming).unwrap();
    assert!(sites.is_empty(), "{sites:?}");
    // The forms are worked out for a site's first link only: its own site is asked
    // too, where a later link's form with a trailing slash may be stored — though the
    // front page, first, has no such form.
    let incoming = ["http://www.n.example/", "http://www.n.example/a"]
        .map(|link| Incoming::matched(story(link, Some(link), "T"), Vec::new()));
    let sites = stories::sites_elsewhere(&tx, b, &incoming).unwrap();
    assert_eq!(
        sites,
        ["http://www.n.example/".to_owned()].into_iter().collect()
    );
    drop(tx);
    // Each site is one range of the link index, not a scan of the stories.
    let plan = query_plan(
        &store,
        stories::ANY_STORY_UNDER_A_SITE,
        params!["https://n.example/", "https://n.example0", b],
    );
    assert!(
        plan.iter()
            .any(|step| step.contains("USING INDEX stories_by_link (link>? AND link<?)")),
        "{plan:?}"
    );
}

#[test]
fn a_stored_story_takes_the_link_its_entry_has_now() {
    // A site moves to HTTPS while its guids stay: its feed's stories are found by their
    // guids, and another feed's copy of an article is found by the new link.
    let (mut store, a, b) = setup();
    let entry = |guid: &str, link: &str| {
        vec![Incoming::matched(
            story(guid, Some(link), "Peskov on the talks"),
            vec![hit("Peskov")],
        )]
    };
    store
        .ingest(&job(a, entry("guid:p-5", "http://n.example/a"), 1000))
        .unwrap();
    let alerts = count(&store, "SELECT COUNT(*) FROM outbox");
    let outcome = store
        .ingest(&job(a, entry("guid:p-5", "https://n.example/a"), 2000))
        .unwrap();
    assert_eq!(outcome.new_stories, 0);
    let outcome = store
        .ingest(&job(b, entry("guid:b-1", "https://n.example/a"), 3000))
        .unwrap();
    assert_eq!(outcome.new_stories, 0, "the same article: one story");
    assert_eq!(count(&store, "SELECT COUNT(*) FROM outbox"), alerts);
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM stories WHERE link = 'https://n.example/a'"
        ),
        1
    );
    // A link another story holds already stays with it; the feed still writes.
    store
        .conn()
        .execute(
            "INSERT INTO stories (feed_id, identity, link, first_seen, content_hash)
             VALUES (?1, 'guid:b-2', 'http://www.n.example/a', 4000, '')",
            [b],
        )
        .unwrap();
    let outcome = store
        .ingest(&job(a, entry("guid:p-5", "http://www.n.example/a"), 5000))
        .unwrap();
    assert_eq!(outcome.new_stories, 0);
    let links = |store: &Store, guid: &str| -> String {
        store
            .conn()
            .query_row(
                "SELECT link FROM stories WHERE identity = ?1",
                [guid],
                |r| r.get(0),
            )
            .unwrap()
    };
    assert_eq!(links(&store, "guid:p-5"), "https://n.example/a");
    // A link that changes otherwise — a parameter new on every read — stays as first
    // stored, rather than rewriting the row on every fetch; a link stored through a
    // search engine's redirect becomes the article's.
    for (at, link) in [
        (6000, "https://n.example/c?rnd=1"),
        (6100, "https://n.example/c?rnd=2"),
    ] {
        store.ingest(&job(a, entry("guid:p-7", link), at)).unwrap();
    }
    assert_eq!(links(&store, "guid:p-7"), "https://n.example/c?rnd=1");
    for (at, link) in [
        (
            7000,
            "https://www.google.com/url?q=https://n.example/d&sa=t",
        ),
        (7100, "https://n.example/d"),
    ] {
        store.ingest(&job(a, entry("guid:p-8", link), at)).unwrap();
    }
    assert_eq!(links(&store, "guid:p-8"), "https://n.example/d");
}

#[test]
fn a_headline_corrected_as_its_site_moves_is_the_same_story() {
    // Its guid stays, its link changes scheme and its title is corrected: not another
    // article under a reused guid (whose title and address both change).
    let (mut store, a, _) = setup();
    let entry = |link: &str, title: &str| {
        vec![Incoming::matched(
            story("guid:p-5", Some(link), title),
            vec![hit("Peskov")],
        )]
    };
    store
        .ingest(&job(
            a,
            entry("http://n.example/a", "Peskov on teh talks"),
            1000,
        ))
        .unwrap();
    let outcome = store
        .ingest(&job(
            a,
            entry("https://n.example/a", "Peskov on the talks"),
            2000,
        ))
        .unwrap();
    assert_eq!((outcome.new_stories, outcome.updated_stories), (0, 1));
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM stories WHERE identity = 'guid:p-5' \
             AND link = 'https://n.example/a' AND title = 'Peskov on the talks'"
        ),
        1
    );
}
