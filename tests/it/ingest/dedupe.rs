//! Stories recognised once: updated entries, stories held unchanged, shared guids (in
//! one document, and one article after another), articles sharing a link, repeated
//! entries, and old stories that are stored but not alerted.

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
    pass(
        &ws,
        &shown,
        1,
        "stories: 1 new, 0 updated; hits: 1; alerts queued: 1",
    );
    pass(
        &ws,
        &shown,
        2,
        "stories: 1 new, 0 updated; hits: 1; alerts queued: 1",
    );
    pass(
        &ws,
        &shown,
        3,
        "stories: 1 new, 0 updated; hits: 2; alerts queued: 1",
    );
    pass(&ws, &shown, 3, "stories: 0 new, 0 updated; hits: 0");
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
        pass(
            &ws,
            &shown,
            1,
            "stories: 1 new, 0 updated; hits: 1; alerts queued: 1",
        );
        pass(
            &ws,
            &shown,
            2,
            "stories: 1 new, 0 updated; hits: 1; alerts queued: 1",
        );
        pass(
            &ws,
            &shown,
            3,
            "stories: 1 new, 0 updated; hits: 2; alerts queued: 1",
        );
        pass(&ws, &shown, 3, "stories: 0 new, 0 updated; hits: 0");
        assert_eq!(ws.json(&["feeds"])[0]["repairs"], repairs);
        // Alone again, the first article is known as it was at first.
        pass(&ws, &shown, 1, "stories: 0 new, 0 updated; hits: 0");
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
fn an_article_read_through_feedburner_and_from_its_site_is_one_story() {
    // FeedBurner's copy links through its redirect and names the article's address in
    // <feedburner:origLink>; by that address it is the site's own story, alerted once.
    let site = "<rss version=\"2.0\"><channel><title>Site</title>\
        <item><title>Peskov on the talks</title><guid>s-1</guid>\
        <link>https://news.example/peskov-talks</link></item></channel></rss>";
    let burned = "<rss version=\"2.0\" xmlns:feedburner=\"http://rssnamespace.org/feedburner/ext/1.0\">\
        <channel><title>Site via FeedBurner</title>\
        <item><title>Peskov on the talks</title><guid isPermaLink=\"false\">fb-123</guid>\
        <link>http://feedproxy.google.com/~r/site/~3/xyz/peskov-talks</link>\
        <feedburner:origLink>https://news.example/peskov-talks?utm_source=feedburner</feedburner:origLink>\
        </item></channel></rss>";
    one_story_linked_to(
        vec![
            ("/site.rss", "application/rss+xml", site.into()),
            ("/burned.rss", "application/rss+xml", burned.into()),
        ],
        "https://news.example/peskov-talks",
    );
}

/// Serves `feeds`, runs `once`, and checks that they held one story, alerted once,
/// linked to `link`.
fn one_story_linked_to(feeds: Vec<(&'static str, &'static str, Vec<u8>)>, link: &str) {
    let paths: Vec<&str> = feeds.iter().map(|(path, _, _)| *path).collect();
    let server = TestServer::files(feeds);
    let urls: Vec<String> = paths.iter().map(|p| server.url(p)).collect();
    let ws = Workspace::new(&config_for(&urls));
    let out = ws.ok(&["once"]);
    assert!(out.contains("hits: 1; alerts queued: 1"), "{out}");
    let hits = ws.json(&["hits", "--since", "100000d"]);
    assert_eq!(hits[0]["link"], link);
}

#[test]
fn an_article_found_by_a_google_alert_and_in_its_sites_feed_is_one_story() {
    // A Google Alerts feed links each article through Google's redirect; the article
    // behind it is the site's own story, alerted once, and linked to directly.
    let site = "<rss version=\"2.0\"><channel><title>Site</title>\
        <item><title>Peskov on the talks</title><guid>s-1</guid>\
        <link>https://news.example/peskov-talks</link></item></channel></rss>";
    let alert = "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>Google Alert - Peskov</title>\
        <id>tag:google.com,2005:reader/user/1/state/com.google/alerts/2</id>\
        <updated>2026-11-28T10:00:00Z</updated>\
        <entry><id>tag:google.com,2013:googlealerts/feed:123</id>\
        <title type=\"html\">&lt;b&gt;Peskov&lt;/b&gt; on the talks</title>\
        <link href=\"https://www.google.com/url?rct=j&amp;sa=t&amp;url=https://news.example/peskov-talks&amp;ct=ga&amp;cd=CAIy&amp;usg=AFQj\"/>\
        <updated>2026-11-28T10:00:00Z</updated></entry></feed>";
    one_story_linked_to(
        vec![
            ("/alert.atom", "application/atom+xml", alert.into()),
            ("/site.rss", "application/rss+xml", site.into()),
        ],
        "https://news.example/peskov-talks",
    );
}

