//! Stories: feed documents parsed and normalised into what newshound matches and keeps.
//!
//! [`parse_feed`] takes a response body to stories: decode to UTF-8 (`decode`), parse
//! with feed-rs (RSS 0.9x/1.0/2.0, Atom, JSON Feed), and when feed-rs rejects a feed
//! that real readers accept, repair it leniently and try once more (`repair`). Each
//! entry becomes a [`Story`]: plain text for matching and display, a canonical link,
//! and an identity that recognises the story on every later fetch.

pub mod canonical;
mod date;
pub mod decode;
mod mojibake;
mod repair;
pub mod text;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use regex::Regex;
use sha2::{Digest, Sha256};
use url::Url;

pub use canonical::canonical_link;
pub use decode::{DecodeError, Decoded, charset_of, decode};
pub use text::{counted, headline, to_plain_text};

use crate::rules::{Document, Field};

/// One story of a feed, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Story {
    /// Recognises the story within its feed: `guid:…`, `link:…` or `hash:…`.
    pub identity: String,
    /// The canonical link, when the entry has an http(s) one.
    pub link: Option<String>,
    pub title: String,
    pub summary: String,
    pub content: String,
    pub authors: Vec<String>,
    pub categories: Vec<String>,
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
}

impl Story {
    /// A hash of the text, to tell an updated entry from an unchanged one.
    pub fn content_hash(&self) -> String {
        let mut h = Sha256::new();
        for part in [&self.title, &self.summary, &self.content] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        h.update(self.authors.join("\u{1f}").as_bytes());
        h.update([0]);
        h.update(self.categories.join("\u{1f}").as_bytes());
        hex(&h.finalize()[..16])
    }

    /// The story prepared for matching any query; `feed` is the feed's name.
    pub fn document<'a>(
        &'a self,
        authors: &'a str,
        categories: &'a str,
        feed: &'a str,
    ) -> Document<'a> {
        Document::new(self.fields(authors, categories, feed))
    }

    /// The story's text by field, as rules see it; `authors` and `categories` are the
    /// lists joined, `feed` is the feed's name.
    pub fn fields<'a>(
        &'a self,
        authors: &'a str,
        categories: &'a str,
        feed: &'a str,
    ) -> [(Field, &'a str); 6] {
        [
            (Field::Title, self.title.as_str()),
            (Field::Summary, self.summary.as_str()),
            (Field::Content, self.content.as_str()),
            (Field::Author, authors),
            (Field::Category, categories),
            (Field::Feed, feed),
        ]
    }

    /// When the story appeared, by the feed's account.
    pub fn date(&self) -> Option<DateTime<Utc>> {
        self.published.or(self.updated)
    }
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

/// A parsed feed.
#[derive(Debug, Clone)]
pub struct ParsedFeed {
    /// The feed's own title.
    pub title: Option<String>,
    pub stories: Vec<Story>,
    /// The feed's `<ttl>` in minutes, if it gives one.
    pub ttl: Option<u32>,
    /// The encoding the body was read in.
    pub encoding: &'static str,
    /// Repairs made to read the feed; empty for a well-formed one.
    pub repairs: Vec<String>,
}

impl ParsedFeed {
    /// The repair saying the document was read only as far as it goes (it breaks off
    /// part-way), if it was: the entries after the break were not read.
    pub fn read_in_part(&self) -> Option<&str> {
        self.repairs
            .iter()
            .map(String::as_str)
            .find(|r| r.starts_with(repair::READ_IN_PART))
    }
}

/// Why a body yielded no feed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("an HTML page, not a feed{}", advertised_list(.advertised))]
    Html { advertised: Vec<String> },
    #[error("not a feed: {0}")]
    NotAFeed(String),
}

fn advertised_list(feeds: &[String]) -> String {
    if feeds.is_empty() {
        String::new()
    } else {
        format!(" (it advertises: {})", feeds.join(", "))
    }
}

