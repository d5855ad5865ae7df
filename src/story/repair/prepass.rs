//! Passes over every XML feed before the strict parse, for what feed-rs would read as
//! nothing, silently: a root in a namespace it does not expect (RSS 2.0 in UserLand's,
//! Atom 0.3, RSS 0.90), items after an RSS channel's end, RSS text elements holding
//! markup not escaped, RSS 1.0 items without a link; and first, for documents of formats
//! it does not know, read as the RSS they stand for: RSS 1.1 (`rss11.rs`), CDF
//! (`cdf.rs`), an RSS channel without `<rss>`, a feed inside an XHTML page
//! (`in_page.rs`), RSS items under an `<rdf>` root without its namespaces.

use std::sync::LazyLock;

use memchr::memmem::Finder;
use regex::Regex;

use super::xml::{Tag, Tags, find};
use super::{cdf, in_page, rss11, truncate};
use crate::story::counted;

/// Runs the passes over an XML feed's text before the strict parse, in order; what each
/// did, for the repairs.
pub fn before_parse(text: &mut String) -> Vec<String> {
    let mut done: Vec<String> = mend_root_namespace(text).into_iter().collect();
    let mut root = root(text).map(str::to_owned);
    if let Some((document, repair, read_as)) = root
        .as_deref()
        .and_then(|root| in_a_format_known(text, root))
    {
        *text = document;
        done.push(repair.to_owned());
        root = Some(read_as.to_owned());
    }
    let rdf = matches!(root.as_deref(), Some("rdf:RDF" | "RDF"));
    let rss = rdf || root.as_deref() == Some("rss");
    if rss {
        done.extend(title_items_by_dublin_core(text));
    }
    done.extend(wrap_naked_markup(text, rss));
    if rdf {
        done.extend(link_rdf_items(text));
    }
    if root.as_deref() == Some("rss") {
        done.extend(take_items_into_the_channel(text));
    }
    done
}

/// A document of a format feed-rs does not know as the one it stands for, what was
/// done, and the root it now has: RSS 1.1 as RSS 1.0 (`rss11.rs`), Microsoft's Channel
/// Definition Format as RSS 2.0 (`cdf.rs`), an RSS channel without the `<rss>` around it
/// as RSS 2.0, a feed inside an XHTML page as the feed alone (`in_page.rs`), RSS items
/// under an `<rdf>` root without its namespaces as RSS 1.0. `root` is the document's root
/// element.
fn in_a_format_known(text: &str, root: &str) -> Option<(String, &'static str, &'static str)> {
    match root {
        "CHANNEL" => Some((cdf::rss_document(text)?, cdf::READ_AS_RSS, "rss")),
        "channel" => {
            let (tag, _) = root_tag(text)?;
            let mut document = String::with_capacity(text.len() + 32);
            document.push_str(&text[..tag.start]);
            document.push_str("<rss version=\"2.0\">");
            document.push_str(&text[tag.start..]);
            document.push_str("</rss>");
            Some((
                document,
                "an RSS <channel> without the <rss> around it, read as RSS 2.0",
                "rss",
            ))
        }
        root if root == "Channel" || root.ends_with(":Channel") => Some((
            rss11::rss_1_0_document(text)?,
            rss11::READ_AS_RSS_1_0,
            "rdf:RDF",
        )),
        "html" => {
            let (document, root) = in_page::feed_in_page(text)?;
            Some((document, in_page::READ_FROM_PAGE, root))
        }
        "rdf" => Some((
            rdf_as_rss_1_0(text)?,
            "an <rdf> root without RDF's namespace, read as RSS 1.0",
            "rdf:RDF",
        )),
        _ => None,
    }
}

/// An `<rdf>` root holding RSS items, written without the namespaces that make it RSS
/// 1.0 (`<rdf:RDF xmlns:rdf="…" xmlns="http://purl.org/rss/1.0/">`), as RSS 1.0: readers
/// such as feedparser read it so. `None` when the root declares a namespace of its own or
/// holds no `<item>`.
fn rdf_as_rss_1_0(text: &str) -> Option<String> {
    let (tag, _) = root_tag(text)?;
    let attributes = &text[tag.start + "<rdf".len()..tag.end];
    if attributes.contains("xmlns") || !ITEM_START.is_match(&text[tag.end..]) {
        return None;
    }
    let close = tag.end + memchr::memmem::rfind(&text.as_bytes()[tag.end..], b"</rdf>")?;
    let mut document = String::with_capacity(text.len() + 128);
    document.push_str(&text[..tag.start]);
    document.push_str(
        "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" \
         xmlns=\"http://purl.org/rss/1.0/\"",
    );
    document.push_str(attributes);
    document.push_str(&text[tag.end..close]);
    document.push_str("</rdf:RDF>");
    document.push_str(&text[close + "</rdf>".len()..]);
    Some(document)
}

