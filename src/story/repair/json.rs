//! Repairs of JSON Feeds: text written by a template rather than a JSON writer,
//! documents that break off, versions, and values of the wrong type.

use crate::story::counted;

/// Repairs a JSON Feed: control characters raw in its strings, a document cut short
/// inside its `items`, an `http://` version URL or none, values of the wrong type. RSS
/// written as JSON comes back as the RSS 2.0 document it stands for.
pub fn repair_json(text: &str) -> Option<(String, Vec<String>)> {
    let text = text.trim_start_matches('\u{feff}');
    let (mut value, mut repairs): (serde_json::Value, _) = match serde_json::from_str(text) {
        Ok(value) => (value, Vec::new()),
        Err(_) => {
            let (fixed, fixes) = repair_json_text(text)?;
            (serde_json::from_str(&fixed).ok()?, fixes)
        }
    };
    if let Some(rss) = super::rss_in_json::rss_document(&value) {
        repairs.push(super::rss_in_json::READ_AS_RSS.to_owned());
        return Some((rss, repairs));
    }
    let object = value.as_object_mut()?;
    match object.get("version").and_then(|v| v.as_str()) {
        Some(v) if v.starts_with("https://jsonfeed.org/version/1") => {}
        Some(v) if v.starts_with("http://jsonfeed.org/version/1") => {
            let fixed = v.replacen("http://", "https://", 1);
            object.insert("version".into(), fixed.into());
            repairs.push("JSON Feed version URL given with http://".to_owned());
        }
        // A JSON feed-like document without a usable version: read it as 1.1.
        _ if object.contains_key("items") => {
            object.insert("version".into(), "https://jsonfeed.org/version/1.1".into());
            repairs.push("JSON Feed without a known version, read as 1.1".to_owned());
        }
        _ => return None,
    }
    if !object.get("title").is_some_and(|t| t.is_string()) {
        object.insert("title".into(), "".into());
        repairs.push("JSON Feed without a title".to_owned());
    }
    let mut coerced = coerce_json_strings(object, JSON_FEED_STRINGS) + coerce_json_authors(object);
    if let Some(items) = object.get_mut("items").and_then(|i| i.as_array_mut()) {
        // An entry that is not an object (a string, a number, null) holds no story; the
        // parser would turn the whole feed away for it.
        let listed = items.len();
        items.retain(serde_json::Value::is_object);
        if items.len() < listed {
            repairs.push(format!(
                "{} JSON Feed items that are not objects, dropped",
                listed - items.len()
            ));
        }
        let mut fixed_tags = 0;
        for item in items.iter_mut().filter_map(|i| i.as_object_mut()) {
            let tags: Vec<serde_json::Value> = match item.get("tags") {
                None => continue,
                Some(serde_json::Value::Null) => {
                    item.remove("tags");
                    continue;
                }
                Some(serde_json::Value::Array(tags)) if tags.iter().all(|t| t.is_string()) => {
                    continue;
                }
                Some(serde_json::Value::String(tag)) => tag
                    .split(',')
                    .map(|t| t.trim())
                    .filter(|t| !t.is_empty())
                    .map(Into::into)
                    .collect(),
                // A number stands for itself ("2024"); other values name no tag.
                Some(serde_json::Value::Array(tags)) => {
                    tags.iter().filter_map(tag_text).map(Into::into).collect()
                }
                Some(other) => tag_text(other).into_iter().map(Into::into).collect(),
            };
            item.insert("tags".into(), tags.into());
            fixed_tags += 1;
        }
        for item in items.iter_mut().filter_map(|i| i.as_object_mut()) {
            coerced += coerce_json_strings(item, JSON_ITEM_STRINGS) + coerce_json_authors(item);
        }
        let mut fixed_attachments = 0;
        for item in items.iter_mut().filter_map(|i| i.as_object_mut()) {
            coerced += coerce_json_attachments(item);
            for attachment in item
                .get_mut("attachments")
                .and_then(|a| a.as_array_mut())
                .into_iter()
                .flatten()
            {
                if let Some(a) = attachment.as_object_mut()
                    && !a.get("mime_type").is_some_and(|m| m.is_string())
                {
                    a.insert("mime_type".into(), "application/octet-stream".into());
                    fixed_attachments += 1;
                }
            }
        }
        if fixed_attachments > 0 {
            repairs.push(format!(
                "{fixed_attachments} JSON Feed attachments without a MIME type"
            ));
        }
        if fixed_tags > 0 {
            repairs.push(format!(
                "{fixed_tags} JSON Feed items with tags not given as a list of strings"
            ));
        }
    }
    if coerced > 0 {
        repairs.push(format!(
            "{} of the wrong type (an id given as a number, an author as a name) taken as \
             meant, or dropped",
            counted(coerced, "JSON Feed value", "JSON Feed values")
        ));
    }
    (!repairs.is_empty()).then(|| (value.to_string(), repairs))
}

