//! The SQLite store: feeds, stories, hits and the alert outbox.
//!
//! Only this module touches SQLite. The database is set up one way — WAL, synchronous
//! NORMAL, foreign keys, a busy timeout — and migrated by the ordered scripts in
//! `schema`. Dedupe is a database fact: UNIQUE constraints keep one story per
//! identity and per canonical link, and one hit per (story, rule). rusqlite is
//! synchronous, so async code reaches the store through [`StoreHandle`], which owns the
//! connection on a thread of its own.

mod feeds;
mod health;
mod hits;
mod ingest;
mod inspect;
mod outbox;
mod replay;
mod schema;
mod stories;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

pub use feeds::{FailingFeed, Failure, FeedRow, FeedStatus, Stored};
pub use health::{ChannelChange, Health};
pub use hits::{Delivery, HitRow, StoredStory};
pub use ingest::{
    FetchMeta, Incoming, IncomingHit, IngestJob, IngestOutcome, LateMatcher, PossibleGap,
};
pub use inspect::{BackupError, Inspection, backup, inspect, schema_of, stored};
pub use outbox::{AlertState, DueAlert, DueNotice, NoticeAbout, Requeue, Table, Waiting};
pub use replay::Replayed;

/// How long a writer waits for another process holding the database (named in `remedy`).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Retention keeps pruned stories' identities this many times `[storage] keep`.
const TOMBSTONE_FACTOR: i64 = 4;

/// How many stories one retention batch looks at ([`Store::prune_batch`]).
pub const PRUNE_BATCH: usize = 2000;

/// What one batch of retention did, and where the next one starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PruneBatch {
    pub pruned: usize,
    pub deleted: usize,
    /// The batch's last story, `(first_seen, id)`, after which the next batch starts;
    /// none when the run is done.
    pub next: Option<(i64, i64)>,
}

/// How far ahead of the clock a stored time may be before the clock is taken to have
/// gone back (`Store::rebase_future`).
pub const CLOCK_SLACK: i64 = 60;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {}: {source}", path.display())]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("the database {} has schema version {found}, newer than this newshound knows ({known}); upgrade newshound", path.display())]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("the database {} has schema version {found}; this newshound reads version {known}, to which `once` or `run` brings it (a newshound older than that cannot open it then)", path.display())]
    TooOld {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("database error: {0}{hint}", hint = remedy(.0))]
    Sqlite(#[from] rusqlite::Error),
    #[error("the database thread has stopped")]
    Gone,
    /// A bug: a story skipped matching as unchanged, the write found it changed, and the
    /// job carried nothing to match it with. The feed's write fails (nothing is lost: it
    /// is fetched and matched again next time).
    #[error("story {0} reached the store unmatched")]
    Unmatched(String),
    /// A bug: writing a story kept finding it should be written as another. The feed's
    /// write fails (nothing is lost: it is fetched again next time).
    #[error("story {0} could not be told apart from the stored stories")]
    Unsettled(String),
}

/// What an operator can do about a database error that is the host's, not newshound's:
/// said after SQLite's own message.
fn remedy(error: &rusqlite::Error) -> &'static str {
    use rusqlite::ErrorCode::{DatabaseBusy, DatabaseLocked, DiskFull, ReadOnly};
    match error.sqlite_error_code() {
        Some(DatabaseBusy | DatabaseLocked) => {
            "; another process held the database's write lock longer than newshound waits \
             for it (10 s): a sqlite3 shell left inside a transaction, or a tool copying the \
             file (`newshound backup` copies without holding it); what could not be written \
             is tried again"
        }
        Some(DiskFull) => {
            "; free space on the disk that holds the database (a fetch that could not be \
             stored is fetched again)"
        }
        Some(ReadOnly) => {
            "; newshound's user must be able to write the database file, its -wal and -shm \
             files and their folder"
        }
        _ => "",
    }
}

impl StoreError {
    /// Whether the error is one feed's write failing on newshound's own judgement (a
    /// bug), not the database failing: the other feeds can still be written.
    pub fn is_one_feeds(&self) -> bool {
        matches!(self, StoreError::Unmatched(_) | StoreError::Unsettled(_))
    }

