//! Feeds that break the rules or come in odd forms, read as established readers read
//! them, and documents that are no feed at all.

use super::*;

#[test]
fn lenient_repairs_are_reported() {
    let feed = parse("\n  <?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title><item><title>AT&T &mdash; news</title><guid>1</guid></item></channel></rss>")
        .unwrap();
    assert_eq!(feed.stories[0].title, "AT&T — news");
    assert_eq!(feed.repairs.len(), 3, "{:?}", feed.repairs);

    // A bare `<` in a headline made the whole feed unreadable.
    let feed = parse("<rss version=\"2.0\"><channel><title>T</title><item><title>Rates < 5% as talks resume</title><guid>1</guid></item><item><title>Next</title><guid>2</guid></item></channel></rss>")
        .unwrap();
    assert_eq!(feed.stories[0].title, "Rates < 5% as talks resume");
    assert_eq!(feed.stories.len(), 2);
    assert_eq!(feed.repairs, ["1 bare `<` escaped"]);

    let atom = parse(r#"<feed xmlns="http://www.w3.org/2005/Atom"><title type="text/plain">A</title><id>x</id><entry><id>1</id><title type="text/plain">Plain</title></entry></feed>"#)
        .unwrap();
    assert_eq!(atom.stories[0].title, "Plain");
    assert!(!atom.repairs.is_empty());

    let json = parse(r#"{"version":"http://jsonfeed.org/version/1","items":[{"id":"1","title":"x","tags":"a,b"}]}"#).unwrap();
    assert_eq!(json.stories[0].categories, ["a", "b"]);
    assert_eq!(json.repairs.len(), 3);

    // A numeric id (which the specification says to read as a string) and an author
    // given by name made the whole feed unreadable.
    let json = parse(r#"{"version":"https://jsonfeed.org/version/1.1","title":"J","items":[{"id":123,"title":"Peskov","authors":["Ann",{"name":"Bo"}]},{"id":"2","title":"After","author":"Cy","content_html":["x"]}]}"#).unwrap();
    let stories: Vec<(&str, &str, &[String])> = json
        .stories
        .iter()
        .map(|s| (s.identity.as_str(), s.title.as_str(), s.authors.as_slice()))
        .collect();
    assert_eq!(
        stories,
        [
            (
                "guid:123",
                "Peskov",
                &["Ann".to_owned(), "Bo".to_owned()][..]
            ),
            ("guid:2", "After", &["Cy".to_owned()][..])
        ]
    );
    assert_eq!(
        json.repairs,
        [
            "4 JSON Feed values of the wrong type (an id given as a number, an author as a name) \
          taken as meant, or dropped"
        ]
    );
}

/// One item's tags of another type, or an entry of `items` that is no object, made the
/// parser turn the whole JSON Feed away.
#[test]
fn a_json_feed_items_odd_tags_or_an_entry_that_is_no_item_cost_nothing_else() {
    let json = parse(
        r#"{"version":"https://jsonfeed.org/version/1.1","title":"J","items":[
            {"id":"1","title":"Number","tags":2024},
            {"id":"2","title":"Map","tags":{"a":"b"}},
            {"id":"3","title":"Mixed","tags":[1,"x",true,null]},
            "a stray string", 5, null,
            {"id":"4","title":"Flag","tags":false},
            {"id":"5","title":"Fine","tags":["ok"]}]}"#,
    )
    .unwrap();
    let stories: Vec<(&str, Vec<&str>)> = json
        .stories
        .iter()
        .map(|s| {
            let tags = s.categories.iter().map(String::as_str).collect();
            (s.title.as_str(), tags)
        })
        .collect();
    assert_eq!(
        stories,
        [
            ("Number", vec!["2024"]),
            ("Map", vec![]),
            ("Mixed", vec!["1", "x"]),
            ("Flag", vec![]),
            ("Fine", vec!["ok"]),
        ]
    );
    assert_eq!(
        json.repairs,
        [
            "3 JSON Feed items that are not objects, dropped",
            "4 JSON Feed items with tags not given as a list of strings"
        ]
    );
}

#[test]
fn an_element_the_parser_cannot_read_costs_only_itself() {
    // A content of a MIME type holding markup, another out of line but not empty: feed-rs
    // rejects the whole document for either. Only those elements go; every entry stays.
    let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>a</id>
        <entry><id>1</id><title>Peskov speaks</title><summary>First</summary>
          <content type="application/x-pdf"><div xmlns="http://www.w3.org/1999/xhtml">A <b>B</b>
          <content type="application/x-pdf"><div>nested</div></content></div></content></entry>
        <entry><id>2</id><title>Embassy reopens</title>
          <content src="http://example.org/2" type="text/html">Inline text</content></entry>
        <entry><id>3</id><title>Untouched</title><content type="html">&lt;p&gt;kept&lt;/p&gt;</content></entry>
        </feed>"#;
    let feed = parse(atom).unwrap();
    let titles: Vec<&str> = feed.stories.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(titles, ["Peskov speaks", "Embassy reopens", "Untouched"]);
    assert_eq!(feed.stories[0].summary, "First");
    assert_eq!(feed.stories[0].content, "");
    assert_eq!(feed.stories[2].content, "kept");
    assert_eq!(
        feed.repairs,
        [
            "2 elements the parser cannot read, removed (<content type=\"application/x-pdf\">, \
             <content src=\"http://example.org/2\" type=\"text/html\">)"
        ]
    );
    // Removing is for elements, not for broken markup: that stays an error.
    assert!(matches!(
        parse(
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>1</id><content type="application/x-pdf"><div>"#
        ),
        Err(FeedError::NotAFeed(_))
    ));
}

#[test]
fn a_document_cut_short_keeps_the_entries_it_holds_whole() {
    let item = |n: u32| format!("<item><title>Story {n}</title><guid>g{n}</guid></item>");
    let whole = format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title>{}{}{}</channel></rss>",
        item(1),
        item(2),
        item(3)
    );
    let cut_at = whole.find("<guid>g3").unwrap();
    for (broken, entries) in [
        // A body cut short inside a tag, inside CDATA, inside text.
        (whole[..cut_at + 3].to_owned(), 2),
        (
            format!("{}<description><![CDATA[<p>half", &whole[..cut_at]),
            2,
        ),
        (whole[..whole.find("Story 2").unwrap() + 3].to_owned(), 1),
        // A server failing half-way, its error page after the second entry.
        (
            whole.replace(&item(3), "<b>Fatal error</b>: in feed.php<br>\n</channel>"),
            2,
        ),
    ] {
        let feed = parse(&broken).unwrap_or_else(|e| panic!("{broken}: {e}"));
        let titles: Vec<&str> = feed.stories.iter().map(|s| s.title.as_str()).collect();
        assert_eq!(titles, ["Story 1", "Story 2"][..entries], "{broken}");
        assert_eq!(feed.repairs.len(), 1, "{:?}", feed.repairs);
        assert!(
            feed.repairs[0].starts_with(&format!(
                "the document breaks off after {entries} whole entr"
            )),
            "{:?}",
            feed.repairs
        );
    }
    // Broken before its first entry ends: nothing to read, and the error says why.
    let early = &whole[..whole.find("<guid>g1").unwrap()];
    assert!(matches!(parse(early), Err(FeedError::NotAFeed(_))));
    // An Atom feed, with an entry holding an unreadable element before the break.
    let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>a</id>
        <entry><id>1</id><title>One</title><content type="image/png"><b>x</b></content></entry>
        <entry><id>2</id><title>Two</title></entry><entry><id>3</id><title>Thr"#;
    let feed = parse(atom).unwrap();
    assert_eq!(feed.stories.len(), 2);
    assert_eq!(feed.repairs.len(), 2, "{:?}", feed.repairs);
    assert!(feed.repairs[0].starts_with("1 element the parser cannot read"));
}

