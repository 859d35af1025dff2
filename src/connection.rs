//! One connection's life as a state machine driven by readiness: read requests, answer
//! them in order, keep the connection open or close it, all within deadlines. It never
//! blocks, so one thread drives many connections and a slow client costs only memory.

use crate::access_log::AccessLog;
use crate::clock::Clock;
use crate::epoll::Interest;
use crate::http::chunked::ChunkedDecoder;
use crate::http::parse::{Header, MAX_HEADERS, Status, Version, parse_head};
use crate::http::request::{BodyFraming, Method, interpret};
use crate::http::response::{self, CONTINUE, Framing, Response, write_closing, write_response};
use crate::input::InputBuffer;
use crate::routes::Routes;
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Responses to pipelined requests are batched into one write, up to this much.
const MAX_BATCHED_OUTPUT: usize = 64 * 1024;
/// Reads per readiness event before other connections get their turn.
const READS_PER_TURN: usize = 16;
/// After an error we read (and drop) what the client still sends, so that closing does not
/// reset the connection before the client has read our answer; within these bounds.
const LINGER_TIME: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 64 * 1024;

/// What every connection on every event loop shares.
pub struct Shared {
    pub routes: Routes,
    pub access_log: AccessLog,
    pub idle_timeout: Duration,
    pub request_timeout: Duration,
    /// The `Server` header's value: `micro-service/<version>`.
    pub server: String,
    pub shutting_down: AtomicBool,
}

/// What the event loop should do with the connection next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Wait(Interest),
    Close,
}

/// A request whose head has been read and understood; owns what outlives the buffer.
#[derive(Debug, Clone, Copy)]
struct Pending {
    method: Method,
    version: Version,
    keep_alive: bool,
    response: Response<'static>,
}

#[derive(Debug)]
enum BodyLeft {
    Length(u64),
    Chunked(ChunkedDecoder),
}

#[derive(Debug)]
enum State {
    /// Waiting for a request head. `idle`: a keep-alive connection between requests.
    Head { idle: bool },
    /// Reading a request body to discard it, then answering.
    Body {
        pending: Pending,
        left: BodyLeft,
        expect_continue: bool,
    },
    /// Sending what is left, then closing; `linger` after an error.
    Closing { linger: bool },
    /// Our side is shut; dropping what the client still sends, briefly.
    Lingering { until: Instant, drained: usize },
}

enum Progress {
    Advanced,
    NeedInput,
}

pub struct Connection {
    stream: TcpStream,
    /// Asked of the kernel on the first access-log line, and only then.
    peer: Option<SocketAddr>,
    input: InputBuffer,
    output: Vec<u8>,
    written: usize,
    state: State,
    /// Start of the current state's clock: when the request began (for a new connection,
    /// its accept: time spent waiting counts), or when the connection became idle.
    since: Instant,
    /// Set while a write waits for the client to read.
    write_blocked_since: Option<Instant>,
    log_request: String,
}

