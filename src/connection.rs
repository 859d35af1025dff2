//! One connection's life: read requests, answer them in order, keep the connection open
//! or close it, all within deadlines, so that no client can hold a worker for long.

use crate::access_log::AccessLog;
use crate::http::chunked::ChunkedDecoder;
use crate::http::date::DateCache;
use crate::http::parse::{Header, MAX_HEADERS, Status, Version, parse_head};
use crate::http::request::{BodyFraming, Method, interpret};
use crate::http::response::{self, CONTINUE, Framing, Response, write_response};
use crate::input::InputBuffer;
use crate::routes::Routes;
use crate::slots::{Phase, Registration, Slots};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Responses for pipelined requests are batched into one write, up to this much.
const MAX_BATCHED_OUTPUT: usize = 64 * 1024;
/// After an error we read (and drop) what the client still sends, so that closing does not
/// reset the connection before the client has read our answer; within these bounds.
const LINGER_TIME: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 64 * 1024;

/// What every worker shares.
pub struct Context {
    pub routes: Routes,
    pub access_log: AccessLog,
    pub idle_timeout: Duration,
    pub request_timeout: Duration,
    /// The `Server` header's value: `micro-service/<version>`.
    pub server: String,
    pub slots: Slots,
}

pub struct Accepted {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    /// The first request's deadline runs from here: time spent queued counts.
    pub at: Instant,
}

/// Why a connection ends early.
enum Close {
    /// The client left, timed out while idle, or was given up: nothing to say.
    Quietly,
    /// Answer with this error status and message, then close.
    WithError(u16, String),
}

impl Close {
    fn error(status: u16, message: impl ToString) -> Close {
        Close::WithError(status, message.to_string())
    }
}

impl From<io::Error> for Close {
    fn from(_: io::Error) -> Close {
        Close::Quietly
    }
}

/// A request whose head has been read and understood; owns what outlives the buffer.
struct Pending {
    method: Method,
    version: Version,
    keep_alive: bool,
    body: BodyFraming,
    expect_continue: bool,
    response: Response<'static>,
}

/// One socket and what we set on it.
struct Conn<'a> {
    stream: &'a TcpStream,
    registration: Registration<'a>,
    peer: SocketAddr,
    read_timeout: Option<Duration>,
    /// When the current request's first bytes arrived.
    started: Option<Instant>,
}

impl Conn<'_> {
    fn set_read_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        // A syscall; skipped when nothing changes, which is every keep-alive request.
        if self.read_timeout != Some(timeout) {
            self.stream.set_read_timeout(Some(timeout))?;
            self.read_timeout = Some(timeout);
        }
        Ok(())
    }

    fn started(&mut self) -> Instant {
        *self.started.get_or_insert_with(Instant::now)
    }
}

/// A worker's reusable state: buffers live as long as the worker, not the connection.
pub struct Worker {
    ctx: Arc<Context>,
    index: usize,
    input: InputBuffer,
    output: Vec<u8>,
    date: DateCache,
    log_request: String,
}

impl Worker {
    pub fn new(ctx: Arc<Context>, index: usize) -> Worker {
        Worker {
            ctx,
            index,
            input: InputBuffer::default(),
            output: Vec::with_capacity(1024),
            date: DateCache::default(),
            log_request: String::new(),
        }
    }

    pub fn serve(&mut self, accepted: Accepted) {
        let stream = accepted.stream;
        // Responses are complete when written: Nagle would only delay them.
        let _ = stream.set_nodelay(true);
        let _ = stream.set_write_timeout(Some(self.ctx.request_timeout));
        let ctx = Arc::clone(&self.ctx);
        let mut conn = Conn {
            stream: &stream,
            registration: ctx.slots.register(self.index, &stream),
            peer: accepted.peer,
            read_timeout: None,
            started: Some(accepted.at),
        };
        self.input.clear();
        self.output.clear();
        self.log_request.clear();
        let close = match self.serve_requests(&mut conn) {
            Ok(()) => None,
            Err(Close::Quietly) => None,
            Err(Close::WithError(status, message)) => Some((status, message)),
        };
        if let Some((status, message)) = close {
            self.answer_error(&mut conn, status, &message);
        } else if !self.input.is_empty() {
            // The client sent more after its last request; don't reset our answer.
            self.linger(&mut conn);
        }
    }