#[test]
fn a_video_feeds_media_description_is_the_summary() {
    // YouTube's feeds: an entry's words are in its Media RSS group, not its summary.
    let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/">
        <title>Channel</title><id>c</id>
        <entry><id>yt:video:1</id><title>Briefing</title><link rel="alternate" href="https://video.example/1"/>
          <media:group><media:title>Briefing</media:title><media:content url="https://video.example/1.mp4"/>
            <media:description>Peskov answers questions on the talks</media:description></media:group></entry>
        <entry><id>yt:video:2</id><title>Own</title><summary>Its own summary</summary>
          <media:group><media:content url="https://video.example/2.mp4"/>
            <media:description>Other words</media:description></media:group></entry>
        <entry><id>yt:video:3</id><media:group><media:content url="https://video.example/3.mp4"/>
          <media:title>Only a media title</media:title></media:group></entry>
        </feed>"#;
    let feed = parse(atom).unwrap();
    let texts: Vec<(&str, &str)> = feed
        .stories
        .iter()
        .map(|s| (s.title.as_str(), s.summary.as_str()))
        .collect();
    assert_eq!(
        texts,
        [
            ("Briefing", "Peskov answers questions on the talks"),
            ("Own", "Its own summary"),
            ("Only a media title", "")
        ]
    );
}