/// JSON a template wrote rather than a JSON writer, or that breaks off: control
/// characters raw inside strings (a line break in `content_html`) are escaped, and a
/// document cut short inside its top-level `items` is cut after the last whole item and
/// closed. The text and what was done, or `None` when neither helps.
fn repair_json_text(text: &str) -> Option<(String, Vec<String>)> {
    let mut out = String::with_capacity(text.len() + 16);
    let mut open: Vec<char> = Vec::new();
    let (mut in_string, mut escaped) = (false, false);
    let mut controls = 0;
    // Where `items` opened (the depth inside it), and where its last whole item ends.
    let (mut items_at, mut item_end, mut items) = (None, None, 0);
    for c in text.chars() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                '\n' => {
                    out.push_str("\\n");
                    controls += 1;
                    continue;
                }
                '\r' => {
                    out.push_str("\\r");
                    controls += 1;
                    continue;
                }
                '\t' => {
                    out.push_str("\\t");
                    controls += 1;
                    continue;
                }
                c if u32::from(c) < 0x20 => {
                    out.push_str(&format!("\\u{:04x}", u32::from(c)));
                    controls += 1;
                    continue;
                }
                _ => {}
            }
            out.push(c);
            continue;
        }
        match c {
            '"' => in_string = true,
            '[' if open == ['{']
                && out
                    .trim_end()
                    .strip_suffix(':')
                    .is_some_and(|key| key.trim_end().ends_with("\"items\"")) =>
            {
                open.push(c);
                items_at = Some(open.len());
            }
            '{' | '[' => open.push(c),
            '}' | ']' => {
                open.pop();
                if c == '}' && items_at == Some(open.len()) {
                    item_end = Some(out.len() + 1);
                    items += 1;
                } else if c == ']' && items_at == Some(open.len() + 1) {
                    items_at = None;
                }
            }
            _ => {}
        }
        out.push(c);
    }
    let mut repairs = Vec::new();
    if controls > 0 {
        repairs.push(format!(
            "{} raw in JSON strings, escaped",
            counted(controls, "control character", "control characters")
        ));
    }
    if open.is_empty() && !in_string {
        return (controls > 0).then_some((out, repairs));
    }
    // Cut short: only inside `items`, after a whole item, is there something to read.
    items_at?;
    out.truncate(item_end?);
    out.push_str("]}");
    repairs.push(super::read_in_part(items, None));
    Some((out, repairs))
}

/// A JSON Feed tag's text: a string, or a number written as one.
fn tag_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(text) => Some(text.clone()),
        serde_json::Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// The text members of a JSON Feed's top level, and of its items.
const JSON_FEED_STRINGS: &[&str] = &[
    "home_page_url",
    "feed_url",
    "description",
    "user_comment",
    "next_url",
    "icon",
    "favicon",
    "language",
];
const JSON_AUTHOR_STRINGS: &[&str] = &["name", "url", "avatar"];
const JSON_ITEM_STRINGS: &[&str] = &[
    "id",
    "url",
    "external_url",
    "title",
    "content_html",
    "content_text",
    "summary",
    "image",
    "banner_image",
    "date_published",
    "date_modified",
    "language",
];

/// Text members given as a number become the text of it — the JSON Feed specification
/// says an `id` given so is to be read as a string — and ones given as a boolean, list or
/// object, which hold no text, are dropped. How many were changed.
fn coerce_json_strings(
    object: &mut serde_json::Map<String, serde_json::Value>,
    keys: &[&str],
) -> usize {
    use serde_json::Value;
    let mut changed = 0;
    for &key in keys {
        match object.get(key) {
            Some(Value::Number(n)) => {
                let text = n.to_string();
                object.insert(key.into(), text.into());
            }
            Some(Value::Bool(_) | Value::Array(_) | Value::Object(_)) => {
                object.remove(key);
            }
            _ => continue,
        }
        changed += 1;
    }
    changed
}

/// An item's `attachments`: what is not an object with a `url` is dropped, as are sizes
/// and durations that are not whole numbers. How many were changed.
fn coerce_json_attachments(item: &mut serde_json::Map<String, serde_json::Value>) -> usize {
    use serde_json::Value;
    let mut changed = 0;
    match item.get_mut("attachments") {
        Some(Value::Array(attachments)) => {
            let before = attachments.len();
            attachments.retain_mut(|a| {
                let Value::Object(a) = a else {
                    return false;
                };
                changed += coerce_json_strings(a, &["url", "mime_type", "title"]);
                for key in ["size_in_bytes", "duration_in_seconds"] {
                    if a.get(key).is_some_and(|n| !n.is_u64() && !n.is_null()) {
                        a.remove(key);
                        changed += 1;
                    }
                }
                a.get("url").is_some_and(Value::is_string)
            });
            changed += before - attachments.len();
        }
        Some(Value::Null) | None => {}
        Some(_) => {
            item.remove("attachments");
            changed += 1;
        }
    }
    changed
}

