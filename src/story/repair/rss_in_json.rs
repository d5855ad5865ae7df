//! RSS written as JSON ("RSS in JSON", as scripting.com publishes its `rss.json`): the
//! RSS 2.0 document's elements as members of `{"rss": {"channel": …}}`, an element's
//! attributes as members beside its text, which is under `#value`. It is read by
//! writing the RSS 2.0 document it stands for, so that it means what the XML would.

use serde_json::{Map, Value};

/// The repair reported for a document read so.
pub const READ_AS_RSS: &str = "RSS written as JSON (`rss.channel`), read as RSS 2.0";

/// Channel elements carried over, each written as text.
const CHANNEL_TEXT: &[&str] = &[
    "title",
    "link",
    "description",
    "language",
    "pubDate",
    "lastBuildDate",
    "ttl",
];

/// Item elements carried over as text. (`guid`, `category`, `enclosure` and `source`
/// have attributes and are written by their own rules.)
const ITEM_TEXT: &[&str] = &[
    "title",
    "link",
    "description",
    "pubDate",
    "author",
    "comments",
    "content:encoded",
    "dc:creator",
    "dc:date",
];

/// The RSS 2.0 document a JSON value of the form `{"rss": {"channel": {…}}}` stands for,
/// or `None` when the value is not of that form.
pub fn rss_document(value: &Value) -> Option<String> {
    let channel = value.get("rss")?.get("channel")?.as_object()?;
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\" \
         xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" \
         xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel>",
    );
    for &name in CHANNEL_TEXT {
        text_elements(&mut xml, name, channel.get(name));
    }
    for item in one_or_many(channel.get("item")).filter_map(Value::as_object) {
        write_item(&mut xml, item);
    }
    xml.push_str("</channel></rss>");
    Some(xml)
}

fn write_item(xml: &mut String, item: &Map<String, Value>) {
    xml.push_str("<item>");
    for &name in ITEM_TEXT {
        text_elements(xml, name, item.get(name));
    }
    for guid in one_or_many(item.get("guid")).take(1) {
        let Some(text) = text_of(guid) else { continue };
        // Both spellings are in use; RSS's own is `isPermaLink`.
        let permalink = ["isPermaLink", "isPermalink"]
            .iter()
            .find_map(|key| guid.get(key))
            .and_then(|v| match v {
                Value::Bool(b) => Some(*b),
                Value::String(s) => Some(s != "false"),
                _ => None,
            });
        let permalink = permalink.map(|p| p.to_string());
        element(xml, "guid", &[("isPermaLink", permalink)], Some(&text));
    }
    for category in one_or_many(item.get("category")) {
        if let Some(text) = text_of(category) {
            let domain = category.get("domain").and_then(scalar_text);
            element(xml, "category", &[("domain", domain)], Some(&text));
        }
    }
    for enclosure in one_or_many(item.get("enclosure")) {
        let [url, kind, length] =
            ["url", "type", "length"].map(|a| enclosure.get(a).and_then(scalar_text));
        if url.is_some() {
            element(
                xml,
                "enclosure",
                &[("url", url), ("type", kind), ("length", length)],
                None,
            );
        }
    }
    for source in one_or_many(item.get("source")).take(1) {
        if let Some(text) = text_of(source) {
            let url = source.get("url").and_then(scalar_text);
            element(xml, "source", &[("url", url)], Some(&text));
        }
    }
    xml.push_str("</item>");
}

/// A member given once or as a list.
fn one_or_many(value: Option<&Value>) -> impl Iterator<Item = &Value> {
    let list = match value {
        Some(Value::Array(list)) => list.as_slice(),
        Some(one) => std::slice::from_ref(one),
        None => &[],
    };
    list.iter()
}

/// An element's text: a string or number, or an object's `#value`.
fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::Object(object) => object.get("#value").and_then(scalar_text),
        other => scalar_text(other),
    }
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `<name>text</name>` for each text the member holds.
fn text_elements(xml: &mut String, name: &str, value: Option<&Value>) {
    for text in one_or_many(value).filter_map(text_of) {
        element(xml, name, &[], Some(&text));
    }
}

/// `<name attributes>text</name>`, or without text `<name attributes/>`; an attribute
/// without a value is left out.
pub(super) fn element(
    xml: &mut String,
    name: &str,
    attributes: &[(&str, Option<String>)],
    text: Option<&str>,
) {
    xml.push('<');
    xml.push_str(name);
    for (attribute, value) in attributes {
        if let Some(value) = value {
            xml.push(' ');
            xml.push_str(attribute);
            xml.push_str("=\"");
            push_escaped(xml, value);
            xml.push('"');
        }
    }
    match text {
        Some(text) => {
            xml.push('>');
            push_escaped(xml, text);
            xml.push_str("</");
            xml.push_str(name);
            xml.push('>');
        }
        None => xml.push_str("/>"),
    }
}

/// `text` as XML character data (or an attribute's value): markup escaped, and the
/// characters XML 1.0 does not allow left out.
fn push_escaped(xml: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => xml.push_str("&amp;"),
            '<' => xml.push_str("&lt;"),
            '>' => xml.push_str("&gt;"),
            '"' => xml.push_str("&quot;"),
            '\t' | '\n' | '\r' => xml.push(c),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => {}
            _ => xml.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_rss_form_is_read() {
        for json in [
            r#"{"version": "https://jsonfeed.org/version/1.1", "items": []}"#,
            r#"{"rss": {"version": "2.0"}}"#,
            r#"{"rss": {"channel": "text"}}"#,
            r#"["rss"]"#,
        ] {
            let value: Value = serde_json::from_str(json).unwrap();
            assert_eq!(rss_document(&value), None, "{json}");
        }
    }

    #[test]
    fn text_is_escaped_and_characters_xml_forbids_are_dropped() {
        let value = serde_json::json!({"rss": {"channel": {
            "title": "A & B <i>\u{1}</i>",
            "item": {"title": "\"Q\"", "category": {"#value": "x", "domain": "a\"b"}}
        }}});
        let xml = rss_document(&value).unwrap();
        assert!(
            xml.contains("<title>A &amp; B &lt;i&gt;&lt;/i&gt;</title>"),
            "{xml}"
        );
        assert!(xml.contains("<title>&quot;Q&quot;</title>"), "{xml}");
        assert!(
            xml.contains("<category domain=\"a&quot;b\">x</category>"),
            "{xml}"
        );
    }
}
