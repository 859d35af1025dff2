//! One worker thread's event loop: accepts from the shared listener, drives its
//! connections on readiness, wakes for the nearest deadline only, keeps the connection
//! limit together with the other loops, and drains on shutdown.

use crate::clock::Clock;
use crate::connection::{Buffers, Connection, Context, Next, Shared};
use crate::faults;
use crate::report::report;
use crate::slot_heap::SlotHeap;
use crate::sys::errno::*;
use crate::sys::{self, Epoll, Event, Interest};
use crate::workers::Workers;
use std::io::{self, Read};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

const LISTENER: u64 = u64::MAX;
const WAKER: u64 = u64::MAX - 1;
/// Accepts per wake-up. One, like nginx's default: a burst of new connections (a load
/// balancer or a benchmark opening 50 at once) spreads over the loops instead of landing
/// on whichever woke first; with 64, one loop took them all and the other sat idle.
const ACCEPTS_PER_TURN: usize = 1;
/// How long to stop accepting when out of file descriptors, instead of spinning.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// Connections taken from the listener's queue at shutdown at most, per loop.
const MAX_ACCEPTED_AT_SHUTDOWN: usize = 1024;
/// Connections of this loop closing gracefully (FIN sent, draining what the client still
/// sends) at most; beyond, one is closed at once. Each lasts a second at most.
const MAX_LINGERING: usize = 1024;

/// How a loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Every connection finished after the stop.
    Drained,
    /// The grace period ended with connections still open.
    GraceOver,
    /// The loop could not go on (its error was reported).
    Failed,
}

/// Where a connection stands against the loop's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Served: counted against the connection limit.
    Served,
    /// Only closing gracefully: one of the loop's bounded lingering places.
    Lingering,
}

struct Entry {
    conn: Connection<TcpStream>,
    /// What it waits for: `Next::WaitToRead` or `Next::WaitToWrite`.
    waits: Next,
    deadline: Instant,
    quiet_since: Option<Instant>,
    place: Place,
}

/// An accept error that concerns one connection (or a signal), not the listener: the
/// next accept may well work, so it is retried at once, not paused and reported as
/// running out of descriptors is.
fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(
            EINTR
                | ECONNABORTED
                | EPROTO
                | ENETDOWN
                | ENOPROTOOPT
                | EHOSTDOWN
                | ENONET
                | EHOSTUNREACH
                | EOPNOTSUPP
                | ENETUNREACH
        )
    )
}

/// The readiness that ends a connection's wait; `None` when it waits for nothing.
fn interest(next: Next) -> Option<Interest> {
    match next {
        Next::WaitToRead => Some(Interest::Read),
        Next::WaitToWrite => Some(Interest::Write),
        Next::Close => None,
    }
}

pub struct EventLoop {
    index: usize,
    epoll: Epoll,
    /// Dropped at shutdown: once every loop has dropped its copy, new clients are refused.
    listener: Option<TcpListener>,
    woken: UnixStream,
    shared: Arc<Shared>,
    workers: Arc<Workers>,
    shutdown_timeout: Duration,
    conns: Vec<Option<Entry>>,
    free: Vec<usize>,
    /// Every connection's deadline, nearest first: the loop sleeps until the first.
    deadlines: SlotHeap,
    /// Quiet connections by when they became quiet: the first makes room at the limit.
    quiet: SlotHeap,
    lingering: usize,
    buffers: Buffers,
    clock: Clock,
    accept_paused_until: Option<Instant>,
    /// Accepts refused for lack of descriptors since the last one that worked.
    accept_failures: u64,
    shutdown_deadline: Option<Instant>,
}

