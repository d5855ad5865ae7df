//! `newshound run`: the long-running service.
//!
//! One loop schedules feeds from the next-due times kept in the database (so a restart
//! neither stampedes nor forgets a feed), within the global and per-host limits, never
//! fetching a feed twice at once. Beside it a delivery task drains the outbox. The loop
//! also reloads the configuration on request (SIGHUP or an edited file) — validating it
//! fully first and keeping the old one when the edit is bad — prunes old stories daily,
//! keeps systemd informed (READY, STATUS, WATCHDOG, RELOADING, STOPPING), and on
//! shutdown stops starting fetches, lets in-flight work finish for a bounded time, and
//! flushes the store.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::alert::{Clock, Deliverer};
use crate::config::Config;
use crate::fetch::Fetcher;
use crate::ingest::{CompiledRules, FeedOutcome, ingest_feed};
use crate::lockfile::{self, LockFile};
use crate::store::{Store, StoreHandle, unix_now};

mod outage;
mod reload;
mod status;

pub use outage::OUTAGE_SERVERS;
use reload::reload;
pub use reload::{describe_changes, watch_files};
use status::{notify, report_status};

/// How long in-flight fetches and deliveries may run on after a shutdown request.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// How often the scheduler looks for due feeds.
const TICK: Duration = Duration::from_secs(1);
/// How often the delivery task looks for due alerts (it is also woken after ingests).
const DELIVERY_TICK: Duration = Duration::from_secs(5);
/// How often retention runs.
const PRUNE_EVERY: Duration = Duration::from_secs(24 * 3600);
/// How often the daemon checks that its database's path still names the file it has open.
const FILE_CHECK_EVERY: Duration = Duration::from_secs(10);
/// The longest a start spreads overdue feeds over.
const MAX_START_SPREAD: Duration = Duration::from_secs(120);

/// Why a reload was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadReason {
    Signal,
    FileChanged,
}

/// The configuration in force, and what was compiled from it.
struct Current {
    config: Arc<Config>,
    rules: Arc<CompiledRules>,
    fetcher: Fetcher,
}

impl Current {
    fn new(config: Config) -> anyhow::Result<Current> {
        Ok(Current {
            rules: Arc::new(CompiledRules::new(&config.rules)),
            fetcher: Fetcher::new(&config.fetch)?,
            config: Arc::new(config),
        })
    }

    /// The configured feed with this URL.
    fn feed(&self, url: &str) -> Option<&crate::config::Feed> {
        self.config.feeds.iter().find(|f| f.url.as_str() == url)
    }

    /// A configured feed's interval (the default for one no longer configured).
    fn interval_of(&self, url: &str) -> Duration {
        self.feed(url)
            .map_or(self.config.fetch.interval, |f| f.interval)
    }
}

