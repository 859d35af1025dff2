//! Writes response heads and bodies into a byte buffer (RFC 9112 §4, §6).

use super::date::IMF_FIXDATE_LEN;
use super::parse::Version;

pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        414 => "URI Too Long",
        417 => "Expectation Failed",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// One response, independent of how it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response<'a> {
    pub status: u16,
    pub body: &'a [u8],
    /// Adds `Allow: GET, HEAD` (405 and OPTIONS answers).
    pub allow: bool,
    /// Adds `Cache-Control: no-store` (probe answers: a cache between a checker and the
    /// service must never answer for it, RFC 9111 §5.2.2.5).
    pub no_store: bool,
}

/// How the response travels: what the connection does next, and whether the body is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framing {
    pub version: Version,
    pub keep_alive: bool,
    /// HEAD: the same head as GET, no body (RFC 9110 §9.3.2).
    pub head_only: bool,
}

/// Appends `response` to `out`; returns how many body bytes were written.
pub fn write_response(
    out: &mut Vec<u8>,
    response: &Response<'_>,
    framing: Framing,
    date: &[u8; IMF_FIXDATE_LEN],
    server: &str,
) -> usize {
    out.extend_from_slice(b"HTTP/1.1 ");
    push_decimal(out, u64::from(response.status));
    out.push(b' ');
    out.extend_from_slice(reason(response.status).as_bytes());
    out.extend_from_slice(b"\r\nServer: ");
    out.extend_from_slice(server.as_bytes());
    out.extend_from_slice(b"\r\nDate: ");
    out.extend_from_slice(date);
    if !response.body.is_empty() {
        out.extend_from_slice(b"\r\nContent-Type: text/plain; charset=utf-8");
    }
    out.extend_from_slice(b"\r\nContent-Length: ");
    push_decimal(out, response.body.len() as u64);
    if response.allow {
        out.extend_from_slice(b"\r\nAllow: GET, HEAD");
    }
    if response.no_store {
        out.extend_from_slice(b"\r\nCache-Control: no-store");
    }
    match (framing.keep_alive, framing.version) {
        (false, _) => out.extend_from_slice(b"\r\nConnection: close"),
        // A 1.0 client assumes close unless told otherwise (RFC 9112 §9.3).
        (true, Version::Http10) => out.extend_from_slice(b"\r\nConnection: keep-alive"),
        (true, Version::Http11) => {}
    }
    out.extend_from_slice(b"\r\n\r\n");
    if framing.head_only {
        0
    } else {
        out.extend_from_slice(response.body);
        response.body.len()
    }
}

/// Appends a response after which the connection closes (errors, load shedding); with
/// `head_only` (the request was HEAD), without its body, as for any answer to HEAD.
pub fn write_closing(
    out: &mut Vec<u8>,
    response: &Response<'_>,
    head_only: bool,
    date: &[u8; IMF_FIXDATE_LEN],
    server: &str,
) -> usize {
    let framing = Framing {
        version: Version::Http11,
        keep_alive: false,
        head_only,
    };
    write_response(out, response, framing, date, server)
}

/// The interim answer to `Expect: 100-continue` (RFC 9110 §10.1.1).
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: &[u8; IMF_FIXDATE_LEN] = b"Sun, 06 Nov 1994 08:49:37 GMT";

    fn render(response: Response<'_>, framing: Framing) -> String {
        let mut out = Vec::new();
        write_response(&mut out, &response, framing, DATE, "micro-service/1.0");
        String::from_utf8(out).unwrap()
    }

    const KEEP_ALIVE_11: Framing = Framing {
        version: Version::Http11,
        keep_alive: true,
        head_only: false,
    };

    #[test]
    fn writes_a_complete_response() {
        let text = render(
            Response {
                status: 200,
                body: b"Pong!",
                allow: false,
                no_store: false,
            },
            KEEP_ALIVE_11,
        );
        assert_eq!(
            text,
            "HTTP/1.1 200 OK\r\nServer: micro-service/1.0\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n\r\nPong!"
        );
    }

    #[test]
    fn head_keeps_the_length_and_drops_the_body() {
        let text = render(
            Response {
                status: 200,
                body: b"Hello World!",
                allow: false,
                no_store: false,
            },
            Framing {
                head_only: true,
                ..KEEP_ALIVE_11
            },
        );
        assert!(text.ends_with("Content-Length: 12\r\n\r\n"), "{text}");
    }

    #[test]
    fn tells_each_version_what_happens_to_the_connection() {
        let ok = Response {
            status: 405,
            body: b"x",
            allow: true,
            no_store: false,
        };
        let close = render(
            ok,
            Framing {
                keep_alive: false,
                ..KEEP_ALIVE_11
            },
        );
        assert!(close.contains("\r\nAllow: GET, HEAD\r\nConnection: close\r\n"));
        let keep_10 = render(
            ok,
            Framing {
                version: Version::Http10,
                ..KEEP_ALIVE_11
            },
        );
        assert!(keep_10.contains("\r\nConnection: keep-alive\r\n"));
        assert!(!render(ok, KEEP_ALIVE_11).contains("Connection:"));
    }

    #[test]
    fn an_empty_body_has_no_content_type() {
        let text = render(
            Response {
                status: 200,
                body: b"",
                allow: true,
                no_store: false,
            },
            KEEP_ALIVE_11,
        );
        assert!(!text.contains("Content-Type"));
        assert!(text.contains("Content-Length: 0\r\n"));
    }

    #[test]
    fn a_probe_answer_forbids_caches_to_store_it() {
        let probe = Response {
            status: 200,
            body: b"OK",
            allow: false,
            no_store: true,
        };
        assert!(render(probe, KEEP_ALIVE_11).contains("\r\nCache-Control: no-store\r\n"));
        let other = Response {
            no_store: false,
            ..probe
        };
        assert!(!render(other, KEEP_ALIVE_11).contains("Cache-Control"));
    }
}