    /// The same error again, for each of several callers it fails at once (SQLite's
    /// code and message are kept; other errors keep their message).
    pub(crate) fn duplicate(&self) -> StoreError {
        let sqlite = match self {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(code, message)) => {
                rusqlite::Error::SqliteFailure(*code, message.clone())
            }
            other => rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
                Some(other.to_string()),
            ),
        };
        StoreError::Sqlite(sqlite)
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The size, in bytes, a write-ahead log is cut back to when it is reset: a little over
/// what SQLite's automatic checkpoint lets it reach (1,000 pages of 4 KiB).
pub const WAL_SIZE_LIMIT: u64 = 4 * 1024 * 1024 + 64 * 1024;

/// An open database.
pub struct Store {
    conn: Connection,
    /// This database's own random value, which alert ids derive from (migration 15).
    salt: String,
    /// Transactions that wrote fetched feeds, for diagnostics: with group commit there
    /// may be fewer than feeds written.
    ingest_commits: u64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.conn.path())
            .finish()
    }
}

/// This database's own random value (migration 15), which alert and notice ids derive
/// from, so that another database's are never the same.
pub(super) fn salt(conn: &Connection) -> Result<String> {
    Ok(conn
        .prepare_cached("SELECT salt FROM instance")?
        .query_row([], |r| r.get(0))?)
}

/// Whether opening a database brings its schema up to date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Migrate {
    Yes,
    No,
}

