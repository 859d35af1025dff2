//! One line per request, handed whole to the log writer so that lines from workers never
//! mix and a slow stdout never holds up a request.

use crate::http::date::Civil;
use crate::log_output::LogOutput;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

pub struct AccessLog {
    output: Option<Arc<LogOutput>>,
}

impl AccessLog {
    /// `None`: access log off.
    pub fn new(output: Option<Arc<LogOutput>>) -> AccessLog {
        AccessLog { output }
    }

    pub fn enabled(&self) -> bool {
        self.output.is_some()
    }

    /// `<time> <peer or -> "<method> <path>" <status> <body bytes> <duration>ms`
    pub fn request(
        &self,
        peer: Option<SocketAddr>,
        request: &str,
        status: u16,
        body_bytes: usize,
        started: Instant,
    ) {
        let Some(output) = &self.output else {
            return;
        };
        output.line(format_line(peer, request, status, body_bytes, started));
    }
}

fn format_line(
    peer: Option<SocketAddr>,
    request: &str,
    status: u16,
    body_bytes: usize,
    started: Instant,
) -> String {
    let micros = started.elapsed().as_micros();
    let mut line = String::with_capacity(96);
    let _ = write!(line, "{} ", Civil::now().rfc3339());
    match peer {
        Some(peer) => {
            let _ = write!(
                line,
                "{} \"",
                SocketAddr::new(peer.ip().to_canonical(), peer.port())
            );
        }
        // The client left before its address was asked for.
        None => line.push_str("- \""),
    }
    // The path is visible ASCII (the parser saw to it) but may hold a quote.
    for c in request.chars() {
        match c {
            '"' | '\\' => line.push_str(if c == '"' { "%22" } else { "%5C" }),
            c if c.is_ascii_graphic() || c == ' ' => line.push(c),
            c => {
                let _ = write!(line, "\\u{{{:x}}}", c as u32);
            }
        }
    }
    let (millis, micros) = (micros / 1000, micros % 1000);
    let _ = writeln!(line, "\" {status} {body_bytes} {millis}.{micros:03}ms");
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_names_peer_request_status_bytes_and_escapes_quotes() {
        let peer = "[::ffff:10.0.0.1]:4242".parse().ok();
        let line = format_line(peer, "GET /a\"b\\c", 200, 5, Instant::now());
        let rest = line.split_once(' ').unwrap().1;
        assert!(
            rest.starts_with("10.0.0.1:4242 \"GET /a%22b%5Cc\" 200 5 "),
            "{line}"
        );
        assert!(line.ends_with("ms\n"));
        assert!(format_line(None, "-", 400, 0, Instant::now()).contains(" - \"-\" 400 0 "));
    }
}
