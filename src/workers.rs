//! What the event loops know of each other: the connection count against the limit, which
//! loop holds the connection that has been quiet longest, and a way to hand a new
//! connection to that loop, so that "at the limit, the longest-quiet connection makes room"
//! holds across all loops, not only within the one that happened to accept.

use std::io::{self, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// New connections waiting in one loop's inbox at most; beyond, the newcomer is refused.
const MAX_HANDED_OVER: usize = 64;
/// "No quiet connection" in a loop's published oldest-quiet time.
const NONE_QUIET: u64 = u64::MAX;

/// Connections being served across all loops, against the configured maximum.
pub struct Capacity {
    open: AtomicUsize,
    max: usize,
}

impl Capacity {
    pub fn new(max: usize) -> Capacity {
        Capacity {
            open: AtomicUsize::new(0),
            max,
        }
    }

    /// Counts one more connection; false when that goes over the maximum (it is counted
    /// all the same, until `release`).
    pub fn claim(&self) -> bool {
        self.open.fetch_add(1, Ordering::AcqRel) < self.max
    }

    pub fn release(&self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
    }

    #[cfg(test)]
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }
}

/// One event loop as the others see it.
pub struct Peer {
    /// When its longest-quiet connection became quiet, in nanoseconds since `epoch`.
    oldest_quiet: AtomicU64,
    inbox: Mutex<Inbox>,
    /// Writing a byte here wakes the loop (it watches the other end).
    wake: UnixStream,
}

#[derive(Default)]
struct Inbox {
    streams: Vec<TcpStream>,
    /// Set by the loop as it exits: nothing handed over after that would be served.
    closed: bool,
}

pub struct Workers {
    pub capacity: Capacity,
    peers: Vec<Peer>,
    epoch: Instant,
}

impl Workers {
    /// One peer per loop; each loop gets the returned other end of its wake-up socket.
    pub fn new(loops: usize, max_connections: usize) -> io::Result<(Workers, Vec<UnixStream>)> {
        let mut peers = Vec::with_capacity(loops);
        let mut wake_ups = Vec::with_capacity(loops);
        for _ in 0..loops {
            let (wake, woken) = UnixStream::pair()?;
            wake.set_nonblocking(true)?;
            woken.set_nonblocking(true)?;
            peers.push(Peer {
                oldest_quiet: AtomicU64::new(NONE_QUIET),
                inbox: Mutex::default(),
                wake,
            });
            wake_ups.push(woken);
        }
        let workers = Workers {
            capacity: Capacity::new(max_connections),
            peers,
            epoch: Instant::now(),
        };
        Ok((workers, wake_ups))
    }

    pub fn wake(&self, index: usize) {
        // Non-blocking: if the socket is full, the loop has wake-ups pending anyway.
        let _ = (&self.peers[index].wake).write(b"x");
    }

    pub fn wake_all(&self) {
        (0..self.peers.len()).for_each(|i| self.wake(i));
    }

    pub fn publish_oldest_quiet(&self, index: usize, since: Option<Instant>) {
        let nanos = since.map_or(NONE_QUIET, |t| self.nanos(t));
        self.peers[index]
            .oldest_quiet
            .store(nanos, Ordering::Release);
    }

    /// The loop holding the longest-quiet connection of all, if that one has been quiet
    /// since `quiet_before` or earlier.
    pub fn holder_of_oldest_quiet(&self, quiet_before: Instant) -> Option<usize> {
        let limit = self.nanos(quiet_before);
        self.peers
            .iter()
            .enumerate()
            .map(|(i, p)| (p.oldest_quiet.load(Ordering::Acquire), i))
            .filter(|&(nanos, _)| nanos != NONE_QUIET && nanos <= limit)
            .min()
            .map(|(_, i)| i)
    }

    /// Gives `stream` to loop `index` and wakes it; gives it back if that loop cannot take it.
    pub fn hand_over(&self, index: usize, stream: TcpStream) -> Result<(), TcpStream> {
        {
            let mut inbox = lock(&self.peers[index].inbox);
            if inbox.closed || inbox.streams.len() >= MAX_HANDED_OVER {
                return Err(stream);
            }
            inbox.streams.push(stream);
        }
        self.wake(index);
        Ok(())
    }

