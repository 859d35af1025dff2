//! The listening socket and accepting from it: the calls std does not offer.
//!
//! std cannot set an option between `socket` and `bind` (`IPV6_V6ONLY`), nor choose the
//! backlog. And per `Connection: close` request the server would otherwise spend four
//! syscalls on top of accept, read, write and close: making the socket non-blocking,
//! disabling Nagle, and an epoll registration and wait before the request can be read.
//! `accept4` with `SOCK_NONBLOCK` saves the first; options set on the listener, which
//! Linux copies to every accepted socket, save the second; `TCP_DEFER_ACCEPT` makes accept
//! wait until the request's first bytes are there, so the event loop can read at once and
//! save the rest.

use super::{CLOEXEC, check, set_int_option};
use std::ffi::{c_int, c_void};
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

pub(super) const AF_INET: c_int = 2;
pub(super) const AF_INET6: c_int = 10;
pub(super) const SOCK_STREAM: c_int = 1;
pub(super) const SOCK_NONBLOCK: c_int = 0o4000;
pub(super) const SOCK_CLOEXEC: c_int = CLOEXEC;
pub(super) const SOL_SOCKET: c_int = 1;
pub(super) const SO_REUSEADDR: c_int = 2;
pub(super) const IPPROTO_TCP: c_int = 6;
pub(super) const TCP_NODELAY: c_int = 1;
pub(super) const TCP_DEFER_ACCEPT: c_int = 9;
pub(super) const IPPROTO_IPV6: c_int = 41;
pub(super) const IPV6_V6ONLY: c_int = 26;

/// struct sockaddr_in (its address is a 32-bit `in_addr`, hence the alignment).
#[repr(C, align(4))]
pub(super) struct SockaddrIn {
    pub(super) family: u16,
    pub(super) port_be: u16,
    pub(super) addr: [u8; 4],
    pub(super) zero: [u8; 8],
}

/// struct sockaddr_in6.
#[repr(C)]
pub(super) struct SockaddrIn6 {
    pub(super) family: u16,
    pub(super) port_be: u16,
    pub(super) flowinfo: u32,
    pub(super) addr: [u8; 16],
    pub(super) scope_id: u32,
}

unsafe extern "C" {
    fn socket(domain: c_int, kind: c_int, protocol: c_int) -> c_int;
    fn bind(fd: c_int, addr: *const c_void, len: u32) -> c_int;
    fn listen(fd: c_int, backlog: c_int) -> c_int;
    fn accept4(fd: c_int, addr: *mut c_void, len: *mut u32, flags: c_int) -> c_int;
}

fn new_socket(family: c_int) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; on success the descriptor is new and ours.
    let fd = check(unsafe { socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0) })?;
    // SAFETY: `fd` is open and owned by nothing else; OwnedFd closes it on every error path.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A listening TCP socket on `addr` with room for `backlog` connections not yet accepted
/// (the kernel caps it at `net.core.somaxconn`). An IPv6 socket also takes IPv4 clients
/// where its address allows (`::` takes every IPv4 address), whatever the host's
/// `net.ipv6.bindv6only` says.
pub fn listen_on(addr: SocketAddr, backlog: c_int) -> io::Result<TcpListener> {
    let family = match addr {
        SocketAddr::V4(_) => AF_INET,
        SocketAddr::V6(_) => AF_INET6,
    };
    let fd = new_socket(family)?;
    set_int_option(fd.as_fd(), SOL_SOCKET, SO_REUSEADDR, 1)?;
    let rc = match addr {
        SocketAddr::V4(v4) => {
            let sockaddr = SockaddrIn {
                family: AF_INET as u16,
                port_be: v4.port().to_be(),
                addr: v4.ip().octets(),
                zero: [0; 8],
            };
            let len = size_of::<SockaddrIn>() as u32;
            // SAFETY: `sockaddr` is a valid sockaddr_in of `len` bytes during the call.
            unsafe { bind(fd.as_raw_fd(), (&raw const sockaddr).cast(), len) }
        }
        SocketAddr::V6(v6) => {
            set_int_option(fd.as_fd(), IPPROTO_IPV6, IPV6_V6ONLY, 0)?;
            let sockaddr = SockaddrIn6 {
                family: AF_INET6 as u16,
                port_be: v6.port().to_be(),
                flowinfo: v6.flowinfo(),
                addr: v6.ip().octets(),
                scope_id: v6.scope_id(),
            };
            let len = size_of::<SockaddrIn6>() as u32;
            // SAFETY: `sockaddr` is a valid sockaddr_in6 of `len` bytes during the call.
            unsafe { bind(fd.as_raw_fd(), (&raw const sockaddr).cast(), len) }
        }
    };
    check(rc)?;
    // SAFETY: plain syscall on our descriptor.
    check(unsafe { listen(fd.as_raw_fd(), backlog) })?;
    Ok(TcpListener::from(fd))
}

/// Accepts one connection as a non-blocking socket. The peer's address is not asked for:
/// only the access log needs it, and `TcpStream::peer_addr` fetches it then.
pub fn accept_nonblocking(listener: &TcpListener) -> io::Result<TcpStream> {
    let flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
    // SAFETY: null address pointers are allowed; the descriptor returned is new and ours.
    let fd = check(unsafe {
        accept4(
            listener.as_raw_fd(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            flags,
        )
    })?;
    // SAFETY: fd is an open socket that nothing else owns.
    Ok(unsafe { TcpStream::from_raw_fd(fd) })
}

/// Options accepted sockets inherit: no Nagle delay (responses are complete when
/// written), and accept only once data has arrived, waiting at most `defer_secs` for it
/// (after that the kernel hands the connection over anyway, so deadlines still apply).
pub fn tune_listener(listener: &TcpListener, defer_secs: c_int) -> io::Result<()> {
    set_int_option(listener.as_fd(), IPPROTO_TCP, TCP_NODELAY, 1)?;
    set_int_option(listener.as_fd(), IPPROTO_TCP, TCP_DEFER_ACCEPT, defer_secs)
}

/// Whether an IPv6 socket accepts IPv6 only (the option `listen_on` clears).
#[cfg(test)]
pub fn is_v6_only(socket: &impl AsFd) -> io::Result<bool> {
    super::get_int_option(socket.as_fd(), IPPROTO_IPV6, IPV6_V6ONLY).map(|v| v != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{ErrorKind, Read, Write};
    use std::net::Ipv6Addr;

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

    #[test]
    fn set_int_option_sets_what_is_read_back() {
        if TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_err() {
            eprintln!("skipped: no IPv6 on this host");
            return;
        }
        let fd = new_socket(AF_INET6).unwrap();
        for v6_only in [1, 0, 1] {
            set_int_option(fd.as_fd(), IPPROTO_IPV6, IPV6_V6ONLY, v6_only).unwrap();
            assert_eq!(is_v6_only(&fd).unwrap(), v6_only == 1);
        }
    }
}
