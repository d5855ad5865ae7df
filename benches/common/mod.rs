//! Helpers shared by the benchmarks: the feed corpus, and watch rules generated from
//! its vocabulary.

#![allow(dead_code)] // each benchmark uses a different part

use std::path::{Path, PathBuf};

use newshound::rules::{Query, tokenize};

pub struct Story {
    pub title: String,
    pub summary: String,
}

pub fn corpus_dir() -> PathBuf {
    std::env::var_os("NEWSHOUND_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"))
}

/// The corpus's feed documents (not its README or manifest), in a stable order.
pub fn corpus_files() -> Vec<PathBuf> {
    let mut paths = Vec::new();
    files(&corpus_dir(), &mut paths);
    paths.retain(|p| !p.ends_with("MANIFEST.tsv") && !p.ends_with("README.md"));
    paths.sort();
    paths
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Drops tags and collapses whitespace: enough to turn feed summaries into text.
pub fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn load_stories() -> Vec<Story> {
    std::panic::set_hook(Box::new(|_| {}));
    let mut stories = Vec::new();
    for path in corpus_files() {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        // feed-rs 3.0 panics on a few malformed corpus files; those are not stories.
        let Ok(Ok(feed)) = std::panic::catch_unwind(|| feed_rs::parser::parse(&bytes[..])) else {
            continue;
        };
        for entry in feed.entries {
            let title = entry
                .title
                .map(|t| strip_tags(&t.content))
                .unwrap_or_default();
            let summary = entry
                .summary
                .map(|t| strip_tags(&t.content))
                .unwrap_or_default();
            if !title.is_empty() || !summary.is_empty() {
                stories.push(Story { title, summary });
            }
        }
    }
    let _ = std::panic::take_hook();
    stories
}

/// A small deterministic generator, so every run benchmarks the same rules.
pub struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, items: &'a [String]) -> &'a str {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

pub fn vocabulary(stories: &[Story]) -> Vec<String> {
    // Words written with letters only: a word with a soft hyphen inside folds to letters
    // too, but leaving it out keeps the generated rules the same as before folding
    // dropped such marks, so that measurements stay comparable.
    let words_of = |text: &str| {
        tokenize(text)
            .into_iter()
            .filter(|t| text[t.start..t.end].chars().all(char::is_alphabetic))
            .map(|t| t.text)
            .collect::<Vec<_>>()
    };
    let mut words: Vec<String> = stories
        .iter()
        .flat_map(|s| words_of(&s.title).into_iter().chain(words_of(&s.summary)))
        .filter(|w| w.chars().count() >= 4 && w.chars().all(char::is_alphabetic))
        .collect();
    words.sort();
    words.dedup();
    words
}

pub fn prefix(rng: &mut Rng, vocab: &[String]) -> String {
    let word = rng.pick(vocab);
    let keep = 4 + (rng.next() % 3) as usize;
    format!("{}*", word.chars().take(keep).collect::<String>())
}

/// Rules in the shapes operators write: names with alternatives, NEAR over OR groups,
/// phrases, scoped words with exclusions.
pub fn generate_rules(n: usize, vocab: &[String]) -> Vec<Query> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut rules = Vec::with_capacity(n);
    while rules.len() < n {
        let w = |rng: &mut Rng| rng.pick(vocab).to_owned();
        let source = match rules.len() % 6 {
            0 => format!("{} OR {}", w(&mut rng), w(&mut rng)),
            1 => format!(
                "{} NEAR/12 ({} OR {} OR \"{} {}\" OR {})",
                prefix(&mut rng, vocab),
                w(&mut rng),
                prefix(&mut rng, vocab),
                w(&mut rng),
                w(&mut rng),
                w(&mut rng)
            ),
            2 => format!(
                "{} NEAR/8 ({} OR \"{} {} {}\" OR \"{} {}\")",
                prefix(&mut rng, vocab),
                prefix(&mut rng, vocab),
                w(&mut rng),
                w(&mut rng),
                w(&mut rng),
                w(&mut rng),
                w(&mut rng)
            ),
            3 => format!("{} {}", w(&mut rng), w(&mut rng)),
            4 => format!("title:{} -{}", w(&mut rng), w(&mut rng)),
            _ => format!("\"{} {}\"", w(&mut rng), w(&mut rng)),
        };
        rules.push(Query::parse(&source).expect("generated rules parse"));
    }
    rules
}
