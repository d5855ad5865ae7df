//! Dedupe as database facts: one story per identity within a feed and per canonical
//! link across feeds, and the articles that share a guid or a link yet are stories of
//! their own.

use super::*;

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
fn a_feed_that_starts_giving_guids_as_it_corrects_a_title_updates_the_story() {
    // Known by its link while the feed gave no guids; then listed with a guid and a
    // corrected title under the same link: the stored story, updated, not a new one.
    let (mut store, a, _) = setup();
    let link = "https://a.example/1";
    let entry = |identity: &str, title: &str| {
        vec![Incoming::matched(
            story(identity, Some(link), title),
            vec![hit("R1")],
        )]
    };
    let first = store
        .ingest(&job(a, entry(&format!("link:{link}"), "Peskov on A"), 1000))
        .unwrap();
    assert_eq!((first.new_stories, first.alerts_queued), (1, 2));
    let edit = store
        .ingest(&job(a, entry("guid:g-1", "Peskov on A, corrected"), 2000))
        .unwrap();
    assert_eq!(
        (
            edit.new_stories,
            edit.updated_stories,
            edit.new_hits,
            edit.alerts_queued
        ),
        (0, 1, 0, 0),
        "{edit:?}"
    );
    assert_eq!(count(&store, "SELECT COUNT(*) FROM stories"), 1);
    let title: String = store
        .conn()
        .query_row("SELECT title FROM stories", [], |r| r.get(0))
        .unwrap();
    assert_eq!(title, "Peskov on A, corrected");
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
    let sql = "SELECT id FROM stories WHERE link = 'x' AND shared_link = 0";
    let plan = &query_plan(&store, sql, [])[0];
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
    let sql = "SELECT id FROM stories WHERE link = 'x' AND shared_link = 1";
    let plan = &query_plan(&store, sql, [])[0];
    assert!(plan.contains("stories_sharing_a_link"), "{plan}");
}

#[test]
fn articles_with_guids_under_a_link_their_document_shares_are_not_another_feeds_story() {
    // Feed a stores one article under the site's front page; feed b's document lists two
    // articles of its own there, each with a guid. No feed has shared the link before:
    // only b's document says the link names several articles.
    let (mut store, a, b) = setup();
    let front = Some("https://site.example/");
    let single = story("guid:a-1", front, "Peskov on A");
    store
        .ingest(&job(
            a,
            vec![Incoming::matched(single, vec![hit("R1")])],
            1000,
        ))
        .unwrap();
    let entry = |guid: &str, title: &str| {
        let mut s = story(guid, front, title);
        s.link_names_others = true;
        Incoming::matched(s, vec![hit("R1")])
    };
    let out = store
        .ingest(&job(
            b,
            vec![
                entry("guid:b-1", "Peskov on B"),
                entry("guid:b-2", "Peskov on C"),
            ],
            2000,
        ))
        .unwrap();
    assert_eq!(
        (out.new_stories, out.alerts_queued),
        (2, 4),
        "each its own story, alerted: {out:?}"
    );
    assert_eq!(count(&store, "SELECT COUNT(*) FROM stories"), 3);
}

#[test]
fn an_update_to_a_link_another_story_holds_keeps_the_feed_writing() {
    let (mut store, a, b) = setup();
    let incoming = |id: &str, link: &str| {
        vec![Incoming::matched(
            story(id, Some(link), "Peskov on the talks"),
            vec![hit("Peskov")],
        )]
    };
    store
        .ingest(&job(a, incoming("g1", "https://n.example/a?xtor=A"), 1000))
        .unwrap();
    store
        .ingest(&job(b, incoming("g2", "https://n.example/a"), 1100))
        .unwrap();
    // A's entry now links where B's story is: the write goes through, nothing alerts
    // again.
    let outcome = store
        .ingest(&job(a, incoming("g1", "https://n.example/a"), 1200))
        .unwrap();
    assert_eq!(outcome.new_stories, 0, "{outcome:?}");
    assert_eq!(count(&store, "SELECT COUNT(*) FROM outbox"), 4);
}

#[test]
fn an_article_under_a_shared_link_is_found_again_after_retention() {
    // Two feeds link every entry to the front page; B's article is A's story, stored
    // apart from the link's first story (which a rule matched, so retention keeps it).
    // Retention empties B's article (no hits); B lists it again: the same story, by
    // its title, not a new one.
    let (mut store, a, b) = setup();
    let front = Some("https://radio.example/");
    let entry = |guid: &str, title: &str| {
        let hits = if title == "Weather" {
            vec![hit("R")]
        } else {
            vec![]
        };
        Incoming::matched(
            Story {
                link_names_others: true,
                ..story(guid, front, title)
            },
            hits,
        )
    };
    store
        .ingest(&job(
            a,
            vec![entry("guid:a-1", "Weather"), entry("guid:a-2", "Traffic")],
            0,
        ))
        .unwrap();
    let listed = || vec![entry("guid:b-2", "Traffic"), entry("guid:b-9", "Sports")];
    store.ingest(&job(b, listed(), 100)).unwrap();
    let stories = count(&store, "SELECT COUNT(*) FROM stories");
    store
        .prune(91 * DAY, std::time::Duration::from_secs(90 * DAY as u64))
        .unwrap();
    let outcome = store.ingest(&job(b, listed(), 91 * DAY)).unwrap();
    assert_eq!(outcome.new_stories, 0, "{outcome:?}");
    assert_eq!(count(&store, "SELECT COUNT(*) FROM stories"), stories);
}

