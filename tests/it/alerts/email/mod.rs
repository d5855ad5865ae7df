//! Email delivery through a real SMTP server over TCP. `digest.rs` holds the digests,
//! `failures.rs` mail servers and recipients that refuse, fail or stop answering,
//! `addresses.rs` addresses written in other alphabets.

mod addresses;
mod digest;
mod failures;

use super::*;

/// An email channel for these recipients on `smtp`.
fn email_to(smtp: &SmtpServer, to: &[&str]) -> String {
    format!(
        "[channel.desk]\nkind = \"email\"\nto = {to:?}\nfrom = \"alerts@example.org\"\nsmtp = \"{}\"\n",
        smtp.url()
    )
}

#[test]
fn email_alerts_end_to_end() {
    let smtp = SmtpServer::start();
    let feeds = world_feed();
    let ws = Workspace::new(&config(
        &feeds.url("/world.rss"),
        "desk",
        &email_channel("desk", &smtp.url(), ""),
    ));
    let out = ws.run(&["once"]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("alerts: 2 delivered"),
        "{}",
        stdout(&out)
    );

    let mut received = smtp.received();
    received.sort_by_key(|m| m.header("Subject"));
    assert_eq!(
        received.len(),
        2,
        "one message per story, naming every rule it matched"
    );
    assert_eq!(
        smtp.connections(),
        1,
        "one SMTP connection carries the batch"
    );
    let peskov = &received[1];
    assert_eq!(
        peskov.header("Subject").as_deref(),
        Some("[newshound] Peskov, Kremlin: Kremlin spokesman Peskov rejects the proposal")
    );
    assert_eq!(peskov.from, "<alerts@example.org>");
    assert_eq!(peskov.to, ["<desk@example.org>"]);
    assert_eq!(
        peskov.header("Auto-Submitted").as_deref(),
        Some("auto-generated")
    );
    assert_eq!(
        peskov.header("X-Newshound-Rule").as_deref(),
        Some("Peskov, Kremlin")
    );
    assert_eq!(
        peskov.header("List-Id").as_deref(),
        Some("newshound desk <desk.newshound.example.org>")
    );
    let message_id = peskov.header("Message-ID").unwrap();
    assert!(
        message_id.starts_with('<') && message_id.ends_with("@newshound.example.org>"),
        "{message_id}"
    );

    let parsed = peskov.parsed();
    let content_type = peskov.header("Content-Type").unwrap();
    assert!(
        content_type.starts_with("multipart/alternative"),
        "{content_type}"
    );
    assert_eq!(parsed.text_body_count(), 1);
    assert_eq!(parsed.html_body_count(), 1);
    let text = parsed.body_text(0).unwrap();
    let html = parsed.body_html(0).unwrap();
    assert!(
        text.contains("https://news.example.org/2026/11/peskov-rejects"),
        "{text}"
    );
    assert!(
        text.starts_with("*Kremlin* spokesman *Peskov* rejects the proposal"),
        "the title, its matched words marked: {text}"
    );
    assert!(text.contains("Dmitry *Peskov* told reporters"), "{text}");
    assert!(text.contains("Matched rules: Peskov, Kremlin"), "{text}");
    assert!(
        html.contains("Dmitry <b>Peskov</b> told reporters"),
        "{html}"
    );
    assert!(
        html.contains(
            "href=\"https:&#x2f;&#x2f;news.example.org&#x2f;2026&#x2f;11&#x2f;peskov-rejects\""
        ),
        "{html}"
    );
    assert!(html.contains("World Desk"), "{html}");

    // Delivery state is visible, and a second pass sends nothing again.
    let hits = ws.json(&["hits", "--since", "100000d"]);
    for hit in hits.as_array().unwrap() {
        assert_eq!(hit["deliveries"][0]["state"], "sent", "{hit}");
    }
    ws.ok(&["once"]);
    assert_eq!(smtp.received().len(), 2);
}

