//! Repairs of XML documents: text a feed forgot to escape, versions and types feed-rs
//! does not know, elements it cannot read, and documents that break off.

use std::sync::LazyLock;

use regex::Regex;

use crate::story::counted;

use super::truncate;

/// Where `needle` first occurs in `haystack` (SIMD-accelerated, unlike `str::find` with a
/// string pattern: these searches run over every XML feed).
pub(super) fn find(haystack: &str, needle: &str) -> Option<usize> {
    memchr::memmem::find(haystack.as_bytes(), needle.as_bytes())
}

/// The entities XML itself defines; every other named entity is HTML's.
const XML_ENTITIES: [&str; 5] = ["amp", "lt", "gt", "quot", "apos"];

/// Repairs an XML feed's text. Returns the repaired text and what was done, or `None`
/// when nothing needed repair.
pub fn repair_xml(text: &str) -> Option<(String, Vec<String>)> {
    let mut repairs = Vec::new();
    let mut text = text.to_owned();

    let escaped = escape_text(&text);
    if escaped.bare_amps > 0 {
        repairs.push(format!("{} bare `&` escaped", escaped.bare_amps));
    }
    if escaped.bare_lts > 0 {
        repairs.push(format!("{} bare `<` escaped", escaped.bare_lts));
    }
    if escaped.upper_x {
        repairs.push("hexadecimal character references with an upper-case X".to_owned());
    }
    if escaped.surrogates > 0 {
        repairs.push(format!(
            "{} written as two UTF-16 halves (`&#xD83D;&#xDE00;`) joined",
            counted(escaped.surrogates, "character", "characters")
        ));
    }
    if escaped.no_character > 0 {
        repairs.push(format!(
            "{} to no character XML allows (such as `&#0;`) replaced with U+FFFD",
            counted(escaped.no_character, "reference", "references")
        ));
    }
    if !escaped.html.is_empty() {
        repairs.push(format!(
            "HTML entities XML does not define ({}) converted",
            escaped.html.join(", ")
        ));
    }
    text = escaped.text;

    // feed-rs reads only RSS 0.91, 0.92 and 2.0 by version; other versions and none at
    // all (RSS 0.93, 0.94, "2.00", or just `<rss>`) are read as RSS 2.0.
    static RSS_ROOT: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#"<rss\b[^>]*>"#).expect("valid regex"));
    static VERSION: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#"\bversion\s*=\s*("[^"]*"|'[^']*')"#).expect("valid regex"));
    if let Some(root) = RSS_ROOT.find(&text) {
        let tag = root.as_str();
        let fixed = match VERSION.captures(tag) {
            None => Some(tag.replacen("<rss", "<rss version=\"2.0\"", 1)),
            Some(v) if !matches!(&v[1][1..v[1].len() - 1], "2.0" | "0.91" | "0.92" | "") => {
                Some(tag.replacen(&v[0], "version=\"2.0\"", 1))
            }
            Some(_) => None,
        };
        if let Some(fixed) = fixed {
            text.replace_range(root.range(), &fixed);
            repairs.push("RSS version missing or unsupported, read as RSS 2.0".to_owned());
        }
    }
    // RSS whose items stand right under `<rss>`, with no `<channel>` (or no start tag of
    // one) around them. (An `<rss>` holding nothing stays what it is: no feed.)
    if let Some(root) = RSS_ROOT.find(&text)
        && root.as_str()[4..].starts_with([' ', '\t', '\r', '\n', '>'])
        && !text.contains("<channel")
        && text.contains("<item")
    {
        let at = root.end();
        text.insert_str(at, "<channel>");
        if !text.contains("</channel>")
            && let Some(end) = text.rfind("</rss>")
        {
            text.insert_str(end, "</channel>");
        }
        repairs.push("RSS without a <channel>, what stands under <rss> read as one".to_owned());
    }

    // Empty text elements that feed-rs refuses ("missing text"): they carry nothing.
    static EMPTY: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"<(media:(?:title|description|text|keywords|credit|copyright)|content|summary)\b([^>]*?)(?:/>|>\s*</(?:media:(?:title|description|text|keywords|credit|copyright)|content|summary)>)"#)
            .expect("valid regex")
    });
    let mut emptied = 0;
    let replaced = EMPTY.replace_all(&text, |c: &regex::Captures<'_>| {
        if c[2].contains("src=") {
            return c[0].to_owned();
        }
        emptied += 1;
        String::new()
    });
    if emptied > 0 {
        text = replaced.into_owned();
        repairs.push(format!("{emptied} empty text elements removed"));
    }

    static ATOM_TEXT_TYPE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"(<(?:[A-Za-z0-9_]+:)?(?:title|summary|subtitle|rights|tagline)\b[^>]*?\btype\s*=\s*)("[^"]*"|'[^']*')"#)
            .expect("valid regex")
    });
    if text.contains("<feed") {
        let mut retyped = 0;
        let replaced = ATOM_TEXT_TYPE.replace_all(&text, |c: &regex::Captures<'_>| {
            let value = c[2][1..c[2].len() - 1].trim().to_ascii_lowercase();
            let fixed = match value.as_str() {
                "text" | "html" | "xhtml" | "text/html" => return c[0].to_owned(),
                v if v.contains("xhtml") => "xhtml",
                v if v.contains("html") => "html",
                _ => "text",
            };
            retyped += 1;
            format!("{}\"{fixed}\"", &c[1])
        });
        if retyped > 0 {
            text = replaced.into_owned();
            repairs.push(format!(
                "{retyped} Atom text elements with a MIME type such as text/plain retyped"
            ));
        }
    }
    // Media RSS text types are "plain" or "html"; feeds also write "text" and MIME types.
    static MEDIA_TEXT_TYPE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"(<media:(?:title|description|text|copyright)\b[^>]*?\btype\s*=\s*)("[^"]*"|'[^']*')"#).expect("valid regex")
    });
    let mut retyped = 0;
    let replaced = MEDIA_TEXT_TYPE.replace_all(&text, |c: &regex::Captures<'_>| {
        let value = c[2][1..c[2].len() - 1].trim().to_ascii_lowercase();
        let fixed = match value.as_str() {
            "plain" | "html" => return c[0].to_owned(),
            v if v.contains("html") => "html",
            _ => "plain",
        };
        retyped += 1;
        format!("{}\"{fixed}\"", &c[1])
    });
    if retyped > 0 {
        text = replaced.into_owned();
        repairs.push(format!(
            "{retyped} Media RSS text types other than plain or html"
        ));
    }

    // Out-of-line Atom content must have a MIME type, but "text" and "html" are common.
    static SRC_CONTENT: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"(<content\b[^>]*\btype\s*=\s*)("(?:text|html|xhtml)"|'(?:text|html|xhtml)')([^>]*>)"#).expect("valid regex")
    });
    let mut retyped = 0;
    let replaced = SRC_CONTENT.replace_all(&text, |c: &regex::Captures<'_>| {
        if !c[0].contains("src=") {
            return c[0].to_owned();
        }
        retyped += 1;
        let mime = match &c[2][1..c[2].len() - 1] {
            "text" => "text/plain",
            "html" => "text/html",
            _ => "application/xhtml+xml",
        };
        format!("{}\"{mime}\"{}", &c[1], &c[3])
    });
    if retyped > 0 {
        text = replaced.into_owned();
        repairs.push(format!(
            "{retyped} out-of-line Atom content types given as text/html/xhtml"
        ));
    }
    (!repairs.is_empty()).then_some((text, repairs))
}

