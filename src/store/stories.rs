//! One story's row within a fetch's write: found by its identity (or, across feeds, by
//! its canonical link), inserted when new, updated when its text changed — and the
//! judgements of when an entry that looks like a stored story is another article.

use rusqlite::{OptionalExtension, params};

use super::ingest::{Incoming, IngestOutcome};
use super::{Result, StoreError, WriteTx};
use crate::story::Story;
use crate::story::canonical::same_page_elsewhere;

/// `SELECT` of the columns [`Existing`] is read from, in its fields' order, then `$rest`
/// (a literal, so that the statement is one constant: the lookups run once per story).
macro_rules! select_existing {
    ($rest:literal) => {
        concat!(
            "SELECT id, content_hash, pruned, feed_id, link, ",
            story_name!(),
            ", identity FROM stories ",
            $rest
        )
    };
}

/// A stored story's [`Story::name`]: its title, or without one its text (the content
/// is stored empty only when it is the summary).
macro_rules! story_name {
    () => {
        "CASE WHEN title <> '' THEN title WHEN summary <> '' THEN summary ELSE content END"
    };
}

/// What a fetch's write knows of its feed, the same for each of its stories.
#[derive(Debug, Clone, Copy)]
pub(super) struct FeedWrite<'a> {
    pub(super) feed_id: i64,
    /// The feed had stories stored before this fetch; when it had none, a story can
    /// only be found after an insert fails.
    pub(super) known: bool,
    /// The feed was read successfully before (its stories may all be stored as other
    /// feeds').
    pub(super) read_before: bool,
    /// For a feed not read before: the sites where other feeds hold stories, among the
    /// other forms of its entries' links ([`sites_elsewhere`]).
    pub(super) sites_elsewhere: &'a Sites,
    pub(super) now: i64,
}

/// Sites, written `scheme://host/`.
pub(super) type Sites = rustc_hash::FxHashSet<String>;

/// The site of an address, `scheme://host/` (the address up to the first `/` after its
/// host); `None` for an address without a path.
fn site(address: &str) -> Option<&str> {
    let host = address.find("://")? + 3;
    let end = host + address[host..].find('/')? + 1;
    Some(&address[..end])
}

/// Whether a feed other than `?3` holds a story whose link lies in `?1..?2`, its own
/// (not a shared) link: a range of the link index.
pub(super) const ANY_STORY_UNDER_A_SITE: &str = "SELECT EXISTS (SELECT 1 FROM stories
     WHERE link >= ?1 AND link < ?2 AND shared_link = 0 AND feed_id <> ?3)";

/// For the first read of feed `feed_id`: the sites of the other scheme, host or
/// permalink forms of its entries' links ([`same_page_elsewhere`]) under which other
/// feeds hold stories — one look at the link index for each site, so that an entry is
/// looked up under its link's other forms only where some could be stored.
///
/// The other forms of a link lie under its site's other scheme and host, and under its
/// own site (with or without a trailing slash), whatever its path: so the forms are
/// worked out for the first link of each site only, its own site among them — a feed's
/// links are mostly of one site.
pub(super) fn sites_elsewhere(
    tx: &WriteTx<'_>,
    feed_id: i64,
    incoming: &[Incoming],
) -> Result<Sites> {
    let mut own_sites: rustc_hash::FxHashSet<&str> = Default::default();
    let mut asked = Sites::default();
    let mut held = Sites::default();
    // A site's addresses sort from `scheme://host/` up to `scheme://host0` ('0' is the
    // byte after '/'): one range of the link index.
    let mut any_under = tx.prepare_cached(ANY_STORY_UNDER_A_SITE)?;
    let links = incoming.iter().filter_map(|item| {
        item.story
            .link
            .as_deref()
            .filter(|_| !item.story.link_names_others)
    });
    for link in links {
        let Some(own) = site(link) else { continue };
        if !own_sites.insert(own) {
            continue;
        }
        let others = same_page_elsewhere(link);
        if others.is_empty() {
            continue; // not an http(s) address
        }
        let sites = others.iter().filter_map(|other| site(other)).chain([own]);
        for site in sites {
            if asked.contains(site) {
                continue;
            }
            asked.insert(site.to_owned());
            let end = format!("{}0", &site[..site.len() - 1]);
            if any_under.query_row(params![site, end, feed_id], |r| r.get::<_, bool>(0))? {
                held.insert(site.to_owned());
            }
        }
    }
    Ok(held)
}