#[test]
fn hostile_feed_text_is_escaped_and_cannot_add_headers() {
    let smtp = SmtpServer::start();
    let feed = r#"<rss version="2.0"><channel><title>Evil</title><item><guid>e1</guid>
        <title>Peskov&#13;&#10;Bcc: victim@example.org &lt;script&gt;alert(1)&lt;/script&gt;</title>
        <description>&lt;img src="https://tracker.example/x.png" onerror="alert(2)"&gt;&lt;a href="javascript:alert(3)" onclick="x()"&gt;Peskov&lt;/a&gt; &lt;style&gt;body{}&lt;/style&gt;</description>
        <link>javascript:alert(4)</link></item></channel></rss>"#;
    let feeds = TestServer::files(vec![(
        "/evil.rss",
        "application/rss+xml",
        feed.as_bytes().to_vec(),
    )]);
    let ws = Workspace::new(&config(
        &feeds.url("/evil.rss"),
        "desk",
        &email_channel("desk", &smtp.url(), ""),
    ));
    ws.ok(&["once"]);
    let received = smtp.received();
    assert_eq!(received.len(), 1);
    let message = &received[0];
    assert_eq!(message.header("Bcc"), None, "no header injected");
    let subject = message.header("Subject").unwrap();
    assert!(
        subject.starts_with("[newshound] Peskov: Peskov Bcc: victim@example.org"),
        "{subject}"
    );
    let parsed = message.parsed();
    let html = parsed.body_html(0).unwrap().to_string();
    for banned in [
        "<script",
        "onerror",
        "onclick",
        "javascript:",
        "<img",
        "tracker.example",
        "<style",
    ] {
        assert!(!html.contains(banned), "{banned} survived: {html}");
    }
    assert!(
        html.contains("><b>Peskov</b> Bcc: victim@example.org</h2>"),
        "the title is text on one line, its matched word marked, its script dropped: {html}"
    );
    assert!(
        !html.contains("href"),
        "a javascript: link is no link: {html}"
    );
    assert!(html.contains("<b>Peskov</b>"), "{html}");
}

#[test]
fn smtp_login_and_one_connection_per_batch() {
    let smtp = SmtpServer::start();
    let feeds = world_feed();
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("smtp-password");
    std::fs::write(&secret, "s3cret pass\n").unwrap();
    let ws = Workspace::new(&config(
        &feeds.url("/world.rss"),
        "desk",
        &email_channel(
            "desk",
            &smtp.url(),
            &format!(
                "username = \"newshound\"\npassword_file = \"{}\"",
                secret.display()
            ),
        ),
    ));
    let out = ws.ok(&["once"]);
    assert!(out.contains("alerts: 2 delivered"), "{out}");
    assert_eq!(smtp.received().len(), 2);
    assert_eq!(
        smtp.logins(),
        ["newshound:s3cret pass"],
        "one login, with the password from the file (its last newline dropped)"
    );
    assert_eq!(smtp.connections(), 1);
    assert_eq!(smtp.quits(), 1, "the batch ends with QUIT");
}

#[tokio::test]
async fn required_tls_is_never_skipped() {
    // The test server offers no STARTTLS: with `tls = "required"` nothing is sent in the
    // clear, and the alert waits with an error that says why.
    let smtp = SmtpServer::start();
    let ws = Workspace::new(&config(
        "https://news.example.org/feed",
        "desk",
        &email_channel("desk", &smtp.url(), "tls = \"required\""),
    ));
    let (deliverer, store, _) = queued(&ws, "world.rss");
    let report = deliverer.deliver_due().await.unwrap();
    assert_eq!((report.delivered, report.retrying), (0, 2));
    assert!(smtp.received().is_empty());
    let states = states(&store).await;
    let error = states[0].last_error.as_deref().unwrap();
    assert!(error.to_ascii_lowercase().contains("tls"), "{error}");
}

