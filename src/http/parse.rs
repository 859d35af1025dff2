//! A push parser for the HTTP/1.1 request head (RFC 9112 §2-§5).
//!
//! `parse_head` looks at the bytes received so far and answers `Partial` (read more) or
//! `Complete` (the head is `len` bytes long). It never reads, allocates or blocks, so it is
//! tested with plain byte strings. It is strict on purpose: behind a load balancer, any
//! leniency the balancer does not share is a request-smuggling hole.

use std::fmt;

/// Longest request-target we accept (RFC 9112 §3 recommends at least 8000 octets).
pub const MAX_TARGET_LEN: usize = 8 * 1024;
/// Longest request line: the target plus room for any sane method and the version.
const MAX_REQUEST_LINE: usize = MAX_TARGET_LEN + 64;
/// Bound on the field section (all header lines together).
pub const MAX_FIELD_SECTION: usize = 16 * 1024;
/// Bound on the number of header lines.
pub const MAX_HEADERS: usize = 64;
/// The most bytes a complete head can take; callers size their read buffers from it.
pub const MAX_HEAD_LEN: usize = MAX_REQUEST_LINE + MAX_FIELD_SECTION + 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'b> {
    pub name: &'b [u8],
    pub value: &'b [u8],
}

impl Header<'_> {
    pub const EMPTY: Header<'static> = Header {
        name: b"",
        value: b"",
    };
}

#[derive(Debug, PartialEq, Eq)]
pub struct RequestHead<'b, 'h> {
    pub method: &'b [u8],
    pub target: &'b [u8],
    pub version: Version,
    pub headers: &'h [Header<'b>],
}

#[derive(Debug, PartialEq, Eq)]
pub enum Status<T> {
    Partial,
    Complete { head: T, len: usize },
}

/// Every way a request head can be wrong, one variant each, so that each maps to a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    InvalidMethod,
    InvalidTarget,
    InvalidVersion,
    UnsupportedVersion,
    TargetTooLong,
    BareLineFeed,
    BareCarriageReturn,
    InvalidHeaderName,
    WhitespaceBeforeColon,
    InvalidHeaderValue,
    ObsoleteLineFolding,
    FieldSectionTooLarge,
    TooManyHeaders,
}

impl ParseError {
    pub fn status(self) -> u16 {
        match self {
            ParseError::TargetTooLong => 414,
            ParseError::FieldSectionTooLarge | ParseError::TooManyHeaders => 431,
            ParseError::UnsupportedVersion => 505,
            _ => 400,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParseError::InvalidMethod => "invalid request method",
            ParseError::InvalidTarget => "invalid request target",
            ParseError::InvalidVersion => "malformed HTTP version",
            ParseError::UnsupportedVersion => "HTTP version not supported",
            ParseError::TargetTooLong => "request target longer than 8 KiB",
            ParseError::BareLineFeed => "line not terminated by CRLF",
            ParseError::BareCarriageReturn => "carriage return not followed by line feed",
            ParseError::InvalidHeaderName => "invalid header field name",
            ParseError::WhitespaceBeforeColon => "whitespace between header field name and colon",
            ParseError::InvalidHeaderValue => "invalid character in header field value",
            ParseError::ObsoleteLineFolding => "obsolete line folding in header field",
            ParseError::FieldSectionTooLarge => "header section larger than 16 KiB",
            ParseError::TooManyHeaders => "more than 64 header fields",
        })
    }
}

/// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|"
///       / "~" / DIGIT / ALPHA                                          (RFC 9110 §5.6.2)
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// field-vchar = VCHAR / obs-text, with SP and HTAB allowed inside a value (RFC 9110 §5.5)
fn is_field_value_byte(b: u8) -> bool {
    b == b'\t' || b == b' ' || (0x21..=0x7e).contains(&b) || b >= 0x80
}

