//! The service's own lines, beside the access log: notices on stdout (through the log
//! writer) and errors on stderr. With `ACCESS_LOG=json` each is a JSON object too
//! (`time`, `message`, `version`), so that a log pipeline reads every line the service
//! writes while serving, not only the access log's.

use crate::access_log::{self, Format};
use std::sync::atomic::{AtomicBool, Ordering};

static JSON: AtomicBool = AtomicBool::new(false);

/// The format of the lines below, set once at startup from `ACCESS_LOG` (plain when the
/// access log is off).
pub fn set_format(format: Format) {
    JSON.store(format == Format::Json, Ordering::Relaxed);
}

fn format() -> Format {
    if JSON.load(Ordering::Relaxed) {
        Format::Json
    } else {
        Format::Plain
    }
}

/// `text` as one line of the service's output, in the format set at startup.
pub fn line(text: &str) -> String {
    access_log::notice(format(), text)
}

/// Written directly, not through the log writer: rare, and a failed write to stderr must
/// not panic.
pub fn report(message: &str) {
    use std::io::Write;
    let line = line(&format!("micro-service: {message}"));
    let _ = std::io::stderr().write_all(line.as_bytes());
}
