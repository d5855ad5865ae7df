//! Replays every saved fuzzing crash through the same entry points the fuzz targets use,
//! so a regression shows in `cargo test` without a fuzzer.

use std::path::Path;

fn replay(target: &str, entry: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    for file in files {
        let data = std::fs::read(&file).unwrap();
        let outcome = std::panic::catch_unwind(|| entry(&data));
        assert!(outcome.is_ok(), "{} panics", file.display());
    }
}

#[test]
fn query_crashes_stay_fixed() {
    replay("query", newshound::fuzzing::query);
}

#[test]
fn feed_crashes_stay_fixed() {
    replay("feed", newshound::fuzzing::feed);
}

#[test]
fn config_crashes_stay_fixed() {
    replay("config", newshound::fuzzing::config);
}
