//! `micro-service healthcheck`: the container's health check, with no shell or curl in
//! the image. It asks `/ping`, never `/health`, which fails on purpose.

use crate::config::Config;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(2);

/// The addresses to try, in order. A wildcard bind answers on both loopbacks when the host
/// has both, but containers often have no IPv6 (Docker's default), so IPv4 goes first and
/// `::1` is only the fallback for a host without IPv4 loopback.
fn candidates(config: &Config) -> Vec<SocketAddr> {
    let v4 = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
    let ips = match config.bind {
        None => vec![v4, v6],
        Some(ip) if ip.is_unspecified() && ip.is_ipv6() => vec![v4, v6],
        Some(ip) if ip.is_unspecified() => vec![v4],
        Some(ip) => vec![ip],
    };
    ips.into_iter()
        .map(|ip| SocketAddr::new(ip, config.port))
        .collect()
}

/// Returns Ok with a description when the local server answers `Pong!`; otherwise the
/// reasons each address failed.
pub fn check(config: &Config) -> Result<String, String> {
    let mut failures = Vec::new();
    for addr in candidates(config) {
        match ask_ping(addr) {
            Ok(status_line) => return Ok(format!("{addr}: {status_line}")),
            Err(reason) => failures.push(format!("{addr}: {reason}")),
        }
    }
    Err(failures.join("; "))
}

fn ask_ping(addr: SocketAddr) -> Result<String, String> {
    let fail = |what: &str, e: std::io::Error| format!("{what}: {e}");
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| fail("connect", e))?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(TIMEOUT)))
        .map_err(|e| fail("configure", e))?;
    stream
        .write_all(b"GET /ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .map_err(|e| fail("send", e))?;
    let mut reply = Vec::with_capacity(512);
    stream
        .take(64 * 1024)
        .read_to_end(&mut reply)
        .map_err(|e| fail("read", e))?;
    let reply = String::from_utf8_lossy(&reply);
    let status_line = reply.lines().next().unwrap_or("");
    if status_line.starts_with("HTTP/1.1 200 ") && reply.ends_with("\r\n\r\nPong!") {
        Ok(status_line.to_string())
    } else {
        Err(format!("unexpected answer: {status_line:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Command, parse};

    fn config(args: &[&str]) -> Config {
        let args = args.iter().map(|a| a.to_string());
        match parse(args, |_| None) {
            Ok(Command::Serve(config)) => config,
            other => panic!("expected a serve config, got {other:?}"),
        }
    }

    #[test]
    fn wildcard_binds_try_ipv4_loopback_first() {
        let v4 = "127.0.0.1:8080".parse().unwrap();
        let v6 = "[::1]:8080".parse().unwrap();
        assert_eq!(candidates(&config(&[])), vec![v4, v6]);
        assert_eq!(candidates(&config(&["--bind", "::"])), vec![v4, v6]);
        assert_eq!(candidates(&config(&["--bind", "0.0.0.0"])), vec![v4]);
        assert_eq!(candidates(&config(&["--bind", "::1"])), vec![v6]);
    }
}
