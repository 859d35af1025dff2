//! What a connection needs of its socket, as a trait, so that the HTTP state machine in
//! `connection.rs` runs unchanged over a scripted stand-in in its unit tests.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};

pub trait Transport {
    /// A non-blocking read: `WouldBlock` when nothing is there, `Ok(0)` at end of stream.
    fn read(&self, buf: &mut [u8]) -> io::Result<usize>;
    /// A non-blocking write: `WouldBlock` when the peer's window is full.
    fn write(&self, buf: &[u8]) -> io::Result<usize>;
    /// Sends FIN: the peer sees end of stream after what was written.
    fn shutdown_write(&self) -> io::Result<()>;
    /// Only the access log asks.
    fn peer_addr(&self) -> Option<SocketAddr>;
}

impl Transport for TcpStream {
    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&mut &*self).read(buf)
    }

    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        (&mut &*self).write(buf)
    }

    fn shutdown_write(&self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }

    fn peer_addr(&self) -> Option<SocketAddr> {
        TcpStream::peer_addr(self).ok()
    }
}
