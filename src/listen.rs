//! Opening the listening socket, one way whatever the address: the same backlog, and an
//! IPv6 socket with `IPV6_V6ONLY` cleared explicitly, so that `::` takes IPv4 clients too
//! even where the host's default (`net.ipv6.bindv6only`) is 1. std's `TcpListener::bind`
//! can do neither (its backlog is 128), hence `sys::listen_on`. For "all interfaces" it
//! is one such dual-stack socket; only a host without IPv6 gets an IPv4 socket instead.

use crate::sys::{self, errno::*};
use std::ffi::c_int;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};

/// Connections the kernel queues for accept; it caps this at `net.core.somaxconn`.
const BACKLOG: c_int = 4096;

/// How the "all interfaces" listener came out.
#[derive(Debug, PartialEq, Eq)]
pub enum Stack {
    Dual,
    /// The host has no IPv6; the reason the IPv6 socket failed.
    Ipv4Only(String),
}

/// Listens on `ip`.
pub fn on(ip: IpAddr, port: u16) -> io::Result<TcpListener> {
    sys::listen_on(SocketAddr::new(ip, port), BACKLOG)
}

/// Listens on every interface of both families on `port`, or of IPv4 where the host has
/// no IPv6.
pub fn all_interfaces(port: u16) -> io::Result<(TcpListener, Stack)> {
    match on(Ipv6Addr::UNSPECIFIED.into(), port) {
        Ok(listener) => Ok((listener, Stack::Dual)),
        Err(e) if matches!(e.raw_os_error(), Some(EAFNOSUPPORT | EADDRNOTAVAIL)) => {
            let listener = on(Ipv4Addr::UNSPECIFIED.into(), port)?;
            Ok((listener, Stack::Ipv4Only(e.to_string())))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpStream;

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
        assert!(!sys::is_v6_only(&listener).unwrap());
        let port = listener.local_addr().unwrap().port();
        for ip in ["127.0.0.1", "::1"] {
            let addr = SocketAddr::new(ip.parse().unwrap(), port);
            TcpStream::connect(addr).unwrap_or_else(|e| panic!("{addr}: {e}"));
        }
    }

    #[test]
    fn every_listener_is_close_on_exec() {
        use std::os::fd::AsRawFd;
        let ips: &[IpAddr] = if host_has_ipv6() {
            &[
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ]
        } else {
            &[IpAddr::V4(Ipv4Addr::LOCALHOST)]
        };
        for &ip in ips {
            let listener = on(ip, 0).unwrap();
            let info =
                std::fs::read_to_string(format!("/proc/self/fdinfo/{}", listener.as_raw_fd()))
                    .unwrap();
            let flags = info
                .lines()
                .find_map(|l| l.strip_prefix("flags:"))
                .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
                .unwrap();
            assert_ne!(flags & 0o2_000_000, 0, "{ip}: O_CLOEXEC in {flags:o}");
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
