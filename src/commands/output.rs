//! Standard output for the commands' output, and whether its reader has gone: `newshound
//! hits | head` ends the command quietly, as it ends any Unix tool, while a broken pipe
//! of another stream (a server's, a command's) is still a failure to report.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set when a write to standard output found its reader gone.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Standard output (or its lock), noting when its reader has gone.
pub struct Watched<W>(pub W);

impl<W: Write> Write for Watched<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf).inspect_err(note_closed)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush().inspect_err(note_closed)
    }
}

fn note_closed(error: &io::Error) {
    if error.kind() == io::ErrorKind::BrokenPipe {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
    }
}

/// Standard output, locked, for a command's output.
pub fn stdout() -> Watched<io::StdoutLock<'static>> {
    Watched(io::stdout().lock())
}

/// Whether an error is standard output's reader having gone: a broken pipe, after a
/// write to standard output met one.
pub fn reader_gone(error: &anyhow::Error) -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
        && error.chain().any(|e| {
            let kind = match (
                e.downcast_ref::<io::Error>(),
                e.downcast_ref::<serde_json::Error>(),
            ) {
                (Some(e), _) => Some(e.kind()),
                // (JSON's writer keeps the error of the writer it wrote to.)
                (_, Some(e)) => e.io_error_kind(),
                _ => None,
            };
            kind == Some(io::ErrorKind::BrokenPipe)
        })
}
