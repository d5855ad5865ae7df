//! An entry of a parsed document made a [`Story`]: its text as plain text, its canonical
//! link, and the identity that recognises it on every later fetch — then the passes over
//! a document's stories that settle identities and links by what its other entries say
//! (a guid or link several articles share, a guid that is the permalink, a date every
//! entry shares).

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use regex::Regex;
use sha2::{Digest, Sha256};
use url::Url;

use super::canonical::redirect_target;
use super::{Story, canonical_link, hex, to_plain_text};

/// The stories of a document's entries, in its order; `originals` are the addresses
/// behind a tracking proxy's links, by entry ([`original_links`]). What the passes over
/// them had to mend is added to `repairs`.
pub(super) fn stories(
    entries: Vec<feed_rs::model::Entry>,
    base: Option<&Url>,
    originals: Option<Vec<Option<String>>>,
    repairs: &mut Vec<String>,
) -> Vec<Story> {
    // The originals are known by their entry's place in the document: only when the
    // parser read every entry the document has.
    let originals = originals.filter(|o| o.len() == entries.len());
    let (mut stories, elsewhere): (Vec<Story>, Vec<Vec<String>>) = entries
        .into_iter()
        .enumerate()
        .filter_map(|(i, e)| {
            let original = originals.as_ref().and_then(|o| o[i].as_deref());
            let elsewhere = where_its_content_is(&e);
            normalise(e, base, original).map(|story| (story, elsewhere))
        })
        .unzip();
    let by_link = recognise_shared_guids_by_link(&mut stories);
    if by_link > 0 {
        repairs.push(format!(
            "{by_link} entries share a guid with other entries; recognised by their links"
        ));
    }
    let by_text = recognise_shared_links_by_text(&mut stories);
    if by_text > 0 {
        repairs.push(format!(
            "{by_text} entries without a guid of their own share a link with other articles; \
             recognised by their titles and dates"
        ));
    }
    forget_the_documents_date(&mut stories);
    link_permalink_guids(&mut stories, base);
    link_where_the_content_is(&mut stories, elsewhere, base);
    stories
}

/// A guid that several entries of one document share, with different links or titles,
/// is not an id: some publishing systems give every entry the site's address. Taken as
/// one, every new article would count as an update of the same story and never alert for
/// a rule that alerted once. Those entries are recognised by their links instead, or,
/// where they share a link too (the site's address again) under other titles, by their
/// titles and dates ([`recognise_shared_links_by_text`]). An entry without a link keeps
/// the guid: a document repeating an entry with other words is one story, matched on
/// every copy. When the feed later fixes its guids, or the guid stops being shared, the
/// stored stories are found again by their links (their UNIQUE index), so nothing is new
/// twice. An entry repeated whole — same guid, link and title — stays one story. Returns
/// how many entries it changed.
fn recognise_shared_guids_by_link(stories: &mut [Story]) -> usize {
    let shared = shared_identities(
        stories,
        |s| s.identity.starts_with("guid:") && s.link.is_some(),
        |a, b| a.link != b.link || a.name() != b.name(),
    );
    let mut changed = 0;
    for story in stories.iter_mut() {
        if let Some(link) = &story.link
            && shared.contains(&story.identity)
        {
            story.identity = format!("link:{link}");
            changed += 1;
        }
    }
    changed
}

/// Entries without a guid of their own (or whose guid [`recognise_shared_guids_by_link`]
/// set aside) are recognised by their links; but some feeds link several articles to one
/// page — the front page, a day's page, an audio stream. Taken as one story, each later
/// article would overwrite the first and never alert a rule that matched it. Entries of one
/// document that share a link under different titles — whether the others have guids of
/// their own or not — are recognised instead as entries with neither guid nor link are,
/// by their title and date; the store keeps them apart under the shared link
/// (`shared_link`). Every entry under such a link is marked
/// ([`Story::link_names_others`]): the link is not its article's, so another feed's story
/// under it is not this one unless the titles agree. Returns how many entries it changed.
fn recognise_shared_links_by_text(stories: &mut [Story]) -> usize {
    let shared = links_of_several_articles(stories);
    if shared.is_empty() {
        return 0;
    }
    let mut changed = 0;
    for story in stories.iter_mut() {
        if !story.link.as_ref().is_some_and(|l| shared.contains(l)) {
            continue;
        }
        story.link_names_others = true;
        if story.identity.starts_with("link:") {
            story.identity = text_identity(
                &story.title,
                story.name(),
                story.published.or(story.updated),
            );
            changed += 1;
        }
    }
    changed
}

/// The links that entries of one document give articles under different names (titles,
/// or for entries without one their text: [`Story::name`]).
fn links_of_several_articles(stories: &[Story]) -> std::collections::HashSet<String> {
    use std::collections::hash_map::{Entry, HashMap};
    let mut shared = std::collections::HashSet::new();
    if stories.len() < 2 {
        return shared; // one entry shares nothing
    }
    let mut first_name: HashMap<&str, &str> = HashMap::with_capacity(stories.len());
    for story in stories {
        let Some(link) = story.link.as_deref() else {
            continue;
        };
        match first_name.entry(link) {
            Entry::Vacant(first) => {
                first.insert(story.name());
            }
            Entry::Occupied(first) => {
                if *first.get() != story.name() {
                    shared.insert(link.to_owned());
                }
            }
        }
    }
    shared
}