/// Finds or inserts the story; returns its id and whether it is new or its text changed
/// (and so must be matched).
pub(super) fn upsert_story(
    tx: &WriteTx<'_>,
    feed: FeedWrite<'_>,
    item: &Incoming,
    outcome: &mut IngestOutcome,
) -> Result<(i64, bool)> {
    // An entry whose guid names another stored article is written again: once the stored
    // article is renamed, or as the story its link names. At most twice: a judgement that
    // kept asking for another try fails the feed's write (it is fetched again) instead
    // of recursing until the process runs out of stack.
    let mut again: Option<Box<Incoming>> = None;
    for _ in 0..3 {
        let current = again.as_deref().unwrap_or(item);
        match upsert_once(tx, feed, current, outcome)? {
            Upsert::Done(id, changed) => return Ok((id, changed)),
            Upsert::Again(next) => again = next.or(again),
        }
    }
    Err(StoreError::Unsettled(item.story.identity.clone()))
}

/// What one try at writing a story came to.
enum Upsert {
    /// The story's id, and whether it is new or its text changed.
    Done(i64, bool),
    /// Write it again: as it is (`None`), or as this entry.
    Again(Option<Box<Incoming>>),
}

/// One try at [`upsert_story`].
fn upsert_once(
    tx: &WriteTx<'_>,
    feed: FeedWrite<'_>,
    item: &Incoming,
    outcome: &mut IngestOutcome,
) -> Result<Upsert> {
    let FeedWrite {
        feed_id,
        known,
        read_before,
        sites_elsewhere,
        now,
    } = feed;
    let (story, hash) = (&item.story, &item.content_hash);
    let by_identity = || {
        tx.prepare_cached(select_existing!("WHERE feed_id = ?1 AND identity = ?2"))?
            .query_row(params![feed_id, story.identity], existing_row)
            .optional()
    };
    let mut existing: Option<Existing> = if known { by_identity()? } else { None };
    if existing.is_none() && known {
        existing = under_an_earlier_address(tx, feed_id, story)?;
    }
    if existing.is_none() {
        // New to this feed. Most such stories are new to the database too, so the row
        // is inserted straight away; it gives way to the UNIQUE index on links when the
        // same article is stored already — carried by another feed, or by this one
        // under a new guid — and, in a first fetch, to the feed's own identities when
        // the document repeats an entry. The row that refused it is the story.
        if insert_story(tx, feed_id, story, hash, now, false)? {
            let id = tx.last_insert_rowid();
            // In a feed read before, an article new to it may be one stored under its
            // link's other address by a feed not read since the site moved, or one of
            // its own the feed now lists under a new guid and address (the row just
            // written then gives way to it). In a feed read for the first time, it may
            // be another feed's story under its link's other address (the feed was
            // added after the site moved, or it writes the site's addresses another
            // way), looked up where other feeds hold stories.
            let found = if read_before {
                match by_another_address_of_its_link(tx, story, None)? {
                    Some(moved) => Some((moved, false)),
                    None => under_its_name_and_date(tx, feed_id, story, id)?.map(|f| (f, true)),
                }
            } else if !sites_elsewhere.is_empty() {
                by_another_address_of_its_link(tx, story, Some((feed_id, sites_elsewhere)))?
                    .map(|moved| (moved, false))
            } else {
                None
            };
            let Some((mut found, renamed)) = found else {
                outcome.new_stories += 1;
                return Ok(Upsert::Done(id, true));
            };
            tx.prepare_cached("DELETE FROM stories WHERE id = ?1")?
                .execute([id])?;
            if renamed {
                // The row that held the entry's identity is gone: the story takes it.
                found = take_identity(tx, found, story)?;
                outcome.known_again += 1;
            }
            existing = Some(found);
        } else if !known {
            existing = by_identity()?;
        }
    }
    let existing = match existing {
        Some(found) => found,
        // (A story without a link cannot conflict there, so this finds the row.)
        None => tx
            .prepare_cached(select_existing!("WHERE link = ?1 AND shared_link = 0"))?
            .query_row([&story.link], existing_row)?,
    };
    // Found as another article (another name: title, or text when untitled) under the
    // link it shares, or under its own identity: the story may be one stored under this
    // link and name — an article republished under a new guid, or listed alone again by
    // a feed that shares one link (or one guid and link) among several articles — or,
    // when `may_be_new`, a story of its own, left out of the link's dedupe. Otherwise it
    // is the stored story, its title corrected (or, see `reused_guid`, another article
    // under a reused guid).
    let look_further = if another_article(story, &existing, feed_id) {
        Some((Some(feed_id), shares_link(story, &existing)))
    } else if link_shared_elsewhere(tx, story, &existing, feed_id)? {
        // Another feed's story, under a link that names several articles: the same
        // story only if some feed has it under this link and name.
        Some((None, true))
    } else {
        None
    };
    let existing = match look_further {
        None => existing,
        Some((feed_scope, may_be_new)) => match by_link_and_name(tx, feed_scope, story)? {
            Some(found) => found,
            None if may_be_new => {
                if insert_story(tx, feed_id, story, hash, now, true)? {
                    outcome.new_stories += 1;
                    return Ok(Upsert::Done(tx.last_insert_rowid(), true));
                }
                existing
            }
            None => existing,
        },
    };
    if let Some(old_link) = reused_guid(story, &existing, feed_id) {
        // The stored article is recognised by its link from now on, and the guid names
        // the new one: the next article under it is compared with the latest.
        let renamed = tx
            .prepare_cached("UPDATE OR IGNORE stories SET identity = ?2 WHERE id = ?1")?
            .execute(params![existing.id, format!("link:{old_link}")])?;
        if renamed == 1 {
            return Ok(Upsert::Again(None));
        }
        return Ok(Upsert::Again(Some(Box::new(Incoming {
            story: Story {
                identity: format!("link:{}", story.link.as_deref().unwrap_or_default()),
                ..story.clone()
            },
            content_hash: hash.clone(),
            hits: None,
        }))));
    }
    if existing.feed_id == feed_id {
        relink(tx, &existing, story)?;
    }
    match (
        existing.id,
        existing.hash,
        existing.pruned,
        existing.feed_id,
    ) {
        // Retention dropped its text: it is old news, never new again. The feed still
        // lists it, so its row must stay (noted at most once a day).
        (id, _, 1, _) => {
            tx.prepare_cached(
                "UPDATE stories SET last_listed = ?2
                 WHERE id = ?1 AND COALESCE(last_listed, first_seen) < ?2 - 86400",
            )?
            .execute(params![id, now])?;
            Ok(Upsert::Done(id, false))
        }
        (id, old_hash, _, _) if old_hash == *hash => Ok(Upsert::Done(id, false)),
        // Carried by another feed: that feed's text stays; this feed's version is
        // matched too (a rule may be limited to this feed), and the hits' UNIQUE
        // constraint keeps any rule from alerting twice.
        (id, _, _, owner) if owner != feed_id => Ok(Upsert::Done(id, true)),
        (id, _, _, _) => {
            tx.prepare_cached(
                "UPDATE stories SET title = ?2, summary = ?3, content = ?4, authors = ?5, categories = ?6,
                     updated = ?7, content_hash = ?8, content_is_summary = ?9
                 WHERE id = ?1",
            )?
            .execute(
                params![
                    id,
                    story.title,
                    story.summary,
                    stored_content(story),
                    story.authors.join(", "),
                    story.categories.join(", "),
                    story.updated.map(|d| d.timestamp()),
                    hash,
                    content_is_summary(story)
                ],
            )?;
            outcome.updated_stories += 1;
            Ok(Upsert::Done(id, true))
        }
    }
}