#[test]
fn an_article_in_two_section_feeds_of_its_site_is_one_story() {
    // The site marks each link with the feed it came from (AT Internet's `xtor`).
    let section = |title: &str, xtor: &str| {
        format!(
            "<rss version=\"2.0\"><channel><title>{title}</title>\
             <item><title>Peskov on the talks</title>\
             <link>https://news.example/peskov-talks.html?xtor={xtor}</link></item>\
             </channel></rss>"
        )
        .into_bytes()
    };
    one_story_linked_to(
        vec![
            (
                "/une.rss",
                "application/rss+xml",
                section("Front page", "RSS-3208"),
            ),
            (
                "/europe.rss",
                "application/rss+xml",
                section("Europe", "RSS-3214"),
            ),
        ],
        "https://news.example/peskov-talks.html",
    );
}

#[test]
fn a_site_that_moves_to_https_and_its_bare_domain_does_not_alert_its_stories_again() {
    // A feed without guids, known by its links: the site moves, and every link changes.
    let moved = Arc::new(Mutex::new(false));
    let m = moved.clone();
    let server = TestServer::start(move |_req: &Request| {
        let site = if *m.lock().unwrap() {
            "https://news.example"
        } else {
            "http://www.news.example"
        };
        let items: String = ["Peskov on the talks", "The embassy will reopen", "Weather"]
            .iter()
            .enumerate()
            .map(|(i, title)| format!("<item><title>{title}</title><link>{site}/{i}</link></item>"))
            .collect();
        Reply::ok(
            "application/rss+xml",
            format!(r#"<rss version="2.0"><channel><title>Site</title>{items}</channel></rss>"#),
        )
    });
    let ws = Workspace::new(&config_for(&[server.url("/feed")]));
    let first = ws.ok(&["once"]);
    assert!(
        first.contains("stories: 3 new, 0 updated; hits: 2; alerts queued: 2"),
        "{first}"
    );

    *moved.lock().unwrap() = true;
    let second = ws.ok(&["once"]);
    assert!(
        second.contains("stories: 0 new, 0 updated; hits: 0; alerts queued: 0"),
        "{second}"
    );
    assert!(!second.contains("possible gap"), "{second}");
    let hits = ws.json(&["hits", "--since", "100000d"]);
    let mut links: Vec<&str> = hits
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["link"].as_str().unwrap())
        .collect();
    links.sort_unstable();
    assert_eq!(
        links,
        ["https://news.example/0", "https://news.example/1"],
        "the stories link to the new addresses"
    );
}

#[test]
fn a_site_that_moves_to_https_keeping_its_guids_is_one_story_in_its_two_feeds() {
    // The site's feed and a section's list the same article under the same link (and
    // guids of their own); the site moves to HTTPS and its feeds' links change.
    let moved = Arc::new(Mutex::new(false));
    let m = moved.clone();
    let server = TestServer::start(move |req: &Request| {
        let scheme = if *m.lock().unwrap() { "https" } else { "http" };
        let guid = if req.path.starts_with("/site") {
            "?p=5"
        } else {
            "europe-5"
        };
        Reply::ok(
            "application/rss+xml",
            format!(
                r#"<rss version="2.0"><channel><title>{}</title><item><title>Peskov on the talks</title>
                <guid isPermaLink="false">{guid}</guid><link>{scheme}://news.example/talks</link>
                </item></channel></rss>"#,
                req.path
            ),
        )
    });
    let (site, section) = (server.url("/site"), server.url("/europe"));
    let ws = Workspace::new(&config_for(&[site.clone(), section.clone()]));
    let first = ws.ok(&["once", "--feed", &site]);
    assert!(
        first.contains("stories: 1 new, 0 updated; hits: 1"),
        "{first}"
    );
    let out = ws.ok(&["once"]);
    assert!(out.contains("stories: 0 new"), "{out}");

    // The section's feed is read first after the move: its article is the site's story
    // under the old link; then the site's feed gives its story the new link.
    *moved.lock().unwrap() = true;
    let out = ws.ok(&["once", "--feed", &section]);
    assert!(out.contains("stories: 0 new"), "{out}");
    let out = ws.ok(&["once"]);
    assert!(
        out.contains("stories: 0 new, 0 updated; hits: 0; alerts queued: 0"),
        "{out}"
    );
    let hits = ws.json(&["hits", "--since", "100000d"]);
    assert_eq!(hits.as_array().unwrap().len(), 1, "{hits}");
    assert_eq!(hits[0]["link"], "https://news.example/talks");
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
fn old_stories_are_stored_and_matched_but_not_alerted() {
    let server = TestServer::files(vec![(
        "/old.rss",
        "application/rss+xml",
        br#"<rss version="2.0"><channel><title>Archive</title>
            <item><title>Peskov in 2001</title><guid>old-1</guid><pubDate>Mon, 01 Jan 2001 00:00:00 GMT</pubDate></item>
            <item><title>Peskov today</title><guid>new-1</guid></item>
            </channel></rss>"#
            .to_vec(),
    )]);
    let config = format!("[[feed]]\nurl = \"{}\"\n{RULES}", server.url("/old.rss"));
    let ws = Workspace::new(&config);
    let out = ws.ok(&["once"]);
    assert!(out.contains("hits: 2; alerts queued: 1"), "{out}");
    let hits = ws.json(&["hits", "--since", "100000d"]);
    let old = hits
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["title"] == "Peskov in 2001")
        .unwrap();
    assert_eq!(old["deliveries"], serde_json::json!([]));
    let text = ws.ok(&["hits", "--since", "100000d"]);
    assert!(
        text.contains("not alerted (older than [alerts] max_age)"),
        "{text}"
    );
}

