//! The connection state machine with no socket: a scripted transport feeds bytes in
//! chunks, takes writes up to a window, and records FIN; a clock moves only when told.

use super::*;
use crate::routes::FailureRate;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

#[derive(Default)]
struct Script {
    /// What each read returns next; when empty, `WouldBlock`, or end of stream if `eof`.
    incoming: RefCell<VecDeque<Vec<u8>>>,
    eof: Cell<bool>,
    sent: RefCell<Vec<u8>>,
    /// Bytes the peer will take before a write would block; `None`: unlimited.
    window: Cell<Option<usize>>,
    fin: Cell<bool>,
    reads: Cell<usize>,
    writes: Cell<usize>,
    /// Errors the next reads return, before the scripted chunks.
    read_errors: RefCell<VecDeque<io::ErrorKind>>,
    /// Errors the next writes return.
    write_errors: RefCell<VecDeque<io::ErrorKind>>,
}

#[derive(Clone, Default)]
struct Fake(Rc<Script>);

impl Fake {
    fn arrive(&self, bytes: &[u8]) {
        self.0.incoming.borrow_mut().push_back(bytes.to_vec());
    }

    fn sent(&self) -> String {
        String::from_utf8_lossy(&self.0.sent.borrow()).into_owned()
    }

    fn take_sent(&self) -> String {
        let text = self.sent();
        self.0.sent.borrow_mut().clear();
        text
    }
}

impl Transport for Fake {
    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.reads.set(self.0.reads.get() + 1);
        if let Some(kind) = self.0.read_errors.borrow_mut().pop_front() {
            return Err(kind.into());
        }
        let mut incoming = self.0.incoming.borrow_mut();
        let Some(chunk) = incoming.front_mut() else {
            if self.0.eof.get() {
                return Ok(0);
            }
            return Err(io::ErrorKind::WouldBlock.into());
        };
        let n = chunk.len().min(buf.len());
        buf[..n].copy_from_slice(&chunk[..n]);
        chunk.drain(..n);
        if chunk.is_empty() {
            incoming.pop_front();
        }
        Ok(n)
    }

    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        assert!(!self.0.fin.get(), "write after FIN");
        self.0.writes.set(self.0.writes.get() + 1);
        if let Some(kind) = self.0.write_errors.borrow_mut().pop_front() {
            return Err(kind.into());
        }
        let n = match self.0.window.get() {
            Some(0) => return Err(io::ErrorKind::WouldBlock.into()),
            Some(window) => {
                let n = window.min(buf.len());
                self.0.window.set(Some(window - n));
                n
            }
            None => buf.len(),
        };
        self.0.sent.borrow_mut().extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn shutdown_write(&self) -> io::Result<()> {
        self.0.fin.set(true);
        Ok(())
    }

    fn peer_addr(&self) -> Option<SocketAddr> {
        None
    }
}

const IDLE: Duration = Duration::from_secs(75);
const REQUEST: Duration = Duration::from_secs(10);
const QUIET: Duration = Duration::from_secs(1);
const DEFER: Duration = Duration::from_secs(1);
const GET_PING: &[u8] = b"GET /ping HTTP/1.1\r\nHost: t\r\n\r\n";

struct Harness {
    shared: Shared,
    clock: Clock,
    buffers: Buffers,
    fake: Fake,
    conn: Connection<Fake>,
}

impl Harness {
    fn new() -> Harness {
        let fake = Fake::default();
        let clock = Clock::new();
        let conn = Connection::new(fake.clone(), clock.now());
        Harness {
            shared: Shared {
                routes: Routes {
                    health_failure_rate: FailureRate::from_billionths(0).unwrap(),
                },
                access_log: AccessLog::new(None),
                idle_timeout: IDLE,
                request_timeout: REQUEST,
                quiet_before_close: QUIET,
                accept_defer: DEFER,
                server: "micro-service/test".into(),
                shutting_down: AtomicBool::new(false),
            },
            clock,
            buffers: Buffers::default(),
            fake,
            conn,
        }
    }

