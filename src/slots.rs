//! What each worker's connection is doing, so that the server can take a worker back
//! from a client that is not using it: an idle keep-alive connection, or one trickling its
//! request head, when new clients wait for a worker or when the server shuts down.
//!
//! Taking a worker back means `shutdown(SHUT_RD)` on its socket: its blocked `read`
//! returns 0 at once and the worker closes the connection, gracefully, as if it had timed
//! out. Each slot has its own lock, so workers never contend with each other.

use std::mem::ManuallyDrop;
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Handling a request: never interrupted.
    Busy,
    /// Waiting for the next request on a keep-alive connection.
    Idle,
    /// Waiting for the rest of a request head.
    ReadingHead,
}

#[derive(Debug)]
struct Slot {
    fd: Option<RawFd>,
    phase: Phase,
    since: Instant,
    evicted: bool,
}

pub struct Slots {
    slots: Box<[Mutex<Slot>]>,
    shutting_down: AtomicBool,
}

impl Slots {
    pub fn new(workers: usize) -> Slots {
        let now = Instant::now();
        Slots {
            slots: (0..workers)
                .map(|_| {
                    Mutex::new(Slot {
                        fd: None,
                        phase: Phase::Busy,
                        since: now,
                        evicted: false,
                    })
                })
                .collect(),
            shutting_down: AtomicBool::new(false),
        }
    }

    fn lock(&self, worker: usize) -> MutexGuard<'_, Slot> {
        self.slots[worker].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records `stream` as worker `worker`'s connection until the returned guard drops.
    /// Declare the guard after the stream, so it drops (and forgets the fd) first.
    pub fn register<'a>(&'a self, worker: usize, stream: &TcpStream) -> Registration<'a> {
        let mut slot = self.lock(worker);
        slot.fd = Some(stream.as_raw_fd());
        slot.phase = Phase::Busy;
        slot.evicted = false;
        Registration {
            slots: self,
            worker,
        }
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    /// Gives up every idle connection, and from now on any that becomes idle.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
        for worker in 0..self.slots.len() {
            let mut slot = self.lock(worker);
            if slot.phase == Phase::Idle {
                evict(&mut slot);
            }
        }
    }

    /// Takes back up to `count` workers for waiting clients: idle keep-alive connections
    /// first, longest idle first, then request heads begun more than `stalled_after` ago,
    /// oldest first. Returns how many it took back.
    pub fn evict(&self, count: usize, stalled_after: Duration) -> usize {
        let now = Instant::now();
        let mut candidates: Vec<(bool, Instant, usize)> = Vec::new();
        for worker in 0..self.slots.len() {
            let slot = self.lock(worker);
            if slot.fd.is_none() || slot.evicted {
                continue;
            }
            match slot.phase {
                Phase::Idle => candidates.push((false, slot.since, worker)),
                Phase::ReadingHead if now.duration_since(slot.since) >= stalled_after => {
                    candidates.push((true, slot.since, worker));
                }
                _ => {}
            }
        }
        candidates.sort_unstable();
        let mut evicted = 0;
        for (stalled, since, worker) in candidates {
            if evicted == count {
                break;
            }
            let mut slot = self.lock(worker);
            // It may have moved on while the lock was released.
            let expected = if stalled {
                Phase::ReadingHead
            } else {
                Phase::Idle
            };
            if slot.fd.is_some() && !slot.evicted && slot.phase == expected && slot.since == since {
                evict(&mut slot);
                evicted += 1;
            }
        }
        evicted
    }
}

fn evict(slot: &mut Slot) {
    if let Some(fd) = slot.fd {
        slot.evicted = true;
        // SAFETY: the fd belongs to a live connection: its worker clears `slot.fd` under
        // this lock before it closes the socket. ManuallyDrop keeps us from closing it.
        let stream = ManuallyDrop::new(unsafe { TcpStream::from_raw_fd(fd) });
        let _ = stream.shutdown(Shutdown::Read);
    }
}

