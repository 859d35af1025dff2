//! Hostile and careless clients: none of them may keep the server from everyone else.

mod common;
use common::{Client, Service, wait_until};
use std::io::Write;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

const GET_PING: &[u8] = b"GET /ping HTTP/1.1\r\nHost: t\r\n\r\n";

/// Opens a connection that completes one request and then sits idle.
fn idle_keep_alive(service: &Service) -> TcpStream {
    let mut client = Client::new(service.connect());
    client.send(GET_PING);
    assert_eq!(client.reply().body_text(), "Pong!");
    client.stream().try_clone().unwrap()
}

/// A fresh client's /ping must succeed within `limit`, far below every server timeout,
/// so that only the server's defence against the other clients can make it in time.
fn fresh_ping_within(service: &Service, limit: Duration) {
    let stream = TcpStream::connect(service.addr).expect("connect");
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut client = Client::new(stream);
    client.send(GET_PING);
    assert_eq!(client.reply().body_text(), "Pong!");
}

#[test]
fn idle_and_slowloris_connections_do_not_starve_a_fresh_client() {
    // Two workers and timeouts far longer than the test: nothing here is rescued by a
    // timeout; connections that wait cost the server memory, not a worker.
    let service = Service::start(&[
        ("WORKERS", "2"),
        ("IDLE_TIMEOUT", "120"),
        ("REQUEST_TIMEOUT", "120"),
    ]);
    let idle: Vec<TcpStream> = (0..150).map(|_| idle_keep_alive(&service)).collect();
    let mut slow: Vec<TcpStream> = (0..150)
        .map(|_| {
            let mut s = service.connect();
            s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ")
                .unwrap();
            s
        })
        .collect();
    // Slowloris: one more byte of the head every 200 ms, on every connection, for ~6 s.
    let trickle = thread::spawn(move || {
        for _ in 0..30 {
            for s in &mut slow {
                let _ = s.write_all(b"a");
            }
            thread::sleep(Duration::from_millis(200));
        }
        slow
    });
    let start = Instant::now();
    for round in 0..5 {
        thread::sleep(Duration::from_millis(800));
        let t = Instant::now();
        fresh_ping_within(&service, Duration::from_secs(5));
        println!("round {round}: fresh /ping answered in {:?}", t.elapsed());
    }
    let mut slow = trickle.join().unwrap();
    println!(
        "300 hostile connections held open for {:?}",
        start.elapsed()
    );
    // Nobody had to be sacrificed: every one of them is still served.
    for s in &mut slow {
        s.write_all(b"\r\n\r\n").unwrap();
    }
    for (i, s) in slow.into_iter().chain(idle).enumerate() {
        let mut client = Client::new(s);
        if i >= 150 {
            client.send(GET_PING);
        }
        assert_eq!(client.reply().status, 200, "connection {i}");
    }
}

#[test]
fn at_the_connection_limit_closes_a_connection_quiet_long_enough_else_sheds_with_503_but_answers_ping()
 {
    // SHUTDOWN_TIMEOUT 4 s makes the quiet interval before a close 1 s: long enough for a
    // loaded machine to ask within it.
    let service = Service::start(&[
        ("MAX_CONNECTIONS", "2"),
        ("WORKERS", "1"),
        ("SHUTDOWN_TIMEOUT", "4"),
    ]);
    // Two requests in progress fill the limit, once the service has accepted both.
    let mut first = Client::new(service.connect());
    first.send(b"GET /ping HTTP/1.1\r\n");
    let mut second = Client::new(service.connect());
    second.send(b"GET / HTTP/1.1\r\n");
    wait_until("the service accepts both clients", || {
        service.established_connections() == 2
    });
    // Nothing can make room: a quick 503, without waiting for anyone, and a clean close.
    for path in ["/", "/health"] {
        let mut shed = Client::new(service.connect());
        shed.send(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        let reply = shed.reply();
        assert_eq!(reply.status, 503, "{path}");
        assert!(reply.body_text().contains("too many connections"));
        assert!(shed.is_closed_by_server(), "FIN, not a reset");
    }
    // Except for the liveness probe: the service is busy, not dead.
    let mut probe = Client::new(service.connect());
    probe.send(GET_PING);
    let reply = probe.reply();
    assert_eq!((reply.status, reply.body_text().as_str()), (200, "Pong!"));
    assert!(reply.closes());
    assert!(probe.is_closed_by_server(), "FIN, not a reset");
    // `first` has just been answered: its next request may be on its way, so it is not
    // closed under it yet.
    first.send(b"Host: t\r\n\r\n");
    assert_eq!(first.reply().body_text(), "Pong!");
    let mut early = Client::new(service.connect());
    early.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(
        early.reply().status,
        503,
        "quiet for less than the interval"
    );
    // Once it has been quiet for the interval, a new client takes its place.
    wait_until("a newcomer takes the place of the quiet connection", || {
        // Not /ping: that one is answered at the limit whether or not room is made.
        let mut newcomer = Client::new(service.connect());
        newcomer.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
        newcomer.reply().status == 200 // 503 until the interval has passed
    });
    assert!(
        first.is_closed_by_server(),
        "the quiet connection made room, with a FIN"
    );
    second.send(b"Host: t\r\n\r\n");
    assert_eq!(second.reply().body_text(), "Hello World!");
}

#[test]
fn a_connection_that_never_speaks_is_closed() {
    let service = Service::start(&[("REQUEST_TIMEOUT", "0.3")]);
    let started = Instant::now();
    let mut client = Client::new(service.connect());
    // The kernel holds it until the deferred-accept second is over; then the request
    // deadline runs out. Closed without a 408: there was no request to answer.
    assert!(client.is_closed_by_server());
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(5), "closed after {waited:?}");
}

