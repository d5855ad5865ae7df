//! Reloading the configuration: on request (SIGHUP) or when a config file changes on
//! disk, validated fully first; the running configuration stays when the edit is bad.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::mpsc;

use super::{Current, ReloadReason, log_warnings, spread_bounds};
use crate::config::Config;
use crate::fetch::shown;
use crate::store::{StoreHandle, unix_now};

/// How long the file watcher waits for edits to settle before reloading.
const DEBOUNCE: Duration = Duration::from_millis(500);

/// Loads and validates the configuration again; on success logs what changed and
/// records new feeds. The running configuration is untouched on error.
pub(super) async fn reload(
    path: &Path,
    current: &Current,
    store: &StoreHandle,
) -> anyhow::Result<Current> {
    let mut config = Config::load(path)?;
    if config.storage.path != current.config.storage.path {
        tracing::warn!(
            old = %current.config.storage.path.display(),
            new = %config.storage.path.display(),
            "storage.path changed; the database in use stays until a restart"
        );
        // Everything that follows the config (the delivery lock beside the database,
        // among others) keeps to the database in use.
        config.storage.path = current.config.storage.path.clone();
    }
    for line in describe_changes(&current.config, &config) {
        tracing::info!("{line}");
    }
    let feeds: Vec<(String, Option<String>)> = config
        .feeds
        .iter()
        .map(|f| (f.url.to_string(), f.name.clone()))
        .collect();
    let spread = spread_bounds(&config);
    let intervals = intervals(&config);
    let stored = store
        .call(move |s| {
            s.sync_feeds(feeds.iter().map(|(u, n)| (u.as_str(), n.as_deref())))?;
            // New feeds (never due yet: next_due 0) are spread like at a start.
            let now = unix_now();
            s.spread_due(1, now, spread)?;
            // A shorter interval applies now, not after the fetch the old one planned.
            s.apply_intervals(now, intervals.iter().map(|(u, i)| (u.as_str(), *i)))?;
            s.stored()
        })
        .await?;
    log_warnings(&config, &stored);
    Current::new(config)
}

/// Each configured feed's URL and interval in seconds, for
/// [`crate::store::Store::apply_intervals`].
pub(super) fn intervals(config: &Config) -> Vec<(String, i64)> {
    config
        .feeds
        .iter()
        .map(|f| (f.url.to_string(), f.interval.as_secs() as i64))
        .collect()
}

/// What a reload changes, one line each: feeds added and removed, rules added, changed
/// and removed.
pub fn describe_changes(old: &Config, new: &Config) -> Vec<String> {
    let mut lines = Vec::new();
    let old_feeds: HashSet<&str> = old.feeds.iter().map(|f| f.url.as_str()).collect();
    let new_feeds: HashSet<&str> = new.feeds.iter().map(|f| f.url.as_str()).collect();
    for url in new
        .feeds
        .iter()
        .map(|f| f.url.as_str())
        .filter(|u| !old_feeds.contains(u))
    {
        lines.push(format!("feed added: {}", shown(url)));
    }
    for url in old
        .feeds
        .iter()
        .map(|f| f.url.as_str())
        .filter(|u| !new_feeds.contains(u))
    {
        lines.push(format!("feed removed: {}", shown(url)));
    }
    for (before, after) in new.feeds.iter().filter_map(|f| {
        let before = old.feeds.iter().find(|o| o.url == f.url)?;
        (before.interval != f.interval).then_some((before, f))
    }) {
        lines.push(format!(
            "feed interval changed: {} from {} to {}",
            shown(after.url.as_str()),
            crate::config::shown_duration(before.interval),
            crate::config::shown_duration(after.interval)
        ));
    }
    let rule_key = |r: &crate::config::Rule| {
        format!(
            "{}\u{0}{:?}\u{0}{:?}",
            r.query.source(),
            r.channels,
            r.feeds
        )
    };
    let old_rules: BTreeMap<&str, String> = old
        .rules
        .iter()
        .map(|r| (r.name.as_str(), rule_key(r)))
        .collect();
    let new_rules: BTreeMap<&str, String> = new
        .rules
        .iter()
        .map(|r| (r.name.as_str(), rule_key(r)))
        .collect();
    for (name, key) in &new_rules {
        match old_rules.get(name) {
            None => lines.push(format!("rule added: {name}")),
            Some(old_key) if old_key != key => lines.push(format!("rule changed: {name}")),
            Some(_) => {}
        }
    }
    for name in old_rules.keys().filter(|n| !new_rules.contains_key(*n)) {
        lines.push(format!("rule removed: {name}"));
    }
    if lines.is_empty() {
        lines.push("no feed or rule changed".to_owned());
    }
    lines
}

