//! One connection's life as a state machine driven by readiness: read requests, answer
//! them in order, keep the connection open or close it, all within deadlines. It never
//! blocks, so one thread drives many connections and a slow client costs only memory. It
//! knows its socket only as a `Transport` and the time only as a `Clock`, so every path
//! (write-blocked, idle, linger, drain, errors) has deterministic unit tests below.

use crate::access_log::AccessLog;
use crate::buffer_pool::BufferPool;
use crate::clock::Clock;
use crate::http::chunked::ChunkedDecoder;
use crate::http::parse::{HeadParser, Header, MAX_HEADERS, Status, Version, parse_head};
use crate::http::request::{BodyFraming, Method, interpret};
use crate::http::response::{self, CONTINUE, Framing, Response, write_closing, write_response};
use crate::input::InputBuffer;
use crate::routes::Routes;
use crate::transport::Transport;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Responses to pipelined requests are batched into one write, up to this much.
const MAX_BATCHED_OUTPUT: usize = 64 * 1024;
/// Reads per readiness event before other connections get their turn.
const READS_PER_TURN: usize = 16;
/// When we close, we first send FIN and then read (and drop) what the client still sends,
/// so that the close does not turn into a reset that destroys our last answer before the
/// client has read it; within these bounds.
pub const LINGER_TIME: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 64 * 1024;

/// What every connection on every event loop shares.
pub struct Shared {
    pub routes: Routes,
    pub access_log: AccessLog,
    pub idle_timeout: Duration,
    pub request_timeout: Duration,
    /// How long a connection must have been quiet before we close it at shutdown or to
    /// make room: a client that has just had an answer may have its next request on the
    /// way, and closing under it would lose that request.
    pub quiet_before_close: Duration,
    /// How long the listener holds back a connection that has sent nothing
    /// (TCP_DEFER_ACCEPT): one accepted silent has been silent that long already.
    pub accept_defer: Duration,
    /// The `Server` header's value: `micro-service/<version>`.
    pub server: String,
    pub shutting_down: AtomicBool,
}

impl Shared {
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }
}

/// What a connection works with on its event loop: shared settings, the loop's clock
/// reading, and its spare buffers.
pub struct Context<'a> {
    pub shared: &'a Shared,
    pub clock: &'a Clock,
    pub buffers: &'a mut Buffers,
}

/// The spare buffers of one event loop.
pub struct Buffers {
    pub input: BufferPool,
    pub output: BufferPool,
}

impl Default for Buffers {
    fn default() -> Self {
        Buffers {
            input: BufferPool::for_input(),
            output: BufferPool::for_output(),
        }
    }
}

/// What the connection waits for next, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// For the client to send more.
    WaitToRead,
    /// For the client to read what we sent, so that there is room for the rest.
    WaitToWrite,
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
    /// Waiting for a request head; quiet when nothing of it has arrived yet.
    Head,
    /// Reading a request body to discard it, then answering.
    Body {
        pending: Pending,
        left: BodyLeft,
        expect_continue: bool,
    },
    /// Sending what is left, then closing.
    Closing(Then),
    /// Our side is shut; dropping what the client still sends, briefly.
    Lingering { until: Instant, drained: usize },
}

/// How a connection ends once everything is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Then {
    Close,
    /// FIN, then drop what the client still sends for a moment: after an error, or with
    /// input left unread, so that the client reads our answer instead of a reset.
    Linger,
}

enum Progress {
    Advanced,
    NeedInput,
}