impl Store {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Store> {
        let open_err = |source| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // A missing folder is the common first-run problem; say so plainly.
            if !dir.is_dir() {
                return Err(open_err(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                    Some(format!("the folder {} does not exist", dir.display())),
                )));
            }
        }
        let conn = Connection::open(path).map_err(open_err)?;
        Store::setup(conn, path, Migrate::Yes)
    }

    /// Opens the database at `path` for a command that reads it (or mends its queue):
    /// nothing is created, and a database of an older schema is refused rather than
    /// migrated, which only `once` and `run` do — a daemon of the older version may be
    /// running on it, and could not start again on the migrated file.
    pub fn open_existing(path: &Path) -> Result<Store> {
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::default().difference(rusqlite::OpenFlags::SQLITE_OPEN_CREATE),
        )
        .map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })?;
        Store::setup(conn, path, Migrate::No)
    }

    /// Opens the configuration's database and records its feeds.
    pub fn open_for(config: &crate::config::Config) -> Result<Store> {
        let mut store = Store::open(&config.storage.path)?;
        store.sync_feeds(
            config
                .feeds
                .iter()
                .map(|f| (f.url.as_str(), f.name.as_deref())),
        )?;
        Ok(store)
    }

    /// A private in-memory database, for tests.
    pub fn open_in_memory() -> Result<Store> {
        Store::setup(
            Connection::open_in_memory()?,
            Path::new(":memory:"),
            Migrate::Yes,
        )
    }

    fn setup(conn: Connection, path: &Path, migrate: Migrate) -> Result<Store> {
        let open_err = |source| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        // journal_mode returns a row, so it is read rather than executed. Switching a new
        // database to WAL takes an exclusive lock: two processes creating it at once can
        // each hold the shared lock the other waits for, and SQLite then fails one of
        // them at once instead of waiting out the busy timeout. So it retries, as long.
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        loop {
            match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
                Ok(_) => break,
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::DatabaseBusy
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(open_err(e)),
            }
        }
        // A write-ahead log that a large write grew is cut back once it is reset, instead
        // of keeping its largest size for as long as the daemon runs.
        conn.execute_batch(&format!(
            "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA journal_size_limit = {WAL_SIZE_LIMIT};"
        ))
        .map_err(open_err)?;
        let mut store = Store {
            conn,
            salt: String::new(),
            ingest_commits: 0,
        };
        store.migrate(path, migrate)?;
        store.salt = salt(&store.conn)?;
        Ok(store)
    }

    fn migrate(&mut self, path: &Path, migrate: Migrate) -> Result<()> {
        let known = schema::MIGRATIONS.len() as i64;
        if migrate == Migrate::No {
            let found = self.schema_version()?;
            return match found.cmp(&known) {
                std::cmp::Ordering::Equal => Ok(()),
                std::cmp::Ordering::Less => Err(StoreError::TooOld {
                    path: path.to_owned(),
                    found,
                    known,
                }),
                std::cmp::Ordering::Greater => Err(StoreError::TooNew {
                    path: path.to_owned(),
                    found,
                    known,
                }),
            };
        }
        // The schema the database had, when it had one: an upgrade is logged.
        let mut from: Option<i64> = None;
        loop {
            // The version is read inside a write transaction, so two processes opening a
            // new database at once cannot both run the same migration.
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            if version > known {
                return Err(StoreError::TooNew {
                    path: path.to_owned(),
                    found: version,
                    known,
                });
            }
            let Some(script) = schema::MIGRATIONS.get(version as usize) else {
                if let Some(from) = from.filter(|&f| f > 0 && f < version) {
                    tracing::info!(
                        database = %path.display(),
                        from,
                        to = version,
                        "database migrated to this newshound's schema; an older newshound cannot open it now"
                    );
                }
                return Ok(());
            };
            from.get_or_insert(version);
            tx.execute_batch(script)?;
            tx.pragma_update(None, "user_version", version + 1)?;
            tx.commit()?;
            tracing::debug!(version = version + 1, "database migrated");
        }
    }

    /// How many transactions have written fetched feeds since the store was opened.
    pub fn ingest_commits(&self) -> u64 {
        self.ingest_commits
    }

    /// The schema version the database is at.
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// Retention: stories without hits first seen before `now - keep` lose their text but
    /// their title, or the text that names an untitled one ([`crate::story::Story::name`])
    /// (the row stays, so the story is never new again, and the name still tells it from
    /// other articles under a link it shares); such rows are deleted once no feed has
    /// listed them for four times `keep` (a feed that still lists one keeps it: see
    /// `ingest::upsert_story`). Returns (pruned, deleted). All at once, a batch at a time
    /// ([`Store::prune_batch`]).
    pub fn prune(&mut self, now: i64, keep: Duration) -> Result<(usize, usize)> {
        let (mut pruned, mut deleted, mut after) = (0, 0, None);
        loop {
            let batch = self.prune_batch(now, keep, after, PRUNE_BATCH)?;
            pruned += batch.pruned;
            deleted += batch.deleted;
            match batch.next {
                Some(next) => after = Some(next),
                None => return Ok((pruned, deleted)),
            }
        }
    }

    /// One batch of retention ([`Store::prune`]): the next `limit` stories first seen
    /// before `now - keep`, in the order they were first seen, after the story `after`
    /// (`(first_seen, id)`, from the batch before), in one short transaction — so that
    /// retention over a large database on a slow disk, or after `keep` was shortened,
    /// never holds the database (and the daemon's other work, its watchdog pings
    /// included) for long. Each story is looked at once in a run, however many batches.
    pub fn prune_batch(
        &mut self,
        now: i64,
        keep: Duration,
        after: Option<(i64, i64)>,
        limit: usize,
    ) -> Result<PruneBatch> {
        let keep = keep.as_secs() as i64;
        let cut = now - keep;
        let (from_seen, from_id) = after.unwrap_or((i64::MIN, i64::MIN));
        let tx = self.conn.transaction()?;
        // The batch's last story, or none when fewer than `limit` are left.
        let last: Option<(i64, i64)> = tx
            .query_row(
                "SELECT first_seen, id FROM stories
                 WHERE first_seen < ?1 AND (first_seen, id) > (?2, ?3)
                 ORDER BY first_seen, id LIMIT 1 OFFSET ?4",
                params![cut, from_seen, from_id, limit.saturating_sub(1) as i64],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (to_seen, to_id) = last.unwrap_or((i64::MAX, i64::MAX));
        let in_batch = "first_seen < ?1 AND (first_seen, id) > (?2, ?3)
                        AND (first_seen, id) <= (?4, ?5)
                        AND NOT EXISTS (SELECT 1 FROM hits WHERE hits.story_id = stories.id)";
        let pruned = tx.execute(
            &format!(
                "UPDATE stories SET pruned = 1, authors = '', categories = '',
                     summary = CASE WHEN title = '' THEN summary ELSE '' END,
                     content = CASE WHEN title = '' AND summary = '' THEN content ELSE '' END
                 WHERE pruned = 0 AND {in_batch}"
            ),
            params![cut, from_seen, from_id, to_seen, to_id],
        )?;
        let deleted = tx.execute(
            &format!(
                "DELETE FROM stories WHERE pruned = 1 AND COALESCE(last_listed, first_seen) < ?6
                     AND {in_batch}"
            ),
            params![
                cut,
                from_seen,
                from_id,
                to_seen,
                to_id,
                now - TOMBSTONE_FACTOR * keep
            ],
        )?;
        tx.commit()?;
        Ok(PruneBatch {
            pruned,
            deleted,
            next: last,
        })
    }

    /// After the system clock went back (a clock set ahead at boot, then corrected): the
    /// times written meanwhile lie in the future, and would hold feeds and alerts back
    /// until the clock caught up. Feeds fetched "later than now" keep the wait they
    /// had planned, counted from now; waiting alerts and notices created "later than now"
    /// likewise, and channels failing "since later than now" fail since now. Times up to
    /// a minute ahead are left alone. Returns (feeds, alerts) moved; a second call finds
    /// nothing to move.
    pub fn rebase_future(&mut self, now: i64) -> Result<(usize, usize)> {
        let ahead = now + CLOCK_SLACK;
        let tx = self.conn.transaction()?;
        let feeds = tx.execute(
            "UPDATE feeds SET next_due = MAX(?1, next_due - (last_fetch - ?1)), last_fetch = ?1
             WHERE last_fetch > ?2",
            params![now, ahead],
        )?;
        let mut alerts = 0;
        for table in ["outbox", "notices"] {
            alerts += tx.execute(
                &format!(
                    "UPDATE {table} SET next_attempt = MAX(?1, next_attempt - (created - ?1)), created = ?1
                     WHERE created > ?2 AND state IN ('pending', 'failed')"
                ),
                params![now, ahead],
            )?;
        }
        // A channel "failing since later than now" would be told of that much late.
        tx.execute(
            "UPDATE channel_health SET failing_since = ?1 WHERE failing_since > ?2",
            params![now, ahead],
        )?;
        tx.commit()?;
        Ok((feeds, alerts))
    }

    /// `PRAGMA integrity_check`: "ok" for a sound database.
    pub fn integrity_check(&self) -> Result<String> {
        Ok(self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }

    /// A transaction that holds the write lock from its start: for one that reads before
    /// it writes. A deferred one would fail at its first write, busy timeout or not, had
    /// another process written since its read (the read's snapshot is then stale).
    fn write_transaction(&mut self) -> Result<rusqlite::Transaction<'_>> {
        Ok(self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?)
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The id of a feed by URL.
    pub fn feed_id(&self, url: &str) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row("SELECT id FROM feeds WHERE url = ?1", [url], |r| r.get(0))
            .optional()?)
    }
}