/// Runs the daemon until `shutdown` is cancelled. `reloads` carries reload requests;
/// with `watch`, edits of the config files send them too (the watched files follow
/// the configuration through reloads).
pub async fn run(
    config_path: PathBuf,
    config: Config,
    shutdown: CancellationToken,
    (reload_tx, mut reloads): (
        mpsc::UnboundedSender<ReloadReason>,
        mpsc::UnboundedReceiver<ReloadReason>,
    ),
    watch: bool,
) -> anyhow::Result<()> {
    let start_watching = |config: &Config| {
        if !watch {
            return None;
        }
        watch_files(config, reload_tx.clone())
            .inspect_err(|error| tracing::warn!(error = %error, "cannot watch the config files; reload with SIGHUP"))
            .ok()
    };
    // One daemon per database: a second would poll every feed twice.
    let instance = LockFile::beside(&config.storage.path, lockfile::DAEMON);
    let _instance = match instance.try_acquire() {
        Ok(Some(held)) => held,
        Ok(None) => anyhow::bail!(
            "another `newshound run` is using the database {} (it holds {}); stop it first",
            config.storage.path.display(),
            instance.display()
        ),
        // The database's folder is not writable, say: opening the database says so.
        Err(error) => {
            tracing::warn!(%error, "cannot use the daemon lock file; not checking for another daemon");
            lockfile::Held::none()
        }
    };
    let mut _watcher = start_watching(&config);
    let mut store = Store::open_for(&config)?;
    let now = unix_now();
    log_rebased(store.rebase_future(now)?);
    // An interval shortened while the daemon was stopped applies now.
    let intervals = reload::intervals(&config);
    store.apply_intervals(now, intervals.iter().map(|(u, i)| (u.as_str(), *i)))?;
    let spread_count = store.spread_due(now, now, spread_bounds(&config))?;
    let outage_at_start = outage::Outage::at_start(&store.failing_since_any_success()?);
    if let Some(since) = outage_at_start.ongoing() {
        tracing::warn!(
            since = %crate::commands::rfc3339(since),
            "no feed's server has been reached since feeds began failing to reach theirs: this host's network (or its DNS) may be down"
        );
    }
    // Rules added or changed while the daemon was stopped meet the stories stored.
    if let Err(error) = crate::ingest::replay_new_rules(&mut store, &config, now) {
        tracing::error!(%error, "cannot match new rules against the stored stories; trying again at the next reload");
    }
    log_warnings(&config, &store.stored()?);
    let database = config.storage.path.clone();
    let opened = file_identity(&database);
    let store = StoreHandle::spawn(store);
    let mut current = Current::new(config)?;
    tracing::info!(
        feeds = current.config.feeds.len(),
        rules = current.config.rules.len(),
        overdue = spread_count,
        "newshound running"
    );

    let (config_tx, config_rx) = watch::channel(current.config.clone());
    let wake_delivery = Arc::new(tokio::sync::Notify::new());
    let delivery = tokio::spawn(delivery_loop(
        store.clone(),
        config_rx,
        wake_delivery.clone(),
        shutdown.clone(),
    ));
    let mut last_error: Option<String> = None;
    notify(&[sd_notify::NotifyState::Ready]);
    report_status(&store, &current.config, last_error.as_deref(), None).await;

    let watchdog = sd_notify::watchdog_enabled().map(|d| d / 2);
    let mut watchdog_tick = tokio::time::interval(watchdog.unwrap_or(Duration::from_secs(3600)));
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut prune = tokio::time::interval(PRUNE_EVERY);
    let mut retention: Option<tokio::task::JoinHandle<()>> = None;
    let mut file_check = tokio::time::interval(FILE_CHECK_EVERY);
    // Why the daemon stops by itself, if it does.
    let mut fatal: Option<String> = None;
    let mut in_flight = InFlight::default();
    let mut outage_watch = outage_at_start;
    let mut pending_replay = reload::PendingReplay::default();
    let mut fetches = Fetches::new();
    let mut global = Arc::new(Semaphore::new(current.config.fetch.concurrency));
    let mut hosts: HashMap<String, Arc<Semaphore>> = HashMap::new();
    let mut healthy = true;
    let mut last_tick = unix_now();

    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            Some(reason) = reloads.recv() => {
                notify(&[sd_notify::NotifyState::Reloading]);
                match reload(&config_path, &current, &store).await {
                    Ok(next) => {
                        current = next;
                        crate::logging::set_level(current.config.log_level.as_deref());
                        if pending_replay.after(in_flight.tasks.keys().copied()) {
                            reload::replay(&store, current.config.clone(), &wake_delivery).await;
                        }
                        config_tx.send_replace(current.config.clone());
                        // New limits take effect for the fetches started from now on.
                        global = Arc::new(Semaphore::new(current.config.fetch.concurrency));
                        hosts.clear();
                        _watcher = start_watching(&current.config);
                        last_error = None;
                        tracing::info!(?reason, "configuration reloaded");
                    }
                    Err(error) => {
                        tracing::error!("{error}; keeping the previous configuration");
                        last_error = Some(format!("config not reloaded: {error}"));
                    }
                }
                notify(&[sd_notify::NotifyState::Ready]);
                report_status(&store, &current.config, last_error.as_deref(), outage_watch.ongoing()).await;
            }
            Some(joined) = fetches.join_next_with_id(), if !fetches.is_empty() => {
                let task = match &joined {
                    Ok((task, _)) => *task,
                    Err(failed) => failed.id(),
                };
                match joined {
                    Ok((task, Ok(report))) => {
                        if let Some(url) = in_flight.done(task) {
                            in_flight.recorded(&url);
                        }
                        outage::note_fetch(&mut outage_watch, &store, &report, unix_now()).await;
                        if let FeedOutcome::Ingested { outcome, .. } = &report.outcome
                            && outcome.alerts_queued > 0
                        {
                            wake_delivery.notify_one();
                        }
                    }
                    Ok((task, Err(error))) => {
                        let url = in_flight.done(task).unwrap_or_default();
                        in_flight.hold(&url, current.interval_of(&url), unix_now());
                        if error.is_one_feeds() {
                            // The database is fine; this feed's write is not.
                            tracing::error!(feed = %crate::fetch::shown(&url), error = %error, "newshound failed on a feed");
                        } else {
                            healthy = false;
                            tracing::error!(feed = %crate::fetch::shown(&url), error = %error, "the database failed");
                            last_error = Some(format!("database: {error}"));
                        }
                    }
                    // A panic outside the fetch and parse (which record their own as the
                    // feed's failure). The feed is held back, then fetched again.
                    Err(failed) => {
                        let url = in_flight.done(failed.id()).unwrap_or_default();
                        in_flight.hold(&url, current.interval_of(&url), unix_now());
                        tracing::error!(feed = %crate::fetch::shown(&url), error = %failed, "newshound failed on a feed");
                    }
                }
                if pending_replay.finished(task) {
                    reload::replay(&store, current.config.clone(), &wake_delivery).await;
                }
            }
            _ = tick.tick() => {
                // The clock went back (stepped by NTP, say): what was planned by the clock
                // before is moved to this one, or it would wait for the clock to catch up.
                let now = unix_now();
                if now + crate::store::CLOCK_SLACK < last_tick {
                    in_flight.clock_went_back(last_tick - now);
                    match store.call(move |s| s.rebase_future(now)).await {
                        Ok(moved) => log_rebased(moved),
                        Err(error) => tracing::error!(error = %error, "the clock went back; cannot reschedule"),
                    }
                }
                last_tick = now;
                match schedule(&current, &store, &mut in_flight, &mut fetches, &global, &mut hosts).await {
                    Ok(()) => healthy = true,
                    Err(error) => {
                        healthy = false;
                        tracing::error!(error = %error, "scheduling failed");
                        last_error = Some(format!("database: {error}"));
                    }
                }
            }
            _ = watchdog_tick.tick(), if watchdog.is_some() => {
                // Pinged only while the loop runs and the database answers.
                if healthy {
                    notify(&[sd_notify::NotifyState::Watchdog]);
                }
                report_status(&store, &current.config, last_error.as_deref(), outage_watch.ongoing()).await;
            }
            _ = file_check.tick() => {
                if file_identity(&database) != opened {
                    let why = format!(
                        "the database {} was removed or replaced while in use; stopping, so that \
                         what is written from now on is not lost with a file nobody can open \
                         (under systemd the service restarts on the file now there)",
                        database.display()
                    );
                    tracing::error!("{why}");
                    fatal = Some(why);
                    break;
                }
            }
            _ = prune.tick() => {
                // Beside the loop, a batch at a time: a long run (a large database on a
                // slow disk, `keep` shortened) holds neither the loop, whose watchdog
                // pings would stop, nor the database for long. One run at a time.
                if retention.as_ref().is_none_or(tokio::task::JoinHandle::is_finished) {
                    retention = Some(tokio::spawn(retention_run(
                        store.clone(),
                        current.config.storage.keep,
                        shutdown.clone(),
                    )));
                }
            }
        }
    }

    // Shutdown: no new fetches; in-flight work gets a bounded grace period.
    notify(&[sd_notify::NotifyState::Stopping]);
    tracing::info!(in_flight = fetches.len(), "stopping");
    let drain = async { while fetches.join_next().await.is_some() {} };
    if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
        tracing::warn!(
            "fetches still running after {SHUTDOWN_GRACE:?}; abandoning them (they are fetched again on the next start)"
        );
        fetches.abort_all();
    }
    if tokio::time::timeout(SHUTDOWN_GRACE, delivery)
        .await
        .is_err()
    {
        tracing::warn!(
            "delivery still running after {SHUTDOWN_GRACE:?}; unsent alerts stay queued"
        );
    }
    // Every queued store job has run once this one answers.
    store.call(|_| Ok(())).await?;
    if let Some(why) = fatal {
        anyhow::bail!(why);
    }
    tracing::info!("stopped");
    Ok(())
}

