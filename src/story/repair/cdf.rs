//! Microsoft's Channel Definition Format (CDF, 1997), which feed-rs does not know and
//! feedparser still reads: a root `<CHANNEL HREF="…">` holding `<TITLE>`, `<ABSTRACT>`
//! and `<ITEM HREF="…" LASTMOD="…">` elements (each with a `<TITLE>` and an
//! `<ABSTRACT>`), and channels nested in it for sections. It is read as the RSS 2.0
//! document it stands for: the channel's title, link and description, and every item
//! of it and its sections with its title, link, description and date (`LASTMOD`, the
//! one date CDF gives, as `dc:date`). Element and attribute names are read in any case;
//! a `BASE` attribute resolves the links under it.

use quick_xml::events::{BytesStart, Event};
use url::Url;

use super::rss_in_json::element;

/// The repair reported for a document read so.
pub const READ_AS_RSS: &str = "Channel Definition Format (CDF) read as RSS 2.0";

#[derive(Default)]
struct Entry {
    title: Option<String>,
    link: Option<String>,
    description: Option<String>,
    date: Option<String>,
}

/// The RSS 2.0 document a CDF one stands for, or `None` when the text is not CDF (its
/// root is no `CHANNEL`) or is not well-formed.
pub fn rss_document(text: &str) -> Option<String> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut channel = Entry::default();
    let mut items: Vec<Entry> = Vec::new();
    // The elements open, by upper-case name, each with the base its links resolve on.
    let mut open: Vec<(String, Option<Url>)> = Vec::new();
    let mut text_of: Option<String> = None;
    let mut whole = false;
    loop {
        match reader.read_event().ok()? {
            Event::Eof => break,
            Event::Start(tag) => {
                let name = tag.name().as_ref().to_ascii_uppercase();
                if open.is_empty() && (whole || name != "CHANNEL") {
                    return None;
                }
                let base = open.last().and_then(|(_, base)| base.clone());
                let base = attribute(&tag, "BASE")
                    .and_then(|b| resolve(base.as_ref(), &b))
                    .or(base);
                match name.as_str() {
                    "CHANNEL" | "ITEM" => {
                        let entry = Entry {
                            link: attribute(&tag, "HREF").map(|h| link(base.as_ref(), h)),
                            date: attribute(&tag, "LASTMOD"),
                            ..Entry::default()
                        };
                        if open.is_empty() {
                            channel = entry;
                        } else if name == "ITEM" {
                            items.push(entry);
                        }
                    }
                    "TITLE" | "ABSTRACT" => text_of = Some(String::new()),
                    _ => {}
                }
                open.push((name, base));
            }
            Event::Empty(tag) => {
                let name = tag.name().as_ref().to_ascii_uppercase();
                if open.is_empty() {
                    return None;
                }
                if name == "ITEM" {
                    let base = open.last().and_then(|(_, base)| base.clone());
                    items.push(Entry {
                        link: attribute(&tag, "HREF").map(|h| link(base.as_ref(), h)),
                        date: attribute(&tag, "LASTMOD"),
                        ..Entry::default()
                    });
                }
            }
            Event::End(_) => {
                let (name, _) = open.pop()?;
                let parent = open.last().map(|(parent, _)| parent.as_str());
                if let Some(text) = text_of.take() {
                    let entry = match parent {
                        Some("ITEM") => items.last_mut(),
                        Some("CHANNEL") if open.len() == 1 => Some(&mut channel),
                        _ => None,
                    };
                    if let Some(entry) = entry {
                        let text = text.trim().to_owned();
                        match name.as_str() {
                            "TITLE" => entry.title = Some(text),
                            _ => entry.description = Some(text),
                        }
                    }
                }
                whole = open.is_empty();
            }
            Event::Text(t) => push(&mut text_of, &t.xml10_content()),
            Event::CData(t) => push(&mut text_of, &t.xml10_content()),
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().ok()? {
                    Some(c) => c.to_string(),
                    None => quick_xml::escape::resolve_predefined_entity(&r)?.to_owned(),
                };
                push(&mut text_of, &resolved);
            }
            _ => {}
        }
    }
    whole.then(|| write_rss(&channel, &items))
}

fn push(text: &mut Option<String>, more: &str) {
    if let Some(text) = text {
        text.push_str(more);
    }
}

/// An attribute's value, by its name in any case; entities resolved.
fn attribute(tag: &BytesStart<'_>, name: &str) -> Option<String> {
    tag.attributes()
        .with_checks(false)
        .flatten()
        .find(|a| a.key.as_ref().eq_ignore_ascii_case(name))
        .and_then(|a| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .ok()
                .map(|v| v.trim().to_owned())
        })
}

fn resolve(base: Option<&Url>, href: &str) -> Option<Url> {
    match base {
        Some(base) => base.join(href).ok(),
        None => Url::parse(href).ok(),
    }
}

/// A link resolved on the base it is under, or as written when it cannot be.
fn link(base: Option<&Url>, href: String) -> String {
    resolve(base, &href).map_or(href, String::from)
}

fn write_rss(channel: &Entry, items: &[Entry]) -> String {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\" \
         xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel>",
    );
    write_entry(&mut xml, channel);
    for item in items {
        xml.push_str("<item>");
        write_entry(&mut xml, item);
        xml.push_str("</item>");
    }
    xml.push_str("</channel></rss>");
    xml
}

fn write_entry(xml: &mut String, entry: &Entry) {
    for (name, text) in [
        ("title", &entry.title),
        ("link", &entry.link),
        ("description", &entry.description),
        ("dc:date", &entry.date),
    ] {
        if let Some(text) = text {
            element(xml, name, &[], Some(text));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdf_becomes_the_rss_it_stands_for() {
        let cdf = r#"<?xml version="1.0"?>
<!-- a comment -->
<CHANNEL HREF="http://www.example.org/" BASE="http://www.example.org/news/">
  <TITLE>News &amp; views</TITLE>
  <ABSTRACT>All the news</ABSTRACT>
  <LOGO HREF="logo.gif" STYLE="IMAGE"/>
  <ITEM HREF="1.html" LASTMOD="2004-04-06T23:05:43-05:00">
    <TITLE>First &#x2014; <![CDATA[one]]></TITLE>
    <abstract>The first</abstract>
  </ITEM>
  <Channel BASE="http://other.example/">
    <TITLE>A section</TITLE>
    <item href="/2"><title>Second</title></item>
    <ITEM HREF="3"/>
  </Channel>
</CHANNEL>"#;
        assert_eq!(
            rss_document(cdf).unwrap(),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\" \
             xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel>\
             <title>News &amp; views</title><link>http://www.example.org/</link>\
             <description>All the news</description>\
             <item><title>First — one</title><link>http://www.example.org/news/1.html</link>\
             <description>The first</description><dc:date>2004-04-06T23:05:43-05:00</dc:date></item>\
             <item><title>Second</title><link>http://other.example/2</link></item>\
             <item><link>http://other.example/3</link></item>\
             </channel></rss>"
        );
    }

    #[test]
    fn other_documents_are_left_alone() {
        for text in [
            "<rss><channel/></rss>",
            "<CHANNEL><TITLE>x</CHANNEL>",
            "<CHANNEL/>",
            "<CHANNEL></CHANNEL><CHANNEL></CHANNEL>",
        ] {
            assert_eq!(rss_document(text), None, "{text}");
        }
    }
}