/// A write transaction, begun and committed with cached statements, for the writes
/// made once per feed (rusqlite's own transactions prepare `BEGIN` and `COMMIT` anew
/// every time). Rolled back if dropped uncommitted.
pub(crate) struct WriteTx<'c> {
    conn: &'c Connection,
    open: bool,
}

impl<'c> WriteTx<'c> {
    pub(crate) fn begin(conn: &'c Connection) -> Result<Self> {
        // IMMEDIATE: take the write lock now, so that waiting for another process
        // happens here, once, rather than at the first write.
        conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        Ok(WriteTx { conn, open: true })
    }

    pub(crate) fn commit(mut self) -> Result<()> {
        self.conn.prepare_cached("COMMIT")?.execute([])?;
        self.open = false;
        Ok(())
    }
}

impl std::ops::Deref for WriteTx<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Drop for WriteTx<'_> {
    fn drop(&mut self) {
        if self.open
            && !self.conn.is_autocommit()
            && let Err(error) = self.conn.execute_batch("ROLLBACK")
        {
            tracing::error!(%error, "could not roll back a failed write");
        }
    }
}

type Job = Box<dyn FnOnce(&mut Store) + Send>;

/// The most fetches written in one group.
const MAX_GROUP: usize = 64;

/// What the store thread is asked to do.
enum Message {
    Job(Job),
    Ingest(
        Box<IngestJob>,
        tokio::sync::oneshot::Sender<Result<IngestOutcome>>,
    ),
}

