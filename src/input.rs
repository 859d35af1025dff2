//! A connection's receive buffer: bytes read but not yet consumed by the parser.

use crate::http::parse::MAX_HEAD_LEN;
use std::io::{self, Read};

/// Most connections never need more than this; heads up to the limit grow the buffer.
const INITIAL_CAPACITY: usize = 4 * 1024;
const MAX_CAPACITY: usize = MAX_HEAD_LEN.next_power_of_two();

pub struct InputBuffer {
    data: Vec<u8>,
    start: usize,
    end: usize,
    last_read_short: bool,
}

impl Default for InputBuffer {
    fn default() -> Self {
        InputBuffer {
            data: vec![0; INITIAL_CAPACITY],
            start: 0,
            end: 0,
            last_read_short: false,
        }
    }
}

impl InputBuffer {
    pub fn filled(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    pub fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    pub fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.end - self.start);
        self.start += n;
        if self.start == self.end {
            self.clear();
        }
    }

    /// True when an unfinished request head fills all the room a head may take.
    pub fn is_full(&self) -> bool {
        self.end - self.start >= MAX_HEAD_LEN
    }

    /// One `read` into the free space, making room first; `Ok(0)` is end of stream.
    pub fn read_from(&mut self, source: &mut impl Read) -> io::Result<usize> {
        if self.end == self.data.len() {
            if self.start > 0 {
                self.data.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else if self.data.len() < MAX_CAPACITY {
                self.data.resize((self.data.len() * 2).min(MAX_CAPACITY), 0);
            } else {
                return Err(io::Error::other("input buffer full"));
            }
        }
        let room = self.data.len() - self.end;
        let n = source.read(&mut self.data[self.end..])?;
        self.end += n;
        self.last_read_short = n < room;
        Ok(n)
    }

    /// Whether the last read took less than it had room for: the socket had nothing more
    /// at that moment, so reading again at once would most likely just say "would block".
    pub fn last_read_was_short(&self) -> bool {
        self.last_read_short
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_unconsumed_bytes_across_reads_and_grows_to_the_limit() {
        let mut buf = InputBuffer::default();
        let mut source: &[u8] = &[7u8; MAX_CAPACITY + 10];
        while buf.read_from(&mut source).is_ok() && !buf.is_full() {}
        assert!(buf.is_full());
        buf.consume(MAX_HEAD_LEN);
        let before = buf.filled().len();
        buf.read_from(&mut source).unwrap();
        assert!(buf.filled().len() > before, "compaction made room");
        assert!(buf.filled().iter().all(|&b| b == 7));
    }

    #[test]
    fn consuming_everything_resets_to_the_front() {
        let mut buf = InputBuffer::default();
        buf.read_from(&mut &b"abc"[..]).unwrap();
        buf.consume(2);
        assert_eq!(buf.filled(), b"c");
        buf.consume(1);
        assert!(buf.is_empty());
        assert_eq!((buf.start, buf.end), (0, 0));
    }
}
