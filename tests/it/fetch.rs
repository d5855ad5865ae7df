//! The fetcher against misbehaving servers: size limits on the wire and after
//! decompression, timeouts, redirects, and errors that say what went wrong.

use std::io::Write;
use std::time::Duration;

use newshound::config::Fetch;
use newshound::fetch::{FetchError, Fetched, Fetcher, Validators};

use crate::support::{Reply, Request, TestServer, fixture};

fn fetcher(max_body: u64, timeout: Duration) -> Fetcher {
    Fetcher::new(&Fetch {
        max_body,
        timeout,
        connect_timeout: Duration::from_secs(5),
        ..Fetch::default()
    })
    .unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

async fn fetch(server: &TestServer, path: &str, f: &Fetcher) -> Result<Fetched, FetchError> {
    f.fetch(&server.url(path).parse().unwrap(), &Validators::default())
        .await
}

#[tokio::test]
async fn bodies_over_max_body_stop_at_the_limit() {
    let big = vec![b'x'; 200_000];
    let bomb = gzip(&vec![b' '; 50_000_000]);
    assert!(
        bomb.len() < 100_000,
        "a small compressed body: {}",
        bomb.len()
    );
    let server = TestServer::start(move |req: &Request| match req.path.as_str() {
        "/declared" => Reply::ok("application/rss+xml", big.clone()),
        "/undeclared" => Reply::ok("application/rss+xml", big.clone()).without_length(),
        "/bomb" => {
            Reply::ok("application/rss+xml", bomb.clone()).header("Content-Encoding", "gzip")
        }
        _ => Reply::status(404),
    });
    let f = fetcher(100_000, Duration::from_secs(10));
    for path in ["/declared", "/undeclared", "/bomb"] {
        let error = fetch(&server, path, &f).await.unwrap_err();
        assert_eq!(error, FetchError::TooLarge(100_000), "{path}");
        assert_eq!(
            error.to_string(),
            "the body is larger than `max_body` (97.7 KiB): raise it — in `[fetch]`, or for this \
             feed in its `[[feed]]` — if the feed is really this large"
        );
    }
}

#[tokio::test]
async fn compressed_feeds_are_decoded() {
    let feed = fixture("world.rss");
    let compressed = gzip(&feed);
    let server = TestServer::start(move |_: &Request| {
        Reply::ok("application/rss+xml", compressed.clone()).header("Content-Encoding", "gzip")
    });
    let Fetched::Body(body) = fetch(&server, "/", &fetcher(1 << 20, Duration::from_secs(10)))
        .await
        .unwrap()
    else {
        panic!("a body")
    };
    assert_eq!(body.bytes, fixture("world.rss"));
    let accept = server.requests()[0]
        .headers
        .get("accept-encoding")
        .cloned()
        .unwrap_or_default();
    for encoding in ["gzip", "br", "deflate", "zstd"] {
        assert!(accept.contains(encoding), "{accept}");
    }
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let server =
        TestServer::start(|_: &Request| Reply::status(200).delayed(Duration::from_secs(30)));
    let error = fetch(&server, "/", &fetcher(1 << 20, Duration::from_millis(500)))
        .await
        .unwrap_err();
    assert_eq!(error, FetchError::Timeout(Duration::from_millis(500)));
    assert_eq!(error.to_string(), "timed out after 500ms");
}

#[tokio::test]
async fn redirects_are_followed_bounded_and_reported() {
    let server = TestServer::start(|req: &Request| match req.path.as_str() {
        "/old" => Reply::status(301).header("Location", "/new"),
        "/hop" => Reply::status(302).header("Location", "/new"),
        "/new" => Reply::ok("application/rss+xml", fixture("world.rss")),
        "/loop" => Reply::status(302).header("Location", "/loop"),
        "/ftp" => Reply::status(302).header("Location", "ftp://example.org/feed"),
        _ => Reply::status(404),
    });
    let f = fetcher(1 << 20, Duration::from_secs(10));
    let Fetched::Body(moved) = fetch(&server, "/old", &f).await.unwrap() else {
        panic!()
    };
    assert_eq!(moved.moved_to.as_ref().map(|u| u.path()), Some("/new"));
    let Fetched::Body(temporary) = fetch(&server, "/hop", &f).await.unwrap() else {
        panic!()
    };
    assert_eq!(
        temporary.moved_to, None,
        "a temporary redirect does not move the feed"
    );
    assert_eq!(
        fetch(&server, "/loop", &f).await.unwrap_err(),
        FetchError::Redirect("more than 5 redirects (a loop?)".into())
    );
    assert_eq!(
        fetch(&server, "/ftp", &f).await.unwrap_err(),
        FetchError::Redirect("to a non-HTTP URL ftp://example.org/feed".into())
    );
    assert_eq!(
        server
            .requests()
            .iter()
            .filter(|r| r.path == "/loop")
            .count(),
        6
    );
}

#[tokio::test]
async fn statuses_and_retry_after() {
    let server = TestServer::start(|req: &Request| match req.path.as_str() {
        "/busy" => Reply::status(429).header("Retry-After", "120"),
        "/gone" => Reply::status(410),
        _ => Reply::status(404),
    });
    let f = fetcher(1 << 20, Duration::from_secs(10));
    let busy = fetch(&server, "/busy", &f).await.unwrap_err();
    assert_eq!(busy.retry_after(), Some(Duration::from_secs(120)));
    assert_eq!(
        busy.to_string(),
        "HTTP 429 Too Many Requests (retry after 2m)"
    );
    assert_eq!(
        fetch(&server, "/gone", &f).await.unwrap_err(),
        FetchError::Gone
    );
    assert_eq!(
        fetch(&server, "/x", &f).await.unwrap_err().to_string(),
        "HTTP 404 Not Found: nothing at this address (the site may have moved its feed)"
    );
}

#[tokio::test]
async fn gzip_with_a_trailing_newline_is_decoded() {
    let feed = fixture("world.rss");
    let compressed = [gzip(&feed), b"\n".to_vec()].concat();
    let server = TestServer::start(move |_: &Request| {
        Reply::ok("application/rss+xml", compressed.clone()).header("Content-Encoding", "gzip")
    });
    let fetched = fetch(&server, "/", &fetcher(1 << 20, Duration::from_secs(10))).await;
    let Ok(Fetched::Body(body)) = fetched else {
        panic!("a body: {fetched:?}")
    };
    assert_eq!(body.bytes, fixture("world.rss"));
}
