//! Conditional GET: validators sent and honoured, a server answering 304 while its feed
//! changed found out, and a body the same as last time not read again.

use super::*;

#[test]
fn second_pass_revalidates_and_finds_nothing_new() {
    // A server that issues validators and answers 304 when they come back.
    let body = fixture("world.rss");
    let server = TestServer::start(move |req: &Request| {
        if req.headers.get("if-none-match").map(String::as_str) == Some("\"v1\"")
            && req.headers.get("if-modified-since").map(String::as_str)
                == Some("Thu, 26 Nov 2026 10:00:00 GMT")
        {
            return Reply::status(304);
        }
        Reply::ok("application/rss+xml", body.clone())
            .header("ETag", "\"v1\"")
            .header("Last-Modified", "Thu, 26 Nov 2026 10:00:00 GMT")
    });
    let ws = Workspace::new(&config_for(&[server.url("/world.rss")]));
    assert!(ws.ok(&["once"]).contains("stories: 3 new"));
    let second = ws.ok(&["once"]);
    assert!(second.contains("1 not modified"), "{second}");
    assert!(
        second.contains("stories: 0 new, 0 updated; hits: 0"),
        "{second}"
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert!(
        !requests[0].headers.contains_key("if-none-match"),
        "the first fetch is unconditional"
    );
    assert_eq!(ws.json(&["feeds"])[0]["status"], "not_modified");
    assert_eq!(hit_pairs(&ws).len(), 2);
}

#[test]
fn a_server_answering_304_while_its_feed_changed_is_found_out() {
    // Its Last-Modified is the script's, not the feed's: every conditional request gets
    // a 304, whatever the feed now holds.
    let published = Arc::new(Mutex::new(1));
    let server = TestServer::start({
        let published = Arc::clone(&published);
        move |req: &Request| {
            if req.headers.contains_key("if-modified-since") {
                return Reply::status(304);
            }
            let items: String = (1..=*published.lock().unwrap())
                .map(|n| format!("<item><title>Peskov, part {n}</title><guid>p-{n}</guid></item>"))
                .collect();
            let body = format!(
                "<rss version=\"2.0\"><channel><title>Stuck</title>{items}</channel></rss>"
            );
            Reply::ok("application/rss+xml", body)
                .header("Last-Modified", "Thu, 01 Jan 2026 00:00:00 GMT")
        }
    });
    let ws = Workspace::new(&config_for(&[server.url("/stuck.rss")]));
    assert!(ws.ok(&["once"]).contains("stories: 1 new"));
    *published.lock().unwrap() = 2;
    // Within a day of its last whole body, a 304 is taken at its word.
    assert!(ws.ok(&["once"]).contains("1 not modified"));
    // A day of 304s later, the next 304 is checked with a request without validators.
    let db = rusqlite::Connection::open(ws.dir.path().join("newshound.db")).unwrap();
    db.execute("UPDATE feeds SET body_at = body_at - 86400", [])
        .unwrap();
    drop(db);
    let out = ws.run(&["once"]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("stories: 1 new"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("the server answered 304 (not modified) while the feed had changed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(hit_pairs(&ws).len(), 2);
    assert_eq!(ws.json(&["feeds"])[0]["validators_ignored"], true);
    assert!(ws.ok(&["feeds"]).contains("fetched without validators"));
    // From now on its stories come with every fetch.
    *published.lock().unwrap() = 3;
    assert!(ws.ok(&["once"]).contains("stories: 1 new"));
    let requests = server.requests();
    assert_eq!(requests.len(), 5, "one request a pass, two for the check");
    assert!(!requests[4].headers.contains_key("if-modified-since"));
}

#[test]
fn a_server_answering_304_rightly_keeps_its_validators() {
    let server = TestServer::start(|req: &Request| {
        if req.headers.contains_key("if-modified-since") {
            return Reply::status(304);
        }
        Reply::ok("application/rss+xml", fixture("world.rss"))
            .header("Last-Modified", "Thu, 26 Nov 2026 10:00:00 GMT")
    });
    let ws = Workspace::new(&config_for(&[server.url("/world.rss")]));
    ws.ok(&["once"]);
    let db = rusqlite::Connection::open(ws.dir.path().join("newshound.db")).unwrap();
    db.execute("UPDATE feeds SET body_at = body_at - 86400", [])
        .unwrap();
    drop(db);
    // Checked: the same feed, so the 304 was right; then trusted for another day.
    assert!(ws.ok(&["once"]).contains("1 not modified"));
    assert!(ws.ok(&["once"]).contains("1 not modified"));
    assert_eq!(ws.json(&["feeds"])[0]["validators_ignored"], false);
    let conditional: Vec<bool> = server
        .requests()
        .iter()
        .map(|r| r.headers.contains_key("if-modified-since"))
        .collect();
    assert_eq!(conditional, [false, true, false, true]);
}

#[test]
fn a_body_the_same_as_last_time_is_not_read_again() {
    // A server that ignores conditional requests: a new ETag on every answer, the same
    // body until the feed changes.
    let (answers, changed) = (Arc::new(Mutex::new(0)), Arc::new(Mutex::new(false)));
    let (n, c) = (answers.clone(), changed.clone());
    let body = String::from_utf8(fixture("world.rss")).unwrap();
    let server = TestServer::start(move |_req: &Request| {
        let mut n = n.lock().unwrap();
        *n += 1;
        let text = if *c.lock().unwrap() {
            body.replace(
                "<item>",
                "<item><title>Peskov: a new story</title><guid>new-1</guid></item><item>",
            )
        } else {
            body.clone()
        };
        Reply::ok("application/rss+xml", text).header("ETag", &format!("\"r{n}\""))
    });
    let ws = Workspace::new(&config_for(&[server.url("/world.rss")]));
    assert!(ws.ok(&["once"]).contains("stories: 3 new"));
    let hits = hit_pairs(&ws);

    let second = ws.ok(&["once"]);
    assert!(second.contains("0 ok, 1 not modified"), "{second}");
    assert!(
        second.contains("stories: 0 new, 0 updated; hits: 0"),
        "{second}"
    );
    let feed = &ws.json(&["feeds"])[0];
    assert_eq!(feed["status"], "not_modified", "{feed}");
    assert_eq!(feed["stories"], 3);
    assert_eq!(hit_pairs(&ws), hits);

    // The unchanged answer's ETag replaced the stored one; a changed body is read.
    *changed.lock().unwrap() = true;
    let third = ws.ok(&["once"]);
    assert!(third.contains("1 ok, 0 not modified"), "{third}");
    assert!(
        third.contains("stories: 1 new, 0 updated; hits: 1"),
        "{third}"
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(
        requests[2].headers.get("if-none-match").map(String::as_str),
        Some("\"r2\"")
    );
    assert_eq!(ws.json(&["feeds"])[0]["status"], "ok");
}