/// An `author` or `authors` given as names rather than objects: each name becomes
/// `{"name": …}`; what is neither is dropped, as are an author's members that are not
/// text. How many were changed.
fn coerce_json_authors(object: &mut serde_json::Map<String, serde_json::Value>) -> usize {
    use serde_json::{Value, json};
    let mut changed = 0;
    for key in ["author", "authors"] {
        match object.get_mut(key) {
            Some(Value::Object(author)) => {
                changed += coerce_json_strings(author, JSON_AUTHOR_STRINGS);
            }
            Some(Value::Array(authors)) => {
                for author in authors.iter_mut().filter_map(Value::as_object_mut) {
                    changed += coerce_json_strings(author, JSON_AUTHOR_STRINGS);
                }
            }
            _ => {}
        }
    }
    match object.get_mut("author") {
        Some(Value::String(name)) => {
            let author = json!({ "name": name });
            object.insert("author".into(), author);
            changed += 1;
        }
        Some(Value::Object(_) | Value::Null) | None => {}
        Some(_) => {
            object.remove("author");
            changed += 1;
        }
    }
    match object.get_mut("authors") {
        Some(Value::Array(authors)) => {
            let before = authors.len();
            let mut fixed = 0;
            authors.retain_mut(|a| match a {
                Value::String(name) => {
                    *a = json!({ "name": name });
                    fixed += 1;
                    true
                }
                Value::Object(_) => true,
                _ => false,
            });
            changed += fixed + before - authors.len();
        }
        Some(Value::String(name)) => {
            let authors = json!([{ "name": name }]);
            object.insert("authors".into(), authors);
            changed += 1;
        }
        Some(Value::Object(_)) => {
            let author = object.remove("authors").unwrap_or_default();
            object.insert("authors".into(), Value::Array(vec![author]));
            changed += 1;
        }
        Some(Value::Null) | None => {}
        Some(_) => {
            object.remove("authors");
            changed += 1;
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_feed_values_of_the_wrong_type() {
        let (text, repairs) = repair_json(
            r#"{"version":"https://jsonfeed.org/version/1.1","title":"T","feed_url":{"a":1},
            "authors":{"name":"Desk"},
            "items":[{"id":7,"title":true,"summary":12.5,"author":{"name":[],"url":"u"},
              "attachments":[{"url":"a","mime_type":"audio/mpeg","size_in_bytes":1.5},
                "not an object",{"mime_type":"x"},{"url":3,"mime_type":"x","duration_in_seconds":"long"}]}]}"#,
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v.get("feed_url"), None);
        assert_eq!(v["authors"], serde_json::json!([{"name": "Desk"}]));
        let item = &v["items"][0];
        assert_eq!(item["id"], "7");
        assert_eq!(item.get("title"), None);
        assert_eq!(item["summary"], "12.5");
        assert_eq!(item["author"], serde_json::json!({"url": "u"}));
        assert_eq!(
            item["attachments"],
            serde_json::json!([{"url": "a", "mime_type": "audio/mpeg"}, {"url": "3", "mime_type": "x"}])
        );
        assert_eq!(
            repairs,
            [
                "11 JSON Feed values of the wrong type (an id given as a number, an author as a \
              name) taken as meant, or dropped"
            ]
        );
    }

    #[test]
    fn json_written_by_a_template_or_cut_short() {
        // A line break, a tab and an escape raw inside strings; escaped quotes kept.
        let raw = "{\"version\":\"https://jsonfeed.org/version/1.1\",\"title\":\"T\",\"items\":\
            [{\"id\":\"1\",\"content_html\":\"<p>a\n\tb\u{1b}\\\"q\\\"</p>\"}]}";
        let (text, repairs) = repair_json(raw).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["items"][0]["content_html"], "<p>a\n\tb\u{1b}\"q\"</p>");
        assert_eq!(
            repairs,
            ["3 control characters raw in JSON strings, escaped"]
        );

        let whole = r#"{"version":"https://jsonfeed.org/version/1.1","title":"T","items":[{"id":"1","tags":["a"],"title":"One"},{"id":"2","title":"Two {x}"},{"id":"3","title":"Thr"#;
        let (text, repairs) = repair_json(whole).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["items"].as_array().unwrap().len(), 2);
        assert_eq!(v["items"][1]["title"], "Two {x}");
        assert_eq!(
            repairs,
            ["the document breaks off after 2 whole entries; those were read"]
        );
        // Broken off before an item ends, or outside `items`: nothing to read.
        for broken in [
            r#"{"version":"https://jsonfeed.org/version/1.1","items":[{"id":"1","title":"On"#,
            r#"{"version":"https://jsonfeed.org/version/1.1","title":"T"#,
            r#"{"version":"https://jsonfeed.org/version/1.1","authors":[{"name":"a"},{"name":"b"#,
        ] {
            assert_eq!(repair_json(broken), None, "{broken}");
        }
    }

    #[test]
    fn json_feed_version_and_string_tags() {
        let (text, repairs) = repair_json(
            r#"{"version":"http://jsonfeed.org/version/1","items":[{"id":"1","tags":"a, b"}]}"#,
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["version"], "https://jsonfeed.org/version/1");
        assert_eq!(v["items"][0]["tags"], serde_json::json!(["a", "b"]));
        assert_eq!(repairs.len(), 3);
    }
}