    fn serve_requests(&mut self, conn: &mut Conn<'_>) -> Result<(), Close> {
        loop {
            let (request, head_len) = self.read_head(conn)?;
            self.input.consume(head_len);
            match request.body {
                BodyFraming::None => {}
                BodyFraming::Length(n) => self.discard_body(conn, n, request.expect_continue)?,
                BodyFraming::Chunked => self.discard_chunked(conn, request.expect_continue)?,
            }
            let keep_alive = request.keep_alive && !self.ctx.slots.is_shutting_down();
            let framing = Framing {
                version: request.version,
                keep_alive,
                head_only: request.method == Method::Head,
            };
            let sent = write_response(
                &mut self.output,
                &request.response,
                framing,
                self.date.get(),
                &self.ctx.server,
            );
            self.log(conn, request.response.status, sent);
            conn.started = None;
            if !keep_alive {
                return self.flush(conn);
            }
            if self.output.len() >= MAX_BATCHED_OUTPUT {
                self.flush(conn)?;
            }
        }
    }

    /// Reads until a whole head is buffered; returns what it asks and its length.
    fn read_head(&mut self, conn: &mut Conn<'_>) -> Result<(Pending, usize), Close> {
        loop {
            let mut storage = [Header::EMPTY; MAX_HEADERS];
            match parse_head(self.input.filled(), &mut storage) {
                Ok(Status::Complete { head, len }) => {
                    if self.ctx.access_log.enabled() {
                        self.log_request.clear();
                        self.log_request
                            .push_str(&String::from_utf8_lossy(head.method));
                    }
                    let request = interpret(&head).map_err(|e| Close::error(e.status(), e))?;
                    if self.ctx.access_log.enabled() {
                        self.log_request.push(' ');
                        self.log_request.push_str(request.path);
                    }
                    let pending = Pending {
                        method: request.method,
                        version: request.version,
                        keep_alive: request.keep_alive,
                        body: request.body,
                        expect_continue: request.expect_continue,
                        response: self.ctx.routes.respond(request.method, request.path),
                    };
                    return Ok((pending, len));
                }
                Ok(Status::Partial) if self.input.is_full() => {
                    return Err(Close::error(431, "request head too large"));
                }
                Ok(Status::Partial) => {}
                Err(e) => return Err(Close::error(e.status(), e)),
            }
            self.wait_for_head_bytes(conn)?;
        }
    }

    /// Answers what is batched, then waits for more of a head: on an idle keep-alive
    /// connection within the idle timeout, otherwise within the request deadline (which
    /// for a new connection runs from its accept).
    fn wait_for_head_bytes(&mut self, conn: &mut Conn<'_>) -> Result<(), Close> {
        self.flush(conn)?;
        let idle = conn.started.is_none() && self.input.is_empty();
        // With nothing received there is nothing to answer: a timeout closes quietly.
        let give_up = if self.input.is_empty() {
            Close::Quietly
        } else {
            Close::error(408, "request head not received in time")
        };
        let timeout = if idle {
            if !conn.registration.wait(Phase::Idle, Instant::now()) {
                return Err(Close::Quietly);
            }
            self.ctx.idle_timeout
        } else {
            let started = conn.started();
            if !conn.registration.wait(Phase::ReadingHead, started) {
                return Err(give_up);
            }
            match self.time_left(conn) {
                Ok(left) => left,
                Err(_) => return Err(give_up),
            }
        };
        conn.set_read_timeout(timeout)?;
        match self.input.read_from(&mut conn.stream) {
            Ok(0) if conn.registration.was_evicted() => Err(give_up),
            Ok(0) => Err(Close::Quietly),
            Ok(_) => {
                conn.registration.busy();
                if idle {
                    conn.started = Some(Instant::now());
                }
                Ok(())
            }
            Err(e) if is_timeout(&e) && !idle => Err(give_up),
            Err(_) => Err(Close::Quietly),
        }
    }

