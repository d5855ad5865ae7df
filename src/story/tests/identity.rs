//! How a feed's entries are told apart: guids, links and titles that several articles
//! share, and links behind redirects.

use super::*;

#[test]
fn an_item_without_a_link_is_found_at_its_guid_when_that_is_an_address() {
    let feed = parse(
        "<rss version=\"2.0\"><channel><title>T</title>\
         <item><title>A</title><guid>HTTPS://News.example/a?utm_source=rss</guid></item>\
         <item><title>B</title><guid>tag:news.example,2026:b</guid></item>\
         <item><title>C</title><link>https://news.example/c</link><guid>https://other.example/c</guid></item>\
         <item><title>D</title><guid isPermaLink=\"true\">/blog/d?utm_medium=rss</guid></item>\
         <item><title>E</title><guid>post-e</guid></item>\
         </channel></rss>",
    )
    .unwrap();
    assert_eq!(
        identities_and_links(&feed),
        [
            (
                "guid:HTTPS://News.example/a?utm_source=rss",
                Some("https://news.example/a")
            ),
            ("guid:tag:news.example,2026:b", None),
            (
                "guid:https://other.example/c",
                Some("https://news.example/c")
            ),
            // A path on the feed's own site (a site generator's guid).
            (
                "guid:/blog/d?utm_medium=rss",
                Some("https://example.org/blog/d")
            ),
            ("guid:post-e", None),
        ]
    );
}

#[test]
fn a_guid_shared_by_different_articles_gives_way_to_their_links() {
    let feed = parse(
        r#"<rss version="2.0"><channel><title>T</title>
        <item><title>One</title><guid>https://site.example/</guid><link>https://site.example/1</link></item>
        <item><title>Two</title><guid>https://site.example/</guid><link>https://site.example/2</link></item>
        <item><title>Two, again</title><guid>https://site.example/</guid><link>https://site.example/2</link></item>
        <item><title>No link</title><guid>https://site.example/</guid></item>
        <item><title>Repeated whole</title><guid>r-1</guid><link>https://site.example/r</link></item>
        <item><title>Repeated whole</title><guid>r-1</guid><link>https://site.example/r</link></item>
        </channel></rss>"#,
    )
    .unwrap();
    let identities: Vec<&str> = feed.stories.iter().map(|s| s.identity.as_str()).collect();
    assert_eq!(
        [identities[0], identities[3], identities[4], identities[5]],
        [
            "link:https://site.example/1",
            "guid:https://site.example/",
            "guid:r-1",
            "guid:r-1",
        ]
    );
    // Two entries that share the guid and a link, under other titles, are two articles
    // on one page: known by their titles and dates.
    assert!(identities[1].starts_with("hash:") && identities[2].starts_with("hash:"));
    assert_ne!(identities[1], identities[2]);
    assert_eq!(
        feed.repairs,
        [
            "3 entries share a guid with other entries; recognised by their links",
            "2 entries without a guid of their own share a link with other articles; \
             recognised by their titles and dates"
        ]
    );
    assert!(parse(RSS_WITH_DISTINCT_GUIDS).unwrap().repairs.is_empty());
}

#[test]
fn a_link_shared_by_different_articles_gives_way_to_their_titles_and_dates() {
    let feed = parse(
        r#"<rss version="2.0"><channel><title>T</title>
        <item><title>One</title><link>https://site.example/today</link><pubDate>Tue, 24 Nov 2026 08:00:00 GMT</pubDate></item>
        <item><title>Two</title><link>https://site.example/today</link><pubDate>Tue, 24 Nov 2026 08:00:00 GMT</pubDate></item>
        <item><title>Two</title><link>https://site.example/today</link><pubDate>Tue, 24 Nov 2026 08:00:00 GMT</pubDate></item>
        <item><title>Own page</title><link>https://site.example/own</link></item>
        <item><title>Repeated</title><link>https://site.example/r</link></item>
        <item><title>Repeated</title><link>https://site.example/r</link></item>
        <item><title>Site's guid</title><guid>https://site.example/</guid><link>https://site.example/</link></item>
        <item><title>Site's guid again</title><guid>https://site.example/</guid><link>https://site.example/</link></item>
        </channel></rss>"#,
    )
    .unwrap();
    let identities: Vec<&str> = feed.stories.iter().map(|s| s.identity.as_str()).collect();
    let kinds: Vec<&str> = identities.iter().map(|i| &i[..5]).collect();
    assert_eq!(
        kinds,
        [
            "hash:", "hash:", "hash:", "link:", "link:", "link:", "hash:", "hash:"
        ]
    );
    assert_ne!(identities[0], identities[1], "other titles, other stories");
    assert_eq!(
        identities[1], identities[2],
        "an entry repeated whole is one story"
    );
    assert_eq!(identities[4], identities[5]);
    assert_ne!(
        identities[6], identities[7],
        "a guid and a link every entry shares tell nothing apart"
    );
    // The same identity an entry with neither guid nor link gets.
    let alone = parse(
        r#"<rss version="2.0"><channel><title>T</title>
        <item><title>One</title><pubDate>Tue, 24 Nov 2026 08:00:00 GMT</pubDate></item>
        </channel></rss>"#,
    )
    .unwrap();
    assert_eq!(alone.stories[0].identity, identities[0]);
    assert_eq!(
        feed.repairs,
        [
            "2 entries share a guid with other entries; recognised by their links",
            "5 entries without a guid of their own share a link with other articles; \
             recognised by their titles and dates"
        ]
    );
}

