//! The three routes and their HTTP semantics, over real sockets.

mod common;
use common::{Client, Service};

#[test]
fn answers_the_three_routes() {
    let service = Service::start(&[]);
    let root = service.get("/");
    assert_eq!(
        (root.status, root.body_text().as_str()),
        (200, "Hello World!")
    );
    let ping = service.get("/ping");
    assert_eq!((ping.status, ping.body_text().as_str()), (200, "Pong!"));
    assert_eq!(service.get("/health").status, 200);
}

#[test]
fn every_response_carries_length_type_date_and_version() {
    let service = Service::start(&[]);
    for reply in [service.get("/ping"), service.get("/nope")] {
        assert_eq!(
            reply.header("content-length"),
            Some(reply.body.len().to_string().as_str())
        );
        assert_eq!(
            reply.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
        assert_eq!(
            reply.header("server"),
            Some(format!("micro-service/{}", env!("CARGO_PKG_VERSION")).as_str())
        );
        let date = reply.header("date").expect("Date header");
        // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
        assert_eq!(date.len(), 29, "{date}");
        assert!(
            date.ends_with(" GMT") && date.as_bytes()[3] == b',',
            "{date}"
        );
    }
}

/// Probe answers must come from the service: a cache in between must not keep them
/// (RFC 9111 §5.2.2.5). Other answers leave caching to the defaults.
#[test]
fn probe_answers_forbid_caching() {
    let service = Service::start(&[]);
    for path in ["/ping", "/health"] {
        assert_eq!(
            service.get(path).header("cache-control"),
            Some("no-store"),
            "{path}"
        );
    }
    assert_eq!(service.get("/").header("cache-control"), None);
}

#[test]
fn query_string_and_absolute_form_do_not_change_routing() {
    let service = Service::start(&[]);
    assert_eq!(service.get("/ping?x=1&y").body_text(), "Pong!");
    let absolute =
        service.exchange(b"GET http://example.com/ping HTTP/1.1\r\nHost: example.com\r\n\r\n");
    assert_eq!(absolute.body_text(), "Pong!");
}

#[test]
fn head_has_the_get_headers_and_no_body() {
    let service = Service::start(&[]);
    for path in ["/", "/ping", "/health"] {
        let get = service.get(path);
        let mut client = Client::new(service.connect());
        // A pipelined GET after the HEAD proves no body bytes were sent for the HEAD.
        client.send(
            format!("HEAD {path} HTTP/1.1\r\nHost: t\r\n\r\nGET /ping HTTP/1.1\r\nHost: t\r\n\r\n")
                .as_bytes(),
        );
        let head = client.head_reply();
        assert_eq!(head.status, get.status);
        assert_eq!(head.header("content-length"), get.header("content-length"));
        assert_eq!(head.header("content-type"), get.header("content-type"));
        assert_eq!(client.reply().body_text(), "Pong!");
    }
}

#[test]
fn other_methods_get_405_with_allow_and_unknown_paths_404() {
    let service = Service::start(&[]);
    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"] {
        for path in ["/", "/ping", "/health"] {
            let reply =
                service.exchange(format!("{method} {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
            assert_eq!(reply.status, 405, "{method} {path}");
            assert_eq!(reply.header("allow"), Some("GET, HEAD"));
            assert!(!reply.body.is_empty());
        }
    }
    let missing = service.get("/missing");
    assert_eq!(missing.status, 404);
    assert!(missing.body_text().contains("Not Found"));
    // An unrecognised method is not implemented (RFC 9110 §9.1).
    assert_eq!(
        service
            .exchange(b"BREW / HTTP/1.1\r\nHost: t\r\n\r\n")
            .status,
        501
    );
}

#[test]
fn health_fails_at_the_configured_rate() {
    // 3000 calls at p = 0.1: mean 300, standard deviation ~16.4; ±5 sd is 218..382.
    let service = Service::start(&[("HEALTH_FAILURE_RATE", "0.1"), ("WORKERS", "4")]);
    let mut client = Client::new(service.connect());
    let calls = 3000;
    let mut failures = 0;
    for batch in 0..calls / 100 {
        let requests = "GET /health HTTP/1.1\r\nHost: t\r\n\r\n".repeat(100);
        client.send(requests.as_bytes());
        for _ in 0..100 {
            let reply = client.reply();
            match reply.status {
                200 => assert_eq!(reply.body_text(), "OK"),
                500 => failures += 1,
                other => panic!("batch {batch}: unexpected status {other}"),
            }
        }
    }
    println!("/health failed {failures} of {calls} calls");
    assert!(
        (218..=382).contains(&failures),
        "{failures} failures of {calls}"
    );
}

#[test]
fn health_failure_rate_can_be_pinned_to_always_or_never() {
    let broken = Service::start(&[("HEALTH_FAILURE_RATE", "1")]);
    let steady = Service::start(&[("HEALTH_FAILURE_RATE", "0.0")]);
    for _ in 0..50 {
        assert_eq!(broken.get("/health").status, 500);
        assert_eq!(steady.get("/health").status, 200);
    }
}