#[test]
fn an_operators_templates_replace_the_built_in_ones() {
    let smtp = SmtpServer::start();
    let feeds = world_feed();
    let ws = Workspace::new(
        &config(
            &feeds.url("/world.rss"),
            "desk",
            &email_channel("desk", &smtp.url(), ""),
        )
        .replacen("[alerts]\n", "[alerts]\ntemplates = \"templates\"\n", 1),
    );
    ws.write(
        "templates/alert.txt",
        "{{ title_text }} ({{ alert.rules | join(\"+\") }}, {{ alert.matched | join(\"/\") }}) \
         from {{ alert.feed }}\n{{ snippet_text }}\n",
    );
    ws.ok(&["once"]);
    let received = smtp.received();
    let peskov = received
        .iter()
        .find(|m| m.header("Subject").unwrap().contains("Peskov rejects"))
        .unwrap();
    let parsed = peskov.parsed();
    let text = parsed.body_text(0).unwrap().replace("\r\n", "\n");
    assert_eq!(
        text.trim_end(),
        "*Kremlin* spokesman *Peskov* rejects the proposal (Peskov+Kremlin, Kremlin/Peskov) \
         from World Desk\nDmitry *Peskov* told reporters on Thursday that Moscow saw no basis \
         for the plan."
    );
    // The HTML part, whose template the folder does not hold, is the built-in one.
    assert!(
        parsed.body_html(0).unwrap().contains("<b>Peskov</b>"),
        "{}",
        parsed.body_html(0).unwrap()
    );

    // A template that does not parse is a configuration error.
    ws.write("templates/alert.html", "<p>{% for %}</p>");
    let out = ws.run(&["check"]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("`alerts.templates`: template alert.html:"),
        "{}",
        stderr(&out)
    );
}

/// `smtp = "sendmail"` hands each message to the local MTA's `sendmail` command, found
/// on PATH: with its envelope sender, the recipients after `--`, the message on its
/// input. A command that fails leaves the alert to its retries.
#[test]
fn sendmail_hands_the_message_to_the_local_mta() {
    let feeds = world_feed();
    let ws = Workspace::new(&config(
        &feeds.url("/world.rss"),
        "desk",
        "[channel.desk]\nkind = \"email\"\nto = [\"desk@example.org\", \"night@example.org\"]\n\
         from = \"newshound <alerts@example.org>\"\nsmtp = \"sendmail\"\n",
    ));
    let bin = ws.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let sendmail = bin.join("sendmail");
    let spool = ws.dir.path().join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    // Each message in a file of its own, its arguments on the first line. One failing
    // command reads the message, as an MTA does before it finds it cannot queue it; the
    // other exits without reading it, as an msmtp without its configuration does.
    std::fs::write(
        &sendmail,
        format!(
            "#!/bin/sh\n\
             [ -e {0}/unread ] && {{ echo 'msmtp: no configuration file' >&2; exit 78; }}\n\
             [ -e {0}/fail ] && {{ cat > /dev/null; echo 'sendmail: queue full' >&2; exit 75; }}\n\
             f=$(mktemp {0}/msg.XXXXXX)\necho \"$*\" > \"$f\"\ncat >> \"$f\"\n",
            spool.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&sendmail, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());

    std::fs::write(spool.join("fail"), "").unwrap();
    let out = ws.run_with(&["once"], &[("PATH", &path)]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("alerts: 0 delivered"),
        "{}",
        stdout(&out)
    );
    let hits = ws.json(&["hits"]);
    let error = hits[0]["deliveries"][0]["last_error"].as_str().unwrap();
    assert_eq!(
        error,
        "sendmail failed (exit status: 75): sendmail: queue full"
    );

    // What a command that never reads the message says is the error, not a broken pipe.
    std::fs::rename(spool.join("fail"), spool.join("unread")).unwrap();
    let out = ws.run_with(&["requeue", "--waiting"], &[("PATH", &path)]);
    assert_exit(&out, 0);
    let out = ws.run_with(&["once"], &[("PATH", &path)]);
    assert_exit(&out, 0);
    let hits = ws.json(&["hits"]);
    let error = hits[0]["deliveries"][0]["last_error"].as_str().unwrap();
    assert_eq!(
        error,
        "sendmail failed (exit status: 78): msmtp: no configuration file"
    );

    std::fs::remove_file(spool.join("unread")).unwrap();
    let out = ws.run_with(&["requeue", "--waiting"], &[("PATH", &path)]);
    assert_exit(&out, 0);
    let out = ws.run_with(&["once"], &[("PATH", &path)]);
    assert!(
        stdout(&out).contains("alerts: 2 delivered"),
        "{}",
        stdout(&out)
    );
    let mut messages: Vec<String> = std::fs::read_dir(&spool)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    messages.sort();
    assert_eq!(messages.len(), 2);
    for message in &messages {
        let (args, text) = message.split_once('\n').unwrap();
        assert_eq!(
            args,
            "-i -f alerts@example.org -- desk@example.org night@example.org"
        );
        assert!(text.contains("Subject: [newshound] "), "{text}");
        assert!(text.contains("Auto-Submitted: auto-generated"), "{text}");
    }
}
