//! A connection's receive buffer: bytes read but not yet consumed by the parser. It holds
//! memory only while it holds bytes: `release` hands an empty buffer back to the pool.

use crate::buffer_pool::BufferPool;
use crate::http::parse::MAX_HEAD_LEN;
use std::io;

/// A head may grow the buffer up to this; the parser refuses longer heads first.
const MAX_CAPACITY: usize = MAX_HEAD_LEN.next_power_of_two();

#[derive(Default)]
pub struct InputBuffer {
    /// Empty while released; otherwise full length, bytes `start..end` unconsumed.
    data: Vec<u8>,
    start: usize,
    end: usize,
    last_read_short: bool,
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

    /// Bytes of memory held (not bytes buffered).
    #[cfg(test)]
    pub fn capacity(&self) -> usize {
        self.data.capacity()
    }

    /// Gives the memory back while nothing is buffered.
    pub fn release(&mut self, pool: &mut BufferPool) {
        if self.is_empty() && !self.data.is_empty() {
            pool.give(std::mem::take(&mut self.data));
            self.clear();
        }
    }

    /// One `read` into the free space, making room first; `Ok(0)` is end of stream.
    pub fn read_with(
        &mut self,
        pool: &mut BufferPool,
        read: impl FnOnce(&mut [u8]) -> io::Result<usize>,
    ) -> io::Result<usize> {
        if self.data.is_empty() {
            self.data = pool.take();
        }
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
        let n = read(&mut self.data[self.end..])?;
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
    use std::io::Read;

    fn read_from(buf: &mut InputBuffer, pool: &mut BufferPool, source: &mut &[u8]) -> usize {
        buf.read_with(pool, |room| source.read(room)).unwrap()
    }

    #[test]
    fn keeps_unconsumed_bytes_across_reads_and_grows_to_the_limit() {
        let mut pool = BufferPool::for_input();
        let mut buf = InputBuffer::default();
        let mut source: &[u8] = &[7u8; MAX_CAPACITY + 10];
        while buf.filled().len() < MAX_CAPACITY {
            read_from(&mut buf, &mut pool, &mut source);
        }
        let err = buf.read_with(&mut pool, |_| Ok(0)).unwrap_err();
        assert_eq!(err.to_string(), "input buffer full");
        buf.consume(MAX_HEAD_LEN);
        let before = buf.filled().len();
        read_from(&mut buf, &mut pool, &mut source);
        assert!(buf.filled().len() > before, "compaction made room");
        assert!(buf.filled().iter().all(|&b| b == 7));
    }

    #[test]
    fn consuming_everything_resets_to_the_front() {
        let mut pool = BufferPool::for_input();
        let mut buf = InputBuffer::default();
        read_from(&mut buf, &mut pool, &mut &b"abc"[..]);
        buf.consume(2);
        assert_eq!(buf.filled(), b"c");
        buf.consume(1);
        assert!(buf.is_empty());
        assert_eq!((buf.start, buf.end), (0, 0));
    }

    #[test]
    fn holds_memory_only_while_it_holds_bytes() {
        let mut pool = BufferPool::for_input();
        let mut buf = InputBuffer::default();
        assert_eq!(buf.capacity(), 0);
        read_from(&mut buf, &mut pool, &mut &b"abc"[..]);
        buf.release(&mut pool);
        assert!(buf.capacity() > 0, "unconsumed bytes keep their buffer");
        assert_eq!(buf.filled(), b"abc");
        buf.consume(3);
        buf.release(&mut pool);
        assert_eq!(buf.capacity(), 0);
        assert_eq!(pool.spares(), 1, "the buffer went back to the pool");
    }

    #[test]
    fn a_short_read_is_remembered() {
        let mut pool = BufferPool::for_input();
        let mut buf = InputBuffer::default();
        read_from(&mut buf, &mut pool, &mut &b"abc"[..]);
        assert!(buf.last_read_was_short());
        let mut big: &[u8] = &[1u8; 10_000];
        read_from(&mut buf, &mut pool, &mut big);
        assert!(!buf.last_read_was_short());
    }
}