    /// Runs one of the connection's entry points with the harness's context.
    fn call(&mut self, f: impl FnOnce(&mut Connection<Fake>, &mut Context) -> Next) -> Next {
        let mut cx = Context {
            shared: &self.shared,
            clock: &self.clock,
            buffers: &mut self.buffers,
        };
        f(&mut self.conn, &mut cx)
    }

    fn ready(&mut self) -> Next {
        self.call(|conn, cx| conn.on_ready(cx))
    }

    fn timeout(&mut self) -> Next {
        self.call(|conn, cx| conn.on_timeout(cx))
    }

    fn close_quietly(&mut self) -> Next {
        self.call(|conn, cx| conn.close_quietly(cx))
    }

    fn refuse(&mut self) -> Next {
        self.call(|conn, cx| conn.refuse(cx, 503, "busy"))
    }

    fn deadline(&self) -> Instant {
        self.conn.deadline(&self.shared)
    }

    fn shut_down(&self) {
        self.shared.shutting_down.store(true, Ordering::Release);
    }
}

const WAIT_READ: Next = Next::WaitToRead;

/// The status lines in `text` (a body may run straight into the next answer).
fn status_lines(text: &str) -> Vec<&str> {
    text.match_indices("HTTP/1.1 ").map(|(_, s)| s).collect()
}

#[test]
fn answers_and_waits_quiet_holding_no_buffers() {
    let mut h = Harness::new();
    h.fake.arrive(GET_PING);
    assert_eq!(h.ready(), WAIT_READ);
    let sent = h.fake.take_sent();
    assert!(
        sent.starts_with("HTTP/1.1 200 OK\r\n") && sent.ends_with("Pong!"),
        "{sent}"
    );
    assert!(!sent.contains("Connection: close"));
    assert_eq!(
        h.conn.buffer_bytes(),
        0,
        "a quiet connection holds no buffers"
    );
    assert_eq!(h.buffers.input.spares() + h.buffers.output.spares(), 2);
    assert_eq!(h.conn.quiet_since(&h.shared), Some(h.clock.now()));
    assert_eq!(h.deadline(), h.clock.now() + IDLE);
}

#[test]
fn a_burst_of_large_and_pipelined_requests_leaves_no_buffer_behind() {
    let mut h = Harness::new();
    let big_head = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "a".repeat(15_000)
    );
    h.fake.arrive(big_head.as_bytes());
    h.fake.arrive(&GET_PING.repeat(3000));
    while !h.fake.0.incoming.borrow().is_empty() {
        assert_eq!(h.ready(), WAIT_READ);
    }
    assert_eq!(status_lines(&h.fake.take_sent()).len(), 3001);
    assert_eq!(h.conn.buffer_bytes(), 0);
    assert!(h.conn.quiet_since(&h.shared).is_some());
}

#[test]
fn a_partial_request_keeps_its_bytes_and_its_request_deadline() {
    let mut h = Harness::new();
    h.fake.arrive(b"GET /ping HTTP/1.1\r\n");
    assert_eq!(h.ready(), WAIT_READ);
    assert_eq!(
        h.conn.quiet_since(&h.shared),
        None,
        "a request is under way"
    );
    assert!(h.conn.buffer_bytes() > 0);
    assert_eq!(h.deadline(), h.clock.now() + REQUEST);
    h.fake.arrive(b"Host: t\r\n\r\n");
    assert_eq!(h.ready(), WAIT_READ);
    assert!(h.fake.sent().ends_with("Pong!"));
}

#[test]
fn a_new_silent_connection_has_the_request_deadline_and_counts_as_quiet_since_before_accept() {
    let mut h = Harness::new();
    let accepted = h.clock.now();
    assert_eq!(h.ready(), WAIT_READ);
    assert_eq!(h.deadline(), accepted + REQUEST);
    assert_eq!(h.conn.quiet_since(&h.shared), Some(accepted - DEFER));
    // Its deadline passes with nothing sent: closed gracefully, without a 408.
    h.clock.advance(REQUEST);
    assert_eq!(h.timeout(), WAIT_READ, "lingering after FIN");
    assert!(h.fake.0.fin.get());
    assert_eq!(h.fake.sent(), "");
    h.fake.0.eof.set(true);
    assert_eq!(h.ready(), Next::Close);
}