/// One run of retention ([`crate::store::Store::prune`]), a batch per store call, so
/// that the daemon's other database work goes on between batches; stopped between two
/// batches by a shutdown (the next start runs it again).
async fn retention_run(store: StoreHandle, keep: Duration, shutdown: CancellationToken) {
    let now = unix_now();
    let (mut pruned, mut forgotten, mut after) = (0, 0, None);
    loop {
        let batch = store
            .call(move |s| s.prune_batch(now, keep, after, crate::store::PRUNE_BATCH))
            .await;
        match batch {
            Ok(batch) => {
                pruned += batch.pruned;
                forgotten += batch.deleted;
                match batch.next {
                    Some(next) if !shutdown.is_cancelled() => after = Some(next),
                    Some(_) => return,
                    None => break,
                }
            }
            Err(error) => {
                tracing::error!(error = %error, "retention failed");
                return;
            }
        }
    }
    tracing::info!(pruned, forgotten, "retention ran");
}

/// The device and inode a path names, to notice a database file removed or replaced
/// under a running daemon; `None` when nothing is there.
fn file_identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Logs what in the configuration is valid but most likely not meant
/// ([`Config::warnings`]).
pub fn log_warnings(config: &Config, stored: &crate::store::Stored) {
    for warning in config.warnings(stored) {
        tracing::warn!(target: "newshound::config", "{warning}");
    }
}