#[test]
fn closes_idle_keep_alive_connections_after_the_idle_timeout() {
    let service = Service::start(&[("IDLE_TIMEOUT", "0.3")]);
    let mut client = Client::new(service.connect());
    client.send(GET_PING);
    assert_eq!(client.reply().body_text(), "Pong!");
    thread::sleep(Duration::from_millis(600));
    assert!(client.is_closed_by_server());
}

#[test]
fn answers_408_when_a_head_takes_longer_than_the_request_timeout() {
    let service = Service::start(&[("REQUEST_TIMEOUT", "0.5")]);
    let mut client = Client::new(service.connect());
    client.send(b"GET /ping HTTP/1.1\r\n");
    for _ in 0..3 {
        thread::sleep(Duration::from_millis(150));
        let _ = client.stream().write_all(b"X: y\r\n"); // progress does not extend the deadline
    }
    let reply = client.reply();
    assert_eq!(reply.status, 408);
    assert!(reply.closes());
    assert_eq!(service.get("/ping").body_text(), "Pong!");
}

#[test]
fn a_client_that_vanishes_mid_request_harms_no_one() {
    let service = Service::start(&[("WORKERS", "2")]);
    for _ in 0..50 {
        let mut s = service.connect();
        let _ = s.write_all(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\npartial");
    }
    for _ in 0..20 {
        // Gone before the answer arrives: the server's write meets a reset.
        let mut s = service.connect();
        let _ = s.write_all(GET_PING);
    }
    assert_eq!(service.get("/ping").body_text(), "Pong!");
}

#[test]
fn a_client_that_never_reads_its_answers_cannot_block_others() {
    let service = Service::start(&[("WORKERS", "1"), ("REQUEST_TIMEOUT", "1")]);
    let mut greedy = service.connect();
    greedy
        .set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    // Far more answers than the socket buffers hold; the client reads none of them.
    let burst = "GET /ping HTTP/1.1\r\nHost: t\r\n\r\n".repeat(1000);
    for _ in 0..200 {
        if greedy.write_all(burst.as_bytes()).is_err() {
            break; // the server stopped reading from us: backpressure
        }
    }
    fresh_ping_within(&service, Duration::from_secs(5));
    // Its answers stay unread past the write deadline, so the server gives up on it.
    thread::sleep(Duration::from_millis(2500));
    let mut client = Client::new(greedy);
    assert!(client.drain_until_closed());
    fresh_ping_within(&service, Duration::from_secs(5));
}

#[test]
fn running_out_of_file_descriptors_is_survived() {
    let service = Service::start_with_fd_limit(&[("WORKERS", "1")], 32);
    // More connections than the process may hold: the kernel queues the rest. Each sends
    // a first byte, since the listener's TCP_DEFER_ACCEPT only hands over connections that
    // have spoken.
    let hogs: Vec<TcpStream> = (0..60)
        .map(|_| {
            let mut s = service.connect();
            s.write_all(b"G").unwrap();
            s
        })
        .collect();
    thread::sleep(Duration::from_millis(300));
    drop(hogs);
    // Once descriptors are free again, it accepts and serves as before.
    thread::sleep(Duration::from_millis(300));
    fresh_ping_within(&service, Duration::from_secs(5));
}

#[test]
fn at_the_limit_a_quiet_connection_on_any_worker_makes_room() {
    // Quiet interval 0.1 s (a quarter of SHUTDOWN_TIMEOUT). The idle connections spread
    // over both workers; each newcomer lands on either, so about half of them can only be
    // served if a quiet connection of the *other* worker is closed for them.
    const LIMIT: usize = 60;
    let service = Service::start(&[
        ("MAX_CONNECTIONS", &LIMIT.to_string()),
        ("WORKERS", "2"),
        ("SHUTDOWN_TIMEOUT", "0.4"),
    ]);
    let idle: Vec<TcpStream> = (0..LIMIT).map(|_| idle_keep_alive(&service)).collect();
    thread::sleep(Duration::from_millis(300));
    // Newcomers stay connected: each needs a place of its own.
    let mut newcomers = Vec::new();
    let statuses: Vec<u16> = (0..LIMIT)
        .map(|_| {
            let mut c = Client::new(service.connect());
            c.send(GET_PING);
            let status = c.reply().status;
            newcomers.push(c);
            status
        })
        .collect();
    let refused = statuses.iter().filter(|&&s| s != 200).count();
    assert_eq!(
        refused, 0,
        "{refused} of {LIMIT} newcomers refused: {statuses:?}"
    );
    let closed = idle
        .into_iter()
        .filter(|s| Client::new(s.try_clone().unwrap()).is_closed_by_server())
        .count();
    assert_eq!(
        closed, LIMIT,
        "every old quiet connection made room, with a FIN"
    );
}

#[test]
fn many_error_closes_in_a_row_all_end_with_fin() {
    // Each bad request is answered, then the connection lingers to drain what the client
    // sent after it: the count of lingering connections must come back down each time, or
    // its bound would start closing with resets.
    let service = Service::start(&[("WORKERS", "1")]);
    let garbage = vec![b'x'; 8 * 1024];
    for i in 0..1500 {
        let mut client = Client::new(service.connect());
        client.send(b"BAD\r\n\r\n");
        client.send(&garbage);
        let reply = client
            .try_reply()
            .unwrap_or_else(|e| panic!("connection {i}: {e}"));
        assert_eq!(reply.status, 400);
        let _ = client.stream().shutdown(std::net::Shutdown::Write);
        assert!(
            client.is_closed_by_server(),
            "connection {i}: a reset, not a FIN"
        );
    }
}