#[test]
fn the_idle_deadline_runs_from_the_last_answer() {
    let mut h = Harness::new();
    h.fake.arrive(GET_PING);
    h.ready();
    h.clock.advance(Duration::from_secs(30));
    h.fake.arrive(GET_PING);
    h.ready();
    assert_eq!(h.deadline(), h.clock.now() + IDLE);
    assert_eq!(h.conn.quiet_since(&h.shared), Some(h.clock.now()));
}

#[test]
fn a_request_that_arrived_as_the_idle_deadline_passed_is_answered_not_dropped() {
    let mut h = Harness::new();
    h.fake.arrive(GET_PING);
    h.ready();
    h.fake.take_sent();
    h.clock.advance(IDLE);
    h.fake.arrive(GET_PING);
    assert_eq!(h.timeout(), WAIT_READ);
    assert!(h.fake.sent().ends_with("Pong!"));
    assert!(!h.fake.0.fin.get());
}

#[test]
fn a_head_that_takes_too_long_gets_408() {
    let mut h = Harness::new();
    h.fake.arrive(b"GET / HTTP/1.1\r\n");
    h.ready();
    h.clock.advance(REQUEST);
    assert_eq!(h.timeout(), WAIT_READ);
    assert!(
        h.fake
            .sent()
            .starts_with("HTTP/1.1 408 Request Timeout\r\n")
    );
    assert!(h.fake.0.fin.get(), "closed after the answer");
}

#[test]
fn a_client_that_does_not_read_is_closed_at_the_request_deadline() {
    let mut h = Harness::new();
    h.fake.0.window.set(Some(10));
    h.fake.arrive(GET_PING);
    assert_eq!(h.ready(), Next::WaitToWrite);
    let blocked_at = h.clock.now();
    assert_eq!(
        h.conn.quiet_since(&h.shared),
        None,
        "unsent output is not quiet"
    );
    h.clock.advance(Duration::from_secs(3));
    assert_eq!(h.ready(), Next::WaitToWrite, "still blocked");
    assert_eq!(
        h.deadline(),
        blocked_at + REQUEST,
        "from when it first blocked"
    );
    h.clock.advance(REQUEST);
    assert_eq!(h.timeout(), Next::Close);
}

#[test]
fn a_write_that_unblocks_finishes_the_answer_and_goes_quiet() {
    let mut h = Harness::new();
    h.fake.0.window.set(Some(10));
    h.fake.arrive(GET_PING);
    h.ready();
    h.fake.0.window.set(None);
    assert_eq!(h.ready(), WAIT_READ);
    assert!(h.fake.sent().ends_with("Pong!"));
    assert!(h.conn.quiet_since(&h.shared).is_some());
    assert_eq!(h.conn.buffer_bytes(), 0);
}

