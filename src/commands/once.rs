//! `newshound once`: one pass over every feed — fetch, match, store — then deliver
//! every alert that is due (waiting for retries up to a deadline), and print a summary.

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use anyhow::Context;

use crate::alert::{Clock, Deliverer};
use crate::config::{Config, Feed};
use crate::daemon::OUTAGE_SERVERS;
use crate::fetch::Fetcher;
use crate::ingest::{CompiledRules, FeedOutcome, FeedReport, run_pass};
use crate::lockfile::{self, LockFile};
use crate::store::{IngestOutcome, Store, StoreHandle, unix_now};
use crate::story::counted;

/// How long `once` keeps delivering (and waiting for retries) after the fetch pass.
pub const DELIVERY_DEADLINE: i64 = 30;

/// A newer newshound's `once` beside a daemon of the older version would migrate the
/// database under it, and that daemon could not start again on the migrated file: refused,
/// while the daemon runs. (Its own start takes the lock before it migrates.)
fn refuse_to_migrate_under_a_daemon(database: &std::path::Path) -> anyhow::Result<()> {
    let Some((found, known)) = crate::store::schema_of(database).filter(|(f, k)| f < k) else {
        return Ok(());
    };
    let daemon = LockFile::beside(database, lockfile::DAEMON);
    if daemon.held_elsewhere() {
        anyhow::bail!(
            "the database {} has schema version {found}, older than this newshound's \
             ({known}), and a `newshound run` is using it (it holds {}): migrating it now \
             would keep that daemon from starting again. Restart the daemon with this \
             newshound first (it migrates the database), or stop it",
            database.display(),
            daemon.display()
        );
    }
    Ok(())
}

