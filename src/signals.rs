//! SIGTERM and SIGINT, delivered to a thread instead of a handler (see `sys::signals`).

use crate::sys::{self, Signal};
use std::thread;

pub use sys::block_termination;

/// Runs `on_signal` with the signal once SIGTERM or SIGINT arrives, then `on_again` if
/// another one does (an impatient operator: stop at once). If signals cannot be waited
/// for, runs `on_error` with the reason instead (a server that cannot hear SIGTERM cannot
/// drain, so the caller stops it rather than run on deaf).
pub fn on_termination(
    on_signal: impl FnOnce(Signal) + Send + 'static,
    on_again: impl FnOnce(Signal) + Send + 'static,
    on_error: impl FnOnce(std::io::Error) + Send + 'static,
) -> std::io::Result<()> {
    thread::Builder::new()
        .name("signals".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            match wait() {
                Ok(signal) => on_signal(signal),
                Err(e) => return on_error(e),
            }
            // Should this wait fail, the drain goes on, bounded by its grace period.
            if let Ok(signal) = wait() {
                on_again(signal);
            }
        })
        .map(|_| ())
}

fn wait() -> std::io::Result<Signal> {
    if crate::faults::injected("sigwait") {
        Err(std::io::Error::from_raw_os_error(22)) // EINVAL, the one error sigwait has
    } else {
        sys::wait_for_termination()
    }
}
