//! What `check` warns of: configurations that are valid but most likely not meant.

use crate::support::{TestServer, Workspace, check_warnings as warnings, fixture};

#[test]
fn check_warns_of_what_is_valid_but_matches_nothing() {
    let ws = Workspace::new("");
    assert_eq!(
        warnings(&ws.ok(&["check"])),
        [
            "no [[feed]] is configured: nothing is fetched",
            "no [[rule]] is configured: stories are stored, but nothing is matched or alerted"
        ]
    );

    // A rule limited to feeds by their `name`, their `url` (written without the slash
    // it parses to) and a feed's own title, and by a misspelt name.
    let server = TestServer::files(vec![(
        "/world.rss",
        "application/rss+xml",
        fixture("world.rss"),
    )]);
    let ws = Workspace::new(&format!(
        "[[feed]]\nurl = \"{}\"\n[[feed]]\nurl = \"{}\"\nname = \"Front page\"\n\
         [[rule]]\nname = \"Peskov\"\nquery = \"Peskov\"\n\
         feeds = [\"World Desk\", \"Front page\", \"{}\", \"Front pgae\"]\n",
        server.url("/world.rss"),
        server.base,
        server.base,
    ));
    let misspelt = "rule `Peskov`: no feed is called \"Front pgae\" (by its `name`, its `url` \
                    or, unnamed, its own title so far), so this entry of the rule's `feeds` \
                    matches nothing";
    let untitled = misspelt.replace("Front pgae", "World Desk");
    assert_eq!(
        warnings(&ws.ok(&["check"])),
        [untitled.as_str(), misspelt],
        "the feed's own title is not known before it is fetched"
    );
    ws.ok(&["once"]);
    assert_eq!(warnings(&ws.ok(&["check"])), [misspelt]);
    assert_eq!(
        ws.json(&["hits"]).as_array().unwrap().len(),
        1,
        "the rule applies to the feed called by its title"
    );
}

