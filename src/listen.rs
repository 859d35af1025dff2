//! Opening the listening socket. For "all interfaces" it is one IPv6 socket that also
//! takes IPv4 (dual stack), with `IPV6_V6ONLY` cleared explicitly: the host's default
//! (`net.ipv6.bindv6only`) may be 1, and then a plain bind to `[::]` refuses 127.0.0.1.
//! std cannot set an option between `socket` and `bind`, hence these C library calls.
//! Only a host without IPv6 gets an IPv4 socket instead; any other error is an error.

use std::ffi::{c_int, c_void};
use std::io;
use std::net::{Ipv4Addr, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

// These numbers are the generic Linux ones, the same on x86_64 and aarch64 (only mips,
// sparc, alpha and parisc differ; src/epoll.rs refuses to build for other targets).
const AF_INET6: c_int = 10;
const SOCK_STREAM: c_int = 1;
const SOCK_CLOEXEC: c_int = 0o2_000_000;
const SOL_SOCKET: c_int = 1;
const SO_REUSEADDR: c_int = 2;
const IPPROTO_IPV6: c_int = 41;
const IPV6_V6ONLY: c_int = 26;
/// Errors that mean "this host has no IPv6": no such address family, or IPv6 disabled.
const EAFNOSUPPORT: i32 = 97;
const EADDRNOTAVAIL: i32 = 99;
/// Connections the kernel queues for accept; it caps this at `net.core.somaxconn`.
const BACKLOG: c_int = 4096;

/// struct sockaddr_in6 (the same layout on every Linux architecture: no padding).
#[repr(C)]
struct SockaddrIn6 {
    family: u16,
    port_be: u16,
    flowinfo: u32,
    addr: [u8; 16],
    scope_id: u32,
}
const _: () = assert!(
    size_of::<SockaddrIn6>() == 28
        && std::mem::offset_of!(SockaddrIn6, addr) == 8
        && std::mem::offset_of!(SockaddrIn6, scope_id) == 24
);

unsafe extern "C" {
    fn socket(domain: c_int, kind: c_int, protocol: c_int) -> c_int;
    fn setsockopt(fd: c_int, level: c_int, name: c_int, value: *const c_void, len: u32) -> c_int;
    #[cfg(test)]
    fn getsockopt(fd: c_int, level: c_int, name: c_int, value: *mut c_void, len: *mut u32)
    -> c_int;
    fn bind(fd: c_int, addr: *const c_void, len: u32) -> c_int;
    fn listen(fd: c_int, backlog: c_int) -> c_int;
}

/// How the "all interfaces" listener came out.
#[derive(Debug, PartialEq, Eq)]
pub enum Stack {
    Dual,
    /// The host has no IPv6; the reason the IPv6 socket failed.
    Ipv4Only(String),
}

/// Listens on every interface of both families on `port`, or of IPv4 where the host has
/// no IPv6.
pub fn all_interfaces(port: u16) -> io::Result<(TcpListener, Stack)> {
    match dual_stack(port) {
        Ok(listener) => Ok((listener, Stack::Dual)),
        Err(e) if matches!(e.raw_os_error(), Some(EAFNOSUPPORT | EADDRNOTAVAIL)) => {
            let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, port))?;
            Ok((listener, Stack::Ipv4Only(e.to_string())))
        }
        Err(e) => Err(e),
    }
}

fn check(rc: c_int) -> io::Result<c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn dual_stack(port: u16) -> io::Result<TcpListener> {
    // SAFETY: plain syscall; on success the descriptor is new and ours.
    let fd = check(unsafe { socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0) })?;
    // SAFETY: `fd` is open and owned by nothing else; OwnedFd closes it on every error path.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    set_option(&fd, SOL_SOCKET, SO_REUSEADDR, 1)?;
    set_option(&fd, IPPROTO_IPV6, IPV6_V6ONLY, 0)?;
    let addr = SockaddrIn6 {
        family: AF_INET6 as u16,
        port_be: port.to_be(),
        flowinfo: 0,
        addr: [0; 16],
        scope_id: 0,
    };
    let len = size_of::<SockaddrIn6>() as u32;
    // SAFETY: `addr` is a valid sockaddr_in6 of `len` bytes for the duration of the call.
    check(unsafe { bind(fd.as_raw_fd(), (&raw const addr).cast(), len) })?;
    // SAFETY: plain syscall on our descriptor.
    check(unsafe { listen(fd.as_raw_fd(), BACKLOG) })?;
    Ok(TcpListener::from(fd))
}

fn set_option(fd: &OwnedFd, level: c_int, name: c_int, value: c_int) -> io::Result<()> {
    let len = size_of::<c_int>() as u32;
    // SAFETY: `value` is a c_int that outlives the call, and `len` is its size.
    check(unsafe { setsockopt(fd.as_raw_fd(), level, name, (&raw const value).cast(), len) })
        .map(|_| ())
}

/// Whether an IPv6 socket accepts IPv6 only (the option this module clears).
#[cfg(test)]
pub fn is_v6_only(listener: &impl AsRawFd) -> io::Result<bool> {
    let mut value: c_int = -1;
    let mut len = size_of::<c_int>() as u32;
    // SAFETY: `value` and `len` are valid for writes for the duration of the call.
    check(unsafe {
        getsockopt(
            listener.as_raw_fd(),
            IPPROTO_IPV6,
            IPV6_V6ONLY,
            (&raw mut value).cast(),
            &mut len,
        )
    })?;
    Ok(value != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv6Addr, SocketAddr, TcpStream};

    fn host_has_ipv6() -> bool {
        TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_ok()
    }

    #[test]
    fn a_dual_stack_listener_clears_v6_only_and_takes_both_loopbacks() {
        if !host_has_ipv6() {
            eprintln!("skipped: no IPv6 on this host");
            return;
        }
        let (listener, stack) = all_interfaces(0).unwrap();
        assert_eq!(stack, Stack::Dual);
        assert!(!is_v6_only(&listener).unwrap());
        let port = listener.local_addr().unwrap().port();
        for ip in ["127.0.0.1", "::1"] {
            let addr = SocketAddr::new(ip.parse().unwrap(), port);
            TcpStream::connect(addr).unwrap_or_else(|e| panic!("{addr}: {e}"));
        }
    }

    #[test]
    fn set_option_sets_what_is_read_back() {
        if !host_has_ipv6() {
            eprintln!("skipped: no IPv6 on this host");
            return;
        }
        // SAFETY: plain syscall; the descriptor is owned by `fd` at once.
        let fd = unsafe { OwnedFd::from_raw_fd(socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0)) };
        for v6_only in [1, 0, 1] {
            set_option(&fd, IPPROTO_IPV6, IPV6_V6ONLY, v6_only).unwrap();
            assert_eq!(is_v6_only(&fd).unwrap(), v6_only == 1);
        }
    }

    #[test]
    fn a_port_taken_on_ipv6_is_an_error_not_a_silent_ipv4_fallback() {
        if !host_has_ipv6() {
            eprintln!("skipped: no IPv6 on this host");
            return;
        }
        let taken = TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).unwrap();
        let port = taken.local_addr().unwrap().port();
        let err = all_interfaces(port).expect_err("the port is in use on ::1");
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
    }
}
