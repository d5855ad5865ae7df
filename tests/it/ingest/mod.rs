//! `newshound once` end to end: real feeds from a local HTTP server, every format, and
//! failures that stay per feed; by concern in the modules below (revalidation, dedupe,
//! an article's several addresses, a story's age, moved feeds, reading, commands).

use std::sync::{Arc, Mutex};

use crate::support::{
    RefusingPort, Reply, Request, TestServer, Workspace, assert_exit, feed_row, fixture, stderr,
    stdout,
};

const RULES: &str = r#"
[channel.console]
kind = "log"

[[rule]]
name = "Peskov"
query = 'Peskov OR Песков'

[[rule]]
name = "Ukraine talks"
query = 'Ukrain* NEAR/12 (talks OR negotiat* OR "peace deal" OR ceasefire)'

[[rule]]
name = "Embassy reopening"
query = 'embass* NEAR/8 (reopen* OR "resume normal operations" OR "resume operations")'
"#;

/// A config for these feed URLs; `max_age` is wide so fixture dates always alert.
fn config_for(urls: &[String]) -> String {
    let mut config =
        String::from("[alerts]\nmax_age = \"100000d\"\n\n[fetch]\ntimeout = \"10s\"\n\n");
    for url in urls {
        config.push_str(&format!("[[feed]]\nurl = \"{url}\"\n\n"));
    }
    config + RULES
}

fn feed_server() -> TestServer {
    TestServer::files(vec![
        ("/world.rss", "application/rss+xml", fixture("world.rss")),
        ("/europe.rdf", "application/rdf+xml", fixture("europe.rdf")),
        ("/wire.atom", "application/atom+xml", fixture("wire.atom")),
        (
            "/digest.json",
            "application/feed+json",
            fixture("digest.json"),
        ),
        // The charset is only in the header; the declaration names none.
        (
            "/cp1251.rss",
            "application/rss+xml; charset=windows-1251",
            fixture("cp1251.rss"),
        ),
    ])
}

