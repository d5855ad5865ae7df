//! Reading hits and stories back: `newshound hits`, and replaying rules over stored
//! stories.

use rusqlite::params;
use serde::Serialize;

use super::{Result, Store};
use crate::rules::Span;

/// One alert's delivery state on one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub channel: String,
    /// pending | sent | failed | dead
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    /// The alert's stable id: the webhook-id, the Message-ID's local part, and what the
    /// log names when a delivery fails.
    pub alert_id: String,
}

/// One (story, rule) hit.
#[derive(Debug, Clone, Serialize)]
pub struct HitRow {
    pub rule: String,
    pub detected_at: i64,
    pub title: String,
    pub link: Option<String>,
    pub feed: String,
    pub published: Option<i64>,
    pub spans: Vec<Span>,
    /// Delivery state per channel; empty when the story was too old to alert.
    pub deliveries: Vec<Delivery>,
    #[serde(skip)]
    pub story_id: i64,
}

/// A stored story with its feed's name.
#[derive(Debug, Clone)]
pub struct StoredStory {
    pub id: i64,
    pub feed: String,
    pub link: Option<String>,
    pub title: String,
    pub summary: String,
    pub content: String,
    pub authors: String,
    pub categories: String,
    pub published: Option<i64>,
    /// When the feed says the story last changed, if it says.
    pub updated: Option<i64>,
    pub first_seen: i64,
}

impl StoredStory {
    /// What to call the story where a title is shown: its title, or the first words of
    /// its text when it has none ([`crate::story::headline`]).
    pub fn headline(&self) -> std::borrow::Cow<'_, str> {
        crate::story::headline(&self.title, &self.summary, &self.content)
    }
}

pub(super) const STORY_COLUMNS: &str =
    "s.id, COALESCE(f.name, f.title, f.url), s.link, s.title, s.summary,
    CASE WHEN s.content_is_summary THEN s.summary ELSE s.content END,
    s.authors, s.categories, s.published, s.updated, s.first_seen";

pub(super) fn stored_story(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<StoredStory> {
    Ok(StoredStory {
        id: r.get(at)?,
        feed: crate::fetch::shown(&r.get::<_, String>(at + 1)?).into_owned(),
        link: r.get(at + 2)?,
        title: r.get(at + 3)?,
        summary: r.get(at + 4)?,
        content: r.get(at + 5)?,
        authors: r.get(at + 6)?,
        categories: r.get(at + 7)?,
        published: r.get(at + 8)?,
        updated: r.get(at + 9)?,
        first_seen: r.get(at + 10)?,
    })
}

impl Store {
    /// Whether any hit of the rule called `rule` is stored, however old.
    pub fn has_hits_of(&self, rule: &str) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM hits WHERE rule = ?1)",
            [rule],
            |r| r.get(0),
        )?)
    }

    /// Hits detected at or after `since`, newest first, optionally of one rule.
    pub fn hits(&self, rule: Option<&str>, since: i64) -> Result<Vec<HitRow>> {
        let mut stmt = self.conn().prepare(
            "SELECT h.rule, h.detected_at, s.title, s.link, COALESCE(f.name, f.title, f.url), s.published, h.spans, s.id,
                    CASE WHEN s.title = '' THEN s.summary ELSE '' END,
                    CASE WHEN s.title = '' AND s.summary = '' THEN s.content ELSE '' END
             FROM hits h JOIN stories s ON s.id = h.story_id JOIN feeds f ON f.id = s.feed_id
             WHERE h.detected_at >= ?1 AND (?2 IS NULL OR h.rule = ?2)
             ORDER BY h.detected_at DESC, h.id DESC",
        )?;
        let mut rows: Vec<HitRow> = stmt
            .query_map(params![since, rule], |r| {
                let spans: String = r.get(6)?;
                let (title, summary, content): (String, String, String) =
                    (r.get(2)?, r.get(8)?, r.get(9)?);
                Ok(HitRow {
                    rule: r.get(0)?,
                    detected_at: r.get(1)?,
                    // A story without a title is called by its first words, as in alerts.
                    title: crate::story::headline(&title, &summary, &content).into_owned(),
                    link: r.get(3)?,
                    feed: crate::fetch::shown(&r.get::<_, String>(4)?).into_owned(),
                    published: r.get(5)?,
                    spans: serde_json::from_str(&spans).unwrap_or_default(),
                    deliveries: Vec::new(),
                    story_id: r.get(7)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut outbox = self.conn().prepare(
            "SELECT channel, state, attempts, last_error, alert_id, rules FROM outbox WHERE story_id = ?1 ORDER BY channel, id",
        )?;
        for row in &mut rows {
            let deliveries = outbox.query_map([row.story_id], |r| {
                let rules: String = r.get(5)?;
                Ok((
                    Delivery {
                        channel: r.get(0)?,
                        state: r.get(1)?,
                        attempts: r.get(2)?,
                        last_error: r.get(3)?,
                        alert_id: r.get(4)?,
                    },
                    rules,
                ))
            })?;
            for delivery in deliveries {
                let (delivery, rules) = delivery?;
                let rules: Vec<String> = serde_json::from_str(&rules).unwrap_or_default();
                if rules.contains(&row.rule) {
                    row.deliveries.push(delivery);
                }
            }
        }
        Ok(rows)
    }

    /// Hands `read` the stories first seen at or after `since` whose text is still kept,
    /// newest first, one at a time as they are read from the database — a week of a few
    /// thousand feeds is hundreds of thousands of stories, which `test-rule --stored` need
    /// not hold at once — and returns what it returns; an error reading a row ends the
    /// stories and is returned.
    pub fn with_stories_since<R>(
        &self,
        since: i64,
        read: impl FnOnce(&mut dyn Iterator<Item = StoredStory>) -> R,
    ) -> Result<R> {
        let mut stmt = self.conn().prepare(&format!(
            "SELECT {STORY_COLUMNS} FROM stories s JOIN feeds f ON f.id = s.feed_id
             WHERE s.first_seen >= ?1 AND s.pruned = 0 ORDER BY s.first_seen DESC, s.id DESC"
        ))?;
        each_row(&mut stmt, [since], |r| stored_story(r, 0), read)
    }
}

/// Hands `read` the rows of a query, mapped, one at a time as the database gives them,
/// and returns what it returns; an error reading a row ends the rows and is returned.
pub(super) fn each_row<T, R>(
    stmt: &mut rusqlite::Statement<'_>,
    params: impl rusqlite::Params,
    map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    read: impl FnOnce(&mut dyn Iterator<Item = T>) -> R,
) -> Result<R> {
    let mut rows = stmt.query_map(params, map)?;
    let mut failed = None;
    let result = read(&mut std::iter::from_fn(|| match rows.next()? {
        Ok(row) => Some(row),
        Err(error) => {
            failed = Some(error);
            None
        }
    }));
    match failed {
        Some(error) => Err(error.into()),
        None => Ok(result),
    }
}
