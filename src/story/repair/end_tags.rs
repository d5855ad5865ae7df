//! End tags that do not match their elements: an element never closed, and an end tag
//! misspelt or naming no open element. Hand-written feeds have both — a podcast's
//! `<itunes:category text="News">` opened for its subcategories and never closed, a
//! `<language>en-us</langauge>` — and an XML parser stops at the first, so every entry
//! after it is lost. They are mended as lenient readers read them.

use super::xml::{Tag, Tags};
use crate::story::counted;

/// An element open at some point of the walk.
struct Open<'a> {
    name: &'a str,
    /// Where its start tag ends.
    end: usize,
    /// Whether an element has started inside it.
    has_children: bool,
    /// Where the first entry (`<item>`, `<entry>`) inside it starts: an element never
    /// closed is closed there, so that the entries after it stay where they belong.
    first_entry: Option<usize>,
}

/// Mends the end tags of an XML text that do not match their elements. An element whose
/// parent's end tag comes first was never closed: it is closed before the first entry
/// inside it, or else right before that end tag. An end tag that names no open element
/// closes the element open there when that one holds only text (a misspelt
/// `</langauge>`), and is dropped otherwise. Returns the text and what was done, or
/// `None` when every end tag matches.
pub fn mend_end_tags(text: &str) -> Option<(String, Vec<String>)> {
    let mut open: Vec<Open<'_>> = Vec::new();
    // (where, what to put there instead of `replaced` bytes, how many bytes it replaces)
    let mut edits: Vec<(usize, String, usize)> = Vec::new();
    let (mut unclosed, mut misspelt, mut stray) = (Vec::new(), Vec::new(), 0);
    for (start, end, tag) in Tags::new(text) {
        match tag {
            Tag::Start(name) => {
                let entry = matches!(name.rsplit(':').next(), Some("item" | "entry"));
                if let Some(parent) = open.last_mut() {
                    parent.has_children = true;
                }
                if entry {
                    for o in open.iter_mut().filter(|o| o.first_entry.is_none()) {
                        o.first_entry = Some(start);
                    }
                }
                open.push(Open {
                    name,
                    end,
                    has_children: false,
                    first_entry: None,
                });
            }
            Tag::End(name) => match open.iter().rposition(|o| o.name == name) {
                Some(at) => {
                    // Innermost first, so that closings at one place nest.
                    for o in open.drain(at + 1..).rev() {
                        let close_at = o.first_entry.filter(|&e| e >= o.end).unwrap_or(start);
                        edits.push((close_at, format!("</{}>", o.name), 0));
                        if !unclosed.contains(&o.name) {
                            unclosed.push(o.name);
                        }
                    }
                    open.pop();
                }
                None => match open.last() {
                    Some(top) if !top.has_children => {
                        edits.push((start, format!("</{}>", top.name), end - start));
                        misspelt.push(format!("</{name}> for </{}>", top.name));
                        open.pop();
                    }
                    _ => {
                        edits.push((start, String::new(), end - start));
                        stray += 1;
                    }
                },
            },
            Tag::Other => {}
        }
    }
    if edits.is_empty() {
        return None;
    }
    // Stable: closings at one place keep the order they were made in.
    edits.sort_by_key(|&(at, _, _)| at);
    let mut out = String::with_capacity(text.len() + 64);
    let mut done = 0;
    for (at, insert, replaced) in edits {
        out.push_str(&text[done..at]);
        out.push_str(&insert);
        done = at + replaced;
    }
    out.push_str(&text[done..]);
    let mut repairs = Vec::new();
    if !unclosed.is_empty() {
        let names: Vec<String> = unclosed.iter().take(3).map(|n| format!("<{n}>")).collect();
        repairs.push(format!(
            "elements never closed, closed where their content ends ({})",
            names.join(", ")
        ));
    }
    if !misspelt.is_empty() {
        repairs.push(format!(
            "end tags naming no open element read as closing the one open ({})",
            misspelt
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if stray > 0 {
        repairs.push(format!(
            "{} naming no open element dropped",
            counted(stray, "end tag", "end tags")
        ));
    }
    Some((out, repairs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mended(text: &str) -> String {
        mend_end_tags(text).map(|(t, _)| t).unwrap_or_default()
    }

    #[test]
    fn a_document_whose_end_tags_match_is_left_alone() {
        assert_eq!(
            mend_end_tags("<rss><channel><title>T</title><item/><!-- </x> --></channel></rss>"),
            None
        );
        // A document cut short has elements open at its end: nothing to mend there.
        assert_eq!(mend_end_tags("<rss><channel><item><title>T"), None);
    }

    #[test]
    fn an_element_never_closed_closes_before_the_entries_inside_it() {
        assert_eq!(
            mended(
                "<rss><channel><itunes:category text='News'><itunes:category text='Politics'/>\
                 <item><title>A</title></item><item><title>B</title></item></channel></rss>"
            ),
            "<rss><channel><itunes:category text='News'><itunes:category text='Politics'/>\
             </itunes:category><item><title>A</title></item><item><title>B</title></item></channel></rss>"
        );
        // Without an entry inside it, where its parent ends.
        assert_eq!(
            mended("<rss><channel><item><title>A</item></channel></rss>"),
            "<rss><channel><item><title>A</title></item></channel></rss>"
        );
        // An entry never closed ends where the next begins.
        assert_eq!(
            mended("<channel><item><title>A</title><item><title>B</title></channel>"),
            "<channel><item><title>A</title></item><item><title>B</title></item></channel>"
        );
    }

    #[test]
    fn an_end_tag_naming_no_open_element() {
        let (text, repairs) = mend_end_tags(
            "<rss><channel><language>en</langauge><item><title>A</title></item></channel></rss>",
        )
        .unwrap();
        assert_eq!(
            text,
            "<rss><channel><language>en</language><item><title>A</title></item></channel></rss>"
        );
        assert_eq!(
            repairs,
            [
                "end tags naming no open element read as closing the one open (</langauge> for </language>)"
            ]
        );
        // Where the element open holds elements, the stray end tag is dropped.
        assert_eq!(
            mended("<feed><entry><title>A</title></p></entry></feed>"),
            "<feed><entry><title>A</title></entry></feed>"
        );
    }
}