#[test]
fn a_story_retention_emptied_is_old_news_to_a_feed_that_lists_it_later() {
    // Feed a's story matched nothing and was emptied by retention; feed b, added later,
    // lists the same page with another headline and no guid (known by title and date):
    // old news, not a new story.
    let (mut store, a, b) = setup();
    let link = Some("https://n.example/a");
    store
        .ingest(&job(
            a,
            vec![Incoming::matched(
                story("guid:a-1", link, "Peskov on A"),
                vec![],
            )],
            0,
        ))
        .unwrap();
    store
        .prune(91 * DAY, std::time::Duration::from_secs(90 * DAY as u64))
        .unwrap();
    let outcome = store
        .ingest(&job(
            b,
            vec![Incoming::matched(
                story("hash:b-1", link, "Peskov on A, corrected"),
                vec![hit("R1")],
            )],
            91 * DAY,
        ))
        .unwrap();
    assert_eq!(
        (outcome.new_stories, outcome.alerts_queued),
        (0, 0),
        "{outcome:?}"
    );
    assert_eq!(count(&store, "SELECT COUNT(*) FROM stories"), 1);
}

#[test]
fn entries_given_new_guids_and_links_on_every_fetch_are_known_by_title_and_date() {
    // A cache-buster in every guid and link, new on every fetch: without this, every
    // story would be new — and alerted — on every fetch.
    let (mut store, a, _) = setup();
    let fetch = |stamp: u32, entries: &[(&str, Option<i64>)]| -> Vec<Incoming> {
        entries
            .iter()
            .enumerate()
            .map(|(i, &(title, at))| {
                let address = format!("https://r.example/{title}/{i}?t={stamp}");
                let mut s = story(&format!("guid:{address}"), Some(&address), title);
                s.published =
                    at.and_then(|n| chrono::DateTime::from_timestamp(1_700_000_000 + n, 0));
                Incoming::matched(s, vec![hit("R")])
            })
            .collect()
    };
    let listed = [
        ("One", Some(1)),
        ("Two", Some(2)),
        ("Same", Some(5)),
        ("Same", Some(5)),
        ("Undated", None),
        ("", Some(7)), // no title and no text: no name to go by
    ];
    let first = store.ingest(&job(a, fetch(1, &listed), 100)).unwrap();
    assert_eq!(first.new_stories, 6);

    let again = store.ingest(&job(a, fetch(2, &listed), 200)).unwrap();
    // One and Two are known again; the two stories called Same at the same time cannot
    // tell which is which, and an undated or nameless entry has nothing to go by: those
    // are new.
    assert_eq!(
        (again.new_stories, again.updated_stories, again.known_again),
        (4, 0, 2)
    );
    let titled = |title: &str| {
        store
            .conn()
            .query_row(
                "SELECT COUNT(*) FROM stories WHERE title = ?1",
                [title],
                |r| r.get::<_, i64>(0),
            )
            .unwrap()
    };
    assert_eq!(
        ["One", "Two", "Same", "Undated", ""].map(titled),
        [1, 1, 4, 2, 2],
        "which were known again"
    );
    assert!(again.possible_gap.is_none(), "{again:?}");
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM stories WHERE identity LIKE '%?t=2' AND title IN ('One', 'Two')"
        ),
        2,
        "the stories take the identities the feed gives them now"
    );
    let alerted = count(&store, "SELECT COUNT(*) FROM outbox");

    // A new article among them is new; the others are still known.
    let third = store
        .ingest(&job(
            a,
            fetch(3, &[("Three", Some(3)), ("One", Some(1)), ("Two", Some(2))]),
            300,
        ))
        .unwrap();
    assert_eq!((third.new_stories, third.alerts_queued), (1, 2));
    assert_eq!(count(&store, "SELECT COUNT(*) FROM outbox"), alerted + 2);

    // Beside an entry known by its identity too (an older copy of the document, say).
    let mut mixed = fetch(3, &[("Three", Some(3))]);
    mixed.extend(fetch(4, &[("One", Some(1))]));
    let fourth = store.ingest(&job(a, mixed, 400)).unwrap();
    assert_eq!((fourth.new_stories, fourth.known_again), (0, 1));
}