/// Removes the element whose start tag ends at byte `position` — where feed-rs says an
/// element it cannot read starts — with everything inside it. Returns the text without
/// it and its start tag, or `None` when no element's start tag ends there.
pub fn remove_element(text: &str, position: usize) -> Option<(String, String)> {
    let head = text.get(..position)?;
    let open = head.rfind('<')?;
    let tag = &head[open..];
    if !tag.ends_with('>') || tag[1..].starts_with(['/', '!', '?']) {
        return None;
    }
    let name_len = tag[1..].find(|c: char| c.is_whitespace() || c == '/' || c == '>')?;
    let name = &tag[1..1 + name_len];
    if name.is_empty() {
        return None;
    }
    let end = if tag.ends_with("/>") {
        position
    } else {
        position + element_end(&text[position..], name)?
    };
    let mut out = String::with_capacity(text.len() - (end - open));
    out.push_str(&text[..open]);
    out.push_str(&text[end..]);
    Some((
        out,
        truncate(&tag.split_whitespace().collect::<Vec<_>>().join(" "), 60),
    ))
}

/// Where the content `rest` of an element named `name` ends, just past its end tag:
/// elements of the same name inside it are counted.
fn element_end(rest: &str, name: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (_, end, tag) in Tags::new(rest) {
        match tag {
            Tag::End(n) if n == name && depth == 0 => return Some(end),
            Tag::End(n) if n == name => depth -= 1,
            Tag::Start(n) if n == name => depth += 1,
            _ => {}
        }
    }
    None
}

