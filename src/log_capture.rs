//! For tests of what newshound logs: the lines one thread writes while a [`Capture`]
//! lives, whatever other threads (other tests) do meanwhile.
//!
//! A subscriber set for one thread alone (`tracing::subscriber::set_default`) is not
//! enough. tracing caches, per call site, whether any subscriber wants its events; while
//! that thread's subscriber is the only one alive, a call site another thread meets
//! first is asked of the other thread's subscriber — none — and cached as wanted by
//! nobody, and the capturing thread's events there are lost. So a global subscriber is
//! installed first that wants no event but leaves every call site undecided: each event
//! is then asked about on the thread where it happens.

use std::sync::{Arc, Mutex, Once};

use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::{DefaultGuard, Interest};
use tracing::{Event, Level, Metadata, Subscriber};

/// The log lines (without times or colours) written on this thread at `level` and above,
/// from [`Capture::start`] to [`Capture::lines`].
pub struct Capture {
    buffer: Buffer,
    _guard: DefaultGuard,
}

impl Capture {
    pub fn start(level: Level) -> Capture {
        static UNDECIDED: Once = Once::new();
        UNDECIDED.call_once(|| {
            // Another global subscriber, if a test set one, serves as well: the call
            // sites it caches are asked again as each thread's subscriber is set.
            let _ = tracing::subscriber::set_global_default(Undecided);
        });
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(level)
            .with_ansi(false)
            .without_time()
            .with_writer(move || writer.clone())
            .finish();
        Capture {
            buffer,
            _guard: tracing::subscriber::set_default(subscriber),
        }
    }

    /// What was written so far.
    pub fn lines(&self) -> String {
        String::from_utf8_lossy(&self.buffer.0.lock().unwrap()).into_owned()
    }
}

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Wants no event, and decides about none ahead of time.
struct Undecided;

impl Subscriber for Undecided {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::sometimes()
    }

    fn enabled(&self, _: &Metadata<'_>) -> bool {
        false
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, _: &Event<'_>) {}

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_site_another_thread_meets_first_still_reaches_the_capture() {
        // The other thread meets the call site first, with no subscriber of its own,
        // while this thread's capture is the only subscriber alive.
        fn site() {
            tracing::info!("met");
        }
        let capture = Capture::start(Level::INFO);
        std::thread::spawn(site).join().unwrap();
        site();
        assert_eq!(
            capture.lines().trim(),
            "INFO newshound::log_capture::tests: met"
        );
    }
}
