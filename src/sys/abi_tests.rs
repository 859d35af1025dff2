//! Every number and struct layout the declarations in `sys` use, against the `libc`
//! crate's for the target being built (a dev-dependency: the binary does not link it).
//! `make test-arm64` runs these compiled for aarch64 too.

use super::epoll::{self, Event};
use super::signals::{self, SigSet};
use super::socket::{self, SockaddrIn, SockaddrIn6};
use super::{CLOEXEC, errno};
use std::mem::{align_of, offset_of, size_of};

/// (name, ours, libc's) for each pair.
macro_rules! pairs {
    ($($ours:expr => $theirs:ident,)*) => {
        [$((stringify!($theirs), i64::from($ours), i64::from(libc::$theirs))),*]
    };
}

#[test]
fn constants_are_the_c_librarys() {
    let pairs = pairs![
        CLOEXEC => O_CLOEXEC,
        epoll::EPOLL_CLOEXEC => EPOLL_CLOEXEC,
        epoll::EPOLL_CTL_ADD => EPOLL_CTL_ADD,
        epoll::EPOLL_CTL_DEL => EPOLL_CTL_DEL,
        epoll::EPOLL_CTL_MOD => EPOLL_CTL_MOD,
        epoll::EPOLLIN => EPOLLIN,
        epoll::EPOLLOUT => EPOLLOUT,
        epoll::EPOLLEXCLUSIVE => EPOLLEXCLUSIVE,
        socket::AF_INET => AF_INET,
        socket::AF_INET6 => AF_INET6,
        socket::SOCK_STREAM => SOCK_STREAM,
        socket::SOCK_NONBLOCK => SOCK_NONBLOCK,
        socket::SOCK_CLOEXEC => SOCK_CLOEXEC,
        socket::SOL_SOCKET => SOL_SOCKET,
        socket::SO_REUSEADDR => SO_REUSEADDR,
        socket::IPPROTO_TCP => IPPROTO_TCP,
        socket::TCP_NODELAY => TCP_NODELAY,
        socket::TCP_DEFER_ACCEPT => TCP_DEFER_ACCEPT,
        socket::IPPROTO_IPV6 => IPPROTO_IPV6,
        socket::IPV6_V6ONLY => IPV6_V6ONLY,
        signals::SIG_BLOCK => SIG_BLOCK,
        signals::SIGINT => SIGINT,
        signals::SIGTERM => SIGTERM,
        errno::EAFNOSUPPORT => EAFNOSUPPORT,
        errno::EADDRNOTAVAIL => EADDRNOTAVAIL,
        errno::EINTR => EINTR,
        errno::ECONNABORTED => ECONNABORTED,
        errno::EPROTO => EPROTO,
        errno::ENETDOWN => ENETDOWN,
        errno::ENOPROTOOPT => ENOPROTOOPT,
        errno::EHOSTDOWN => EHOSTDOWN,
        errno::ENONET => ENONET,
        errno::EHOSTUNREACH => EHOSTUNREACH,
        errno::EOPNOTSUPP => EOPNOTSUPP,
        errno::ENETUNREACH => ENETUNREACH,
    ];
    let wrong: Vec<_> = pairs
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
