//! Feeds that moved (301/308): fetched at the new address, history kept, and back to
//! the configured address when the new one fails.

use super::*;

#[test]
fn a_feed_that_moved_is_fetched_at_its_new_address_and_keeps_its_history() {
    // Stories known only by their guid: were the feed to start afresh under its new
    // URL, each would be a new story and alert again.
    let rss = "<rss version=\"2.0\"><channel><title>Moving</title>\
        <item><guid isPermaLink=\"false\">m-1</guid><title>Peskov speaks</title></item>\
        <item><guid isPermaLink=\"false\">m-2</guid><title>Peskov again</title></item>\
        </channel></rss>";
    let server = TestServer::start(move |req: &Request| match req.path.as_str() {
        "/old" => Reply::status(301).header("Location", "/new"),
        "/new" => Reply::ok("application/rss+xml", rss),
        _ => Reply::status(404),
    });
    let paths = |server: &TestServer| -> Vec<String> {
        server.requests().into_iter().map(|r| r.path).collect()
    };
    let ws = Workspace::new(&config_for(&[server.url("/old")]));
    let moved = format!(
        "  moved: {} → {}: fetched there; update the config to match\n",
        server.url("/old"),
        server.url("/new")
    );
    assert!(ws.ok(&["once"]).contains(&moved));
    assert_eq!(paths(&server), ["/old", "/new"]);
    let feeds = ws.json(&["feeds"]);
    assert_eq!(feeds[0]["moved_to"], server.url("/new").as_str());
    assert!(ws.ok(&["feeds"]).contains(&format!(
        "moved permanently to {}: fetched there; update the config to match",
        server.url("/new")
    )),);
    // `check` says so too, among its warnings.
    assert!(ws.ok(&["check"]).contains(&format!(
        "  warning: feed {} moved permanently to {}: it is fetched there; write that as its \
         `url` (the feed keeps its stories and state)\n",
        server.url("/old"),
        server.url("/new")
    )));
    // Fetched at its new address from now on, and said so until the config is updated.
    assert!(ws.ok(&["once"]).contains(&moved));
    assert_eq!(paths(&server), ["/old", "/new", "/new"]);
    assert_eq!(hit_pairs(&ws).len(), 2);

    // The operator updates the config: the feed keeps its row and its stories.
    ws.write("newshound.toml", &config_for(&[server.url("/new")]));
    let once = ws.run(&["once"]);
    assert_exit(&once, 0);
    assert!(
        stderr(&once).contains("keeps its history"),
        "{}",
        stderr(&once)
    );
    assert!(stdout(&once).contains("0 new"), "{}", stdout(&once));
    assert!(!stdout(&once).contains("moved:"), "{}", stdout(&once));
    assert!(!ws.ok(&["check"]).contains("moved permanently"));
    let feeds = ws.json(&["feeds"]);
    assert_eq!(feeds.as_array().unwrap().len(), 1);
    assert_eq!(feeds[0]["url"], server.url("/new").as_str());
    assert_eq!(feeds[0]["stories"], 2);
    assert!(feeds[0]["moved_to"].is_null());
    assert_eq!(hit_pairs(&ws).len(), 2, "nothing matched twice");
}

#[test]
fn a_feed_whose_new_address_fails_goes_back_to_its_configured_one() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let came_back = Arc::new(AtomicBool::new(false));
    let server = {
        let came_back = came_back.clone();
        TestServer::start(move |req: &Request| {
            let back = came_back.load(Ordering::SeqCst);
            match (req.path.as_str(), back) {
                ("/old", false) => Reply::status(301).header("Location", "/new"),
                ("/new", false) | ("/old", true) => {
                    Reply::ok("application/rss+xml", fixture("world.rss"))
                }
                _ => Reply::status(404),
            }
        })
    };
    let paths = |server: &TestServer| -> Vec<String> {
        server.requests().into_iter().map(|r| r.path).collect()
    };
    let ws = Workspace::new(&config_for(&[server.url("/old")]));
    ws.ok(&["once"]);
    assert_eq!(
        ws.json(&["feeds"])[0]["moved_to"],
        server.url("/new").as_str()
    );
    // The new home goes away and the old address serves the feed again.
    came_back.store(true, Ordering::SeqCst);
    let once = ws.run(&["once"]);
    assert_exit(&once, 0);
    assert!(
        stdout(&once).contains("feeds: 1 fetched, 1 ok"),
        "{}",
        stdout(&once)
    );
    assert!(
        stderr(&once)
            .contains("the address the feed moved to failed, its configured address works"),
        "{}",
        stderr(&once)
    );
    let feeds = ws.json(&["feeds"]);
    assert!(feeds[0]["moved_to"].is_null(), "{feeds}");
    assert!(feeds[0]["last_error"].is_null(), "{feeds}");
    ws.ok(&["once"]);
    assert_eq!(paths(&server), ["/old", "/new", "/new", "/old", "/old"]);
}

#[test]
fn feeds_that_moved_are_polite_to_the_host_they_moved_to() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (now, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let new_home = {
        let (now, peak) = (now.clone(), peak.clone());
        TestServer::start(move |_: &Request| {
            let at_once = now.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(at_once, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(300));
            now.fetch_sub(1, Ordering::SeqCst);
            Reply::ok("application/rss+xml", fixture("world.rss"))
        })
    };
    // Two feeds on two old hosts, both moved to one new host.
    let old_homes: Vec<TestServer> = (0..2)
        .map(|_| {
            let to = new_home.url("/feed");
            TestServer::start(move |_: &Request| Reply::status(301).header("Location", &to))
        })
        .collect();
    let urls: Vec<String> = old_homes.iter().map(|s| s.url("/feed")).collect();
    let ws = Workspace::new(&config_for(&urls).replace("[fetch]\n", "[fetch]\nper_host = 1\n"));
    ws.ok(&["once"]);
    // Now fetched at the new host: one request at a time there.
    peak.store(0, Ordering::SeqCst);
    ws.ok(&["once"]);
    assert_eq!(peak.load(Ordering::SeqCst), 1);
    assert_eq!(new_home.requests().len(), 4);
}
