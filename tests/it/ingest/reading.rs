//! Feeds that break the rules, read as established readers read them: repaired, cut
//! short, in odd encodings and forms — each end to end through `once`, with the repair
//! listed in `feeds`.

use super::*;

#[test]
fn repaired_feeds_are_read_and_say_so() {
    // Whitespace before the declaration, a bare `&` and `<` and an HTML entity: feed-rs
    // rejects this feed, real readers read it.
    let feed = "\n\n<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Sloppy</title>\
        <item><title>Peskov &amp; co: R&D &mdash; news < 5 min</title><guid>s-1</guid></item></channel></rss>";
    let server = TestServer::files(vec![("/sloppy.rss", "text/xml", feed.as_bytes().to_vec())]);
    let ws = Workspace::new(&config_for(&[server.url("/sloppy.rss")]));
    assert!(ws.ok(&["once"]).contains("hits: 1"));
    let feeds = ws.json(&["feeds"]);
    assert_eq!(feeds[0]["status"], "ok");
    assert_eq!(feeds[0]["repaired"], true);
    assert_eq!(
        feeds[0]["repairs"],
        serde_json::json!([
            "whitespace before the XML declaration, removed",
            "1 bare `&` escaped",
            "1 bare `<` escaped",
            "HTML entities XML does not define (mdash) converted"
        ])
    );
    assert!(
        ws.ok(&["feeds"])
            .contains("repaired: whitespace before the XML declaration"),
        "the table says so too"
    );
    assert_eq!(
        hit_pairs(&ws),
        [(
            "Peskov".to_owned(),
            "Peskov & co: R&D — news < 5 min".to_owned()
        )]
    );
}