#[test]
fn check_warns_of_a_mail_port_written_with_the_other_scheme() {
    let email = |smtp: &str| {
        format!(
            "[[feed]]\nurl = \"https://example.org/feed\"\n[channel.desk]\nkind = \"email\"\n\
             to = [\"a@example.org\"]\nfrom = \"b@example.org\"\nsmtp = \"{smtp}\"\n\
             [[rule]]\nname = \"Peskov\"\nquery = \"Peskov\"\nchannels = [\"desk\"]\n"
        )
    };
    let warned = |smtp: &str| {
        let ws = Workspace::new(&email(smtp));
        warnings(&ws.ok(&["check"]))
            .iter()
            .map(|w| w.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        warned("smtp://mail.example.org:465"),
        [
            "channel `desk`: port 465 usually speaks TLS from the first byte: `smtp://` there \
          fails to connect; write `smtp = \"smtps://mail.example.org:465\"`"
        ]
    );
    assert_eq!(
        warned("smtps://mail.example.org:587"),
        [
            "channel `desk`: port 587 usually speaks in the clear, then STARTTLS: `smtps://` \
          there fails to connect; write `smtp = \"smtp://mail.example.org:587\"`"
        ]
    );
    for fine in [
        "smtps://mail.example.org:465",
        "smtp://mail.example.org:587",
        "smtp://mail.example.org",
        "smtps://mail.example.org",
    ] {
        assert!(warned(fine).is_empty(), "{fine}");
    }
}

#[test]
fn check_warns_of_a_webhook_format_its_service_refuses() {
    let warned = |url: &str, format: &str| {
        let ws = Workspace::new(&format!(
            "[[feed]]\nurl = \"https://example.org/feed\"\n[channel.chat]\nkind = \"webhook\"\n\
             url = \"{url}\"\nformat = \"{format}\"\n\
             [[rule]]\nname = \"Peskov\"\nquery = \"Peskov\"\nchannels = [\"chat\"]\n"
        ));
        warnings(&ws.ok(&["check"]))
            .iter()
            .map(|w| w.to_string())
            .collect::<Vec<_>>()
    };
    let slack = "https://hooks.slack.com/services/T000/B000/XXXX";
    let discord = "https://discord.com/api/webhooks/123/abc";
    assert_eq!(
        warned(slack, "json"),
        [
            "channel `chat`: Slack refuses `format = \"json\"` (every alert would fail for \
             good); write `format = \"slack\"`"
        ]
    );
    assert_eq!(
        warned(discord, "slack"),
        [
            "channel `chat`: Discord refuses `format = \"slack\"` (every alert would fail for \
             good); write `format = \"discord\"`"
        ]
    );
    for other_form in [
        "https://canary.discordapp.com/api/webhooks/123/abc",
        "https://discord.com/api/v10/webhooks/123/abc",
    ] {
        assert_eq!(warned(other_form, "json").len(), 1, "{other_form}");
    }
    assert_eq!(
        warned(&format!("{discord}/slack"), "discord"),
        [
            "channel `chat`: Discord's Slack-compatible address refuses `format = \"discord\"` \
             (every alert would fail for good); write `format = \"slack\"`"
        ]
    );
    for (url, format) in [
        (slack, "slack"),
        (discord, "discord"),
        (&format!("{discord}/slack"), "slack"),
        ("https://hooks.example.org/newshound", "json"),
        ("https://discord.com/channels/1/2", "json"),
        ("https://discord.com/api/version/webhooks/1/2", "json"),
    ] {
        assert!(warned(url, format).is_empty(), "{url} {format}");
    }
}

#[test]
fn check_warns_of_a_database_whose_folder_does_not_exist() {
    let ws = Workspace::new(
        "[storage]\npath = \"state/newshound.db\"\n\
         [[feed]]\nurl = \"https://example.org/feed\"\n\
         [[rule]]\nname = \"Peskov\"\nquery = \"Peskov\"\n",
    );
    let folder = ws.dir.path().join("state");
    let warned = warnings(&ws.ok(&["check"]))
        .iter()
        .map(|w| w.to_string())
        .collect::<Vec<_>>();
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(
        warned[0].starts_with(&format!(
            "the database's folder {} does not exist: `once` and `run` cannot create",
            folder.display()
        )),
        "{warned:?}"
    );
    let out = ws.run(&["once"]);
    assert_eq!(out.status.code(), Some(1));
    std::fs::create_dir(&folder).unwrap();
    assert_eq!(warnings(&ws.ok(&["check"])), Vec::<&str>::new());
}

#[test]
fn check_warns_of_feeds_read_more_often_than_once_a_minute() {
    // "5s" written for "5m": the default for two feeds; a third asks for a minute.
    let ws = Workspace::new(
        "[fetch]\ninterval = \"5s\"\n\
         [[feed]]\nurl = \"https://reader:hunter2@example.org/feed\"\n\
         [[feed]]\nurl = \"https://example.org/b\"\n\
         [[feed]]\nurl = \"https://example.org/c\"\ninterval = \"1m\"\n\
         [[rule]]\nname = \"Peskov\"\nquery = \"Peskov\"\n",
    );
    assert_eq!(
        warnings(&ws.ok(&["check"])),
        [
            "feed https://reader:***@example.org/feed is read every 5s (and 1 other feed): more \
          often than once a minute, which many sites take for abuse and answer by blocking \
          the reader"
        ]
    );
    let ws = Workspace::new(
        "[[feed]]\nurl = \"https://example.org/feed\"\ninterval = \"1m\"\n\
         [[rule]]\nname = \"Peskov\"\nquery = \"Peskov\"\n",
    );
    assert_eq!(
        warnings(&ws.ok(&["check"])),
        Vec::<&str>::new(),
        "a minute is fine"
    );
}

#[test]
fn check_warns_of_an_operator_written_in_lower_case() {
    let ws = Workspace::new(
        "[[feed]]\nurl = \"https://example.org/feed\"\n\
         [[rule]]\nname = \"Peskov\"\nquery = \"Peskov or Песков\"\n",
    );
    assert_eq!(
        warnings(&ws.ok(&["check"])),
        [
            "rule `Peskov`: `or` (column 8) is a word the rule looks for, not an operator: \
          operators are upper-case (`OR`)"
        ]
    );
}

#[test]
fn check_warns_of_feeds_read_less_often_than_max_age() {
    // Read every two hours, or every 55 minutes (up to 60.5 with the jitter), while
    // stories older than an hour are never alerted: one published just after a read is
    // too old by the next.
    let config = |max_age: &str| {
        format!(
            "[alerts]\nmax_age = \"{max_age}\"\n\
             [[feed]]\nurl = \"https://example.org/a\"\ninterval = \"2h\"\n\
             [[feed]]\nurl = \"https://example.org/b\"\n\
             [[feed]]\nurl = \"https://example.org/c\"\ninterval = \"55m\"\n\
             [[rule]]\nname = \"Peskov\"\nquery = \"Peskov\"\n"
        )
    };
    let ws = Workspace::new(&config("1h"));
    assert_eq!(
        warnings(&ws.ok(&["check"])),
        [
            "`alerts.max_age` is 1h, but feed https://example.org/a is read every 2h (and 1 other \
          feed): a story it publishes just after one read is older than that by the next, and \
          is stored but never alerted"
        ]
    );
    let ws = Workspace::new(&config("3h"));
    assert_eq!(warnings(&ws.ok(&["check"])), Vec::<&str>::new());
}

#[test]
fn check_warns_of_a_feed_listed_twice_under_one_address_written_two_ways() {
    let ws = Workspace::new(
        "[[feed]]\nurl = \"http://www.example.org/feed\"\n\
         [[feed]]\nurl = \"https://example.org/other\"\n\
         [[feed]]\nurl = \"https://example.org/feed/\"\n\
         [[rule]]\nname = \"Peskov\"\nquery = \"Peskov\"\n",
    );
    assert_eq!(
        warnings(&ws.ok(&["check"])),
        [
            "feeds http://www.example.org/feed and https://example.org/feed/ are one address \
             written two ways: the feed is read twice; keep one of them"
        ]
    );
}