/// Parses a response body into stories. `base` is the feed's URL, for relative links;
/// `http_charset` the `Content-Type` charset; `limit` caps sniffed gzip data.
pub fn parse_feed(
    bytes: &[u8],
    base: Option<&Url>,
    http_charset: Option<&str>,
    limit: u64,
) -> Result<ParsedFeed, FeedError> {
    let decoded = decode(bytes, http_charset, limit)?;
    let mut repairs = decoded.repairs;
    let mut text = decoded.text;
    repairs.extend(repair::strip_leading_junk(&mut text));
    if !text.starts_with('{') {
        repairs.extend(repair::before_parse(&mut text));
    }
    let originals = original_links(&text);
    let feed = match parse_strict(&text, base) {
        Ok(feed) => feed,
        Err(strict) => {
            if let Some(advertised) = html_page(&text, base) {
                return Err(FeedError::Html { advertised });
            }
            let (feed, fixes) =
                parse_leniently(text, &strict, base).ok_or(FeedError::NotAFeed(strict.message))?;
            repairs.extend(fixes);
            feed
        }
    };
    let title = feed
        .title
        .as_ref()
        .map(|t| to_plain_text(&t.content))
        .filter(|t| !t.is_empty());
    // The originals are known by their entry's place in the document: only when the
    // parser read every entry the document has.
    let originals = originals.filter(|o| o.len() == feed.entries.len());
    let mut stories: Vec<Story> = feed
        .entries
        .into_iter()
        .enumerate()
        .filter_map(|(i, e)| {
            let original = originals.as_ref().and_then(|o| o[i].as_deref());
            normalise(e, base, original)
        })
        .collect();
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
    Ok(ParsedFeed {
        title,
        stories,
        ttl: feed.ttl,
        encoding: decoded.encoding,
        repairs,
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

/// Why feed-rs rejected a document, and where, when it names an element it cannot read.
#[derive(Debug, Clone)]
struct StrictError {
    message: String,
    /// Where the start tag of the element it could not read ends.
    element_at: Option<usize>,
    /// The XML itself is broken (or the parser failed on it), as opposed to a document
    /// of a format feed-rs does not know or with an element it cannot read.
    broken: bool,
}

/// feed-rs, with missing ids left empty (newshound decides identity itself), dates read
/// by `date::parse_date` (which reads the forms feed-rs does and more) and a panic —
/// feed-rs 3.0 has a few on malformed input — turned into an error.
fn parse_strict(text: &str, base: Option<&Url>) -> Result<feed_rs::model::Feed, StrictError> {
    use feed_rs::parser::{ParseErrorKind, ParseFeedError};
    let parser = feed_rs::parser::Builder::new()
        .base_uri(base.map(Url::as_str))
        .id_generator(|_, _, _| String::new())
        .timestamp_parser(date::parse_date)
        .build();
    match catch_unwind(AssertUnwindSafe(|| parser.parse(text.as_bytes()))) {
        Ok(Ok(feed)) => Ok(feed),
        Ok(Err(e)) => Err(StrictError {
            message: e.to_string(),
            element_at: match e {
                ParseFeedError::ParseError(
                    ParseErrorKind::UnknownMimeType { position, .. }
                    | ParseErrorKind::MissingContent { position, .. }
                    | ParseErrorKind::UnknownEnumVariant { position, .. }
                    | ParseErrorKind::IllegalState { position, .. },
                ) => usize::try_from(position).ok(),
                _ => None,
            },
            broken: matches!(e, ParseFeedError::XmlReader(_)),
        }),
        Err(_) => Err(StrictError {
            message: "the feed parser failed on this document".to_owned(),
            element_at: None,
            broken: true,
        }),
    }
}

/// The most elements [`parse_leniently`] removes from one document: each costs a parse.
const MAX_REMOVED: usize = 32;

/// Reads a document feed-rs rejected (`strict` says why) the way established readers
/// do: repaired where that cannot change what a well-formed part means
/// ([`repair::repair_xml`], [`repair::repair_json`]), then without each element feed-rs
/// still cannot read (a content of a type it does not know, a text element without
/// text), so that one odd entry does not cost every other; and when the XML itself is
/// broken, as far as it reads ([`entries_before_the_break`]). The feed and the repairs
/// made.
fn parse_leniently(
    text: String,
    strict: &StrictError,
    base: Option<&Url>,
) -> Option<(feed_rs::model::Feed, Vec<String>)> {
    let trimmed = text.trim_start();
    let repaired = if trimmed.starts_with('{') {
        repair::repair_json(trimmed)
    } else {
        repair::repair_xml(&text)
    };
    let (mut text, mut repairs, mut error) = match repaired {
        Some((fixed, fixes)) => match parse_strict(&fixed, base) {
            Ok(feed) => return Some((feed, fixes)),
            Err(error) => (fixed, fixes, error),
        },
        None => (text, Vec::new(), strict.clone()),
    };
    let mut removed = Vec::new();
    while let Some(at) = error.element_at {
        if removed.len() == MAX_REMOVED {
            return None;
        }
        let (fixed, tag) = repair::remove_element(&text, at)?;
        text = fixed;
        removed.push(tag);
        match parse_strict(&text, base) {
            Ok(feed) => {
                repairs.push(repair::removed_elements(&removed));
                return Some((feed, repairs));
            }
            Err(next) => error = next,
        }
    }
    if !error.broken {
        return None;
    }
    let feed = entries_before_the_break(&text, base)?;
    if !removed.is_empty() {
        repairs.push(repair::removed_elements(&removed));
    }
    repairs.push(repair::read_in_part(
        feed.entries.len(),
        Some(&error.message),
    ));
    Some((feed, repairs))
}

/// The entries of a broken XML document that come before the place it breaks: a body
/// cut short, or a server that failed half-way through writing it, keeps the entries it
/// wrote whole. The document is cut after an entry and the elements open there closed;
/// the last such cut feed-rs reads entries from is found by halving, in a few parses.
/// (A cut that reads as a feed without entries — say the entries closed inside an
/// element never closed before them — is no reading of the document.)
fn entries_before_the_break(text: &str, base: Option<&Url>) -> Option<feed_rs::model::Feed> {
    let ends = repair::entry_ends(text);
    let read = |i: usize| {
        parse_strict(&repair::cut_and_close(text, ends[i]), base)
            .ok()
            .filter(|feed| !feed.entries.is_empty())
    };
    let last = ends.len().checked_sub(1)?;
    if let Some(feed) = read(last) {
        return Some(feed);
    }
    // The first cut must read; then the last that reads lies in `good..bad`.
    let mut best = read(0)?;
    let (mut good, mut bad) = (0, last);
    while bad - good > 1 {
        let mid = good + (bad - good) / 2;
        match read(mid) {
            Some(feed) => (good, best) = (mid, feed),
            None => bad = mid,
        }
    }
    Some(best)
}

/// When the text is an HTML page, the feed URLs it advertises.
fn html_page(text: &str, base: Option<&Url>) -> Option<Vec<String>> {
    static LINK: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#"(?is)<link\b[^>]*>"#).expect("valid regex"));
    static HREF: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#"(?is)\bhref\s*=\s*["']([^"']+)["']"#).expect("valid regex"));
    let head = &text[..text.floor_char_boundary(64 * 1024)];
    let lower = head
        .trim_start()
        .get(..512.min(head.trim_start().len()))?
        .to_ascii_lowercase();
    if !(lower.starts_with("<!doctype html") || lower.contains("<html")) {
        return None;
    }
    let mut feeds = Vec::new();
    for link in LINK.find_iter(head) {
        let tag = link.as_str().to_ascii_lowercase();
        let is_feed = tag.contains("alternate")
            && ["rss+xml", "atom+xml", "feed+json", "application/json"]
                .iter()
                .any(|t| tag.contains(t));
        if let Some(href) = HREF.captures(link.as_str()).filter(|_| is_feed) {
            let href = &href[1];
            let resolved = match base {
                Some(b) => b
                    .join(href)
                    .map(String::from)
                    .unwrap_or_else(|_| href.to_owned()),
                None => href.to_owned(),
            };
            feeds.push(resolved);
        }
    }
    Some(feeds)
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
        |a, b| a.link != b.link || a.title != b.title,
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
/// document that share a link under different titles are recognised instead as entries
/// with neither guid nor link are, by their title and date; the store keeps them apart
/// under the shared link (`shared_link`). Returns how many entries it changed.
fn recognise_shared_links_by_text(stories: &mut [Story]) -> usize {
    let shared = shared_identities(
        stories,
        |s| s.identity.starts_with("link:"),
        |a, b| a.title != b.title,
    );
    let mut changed = 0;
    for story in stories.iter_mut() {
        if shared.contains(&story.identity) {
            story.identity = text_identity(
                &story.title,
                &story.summary,
                story.published.or(story.updated),
            );
            changed += 1;
        }
    }
    changed
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
/// (and of its summary, when it has no title).
fn text_identity(title: &str, summary: &str, date: Option<DateTime<Utc>>) -> String {
    let mut h = Sha256::new();
    h.update(title.as_bytes());
    h.update([0]);
    let date = date.map(|d| d.to_rfc3339()).unwrap_or_default();
    h.update(date.as_bytes());
    h.update([0]);
    // Without a title or date, the text itself must tell stories apart.
    if title.is_empty() {
        h.update(summary.as_bytes());
    }
    format!("hash:{}", hex(&h.finalize()[..16]))
}

/// The article addresses behind a tracking proxy's links, by entry in document order.
/// FeedBurner (and Pheedo) link every entry through a redirect of their own and give the
/// article's address in `<feedburner:origLink>`: the site's own feed links the same
/// article by that address, so that is the story's link, and an alert links straight to
/// it. `None` for a document without such an element (nearly all: one search).
fn original_links(text: &str) -> Option<Vec<Option<String>>> {
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
        text_identity(&title, &summary, entry.published.or(entry.updated))
    };
    // The identity stays the entry's own link (the feed's stories are known by it), the
    // link becomes the article's.
    let link = original.and_then(|o| canonical_link(o, base)).or(link);
    Some(Story {
        identity,
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

#[cfg(test)]
mod tests;