#[test]
fn an_rss1_item_without_a_link_is_kept() {
    // feed-rs drops RSS 1.0 items without a link, silently.
    let feed = parse(
        r#"<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
        <channel rdf:about="https://news.example/"><title>R</title><link>https://news.example/</link></channel>
        <item rdf:about="https://news.example/1"><title>Peskov, first</title></item>
        <item><title>Peskov, second</title><description>No address at all</description></item>
        <item rdf:about="https://news.example/3"><title>Third</title><link>https://news.example/three</link></item>
        </rdf:RDF>"#,
    )
    .unwrap();
    assert_eq!(
        titles_and_links(&feed),
        [
            ("Peskov, first", Some("https://news.example/1")),
            ("Peskov, second", None),
            ("Third", Some("https://news.example/three")),
        ]
    );
    assert_eq!(feed.repairs, ["2 RSS 1.0 items without a link, kept"]);
    // Not an RSS 1.0 document: left alone.
    let rss2 = "<rss version=\"2.0\"><channel><title>T</title><item><title>x</title></item></channel></rss>";
    assert!(parse(rss2).unwrap().repairs.is_empty());
}

#[test]
fn an_rss_root_with_a_default_namespace_is_read() {
    // The Yandex.News form of RSS 2.0: feed-rs found no channel and no item in it.
    let feed = parse(
        r#"<?xml version="1.0"?><rss xmlns="http://backend.userland.com/rss2" xmlns:yandex="http://news.yandex.ru" version="2.0">
        <channel><title>Новости</title><item><title>Песков ответил</title><link>https://news.example/1</link>
        <yandex:full-text>Полный текст</yandex:full-text></item></channel></rss>"#,
    )
    .unwrap();
    assert_eq!(feed.title.as_deref(), Some("Новости"));
    assert_eq!(feed.stories.len(), 1);
    assert_eq!(feed.stories[0].title, "Песков ответил");
    assert_eq!(
        feed.repairs,
        [
            r#"a default namespace on <rss> (xmlns="http://backend.userland.com/rss2") removed: RSS elements have none"#
        ]
    );
}

#[test]
fn items_after_the_channels_end_are_the_channels() {
    // A hand-written feed closes its channel before its items: feed-rs read only the
    // channel's, silently; Vienna and other readers read all. The last `</channel>` here
    // is a code sample's, in a CDATA section: the one before it is the channel's end.
    let feed = parse(
        r#"<?xml version="1.0"?><rss version="2.0"><channel><title>Club news</title>
        <item><title>Inside</title><guid>in</guid></item></channel>
        <item><title>Peskov visits</title><guid>out-1</guid>
        <description><![CDATA[code: </channel>]]></description></item>
        <item><title>After</title><guid>out-2</guid></item></rss>"#,
    )
    .unwrap();
    let titles: Vec<&str> = feed.stories.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(titles, ["Inside", "Peskov visits", "After"]);
    assert_eq!(
        feed.repairs,
        ["items after the channel's end read as the channel's"]
    );
    // A `</channel>` in a CDATA section is text, not the channel's end.
    let feed = parse(
        r#"<rss version="2.0"><channel><title>T</title>
        <item><title>Only</title><guid>1</guid><description><![CDATA[x </channel>]]></description>
        </item></channel></rss>"#,
    )
    .unwrap();
    assert_eq!(feed.stories.len(), 1);
    assert!(feed.repairs.is_empty(), "{:?}", feed.repairs);
}