#[test]
fn entries_under_a_link_that_names_several_articles_are_marked() {
    // An entry without a guid under the link an entry with a guid gives another article
    // is known by its title and date; every entry under such a link is marked, so that
    // another feed's story under the link is not taken for it.
    let feed = parse(
        r#"<rss version="2.0"><channel><title>T</title>
        <item><title>Bulletin</title><guid>b-1</guid><link>https://radio.example/</link></item>
        <item><title>Weather</title><link>https://radio.example/</link><pubDate>Tue, 24 Nov 2026 08:00:00 GMT</pubDate></item>
        <item><title>Own page</title><guid>b-2</guid><link>https://radio.example/own</link></item>
        <item><title>Own page</title><link>https://radio.example/own</link></item>
        </channel></rss>"#,
    )
    .unwrap();
    let seen: Vec<(&str, bool)> = feed
        .stories
        .iter()
        .map(|s| (&s.identity[..5], s.link_names_others))
        .collect();
    assert_eq!(
        seen,
        [
            ("guid:", true),
            ("hash:", true),
            ("guid:", false),
            ("link:", false)
        ]
    );
}

const RSS_WITH_DISTINCT_GUIDS: &str = r#"<rss version="2.0"><channel><title>T</title>
    <item><title>One</title><guid>g-1</guid><link>https://site.example/1</link></item>
    <item><title>Two</title><guid>g-2</guid><link>https://site.example/2</link></item>
    </channel></rss>"#;

#[test]
fn an_update_date_every_entry_shares_is_the_documents() {
    let atom = |entries: &[(&str, &str)]| {
        let entries: String = entries
            .iter()
            .enumerate()
            .map(|(i, (published, updated))| {
                format!("<entry><id>urn:{i}</id><title>T{i}</title><published>{published}</published><updated>{updated}</updated></entry>")
            })
            .collect();
        let feed = parse(&format!(
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>urn:a</id>{entries}</feed>"#
        ))
        .unwrap();
        feed.stories
            .iter()
            .map(|s| s.updated.is_some())
            .collect::<Vec<_>>()
    };
    let (jan, feb, built) = (
        "2026-01-01T00:00:00Z",
        "2026-02-01T00:00:00Z",
        "2026-11-27T00:00:00Z",
    );
    assert_eq!(atom(&[(jan, built), (feb, built)]), [false, false]);
    // Entries updated apart, or published together, keep their dates; so does one alone.
    assert_eq!(atom(&[(jan, built), (feb, feb)]), [true, true]);
    assert_eq!(atom(&[(jan, built), (jan, built)]), [true, true]);
    assert_eq!(atom(&[(jan, built)]), [true]);
}

#[test]
fn an_entry_behind_a_tracking_proxy_is_linked_to_its_article() {
    // FeedBurner links every entry through its own redirect and gives the article's
    // address beside it; the story keeps its identity and takes the article's link.
    let feed = parse(
        "<rss version=\"2.0\" xmlns:feedburner=\"http://rssnamespace.org/feedburner/ext/1.0\">\
         <channel><title>T</title>\
         <item><title>A</title><link>http://feedproxy.google.com/~r/news/~3/abc/a</link>\
         <feedburner:origLink>https://news.example/a?x=1&amp;utm_source=feedburner</feedburner:origLink></item>\
         <item><title>B</title><guid>b-1</guid><link>http://feedproxy.google.com/~r/news/~3/def/b</link>\
         <feedburner:origLink><![CDATA[ https://news.example/b ]]></feedburner:origLink></item>\
         <item><title>C</title><link>https://news.example/c</link></item>\
         </channel></rss>",
    )
    .unwrap();
    assert_eq!(
        identities_and_links(&feed),
        [
            (
                "link:http://feedproxy.google.com/~r/news/~3/abc/a",
                Some("https://news.example/a?x=1")
            ),
            ("guid:b-1", Some("https://news.example/b")),
            (
                "link:https://news.example/c",
                Some("https://news.example/c")
            ),
        ]
    );
}

