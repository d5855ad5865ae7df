//! A feed saved inside an XHTML page: an Atom `<feed>`, an `<rss>` or an `<rdf:RDF>`
//! in the page's body, as a site's template or a "save page" leaves it. feed-rs sees an
//! `<html>` root and no feed; the feed element is read as the document it would be on
//! its own, with the namespace prefixes the page declared for it.

use quick_xml::events::{BytesStart, Event};

/// The repair reported for a document read so.
pub const READ_FROM_PAGE: &str = "a feed inside an XHTML page, read on its own";

/// The first feed element an XHTML page holds, as a document of its own, and the root
/// it has there (`feed`, `rss` or `rdf:RDF`); `None` when the page holds none, or is
/// not well-formed up to the feed element's end.
pub fn feed_in_page(text: &str) -> Option<(String, &'static str)> {
    let mut reader = quick_xml::Reader::from_str(text);
    // The prefixed namespace declarations of the open elements, outermost first.
    let mut declared: Vec<Vec<(String, String)>> = Vec::new();
    // Where the feed element's start tag lies, its depth, and its root's name.
    let mut found: Option<(std::ops::Range<usize>, usize, &'static str)> = None;
    loop {
        let start = usize::try_from(reader.buffer_position()).ok()?;
        let event = reader.read_event().ok()?;
        let end = usize::try_from(reader.buffer_position()).ok()?;
        match event {
            Event::Eof => return None,
            Event::Start(tag) => {
                if found.is_none()
                    && !declared.is_empty()
                    && let Some(root) = feed_root(&tag)
                {
                    found = Some((start..end, declared.len() + 1, root));
                }
                declared.push(prefixes_declared(&tag));
            }
            Event::End(_) => {
                if let Some((tag, depth, root)) = &found
                    && *depth == declared.len()
                {
                    declared.pop();
                    return Some((document(text, tag.clone(), end, &declared), root));
                }
                declared.pop();
            }
            _ => {}
        }
    }
}

/// The root a feed element has on its own, if `tag` starts one.
fn feed_root(tag: &BytesStart<'_>) -> Option<&'static str> {
    match tag.name().as_ref() {
        "feed" => Some("feed"),
        "rss" => Some("rss"),
        "rdf:RDF" => Some("rdf:RDF"),
        _ => None,
    }
}

/// The prefixed namespaces `tag` declares (`xmlns:dc="…"`), as written.
fn prefixes_declared(tag: &BytesStart<'_>) -> Vec<(String, String)> {
    tag.attributes()
        .flatten()
        .filter(|a| a.key.as_ref().starts_with("xmlns:"))
        .map(|a| (a.key.as_ref().to_owned(), a.value.into_owned()))
        .collect()
}

/// The feed element from its start `tag` to `end`, its start tag given the prefixed
/// namespaces its ancestors declared (`outer`, outermost first) that it does not
/// declare itself. The page's default namespace (XHTML's) is not carried over: it is
/// not the feed's.
fn document(
    text: &str,
    tag: std::ops::Range<usize>,
    end: usize,
    outer: &[Vec<(String, String)>],
) -> String {
    let start_tag = &text[tag.clone()];
    let name_end = start_tag
        .find(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/')
        .unwrap_or(start_tag.len());
    let mut inherited: Vec<&(String, String)> = Vec::new();
    for declaration in outer.iter().rev().flatten() {
        let (name, _) = declaration;
        let redeclared = inherited.iter().any(|(n, _)| n == name)
            || start_tag.contains(&format!("{name}="))
            || start_tag.contains(&format!("{name} ="));
        if !redeclared {
            inherited.push(declaration);
        }
    }
    let mut document = String::with_capacity(end - tag.start + 64 * inherited.len());
    document.push_str(&start_tag[..name_end]);
    for (name, value) in inherited {
        document.push_str(&format!(" {name}=\"{}\"", value.replace('"', "&quot;")));
    }
    document.push_str(&text[tag.start + name_end..end]);
    document
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_feed_element_of_a_page_is_taken_with_the_prefixes_the_page_declared() {
        let page = r#"<?xml version="1.0"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:dc="http://purl.org/dc/elements/1.1/">
<head><title>Saved</title></head>
<body><div>
<rss version="2.0"><channel><title>Inner</title>
<item><title>One</title><dc:creator>A</dc:creator></item></channel></rss>
<p>after</p>
</div></body></html>"#;
        let (document, root) = feed_in_page(page).unwrap();
        assert_eq!(root, "rss");
        assert_eq!(
            document,
            "<rss xmlns:dc=\"http://purl.org/dc/elements/1.1/\" version=\"2.0\"><channel>\
             <title>Inner</title>\n<item><title>One</title><dc:creator>A</dc:creator></item>\
             </channel></rss>"
        );
        // A prefix the feed declares itself is left as it is.
        let own = page.replace(
            "<rss version",
            "<rss xmlns:dc=\"http://purl.org/dc/terms/\" version",
        );
        let (document, _) = feed_in_page(&own).unwrap();
        assert!(document.starts_with("<rss xmlns:dc=\"http://purl.org/dc/terms/\" version"));
    }

    #[test]
    fn a_page_without_a_feed_element_or_not_well_formed_gives_nothing() {
        assert_eq!(
            feed_in_page("<html><body><p>&lt;rss&gt;</p></body></html>"),
            None
        );
        assert_eq!(
            feed_in_page("<html><body><rss><channel></body></html>"),
            None
        );
        // The root itself is not "inside a page".
        assert_eq!(feed_in_page("<rss><channel/></rss>"), None);
        assert_eq!(
            feed_in_page("<html><body><feed/></body></html>"),
            None,
            "an empty element holds no feed"
        );
    }
}
