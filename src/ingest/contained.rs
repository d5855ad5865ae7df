//! Work on a feed kept from harming the rest: a feed's parse and matching run on
//! threads kept for them, and a panic in any of its work becomes that feed's error,
//! saying what the panic said, instead of ending the pass or the daemon.

use std::sync::Arc;

/// Runs `work`, turning a panic in it into an error that says what the panic said.
///
/// (A plain function returning the combinator, not an `async fn`: an `async fn` would
/// keep `work` both as its argument and in its own state, doubling the size of every
/// fetch task's future.)
pub fn catch_panic<F: Future>(work: F) -> impl Future<Output = Result<F::Output, String>> {
    use futures_util::FutureExt;
    std::panic::AssertUnwindSafe(work)
        .catch_unwind()
        .map(|caught| caught.map_err(|panic| panic_message(&*panic)))
}

/// What a panic said.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// Runs `work` — a feed's parse and matching — on one of the threads kept for it, one
/// per core; the future gives its result, or what it said if it panicked. Parsing is CPU
/// work: more at once would not finish sooner, and each parse running holds its
/// document's text and stories; on the runtime's blocking pool (a thread per fetch slot,
/// 32 by default) the allocator also kept an arena per thread, which it seldom gives
/// back — a pass over 6,000 feeds peaked at 147 MB so, against 91 MB on threads of their
/// own. (The job is queued when this is called; a plain function, as [`catch_panic`] is.)
pub(super) fn on_a_parse_thread<R: Send + 'static>(
    work: impl FnOnce() -> R + Send + 'static,
) -> impl Future<Output = Result<R, String>> {
    type Job = Box<dyn FnOnce() + Send>;
    static JOBS: std::sync::LazyLock<std::sync::mpsc::Sender<Job>> =
        std::sync::LazyLock::new(|| {
            let (jobs, queue) = std::sync::mpsc::channel::<Job>();
            let queue = Arc::new(std::sync::Mutex::new(queue));
            for i in 0..std::thread::available_parallelism().map_or(2, usize::from) {
                let queue = queue.clone();
                std::thread::Builder::new()
                    .name(format!("newshound-parse-{i}"))
                    .spawn(move || {
                        // The lock is held only to take the next job.
                        while let Ok(job) = queue
                            .lock()
                            .map_err(drop)
                            .and_then(|q| q.recv().map_err(drop))
                        {
                            job();
                        }
                    })
                    .expect("a parse thread starts");
            }
            jobs
        });
    let (reply, answer) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
        let _ = reply.send(result.map_err(|panic| panic_message(&*panic)));
    });
    let queued = JOBS.send(job).is_ok();
    async move {
        if !queued {
            return Err("the parse threads are gone".to_owned());
        }
        answer
            .await
            .unwrap_or_else(|_| Err("the parse thread stopped".to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::FeedFailure;

    #[tokio::test]
    async fn a_parse_thread_says_what_a_panic_said_and_goes_on() {
        assert_eq!(on_a_parse_thread(|| 7).await, Ok(7));
        let name = on_a_parse_thread(|| std::thread::current().name().map(str::to_owned));
        assert!(
            name.await.unwrap().unwrap().starts_with("newshound-parse-"),
            "runs on a parse thread"
        );
        for _ in 0..8 {
            let panicked = on_a_parse_thread(|| -> u8 { panic!("the parser lost its place") });
            assert_eq!(panicked.await, Err("the parser lost its place".to_owned()));
        }
        // More panics than threads, and every thread still works.
        let all = futures_util::future::join_all((0..8).map(|i| on_a_parse_thread(move || i)));
        assert_eq!(all.await, (0..8).map(Ok).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_panic_becomes_an_error_that_says_what_it_said() {
        assert_eq!(catch_panic(async { 7 }).await, Ok(7));
        let literal = catch_panic(async { panic!("the parser lost its place") }).await;
        assert_eq!(literal, Err("the parser lost its place".to_owned()));
        let index = 9;
        let formatted = catch_panic(async move {
            if index > 3 {
                panic!("index {index} out of range");
            }
        })
        .await;
        assert_eq!(formatted, Err("index 9 out of range".to_owned()));
        assert_eq!(
            FeedFailure::Internal("index 9 out of range".to_owned()).to_string(),
            "newshound failed on this feed (a bug; please report it): index 9 out of range"
        );
    }
}
