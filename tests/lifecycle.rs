//! Start-up, configuration, the health-check command, the access log and graceful
//! shutdown, as an operator or a container runtime sees them.

mod common;
use common::{Client, IO_TIMEOUT, Service, wait_until};
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

#[test]
fn sigterm_lets_the_request_in_flight_finish_then_exits_0() {
    let mut service = Service::start(&[]);
    let mut in_flight = Client::new(service.connect());
    in_flight.send(b"GET /ping HTTP/1.1\r\nHost: t\r\n");
    let mut idle = Client::new(service.connect());
    idle.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(idle.reply().status, 200);
    thread::sleep(Duration::from_millis(100));

    service.signal("TERM");
    assert!(
        idle.is_closed_by_server(),
        "idle keep-alive connections are closed"
    );
    wait_until("no new connections once stopping", || {
        TcpStream::connect(service.addr).is_err()
    });
    assert!(
        service.is_running(),
        "still finishing the request in flight"
    );

    in_flight.send(b"\r\n");
    let reply = in_flight.reply();
    assert_eq!(reply.body_text(), "Pong!");
    assert!(reply.closes(), "the last answer says the connection closes");
    let (status, took) = service.wait_exit(IO_TIMEOUT);
    assert_eq!(status.code(), Some(0));
    println!("exited {took:?} after the last request");
    // The process has exited: its stdout ends, so this waits only for lines in transit.
    let lines: Vec<String> = service.lines.iter().collect();
    assert!(
        lines.iter().any(|l| l.contains("received SIGTERM")),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l == "shutdown complete"), "{lines:?}");
}

#[test]
fn sigint_stops_an_idle_server_at_once() {
    let mut service = Service::start(&[]);
    assert_eq!(service.get("/ping").status, 200);
    service.signal("INT");
    let (status, took) = service.wait_exit(IO_TIMEOUT);
    assert_eq!(status.code(), Some(0));
    println!("idle server exited {took:?} after SIGINT");
}

#[test]
fn shutdown_is_bounded_by_its_grace_period() {
    let mut service = Service::start(&[("SHUTDOWN_TIMEOUT", "0.5")]);
    // A client that never finishes its request cannot hold the shutdown past the grace.
    let mut stuck = Client::new(service.connect());
    stuck.send(b"GET /ping HTTP/1.1\r\n");
    thread::sleep(Duration::from_millis(100));
    service.signal("TERM");
    let (status, took) = service.wait_exit(IO_TIMEOUT);
    assert_eq!(status.code(), Some(0));
    assert!(
        took >= Duration::from_millis(400),
        "waited for the grace period ({took:?})"
    );
    // The process has exited: its stdout ends, so this waits only for lines in transit.
    let lines: Vec<String> = service.lines.iter().collect();
    assert!(
        lines.iter().any(|l| l.contains("grace period over")),
        "{lines:?}"
    );
}

#[test]
fn invalid_configuration_exits_2_with_a_message() {
    for (env, flag, needle) in [
        (("PORT", "eighty"), None, "PORT"),
        (("WORKERS", "-1"), None, "WORKERS"),
        (("HEALTH_FAILURE_RATE", "2"), None, "HEALTH_FAILURE_RATE"),
        (("ACCESS_LOG", "sometimes"), None, "ACCESS_LOG"),
        (("IDLE_TIMEOUT", "soon"), None, "IDLE_TIMEOUT"),
        (("PORT", "8080"), Some("--no-such-flag"), "unknown argument"),
    ] {
        let output = common::service_command()
            .env_clear()
            .env(env.0, env.1)
            .args(flag)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{env:?} {flag:?}: {stderr}");
        assert!(stderr.contains(needle), "{stderr:?} should name {needle}");
        assert!(!stderr.contains("panicked"));
    }
}

#[test]
fn help_needs_no_valid_configuration() {
    let output = common::service_command()
        .env_clear()
        .env("PORT", "not-a-port")
        .args(["--port", "1", "--help"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "--help needs no valid configuration"
    );
}

#[test]
fn prints_version_and_help() {
    let version = common::service_command().arg("--version").output().unwrap();
    assert!(version.status.success());
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("micro-service {}", env!("CARGO_PKG_VERSION"))
    );
    let help = common::service_command().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for documented in [
        "PORT",
        "BIND",
        "WORKERS",
        "MAX_CONNECTIONS",
        "HEALTH_FAILURE_RATE",
        "ACCESS_LOG",
        "IDLE_TIMEOUT",
        "REQUEST_TIMEOUT",
        "SHUTDOWN_TIMEOUT",
        "healthcheck",
    ] {
        assert!(
            help.contains(documented),
            "--help should document {documented}"
        );
    }
}

