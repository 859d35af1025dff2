//! The same bytes get the same answer from the running service, whether they arrive in one
//! write or one byte per write (issue 10 items 12-14).

mod common;
use common::{IO_TIMEOUT, Service};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

/// Sends `raw` on a fresh connection in the given pieces, pausing after each for the
/// service to read and judge what it has, then reads until the service closes; returns
/// the status of the first response. (The pauses only give a wrong answer its chance
/// to show: a right one does not depend on them.)
fn status(addr: SocketAddr, raw: &[u8], cuts: &[usize], pause: Duration) -> u16 {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_nodelay(true).unwrap();
    let mut sent = 0;
    for &end in cuts.iter().chain([&raw.len()]) {
        // The service may answer and close before all is sent; its answer still counts.
        if stream.write_all(&raw[sent..end]).is_err() {
            break;
        }
        sent = end;
        std::thread::sleep(pause);
    }
    let _ = stream.shutdown(Shutdown::Write);
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    let status_line = reply.split(|&b| b == b'\r').next().unwrap_or_default();
    let text = String::from_utf8_lossy(status_line);
    text.strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"))
}

/// A POST with a chunked body: `/` answers 405 to POST once the body has been read, so 405
/// means the framing was accepted.
fn post_chunked(body: &str) -> Vec<u8> {
    format!("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{body}")
        .into_bytes()
}

#[test]
fn answers_the_same_whole_or_byte_by_byte() {
    let service = Service::start(&[("WORKERS", "1")]);
    let close = "Host: t\r\nConnection: close\r\n\r\n";
    let field_section = |size: usize| {
        let filler = "v".repeat(size - close.len() - "X: \r\n".len() + 2);
        format!("GET / HTTP/1.1\r\nX: {filler}\r\n{close}")
    };
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "8,302-byte request line, 100-byte method",
            format!(
                "{} /{} HTTP/1.1\r\n{close}",
                "M".repeat(100),
                "a".repeat(8191)
            )
            .into(),
            501,
        ),
        (
            "8,302-byte request line, 8,289-byte target",
            format!("GET /{} HTTP/1.1\r\n{close}", "a".repeat(8288)).into(),
            414,
        ),
        (
            "8,300-byte method",
            format!("{} / HTTP/1.1\r\n{close}", "M".repeat(8300)).into(),
            501,
        ),
        (
            "field section of 16,384 bytes",
            field_section(16 * 1024).into(),
            200,
        ),
        (
            "field section of 16,385 bytes",
            field_section(16 * 1024 + 1).into(),
            431,
        ),
        (
            "chunk size with leading zeros",
            post_chunked("00000000000000001\r\na\r\n0\r\n\r\n"),
            405,
        ),
        (
            "chunk size then junk",
            post_chunked("5 junk\r\nhello\r\n0\r\n\r\n"),
            400,
        ),
        (
            "unterminated quoted chunk extension",
            post_chunked("5;a=\"unterminated\r\nhello\r\n0\r\n\r\n"),
            400,
        ),
        (
            "trailer line without a colon",
            post_chunked("0\r\nNoColon\r\n\r\n"),
            400,
        ),
    ];
    let mut wrong = Vec::new();
    for (name, raw, expected) in cases {
        let len = raw.len();
        let pause = Duration::from_millis(30);
        let segmentations: [(&str, Vec<usize>, Duration); 5] = [
            ("whole", vec![], Duration::ZERO),
            ("byte by byte", (1..len).collect(), Duration::ZERO),
            ("all but the last byte, then it", vec![len - 1], pause),
            ("in two halves", vec![len / 2], pause),
            // Just past the old bound on a request line (8 KiB + 64).
            ("8,260 bytes, then the rest", vec![8260.min(len - 1)], pause),
        ];
        for (how, cuts, pause) in segmentations {
            let status = status(service.addr, &raw, &cuts, pause);
            if status != expected {
                wrong.push(format!("{name}, {how}: {status}, not {expected}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}
