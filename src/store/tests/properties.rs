//! Properties of the store's dedupe over generated sequences of fetches, documents read
//! by the parse as a fetch's are: feeds that list a few articles under guids, links or
//! title and date, links written in a site's several forms (scheme, `www.`, trailing
//! slash), titles corrected, one feed's articles in another's — each fetch written
//! without an error, and the same fetch written again bringing nothing new.

use proptest::prelude::*;

use super::*;

/// One entry of a generated document: which of a few articles it is, how the feed
/// knows it, and how it writes the article's address and title.
#[derive(Debug, Clone)]
struct Entry {
    article: u8,
    known_by: KnownBy,
    https: bool,
    www: bool,
    slash: bool,
    title_corrected: bool,
    rule: bool,
}

#[derive(Debug, Clone, Copy)]
enum KnownBy {
    /// A guid of the feed's own (`p-3`).
    Guid,
    /// A guid that is the article's address, as a permalink guid is.
    AddressGuid,
    /// No guid: the link.
    Link,
    /// No guid and no link: title and date.
    Text,
}

impl Entry {
    fn address(&self) -> String {
        format!(
            "{}://{}news.example/{}{}",
            if self.https { "https" } else { "http" },
            if self.www { "www." } else { "" },
            self.article,
            if self.slash { "/" } else { "" }
        )
    }

    /// The entry as an RSS `<item>` of feed `feed`.
    fn item(&self, feed: i64) -> String {
        let title = format!(
            "Article {}{}",
            self.article,
            if self.title_corrected {
                ", corrected"
            } else {
                ""
            }
        );
        let address = self.address();
        let (guid, link) = match self.known_by {
            KnownBy::Guid => (
                format!(
                    "<guid isPermaLink=\"false\">f{feed}-{}</guid>",
                    self.article
                ),
                format!("<link>{address}</link>"),
            ),
            KnownBy::AddressGuid => (
                format!("<guid>{address}</guid>"),
                format!("<link>{address}</link>"),
            ),
            KnownBy::Link => (String::new(), format!("<link>{address}</link>")),
            KnownBy::Text => (
                String::new(),
                "<pubDate>Thu, 26 Nov 2026 09:00:00 GMT</pubDate>".to_owned(),
            ),
        };
        let words = if self.rule { " Peskov" } else { "" };
        format!(
            "<item><title>{title}</title>{guid}{link}<description>Text{words}</description></item>"
        )
    }
}

/// The stories of a document of `entries`, as the parse gives them, each with the hit
/// of rule `R` when it names Peskov.
fn parsed(feed: i64, entries: &[Entry]) -> Vec<Incoming> {
    let mut items = String::new();
    for (i, e) in entries.iter().enumerate() {
        // A document lists an article once.
        if entries[..i].iter().all(|o| o.article != e.article) {
            items.push_str(&e.item(feed));
        }
    }
    let text = format!("<rss version=\"2.0\"><channel><title>F</title>{items}</channel></rss>");
    let base = url::Url::parse("https://news.example/feed").unwrap();
    let feed = crate::story::parse_feed(text.as_bytes(), Some(&base), None, 1 << 20).unwrap();
    feed.stories
        .into_iter()
        .map(|story| {
            let hits = if story.summary.contains("Peskov") {
                vec![hit("R")]
            } else {
                Vec::new()
            };
            Incoming::matched(story, hits)
        })
        .collect()
}

fn known_by() -> impl Strategy<Value = KnownBy> {
    prop_oneof![
        Just(KnownBy::Guid),
        Just(KnownBy::AddressGuid),
        Just(KnownBy::Link),
        Just(KnownBy::Text)
    ]
}

fn entry() -> impl Strategy<Value = Entry> {
    (0u8..4, known_by(), any::<[bool; 5]>()).prop_map(
        |(article, known_by, [https, www, slash, title_corrected, rule])| Entry {
            article,
            known_by,
            https,
            www,
            slash,
            title_corrected,
            rule,
        },
    )
}

/// A fetch: feed A or B, and its document's entries.
fn fetch() -> impl Strategy<Value = (bool, Vec<Entry>)> {
    (any::<bool>(), proptest::collection::vec(entry(), 1..5))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn every_fetch_is_written_and_the_same_fetch_again_brings_nothing_new(
        fetches in proptest::collection::vec(fetch(), 1..8)
    ) {
        let (mut store, a, b) = setup();
        for (i, (on_a, entries)) in fetches.iter().enumerate() {
            let feed = if *on_a { a } else { b };
            let incoming = parsed(feed, entries);
            let now = 1_000 + 100 * i as i64;
            let written = store.ingest(&job(feed, incoming.clone(), now));
            prop_assert!(written.is_ok(), "fetch {i}: {written:?}");
            let stories = count(&store, "SELECT COUNT(*) FROM stories");
            let alerts = count(&store, "SELECT COUNT(*) FROM outbox");
            let again = store.ingest(&job(feed, incoming, now + 10)).unwrap();
            prop_assert_eq!(
                (again.new_stories, again.new_hits, again.alerts_queued),
                (0, 0, 0),
                "fetch {} written again", i
            );
            prop_assert_eq!(count(&store, "SELECT COUNT(*) FROM stories"), stories);
            prop_assert_eq!(count(&store, "SELECT COUNT(*) FROM outbox"), alerts);
        }
    }

    /// A feed that goes back to a document it served before (a cache behind a load
    /// balancer serving an older copy, a story taken down and put back) brings no story
    /// that document did not bring the first time — when each feed knows each article
    /// one way throughout (its guid, its address as guid, its link, or its title and
    /// date), as a publishing system does; the address's form and the title may change.
    #[test]
    fn a_document_served_again_later_brings_no_new_story(
        fetches in proptest::collection::vec(fetch(), 2..8),
        known_by in proptest::collection::vec(known_by(), 8),
        again in any::<proptest::sample::Index>(),
    ) {
        let (mut store, a, b) = setup();
        let mut written = Vec::new();
        for (i, (on_a, entries)) in fetches.iter().enumerate() {
            let feed = if *on_a { a } else { b };
            let entries: Vec<Entry> = entries
                .iter()
                .map(|e| Entry {
                    known_by: known_by[usize::from(e.article) * 2 + usize::from(*on_a)],
                    ..e.clone()
                })
                .collect();
            let incoming = parsed(feed, &entries);
            store.ingest(&job(feed, incoming.clone(), 1_000 + 100 * i as i64)).unwrap();
            written.push((feed, incoming));
        }
        let (feed, incoming) = written[again.index(written.len() - 1)].clone();
        let outcome = store.ingest(&job(feed, incoming, 10_000)).unwrap();
        prop_assert_eq!(outcome.new_stories, 0, "{:?}", outcome);
    }
}
