//! Logging setup: human-readable lines on a terminal, and journald's format under
//! systemd — no colours or timestamps (the journal adds its own), and a syslog priority
//! prefix (`<3>` errors … `<7>` debug) so the journal keeps each line's level.

use std::fmt;
use std::io::IsTerminal;
use std::sync::OnceLock;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, Registry, reload};

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Commands: stderr, leaving stdout to their output.
    Stderr,
    /// The daemon: stdout, which systemd hands to the journal.
    Stdout,
}

/// Other crates' messages, at most warnings, except the certificate verifier's: it logs
/// an error for each certificate it refuses, which newshound reports itself, naming the
/// feed or channel it concerns.
const OTHERS: &str = "warn,rustls_platform_verifier=off";

/// The running filter's handle, to change the level at a reload.
static FILTER: OnceLock<reload::Handle<EnvFilter, Registry>> = OnceLock::new();

/// The filter for the config's `[log] level` (newshound at info without one).
fn filter_for(level: Option<&str>) -> EnvFilter {
    EnvFilter::new(format!("newshound={},{OTHERS}", level.unwrap_or("info")))
}

/// Starts logging. `RUST_LOG` wins; else `level` (the config's `[log] level`); else
/// newshound at info.
pub fn init(target: Target, level: Option<&str>) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| filter_for(level));
    let (filter, handle) = reload::Layer::new(filter);
    let journal = std::env::var_os("JOURNAL_STREAM").is_some();
    let lines = tracing_subscriber::fmt::layer();
    let lines = match (target, journal) {
        (Target::Stdout, true) => lines
            .with_ansi(false)
            .event_format(Journald)
            .with_writer(std::io::stdout)
            .boxed(),
        (Target::Stderr, true) => lines
            .with_ansi(false)
            .event_format(Journald)
            .with_writer(std::io::stderr)
            .boxed(),
        (Target::Stdout, false) => lines
            .with_ansi(colour(std::io::stdout().is_terminal()))
            .with_writer(std::io::stdout)
            .boxed(),
        (Target::Stderr, false) => lines
            .with_ansi(colour(std::io::stderr().is_terminal()))
            .with_writer(std::io::stderr)
            .boxed(),
    };
    // A second init (in tests) keeps the first subscriber.
    if tracing_subscriber::registry()
        .with(filter)
        .with(lines)
        .try_init()
        .is_ok()
    {
        let _ = FILTER.set(handle);
    }
}

/// Applies a reloaded config's `[log] level`, unless `RUST_LOG` sets the filter.
pub fn set_level(level: Option<&str>) {
    if std::env::var_os("RUST_LOG").is_some() {
        return;
    }
    if let Some(handle) = FILTER.get()
        && let Err(error) = handle.reload(filter_for(level))
    {
        tracing::warn!(%error, "cannot change the log level");
    }
}

fn colour(terminal: bool) -> bool {
    terminal && std::env::var_os("NO_COLOR").is_none()
}

/// The syslog priority of a level.
fn priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

/// `<priority>target: message fields`, one line per event.
struct Journald;

impl<S, N> FormatEvent<S, N> for Journald
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        write!(writer, "<{}>{}: ", priority(meta.level()), meta.target())?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}
