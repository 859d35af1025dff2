//! Faults the tests can ask a debug build to fake, by name, in `MICRO_SERVICE_FAULTS`
//! (comma-separated): failures the kernel almost never produces on demand (epoll_wait,
//! sigwait, a worker's panic), whose handling must still be seen to work. A release build
//! has none: `injected` is constant false there and the checks compile away.

#[cfg(debug_assertions)]
pub fn injected(name: &str) -> bool {
    std::env::var("MICRO_SERVICE_FAULTS").is_ok_and(|faults| faults.split(',').any(|f| f == name))
}

/// Like `injected`, but true the first time it is asked only: a fault that happens once.
#[cfg(debug_assertions)]
pub fn injected_once(name: &'static str) -> bool {
    static FIRED: std::sync::Mutex<Vec<&str>> = std::sync::Mutex::new(Vec::new());
    if !injected(name) {
        return false;
    }
    let mut fired = FIRED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let first = !fired.contains(&name);
    fired.push(name);
    first
}

#[cfg(not(debug_assertions))]
pub fn injected(_name: &str) -> bool {
    false
}

#[cfg(not(debug_assertions))]
pub fn injected_once(_name: &'static str) -> bool {
    false
}
