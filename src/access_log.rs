//! One line per request, handed whole to the log writer so that lines from workers never
//! mix and a slow stdout never holds up a request.

use crate::http::date::Civil;
use crate::log_output::LogOutput;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// How a request's line is written: `Plain` for people reading a terminal, `Json` for log
/// pipelines (CloudWatch Logs Insights, Loki, Vector, Fluent Bit) that read fields without
/// a custom pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Plain,
    Json,
}

pub struct AccessLog {
    output: Option<(Arc<LogOutput>, Format)>,
}

impl AccessLog {
    /// `None`: access log off.
    pub fn new(output: Option<(Arc<LogOutput>, Format)>) -> AccessLog {
        AccessLog { output }
    }

    pub fn enabled(&self) -> bool {
        self.output.is_some()
    }

    /// `request` is `<method> <path>`, `<method>` alone when the head named no usable
    /// path, or empty when not even a method could be read.
    pub fn request(
        &self,
        peer: Option<SocketAddr>,
        request: &str,
        status: u16,
        body_bytes: usize,
        started: Instant,
    ) {
        let Some((output, format)) = &self.output else {
            return;
        };
        let entry = Entry {
            time: Civil::now().rfc3339(),
            peer: peer.map(|p| SocketAddr::new(p.ip().to_canonical(), p.port())),
            request,
            status,
            body_bytes,
            micros: started.elapsed().as_micros(),
        };
        output.line(match format {
            Format::Plain => entry.plain(),
            Format::Json => entry.json(crate::server::version()),
        });
    }
}

struct Entry<'a> {
    time: String,
    peer: Option<SocketAddr>,
    request: &'a str,
    status: u16,
    body_bytes: usize,
    micros: u128,
}

impl Entry<'_> {
    /// `<time> <peer or -> "<method> <path>" <status> <body bytes> <duration>ms`
    fn plain(&self) -> String {
        let mut line = String::with_capacity(96);
        let _ = write!(line, "{} ", self.time);
        match self.peer {
            Some(peer) => {
                let _ = write!(line, "{peer} \"");
            }
            // The client left before its address was asked for.
            None => line.push_str("- \""),
        }
        if self.request.is_empty() {
            line.push('-');
        }
        // The path is visible ASCII (the parser saw to it) but may hold a quote.
        for c in self.request.chars() {
            match c {
                '"' | '\\' => line.push_str(if c == '"' { "%22" } else { "%5C" }),
                c if c.is_ascii_graphic() || c == ' ' => line.push(c),
                c => {
                    let _ = write!(line, "\\u{{{:x}}}", c as u32);
                }
            }
        }
        let (millis, micros) = (self.micros / 1000, self.micros % 1000);
        let _ = writeln!(
            line,
            "\" {} {} {millis}.{micros:03}ms",
            self.status, self.body_bytes
        );
        line
    }

    /// One JSON object (RFC 8259) on one line; `peer`, `method` and `path` are null when
    /// unknown (the client left first; the head was unreadable).
    fn json(&self, version: &str) -> String {
        let (method, path) = match self.request.split_once(' ') {
            Some((method, path)) => (Some(method), Some(path)),
            None => (Some(self.request).filter(|m| !m.is_empty()), None),
        };
        json_line(&self.time, version, |line| {
            line.push_str(",\"peer\":");
            match self.peer {
                Some(peer) => push_json_string(line, peer.to_string().as_bytes()),
                None => line.push_str("null"),
            }
            for (name, value) in [("method", method), ("path", path)] {
                let _ = write!(line, ",\"{name}\":");
                match value {
                    Some(value) => push_json_string(line, value.as_bytes()),
                    None => line.push_str("null"),
                }
            }
            let (millis, micros) = (self.micros / 1000, self.micros % 1000);
            let _ = write!(
                line,
                ",\"status\":{},\"body_bytes\":{},\"duration_ms\":{millis}.{micros:03}",
                self.status, self.body_bytes
            );
        })
    }
}

/// One line of the service's own (a notice, an error) in `format`: the text as it is, or
/// a JSON object with the time, the text and the version, like an access-log entry's.
pub fn notice(format: Format, text: &str) -> String {
    match format {
        Format::Plain => format!("{text}\n"),
        Format::Json => json_line(&Civil::now().rfc3339(), crate::server::version(), |line| {
            line.push_str(",\"message\":");
            push_json_string(line, text.as_bytes());
        }),
    }
}

/// The frame every JSON line of the service shares: `{"time":..` then what `fields`
/// writes (each field after a comma), then `,"version":..}` and the newline.
fn json_line(time: &str, version: &str, fields: impl FnOnce(&mut String)) -> String {
    let mut line = String::with_capacity(192);
    line.push_str("{\"time\":");
    push_json_string(&mut line, time.as_bytes());
    fields(&mut line);
    line.push_str(",\"version\":");
    push_json_string(&mut line, version.as_bytes());
    line.push_str("}\n");
    line
}