fn hit_pairs(ws: &Workspace) -> Vec<(String, String)> {
    let hits = ws.json(&["hits", "--since", "100000d"]);
    let mut pairs: Vec<(String, String)> = hits
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["rule"].as_str().unwrap().to_owned(),
                h["title"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    pairs.sort();
    pairs
}

#[test]
fn once_ingests_every_format_and_stores_hits() {
    let server = feed_server();
    let paths = [
        "/world.rss",
        "/europe.rdf",
        "/wire.atom",
        "/digest.json",
        "/cp1251.rss",
    ];
    let ws = Workspace::new(&config_for(&paths.map(|p| server.url(p))));
    let out = ws.run(&["once"]);
    assert_exit(&out, 0);
    let summary = stdout(&out);
    assert!(
        summary.contains("feeds: 5 fetched, 5 ok, 0 not modified, 0 failed"),
        "{summary}"
    );
    // 3 + 2 + 1 + 1 + 1 entries, but the Peskov story in europe.rdf is world.rss's.
    assert!(summary.contains("stories: 7 new, 0 updated"), "{summary}");

    // Feeds are fetched concurrently, so the story both feeds carry is stored under
    // whichever came first; either way it is one story with one Peskov hit.
    let mut pairs = hit_pairs(&ws);
    let shared = pairs
        .iter()
        .position(|(_, t)| t.contains("Peskov rejects"))
        .expect("the shared story hit");
    assert!(
        [
            "Kremlin spokesman Peskov rejects the proposal",
            "Peskov rejects plan (via World Desk)"
        ]
        .contains(&pairs[shared].1.as_str())
    );
    pairs[shared].1 = "(shared)".to_owned();
    assert_eq!(
        pairs,
        [
            (
                "Embassy reopening",
                "Embassies resume normal operations in the capital"
            ),
            ("Embassy reopening", "Embassy in Kyiv to reopen next month"),
            ("Peskov", "(shared)"),
            ("Peskov", "Песков прокомментировал переговоры"),
            (
                "Peskov",
                "Песков: Кремль не видит оснований для переговоров"
            ),
            (
                "Ukraine talks",
                "Ukraine and Russia agree to new ceasefire talks"
            ),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    // Every hit went to the log channel and was delivered there.
    let hits = ws.json(&["hits", "--since", "100000d"]);
    for hit in hits.as_array().unwrap() {
        assert_eq!(hit["deliveries"][0]["channel"], "console", "{hit}");
        assert_eq!(hit["deliveries"][0]["state"], "sent", "{hit}");
    }
    assert!(
        stderr(&out).contains("Embassy in Kyiv to reopen next month"),
        "the log channel logs the alert:\n{}",
        stderr(&out)
    );

    let feeds = ws.json(&["feeds"]);
    let feeds = feeds.as_array().unwrap();
    assert_eq!(feeds.len(), 5);
    for feed in feeds {
        assert_eq!(feed["status"], "ok", "{feed}");
        assert_eq!(feed["consecutive_errors"], 0);
        assert_eq!(feed["newest_story"], feed["last_fetch"], "{feed}");
    }
    let names: Vec<&str> = feeds.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "World Desk",
            "Europe Wire",
            "Atom Wire",
            "JSON Digest",
            "Русская лента"
        ]
    );
    assert_eq!(feeds[4]["stories"], 1);
    let stored: i64 = feeds.iter().map(|f| f["stories"].as_i64().unwrap()).sum();
    assert_eq!(stored, 7, "the shared story is stored once");
}

#[test]
fn one_failing_feed_never_stops_the_others() {
    let server = TestServer::start(|req: &Request| match req.path.as_str() {
        "/world.rss" => Reply::ok("application/rss+xml", fixture("world.rss")),
        "/missing" => Reply::status(404),
        "/broken" => Reply::status(500),
        "/page" => Reply::ok(
            "text/html",
            r#"<!DOCTYPE html><html><head><link rel="alternate" type="application/rss+xml" href="/world.rss"></head></html>"#,
        ),
        "/gone" => Reply::status(410),
        _ => Reply::status(404),
    });
    let urls = ["/missing", "/world.rss", "/broken", "/page", "/gone"].map(|p| server.url(p));
    // Nothing listens on this port: connection refused.
    let down = RefusingPort::new();
    let refused = format!("http://127.0.0.1:{}/feed", down.port());
    let mut all = urls.to_vec();
    all.push(refused.clone());
    let ws = Workspace::new(&config_for(&all));
    let out = ws.run(&["once"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "feed failures are not a failed pass"
    );
    let summary = stdout(&out);
    assert!(
        summary.contains("feeds: 6 fetched, 1 ok, 0 not modified, 5 failed"),
        "{summary}"
    );
    assert!(summary.contains("stories: 3 new"), "{summary}");
    // A feed without a name is named by its URL, once.
    assert!(
        summary.contains(&format!(
            "  failed: {}: HTTP 404 Not Found: nothing at this address (the site may have \
             moved its feed)\n",
            urls[0]
        )),
        "{summary}"
    );

    let feeds = ws.json(&["feeds"]);
    let by_url = |u: &str| feed_row(&feeds, u).clone();
    assert_eq!(
        by_url(&urls[0])["last_error"],
        "HTTP 404 Not Found: nothing at this address (the site may have moved its feed)"
    );
    assert_eq!(by_url(&urls[1])["status"], "ok");
    assert_eq!(
        by_url(&urls[2])["last_error"],
        "HTTP 500 Internal Server Error"
    );
    let page = by_url(&urls[3]);
    assert_eq!(page["status"], "error");
    assert_eq!(
        page["last_error"],
        format!(
            "an HTML page, not a feed (it advertises: {})",
            server.url("/world.rss")
        )
    );
    assert_eq!(by_url(&urls[4])["status"], "gone");
    let refused_row = by_url(&refused);
    // The cause, without reqwest's wrappers repeating the URL.
    let refused_error = refused_row["last_error"].as_str().unwrap();
    assert!(
        refused_error.starts_with("connection failed: ")
            && refused_error.contains("Connection refused")
            && !refused_error.contains("error sending request"),
        "{refused_row}"
    );
    assert_eq!(refused_row["consecutive_errors"], 1);

    // A gone feed is not fetched again.
    let before = server
        .requests()
        .iter()
        .filter(|r| r.path == "/gone")
        .count();
    let again = ws.ok(&["once"]);
    assert!(again.contains("1 gone (not fetched: "), "{again}");
    assert_eq!(
        server
            .requests()
            .iter()
            .filter(|r| r.path == "/gone")
            .count(),
        before
    );
    assert_eq!(
        feed_row(&ws.json(&["feeds"]), &urls[0])["consecutive_errors"],
        2
    );
}

#[test]
fn a_pass_that_reaches_no_server_says_the_network_may_be_down() {
    // Three servers, none of them reachable: the trouble is more likely this host's.
    let ports: Vec<RefusingPort> = (0..3).map(|_| RefusingPort::new()).collect();
    let mut urls: Vec<String> = ports
        .iter()
        .map(|p| format!("http://127.0.0.1:{}/feed", p.port()))
        .collect();
    let ws = Workspace::new(&config_for(&urls));
    let summary = ws.ok(&["once"]);
    assert!(
        summary.contains(
            "  no feed reached its server (3 servers: no address, no connection or no answer \
             in time): this host's network, or its DNS, may be down\n"
        ),
        "{summary}"
    );
    // One that answers, even with an error, is a network that works.
    let server = TestServer::start(|_: &Request| Reply::status(500));
    urls.push(server.url("/feed"));
    let ws = Workspace::new(&config_for(&urls));
    let summary = ws.ok(&["once"]);
    assert!(summary.contains("4 failed"), "{summary}");
    assert!(!summary.contains("no feed reached"), "{summary}");
}

#[test]
fn a_feed_may_allow_itself_a_larger_body_than_max_body() {
    // A podcast's whole archive in one document: over `[fetch] max_body`, which the
    // feed raises for itself alone.
    let items: String = (0..2000)
        .map(|i| {
            format!(
                "<item><title>Episode {i}: Peskov and the talks</title><guid>e-{i}</guid></item>"
            )
        })
        .collect();
    let body =
        format!("<rss version=\"2.0\"><channel><title>Archive</title>{items}</channel></rss>");
    assert!(body.len() > 100 * 1024);
    let server = TestServer::files(vec![
        (
            "/archive.rss",
            "application/rss+xml",
            body.clone().into_bytes(),
        ),
        ("/other.rss", "application/rss+xml", body.into_bytes()),
    ]);
    let ws = Workspace::new(&format!(
        "[fetch]\nmax_body = \"100KiB\"\n\
         [[feed]]\nurl = \"{}\"\nmax_body = \"1MiB\"\n\
         [[feed]]\nurl = \"{}\"\n{RULES}",
        server.url("/archive.rss"),
        server.url("/other.rss"),
    ));
    let out = ws.ok(&["once"]);
    assert!(
        out.contains("feeds: 2 fetched, 1 ok, 0 not modified, 1 failed"),
        "{out}"
    );
    let feeds = ws.json(&["feeds"]);
    assert_eq!(feeds[0]["stories"], 2000, "{feeds}");
    assert_eq!(
        feeds[1]["last_error"],
        "the body is larger than `max_body` (100.0 KiB): raise it — in `[fetch]`, or for this \
         feed in its `[[feed]]` — if the feed is really this large"
    );
    // `test-rule --url` reads a configured feed with its own limit too.
    let archive = server.url("/archive.rss");
    let out = ws.run(&["test-rule", "Peskov", "--url", &archive]);
    assert_exit(&out, 0);
    let out = ws.run(&["test-rule", "Peskov", "--url", &server.url("/other.rss")]);
    assert!(
        stderr(&out).contains("larger than `max_body`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_feeds_ttl_never_stretches_its_reads_past_half_the_alert_age() {
    // The feed asks to be read every four hours; stories older than two are never
    // alerted. Read every four hours, a story published just after one read would be
    // too old to alert at the next.
    let server = TestServer::files(vec![(
        "/feed",
        "application/rss+xml",
        "<rss version=\"2.0\"><channel><title>Slow</title><ttl>240</ttl>\
         <item><title>Peskov speaks</title><guid>p-1</guid></item></channel></rss>"
            .into(),
    )]);
    let config = |max_age: &str| {
        format!(
            "[alerts]\nmax_age = \"{max_age}\"\n\n[[feed]]\nurl = \"{}\"\n{RULES}",
            server.url("/feed")
        )
    };
    for (max_age, minutes) in [("2h", 60), ("1d", 240)] {
        let ws = Workspace::new(&config(max_age));
        ws.ok(&["once"]);
        let feeds = ws.json(&["feeds"]);
        let at = |key: &str| {
            chrono::DateTime::parse_from_rfc3339(feeds[0][key].as_str().unwrap()).unwrap()
        };
        assert_eq!(
            (at("next_due") - at("last_fetch")).num_minutes(),
            minutes,
            "max_age {max_age}"
        );
    }
}

#[test]
fn a_fetch_that_finds_every_entry_new_says_stories_may_have_been_missed() {
    // A feed that lists its last three stories and asks, by <ttl>, to be read every four
    // hours: by the next read three others have pushed the first three out.
    let page = Arc::new(Mutex::new(0));
    let p = page.clone();
    let server = TestServer::start(move |_req: &Request| {
        let first = *p.lock().unwrap() * 3;
        let items: String = (first..first + 3)
            .map(|i| {
                format!("<item><title>Story {i}</title><guid>s-{i}</guid><link>https://s.example/{i}</link></item>")
            })
            .collect();
        Reply::ok(
            "application/rss+xml",
            format!(
                "<rss version=\"2.0\"><channel><title>Busy</title><ttl>240</ttl>{items}</channel></rss>"
            ),
        )
    });
    let url = server.url("/feed");
    let ws = Workspace::new(&config_for(std::slice::from_ref(&url)));
    let due_in = |ws: &Workspace| {
        let feeds = ws.json(&["feeds"]);
        let at = |key: &str| {
            chrono::DateTime::parse_from_rfc3339(feeds[0][key].as_str().unwrap()).unwrap()
        };
        (at("next_due") - at("last_fetch")).num_minutes()
    };
    let first = ws.ok(&["once"]);
    assert!(!first.contains("possible gap"), "{first}");
    assert_eq!(
        due_in(&ws),
        240,
        "the feed's <ttl> stretches the 10m interval"
    );

    *page.lock().unwrap() = 1;
    let out = ws.run_with(&["once"], &[("RUST_LOG", "warn")]);
    let (second, log) = (stdout(&out), stderr(&out));
    let line = second
        .lines()
        .find(|l| l.starts_with("  possible gap: "))
        .unwrap_or_else(|| panic!("{second}"));
    let (head, tail) = line.split_once(" ago: ").unwrap();
    assert_eq!(
        (
            head.trim_end_matches('s')
                .trim_end_matches(char::is_numeric),
            tail
        ),
        (
            &*format!(
                "  possible gap: {url}: all 3 entries are new since the last successful fetch "
            ),
            "stories published in between may have been missed (if this recurs, give the feed a shorter interval)"
        )
    );
    assert!(
        log.contains("all 3 entries are new since the last successful fetch"),
        "{log}"
    );
    assert!(
        (9..=11).contains(&due_in(&ws)),
        "the hints set aside: due at its own interval"
    );
    let feeds = ws.json(&["feeds"]);
    assert_eq!(feeds[0]["possible_gaps"], 1, "{feeds}");
    assert_eq!(
        feeds[0]["last_possible_gap"], feeds[0]["last_fetch"],
        "{feeds}"
    );
    let table = ws.ok(&["feeds"]);
    assert!(
        table.starts_with("STATUS        STORIES  NEWEST STORY          LAST FETCH  ")
            && table.contains("possible gaps: 1, the last at "),
        "{table}"
    );

    // Overlapping again: no gap, and the hints stay set aside for a while.
    let third = ws.ok(&["once"]);
    assert!(!third.contains("possible gap"), "{third}");
    assert!((9..=11).contains(&due_in(&ws)));
    assert_eq!(ws.json(&["feeds"])[0]["possible_gaps"], 1);

    // Another within a day is counted and said at info level, not warned about again.
    *page.lock().unwrap() = 3;
    let out = ws.run_with(&["once"], &[("RUST_LOG", "warn")]);
    assert!(stdout(&out).contains("  possible gap: "));
    assert!(
        !stderr(&out).contains("entries are new"),
        "{}",
        stderr(&out)
    );
    assert_eq!(ws.json(&["feeds"])[0]["possible_gaps"], 2);
}

#[test]
fn a_feed_behind_basic_auth_is_read_and_its_password_never_shown() {
    use base64::Engine as _;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("reader:s3cret")
    );
    let server = TestServer::start(move |req: &Request| {
        if req.headers.get("authorization") != Some(&expected) {
            return Reply::status(401).header("WWW-Authenticate", "Basic realm=\"desk\"");
        }
        // No title, so the feed is named by its URL; a relative link.
        Reply::ok(
            "application/rss+xml",
            "<rss version=\"2.0\"><channel><item><title>Peskov on the talks</title>\
             <link>/story/1</link></item></channel></rss>",
        )
    });
    let private = server
        .url("/feed")
        .replace("http://", "http://reader:s3cret@");
    let wrong = server
        .url("/feed")
        .replace("http://", "http://reader:wr0ng@");
    let refused = format!(
        "http://reader:s3cret@127.0.0.1:{}/feed",
        RefusingPort::new().port()
    );
    let ws = Workspace::new(&config_for(&[private, wrong, refused]));
    let mut seen = String::new();
    for args in [
        &["check"][..],
        &["once"],
        &["feeds"],
        &["feeds", "--json"],
        &["hits", "--json"],
    ] {
        let out = ws.run_with(args, &[("RUST_LOG", "debug")]);
        seen += &stdout(&out);
        seen += &stderr(&out);
    }
    for secret in ["s3cret", "wr0ng"] {
        assert!(!seen.contains(secret), "{secret} shown:\n{seen}");
    }
    let shown = server.url("/feed").replace("http://", "http://reader:***@");
    assert!(
        seen.contains(&format!("ok           {shown}: 1 story, 1 new, 1 hit")),
        "{seen}"
    );
    assert!(
        seen.contains(&format!(
            "error        {shown}: HTTP 401 Unauthorized: the server wants a login, or \
             refused the one given (a feed's login is written in its url: \
             https://user:password@host/…)"
        )),
        "{seen}"
    );
    let hits = ws.json(&["hits"]);
    assert_eq!(hits.as_array().unwrap().len(), 1, "{hits}");
    assert_eq!(
        hits[0]["link"],
        server.url("/story/1").as_str(),
        "no credentials in links"
    );
    assert_eq!(hits[0]["feed"], shown.as_str());
}

mod addresses;
mod age;
mod commands;
mod dedupe;
mod moves;
mod reading;
mod revalidation;

#[test]
fn feeds_and_webhooks_go_through_the_proxy_the_environment_names() {
    // An operator behind a proxy sets HTTP_PROXY / HTTPS_PROXY (a unit's Environment=):
    // feeds and webhooks go through it. These hosts do not resolve; only the proxy can
    // reach them.
    let proxy = TestServer::start(|req: &Request| match req.path.as_str() {
        "http://news.invalid/world.rss" => Reply::ok("application/rss+xml", fixture("world.rss")),
        "http://hooks.invalid/alerts" => Reply::status(204),
        _ => Reply::status(502),
    });
    let ws = Workspace::new(&format!(
        "{}[channel.hook]\nkind = \"webhook\"\nurl = \"http://hooks.invalid/alerts\"\n",
        config_for(&["http://news.invalid/world.rss".to_owned()])
    ));
    let env = [("HTTP_PROXY", proxy.base.as_str()), ("NO_PROXY", "")];
    let out = ws.run_with(&["once"], &env);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("1 ok"), "{}", stdout(&out));
    assert_exit(&ws.run_with(&["send-test", "hook"], &env), 0);
    let seen: Vec<(String, String)> = proxy
        .requests()
        .into_iter()
        .map(|r| (r.method, r.path))
        .collect();
    assert_eq!(
        seen,
        [
            ("GET".to_owned(), "http://news.invalid/world.rss".to_owned()),
            ("POST".to_owned(), "http://hooks.invalid/alerts".to_owned())
        ]
    );
}

#[test]
fn a_headline_and_its_summary_are_read_as_one_text_for_near() {
    // A title and summary feed (most news feeds give no content): the rule's two sides
    // fall on either side of the headline's end. Other fields stay apart.
    let rss = br#"<rss version="2.0"><channel><title>World</title>
        <item><guid>1</guid><title>Ukraine war: Zelensky in Washington</title>
        <description>The president will hold talks with allies.</description></item>
        <item><guid>2</guid><title>Ukraine war: Zelensky in Washington</title>
        <description>One two three four five six seven eight nine ten eleven twelve thirteen talks.</description></item>
        <item><guid>3</guid><title>Markets close higher</title><category>Ukraine</category>
        <description>Talks on tariffs continue.</description></item>
        </channel></rss>"#;
    let server = TestServer::files(vec![("/world.rss", "application/rss+xml", rss.to_vec())]);
    let ws = Workspace::new(&config_for(&[server.url("/world.rss")]));
    ws.ok(&["once"]);
    let hits = ws.json(&["hits", "--since", "100000d"]);
    let hits = hits.as_array().unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0]["rule"], "Ukraine talks");
    assert_eq!(
        hits[0]["spans"],
        serde_json::json!([
            {"field": "title", "start": 0, "end": 7},
            {"field": "summary", "start": 24, "end": 29}
        ]),
        "\"Ukraine\" in the title, \"talks\" in the first story's summary"
    );
}