/// A stored story an incoming one was found as.
struct Existing {
    id: i64,
    hash: String,
    pruned: i64,
    feed_id: i64,
    link: Option<String>,
    /// Its [`Story::name`].
    name: String,
    identity: String,
}

/// The feed's story as stored under an earlier address of the entry, when the entry is
/// known by an address (its link, or a guid that is one) — without this, each story of
/// a feed whose addresses all changed at once would be new once more, and alert again:
///
/// - its link as stored before a newshound that drops more of a link's tracking
///   parameters (`?xtor=RSS-3208`), for a story known by its link;
/// - the same page under the site's other scheme, host or permalink form
///   ([`same_page_elsewhere`]): a site moving to HTTPS or to its bare domain.
///
/// The stored story takes the identity the entry has now (no story of the feed has it,
/// or it would have been found) — and its link, as any story found in its own feed
/// does, unless it proves another article under a guid the feed gives several
/// ([`reused_guid`]: a front page's address for every guid).
fn under_an_earlier_address(
    tx: &WriteTx<'_>,
    feed_id: i64,
    story: &Story,
) -> Result<Option<Existing>> {
    let found = match before_its_tracking_was_dropped(tx, feed_id, story)? {
        Some(found) => found,
        None => match at_another_address_of_the_page(tx, feed_id, story)? {
            Some(found) => found,
            None => return Ok(None),
        },
    };
    Ok(Some(take_identity(tx, found, story)?))
}

