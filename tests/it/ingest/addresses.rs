//! One article reached through several addresses is one story: a tracking proxy's
//! redirect (FeedBurner), a search engine's (Google Alerts), a section feed's mark in the
//! link, and a site that moves to HTTPS or its bare domain.

use super::*;

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
    assert_eq!(
        hit_links(&ws),
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
fn a_feed_added_later_that_writes_the_sites_addresses_another_way_finds_its_stories() {
    // The site's own feed writes `http://www.…`; an aggregator added later links the
    // same article as `https://…/` (its first read): one story, alerted once.
    let site = "<rss version=\"2.0\"><channel><title>Site</title>\
        <item><title>Peskov on the talks</title><guid isPermaLink=\"false\">s-1</guid>\
        <link>http://www.news.example/talks</link></item></channel></rss>";
    let aggregator = "<rss version=\"2.0\"><channel><title>Aggregator</title>\
        <item><title>Peskov on the talks</title><link>https://news.example/talks/</link></item>\
        <item><title>Peskov in Minsk</title><link>https://news.example/minsk</link></item>\
        </channel></rss>";
    let server = TestServer::files(vec![
        ("/site.rss", "application/rss+xml", site.into()),
        ("/agg.rss", "application/rss+xml", aggregator.into()),
    ]);
    let (site, aggregator) = (server.url("/site.rss"), server.url("/agg.rss"));
    let ws = Workspace::new(&config_for(&[site.clone(), aggregator.clone()]));
    let first = ws.ok(&["once", "--feed", &site]);
    assert!(
        first.contains("stories: 1 new, 0 updated; hits: 1; alerts queued: 1"),
        "{first}"
    );
    let out = ws.ok(&["once", "--feed", &aggregator]);
    assert!(
        out.contains("stories: 1 new, 0 updated; hits: 1; alerts queued: 1"),
        "only the article the site's feed did not list is new: {out}"
    );
    assert_eq!(
        hit_links(&ws),
        [
            "http://www.news.example/talks",
            "https://news.example/minsk"
        ]
    );
}

/// The links of every stored hit, sorted.
fn hit_links(ws: &Workspace) -> Vec<String> {
    let hits = ws.json(&["hits", "--since", "100000d"]);
    let mut links: Vec<String> = hits
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["link"].as_str().unwrap().to_owned())
        .collect();
    links.sort_unstable();
    links
}