#[test]
fn feeds_cut_short_with_an_odd_element_in_bare_utf16_or_templated_json_are_read() {
    let item = |n: u32, title: &str| {
        format!("<item><title>{title}</title><link>https://news.example/{n}</link></item>")
    };
    // A server that failed half-way through writing its feed.
    let cut = format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Cut</title>{}{}<item><title>Half",
        item(1, "Peskov on the talks"),
        item(2, "Weather")
    );
    // One entry's content is of a type feed-rs cannot read.
    let odd = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>Odd</title><id>o</id>
        <entry><id>o1</id><title>Embassy to reopen</title>
          <content type="application/pdf"><div>not base64</div></content></entry>
        <entry><id>o2</id><title>Песков ответил</title></entry></feed>"#;
    // UTF-16 with neither a byte-order mark nor a declaration; the header says UTF-16.
    let utf16: Vec<u8> = format!(
        "<rss version=\"2.0\"><channel><title>Wide</title>{}</channel></rss>",
        item(3, "Ukraine ceasefire talks resume")
    )
    .encode_utf16()
    .flat_map(u16::to_le_bytes)
    .collect();
    // A JSON Feed written by a template: a numeric id, a raw line break in a string.
    let template = "{\"version\": \"https://jsonfeed.org/version/1.1\", \"title\": \"Tpl\", \
        \"items\": [{\"id\": 41, \"title\": \"Embassy reopening delayed\", \
        \"content_html\": \"<p>One line\nand the next</p>\"}]}";
    let server = TestServer::files(vec![
        ("/cut.rss", "application/rss+xml", cut.into_bytes()),
        ("/odd.atom", "application/atom+xml", odd.as_bytes().to_vec()),
        ("/wide.rss", "application/rss+xml; charset=utf-16", utf16),
        ("/template.json", "application/feed+json", template.into()),
    ]);
    let urls = ["/cut.rss", "/odd.atom", "/wide.rss", "/template.json"].map(|p| server.url(p));
    let ws = Workspace::new(&config_for(&urls));
    let out = ws.run(&["once"]);
    assert_exit(&out, 0);
    let summary = stdout(&out);
    assert!(
        summary.contains(&format!(
            "  read in part: {}: the document breaks off after 2 whole entries (",
            urls[0]
        )),
        "{summary}"
    );
    assert!(
        stderr(&out)
            .contains("cut.rss: 2 stories, 2 new, 1 hit (read in part: the document breaks off)"),
        "{}",
        stderr(&out)
    );
    // What is lost is said, as a failure is.
    assert!(
        stderr(&out).contains("read in part: the document breaks off after 2 whole entries ("),
        "{}",
        stderr(&out)
    );
    assert!(
        summary.contains("feeds: 4 fetched, 4 ok, 0 not modified, 0 failed"),
        "{summary}"
    );
    assert!(summary.contains("stories: 6 new"), "{summary}");
    assert_eq!(
        hit_pairs(&ws),
        [
            ("Embassy reopening", "Embassy reopening delayed"),
            ("Embassy reopening", "Embassy to reopen"),
            ("Peskov", "Peskov on the talks"),
            ("Peskov", "Песков ответил"),
            ("Ukraine talks", "Ukraine ceasefire talks resume"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    let feeds = ws.json(&["feeds"]);
    let repairs = |url: &str| -> Vec<String> {
        serde_json::from_value(feed_row(&feeds, url)["repairs"].clone()).unwrap()
    };
    let cut = repairs(&urls[0]);
    assert_eq!(cut.len(), 1, "{cut:?}");
    assert!(
        cut[0].starts_with("the document breaks off after 2 whole entries ("),
        "{cut:?}"
    );
    assert_eq!(
        repairs(&urls[1]),
        ["1 element the parser cannot read, removed (<content type=\"application/pdf\">)"]
    );
    assert!(repairs(&urls[2]).is_empty());
    assert_eq!(
        repairs(&urls[3]),
        [
            "1 control character raw in JSON strings, escaped",
            "1 JSON Feed value of the wrong type (an id given as a number, an author as a name) \
             taken as meant, or dropped"
        ]
    );
}

#[test]
fn html_not_escaped_in_an_rss_description_is_read() {
    // feed-rs kept only the text before the first tag ("Statement by the "), so the
    // name after it never met a rule; the unclosed `<br>` in the second entry broke the
    // whole document.
    let feed = "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Naked</title>\
        <item><title>Statement</title><guid>n-1</guid>\
        <description>Statement by the <b>Kremlin</b>: Peskov spoke</description></item>\
        <item><title>Second</title><guid>n-2</guid>\
        <description>An embassy<br>will reopen</description></item></channel></rss>";
    let server = TestServer::files(vec![("/naked.rss", "application/rss+xml", feed.into())]);
    let ws = Workspace::new(&config_for(&[server.url("/naked.rss")]));
    assert!(ws.ok(&["once"]).contains("hits: 2"));
    assert_eq!(
        hit_pairs(&ws),
        [
            ("Embassy reopening".to_owned(), "Second".to_owned()),
            ("Peskov".to_owned(), "Statement".to_owned())
        ]
    );
    assert_eq!(
        ws.json(&["feeds"])[0]["repairs"],
        serde_json::json!(["2 RSS text elements holding HTML markup not escaped, read as HTML"])
    );
}

#[test]
fn text_escaped_twice_is_read_as_meant() {
    // The publishing system escaped the HTML once more: read once, it still shows its
    // entities and markup — and "Пес&#769;ков" (an accent mark written as a reference)
    // was two words no rule found.
    let feed = "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Twice</title>\
        <item><title>Заявление</title><guid>t-1</guid>\
        <description>&amp;lt;p&amp;gt;Дмитрий Пес&amp;amp;#769;ков&amp;amp;nbsp;заявил&amp;lt;/p&amp;gt;\
        </description></item></channel></rss>";
    let server = TestServer::files(vec![("/twice.rss", "application/rss+xml", feed.into())]);
    let ws = Workspace::new(&config_for(&[server.url("/twice.rss")]));
    assert!(ws.ok(&["once"]).contains("hits: 1"));
    let hits = ws.json(&["hits", "--since", "100000d"]);
    assert_eq!(hits[0]["rule"], "Peskov");
    // The summary reads "Дмитрий Пес\u{301}ков заявил": the name's bytes 15 to 29.
    assert_eq!(
        hits[0]["spans"],
        serde_json::json!([{"field": "summary", "start": 15, "end": 29}])
    );
}

#[test]
fn a_yandex_news_feed_in_windows_1251_is_read() {
    // Russian news sites write RSS 2.0 in the form Yandex.News asks for: the UserLand
    // namespace as the default one, and often windows-1251. feed-rs saw no item in it.
    let feed = "<?xml version=\"1.0\" encoding=\"windows-1251\"?>\
        <rss xmlns=\"http://backend.userland.com/rss2\" xmlns:yandex=\"http://news.yandex.ru\" version=\"2.0\">\
        <channel><title>Новости области</title><link>https://region.example/</link>\
        <item><title>Песков прокомментировал переговоры</title><link>https://region.example/news/1</link>\
        <yandex:full-text>Дмитрий Песков заявил журналистам…</yandex:full-text></item>\
        </channel></rss>";
    let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(feed);
    let server = TestServer::files(vec![("/yandex.rss", "text/xml", bytes.into_owned())]);
    let ws = Workspace::new(&config_for(&[server.url("/yandex.rss")]));
    assert!(ws.ok(&["once"]).contains("stories: 1 new"));
    assert_eq!(
        hit_pairs(&ws),
        [(
            "Peskov".to_owned(),
            "Песков прокомментировал переговоры".to_owned()
        )]
    );
    let feeds = ws.json(&["feeds"]);
    assert_eq!(feeds[0]["name"], "Новости области");
}

#[test]
fn an_rss_0_90_feed_of_german_news_is_read() {
    // tagesschau.de's and heise online's RDF feeds are RSS 0.90, in Netscape's
    // namespace: feed-rs read them as empty, without an error.
    let feed = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
        <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" \
        xmlns=\"http://my.netscape.com/rdf/simple/0.9/\">\
        <channel><title>tagesschau.de</title><link>https://www.tagesschau.de/</link>\
        <description>Die Nachrichten der ARD</description></channel>\
        <item><title>Peskow und Peskov: Kreml äußert sich zu Gesprächen</title>\
        <link>https://www.tagesschau.de/ausland/kreml-100.html</link></item>\
        </rdf:RDF>";
    let server = TestServer::files(vec![("/ts.rdf", "application/rdf+xml", feed.into())]);
    let ws = Workspace::new(&config_for(&[server.url("/ts.rdf")]));
    assert!(ws.ok(&["once"]).contains("stories: 1 new"));
    assert_eq!(
        hit_pairs(&ws),
        [(
            "Peskov".to_owned(),
            "Peskow und Peskov: Kreml äußert sich zu Gesprächen".to_owned()
        )]
    );
    let feeds = ws.json(&["feeds"]);
    assert_eq!(feeds[0]["name"], "tagesschau.de");
    assert_eq!(
        feeds[0]["repairs"],
        serde_json::json!(["RSS 0.90 read as RSS 1.0"])
    );
}

#[test]
fn a_feed_encoded_as_utf8_twice_is_read_as_meant() {
    // A site that stores UTF-8 in a column it takes for Latin-1 publishes "ÐŸÐµÑÐºÐ¾Ð²"
    // for "Песков": valid UTF-8, so nothing failed, and no rule ever met its words.
    let feed = "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel>\
        <title>Новости: Москва</title>\
        <item><title>Песков прокомментировал переговоры</title><guid>m-1</guid>\
        <link>https://moscow.example/news/1</link>\
        <description>Дмитрий Песков заявил журналистам — «переговоры»</description></item>\
        <item><title>L’ambassade va rouvrir</title><guid>m-2</guid>\
        <description>The embassy will reopen, Peskov’s office said</description></item>\
        </channel></rss>";
    let (twice, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(feed.as_bytes());
    assert!(twice.contains("ÐŸÐµÑ\u{81}ÐºÐ¾Ð²"));
    let server = TestServer::files(vec![(
        "/twice.rss",
        "application/rss+xml; charset=utf-8",
        twice.into_owned().into_bytes(),
    )]);
    let ws = Workspace::new(&config_for(&[server.url("/twice.rss")]));
    assert!(ws.ok(&["once"]).contains("hits: 3"));
    assert_eq!(
        hit_pairs(&ws),
        [
            (
                "Embassy reopening".to_owned(),
                "L’ambassade va rouvrir".to_owned()
            ),
            ("Peskov".to_owned(), "L’ambassade va rouvrir".to_owned()),
            (
                "Peskov".to_owned(),
                "Песков прокомментировал переговоры".to_owned()
            ),
        ]
    );
    let feeds = ws.json(&["feeds"]);
    assert_eq!(feeds[0]["name"], "Новости: Москва");
    assert_eq!(
        feeds[0]["repairs"],
        serde_json::json!(["90 characters encoded as UTF-8 twice (\"Ð¾\" for \"о\"), read back"])
    );
}

#[test]
fn a_post_without_a_title_is_alerted_by_its_first_words() {
    // A microblog's feed (a Mastodon account's): statuses have no title.
    let words = "Peskov said the talks would resume next week in Istanbul, according to \
        the ministry, which gave no further details on who would attend them";
    let feed = format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Account</title>\
         <item><guid>https://social.example/@ministry/1</guid><description>{words}</description></item>\
         </channel></rss>"
    );
    let server = TestServer::files(vec![("/posts.rss", "application/rss+xml", feed.into())]);
    let ws = Workspace::new(&config_for(&[server.url("/posts.rss")]));
    let out = ws.run(&["once"]);
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("Peskov said the talks would resume next week in Istanbul, according to the ministry, which gave no…"),
        "the log channel names the post by its first words:\n{}",
        stderr(&out)
    );
    let called = "Peskov said the talks would resume next week in Istanbul, according to the \
        ministry, which gave no…";
    assert_eq!(
        hit_pairs(&ws),
        [("Peskov".to_owned(), called.to_owned())],
        "and so does `hits`"
    );
}

#[test]
fn rss_written_as_json_is_read() {
    // Scripting News publishes its feed as RSS 2.0 and as the same RSS written as JSON
    // (`rss.json`), whose posts mostly have no title.
    let feed = r##"{"rss": {"version": "2.0", "channel": {"title": "Scripting News",
        "link": "http://scripting.com/", "item": [
          {"link": "http://scripting.com/2026/11/26.html#a1", "guid": "http://scripting.com/2026/11/26.html#a1",
           "description": "Embassy staff will <a href=\"https://example.org\">reopen</a> the consulate.",
           "pubDate": "Thu, 26 Nov 2026 12:20:05 GMT"},
          {"link": "http://scripting.com/2026/11/26.html#a2", "guid": "http://scripting.com/2026/11/26.html#a2",
           "description": "Nothing to see.", "pubDate": "Thu, 26 Nov 2026 13:00:00 GMT"}]}}}"##;
    let server = TestServer::files(vec![("/rss.json", "application/json", feed.into())]);
    let ws = Workspace::new(&config_for(&[server.url("/rss.json")]));
    let summary = ws.ok(&["once"]);
    assert!(summary.contains("stories: 2 new"), "{summary}");
    assert_eq!(
        hit_pairs(&ws),
        [(
            "Embassy reopening".to_owned(),
            "Embassy staff will reopen the consulate.".to_owned()
        )]
    );
    let feeds = ws.json(&["feeds"]);
    assert_eq!(feeds[0]["name"], "Scripting News");
    assert_eq!(
        feeds[0]["repairs"],
        serde_json::json!(["RSS written as JSON (`rss.channel`), read as RSS 2.0"])
    );
}