/// The feed's stored story `found`, renamed to the identity `story` has now (no other
/// story of the feed has it).
fn take_identity(tx: &WriteTx<'_>, found: Existing, story: &Story) -> Result<Existing> {
    tx.prepare_cached("UPDATE stories SET identity = ?2 WHERE id = ?1")?
        .execute(params![found.id, story.identity])?;
    Ok(Existing {
        identity: story.identity.clone(),
        ..found
    })
}

/// The feed's story that `story` — new to its feed by guid and address, just written as
/// row `written` — is, when exactly one story of the feed has its name ([`Story::name`])
/// and publication time. A feed that gives its entries new guids and addresses on every
/// fetch (a cache-buster in both, a generator stamping the time into its ids) or all at
/// once (a publishing system replaced) would otherwise have every story new, and
/// alerted again. An article with the very title and time of a stored one is that
/// article; an entry without a date, or known by its title and date already, is not
/// looked up.
fn under_its_name_and_date(
    tx: &WriteTx<'_>,
    feed_id: i64,
    story: &Story,
    written: i64,
) -> Result<Option<Existing>> {
    let Some(published) = story.published.map(|d| d.timestamp()) else {
        return Ok(None);
    };
    if story.name().is_empty() || story.identity.starts_with("hash:") {
        return Ok(None);
    }
    let mut found: Vec<Existing> = tx
        .prepare_cached(concat!(
            select_existing!("WHERE feed_id = ?1 AND published = ?2 AND id <> ?4 AND "),
            story_name!(),
            " = ?3 LIMIT 2"
        ))?
        .query_map(
            params![feed_id, published, story.name(), written],
            existing_row,
        )?
        .collect::<rusqlite::Result<_>>()?;
    Ok(if found.len() == 1 { found.pop() } else { None })
}

/// The feed's story whose identity is `story`'s link with tracking parameters that
/// canonical links now drop.
fn before_its_tracking_was_dropped(
    tx: &WriteTx<'_>,
    feed_id: i64,
    story: &Story,
) -> Result<Option<Existing>> {
    let Some(link) = story.identity.strip_prefix("link:") else {
        return Ok(None);
    };
    // Identities that are this link with a query (`link:X?…`), or with more of one
    // (`link:X&…`): two ranges of the feed's identity index (`@` is the byte after `?`,
    // `'` the one after `&`), read one at a time so that each is a range, not a scan of
    // the feed's stories.
    let mut range = tx.prepare_cached(select_existing!(
        "WHERE feed_id = ?1 AND identity > ?2 AND identity < ?3"
    ))?;
    let mut candidates: Vec<Existing> = Vec::new();
    for (after, before) in [('?', '@'), ('&', '\'')] {
        let rows = range.query_map(
            params![
                feed_id,
                format!("link:{link}{after}"),
                format!("link:{link}{before}")
            ],
            existing_row,
        )?;
        candidates.extend(rows.collect::<rusqlite::Result<Vec<_>>>()?);
    }
    Ok(candidates.into_iter().find(|c| {
        c.identity
            .strip_prefix("link:")
            .and_then(|old| crate::story::canonical_link(old, None))
            .as_deref()
            == Some(link)
    }))
}