/// Parses a request head from the start of `buf`, storing header fields in `storage`.
///
/// request-line = method SP request-target SP HTTP-version CRLF       (RFC 9112 §3)
/// HTTP-message = start-line CRLF *( field-line CRLF ) CRLF [ message-body ]
///
/// Empty lines before the request line are skipped (RFC 9112 §2.2).
pub fn parse_head<'b, 'h>(
    buf: &'b [u8],
    storage: &'h mut [Header<'b>],
) -> Result<Status<RequestHead<'b, 'h>>, ParseError> {
    let mut pos = 0;
    while buf[pos..].starts_with(b"\r\n") {
        pos += 2;
    }
    let Some(line) = next_line(buf, pos)? else {
        check_partial_request_line(&buf[pos..])?;
        return Ok(Status::Partial);
    };
    let (method, target, version) = parse_request_line(&buf[pos..line])?;
    pos = line + 2;

    let fields_start = pos;
    let mut count = 0;
    loop {
        let Some(end) = next_line(buf, pos)? else {
            if buf.len() - fields_start > MAX_FIELD_SECTION {
                return Err(ParseError::FieldSectionTooLarge);
            }
            return Ok(Status::Partial);
        };
        if end - fields_start > MAX_FIELD_SECTION {
            return Err(ParseError::FieldSectionTooLarge);
        }
        if end == pos {
            let head = RequestHead {
                method,
                target,
                version,
                headers: &storage[..count],
            };
            return Ok(Status::Complete { head, len: end + 2 });
        }
        if count == storage.len() {
            return Err(ParseError::TooManyHeaders);
        }
        storage[count] = parse_field_line(&buf[pos..end])?;
        count += 1;
        pos = end + 2;
    }
}

/// Finds the CRLF ending the line that starts at `from`; returns the index of its CR.
/// A LF without CR before it is refused rather than tolerated (RFC 9112 §2.2 allows
/// either; a balancer that disagrees with us is how smuggling starts).
fn next_line(buf: &[u8], from: usize) -> Result<Option<usize>, ParseError> {
    let Some(lf) = buf[from..].iter().position(|&b| b == b'\n') else {
        return Ok(None);
    };
    let lf = from + lf;
    if lf == from || buf[lf - 1] != b'\r' {
        return Err(ParseError::BareLineFeed);
    }
    Ok(Some(lf - 1))
}

/// Refuses an incomplete request line early when it can already be judged: garbage (say,
/// a TLS handshake) gets its 400 at once, an endless target its 414.
fn check_partial_request_line(partial: &[u8]) -> Result<(), ParseError> {
    let method_len = partial.iter().take_while(|&&b| is_tchar(b)).count();
    match partial.get(method_len) {
        None if method_len > MAX_REQUEST_LINE => Err(ParseError::InvalidMethod),
        None => Ok(()),
        Some(b' ') if method_len > 0 => {
            if partial.len() > MAX_REQUEST_LINE {
                Err(ParseError::TargetTooLong)
            } else {
                Ok(())
            }
        }
        // A lone CR may be the first half of a CRLF still in flight.
        Some(b'\r') if method_len + 1 == partial.len() => Ok(()),
        Some(_) => Err(ParseError::InvalidMethod),
    }
}

/// method = token; request-target = origin / absolute / authority / asterisk form
/// HTTP-version = HTTP-name "/" DIGIT "." DIGIT                  (RFC 9112 §2.3, §3)
fn parse_request_line(line: &[u8]) -> Result<(&[u8], &[u8], Version), ParseError> {
    let method_len = line.iter().take_while(|&&b| is_tchar(b)).count();
    if method_len == 0 || line.get(method_len) != Some(&b' ') {
        return Err(ParseError::InvalidMethod);
    }
    let method = &line[..method_len];
    let rest = &line[method_len + 1..];

    let target_len = rest.iter().take_while(|&&b| b != b' ').count();
    let target = &rest[..target_len];
    if target_len > MAX_TARGET_LEN {
        return Err(ParseError::TargetTooLong);
    }
    if target.is_empty() || !target.iter().all(|&b| (0x21..=0x7e).contains(&b)) {
        return Err(ParseError::InvalidTarget);
    }
    let version = rest
        .get(target_len + 1..)
        .ok_or(ParseError::InvalidVersion)?;
    Ok((method, target, parse_version(version)?))
}

