//! The accept loop: hands each connection to the worker pool, sheds load with a quick 503
//! when even the queue is full, and drains gracefully when told to stop.

use crate::access_log::AccessLog;
use crate::config::Config;
use crate::connection::{Accepted, Context, Worker};
use crate::http::date::Civil;
use crate::http::parse::Version;
use crate::http::response::{Framing, Response, write_response};
use crate::pool::{Pool, Submitted};
use crate::routes::Routes;
use crate::slots::Slots;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// A request head still incomplete after this long is slow enough to be given up when
/// new clients wait for a worker; a normal client sends its head in one packet.
const STALLED_HEAD_AFTER: Duration = Duration::from_secs(1);
/// How often to take workers back while connections wait for one.
const RECLAIM_INTERVAL: Duration = Duration::from_millis(100);

pub fn version() -> &'static str {
    env!("SERVICE_VERSION")
}

/// Binds the configured address; with no address, all interfaces: IPv6 and IPv4 on a
/// dual-stack socket, or IPv4 alone where the host has no IPv6 (some containers).
pub fn bind(config: &Config) -> io::Result<TcpListener> {
    match config.bind {
        Some(ip) => TcpListener::bind((ip, config.port)),
        None => TcpListener::bind((Ipv6Addr::UNSPECIFIED, config.port))
            .or_else(|_| TcpListener::bind((Ipv4Addr::UNSPECIFIED, config.port))),
    }
}

/// Tells a running server to stop; usable from any thread.
#[derive(Clone)]
pub struct Stopper {
    stopping: Arc<AtomicBool>,
    wake: SocketAddr,
}

impl Stopper {
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        // The accept loop blocks in accept(); a connection of our own wakes it.
        let _ = TcpStream::connect_timeout(&self.wake, Duration::from_secs(1));
    }
}

pub struct Server {
    listener: TcpListener,
    config: Config,
    stopping: Arc<AtomicBool>,
}

impl Server {
    pub fn new(listener: TcpListener, config: Config) -> Server {
        Server {
            listener,
            config,
            stopping: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn stopper(&self) -> io::Result<Stopper> {
        let mut wake = self.listener.local_addr()?;
        if wake.ip().is_unspecified() {
            wake.set_ip(match wake.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
            });
        }
        Ok(Stopper {
            stopping: Arc::clone(&self.stopping),
            wake,
        })
    }

    /// Serves until stopped, then finishes what is in flight within the shutdown timeout.
    /// Returns whether every connection finished in time.
    pub fn run(self) -> bool {
        let config = &self.config;
        let ctx = Arc::new(Context {
            routes: Routes {
                health_failure_rate: config.health_failure_rate,
            },
            access_log: AccessLog::new(config.access_log),
            idle_timeout: config.idle_timeout,
            request_timeout: config.request_timeout,
            server: format!("micro-service/{}", version()),
            slots: Slots::new(config.workers),
        });
        let worker_ctx = Arc::clone(&ctx);
        let pool = Arc::new(Pool::new(config.workers, config.queue_size, move |index| {
            let mut worker = Worker::new(Arc::clone(&worker_ctx), index);
            move |accepted| worker.serve(accepted)
        }));
        let reclaimer = spawn_reclaimer(Arc::clone(&pool), Arc::clone(&ctx));

        while !self.stopping.load(Ordering::Acquire) {
            let (stream, peer) = match self.listener.accept() {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(&e);
                    continue;
                }
            };
            if self.stopping.load(Ordering::Acquire) {
                break;
            }
            let at = Instant::now();
            match pool.submit(Accepted { stream, peer, at }) {
                Submitted::Started => {}
                // Every worker is busy: take one back now, and more until the queue drains.
                Submitted::Queued => {
                    ctx.slots.evict(1, STALLED_HEAD_AFTER);
                    reclaimer.thread().unpark();
                }
                Submitted::Rejected(accepted) => shed(accepted.stream, &ctx.server),
            }
        }

        drop(self.listener);
        let deadline = Instant::now() + config.shutdown_timeout;
        ctx.slots.begin_shutdown();
        reclaimer.thread().unpark();
        pool.shutdown(deadline)
    }
}

/// While connections wait in the queue, keeps taking workers back from clients that are
/// not using them (idle, or stalled in their head), so that a queue full of slow clients
/// drains too, not just one connection per accept. Sleeps while nothing waits.
fn spawn_reclaimer(pool: Arc<Pool<Accepted>>, ctx: Arc<Context>) -> thread::JoinHandle<()> {
    thread::Builder::new()
        .name("reclaimer".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            while !ctx.slots.is_shutting_down() {
                let waiting = pool.queued();
                if waiting == 0 {
                    thread::park();
                    continue;
                }
                ctx.slots.evict(waiting, STALLED_HEAD_AFTER);
                thread::sleep(RECLAIM_INTERVAL);
            }
        })
        .expect("cannot start the reclaimer thread")
}

fn accept_failed(e: &io::Error) {
    eprintln!("error: accept: {e}");
    // Out of file descriptors or memory: retrying at once would spin; let workers finish.
    if !matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::Interrupted
    ) {
        thread::sleep(Duration::from_millis(10));
    }
}

/// Answers 503 without ever blocking the accept loop: one non-blocking write, then close.
fn shed(stream: TcpStream, server: &str) {
    let mut out = Vec::with_capacity(256);
    let date = Civil::now().imf_fixdate();
    let busy = Response {
        status: 503,
        body: b"Service Unavailable: too many connections, retry shortly\n",
        allow: false,
    };
    let framing = Framing {
        version: Version::Http11,
        keep_alive: false,
        head_only: false,
    };
    write_response(&mut out, &busy, framing, &date, server);
    if stream.set_nonblocking(true).is_ok() {
        let _ = (&stream).write(&out);
    }
}