#[test]
fn healthcheck_command_reports_the_local_server() {
    let service = Service::start(&[("HEALTH_FAILURE_RATE", "1")]);
    let port = service.addr.port().to_string();
    // It asks /ping, so the deliberately failing /health does not make it unhealthy.
    let healthy = common::service_command()
        .env_clear()
        .args(["healthcheck", "--port", &port])
        .output()
        .unwrap();
    assert!(healthy.status.success(), "{healthy:?}");
    drop(service);
    let unhealthy = common::service_command()
        .env_clear()
        .env("PORT", &port)
        .arg("healthcheck")
        .output()
        .unwrap();
    assert_eq!(unhealthy.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unhealthy.stderr).contains("unhealthy"));
}

#[test]
fn access_log_has_one_line_per_request() {
    let service = Service::start(&[("ACCESS_LOG", "on")]);
    service.get("/ping?secret=1");
    service.exchange(b"GET / HTTP/1.1\r\n\r\n");
    let lines: Vec<String> = (0..2)
        .map(|_| {
            service
                .lines
                .recv_timeout(IO_TIMEOUT)
                .expect("access log line")
        })
        .collect();
    // <time> <peer> "<method> <path>" <status> <bytes> <duration>ms
    let fields: Vec<&str> = lines[0].split(' ').collect();
    assert_eq!(fields.len(), 7, "{}", lines[0]);
    assert!(fields[0].ends_with('Z') && fields[1].starts_with("127.0.0.1:"));
    assert_eq!(
        &fields[2..6],
        ["\"GET", "/ping\"", "200", "5"],
        "the query is not logged"
    );
    assert!(fields[6].ends_with("ms"));
    assert!(lines[1].contains("\"GET\" 400 "), "{}", lines[1]);
}

/// ACCESS_LOG=json: every line a JSON object that a real parser reads, whatever byte the
/// request's target holds (each byte the parser admits in a target: 0x21-0x7e).
#[test]
fn json_access_log_lines_parse_whatever_the_path_holds() {
    let service = Service::start(&[("ACCESS_LOG", "json")]);
    let mut client = Client::new(service.connect());
    let mut expected = Vec::new();
    for b in 0x21..=0x7eu8 {
        let target = format!("/{}{}?q=\"", char::from(b), char::from(b));
        client.send(format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        let status = client.reply().status;
        // No query is logged; a fragment makes the target invalid (400, no path).
        let path = (b != b'#').then(|| target.split('?').next().unwrap().to_string());
        expected.push((status, Some("GET"), path));
        if status == 400 {
            client = Client::new(service.connect());
        }
    }
    // Not even a method is readable here.
    assert_eq!(service.exchange(b"\x80 / HTTP/1.1\r\n\r\n").status, 400);
    expected.push((400, None, None));
    for (status, method, path) in expected {
        let line = service.lines.recv_timeout(IO_TIMEOUT).expect("a log line");
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        assert_eq!(v["status"], status, "{line}");
        assert_eq!(v["path"].as_str(), path.as_deref(), "{line}");
        assert_eq!(v["method"].as_str(), method, "{line}");
        assert!(
            v["peer"].as_str().unwrap().starts_with("127.0.0.1:"),
            "{line}"
        );
        assert!(v["time"].as_str().unwrap().ends_with('Z'), "{line}");
        assert!(
            v["body_bytes"].is_u64() && v["duration_ms"].is_f64(),
            "{line}"
        );
        assert_eq!(v["version"], env!("CARGO_PKG_VERSION"), "{line}");
    }
}

/// ACCESS_LOG=json: the service's own lines (startup, SIGTERM, shutdown) are JSON objects
/// too, so that a log pipeline reads every line it writes while serving.
#[test]
fn json_access_log_makes_every_line_json() {
    let mut service = Service::start(&[("ACCESS_LOG", "json")]);
    assert_eq!(service.get("/ping").status, 200);
    service.signal("TERM");
    let (status, _) = service.wait_exit(IO_TIMEOUT);
    assert_eq!(status.code(), Some(0));
    // The process has exited: its stdout ends, so this waits only for lines in transit.
    let lines: Vec<String> = service.lines.iter().collect();
    let messages: Vec<String> = lines
        .iter()
        .map(|line| {
            let v: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
            assert!(v["time"].as_str().unwrap().ends_with('Z'), "{line}");
            assert_eq!(v["version"], env!("CARGO_PKG_VERSION"), "{line}");
            v["message"]
                .as_str()
                .unwrap_or("(an access-log entry)")
                .to_string()
        })
        .collect();
    assert!(
        messages.iter().any(|m| m.starts_with("received SIGTERM")),
        "{messages:?}"
    );
    assert_eq!(
        messages.last().map(String::as_str),
        Some("shutdown complete")
    );
}

#[test]
fn the_unspecified_ipv6_address_serves_both_loopbacks() {
    let service = Service::start(&[("BIND", "::")]);
    let port = service.addr.port();
    for addr in [format!("[::1]:{port}"), format!("127.0.0.1:{port}")] {
        let stream = TcpStream::connect(&addr).unwrap_or_else(|e| panic!("{addr}: {e}"));
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let mut client = Client::new(stream);
        client.send(b"GET /ping HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(client.reply().body_text(), "Pong!", "{addr}");
    }
}

/// Starts the service with a fault injected (a debug build fakes it, see src/faults.rs)
/// and returns its exit status and stderr once it has stopped by itself.
fn run_with_fault(fault: &str) -> (std::process::ExitStatus, String) {
    // Always this debug build: only it can fake faults (another build given by
    // MICRO_SERVICE_BIN, such as the arm64 release build, cannot).
    let mut service =
        Service::start_this_build(&[("WORKERS", "2"), ("MICRO_SERVICE_FAULTS", fault)]);
    let (status, _) = service.wait_exit(IO_TIMEOUT);
    (status, service.stderr_text())
}

#[test]
fn a_worker_whose_epoll_wait_fails_stops_the_server_with_exit_1() {
    let (status, stderr) = run_with_fault("epoll_wait");
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.matches("worker 1: epoll_wait failed").count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("could no longer serve"), "{stderr}");
}

#[test]
fn a_worker_that_panics_stops_the_server_with_exit_1() {
    let (status, stderr) = run_with_fault("worker_panic");
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("worker 1 panicked"), "{stderr}");
    assert!(!stderr.contains("grace period"), "{stderr}");
}

