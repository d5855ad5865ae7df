//! `newshound check --database`: what the database holds, and whether SQLite finds it
//! sound, read without changing it (no migration, nothing created).

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::feeds::Stored;
use super::schema;

/// What `check --database` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// `PRAGMA user_version`; the schema this newshound writes is [`Inspection::current`].
    pub schema: i64,
    pub current: i64,
    /// What `PRAGMA quick_check` reported, or why the file could not be read: empty for a
    /// sound database.
    pub problems: Vec<String>,
    /// Feeds, stories and hits stored; alerts waiting (pending or to be retried) and dead.
    /// Counted only in a sound database of a schema this newshound knows.
    pub counts: Option<[i64; 5]>,
}

/// Opens the database at `path` without the right to change it, waiting for writers as
/// the store does.
fn open_read_only(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(super::BUSY_TIMEOUT)?;
    Ok(conn)
}

/// Reads the database at `path` without writing to it: `None` when there is no file yet.
pub fn inspect(path: &Path) -> Option<Inspection> {
    if !path.exists() {
        return None;
    }
    let current = schema::MIGRATIONS.len() as i64;
    let mut inspection = Inspection {
        schema: 0,
        current,
        problems: Vec::new(),
        counts: None,
    };
    let conn = match open_read_only(path) {
        Ok(conn) => conn,
        Err(e) => {
            inspection.problems.push(e.to_string());
            return Some(inspection);
        }
    };
    let read = || -> rusqlite::Result<(i64, Vec<String>)> {
        let schema = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let mut stmt = conn.prepare("PRAGMA quick_check")?;
        let problems = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?
            .into_iter()
            .filter(|p| p != "ok")
            .collect();
        Ok((schema, problems))
    };
    match read() {
        Ok((schema, problems)) => {
            inspection.schema = schema;
            inspection.problems = problems;
        }
        Err(e) => {
            inspection.problems.push(e.to_string());
            return Some(inspection);
        }
    }
    if inspection.problems.is_empty() && (1..=current).contains(&inspection.schema) {
        let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0));
        let counts = [
            "SELECT COUNT(*) FROM feeds",
            "SELECT COUNT(*) FROM stories",
            "SELECT COUNT(*) FROM hits",
            "SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'failed')",
            "SELECT COUNT(*) FROM outbox WHERE state = 'dead'",
        ]
        .map(count);
        match counts.iter().find_map(|c| c.as_ref().err()) {
            Some(e) => inspection.problems.push(e.to_string()),
            None => inspection.counts = Some(counts.map(|c| c.unwrap_or_default())),
        }
    }
    Some(inspection)
}

/// The schema version of the database at `path` and the one this newshound writes, read
/// without changing it: `None` when there is no database yet or it cannot be read (the
/// store, opening it, says why).
pub fn schema_of(path: &Path) -> Option<(i64, i64)> {
    if !path.exists() {
        return None;
    }
    let found = open_read_only(path)
        .and_then(|conn| conn.query_row("PRAGMA user_version", [], |r| r.get(0)))
        .ok()?;
    Some((found, schema::MIGRATIONS.len() as i64))
}

/// What the configuration's warnings need to know, read without changing the database:
/// nothing when there is no database yet or it cannot be read.
pub fn stored(path: &Path) -> Stored {
    if !path.exists() {
        return Stored::default();
    }
    open_read_only(path)
        .and_then(|conn| super::feeds::read_stored(&conn))
        .unwrap_or_default()
}

/// Why [`backup`] made no copy.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("there is no database at {0} yet")]
    NoDatabase(PathBuf),
    #[error("{0} exists already; name a new file (nothing is overwritten)")]
    TargetExists(PathBuf),
    #[error("copying the database {} to {}: {source}", from.display(), to.display())]
    Sqlite {
        from: PathBuf,
        to: PathBuf,
        source: rusqlite::Error,
    },
}

/// Writes a consistent copy of the database at `path` to the new file `target` while
/// other processes go on using it (`VACUUM INTO`: one read transaction, so the copy holds
/// what the write-ahead log holds too, compacted). Returns the copy's size in bytes.
pub fn backup(path: &Path, target: &Path) -> Result<u64, BackupError> {
    if !path.exists() {
        return Err(BackupError::NoDatabase(path.to_owned()));
    }
    if target.exists() {
        return Err(BackupError::TargetExists(target.to_owned()));
    }
    let sqlite = |source| BackupError::Sqlite {
        from: path.to_owned(),
        to: target.to_owned(),
        source,
    };
    let conn = open_read_only(path).map_err(sqlite)?;
    let target_text = target.to_string_lossy();
    if let Err(error) = conn.execute("VACUUM INTO ?1", [target_text.as_ref()]) {
        // The file did not exist before: what was written of it (on a full disk, some
        // or none) is no copy, and would make the same command refuse once there is room.
        let _ = std::fs::remove_file(target);
        return Err(sqlite(error));
    }
    Ok(std::fs::metadata(target).map_or(0, |m| m.len()))
}
