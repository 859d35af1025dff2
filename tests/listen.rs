//! One listener path, whatever `--bind` says (issue 17 item 2): the same backlog for
//! every address, and `::` takes IPv4 clients too on a host whose `net.ipv6.bindv6only`
//! is 1. The host's setting cannot be changed for a test, so the test runs itself again in
//! a private network namespace (`unshare -n`, as root or through `sudo -n`), where it can.

mod common;
use common::{Client, IO_TIMEOUT, Service};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::process::Command;

/// Set in the copy of this test that runs inside the namespace.
const IN_NAMESPACE: &str = "MICRO_SERVICE_TEST_IN_NETNS";
const TEST: &str = "every_bind_address_gets_the_same_listener_where_ipv6_binds_v6_only";

#[test]
fn every_bind_address_gets_the_same_listener_where_ipv6_binds_v6_only() {
    if std::env::var_os(IN_NAMESPACE).is_some() {
        return in_namespace();
    }
    let Some(unshare) = namespace_command() else {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "CI must be able to run `unshare -n` (as root, or through sudo -n)"
        );
        eprintln!("skipped: `unshare -n` needs root or sudo -n here (CI runs this test)");
        return;
    };
    // sudo clears the environment: what the copy needs is passed on by `env`.
    let mut env = vec![format!("{IN_NAMESPACE}=1")];
    for name in ["MICRO_SERVICE_BIN", "MICRO_SERVICE_RUNNER", "CI"] {
        if let Ok(value) = std::env::var(name) {
            env.push(format!("{name}={value}"));
        }
    }
    let status = Command::new(unshare[0])
        .args(&unshare[1..])
        .arg("env")
        .args(env)
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", TEST, "--nocapture", "--test-threads", "1"])
        .status()
        .expect("run the test again in a private network namespace");
    assert!(status.success(), "inside the namespace: {status}");
}

/// How to run a command in a private network namespace where it may set
/// `net.ipv6.bindv6only`: as root, or through sudo without a password (CI's machines).
fn namespace_command() -> Option<&'static [&'static str]> {
    const WAYS: [&[&str]; 2] = [
        &["unshare", "-n", "--"],
        &["sudo", "-n", "unshare", "-n", "--"],
    ];
    WAYS.into_iter().find(|way| {
        Command::new(way[0])
            .args(&way[1..])
            .args(["sh", "-c", "echo 1 > /proc/sys/net/ipv6/bindv6only"])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

fn in_namespace() {
    let up = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status();
    assert!(up.is_ok_and(|s| s.success()), "ip link set lo up");
    std::fs::write("/proc/sys/net/ipv6/bindv6only", "1").expect("set net.ipv6.bindv6only");
    let v4: IpAddr = "127.0.0.1".parse().unwrap();
    let v6: IpAddr = "::1".parse().unwrap();
    // BIND, then which loopback clients it serves.
    let cases: [(&str, &[IpAddr], &[IpAddr]); 4] = [
        ("", &[v4, v6], &[]),
        ("::", &[v4, v6], &[]),
        ("127.0.0.1", &[v4], &[v6]),
        ("::1", &[v6], &[v4]),
    ];
    let mut wrong = Vec::new();
    let mut backlogs = Vec::new();
    for (bind, served, refused) in cases {
        let service = Service::start(&[("BIND", bind), ("WORKERS", "1")]);
        let port = service.addr.port();
        for &ip in served {
            let status = ping(SocketAddr::new(ip, port));
            if !matches!(status, Ok(200)) {
                wrong.push(format!("BIND={bind:?}: {ip} not served: {status:?}"));
            }
        }
        for &ip in refused {
            if TcpStream::connect(SocketAddr::new(ip, port)).is_ok() {
                wrong.push(format!("BIND={bind:?}: {ip} connected"));
            }
        }
        backlogs.push((bind, backlog(port)));
    }
    println!("backlog (ss -ltn Send-Q) per BIND: {backlogs:?}");
    let (_, default) = backlogs[0];
    for &(bind, backlog) in &backlogs {
        if backlog != default {
            wrong.push(format!(
                "BIND={bind:?}: backlog {backlog}, the default's {default}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// The status of a GET /ping at `addr`.
fn ping(addr: SocketAddr) -> std::io::Result<u16> {
    let stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    let mut client = Client::new(stream);
    client.send(b"GET /ping HTTP/1.1\r\nHost: t\r\n\r\n");
    client.try_reply().map(|reply| reply.status)
}

/// The listening socket's backlog on `port`, as `ss -ltn` shows it (Send-Q).
fn backlog(port: u16) -> u32 {
    let out = Command::new("ss")
        .args(["-ltnH", &format!("sport = :{port}")])
        .output()
        .expect("run ss");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .next()
        .unwrap_or_else(|| panic!("no listener on {port}"));
    line.split_whitespace()
        .nth(2)
        .and_then(|q| q.parse().ok())
        .unwrap_or_else(|| panic!("ss line {line:?}"))
}