impl EventLoop {
    pub fn new(
        index: usize,
        listener: TcpListener,
        woken: UnixStream,
        shared: Arc<Shared>,
        workers: Arc<Workers>,
        shutdown_timeout: Duration,
    ) -> io::Result<EventLoop> {
        let epoll = Epoll::new()?;
        listener.set_nonblocking(true)?;
        epoll.add_shared(&listener, LISTENER)?;
        epoll.add(&woken, Interest::Read, WAKER)?;
        Ok(EventLoop {
            index,
            epoll,
            listener: Some(listener),
            woken,
            shared,
            workers,
            shutdown_timeout,
            conns: Vec::new(),
            free: Vec::new(),
            deadlines: SlotHeap::default(),
            quiet: SlotHeap::default(),
            lingering: 0,
            buffers: Buffers::default(),
            clock: Clock::new(),
            accept_paused_until: None,
            accept_failures: 0,
            shutdown_deadline: None,
        })
    }

    /// Serves until shutdown, then until its connections finish or the grace period ends.
    pub fn run(mut self) -> Ending {
        let mut events = vec![Event::EMPTY; 256];
        loop {
            let now = self.clock.now();
            let timeout = self
                .next_wake_up()
                .map(|t| t.saturating_duration_since(now));
            if self.index == 1 && faults::injected("worker_panic") {
                panic!("injected fault: worker 1 panics");
            }
            let waited = if self.index == 1 && faults::injected("epoll_wait") {
                Err(io::Error::from_raw_os_error(9)) // EBADF
            } else {
                self.epoll.wait(&mut events, timeout)
            };
            let n = match waited {
                Ok(n) => n,
                Err(e) => return self.fail(&format!("epoll_wait failed: {e}")),
            };
            // One reading of the clocks serves every event of this wake-up.
            self.clock.tick();
            for event in &events[..n] {
                match event.token() {
                    LISTENER => self.accept(),
                    WAKER => self.on_wake(),
                    token => self.drive(token as usize),
                }
            }
            let now = self.clock.now();
            self.resume_accepting(now);
            self.expire(now);
            self.publish();
            if let Some(deadline) = self.shutdown_deadline {
                if self.open() == 0 && self.close_inbox() {
                    return Ending::Drained;
                }
                if now >= deadline {
                    self.close_inbox();
                    self.close_all();
                    return Ending::GraceOver;
                }
            }
        }
    }

    /// Tells the other loops when this loop's longest-quiet connection became quiet.
    fn publish(&self) {
        self.workers
            .publish_oldest_quiet(self.index, self.quiet.first().map(|(t, _)| t));
    }