fn parse_version(v: &[u8]) -> Result<Version, ParseError> {
    match v {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            match (major, minor) {
                (b'1', b'0') => Ok(Version::Http10),
                // A higher 1.x minor version is answered as 1.1 (RFC 9110 §6.2).
                (b'1', _) => Ok(Version::Http11),
                _ => Err(ParseError::UnsupportedVersion),
            }
        }
        _ if v.contains(&b'\r') => Err(ParseError::BareCarriageReturn),
        _ => Err(ParseError::InvalidVersion),
    }
}

/// field-line = field-name ":" OWS field-value OWS                    (RFC 9112 §5)
/// No whitespace is allowed between the name and the colon (§5.1), and obs-fold is
/// refused (§5.2).
fn parse_field_line(line: &[u8]) -> Result<Header<'_>, ParseError> {
    if line[0] == b' ' || line[0] == b'\t' {
        return Err(ParseError::ObsoleteLineFolding);
    }
    let name_len = line.iter().take_while(|&&b| is_tchar(b)).count();
    match line.get(name_len) {
        Some(b':') if name_len > 0 => {}
        Some(b' ' | b'\t') if name_len > 0 && trim_ows(&line[name_len..]).starts_with(b":") => {
            return Err(ParseError::WhitespaceBeforeColon);
        }
        _ => return Err(ParseError::InvalidHeaderName),
    }
    let value = trim_ows(&line[name_len + 1..]);
    if let Some(&bad) = value.iter().find(|&&b| !is_field_value_byte(b)) {
        return Err(if bad == b'\r' {
            ParseError::BareCarriageReturn
        } else {
            ParseError::InvalidHeaderValue
        });
    }
    Ok(Header {
        name: &line[..name_len],
        value,
    })
}

