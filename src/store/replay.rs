//! Matching a rule added or changed against the stories already stored: without it, a
//! rule written because of the news would never see the story that prompted it, fetched
//! minutes before.

use rusqlite::params;

use super::hits::{STORY_COLUMNS, StoredStory, each_row, stored_story};
use super::ingest::{fresh, latest_of, record_hits};
use super::{IncomingHit, Result, Store};

/// A stored story a replayed rule matched, with the hits to record.
#[derive(Debug, Clone)]
pub struct Replayed {
    pub story_id: i64,
    /// Its latest plausible date ([`StoredStory::latest_date`]).
    pub latest: Option<i64>,
    pub hits: Vec<IncomingHit>,
}

impl StoredStory {
    /// The latest plausible date its feed gave it, published or updated: what its age
    /// for alerting counts from.
    pub fn latest_date(&self) -> Option<i64> {
        latest_of(self.published, self.updated)
    }
}

impl Store {
    /// Which of these rule fingerprints the stored stories have not been matched
    /// against yet.
    pub fn unapplied_rules(&self, fingerprints: &[String]) -> Result<Vec<bool>> {
        let mut known = self
            .conn()
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM rules_applied WHERE fingerprint = ?1)")?;
        fingerprints
            .iter()
            .map(|f| Ok(!known.query_row([f], |r| r.get::<_, bool>(0))?))
            .collect()
    }

    /// Hands `read` the stories first seen at or after `since` whose text is kept, with
    /// their feed's URL, one at a time as they are read (a replay over a busy week need
    /// not hold them all), and returns what it returns.
    pub fn with_stories_to_replay<R>(
        &self,
        since: i64,
        read: impl FnOnce(&mut dyn Iterator<Item = (String, StoredStory)>) -> R,
    ) -> Result<R> {
        let mut stmt = self.conn().prepare(&format!(
            "SELECT f.url, {STORY_COLUMNS} FROM stories s JOIN feeds f ON f.id = s.feed_id
             WHERE s.first_seen >= ?1 AND s.pruned = 0 ORDER BY s.id"
        ))?;
        each_row(
            &mut stmt,
            [since],
            |r| Ok((r.get(0)?, stored_story(r, 1)?)),
            read,
        )
    }

    /// Records what replaying rules found, and the rules as applied, in one transaction:
    /// each hit once (a rule that hit a story before is skipped) and an alert per channel
    /// for a fresh story. Returns how many hits and alerts were new.
    pub fn record_replay(
        &mut self,
        found: &[Replayed],
        rules: &[(String, String)],
        now: i64,
        max_age: i64,
    ) -> Result<(usize, usize)> {
        let salt = self.salt.clone();
        let tx = self.write_transaction()?;
        let (mut hits, mut alerts) = (0, 0);
        for story in found {
            let fresh = fresh(story.latest, now, max_age);
            let (h, a) = record_hits(&tx, &salt, story.story_id, &story.hits, fresh, now)?;
            hits += h;
            alerts += a;
        }
        for (fingerprint, rule) in rules {
            tx.execute(
                "INSERT INTO rules_applied (fingerprint, rule, applied) VALUES (?1, ?2, ?3)
                 ON CONFLICT (fingerprint) DO NOTHING",
                params![fingerprint, rule, now],
            )?;
        }
        tx.commit()?;
        Ok((hits, alerts))
    }
}
