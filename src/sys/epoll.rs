//! Linux readiness notification (epoll), for the event loops.
//!
//! std has no readiness API: a blocking read per connection costs a context switch per
//! request, which profiling showed to be the largest cost after the TCP stack itself (see
//! README, "Benchmark"). These three C library calls, which std already links, let one
//! thread serve many connections, as nginx does.

use super::{CLOEXEC, check};
use std::ffi::c_int;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

pub(super) const EPOLL_CLOEXEC: c_int = CLOEXEC;
pub(super) const EPOLL_CTL_ADD: c_int = 1;
pub(super) const EPOLL_CTL_DEL: c_int = 2;
pub(super) const EPOLL_CTL_MOD: c_int = 3;
pub(super) const EPOLLIN: u32 = 0x001;
pub(super) const EPOLLOUT: u32 = 0x004;
/// Wakes one waiting loop, not all, when a shared listener has a connection.
pub(super) const EPOLLEXCLUSIVE: u32 = 1 << 28;

/// struct epoll_event; the kernel packs it on x86_64 only.
#[cfg_attr(target_arch = "x86_64", repr(C, packed))]
#[cfg_attr(not(target_arch = "x86_64"), repr(C))]
#[derive(Clone, Copy)]
pub struct Event {
    pub(super) events: u32,
    pub(super) token: u64,
}

// The kernel reads and writes arrays of these: with a wrong layout the tokens come back
// wrong (sys/abi_tests.rs compares it with libc's).

impl Event {
    pub const EMPTY: Event = Event {
        events: 0,
        token: 0,
    };

    pub fn token(&self) -> u64 {
        self.token
    }
}

unsafe extern "C" {
    fn epoll_create1(flags: c_int) -> c_int;
    fn epoll_ctl(epfd: c_int, op: c_int, fd: c_int, event: *mut Event) -> c_int;
    fn epoll_wait(epfd: c_int, events: *mut Event, max: c_int, timeout_ms: c_int) -> c_int;
}

/// What a descriptor is watched for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interest {
    Read,
    Write,
}

impl Interest {
    fn bits(self) -> u32 {
        match self {
            Interest::Read => EPOLLIN,
            Interest::Write => EPOLLOUT,
        }
    }
}

pub struct Epoll {
    fd: OwnedFd,
}

impl Epoll {
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: plain syscall; on success we own the returned descriptor.
        let fd = check(unsafe { epoll_create1(EPOLL_CLOEXEC) })?;
        Ok(Epoll {
            // SAFETY: `fd` is a fresh descriptor nobody else owns.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    fn ctl(&self, op: c_int, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        let mut event = Event { events, token };
        // SAFETY: `event` is valid for the call; the kernel copies it.
        check(unsafe { epoll_ctl(self.fd.as_raw_fd(), op, fd, &mut event) }).map(|_| ())
    }

    pub fn add(&self, fd: &impl AsRawFd, interest: Interest, token: u64) -> io::Result<()> {
        self.ctl(EPOLL_CTL_ADD, fd.as_raw_fd(), interest.bits(), token)
    }

    /// Registers a descriptor shared by several loops (the listener).
    pub fn add_shared(&self, fd: &impl AsRawFd, token: u64) -> io::Result<()> {
        self.ctl(
            EPOLL_CTL_ADD,
            fd.as_raw_fd(),
            EPOLLIN | EPOLLEXCLUSIVE,
            token,
        )
    }

    pub fn modify(&self, fd: &impl AsRawFd, interest: Interest, token: u64) -> io::Result<()> {
        self.ctl(EPOLL_CTL_MOD, fd.as_raw_fd(), interest.bits(), token)
    }

    pub fn delete(&self, fd: &impl AsRawFd) -> io::Result<()> {
        self.ctl(EPOLL_CTL_DEL, fd.as_raw_fd(), 0, 0)
    }

    /// Waits for events, at most `timeout` (`None`: until there is one); returns how many
    /// of `events` were filled.
    pub fn wait(&self, events: &mut [Event], timeout: Option<Duration>) -> io::Result<usize> {
        let max = c_int::try_from(events.len()).unwrap_or(c_int::MAX);
        // Round up, so that a deadline 0.3 ms away does not become a busy loop.
        let ms = match timeout {
            Some(t) => t.as_micros().div_ceil(1000).min(c_int::MAX as u128) as c_int,
            None => -1,
        };
        loop {
            // SAFETY: `events` is valid for writes of `max` entries.
            let rc = unsafe { epoll_wait(self.fd.as_raw_fd(), events.as_mut_ptr(), max, ms) };
            match check(rc) {
                Ok(n) => return Ok(n as usize),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    #[test]
    fn reports_readiness_with_its_token() {
        let epoll = Epoll::new().unwrap();
        let (mut a, b) = UnixStream::pair().unwrap();
        epoll.add(&b, Interest::Read, 7).unwrap();
        let mut events = [Event::EMPTY; 4];
        assert_eq!(epoll.wait(&mut events, Some(Duration::ZERO)).unwrap(), 0);
        a.write_all(b"x").unwrap();
        assert_eq!(
            epoll
                .wait(&mut events, Some(Duration::from_secs(1)))
                .unwrap(),
            1
        );
        assert_eq!(events[0].token(), 7);
        epoll.modify(&b, Interest::Write, 8).unwrap();
        assert_eq!(
            epoll
                .wait(&mut events, Some(Duration::from_secs(1)))
                .unwrap(),
            1
        );
        assert_eq!(events[0].token(), 8);
        epoll.delete(&b).unwrap();
        assert_eq!(epoll.wait(&mut events, Some(Duration::ZERO)).unwrap(), 0);
    }
}