#[test]
fn end_tags_that_do_not_match_their_elements_are_mended() {
    // A hand-written podcast feed: its category, opened for a subcategory, is never
    // closed, and one end tag is misspelt. An XML parser stops at the first; every
    // episode was lost.
    let feed = "<?xml version=\"1.0\"?><rss version=\"2.0\" \
        xmlns:itunes=\"http://www.itunes.com/dtds/podcast-1.0.dtd\"><channel>\
        <title>Weekly</title><language>en</langauge>\
        <itunes:category text=\"News\"><itunes:category text=\"Politics\"/>\
        <item><title>Peskov interview</title><guid>w-1</guid></item>\
        <item><title>Embassy to reopen</title><guid>w-2</guid></item>\
        </channel></rss>";
    let server = TestServer::files(vec![("/pod.rss", "application/rss+xml", feed.into())]);
    let ws = Workspace::new(&config_for(&[server.url("/pod.rss")]));
    let summary = ws.ok(&["once"]);
    assert!(summary.contains("stories: 2 new"), "{summary}");
    assert!(!summary.contains("read in part"), "{summary}");
    assert_eq!(
        hit_pairs(&ws),
        [
            (
                "Embassy reopening".to_owned(),
                "Embassy to reopen".to_owned()
            ),
            ("Peskov".to_owned(), "Peskov interview".to_owned())
        ]
    );
    assert_eq!(
        ws.json(&["feeds"])[0]["repairs"],
        serde_json::json!([
            "elements never closed, closed where their content ends (<itunes:category>)",
            "end tags naming no open element read as closing the one open (</langauge> for </language>)"
        ])
    );
}

