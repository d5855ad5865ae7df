//! RSS 1.1, the revision of RSS 1.0 that feed-rs does not know: the channel is the root
//! (`<Channel rdf:about="…">` in the namespace `http://purl.org/net/rss1.1#`) and holds
//! its items in `<items rdf:parseType="Collection">`. Its elements are RSS 1.0's, so it
//! is read as the RSS 1.0 document it revises: an `<rdf:RDF>` root in RSS 1.0's
//! namespace holding the channel, then the items. Every element but the three moved is
//! copied as written (RSS 1.1's namespace declared again inside made RSS 1.0's).

use quick_xml::events::{BytesStart, Event};

/// The repair reported for a document read so.
pub const READ_AS_RSS_1_0: &str = "RSS 1.1 read as RSS 1.0";

const RSS_1_1: &str = "http://purl.org/net/rss1.1#";
const RSS_1_0: &str = "http://purl.org/rss/1.0/";
const RDF: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";

/// The prefix (with its colon, or empty) and local name of a qualified name.
fn split(name: &str) -> (&str, &str) {
    match name.rfind(':') {
        Some(at) => (&name[..=at], &name[at + 1..]),
        None => ("", name),
    }
}

/// The RSS 1.0 document an RSS 1.1 one stands for, or `None` when the text is not RSS
/// 1.1 (its root is no `Channel` in RSS 1.1's namespace) or is not well-formed.
pub fn rss_1_0_document(text: &str) -> Option<String> {
    memchr::memmem::find(text.as_bytes(), RSS_1_1.as_bytes())?;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut out = String::with_capacity(text.len() + 128);
    let mut items = String::new();
    // How deep the reader is: 1 inside the root, 2 inside the channel's `items`.
    let mut depth = 0_usize;
    let mut in_items = false;
    let mut prefix = String::new();
    let mut whole = false;
    loop {
        let start = usize::try_from(reader.buffer_position()).ok()?;
        let event = reader.read_event().ok()?;
        let raw = &text[start..usize::try_from(reader.buffer_position()).ok()?];
        match event {
            Event::Eof => break,
            Event::Start(tag) if depth == 0 => {
                if whole {
                    return None;
                }
                prefix = root_as_rdf(&tag, &mut out)?;
                depth = 1;
            }
            Event::Start(tag) if depth == 1 && split(tag.name().as_ref()).1 == "items" => {
                in_items = true;
                depth = 2;
            }
            Event::Empty(tag) if depth == 1 && split(tag.name().as_ref()).1 == "items" => {}
            Event::End(_) if depth == 2 && in_items => {
                in_items = false;
                depth = 1;
            }
            Event::End(_) if depth == 1 => {
                out.push_str(&format!("</{prefix}channel>"));
                out.push_str(&items);
                out.push_str("</rdf:RDF>");
                depth = 0;
                whole = true;
            }
            Event::Empty(_) if depth == 0 => return None,
            event => {
                match event {
                    Event::Start(_) => depth += 1,
                    Event::End(_) => depth = depth.checked_sub(1)?,
                    _ => {}
                }
                let into = if in_items { &mut items } else { &mut out };
                // Inner elements may declare RSS 1.1's namespace again.
                if raw.starts_with('<') && !raw.starts_with("<!") && raw.contains(RSS_1_1) {
                    into.push_str(&raw.replace(RSS_1_1, RSS_1_0));
                } else {
                    into.push_str(raw);
                }
            }
        }
    }
    whole.then_some(out)
}