/// Says what [`Store::rebase_future`] moved, if anything.
pub fn log_rebased((feeds, alerts): (usize, usize)) {
    if feeds + alerts > 0 {
        tracing::warn!(
            feeds,
            alerts,
            "the system clock went back: times recorded ahead of it are rescheduled from now"
        );
    }
}

/// How far past "now" each feed's first fetch may be spread: its interval, at most
/// [`MAX_START_SPREAD`].
fn spread_bounds(config: &Config) -> impl Fn(&str) -> i64 + Send + 'static {
    let max = MAX_START_SPREAD.as_secs() as i64;
    let bounds: HashMap<String, i64> = config
        .feeds
        .iter()
        .map(|f| (f.url.to_string(), (f.interval.as_secs() as i64).min(max)))
        .collect();
    move |url| bounds.get(url).copied().unwrap_or(max)
}

/// Starts fetches for every due feed not already in flight.
async fn schedule(
    current: &Current,
    store: &StoreHandle,
    in_flight: &mut InFlight,
    fetches: &mut Fetches,
    global: &Arc<Semaphore>,
    hosts: &mut HashMap<String, Arc<Semaphore>>,
) -> Result<(), crate::store::StoreError> {
    let now = unix_now();
    let due = store.call(move |s| s.due_feeds(now)).await?;
    for (url, moved_to) in due {
        if in_flight.urls.contains(&url) {
            continue; // a feed is never fetched twice at once
        }
        if in_flight.is_held(&url, now) {
            continue; // its last outcome could not be recorded; backing off
        }
        let Some(feed) = current.feed(&url).cloned() else {
            continue; // in the database but no longer configured
        };
        let host = crate::ingest::host_key(&feed.url, moved_to.as_deref());
        let per_host = hosts
            .entry(host)
            .or_insert_with(|| Arc::new(Semaphore::new(current.config.fetch.per_host)))
            .clone();
        let (global, store) = (global.clone(), store.clone());
        let (config, rules, fetcher) = (
            current.config.clone(),
            current.rules.clone(),
            current.fetcher.clone(),
        );
        let task = fetches.spawn(async move {
            let _host = per_host.acquire_owned().await.expect("semaphore open");
            let _slot = global.acquire_owned().await.expect("semaphore open");
            ingest_feed(&config, &rules, &fetcher, &store, &feed, unix_now()).await
        });
        in_flight.start(task.id(), url);
    }
    Ok(())
}

/// The fetch tasks; each task's feed is in [`InFlight`].
type Fetches = JoinSet<Result<crate::ingest::FeedReport, crate::store::StoreError>>;

/// The feeds being fetched, and the task fetching each: a feed is never fetched twice
/// at once, and a task that fails (panics) still frees its feed.
#[derive(Default)]
struct InFlight {
    urls: HashSet<String>,
    tasks: HashMap<tokio::task::Id, String>,
    /// Feeds whose last task could not record its outcome (the database failed, or a
    /// panic outside the fetch), so their next fetch time was never written: held back
    /// here, with a backoff, until (their consecutive such failures, Unix seconds).
    /// Without it such a feed stays due and is fetched again every tick — every due feed
    /// polled once a second for as long as the disk is full.
    held: HashMap<String, (i64, i64)>,
}

impl InFlight {
    fn start(&mut self, task: tokio::task::Id, url: String) {
        self.urls.insert(url.clone());
        self.tasks.insert(task, url);
    }

    /// Frees the feed of a finished task; returns its URL.
    fn done(&mut self, task: tokio::task::Id) -> Option<String> {
        let url = self.tasks.remove(&task)?;
        self.urls.remove(&url);
        Some(url)
    }

    /// Holds back a feed whose task ended without recording its outcome, as a failing
    /// feed backs off ([`crate::ingest::next_due_after_failure`]).
    fn hold(&mut self, url: &str, interval: Duration, now: i64) {
        let (failures, until) = self.held.entry(url.to_owned()).or_insert((0, now));
        *until = crate::ingest::next_due_after_failure(now, interval, *failures, None);
        *failures += 1;
    }

    /// Whether a feed is held back at `now`.
    fn is_held(&self, url: &str, now: i64) -> bool {
        self.held.get(url).is_some_and(|(_, until)| now < *until)
    }

    /// A feed whose outcome was recorded is not held back any more.
    fn recorded(&mut self, url: &str) {
        self.held.remove(url);
    }

