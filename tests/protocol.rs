//! HTTP/1.1 connection management and message framing (RFC 9112), over real sockets.

mod common;
use common::{Client, Service};
use std::thread;
use std::time::Duration;

const GET_PING: &str = "GET /ping HTTP/1.1\r\nHost: t\r\n\r\n";

#[test]
fn keeps_http11_connections_alive() {
    let service = Service::start(&[]);
    let mut client = Client::new(service.connect());
    for _ in 0..5 {
        client.send(GET_PING.as_bytes());
        let reply = client.reply();
        assert_eq!(reply.body_text(), "Pong!");
        assert!(!reply.closes());
    }
}

#[test]
fn answers_pipelined_requests_in_order() {
    let service = Service::start(&[]);
    let mut client = Client::new(service.connect());
    client.send(
        b"GET / HTTP/1.1\r\nHost: t\r\n\r\nGET /ping HTTP/1.1\r\nHost: t\r\n\r\n\
          GET /nope HTTP/1.1\r\nHost: t\r\n\r\nHEAD / HTTP/1.1\r\nHost: t\r\n\r\n\
          GET /ping HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(client.reply().body_text(), "Hello World!");
    assert_eq!(client.reply().body_text(), "Pong!");
    assert_eq!(client.reply().status, 404);
    assert_eq!(client.head_reply().status, 200);
    let last = client.reply();
    assert_eq!(last.body_text(), "Pong!");
    assert!(last.closes());
    assert!(client.is_closed_by_server());
}

#[test]
fn a_request_split_across_packets_is_answered() {
    let service = Service::start(&[]);
    let mut client = Client::new(service.connect());
    for piece in ["GET /pi", "ng HTTP/1.1\r", "\nHost: t\r\n", "\r\n"] {
        client.send(piece.as_bytes());
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(client.reply().body_text(), "Pong!");
}

#[test]
fn honours_connection_close() {
    let service = Service::start(&[]);
    let mut client = Client::new(service.connect());
    client.send(b"GET /ping HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let reply = client.reply();
    assert!(reply.closes());
    assert!(client.is_closed_by_server());
}

#[test]
fn http10_closes_unless_asked_to_keep_alive() {
    let service = Service::start(&[]);
    let mut client = Client::new(service.connect());
    client.send(b"GET /ping HTTP/1.0\r\n\r\n");
    assert!(client.reply().closes());
    assert!(client.is_closed_by_server());

    let mut client = Client::new(service.connect());
    client.send(b"GET /ping HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let reply = client.reply();
    assert_eq!(reply.header("connection"), Some("keep-alive"));
    client.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(client.reply().body_text(), "Hello World!");
}

#[test]
fn discards_a_content_length_body_and_reads_the_next_request() {
    let service = Service::start(&[]);
    let mut client = Client::new(service.connect());
    client.send(
        b"POST /ping HTTP/1.1\r\nHost: t\r\nContent-Length: 20\r\n\r\nGET /nope HTTP/1.1\r\n\r\n",
    );
    client.send(GET_PING.as_bytes());
    assert_eq!(
        client.reply().status,
        405,
        "the body looked like a request, but was a body"
    );
    assert_eq!(client.reply().body_text(), "Pong!");
}

#[test]
fn discards_a_chunked_body_and_reads_the_next_request() {
    let service = Service::start(&[]);
    let mut client = Client::new(service.connect());
    client.send(
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
          5\r\nGET /\r\n11;ext=1\r\nnope HTTP/1.1\r\n\r\n\r\n0\r\nTrailer: x\r\n\r\n",
    );
    client.send(GET_PING.as_bytes());
    assert_eq!(client.reply().status, 405);
    assert_eq!(client.reply().body_text(), "Pong!");
}

#[test]
fn a_body_arriving_slowly_is_still_framed() {
    let service = Service::start(&[]);
    let mut client = Client::new(service.connect());
    client.send(b"GET /ping HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n12345");
    thread::sleep(Duration::from_millis(50));
    client.send(b"67890");
    client.send(GET_PING.as_bytes());
    assert_eq!(client.reply().body_text(), "Pong!");
    assert_eq!(client.reply().body_text(), "Pong!");
}

#[test]
fn sends_100_continue_before_reading_an_expected_body() {
    let service = Service::start(&[]);
    let mut client = Client::new(service.connect());
    client.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    assert_eq!(client.reply().status, 100);
    client.send(b"body");
    assert_eq!(client.reply().status, 405);
}

/// Sends a bad request; checks its status, a short plain-text reason, and the close.
fn assert_refused(service: &Service, raw: &[u8], status: u16, reason: &str) {
    let mut client = Client::new(service.connect());
    client.send(raw);
    let reply = client.reply();
    let text = reply.body_text();
    assert_eq!(
        reply.status,
        status,
        "{:?} -> {text}",
        String::from_utf8_lossy(raw)
    );
    assert!(text.contains(reason), "{text:?} should say {reason:?}");
    assert!(text.len() < 200 && text.ends_with('\n'));
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert!(reply.closes());
    assert!(client.is_closed_by_server());
}

#[test]
fn refuses_malformed_and_ambiguous_requests() {
    let service = Service::start(&[]);
    let cases: &[(&[u8], u16, &str)] = &[
        (b"GET /ping HTTP/1.1\r\n\r\n", 400, "missing Host"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "more than one Host"),
        (b"GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n folded\r\n\r\n", 400, "folding"),
        (b"GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400, "whitespace"),
        (b"GET / HTTP/1.1\r\nHost: t\r\nBad{Name: x\r\n\r\n", 400, "field name"),
        (b"GET / HTTP/1.1\r\nHost: t\r\nX: a\x01b\r\n\r\n", 400, "field value"),
        (b"G@T / HTTP/1.1\r\nHost: t\r\n\r\n", 400, "method"),
        (b"GET / HTTP/1.1\nHost: t\n\n", 400, "CRLF"),
        (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", 400, "method"),
        (
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            400,
            "both Content-Length and Transfer-Encoding",
        ),
        (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400, "conflicting"),
        (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5x\r\n\r\n", 400, "invalid Content-Length"),
        (b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "chunk size"),
        (b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "not implemented"),
        (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999\r\n\r\n", 413, "larger than 1 MiB"),
        (b"GET / HTTP/1.1\r\nHost: t\r\nExpect: something\r\n\r\n", 417, "100-continue"),
        (b"GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505, "version"),
        (b"GET / HTTP/1.1\r\nHost: t\r\n\r\n", 200, ""),
    ];
    for &(raw, status, reason) in &cases[..cases.len() - 1] {
        assert_refused(&service, raw, status, reason);
    }
    // The service keeps serving everyone else.
    assert_eq!(service.get("/ping").body_text(), "Pong!");
}

#[test]
fn bounds_the_target_and_the_header_section() {
    let service = Service::start(&[]);
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(8 * 1024));
    assert_refused(&service, long_target.as_bytes(), 414, "8 KiB");
    let many: String = (0..100).map(|i| format!("X-{i}: v\r\n")).collect();
    assert_refused(
        &service,
        format!("GET / HTTP/1.1\r\nHost: t\r\n{many}\r\n").as_bytes(),
        431,
        "64",
    );
    let large = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX: {}\r\n\r\n",
        "v".repeat(20 * 1024)
    );
    assert_refused(&service, large.as_bytes(), 431, "16 KiB");
    assert_eq!(service.get("/ping").body_text(), "Pong!");
}

#[test]
fn an_error_after_pipelined_requests_answers_those_first() {
    let service = Service::start(&[]);
    let mut client = Client::new(service.connect());
    client.send(format!("{GET_PING}GET / HTTP/9.9\r\nHost: t\r\n\r\n{GET_PING}").as_bytes());
    assert_eq!(client.reply().body_text(), "Pong!");
    assert_eq!(client.reply().status, 505);
    assert!(
        client.is_closed_by_server(),
        "nothing after the error is answered"
    );
}

#[test]
fn error_answers_to_head_carry_no_body() {
    let service = Service::start(&[]);
    for (raw, status) in [
        (
            &b"HEAD / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999\r\n\r\n"[..],
            413,
        ),
        (b"HEAD / HTTP/1.1\r\nHost: t\r\nExpect: tea\r\n\r\n", 417),
        (b"HEAD / HTTP/1.1\r\nHost: t\r\nBad Name: x\r\n\r\n", 400),
    ] {
        let mut client = Client::new(service.connect());
        client.send(raw);
        let reply = client.head_reply();
        assert_eq!(reply.status, status);
        assert!(reply.closes());
        // A body would be read here as bytes after the head.
        assert!(
            client.is_closed_by_server(),
            "{status}: no body after the head"
        );
    }
}