/// Writes the `<rdf:RDF>` root and the `<channel>` start tag that stand for RSS 1.1's
/// root `Channel`, and returns the prefix its elements are written with; `None` when the
/// root is not RSS 1.1's. The root's namespace declarations stay on the root, RSS 1.1's
/// made RSS 1.0's; its other attributes (`rdf:about`) go to the channel.
fn root_as_rdf(root: &BytesStart<'_>, out: &mut String) -> Option<String> {
    let name = root.name();
    let (prefix, local) = split(name.as_ref());
    if local != "Channel" {
        return None;
    }
    let declares = format!(
        "xmlns{}",
        prefix
            .strip_suffix(':')
            .map_or(String::new(), |p| format!(":{p}"))
    );
    let mut in_rss_1_1 = false;
    let mut channel = String::new();
    out.push_str(&format!("<rdf:RDF xmlns:rdf=\"{RDF}\""));
    for attribute in root.attributes().with_checks(false) {
        let attribute = attribute.ok()?;
        let key = attribute.key.as_ref();
        let value = attribute.value.replace('"', "&quot;");
        if key == "xmlns:rdf" {
            continue;
        }
        if key == "xmlns" || key.starts_with("xmlns:") {
            let value = if value == RSS_1_1 {
                in_rss_1_1 |= key == declares;
                RSS_1_0
            } else {
                &value
            };
            out.push_str(&format!(" {key}=\"{value}\""));
        } else {
            channel.push_str(&format!(" {key}=\"{value}\""));
        }
    }
    out.push_str(&format!("><{prefix}channel{channel}>"));
    in_rss_1_1.then(|| prefix.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_1_1_becomes_the_rss_1_0_it_revises() {
        let rss11 = r#"<?xml version="1.0"?>
<Channel xmlns="http://purl.org/net/rss1.1#" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" rdf:about="http://example.org/">
<title>News &amp; views</title>
<items rdf:parseType="Collection">
  <item rdf:about="http://example.org/1"><title>One</title><link>http://example.org/1</link></item>
</items>
</Channel>"#;
        assert_eq!(
            rss_1_0_document(rss11).unwrap(),
            r#"<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"><channel rdf:about="http://example.org/">
<title>News &amp; views</title>

</channel>
  <item rdf:about="http://example.org/1"><title>One</title><link>http://example.org/1</link></item>
</rdf:RDF>"#
        );
    }

    #[test]
    fn a_prefixed_root_keeps_its_prefix() {
        let rss11 = r#"<r:Channel xmlns:r="http://purl.org/net/rss1.1#" xmlns:x="http://www.w3.org/1999/02/22-rdf-syntax-ns#" x:about="a"><r:items x:parseType="Collection"><r:item x:about="b"/></r:items></r:Channel>"#;
        assert_eq!(
            rss_1_0_document(rss11).unwrap(),
            r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:r="http://purl.org/rss/1.0/" xmlns:x="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><r:channel x:about="a"></r:channel><r:item x:about="b"/></rdf:RDF>"#
        );
    }

    #[test]
    fn the_namespace_declared_again_inside_is_rss_1_0_too() {
        let rss11 = r#"<Channel xmlns="http://purl.org/net/rss1.1#"><link xmlns:r="http://purl.org/net/rss1.1#"><![CDATA[http://purl.org/net/rss1.1#]]></link></Channel>"#;
        assert_eq!(
            rss_1_0_document(rss11).unwrap(),
            r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"><channel><link xmlns:r="http://purl.org/rss/1.0/"><![CDATA[http://purl.org/net/rss1.1#]]></link></channel></rdf:RDF>"#
        );
    }

    #[test]
    fn other_documents_are_left_alone() {
        for text in [
            // A channel in another namespace, or RSS 1.1's namespace on another root.
            r#"<Channel xmlns="http://example.org/"><items/></Channel><!-- http://purl.org/net/rss1.1# -->"#,
            r#"<rss xmlns:x="http://purl.org/net/rss1.1#"><channel/></rss>"#,
            // Not well-formed, or two roots.
            r#"<Channel xmlns="http://purl.org/net/rss1.1#"><title>x</Channel>"#,
            r#"<Channel xmlns="http://purl.org/net/rss1.1#"/>"#,
            r#"<Channel xmlns="http://purl.org/net/rss1.1#"></Channel><Channel></Channel>"#,
        ] {
            assert_eq!(rss_1_0_document(text), None, "{text}");
        }
    }
}