/// Moves the `</channel>` of an RSS 2.0 document after the items that follow it, as
/// children of `<rss>`: a hand-written feed that closes its channel before its items
/// reads as empty in feed-rs (which reads only a channel's items), silently; readers
/// such as Vienna read them. Says so, if it did.
fn take_items_into_the_channel(text: &mut String) -> Option<String> {
    // The last `</channel>` that is markup, not text in a CDATA section (a code sample).
    let mut upto = text.len();
    let close = loop {
        let close = memchr::memmem::rfind(&text.as_bytes()[..upto], b"</channel>")?;
        let in_cdata = memchr::memmem::rfind(&text.as_bytes()[..close], b"<![CDATA[")
            .is_some_and(|open| find(&text[open..close], "]]>").is_none());
        if !in_cdata {
            break close;
        }
        upto = close;
    };
    let after = close + "</channel>".len();
    let end = memchr::memmem::rfind(&text.as_bytes()[after..], b"</rss>").map(|e| after + e)?;
    if !ITEM_START.is_match(&text[after..end]) {
        return None;
    }
    text.insert_str(end, "</channel>");
    text.replace_range(close..after, "");
    Some("items after the channel's end read as the channel's".to_owned())
}

/// The start tag of an RSS item.
static ITEM_START: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<item[ \t\r\n>]").expect("valid regex"));

/// Wraps in a CDATA section the content of the RSS elements that hold text or HTML —
/// `title`, `description` and `content:encoded` — when their markup is not escaped:
/// `<description><p>Text</p></description>`, or an unclosed `<br>` in it. feed-rs keeps
/// only the text before the first tag of such an element, silently, and an unclosed tag
/// breaks the whole document; so this runs before the strict parse. (An Atom `title`
/// may hold XHTML, which feed-rs reads: only an RSS document's titles, `rss` true, are
/// wrapped.) Says how many were wrapped, if any.
fn wrap_naked_markup(text: &mut String, rss: bool) -> Option<String> {
    // An element's name ends at XML's whitespace or `>`: a regex's `\s` would take a
    // no-break space too.
    static OPEN: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"<(description|content:encoded)[ \t\r\n>]").expect("valid regex")
    });
    static OPEN_RSS: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"<(title|description|content:encoded)[ \t\r\n>]").expect("valid regex")
    });
    // Searchers built once: `memmem::find` builds one at every call, and these run for
    // every element of every feed.
    static CDATA_OPEN: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("<![CDATA["));
    static CDATA_CLOSE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("]]>"));
    static ENDS: LazyLock<[Finder<'static>; 3]> =
        LazyLock::new(|| ["</title>", "</description>", "</content:encoded>"].map(Finder::new));
    let open: &Regex = if rss { &OPEN_RSS } else { &OPEN };
    let mut out: Option<String> = None;
    let (mut copied, mut wrapped) = (0, 0);
    // How far the text is known to hold no CDATA section reaching further: an element's
    // name inside one is text.
    let mut scanned = 0;
    let mut at = 0;
    'matches: while let Some(found) = open.find_at(text, at) {
        let start = found.start();
        let close = match &found.as_str()[1..found.len() - 1] {
            "title" => &ENDS[0],
            "description" => &ENDS[1],
            _ => &ENDS[2],
        };
        at = start + 1;
        while let Some(cdata) = CDATA_OPEN.find(&text.as_bytes()[scanned..start]) {
            let cdata = scanned + cdata;
            let Some(end) = CDATA_CLOSE
                .find(&text.as_bytes()[cdata..])
                .map(|e| cdata + e + 3)
            else {
                break 'matches;
            };
            scanned = end;
            if end > start {
                at = end;
                continue 'matches;
            }
        }
        scanned = scanned.max(start);
        let Some(gt) = text[start..].find('>').map(|g| start + g) else {
            break;
        };
        if text[..gt].ends_with('/') {
            continue;
        }
        let Some(end) = close.find(&text.as_bytes()[gt + 1..]).map(|e| gt + 1 + e) else {
            break;
        };
        let inner = &text[gt + 1..end];
        at = end + close.needle().len();
        if !holds_markup(inner) {
            continue;
        }
        let out = out.get_or_insert_with(|| String::with_capacity(text.len() + 256));
        out.push_str(&text[copied..=gt]);
        out.push_str("<![CDATA[");
        // The CDATA sections inside give their text as it is; one cannot nest.
        let mut rest = inner;
        while let Some(section) = find(rest, "<![CDATA[") {
            let body = &rest[section + 9..];
            let Some(end) = find(body, "]]>") else {
                break;
            };
            out.push_str(&rest[..section].replace("]]>", "]]]]><![CDATA[>"));
            out.push_str(&body[..end]);
            rest = &body[end + 3..];
        }
        out.push_str(&rest.replace("]]>", "]]]]><![CDATA[>"));
        out.push_str("]]>");
        copied = end;
        wrapped += 1;
    }
    let mut out = out?;
    out.push_str(&text[copied..]);
    *text = out;
    Some(format!(
        "{} holding HTML markup not escaped, read as HTML",
        counted(wrapped, "RSS text element", "RSS text elements")
    ))
}

