//! HTTP/1.1 message syntax and semantics, with no sockets and no routes.

pub mod chunked;
pub mod date;
pub mod parse;
pub mod request;
pub mod response;

/// Counts bytes the parsers look at, in tests only, so that a test can show their work is
/// linear in what they are given however it is split. Compiles to nothing otherwise.
#[inline(always)]
pub(crate) fn examined(bytes: usize) {
    #[cfg(test)]
    work::EXAMINED.with(|count| count.set(count.get() + bytes));
    #[cfg(not(test))]
    let _ = bytes;
}

#[cfg(test)]
pub(crate) mod work {
    use std::cell::Cell;

    thread_local! {
        pub(super) static EXAMINED: Cell<usize> = const { Cell::new(0) };
    }

    /// Bytes examined on this thread since the last call.
    pub(crate) fn take() -> usize {
        EXAMINED.with(|count| count.replace(0))
    }
}
