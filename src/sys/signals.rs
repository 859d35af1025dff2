//! SIGTERM and SIGINT, collected by `sigwait` in one thread instead of a handler: no
//! async-signal-safety puzzles, and it works as PID 1 in a container too, where a signal
//! without a handler would be dropped, because the kernel never drops a blocked signal.

use std::ffi::c_int;
use std::io;

pub(super) const SIG_BLOCK: c_int = 0;
pub(super) const SIGINT: c_int = 2;
pub(super) const SIGTERM: c_int = 15;

/// sigset_t: 128 bytes of unsigned long in both glibc and musl; the C functions fill it.
#[repr(C, align(8))]
pub(super) struct SigSet(pub(super) [u8; 128]);

unsafe extern "C" {
    fn sigemptyset(set: *mut SigSet) -> c_int;
    fn sigaddset(set: *mut SigSet, signum: c_int) -> c_int;
    fn pthread_sigmask(how: c_int, set: *const SigSet, old: *mut SigSet) -> c_int;
    fn sigwait(set: *const SigSet, sig: *mut c_int) -> c_int;
}

/// The signals that ask the service to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Interrupt,
    Terminate,
}

impl Signal {
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }
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

/// Waits until SIGTERM or SIGINT arrives (blocked by `block_termination`).
pub fn wait_for_termination() -> io::Result<Signal> {
    let set = termination_signals();
    let mut signal: c_int = 0;
    // SAFETY: both pointers are valid for the duration of the call.
    match unsafe { sigwait(&set, &mut signal) } {
        0 if signal == SIGINT => Ok(Signal::Interrupt),
        0 => Ok(Signal::Terminate),
        // sigwait returns the error number rather than setting errno.
        rc => Err(io::Error::from_raw_os_error(rc)),
    }
}
