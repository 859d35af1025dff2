//! SIGTERM and SIGINT, delivered to a thread instead of a handler.
//!
//! std has no signal API, so this declares the few C library functions it needs (std
//! already links the C library). The signals are blocked in every thread and collected
//! by `sigwait` in one: no async-signal-safety puzzles, and it works as PID 1 in a
//! container too, where a signal without a handler would be dropped, because the kernel
//! never drops a blocked signal.

use std::ffi::c_int;
use std::thread;

const SIG_BLOCK: c_int = 0;
const SIGINT: c_int = 2;
const SIGTERM: c_int = 15;

/// sigset_t is 128 bytes in both glibc and musl; the C functions fill it in.
#[repr(C, align(8))]
struct SigSet([u8; 128]);

// musl: `unsigned long __bits[128/sizeof(long)]`, glibc: 1024 bits of unsigned long, on
// x86_64 and aarch64 alike. The signal numbers and SIG_BLOCK above are asm-generic's on
// both (arm64's asm/signal.h includes asm-generic/signal.h); epoll.rs refuses other targets.
const _: () =
    assert!(size_of::<SigSet>() == 128 && align_of::<SigSet>() == align_of::<std::ffi::c_ulong>());

unsafe extern "C" {
    fn sigemptyset(set: *mut SigSet) -> c_int;
    fn sigaddset(set: *mut SigSet, signum: c_int) -> c_int;
    fn pthread_sigmask(how: c_int, set: *const SigSet, old: *mut SigSet) -> c_int;
    fn sigwait(set: *const SigSet, sig: *mut c_int) -> c_int;
}

fn termination_signals() -> SigSet {
    let mut set = SigSet([0; 128]);
    // SAFETY: `set` is a valid, writable sigset_t-sized buffer.
    unsafe {
        sigemptyset(&mut set);
        sigaddset(&mut set, SIGTERM);
        sigaddset(&mut set, SIGINT);
    }
    set
}

/// Blocks SIGTERM and SIGINT in the calling thread and every thread it starts later.
/// Call it first thing in `main`, before any thread exists.
pub fn block_termination() {
    let set = termination_signals();
    // SAFETY: `set` is initialised; a null old-set pointer is allowed.
    let rc = unsafe { pthread_sigmask(SIG_BLOCK, &set, std::ptr::null_mut()) };
    assert_eq!(rc, 0, "pthread_sigmask failed");
}

/// Runs `on_signal` with the signal's name once SIGTERM or SIGINT arrives; if signals
/// cannot be waited for, runs `on_error` with the reason instead (a server that cannot
/// hear SIGTERM cannot drain, so the caller stops it rather than run on deaf).
pub fn on_termination(
    on_signal: impl FnOnce(&'static str) + Send + 'static,
    on_error: impl FnOnce(std::io::Error) + Send + 'static,
) -> std::io::Result<()> {
    thread::Builder::new()
        .name("signals".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            let set = termination_signals();
            let mut signal: c_int = 0;
            let rc = if crate::faults::injected("sigwait") {
                22 // EINVAL, the one error sigwait has
            } else {
                // SAFETY: both pointers are valid for the duration of the call.
                unsafe { sigwait(&set, &mut signal) }
            };
            match (rc, signal) {
                (0, SIGINT) => on_signal("SIGINT"),
                (0, _) => on_signal("SIGTERM"),
                // sigwait returns the error number rather than setting errno.
                (rc, _) => on_error(std::io::Error::from_raw_os_error(rc)),
            }
        })
        .map(|_| ())
}
