//! Matching throughput of the rule set over realistic stories.
//!
//! Stories are the titles and summaries of the feed corpus (`NEWSHOUND_CORPUS`, default
//! `../shared/corpus`); rules are generated from the corpus's own vocabulary in the
//! shapes of the design's three rules. Run with `cargo bench --bench rules`.

use std::hint::black_box;
use std::path::Path;

use criterion::{BenchmarkId, Criterion, Throughput};
mod common;

use common::{Story, corpus_dir, generate_rules, load_stories, vocabulary};
use newshound::rules::{Document, Field, Query, RuleSet, fold};

fn match_all(set: &RuleSet, stories: &[Story], naive: bool) -> usize {
    let mut hits = 0;
    for story in stories {
        let fields = [
            (Field::Title, story.title.as_str()),
            (Field::Summary, story.summary.as_str()),
        ];
        // As newshound matches: a document holding the words the set looks up.
        hits += if naive {
            set.matches_naive(&Document::new(fields)).len()
        } else {
            set.matches(&set.document(fields)).len()
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
