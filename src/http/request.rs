//! What a parsed head means: its method, which path it asks for, how its body is framed,
//! whether the connection stays open (RFC 9110, RFC 9112 §6-§9). Knows nothing of routes.

use super::parse::{Header, RequestHead, Version, trim_ows};
use std::fmt;

/// Request bodies are read and discarded; this bounds how much a client may make us read.
pub const MAX_BODY_LEN: u64 = 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Patch,
    Options,
    Connect,
    Trace,
    /// A syntactically valid method this server does not know (RFC 9110 §9.1: 501).
    Unknown,
}

impl Method {
    fn from_token(token: &[u8]) -> Method {
        // Methods are case-sensitive (RFC 9110 §9.1).
        match token {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"POST" => Method::Post,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            b"PATCH" => Method::Patch,
            b"OPTIONS" => Method::Options,
            b"CONNECT" => Method::Connect,
            b"TRACE" => Method::Trace,
            _ => Method::Unknown,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    None,
    Length(u64),
    Chunked,
}

/// The meaning of a request head, with the path borrowed from the buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct Request<'b> {
    pub method: Method,
    /// The path of the target without its query: `/ping?x=1` and `http://h/ping` are `/ping`.
    /// `*` for an asterisk-form OPTIONS request.
    pub path: &'b str,
    pub version: Version,
    pub keep_alive: bool,
    pub body: BodyFraming,
    pub expect_continue: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestError {
    MissingHost,
    DuplicateHost,
    InvalidHost,
    InvalidTarget,
    InvalidContentLength,
    ConflictingContentLength,
    BodyTooLarge,
    ContentLengthWithTransferEncoding,
    TransferEncodingInHttp10,
    EmptyTransferEncoding,
    ChunkedNotFinal,
    UnsupportedTransferCoding,
    UnsupportedExpectation,
}

impl RequestError {
    pub fn status(self) -> u16 {
        match self {
            RequestError::BodyTooLarge => 413,
            RequestError::UnsupportedTransferCoding => 501,
            RequestError::UnsupportedExpectation => 417,
            _ => 400,
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RequestError::MissingHost => "missing Host header",
            RequestError::DuplicateHost => "more than one Host header",
            RequestError::InvalidHost => "invalid Host header",
            RequestError::InvalidTarget => "invalid request target",
            RequestError::InvalidContentLength => "invalid Content-Length",
            RequestError::ConflictingContentLength => "conflicting Content-Length values",
            RequestError::BodyTooLarge => "request body larger than 1 MiB",
            RequestError::ContentLengthWithTransferEncoding => {
                "both Content-Length and Transfer-Encoding"
            }
            RequestError::TransferEncodingInHttp10 => "Transfer-Encoding in an HTTP/1.0 request",
            RequestError::EmptyTransferEncoding => "empty Transfer-Encoding element",
            RequestError::ChunkedNotFinal => "chunked is not the final transfer coding",
            RequestError::UnsupportedTransferCoding => "transfer coding not implemented",
            RequestError::UnsupportedExpectation => "only Expect: 100-continue is supported",
        })
    }
}

/// Interprets a parsed head. Any ambiguity in framing is an error: the caller answers it
/// and closes the connection, since it cannot know where the next request starts.
pub fn interpret<'b>(head: &RequestHead<'b, '_>) -> Result<Request<'b>, RequestError> {
    let method = Method::from_token(head.method);
    let path = request_path(method, head.target)?;

    let mut hosts = 0;
    let mut close = false;
    let mut keep_alive_token = false;
    let mut content_length: Option<u64> = None;
    let mut transfer_codings = 0;
    let mut chunked_last = false;
    let mut chunked_count = 0;
    let mut expect_continue = false;

    for Header { name, value } in head.headers {
        if name.eq_ignore_ascii_case(b"host") {
            hosts += 1;
            if !is_valid_host(value) {
                return Err(RequestError::InvalidHost);
            }
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in list_elements(value) {
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive_token |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case(b"content-length") {
            // A list of identical values is allowed (RFC 9110 §8.6); anything else is not.
            for element in value.split(|&b| b == b',').map(trim_ows) {
                let n = parse_content_length(element)?;
                if content_length.is_some_and(|seen| seen != n) {
                    return Err(RequestError::ConflictingContentLength);
                }
                content_length = Some(n);
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            // transfer-coding list, possibly over several lines (RFC 9112 §6.1). An empty
            // element is refused, not skipped: lines combine into one list with commas
            // (RFC 9110 §5.3), so `chunked` then an empty line is `chunked, `, and the
            // answer must not depend on how the sender split the list. Senders must not
            // generate empty elements (RFC 9110 §5.6.1); this is the framing header.
            for coding in value.split(|&b| b == b',').map(trim_ows) {
                if coding.is_empty() {
                    return Err(RequestError::EmptyTransferEncoding);
                }
                transfer_codings += 1;
                chunked_last = coding.eq_ignore_ascii_case(b"chunked");
                chunked_count += usize::from(chunked_last);
            }
        } else if name.eq_ignore_ascii_case(b"expect") {
            if !value.eq_ignore_ascii_case(b"100-continue") {
                return Err(RequestError::UnsupportedExpectation);
            }
            expect_continue = true;
        }
    }

    match (head.version, hosts) {
        (_, 2..) => return Err(RequestError::DuplicateHost),
        (Version::Http11, 0) => return Err(RequestError::MissingHost),
        _ => {}
    }

    let body = if transfer_codings > 0 {
        if content_length.is_some() {
            return Err(RequestError::ContentLengthWithTransferEncoding);
        }
        if head.version == Version::Http10 {
            return Err(RequestError::TransferEncodingInHttp10);
        }
        if !chunked_last || chunked_count > 1 {
            // Without chunked last the body's end is unknowable (RFC 9112 §6.3).
            return Err(if chunked_count == 0 {
                RequestError::UnsupportedTransferCoding
            } else {
                RequestError::ChunkedNotFinal
            });
        }
        if transfer_codings > 1 {
            return Err(RequestError::UnsupportedTransferCoding);
        }
        BodyFraming::Chunked
    } else {
        match content_length {
            Some(n) if n > MAX_BODY_LEN => return Err(RequestError::BodyTooLarge),
            Some(0) | None => BodyFraming::None,
            Some(n) => BodyFraming::Length(n),
        }
    };

    let keep_alive = !close
        && match head.version {
            Version::Http11 => true,
            Version::Http10 => keep_alive_token,
        };
    Ok(Request {
        method,
        path,
        version: head.version,
        keep_alive,
        body,
        // A 1.0 client does not know 100 Continue and must not receive it (RFC 9110 §10.1.1).
        expect_continue: expect_continue && head.version == Version::Http11,
    })
}

/// Content-Length = 1*DIGIT                                            (RFC 9110 §8.6)
fn parse_content_length(digits: &[u8]) -> Result<u64, RequestError> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(RequestError::InvalidContentLength);
    }
    digits.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .ok_or(RequestError::BodyTooLarge)
    })
}

