//! Entry points for the fuzz targets in `fuzz/`, public so that `cargo test` replays the
//! saved crash inputs through exactly the same code without a fuzzer.

use std::io::Write;
use std::sync::LazyLock;

use crate::rules::{Document, Field, Query, RuleSet};
use crate::story::parse_feed;

/// Rules shaped like real ones, matched against every fuzzed story.
static RULES: LazyLock<RuleSet> = LazyLock::new(|| {
    RuleSet::new(
        [
            "Peskov OR Песков",
            r#"Ukrain* NEAR/12 (talks OR negotiat* OR "peace deal" OR ceasefire)"#,
            r#"embass* NEAR/8 (reopen* OR "resume normal operations")"#,
            "title:news -sport",
            "/[a-z]+ing/",
        ]
        .map(|q| Query::parse(q).expect("the fuzzing rules parse")),
    )
});

/// A query: parse it, and when it parses, read its notes and hints and match it against a
/// few texts.
pub fn query(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(query) = Query::parse(&text) {
        let _ = query.notes();
        let _ = query.hints();
        for sample in [
            text.as_ref(),
            "Peskov said the embassy would reopen for talks",
            "Песков: ΑΘΗΝΑ 北京 ＰＥＳＫＯＶ's",
        ] {
            let doc = Document::new([(Field::Title, sample), (Field::Summary, sample)]);
            let _ = query.matches(&doc);
        }
    }
}

/// Feed bytes: decode, parse (with repairs), normalise, and match every story.
pub fn feed(data: &[u8]) {
    let base = url::Url::parse("https://fuzz.example/feed").expect("valid URL");
    if let Ok(feed) = parse_feed(data, Some(&base), None, 1 << 20) {
        for story in &feed.stories {
            let authors = story.authors.join(", ");
            let categories = story.categories.join(", ");
            let fields = story.fields(&authors, &categories, "fuzz");
            // As `once` matches, on a document of the rules' vocabulary, which must
            // agree with the fully indexed document.
            assert_eq!(
                RULES.matches(&RULES.document(fields)),
                RULES.matches(&Document::new(fields)),
                "a story matched differently on its vocabulary"
            );
            let _ = story.content_hash();
        }
    }
}

/// A configuration file: load and validate it (includes resolve next to it, in a
/// private temporary folder).
pub fn config(data: &[u8]) {
    let Ok(dir) = tempfile::tempdir() else { return };
    let path = dir.path().join("newshound.toml");
    let written = std::fs::File::create(&path).and_then(|mut f| f.write_all(data));
    if written.is_ok() {
        let _ = crate::config::Config::load(&path);
    }
}
