//! Locks on files beside the database, for what only one process may do at a time.
//!
//! Every process that opens the database shares it: the daemon, and `once` run by hand
//! or by overlapping timers. Two things must not happen twice at once:
//!
//! - **Delivery** (`<database>-delivery.lock`, held through each round). A round reads
//!   the due rows, then sends them one by one, marking each sent once the channel
//!   accepted it; two rounds at once in two processes would read the same due rows and
//!   both send them. A round waits for another process's round to finish, then reads the
//!   outbox afresh and finds those alerts sent.
//! - **The daemon** (`<database>-daemon.lock`, held while `newshound run` runs). A second
//!   daemon would poll every feed twice, past `per_host`'s politeness; it is refused.
//!
//! The locks are `flock(2)` locks, which the kernel releases when the process ends,
//! however it ends: a crash never leaves one held.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often a process waiting for a lock tries it again.
const RETRY: Duration = Duration::from_millis(50);

/// The delivery lock's file name after the database's.
pub const DELIVERY: &str = "-delivery.lock";
/// The daemon lock's file name after the database's.
pub const DAEMON: &str = "-daemon.lock";

/// A lock file beside one database.
#[derive(Debug)]
pub struct LockFile {
    /// `None` for an in-memory database, which no other process can open.
    path: Option<PathBuf>,
    /// Whether the lock has been found unusable (said once, not every round).
    warned: AtomicBool,
}

/// A held lock; released when dropped.
#[derive(Debug)]
pub struct Held(#[allow(dead_code)] Option<File>);

impl Held {
    /// Holding nothing: for going on without a lock that cannot be used.
    pub fn none() -> Held {
        Held(None)
    }
}

impl LockFile {
    /// The lock `<database><suffix>` ([`DELIVERY`], [`DAEMON`]); none for an in-memory
    /// database, which no other process can open.
    pub fn beside(database: &Path, suffix: &str) -> LockFile {
        let path = (database != Path::new(":memory:")).then(|| {
            let mut name = database.as_os_str().to_owned();
            name.push(suffix);
            PathBuf::from(name)
        });
        LockFile {
            path,
            warned: AtomicBool::new(false),
        }
    }

    /// Waits until no other process holds the lock, and holds it until the result is
    /// dropped. A lock file that cannot be used (a read-only folder, say) is logged once
    /// and the work goes ahead without it, as it did before there was a lock.
    pub async fn acquire(&self) -> Held {
        let mut waited = false;
        loop {
            match self.try_acquire() {
                Ok(Some(held)) => return held,
                Ok(None) => {
                    if !waited {
                        tracing::info!(lock = %self.display(), "another newshound process holds the lock; waiting for it");
                        waited = true;
                    }
                    tokio::time::sleep(RETRY).await;
                }
                Err(error) => {
                    if !self.warned.swap(true, Ordering::Relaxed) {
                        tracing::warn!(
                            lock = %self.display(),
                            %error,
                            "cannot use the lock file; going on without it (another newshound process doing the same at the same time could send an alert twice)"
                        );
                    }
                    return Held(None);
                }
            }
        }
    }

    /// Takes the lock if no other process holds it: `Ok(None)` when one does.
    pub fn try_acquire(&self) -> std::io::Result<Option<Held>> {
        let Some(path) = &self.path else {
            return Ok(Some(Held(None)));
        };
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Held(Some(file)))),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(error)) => Err(error),
        }
    }

    /// Whether another process holds the lock now, found without creating its file
    /// (no file: no one holds it) and without keeping the lock.
    pub fn held_elsewhere(&self) -> bool {
        let Some(file) = self.path.as_ref().and_then(|p| File::open(p).ok()) else {
            return false;
        };
        matches!(file.try_lock_shared(), Err(TryLockError::WouldBlock))
    }

    /// The lock file's path, for messages.
    pub fn display(&self) -> String {
        self.path
            .as_deref()
            .map_or_else(|| "(none)".to_owned(), |p| p.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_holder_waits_for_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("newshound.db");
        let lock = || LockFile::beside(&db, DELIVERY);
        let (one, two) = (lock(), lock());
        assert_eq!(
            one.path.as_deref(),
            Some(dir.path().join("newshound.db-delivery.lock").as_path())
        );
        let held = one.acquire().await;
        assert!(held.0.is_some());
        let waiting = tokio::time::timeout(Duration::from_millis(300), two.acquire()).await;
        assert!(waiting.is_err(), "the lock is held");
        drop(held);
        let second = tokio::time::timeout(Duration::from_secs(5), two.acquire())
            .await
            .expect("released on drop");
        assert!(second.0.is_some());
        assert!(one.try_acquire().unwrap().is_none(), "held by `two`");
    }

    #[tokio::test]
    async fn an_unusable_lock_file_does_not_stop_delivery() {
        let lock = LockFile::beside(Path::new("/nonexistent-dir/newshound.db"), DELIVERY);
        assert!(lock.try_acquire().is_err());
        assert!(lock.acquire().await.0.is_none());
        assert!(lock.warned.load(Ordering::Relaxed));
        let memory = LockFile::beside(Path::new(":memory:"), DELIVERY);
        assert_eq!(memory.path, None);
        assert!(memory.acquire().await.0.is_none());
    }
}
