//! The commands around ingest: `test-rule` on stored stories and files, `import-opml`,
//! `check --database`, `backup`, `once --feed`, and a database that cannot be opened.

use super::*;

#[test]
fn test_rule_replays_stored_stories_and_reads_feed_files() {
    let server = feed_server();
    let ws = Workspace::new(&config_for(&[
        server.url("/world.rss"),
        server.url("/wire.atom"),
    ]));
    ws.ok(&["once"]);
    let out = ws.run(&[
        "test-rule",
        "title:weather",
        "--stored",
        "--since",
        "100000d",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("  title: [[Weather]]: a mild week ahead\n"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).ends_with("1 of 4 stories matched\n"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        ws.run(&["test-rule", "zebra", "--stored"]).status.code(),
        Some(1)
    );
    let out = ws.run(&[
        "test-rule",
        "title:weather",
        "--stored",
        "--since",
        "500000000000y",
    ]);
    assert!(
        stdout(&out).ends_with("1 of 4 stories matched\n"),
        "{}",
        stdout(&out)
    );

    let file = ws.dir.path().join("wire.atom");
    std::fs::write(&file, fixture("wire.atom")).unwrap();
    let json = ws.json(&["test-rule", "author:anna", "--file", file.to_str().unwrap()]);
    assert_eq!(json["matched"], true);
    assert_eq!(json["stories"][0]["spans"][0]["text"], "Anna");

    // A file that reads only with repairs says so on stderr: one cut short holds more
    // stories than it shows. Stdout stays the JSON.
    let cut = ws.dir.path().join("cut.rss");
    std::fs::write(
        &cut,
        "<rss version=\"2.0\"><channel><title>Cut</title>\
         <item><title>Peskov &amp; the talks</title><guid>c-1</guid></item>\
         <item><title>Peskov again</title><guid>c-2</guid></item><item><title>Pes",
    )
    .unwrap();
    let out = ws.run(&[
        "test-rule",
        "Peskov",
        "--json",
        "--file",
        cut.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["stories"].as_array().unwrap().len(), 2);
    assert!(
        stderr(&out).starts_with(&format!(
            "newshound: {}: read with repairs: the document breaks off after 2 whole entries",
            cut.display()
        )),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&ws.run(&["test-rule", "Anna", "--file", file.to_str().unwrap()])).is_empty(),
        "a feed read as it is written has nothing to tell"
    );

    // A story's time reads the same from a file as from the database.
    let world = ws.dir.path().join("world.rss");
    std::fs::write(&world, fixture("world.rss")).unwrap();
    let from_file = ws.ok(&[
        "test-rule",
        "title:weather",
        "--file",
        world.to_str().unwrap(),
    ]);
    assert!(
        from_file.starts_with("Weather: a mild week ahead (World Desk, 2026-11-26T07:00:00Z)\n"),
        "{from_file}"
    );
    let stored = ws.ok(&[
        "test-rule",
        "title:weather",
        "--stored",
        "--since",
        "100000d",
    ]);
    assert!(
        stored.starts_with(from_file.lines().next().unwrap()),
        "{stored}"
    );

    let url = server.url("/world.rss");
    let live = ws.run(&["test-rule", "embass* NEAR/3 reopen", "--url", &url]);
    assert_eq!(live.status.code(), Some(0), "{}", stderr(&live));
    assert!(
        stdout(&live).contains("[[Embassy]] in Kyiv to [[reopen]] next month"),
        "{}",
        stdout(&live)
    );
}

/// What `import-opml` prints for an OPML file of these bytes.
fn imported(opml: &[u8]) -> String {
    let ws = Workspace::new("");
    let path = ws.dir.path().join("subs.opml");
    std::fs::write(&path, opml).unwrap();
    ws.ok(&["import-opml", path.to_str().unwrap()])
}

#[test]
fn import_opml_prints_feed_entries_tagged_with_their_folders() {
    let out = imported(
        r#"<?xml version="1.0"?><opml version="1.0"><body>
           <outline text="World"><outline text="BBC World" type="rss" xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml"/>
             <outline text="Europe"><outline text="Meduza" xmlUrl="https://meduza.io/rss/all"/></outline></outline>
           <outline text="Russia"><outline text="Meduza" xmlUrl="https://meduza.io/rss/all"/></outline>
           <outline text="Unfiled" xmlUrl="https://unfiled.example/feed"/>
           </body></opml>"#
            .as_bytes(),
    );
    assert_eq!(
        out,
        "# 3 feeds imported from OPML; paste into newshound.toml\n\
         [[feed]]\nurl = \"https://feeds.bbci.co.uk/news/world/rss.xml\"\nname = \"BBC World\"\ntags = [\"World\"]\n\n\
         [[feed]]\nurl = \"https://meduza.io/rss/all\"\nname = \"Meduza\"\ntags = [\"World\", \"Europe\", \"Russia\"]\n\n\
         [[feed]]\nurl = \"https://unfiled.example/feed\"\nname = \"Unfiled\"\n"
    );
    // What it prints is a valid config, whose tags rules can name.
    let ws2 = Workspace::new(&format!(
        "{out}\n[[rule]]\nname = \"Peskov\"\nquery = \"Peskov\"\nfeeds = [\"tag:Russia\"]\n"
    ));
    assert!(ws2.ok(&["check"]).contains("feeds: 3"));
}

#[test]
fn import_opml_leaves_out_the_feeds_the_config_lists_already() {
    // The config lists one feed under another scheme, and one as the OPML writes it.
    let ws = Workspace::new(
        "[[feed]]\nurl = \"http://feeds.bbci.co.uk/news/world/rss.xml\"\n\
         [[feed]]\nurl = \"https://meduza.io/rss/all\"\n",
    );
    let opml = |outlines: &str| {
        ws.write(
            "subs.opml",
            &format!("<?xml version=\"1.0\"?><opml version=\"1.0\"><body>{outlines}</body></opml>"),
        );
        let path = ws.dir.path().join("subs.opml");
        let output = ws.run(&["import-opml", path.to_str().unwrap()]);
        assert_exit(&output, 0);
        (stdout(&output), stderr(&output))
    };
    let (out, err) = opml(
        r#"<outline text="BBC World" xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml"/>
           <outline text="Meduza" xmlUrl="https://meduza.io/rss/all"/>
           <outline text="New" xmlUrl="https://new.example/feed"/>"#,
    );
    assert_eq!(
        out,
        "# 1 feed imported from OPML; paste into newshound.toml (2 feeds the config lists \
         already are left out)\n[[feed]]\nurl = \"https://new.example/feed\"\nname = \"New\"\n"
    );
    assert_eq!(
        err,
        "newshound: left out https://feeds.bbci.co.uk/news/world/rss.xml: the config lists it \
         already\nnewshound: left out https://meduza.io/rss/all: the config lists it already\n"
    );
    // What is left pastes into the config as it is.
    let config = std::fs::read_to_string(ws.config()).unwrap();
    ws.write("newshound.toml", &format!("{config}{out}"));
    assert!(ws.ok(&["check"]).contains("feeds: 3"));
    let (out, _) = opml(r#"<outline text="Meduza" xmlUrl="https://meduza.io/rss/all"/>"#);
    assert_eq!(
        out,
        "# nothing to import: the config lists the OPML's one feed already\n"
    );
    // A config that cannot be read leaves nothing out, and says so.
    ws.write("newshound.toml", "[fetch]\nintervall = \"1m\"\n");
    let (out, err) = opml(r#"<outline text="Meduza" xmlUrl="https://meduza.io/rss/all"/>"#);
    assert!(out.contains("url = \"https://meduza.io/rss/all\""), "{out}");
    assert!(
        err.contains("unknown key `fetch.intervall`")
            && err.ends_with("(the config cannot be read, so feeds it lists are not left out)\n"),
        "{err}"
    );
}

/// `newshound hits | head`: a reader that stops reading ends the command quietly, as
/// it ends any Unix tool, with neither an error nor a panic.
#[test]
fn output_to_a_reader_that_went_away_ends_quietly() {
    let ws = Workspace::new("[[feed]]\nurl = \"http://127.0.0.1:9/feed\"\n");
    ws.run(&["once"]); // the database `feeds` reads
    let outlines: String = (0..3000)
        .map(|i| format!("<outline text=\"Feed {i}\" xmlUrl=\"https://e{i}.example/feed\"/>\n"))
        .collect();
    ws.write(
        "big.opml",
        &format!("<opml><body>\n{outlines}</body></opml>"),
    );
    let opml = ws.dir.path().join("big.opml");
    let config = ws.config();
    for args in [
        vec!["import-opml", opml.to_str().unwrap()],
        vec!["--config", config.to_str().unwrap(), "check"],
        vec!["--config", config.to_str().unwrap(), "feeds", "--json"],
    ] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_newshound"))
            .args(&args)
            .env_remove("NEWSHOUND_CONFIG")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before reading a line.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            (out.status.code(), stderr(&out).as_str()),
            (Some(0), ""),
            "{args:?}"
        );
    }
}

/// An OPML file written by a reader that kept the browser's `feed:` addresses imports
/// them as the http(s) addresses they stand for.
#[test]
fn import_opml_reads_feed_addresses_as_http() {
    let out = imported(
        br#"<opml version="2.0"><body>
           <outline text="A" xmlUrl="feed://a.example/rss"/>
           <outline text="B" xmlUrl="feed:https://b.example/rss"/>
           </body></opml>"#,
    );
    assert_eq!(
        out,
        "# 2 feeds imported from OPML; paste into newshound.toml\n\
         [[feed]]\nurl = \"http://a.example/rss\"\nname = \"A\"\n\n\
         [[feed]]\nurl = \"https://b.example/rss\"\nname = \"B\"\n"
    );
}

/// An OPML file exported in a legacy encoding or UTF-16 is read as feeds are (its
/// declaration's encoding, its byte-order mark), not as mangled UTF-8.
#[test]
fn import_opml_reads_the_files_encoding() {
    let opml = |encoding: &str| {
        format!(
            "<?xml version=\"1.0\" encoding=\"{encoding}\"?>\n<opml version=\"1.0\"><body>\
             <outline text=\"Новости\" xmlUrl=\"https://ru.example/rss\"/></body></opml>\n"
        )
    };
    let cp1251 = encoding_rs::WINDOWS_1251
        .encode(&opml("windows-1251"))
        .0
        .into_owned();
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in opml("UTF-16").encode_utf16() {
        utf16.extend(unit.to_le_bytes());
    }
    for (name, bytes) in [("cp1251", cp1251), ("utf16", utf16)] {
        let out = imported(&bytes);
        assert!(
            out.contains("url = \"https://ru.example/rss\"\nname = \"Новости\"\n"),
            "{name}: {out}"
        );
    }
}

/// A feed in the config that was never fetched is listed as new, by its `name` as the
/// fetched ones are.
#[test]
fn feeds_not_fetched_yet_are_listed_by_their_names() {
    let ws = Workspace::new(
        "[[feed]]\nurl = \"https://example.org/feed\"\nname = \"Desk\"\n\
         [[feed]]\nurl = \"https://example.org/other\"\n",
    );
    let table = ws.ok(&["feeds"]);
    let rows: Vec<&str> = table.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{table}");
    assert!(
        rows[0].starts_with("new ") && rows[0].ends_with("  Desk <https://example.org/feed>"),
        "{table}"
    );
    assert!(rows[1].ends_with("  https://example.org/other"), "{table}");
    let json = ws.json(&["feeds"]);
    let names: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Desk", "https://example.org/other"]);
}

#[test]
fn commands_that_read_the_database_never_create_it() {
    let ws = Workspace::new("[[feed]]\nurl = \"http://127.0.0.1:9/feed\"\n");
    let path = ws.dir.path().join("newshound.db");
    let note = format!(
        "newshound: there is no database at {} yet: nothing has been stored with this \
         configuration (`once` or `run` creates it)\n",
        path.display()
    );
    for (args, code, shown) in [
        (&["feeds"][..], 0, "http://127.0.0.1:9/feed"),
        (&["hits"], 0, "no hits"),
        (&["hits", "--json"], 0, "[]"),
        (
            &["test-rule", "Peskov", "--stored"],
            1,
            "0 of 0 stories matched",
        ),
        (&["requeue"], 0, "0 dead alerts put back in the queue"),
    ] {
        let out = ws.run(args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
        assert!(stdout(&out).contains(shown), "{args:?}: {}", stdout(&out));
        assert_eq!(stderr(&out), note, "{args:?}");
        assert!(!path.exists(), "{args:?} created the database");
    }
    // Once there is one, it is read and nothing more is said.
    ws.run(&["once"]);
    assert!(path.exists());
    let out = ws.run(&["feeds"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stderr(&out), "");
    assert!(stdout(&out).contains("error "), "{}", stdout(&out));

    // One of an older schema is not migrated under the daemon of its version (which could
    // not start again on it): `once` or `run` does that.
    let version = |conn: &rusqlite::Connection| -> i64 {
        conn.query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap()
    };
    let conn = rusqlite::Connection::open(&path).unwrap();
    let current = version(&conn);
    conn.pragma_update(None, "user_version", current - 1)
        .unwrap();
    for (args, code) in [
        (&["feeds"][..], 1),
        (&["hits"], 1),
        (&["test-rule", "x", "--stored"], 2), // exits like grep
        (&["requeue"], 1),
    ] {
        let out = ws.run(args);
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        assert!(
            stderr(&out).starts_with(&format!(
                "newshound: the database {} has schema version {}; this newshound reads \
                 version {current}, to which `once` or `run` brings it",
                path.display(),
                current - 1
            )),
            "{args:?}: {}",
            stderr(&out)
        );
        assert_eq!(version(&conn), current - 1, "{args:?} migrated it");
    }
}

#[test]
fn once_does_not_migrate_the_database_of_a_running_daemon() {
    let ws = Workspace::new("[[feed]]\nurl = \"http://127.0.0.1:9/feed\"\n");
    ws.run(&["once"]);
    let path = ws.dir.path().join("newshound.db");
    // A database an older newshound wrote, and its daemon running (holding its lock).
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version = || -> i64 {
        conn.query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap()
    };
    let current = version();
    conn.pragma_update(None, "user_version", current - 1)
        .unwrap();
    let daemon = std::fs::File::create(ws.dir.path().join("newshound.db-daemon.lock")).unwrap();
    daemon.lock().unwrap();
    let out = ws.run(&["once"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!(
            "has schema version {}, older than this newshound's ({current}), and a `newshound \
             run` is using it",
            current - 1
        )) && stderr(&out).contains("Restart the daemon with this newshound first"),
        "{}",
        stderr(&out)
    );
    assert_eq!(version(), current - 1, "migrated under the daemon");
}

#[test]
fn check_database_reads_the_database_without_changing_it() {
    let server = feed_server();
    let ws = Workspace::new(&config_for(&[server.url("/world.rss")]));
    let db = ws.dir.path().join("newshound.db");
    let out = ws.ok(&["check", "--database"]);
    assert!(
        out.ends_with(&format!(
            "  database: {} does not exist yet; the first run creates it\n",
            db.display()
        )),
        "{out}"
    );
    assert!(!db.exists(), "nothing created");

    ws.ok(&["once"]);
    let out = ws.ok(&["check", "--database"]);
    let line = out.lines().last().unwrap();
    assert!(
        line.starts_with(&format!("  database: {}: sound; schema ", db.display()))
            && line.contains(" (current); feeds 1, stories 3, hits ")
            && line.ends_with(", dead 0"),
        "{out}"
    );

    // Damaged: b-tree pages overwritten (after the WAL is checkpointed into the file).
    let copy = ws.dir.path().join("copy.db");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
    }
    std::fs::copy(&db, &copy).unwrap();
    let mut bytes = std::fs::read(&db).unwrap();
    for page in 1..bytes.len() / 4096 {
        bytes[page * 4096..page * 4096 + 64].fill(0x13);
    }
    std::fs::write(&db, &bytes).unwrap();
    let out = ws.run(&["check", "--database"]);
    assert_exit(&out, 1);
    assert!(
        stdout(&out).contains("  database problem: "),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("is damaged, or not a newshound database: restore it from a backup"),
        "{}",
        stderr(&out)
    );

    // Newer than this newshound.
    std::fs::copy(&copy, &db).unwrap();
    rusqlite::Connection::open(&db)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let out = ws.run(&["check", "--database"]);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("has schema version 99, newer than this newshound knows"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn backup_writes_a_consistent_copy_and_never_overwrites() {
    let server = feed_server();
    let ws = Workspace::new(&config_for(&[server.url("/world.rss")]));
    let copy = ws.dir.path().join("copy.db");
    let copy_arg = copy.to_str().unwrap();
    let none = ws.run(&["backup", copy_arg]);
    assert_eq!(none.status.code(), Some(1));
    assert!(
        stderr(&none).contains("there is no database at "),
        "{}",
        stderr(&none)
    );
    assert!(!ws.dir.path().join("newshound.db").exists(), "none created");

    // The database held open, as a running daemon holds it: what `once` writes stays in
    // the write-ahead log, not yet in the file. The copy holds it all the same.
    let held = newshound::store::Store::open(&ws.dir.path().join("newshound.db")).unwrap();
    ws.ok(&["once"]);
    let wal = std::fs::metadata(ws.dir.path().join("newshound.db-wal")).unwrap();
    assert!(wal.len() > 0, "the stories are in the log");
    // A copy the disk has no room for (files may not grow past 8 KiB) fails and leaves
    // no file behind, so that the same command succeeds once there is room.
    let full = ws
        .command_on_a_full_disk(8, &["backup", copy_arg])
        .output()
        .unwrap();
    assert_eq!(full.status.code(), Some(1), "{}", stderr(&full));
    assert!(
        crate::support::says_disk_full(&stderr(&full)),
        "{}",
        stderr(&full)
    );
    assert!(!copy.exists(), "no partial copy is left");
    let out = ws.ok(&["backup", copy_arg]);
    assert!(out.starts_with("copied the database "), "{out}");
    let copied = newshound::store::Store::open(&copy).unwrap();
    assert_eq!(
        copied.hits(None, 0).unwrap().len(),
        held.hits(None, 0).unwrap().len()
    );
    assert!(!copied.hits(None, 0).unwrap().is_empty());

    let again = ws.run(&["backup", copy_arg]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("exists already; name a new file (nothing is overwritten)"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn once_feed_fetches_the_named_feeds_and_tries_a_gone_one_again() {
    // A feed that answers 410 Gone until it is back.
    let back = Arc::new(Mutex::new(false));
    let flag = back.clone();
    let server = TestServer::start(move |r: &Request| match r.path.as_str() {
        "/world.rss" => Reply::ok("application/rss+xml", fixture("world.rss")),
        "/wire.atom" => Reply::ok("application/atom+xml", fixture("wire.atom")),
        _ if *flag.lock().unwrap() => Reply::ok("application/rss+xml", fixture("world.rss")),
        _ => Reply::status(410),
    });
    let hook = TestServer::start(|_: &Request| Reply::status(200));
    let (world, wire, moved) = (
        server.url("/world.rss"),
        server.url("/wire.atom"),
        server.url("/moved"),
    );
    let ws = Workspace::new(&format!(
        "[fetch]\nhealth_channels = [\"ops\"]\n[channel.ops]\nkind = \"webhook\"\nurl = \"{}\"\n\
         [[feed]]\nurl = \"{world}\"\nname = \"World Desk\"\n\
         [[feed]]\nurl = \"{wire}\"\n[[feed]]\nurl = \"{moved}\"\n",
        hook.url("/hook")
    ));
    let fetched = |path: &str| server.requests().iter().filter(|r| r.path == path).count();

    // By name: that feed only.
    let out = ws.ok(&["once", "--feed", "World Desk"]);
    assert!(out.starts_with("feeds: 1 fetched, 1 ok"), "{out}");
    assert_eq!((fetched("/world.rss"), fetched("/wire.atom")), (1, 0));

    // The gone feed: its 410 is told to the health channels, once.
    let out = ws.ok(&["once", "--feed", &moved]);
    assert!(out.contains("  failed: "), "{out}");
    let notices = hook.json_bodies();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(
        (&notices[0]["type"], &notices[0]["status"]),
        (
            &serde_json::json!("feed_health"),
            &serde_json::json!("gone")
        )
    );
    assert_eq!(
        notices[0]["message"],
        format!(
            "{moved} answered 410 Gone: the server says the feed was removed, and newshound no \
             longer fetches it; replace or remove it in the config (`newshound once --feed \
             {moved}` tries it again)"
        )
    );
    // A whole pass leaves it alone.
    let out = ws.ok(&["once"]);
    assert!(
        out.contains(", 1 gone (not fetched: `newshound once --feed URL` tries one again)"),
        "{out}"
    );
    assert_eq!(fetched("/moved"), 1);

    // Back: named, it is tried again, read, and polled from then on.
    *back.lock().unwrap() = true;
    let out = ws.ok(&["once", "--feed", &moved]);
    assert!(out.starts_with("feeds: 1 fetched, 1 ok"), "{out}");
    let feeds = ws.json(&["feeds"]);
    assert_eq!(feeds[2]["status"], "ok", "{feeds}");
    ws.ok(&["once"]);
    assert_eq!(fetched("/moved"), 3);
    assert_eq!(hook.requests().len(), 1, "the gone notice only");

    // A name no feed has is a usage error.
    let out = ws.run(&["once", "--feed", "Wrold Desk"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).trim_end(),
        "newshound: no configured feed is called \"Wrold Desk\" (by its `name`, its `url` or, \
         unnamed, its own title); `newshound feeds` lists them"
    );
}

#[test]
fn a_rule_added_or_changed_meets_the_stories_already_stored() {
    let server = feed_server();
    let url = server.url("/world.rss");
    let rules = |weather: &str| {
        format!(
            "[alerts]\nmax_age = \"100000d\"\n[[feed]]\nurl = \"{url}\"\n[channel.console]\nkind = \"log\"\n\
             [[rule]]\nname = \"Peskov\"\nquery = 'Peskov'\n{weather}"
        )
    };
    let ws = Workspace::new(&rules(""));
    let out = ws.ok(&["once"]);
    assert!(!out.contains("rules added or changed"), "{out}");
    assert_eq!(
        hit_pairs(&ws),
        [(
            "Peskov".into(),
            "Kremlin spokesman Peskov rejects the proposal".into()
        )]
    );

    // The story is stored and its feed unchanged: only the new rule's replay finds it.
    let with = |rule: &str, query: &str| {
        ws.write(
            "newshound.toml",
            &rules(&format!("[[rule]]\nname = \"{rule}\"\nquery = '{query}'\n")),
        );
        ws.ok(&["once"])
    };
    let out = with("Weather", "weather");
    assert!(
        out.contains("rules added or changed: 1, matched against 3 stories stored in the last 6h: 1 hits, 1 alerts queued"),
        "{out}"
    );
    assert!(out.contains("alerts: 1 delivered"), "{out}");
    let weather = (
        "Weather".to_owned(),
        "Weather: a mild week ahead".to_owned(),
    );
    assert!(hit_pairs(&ws).contains(&weather));

    // Once only; a rule renamed is not new; one whose query changed is, and what it hit
    // before is not alerted again.
    assert!(!ws.ok(&["once"]).contains("rules added or changed"));
    assert!(!with("Forecast", "weather").contains("rules added or changed"));
    let out = with("Weather", "weather OR embassy");
    assert!(
        out.contains("rules added or changed: 1, matched against 3 stories stored in the last 6h: 1 hits, 1 alerts queued"),
        "{out}"
    );
    assert!(hit_pairs(&ws).contains(&(
        "Weather".to_owned(),
        "Embassy in Kyiv to reopen next month".to_owned()
    )));
}

#[test]
fn a_replay_is_limited_to_its_window_and_alerts_only_recent_stories() {
    let server = feed_server();
    let url = server.url("/world.rss");
    let config = |max_age: &str, replay: &str, weather: bool| {
        format!(
            "[alerts]\nmax_age = \"{max_age}\"\nreplay = \"{replay}\"\n[[feed]]\nurl = \"{url}\"\n\
             [channel.console]\nkind = \"log\"\n[[rule]]\nname = \"Peskov\"\nquery = 'Peskov'\n{}",
            if weather {
                "[[rule]]\nname = \"Weather\"\nquery = 'weather'\n"
            } else {
                ""
            }
        )
    };
    // The fixture's stories are dated 2026-11-26: older than a day from now.
    let ws = Workspace::new(&config("1d", "6h", false));
    ws.ok(&["once"]);
    ws.write("newshound.toml", &config("1d", "6h", true));
    let out = ws.ok(&["once"]);
    assert!(out.contains(": 1 hits, 0 alerts queued"), "{out}");

    // With no replay window, the rule is recorded as applied and finds nothing.
    let ws = Workspace::new(&config("100000d", "0s", false));
    ws.ok(&["once"]);
    ws.write("newshound.toml", &config("100000d", "0s", true));
    let out = ws.ok(&["once"]);
    assert!(!out.contains("rules added or changed"), "{out}");
    assert!(!hit_pairs(&ws).iter().any(|(rule, _)| rule == "Weather"));
}

#[test]
fn a_file_that_is_no_database_is_named_and_its_cause_said_once() {
    let ws = Workspace::new("[[feed]]\nurl = \"http://127.0.0.1:9/feed\"\n");
    ws.write("newshound.db", &"not a database at all. ".repeat(10));
    let path = ws.dir.path().join("newshound.db");
    for command in ["once", "feeds", "hits"] {
        let out = ws.run(&[command]);
        assert_eq!(out.status.code(), Some(1), "{command}");
        assert_eq!(
            stderr(&out),
            format!(
                "newshound: cannot open the database {}: file is not a database\n",
                path.display()
            ),
            "{command}"
        );
    }
}

#[test]
fn hits_of_one_rule_and_a_rule_no_config_or_hit_knows() {
    let server = feed_server();
    let urls = [server.url("/world.rss"), server.url("/cp1251.rss")];
    let ws = Workspace::new(&config_for(&urls));
    ws.ok(&["once"]);
    let rules = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["hits", "--since", "100000d"];
        all.extend_from_slice(args);
        ws.json(&all)
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["rule"].as_str().unwrap().to_owned())
            .collect()
    };
    let every = rules(&[]);
    assert!(every.iter().any(|r| r != "Peskov"), "{every:?}");
    // A span longer than the clock has run reaches back before everything.
    let since_ever = ws.json(&["hits", "--since", "500000000000y"]);
    assert_eq!(since_ever.as_array().unwrap().len(), every.len());
    let peskov = rules(&["--rule", "Peskov"]);
    assert!(
        !peskov.is_empty() && peskov.iter().all(|r| r == "Peskov"),
        "{peskov:?}"
    );

    // A misspelt rule is said to be one, not listed as "no hits".
    let out = ws.run(&["hits", "--rule", "Pesko"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "newshound: no rule is called \"Pesko\", in the config or among the hits stored; the \
         config's rules: Peskov, Ukraine talks, Embassy reopening\n"
    );

    // A rule taken out of the config keeps its stored hits, and they can be listed.
    let without_peskov = config_for(&urls).replace(
        "[[rule]]\nname = \"Peskov\"\nquery = 'Peskov OR Песков'\n",
        "",
    );
    assert!(!without_peskov.contains("name = \"Peskov\""));
    ws.write("newshound.toml", &without_peskov);
    assert_eq!(rules(&["--rule", "Peskov"]), peskov);
}

#[test]
fn a_feed_that_brings_nothing_new_is_told_of_and_shown_as_quiet() {
    // One feed lists nothing at all; the other is the same document every time.
    let server = TestServer::start(|r: &Request| match r.path.as_str() {
        "/empty.rss" => Reply::ok(
            "application/rss+xml",
            "<rss version=\"2.0\"><channel><title>Empty</title></channel></rss>",
        ),
        _ => Reply::ok("application/rss+xml", fixture("world.rss")),
    });
    let hook = TestServer::start(|_: &Request| Reply::status(200));
    let (empty, world) = (server.url("/empty.rss"), server.url("/world.rss"));
    let ws = Workspace::new(&format!(
        "[fetch]\nhealth_channels = [\"ops\"]\nquiet_after = \"2s\"\n\
         [channel.ops]\nkind = \"webhook\"\nurl = \"{}\"\n\
         [[feed]]\nurl = \"{empty}\"\n[[feed]]\nurl = \"{world}\"\nquiet_after = \"0s\"\n",
        hook.url("/hook")
    ));
    // Times are stored in whole seconds: a feed first answering at 10.9 s may count as
    // quiet for 2 s at 12.0 s. So "not yet quiet" is asserted only when this much took
    // under a second (a loaded host may take longer), and the next pass waits 3 s.
    let start = std::time::Instant::now();
    ws.ok(&["once"]);
    let fetched = std::time::Instant::now();
    let quiet_since = ws.json(&["feeds"])[0]["quiet_since"].clone();
    if start.elapsed() < std::time::Duration::from_secs(1) {
        assert_eq!(quiet_since, serde_json::Value::Null);
    }
    std::thread::sleep(
        (fetched + std::time::Duration::from_millis(3100))
            .saturating_duration_since(std::time::Instant::now()),
    );
    let out = ws.ok(&["once"]);
    assert_eq!(out.matches("  quiet: ").count(), 1, "{out}");
    assert!(
        out.contains(&format!("  quiet: {empty}: no new story since ")),
        "{out}"
    );
    let notices = hook.json_bodies();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0]["status"], "quiet");
    assert_eq!(notices[0]["feed"]["url"], empty.as_str());
    let message = notices[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "{empty} answers but has brought no new story for longer than 2s (quiet_after): it \
             has listed no story since it first answered, at "
        )),
        "{message}"
    );
    let feeds = ws.json(&["feeds"]);
    assert!(feeds[0]["quiet_since"].is_string(), "{feeds}");
    assert_eq!(
        feeds[1]["quiet_since"],
        serde_json::Value::Null,
        "never quiet"
    );
    let table = ws.ok(&["feeds"]);
    assert_eq!(
        table.matches("quiet: no new story since").count(),
        1,
        "{table}"
    );
    assert!(
        table.contains(" (longer than its quiet_after, 2s): the site may have moved its feed\n"),
        "{table}"
    );
    ws.ok(&["once"]);
    assert_eq!(hook.requests().len(), 1, "told once");
}
