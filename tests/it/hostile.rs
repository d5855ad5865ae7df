//! Hostile feed servers: every bad feed gets a clear, specific error in `newshound
//! feeds`, the good feed in the same pass is processed normally, memory stays bounded,
//! and the daemon keeps running.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{
    Reply, Request, TestServer, Workspace, assert_exit, feed_row, fixture, stdout,
};

const MIB: usize = 1 << 20;

/// A body over the 8 MiB `max_body` these tests configure.
const TOO_LARGE: &str = "the body is larger than `max_body` (8.0 MiB): raise it — in `[fetch]`, \
     or for this feed in its `[[feed]]` — if the feed is really this large";

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

fn rss(items: &str) -> Vec<u8> {
    format!("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title>{items}</channel></rss>").into_bytes()
}

/// Every hostile path, and what `feeds` must say about it (a substring of the error,
/// or the status for feeds that must parse).
fn hostile_server() -> (TestServer, Vec<(&'static str, &'static str)>) {
    let big = vec![b'x'; 12 * MIB];
    let bomb = gzip(&vec![b'<'; 200 * MIB]);
    let many: String = (0..100_000)
        .map(|i| format!("<item><guid>{i}</guid><title>Story {i}</title></item>"))
        .collect();
    let many = rss(&many);
    let long_title = "Peskov ".repeat(150_000);
    let long = rss(&format!(
        "<item><guid>long</guid><title>{long_title}</title></item>"
    ));
    let laughs = {
        let mut doc = String::from("<?xml version=\"1.0\"?><!DOCTYPE rss [<!ENTITY lol \"lol\">");
        for i in 1..10 {
            let prev = if i == 1 {
                "lol".to_owned()
            } else {
                format!("lol{}", i - 1)
            };
            doc.push_str(&format!(
                "<!ENTITY lol{i} \"{}\">",
                format!("&{prev};").repeat(10)
            ));
        }
        doc.push_str("]><rss version=\"2.0\"><channel><title>&lol9;</title><item><guid>1</guid><title>&lol9;</title></item></channel></rss>");
        doc.into_bytes()
    };
    let mut invalid_utf8 = rss("<item><guid>u</guid><title>Caf\u{e9} Peskov</title></item>");
    let at = invalid_utf8
        .windows(2)
        .position(|w| w == "é".as_bytes())
        .unwrap();
    invalid_utf8.splice(at..at + 2, [0xE9]);
    let dates = rss(
        "<item><guid>f</guid><title>From the future</title><pubDate>Fri, 31 Dec 9999 23:59:59 GMT</pubDate></item>\
         <item><guid>p</guid><title>From the past</title><pubDate>Mon, 01 Jan 1900 00:00:00 GMT</pubDate></item>",
    );
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let server = TestServer::start(move |req: &Request| match req.path.as_str() {
        "/good" => Reply::ok("application/rss+xml", fixture("world.rss")),
        "/big-declared" => Reply::ok("application/rss+xml", big.clone()),
        "/big-undeclared" => Reply::ok("application/rss+xml", big.clone()).without_length(),
        "/bomb" => {
            Reply::ok("application/rss+xml", bomb.clone()).header("Content-Encoding", "gzip")
        }
        "/bomb-unlabelled" => Reply::ok("application/rss+xml", bomb.clone()),
        "/drip" => {
            Reply::ok("application/rss+xml", fixture("world.rss")).dripping(Duration::from_secs(1))
        }
        "/hang" => {
            Reply::ok("application/rss+xml", fixture("world.rss")).delayed(Duration::from_secs(60))
        }
        "/reset" => Reply::ok("application/rss+xml", fixture("world.rss")).cut_after(100),
        "/loop" => Reply::status(302).header("Location", "/loop"),
        "/ftp" => Reply::status(301).header("Location", "ftp://example.org/feed"),
        "/429" => Reply::status(429).header("Retry-After", "120"),
        "/503" => Reply::status(503).header("Retry-After", "60"),
        "/410" => Reply::status(410),
        "/404" => Reply::status(404),
        "/500" => Reply::status(500),
        "/html" => Reply::ok(
            "text/html",
            r#"<!doctype html><html><head><link rel="alternate" type="application/atom+xml" href="/atom.xml"></head></html>"#,
        ),
        "/empty" => Reply::ok("application/rss+xml", Vec::new()),
        "/garbage" => Reply::ok("application/octet-stream", garbage.clone()),
        "/laughs" => Reply::ok("application/rss+xml", laughs.clone()),
        "/many" => Reply::ok("application/rss+xml", many.clone()),
        "/long-titles" => Reply::ok("application/rss+xml", long.clone()),
        "/invalid-utf8" => Reply::ok("application/rss+xml", invalid_utf8.clone()),
        "/dates" => Reply::ok("application/rss+xml", dates.clone()),
        "/other-xml" => Reply::ok(
            "application/xml",
            "<?xml version=\"1.0\"?>\n<!-- a sitemap -->\n<urlset><url/></urlset>",
        ),
        "/no-channel" => Reply::ok("application/rss+xml", "<rss version=\"2.0\">\n</rss>\n"),
        "/text" => Reply::ok("text/plain", "Service temporarily unavailable"),
        _ => Reply::status(404),
    });
    let expected = vec![
        ("/good", "ok"),
        ("/big-declared", TOO_LARGE),
        ("/big-undeclared", TOO_LARGE),
        ("/bomb", TOO_LARGE),
        (
            "/bomb-unlabelled",
            "the decompressed body is larger than `max_body` (8.0 MiB): a compression bomb, or a \
             feed larger than that",
        ),
        ("/drip", "timed out after 3s"),
        ("/hang", "timed out after 3s"),
        ("/reset", "reading the body failed"),
        ("/loop", "redirect failed: more than 5 redirects (a loop?)"),
        (
            "/ftp",
            "redirect failed: to a non-HTTP URL ftp://example.org/feed",
        ),
        ("/429", "HTTP 429 Too Many Requests (retry after 2m)"),
        ("/503", "HTTP 503 Service Unavailable (retry after 1m)"),
        (
            "/410",
            "HTTP 410 Gone: the feed was removed; polling stopped (`newshound once --feed` with its URL tries it again)",
        ),
        (
            "/404",
            "HTTP 404 Not Found: nothing at this address (the site may have moved its feed)",
        ),
        ("/500", "HTTP 500 Internal Server Error"),
        ("/html", "an HTML page, not a feed (it advertises: "),
        ("/empty", "the body is empty"),
        ("/garbage", "not a feed: "),
        (
            "/other-xml",
            "not a feed: XML whose root element is <urlset>, not a feed's (<rss>, Atom's \
             <feed>, RSS 1.0's <rdf:RDF>)",
        ),
        (
            "/no-channel",
            "not a feed: an <rss> document without a <channel>: it holds no feed",
        ),
        (
            "/text",
            "not a feed: neither XML nor JSON (it begins \"Service temporarily unavailable\")",
        ),
        ("/laughs", "any"),
        ("/many", "ok"),
        ("/long-titles", "ok"),
        ("/invalid-utf8", "ok"),
        ("/dates", "ok"),
    ];
    (server, expected)
}