/// OWS = *( SP / HTAB )
pub fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// method, target, version, headers, head length
    type Owned = (String, String, Version, Vec<(String, String)>, usize);

    /// Parses `input`, returning the head's parts as owned strings for easy comparison.
    fn parse(input: &[u8]) -> Result<Option<Owned>, ParseError> {
        let mut storage = [Header::EMPTY; MAX_HEADERS];
        Ok(match parse_head(input, &mut storage)? {
            Status::Partial => None,
            Status::Complete { head, len } => {
                let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                let headers = head
                    .headers
                    .iter()
                    .map(|h| (text(h.name), text(h.value)))
                    .collect();
                Some((
                    text(head.method),
                    text(head.target),
                    head.version,
                    headers,
                    len,
                ))
            }
        })
    }

    fn err(input: &[u8]) -> ParseError {
        parse(input).expect_err("should be refused")
    }

    #[test]
    fn parses_a_simple_request() {
        let input = b"GET /ping?x=1 HTTP/1.1\r\nHost: example.com\r\nAccept:  */* \r\n\r\nNEXT";
        let (method, target, version, headers, len) = parse(input).unwrap().unwrap();
        assert_eq!(
            (method.as_str(), target.as_str(), version),
            ("GET", "/ping?x=1", Version::Http11)
        );
        assert_eq!(
            headers,
            vec![
                ("Host".into(), "example.com".into()),
                ("Accept".into(), "*/*".into())
            ]
        );
        assert_eq!(&input[len..], b"NEXT", "the head ends after its empty line");
    }

    #[test]
    fn asks_for_more_until_the_head_is_complete() {
        let full = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        for cut in 0..full.len() {
            assert_eq!(parse(&full[..cut]), Ok(None), "prefix of {cut} bytes");
        }
        assert!(parse(full).unwrap().is_some());
    }

    #[test]
    fn skips_empty_lines_before_the_request_line() {
        let (_, target, ..) = parse(b"\r\n\r\nGET /a HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert_eq!(target, "/a");
    }

    #[test]
    fn reads_versions() {
        let version =
            |v: &str| parse(format!("GET / {v}\r\n\r\n").as_bytes()).map(|h| h.unwrap().2);
        assert_eq!(version("HTTP/1.0"), Ok(Version::Http10));
        assert_eq!(version("HTTP/1.1"), Ok(Version::Http11));
        assert_eq!(version("HTTP/1.9"), Ok(Version::Http11));
        assert_eq!(version("HTTP/2.0"), Err(ParseError::UnsupportedVersion));
        assert_eq!(version("HTTP/0.9"), Err(ParseError::UnsupportedVersion));
        assert_eq!(version("HTTP/1.10"), Err(ParseError::InvalidVersion));
        assert_eq!(version("http/1.1"), Err(ParseError::InvalidVersion));
        assert_eq!(version("HTTP/1.1 "), Err(ParseError::InvalidVersion));
        assert_eq!(version(""), Err(ParseError::InvalidVersion));
    }

    #[test]
    fn refuses_malformed_request_lines() {
        assert_eq!(err(b"GET  / HTTP/1.1\r\n\r\n"), ParseError::InvalidTarget);
        assert_eq!(err(b"GET /\r\n\r\n"), ParseError::InvalidVersion);
        assert_eq!(err(b"G(T / HTTP/1.1\r\n\r\n"), ParseError::InvalidMethod);
        assert_eq!(err(b" GET / HTTP/1.1\r\n\r\n"), ParseError::InvalidMethod);
        assert_eq!(
            err(b"GET /a\x01b HTTP/1.1\r\n\r\n"),
            ParseError::InvalidTarget
        );
        assert_eq!(
            err(b"GET /\xc3\xa9 HTTP/1.1\r\n\r\n"),
            ParseError::InvalidTarget
        );
        assert_eq!(
            err(b"GET / HTTP/1.1\rX\r\n\r\n"),
            ParseError::BareCarriageReturn
        );
    }

    #[test]
    fn refuses_garbage_before_the_line_is_complete() {
        // A TLS ClientHello on the plain-text port gets its 400 at once.
        assert_eq!(err(b"\x16\x03\x01\x02\x00"), ParseError::InvalidMethod);
        assert_eq!(err(b"GET\x00"), ParseError::InvalidMethod);
        assert_eq!(parse(b"GET"), Ok(None));
        assert_eq!(parse(b"\r"), Ok(None));
    }

    #[test]
    fn requires_crlf_line_endings() {
        assert_eq!(err(b"GET / HTTP/1.1\n\n"), ParseError::BareLineFeed);
        assert_eq!(
            err(b"GET / HTTP/1.1\r\nHost: a\n\r\n"),
            ParseError::BareLineFeed
        );
        assert_eq!(
            err(b"GET / HTTP/1.1\r\nHost: a\r\n\n"),
            ParseError::BareLineFeed
        );
        assert_eq!(err(b"\nGET / HTTP/1.1\r\n\r\n"), ParseError::BareLineFeed);
    }

    #[test]
    fn bounds_the_target() {
        let target = "/".repeat(MAX_TARGET_LEN);
        assert!(
            parse(format!("GET {target} HTTP/1.1\r\n\r\n").as_bytes())
                .unwrap()
                .is_some()
        );
        let long = "/".repeat(MAX_TARGET_LEN + 1);
        assert_eq!(
            err(format!("GET {long} HTTP/1.1\r\n\r\n").as_bytes()),
            ParseError::TargetTooLong
        );
        // Refused before the line ends: the client need not send all of it.
        let endless = format!("GET {}", "/".repeat(MAX_REQUEST_LINE));
        assert_eq!(err(endless.as_bytes()), ParseError::TargetTooLong);
    }

    #[test]
    fn refuses_invalid_header_lines() {
        let head = |line: &str| format!("GET / HTTP/1.1\r\n{line}\r\n\r\n");
        assert_eq!(
            err(head("Host : a").as_bytes()),
            ParseError::WhitespaceBeforeColon
        );
        assert_eq!(
            err(head("Host\t: a").as_bytes()),
            ParseError::WhitespaceBeforeColon
        );
        assert_eq!(
            err(head("Ho(st: a").as_bytes()),
            ParseError::InvalidHeaderName
        );
        assert_eq!(err(head(": a").as_bytes()), ParseError::InvalidHeaderName);
        assert_eq!(
            err(head("Host a").as_bytes()),
            ParseError::InvalidHeaderName
        );
        assert_eq!(
            err(head("X: a\x00b").as_bytes()),
            ParseError::InvalidHeaderValue
        );
        assert_eq!(
            err(head("X: a\x7fb").as_bytes()),
            ParseError::InvalidHeaderValue
        );
        assert_eq!(
            err(head("X: a\rb").as_bytes()),
            ParseError::BareCarriageReturn
        );
        assert_eq!(
            err(head("X: a\r\n  folded").as_bytes()),
            ParseError::ObsoleteLineFolding
        );
        assert_eq!(
            err(head("X: a\r\n\tfolded").as_bytes()),
            ParseError::ObsoleteLineFolding
        );
    }

    #[test]
    fn accepts_valid_unusual_header_values() {
        let input = b"GET / HTTP/1.1\r\nX-Empty:\r\nX-Tab: a\tb\r\nX-Obs: caf\xc3\xa9\r\n\r\n";
        let (.., headers, _) = parse(input).unwrap().unwrap();
        assert_eq!(headers[0].1, "");
        assert_eq!(headers[1].1, "a\tb");
        assert_eq!(headers[2].1, "café");
    }

    #[test]
    fn bounds_the_header_section() {
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: v\r\n")).collect();
        assert_eq!(
            err(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes()),
            ParseError::TooManyHeaders
        );
        let huge = format!(
            "GET / HTTP/1.1\r\nX: {}\r\n\r\n",
            "v".repeat(MAX_FIELD_SECTION)
        );
        assert_eq!(err(huge.as_bytes()), ParseError::FieldSectionTooLarge);
        // Refused while still incomplete too.
        let partial = format!("GET / HTTP/1.1\r\nX: {}", "v".repeat(MAX_FIELD_SECTION + 1));
        assert_eq!(err(partial.as_bytes()), ParseError::FieldSectionTooLarge);
    }

    #[test]
    fn maps_errors_to_statuses() {
        assert_eq!(ParseError::TargetTooLong.status(), 414);
        assert_eq!(ParseError::TooManyHeaders.status(), 431);
        assert_eq!(ParseError::FieldSectionTooLarge.status(), 431);
        assert_eq!(ParseError::UnsupportedVersion.status(), 505);
        assert_eq!(ParseError::ObsoleteLineFolding.status(), 400);
    }

    /// A deterministic fuzz pass: mutated requests must never panic the parser or the
    /// request semantics, and a complete head must parse the same way on its own.
    #[test]
    fn survives_random_mutations() {
        let corpus: [&[u8]; 4] = [
            b"GET /ping?x=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello",
            b"PUT http://h/x HTTP/1.0\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            b"\r\nOPTIONS * HTTP/1.1\r\nHost:\r\nX: \t\x80v\r\n\r\n",
        ];
        let special = b"\r\n :\t\x00\x7f\xff,;=\"/?#";
        let mut rng = fastrand::Rng::with_seed(0x5eed);
        for _ in 0..20_000 {
            let mut input = corpus[rng.usize(..corpus.len())].to_vec();
            for _ in 0..rng.usize(1..4) {
                let at = rng.usize(..=input.len());
                match rng.u8(..4) {
                    0 if at < input.len() => input[at] = rng.u8(..),
                    1 => input.insert(at, special[rng.usize(..special.len())]),
                    2 if at < input.len() => {
                        input.remove(at);
                    }
                    _ => input.truncate(at),
                }
            }
            let mut storage = [Header::EMPTY; MAX_HEADERS];
            if let Ok(Status::Complete { head, len }) = parse_head(&input, &mut storage) {
                assert!(len <= input.len());
                let _ = crate::http::request::interpret(&head);
                let mut again = [Header::EMPTY; MAX_HEADERS];
                match parse_head(&input[..len], &mut again) {
                    Ok(Status::Complete { len: len2, .. }) => assert_eq!(len, len2),
                    other => panic!("{input:?}: complete, then {other:?} on its own"),
                }
            }
        }
    }
}
