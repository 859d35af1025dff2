//! One worker thread's event loop: accepts from the shared listener, drives its
//! connections on readiness, enforces their deadlines, and drains on shutdown.

use crate::clock::Clock;
use crate::connection::{Connection, Next, Shared};
use crate::epoll::{Epoll, Event, Interest};
use crate::http::date::Civil;
use crate::http::response::{Response, write_closing};
use crate::socket;
use std::io::{self, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const LISTENER: u64 = u64::MAX;
const WAKER: u64 = u64::MAX - 1;
/// How often deadlines are checked; timeouts are that much coarse, which is fine for
/// timeouts of seconds.
const TICK: Duration = Duration::from_millis(100);
/// Accepts per wake-up. One, like nginx's default: a burst of new connections (a load
/// balancer or a benchmark opening 50 at once) spreads over the loops instead of landing
/// on whichever woke first; with 64, one loop took them all and the other sat idle.
const ACCEPTS_PER_TURN: usize = 1;
/// How long to stop accepting when out of file descriptors, instead of spinning.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// Connections across all loops, against the configured maximum.
pub struct Capacity {
    pub open: AtomicUsize,
    pub max: usize,
}

impl Capacity {
    /// Counts one more connection; false when that goes over the maximum (it is counted
    /// all the same, until `release`).
    fn claim(&self) -> bool {
        self.open.fetch_add(1, Ordering::AcqRel) < self.max
    }

    fn release(&self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
    }
}

struct Entry {
    conn: Connection,
    interest: Interest,
}

pub struct EventLoop {
    epoll: Epoll,
    /// Dropped at shutdown: once every loop has dropped its copy, new clients are refused.
    listener: Option<TcpListener>,
    waker: UnixStream,
    shared: Arc<Shared>,
    capacity: Arc<Capacity>,
    shutdown_timeout: Duration,
    conns: Vec<Option<Entry>>,
    free: Vec<usize>,
    clock: Clock,
    accept_paused_until: Option<Instant>,
    shutdown_deadline: Option<Instant>,
}

impl EventLoop {
    pub fn new(
        listener: TcpListener,
        waker: UnixStream,
        shared: Arc<Shared>,
        capacity: Arc<Capacity>,
        shutdown_timeout: Duration,
    ) -> io::Result<EventLoop> {
        let epoll = Epoll::new()?;
        listener.set_nonblocking(true)?;
        epoll.add_shared(&listener, LISTENER)?;
        epoll.add(&waker, Interest::Read, WAKER)?;
        Ok(EventLoop {
            epoll,
            listener: Some(listener),
            waker,
            shared,
            capacity,
            shutdown_timeout,
            conns: Vec::new(),
            free: Vec::new(),
            clock: Clock::new(),
            accept_paused_until: None,
            shutdown_deadline: None,
        })
    }

    /// Serves until shutdown, then until its connections finish or the grace period ends.
    /// Returns whether they all finished.
    pub fn run(mut self) -> bool {
        let mut events = vec![Event::EMPTY; 256];
        let mut last_tick = Instant::now();
        loop {
            let n = match self.epoll.wait(&mut events, TICK) {
                Ok(n) => n,
                Err(e) => {
                    eprintln!("error: epoll_wait: {e}");
                    return false;
                }
            };
            // One reading of the clocks serves every event of this wake-up.
            self.clock.tick();
            for event in &events[..n] {
                match event.token() {
                    LISTENER => self.accept(),
                    WAKER => self.begin_shutdown(),
                    token => self.drive(token as usize),
                }
            }
            let now = self.clock.now();
            if now.duration_since(last_tick) >= TICK {
                last_tick = now;
                self.check_deadlines(now);
            }
            if let Some(deadline) = self.shutdown_deadline {
                if self.open() == 0 {
                    return true;
                }
                if now >= deadline {
                    return false;
                }
            }
        }
    }

    fn open(&self) -> usize {
        self.conns.len() - self.free.len()
    }

    fn accept(&mut self) {
        for _ in 0..ACCEPTS_PER_TURN {
            let Some(listener) = &self.listener else {
                return;
            };
            let stream = match socket::accept_nonblocking(listener) {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
                Err(e) => return self.pause_accepting(&e),
            };
            let accepted = self.clock.now();
            if !self.capacity.claim() && !self.close_oldest_idle() {
                self.capacity.release();
                shed(stream, &self.shared.server);
                continue;
            }
            // The listener's TCP_DEFER_ACCEPT means the request has usually arrived: serve
            // it now, and only involve epoll if the connection must wait (keep-alive, or a
            // request still on its way). A `Connection: close` request never touches it.
            let mut conn = Connection::new(stream, accepted);
            match conn.on_ready(&self.shared, &self.clock) {
                Next::Wait(interest) => self.insert(conn, interest),
                Next::Close => self.capacity.release(),
            }
        }
    }

    /// Out of file descriptors (or memory): the listener stays readable, so waiting on it
    /// would spin. Stop watching it for a moment and let connections finish.
    fn pause_accepting(&mut self, e: &io::Error) {
        eprintln!("error: accept: {e}; pausing accepts for {ACCEPT_PAUSE:?}");
        let Some(listener) = &self.listener else {
            return;
        };
        if self.epoll.delete(listener).is_ok() {
            self.accept_paused_until = Some(Instant::now() + ACCEPT_PAUSE);
        }
    }

    fn insert(&mut self, conn: Connection, interest: Interest) {
        let index = self.free.pop().unwrap_or_else(|| {
            self.conns.push(None);
            self.conns.len() - 1
        });
        if self
            .epoll
            .add(conn.stream(), interest, index as u64)
            .is_err()
        {
            self.free.push(index);
            self.capacity.release();
            return;
        }
        self.conns[index] = Some(Entry { conn, interest });
    }

    fn drive(&mut self, index: usize) {
        let Some(entry) = self.conns.get_mut(index).and_then(Option::as_mut) else {
            return;
        };
        let next = entry.conn.on_ready(&self.shared, &self.clock);
        self.apply(index, next);
    }

    fn apply(&mut self, index: usize, next: Next) {
        let Some(entry) = self.conns[index].as_mut() else {
            return;
        };
        match next {
            Next::Wait(interest) if interest == entry.interest => {}
            Next::Wait(interest) => {
                if self
                    .epoll
                    .modify(entry.conn.stream(), interest, index as u64)
                    .is_ok()
                {
                    entry.interest = interest;
                } else {
                    self.remove(index);
                }
            }
            Next::Close => self.remove(index),
        }
    }

    fn remove(&mut self, index: usize) {
        // Dropping the stream closes it, which also takes it out of the epoll set.
        if self.conns[index].take().is_some() {
            self.free.push(index);
            self.capacity.release();
        }
    }

    /// At the connection limit, makes room by closing the longest-idle keep-alive
    /// connection of this loop (a graceful close between requests).
    fn close_oldest_idle(&mut self) -> bool {
        let oldest = self
            .conns
            .iter()
            .enumerate()
            .filter_map(|(i, e)| Some((e.as_ref()?.conn.idle_since()?, i)))
            .min();
        match oldest {
            Some((_, index)) => {
                self.remove(index);
                true
            }
            None => false,
        }
    }

    fn check_deadlines(&mut self, now: Instant) {
        if let (Some(until), Some(listener)) = (self.accept_paused_until, &self.listener) {
            if now >= until && self.epoll.add_shared(listener, LISTENER).is_ok() {
                self.accept_paused_until = None;
            }
        }
        for index in 0..self.conns.len() {
            let Some(entry) = self.conns[index].as_mut() else {
                continue;
            };
            if entry.conn.deadline(&self.shared) <= now {
                let next = entry.conn.on_timeout(&self.shared, &self.clock);
                self.apply(index, next);
            }
        }
    }

    /// Stops accepting, closes idle connections, and lets the others finish (their
    /// answers say `Connection: close`) until the grace period ends.
    fn begin_shutdown(&mut self) {
        if self.shutdown_deadline.is_some() {
            return;
        }
        self.shutdown_deadline = Some(Instant::now() + self.shutdown_timeout);
        let _ = self.epoll.delete(&self.waker);
        self.listener = None;
        for index in 0..self.conns.len() {
            if self.conns[index].as_ref().is_some_and(|e| e.conn.is_idle()) {
                if let Some(entry) = &self.conns[index] {
                    let _ = entry.conn.stream().shutdown(Shutdown::Both);
                }
                self.remove(index);
            }
        }
    }
}

/// Answers 503 without ever blocking the loop: one non-blocking write, then close.
fn shed(stream: TcpStream, server: &str) {
    let busy = Response {
        status: 503,
        body: b"Service Unavailable: too many connections, retry shortly\n",
        allow: false,
    };
    let mut out = Vec::with_capacity(256);
    write_closing(&mut out, &busy, &Civil::now().imf_fixdate(), server);
    // Accepted non-blocking: one write that cannot stall the loop.
    let _ = (&stream).write(&out);
}