#[test]
fn an_entry_without_a_link_is_alerted_with_where_its_content_is() {
    // The Daily and Planet Money give their episodes no link, only the audio; an Atom
    // entry may give its content's address only: an alert without one would lead nowhere.
    let feed = "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>The Show</title>\
        <item><title>What Peskov said</title><guid isPermaLink=\"false\">ep-1</guid>\
        <enclosure url=\"https://cdn.example/episodes/ep-1.mp3\" type=\"audio/mpeg\" length=\"1\"/>\
        </item></channel></rss>";
    let clips = "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>Clips</title><id>c</id>\
        <entry><id>tag:clips,1</id><title>Embassy to reopen: the video</title>\
        <updated>2026-11-27T10:00:00Z</updated>\
        <content type=\"video/mp4\" src=\"https://cdn.example/clips/1.mp4\"/></entry></feed>";
    let server = TestServer::files(vec![
        ("/show.rss", "application/rss+xml", feed.into()),
        ("/clips.atom", "application/atom+xml", clips.into()),
    ]);
    let ws = Workspace::new(&config_for(&[
        server.url("/show.rss"),
        server.url("/clips.atom"),
    ]));
    let out = ws.run(&["once"]);
    assert_exit(&out, 0);
    for link in [
        "https://cdn.example/episodes/ep-1.mp3",
        "https://cdn.example/clips/1.mp4",
    ] {
        assert!(
            stderr(&out).contains(link),
            "the log channel's alert links {link}:\n{}",
            stderr(&out)
        );
    }
    let hits = ws.json(&["hits", "--since", "100000d"]);
    let link_of = |title: &str| {
        hits.as_array()
            .unwrap()
            .iter()
            .find(|h| h["title"] == title)
            .unwrap_or_else(|| panic!("no hit {title} in {hits}"))["link"]
            .clone()
    };
    assert_eq!(
        link_of("What Peskov said"),
        "https://cdn.example/episodes/ep-1.mp3"
    );
    assert_eq!(
        link_of("Embassy to reopen: the video"),
        "https://cdn.example/clips/1.mp4"
    );
}