/// A worker's handle on its slot for one connection.
pub struct Registration<'a> {
    slots: &'a Slots,
    worker: usize,
}

impl Registration<'_> {
    /// About to wait for the client, in `phase` since `since` (the start of the idle time,
    /// or of the request). Returns false if the connection should close instead: it was
    /// taken back, or it is idle and the server is shutting down.
    pub fn wait(&self, phase: Phase, since: Instant) -> bool {
        let mut slot = self.slots.lock(self.worker);
        if phase == Phase::Idle && self.slots.is_shutting_down() {
            return false;
        }
        slot.phase = phase;
        slot.since = since;
        !slot.evicted
    }

    /// The client sent something; the worker is busy with it.
    pub fn busy(&self) {
        self.slots.lock(self.worker).phase = Phase::Busy;
    }

    /// Whether the server took this connection back (its reads now return 0).
    pub fn was_evicted(&self) -> bool {
        self.slots.lock(self.worker).evicted
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        let mut slot = self.slots.lock(self.worker);
        slot.fd = None;
        slot.phase = Phase::Busy;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        (listener.accept().unwrap().0, client)
    }

    #[test]
    fn evicts_the_idle_connection_and_wakes_its_reader() {
        let slots = Slots::new(2);
        let (idle, _c1) = pair();
        let (busy, _c2) = pair();
        let idle_reg = slots.register(0, &idle);
        let _busy_reg = slots.register(1, &busy);
        assert!(idle_reg.wait(Phase::Idle, Instant::now()));
        assert_eq!(slots.evict(5, Duration::from_secs(1)), 1);
        assert!(idle_reg.was_evicted());
        // The blocked read a worker would be in returns end-of-stream at once.
        let mut buf = [0u8; 8];
        assert_eq!((&idle).read(&mut buf).unwrap(), 0);
        assert_eq!(slots.evict(5, Duration::ZERO), 0, "busy is never evicted");
    }

    #[test]
    fn evicts_a_stalled_head_only_after_the_grace() {
        let slots = Slots::new(1);
        let (conn, _client) = pair();
        let reg = slots.register(0, &conn);
        assert!(reg.wait(Phase::ReadingHead, Instant::now()));
        assert_eq!(slots.evict(1, Duration::from_secs(60)), 0);
        assert_eq!(slots.evict(1, Duration::ZERO), 1);
        assert!(
            !reg.wait(Phase::ReadingHead, Instant::now()),
            "an evicted connection stops waiting"
        );
    }

    #[test]
    fn evicts_idle_before_stalled_and_oldest_first() {
        let slots = Slots::new(3);
        let conns: Vec<_> = (0..3).map(|_| pair()).collect();
        let regs: Vec<_> = (0..3).map(|i| slots.register(i, &conns[i].0)).collect();
        let old = Instant::now() - Duration::from_secs(10);
        assert!(regs[0].wait(Phase::ReadingHead, old));
        assert!(regs[1].wait(Phase::Idle, Instant::now()));
        assert!(regs[2].wait(Phase::Idle, old));
        assert_eq!(slots.evict(2, Duration::from_secs(1)), 2);
        assert!(regs[2].was_evicted() && regs[1].was_evicted());
        assert!(!regs[0].was_evicted());
    }

    #[test]
    fn shutdown_closes_idle_connections_now_and_later() {
        let slots = Slots::new(2);
        let (a, _ca) = pair();
        let (b, _cb) = pair();
        let reg_a = slots.register(0, &a);
        let reg_b = slots.register(1, &b);
        assert!(reg_a.wait(Phase::Idle, Instant::now()));
        reg_b.busy();
        slots.begin_shutdown();
        assert!(reg_a.was_evicted());
        assert!(!reg_b.was_evicted());
        assert!(
            !reg_b.wait(Phase::Idle, Instant::now()),
            "idle after shutdown began means close"
        );
    }
}