#[test]
fn rss_0_90_is_read_as_rss_1_0() {
    // heise online's and tagesschau.de's RDF feeds are RSS 0.90: feed-rs found no item
    // in Netscape's namespace, silently. Both of its namespaces are in use.
    for namespace in [
        "http://my.netscape.com/rdf/simple/0.9/",
        "http://channel.netscape.com/rdf/simple/0.9/",
    ] {
        let feed = parse(&format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
            <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="{namespace}">
            <channel><title>heise online News</title><link>https://www.heise.de/</link>
            <description>Nachrichten</description></channel>
            <item><title>Peskov: Gespräche in Genf</title><link>https://www.heise.de/news/1</link>
            <description>Der Kreml-Sprecher äußerte sich.</description></item>
            <item><title>Zweite Meldung</title><link>https://www.heise.de/news/2</link></item>
            </rdf:RDF>"#
        ))
        .unwrap();
        assert_eq!(feed.title.as_deref(), Some("heise online News"));
        assert_eq!(
            titles_and_links(&feed),
            [
                (
                    "Peskov: Gespräche in Genf",
                    Some("https://www.heise.de/news/1")
                ),
                ("Zweite Meldung", Some("https://www.heise.de/news/2")),
            ]
        );
        assert_eq!(feed.stories[0].summary, "Der Kreml-Sprecher äußerte sich.");
        assert_eq!(feed.repairs, ["RSS 0.90 read as RSS 1.0"]);
    }
}

#[test]
fn atom_0_3_and_a_misspelt_atom_namespace_are_read() {
    let atom03 = r#"<?xml version="1.0"?><feed version="0.3" xmlns="http://purl.org/atom/ns#">
        <title>Old blog</title><entry><id>tag:blog,2006:1</id><title>Peskov in 2006</title>
        <issued>2006-05-01T10:00:00Z</issued><modified>2006-05-02T10:00:00Z</modified>
        <content type="text/html" mode="escaped">&lt;p&gt;Text&lt;/p&gt;</content></entry></feed>"#;
    let feed = parse(atom03).unwrap();
    assert_eq!(feed.stories.len(), 1);
    let story = &feed.stories[0];
    assert_eq!(
        (story.title.as_str(), story.content.as_str()),
        ("Peskov in 2006", "Text")
    );
    assert_eq!(
        story.published.map(|d| d.to_rfc3339()).as_deref(),
        Some("2006-05-01T10:00:00+00:00")
    );
    assert_eq!(
        story.updated.map(|d| d.to_rfc3339()).as_deref(),
        Some("2006-05-02T10:00:00+00:00")
    );
    assert_eq!(feed.repairs, ["Atom 0.3 read as Atom 1.0"]);

    let slash = r#"<feed xmlns="http://www.w3.org/2005/Atom/"><title>T</title><id>x</id>
        <entry><id>1</id><title>One</title></entry></feed>"#;
    let feed = parse(slash).unwrap();
    assert_eq!(feed.stories.len(), 1);
    assert_eq!(
        feed.repairs,
        ["the Atom namespace written http://www.w3.org/2005/Atom/ read as Atom's"]
    );
}

#[test]
fn html_pages_and_garbage_are_clear_errors() {
    let html = r#"<!DOCTYPE html><html><head><link rel="alternate" type="application/rss+xml" href="/rss.xml"></head><body>x</body></html>"#;
    assert_eq!(
        parse(html).unwrap_err(),
        FeedError::Html {
            advertised: vec!["https://example.org/rss.xml".to_owned()]
        }
    );
    assert!(matches!(
        parse("\u{1}\u{2} binary"),
        Err(FeedError::NotAFeed(_))
    ));
    assert_eq!(
        parse("").unwrap_err(),
        FeedError::Decode(DecodeError::Empty)
    );
    assert!(parse("<rss version=\"2.0\"><channel><item><title>unclosed").is_err());
}

#[test]
fn billion_laughs_does_not_expand() {
    let mut doc = String::from("<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">");
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_owned()
        } else {
            format!("lol{}", i - 1)
        };
        doc.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">",
            format!("&{prev};").repeat(10)
        ));
    }
    doc.push_str("]><rss version=\"2.0\"><channel><title>&lol9;</title><item><title>x &lol9;</title><guid>1</guid></item></channel></rss>");
    // Whatever the outcome, the text stays small: custom entities are not expanded.
    if let Ok(feed) = parse(&doc) {
        assert!(feed.stories.iter().all(|s| s.title.len() < 1000));
    }
}

