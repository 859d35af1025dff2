//! `micro-service healthcheck`: the container's health check, with no shell or curl in
//! the image. It asks `/ping`, never `/health`, which fails on purpose.

use crate::config::Config;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(2);

/// Returns Ok with a description when the local server answers `Pong!`.
pub fn check(config: &Config) -> Result<String, String> {
    let ip = match config.bind {
        None => IpAddr::V4(Ipv4Addr::LOCALHOST),
        Some(ip) if ip.is_unspecified() && ip.is_ipv6() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        Some(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        Some(ip) => ip,
    };
    let addr = SocketAddr::new(ip, config.port);
    let fail = |what: &str, e: std::io::Error| format!("{what} {addr}: {e}");
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| fail("connect", e))?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(TIMEOUT)))
        .map_err(|e| fail("configure", e))?;
    stream
        .write_all(b"GET /ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .map_err(|e| fail("send to", e))?;
    let mut reply = Vec::with_capacity(512);
    stream
        .take(64 * 1024)
        .read_to_end(&mut reply)
        .map_err(|e| fail("read from", e))?;
    let reply = String::from_utf8_lossy(&reply);
    let status_line = reply.lines().next().unwrap_or("");
    if status_line.starts_with("HTTP/1.1 200 ") && reply.ends_with("\r\n\r\nPong!") {
        Ok(format!("{addr}: {status_line}"))
    } else {
        Err(format!("{addr}: unexpected answer: {status_line:?}"))
    }
}