#[test]
fn rss_1_1_cdf_a_bare_channel_and_utf32_are_read() {
    let rss11 = r#"<?xml version="1.0"?>
<Channel xmlns="http://purl.org/net/rss1.1#" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
   xmlns:dc="http://purl.org/dc/elements/1.1/" rdf:about="https://eleven.example/">
  <title>Eleven</title>
  <link>https://eleven.example/</link>
  <items rdf:parseType="Collection">
    <item rdf:about="https://eleven.example/1">
      <title>Peskov declines to comment</title>
      <link>https://eleven.example/1</link>
      <dc:date>2026-11-27T10:00:00Z</dc:date>
    </item>
  </items>
</Channel>"#;
    let cdf = r#"<?xml version="1.0"?>
<CHANNEL HREF="https://cdf.example/" BASE="https://cdf.example/news/">
  <TITLE>Channel Definition</TITLE>
  <ITEM HREF="embassy.htm" LASTMOD="2026-11-27T11:00:00+01:00">
    <TITLE>Embassy to reopen in spring</TITLE>
    <ABSTRACT>Staff return in March.</ABSTRACT>
  </ITEM>
</CHANNEL>"#;
    let bare = "<channel><title>Bare</title><item><title>Ukraine talks resume</title>\
        <link>https://bare.example/1</link></item></channel>";
    let utf32: Vec<u8> = [0xFF, 0xFE, 0, 0]
        .into_iter()
        .chain(
            "<?xml version=\"1.0\" encoding=\"UTF-32\"?><rss version=\"2.0\"><channel>\
             <title>Широкий</title><item><title>Песков о переговорах</title>\
             <link>https://wide.example/1</link></item></channel></rss>"
                .chars()
                .flat_map(|c| u32::from(c).to_le_bytes()),
        )
        .collect();
    let server = TestServer::files(vec![
        ("/eleven.rss", "application/rss+xml", rss11.into()),
        ("/channel.cdf", "application/x-cdf", cdf.into()),
        ("/bare.xml", "text/xml", bare.into()),
        ("/wide.rss", "application/rss+xml", utf32),
    ]);
    let urls = ["/eleven.rss", "/channel.cdf", "/bare.xml", "/wide.rss"].map(|p| server.url(p));
    let ws = Workspace::new(&config_for(&urls));
    let summary = ws.ok(&["once"]);
    assert!(
        summary.contains("feeds: 4 fetched, 4 ok, 0 not modified, 0 failed"),
        "{summary}"
    );
    assert_eq!(
        hit_pairs(&ws),
        [
            ("Embassy reopening", "Embassy to reopen in spring"),
            ("Peskov", "Peskov declines to comment"),
            ("Peskov", "Песков о переговорах"),
            ("Ukraine talks", "Ukraine talks resume"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    let hits = ws.json(&["hits", "--since", "100000d"]);
    let embassy = hits
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["rule"] == "Embassy reopening")
        .unwrap();
    assert_eq!(embassy["link"], "https://cdf.example/news/embassy.htm");
    assert_eq!(embassy["published"], "2026-11-27T10:00:00Z");
    let feeds = ws.json(&["feeds"]);
    let feed = |url: &str| feed_row(&feeds, url).clone();
    assert_eq!(feed(&urls[0])["name"], "Eleven");
    assert_eq!(
        feed(&urls[0])["repairs"],
        serde_json::json!(["RSS 1.1 read as RSS 1.0"])
    );
    assert_eq!(feed(&urls[1])["name"], "Channel Definition");
    assert_eq!(
        feed(&urls[1])["repairs"],
        serde_json::json!(["Channel Definition Format (CDF) read as RSS 2.0"])
    );
    assert_eq!(
        feed(&urls[2])["repairs"],
        serde_json::json!(["an RSS <channel> without the <rss> around it, read as RSS 2.0"])
    );
    assert_eq!(feed(&urls[3])["name"], "Широкий");
    assert_eq!(feed(&urls[3])["repairs"], serde_json::json!([]));
}

#[test]
fn a_feed_inside_an_xhtml_page_and_items_under_a_bare_rdf_root_are_read() {
    // A page's template (or a browser's "save page") wrapped the feed in XHTML; the
    // feed's `dc:` prefix is declared on the page's root.
    let page = r#"<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <head><title>Desk</title></head>
  <body>
    <feed xmlns="http://www.w3.org/2005/Atom">
      <title>Desk in a page</title>
      <id>https://page.example/</id>
      <entry>
        <title>Peskov on the embassy</title>
        <id>https://page.example/1</id>
        <link href="https://page.example/1"/>
        <updated>2026-11-27T10:00:00Z</updated>
        <dc:creator>Desk</dc:creator>
      </entry>
    </feed>
  </body>
</html>"#;
    // RSS 1.0 items under an `<rdf>` root written without RDF's and RSS 1.0's
    // namespaces, in ISO-8859-1.
    let bare_rdf = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<rdf>\n<item>\
        <title>Ukraine talks: F\xF6rderung</title><link>https://rdf.example/1</link>\
        <description>Ceasefire talks resume.</description></item>\n</rdf>\n"
        .to_vec();
    let server = TestServer::files(vec![
        ("/page.xml", "text/xml", page.into()),
        ("/bare.rdf", "application/rdf+xml", bare_rdf),
    ]);
    let urls = [server.url("/page.xml"), server.url("/bare.rdf")];
    let ws = Workspace::new(&config_for(&urls));
    let summary = ws.ok(&["once"]);
    assert!(summary.contains("2 ok"), "{summary}");
    assert_eq!(
        hit_pairs(&ws),
        [
            ("Peskov", "Peskov on the embassy"),
            ("Ukraine talks", "Ukraine talks: Förderung")
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    let feeds = ws.json(&["feeds"]);
    let page = feed_row(&feeds, &urls[0]);
    assert_eq!(page["name"], "Desk in a page");
    assert_eq!(
        page["repairs"],
        serde_json::json!(["a feed inside an XHTML page, read on its own"])
    );
    assert_eq!(
        feed_row(&feeds, &urls[1])["repairs"],
        serde_json::json!(["an <rdf> root without RDF's namespace, read as RSS 1.0"])
    );
}
