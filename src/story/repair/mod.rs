//! Lenient repairs for feeds that feed-rs rejects but that carry real entries.
//!
//! Established feed readers read these feeds, so newshound does too — but only with
//! repairs that cannot change what a well-formed part of the document means, and only
//! after a strict parse failed (or, for what feed-rs would read as nothing, silently,
//! before it). Each repair made is reported so `newshound feeds` can say
//! the feed was repaired. `prepass.rs` holds the passes over every XML feed before the
//! strict parse, `xml.rs` the repairs of XML documents, `json.rs` those of JSON Feeds,
//! `rss_in_json.rs` the reading of RSS written as JSON, `rss11.rs` that of RSS 1.1,
//! `cdf.rs` that of Microsoft's Channel Definition Format, `end_tags.rs` the mending of
//! end tags that do not match their elements.

mod cdf;
mod end_tags;
mod in_page;
mod json;
mod prepass;
mod rss11;
mod rss_in_json;
mod xml;

pub use end_tags::mend_end_tags;
pub use json::repair_json;

use crate::story::counted;
pub use prepass::before_parse;
pub use xml::{cut_and_close, entry_ends, remove_element, removed_elements, repair_xml};

/// Removes whatever precedes an XML document — whitespace, a comment before the
/// declaration, a stray PHP warning — and says what was removed. Nothing may precede an
/// XML declaration, and feed-rs can even crash on it, so this runs before the strict
/// parse. JSON documents are left alone.
pub fn strip_leading_junk(text: &mut String) -> Option<String> {
    if text.trim_start().starts_with('{') {
        return None;
    }
    let start = match text.find("<?xml") {
        Some(at) if at < 4096 => at,
        _ => text.find('<')?,
    };
    if start == 0 {
        return None;
    }
    let junk = text[..start].trim();
    let repair = if junk.is_empty() {
        "whitespace before the XML declaration, removed".to_owned()
    } else {
        format!(
            "text before the XML document ({:?}), removed",
            truncate(junk, 40)
        )
    };
    text.drain(..start);
    Some(repair)
}

/// How the report of a document read only as far as it goes begins: a feed cut short or
/// broken part-way, of which the entries after the break are not read.
pub const READ_IN_PART: &str = "the document breaks off after";

/// The report of a document read only as far as `entries` whole entries before its
/// break, with the parser's error when there is one.
pub fn read_in_part(entries: usize, error: Option<&str>) -> String {
    format!(
        "{READ_IN_PART} {}{}; {} read",
        counted(entries, "whole entry", "whole entries"),
        error.map(|e| format!(" ({e})")).unwrap_or_default(),
        if entries == 1 { "it was" } else { "those were" }
    )
}

fn truncate(s: &str, chars: usize) -> String {
    match s.char_indices().nth(chars) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junk_before_the_document() {
        let mut text = "\n\nWarning: x in y.php\n<?xml version=\"1.0\"?><rss/>".to_owned();
        let repair = strip_leading_junk(&mut text).unwrap();
        assert_eq!(text, "<?xml version=\"1.0\"?><rss/>");
        assert!(
            repair.starts_with("text before the XML document"),
            "{repair}"
        );
        assert_eq!(strip_leading_junk(&mut text), None);
        let mut json = " {\"version\": 1}".to_owned();
        assert_eq!(strip_leading_junk(&mut json), None);
    }
}