fn config(server: &TestServer, paths: &[(&str, &str)]) -> String {
    let mut config = String::from(
        "[alerts]\nmax_age = \"100000d\"\n[fetch]\ninterval = \"10s\"\ntimeout = \"3s\"\nmax_body = \"8MiB\"\nper_host = 32\n\n",
    );
    for (path, _) in paths {
        config.push_str(&format!("[[feed]]\nurl = \"{}\"\n", server.url(path)));
    }
    config + "[[rule]]\nname = \"Peskov\"\nquery = \"Peskov\"\n"
}

/// Peak resident memory of a process so far, in bytes (VmHWM).
fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

fn check_feeds(ws: &Workspace, server: &TestServer, expected: &[(&str, &str)]) {
    let feeds = ws.json(&["feeds"]);
    for (path, want) in expected {
        let url = server.url(path);
        let row = feed_row(&feeds, &url);
        match *want {
            // Fetched and read; polled again unchanged, a feed is `not_modified`.
            "ok" => assert!(
                row["status"] == "ok" || row["status"] == "not_modified",
                "{path}: {row}"
            ),
            "any" => assert!(
                row["status"] == "ok"
                    || row["status"] == "not_modified"
                    || row["last_error"].is_string(),
                "{path}: {row}"
            ),
            error => {
                let last = row["last_error"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{path} has no error: {row}"));
                assert!(last.contains(error), "{path}: {last:?} lacks {error:?}");
            }
        }
    }
}

#[test]
fn hostile_servers_get_specific_errors_and_the_good_feed_goes_through() {
    let (server, expected) = hostile_server();
    let ws = Workspace::new(&config(&server, &expected));
    let child = Command::new(env!("CARGO_BIN_EXE_newshound"))
        .args(["--config", ws.config().to_str().unwrap(), "once"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let watcher = {
        let peak = peak.clone();
        std::thread::spawn(move || {
            while let Some(rss) = peak_rss(pid) {
                peak.fetch_max(rss, std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let out = child.wait_with_output().unwrap();
    watcher.join().unwrap();
    assert_exit(&out, 0);
    let summary = stdout(&out);
    assert!(
        summary.contains(&format!("feeds: {} fetched", expected.len())),
        "{summary}"
    );
    check_feeds(&ws, &server, &expected);

    // The good feed's stories and hits are all there; the big one too.
    let feeds = ws.json(&["feeds"]);
    let stories = |path: &str| {
        feed_row(&feeds, &server.url(path))["stories"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(stories("/good"), 3);
    assert_eq!(stories("/many"), 100_000);
    assert_eq!(stories("/dates"), 2);
    let hits = ws.json(&["hits", "--since", "100000d"]);
    let titles: Vec<&str> = hits
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["title"].as_str().unwrap())
        .collect();
    assert!(
        titles.contains(&"Kremlin spokesman Peskov rejects the proposal"),
        "{titles:?}"
    );
    assert!(
        titles.contains(&"Café Peskov"),
        "invalid UTF-8 read as windows-1252: {titles:?}"
    );

    let peak = peak.load(std::sync::atomic::Ordering::Relaxed);
    println!("peak RSS of once: {} MiB", peak / MIB as u64);
    assert!(
        peak > 0 && peak < 400 * MIB as u64,
        "peak RSS {} MiB",
        peak / MIB as u64
    );
}

#[test]
fn the_daemon_keeps_running_through_hostile_feeds() {
    let (server, expected) = hostile_server();
    let ws = Workspace::new(&config(&server, &expected));
    let mut child = Command::new(env!("CARGO_BIN_EXE_newshound"))
        .args(["--config", ws.config().to_str().unwrap(), "run"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until every feed has been tried at least once (the daemon spreads first
    // fetches over the interval, 10 s here).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(child.try_wait().unwrap().is_none(), "the daemon died");
        let path = ws.dir.path().join("newshound.db");
        let tried = newshound::store::Store::open(&path)
            .and_then(|s| {
                let urls: Vec<String> = expected.iter().map(|(p, _)| server.url(p)).collect();
                s.feeds(&urls.iter().map(String::as_str).collect::<Vec<_>>())
            })
            .map(|rows| rows.len() == expected.len() && rows.iter().all(|r| r.last_fetch.is_some()))
            .unwrap_or(false);
        if tried {
            break;
        }
        assert!(Instant::now() < deadline, "not every feed was fetched");
        std::thread::sleep(Duration::from_millis(250));
    }
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the daemon keeps running"
    );
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    check_feeds(&ws, &server, &expected);
}
