//! Hostile and careless clients: none of them may keep the server from everyone else.

mod common;
use common::{Client, Service};
use std::io::{ErrorKind, Read, Write};
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
    // Timeouts far longer than the test: nothing here is rescued by a timeout.
    let service = Service::start(&[
        ("WORKERS", "64"),
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
    let slow = trickle.join().unwrap();
    println!(
        "300 hostile connections held open for {:?}",
        start.elapsed()
    );
    let closed = |conns: &[TcpStream]| {
        conns
            .iter()
            .filter(|s| {
                s.set_nonblocking(true).unwrap();
                let mut buf = [0u8; 1024];
                let mut s = *s;
                !matches!(s.read(&mut buf), Err(e) if e.kind() == ErrorKind::WouldBlock)
            })
            .count()
    };
    println!(
        "given up by the server: {} of 150 idle, {} of 150 slowloris",
        closed(&idle),
        closed(&slow)
    );
    fresh_ping_within(&service, Duration::from_secs(5));
}

#[test]
fn sheds_load_with_a_quick_503_when_even_the_queue_is_full() {
    let service = Service::start(&[("WORKERS", "1"), ("QUEUE_SIZE", "1")]);
    // Occupies the only worker with a head that is still young, so not given up.
    let mut busy = service.connect();
    busy.write_all(b"GET /ping HTTP/1.1\r\n").unwrap();
    thread::sleep(Duration::from_millis(100));
    let mut queued = Client::new(service.connect());
    queued.send(GET_PING);
    thread::sleep(Duration::from_millis(100));
    let mut shed = Client::new(service.connect());
    let reply = shed.reply();
    assert_eq!(reply.status, 503);
    assert!(reply.body_text().contains("too many connections"));
    // Those already accepted are served once the worker is free.
    busy.write_all(b"Host: t\r\n\r\n").unwrap();
    let mut busy = Client::new(busy);
    assert_eq!(busy.reply().body_text(), "Pong!");
    drop(busy);
    assert_eq!(queued.reply().body_text(), "Pong!");
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
