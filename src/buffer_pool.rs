//! Spare buffers of one event loop. A connection holds buffers only while it has bytes to
//! parse or to send; a quiet one gives them back here, so that ten thousand idle keep-alive
//! connections cost their bookkeeping, not ten thousand buffers. The pool is small: a busy
//! connection takes and returns its buffers within one wake-up, so a few spares are enough
//! to keep the allocator out of every request.

/// The size of a pooled buffer; most requests and their answers fit.
pub const BUFFER_SIZE: usize = 4 * 1024;
/// Spares kept; beyond that, returned buffers are freed.
const MAX_SPARES: usize = 8;

pub struct BufferPool {
    spares: Vec<Vec<u8>>,
    /// Input buffers are read into, so they are handed out full length (zeroed once, when
    /// allocated); output buffers are appended to, so they are handed out empty.
    full_length: bool,
}

impl BufferPool {
    pub fn for_input() -> BufferPool {
        BufferPool {
            spares: Vec::new(),
            full_length: true,
        }
    }

    pub fn for_output() -> BufferPool {
        BufferPool {
            spares: Vec::new(),
            full_length: false,
        }
    }

    /// A buffer of `BUFFER_SIZE` bytes: full length for input, empty for output.
    pub fn take(&mut self) -> Vec<u8> {
        self.spares.pop().unwrap_or_else(|| {
            if self.full_length {
                vec![0; BUFFER_SIZE]
            } else {
                Vec::with_capacity(BUFFER_SIZE)
            }
        })
    }

    /// Takes back a buffer; one that grew past the pooled size is freed instead, so that a
    /// burst leaves no large buffers behind.
    pub fn give(&mut self, mut buffer: Vec<u8>) {
        if buffer.capacity() != BUFFER_SIZE || self.spares.len() == MAX_SPARES {
            return;
        }
        if !self.full_length {
            buffer.clear();
        } else if buffer.len() != BUFFER_SIZE {
            return;
        }
        self.spares.push(buffer);
    }

    #[cfg(test)]
    pub fn spares(&self) -> usize {
        self.spares.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_buffers_come_back_empty_and_are_reused() {
        let mut pool = BufferPool::for_output();
        let mut a = pool.take();
        assert_eq!((a.len(), a.capacity()), (0, BUFFER_SIZE));
        a.extend_from_slice(b"x");
        let address = a.as_ptr();
        pool.give(a);
        let b = pool.take();
        assert!(b.is_empty(), "a returned buffer comes back empty");
        assert_eq!(b.as_ptr(), address, "the spare is reused");
    }

    #[test]
    fn input_buffers_are_full_length() {
        let mut pool = BufferPool::for_input();
        let a = pool.take();
        assert_eq!((a.len(), a.capacity()), (BUFFER_SIZE, BUFFER_SIZE));
        let address = a.as_ptr();
        pool.give(a);
        let again = pool.take();
        assert_eq!(again.as_ptr(), address);
        pool.give(Vec::with_capacity(BUFFER_SIZE));
        assert_eq!(
            pool.spares(),
            0,
            "a short input buffer is not handed out again"
        );
    }

    #[test]
    fn frees_grown_buffers_and_keeps_a_bounded_number_of_spares() {
        let mut pool = BufferPool::for_output();
        let mut grown = pool.take();
        grown.resize(BUFFER_SIZE + 1, 0);
        pool.give(grown);
        assert_eq!(pool.spares(), 0, "a grown buffer is not kept");
        let taken: Vec<_> = (0..MAX_SPARES + 3).map(|_| pool.take()).collect();
        for buffer in taken {
            pool.give(buffer);
        }
        assert_eq!(pool.spares(), MAX_SPARES);
    }
}