pub struct Connection<T: Transport> {
    transport: T,
    /// Asked of the kernel on the first access-log line, and only then.
    peer: Option<SocketAddr>,
    input: InputBuffer,
    /// Keeps its place in a head that arrives in parts, so it reads each byte once.
    head: HeadParser,
    output: Vec<u8>,
    written: usize,
    state: State,
    accepted: Instant,
    /// When the current request began: its first bytes arrived, or, for the first request,
    /// the accept (time spent waiting counts); for one buffered behind another, when the
    /// one before it was answered.
    request_began: Instant,
    /// When the latest answer was sent: the start of the quiet time after it.
    answered: Instant,
    /// Whether the client has sent anything yet.
    spoken: bool,
    /// Whether the latest turn of work received anything.
    heard: bool,
    /// Set while a write waits for the client to read: when the last write that made
    /// progress (or, if none did, the first) was cut short.
    write_blocked_since: Option<Instant>,
    log_request: String,
}

impl<T: Transport> Connection<T> {
    pub fn new(transport: T, accepted: Instant) -> Connection<T> {
        Connection {
            transport,
            peer: None,
            input: InputBuffer::default(),
            head: HeadParser::default(),
            output: Vec::new(),
            written: 0,
            state: State::Head,
            accepted,
            request_began: accepted,
            answered: accepted,
            spoken: false,
            heard: false,
            write_blocked_since: None,
            log_request: String::new(),
        }
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// Between requests (or before the first) with nothing received and nothing to send.
    fn is_quiet(&self) -> bool {
        matches!(self.state, State::Head)
            && self.input.is_empty()
            && self.written == self.output.len()
    }

    /// Since when the connection has been quiet, if it is: the order in which connections
    /// are closed to make room, oldest first. One that has never spoken was already silent
    /// for the accept deferral before we saw it.
    pub fn quiet_since(&self, shared: &Shared) -> Option<Instant> {
        if !self.is_quiet() {
            return None;
        }
        if self.spoken {
            return Some(self.answered);
        }
        Some(
            self.accepted
                .checked_sub(shared.accept_defer)
                .unwrap_or(self.accepted),
        )
    }

    /// Only draining what the client still sends before closing: no longer a connection
    /// that is being served.
    pub fn is_lingering(&self) -> bool {
        matches!(self.state, State::Lingering { .. })
    }

    /// Memory held by this connection's buffers (not by the connection itself).
    #[cfg(test)]
    fn buffer_bytes(&self) -> usize {
        self.input.capacity() + self.output.capacity() + self.log_request.capacity()
    }

    /// When the current wait gives up.
    pub fn deadline(&self, shared: &Shared) -> Instant {
        if let Some(since) = self.write_blocked_since {
            return since + shared.request_timeout;
        }
        if let Some(quiet) = self.quiet_since(shared) {
            if shared.is_shutting_down() {
                return quiet + shared.quiet_before_close;
            }
            if self.spoken {
                return quiet + shared.idle_timeout;
            }
        }
        match self.state {
            State::Head | State::Body { .. } | State::Closing { .. } => {
                self.request_began + shared.request_timeout
            }
            State::Lingering { until, .. } => until,
        }
    }

    /// The deadline passed: close quietly, or answer 408 when a request was under way.
    pub fn on_timeout(&mut self, cx: &mut Context) -> Next {
        if self.write_blocked_since.is_some() {
            return Next::Close; // the client does not read what we send
        }
        match &self.state {
            State::Head if self.input.is_empty() => {
                // A request may have arrived since we last looked: answer it rather than
                // close under it.
                let next = self.on_ready(cx);
                if next == Next::WaitToRead && !self.heard {
                    return self.close_quietly(cx);
                }
                next
            }
            State::Head => {
                let head_only = names_head(self.input.filled());
                self.fail(cx, 408, "request not received in time", head_only);
                self.on_ready(cx)
            }
            State::Body { pending, .. } => {
                let head_only = pending.method == Method::Head;
                self.fail(cx, 408, "request not received in time", head_only);
                self.on_ready(cx)
            }
            State::Closing { .. } | State::Lingering { .. } => Next::Close,
        }
    }

    /// Closes a quiet connection gracefully: FIN, then drop what the client still sends
    /// for a moment, so that it sees the end of the stream instead of a reset.
    pub fn close_quietly(&mut self, cx: &mut Context) -> Next {
        self.state = State::Closing(Then::Linger);
        let next = self.close(cx, Then::Linger);
        self.release_buffers(cx.buffers);
        next
    }

    /// Refuses a new connection with an error answer (to HEAD without a body, so the bytes
    /// already sent are read first), then closes it gracefully. A liveness probe is
    /// answered instead: see `answer_liveness_probe`. Bounded like the refusal: one read
    /// of what has already arrived, no wait.
    pub fn refuse(&mut self, cx: &mut Context, status: u16, reason: &str) -> Next {
        let transport = &self.transport;
        let _ = self
            .input
            .read_with(&mut cx.buffers.input, |room| transport.read(room));
        if !self.answer_liveness_probe(cx) {
            let head_only = names_head(self.input.filled());
            self.fail(cx, status, reason, head_only);
        }
        self.on_ready(cx)
    }

    /// Answers `GET /ping` (or `HEAD`) if that is what has arrived, complete and without a
    /// body, then closes: a busy service is alive, and a refused liveness probe would have
    /// Kubernetes restart it for being busy. Any other request gets the refusal.
    fn answer_liveness_probe(&mut self, cx: &mut Context) -> bool {
        let mut storage = [Header::EMPTY; MAX_HEADERS];
        let Ok(Status::Complete { head, .. }) = parse_head(self.input.filled(), &mut storage)
        else {
            return false;
        };
        let method = match interpret(&head) {
            Ok(request)
                if request.path == "/ping"
                    && request.body == BodyFraming::None
                    && matches!(request.method, Method::Get | Method::Head) =>
            {
                request.method
            }
            _ => return false,
        };
        let shared = cx.shared;
        if shared.access_log.enabled() {
            self.log_request.clear();
            self.log_request
                .push_str(&String::from_utf8_lossy(head.method));
            self.log_request.push_str(" /ping");
        }
        let response = shared.routes.respond(method, "/ping");
        let (date, server) = (cx.clock.date(), &shared.server);
        let head_only = method == Method::Head;
        let sent = write_closing(self.output_buffer(cx), &response, head_only, date, server);
        self.log(&shared.access_log, response.status, sent);
        // Whatever else it sent is dropped while lingering, as after a refusal.
        self.state = State::Closing(Then::Linger);
        true
    }

    /// The socket is ready (or may be): do all the work that can be done without waiting.
    pub fn on_ready(&mut self, cx: &mut Context) -> Next {
        let next = self.work(cx);
        self.release_buffers(cx.buffers);
        next
    }

    /// Quiet connections hold no buffers: they go back to the loop's pool.
    fn release_buffers(&mut self, buffers: &mut Buffers) {
        self.input.release(&mut buffers.input);
        if self.output.is_empty() {
            // A buffer that was never taken has no capacity; the pool ignores it.
            buffers.output.give(std::mem::take(&mut self.output));
        }
        if self.log_request.is_empty() {
            self.log_request = String::new();
        }
    }

    fn work(&mut self, cx: &mut Context) -> Next {
        let mut reads = 0;
        self.heard = false;
        loop {
            match self.state {
                State::Closing(then) => return self.close(cx, then),
                State::Lingering { .. } => return self.linger(cx),
                State::Head | State::Body { .. } => {}
            }
            if self.output.len() - self.written >= MAX_BATCHED_OUTPUT {
                if let Some(next) = self.flush(cx.clock) {
                    return next;
                }
            }
            if let Progress::Advanced = self.advance(cx) {
                continue;
            }
            // Everything buffered is answered: send it before waiting for more.
            if let Some(next) = self.flush(cx.clock) {
                return next;
            }
            // A read that did not fill the buffer drained the socket: rather than a read
            // that would block (a syscall per request), wait for readiness.
            if reads == READS_PER_TURN || (reads > 0 && self.input.last_read_was_short()) {
                return Next::WaitToRead;
            }
            reads += 1;
            let was_quiet = self.input.is_empty();
            let transport = &self.transport;
            match self
                .input
                .read_with(&mut cx.buffers.input, |room| transport.read(room))
            {
                Ok(0) => return Next::Close,
                Ok(_) => {
                    if was_quiet && self.spoken {
                        self.request_began = cx.clock.now();
                    }
                    self.spoken = true;
                    self.heard = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Next::WaitToRead;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Next::Close,
            }
        }
    }

    /// Parses, discards bodies and answers, using only what is buffered.
    fn advance(&mut self, cx: &mut Context) -> Progress {
        match std::mem::replace(&mut self.state, State::Head) {
            State::Head => self.advance_head(cx),
            State::Body {
                pending,
                left,
                expect_continue,
            } => self.advance_body(cx, pending, left, expect_continue),
            other => {
                self.state = other;
                Progress::NeedInput
            }
        }
    }

    fn advance_head(&mut self, cx: &mut Context) -> Progress {
        if self.input.is_empty() {
            return Progress::NeedInput;
        }
        let mut storage = [Header::EMPTY; MAX_HEADERS];
        let (head, len) = match self.head.parse(self.input.filled(), &mut storage) {
            Ok(Status::Complete { head, len }) => (head, len),
            Ok(Status::Partial) => return Progress::NeedInput,
            Err(e) => {
                let head_only = names_head(self.input.filled());
                self.fail(cx, e.status(), e, head_only);
                return Progress::Advanced;
            }
        };
        let shared = cx.shared;
        if shared.access_log.enabled() {
            self.log_request.clear();
            self.log_request
                .push_str(&String::from_utf8_lossy(head.method));
        }
        let request = match interpret(&head) {
            Ok(request) => request,
            Err(e) => {
                let head_only = head.method == b"HEAD";
                self.fail(cx, e.status(), e, head_only);
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
                self.respond(cx, pending);
                return Progress::Advanced;
            }
            BodyFraming::Length(n) => BodyLeft::Length(n),
            BodyFraming::Chunked => BodyLeft::Chunked(ChunkedDecoder::default()),
        };
        self.advance_body(cx, pending, left, expect_continue)
    }

    fn advance_body(
        &mut self,
        cx: &mut Context,
        pending: Pending,
        mut left: BodyLeft,
        expect_continue: bool,
    ) -> Progress {
        let done = match &mut left {
            BodyLeft::Length(remaining) => {
                let take = (*remaining).min(self.input.filled().len() as u64);
                crate::http::examined(take as usize);
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
                    self.fail(cx, e.status(), e, pending.method == Method::Head);
                    return Progress::Advanced;
                }
            },
        };
        if done {
            self.respond(cx, pending);
            return Progress::Advanced;
        }
        self.state = State::Body {
            pending,
            left,
            expect_continue: false,
        };
        if expect_continue {
            // The client waits for this before it sends the body (RFC 9110 §10.1.1).
            self.output_buffer(cx).extend_from_slice(CONTINUE);
            return Progress::Advanced;
        }
        Progress::NeedInput
    }

    fn output_buffer(&mut self, cx: &mut Context) -> &mut Vec<u8> {
        if self.output.capacity() == 0 {
            self.output = cx.buffers.output.take();
        }
        &mut self.output
    }

    fn respond(&mut self, cx: &mut Context, pending: Pending) {
        // At shutdown the last request buffered is answered with `Connection: close`;
        // requests pipelined behind it are answered first.
        let keep_alive =
            pending.keep_alive && !(cx.shared.is_shutting_down() && self.input.is_empty());
        let framing = Framing {
            version: pending.version,
            keep_alive,
            head_only: pending.method == Method::Head,
        };
        let (date, server) = (cx.clock.date(), &cx.shared.server);
        let sent = write_response(
            self.output_buffer(cx),
            &pending.response,
            framing,
            date,
            server,
        );
        self.log(&cx.shared.access_log, pending.response.status, sent);
        if keep_alive {
            self.state = State::Head;
            self.answered_at(cx.clock.now());
        } else if self.input.is_empty() {
            self.state = State::Closing(Then::Close);
        } else {
            // Unread input after the last request: linger so our answer is not reset.
            self.state = State::Closing(Then::Linger);
        }
    }

    /// Answers an error that ends the connection, after any answers already batched.
    fn fail(&mut self, cx: &mut Context, status: u16, reason: impl ToString, head_only: bool) {
        let body = format!("{}: {}\n", response::reason(status), reason.to_string());
        let error = Response {
            status,
            body: body.as_bytes(),
            allow: false,
            no_store: false,
        };
        let (date, server) = (cx.clock.date(), &cx.shared.server);
        let sent = write_closing(self.output_buffer(cx), &error, head_only, date, server);
        self.log(&cx.shared.access_log, status, sent);
        self.state = State::Closing(Then::Linger);
    }

    /// Writes pending output. `None` when all is sent; otherwise what to do next.
    fn flush(&mut self, clock: &Clock) -> Option<Next> {
        let before = self.written;
        while self.written < self.output.len() {
            match self.transport.write(&self.output[self.written..]) {
                Ok(0) => return Some(Next::Close),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // The write timeout counts time without progress (as nginx's
                    // send_timeout): a client that reads slowly but steadily is not cut
                    // off, one that stops reading is.
                    if self.written > before || self.write_blocked_since.is_none() {
                        self.write_blocked_since = Some(clock.now());
                    }
                    return Some(Next::WaitToWrite);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Some(Next::Close),
            }
        }
        self.output.clear();
        self.written = 0;
        if self.write_blocked_since.take().is_some() && matches!(self.state, State::Head) {
            // The client has had the answer only now: its quiet time starts now.
            self.answered_at(clock.now());
        }
        None
    }

    /// The latest answer is complete at `now`: the quiet time after it starts, and so
    /// does the time of a request already buffered behind it.
    fn answered_at(&mut self, now: Instant) {
        self.answered = now;
        self.request_began = now;
    }

    fn close(&mut self, cx: &mut Context, then: Then) -> Next {
        if let Some(next) = self.flush(cx.clock) {
            return next;
        }
        if then == Then::Close || self.transport.shutdown_write().is_err() {
            return Next::Close;
        }
        self.input.clear();
        self.state = State::Lingering {
            until: cx.clock.now() + LINGER_TIME,
            drained: 0,
        };
        self.linger(cx)
    }

    fn linger(&mut self, cx: &Context) -> Next {
        let State::Lingering { until, drained } = &mut self.state else {
            return Next::Close;
        };
        // Read into the stack: what is dropped needs no buffer of the connection's own.
        let mut sink = [0u8; 2048];
        loop {
            if *drained >= LINGER_BYTES || cx.clock.now() >= *until {
                return Next::Close;
            }
            match self.transport.read(&mut sink) {
                Ok(0) => return Next::Close,
                Ok(n) => *drained += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Next::WaitToRead;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Next::Close,
            }
        }
    }

    fn log(&mut self, log: &AccessLog, status: u16, body_bytes: usize) {
        if log.enabled() {
            if self.peer.is_none() {
                self.peer = self.transport.peer_addr();
            }
            log.request(
                self.peer,
                &self.log_request,
                status,
                body_bytes,
                self.request_began,
            );
            self.log_request.clear();
        }
    }
}

/// Whether the request at the start of `buf` is a HEAD request, judged by its first bytes
/// alone: an error may be found before the request line is complete, and the answer to a
/// HEAD request carries no body, whatever it says (RFC 9110 §9.3.2).
fn names_head(buf: &[u8]) -> bool {
    let mut rest = buf;
    while let Some(after) = rest.strip_prefix(b"\r\n") {
        rest = after;
    }
    rest.starts_with(b"HEAD ")
}

#[cfg(test)]
mod tests;
