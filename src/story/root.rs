//! What a document is when it holds no feed: the operator is told what was served
//! (XML of another kind, an `<rss>` without a channel, no element at all) rather than
//! the parser's "no root element".

use quick_xml::events::Event;

/// The root element of an XML document: its name as written, and its attributes' names
/// and values (entities left as written). `None` when the text holds no element, or
/// breaks before the first one ends.
pub(super) fn root_element(text: &str) -> Option<(String, Vec<(String, String)>)> {
    let mut reader = quick_xml::Reader::from_str(text);
    loop {
        match reader.read_event() {
            Ok(Event::Start(tag) | Event::Empty(tag)) => {
                let name = tag.name().as_ref().to_owned();
                let attributes = tag
                    .attributes()
                    .with_checks(false)
                    .flatten()
                    .map(|a| (a.key.as_ref().to_owned(), a.value.into_owned()))
                    .collect();
                return Some((name, attributes));
            }
            Ok(Event::Eof) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// Why a document feed-rs found no feed in is not one, for `not a feed: …`.
pub(super) fn no_feed_in(text: &str) -> String {
    let start = text.trim_start();
    if start.is_empty() {
        return "a document of nothing but white space".to_owned();
    }
    if start.starts_with(['{', '[']) {
        return "JSON, but not a JSON Feed".to_owned();
    }
    if !start.starts_with('<') {
        let begins: String = start.chars().take(40).collect();
        return format!("neither XML nor JSON (it begins {begins:?})");
    }
    let Some((name, attributes)) = root_element(text) else {
        return "an XML document without any element".to_owned();
    };
    let local = name.rsplit(':').next().unwrap_or(&name);
    if local.eq_ignore_ascii_case("rss") {
        if !text.contains("<channel") {
            return format!("an <{name}> document without a <channel>: it holds no feed");
        }
        let version = attributes
            .iter()
            .find(|(key, _)| key == "version")
            .map_or("none", |(_, v)| v.as_str());
        return format!("an <{name}> document of an RSS version not read ({version:?})");
    }
    if local.eq_ignore_ascii_case("rdf") {
        if !text.contains("channel") && !text.contains("item") {
            return format!(
                "an <{name}> document without an RSS 1.0 channel or item: it holds no feed"
            );
        }
        return format!("an <{name}> document, not RSS 1.0's <rdf:RDF>");
    }
    format!(
        "XML whose root element is <{name}>, not a feed's (<rss>, Atom's <feed>, RSS 1.0's <rdf:RDF>)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_document_without_a_feed_is() {
        for (text, said) in [
            (
                "<?xml version=\"1.0\"?>\n<!-- c --><catalog><book/></catalog>",
                "XML whose root element is <catalog>, not a feed's (<rss>, Atom's <feed>, \
                 RSS 1.0's <rdf:RDF>)",
            ),
            (
                "<!DOCTYPE rss SYSTEM \"x.dtd\">\n<rss version=\"0.91\">\n</rss>",
                "an <rss> document without a <channel>: it holds no feed",
            ),
            (
                "<rdf:rdf xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"></rdf:rdf>",
                "an <rdf:rdf> document without an RSS 1.0 channel or item: it holds no feed",
            ),
            (
                "<?xml version=\"1.0\"?>\n<!-- nothing -->\n",
                "an XML document without any element",
            ),
            (" \n", "a document of nothing but white space"),
            // An empty root element is the root (the prepass's scanner passes over it).
            (
                "<?xml version=\"1.0\"?>\n<rss version=\"2.0\" xmlns:dc=\"d\"/>",
                "an <rss> document without a <channel>: it holds no feed",
            ),
            (
                "<rss version=\"9\"><channel><title>x</title></channel></rss>",
                "an <rss> document of an RSS version not read (\"9\")",
            ),
            (
                "<rdf:rdf xmlns:rdf=\"r\"><item/></rdf:rdf>",
                "an <rdf:rdf> document, not RSS 1.0's <rdf:RDF>",
            ),
            (
                "Service Unavailable",
                "neither XML nor JSON (it begins \"Service Unavailable\")",
            ),
        ] {
            assert_eq!(no_feed_in(text), said, "{text}");
        }
    }

    #[test]
    fn the_root_element_and_its_attributes() {
        let (name, attributes) =
            root_element("<?xml version=\"1.0\"?><r:Channel xmlns:r=\"u\" a='&amp;'><x/>").unwrap();
        assert_eq!(name, "r:Channel");
        assert_eq!(
            attributes,
            [
                ("xmlns:r".to_owned(), "u".to_owned()),
                ("a".to_owned(), "&amp;".to_owned())
            ]
        );
        assert_eq!(root_element("<!-- only -->"), None);
    }
}
