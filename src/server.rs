//! Binds the listener, starts the worker pool (one event loop per worker thread), and
//! stops it gracefully when told to, or when a worker can no longer serve.

use crate::access_log::AccessLog;
use crate::config::Config;
use crate::connection::Shared;
use crate::event_loop::{Ending, EventLoop};
use crate::faults;
use crate::listen::{self, Stack};
use crate::log_output::LogOutput;
use crate::report::report;
use crate::routes::Routes;
use crate::sys;
use crate::workers::{self, Workers};
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

/// Event loops keep their buffers on the heap; a small stack keeps memory small.
const WORKER_STACK_SIZE: usize = 256 * 1024;
/// How long the kernel keeps a connection that has sent nothing before handing it over
/// anyway; clients that speak at once (all real ones) are accepted at once.
const DEFER_ACCEPT: Duration = Duration::from_secs(1);

pub fn version() -> &'static str {
    env!("SERVICE_VERSION")
}

/// Binds the configured address; with no address, all interfaces: IPv6 and IPv4 on one
/// dual-stack socket, or IPv4 alone where the host has no IPv6 (some containers), which
/// the second value explains.
pub fn bind(config: &Config) -> io::Result<(TcpListener, Option<String>)> {
    let (listener, note) = match config.bind {
        Some(ip) => (listen::on(ip, config.port)?, None),
        None => match listen::all_interfaces(config.port)? {
            (listener, Stack::Dual) => (listener, None),
            (listener, Stack::Ipv4Only(why)) => (
                listener,
                Some(format!("no IPv6 on this host ({why}): IPv4 only")),
            ),
        },
    };
    sys::tune_listener(&listener, DEFER_ACCEPT.as_secs() as i32)?;
    Ok((listener, note))
}

/// How serving ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every connection finished after the stop.
    Drained,
    /// The grace period ended first; the rest were closed.
    GraceOver,
    /// The server could not go on serving; the reason was reported as it happened.
    Failed,
}

/// Tells a running server to stop; usable from any thread.
#[derive(Clone)]
pub struct Stopper {
    shared: Arc<Shared>,
    workers: Arc<Workers>,
    failed: Arc<AtomicBool>,
}

impl Stopper {
    pub fn stop(&self) {
        self.shared.shutting_down.store(true, Ordering::Release);
        self.workers.wake_all();
    }

    /// Stops, and makes the outcome a failure.
    pub fn fail(&self) {
        self.failed.store(true, Ordering::Release);
        self.stop();
    }
}

/// A worker thread that panics (in a build that unwinds) stops the whole server, which
/// then exits non-zero, instead of serving on with one worker fewer.
struct FailOnPanic(Stopper);

impl Drop for FailOnPanic {
    fn drop(&mut self) {
        if thread::panicking() {
            self.0.fail();
        }
    }
}

pub struct Server {
    listener: TcpListener,
    config: Config,
    stopper: Stopper,
    wake_ups: Vec<UnixStream>,
}

impl Server {
    pub fn new(
        listener: TcpListener,
        config: Config,
        log: Option<Arc<LogOutput>>,
    ) -> io::Result<Server> {
        let shared = Arc::new(Shared {
            routes: Routes {
                health_failure_rate: config.health_failure_rate,
            },
            access_log: AccessLog::new(log.zip(config.access_log)),
            idle_timeout: config.idle_timeout,
            request_timeout: config.request_timeout,
            quiet_before_close: workers::quiet_before_close(config.shutdown_timeout),
            accept_defer: DEFER_ACCEPT,
            server: format!("micro-service/{}", version()),
            shutting_down: AtomicBool::new(false),
        });
        let (workers, wake_ups) = Workers::new(config.workers, config.max_connections)?;
        Ok(Server {
            listener,
            config,
            stopper: Stopper {
                shared,
                workers: Arc::new(workers),
                failed: Arc::new(AtomicBool::new(false)),
            },
            wake_ups,
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn stopper(&self) -> Stopper {
        self.stopper.clone()
    }

    /// Serves until stopped, then finishes what is in flight within the shutdown timeout.
    pub fn run(self) -> io::Result<Outcome> {
        let mut handles = Vec::with_capacity(self.config.workers);
        for (index, woken) in self.wake_ups.into_iter().enumerate() {
            let started = start_worker(
                index,
                &self.listener,
                woken,
                &self.stopper,
                self.config.shutdown_timeout,
            );
            match started {
                Ok(handle) => handles.push(handle),
                Err(e) => {
                    // Those already started must not serve on: stop them, then report.
                    self.stopper.fail();
                    let started = handles.len();
                    handles.into_iter().for_each(|h| drop(h.join()));
                    let plural = if started == 1 { "" } else { "s" };
                    return Err(io::Error::new(
                        e.kind(),
                        format!(
                            "cannot start worker {index}: {e}; stopped the {started} worker{plural} already started"
                        ),
                    ));
                }
            }
        }
        // The loops hold their own copies; ours must not keep the port open at shutdown.
        drop(self.listener);
        // Join every worker, even after one reports it ran out of time.
        let mut outcome = Outcome::Drained;
        for (index, handle) in handles.into_iter().enumerate() {
            match handle.join() {
                Ok(Ending::Drained) => {}
                Ok(Ending::GraceOver) if outcome == Outcome::Drained => {
                    outcome = Outcome::GraceOver;
                }
                Ok(Ending::GraceOver) => {}
                Ok(Ending::Failed) => outcome = Outcome::Failed,
                Err(_) => {
                    report(&format!("worker {index} panicked"));
                    outcome = Outcome::Failed;
                }
            }
        }
        if self.stopper.failed.load(Ordering::Acquire) {
            outcome = Outcome::Failed;
        }
        Ok(outcome)
    }
}

/// Starts worker `index`'s event loop on a thread of its own.
fn start_worker(
    index: usize,
    listener: &TcpListener,
    woken: UnixStream,
    stopper: &Stopper,
    shutdown_timeout: Duration,
) -> io::Result<thread::JoinHandle<Ending>> {
    if index == 1 && faults::injected("worker_start") {
        return Err(io::Error::other("injected fault"));
    }
    let event_loop = EventLoop::new(
        index,
        listener.try_clone()?,
        woken,
        Arc::clone(&stopper.shared),
        Arc::clone(&stopper.workers),
        shutdown_timeout,
    )?;
    let guard = FailOnPanic(stopper.clone());
    thread::Builder::new()
        .name(format!("worker-{index}"))
        .stack_size(WORKER_STACK_SIZE)
        .spawn(move || {
            let ending = event_loop.run();
            if ending == Ending::Failed {
                guard.0.fail();
            }
            ending
        })
}
