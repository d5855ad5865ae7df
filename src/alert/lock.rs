//! One process delivers at a time.
//!
//! Every process that opens the database shares its outbox: the daemon, and `once` run
//! by hand or by overlapping timers. A round reads the due rows, then sends them one by
//! one, marking each sent once the channel accepted it; two rounds at once in two
//! processes would read the same due rows and both send them. So a round holds an
//! exclusive lock on a file beside the database (`flock(2)`, which the kernel releases
//! when the process ends, however it ends): a round waits for another process's round to
//! finish, then reads the outbox afresh and finds those alerts sent.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often a round waiting for another process's round tries the lock again.
const RETRY: Duration = Duration::from_millis(50);

/// The lock file of one database.
#[derive(Debug)]
pub struct DeliveryLock {
    /// `None` for an in-memory database, which no other process can open.
    path: Option<PathBuf>,
    /// Whether the lock has been found unusable (said once, not every round).
    warned: AtomicBool,
}

/// A held lock; released when dropped.
#[derive(Debug)]
pub struct Held(#[allow(dead_code)] Option<File>);

impl DeliveryLock {
    /// The lock beside the database file `database`: `<database>-delivery.lock`.
    pub fn beside(database: &Path) -> DeliveryLock {
        let path = (database != Path::new(":memory:")).then(|| {
            let mut name = database.as_os_str().to_owned();
            name.push("-delivery.lock");
            PathBuf::from(name)
        });
        DeliveryLock {
            path,
            warned: AtomicBool::new(false),
        }
    }

    /// Waits until no other process is delivering, and holds the lock until the result
    /// is dropped. A lock file that cannot be opened (a read-only folder, say) is logged
    /// once and the round goes ahead without it, as a round did before the lock.
    pub async fn acquire(&self) -> Held {
        let Some(path) = &self.path else {
            return Held(None);
        };
        let file = match OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
        {
            Ok(file) => file,
            Err(error) => {
                self.unusable(path, &error);
                return Held(None);
            }
        };
        let mut waited = false;
        loop {
            match file.try_lock() {
                Ok(()) => return Held(Some(file)),
                Err(TryLockError::WouldBlock) => {
                    if !waited {
                        tracing::debug!(lock = %path.display(), "another newshound process is delivering; waiting for its round to end");
                        waited = true;
                    }
                    tokio::time::sleep(RETRY).await;
                }
                Err(TryLockError::Error(error)) => {
                    self.unusable(path, &error);
                    return Held(None);
                }
            }
        }
    }

    fn unusable(&self, path: &Path, error: &std::io::Error) {
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                lock = %path.display(),
                %error,
                "cannot lock the delivery lock file; delivering without it (a newshound process delivering at the same time could send an alert twice)"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_holder_waits_for_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("newshound.db");
        let (one, two) = (DeliveryLock::beside(&db), DeliveryLock::beside(&db));
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
    }

    #[tokio::test]
    async fn an_unusable_lock_file_does_not_stop_delivery() {
        let lock = DeliveryLock::beside(Path::new("/nonexistent-dir/newshound.db"));
        assert!(lock.acquire().await.0.is_none());
        assert!(lock.warned.load(Ordering::Relaxed));
        assert!(
            DeliveryLock::beside(Path::new(":memory:"))
                .acquire()
                .await
                .0
                .is_none()
        );
    }
}