    /// The clock went back `by` seconds: the holds keep the waits they had planned,
    /// counted on this clock (as [`Store::rebase_future`] does for the database's times).
    fn clock_went_back(&mut self, by: i64) {
        for (_, until) in self.held.values_mut() {
            *until -= by;
        }
    }
}

/// The systemd STATUS line: feeds, rules, pending alerts, failing channels, dead
/// alerts, last error.
/// Delivers due alerts continuously: every few seconds, and at once when woken.
async fn delivery_loop(
    store: StoreHandle,
    mut config: watch::Receiver<Arc<Config>>,
    wake: Arc<tokio::sync::Notify>,
    shutdown: CancellationToken,
) {
    let build = |config: Arc<Config>| match Deliverer::new(config, store.clone(), Clock::System) {
        Ok(d) => Some(d),
        Err(error) => {
            tracing::error!(
                error = %format!("{error:#}"),
                "alert delivery cannot start with this configuration (a worker already running goes on with its own)"
            );
            None
        }
    };
    let mut deliverer = build(config.borrow().clone());
    loop {
        // A panic in a round (a bug) must not end delivery for good: it is logged, and
        // the next round runs as usual.
        if let Some(d) = &deliverer {
            match crate::ingest::catch_panic(d.deliver_due()).await {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => tracing::error!(error = %error, "delivery failed"),
                Err(panic) => {
                    tracing::error!(error = %panic, "delivery failed (a bug; please report it)")
                }
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(DELIVERY_TICK) => {}
            Ok(()) = config.changed() => {
                match (build(config.borrow_and_update().clone()), deliverer.take()) {
                    (Some(new), old) => {
                        // Outcomes sent but not yet recorded go with the work.
                        if let Some(old) = old {
                            new.adopt(old.into_unrecorded());
                        }
                        deliverer = Some(new);
                    }
                    // A worker that cannot be built from the new configuration leaves
                    // the running one delivering (the error is logged above).
                    (None, old) => deliverer = old,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failed_fetch_task_frees_its_feed() {
        let mut tasks = JoinSet::new();
        let mut in_flight = InFlight::default();
        let fine = tasks.spawn(async {});
        in_flight.start(fine.id(), "https://a.example/feed".to_owned());
        let broken = tasks.spawn(async { panic!("a bug") });
        in_flight.start(broken.id(), "https://b.example/feed".to_owned());
        let mut freed = Vec::new();
        while let Some(joined) = tasks.join_next_with_id().await {
            let task = match joined {
                Ok((task, ())) => task,
                Err(failed) => failed.id(),
            };
            freed.extend(in_flight.done(task));
        }
        freed.sort();
        assert_eq!(freed, ["https://a.example/feed", "https://b.example/feed"]);
        assert!(in_flight.urls.is_empty() && in_flight.tasks.is_empty());
    }

    #[test]
    fn a_hold_keeps_its_wait_when_the_clock_goes_back() {
        let mut in_flight = InFlight::default();
        let url = "https://a.example/feed";
        in_flight.hold(url, Duration::from_secs(60), 10_000);
        assert!(in_flight.is_held(url, 10_059) && !in_flight.is_held(url, 10_060));
        // An hour back: held for the rest of its minute, not for an hour more.
        in_flight.clock_went_back(3600);
        assert!(in_flight.is_held(url, 6_459) && !in_flight.is_held(url, 6_460));
    }

    #[test]
    fn a_feed_whose_outcome_was_not_recorded_backs_off_until_one_is() {
        let mut in_flight = InFlight::default();
        let (url, minute) = ("https://a.example/feed", Duration::from_secs(60));
        assert!(!in_flight.is_held(url, 1000));
        in_flight.hold(url, minute, 1000);
        assert!(in_flight.is_held(url, 1000) && in_flight.is_held(url, 1059));
        assert!(!in_flight.is_held(url, 1060), "one interval first");
        in_flight.hold(url, minute, 1060);
        assert!(
            in_flight.is_held(url, 1179) && !in_flight.is_held(url, 1180),
            "then two"
        );
        in_flight.hold(url, minute, 1180);
        assert!(
            in_flight.is_held(url, 1419) && !in_flight.is_held(url, 1420),
            "then four"
        );
        assert!(
            !in_flight.is_held("https://b.example/feed", 1200),
            "per feed"
        );
        in_flight.recorded(url);
        assert!(!in_flight.is_held(url, 1200));
        in_flight.hold(url, minute, 1200);
        assert!(
            !in_flight.is_held(url, 1260),
            "a recorded outcome starts over"
        );
    }
}
