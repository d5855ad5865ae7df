#![no_main]
//! Fuzzes `newshound::fuzzing::feed`: it must never panic, whatever the input.
//!
//! feed-rs panics on some malformed documents and newshound catches those; so the
//! panic hook stays quiet, and only a panic that escapes newshound aborts (a crash).

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: std::panic::set_hook(Box::new(|_| {})),
    |data: &[u8]| {
        if std::panic::catch_unwind(|| newshound::fuzzing::feed(data)).is_err() {
            std::process::abort();
        }
    }
);