/// The story stored under `story`'s link in another scheme, host or permalink form (and
/// not among articles sharing a link), unless the entry's document lists other articles
/// under the link: a point lookup of the link's index for each. For a feed's first read,
/// `(feed, sites)`: only another feed's story, looked up only under `sites`.
fn by_another_address_of_its_link(
    tx: &WriteTx<'_>,
    story: &Story,
    first_read: Option<(i64, &Sites)>,
) -> Result<Option<Existing>> {
    let Some(link) = story.link.as_ref().filter(|_| !story.link_names_others) else {
        return Ok(None);
    };
    let mut by_link = tx.prepare_cached(select_existing!("WHERE link = ?1 AND shared_link = 0"))?;
    for other in same_page_elsewhere(link) {
        if let Some((_, sites)) = first_read
            && !site(&other).is_some_and(|site| sites.contains(site))
        {
            continue;
        }
        let found = by_link
            .query_row([other], existing_row)
            .optional()?
            .filter(|found| first_read.is_none_or(|(feed_id, _)| found.feed_id != feed_id));
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// The feed's story known by the same link or guid under another scheme, host or
/// permalink form: a point lookup of the feed's identity index for each.
fn at_another_address_of_the_page(
    tx: &WriteTx<'_>,
    feed_id: i64,
    story: &Story,
) -> Result<Option<Existing>> {
    let Some((kind, address)) = ["link:", "guid:"]
        .into_iter()
        .find_map(|kind| Some((kind, story.identity.strip_prefix(kind)?)))
    else {
        return Ok(None);
    };
    let mut by_identity =
        tx.prepare_cached(select_existing!("WHERE feed_id = ?1 AND identity = ?2"))?;
    for other in same_page_elsewhere(address) {
        let found = by_identity
            .query_row(params![feed_id, format!("{kind}{other}")], existing_row)
            .optional()?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// Writes the link a feed's entry has now to its stored story, when it is the same
/// article's address in another form: a site that moves to HTTPS or its bare domain
/// while its guids stay, or a link an earlier newshound stored with the tracking marks
/// or the search engine's redirect a newer one drops — or when the story had no link.
/// Another feed's copy of the article is then found by the new link. A link that
/// changes otherwise (a parameter that changes on every read) stays as first stored:
/// rewriting it would rewrite the row on every fetch. Left as it was, too, when another
/// story holds the new link already, when the story shares its link with other
/// articles (`shared_link`: it is not the link's story), or when the entry's document
/// lists other articles under the new link (it is not the story's own).
fn relink(tx: &WriteTx<'_>, existing: &Existing, story: &Story) -> Result<()> {
    let Some(new) = story.link.as_deref() else {
        return Ok(());
    };
    let same_article = match existing.link.as_deref() {
        None => true,
        Some(old) if old == new => false, // nothing to write
        Some(old) => {
            same_page_elsewhere(old).iter().any(|o| o == new)
                || crate::story::canonical_link(old, None).as_deref() == Some(new)
                || crate::story::canonical::redirect_target(old).as_deref() == Some(new)
        }
    };
    if same_article && !story.link_names_others {
        tx.prepare_cached(
            "UPDATE OR IGNORE stories SET link = ?2 WHERE id = ?1 AND shared_link = 0",
        )?
        .execute(params![existing.id, new])?;
    }
    Ok(())
}

/// An [`Existing`] from a row of [`select_existing!`].
fn existing_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Existing> {
    Ok(Existing {
        id: r.get(0)?,
        hash: r.get(1)?,
        pruned: r.get(2)?,
        feed_id: r.get(3)?,
        link: r.get(4)?,
        name: r.get(5)?,
        identity: r.get(6)?,
    })
}

/// Whether `story`, found by its link as another article of the same feed (another
/// title), is a story of its own: each with a guid of its own — or the entry known by
/// its title and date because its document lists other articles under its link
/// ([`crate::story`]). Some feeds link every entry to their front page (or a section's,
/// a day's); the same canonical link in two feeds is one story, but within one feed such
/// an entry is a story of its own — taken for an update of the first, every later article
/// would have overwritten it and never alerted a rule that matched before. An article
/// republished under a new guid with the same title is still the stored story.
fn shares_link(story: &Story, existing: &Existing) -> bool {
    let own_identity = (story.identity.starts_with("guid:")
        && existing.identity.starts_with("guid:"))
        || story.identity.starts_with("hash:");
    own_identity && story.identity != existing.identity
}

/// Whether `story` could be another article than the stored story it was found as: of
/// the same feed, not emptied by retention, under another name ([`Story::name`]: its
/// title, or its text when it has none).
fn another_article(story: &Story, existing: &Existing, feed_id: i64) -> bool {
    existing.feed_id == feed_id && existing.pruned == 0 && existing.name != story.name()
}

/// Whether `story`, found by its link as a story of another feed under another name,
/// came by a link known to name several articles: the story's own document lists
/// others under it ([`Story::link_names_others`]; the parse knows such a story by title
/// and date unless it has a guid of its own), or a feed stores several articles under
/// it. "The same canonical link in two feeds is one
/// story" then would merge two feeds' different articles — two sections of one site
/// that link every entry to its front page, say — and one would never alert.
fn link_shared_elsewhere(
    tx: &WriteTx<'_>,
    story: &Story,
    existing: &Existing,
    feed_id: i64,
) -> Result<bool> {
    if existing.feed_id == feed_id || existing.pruned != 0 || existing.name == story.name() {
        return Ok(false);
    }
    if story.link_names_others || story.identity.starts_with("hash:") {
        return Ok(story.link.is_some());
    }
    Ok(tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM stories WHERE link = ?1 AND shared_link = 1)",
        )?
        .query_row([&story.link], |r| r.get(0))?)
}

/// The stored story with `story`'s link and name — of the feed `feed_id`, or of any —
/// found through the link's two indexes: its one story outside `shared_link`, and the
/// articles sharing it.
fn by_link_and_name(
    tx: &WriteTx<'_>,
    feed_id: Option<i64>,
    story: &Story,
) -> Result<Option<Existing>> {
    Ok(tx
        .prepare_cached(concat!(
            select_existing!(
                "WHERE link = ?1 AND shared_link = 0 AND (?3 IS NULL OR feed_id = ?3) AND "
            ),
            story_name!(),
            " = ?2 UNION ALL ",
            select_existing!(
                "WHERE link = ?1 AND shared_link = 1 AND (?3 IS NULL OR feed_id = ?3) AND "
            ),
            story_name!(),
            " = ?2 LIMIT 1"
        ))?
        .query_row(params![story.link, story.name(), feed_id], existing_row)
        .optional()?)
}

/// Whether `story` carries the guid of another article of its feed: found by its guid,
/// but with another link and another title than the stored story — a feed that gives
/// every entry the same guid, one entry at a time (a "latest bulletin" feed), so that the
/// guid never tells two articles apart. Taken for an update, the new article would never
/// alert a rule that matched the old one; so the articles are told apart by their links,
/// as entries sharing a guid within one document are ([`crate::story`]). An article
/// whose title and address both change is taken for a new one: an alert too many rather
/// than one missed. (The address under the site's other scheme, host or permalink form
/// is the same address: a site that moved, its headline corrected.) Returns the stored
/// story's link.
fn reused_guid<'a>(story: &Story, existing: &'a Existing, feed_id: i64) -> Option<&'a str> {
    let link = story.link.as_deref()?;
    let old = existing.link.as_deref()?;
    (story.identity.starts_with("guid:")
        && another_article(story, existing, feed_id)
        && old != link
        && !same_page_elsewhere(old).iter().any(|o| o == link))
    .then_some(old)
}