#[test]
fn an_archive_dated_in_forms_feed_rs_does_not_read_is_not_alerted() {
    // Dates feed-rs did not read left the entries undated, taken as published when first
    // seen: adding such a feed alerted its whole archive. (Forms from real feeds: SQL's
    // with slashes, Portuguese, spelled out with a time of day in English.)
    let recent = (chrono::Utc::now() - chrono::Duration::hours(2))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    let item = |id: &str, date: &str| {
        format!(
            "<item><title>Peskov, {id}</title><guid>{id}</guid><pubDate>{date}</pubDate></item>"
        )
    };
    let feed = format!(
        "<rss version=\"2.0\"><channel><title>Dated</title>{}{}{}{}</channel></rss>",
        item("a", "2020/1/10 14:33:00"),
        item("b", "Seg, 24 Set 2018 19:42:40 -0300"),
        item("c", "Friday, January 29, 2021 04:42 PM"),
        item("d", &recent),
    );
    let server = TestServer::files(vec![("/dated.rss", "application/rss+xml", feed.into())]);
    let config = format!(
        "[alerts]\nmax_age = \"3d\"\n\n[[feed]]\nurl = \"{}\"\n{RULES}",
        server.url("/dated.rss")
    );
    let ws = Workspace::new(&config);
    let out = ws.ok(&["once"]);
    assert!(out.contains("hits: 4; alerts queued: 1"), "{out}");
    let hits = ws.json(&["hits", "--since", "100000d"]);
    let mut published: Vec<(&str, &str)> = hits
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["title"].as_str().unwrap(),
                h["published"].as_str().unwrap(),
            )
        })
        .collect();
    published.sort();
    assert_eq!(
        published[..3],
        [
            ("Peskov, a", "2020-01-10T14:33:00Z"),
            ("Peskov, b", "2018-09-24T22:42:40Z"),
            ("Peskov, c", "2021-01-29T16:42:00Z"),
        ]
    );
}

#[test]
fn a_page_published_long_ago_and_updated_today_is_alerted() {
    // A live page: first published ten days ago, rewritten as news comes in. Its age is
    // the latest date the feed gives it, so what it says today is alerted; an archive
    // entry that was only published long ago is not, nor is an archive whose entries
    // all carry the date the document was built.
    let days_ago = |d: i64| (chrono::Utc::now() - chrono::Duration::days(d)).to_rfc3339();
    let entry = |id: &str, title: &str, text: &str, published: &str, updated: &str| {
        format!(
            "<entry><id>urn:{id}</id><title>{title}</title><link href=\"https://example.org/{id}\"/>\
             <published>{published}</published><updated>{updated}</updated>\
             <content type=\"text\">{text}</content></entry>"
        )
    };
    let live_text = Arc::new(Mutex::new(("Talks begin in Geneva.", days_ago(10))));
    let live = live_text.clone();
    let (archive_published, long_ago) = (days_ago(10), days_ago(12));
    let server = TestServer::start(move |req: &Request| {
        let body = if req.path == "/built" {
            // Every entry "updated" when the document was built.
            let now = days_ago(0);
            entry("b1", "Peskov in March", "Archive.", &long_ago, &now)
                + &entry(
                    "b2",
                    "Peskov in April",
                    "Archive.",
                    &archive_published,
                    &now,
                )
        } else {
            let (text, updated) = live.lock().unwrap().clone();
            entry(
                "live",
                "Live: the Geneva talks",
                text,
                &archive_published,
                &updated,
            ) + &entry("old", "Peskov in May", "Archive.", &long_ago, &long_ago)
        };
        Reply::ok(
            "application/atom+xml",
            format!(
                "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>Live</title><id>urn:f</id><updated>{}</updated>{body}</feed>",
                days_ago(0)
            ),
        )
    });
    let config = format!(
        "[alerts]\nmax_age = \"3d\"\n\n[[feed]]\nurl = \"{}\"\n\n[[feed]]\nurl = \"{}\"\n{RULES}",
        server.url("/live"),
        server.url("/built")
    );
    let ws = Workspace::new(&config);
    let out = ws.ok(&["once"]);
    assert!(out.contains("hits: 3; alerts queued: 0"), "{out}");
    *live_text.lock().unwrap() = (
        "Talks begin in Geneva. Peskov says Moscow will attend.",
        days_ago(0),
    );
    let out = ws.ok(&["once"]);
    assert!(out.contains("hits: 1; alerts queued: 1"), "{out}");
    let hits = ws.json(&["hits", "--since", "100000d"]);
    let alerted: Vec<&str> = hits
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["deliveries"] != serde_json::json!([]))
        .map(|h| h["title"].as_str().unwrap())
        .collect();
    assert_eq!(alerted, ["Live: the Geneva talks"]);
}
