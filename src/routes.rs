//! The service's three routes. Knows methods and paths, nothing about sockets or syntax.

use crate::http::request::Method;
use crate::http::response::Response;

/// `/health` fails on purpose, at a configurable rate, to show that the fleet rides out a
/// flaky health check.
#[derive(Debug, Clone, Copy)]
pub struct Routes {
    pub health_failure_rate: FailureRate,
}

/// A probability in billionths: exact for any rate written with up to nine decimals, and
/// no floating point (whose parsing and formatting would cost the binary 25 KB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureRate {
    billionths: u32,
}

impl FailureRate {
    pub const BILLION: u32 = 1_000_000_000;

    /// `None` above 1.
    pub fn from_billionths(billionths: u64) -> Option<FailureRate> {
        let billionths = u32::try_from(billionths).ok()?;
        (billionths <= Self::BILLION).then_some(FailureRate { billionths })
    }

    fn fails_now(self) -> bool {
        // Uniform in [0, 10^9): a rate of 0 never fails, a rate of 1 always does.
        fastrand::u32(..Self::BILLION) < self.billionths
    }
}

impl Routes {
    pub fn respond(&self, method: Method, path: &str) -> Response<'static> {
        let response = self.route(method, path);
        // A probe must reach the service: a cache that answered for it would hide a
        // failure (or invent one), and 200, 404 and 405 may be cached heuristically.
        let no_store = matches!(path, "/ping" | "/health");
        Response {
            no_store,
            ..response
        }
    }

    fn route(&self, method: Method, path: &str) -> Response<'static> {
        let body: &'static [u8] = match path {
            "/" => b"Hello World!",
            "/ping" => b"Pong!",
            "/health" => return self.health(method),
            // OPTIONS * asks about the server as a whole (RFC 9110 §9.3.7).
            "*" => return reply(200, b"", true),
            _ if method == Method::Unknown => return not_implemented(),
            _ => return reply(404, b"Not Found: no such path\n", false),
        };
        if is_allowed(method) {
            reply(200, body, false)
        } else {
            method_not_allowed(method)
        }
    }

    fn health(&self, method: Method) -> Response<'static> {
        if !is_allowed(method) {
            return method_not_allowed(method);
        }
        if self.health_failure_rate.fails_now() {
            reply(500, b"Unhealthy: simulated failure\n", false)
        } else {
            reply(200, b"OK", false)
        }
    }
}

fn is_allowed(method: Method) -> bool {
    matches!(method, Method::Get | Method::Head)
}

fn method_not_allowed(method: Method) -> Response<'static> {
    if method == Method::Unknown {
        not_implemented()
    } else {
        reply(405, b"Method Not Allowed: use GET or HEAD\n", true)
    }
}

fn not_implemented() -> Response<'static> {
    reply(501, b"Not Implemented: unknown request method\n", false)
}

fn reply(status: u16, body: &'static [u8], allow: bool) -> Response<'static> {
    Response {
        status,
        body,
        allow,
        no_store: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEADY: Routes = Routes {
        health_failure_rate: FailureRate { billionths: 0 },
    };

    #[test]
    fn answers_the_three_routes() {
        assert_eq!(STEADY.respond(Method::Get, "/").body, b"Hello World!");
        assert_eq!(STEADY.respond(Method::Get, "/ping").body, b"Pong!");
        assert_eq!(STEADY.respond(Method::Get, "/health").status, 200);
        assert_eq!(STEADY.respond(Method::Head, "/ping").status, 200);
    }

    #[test]
    fn refuses_other_methods_and_paths() {
        let post = STEADY.respond(Method::Post, "/ping");
        assert_eq!((post.status, post.allow), (405, true));
        assert_eq!(STEADY.respond(Method::Delete, "/health").status, 405);
        assert_eq!(STEADY.respond(Method::Get, "/nope").status, 404);
        assert_eq!(STEADY.respond(Method::Get, "/ping/").status, 404);
        assert_eq!(STEADY.respond(Method::Unknown, "/").status, 501);
        assert_eq!(STEADY.respond(Method::Unknown, "/nope").status, 501);
    }

    #[test]
    fn probe_answers_are_never_stored_by_caches() {
        let broken = Routes {
            health_failure_rate: FailureRate::from_billionths(1_000_000_000).unwrap(),
        };
        for (routes, method, path) in [
            (STEADY, Method::Get, "/ping"),
            (STEADY, Method::Head, "/ping"),
            (STEADY, Method::Post, "/ping"),
            (STEADY, Method::Get, "/health"),
            (broken, Method::Get, "/health"),
            (STEADY, Method::Delete, "/health"),
        ] {
            assert!(routes.respond(method, path).no_store, "{method:?} {path}");
        }
        assert!(!STEADY.respond(Method::Get, "/").no_store);
        assert!(!STEADY.respond(Method::Get, "/nope").no_store);
    }

    #[test]
    fn health_failure_rate_is_pinnable() {
        let broken = Routes {
            health_failure_rate: FailureRate::from_billionths(1_000_000_000).unwrap(),
        };
        assert_eq!(FailureRate::from_billionths(1_000_000_001), None);
        for _ in 0..100 {
            assert_eq!(broken.respond(Method::Get, "/health").status, 500);
            assert_eq!(STEADY.respond(Method::Get, "/health").status, 200);
        }
    }
}