    /// The rest of the request deadline, which runs from the request's first byte.
    fn time_left(&self, conn: &mut Conn<'_>) -> Result<Duration, Close> {
        let deadline = conn.started() + self.ctx.request_timeout;
        match deadline.checked_duration_since(Instant::now()) {
            Some(left) if !left.is_zero() => Ok(left),
            _ => Err(Close::error(408, "request not received in time")),
        }
    }

    /// Reads more of a request body, within the request deadline.
    fn read_body_bytes(&mut self, conn: &mut Conn<'_>) -> Result<(), Close> {
        let timeout = self.time_left(conn)?;
        conn.set_read_timeout(timeout)?;
        match self.input.read_from(&mut conn.stream) {
            Ok(0) => Err(Close::Quietly),
            Ok(_) => Ok(()),
            Err(e) if is_timeout(&e) => Err(Close::error(408, "request body not received in time")),
            Err(_) => Err(Close::Quietly),
        }
    }

    /// Sends `100 Continue` if the client waits for it before sending its body.
    fn send_continue(&mut self, conn: &mut Conn<'_>, expect: &mut bool) -> Result<(), Close> {
        if std::mem::take(expect) {
            self.output.extend_from_slice(CONTINUE);
            self.flush(conn)?;
        }
        Ok(())
    }

    fn discard_body(&mut self, conn: &mut Conn<'_>, len: u64, expect: bool) -> Result<(), Close> {
        let (mut remaining, mut expect) = (len, expect);
        loop {
            let take = remaining.min(self.input.filled().len() as u64);
            self.input.consume(take as usize);
            remaining -= take;
            if remaining == 0 {
                return Ok(());
            }
            self.send_continue(conn, &mut expect)?;
            self.read_body_bytes(conn)?;
        }
    }

    fn discard_chunked(&mut self, conn: &mut Conn<'_>, expect: bool) -> Result<(), Close> {
        let mut decoder = ChunkedDecoder::default();
        let mut expect = expect;
        loop {
            let used = decoder
                .feed(self.input.filled())
                .map_err(|e| Close::error(e.status(), e))?;
            self.input.consume(used);
            if decoder.is_done() {
                return Ok(());
            }
            self.send_continue(conn, &mut expect)?;
            self.read_body_bytes(conn)?;
        }
    }

    fn flush(&mut self, conn: &mut Conn<'_>) -> Result<(), Close> {
        if !self.output.is_empty() {
            let result = conn.stream.write_all(&self.output);
            self.output.clear();
            result?;
        }
        Ok(())
    }

    /// Answers an error that ends the connection: what is batched, then the error.
    fn answer_error(&mut self, conn: &mut Conn<'_>, status: u16, message: &str) {
        let body = format!("{}: {message}\n", response::reason(status));
        let framing = Framing {
            version: Version::Http11,
            keep_alive: false,
            head_only: false,
        };
        let error = Response {
            status,
            body: body.as_bytes(),
            allow: false,
        };
        let sent = write_response(
            &mut self.output,
            &error,
            framing,
            self.date.get(),
            &self.ctx.server,
        );
        if self.log_request.is_empty() {
            self.log_request.push('-');
        }
        self.log(conn, status, sent);
        if self.flush(conn).is_ok() {
            self.linger(conn);
        }
    }

    /// Closes our side, then drops what the client still sends for a moment, so that its
    /// unread data does not make the kernel reset the connection under our last answer.
    fn linger(&mut self, conn: &mut Conn<'_>) {
        if !conn.registration.wait(Phase::Idle, Instant::now())
            || conn.stream.shutdown(Shutdown::Write).is_err()
        {
            return;
        }
        let deadline = Instant::now() + LINGER_TIME;
        let mut drained = 0;
        let mut scratch = [0u8; 4096];
        while drained < LINGER_BYTES {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                break;
            };
            if left.is_zero() || conn.set_read_timeout(left).is_err() {
                break;
            }
            match conn.stream.read(&mut scratch) {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    }

    fn log(&mut self, conn: &mut Conn<'_>, status: u16, body_bytes: usize) {
        if self.ctx.access_log.enabled() {
            let started = conn.started();
            self.ctx
                .access_log
                .request(conn.peer, &self.log_request, status, body_bytes, started);
            self.log_request.clear();
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