/// A piece of markup [`Tags`] finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tag<'a> {
    /// A start tag, with the element's name.
    Start(&'a str),
    /// An end tag, with the element's name.
    End(&'a str),
    /// An empty-element tag, a comment, a CDATA section, a declaration or an
    /// instruction: nothing that opens or closes an element.
    Other,
}

/// The markup of an XML text in order, each piece with where it starts and ends; it
/// stops where a piece is not closed.
pub(super) struct Tags<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Tags<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Tags { text, at: 0 }
    }
}

impl<'a> Iterator for Tags<'a> {
    type Item = (usize, usize, Tag<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let start = self.at + self.text[self.at..].find('<')?;
        let tail = &self.text[start..];
        let (len, tag) = if tail.starts_with("<![CDATA[") {
            (find(tail, "]]>")? + 3, Tag::Other)
        } else if tail.starts_with("<!--") {
            (find(tail, "-->")? + 3, Tag::Other)
        } else {
            let len = tail.find('>')? + 1;
            let inner = &tail[1..len - 1];
            let name = |s: &'a str| {
                let end = s
                    .find(|c: char| c.is_whitespace() || c == '/')
                    .unwrap_or(s.len());
                &s[..end]
            };
            let tag = if let Some(closing) = inner.strip_prefix('/') {
                Tag::End(name(closing))
            } else if inner.starts_with(['!', '?']) || inner.ends_with('/') {
                Tag::Other
            } else {
                Tag::Start(name(inner))
            };
            (len, tag)
        };
        self.at = start + len;
        Some((start, self.at, tag))
    }
}

/// Where each entry (`</item>`, `</entry>`, with or without a prefix) of an XML text
/// ends, in order.
pub fn entry_ends(text: &str) -> Vec<usize> {
    Tags::new(text)
        .filter_map(|(_, end, tag)| match tag {
            Tag::End(name) if matches!(name.rsplit(':').next(), Some("item" | "entry")) => {
                Some(end)
            }
            _ => None,
        })
        .collect()
}

/// The XML text up to byte `end`, with the elements still open there closed.
pub fn cut_and_close(text: &str, end: usize) -> String {
    let head = &text[..end];
    let mut open = Vec::new();
    for (_, _, tag) in Tags::new(head) {
        match tag {
            Tag::Start(name) => open.push(name),
            Tag::End(name) => {
                if let Some(at) = open.iter().rposition(|&n| n == name) {
                    open.truncate(at);
                }
            }
            Tag::Other => {}
        }
    }
    let mut out = String::with_capacity(end + open.iter().map(|n| n.len() + 3).sum::<usize>());
    out.push_str(head);
    for name in open.iter().rev() {
        out.push_str("</");
        out.push_str(name);
        out.push('>');
    }
    out
}

/// The repair report for elements [`remove_element`] removed: how many, and which (the
/// first three distinct start tags).
pub fn removed_elements(tags: &[String]) -> String {
    let mut distinct: Vec<&str> = Vec::new();
    for tag in tags {
        if !distinct.contains(&tag.as_str()) {
            distinct.push(tag);
        }
    }
    let more = if distinct.len() > 3 { ", …" } else { "" };
    distinct.truncate(3);
    format!(
        "{} the parser cannot read, removed ({}{more})",
        counted(tags.len(), "element", "elements"),
        distinct.join(", ")
    )
}

/// What [`escape_text`] did.
struct Escaped {
    text: String,
    /// `&` that started no entity, escaped.
    bare_amps: usize,
    /// `<` that started no markup (`a < b`, `3<5`), escaped.
    bare_lts: usize,
    /// Hexadecimal references written `&#X…;`.
    upper_x: bool,
    /// Pairs of references to the two UTF-16 halves of one character, joined.
    surrogates: usize,
    /// References to no character XML allows (`&#0;`, a lone UTF-16 half, past
    /// U+10FFFF), replaced with U+FFFD.
    no_character: usize,
    /// The HTML entity names turned into numeric references (the first eight).
    html: Vec<String>,
}