/// Watches the config file and its includes (their folders, since editors replace
/// files) and sends a reload request once edits have settled.
pub fn watch_files(
    config: &Config,
    reloads: mpsc::UnboundedSender<ReloadReason>,
) -> anyhow::Result<notify::RecommendedWatcher> {
    use notify::Watcher;
    let watched: HashSet<PathBuf> = config
        .files
        .iter()
        .filter_map(|f| std::fs::canonicalize(f).ok())
        .collect();
    let folders: HashSet<PathBuf> = watched
        .iter()
        .filter_map(|f| f.parent().map(Path::to_owned))
        .collect();
    let (events_tx, mut events_rx) = mpsc::unbounded_channel::<()>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if event.kind.is_access() {
            return;
        }
        // Any change in a watched folder to a config file — or to a new file there, which
        // an include glob may now match — asks for a reload.
        let relevant = event
            .paths
            .iter()
            .any(|p| watched.contains(p) || p.extension().is_some_and(|e| e == "toml"));
        if relevant {
            let _ = events_tx.send(());
        }
    })?;
    for folder in &folders {
        watcher.watch(folder, notify::RecursiveMode::NonRecursive)?;
    }
    tokio::spawn(async move {
        while events_rx.recv().await.is_some() {
            // Let a burst of writes (an editor saving, a deploy) settle first.
            loop {
                match tokio::time::timeout(DEBOUNCE, events_rx.recv()).await {
                    Ok(Some(())) => continue,
                    Ok(None) => return,
                    Err(_) => break,
                }
            }
            if reloads.send(ReloadReason::FileChanged).is_err() {
                return;
            }
        }
    });
    Ok(watcher)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path, name: &str, text: &str) -> Config {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        Config::load(&path).unwrap()
    }

    #[test]
    fn a_reload_names_what_changed() {
        let dir = tempfile::tempdir().unwrap();
        let old = config(
            dir.path(),
            "old.toml",
            r#"
            [[feed]]
            url = "https://a.example/feed"
            interval = "1h"
            [[feed]]
            url = "https://b.example/feed"
            [[feed]]
            url = "https://gone.example/feed"
            [[rule]]
            name = "Peskov"
            query = "Peskov"
            "#,
        );
        let new = config(
            dir.path(),
            "new.toml",
            r#"
            [fetch]
            interval = "5m"
            [[feed]]
            url = "https://a.example/feed"
            interval = "10m"
            [[feed]]
            url = "https://b.example/feed"
            [[feed]]
            url = "https://new.example/feed"
            [[rule]]
            name = "Peskov"
            query = "Peskov OR Песков"
            "#,
        );
        assert_eq!(
            describe_changes(&old, &new),
            [
                "feed added: https://new.example/feed",
                "feed removed: https://gone.example/feed",
                "feed interval changed: https://a.example/feed from 1h to 10m",
                "feed interval changed: https://b.example/feed from 10m to 5m",
                "rule changed: Peskov",
            ]
        );
        assert_eq!(
            intervals(&new),
            [
                ("https://a.example/feed".to_owned(), 600),
                ("https://b.example/feed".to_owned(), 300),
                ("https://new.example/feed".to_owned(), 300),
            ]
        );
        assert_eq!(describe_changes(&new, &new), ["no feed or rule changed"]);
    }
}

/// The replay of rules a reload added or changed (`replay_new_rules`), waiting for the
/// fetches that were in flight at the reload: those were matched with the rules before
/// it, and their new stories must meet the new rules too. It runs once they have all
/// been written (at once, if none were in flight). A daemon stopped before it runs
/// replays at its next start: the rules are recorded as applied only by the replay.
#[derive(Debug, Default)]
pub(super) struct PendingReplay(Option<HashSet<tokio::task::Id>>);

impl PendingReplay {
    /// After a reload: waits for these fetch tasks. Returns whether the replay is due now.
    pub(super) fn after(&mut self, in_flight: impl IntoIterator<Item = tokio::task::Id>) -> bool {
        self.0 = Some(in_flight.into_iter().collect());
        self.due()
    }

    /// A fetch task finished. Returns whether the replay is due now.
    pub(super) fn finished(&mut self, task: tokio::task::Id) -> bool {
        if let Some(waiting) = &mut self.0 {
            waiting.remove(&task);
        }
        self.due()
    }

    fn due(&mut self) -> bool {
        let due = self.0.as_ref().is_some_and(HashSet::is_empty);
        if due {
            self.0 = None;
        }
        due
    }
}

/// Matches the rules added or changed against the stored stories, and wakes delivery
/// for the alerts that found.
pub(super) async fn replay(
    store: &StoreHandle,
    config: std::sync::Arc<Config>,
    wake_delivery: &tokio::sync::Notify,
) {
    match store
        .call(move |s| crate::ingest::replay_new_rules(s, &config, unix_now()))
        .await
    {
        Ok(replayed) if replayed.alerts > 0 => wake_delivery.notify_one(),
        Ok(_) => {}
        Err(error) => tracing::error!(
            %error,
            "cannot match new rules against the stored stories; trying again at the next reload"
        ),
    }
}