/// The identities that `candidate` entries of one document share while `differ` says
/// they are other articles than the first entry with it.
fn shared_identities(
    stories: &[Story],
    candidate: impl Fn(&Story) -> bool,
    differ: impl Fn(&Story, &Story) -> bool,
) -> Vec<String> {
    use std::collections::HashMap;
    let mut shared = Vec::new();
    if stories.len() < 2 {
        return shared; // one entry shares nothing
    }
    let mut first_by_identity: HashMap<&str, Option<&Story>> = HashMap::new();
    for story in stories.iter().filter(|s| candidate(s)) {
        match first_by_identity.get_mut(story.identity.as_str()) {
            None => {
                first_by_identity.insert(&story.identity, Some(story));
            }
            Some(first) => {
                if first.is_some_and(|first| differ(first, story)) {
                    shared.push(story.identity.clone());
                    *first = None; // recorded once
                }
            }
        }
    }
    shared
}

/// The identity of an entry known by neither guid nor link: a hash of its title and date
/// (and of its text, when it has no title: its `name`, [`Story::name`]).
fn text_identity(title: &str, name: &str, date: Option<DateTime<Utc>>) -> String {
    let mut h = Sha256::new();
    h.update(title.as_bytes());
    h.update([0]);
    let date = date.map(|d| d.to_rfc3339()).unwrap_or_default();
    h.update(date.as_bytes());
    h.update([0]);
    // Without a title, the text itself must tell stories apart.
    if title.is_empty() {
        h.update(name.as_bytes());
    }
    format!("hash:{}", hex(&h.finalize()[..16]))
}

/// The article addresses behind a tracking proxy's links, by entry in document order.
/// FeedBurner (and Pheedo) link every entry through a redirect of their own and give the
/// article's address in `<feedburner:origLink>`: the site's own feed links the same
/// article by that address, so that is the story's link, and an alert links straight to
/// it. `None` for a document without such an element (nearly all: one search).
pub(super) fn original_links(text: &str) -> Option<Vec<Option<String>>> {
    static TAGS: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"<(?:item|entry)[\s>]|<[\w.-]+:(?i:origLink)>\s*(?:<!\[CDATA\[([^\]]*)\]\]>|([^<]*))",
        )
        .expect("a valid pattern")
    });
    memchr::memmem::find(text.as_bytes(), b":origLink>")?;
    let mut originals: Vec<Option<String>> = Vec::new();
    for tag in TAGS.captures_iter(text) {
        match tag.get(1).or_else(|| tag.get(2)) {
            None => originals.push(None),
            Some(address) => {
                if let Some(last) = originals.last_mut() {
                    let address = html_escape::decode_html_entities(address.as_str().trim());
                    last.get_or_insert_with(|| address.into_owned());
                }
            }
        }
    }
    Some(originals)
}