    /// What was handed to loop `index`.
    pub fn take_handed_over(&self, index: usize) -> Vec<TcpStream> {
        std::mem::take(&mut lock(&self.peers[index].inbox).streams)
    }

    /// What was handed to loop `index`, the last: nothing more will be.
    pub fn close_inbox(&self, index: usize) -> Vec<TcpStream> {
        let mut inbox = lock(&self.peers[index].inbox);
        inbox.closed = true;
        std::mem::take(&mut inbox.streams)
    }

    fn nanos(&self, t: Instant) -> u64 {
        let d = t.saturating_duration_since(self.epoch);
        u64::try_from(d.as_nanos()).unwrap_or(NONE_QUIET - 1)
    }
}

/// A poisoned inbox still holds valid streams: a panic elsewhere must not strand them.
fn lock(inbox: &Mutex<Inbox>) -> std::sync::MutexGuard<'_, Inbox> {
    inbox
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How long to wait before closing a quiet connection, for a given shutdown grace.
pub fn quiet_before_close(shutdown_timeout: Duration) -> Duration {
    const QUIET: Duration = Duration::from_secs(1);
    QUIET.min(shutdown_timeout / 4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn capacity_counts_claims_over_the_limit_until_released() {
        let capacity = Capacity::new(1);
        assert!(capacity.claim());
        assert!(!capacity.claim());
        assert_eq!(capacity.open(), 2);
        capacity.release();
        assert_eq!(capacity.open(), 1);
        capacity.release();
        assert!(capacity.claim(), "room again once released");
    }

    #[test]
    fn finds_the_loop_with_the_longest_quiet_connection_old_enough() {
        let (workers, _wake_ups) = Workers::new(3, 10).unwrap();
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        assert_eq!(workers.holder_of_oldest_quiet(at(1000)), None);
        workers.publish_oldest_quiet(0, Some(at(300)));
        workers.publish_oldest_quiet(1, Some(at(100)));
        workers.publish_oldest_quiet(2, None);
        assert_eq!(workers.holder_of_oldest_quiet(at(1000)), Some(1));
        assert_eq!(workers.holder_of_oldest_quiet(at(200)), Some(1));
        assert_eq!(
            workers.holder_of_oldest_quiet(at(50)),
            None,
            "not quiet long enough"
        );
        workers.publish_oldest_quiet(1, None);
        assert_eq!(workers.holder_of_oldest_quiet(at(1000)), Some(0));
    }

    #[test]
    fn hands_over_streams_until_full_or_closed_and_wakes_the_taker() {
        let (workers, wake_ups) = Workers::new(2, 10).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stream = || TcpStream::connect(addr).unwrap();
        for _ in 0..MAX_HANDED_OVER {
            assert!(workers.hand_over(1, stream()).is_ok());
        }
        assert!(
            workers.hand_over(1, stream()).is_err(),
            "the inbox is bounded"
        );
        let mut byte = [0u8; 1];
        assert_eq!(
            (&wake_ups[1]).read(&mut byte).unwrap(),
            1,
            "loop 1 was woken"
        );
        assert!((&wake_ups[0]).read(&mut byte).is_err(), "loop 0 was not");
        assert_eq!(workers.take_handed_over(1).len(), MAX_HANDED_OVER);
        assert!(
            workers.hand_over(1, stream()).is_ok(),
            "taking leaves it open"
        );
        assert_eq!(workers.close_inbox(1).len(), 1);
        assert!(workers.hand_over(1, stream()).is_err(), "closed at exit");
    }

    #[test]
    fn quiet_interval_is_well_under_the_grace_period() {
        assert_eq!(
            quiet_before_close(Duration::from_secs(5)),
            Duration::from_secs(1)
        );
        assert_eq!(
            quiet_before_close(Duration::from_secs(2)),
            Duration::from_millis(500)
        );
    }

    use std::io::Read;
}
