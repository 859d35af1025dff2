//! The two socket calls std does not offer, through the C library std already links.
//!
//! Per `Connection: close` request the server otherwise spends four syscalls on top of
//! accept, read, write and close: making the socket non-blocking, disabling Nagle, and an
//! epoll registration and wait before the request can be read. `accept4` with
//! `SOCK_NONBLOCK` saves the first; options set on the listener, which Linux copies to
//! every accepted socket, save the second; `TCP_DEFER_ACCEPT` makes accept wait until the
//! request's first bytes are there, so the event loop can read at once and save the rest.

use std::ffi::{c_int, c_void};
use std::io;
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd};

// O_NONBLOCK and O_CLOEXEC from asm-generic/fcntl.h, the values on x86_64 and aarch64
// (arm64's asm/fcntl.h does not change them; epoll.rs refuses other targets), and the
// architecture-independent linux/in.h and linux/tcp.h.
const SOCK_NONBLOCK: c_int = 0o4000;
const SOCK_CLOEXEC: c_int = 0o2_000_000;
const IPPROTO_TCP: c_int = 6;
const TCP_NODELAY: c_int = 1;
const TCP_DEFER_ACCEPT: c_int = 9;

unsafe extern "C" {
    fn accept4(fd: c_int, addr: *mut c_void, len: *mut u32, flags: c_int) -> c_int;
    fn setsockopt(fd: c_int, level: c_int, name: c_int, value: *const c_void, len: u32) -> c_int;
}

/// Accepts one connection as a non-blocking socket. The peer's address is not asked for:
/// only the access log needs it, and `TcpStream::peer_addr` fetches it then.
pub fn accept_nonblocking(listener: &TcpListener) -> io::Result<TcpStream> {
    let flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
    // SAFETY: null address pointers are allowed; the descriptor returned is new and ours.
    let fd = unsafe {
        accept4(
            listener.as_raw_fd(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            flags,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is an open socket that nothing else owns.
    Ok(unsafe { TcpStream::from_raw_fd(fd) })
}

/// Options accepted sockets inherit: no Nagle delay (responses are complete when
/// written), and accept only once data has arrived, waiting at most `defer_secs` for it
/// (after that the kernel hands the connection over anyway, so deadlines still apply).
pub fn tune_listener(listener: &TcpListener, defer_secs: c_int) -> io::Result<()> {
    set_int_option(listener, TCP_NODELAY, 1)?;
    set_int_option(listener, TCP_DEFER_ACCEPT, defer_secs)
}

fn set_int_option(listener: &TcpListener, name: c_int, value: c_int) -> io::Result<()> {
    let size = size_of::<c_int>() as u32;
    let value: *const c_int = &value;
    // SAFETY: value points to a c_int that outlives the call, and size is its size.
    let rc = unsafe { setsockopt(listener.as_raw_fd(), IPPROTO_TCP, name, value.cast(), size) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{ErrorKind, Read, Write};

    #[test]
    fn accepted_sockets_are_non_blocking_and_inherit_no_delay() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        tune_listener(&listener, 1).unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        client.write_all(b"x").unwrap();
        let mut accepted = accept_nonblocking(&listener).unwrap();
        assert!(accepted.nodelay().unwrap(), "TCP_NODELAY from the listener");
        let mut buf = [0; 4];
        assert_eq!(accepted.read(&mut buf).unwrap(), 1);
        let err = accepted.read(&mut buf).unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::WouldBlock,
            "a blocking read would hang"
        );
    }
}
