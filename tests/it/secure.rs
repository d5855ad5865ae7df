//! TLS end to end: feeds and webhooks over HTTPS, email over STARTTLS and SMTPS, each
//! server's certificate checked by the `newshound` binary against the system's trust
//! store — here a test authority named by `SSL_CERT_FILE`, as an operator's private
//! authority would be installed — and refused when nothing trusted issued it.

use std::sync::{Arc, Mutex};

use crate::smtp_server::SmtpServer;
use crate::support::{Reply, Request, TestServer, Workspace, assert_exit, fixture, stderr, stdout};
use crate::tls::TestCa;

/// What newshound says of a certificate no trusted authority issued.
const REFUSED: &str = "invalid peer certificate: UnknownIssuer (no authority in this system's trust store issued the server's certificate)";

const RULE: &str = "[[rule]]\nname = \"Peskov\"\nquery = 'Peskov'\nchannels = [\"out\"]\n";

fn email(smtp: &SmtpServer, extra: &str) -> String {
    format!(
        "[channel.out]\nkind = \"email\"\nto = [\"desk@example.org\"]\nfrom = \"alerts@example.org\"\nsmtp = \"{}\"\n{extra}\n{RULE}",
        smtp.url()
    )
}

/// Runs `send-test out` trusting `ca` only.
fn send_test(config: &str, ca: &TestCa) -> std::process::Output {
    Workspace::new(config).run_with(&["send-test", "out"], &ca.trusted())
}

#[test]
fn email_goes_over_starttls_and_smtps_to_a_server_the_trust_store_vouches_for() {
    let ca = Arc::new(TestCa::new());
    for (smtp, extra) in [
        (SmtpServer::starttls(&ca), ""),
        (SmtpServer::starttls(&ca), "tls = \"required\""),
        (SmtpServer::smtps(&ca), ""),
    ] {
        let out = send_test(&email(&smtp, extra), &ca);
        assert_exit(&out, 0);
        let received = smtp.received();
        assert_eq!(received.len(), 1, "{} {extra}", smtp.url());
        assert!(received[0].tls, "sent in the clear: {} {extra}", smtp.url());
    }
}

#[test]
fn alerts_of_a_pass_go_out_over_starttls() {
    let ca = Arc::new(TestCa::new());
    let smtp = SmtpServer::starttls(&ca);
    let feeds = TestServer::files(vec![(
        "/world.rss",
        "application/rss+xml",
        fixture("world.rss"),
    )]);
    let ws = Workspace::new(&format!(
        "[alerts]\nmax_age = \"100000d\"\n[[feed]]\nurl = \"{}\"\n{}",
        feeds.url("/world.rss"),
        email(&smtp, "")
    ));
    let out = ws.run_with(&["once"], &ca.trusted());
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("alerts: 1 delivered"),
        "{}",
        stdout(&out)
    );
    assert!(smtp.received().iter().all(|m| m.tls));
}

#[test]
fn nothing_is_sent_to_a_server_whose_certificate_no_trusted_authority_issued() {
    // The server's authority is not the one trusted: its certificate is refused, and no
    // message goes in the clear instead, STARTTLS offered or not required.
    let (ca, other) = (Arc::new(TestCa::new()), TestCa::new());
    for smtp in [SmtpServer::starttls(&ca), SmtpServer::smtps(&ca)] {
        let out = send_test(&email(&smtp, ""), &other);
        assert_exit(&out, 1);
        assert_eq!(
            stderr(&out).trim(),
            format!(
                "newshound: sending through `out` failed: connecting to the mail server \
                 127.0.0.1:{}: Connection error: {REFUSED}",
                smtp.port
            )
        );
        assert!(smtp.received().is_empty(), "{}", smtp.url());
    }
    let hook = TestServer::tls(&ca, |_: &Request| Reply::status(200));
    let config = format!(
        "[channel.out]\nkind = \"webhook\"\nurl = \"{}\"\n{RULE}",
        hook.url("/hook")
    );
    let out = send_test(&config, &other);
    assert_exit(&out, 1);
    assert_eq!(
        stderr(&out).trim(),
        format!("newshound: sending through `out` failed: {REFUSED}")
    );
    assert!(hook.requests().is_empty());
}

