//! Parsing and normalising feeds of every supported format; `reading.rs` holds the
//! repairs and odd forms of real feeds, `identity.rs` how entries are told apart.

mod identity;
mod reading;

use super::*;

fn parse(text: &str) -> Result<ParsedFeed, FeedError> {
    let base = Url::parse("https://example.org/feed/").unwrap();
    parse_feed(text.as_bytes(), Some(&base), None, 1 << 20)
}

/// Each story's title and link, in the feed's order.
fn titles_and_links(feed: &ParsedFeed) -> Vec<(&str, Option<&str>)> {
    feed.stories
        .iter()
        .map(|s| (s.title.as_str(), s.link.as_deref()))
        .collect()
}

/// Each story's identity and link, in the feed's order.
fn identities_and_links(feed: &ParsedFeed) -> Vec<(&str, Option<&str>)> {
    feed.stories
        .iter()
        .map(|s| (s.identity.as_str(), s.link.as_deref()))
        .collect()
}

#[test]
fn rss2_entries_become_stories() {
    let feed = parse(r#"<?xml version="1.0"?><rss version="2.0"><channel><title>World &amp; more</title><ttl>30</ttl>
        <item><title>Peskov &lt;b&gt;speaks&lt;/b&gt;</title><link>https://Example.org/a?utm_source=rss#x</link>
        <guid isPermaLink="false">id-1</guid><description>&lt;p&gt;The &lt;i&gt;Kremlin&lt;/i&gt; said&lt;/p&gt;</description>
        <author>desk@example.org (Jane Doe)</author><category>Europe</category>
        <pubDate>Thu, 26 Nov 2026 15:40:00 GMT</pubDate></item>
        <item><title>No guid</title><link>/b</link></item>
        <item><title>Neither</title><pubDate>Thu, 26 Nov 2026 15:40:00 GMT</pubDate></item>
        </channel></rss>"#)
    .unwrap();
    assert_eq!(feed.title.as_deref(), Some("World & more"));
    assert_eq!(feed.ttl, Some(30));
    assert!(feed.repairs.is_empty());
    let [a, b, c] = &feed.stories[..] else {
        panic!("three stories: {:?}", feed.stories)
    };
    assert_eq!(a.identity, "guid:id-1");
    assert_eq!(a.title, "Peskov speaks");
    assert_eq!(a.summary, "The Kremlin said");
    assert_eq!(a.link.as_deref(), Some("https://example.org/a"));
    assert_eq!(a.categories, ["Europe"]);
    assert_eq!(
        a.published.unwrap().to_rfc3339(),
        "2026-11-26T15:40:00+00:00"
    );
    assert_eq!(
        b.identity, "link:https://example.org/b",
        "relative links resolve against the feed"
    );
    assert!(c.identity.starts_with("hash:"));
}

#[test]
fn rss1_atom_and_json_feed() {
    let rdf = parse(r#"<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
        <channel rdf:about="https://example.org/"><title>R</title><link>https://example.org/</link><description>d</description></channel>
        <item rdf:about="https://example.org/1"><title>Embassy to reopen</title><link>https://example.org/1</link></item></rdf:RDF>"#)
    .unwrap();
    assert_eq!(rdf.stories[0].title, "Embassy to reopen");

    let atom = parse(r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>urn:a</id><updated>2026-11-26T00:00:00Z</updated>
        <entry><id>urn:e1</id><title type="html">Talks &amp;amp; more</title><updated>2026-11-26T10:00:00Z</updated>
        <link href="https://example.org/e1"/><content type="html">&lt;p&gt;Ukraine talks&lt;/p&gt;</content><author><name>Ann</name></author></entry></feed>"#)
    .unwrap();
    let e = &atom.stories[0];
    assert_eq!(
        (e.identity.as_str(), e.title.as_str(), e.content.as_str()),
        ("guid:urn:e1", "Talks & more", "Ukraine talks")
    );
    assert_eq!(e.authors, ["Ann"]);

    let json = parse(r#"{"version":"https://jsonfeed.org/version/1.1","title":"J","items":[{"id":"j1","title":"Песков","content_html":"<b>x</b>","tags":["a"]}]}"#)
        .unwrap();
    assert_eq!(json.stories[0].identity, "guid:j1");
    assert_eq!(json.stories[0].categories, ["a"]);
}

#[test]
fn hex_is_lower_case_two_digits_a_byte() {
    assert_eq!(super::hex(&[0x00, 0xab, 0x7f, 0x10]), "00ab7f10");
}