#[test]
fn a_worker_that_cannot_start_stops_those_started_and_exits_1() {
    let (status, stderr) = run_with_fault("worker_start");
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot start worker 1: injected fault"),
        "{stderr}"
    );
    assert!(
        stderr.contains("stopped the 1 worker already started"),
        "{stderr}"
    );
}

#[test]
fn a_transient_accept_error_is_retried_at_once_without_a_report() {
    let mut service = Service::start_this_build(&[("MICRO_SERVICE_FAULTS", "accept_eproto")]);
    assert_eq!(service.get("/ping").status, 200);
    service.signal("TERM");
    let (status, _) = service.wait_exit(IO_TIMEOUT);
    assert_eq!(status.code(), Some(0));
    let stderr = service.stderr_text();
    assert!(!stderr.contains("cannot accept"), "{stderr}");
    assert!(!stderr.contains("accepting again"), "{stderr}");
}

#[test]
fn a_second_sigint_stops_at_once_with_exit_1() {
    let mut service = Service::start(&[("SHUTDOWN_TIMEOUT", "60")]);
    // A request in flight would hold the drain for the whole grace period.
    let mut in_flight = Client::new(service.connect());
    in_flight.send(b"GET /ping HTTP/1.1\r\nHost: t\r\n");
    wait_until("the service accepts the client", || {
        service.established_connections() == 1
    });
    service.signal("INT");
    let first = service
        .lines
        .recv_timeout(IO_TIMEOUT)
        .expect("a line on SIGINT");
    assert!(first.contains("received SIGINT"), "{first}");
    assert!(service.is_running(), "draining");
    service.signal("INT");
    let (status, took) = service.wait_exit(IO_TIMEOUT);
    assert_eq!(status.code(), Some(1), "{}", service.stderr_text());
    let lines: Vec<String> = service.lines.iter().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("received SIGINT again: stopping at once")),
        "{lines:?}"
    );
    println!("exited {took:?} after the second SIGINT");
}

#[test]
fn a_server_that_cannot_wait_for_sigterm_stops_with_exit_1() {
    let (status, stderr) = run_with_fault("sigwait");
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot wait for SIGTERM"), "{stderr}");
}

#[test]
fn a_port_taken_on_ipv6_is_an_error_not_an_ipv4_only_server() {
    let Ok(taken) = std::net::TcpListener::bind("[::1]:0") else {
        eprintln!("skipped: no IPv6 on this host");
        return;
    };
    let port = taken.local_addr().unwrap().port().to_string();
    let mut child = common::service_command()
        .env_clear()
        .envs([("PORT", port.as_str()), ("ACCESS_LOG", "off")])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > IO_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the service started (on IPv4 alone?) instead of refusing the taken port");
        }
        thread::sleep(Duration::from_millis(10));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot listen on port"), "{stderr}");
}
