//! Faults the tests can ask a debug build to fake, by name, in `MICRO_SERVICE_FAULTS`
//! (comma-separated): failures the kernel almost never produces on demand (epoll_wait,
//! sigwait, a worker's panic), whose handling must still be seen to work. A release build
//! has none: `injected` is constant false there and the checks compile away.

#[cfg(debug_assertions)]
pub fn injected(name: &str) -> bool {
    std::env::var("MICRO_SERVICE_FAULTS").is_ok_and(|faults| faults.split(',').any(|f| f == name))
}

#[cfg(not(debug_assertions))]
pub fn injected(_name: &str) -> bool {
    false
}