/// The name of an XML text's root element.
fn root(text: &str) -> Option<&str> {
    root_tag(text).map(|(_, name)| name)
}

/// Where an XML text's root start tag lies, and the root element's name.
fn root_tag(text: &str) -> Option<(std::ops::Range<usize>, &str)> {
    Tags::new(text).find_map(|(start, end, tag)| match tag {
        Tag::Start(name) => Some((start..end, name)),
        _ => None,
    })
}

/// Mends the default namespace of a feed's root, in which feed-rs would otherwise find
/// nothing, silently — no title, no entry:
/// - one declared on `<rss>`, the UserLand form (`xmlns="http://backend.userland.com/rss2"`)
///   that Yandex.News asks of the Russian news sites it lists, or a stray one, is
///   removed: RSS 2.0 elements have no namespace;
/// - Atom 0.3's (`http://purl.org/atom/ns#`), or Atom's misspelt (a trailing slash,
///   `https`), becomes Atom 1.0's; Atom 0.3's dates (`issued`, `modified`) become
///   `published` and `updated`;
/// - RSS 0.90's on `<rdf:RDF>` (`http://my.netscape.com/rdf/simple/0.9/`, or
///   `channel.netscape.com`), still the form of German news sites' RDF feeds (heise
///   online's, tagesschau.de's), becomes RSS 1.0's: their elements are the same.
///
/// Says what it did, if anything.
fn mend_root_namespace(text: &mut String) -> Option<String> {
    static DEFAULT_NS: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"\s+xmlns\s*=\s*(?:"([^"]*)"|'([^']*)')"#).expect("valid regex")
    });
    static ATOM03_DATES: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"<(/?)(issued|modified)([\s>/])").expect("valid regex"));
    const ATOM: &str = "http://www.w3.org/2005/Atom";
    const RSS_1: &str = "http://purl.org/rss/1.0/";
    let (tag, name) = root_tag(text)?;
    let name = name.to_owned();
    let found = DEFAULT_NS.captures(&text[tag.clone()])?;
    let whole = found.get(0).expect("a match");
    let range = tag.start + whole.start()..tag.start + whole.end();
    let namespace = found
        .get(1)
        .or_else(|| found.get(2))
        .map_or("", |m| m.as_str())
        .to_owned();
    match name.as_str() {
        "rss" => {
            text.replace_range(range, "");
            Some(format!(
                "a default namespace on <rss> (xmlns=\"{}\") removed: RSS elements have none",
                truncate(&namespace, 60)
            ))
        }
        "feed" if namespace != ATOM && namespace.to_ascii_lowercase().contains("atom") => {
            text.replace_range(range, &format!(" xmlns=\"{ATOM}\""));
            if namespace == "http://purl.org/atom/ns#" {
                let renamed = ATOM03_DATES.replace_all(text, |c: &regex::Captures<'_>| {
                    let new = if &c[2] == "issued" {
                        "published"
                    } else {
                        "updated"
                    };
                    format!("<{}{new}{}", &c[1], &c[3])
                });
                if let std::borrow::Cow::Owned(renamed) = renamed {
                    *text = renamed;
                }
                Some("Atom 0.3 read as Atom 1.0".to_owned())
            } else {
                Some(format!(
                    "the Atom namespace written {} read as Atom's",
                    truncate(&namespace, 60)
                ))
            }
        }
        "rdf:RDF" | "RDF" if namespace.contains(".netscape.com/rdf/simple/0.9") => {
            text.replace_range(range, &format!(" xmlns=\"{RSS_1}\""));
            Some("RSS 0.90 read as RSS 1.0".to_owned())
        }
        _ => None,
    }
}

