//! Addresses written in other alphabets: a domain goes out in ASCII, which every mail
//! server takes; a name before the @ needs a server that takes SMTPUTF8, and one that
//! does not gets a clear, permanent error.

use super::*;

#[tokio::test]
async fn an_international_domain_goes_out_in_ascii_to_any_mail_server() {
    let smtp = SmtpServer::start();
    smtp.ascii_only();
    let ws = Workspace::new(&config(
        "https://news.example.org/feed",
        "desk",
        &format!(
            "[channel.desk]\nkind = \"email\"\nto = [\"desk@пример.рф\"]\n\
             from = \"Новости <alerts@почта.рф>\"\nsmtp = \"{}\"\n",
            smtp.url()
        ),
    ));
    let (deliverer, store, _) = queued(&ws, "world.rss");
    let report = deliverer.deliver_due().await.unwrap();
    assert_eq!(
        (report.delivered, report.dead),
        (2, 0),
        "{:?}",
        states(&store).await
    );
    for message in smtp.received() {
        assert_eq!(message.from, "<alerts@xn--80a1acny.xn--p1ai>");
        assert_eq!(message.to, ["<desk@xn--e1afmkfd.xn--p1ai>"]);
        assert!(message.data.is_ascii(), "only ASCII goes to this server");
        let parsed = message.parsed();
        let from = parsed.from().and_then(|a| a.first()).unwrap();
        assert_eq!(
            from.name(),
            Some("Новости"),
            "the name is encoded, not lost"
        );
        assert_eq!(from.address(), Some("alerts@xn--80a1acny.xn--p1ai"));
        assert!(
            message
                .header("Message-ID")
                .unwrap()
                .ends_with("@newshound.xn--80a1acny.xn--p1ai>")
        );
    }
}

#[tokio::test]
async fn a_name_in_another_alphabet_needs_a_server_that_takes_smtputf8() {
    let to = ["дежурный@example.org"];
    let smtp = SmtpServer::start();
    let ws = Workspace::new(&config(
        "https://news.example.org/feed",
        "desk",
        &email_to(&smtp, &to),
    ));
    let (deliverer, _, _) = queued(&ws, "world.rss");
    assert_eq!(deliverer.deliver_due().await.unwrap().delivered, 2);
    for message in smtp.received() {
        assert_eq!(message.to, ["<дежурный@example.org>"]);
        assert!(message.from.contains(" SMTPUTF8"), "{}", message.from);
    }

    let old = SmtpServer::start();
    old.ascii_only();
    let ws = Workspace::new(&config(
        "https://news.example.org/feed",
        "desk",
        &email_to(&old, &to),
    ));
    let (deliverer, store, _) = queued(&ws, "world.rss");
    let report = deliverer.deliver_due().await.unwrap();
    assert_eq!((report.delivered, report.retrying, report.dead), (0, 0, 2));
    assert!(old.received().is_empty());
    for state in states(&store).await {
        assert_eq!(state.state, "dead");
        assert_eq!(
            state.last_error.as_deref(),
            Some("an address is not ASCII, and the mail server does not take SMTPUTF8")
        );
    }
    // `check` says so before any alert is lost.
    assert_eq!(
        crate::support::check_warnings(&ws.ok(&["check"])),
        [
            "channel `desk`: `to` address дежурный@example.org is not ASCII before the @: only a \
          mail server that takes SMTPUTF8 can deliver it (`newshound send-test desk` shows \
          whether this one does)"
        ]
    );
}