#[test]
fn webhooks_go_over_https() {
    let ca = Arc::new(TestCa::new());
    let hook = TestServer::tls(&ca, |_: &Request| Reply::status(204));
    let config = format!(
        "[channel.out]\nkind = \"webhook\"\nurl = \"{}\"\n{RULE}",
        hook.url("/hook")
    );
    assert_exit(&send_test(&config, &ca), 0);
    let requests = hook.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "POST");
}

#[test]
fn an_https_address_of_a_plain_http_server_is_a_tls_failure_that_says_so() {
    // A plain HTTP server, as nginx or Apache answer a TLS greeting: 400 Bad Request.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let https = format!("https://{}/world.rss", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut stream in listener.incoming().flatten() {
            let mut greeting = [0; 512];
            let _ = stream.read(&mut greeting);
            let _ = stream.write_all(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    let ws = Workspace::new(&format!(
        "[[feed]]\nurl = \"{https}\"\n[channel.out]\nkind = \"log\"\n{RULE}"
    ));
    let out = ws.run(&["once"]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains(&format!(
            "failed: {https}: TLS failed: received corrupt message of type \
             InvalidContentType (the server did not answer in TLS: is its address http://, \
             or its port another?)"
        )),
        "{}",
        stdout(&out)
    );
}

#[test]
fn feeds_are_fetched_over_https_from_a_trusted_server_only() {
    let ca = Arc::new(TestCa::new());
    let fetched = Arc::new(Mutex::new(0));
    let count = fetched.clone();
    let server = TestServer::tls(&ca, move |_: &Request| {
        *count.lock().unwrap() += 1;
        Reply::ok("application/rss+xml", fixture("world.rss"))
    });
    let ws = Workspace::new(&format!(
        "[[feed]]\nurl = \"{}\"\n[channel.out]\nkind = \"log\"\n{RULE}",
        server.url("/world.rss")
    ));
    let untrusted = ws.run_with(&["once"], &TestCa::new().trusted());
    assert_exit(&untrusted, 0);
    let summary = stdout(&untrusted);
    assert!(summary.contains("1 failed"), "{summary}");
    assert!(
        summary.contains(&format!("TLS failed: {REFUSED}")),
        "{summary}"
    );
    // Said once, by newshound, not again by the verifier's own error line.
    assert!(
        !stderr(&untrusted).contains("rustls_platform_verifier"),
        "{}",
        stderr(&untrusted)
    );
    assert_eq!(
        *fetched.lock().unwrap(),
        0,
        "no request after a refused handshake"
    );

    let trusted = ws.run_with(&["once"], &ca.trusted());
    assert_exit(&trusted, 0);
    assert!(stdout(&trusted).contains("1 ok"), "{}", stdout(&trusted));
    assert_eq!(*fetched.lock().unwrap(), 1);
}

#[test]
fn an_smtps_address_of_a_server_in_the_clear_is_a_tls_failure_that_says_so() {
    let ca = TestCa::new();
    let plain = SmtpServer::start();
    let url = plain.url().replace("smtp://", "smtps://");
    let config = format!(
        "[channel.out]\nkind = \"email\"\nto = [\"a@example.org\"]\nfrom = \"b@example.org\"\n\
         smtp = \"{url}\"\n{RULE}"
    );
    let out = send_test(&config, &ca);
    assert_exit(&out, 1);
    assert_eq!(
        stderr(&out).trim(),
        format!(
            "newshound: sending through `out` failed: connecting to the mail server \
             127.0.0.1:{}: Connection error: received corrupt message of type \
             InvalidContentType (the server did not answer in TLS: is its address smtp:// \
             (STARTTLS), or its port another?)",
            plain.port
        )
    );
    assert!(plain.received().is_empty());
}