/// Gives each item of an RSS 1.0 (or 0.90) document — `before_parse` asks only of
/// those — that has no `<link>` one: its
/// `rdf:about`, or an address of no scheme a story keeps (so none). feed-rs drops such
/// items, silently; established readers read them. Says how many, if any.
fn link_rdf_items(text: &mut String) -> Option<String> {
    static ABOUT: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"\brdf:about\s*=\s*(?:"([^"]*)"|'([^']*)')"#).expect("valid regex")
    });
    let linked = insert_into_items(text, |tag, item| {
        if item.contains("<link") {
            return None;
        }
        let about = ABOUT
            .captures(tag)
            .and_then(|c| c.get(1).or_else(|| c.get(2)))
            .map_or("", |m| m.as_str());
        let link = if about.is_empty() {
            "urn:newshound:no-link"
        } else {
            about
        };
        Some(format!("<link>{link}</link>"))
    })?;
    Some(format!(
        "{} without a link, kept",
        counted(linked, "RSS 1.0 item", "RSS 1.0 items")
    ))
}

/// Inserts at the start of each `<item>` what `insert` gives for it, from its start tag
/// and its content; returns how many items took something, if any did.
fn insert_into_items(
    text: &mut String,
    insert: impl Fn(&str, &str) -> Option<String>,
) -> Option<usize> {
    let mut out: Option<String> = None;
    let (mut copied, mut count) = (0, 0);
    let mut at = 0;
    while let Some(found) = ITEM_START.find_at(text, at) {
        let Some(gt) = text[found.start()..].find('>').map(|g| found.start() + g) else {
            break;
        };
        at = gt + 1;
        if text[..gt].ends_with('/') {
            continue;
        }
        let Some(end) = find(&text[gt + 1..], "</item>").map(|e| gt + 1 + e) else {
            break;
        };
        at = end;
        let Some(inserted) = insert(&text[found.start()..=gt], &text[gt + 1..end]) else {
            continue;
        };
        let out = out.get_or_insert_with(|| String::with_capacity(text.len() + 256));
        out.push_str(&text[copied..=gt]);
        out.push_str(&inserted);
        copied = gt + 1;
        count += 1;
    }
    let mut out = out?;
    out.push_str(&text[copied..]);
    *text = out;
    Some(count)
}

/// Gives each RSS item that has no `<title>` but a Dublin Core `<dc:title>` that title:
/// feed-rs reads no `dc:title`, and the story would be untitled, while readers such as
/// feedparser and gofeed take it. Says how many, if any. (A document without
/// `<dc:title` is not looked through.)
fn title_items_by_dublin_core(text: &mut String) -> Option<String> {
    memchr::memmem::find(text.as_bytes(), b"<dc:title")?;
    let titled = insert_into_items(text, |_, item| {
        if TITLE_START.is_match(item) {
            return None;
        }
        dublin_core_title(item).map(|title| format!("<title>{title}</title>"))
    })?;
    Some(format!(
        "{} titled by its Dublin Core title",
        counted(titled, "RSS item", "RSS items")
    ))
}

/// An item's own `<title>` start tag.
static TITLE_START: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<title[ \t\r\n>/]").expect("valid regex"));

/// What an item's `<dc:title>` holds, as written (text, entities or a CDATA section);
/// `None` for none, or an empty one.
fn dublin_core_title(item: &str) -> Option<&str> {
    let open = find(item, "<dc:title")?;
    let tag_end = open + item[open..].find('>')?;
    if item[..tag_end].ends_with('/') {
        return None;
    }
    let inner = &item[tag_end + 1..];
    let title = &inner[..find(inner, "</dc:title>")?];
    (!title.trim().is_empty()).then_some(title)
}