impl Connection {
    pub fn new(stream: TcpStream, accepted: Instant) -> Connection {
        Connection {
            stream,
            peer: None,
            input: InputBuffer::default(),
            output: Vec::new(),
            written: 0,
            state: State::Head { idle: false },
            since: accepted,
            write_blocked_since: None,
            log_request: String::new(),
        }
    }

    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Between requests with nothing left to send: safe to close at any moment.
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Head { idle: true }) && self.written == self.output.len()
    }

    /// When the connection has been idle since, if it is.
    pub fn idle_since(&self) -> Option<Instant> {
        self.is_idle().then_some(self.since)
    }

    /// When the current wait gives up.
    pub fn deadline(&self, shared: &Shared) -> Instant {
        if let Some(since) = self.write_blocked_since {
            return since + shared.request_timeout;
        }
        match self.state {
            State::Head { idle: true } => self.since + shared.idle_timeout,
            State::Head { idle: false } | State::Body { .. } | State::Closing { .. } => {
                self.since + shared.request_timeout
            }
            State::Lingering { until, .. } => until,
        }
    }

    /// The deadline passed: close quietly, or answer 408 when a request was under way.
    pub fn on_timeout(&mut self, shared: &Shared, clock: &Clock) -> Next {
        if self.write_blocked_since.is_some() {
            return Next::Close; // the client does not read what we send
        }
        match self.state {
            State::Head { .. } if self.input.is_empty() => Next::Close,
            State::Head { .. } | State::Body { .. } => {
                self.fail(shared, clock, 408, "request not received in time");
                self.on_ready(shared, clock)
            }
            State::Closing { .. } | State::Lingering { .. } => Next::Close,
        }
    }

    /// The socket is ready (or may be): do all the work that can be done without waiting.
    pub fn on_ready(&mut self, shared: &Shared, clock: &Clock) -> Next {
        let mut reads = 0;
        loop {
            match self.state {
                State::Closing { linger } => return self.close(linger),
                State::Lingering { .. } => return self.linger(),
                State::Head { .. } | State::Body { .. } => {}
            }
            if self.output.len() - self.written >= MAX_BATCHED_OUTPUT {
                if let Some(next) = self.flush() {
                    return next;
                }
            }
            if let Progress::Advanced = self.advance(shared, clock) {
                continue;
            }
            // Everything buffered is answered: send it before waiting for more.
            if let Some(next) = self.flush() {
                return next;
            }
            // A read that did not fill the buffer drained the socket: rather than a read
            // that would block (a syscall per request), wait for readiness.
            if reads == READS_PER_TURN || (reads > 0 && self.input.last_read_was_short()) {
                return Next::Wait(Interest::Read);
            }
            reads += 1;
            match self.input.read_from(&mut &self.stream) {
                Ok(0) => return Next::Close,
                Ok(_) => {
                    if let State::Head { idle: true } = self.state {
                        self.state = State::Head { idle: false };
                        self.since = clock.now();
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Next::Wait(Interest::Read);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Next::Close,
            }
        }
    }

    /// Parses, discards bodies and answers, using only what is buffered.
    fn advance(&mut self, shared: &Shared, clock: &Clock) -> Progress {
        match std::mem::replace(&mut self.state, State::Head { idle: false }) {
            State::Head { idle } => {
                self.state = State::Head { idle };
                self.advance_head(shared, clock)
            }
            State::Body {
                pending,
                left,
                expect_continue,
            } => self.advance_body(shared, clock, pending, left, expect_continue),
            other => {
                self.state = other;
                Progress::NeedInput
            }
        }
    }

    fn advance_head(&mut self, shared: &Shared, clock: &Clock) -> Progress {
        let mut storage = [Header::EMPTY; MAX_HEADERS];
        let (head, len) = match parse_head(self.input.filled(), &mut storage) {
            Ok(Status::Complete { head, len }) => (head, len),
            Ok(Status::Partial) if self.input.is_full() => {
                self.fail(shared, clock, 431, "request head too large");
                return Progress::Advanced;
            }
            Ok(Status::Partial) => return Progress::NeedInput,
            Err(e) => {
                self.fail(shared, clock, e.status(), e);
                return Progress::Advanced;
            }
        };
        if shared.access_log.enabled() {
            self.log_request.clear();
            self.log_request
                .push_str(&String::from_utf8_lossy(head.method));
        }
        let request = match interpret(&head) {
            Ok(request) => request,
            Err(e) => {
                self.fail(shared, clock, e.status(), e);
                return Progress::Advanced;
            }
        };
        if shared.access_log.enabled() {
            self.log_request.push(' ');
            self.log_request.push_str(request.path);
        }
        let pending = Pending {
            method: request.method,
            version: request.version,
            keep_alive: request.keep_alive,
            response: shared.routes.respond(request.method, request.path),
        };
        let (body, expect_continue) = (request.body, request.expect_continue);
        self.input.consume(len);
        let left = match body {
            BodyFraming::None => {
                self.respond(shared, clock, pending);
                return Progress::Advanced;
            }
            BodyFraming::Length(n) => BodyLeft::Length(n),
            BodyFraming::Chunked => BodyLeft::Chunked(ChunkedDecoder::default()),
        };
        self.advance_body(shared, clock, pending, left, expect_continue)
    }

    fn advance_body(
        &mut self,
        shared: &Shared,
        clock: &Clock,
        pending: Pending,
        mut left: BodyLeft,
        expect_continue: bool,
    ) -> Progress {
        let done = match &mut left {
            BodyLeft::Length(remaining) => {
                let take = (*remaining).min(self.input.filled().len() as u64);
                self.input.consume(take as usize);
                *remaining -= take;
                *remaining == 0
            }
            BodyLeft::Chunked(decoder) => match decoder.feed(self.input.filled()) {
                Ok(used) => {
                    self.input.consume(used);
                    decoder.is_done()
                }
                Err(e) => {
                    self.fail(shared, clock, e.status(), e);
                    return Progress::Advanced;
                }
            },
        };
        if done {
            self.respond(shared, clock, pending);
            return Progress::Advanced;
        }
        self.state = State::Body {
            pending,
            left,
            expect_continue: false,
        };
        if expect_continue {
            // The client waits for this before it sends the body (RFC 9110 §10.1.1).
            self.output.extend_from_slice(CONTINUE);
            return Progress::Advanced;
        }
        Progress::NeedInput
    }

    fn respond(&mut self, shared: &Shared, clock: &Clock, pending: Pending) {
        let keep_alive = pending.keep_alive && !shared.shutting_down.load(Ordering::Acquire);
        let framing = Framing {
            version: pending.version,
            keep_alive,
            head_only: pending.method == Method::Head,
        };
        let sent = write_response(
            &mut self.output,
            &pending.response,
            framing,
            clock.date(),
            &shared.server,
        );
        self.log(&shared.access_log, pending.response.status, sent);
        if keep_alive {
            self.state = State::Head {
                idle: self.input.is_empty(),
            };
            self.since = clock.now();
        } else {
            // Unread input after the last request: linger so our answer is not reset.
            self.state = State::Closing {
                linger: !self.input.is_empty(),
            };
        }
    }

    /// Answers an error that ends the connection, after any answers already batched.
    fn fail(&mut self, shared: &Shared, clock: &Clock, status: u16, reason: impl ToString) {
        let body = format!("{}: {}\n", response::reason(status), reason.to_string());
        let error = Response {
            status,
            body: body.as_bytes(),
            allow: false,
        };
        let sent = write_closing(&mut self.output, &error, clock.date(), &shared.server);
        if self.log_request.is_empty() {
            self.log_request.push('-');
        }
        self.log(&shared.access_log, status, sent);
        self.state = State::Closing { linger: true };
    }

    /// Writes pending output. `None` when all is sent; otherwise what to do next.
    fn flush(&mut self) -> Option<Next> {
        while self.written < self.output.len() {
            match (&self.stream).write(&self.output[self.written..]) {
                Ok(0) => return Some(Next::Close),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.write_blocked_since.get_or_insert_with(Instant::now);
                    return Some(Next::Wait(Interest::Write));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Some(Next::Close),
            }
        }
        self.output.clear();
        self.written = 0;
        self.write_blocked_since = None;
        None
    }

    fn close(&mut self, linger: bool) -> Next {
        if let Some(next) = self.flush() {
            return next;
        }
        if !linger || self.stream.shutdown(Shutdown::Write).is_err() {
            return Next::Close;
        }
        self.input.clear();
        self.state = State::Lingering {
            until: Instant::now() + LINGER_TIME,
            drained: 0,
        };
        self.linger()
    }

    fn linger(&mut self) -> Next {
        let State::Lingering { until, drained } = &mut self.state else {
            return Next::Close;
        };
        let until = *until;
        loop {
            if *drained >= LINGER_BYTES || Instant::now() >= until {
                return Next::Close;
            }
            self.input.clear();
            match self.input.read_from(&mut &self.stream) {
                Ok(0) => return Next::Close,
                Ok(n) => *drained += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Next::Wait(Interest::Read);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Next::Close,
            }
        }
    }

    fn log(&mut self, log: &AccessLog, status: u16, body_bytes: usize) {
        if log.enabled() {
            if self.peer.is_none() {
                self.peer = self.stream.peer_addr().ok();
            }
            log.request(self.peer, &self.log_request, status, body_bytes, self.since);
            self.log_request.clear();
        }
    }
}