/// Runs one pass — over every feed, or `only` these (gone ones tried again). Errors
/// are fatal (the database is unusable); feed failures are not. A feed the database
/// fails to store fails the pass too, but only after the other feeds are stored, the
/// alerts delivered and the summary printed.
pub async fn once(
    mut config: Config,
    only: Option<Vec<Feed>>,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    refuse_to_migrate_under_a_daemon(&config.storage.path)?;
    let mut store = Store::open_for(&config)?;
    crate::daemon::log_rebased(store.rebase_future(unix_now())?);
    crate::daemon::log_warnings(&config, &store.stored()?);
    let replayed = crate::ingest::replay_new_rules(&mut store, &config, unix_now())?;
    if replayed.stories > 0 {
        writeln!(
            out,
            "rules added or changed: {}, matched against {} stories stored in the last {}: {} hits, {} alerts queued",
            replayed.rules,
            replayed.stories,
            crate::config::shown_duration(config.alerts.replay),
            replayed.hits,
            replayed.alerts
        )?;
    }
    if let Some(only) = only {
        let urls: Vec<&str> = only.iter().map(|f| f.url.as_str()).collect();
        if store.revive_feeds(&urls, unix_now())? > 0 {
            tracing::info!("trying again feeds that answered 410 Gone before");
        }
        config.feeds = only;
    }
    let store = StoreHandle::spawn(store);
    let fetcher = Fetcher::new(&config.fetch).context("setting up the HTTP client")?;
    let rules = Arc::new(CompiledRules::new(&config.rules));
    let config = Arc::new(config);
    let now = unix_now();

    let terminal = std::io::stderr().is_terminal();
    let bar = indicatif::ProgressBar::new(config.feeds.len() as u64);
    if terminal {
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} feeds {msg}")
                .expect("valid progress template"),
        );
    } else {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let progress = |report: &FeedReport| {
        bar.inc(1);
        if !terminal {
            // Plain lines for logs and pipes: one per feed as it finishes.
            eprintln!("{}", feed_line(report));
        }
    };
    let (reports, database_error) =
        run_pass(config.clone(), rules, fetcher, store.clone(), now, progress).await?;
    bar.finish_and_clear();

    let deliverer = Deliverer::new(config.clone(), store.clone(), Clock::System)?;
    let delivery = deliverer
        .deliver_until(unix_now() + DELIVERY_DEADLINE)
        .await?;
    let keep = config.storage.keep;
    let (pruned, forgotten) = store.call(move |s| s.prune(now, keep)).await?;
    let (pending, failed, dead) = store.call(|s| s.outbox_counts()).await?;

    let mut total = IngestOutcome::default();
    let (mut ok, mut not_modified, mut skipped) = (0, 0, 0);
    let mut failures = Vec::new();
    for report in &reports {
        match &report.outcome {
            FeedOutcome::Ingested { outcome, .. } => {
                ok += 1;
                total += *outcome;
            }
            FeedOutcome::NotModified => not_modified += 1,
            FeedOutcome::Skipped => skipped += 1,
            FeedOutcome::Failed { error, .. } => failures.push((report, error)),
        }
    }
    writeln!(
        out,
        "feeds: {} fetched, {ok} ok, {not_modified} not modified, {} failed{}",
        reports.len(),
        failures.len(),
        if skipped > 0 {
            format!(", {skipped} gone (not fetched: `newshound once --feed URL` tries one again)")
        } else {
            String::new()
        }
    )?;
    for report in reports.iter().filter(|r| r.moved_to.is_some()) {
        writeln!(
            out,
            "  moved: {} → {}: fetched there; update the config to match",
            report.url,
            report.moved_to.as_deref().unwrap_or_default()
        )?;
    }
    for report in &reports {
        if let FeedOutcome::Ingested {
            outcome:
                IngestOutcome {
                    possible_gap: Some(gap),
                    ..
                },
            ..
        } = &report.outcome
        {
            writeln!(out, "  possible gap: {}: {}", report.url, gap.describe(now))?;
        }
    }
    for report in &reports {
        if let FeedOutcome::Ingested {
            read_in_part: Some(part),
            ..
        } = &report.outcome
        {
            writeln!(
                out,
                "  read in part: {}: {part}; what follows is not read",
                report.url
            )?;
        }
    }
    // (Read without counting each feed's stories, which takes time with its history.)
    let urls: Vec<String> = config.feeds.iter().map(|f| f.url.to_string()).collect();
    let rows = store
        .call(move |s| {
            urls.iter()
                .filter_map(|u| s.feed_for_fetch(u).transpose())
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
    let quiet_since = super::quiet_since(&config, now);
    for row in &rows {
        if let Some((since, after)) = quiet_since(row) {
            writeln!(
                out,
                "  quiet: {}: {}",
                crate::fetch::shown(&row.url),
                super::quiet(since, after)
            )?;
        }
    }
    for (report, error) in &failures {
        if report.name == report.url {
            writeln!(out, "  failed: {}: {error}", report.url)?;
        } else {
            writeln!(out, "  failed: {} ({}): {error}", report.url, report.name)?;
        }
    }
    if let Some(servers) = no_server_reached(&reports) {
        writeln!(
            out,
            "  no feed reached its server ({servers} servers: no address, no connection or no answer in time): this host's network, or its DNS, may be down"
        )?;
    }
    writeln!(
        out,
        "stories: {} new, {} updated; hits: {}; alerts queued: {}",
        total.new_stories, total.updated_stories, total.new_hits, total.alerts_queued
    )?;
    if pruned + forgotten > 0 {
        writeln!(
            out,
            "retention: {pruned} old stories without hits pruned, {forgotten} forgotten"
        )?;
    }
    writeln!(
        out,
        "alerts: {} delivered, {} failed for good; {pending} pending, {failed} awaiting retry, {dead} dead in all",
        delivery.delivered, delivery.dead
    )?;
    let waiting = store.call(|s| s.waiting()).await?;
    for w in waiting {
        if config.channel_kind(&w.channel).is_none() {
            writeln!(
                out,
                "  {0}: {1} waiting for this channel, which is not in the configuration (sent once it is back; `newshound requeue --channel {0} --to CHANNEL` moves them)",
                w.channel, w.count
            )?;
            continue;
        }
        writeln!(
            out,
            "  {}: {} waiting, next attempt {}{}",
            w.channel,
            w.count,
            super::format_time(w.next_attempt),
            w.last_error
                .map(|e| format!(" (last error: {e})"))
                .unwrap_or_default()
        )?;
    }
    // A feed the database could not store fails the pass once it is told.
    match database_error {
        Some(error) => Err(error.into()),
        None => Ok(()),
    }
}

fn feed_line(report: &FeedReport) -> String {
    match &report.outcome {
        FeedOutcome::Ingested {
            outcome,
            stories,
            repairs,
            read_in_part,
        } => format!(
            "ok           {}: {}, {} new, {}{}",
            report.url,
            counted(*stories, "story", "stories"),
            outcome.new_stories,
            counted(outcome.new_hits, "hit", "hits"),
            match (repairs.is_empty(), read_in_part) {
                (_, Some(_)) => " (read in part: the document breaks off)",
                (false, None) => " (repaired)",
                (true, None) => "",
            }
        ),
        FeedOutcome::NotModified => format!("not_modified {}", report.url),
        FeedOutcome::Skipped => format!("gone         {} (not fetched)", report.url),
        FeedOutcome::Failed { error, .. } => format!("error        {}: {error}", report.url),
    }
}

/// How many servers a pass's fetches tried, when every fetch failed before reaching its
/// server and they were [`OUTAGE_SERVERS`] or more: many servers all unreachable at once
/// speak of this host's network, not of theirs.
fn no_server_reached(reports: &[FeedReport]) -> Option<usize> {
    let mut servers = std::collections::HashSet::new();
    for report in reports {
        match &report.outcome {
            FeedOutcome::Failed {
                unreachable: true, ..
            } => {
                let url = url::Url::parse(&report.url).ok()?;
                servers.insert(crate::ingest::host_key(&url, report.moved_to.as_deref()));
            }
            FeedOutcome::Skipped => {}
            _ => return None,
        }
    }
    (servers.len() >= OUTAGE_SERVERS).then_some(servers.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_is_not_migrated_under_a_running_daemon() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("newshound.db");
        let allowed = || refuse_to_migrate_under_a_daemon(&db).is_ok();
        assert!(allowed(), "no database yet");
        drop(Store::open(&db).unwrap());
        let lock_path = dir.path().join("newshound.db-daemon.lock");
        let daemon = std::fs::File::create(&lock_path).unwrap();
        daemon.lock().unwrap();
        assert!(
            allowed(),
            "a current database beside a daemon: nothing to migrate"
        );

        let conn = rusqlite::Connection::open(&db).unwrap();
        let known: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        conn.pragma_update(None, "user_version", known - 1).unwrap();
        let refused = refuse_to_migrate_under_a_daemon(&db).unwrap_err();
        assert!(
            refused.to_string().starts_with(&format!(
                "the database {} has schema version {}, older than this newshound's ({known}), \
                 and a `newshound run` is using it (it holds {}): ",
                db.display(),
                known - 1,
                lock_path.display()
            )),
            "{refused}"
        );
        daemon.unlock().unwrap();
        assert!(allowed(), "the daemon stopped, its lock file left");
        drop(daemon);
        std::fs::remove_file(&lock_path).unwrap();
        assert!(allowed(), "no lock file");
        assert!(!lock_path.exists(), "not created by the check");
    }
}