/// An entry as a story; `original` is the address of the article behind its link, when
/// a tracking proxy's element gives it (`original_links`).
fn normalise(
    entry: feed_rs::model::Entry,
    base: Option<&Url>,
    original: Option<&str>,
) -> Option<Story> {
    // A video or podcast feed (YouTube's, say) puts an entry's words in its Media RSS
    // title and description: they stand in for the entry's own when it has none.
    let media = |text: fn(&feed_rs::model::MediaObject) -> Option<&feed_rs::model::Text>| {
        entry
            .media
            .iter()
            .filter_map(text)
            .map(|t| to_plain_text(&t.content))
            .find(|t| !t.is_empty())
    };
    let title = entry
        .title
        .as_ref()
        .map(|t| to_plain_text(&t.content))
        .filter(|t| !t.is_empty())
        .or_else(|| media(|m| m.title.as_ref()))
        .unwrap_or_default();
    let summary = entry
        .summary
        .as_ref()
        .map(|t| to_plain_text(&t.content))
        .filter(|t| !t.is_empty())
        .or_else(|| media(|m| m.description.as_ref()))
        .unwrap_or_default();
    let content = match entry.content.as_ref().and_then(|c| c.body.as_deref()) {
        // Feeds often repeat the summary as the content: convert it once.
        Some(body) if entry.summary.as_ref().is_some_and(|s| s.content == body) => summary.clone(),
        Some(body) => to_plain_text(body),
        None => String::new(),
    };
    let link = entry
        .links
        .iter()
        .filter(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .chain(entry.links.iter())
        .find_map(|l| canonical_link(&l.href, base));
    let authors: Vec<String> = entry
        .authors
        .iter()
        .filter_map(|p| p.name.as_deref().or(p.email.as_deref()))
        .map(to_plain_text)
        .filter(|n| !n.is_empty())
        .collect();
    let categories: Vec<String> = entry
        .categories
        .iter()
        .map(|c| to_plain_text(c.label.as_deref().unwrap_or(&c.term)))
        .filter(|n| !n.is_empty())
        .collect();
    if title.is_empty() && summary.is_empty() && content.is_empty() && link.is_none() {
        return None; // nothing to recognise, match or show
    }
    let guid = entry.id.trim();
    let identity = if !guid.is_empty() {
        format!("guid:{guid}")
    } else if let Some(link) = &link {
        format!("link:{link}")
    } else {
        text_identity(
            &title,
            super::name_of(&title, &summary, &content),
            entry.published.or(entry.updated),
        )
    };
    // The identity stays the entry's own link (the feed's stories are known by it), the
    // link becomes the article's: the one a tracking proxy names beside it, or the one a
    // search engine's redirect leads to.
    let link = original
        .and_then(|o| canonical_link(o, base))
        .or_else(|| link.as_deref().and_then(redirect_target))
        .or(link);
    Some(Story {
        identity,
        link_names_others: false,
        link,
        title,
        summary,
        content,
        authors,
        categories,
        published: entry.published,
        updated: entry.updated,
    })
}
/// An RSS guid is the item's permalink unless it says otherwise: an entry with no link
/// but an address for its id is found at that address — its alert links there, and
/// another feed's copy of it is the same story. A guid that is a path (`/blog/post`, as
/// a site generator writes it) is an address on the feed's own site, read against
/// `base` as a relative link is. (Identity stays the guid; this runs after the identity
/// passes, which treat a link the entry gives.)
fn link_permalink_guids(stories: &mut [Story], base: Option<&Url>) {
    for story in stories.iter_mut().filter(|s| s.link.is_none()) {
        let Some(guid) = story.identity.strip_prefix("guid:") else {
            continue;
        };
        let scheme = guid.get(..8).unwrap_or(guid).to_ascii_lowercase();
        if scheme.starts_with("http://") || scheme.starts_with("https://") {
            story.link = canonical_link(guid, None);
        } else if guid.starts_with('/') {
            story.link = canonical_link(guid, base);
        }
    }
}

/// An entry with no link of its own, nor a guid that is an address, is linked to where
/// its content is: an Atom entry's `<content src="…">`, or a podcast's episode (The
/// Daily's, Planet Money's) to its audio or video — so that its alert leads somewhere.
/// (Its identity stays what it was: its guid, or its title and date; the same enclosure
/// in two feeds is one episode, as a link is one article.)
fn link_where_the_content_is(
    stories: &mut [Story],
    elsewhere: Vec<Vec<String>>,
    base: Option<&Url>,
) {
    for (story, elsewhere) in stories.iter_mut().zip(elsewhere) {
        if story.link.is_none() {
            story.link = elsewhere.iter().find_map(|url| canonical_link(url, base));
        }
    }
}

/// Where an entry's content is when the entry does not hold it: the address an Atom
/// `<content src>` gives (feed-rs gives other contents a `src` too, the document's base:
/// only a content without a body is elsewhere; and it does not read a relative `src`
/// against the document's `xml:base`, so only an absolute one is taken), then its enclosures of audio or video (by their type, or
/// without one by their file's extension: an image is no link to an episode). Most
/// entries have none.
fn where_its_content_is(entry: &feed_rs::model::Entry) -> Vec<String> {
    const EXTENSIONS: [&str; 11] = [
        ".mp3", ".m4a", ".mp4", ".m4v", ".aac", ".ogg", ".oga", ".opus", ".wav", ".mov", ".webm",
    ];
    let starts = |text: &str, prefix: &str| {
        text.get(..prefix.len())
            .is_some_and(|t| t.eq_ignore_ascii_case(prefix))
    };
    let ends = |text: &str, suffix: &str| {
        text.len() >= suffix.len()
            && text
                .get(text.len() - suffix.len()..)
                .is_some_and(|t| t.eq_ignore_ascii_case(suffix))
    };
    let enclosures = entry.media.iter().flat_map(|m| &m.content).filter_map(|c| {
        let url = c.url.as_ref()?;
        let playable = match &c.content_type {
            Some(mime) => starts(mime.as_str(), "audio/") || starts(mime.as_str(), "video/"),
            None => EXTENSIONS.iter().any(|e| ends(url.path(), e)),
        };
        playable.then(|| url.to_string())
    });
    entry
        .content
        .as_ref()
        .filter(|c| c.body.is_none())
        .and_then(|c| c.src.as_ref())
        .filter(|src| Url::parse(&src.href).is_ok())
        .map(|src| src.href.clone())
        .into_iter()
        .chain(enclosures)
        .collect()
}

/// An update date that every entry of a document shares while their publication dates
/// differ is when the document was built, not when each entry changed: it is dropped, so
/// that it does not make a feed's whole archive look updated today (and alert it).
fn forget_the_documents_date(stories: &mut [Story]) {
    let Some(first) = stories.first().and_then(|s| s.updated) else {
        return;
    };
    let shared = stories.len() > 1 && stories.iter().all(|s| s.updated == Some(first));
    let published_differ = stories
        .iter()
        .filter_map(|s| s.published)
        .any(|p| Some(p) != stories[0].published);
    if shared && published_differ {
        for story in stories {
            story.updated = None;
        }
    }
}
