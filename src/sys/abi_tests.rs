//! Every number and struct layout the declarations in `sys` use, against the `libc`
//! crate's for the target being built (a dev-dependency: the binary does not link it).
//! `make test-arm64` runs these compiled for aarch64 too.

use super::epoll::{self, Event};
use super::signals::{self, SigSet};
use super::socket::{self, SockaddrIn, SockaddrIn6};
use super::{CLOEXEC, errno};
use std::mem::{align_of, offset_of, size_of};

#[test]
fn constants_are_the_c_librarys() {
    let ours_and_libc: [(&str, i64, i64); 25] = [
        ("O_CLOEXEC", CLOEXEC.into(), libc::O_CLOEXEC.into()),
        (
            "EPOLL_CLOEXEC",
            epoll::EPOLL_CLOEXEC.into(),
            libc::EPOLL_CLOEXEC.into(),
        ),
        (
            "EPOLL_CTL_ADD",
            epoll::EPOLL_CTL_ADD.into(),
            libc::EPOLL_CTL_ADD.into(),
        ),
        (
            "EPOLL_CTL_DEL",
            epoll::EPOLL_CTL_DEL.into(),
            libc::EPOLL_CTL_DEL.into(),
        ),
        (
            "EPOLL_CTL_MOD",
            epoll::EPOLL_CTL_MOD.into(),
            libc::EPOLL_CTL_MOD.into(),
        ),
        ("EPOLLIN", epoll::EPOLLIN.into(), libc::EPOLLIN.into()),
        ("EPOLLOUT", epoll::EPOLLOUT.into(), libc::EPOLLOUT.into()),
        (
            "EPOLLEXCLUSIVE",
            epoll::EPOLLEXCLUSIVE.into(),
            libc::EPOLLEXCLUSIVE.into(),
        ),
        ("AF_INET", socket::AF_INET.into(), libc::AF_INET.into()),
        ("AF_INET6", socket::AF_INET6.into(), libc::AF_INET6.into()),
        (
            "SOCK_STREAM",
            socket::SOCK_STREAM.into(),
            libc::SOCK_STREAM.into(),
        ),
        (
            "SOCK_NONBLOCK",
            socket::SOCK_NONBLOCK.into(),
            libc::SOCK_NONBLOCK.into(),
        ),
        (
            "SOCK_CLOEXEC",
            socket::SOCK_CLOEXEC.into(),
            libc::SOCK_CLOEXEC.into(),
        ),
        (
            "SOL_SOCKET",
            socket::SOL_SOCKET.into(),
            libc::SOL_SOCKET.into(),
        ),
        (
            "SO_REUSEADDR",
            socket::SO_REUSEADDR.into(),
            libc::SO_REUSEADDR.into(),
        ),
        (
            "IPPROTO_TCP",
            socket::IPPROTO_TCP.into(),
            libc::IPPROTO_TCP.into(),
        ),
        (
            "TCP_NODELAY",
            socket::TCP_NODELAY.into(),
            libc::TCP_NODELAY.into(),
        ),
        (
            "TCP_DEFER_ACCEPT",
            socket::TCP_DEFER_ACCEPT.into(),
            libc::TCP_DEFER_ACCEPT.into(),
        ),
        (
            "IPPROTO_IPV6",
            socket::IPPROTO_IPV6.into(),
            libc::IPPROTO_IPV6.into(),
        ),
        (
            "IPV6_V6ONLY",
            socket::IPV6_V6ONLY.into(),
            libc::IPV6_V6ONLY.into(),
        ),
        (
            "SIG_BLOCK",
            signals::SIG_BLOCK.into(),
            libc::SIG_BLOCK.into(),
        ),
        ("SIGINT", signals::SIGINT.into(), libc::SIGINT.into()),
        ("SIGTERM", signals::SIGTERM.into(), libc::SIGTERM.into()),
        (
            "EAFNOSUPPORT",
            errno::EAFNOSUPPORT.into(),
            libc::EAFNOSUPPORT.into(),
        ),
        (
            "EADDRNOTAVAIL",
            errno::EADDRNOTAVAIL.into(),
            libc::EADDRNOTAVAIL.into(),
        ),
    ];
    let wrong: Vec<_> = ours_and_libc
        .iter()
        .filter(|(_, ours, theirs)| ours != theirs)
        .collect();
    assert!(wrong.is_empty(), "(name, ours, libc's): {wrong:?}");
}

/// Size, alignment and field offsets of ours and of libc's, side by side.
macro_rules! assert_same_layout {
    ($ours:ty, $theirs:ty, $(($field:ident, $their_field:ident)),*) => {
        assert_eq!(size_of::<$ours>(), size_of::<$theirs>(), "size of {}", stringify!($ours));
        assert_eq!(align_of::<$ours>(), align_of::<$theirs>(), "alignment of {}", stringify!($ours));
        $(assert_eq!(
            offset_of!($ours, $field),
            offset_of!($theirs, $their_field),
            "offset of {}.{}", stringify!($ours), stringify!($field)
        );)*
    };
}

#[test]
fn structs_have_the_c_librarys_layout() {
    assert_same_layout!(Event, libc::epoll_event, (events, events), (token, u64));
    assert_same_layout!(
        SockaddrIn,
        libc::sockaddr_in,
        (family, sin_family),
        (port_be, sin_port),
        (addr, sin_addr),
        (zero, sin_zero)
    );
    assert_same_layout!(
        SockaddrIn6,
        libc::sockaddr_in6,
        (family, sin6_family),
        (port_be, sin6_port),
        (flowinfo, sin6_flowinfo),
        (addr, sin6_addr),
        (scope_id, sin6_scope_id)
    );
    assert_same_layout!(SigSet, libc::sigset_t,);
}