/// Whether text holds a tag outside its CDATA sections and comments.
fn holds_markup(text: &str) -> bool {
    let mut rest = text;
    while let Some(lt) = memchr::memchr(b'<', rest.as_bytes()) {
        rest = &rest[lt..];
        let skip = if rest.starts_with("<![CDATA[") {
            find(rest, "]]>")
        } else if rest.starts_with("<!--") {
            find(rest, "-->")
        } else if rest[1..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '/') {
            return true;
        } else {
            Some(0)
        };
        let Some(skip) = skip else {
            return false;
        };
        rest = &rest[skip + 1..];
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_without_a_title_take_their_dublin_core_title() {
        let mut text = "<rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel>\
            <item><dc:title>Peskov &amp; the <![CDATA[press]]></dc:title><link>https://a.example/1</link></item>\
            <item><title>Own</title><dc:title>Other</dc:title></item>\
            <item><dc:title/><link>https://a.example/3</link></item>\
            <item><dc:title>  </dc:title></item>\
            </channel></rss>"
            .to_owned();
        assert_eq!(
            title_items_by_dublin_core(&mut text).as_deref(),
            Some("1 RSS item titled by its Dublin Core title")
        );
        assert!(
            text.contains(
                "<item><title>Peskov &amp; the <![CDATA[press]]></title><dc:title>Peskov"
            )
        );
        assert!(text.contains("<item><title>Own</title><dc:title>Other</dc:title></item>"));
        let mut plain = "<rss><channel><item><title>T</title></item></channel></rss>".to_owned();
        assert_eq!(title_items_by_dublin_core(&mut plain), None);
    }

    #[test]
    fn items_under_a_bare_rdf_root_are_given_rss_1_0s_namespaces() {
        let text =
            "<?xml version=\"1.0\"?>\n<rdf about=\"x\">\n<item><title>T</title></item>\n</rdf>\n";
        assert_eq!(
            rdf_as_rss_1_0(text).unwrap(),
            "<?xml version=\"1.0\"?>\n<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" \
             xmlns=\"http://purl.org/rss/1.0/\" about=\"x\">\n<item><title>T</title></item>\n</rdf:RDF>\n"
        );
        // A root declaring a namespace of its own, or holding no item, is left alone.
        assert_eq!(
            rdf_as_rss_1_0("<rdf xmlns=\"urn:x\"><item>x</item></rdf>"),
            None
        );
        assert_eq!(rdf_as_rss_1_0("<rdf><channel/></rdf>"), None);
    }

    /// A no-break space after an element's name (bytes C2 A0) is a regex's `\s` but no
    /// XML whitespace: taken for the end of the name, it cut the name inside the
    /// character, and the slice panicked (found by fuzzing).
    #[test]
    fn a_no_break_space_after_an_element_name_is_no_name_end() {
        let mut text = "<rss><channel><item><title\u{a0}>A <b>T</b></title>\
            <description><p>x</p></description></item></channel></rss>"
            .to_owned();
        assert_eq!(
            wrap_naked_markup(&mut text, true).as_deref(),
            Some("1 RSS text element holding HTML markup not escaped, read as HTML")
        );
        assert!(text.contains("<title\u{a0}>A <b>T</b></title>"), "{text}");
        assert!(text.contains("<description><![CDATA[<p>x</p>]]></description>"));
    }

    #[test]
    fn html_markup_not_escaped_is_wrapped() {
        let mut text = "<rss><channel><title>A <i>T</i></title><description>Site</description>\
            <item><description>A <b>bold</b> word<br> &amp; more ]]> x <![CDATA[<i>y</i>]]></description>\
            <content:encoded><p>Full</p></content:encoded><description/></item>\
            <item><description><![CDATA[<p>kept</p>]]></description>\
            <content:encoded><![CDATA[ <description><p>in CDATA</p></description> ]]></content:encoded>\
            <description>&lt;p&gt;escaped&lt;/p&gt;</description></item></channel></rss>"
            .to_owned();
        let repair = wrap_naked_markup(&mut text, true).unwrap();
        assert_eq!(
            repair,
            "3 RSS text elements holding HTML markup not escaped, read as HTML"
        );
        assert_eq!(
            text,
            "<rss><channel><title><![CDATA[A <i>T</i>]]></title><description>Site</description>\
            <item><description><![CDATA[A <b>bold</b> word<br> &amp; more ]]]]><![CDATA[> x <i>y</i>]]></description>\
            <content:encoded><![CDATA[<p>Full</p>]]></content:encoded><description/></item>\
            <item><description><![CDATA[<p>kept</p>]]></description>\
            <content:encoded><![CDATA[ <description><p>in CDATA</p></description> ]]></content:encoded>\
            <description>&lt;p&gt;escaped&lt;/p&gt;</description></item></channel></rss>"
        );
        // An Atom title holds XHTML, which feed-rs reads.
        let atom = r#"<feed><title type="xhtml"><div>A <b>T</b></div></title></feed>"#;
        assert_eq!(before_parse(&mut atom.to_owned()), Vec::<String>::new());
        // Nothing to wrap: the text is left as it was.
        let mut clean = "<item><description>a &lt;b&gt;</description></item>".to_owned();
        assert_eq!(wrap_naked_markup(&mut clean, true), None);
        assert_eq!(clean, "<item><description>a &lt;b&gt;</description></item>");
    }
}