/// Escapes `&` that starts no entity and `<` that starts no markup, and turns HTML
/// named entities into numeric references, outside CDATA sections and comments (where
/// both are literal). A `<` starts markup only before a name, `/`, `!` or `?`: one
/// before a space, a digit or `=` is text a feed forgot to escape.
fn escape_text(text: &str) -> Escaped {
    let mut out = String::with_capacity(text.len() + 64);
    let (mut bare_amps, mut bare_lts, mut upper_x) = (0, 0, false);
    let (mut surrogates, mut no_character) = (0, 0);
    let mut html: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(['&', '<']) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if rest.starts_with('<') {
            // Copy CDATA sections and comments untouched.
            let end = if rest.starts_with("<![CDATA[") {
                find(rest, "]]>").map(|e| e + 3)
            } else if rest.starts_with("<!--") {
                find(rest, "-->").map(|e| e + 3)
            } else if rest[1..].starts_with(|c: char| {
                c.is_alphabetic() || matches!(c, '_' | ':' | '/' | '!' | '?')
            }) {
                Some(1)
            } else {
                out.push_str("&lt;");
                bare_lts += 1;
                rest = &rest[1..];
                continue;
            };
            let end = end.unwrap_or(rest.len());
            out.push_str(&rest[..end]);
            rest = &rest[end..];
            continue;
        }
        // At an `&`: a well-formed reference stays, an HTML one becomes numeric.
        if let Some((value, len)) = character_reference(rest) {
            match value.filter(|&v| v != 0).map(|v| (v, char::from_u32(v))) {
                Some((_, Some(_))) if rest.as_bytes()[2] == b'X' => {
                    // XML allows only a lower-case `x` in hexadecimal references.
                    upper_x = true;
                    out.push_str("&#x");
                    out.push_str(&rest[3..len]);
                }
                Some((_, Some(_))) => out.push_str(&rest[..len]),
                // A character beyond the BMP written as its two UTF-16 halves.
                Some((high @ 0xD800..=0xDBFF, None))
                    if let Some((Some(low @ 0xDC00..=0xDFFF), second)) =
                        character_reference(&rest[len..]) =>
                {
                    let c = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                    out.push_str(&format!("&#x{c:X};"));
                    surrogates += 1;
                    rest = &rest[len + second..];
                    continue;
                }
                _ => {
                    out.push_str("&#xFFFD;");
                    no_character += 1;
                }
            }
            rest = &rest[len..];
            continue;
        }
        let name_len = rest[1..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '#'))
            .unwrap_or(rest.len() - 1);
        let name = &rest[1..1 + name_len];
        let terminated = rest[1 + name_len..].starts_with(';');
        if terminated && !name.is_empty() {
            if XML_ENTITIES.contains(&name) {
                out.push_str(&rest[..name_len + 2]);
                rest = &rest[name_len + 2..];
                continue;
            }
            let entity = &rest[..name_len + 2];
            let decoded = html_escape::decode_html_entities(entity);
            if decoded != entity {
                for c in decoded.chars() {
                    out.push_str(&format!("&#{};", c as u32));
                }
                if !html.iter().any(|h| h == name) && html.len() < 8 {
                    html.push(name.to_owned());
                }
                rest = &rest[name_len + 2..];
                continue;
            }
        }
        out.push_str("&amp;");
        bare_amps += 1;
        rest = &rest[1..];
    }
    out.push_str(rest);
    Escaped {
        text: out,
        bare_amps,
        bare_lts,
        upper_x,
        surrogates,
        no_character,
        html,
    }
}

