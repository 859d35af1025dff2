//! HTTP/1.1 message syntax and semantics, with no sockets and no routes.

pub mod chunked;
pub mod date;
pub mod parse;
pub mod request;
pub mod response;
