//! One line per request on stdout, written whole so that lines from workers never mix.

use crate::http::date::Civil;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::time::Instant;

pub struct AccessLog {
    enabled: bool,
}

impl AccessLog {
    pub fn new(enabled: bool) -> AccessLog {
        AccessLog { enabled }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
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
        // Errors writing the log (a closed stdout) must not take the service down.
        let _ = std::io::stdout().lock().write_all(line.as_bytes());
    }
}
