//! Stories recognised once: updated entries, stories held unchanged, shared guids (in
//! one document, and one article after another), articles sharing a link, repeated
//! entries.

use super::*;

#[test]
fn an_updated_entry_is_rematched_but_never_alerts_twice() {
    let version = Arc::new(Mutex::new(1));
    let v = version.clone();
    let server = TestServer::start(move |_req: &Request| {
        let text = if *v.lock().unwrap() == 1 {
            "Peskov comments on the embassy".to_owned()
        } else {
            // Same guid, new text: now the embassy rule matches too.
            "Peskov comments: the embassy will reopen".to_owned()
        };
        Reply::ok(
            "application/rss+xml",
            format!(
                r#"<rss version="2.0"><channel><title>T</title>
                <item><title>{text}</title><guid>u-1</guid><link>https://u.example/1</link></item>
                <item><title>No guid, no link: Peskov again</title><pubDate>Thu, 26 Nov 2026 09:00:00 GMT</pubDate></item>
                </channel></rss>"#
            ),
        )
    });
    let ws = Workspace::new(&config_for(&[server.url("/feed")]));
    let first = ws.ok(&["once"]);
    assert!(
        first.contains("stories: 2 new, 0 updated; hits: 2; alerts queued: 2"),
        "{first}"
    );
    *version.lock().unwrap() = 2;
    let second = ws.ok(&["once"]);
    // The Peskov rule hit before; only the embassy rule is new.
    assert!(
        second.contains("stories: 0 new, 1 updated; hits: 1; alerts queued: 1"),
        "{second}"
    );
    let third = ws.ok(&["once"]);
    assert!(
        third.contains("stories: 0 new, 0 updated; hits: 0; alerts queued: 0"),
        "{third}"
    );
    let pairs = hit_pairs(&ws);
    assert_eq!(
        pairs.iter().filter(|(r, _)| r == "Peskov").count(),
        2,
        "{pairs:?}"
    );
    assert_eq!(
        pairs
            .iter()
            .filter(|(r, _)| r == "Embassy reopening")
            .count(),
        1,
        "{pairs:?}"
    );
}

#[test]
fn stories_held_unchanged_are_not_matched_again() {
    // A feed whose channel date moves on every build: every body is new, few stories are.
    let builds = Arc::new(Mutex::new(0));
    let b = builds.clone();
    let server = TestServer::start(move |_req: &Request| {
        let mut n = b.lock().unwrap();
        *n += 1;
        let added = if *n >= 3 {
            "<item><title>Peskov: the talks resume</title><guid>s-3</guid></item>"
        } else {
            ""
        };
        let edited = if *n >= 2 {
            "The embassy will reopen, Peskov says"
        } else {
            "The embassy stays shut"
        };
        Reply::ok(
            "application/rss+xml",
            format!(
                r#"<rss version="2.0"><channel><title>T</title><lastBuildDate>build {n}</lastBuildDate>
                {added}
                <item><title>Peskov on the weather</title><guid>s-1</guid></item>
                <item><title>{edited}</title><guid>s-2</guid></item>
                </channel></rss>"#
            ),
        )
    });
    let ws = Workspace::new(&config_for(&[server.url("/feed")]));
    let once = || {
        let out = ws.run_with(&["once"], &[("RUST_LOG", "newshound::ingest=debug")]);
        assert_exit(&out, 0);
        (stdout(&out), stderr(&out))
    };
    let skipped = |log: &str| -> Option<String> {
        log.lines()
            .find(|l| l.contains("stories held unchanged are not matched again"))
            .map(|l| l[l.find("stories=").unwrap()..].to_owned())
    };

    // A first fetch has nothing to ask the store about.
    let (first, log) = once();
    assert!(
        first.contains("stories: 2 new, 0 updated; hits: 1"),
        "{first}"
    );
    assert_eq!(skipped(&log), None, "{log}");

    // The edited story is matched; the one the store holds unchanged is not.
    let (second, log) = once();
    assert!(
        second.contains("stories: 0 new, 1 updated; hits: 2; alerts queued: 1"),
        "{second}"
    );
    assert_eq!(
        skipped(&log).as_deref(),
        Some("stories=2 skipped=1"),
        "{log}"
    );

    let (third, log) = once();
    assert!(
        third.contains("stories: 1 new, 0 updated; hits: 1; alerts queued: 1"),
        "{third}"
    );
    assert_eq!(
        skipped(&log).as_deref(),
        Some("stories=3 skipped=2"),
        "{log}"
    );
    assert_eq!(
        hit_pairs(&ws),
        [
            ("Embassy reopening", "The embassy will reopen, Peskov says"),
            ("Peskov", "Peskov on the weather"),
            ("Peskov", "Peskov: the talks resume"),
            ("Peskov", "The embassy will reopen, Peskov says"),
        ]
        .map(|(r, t)| (r.to_owned(), t.to_owned()))
    );
}

