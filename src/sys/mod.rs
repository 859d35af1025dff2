//! Every call into the operating system that std does not offer, and so all of the
//! crate's unsafe code: readiness notification (epoll), the listening socket and its
//! options, accepting, and termination signals. Each goes through the C library std
//! already links; nothing else in the crate declares a foreign function or writes
//! `unsafe` (the crate root denies it, only this module allows it).
//!
//! The numbers and struct layouts below are Linux's generic ones, the same on x86_64 and
//! aarch64 (only mips, sparc, alpha and parisc differ, and x86_64 packs `epoll_event`);
//! the tests at the bottom check every one against the `libc` crate for the target being
//! built, so a wrong one fails `cargo test` on that architecture, not in production.

mod epoll;
mod signals;
mod socket;

pub use epoll::{Epoll, Event, Interest};
pub use signals::{Signal, block_termination, wait_for_termination};
#[cfg(test)]
pub use socket::is_v6_only;
pub use socket::{accept_nonblocking, listen_on, tune_listener};

use std::ffi::{c_int, c_void};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("the declarations in src/sys are checked for x86_64 and aarch64 only");

/// Error numbers the rest of the crate tells apart (asm-generic/errno.h).
pub mod errno {
    /// No such address family: the host has no IPv6.
    pub const EAFNOSUPPORT: i32 = 97;
    /// The address is not on this host (IPv6 disabled).
    pub const EADDRNOTAVAIL: i32 = 99;
    /// accept(2): a signal came first, or the connection failed before it was taken.
    pub const EINTR: i32 = 4;
    pub const ECONNABORTED: i32 = 103;
    pub const EPROTO: i32 = 71;
    /// accept(2) on Linux passes on the new socket's pending network errors; its manual
    /// says to treat these like EAGAIN and retry.
    pub const ENETDOWN: i32 = 100;
    pub const ENOPROTOOPT: i32 = 92;
    pub const EHOSTDOWN: i32 = 112;
    pub const ENONET: i32 = 64;
    pub const EHOSTUNREACH: i32 = 113;
    pub const EOPNOTSUPP: i32 = 95;
    pub const ENETUNREACH: i32 = 101;
}

/// O_CLOEXEC (asm-generic/fcntl.h), which SOCK_CLOEXEC and EPOLL_CLOEXEC equal: a
/// descriptor must not leak into a process the service starts (it starts none, but a
/// library it links might).
const CLOEXEC: c_int = 0o2_000_000;

unsafe extern "C" {
    fn setsockopt(fd: c_int, level: c_int, name: c_int, value: *const c_void, len: u32) -> c_int;
    #[cfg(test)]
    fn getsockopt(fd: c_int, level: c_int, name: c_int, value: *mut c_void, len: *mut u32)
    -> c_int;
}

/// A C library call's result: negative means failure, with the reason in errno.
fn check(rc: c_int) -> io::Result<c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// Sets a socket option whose value is an int.
fn set_int_option(fd: BorrowedFd, level: c_int, name: c_int, value: c_int) -> io::Result<()> {
    let len = size_of::<c_int>() as u32;
    // SAFETY: `value` is a c_int that outlives the call, and `len` is its size.
    check(unsafe { setsockopt(fd.as_raw_fd(), level, name, (&raw const value).cast(), len) })
        .map(|_| ())
}

#[cfg(test)]
fn get_int_option(fd: BorrowedFd, level: c_int, name: c_int) -> io::Result<c_int> {
    let mut value: c_int = -1;
    let mut len = size_of::<c_int>() as u32;
    // SAFETY: `value` and `len` are valid for writes for the duration of the call.
    check(unsafe {
        getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&raw mut value).cast(),
            &mut len,
        )
    })?;
    Ok(value)
}

#[cfg(test)]
mod abi_tests;