#[test]
fn entries_known_only_by_their_content_are_told_apart_by_it() {
    // Neither guid, link, title, summary nor date: the content is all that tells two
    // entries apart. (Hashed without it, every such entry of a feed was one story.)
    let feed = parse(
        r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>Books</title>
        <entry><content type="html">&lt;h1&gt;Doctor Zhivago&lt;/h1&gt;</content></entry>
        <entry><content type="html">&lt;h1&gt;A Hero of Our Time&lt;/h1&gt;</content></entry>
        <entry><content type="html">&lt;h1&gt;Doctor Zhivago&lt;/h1&gt;</content></entry>
        </feed>"#,
    )
    .unwrap();
    let ids: Vec<&str> = feed.stories.iter().map(|s| s.identity.as_str()).collect();
    assert_eq!(ids.len(), 3);
    assert_ne!(ids[0], ids[1]);
    assert_eq!(ids[0], ids[2], "the same entry again is the same story");
    assert_eq!(feed.stories[1].name(), "A Hero of Our Time");
}

#[test]
fn an_atom_entry_without_a_link_is_linked_to_its_content_elsewhere() {
    let feed = parse(
        r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>Clips</title><id>c</id>
        <entry><id>tag:clips,1</id><title>Embassy reopening, the video</title>
          <content type="video/mp4" src="https://cdn.example/clips/1.mp4?utm_source=feed"/></entry>
        <entry><id>tag:clips,3</id><title>Relative</title>
          <content type="video/mp4" src="/clips/3.mp4"/></entry>
        <entry><id>tag:clips,2</id><title>With a page</title><link href="https://clips.example/2"/>
          <content type="video/mp4" src="https://clips.example/2.mp4"/></entry>
        </feed>"#,
    )
    .unwrap();
    assert_eq!(
        identities_and_links(&feed),
        [
            ("guid:tag:clips,1", Some("https://cdn.example/clips/1.mp4")),
            // feed-rs does not read a relative `src` against `xml:base`: left alone.
            ("guid:tag:clips,3", None),
            ("guid:tag:clips,2", Some("https://clips.example/2")),
        ]
    );
}

#[test]
fn a_podcast_episode_without_a_link_is_linked_to_its_audio() {
    let feed = parse(
        r#"<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>The Show</title>
        <item><title>Peskov on air</title><guid isPermaLink="false">ep-1</guid>
          <enclosure url="https://dts.example/redirect.mp3/cdn.example/ep1.mp3?utm_source=rss" type="audio/mpeg" length="1"/></item>
        <item><title>Untyped</title><guid isPermaLink="false">ep-2</guid>
          <enclosure url="https://cdn.example/ep2.M4A" length="1"/></item>
        <item><title>Its guid is its page</title><guid>https://show.example/ep3</guid>
          <enclosure url="https://cdn.example/ep3.mp3" type="audio/mpeg" length="1"/></item>
        <item><title>Its own page</title><guid isPermaLink="false">ep-4</guid><link>https://show.example/4</link>
          <enclosure url="https://cdn.example/ep4.mp3" type="audio/mpeg" length="1"/></item>
        <item><title>A picture</title><guid isPermaLink="false">ep-5</guid>
          <enclosure url="https://cdn.example/cover.jpg" type="image/jpeg" length="1"/></item>
        </channel></rss>"#,
    )
    .unwrap();
    assert_eq!(
        identities_and_links(&feed),
        [
            (
                "guid:ep-1",
                Some("https://dts.example/redirect.mp3/cdn.example/ep1.mp3")
            ),
            ("guid:ep-2", Some("https://cdn.example/ep2.M4A")),
            // A link or a guid that is an address comes first.
            (
                "guid:https://show.example/ep3",
                Some("https://show.example/ep3")
            ),
            ("guid:ep-4", Some("https://show.example/4")),
            ("guid:ep-5", None),
        ]
    );
}