    /// The nearest thing that is due: a connection's deadline, the end of an accept
    /// pause, or the end of the grace period. None: nothing, so sleep until an event.
    fn next_wake_up(&self) -> Option<Instant> {
        [
            self.deadlines.first().map(|(t, _)| t),
            self.accept_paused_until,
            self.shutdown_deadline,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn open(&self) -> usize {
        self.conns.len() - self.free.len()
    }

    fn context(&mut self) -> (&mut Vec<Option<Entry>>, Context<'_>) {
        (
            &mut self.conns,
            Context {
                shared: &self.shared,
                clock: &self.clock,
                buffers: &mut self.buffers,
            },
        )
    }

    fn accept(&mut self) {
        for _ in 0..ACCEPTS_PER_TURN {
            let Some(listener) = &self.listener else {
                return;
            };
            let accepted = if faults::injected_once("accept_eproto") {
                Err(io::Error::from_raw_os_error(EPROTO))
            } else {
                sys::accept_nonblocking(listener)
            };
            let stream = match accepted {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                // The listener stays readable while connections wait: once this turn is
                // over, epoll wakes the loop for the next one at once.
                Err(e) if is_transient(&e) => continue,
                Err(e) => return self.pause_accepting(&e),
            };
            if self.accept_failures > 0 {
                report(&format!(
                    "worker {}: accepting again after {} refused accepts",
                    self.index, self.accept_failures
                ));
                self.accept_failures = 0;
            }
            self.admit(stream);
        }
    }

    /// Serves a new connection, making room at the limit by closing the connection that
    /// has been quiet longest, on whichever loop holds it; refuses it when none has been
    /// quiet long enough for that to be safe.
    fn admit(&mut self, stream: TcpStream) {
        let capacity = &self.workers.capacity;
        if !capacity.claim() && !self.shared.is_shutting_down() {
            let quiet_before = self.quiet_before();
            match self.workers.holder_of_oldest_quiet(quiet_before) {
                Some(holder) if holder == self.index && self.evict_oldest_quiet(quiet_before) => {}
                Some(holder) if holder != self.index => {
                    // Stays counted: the holder closes its quiet connection to take it.
                    if let Err(stream) = self.workers.hand_over(holder, stream) {
                        self.refuse_claimed(stream);
                    }
                    return;
                }
                _ => return self.refuse_claimed(stream),
            }
        }
        self.serve(stream);
    }

    /// Connections quiet since this time or earlier may be closed to make room.
    fn quiet_before(&self) -> Instant {
        let now = self.clock.now();
        now.checked_sub(self.shared.quiet_before_close)
            .unwrap_or(now)
    }

    /// Serves a connection counted against the limit.
    fn serve(&mut self, stream: TcpStream) {
        // The listener's TCP_DEFER_ACCEPT means the request has usually arrived: serve
        // it now, and only involve epoll if the connection must wait (keep-alive, or a
        // request still on its way). A `Connection: close` request never touches it.
        let mut conn = Connection::new(stream, self.clock.now());
        let (_, mut cx) = self.context();
        let next = conn.on_ready(&mut cx);
        self.insert(conn, next, Place::Served);
    }

    /// Answers 503 to a newcomer there is no room for, closing gracefully (not a reset,
    /// which a proxy would turn into a 502); it is not counted while it closes.
    fn refuse(&mut self, stream: TcpStream) {
        let mut conn = Connection::new(stream, self.clock.now());
        let (_, mut cx) = self.context();
        let next = conn.refuse(&mut cx, 503, "too many connections, retry shortly");
        self.insert(conn, next, Place::Lingering);
    }

    /// Gives back the place a newcomer claimed over the limit, and refuses it.
    fn refuse_claimed(&mut self, stream: TcpStream) {
        self.workers.capacity.release();
        self.refuse(stream);
    }

    /// Out of file descriptors (or memory): the listener stays readable, so waiting on it
    /// would spin. Stop watching it for a moment and let connections finish. Said once
    /// per episode, not once per refused accept.
    fn pause_accepting(&mut self, e: &io::Error) {
        if self.accept_failures == 0 {
            report(&format!(
                "worker {}: cannot accept: {e}; pausing accepts for {ACCEPT_PAUSE:?} at a time until it works again",
                self.index
            ));
        }
        self.accept_failures += 1;
        let Some(listener) = &self.listener else {
            return;
        };
        if self.epoll.delete(listener).is_ok() {
            self.accept_paused_until = Some(self.clock.now() + ACCEPT_PAUSE);
        }
    }

    fn resume_accepting(&mut self, now: Instant) {
        if let (Some(until), Some(listener)) = (self.accept_paused_until, &self.listener) {
            if now >= until && self.epoll.add_shared(listener, LISTENER).is_ok() {
                self.accept_paused_until = None;
            }
        }
    }

    /// Registers a connection that must wait. Served ones are counted; the others only
    /// close gracefully, and there is room for a bounded number of those.
    fn insert(&mut self, conn: Connection<TcpStream>, next: Next, place: Place) {
        let Some(interest) = interest(next) else {
            if place == Place::Served {
                self.workers.capacity.release();
            }
            return;
        };
        if place == Place::Lingering && !self.take_lingering_place() {
            return;
        }
        let index = self.free.pop().unwrap_or_else(|| {
            self.conns.push(None);
            self.conns.len() - 1
        });
        if self
            .epoll
            .add(conn.transport(), interest, index as u64)
            .is_err()
        {
            self.free.push(index);
            self.give_back(place);
            return;
        }
        let deadline = conn.deadline(&self.shared);
        self.deadlines.set(index, deadline);
        self.conns[index] = Some(Entry {
            conn,
            waits: next,
            deadline,
            quiet_since: None,
            place,
        });
        self.settle(index, next);
    }

    fn drive(&mut self, index: usize) {
        let (conns, mut cx) = self.context();
        let Some(entry) = conns.get_mut(index).and_then(Option::as_mut) else {
            return;
        };
        let next = entry.conn.on_ready(&mut cx);
        self.settle(index, next);
    }

    /// Brings the loop's view of a connection up to date after it did some work: its
    /// readiness interest, deadline, quiet time, and whether it still counts.
    fn settle(&mut self, index: usize, next: Next) {
        let Some(entry) = self.conns[index].as_mut() else {
            return;
        };
        let Some(interest) = interest(next) else {
            return self.remove(index);
        };
        if next != entry.waits {
            if self
                .epoll
                .modify(entry.conn.transport(), interest, index as u64)
                .is_err()
            {
                return self.remove(index);
            }
            entry.waits = next;
        }
        let starts_lingering = entry.place == Place::Served && entry.conn.is_lingering();
        if starts_lingering {
            // Still counted if there is no place: `remove` then gives back the right one.
            if !self.take_lingering_place() {
                return self.remove(index);
            }
            self.workers.capacity.release();
        }
        let Some(entry) = self.conns[index].as_mut() else {
            return;
        };
        if starts_lingering {
            entry.place = Place::Lingering;
        }
        let deadline = entry.conn.deadline(&self.shared);
        if deadline != entry.deadline {
            self.deadlines.set(index, deadline);
            entry.deadline = deadline;
        }
        let quiet_since = entry.conn.quiet_since(&self.shared);
        if quiet_since != entry.quiet_since {
            match quiet_since {
                Some(since) => self.quiet.set(index, since),
                None => self.quiet.remove(index),
            }
            entry.quiet_since = quiet_since;
        }
    }

    /// Takes one of the loop's bounded places for a connection that only closes.
    fn take_lingering_place(&mut self) -> bool {
        if self.lingering >= MAX_LINGERING {
            return false;
        }
        self.lingering += 1;
        true
    }

    fn remove(&mut self, index: usize) {
        // Dropping the stream closes it, which also takes it out of the epoll set.
        let Some(entry) = self.conns[index].take() else {
            return;
        };
        self.free.push(index);
        self.deadlines.remove(index);
        self.quiet.remove(index);
        self.give_back(entry.place);
    }

    /// Gives back the place a connection held, as it leaves the loop.
    fn give_back(&mut self, place: Place) {
        match place {
            Place::Served => self.workers.capacity.release(),
            Place::Lingering => self.lingering -= 1,
        }
    }

    /// Closes this loop's longest-quiet connection gracefully, if it has been quiet since
    /// `quiet_before`; true if it did.
    fn evict_oldest_quiet(&mut self, quiet_before: Instant) -> bool {
        let Some((since, index)) = self.quiet.first() else {
            return false;
        };
        if since > quiet_before {
            return false;
        }
        let (conns, mut cx) = self.context();
        let Some(entry) = conns[index].as_mut() else {
            return false;
        };
        let next = entry.conn.close_quietly(&mut cx);
        self.settle(index, next);
        // At once, not at the end of this turn: other loops hand newcomers to whoever holds
        // the oldest quiet connection, and must not count on the one just closed.
        self.publish();
        true
    }

    /// Runs the deadlines that are due. Each moves its connection's deadline on or closes
    /// it; the count bounds the loop all the same.
    fn expire(&mut self, now: Instant) {
        for _ in 0..self.deadlines.len() {
            let Some((deadline, index)) = self.deadlines.first() else {
                return;
            };
            if deadline > now {
                return;
            }
            let (conns, mut cx) = self.context();
            let Some(entry) = conns[index].as_mut() else {
                self.deadlines.remove(index);
                continue;
            };
            let next = entry.conn.on_timeout(&mut cx);
            self.settle(index, next);
        }
    }

    fn on_wake(&mut self) {
        let mut sink = [0u8; 64];
        while matches!((&self.woken).read(&mut sink), Ok(n) if n > 0) {}
        if self.shared.is_shutting_down() {
            self.begin_shutdown();
        }
        let handed_over = self.workers.take_handed_over(self.index);
        self.serve_handed_over(handed_over);
    }

    /// Takes the last connections handed over and closes the inbox: nothing handed over
    /// after that would be served. True if there were none.
    fn close_inbox(&mut self) -> bool {
        let handed_over = self.workers.close_inbox(self.index);
        let none = handed_over.is_empty();
        self.serve_handed_over(handed_over);
        none
    }

    /// Serves the connections other loops handed over, each after closing a quiet one to
    /// make room.
    fn serve_handed_over(&mut self, streams: Vec<TcpStream>) {
        for stream in streams {
            let quiet_before = self.quiet_before();
            if self.shared.is_shutting_down() || self.evict_oldest_quiet(quiet_before) {
                self.serve(stream);
            } else {
                // The quiet connection we were counted on has spoken since.
                self.refuse_claimed(stream);
            }
        }
    }

    /// Stops accepting at once; then every connection is answered with `Connection: close`
    /// and closed after it has been quiet briefly, until the grace period ends.
    fn begin_shutdown(&mut self) {
        if self.shutdown_deadline.is_some() {
            return;
        }
        self.shutdown_deadline = Some(self.clock.now() + self.shutdown_timeout);
        // Out of the epoll set first: after the drop other loops still hold the socket, and
        // a registered listener would keep waking this loop for clients it cannot accept.
        if let Some(listener) = self.listener.take() {
            let _ = self.epoll.delete(&listener);
            // Clients already queued have sent their request (TCP_DEFER_ACCEPT): closing
            // the listener would reset them. Serve them, with `Connection: close`.
            for _ in 0..MAX_ACCEPTED_AT_SHUTDOWN {
                match sys::accept_nonblocking(&listener) {
                    Ok(stream) => self.admit(stream),
                    Err(e) if is_transient(&e) => {}
                    Err(_) => break,
                }
            }
        }
        self.accept_paused_until = None;
        // Quiet connections now wait only the short quiet interval.
        for index in 0..self.conns.len() {
            if let Some(waits) = self.conns[index].as_ref().map(|e| e.waits) {
                self.settle(index, waits);
            }
        }
    }

    /// The loop cannot go on: reports why and closes its connections. Other loops must
    /// not count on it from now on: its inbox closes (what waits there is closed and
    /// given back) and it publishes that it holds no quiet connection.
    fn fail(&mut self, why: &str) -> Ending {
        report(&format!("worker {}: {why}", self.index));
        for stream in self.workers.close_inbox(self.index) {
            drop(stream);
            self.workers.capacity.release();
        }
        self.close_all();
        self.publish();
        Ending::Failed
    }

    fn close_all(&mut self) {
        for index in 0..self.conns.len() {
            self.remove(index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access_log::AccessLog;
    use crate::routes::{FailureRate, Routes};
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, Ordering};

    fn shared(quiet_before_close: Duration) -> Arc<Shared> {
        Arc::new(Shared {
            routes: Routes {
                health_failure_rate: FailureRate::from_billionths(0).unwrap(),
            },
            access_log: AccessLog::new(None),
            idle_timeout: Duration::from_secs(75),
            request_timeout: Duration::from_secs(10),
            quiet_before_close,
            accept_defer: Duration::from_secs(1),
            server: "micro-service/test".into(),
            shutting_down: AtomicBool::new(false),
        })
    }

    fn event_loop(listener: TcpListener) -> (EventLoop, Arc<Shared>) {
        let shared = shared(Duration::from_secs(1));
        let (workers, mut wake_ups) = Workers::new(1, 10).unwrap();
        let event_loop = EventLoop::new(
            0,
            listener,
            wake_ups.remove(0),
            Arc::clone(&shared),
            Arc::new(workers),
            Duration::from_secs(5),
        )
        .unwrap();
        (event_loop, shared)
    }

    #[test]
    fn a_loop_that_failed_takes_no_more_hand_overs_and_holds_no_quiet_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (mut event_loop, _) = event_loop(listener);
        let workers = Arc::clone(&event_loop.workers);
        // A quiet connection, published, and a newcomer handed over to take its place.
        let mut quiet = TcpStream::connect(addr).unwrap();
        quiet
            .write_all(b"GET /ping HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        event_loop.accept();
        event_loop.publish();
        let later = Instant::now() + Duration::from_secs(10);
        assert_eq!(workers.holder_of_oldest_quiet(later), Some(0));
        assert!(workers.capacity.claim());
        assert!(
            workers
                .hand_over(0, TcpStream::connect(addr).unwrap())
                .is_ok()
        );

        assert_eq!(event_loop.fail("injected"), Ending::Failed);
        assert_eq!(
            workers.holder_of_oldest_quiet(later),
            None,
            "publishes that it holds no quiet connection"
        );
        assert!(
            workers
                .hand_over(0, TcpStream::connect(addr).unwrap())
                .is_err(),
            "its inbox is closed"
        );
        assert_eq!(
            workers.capacity.open(),
            0,
            "what was handed over is given back"
        );
    }

    #[test]
    fn accept_errors_of_one_connection_are_transient_running_out_is_not() {
        let transient = [
            EINTR,
            ECONNABORTED,
            EPROTO,
            ENETDOWN,
            ENOPROTOOPT,
            EHOSTDOWN,
            ENONET,
            EHOSTUNREACH,
            EOPNOTSUPP,
            ENETUNREACH,
        ];
        for errno in transient {
            assert!(
                is_transient(&io::Error::from_raw_os_error(errno)),
                "{errno}"
            );
        }
        // EMFILE, ENFILE, ENOBUFS, ENOMEM: out of descriptors or memory.
        for errno in [24, 23, 105, 12] {
            assert!(
                !is_transient(&io::Error::from_raw_os_error(errno)),
                "{errno}"
            );
        }
        assert!(!is_transient(&io::Error::other("no errno")));
    }

    /// A client that has sent `GET path`, as the listener's accept deferral hands it over.
    fn client_with_request(addr: std::net::SocketAddr, path: &str) -> TcpStream {
        let mut client = TcpStream::connect(addr).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        client
            .write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
            .unwrap();
        client
    }

    #[test]
    fn at_shutdown_the_last_connections_handed_over_are_served_and_the_inbox_closes() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (mut event_loop, shared) = event_loop(listener);
        let workers = Arc::clone(&event_loop.workers);
        shared.shutting_down.store(true, Ordering::Release);
        let mut client = client_with_request(addr, "/ping");
        std::thread::sleep(Duration::from_millis(50));
        let handed_over = event_loop.listener.as_ref().unwrap().accept().unwrap().0;
        handed_over.set_nonblocking(true).unwrap();
        assert!(workers.capacity.claim());
        assert!(workers.hand_over(0, handed_over).is_ok());
        assert!(!event_loop.close_inbox(), "there was one");
        let mut answer = String::new();
        client.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(event_loop.close_inbox(), "none left");
        let late = TcpStream::connect(addr).unwrap();
        assert!(workers.hand_over(0, late).is_err(), "closed");
    }

    #[test]
    fn a_refused_connection_holds_a_lingering_place_until_it_is_gone() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (mut event_loop, _) = event_loop(listener);
        // Not /ping, which a busy service answers all the same.
        let mut client = client_with_request(addr, "/");
        std::thread::sleep(Duration::from_millis(50));
        let stream = sys::accept_nonblocking(event_loop.listener.as_ref().unwrap()).unwrap();
        event_loop.refuse(stream);
        assert_eq!(event_loop.lingering, 1, "answered 503, lingering after FIN");
        let mut answer = String::new();
        client.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        drop(client);
        std::thread::sleep(Duration::from_millis(50));
        event_loop.close_all();
        assert_eq!(event_loop.lingering, 0, "the place is given back");
        assert_eq!(event_loop.workers.capacity.open(), 0, "it never counted");
    }

    #[test]
    fn with_nothing_due_the_loop_sleeps_until_an_event() {
        let (event_loop, _) = event_loop(TcpListener::bind("127.0.0.1:0").unwrap());
        assert_eq!(event_loop.next_wake_up(), None);
    }

    #[test]
    fn at_shutdown_the_listener_leaves_the_epoll_set_before_it_is_dropped() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        // Another loop's copy keeps the socket open after this loop drops its own.
        let other_loops_copy = listener.try_clone().unwrap();
        let (mut event_loop, shared) = event_loop(listener);
        shared.shutting_down.store(true, Ordering::Release);
        event_loop.begin_shutdown();
        assert!(event_loop.listener.is_none());
        let _waiting = TcpStream::connect(other_loops_copy.local_addr().unwrap()).unwrap();
        let mut events = [Event::EMPTY; 8];
        let n = event_loop
            .epoll
            .wait(&mut events, Some(Duration::from_millis(200)))
            .unwrap();
        assert!(
            events[..n].iter().all(|e| e.token() != LISTENER),
            "a client at the closed listener still wakes the loop"
        );
        assert_eq!(
            event_loop.next_wake_up(),
            event_loop.shutdown_deadline,
            "only the grace period is due"
        );
    }

    #[test]
    fn clients_queued_at_the_stop_are_served_not_reset() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (mut event_loop, shared) = event_loop(listener);
        let mut queued = TcpStream::connect(addr).unwrap();
        std::io::Write::write_all(&mut queued, b"GET /ping HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        shared.shutting_down.store(true, Ordering::Release);
        event_loop.begin_shutdown();
        queued
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut answer = String::new();
        queued.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.contains("Connection: close"), "{answer}");
    }