/// The numeric character reference (`&#…;`, `&#x…;`, `&#X…;`) at the start of `text`:
/// its value (`None` when too large for any character) and its length.
fn character_reference(text: &str) -> Option<(Option<u32>, usize)> {
    let body = text.strip_prefix("&#")?;
    let (digits, radix, prefix) = match body.strip_prefix(['x', 'X']) {
        Some(hex) => (hex, 16, 3),
        None => (body, 10, 2),
    };
    let len = digits
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(digits.len());
    if len == 0 || !digits[len..].starts_with(';') {
        return None;
    }
    Some((
        u32::from_str_radix(&digits[..len], radix).ok(),
        prefix + len + 1,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_ampersands_and_html_entities() {
        let (text, repairs) = repair_xml(
            "<a>AT&T &amp; Co&nbsp;&mdash; &#8212; &#x41; <![CDATA[a & b &nbsp;]]> &unknown;</a>",
        )
        .unwrap();
        assert_eq!(
            text,
            "<a>AT&amp;T &amp; Co&#160;&#8212; &#8212; &#x41; <![CDATA[a & b &nbsp;]]> &amp;unknown;</a>"
        );
        assert_eq!(
            repairs,
            [
                "2 bare `&` escaped",
                "HTML entities XML does not define (nbsp, mdash) converted"
            ]
        );
    }

    #[test]
    fn bare_less_than_signs() {
        let (text, repairs) = repair_xml(
            "<a><t>Stocks < 5%, 3<5, a <= b, x<<5, <- <</t><![CDATA[1 < 2]]><!-- < --><b/></a>",
        )
        .unwrap();
        assert_eq!(
            text,
            "<a><t>Stocks &lt; 5%, 3&lt;5, a &lt;= b, x&lt;&lt;5, &lt;- &lt;</t><![CDATA[1 < 2]]><!-- < --><b/></a>"
        );
        assert_eq!(repairs, ["7 bare `<` escaped"]);
        assert_eq!(
            repair_xml("<a><?pi x?><!DOCTYPE a><_b/><c:d/><é/></a>"),
            None
        );
    }

    #[test]
    fn references_to_no_character() {
        let (text, repairs) = repair_xml(
            "<a>&#xD83D;&#xDE00; &#55357;&#56832; &#0; &#xD800;x &#xDC00; &#1114112; &#99999999999; &#X41; &#x1F600;</a>",
        )
        .unwrap();
        assert_eq!(
            text,
            "<a>&#x1F600; &#x1F600; &#xFFFD; &#xFFFD;x &#xFFFD; &#xFFFD; &#xFFFD; &#x41; &#x1F600;</a>"
        );
        assert_eq!(
            repairs,
            [
                "hexadecimal character references with an upper-case X",
                "2 characters written as two UTF-16 halves (`&#xD83D;&#xDE00;`) joined",
                "5 references to no character XML allows (such as `&#0;`) replaced with U+FFFD"
            ]
        );
    }

    #[test]
    fn atom_text_types() {
        let (text, _) = repair_xml(r#"<feed><title type="text/plain">T</title><summary type='TEXT/HTML'>x</summary></feed>"#).unwrap();
        assert_eq!(
            text,
            r#"<feed><title type="text">T</title><summary type='TEXT/HTML'>x</summary></feed>"#
        );
    }

    #[test]
    fn an_element_is_removed_with_what_it_holds() {
        let text = "<e><c type=\"x\"><c>in</c><![CDATA[</c>]]><!-- </c> --></c><d/></e>";
        let at = text.find("<c").unwrap() + "<c type=\"x\">".len();
        let (out, tag) = remove_element(text, at).unwrap();
        assert_eq!(out, "<e><d/></e>");
        assert_eq!(tag, "<c type=\"x\">");
        // An empty element, and positions where no start tag ends.
        let empty = "<e><c src='y'/><d/></e>";
        let at = empty.find("<d").unwrap();
        assert_eq!(remove_element(empty, at).unwrap().0, "<e><d/></e>");
        assert_eq!(remove_element(text, 1), None);
        assert_eq!(remove_element(text, text.len()), None, "after an end tag");
        assert_eq!(remove_element(text, text.len() + 1), None);
        assert_eq!(remove_element("<e><c>unclosed", 6), None);
    }

    #[test]
    fn rss_without_a_channel() {
        let (text, repairs) =
            repair_xml("<rss version=\"2.0\">\n<item><title>a</title></item></rss>").unwrap();
        assert_eq!(
            text,
            "<rss version=\"2.0\"><channel>\n<item><title>a</title></item></channel></rss>"
        );
        assert_eq!(repairs.len(), 1);
        // Only its start tag missing; and a document that has one is left alone.
        let (text, _) =
            repair_xml("<rss version=\"2.0\"><title>t</title><item/></channel></rss>").unwrap();
        assert_eq!(
            text,
            "<rss version=\"2.0\"><channel><title>t</title><item/></channel></rss>"
        );
        for whole_or_empty in [
            "<rss version=\"2.0\"><channel><item/></channel></rss>",
            "<rss version=\"2.0\"></rss>",
        ] {
            assert_eq!(repair_xml(whole_or_empty), None);
        }
    }
}
