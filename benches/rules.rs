//! Matching throughput of the rule set over realistic stories.
//!
//! Stories are the titles and summaries of the feed corpus (`NEWSHOUND_CORPUS`, default
//! `../shared/corpus`); rules are generated from the corpus's own vocabulary in the
//! shapes of the design's three rules. Run with `cargo bench --bench rules`.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{BenchmarkId, Criterion, Throughput};
use newshound::rules::{Document, Field, Query, RuleSet, fold, tokenize};

struct Story {
    title: String,
    summary: String,
}

fn corpus_dir() -> PathBuf {
    std::env::var_os("NEWSHOUND_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"))
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
fn strip_tags(html: &str) -> String {
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

fn load_stories() -> Vec<Story> {
    std::panic::set_hook(Box::new(|_| {}));
    let mut paths = Vec::new();
    files(&corpus_dir(), &mut paths);
    paths.sort();
    let mut stories = Vec::new();
    for path in paths {
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
struct Rng(u64);

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

fn vocabulary(stories: &[Story]) -> Vec<String> {
    let mut words: Vec<String> = stories
        .iter()
        .flat_map(|s| tokenize(&s.title).into_iter().chain(tokenize(&s.summary)))
        .map(|t| t.text)
        .filter(|w| w.chars().count() >= 4 && w.chars().all(char::is_alphabetic))
        .collect();
    words.sort();
    words.dedup();
    words
}

fn prefix(rng: &mut Rng, vocab: &[String]) -> String {
    let word = rng.pick(vocab);
    let keep = 4 + (rng.next() % 3) as usize;
    format!("{}*", word.chars().take(keep).collect::<String>())
}

/// Rules in the shapes operators write: names with alternatives, NEAR over OR groups,
/// phrases, scoped words with exclusions.
fn generate_rules(n: usize, vocab: &[String]) -> Vec<Query> {
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

fn match_all(set: &RuleSet, stories: &[Story], naive: bool) -> usize {
    let mut hits = 0;
    for story in stories {
        let doc = Document::new([
            (Field::Title, story.title.as_str()),
            (Field::Summary, story.summary.as_str()),
        ]);
        hits += if naive {
            set.matches_naive(&doc).len()
        } else {
            set.matches(&doc).len()
        };
    }
    hits
}

fn resident_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// Compiles the rules listed in a file, one per line, and prints how much the resident
/// memory grew. Runs in a fresh child process, so memory freed by loading the corpus
/// cannot hide the cost.
fn measure_compiled_memory(rules_file: &Path) {
    let sources = std::fs::read_to_string(rules_file).expect("rules file");
    let before = resident_bytes();
    let set = RuleSet::new(
        sources
            .lines()
            .map(|q| Query::parse(q).expect("rule parses")),
    );
    let after = resident_bytes();
    println!(
        "compiled {} rules: resident memory grew by {:.1} MB ({} rules unindexed)",
        set.len(),
        (after.saturating_sub(before)) as f64 / 1e6,
        set.unindexed()
    );
}

fn main() {
    if let Some(file) = std::env::var_os("NEWSHOUND_BENCH_RULES_FILE") {
        measure_compiled_memory(Path::new(&file));
        return;
    }
    let stories = load_stories();
    if stories.is_empty() {
        eprintln!(
            "no stories found under {}: set NEWSHOUND_CORPUS",
            corpus_dir().display()
        );
        return;
    }
    let vocab = vocabulary(&stories);
    let bytes: usize = stories
        .iter()
        .map(|s| s.title.len() + s.summary.len())
        .sum();
    println!(
        "corpus: {} stories, {} bytes of title + summary, {} distinct words",
        stories.len(),
        bytes,
        vocab.len()
    );
    let _ = fold("warm up the normalisation tables");

    let rules = generate_rules(10_000, &vocab);
    let rules_file =
        std::env::temp_dir().join(format!("newshound-bench-{}.rules", std::process::id()));
    let listing: String = rules.iter().map(|q| format!("{}\n", q.source())).collect();
    std::fs::write(&rules_file, listing).expect("write the rules file");
    let status = std::process::Command::new(std::env::current_exe().expect("own path"))
        .env("NEWSHOUND_BENCH_RULES_FILE", &rules_file)
        .status();
    let _ = std::fs::remove_file(&rules_file);
    if !status.is_ok_and(|s| s.success()) {
        eprintln!("measuring compiled memory failed");
    }
    let big = RuleSet::new(rules);
    let candidates: usize = stories
        .iter()
        .map(|s| {
            let doc = Document::new([
                (Field::Title, s.title.as_str()),
                (Field::Summary, s.summary.as_str()),
            ]);
            big.candidates(&doc).len()
        })
        .sum();
    println!(
        "10000 rules: {:.1} candidate rules evaluated per story on average",
        candidates as f64 / stories.len() as f64
    );

    let mut criterion = Criterion::default().configure_from_args();
    let mut group = criterion.benchmark_group("match");
    group.sample_size(10);
    group.throughput(Throughput::Elements(stories.len() as u64));
    for n in [100, 1_000, 10_000] {
        let set = if n == 10_000 {
            None
        } else {
            Some(RuleSet::new(generate_rules(n, &vocab)))
        };
        let set = set.as_ref().unwrap_or(&big);
        group.bench_with_input(BenchmarkId::new("indexed", n), set, |b, set| {
            b.iter(|| black_box(match_all(set, &stories, false)))
        });
    }
    group.finish();

    // Indexed against naive, on documents prepared beforehand: preparing a story (cutting
    // and folding its words) costs the same either way and is needed for storage too,
    // so this isolates what the index saves. Evaluating every rule is slow; a slice of
    // the stories is enough to measure it.
    let slice = &stories[..stories.len().min(500)];
    let docs: Vec<Document<'_>> = slice
        .iter()
        .map(|s| {
            Document::new([
                (Field::Title, s.title.as_str()),
                (Field::Summary, s.summary.as_str()),
            ])
        })
        .collect();
    let mut group = criterion.benchmark_group("prepared");
    group.sample_size(10);
    group.throughput(Throughput::Elements(docs.len() as u64));
    group.bench_function(BenchmarkId::new("naive", 10_000), |b| {
        b.iter(|| {
            docs.iter()
                .map(|d| big.matches_naive(d).len())
                .sum::<usize>()
        })
    });
    group.bench_function(BenchmarkId::new("indexed", 10_000), |b| {
        b.iter(|| docs.iter().map(|d| big.matches(d).len()).sum::<usize>())
    });
    group.bench_function(BenchmarkId::new("prepare-only", 0), |b| {
        b.iter(|| {
            slice
                .iter()
                .map(|s| {
                    Document::new([
                        (Field::Title, s.title.as_str()),
                        (Field::Summary, s.summary.as_str()),
                    ])
                    .words()
                    .count()
                })
                .sum::<usize>()
        })
    });
    group.finish();
    criterion.final_summary();
}
