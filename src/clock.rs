//! The time as of the event loop's latest wake-up. Every response needs the Date header
//! and a fresh deadline; reading the clocks for each (two vDSO calls per response, 5% of
//! the CPU when pipelined) is wasted work when one reading per wake-up is as good: the
//! Date header has a one-second resolution and deadlines are
//! whole milliseconds (epoll's resolution).

use crate::http::date::{Civil, IMF_FIXDATE_LEN, unix_now};
use std::time::Instant;

pub struct Clock {
    now: Instant,
    second: i64,
    date: [u8; IMF_FIXDATE_LEN],
}

impl Clock {
    pub fn new() -> Clock {
        let second = unix_now();
        Clock {
            now: Instant::now(),
            second,
            date: Civil::from_unix(second).imf_fixdate(),
        }
    }

    /// Reads the clocks; formats the Date header again only when the second has changed.
    pub fn tick(&mut self) {
        self.now = Instant::now();
        let second = unix_now();
        if second != self.second {
            self.second = second;
            self.date = Civil::from_unix(second).imf_fixdate();
        }
    }

    /// Moves this clock's reading forward without reading the system clock: the unit
    /// tests of time-driven paths (idle, linger, deadlines) run on it, deterministic.
    #[cfg(test)]
    pub fn advance(&mut self, by: std::time::Duration) {
        self.now += by;
    }

    pub fn now(&self) -> Instant {
        self.now
    }

    /// The Date header's value (RFC 9110 §6.6.1, IMF-fixdate).
    pub fn date(&self) -> &[u8; IMF_FIXDATE_LEN] {
        &self.date
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn holds_its_reading_until_the_next_tick() {
        let mut clock = Clock::new();
        let first = clock.now();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(clock.now(), first, "no clock read between ticks");
        let before = unix_now();
        clock.tick();
        let after = unix_now();
        assert!(clock.now() >= first + Duration::from_millis(5));
        let formatted = |second| Civil::from_unix(second).imf_fixdate();
        assert!(clock.date() == &formatted(before) || clock.date() == &formatted(after));
    }
}