/// Inserts a story new to its feed; returns false, writing nothing, when a stored story
/// has the same canonical link (unless `shared_link`: another article of the feed that
/// shares its link, left out of the link's dedupe).
fn insert_story(
    tx: &WriteTx<'_>,
    feed_id: i64,
    story: &Story,
    hash: &str,
    now: i64,
    shared_link: bool,
) -> Result<bool> {
    let inserted = tx
        .prepare_cached(
            "INSERT INTO stories (feed_id, identity, link, title, summary, content, authors, categories,
                 published, updated, first_seen, content_hash, content_is_summary, shared_link)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![
            feed_id,
            story.identity,
            story.link,
            story.title,
            story.summary,
            stored_content(story),
            story.authors.join(", "),
            story.categories.join(", "),
            story.published.map(|d| d.timestamp()),
            story.updated.map(|d| d.timestamp()),
            now,
            hash,
            content_is_summary(story),
            shared_link
        ])?;
    Ok(inserted > 0)
}

/// Whether the story's content is its summary, word for word (and not empty): it is then
/// stored once, as the summary (migration 4).
fn content_is_summary(story: &Story) -> bool {
    !story.summary.is_empty() && story.content == story.summary
}

/// The content as stored: empty when it is the summary.
fn stored_content(story: &Story) -> &str {
    if content_is_summary(story) {
        ""
    } else {
        &story.content
    }
}