#[test]
fn an_error_is_answered_then_the_connection_lingers_and_closes_on_the_clients_fin() {
    let mut h = Harness::new();
    h.fake
        .arrive(b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\nmore bytes the client sent");
    assert_eq!(h.ready(), WAIT_READ, "lingering");
    assert!(h.fake.sent().starts_with("HTTP/1.1 400 Bad Request\r\n"));
    assert!(h.fake.0.fin.get(), "FIN after the answer");
    assert!(h.conn.is_lingering());
    h.fake.arrive(&[b'x'; 5000]);
    assert_eq!(h.ready(), WAIT_READ, "what the client sends is dropped");
    h.fake.0.eof.set(true);
    assert_eq!(h.ready(), Next::Close);
}

#[test]
fn lingering_is_bounded_in_time_and_bytes() {
    let mut h = Harness::new();
    h.fake.arrive(b"BAD\r\n\r\n");
    assert_eq!(h.ready(), WAIT_READ);
    let until = h.clock.now() + LINGER_TIME;
    assert_eq!(h.deadline(), until);
    h.clock.advance(LINGER_TIME);
    assert_eq!(h.ready(), Next::Close, "time is up");

    let mut h = Harness::new();
    h.fake.arrive(b"BAD\r\n\r\n");
    h.ready();
    h.fake.arrive(&vec![b'x'; LINGER_BYTES]);
    h.fake.arrive(b"more");
    assert_eq!(h.ready(), Next::Close, "enough was dropped");
    assert_eq!(h.timeout(), Next::Close);
}

#[test]
fn connection_close_without_more_input_closes_at_once() {
    let mut h = Harness::new();
    h.fake
        .arrive(b"GET /ping HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(h.ready(), Next::Close);
    assert!(h.fake.sent().contains("Connection: close"));
    assert!(
        !h.fake.0.fin.get(),
        "nothing unread: a plain close sends FIN by itself"
    );
}

#[test]
fn connection_close_with_unread_input_lingers() {
    let mut h = Harness::new();
    h.fake
        .arrive(b"GET /ping HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\n");
    assert_eq!(h.ready(), WAIT_READ);
    assert!(h.fake.0.fin.get());
    assert_eq!(status_lines(&h.fake.sent()).len(), 1);
}

#[test]
fn at_shutdown_the_last_buffered_request_is_answered_with_close_after_the_others() {
    let mut h = Harness::new();
    h.shut_down();
    h.fake.arrive(&GET_PING.repeat(3));
    assert_eq!(h.ready(), Next::Close);
    let sent = h.fake.sent();
    assert_eq!(status_lines(&sent).len(), 3, "{sent}");
    assert_eq!(sent.matches("Connection: close").count(), 1, "{sent}");
    assert!(
        sent.trim_end_matches("Pong!")
            .ends_with("Connection: close\r\n\r\n")
    );
}

#[test]
fn at_shutdown_a_quiet_connection_waits_the_quiet_interval_then_closes_with_fin() {
    let mut h = Harness::new();
    h.fake.arrive(GET_PING);
    h.ready();
    h.fake.take_sent();
    h.shut_down();
    assert_eq!(h.deadline(), h.clock.now() + QUIET);
    h.clock.advance(QUIET);
    assert_eq!(h.timeout(), WAIT_READ);
    assert!(h.fake.0.fin.get());
    assert!(h.conn.is_lingering());
}

#[test]
fn at_shutdown_a_request_racing_the_close_is_answered_with_close() {
    let mut h = Harness::new();
    h.fake.arrive(GET_PING);
    h.ready();
    h.fake.take_sent();
    h.shut_down();
    h.clock.advance(QUIET);
    h.fake.arrive(GET_PING);
    assert_eq!(h.timeout(), Next::Close);
    let sent = h.fake.sent();
    assert!(
        sent.contains("Connection: close") && sent.ends_with("Pong!"),
        "{sent}"
    );
}

#[test]
fn a_connection_quiet_since_long_ago_closes_at_once_at_shutdown() {
    let mut h = Harness::new();
    h.fake.arrive(GET_PING);
    h.ready();
    let quiet_at = h.clock.now();
    h.clock.advance(Duration::from_secs(30));
    h.shut_down();
    assert_eq!(h.deadline(), quiet_at + QUIET, "already due");
}

#[test]
fn close_quietly_sends_fin_and_drops_what_follows() {
    let mut h = Harness::new();
    h.fake.arrive(GET_PING);
    h.ready();
    h.fake.take_sent();
    assert_eq!(h.close_quietly(), WAIT_READ);
    assert!(h.fake.0.fin.get());
    h.fake.arrive(GET_PING);
    assert_eq!(h.ready(), WAIT_READ);
    assert_eq!(h.fake.sent(), "", "nothing is answered after FIN");
    assert_eq!(h.conn.buffer_bytes(), 0);
}

#[test]
fn a_refused_newcomer_gets_its_answer_then_fin() {
    let mut h = Harness::new();
    h.fake.arrive(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(h.refuse(), WAIT_READ);
    let sent = h.fake.sent();
    assert!(
        sent.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{sent}"
    );
    assert!(sent.ends_with("Service Unavailable: busy\n"), "{sent}");
    assert!(h.fake.0.fin.get(), "FIN, then lingering: not a reset");
    assert!(h.conn.is_lingering());
}

/// At the connection limit a liveness probe is still answered, then closed: a busy pod is
/// alive. Everything else is refused as before.
#[test]
fn a_refused_newcomer_asking_for_ping_is_answered_then_closed() {
    let mut h = Harness::new();
    h.fake.arrive(GET_PING);
    assert_eq!(h.refuse(), WAIT_READ);
    let sent = h.fake.sent();
    assert!(sent.starts_with("HTTP/1.1 200 OK\r\n"), "{sent}");
    assert!(sent.contains("\r\nConnection: close\r\n"), "{sent}");
    assert!(sent.contains("\r\nCache-Control: no-store\r\n"), "{sent}");
    assert!(sent.ends_with("\r\n\r\nPong!"), "{sent}");
    assert!(h.fake.0.fin.get(), "FIN, then lingering");
    assert!(h.conn.is_lingering());

    let mut h = Harness::new();
    let out = SharedBuffer::default();
    let log = std::sync::Arc::new(crate::log_output::LogOutput::start(out.clone(), 16).unwrap());
    h.shared.access_log = AccessLog::new(Some((
        std::sync::Arc::clone(&log),
        crate::access_log::Format::Plain,
    )));
    h.fake.arrive(b"HEAD /ping?from=kubelet HTTP/1.0\r\n\r\n");
    h.refuse();
    assert!(log.flush(Duration::from_secs(10)));
    let logged = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    assert!(logged.contains(" \"HEAD /ping\" 200 0 "), "{logged}");
    let sent = h.fake.sent();
    assert!(sent.starts_with("HTTP/1.1 200 OK\r\n"), "{sent}");
    assert!(
        sent.ends_with("Content-Length: 5\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"),
        "no body: {sent}"
    );
}

#[test]
fn a_refused_newcomer_asking_for_anything_else_gets_503() {
    for request in [
        &b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: t\r\n\r\n",
        b"POST /ping HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx",
        b"GET /ping HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx",
        b"GET /ping HTTP/1.1\r\n\r\n",        // no Host
        b"GET /ping HTTP/1.1\r\nHost: t\r\n", // not complete yet
    ] {
        let mut h = Harness::new();
        h.fake.arrive(request);
        // Whatever else comes is not waited for: the refusal reads once.
        h.fake.arrive(b"\r\n");
        h.refuse();
        let sent = h.fake.sent();
        assert!(
            sent.starts_with("HTTP/1.1 503 "),
            "{}: {sent}",
            String::from_utf8_lossy(request)
        );
    }
}

/// The answer to HEAD has no body, errors included (RFC 9110 §9.3.2).
#[test]
fn error_answers_to_head_have_no_body() {
    let cases: &[(&[u8], &str)] = &[
        (
            b"HEAD / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999\r\n\r\n",
            "413",
        ),
        (
            b"HEAD / HTTP/1.1\r\nHost: t\r\nExpect: teapot\r\n\r\n",
            "417",
        ),
        (b"HEAD / HTTP/1.1\r\nHost: t\r\nBad Name: x\r\n\r\n", "400"),
        (
            b"\r\nHEAD / HTTP/1.1\r\nHost: t\r\nBad Name: x\r\n\r\n",
            "400",
        ),
        (
            b"HEAD / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "400",
        ),
    ];
    for &(request, status) in cases {
        for method in ["HEAD", "GET"] {
            let mut h = Harness::new();
            let request = String::from_utf8_lossy(request).replace("HEAD", method);
            h.fake.arrive(request.as_bytes());
            h.ready();
            let sent = h.fake.sent();
            assert!(
                sent.starts_with(&format!("HTTP/1.1 {status} ")),
                "{method}: {sent}"
            );
            let body = sent.split_once("\r\n\r\n").unwrap().1;
            assert_eq!(body.is_empty(), method == "HEAD", "{request:?}: {sent}");
            assert!(sent.contains("Content-Length: "), "{sent}");
        }
    }
    let mut h = Harness::new();
    h.fake.arrive(b"HEAD / HTTP/1.1\r\n");
    h.ready();
    h.clock.advance(REQUEST);
    h.timeout();
    assert!(h.fake.sent().ends_with("\r\n\r\n"), "408 to HEAD: no body");
    let mut h = Harness::new();
    h.fake.arrive(b"HEAD / HTTP/1.1\r\n");
    h.refuse();
    assert!(h.fake.sent().ends_with("\r\n\r\n"), "503 to HEAD: no body");
}

#[test]
fn expect_100_continue_is_answered_before_the_body() {
    let mut h = Harness::new();
    h.fake
        .arrive(b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
    assert_eq!(h.ready(), WAIT_READ);
    assert_eq!(h.fake.take_sent(), "HTTP/1.1 100 Continue\r\n\r\n");
    h.fake.arrive(b"abc");
    h.ready();
    assert!(h.fake.sent().ends_with("Hello World!"));
}

#[test]
fn end_of_stream_closes() {
    let mut h = Harness::new();
    h.fake.0.eof.set(true);
    assert_eq!(h.ready(), Next::Close);
}

#[test]
fn reads_stop_when_a_read_came_back_short() {
    let mut h = Harness::new();
    h.fake.arrive(GET_PING);
    h.fake.arrive(GET_PING);
    assert_eq!(h.ready(), WAIT_READ);
    // The first read was short (fewer bytes than the buffer's room): no second read in
    // the same turn; readiness will say when more is there.
    assert_eq!(h.fake.0.reads.get(), 1);
    assert_eq!(h.ready(), WAIT_READ);
    assert_eq!(status_lines(&h.fake.sent()).len(), 2);
}

#[test]
fn http10_is_told_keep_alive_when_it_asked() {
    let mut h = Harness::new();
    h.fake
        .arrive(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(h.ready(), WAIT_READ);
    assert!(h.fake.sent().contains("Connection: keep-alive"));
}

#[test]
fn a_connection_whose_answer_finishes_after_the_stop_is_closed_once_quiet() {
    let mut h = Harness::new();
    h.fake.0.window.set(Some(10));
    h.fake.arrive(GET_PING);
    assert_eq!(h.ready(), Next::WaitToWrite);
    h.shut_down();
    h.clock.advance(Duration::from_millis(300));
    h.fake.0.window.set(None);
    assert_eq!(h.ready(), WAIT_READ);
    assert_eq!(
        h.deadline(),
        h.clock.now() + QUIET,
        "closed soon, not at the grace's end"
    );
    h.clock.advance(QUIET);
    assert_eq!(h.timeout(), WAIT_READ);
    assert!(h.fake.0.fin.get());
}

#[test]
fn pipelined_answers_go_out_in_one_write_up_to_the_batch_size() {
    let mut h = Harness::new();
    h.fake.arrive(&GET_PING.repeat(100));
    assert_eq!(h.ready(), WAIT_READ);
    assert_eq!(status_lines(&h.fake.sent()).len(), 100);
    assert_eq!(h.fake.0.writes.get(), 1, "one write for the batch");
    assert!(!h.conn.is_lingering());
    // More answers than a batch holds: written as each batch fills, not all at the end.
    let mut h = Harness::new();
    let requests = MAX_BATCHED_OUTPUT / 100 * 3;
    let mut pipelined = GET_PING.repeat(requests);
    while !pipelined.is_empty() {
        let rest = pipelined.split_off(pipelined.len().min(4096));
        h.fake.arrive(&pipelined);
        pipelined = rest;
    }
    while !h.fake.0.incoming.borrow().is_empty() {
        h.ready();
    }
    let writes = h.fake.0.writes.get();
    let bytes = h.fake.0.sent.borrow().len();
    assert_eq!(status_lines(&h.fake.sent()).len(), requests);
    assert!(
        writes >= bytes / (MAX_BATCHED_OUTPUT + 4096) && writes <= bytes / MAX_BATCHED_OUTPUT + 20,
        "{writes} writes for {bytes} bytes"
    );
}

#[test]
fn a_head_request_whose_body_times_out_gets_408_without_a_body() {
    let mut h = Harness::new();
    h.fake
        .arrive(b"HEAD / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
    assert_eq!(h.ready(), WAIT_READ);
    h.clock.advance(REQUEST);
    h.timeout();
    let sent = h.fake.sent();
    assert!(sent.starts_with("HTTP/1.1 408 "), "{sent}");
    assert!(sent.ends_with("\r\n\r\n"), "no body: {sent}");
}

/// An access log that the test can read: the writer thread appends to a shared buffer.
#[derive(Clone, Default)]
struct SharedBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_access_log_names_a_request_whose_body_came_in_parts() {
    let mut h = Harness::new();
    let out = SharedBuffer::default();
    let log = crate::log_output::LogOutput::start(out.clone(), 16).unwrap();
    let log = std::sync::Arc::new(log);
    h.shared.access_log = AccessLog::new(Some((
        std::sync::Arc::clone(&log),
        crate::access_log::Format::Plain,
    )));
    h.fake
        .arrive(b"POST /ping HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nab");
    assert_eq!(h.ready(), WAIT_READ);
    h.fake.arrive(b"cde");
    h.ready();
    assert!(log.flush(Duration::from_secs(10)));
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains(" \"POST /ping\" 405 "), "{text}");
}

#[test]
fn an_interrupted_read_is_retried_and_a_failed_one_closes() {
    let mut h = Harness::new();
    h.fake
        .0
        .read_errors
        .borrow_mut()
        .push_back(io::ErrorKind::Interrupted);
    h.fake.arrive(GET_PING);
    assert_eq!(h.ready(), WAIT_READ);
    assert!(h.fake.sent().ends_with("Pong!"), "retried after EINTR");

    let mut h = Harness::new();
    h.fake
        .0
        .read_errors
        .borrow_mut()
        .push_back(io::ErrorKind::ConnectionReset);
    h.fake.arrive(GET_PING);
    assert_eq!(h.ready(), Next::Close, "a reset ends the connection");
    assert_eq!(h.fake.sent(), "");
}

#[test]
fn a_failed_write_closes() {
    struct Broken;
    impl Transport for Broken {
        fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
            buf[..GET_PING.len()].copy_from_slice(GET_PING);
            Ok(GET_PING.len())
        }
        fn write(&self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn shutdown_write(&self) -> io::Result<()> {
            Ok(())
        }
        fn peer_addr(&self) -> Option<SocketAddr> {
            None
        }
    }
    let h = Harness::new();
    let mut buffers = Buffers::default();
    let mut conn = Connection::new(Broken, h.clock.now());
    let mut cx = Context {
        shared: &h.shared,
        clock: &h.clock,
        buffers: &mut buffers,
    };
    assert_eq!(conn.on_ready(&mut cx), Next::Close);
}

#[test]
fn a_trickled_head_keeps_the_deadline_of_its_first_byte() {
    let mut h = Harness::new();
    let accepted = h.clock.now();
    h.clock.advance(Duration::from_secs(3));
    h.fake.arrive(b"GET / HT");
    h.ready();
    assert_eq!(
        h.deadline(),
        accepted + REQUEST,
        "a new connection: from its accept"
    );
    h.fake.arrive(b"TP/1.1\r\nHost: t\r\n\r\n");
    h.ready();
    h.fake.take_sent();
    h.clock.advance(Duration::from_secs(2));
    h.fake.arrive(b"GET / HTTP/1.1\r\n");
    h.ready();
    let started = h.clock.now();
    h.clock.advance(Duration::from_secs(4));
    h.fake.arrive(b"X-Slow: a\r\n");
    h.ready();
    assert_eq!(h.deadline(), started + REQUEST, "more bytes do not move it");
}

#[test]
fn an_interrupted_write_is_retried() {
    let mut h = Harness::new();
    h.fake
        .0
        .write_errors
        .borrow_mut()
        .push_back(io::ErrorKind::Interrupted);
    h.fake.arrive(GET_PING);
    assert_eq!(h.ready(), WAIT_READ);
    assert!(h.fake.sent().ends_with("Pong!"));
}

#[test]
fn lingering_retries_an_interrupted_read_and_ends_on_a_failed_one() {
    let mut h = Harness::new();
    h.fake.arrive(b"BAD\r\n\r\n");
    assert_eq!(h.ready(), WAIT_READ);
    assert!(h.conn.is_lingering());
    h.fake
        .0
        .read_errors
        .borrow_mut()
        .push_back(io::ErrorKind::Interrupted);
    assert_eq!(h.ready(), WAIT_READ, "EINTR: still lingering");
    h.fake
        .0
        .read_errors
        .borrow_mut()
        .push_back(io::ErrorKind::ConnectionReset);
    assert_eq!(
        h.ready(),
        Next::Close,
        "the client reset: nothing left to wait for"
    );
}

/// A client that sends its head one byte per packet must not make the parser read the
/// bytes already received again after each one: that is quadratic work, a cheap way to
/// keep a core busy (issue 17).
#[test]
fn a_head_trickled_one_byte_per_read_is_read_in_linear_time() {
    let mut h = Harness::new();
    let head = crate::http::parse::head_of(16 * 1024);
    crate::http::work::take();
    for &byte in &head {
        h.fake.arrive(&[byte]);
        assert_eq!(h.ready(), WAIT_READ);
    }
    assert!(h.fake.sent().starts_with("HTTP/1.1 200 OK\r\n"));
    // Each byte once as it arrives, and once more when the head is complete.
    let examined = crate::http::work::take();
    assert!(
        examined == 2 * head.len(),
        "{examined} bytes examined for a head of {}",
        head.len()
    );
}

/// Bodies, sized by Content-Length or chunked, fed one byte per read: each byte is looked
/// at once, never again with the bytes after it.
#[test]
fn a_body_trickled_one_byte_per_read_is_read_in_linear_time() {
    let data = "b".repeat(64 * 1024);
    let chunks: String = data
        .as_bytes()
        .chunks(1000)
        .map(|chunk| format!("{:x};ext=1\r\n{}\r\n", chunk.len(), "b".repeat(chunk.len())))
        .collect();
    let chunked = format!("{chunks}0\r\nTrailer: t\r\n\r\n");
    for (framing, body) in [
        (format!("Content-Length: {}", data.len()), data.clone()),
        ("Transfer-Encoding: chunked".to_string(), chunked),
    ] {
        let mut h = Harness::new();
        let head = format!("POST / HTTP/1.1\r\nHost: t\r\n{framing}\r\n\r\n");
        h.fake.arrive(head.as_bytes());
        assert_eq!(h.ready(), WAIT_READ);
        crate::http::work::take();
        for &byte in body.as_bytes() {
            h.fake.arrive(&[byte]);
            assert_eq!(h.ready(), WAIT_READ);
        }
        assert!(h.fake.sent().starts_with("HTTP/1.1 405 "), "{framing}");
        let examined = crate::http::work::take();
        assert_eq!(examined, body.len(), "{framing}");
    }
}

/// The write timeout is time without progress (as nginx's send_timeout): a client that
/// reads a long answer slowly but steadily gets all of it; one that stops reading is
/// closed once REQUEST has passed since it last took something.
#[test]
fn a_client_that_reads_slowly_but_steadily_is_not_cut_off() {
    let mut h = Harness::new();
    h.fake.0.window.set(Some(0));
    h.fake.arrive(&GET_PING.repeat(100));
    assert_eq!(h.ready(), Next::WaitToWrite);
    let started = h.clock.now();
    // 1,000 bytes every 6 s: the answers take far longer than REQUEST in all.
    let step = Duration::from_secs(6);
    while status_lines(&h.fake.sent()).len() < 100 {
        h.clock.advance(step);
        assert!(h.deadline() > h.clock.now(), "cut off while reading");
        h.fake.0.window.set(Some(1000));
        if h.ready() == WAIT_READ {
            break;
        }
        assert_eq!(
            h.deadline(),
            h.clock.now() + REQUEST,
            "from the last progress"
        );
    }
    assert_eq!(status_lines(&h.fake.sent()).len(), 100);
    assert!(h.clock.now() - started > 5 * REQUEST);
    // Then it stops reading in the middle of the next answers.
    h.fake.0.window.set(Some(100));
    h.fake.arrive(&GET_PING.repeat(10));
    assert_eq!(h.ready(), Next::WaitToWrite);
    let last_progress = h.clock.now();
    h.clock.advance(step);
    assert_eq!(h.ready(), Next::WaitToWrite, "no progress");
    assert_eq!(h.deadline(), last_progress + REQUEST);
    h.clock.advance(REQUEST - step);
    assert_eq!(h.timeout(), Next::Close);
}