/// Comma-separated list elements with their optional whitespace trimmed (RFC 9110 §5.6.1).
fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|e| !e.is_empty())
}

/// origin-form    = absolute-path [ "?" query ]
/// absolute-form  = absolute-URI
/// asterisk-form  = "*"                                              (RFC 9112 §3.2)
fn request_path(method: Method, target: &[u8]) -> Result<&str, RequestError> {
    // The parser admits only visible ASCII in a target, so this cannot fail.
    let target = std::str::from_utf8(target).map_err(|_| RequestError::InvalidTarget)?;
    if target.contains('#') {
        return Err(RequestError::InvalidTarget);
    }
    let path_and_query = if target.starts_with('/') {
        target
    } else if target == "*" {
        return if method == Method::Options {
            Ok("*")
        } else {
            Err(RequestError::InvalidTarget)
        };
    } else {
        let after_scheme = strip_prefix_ignore_case(target, "http://")
            .or_else(|| strip_prefix_ignore_case(target, "https://"))
            .ok_or(RequestError::InvalidTarget)?;
        let authority_len = after_scheme.find(['/', '?']).unwrap_or(after_scheme.len());
        if authority_len == 0 {
            return Err(RequestError::InvalidTarget);
        }
        match &after_scheme[authority_len..] {
            "" => "/",
            rest if rest.starts_with('?') => "/",
            rest => rest,
        }
    };
    Ok(path_and_query
        .split_once('?')
        .map_or(path_and_query, |(path, _)| path))
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Host = uri-host [ ":" port ]; uri-host = IP-literal / IPv4address / reg-name
/// (RFC 9110 §7.2, RFC 3986 §3.2.2). Checked by alphabet: enough to refuse injection.
fn is_valid_host(value: &[u8]) -> bool {
    value
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:[]%".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::parse::{MAX_HEADERS, Status, parse_head};

    fn interpret_text(
        head: &str,
    ) -> Result<(Method, String, bool, BodyFraming, bool), RequestError> {
        // Every case arrives byte by byte first: no proper prefix of a head is decided.
        for cut in 0..head.len() {
            let mut storage = [Header::EMPTY; MAX_HEADERS];
            let prefix = parse_head(&head.as_bytes()[..cut], &mut storage);
            assert_eq!(prefix, Ok(Status::Partial), "{head:?} cut at {cut}");
        }
        let mut storage = [Header::EMPTY; MAX_HEADERS];
        let Ok(Status::Complete { head, .. }) = parse_head(head.as_bytes(), &mut storage) else {
            panic!("test input must be a valid head: {head:?}");
        };
        interpret(&head).map(|r| {
            (
                r.method,
                r.path.to_string(),
                r.keep_alive,
                r.body,
                r.expect_continue,
            )
        })
    }

    fn get(
        target: &str,
        headers: &str,
    ) -> Result<(Method, String, bool, BodyFraming, bool), RequestError> {
        interpret_text(&format!(
            "GET {target} HTTP/1.1\r\nHost: h\r\n{headers}\r\n"
        ))
    }

    fn path(target: &str) -> Result<String, RequestError> {
        get(target, "").map(|r| r.1)
    }

    fn framing(headers: &str) -> Result<BodyFraming, RequestError> {
        interpret_text(&format!("POST / HTTP/1.1\r\nHost: h\r\n{headers}\r\n")).map(|r| r.3)
    }

    #[test]
    fn maps_every_error_to_a_status_and_a_message() {
        use RequestError::*;
        for (error, status, message) in [
            (MissingHost, 400, "missing Host header"),
            (DuplicateHost, 400, "more than one Host header"),
            (InvalidHost, 400, "invalid Host header"),
            (InvalidTarget, 400, "invalid request target"),
            (InvalidContentLength, 400, "invalid Content-Length"),
            (
                ConflictingContentLength,
                400,
                "conflicting Content-Length values",
            ),
            (BodyTooLarge, 413, "request body larger than 1 MiB"),
            (
                ContentLengthWithTransferEncoding,
                400,
                "both Content-Length and Transfer-Encoding",
            ),
            (
                TransferEncodingInHttp10,
                400,
                "Transfer-Encoding in an HTTP/1.0 request",
            ),
            (
                EmptyTransferEncoding,
                400,
                "empty Transfer-Encoding element",
            ),
            (
                ChunkedNotFinal,
                400,
                "chunked is not the final transfer coding",
            ),
            (
                UnsupportedTransferCoding,
                501,
                "transfer coding not implemented",
            ),
            (
                UnsupportedExpectation,
                417,
                "only Expect: 100-continue is supported",
            ),
        ] {
            assert_eq!(
                (error.status(), error.to_string().as_str()),
                (status, message)
            );
        }
        assert_eq!(MAX_BODY_LEN, 1 << 20);
    }

    #[test]
    fn routes_by_path_without_the_query() {
        assert_eq!(path("/ping?x=1"), Ok("/ping".into()));
        assert_eq!(path("/?"), Ok("/".into()));
        assert_eq!(path("http://example.com/ping"), Ok("/ping".into()));
        assert_eq!(
            path("HTTP://example.com:8080/health?a"),
            Ok("/health".into())
        );
        assert_eq!(path("https://example.com"), Ok("/".into()));
        assert_eq!(path("http://example.com?q"), Ok("/".into()));
    }

    #[test]
    fn refuses_targets_that_are_not_origin_or_absolute_form() {
        assert_eq!(path("ping"), Err(RequestError::InvalidTarget));
        assert_eq!(path("http:///ping"), Err(RequestError::InvalidTarget));
        assert_eq!(path("ftp://h/ping"), Err(RequestError::InvalidTarget));
        assert_eq!(path("/ping#frag"), Err(RequestError::InvalidTarget));
        assert_eq!(path("*"), Err(RequestError::InvalidTarget));
        let options = interpret_text("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
        assert_eq!((options.0, options.1.as_str()), (Method::Options, "*"));
    }

    #[test]
    fn knows_methods_case_sensitively() {
        let method = |m: &str| {
            interpret_text(&format!("{m} / HTTP/1.1\r\nHost: h\r\n\r\n"))
                .unwrap()
                .0
        };
        for (token, known) in [
            ("GET", Method::Get),
            ("HEAD", Method::Head),
            ("POST", Method::Post),
            ("PUT", Method::Put),
            ("DELETE", Method::Delete),
            ("PATCH", Method::Patch),
            ("OPTIONS", Method::Options),
            ("CONNECT", Method::Connect),
            ("TRACE", Method::Trace),
        ] {
            assert_eq!(method(token), known, "{token}");
        }
        assert_eq!(method("get"), Method::Unknown);
        assert_eq!(method("BREW"), Method::Unknown);
    }

    #[test]
    fn requires_exactly_one_valid_host_on_http11() {
        assert_eq!(
            interpret_text("GET / HTTP/1.1\r\n\r\n"),
            Err(RequestError::MissingHost)
        );
        assert_eq!(
            get("/", "Host: other\r\n"),
            Err(RequestError::DuplicateHost)
        );
        assert_eq!(
            interpret_text("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"),
            Err(RequestError::InvalidHost)
        );
        assert_eq!(
            interpret_text("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"),
            Err(RequestError::InvalidHost)
        );
        assert!(interpret_text("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n").is_ok());
        assert!(interpret_text("GET / HTTP/1.1\r\nHost:\r\n\r\n").is_ok());
        assert!(
            interpret_text("GET / HTTP/1.0\r\n\r\n").is_ok(),
            "1.0 needs no Host"
        );
    }

    #[test]
    fn decides_keep_alive_by_version_and_connection() {
        let keep = |head: &str| interpret_text(head).unwrap().2;
        assert!(keep("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
        assert!(!keep(
            "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
        ));
        assert!(!keep(
            "GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, CLOSE\r\n\r\n"
        ));
        assert!(!keep("GET / HTTP/1.0\r\n\r\n"));
        assert!(keep("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
        assert!(!keep(
            "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"
        ));
    }

    #[test]
    fn frames_bodies_by_content_length() {
        assert_eq!(framing(""), Ok(BodyFraming::None));
        assert_eq!(framing("Content-Length: 0\r\n"), Ok(BodyFraming::None));
        assert_eq!(framing("Content-Length: 5\r\n"), Ok(BodyFraming::Length(5)));
        assert_eq!(
            framing("Content-Length: 5, 5\r\n"),
            Ok(BodyFraming::Length(5))
        );
        assert_eq!(
            framing("Content-Length: 5\r\nContent-Length: 5\r\n"),
            Ok(BodyFraming::Length(5))
        );
        assert_eq!(
            framing(&format!("Content-Length: {MAX_BODY_LEN}\r\n")),
            Ok(BodyFraming::Length(MAX_BODY_LEN))
        );
    }

    #[test]
    fn refuses_ambiguous_or_excessive_content_length() {
        use RequestError::*;
        assert_eq!(
            framing("Content-Length: 5, 6\r\n"),
            Err(ConflictingContentLength)
        );
        assert_eq!(
            framing("Content-Length: 5\r\nContent-Length: 6\r\n"),
            Err(ConflictingContentLength)
        );
        assert_eq!(framing("Content-Length: -1\r\n"), Err(InvalidContentLength));
        assert_eq!(framing("Content-Length: +5\r\n"), Err(InvalidContentLength));
        assert_eq!(
            framing("Content-Length: 0x10\r\n"),
            Err(InvalidContentLength)
        );
        assert_eq!(
            framing("Content-Length: 1 2\r\n"),
            Err(InvalidContentLength)
        );
        assert_eq!(framing("Content-Length:\r\n"), Err(InvalidContentLength));
        assert_eq!(
            framing(&format!("Content-Length: {}\r\n", MAX_BODY_LEN + 1)),
            Err(BodyTooLarge)
        );
        assert_eq!(
            framing("Content-Length: 99999999999999999999999\r\n"),
            Err(BodyTooLarge)
        );
        assert_eq!(BodyTooLarge.status(), 413);
    }

    #[test]
    fn accepts_only_plain_chunked_transfer_coding() {
        use RequestError::*;
        assert_eq!(
            framing("Transfer-Encoding: chunked\r\n"),
            Ok(BodyFraming::Chunked)
        );
        assert_eq!(
            framing("Transfer-Encoding: Chunked\r\n"),
            Ok(BodyFraming::Chunked)
        );
        assert_eq!(
            framing("Transfer-Encoding: gzip, chunked\r\n"),
            Err(UnsupportedTransferCoding)
        );
        assert_eq!(
            framing("Transfer-Encoding: gzip\r\n"),
            Err(UnsupportedTransferCoding)
        );
        assert_eq!(UnsupportedTransferCoding.status(), 501);
        assert_eq!(
            framing("Transfer-Encoding: chunked, gzip\r\n"),
            Err(ChunkedNotFinal)
        );
        assert_eq!(
            framing("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n"),
            Err(ChunkedNotFinal)
        );
        assert_eq!(
            framing("Transfer-Encoding: chunked, chunked\r\n"),
            Err(ChunkedNotFinal)
        );
        // Empty in any order, on its own line or as a list element.
        for headers in [
            "Transfer-Encoding: \r\n",
            "Transfer-Encoding: chunked\r\nTransfer-Encoding:\r\n",
            "Transfer-Encoding:\r\nTransfer-Encoding: chunked\r\n",
            "Transfer-Encoding: chunked,\r\n",
            "Transfer-Encoding: , chunked\r\n",
            "Transfer-Encoding: gzip, ,chunked\r\n",
        ] {
            assert_eq!(framing(headers), Err(EmptyTransferEncoding), "{headers:?}");
        }
        assert_eq!(
            framing("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"),
            Err(ContentLengthWithTransferEncoding)
        );
        assert_eq!(
            interpret_text("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n").map(|r| r.3),
            Err(TransferEncodingInHttp10)
        );
    }

    #[test]
    fn honours_only_the_100_continue_expectation() {
        assert_eq!(get("/", "Expect: 100-continue\r\n").map(|r| r.4), Ok(true));
        assert_eq!(get("/", "Expect: 100-Continue\r\n").map(|r| r.4), Ok(true));
        assert_eq!(
            get("/", "Expect: teapot\r\n"),
            Err(RequestError::UnsupportedExpectation)
        );
        assert_eq!(RequestError::UnsupportedExpectation.status(), 417);
        let http10 = interpret_text("GET / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n").unwrap();
        assert!(!http10.4, "a 1.0 client never gets 100 Continue");
    }
}