/// Three articles — Peskov in Paris, Peskov in Rome, the embassy reopening — served as
/// one feed's items, written by `item(key, title)`: the first `shown` of them (see
/// [`pass`]), newest first. Returns the server, `shown`, and a workspace reading the feed.
fn three_articles(item: fn(&str, &str) -> String) -> (TestServer, Arc<Mutex<usize>>, Workspace) {
    let articles = [
        ("a", "Peskov visits Paris"),
        ("b", "Peskov visits Rome"),
        ("c", "The embassy will reopen, Peskov says"),
    ];
    let shown = Arc::new(Mutex::new(0));
    let n = shown.clone();
    let server = TestServer::start(move |_req: &Request| {
        let items: String = articles[..*n.lock().unwrap()]
            .iter()
            .rev()
            .map(|(key, title)| item(key, title))
            .collect();
        Reply::ok(
            "application/rss+xml",
            format!(r#"<rss version="2.0"><channel><title>Site</title>{items}</channel></rss>"#),
        )
    });
    let ws = Workspace::new(&config_for(&[server.url("/feed")]));
    (server, shown, ws)
}

/// Serves the first `n` of the three articles, runs `once`, and expects its summary to
/// say `stories`.
#[track_caller]
fn pass(ws: &Workspace, shown: &Mutex<usize>, n: usize, stories: &str) {
    *shown.lock().unwrap() = n;
    let out = ws.ok(&["once"]);
    assert!(out.contains(stories), "{out}");
}

/// Serves one, two, then three of the articles, each pass bringing one new story (the
/// third matching two rules), then the three again, bringing nothing.
#[track_caller]
fn each_new_in_turn(ws: &Workspace, shown: &Mutex<usize>) {
    for (n, hits) in [(1, 1), (2, 1), (3, 2)] {
        pass(
            ws,
            shown,
            n,
            &format!("stories: 1 new, 0 updated; hits: {hits}; alerts queued: 1"),
        );
    }
    pass(ws, shown, 3, "stories: 0 new, 0 updated; hits: 0");
}

/// The hits of the three articles, each a story of its own.
fn three_articles_hit(ws: &Workspace) {
    assert_eq!(
        hit_pairs(ws),
        [
            ("Embassy reopening", "The embassy will reopen, Peskov says"),
            ("Peskov", "Peskov visits Paris"),
            ("Peskov", "Peskov visits Rome"),
            ("Peskov", "The embassy will reopen, Peskov says"),
        ]
        .map(|(r, t)| (r.to_owned(), t.to_owned()))
    );
}

#[test]
fn articles_sharing_one_guid_are_each_a_story() {
    // A publishing system that gives every entry the site's address as its guid.
    let (_server, shown, ws) = three_articles(|key, title| {
        format!(
            "<item><title>{title}</title><guid>https://site.example/</guid><link>https://site.example/{key}</link></item>"
        )
    });
    each_new_in_turn(&ws, &shown);
    assert_eq!(
        ws.json(&["feeds"])[0]["repairs"],
        serde_json::json!(["3 entries share a guid with other entries; recognised by their links"])
    );
    three_articles_hit(&ws);
}

#[test]
fn a_one_entry_feed_with_one_guid_for_every_article_alerts_each() {
    // A "latest" feed: one entry, always the same guid, a new article every time.
    let articles = [
        ("a", "Peskov visits Paris"),
        ("b", "Peskov visits Rome"),
        ("a", "Peskov visits Paris"),
    ];
    let now = Arc::new(Mutex::new(0));
    let n = now.clone();
    let server = TestServer::start(move |_req: &Request| {
        let (path, title) = articles[*n.lock().unwrap()];
        Reply::ok(
            "application/rss+xml",
            format!(
                r#"<rss version="2.0"><channel><title>Latest</title><item><title>{title}</title>
                <guid>latest</guid><link>https://site.example/{path}</link></item></channel></rss>"#
            ),
        )
    });
    let ws = Workspace::new(&config_for(&[server.url("/feed")]));
    let first = ws.ok(&["once"]);
    assert!(
        first.contains("stories: 1 new, 0 updated; hits: 1; alerts queued: 1"),
        "{first}"
    );
    *now.lock().unwrap() = 1;
    let second = ws.ok(&["once"]);
    assert!(
        second.contains("stories: 1 new, 0 updated; hits: 1; alerts queued: 1"),
        "the next article is a story of its own: {second}"
    );
    *now.lock().unwrap() = 2;
    let third = ws.ok(&["once"]);
    assert!(
        third.contains("stories: 0 new, 0 updated; hits: 0; alerts queued: 0"),
        "the first article again is known: {third}"
    );
    assert_eq!(
        hit_pairs(&ws),
        [
            ("Peskov", "Peskov visits Paris"),
            ("Peskov", "Peskov visits Rome")
        ]
        .map(|(r, t)| (r.to_owned(), t.to_owned()))
    );
}

#[test]
fn articles_linked_to_the_front_page_are_each_a_story() {
    // Every entry links to the site's front page; each has a guid of its own.
    let (_server, shown, ws) = three_articles(|key, title| {
        format!(
            "<item><title>{title}</title><guid>{key}</guid><link>https://site.example/</link></item>"
        )
    });
    pass(
        &ws,
        &shown,
        2,
        "stories: 2 new, 0 updated; hits: 2; alerts queued: 2",
    );
    pass(
        &ws,
        &shown,
        3,
        "stories: 1 new, 0 updated; hits: 2; alerts queued: 1",
    );
    pass(&ws, &shown, 3, "stories: 0 new, 0 updated; hits: 0");
    three_articles_hit(&ws);
}

#[test]
fn articles_linked_to_one_page_without_guids_of_their_own_are_each_a_story() {
    // Every entry links to the same page, with no guid or with the page's address as
    // every entry's guid: while a document lists one article, it is known by that link
    // (or guid); once it lists several, by their titles and dates — and the one stored
    // before is still the same story.
    let no_guids: fn(&str, &str) -> String = |_key, title| {
        format!("<item><title>{title}</title><link>https://site.example/news</link></item>")
    };
    let one_guid: fn(&str, &str) -> String = |_key, title| {
        format!(
            "<item><title>{title}</title><guid>https://site.example/</guid>\
             <link>https://site.example/</link></item>"
        )
    };
    for (item, repairs) in [
        (no_guids, serde_json::json!([SHARED_LINK_REPAIR])),
        (
            one_guid,
            serde_json::json!([
                "3 entries share a guid with other entries; recognised by their links",
                SHARED_LINK_REPAIR
            ]),
        ),
    ] {
        let (_server, shown, ws) = three_articles(item);
        each_new_in_turn(&ws, &shown);
        assert_eq!(ws.json(&["feeds"])[0]["repairs"], repairs);
        // Alone again, the first article is known as it was at first.
        pass(&ws, &shown, 1, "stories: 0 new, 0 updated; hits: 0");
        three_articles_hit(&ws);
    }
}

#[test]
fn untitled_notes_on_one_days_page_are_each_a_story() {
    // A weblog of short notes without titles, each linked to its day's page with a
    // fragment (which the canonical link drops), with a guid or without: each note is a
    // story, told from the others by its text — not an update of the first, which would
    // never alert a rule that matched it.
    let guids: fn(&str, &str) -> String = |key, text| {
        format!(
            "<item><description>{text}</description>\
             <guid>https://notes.example/2026/11/26.html#{key}</guid>\
             <link>https://notes.example/2026/11/26.html#{key}</link></item>"
        )
    };
    let no_guids: fn(&str, &str) -> String = |key, text| {
        format!(
            "<item><description>{text}</description>\
             <link>https://notes.example/2026/11/26.html#{key}</link></item>"
        )
    };
    for (item, repairs) in [
        (guids, serde_json::json!([])),
        (no_guids, serde_json::json!([SHARED_LINK_REPAIR])),
    ] {
        let (_server, shown, ws) = three_articles(item);
        each_new_in_turn(&ws, &shown);
        assert_eq!(ws.json(&["feeds"])[0]["repairs"], repairs);
        three_articles_hit(&ws);
    }
}

#[test]
fn two_sections_linking_every_article_to_the_front_page_keep_their_articles_apart() {
    // Two feeds of one site, no guids, every entry linked to the front page; an article
    // in both sections is one story.
    let section = |titles: &[&str]| {
        let items: String = titles
            .iter()
            .map(|t| format!("<item><title>{t}</title><link>https://site.example/</link></item>"))
            .collect();
        format!(r#"<rss version="2.0"><channel><title>Section</title>{items}</channel></rss>"#)
            .into_bytes()
    };
    let server = TestServer::files(vec![
        (
            "/world",
            "application/rss+xml",
            section(&["Peskov visits Paris", "Peskov visits Rome"]),
        ),
        (
            "/europe",
            "application/rss+xml",
            section(&["Peskov visits Berlin", "Peskov visits Paris"]),
        ),
    ]);
    let ws = Workspace::new(&config_for(&[server.url("/world"), server.url("/europe")]));
    let out = ws.ok(&["once"]);
    assert!(out.contains("3 new"), "{out}");
    assert_eq!(
        hit_pairs(&ws),
        [
            ("Peskov", "Peskov visits Berlin"),
            ("Peskov", "Peskov visits Paris"),
            ("Peskov", "Peskov visits Rome"),
        ]
        .map(|(r, t)| (r.to_owned(), t.to_owned()))
    );
}

const SHARED_LINK_REPAIR: &str = "3 entries without a guid of their own share a link with \
    other articles; recognised by their titles and dates";

#[test]
fn an_entry_repeated_with_other_words_is_matched_on_every_copy() {
    // Which copy of a repeated entry is right is unknown; a rule that matches any of
    // them must hit the story.
    let rss = "<rss version=\"2.0\"><channel><title>Repeats</title>\
        <item><guid>r-1</guid><title>Weather in Moscow</title></item>\
        <item><guid>r-1</guid><title>Weather in Moscow; Peskov declines comment</title></item>\
        </channel></rss>";
    let server = TestServer::start(move |_: &Request| Reply::ok("application/rss+xml", rss));
    let ws = Workspace::new(&config_for(&[server.url("/feed")]));
    ws.ok(&["once"]);
    assert_eq!(
        hit_pairs(&ws)
            .into_iter()
            .map(|(rule, _)| rule)
            .collect::<Vec<_>>(),
        ["Peskov"]
    );
}

#[test]
fn articles_two_feeds_link_to_one_front_page_are_each_a_story() {
    // Two programmes of one broadcaster link every entry to its front page, each entry
    // with a guid of its own; the first lists one entry, the second two.
    let item = |guid: &str, title: &str| {
        format!(
            "<item><title>{title}</title><guid>{guid}</guid><link>https://radio.example/</link></item>"
        )
    };
    let feed = |title: &str, items: &[String]| {
        format!(
            "<rss version=\"2.0\"><channel><title>{title}</title>{}</channel></rss>",
            items.concat()
        )
        .into_bytes()
    };
    let server = TestServer::files(vec![
        (
            "/weather.rss",
            "application/rss+xml",
            feed("Weather", &[item("w-1", "Rain on Monday")]),
        ),
        (
            "/news.rss",
            "application/rss+xml",
            feed(
                "News",
                &[
                    item("n-1", "Peskov speaks to the press"),
                    item("n-2", "The embassy will reopen"),
                ],
            ),
        ),
    ]);
    let ws = Workspace::new(&config_for(&[server.url("/weather.rss")]));
    ws.ok(&["once"]);
    ws.write(
        "newshound.toml",
        &config_for(&[server.url("/weather.rss"), server.url("/news.rss")]),
    );
    let out = ws.ok(&["once"]);
    assert!(
        out.contains("stories: 2 new, 0 updated; hits: 2; alerts queued: 2"),
        "{out}"
    );
    assert_eq!(
        hit_pairs(&ws),
        [
            ("Embassy reopening", "The embassy will reopen"),
            ("Peskov", "Peskov speaks to the press"),
        ]
        .map(|(r, t)| (r.to_owned(), t.to_owned()))
    );
}

#[test]
fn a_feed_that_renames_its_entries_on_every_fetch_alerts_each_article_once() {
    // A generator that stamps every guid and link with the request: each fetch lists the
    // same articles under new identities.
    let requests = Arc::new(Mutex::new(0));
    let n = requests.clone();
    let server = TestServer::start(move |_req: &Request| {
        let mut n = n.lock().unwrap();
        *n += 1;
        let item = |slug: &str, title: &str, date: &str| {
            format!(
                "<item><title>{title}</title><guid>https://r.example/{slug}?req={n}</guid>\
                 <link>https://r.example/{slug}?req={n}</link><pubDate>{date}</pubDate></item>"
            )
        };
        let mut items = item("a", "Peskov in Paris", "Thu, 26 Nov 2026 09:00:00 GMT")
            + &item(
                "b",
                "The embassy will reopen",
                "Thu, 26 Nov 2026 08:00:00 GMT",
            );
        if *n >= 3 {
            items = item("c", "Peskov in Rome", "Thu, 26 Nov 2026 10:00:00 GMT") + &items;
        }
        Reply::ok(
            "application/rss+xml",
            format!(r#"<rss version="2.0"><channel><title>Stamped</title>{items}</channel></rss>"#),
        )
    });
    let ws = Workspace::new(&config_for(&[server.url("/feed")]));
    let first = ws.ok(&["once"]);
    assert!(
        first.contains("stories: 2 new, 0 updated; hits: 2; alerts queued: 2"),
        "{first}"
    );
    let out = ws.run(&["once"]);
    assert_exit(&out, 0);
    let second = stdout(&out);
    assert!(
        second.contains("stories: 0 new, 0 updated; hits: 0; alerts queued: 0"),
        "{second}"
    );
    assert!(!second.contains("possible gap"), "{second}");
    assert!(
        stderr(&out).contains(
            "2 stories known again by title and date: the feed gave them new guids and addresses"
        ),
        "{}",
        stderr(&out)
    );
    let third = ws.ok(&["once"]);
    assert!(
        third.contains("stories: 1 new, 0 updated; hits: 1; alerts queued: 1"),
        "{third}"
    );
    assert_eq!(
        hit_pairs(&ws),
        [
            ("Embassy reopening", "The embassy will reopen"),
            ("Peskov", "Peskov in Paris"),
            ("Peskov", "Peskov in Rome"),
        ]
        .map(|(r, t)| (r.to_owned(), t.to_owned()))
    );
}
