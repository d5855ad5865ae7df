//! What the running daemon says of its state: systemd's status line, and the log at its
//! start and reloads.

use super::*;

#[test]
fn the_status_line_counts_failing_and_quiet_feeds() {
    // The live feed lists nothing, and may be quiet for a second.
    let feed = LiveFeed::start();
    let refused = format!(
        "http://127.0.0.1:{}/feed",
        crate::support::RefusingPort::new().port()
    );
    let ws = Workspace::new(&format!(
        "{}[[feed]]\nurl = \"{refused}\"\n",
        config(&feed.server.url("/feed"), PESKOV).replace(
            "interval = \"2s\"\n",
            "interval = \"2s\"\nquiet_after = \"1s\"\n"
        )
    ));
    let mut daemon = Daemon::start(&ws);
    daemon.wait_for("READY", |l| l == "READY=1");
    let status = daemon.wait_for("a failing feed in STATUS", |l| {
        l.starts_with("STATUS=") && l.contains("failing")
    });
    assert!(status.starts_with("STATUS=feeds: 2 (1 failing"), "{status}");
    let status = daemon.wait_for("a quiet feed in STATUS", |l| {
        l.starts_with("STATUS=") && l.contains("quiet")
    });
    assert!(
        status.starts_with("STATUS=feeds: 2 (1 failing, 1 quiet), rules: 1, pending alerts: "),
        "{status}"
    );
}

#[test]
fn the_status_line_counts_dead_alerts_and_names_failing_channels() {
    // A webhook that refuses for good (404): the alert is dead, and `systemctl status`
    // says so until it is requeued.
    let hook = TestServer::start(|_| Reply::status(404));
    let feed = LiveFeed::start();
    feed.add("Peskov speaks");
    let ws = Workspace::new(&format!(
        "{}[channel.ops]\nkind = \"webhook\"\nurl = \"{}\"\n",
        config(
            &feed.server.url("/feed"),
            "[[rule]]\nname = \"Peskov\"\nquery = \"Peskov\"\nchannels = [\"ops\"]\n"
        ),
        hook.url("/hook")
    ));
    let mut daemon = Daemon::start(&ws);
    let status = daemon.wait_for("a dead alert in STATUS", |l| {
        l.starts_with("STATUS=") && l.contains("dead")
    });
    assert!(
        status.ends_with(
            "pending alerts: 0, failing channels: ops, dead alerts: 1 (see `newshound hits`; `newshound requeue`)"
        ),
        "{status}"
    );
    daemon.signal("TERM");
    daemon.child.wait().unwrap();
}

#[test]
fn the_daemon_logs_a_rule_limited_to_no_feed_at_its_start_and_reload() {
    let feed = LiveFeed::start();
    let rule = "[[rule]]\nname = \"Peskov\"\nquery = \"Peskov\"\nfeeds = [\"Wrold Desk\"]\n";
    let ws = Workspace::new(&config(&feed.server.url("/feed"), rule));
    let mut daemon = Daemon::start(&ws);
    daemon.wait_for("READY", |l| l == "READY=1");
    let warning = "rule `Peskov`: no feed is called \"Wrold Desk\"";
    let log = || std::fs::read_to_string(ws.dir.path().join("daemon.log")).unwrap();
    assert_eq!(log().matches(warning).count(), 1, "{}", log());
    ws.write(
        "newshound.toml",
        &config(&feed.server.url("/feed"), &format!("{rule}{KREMLIN}")),
    );
    daemon.signal("HUP");
    daemon.wait_for("the reloaded STATUS", |l| {
        l.starts_with("STATUS=") && l.contains("rules: 2")
    });
    assert_eq!(log().matches(warning).count(), 2, "{}", log());
    daemon.signal("TERM");
    daemon.child.wait().unwrap();
}