#[test]
fn html_sniffing_cuts_on_a_character_boundary() {
    // Found by fuzzing: the HTML check looked at the first 64 KiB by bytes and cut
    // through a multi-byte character.
    let mut text = String::from("<html><body>");
    while text.len() < 65_535 {
        text.push('a');
    }
    text.push_str("åååå</body></html>");
    assert!(matches!(parse(&text), Err(FeedError::Html { .. })));
}

#[test]
fn rss_written_as_json_reads_as_the_rss_it_stands_for() {
    // scripting.com's `rss.json`: elements as members, attributes beside an element's
    // text under `#value`, one item given as an object rather than a list.
    let json = r##"{"rss": {"version": "2.0", "channel": {
        "title": "Scripting News", "link": "http://scripting.com/",
        "item": [
          {"title": "Peskov & the press", "link": "http://scripting.com/2017/06/26.html#a1",
           "description": "<p>He said <b>nothing</b>.</p>",
           "pubDate": "Mon, 26 Jun 2017 12:20:05 GMT",
           "guid": {"isPermaLink": "false", "#value": "sn-1"},
           "category": ["Russia", {"domain": "https://scripting.com/tags", "#value": "Press"}],
           "enclosure": {"url": "http://scripting.com/a.mp3", "type": "audio/mpeg", "length": 1},
           "source:outline": {"text": "kept out"}},
          {"description": "A post without a title.", "guid": "http://scripting.com/p/2",
           "pubDate": "Mon, 26 Jun 2017 15:26:03 GMT"}
        ]}}}"##;
    let xml = r#"<rss version="2.0"><channel><title>Scripting News</title><link>http://scripting.com/</link>
        <item><title>Peskov &amp; the press</title><link>http://scripting.com/2017/06/26.html#a1</link>
          <description>&lt;p&gt;He said &lt;b&gt;nothing&lt;/b&gt;.&lt;/p&gt;</description>
          <pubDate>Mon, 26 Jun 2017 12:20:05 GMT</pubDate><guid isPermaLink="false">sn-1</guid>
          <category>Russia</category><category domain="https://scripting.com/tags">Press</category>
          <enclosure url="http://scripting.com/a.mp3" type="audio/mpeg" length="1"/></item>
        <item><description>A post without a title.</description><guid>http://scripting.com/p/2</guid>
          <pubDate>Mon, 26 Jun 2017 15:26:03 GMT</pubDate></item></channel></rss>"#;
    let (from_json, from_xml) = (parse(json).unwrap(), parse(xml).unwrap());
    assert_eq!(
        from_json.repairs,
        ["RSS written as JSON (`rss.channel`), read as RSS 2.0"]
    );
    assert_eq!(from_json.title.as_deref(), Some("Scripting News"));
    assert_eq!(from_json.stories, from_xml.stories);
    let first = &from_json.stories[0];
    assert_eq!(first.identity, "guid:sn-1");
    assert_eq!(first.title, "Peskov & the press");
    assert_eq!(first.summary, "He said nothing.");
    assert_eq!(first.categories, ["Russia", "Press"]);
    assert_eq!(from_json.stories[1].summary, "A post without a title.");

    // One item given alone, not in a list, is read too.
    let single = r#"{"rss": {"channel": {"title": "T", "item": {"title": "Alone", "guid": "g"}}}}"#;
    assert_eq!(titles_and_links(&parse(single).unwrap()), [("Alone", None)]);
    // A JSON Feed is still a JSON Feed.
    let json_feed = r#"{"version": "https://jsonfeed.org/version/1.1", "title": "J", "rss": 1,
        "items": [{"id": "1", "title": "Ceasefire"}]}"#;
    assert_eq!(parse(json_feed).unwrap().repairs, Vec::<String>::new());
}

#[test]
fn a_misspelt_end_tag_mid_document_costs_no_entry() {
    // Cut at the break, the document would give only the entry before it.
    let feed = parse(
        "<rss version=\"2.0\"><channel><title>T</title>\
         <item><title>One</title><guid>1</guid></item>\
         <item><title>Two</title><guid>2</guid><author>desk</auhtor></item>\
         <item><title>Three</title><guid>3</guid></item></channel></rss>",
    )
    .unwrap();
    assert_eq!(
        titles_and_links(&feed),
        [("One", None), ("Two", None), ("Three", None)]
    );
    assert_eq!(
        feed.repairs,
        ["end tags naming no open element read as closing the one open (</auhtor> for </author>)"]
    );
}
