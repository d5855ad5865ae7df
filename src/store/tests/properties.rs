//! Properties of the store's dedupe over generated sequences of fetches, documents read
//! by the parse as a fetch's are: feeds that list a few articles under guids, links or
//! title and date, or under guids and links stamped anew on every fetch, with titles or
//! without, links written in a site's several forms (scheme, `www.`, trailing slash),
//! titles corrected, one feed's articles in another's — each fetch written without an
//! error, and the same fetch written again bringing nothing new.

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
    /// Without a title: the entry's text names the article (a weblog's notes).
    untitled: bool,
    /// The fetch it is listed in, which a [`KnownBy::Stamped`] feed writes into its
    /// guids and links.
    stamp: usize,
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
    /// A guid of the feed's own, and the site's front page for every link.
    GuidFrontPage,
    /// No guid, and the site's front page for every link.
    FrontPage,
    /// The site's front page for every guid, and the article's address for its link.
    SharedGuid,
    /// The article's address with the fetch stamped in as its guid and link, and a date
    /// of its own: every fetch gives every entry a new identity.
    Stamped,
}

impl Entry {
    fn address(&self) -> String {
        format!(
            "{}{}{}",
            self.front_page(),
            self.article,
            if self.slash { "/" } else { "" }
        )
    }

    fn front_page(&self) -> String {
        format!(
            "{}://{}news.example/",
            if self.https { "https" } else { "http" },
            if self.www { "www." } else { "" },
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
            KnownBy::Text => (String::new(), DATE.to_owned()),
            KnownBy::GuidFrontPage => (
                format!(
                    "<guid isPermaLink=\"false\">f{feed}-{}</guid>",
                    self.article
                ),
                format!("<link>{}</link>", self.front_page()),
            ),
            KnownBy::FrontPage => (
                String::new(),
                format!("<link>{}</link>{DATE}", self.front_page()),
            ),
            KnownBy::SharedGuid => (
                format!("<guid>{}</guid>", self.front_page()),
                format!("<link>{address}</link>"),
            ),
            KnownBy::Stamped => (
                format!("<guid>{address}?req={}</guid>", self.stamp),
                format!(
                    "<link>{address}?req={}</link><pubDate>Thu, 26 Nov 2026 0{}:00:00 GMT</pubDate>",
                    self.stamp, self.article
                ),
            ),
        };
        let words = if self.rule { " Peskov" } else { "" };
        if self.untitled {
            format!("<item>{guid}{link}<description>{title}: text{words}</description></item>")
        } else {
            format!(
                "<item><title>{title}</title>{guid}{link}<description>Text{words}</description></item>"
            )
        }
    }
}

