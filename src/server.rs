//! Binds the listener, starts the worker pool (one event loop per worker thread), and
//! stops it gracefully when told to.

use crate::access_log::AccessLog;
use crate::config::Config;
use crate::connection::Shared;
use crate::event_loop::{Capacity, EventLoop};
use crate::routes::Routes;
use crate::socket;
use std::io::{self, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;

/// Event loops keep their buffers on the heap; a small stack keeps memory small.
const WORKER_STACK_SIZE: usize = 256 * 1024;
/// How long the kernel keeps a connection that has sent nothing before handing it over
/// anyway; clients that speak at once (all real ones) are accepted at once.
const DEFER_ACCEPT_SECS: i32 = 1;

pub fn version() -> &'static str {
    env!("SERVICE_VERSION")
}

/// Binds the configured address; with no address, all interfaces: IPv6 and IPv4 on a
/// dual-stack socket, or IPv4 alone where the host has no IPv6 (some containers).
pub fn bind(config: &Config) -> io::Result<TcpListener> {
    let listener = match config.bind {
        Some(ip) => TcpListener::bind((ip, config.port)),
        None => TcpListener::bind((Ipv6Addr::UNSPECIFIED, config.port))
            .or_else(|_| TcpListener::bind((Ipv4Addr::UNSPECIFIED, config.port))),
    }?;
    socket::tune_listener(&listener, DEFER_ACCEPT_SECS)?;
    Ok(listener)
}

/// Tells a running server to stop; usable from any thread.
pub struct Stopper {
    shared: Arc<Shared>,
    wake: UnixStream,
}

impl Stopper {
    pub fn stop(&self) {
        self.shared.shutting_down.store(true, Ordering::Release);
        // Every event loop watches the other end of this socket.
        let _ = (&self.wake).write(b"x");
    }
}

pub struct Server {
    listener: TcpListener,
    config: Config,
    shared: Arc<Shared>,
    wake: (UnixStream, UnixStream),
}

impl Server {
    pub fn new(listener: TcpListener, config: Config) -> io::Result<Server> {
        let shared = Arc::new(Shared {
            routes: Routes {
                health_failure_rate: config.health_failure_rate,
            },
            access_log: AccessLog::new(config.access_log),
            idle_timeout: config.idle_timeout,
            request_timeout: config.request_timeout,
            server: format!("micro-service/{}", version()),
            shutting_down: AtomicBool::new(false),
        });
        Ok(Server {
            listener,
            config,
            shared,
            wake: UnixStream::pair()?,
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn stopper(&self) -> io::Result<Stopper> {
        Ok(Stopper {
            shared: Arc::clone(&self.shared),
            wake: self.wake.0.try_clone()?,
        })
    }

    /// Serves until stopped, then finishes what is in flight within the shutdown timeout.
    /// Returns whether every connection finished in time.
    pub fn run(self) -> io::Result<bool> {
        let capacity = Arc::new(Capacity {
            open: AtomicUsize::new(0),
            max: self.config.max_connections,
        });
        let mut workers = Vec::with_capacity(self.config.workers);
        for index in 0..self.config.workers {
            let event_loop = EventLoop::new(
                self.listener.try_clone()?,
                self.wake.1.try_clone()?,
                Arc::clone(&self.shared),
                Arc::clone(&capacity),
                self.config.shutdown_timeout,
            )?;
            workers.push(
                thread::Builder::new()
                    .name(format!("worker-{index}"))
                    .stack_size(WORKER_STACK_SIZE)
                    .spawn(move || event_loop.run())?,
            );
        }
        // The loops hold their own copies; ours must not keep the port open at shutdown.
        drop(self.listener);
        // Join every worker, even after one reports it ran out of time.
        let finished: Vec<bool> = workers
            .into_iter()
            .map(|w| w.join().unwrap_or(false))
            .collect();
        Ok(finished.into_iter().all(|f| f))
    }
}
