//! The corpus sweep: every real-world feed in `NEWSHOUND_CORPUS` goes through decode →
//! parse → normalise → match without a panic, yielding stories or a clear error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use newshound::rules::{Document, Query, RuleSet};
use newshound::story::{FeedError, parse_feed};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir)
        .expect("corpus folder is readable")
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else if !matches!(
            path.file_name().and_then(|n| n.to_str()),
            Some("README.md" | "MANIFEST.tsv")
        ) {
            out.push(path);
        }
    }
}

/// The `header:` charset the upstream test pretends was sent, from MANIFEST.tsv notes.
fn manifest_charsets(corpus: &Path) -> BTreeMap<String, String> {
    let Ok(manifest) = std::fs::read_to_string(corpus.join("MANIFEST.tsv")) else {
        return BTreeMap::new();
    };
    manifest
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            let notes = cols.get(5)?;
            let header = notes
                .split(';')
                .find_map(|n| n.trim().strip_prefix("header:"))?;
            let charset = newshound::story::charset_of(
                header.trim().trim_start_matches("Content-Type:").trim(),
            )?;
            Some((cols[0].to_owned(), charset))
        })
        .collect()
}

#[test]
fn corpus_sweep() {
    let Some(corpus) = std::env::var_os("NEWSHOUND_CORPUS").map(PathBuf::from) else {
        println!("corpus sweep did not run: set NEWSHOUND_CORPUS to the feed corpus folder");
        return;
    };
    let mut paths = Vec::new();
    files(&corpus, &mut paths);
    paths.sort();
    assert!(
        paths.len() > 2000,
        "the corpus at {} holds {} files",
        corpus.display(),
        paths.len()
    );
    let charsets = manifest_charsets(&corpus);
    let rules = RuleSet::new(
        [
            "Peskov OR Песков",
            r#"Ukrain* NEAR/12 (talks OR negotiat* OR "peace deal" OR ceasefire)"#,
            r#"embass* NEAR/8 (reopen* OR "resume normal operations")"#,
            "/[a-z]+ing\\b/",
        ]
        .map(|q| Query::parse(q).unwrap()),
    );
    let (mut parsed, mut repaired, mut stories, mut hits) = (0, 0, 0, 0);
    let mut errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for path in &paths {
        let bytes = std::fs::read(path).unwrap();
        let relative = path
            .strip_prefix(&corpus)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let charset = charsets.get(&relative).map(String::as_str);
        match parse_feed(&bytes, None, charset, 50 << 20) {
            Ok(feed) => {
                parsed += 1;
                repaired += usize::from(!feed.repairs.is_empty());
                for story in &feed.stories {
                    stories += 1;
                    let authors = story.authors.join(", ");
                    let categories = story.categories.join(", ");
                    let fields = story.fields(&authors, &categories, "corpus");
                    // As `once` matches, on a document of the rules' vocabulary; it
                    // must agree with the fully indexed document on real text.
                    let found = rules.matches(&rules.document(fields));
                    assert_eq!(
                        found,
                        rules.matches(&Document::new(fields)),
                        "{relative}: a story matched differently on its vocabulary"
                    );
                    hits += found.len();
                }
            }
            Err(e) => {
                let class = match &e {
                    FeedError::Decode(d) => format!("decode: {d}"),
                    FeedError::Html { .. } => "HTML page".to_owned(),
                    FeedError::NotAFeed(m) => {
                        let m: String = m.chars().take_while(|c| !c.is_ascii_digit()).collect();
                        format!("not a feed: {}", m.trim())
                    }
                };
                if std::env::var_os("NEWSHOUND_CORPUS_LIST").is_some() {
                    println!("ERR\t{relative}\t{class}");
                }
                errors.entry(class).or_default().push(relative);
            }
        }
    }
    println!(
        "corpus: {} files, {parsed} parsed ({repaired} repaired), {stories} stories, {hits} hits",
        paths.len()
    );
    for (class, files) in &errors {
        println!("  {:4} {class}  e.g. {}", files.len(), files[0]);
    }
    assert!(
        parsed * 100 / paths.len() >= 80,
        "only {parsed} of {} files parsed",
        paths.len()
    );
}

/// Scripting News publishes one feed as RSS and as RSS written as JSON; the corpus holds
/// both, from the same day: they must give the same stories.
#[test]
fn rss_written_as_json_gives_the_stories_of_its_rss() {
    let Some(corpus) = std::env::var_os("NEWSHOUND_CORPUS").map(PathBuf::from) else {
        println!("corpus comparison did not run: set NEWSHOUND_CORPUS to the feed corpus folder");
        return;
    };
    let read = |name: &str| {
        let bytes = std::fs::read(corpus.join("netnewswire").join(name)).unwrap();
        parse_feed(&bytes, None, None, 50 << 20).unwrap()
    };
    let (json, rss) = (read("ScriptingNews.json"), read("scriptingNews.rss"));
    assert_eq!(json.stories.len(), 50);
    assert_eq!(json.stories, rss.stories);
    assert_eq!(json.title, rss.title);
}
