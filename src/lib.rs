//! newshound watches news feeds for the stories a person cares about.
//!
//! The library holds everything the `newshound` binary does; `main.rs` only parses the
//! command line and maps outcomes to exit codes. See `ARCHITECTURE.md` for the map.

pub mod alert;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod fetch;
#[doc(hidden)]
pub mod fuzzing;
pub mod ingest;
pub mod lockfile;
#[doc(hidden)]
pub mod log_capture;
pub mod logging;
pub mod rules;
pub mod store;
pub mod story;
