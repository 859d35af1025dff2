//! Reports that go to stderr: errors and the server's own notices about its health.

/// Written directly, not through the log writer: rare, and a failed write to stderr must
/// not panic.
pub fn report(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "micro-service: {message}");
}
