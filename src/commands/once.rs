//! `newshound once`: one pass over every feed — fetch, match, store — then deliver what
//! the log channels owe, and print a summary.

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use anyhow::Context;

use crate::config::{ChannelKind, Config};
use crate::fetch::Fetcher;
use crate::ingest::{CompiledRules, FeedOutcome, FeedReport, run_pass};
use crate::store::{IngestOutcome, Store, StoreHandle, unix_now};

/// Runs one pass. Errors are fatal (the database is unusable); feed failures are not.
pub async fn once(config: Config, out: &mut (dyn Write + Send)) -> anyhow::Result<()> {
    let mut store = Store::open(&config.storage.path)?;
    store.sync_feeds(
        config
            .feeds
            .iter()
            .map(|f| (f.url.as_str(), f.name.as_deref())),
    )?;
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
    let progress = {
        let bar = bar.clone();
        move |report: &FeedReport| {
            bar.inc(1);
            if !terminal {
                // Plain lines for logs and pipes: one per feed as it finishes.
                eprintln!("{}", feed_line(report));
            }
        }
    };
    let reports = run_pass(config.clone(), rules, fetcher, store.clone(), now, progress).await?;
    bar.finish_and_clear();

    let delivered = deliver_log_alerts(&config, &store).await?;
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
            FeedOutcome::Failed(e) => failures.push((report, e)),
        }
    }
    writeln!(
        out,
        "feeds: {} fetched, {ok} ok, {not_modified} not modified, {} failed{}",
        reports.len(),
        failures.len(),
        if skipped > 0 {
            format!(", {skipped} gone (not fetched)")
        } else {
            String::new()
        }
    )?;
    for (report, error) in &failures {
        writeln!(out, "  failed: {} ({}): {error}", report.url, report.name)?;
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
        "alerts: {delivered} delivered to log channels; {pending} pending, {failed} awaiting retry, {dead} dead"
    )?;
    if pending + failed > 0 {
        writeln!(
            out,
            "  email and webhook delivery is not available yet: those alerts stay queued in the database"
        )?;
    }
    Ok(())
}

fn feed_line(report: &FeedReport) -> String {
    match &report.outcome {
        FeedOutcome::Ingested {
            outcome,
            stories,
            repairs,
        } => format!(
            "ok           {}: {stories} stories, {} new, {} hits{}",
            report.url,
            outcome.new_stories,
            outcome.new_hits,
            if repairs.is_empty() {
                String::new()
            } else {
                " (repaired)".to_owned()
            }
        ),
        FeedOutcome::NotModified => format!("not_modified {}", report.url),
        FeedOutcome::Skipped => format!("gone         {} (not fetched)", report.url),
        FeedOutcome::Failed(e) => format!("error        {}: {e}", report.url),
    }
}

/// Writes every due alert of a `log` channel to the log and marks it sent.
async fn deliver_log_alerts(config: &Config, store: &StoreHandle) -> anyhow::Result<usize> {
    let mut channels: Vec<String> = config
        .channels
        .values()
        .filter(|c| matches!(c.kind, ChannelKind::Log))
        .map(|c| c.name.clone())
        .collect();
    if config.rules.iter().any(|r| {
        r.channels
            .iter()
            .any(|c| c == crate::config::DEFAULT_LOG_CHANNEL)
    }) {
        channels.push(crate::config::DEFAULT_LOG_CHANNEL.to_owned());
    }
    let now = unix_now();
    let due = store
        .call(move |s| {
            let names: Vec<&str> = channels.iter().map(String::as_str).collect();
            s.due_alerts(&names, now)
        })
        .await?;
    let count = due.len();
    for alert in due {
        tracing::info!(
            target: "newshound::alert",
            channel = %alert.channel,
            rules = %alert.rules.join(", "),
            feed = %alert.story.feed,
            link = alert.story.link.as_deref().unwrap_or(""),
            id = %alert.alert_id,
            "{}",
            alert.story.title
        );
        let id = alert.outbox_id;
        store.call(move |s| s.mark_sent(id, now)).await?;
    }
    Ok(count)
}
