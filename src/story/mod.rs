//! Stories: feed documents parsed and normalised into what newshound matches and keeps.
//!
//! [`parse_feed`] takes a response body to stories: decode to UTF-8 (`decode`), parse
//! with feed-rs (RSS 0.9x/1.0/2.0, Atom, JSON Feed), and when feed-rs rejects a feed
//! that real readers accept, repair it leniently and try once more (`repair`). Each
//! entry becomes a [`Story`] (`entry`): plain text for matching and display, a canonical
//! link, and an identity that recognises the story on every later fetch.

pub mod canonical;
mod date;
pub mod decode;
mod entry;
mod mojibake;
mod repair;
mod root;
pub mod text;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use regex::Regex;
use sha2::{Digest, Sha256};
use url::Url;

pub use canonical::canonical_link;
pub use decode::{DecodeError, Decoded, LOCAL_FILE_LIMIT, charset_of, decode};
pub use text::{counted, headline, to_plain_text};

use crate::rules::Field;

/// [`Story::name`] from a story's parts: the title, else the summary, else the content.
fn name_of<'a>(title: &'a str, summary: &'a str, content: &'a str) -> &'a str {
    [title, summary]
        .into_iter()
        .find(|t| !t.is_empty())
        .unwrap_or(content)
}

/// One story of a feed, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Story {
    /// Recognises the story within its feed: `guid:…`, `link:…` or `hash:…`.
    pub identity: String,
    /// The canonical link, when the entry has an http(s) one.
    pub link: Option<String>,
    /// Its document lists other articles (under other titles) under its link: a front
    /// page's address, a day's page. The link does not name this article alone.
    pub link_names_others: bool,
    pub title: String,
    pub summary: String,
    pub content: String,
    pub authors: Vec<String>,
    pub categories: Vec<String>,
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
}

impl Story {
    /// What the story is called: its title, or for an entry without one (a microblog's
    /// post, a note on a day's page) its text. Two entries under one link are two
    /// articles when their names differ.
    pub fn name(&self) -> &str {
        name_of(&self.title, &self.summary, &self.content)
    }

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
    let originals = entry::original_links(&text);
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
    let stories = entry::stories(feed.entries, base, originals, &mut repairs);
    Ok(ParsedFeed {
        title,
        stories,
        ttl: feed.ttl,
        encoding: decoded.encoding,
        repairs,
    })
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
            message: match e {
                ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot) => root::no_feed_in(text),
                _ => e.to_string(),
            },
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
/// broken, with its end tags mended where they do not match their elements
/// ([`repair::mend_end_tags`]), or else as far as it reads
/// ([`entries_before_the_break`]). The feed and the repairs made.
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
    if !removed.is_empty() {
        repairs.push(repair::removed_elements(&removed));
    }
    // End tags that do not match their elements break the document where the first is;
    // mended, it may read whole. The mended reading is taken when it reads more entries
    // than the document cut at its break: a server that failed half-way through a feed,
    // its error page's markup after the last entry it wrote, is read in part and said
    // to be. (As for a cut, a reading without entries is no reading of a broken
    // document: its error says more.)
    let mended = repair::mend_end_tags(&text).and_then(|(mended, fixes)| {
        let feed = parse_strict(&mended, base).ok()?;
        (!feed.entries.is_empty()).then_some((feed, fixes))
    });
    let cut = entries_before_the_break(&text, base);
    match (mended, cut) {
        (Some((feed, fixes)), cut)
            if cut
                .as_ref()
                .is_none_or(|cut| cut.entries.len() < feed.entries.len()) =>
        {
            repairs.extend(fixes);
            Some((feed, repairs))
        }
        (_, Some(feed)) => {
            repairs.push(repair::read_in_part(
                feed.entries.len(),
                Some(&error.message),
            ));
            Some((feed, repairs))
        }
        (_, None) => None,
    }
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

#[cfg(test)]
mod tests;