/// Writes `bytes` as a JSON string. Printable ASCII stays as it is, but for `"` and `\`;
/// every other byte (controls, DEL, and each byte from 0x80 up, valid UTF-8 or not) becomes
/// `\u00XX`. So a line is pure ASCII, valid JSON whatever the bytes, and lossless: each
/// code point U+0000-U+00FF of the decoded string is one byte of the original. (The parser
/// admits only visible ASCII in a request line, so in practice only `"` and `\` are
/// escaped.)
fn push_json_string(line: &mut String, bytes: &[u8]) {
    line.push('"');
    for &b in bytes {
        match b {
            b'"' => line.push_str("\\\""),
            b'\\' => line.push_str("\\\\"),
            0x20..=0x7e => line.push(char::from(b)),
            _ => {
                let _ = write!(line, "\\u{b:04x}");
            }
        }
    }
    line.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn a_notice_is_its_text_or_a_json_object_that_holds_it_whole() {
        let text = "micro-service: \"quoted\", a \\ and a\ttab, caf\u{e9}";
        assert_eq!(notice(Format::Plain, text), format!("{text}\n"));
        let line = notice(Format::Json, text);
        assert!(line.ends_with("}\n") && line.is_ascii(), "{line}");
        let v: Value = serde_json::from_str(&line).unwrap();
        // Each byte from 0x80 up is one code point U+0080-U+00FF (see push_json_string).
        let bytes: Vec<u8> = v["message"]
            .as_str()
            .unwrap()
            .chars()
            .map(|c| c as u8)
            .collect();
        assert_eq!(bytes, text.as_bytes());
        assert!(v["time"].as_str().unwrap().ends_with('Z'));
        assert_eq!(v["version"], crate::server::version());
    }

    fn entry<'a>(peer: Option<&str>, request: &'a str) -> Entry<'a> {
        Entry {
            time: "2026-12-06T20:45:00Z".into(),
            peer: peer.map(|p| p.parse().unwrap()),
            request,
            status: 200,
            body_bytes: 5,
            micros: 1_234,
        }
    }

    fn parse(line: &str) -> Value {
        assert!(
            line.ends_with('\n') && line.matches('\n').count() == 1,
            "{line:?}"
        );
        serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}"))
    }

    #[test]
    fn a_line_names_peer_request_status_bytes_and_escapes_quotes() {
        let line = entry(Some("10.0.0.1:4242"), "GET /a\"b\\c").plain();
        assert_eq!(
            line,
            "2026-12-06T20:45:00Z 10.0.0.1:4242 \"GET /a%22b%5Cc\" 200 5 1.234ms\n"
        );
        assert!(entry(None, "").plain().contains(" - \"-\" 200 5 "));
        // Not from the parser, but a control character must not reach a terminal raw.
        assert!(
            entry(None, "GET /a\u{1}")
                .plain()
                .contains("\"GET /a\\u{1}\"")
        );
    }

    #[test]
    fn a_json_line_has_every_field() {
        let line = entry(Some("10.0.0.1:4242"), "GET /ping").json("1.2.3");
        let v = parse(&line);
        assert_eq!(v["time"], "2026-12-06T20:45:00Z");
        assert_eq!(v["peer"], "10.0.0.1:4242");
        assert_eq!((&v["method"], &v["path"]), (&"GET".into(), &"/ping".into()));
        assert_eq!((&v["status"], &v["body_bytes"]), (&200.into(), &5.into()));
        assert_eq!(v["duration_ms"].as_f64(), Some(1.234));
        assert_eq!(v["version"], "1.2.3");
        assert_eq!(v.as_object().unwrap().len(), 8, "{line}");
        // Printable ASCII stays readable, unescaped, for a person grepping the log.
        assert!(line.contains(r#""method":"GET","path":"/ping","#), "{line}");
    }

    #[test]
    fn what_is_unknown_is_null_in_json() {
        let v = parse(&entry(None, "").json("v"));
        assert!(v["peer"].is_null() && v["method"].is_null() && v["path"].is_null());
        let v = parse(&entry(None, "BREW").json("v"));
        assert_eq!((&v["method"], &v["path"]), (&"BREW".into(), &Value::Null));
    }

    #[test]
    fn every_byte_value_gives_valid_json_that_keeps_the_bytes() {
        let invalid_utf8: &[&[u8]] = &[b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b"a\x00\"\\\x7f"];
        let singles = (0..=255u8).map(|b| vec![b'/', b, b'x']);
        let all: Vec<u8> = (0..=255u8).collect();
        for bytes in singles
            .chain(invalid_utf8.iter().map(|b| b.to_vec()))
            .chain([all])
        {
            let mut line = String::new();
            push_json_string(&mut line, &bytes);
            assert!(line.is_ascii(), "{line}");
            let value: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("{bytes:?} gave {line}: {e}"));
            let decoded: Vec<u8> = value
                .as_str()
                .unwrap()
                .chars()
                .map(|c| u8::try_from(u32::from(c)).expect("one byte per code point"))
                .collect();
            assert_eq!(decoded, bytes, "{line}");
        }
    }

    #[test]
    fn every_request_the_parser_can_hand_over_is_one_valid_json_line() {
        // The parser admits visible ASCII (0x21-0x7e) in a target; a method is a token.
        for b in 0x21..=0x7eu8 {
            let request = format!("GET /{}{}", char::from(b), char::from(b));
            let v = parse(&entry(Some("[::1]:80"), &request).json("v"));
            assert_eq!(v["path"], request[4..], "{request}");
            assert_eq!(v["peer"], "[::1]:80");
        }
    }
}