/// The stories of a document of `entries`, as the parse gives them, each with the hit
/// of rule `R` when it names Peskov. A document writes its addresses in one form
/// (`https`, `www`, `slash`), as the site's publishing system does at the time.
fn parsed(feed: i64, [https, www, slash]: [bool; 3], entries: &[Entry]) -> Vec<Incoming> {
    let mut items = String::new();
    for (i, e) in entries.iter().enumerate() {
        // A document lists an article once.
        if entries[..i].iter().all(|o| o.article != e.article) {
            let e = Entry {
                https,
                www,
                slash,
                ..e.clone()
            };
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
        Just(KnownBy::Text),
        Just(KnownBy::GuidFrontPage),
        Just(KnownBy::FrontPage),
        Just(KnownBy::SharedGuid),
        Just(KnownBy::Stamped),
    ]
}

const DATE: &str = "<pubDate>Thu, 26 Nov 2026 09:00:00 GMT</pubDate>";

fn entry() -> impl Strategy<Value = Entry> {
    (0u8..4, any::<[bool; 2]>()).prop_map(|(article, [title_corrected, rule])| Entry {
        article,
        known_by: KnownBy::Guid,
        https: false,
        www: false,
        slash: false,
        title_corrected,
        rule,
        untitled: false,
        stamp: 0,
    })
}

/// What the generated fetches have in common: how each feed's publishing system knows
/// its entries, and the site's addresses before and after it moves (to HTTPS, to `www.`
/// or its bare domain, to permalinks ending in `/`) at one point of the sequence — the
/// feeds read after it list the new addresses, the ones before the old.
#[derive(Debug, Clone)]
struct World {
    known_by: [KnownBy; 2],
    /// Whether each feed's entries go without titles.
    untitled: [bool; 2],
    before: [bool; 3],
    after: [bool; 3],
    moves_at: usize,
}

impl World {
    /// The stories of fetch `i` of feed A (`on_a`) or B listing `entries`.
    fn parsed(&self, i: usize, on_a: bool, feed: i64, entries: &[Entry]) -> Vec<Incoming> {
        let form = if i < self.moves_at {
            self.before
        } else {
            self.after
        };
        let (known_by, untitled) = (
            self.known_by[usize::from(on_a)],
            self.untitled[usize::from(on_a)],
        );
        // A feed that gives all its entries one link or one guid lists several: one
        // entry alone under it cannot be told from the one before; and its articles are
        // told apart by their titles, so a corrected title is another article (limits
        // README states).
        let shares = matches!(
            known_by,
            KnownBy::GuidFrontPage | KnownBy::FrontPage | KnownBy::SharedGuid
        );
        let mut entries: Vec<Entry> = entries
            .iter()
            .map(|e| Entry {
                known_by,
                title_corrected: e.title_corrected && !shares,
                untitled,
                stamp: i,
                ..e.clone()
            })
            .collect();
        if shares && entries.iter().all(|e| e.article == entries[0].article) {
            entries.push(Entry {
                article: (entries[0].article + 1) % 4,
                title_corrected: false,
                ..entries[0].clone()
            });
        }
        // (An untitled entry's text is its name: under a shared link, text that changes
        // is another article, as a corrected title is. Its text is its article's.)
        if untitled && shares {
            for e in &mut entries {
                e.rule = e.article % 2 == 0;
            }
        }
        parsed(feed, form, &entries)
    }
}

fn world() -> impl Strategy<Value = World> {
    (
        [known_by(), known_by()],
        any::<[bool; 2]>(),
        any::<[bool; 3]>(),
        any::<[bool; 3]>(),
        0usize..8,
    )
        .prop_map(|(known_by, untitled, before, after, moves_at)| World {
            known_by,
            untitled,
            before,
            after,
            moves_at,
        })
}

/// A fetch: feed A or B, and its document's entries.
fn fetch() -> impl Strategy<Value = (bool, Vec<Entry>)> {
    (any::<bool>(), proptest::collection::vec(entry(), 1..5))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn every_fetch_is_written_and_the_same_fetch_again_brings_nothing_new(
        world in world(),
        fetches in proptest::collection::vec(fetch(), 1..8),
    ) {
        let (mut store, a, b) = setup();
        for (i, (on_a, entries)) in fetches.iter().enumerate() {
            let feed = if *on_a { a } else { b };
            let incoming = world.parsed(i, *on_a, feed, entries);
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
    /// that document did not bring the first time — also after retention has emptied
    /// the stories without hits (`pruned`).
    #[test]
    fn a_document_served_again_later_brings_no_new_story(
        world in world(),
        fetches in proptest::collection::vec(fetch(), 2..8),
        again in any::<proptest::sample::Index>(),
        pruned in any::<bool>(),
    ) {
        let (mut store, a, b) = setup();
        let mut written = Vec::new();
        for (i, (on_a, entries)) in fetches.iter().enumerate() {
            let feed = if *on_a { a } else { b };
            let incoming = world.parsed(i, *on_a, feed, entries);
            store.ingest(&job(feed, incoming.clone(), 1_000 + 100 * i as i64)).unwrap();
            written.push((feed, incoming));
        }
        if pruned {
            // Every story without hits loses its text; none is old enough to be deleted.
            store.prune(10_000, std::time::Duration::from_secs(5_000)).unwrap();
        }
        let (feed, incoming) = written[again.index(written.len() - 1)].clone();
        let outcome = store.ingest(&job(feed, incoming, 10_000)).unwrap();
        prop_assert_eq!(outcome.new_stories, 0, "{:?}", outcome);
    }
}