    #[test]
    fn at_the_limit_the_loop_holding_the_quiet_connection_makes_room_for_another_loops_newcomer() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // Room for one connection; any quiet connection may be closed to make room.
        let shared = shared(Duration::ZERO);
        let (workers, mut wake_ups) = Workers::new(2, 1).unwrap();
        let workers = Arc::new(workers);
        let new_loop = |index, woken| {
            let listener = listener.try_clone().unwrap();
            let timeout = Duration::from_secs(5);
            EventLoop::new(
                index,
                listener,
                woken,
                Arc::clone(&shared),
                Arc::clone(&workers),
                timeout,
            )
            .unwrap()
        };
        let mut holder = new_loop(0, wake_ups.remove(0));
        let mut other = new_loop(1, wake_ups.remove(0));

        let mut first = TcpStream::connect(addr).unwrap();
        first
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        first
            .write_all(b"GET /ping HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        holder.accept();
        let mut answer = [0u8; 256];
        assert!(
            first.read(&mut answer).unwrap() > 0,
            "the first client is served"
        );
        holder.clock.tick();
        holder.publish();

        let mut newcomer = TcpStream::connect(addr).unwrap();
        newcomer
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        newcomer
            .write_all(b"GET /ping HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        other.clock.tick();
        other.accept();
        // The newcomer went to the loop holding the quiet connection, which was woken.
        holder.on_wake();
        let mut reply = String::new();
        let mut buf = [0u8; 512];
        while !reply.ends_with("Pong!") {
            let n = newcomer.read(&mut buf).unwrap();
            assert!(n > 0, "the newcomer got no answer: {reply:?}");
            reply.push_str(std::str::from_utf8(&buf[..n]).unwrap());
        }
        assert!(reply.starts_with("HTTP/1.1 200 OK"), "{reply}");
        assert_eq!(
            first.read(&mut answer).unwrap(),
            0,
            "the quiet one was closed with FIN"
        );
    }
}
