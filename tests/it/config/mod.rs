//! `newshound check` and configuration errors: every error names the file, line,
//! column and key; the shipped example config is always valid.

use std::path::Path;

use crate::support::{Workspace, newshound, stderr, stdout};

mod warnings;

/// Runs `check` on `config` and expects exit 2 with exactly `FILE:LINE:COL: message`
/// (FILE being the workspace's `newshound.toml` unless `file` says otherwise).
#[track_caller]
fn check_error(config: &str, expected: &str) {
    check_error_with(config, &[], expected);
}

#[track_caller]
fn check_error_with(config: &str, extra_files: &[(&str, &str)], expected: &str) {
    let ws = Workspace::new(config);
    for (name, text) in extra_files {
        ws.write(name, text);
    }
    let out = ws.run(&["check"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "stdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    let dir = ws.dir.path().display().to_string();
    let err = stderr(&out).replace(&dir, "DIR");
    assert_eq!(err.trim_end(), format!("newshound: {expected}"));
}

const FEED: &str = "[[feed]]\nurl = \"https://example.org/feed\"\n";

#[test]
fn toml_syntax_error() {
    check_error(
        "[fetch\n",
        "DIR/newshound.toml:1:7: unclosed table, expected `]`",
    );
}

#[test]
fn unknown_key() {
    check_error(
        "[fetch]\ninterval = \"5m\"\nintervall = \"5m\"\n",
        "DIR/newshound.toml:3:1: unknown key `fetch.intervall`: expected one of `interval`, `timeout`, `connect_timeout`, `max_body`, `concurrency`, `per_host`, `user_agent`, `stale_after`, `quiet_after`, `health_channels`",
    );
    check_error(
        &format!("{FEED}[[rule]]\nname = \"x\"\nquery = \"Peskov\"\nchanels = [\"desk\"]\n"),
        "DIR/newshound.toml:6:1: unknown key `rule.chanels`: expected one of `name`, `query`, `channels`, `feeds`",
    );
    check_error(
        "bogus = 1\n",
        "DIR/newshound.toml:1:1: unknown key `bogus`: expected one of `include`, `storage`, `alerts`, `fetch`, `feed`, `channel`, `rule`, `log`",
    );
    check_error(
        "[[feed]]\nname = \"No address\"\n",
        "DIR/newshound.toml:1:1: missing key `feed.url`",
    );
}

#[test]
fn wrong_type() {
    check_error(
        "[fetch]\nconcurrency = \"many\"\n",
        "DIR/newshound.toml:2:15: `fetch.concurrency`: expected an integer, found string \"many\"",
    );
    check_error(
        "[fetch]\ninterval = 10\n",
        "DIR/newshound.toml:2:12: `fetch.interval`: expected a string, found integer `10`",
    );
    // A list written as its one item says how to write it.
    check_error(
        "[[feed]]\nurl = \"https://example.org/feed\"\ntags = \"europe\"\n",
        "DIR/newshound.toml:3:8: `feed.tags`: expected a list, found string \"europe\" (write `tags = [\"europe\"]`)",
    );
}

#[test]
fn bad_duration_and_size() {
    check_error(
        "[fetch]\ninterval = \"ten minutes\"\n",
        "DIR/newshound.toml:2:12: `fetch.interval`: bad duration \"ten minutes\" (expected number at 0); write e.g. \"90s\", \"10m\", \"1h\", \"3d\"",
    );
    check_error(
        "[fetch]\nmax_body = \"lots\"\n",
        "DIR/newshound.toml:2:12: `fetch.max_body`: bad size \"lots\"; write e.g. \"512KiB\", \"10MiB\"",
    );
    // A limit no feed reaches is no limit: a body is held in memory while it is read.
    check_error(
        "[[feed]]\nurl = \"https://example.org/feed\"\nmax_body = \"10GiB\"\n",
        "DIR/newshound.toml:3:12: `feed.max_body` must be at most 1GiB, not \"10GiB\": a feed's body is held in memory while it is read",
    );
    check_error(
        "[alerts]\nfailing_after = \"an hour\"\n",
        "DIR/newshound.toml:2:17: `alerts.failing_after`: bad duration \"an hour\" (expected number at 0); write e.g. \"90s\", \"10m\", \"1h\", \"3d\"",
    );
    check_error(
        "[alerts]\nreplay = \"recently\"\n",
        "DIR/newshound.toml:2:10: `alerts.replay`: bad duration \"recently\" (expected number at 0); write e.g. \"90s\", \"10m\", \"1h\", \"3d\"",
    );
    check_error(
        "[fetch]\nquiet_after = \"a week\"\n",
        "DIR/newshound.toml:2:15: `fetch.quiet_after`: bad duration \"a week\" (expected number at 0); write e.g. \"90s\", \"10m\", \"1h\", \"3d\"",
    );
    check_error(
        &format!("{FEED}quiet_after = \"-1d\"\n"),
        "DIR/newshound.toml:3:15: `feed.quiet_after`: bad duration \"-1d\" (expected number at 0); write e.g. \"90s\", \"10m\", \"1h\", \"3d\"",
    );
    check_error(
        "[storage]\nkeep = \"0s\"\n",
        "DIR/newshound.toml:2:8: `storage.keep` must be longer than zero",
    );
    // Past a thousand years (and past what a time in seconds holds, which wraps).
    check_error(
        "[storage]\nkeep = \"1001y\"\n",
        "DIR/newshound.toml:2:8: `storage.keep` must be at most a thousand years (\"365000d\"), not \"1001y\"",
    );
    check_error(
        &format!("{FEED}interval = \"500000000000y\"\n"),
        "DIR/newshound.toml:3:12: `feed.interval` must be at most a thousand years (\"365000d\"), not \"500000000000y\"",
    );
}

#[test]
fn a_database_path_that_keeps_nothing_is_refused() {
    for path in ["", ":memory:", "file:news.db?mode=memory"] {
        check_error(
            &format!("[storage]\npath = {path:?}\n"),
            &format!(
                "DIR/newshound.toml:2:8: `storage.path` must name a database file, not {path:?} (leave it out for the default)"
            ),
        );
    }
    check_error_with(
        "[storage]\npath = \"state\"\n",
        &[("state/README", "the database goes in here")],
        "DIR/newshound.toml:2:8: `storage.path` names a folder, DIR/state: name a file in it, such as DIR/state/newshound.db",
    );
}

#[test]
fn duplicate_feed_and_rule() {
    check_error(
        &format!("{FEED}\n{FEED}"),
        "DIR/newshound.toml:5:7: duplicate feed URL https://example.org/feed (first at \
         DIR/newshound.toml:2:7)",
    );
    check_error(
        "[[rule]]\nname = \"A\"\nquery = \"a\"\n[[rule]]\nname = \"A\"\nquery = \"b\"\n",
        "DIR/newshound.toml:5:8: duplicate rule name `A` (first at DIR/newshound.toml:2:8)",
    );
    // Across files, the message names both.
    check_error_with(
        "include = [\"rules.d/*.toml\"]\n[[rule]]\nname = \"A\"\nquery = \"a\"\n",
        &[(
            "rules.d/more.toml",
            "\n[[rule]]\nname = \"A\"\nquery = \"b\"\n",
        )],
        "DIR/rules.d/more.toml:3:8: duplicate rule name `A` (first at DIR/newshound.toml:3:8)",
    );
}

#[test]
fn rule_log_and_include_settings_are_validated() {
    let tagged = "[[feed]]\nurl = \"https://example.org/feed\"\ntags = [\"europe\", \"asia\"]\n";
    check_error(
        &format!("{tagged}[[rule]]\nname = \"A\"\nquery = \"a\"\nfeeds = [\"tag:eruope\"]\n"),
        "DIR/newshound.toml:7:10: rule `A`: no feed has the tag `eruope` (the feeds' tags are \
         asia, europe)",
    );
    check_error(
        &format!("{FEED}[[rule]]\nname = \"A\"\nquery = \"a\"\nfeeds = [\"tag:europe\"]\n"),
        "DIR/newshound.toml:6:10: rule `A`: no feed has the tag `europe` (no feed has a tag)",
    );
    check_error(
        "[[rule]]\nname = \"\"\nquery = \"a\"\n",
        "DIR/newshound.toml:2:8: `rule.name` must not be empty",
    );
    check_error(
        "[log]\nlevel = \"verbose\"\n",
        "DIR/newshound.toml:2:9: `log.level` is error, warn, info, debug or trace, not \"verbose\"",
    );
    check_error(
        "include = [\"rules/[*.toml\"]\n",
        "DIR/newshound.toml:1:12: include \"rules/[*.toml\": bad pattern at character 7: \
         invalid range pattern",
    );
    check_error(
        "[alerts]\ntemplates = \"newshound.toml\"\n",
        "DIR/newshound.toml:2:13: `alerts.templates`: DIR/newshound.toml is not a folder",
    );
}

/// Addresses as a browser hands a feed to a reader, or copied without their scheme,
/// are refused saying how to write them — in the config and on the command line.
#[test]
fn a_feed_address_without_http_says_how_to_write_it() {
    check_error(
        "[[feed]]\nurl = \"feed://example.org/rss\"\n",
        "DIR/newshound.toml:2:7: `feed.url`: only http and https URLs are supported, not \
         `feed` (write \"https://example.org/rss\" or \"http://example.org/rss\")",
    );
    check_error(
        "[[feed]]\nurl = \"feed:https://example.org/rss\"\n",
        "DIR/newshound.toml:2:7: `feed.url`: only http and https URLs are supported, not \
         `feed` (write \"https://example.org/rss\")",
    );
    check_error(
        "[[feed]]\nurl = \"example.org/rss\"\n",
        "DIR/newshound.toml:2:7: `feed.url`: bad URL \"example.org/rss\": relative URL \
         without a base (write it whole: \"https://example.org/rss\")",
    );
    let out = newshound(&["test-rule", "Peskov", "--url", "example.org/rss"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with(
            "error: invalid value 'example.org/rss' for '--url <URL>': bad URL \
             \"example.org/rss\": relative URL without a base (write it whole: \
             \"https://example.org/rss\")"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn unknown_channel_in_a_rule() {
    check_error(
        "[channel.desk]\nkind = \"log\"\n[[rule]]\nname = \"A\"\nquery = \"a\"\nchannels = [\"dsk\"]\n",
        "DIR/newshound.toml:6:13: rule `A`: unknown channel `dsk`: defined channels are desk",
    );
}

#[test]
fn bad_query_points_into_the_query() {
    // The `(` at column 16 of the query stands at column 25 of the line.
    check_error(
        "[[rule]]\nname = \"Embassy\"\nquery = 'embassy NEAR/8 (reopen*'\n",
        "DIR/newshound.toml:3:25: rule `Embassy`: bad query at column 16: unclosed `(`: expected a matching `)`",
    );
}

#[test]
fn missing_include_and_errors_inside_includes() {
    check_error(
        "include = [\"rules.toml\"]\n",
        "DIR/newshound.toml:1:12: include \"rules.toml\": no such file",
    );
    check_error(
        "include = [\"rules.d/*.toml\"]\n",
        "DIR/newshound.toml:1:12: include \"rules.d/*.toml\": matches no file",
    );
    check_error_with(
        "include = [\"rules/*.toml\"]\n",
        &[(
            "rules/a.toml",
            "[[rule]]\nname = \"A\"\nquery = \"NOT a\"\n",
        )],
        "DIR/rules/a.toml:3:10: rule `A`: bad query at column 1: the rule has no positive part: `NOT` and `-` only exclude, so add a word to look for",
    );
}

/// A `[`, `*` or `?` in the name of the config's folder is part of a path: the rules
/// included from beside it load.
#[test]
fn includes_load_from_a_folder_whose_name_looks_like_a_pattern() {
    let ws = Workspace::new("");
    ws.write(
        "site [eu]/newshound.toml",
        "include = [\"rules/*.toml\"]\n[[feed]]\nurl = \"https://example.org/feed\"\n",
    );
    ws.write(
        "site [eu]/rules/a.toml",
        "[[rule]]\nname = \"Peskov\"\nquery = \"Peskov\"\n",
    );
    let config = ws.dir.path().join("site [eu]/newshound.toml");
    let out = newshound(&["--config", config.to_str().unwrap(), "check"], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("    Peskov: Peskov → log"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn channel_settings_are_validated() {
    check_error(
        "[channel.desk]\nkind = \"email\"\nto = [\"a@example.org\"]\nfrom = \"b@example.org\"\nsmtp = \"smtp://mail.example.org\"\npassword = \"hunter2\"\n",
        "DIR/newshound.toml:6:12: channel `desk`: passwords are never written inline; use password_file or password_env",
    );
    check_error(
        "[channel.desk]\nkind = \"email\"\nto = [\"a@example.org\"]\nfrom = \"b@example.org\"\nsmtp = \"imap://mail.example.org\"\n",
        "DIR/newshound.toml:5:8: channel `desk`: `smtp`: unknown scheme `imap`: expected smtp://, smtps:// or \"sendmail\"",
    );
    check_error(
        "[channel.hook]\nkind = \"webhook\"\nurl = \"https://h.example/x\"\nformat = \"teams\"\n",
        "DIR/newshound.toml:4:10: channel `hook`: `format` is json, slack or discord, not \"teams\"",
    );
    check_error(
        "[channel.x]\nkind = \"pager\"\n",
        "DIR/newshound.toml:2:8: channel `x`: unknown kind `pager`: expected email, webhook or log",
    );
    check_error(
        "[channel.x]\nkind = \"log\"\nurl = \"https://h.example/\"\n",
        "DIR/newshound.toml:3:7: channel `x`: `url` is not a setting of a log channel",
    );
    check_error(
        "[channel.x]\nkind = \"log\"\ntimeout = \"5s\"\n",
        "DIR/newshound.toml:3:11: channel `x`: `timeout` is not a setting of a log channel",
    );
    check_error(
        "[channel.hook]\nkind = \"webhook\"\nurl = \"ftp://h.example/x\"\n",
        "DIR/newshound.toml:3:7: `channel.hook.url`: only http and https URLs are supported, not `ftp`",
    );
    check_error(
        "[channel.hook]\nkind = \"webhook\"\nurl = \"https://h.example/x\"\ntimeout = \"0s\"\n",
        "DIR/newshound.toml:4:11: `channel.hook.timeout` must be longer than zero",
    );
    check_error(
        "[channel.desk]\nkind = \"email\"\nto = [\"a@example.org\"]\nfrom = \"b@example.org\"\nsmtp = \"sendmail\"\ntimeout = \"soon\"\n",
        "DIR/newshound.toml:6:11: `channel.desk.timeout`: bad duration \"soon\" (expected number at 0); write e.g. \"90s\", \"10m\", \"1h\", \"3d\"",
    );
}

/// Addresses are read by the parser that builds the messages: what `check` accepts can
/// be sent to.
#[test]
fn email_addresses_are_checked_as_the_messages_write_them() {
    let email = |to: &str, from: &str| {
        format!(
            "[channel.desk]\nkind = \"email\"\nto = [{to:?}]\nfrom = {from:?}\nsmtp = \"sendmail\"\n"
        )
    };
    check_error(
        &email("newshound (alerts) <a@example.org>", "b@example.org"),
        "DIR/newshound.toml:3:6: channel `desk`: `to`: \"newshound (alerts) <a@example.org>\" \
         is not an email address (write `name@example.org` or `Name <name@example.org>`, a \
         name holding punctuation in double quotes)",
    );
    check_error(
        &email("a@example.org, b@example.org", "b@example.org"),
        "DIR/newshound.toml:3:6: channel `desk`: `to`: \"a@example.org, b@example.org\" holds \
         more than one address: give each its own string, as in [\"a@example.org\", \
         \"b@example.org\"]",
    );
    check_error(
        &email("a@example.org", "alerts@example..org"),
        "DIR/newshound.toml:4:8: channel `desk`: `from`: \"alerts@example..org\" is not an \
         email address (write `name@example.org` or `Name <name@example.org>`, a name \
         holding punctuation in double quotes)",
    );
    check_error(
        &email("a@-example.org", "b@example.org"),
        "DIR/newshound.toml:3:6: channel `desk`: `to`: \"a@-example.org\" is not an email \
         address (its domain is not valid)",
    );
    check_error(
        &email("Desk <a@example.org", "b@example.org"),
        "DIR/newshound.toml:3:6: channel `desk`: `to`: \"Desk <a@example.org\" has unbalanced \
         angle brackets",
    );
    // What is written right loads as the messages write it, the domain in ASCII.
    let ws = Workspace::new(&email(
        "Night desk <desk@ПРИМЕР.рф>",
        "\"Desk, Night\" <b@example.org>",
    ));
    let config = newshound::config::Config::load(&ws.config()).unwrap();
    let newshound::config::ChannelKind::Email(email) = &config.channels["desk"].kind else {
        panic!()
    };
    assert_eq!(email.to, ["Night desk <desk@xn--e1afmkfd.xn--p1ai>"]);
    assert_eq!(email.from, "\"Desk, Night\" <b@example.org>");
}

#[test]
fn digests_are_a_window_or_a_time_of_day() {
    let email = |digest: &str| {
        format!(
            "[channel.desk]\nkind = \"email\"\nto = [\"a@example.org\"]\nfrom = \"b@example.org\"\nsmtp = \"sendmail\"\ndigest = \"{digest}\"\n"
        )
    };
    let loaded = |digest: &str| {
        let ws = Workspace::new(&email(digest));
        let config = newshound::config::Config::load(&ws.config()).unwrap();
        let newshound::config::ChannelKind::Email(email) = &config.channels["desk"].kind else {
            panic!()
        };
        email.digest
    };
    use newshound::config::Digest;
    let time = |h, m| chrono::NaiveTime::from_hms_opt(h, m, 0).unwrap();
    assert_eq!(
        loaded("15m"),
        Some(Digest::Every(std::time::Duration::from_secs(900)))
    );
    assert_eq!(
        loaded("daily"),
        Some(Digest::Daily {
            at: time(8, 0),
            utc: false
        })
    );
    assert_eq!(
        loaded("daily 18:45"),
        Some(Digest::Daily {
            at: time(18, 45),
            utc: false
        })
    );
    assert_eq!(
        loaded("daily 07:30 UTC"),
        Some(Digest::Daily {
            at: time(7, 30),
            utc: true
        })
    );
    for bad in ["daily 25:00", "daily 7", "dailyish", "daily 07:30 CET"] {
        check_error(
            &email(bad),
            &format!(
                "DIR/newshound.toml:6:10: channel `desk`: `digest` is a window (\"15m\", \"1h\"), \"daily\" (at 08:00), or \"daily HH:MM\" in the host's time zone (\"daily HH:MM UTC\" in UTC), not {bad:?}"
            ),
        );
    }
    check_error(
        &email("soon"),
        "DIR/newshound.toml:6:10: `channel.desk.digest`: bad duration \"soon\" (expected number at 0); write e.g. \"90s\", \"10m\", \"1h\", \"3d\"",
    );
}

#[test]
fn secrets_never_reach_debug_output() {
    let ws = Workspace::new("");
    ws.write("smtp.secret", "hunter2-very-secret\n");
    let config = "[channel.desk]\nkind = \"email\"\nto = [\"a@example.org\"]\nfrom = \"b@example.org\"\nsmtp = \"smtp://mail.example.org\"\npassword_file = \"smtp.secret\"\n";
    ws.write("newshound.toml", config);
    let loaded = newshound::config::Config::load(&ws.config()).unwrap();
    let debug = format!("{loaded:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    let newshound::config::ChannelKind::Email(email) = &loaded.channels["desk"].kind else {
        panic!()
    };
    let secret = email.password.as_ref().unwrap().read().unwrap();
    assert!(!format!("{secret:?}").contains("hunter2"));
    use secrecy::ExposeSecret;
    assert_eq!(secret.expose_secret(), "hunter2-very-secret");
}

#[test]
fn check_says_where_each_channel_sends_without_a_webhooks_secret_path() {
    let ws = Workspace::new(concat!(
        "[channel.desk]\nkind = \"email\"\nto = [\"a@example.org\", \"b@example.org\"]\n",
        "from = \"c@example.org\"\nsmtp = \"smtps://mail.example.org:465\"\ndigest = \"daily 06:00 UTC\"\n",
        "[channel.hook]\nkind = \"webhook\"\nurl = \"https://hooks.example.org/services/T0/SECRET\"\n",
        "format = \"slack\"\n",
    ));
    let out = ws.ok(&["check"]);
    assert!(
        out.contains(concat!(
            "    desk (email): to a@example.org, b@example.org via smtps://mail.example.org:465; ",
            "a digest a day at 06:00 UTC\n",
            "    hook (webhook): slack to https://hooks.example.org/…\n"
        )),
        "{out}"
    );
    assert!(!out.contains("SECRET"), "{out}");
}

#[test]
fn check_prints_a_summary() {
    let ws = Workspace::new(&format!(
        "{FEED}name = \"Example\"\ntags = [\"europe\"]\n[channel.console]\nkind = \"log\"\n[[rule]]\nname = \"Peskov\"\nquery = \"Peskov\"\nfeeds = [\"tag:europe\"]\n"
    ));
    let out = ws.ok(&["check"]);
    assert!(
        out.contains("feeds: 1\n    https://example.org/feed (Example), every 10m\n"),
        "{out}"
    );
    assert!(out.contains("channels: 1\n    console (log)\n"), "{out}");
    assert!(
        out.contains("\n  health notices: none (`[fetch] health_channels` names the channels told of failing feeds and alert channels; until then only the log says)\n"),
        "{out}"
    );
    assert!(
        out.contains("rules: 1\n    Peskov: Peskov → console\n"),
        "{out}"
    );
    ws.write(
        "newshound.toml",
        &format!(
            "[alerts]\nfailing_after = \"30m\"\n[fetch]\nhealth_channels = [\"console\"]\n{FEED}\
             [[feed]]\nurl = \"https://example.org/monthly\"\nquiet_after = \"60d\"\n\
             [[feed]]\nurl = \"https://example.org/archive\"\nquiet_after = \"0s\"\n\
             max_body = \"64MiB\"\n\
             [channel.console]\nkind = \"log\"\n"
        ),
    );
    let out = ws.ok(&["check"]);
    assert!(
        out.contains(
            "\n    https://example.org/monthly, every 10m, quiet after 60days\n    \
             https://example.org/archive, every 10m, never quiet, bodies up to 64.0 MiB\n"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "\n  health notices: to console, of a feed failing for 1day or answering without a \
             new story for 7days and an alert channel for 30m\n"
        ),
        "{out}"
    );
}

#[test]
fn check_names_secrets_it_cannot_read() {
    let ws = Workspace::new(&format!(
        "{FEED}[channel.desk]\nkind = \"email\"\nto = [\"d@example.org\"]\nfrom = \"n@example.org\"\n\
         smtp = \"smtp://127.0.0.1:25\"\nusername = \"u\"\npassword_file = \"smtp.secret\"\n\
         [channel.ops]\nkind = \"webhook\"\nurl = \"https://hooks.example.org/x\"\nsecret_file = \"hook.secret\"\n"
    ));
    ws.write("hook.secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n");
    let out = ws.ok(&["check"]);
    let notes: Vec<&str> = out.lines().filter(|l| l.contains("note:")).collect();
    assert_eq!(notes.len(), 1, "{out}");
    assert!(
        notes[0].starts_with("  note: channel `desk`: reading the secret file ")
            && notes[0].contains("smtp.secret: No such file"),
        "{out}"
    );
    ws.write("smtp.secret", "hunter2\n");
    let out = ws.ok(&["check"]);
    assert!(!out.contains("note:"), "{out}");
    assert!(!out.contains("hunter2"), "{out}");
}

#[test]
fn the_example_config_is_valid() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/newshound.toml");
    let out = newshound(&["--config", example.to_str().unwrap(), "check"], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let config = newshound::config::Config::load(&example).unwrap();
    let names: Vec<&str> = config.rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["Peskov", "Ukraine talks", "Embassy reopening"]);
    assert!(config.feeds.len() >= 4);
}

#[test]
fn a_missing_config_file_is_a_clear_error() {
    let out = newshound(&["--config", "/nonexistent/newshound.toml", "check"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).starts_with("newshound: /nonexistent/newshound.toml:1:1: cannot read the file: No such file or directory"), "{}", stderr(&out));
    assert!(
        stderr(&out).ends_with(
            "\nnewshound: name the configuration with --config PATH or NEWSHOUND_CONFIG; \
             config/newshound.toml in newshound's source is an annotated example\n"
        ),
        "{}",
        stderr(&out)
    );
    // A file that is there but cannot be read gets no such hint.
    let dir = tempfile::tempdir().unwrap();
    let out = newshound(&["--config", dir.path().to_str().unwrap(), "check"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(!stderr(&out).contains("--config PATH"), "{}", stderr(&out));
}

/// A config saved in a legacy encoding is pointed at where it stops being UTF-8.
#[test]
fn a_config_not_in_utf8_says_where_and_what_to_do() {
    let ws = Workspace::new("");
    let text = "[[rule]]\nname = \"Песков\"\nquery = \"Песков\"\n";
    let cp1251 = encoding_rs::WINDOWS_1251.encode(text).0.into_owned();
    std::fs::write(ws.config(), cp1251).unwrap();
    let out = ws.run(&["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).trim_end(),
        format!(
            "newshound: {}:2:9: the file is not UTF-8, which TOML must be: save it as UTF-8",
            ws.config().display()
        )
    );
}