/// The store on a thread of its own, for async code: jobs run one at a time, in order,
/// off the async workers. Fetches waiting to be written when the thread gets to them
/// are written together, in one transaction ([`Store::ingest_group`]).
#[derive(Clone, Debug)]
pub struct StoreHandle {
    jobs: std::sync::mpsc::Sender<Message>,
}

impl StoreHandle {
    /// Moves the store to a new thread.
    pub fn spawn(mut store: Store) -> StoreHandle {
        let (jobs, queue) = std::sync::mpsc::channel::<Message>();
        std::thread::Builder::new()
            .name("newshound-store".into())
            .spawn(move || {
                let mut next = None;
                while let Some(message) = next.take().or_else(|| queue.recv().ok()) {
                    match message {
                        Message::Job(job) => job(&mut store),
                        Message::Ingest(job, reply) => {
                            let (mut group, mut replies) = (vec![*job], vec![reply]);
                            while group.len() < MAX_GROUP {
                                match queue.try_recv() {
                                    Ok(Message::Ingest(job, reply)) => {
                                        group.push(*job);
                                        replies.push(reply);
                                    }
                                    Ok(other) => {
                                        next = Some(other);
                                        break;
                                    }
                                    Err(_) => break,
                                }
                            }
                            for (reply, result) in
                                replies.into_iter().zip(store.ingest_group(&group))
                            {
                                let _ = reply.send(result);
                            }
                        }
                    }
                }
            })
            .expect("the store thread starts");
        StoreHandle { jobs }
    }

    /// Runs `f` on the store thread and returns its result.
    pub async fn call<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Store) -> Result<R> + Send + 'static,
    {
        self.queue_call(f)?.await.map_err(|_| StoreError::Gone)?
    }

    /// Runs `f` on the store thread and waits for its result, blocking the thread (for
    /// callers outside async code, such as the parse on its threads).
    pub fn call_blocking<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Store) -> Result<R> + Send + 'static,
    {
        self.queue_call(f)?
            .blocking_recv()
            .map_err(|_| StoreError::Gone)?
    }

    fn queue_call<R, F>(&self, f: F) -> Result<tokio::sync::oneshot::Receiver<Result<R>>>
    where
        R: Send + 'static,
        F: FnOnce(&mut Store) -> Result<R> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Message::Job(Box::new(move |store| {
                let _ = reply.send(f(store));
            })))
            .map_err(|_| StoreError::Gone)?;
        Ok(answer)
    }

    /// Queues a fetch to be written; the answer arrives once it is committed.
    pub fn send_ingest(&self, job: IngestJob) -> Result<PendingIngest> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Message::Ingest(Box::new(job), reply))
            .map_err(|_| StoreError::Gone)?;
        Ok(PendingIngest(answer))
    }

    /// Writes a fetch (with any others waiting) and returns what it changed.
    pub async fn ingest(&self, job: IngestJob) -> Result<IngestOutcome> {
        self.send_ingest(job)?.await
    }
}

/// A fetch queued on the store thread, not yet known to be written.
#[derive(Debug)]
pub struct PendingIngest(tokio::sync::oneshot::Receiver<Result<IngestOutcome>>);

impl PendingIngest {
    /// Waits, blocking the thread, for the write (for callers outside async code).
    pub fn wait(self) -> Result<IngestOutcome> {
        self.0.blocking_recv().map_err(|_| StoreError::Gone)?
    }
}

impl std::future::Future for PendingIngest {
    type Output = Result<IngestOutcome>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0)
            .poll(cx)
            .map(|answer| answer.map_err(|_| StoreError::Gone)?)
    }
}

/// Seconds since the Unix epoch, the store's unit of time.
pub fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests;
