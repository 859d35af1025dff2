//! A bounded pool of worker threads with a bounded queue. Knows nothing about HTTP.
//!
//! Workers are started on demand up to the configured maximum and then kept, so an idle
//! service holds a few threads while a busy one gets its whole pool. Each worker owns the
//! state built for it by `make_worker` (buffers, above all) for its whole life.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::Instant;

/// Our handlers keep their buffers on the heap; a small stack keeps memory small.
const WORKER_STACK_SIZE: usize = 256 * 1024;

pub struct Pool<T> {
    shared: Arc<Shared<T>>,
    spawn_worker: Box<dyn Fn(usize) + Send + Sync>,
}

/// What happened to a submitted job.
#[derive(Debug)]
pub enum Submitted<T> {
    /// A worker is free (or was just started) and will take it at once.
    Started,
    /// Every worker is busy: the job waits in the queue for one to finish.
    Queued,
    /// The queue is full or the pool is shutting down; the job is handed back.
    Rejected(T),
}

struct Shared<T> {
    state: Mutex<State<T>>,
    work_available: Condvar,
    all_exited: Condvar,
    max_workers: usize,
    max_queue: usize,
}

struct State<T> {
    queue: VecDeque<T>,
    started: usize,
    waiting: usize,
    live: usize,
    closed: bool,
}

impl<T: Send + 'static> Pool<T> {
    /// `make_worker(index)` runs once on each new worker thread and returns its job handler.
    pub fn new<F, W>(max_workers: usize, max_queue: usize, make_worker: F) -> Pool<T>
    where
        F: Fn(usize) -> W + Send + Sync + 'static,
        W: FnMut(T),
    {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::with_capacity(max_queue.min(1024)),
                started: 0,
                waiting: 0,
                live: 0,
                closed: false,
            }),
            work_available: Condvar::new(),
            all_exited: Condvar::new(),
            max_workers,
            max_queue,
        });
        let make_worker = Arc::new(make_worker);
        let for_spawn = Arc::clone(&shared);
        let spawn_worker = Box::new(move |index: usize| {
            let shared = Arc::clone(&for_spawn);
            let make_worker = Arc::clone(&make_worker);
            let spawned = thread::Builder::new()
                .name(format!("worker-{index}"))
                .stack_size(WORKER_STACK_SIZE)
                .spawn(move || {
                    let _live = LiveGuard(&shared);
                    let mut handle = make_worker(index);
                    while let Some(job) = shared.next_job() {
                        handle(job);
                    }
                });
            if let Err(e) = spawned {
                // Out of threads: the queue still drains through the workers we have.
                eprintln!("error: cannot start worker thread: {e}");
                let mut state = for_spawn.lock();
                state.live -= 1;
                for_spawn.all_exited.notify_all();
            }
        });
        Pool {
            shared,
            spawn_worker,
        }
    }

    pub fn submit(&self, job: T) -> Submitted<T> {
        let mut state = self.shared.lock();
        if state.closed || state.queue.len() >= self.shared.max_queue {
            return Submitted::Rejected(job);
        }
        state.queue.push_back(job);
        if state.waiting >= state.queue.len() {
            drop(state);
            self.shared.work_available.notify_one();
            return Submitted::Started;
        }
        if state.started < self.shared.max_workers {
            let index = state.started;
            state.started += 1;
            state.live += 1;
            drop(state);
            (self.spawn_worker)(index);
            return Submitted::Started;
        }
        Submitted::Queued
    }

    /// Stops taking jobs, lets the workers finish every job already queued, and waits
    /// until they have exited or `deadline` passes. Returns whether they all exited.
    pub fn shutdown(&self, deadline: Instant) -> bool {
        let mut state = self.shared.lock();
        state.closed = true;
        self.shared.work_available.notify_all();
        while state.live > 0 {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = match self.shared.all_exited.wait_timeout(state, deadline - now) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        true
    }

    /// Jobs waiting for a worker.
    pub fn queued(&self) -> usize {
        self.shared.lock().queue.len()
    }

    #[cfg(test)]
    pub fn started(&self) -> usize {
        self.shared.lock().started
    }
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A worker never panics while holding the lock (panics abort), but be safe.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn next_job(&self) -> Option<T> {
        let mut state = self.lock();
        loop {
            if let Some(job) = state.queue.pop_front() {
                return Some(job);
            }
            if state.closed {
                return None;
            }
            state.waiting += 1;
            state = self
                .work_available
                .wait(state)
                .unwrap_or_else(|p| p.into_inner());
            state.waiting -= 1;
        }
    }
}

/// Counts a worker as live until its thread ends, however it ends.
struct LiveGuard<'a, T>(&'a Shared<T>);

impl<T> Drop for LiveGuard<'_, T> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.live -= 1;
        if state.live == 0 {
            self.0.all_exited.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn runs_jobs_on_workers_started_on_demand() {
        let (tx, rx) = mpsc::channel();
        let pool = Pool::new(4, 16, move |index| {
            let tx = tx.clone();
            move |job: u32| tx.send((index, job)).unwrap()
        });
        for job in 0..8 {
            assert!(!matches!(pool.submit(job), Submitted::Rejected(_)));
        }
        let mut seen: Vec<u32> = (0..8).map(|_| rx.recv().unwrap().1).collect();
        seen.sort();
        assert_eq!(seen, (0..8).collect::<Vec<_>>());
        assert!(pool.started() <= 4);
        assert!(pool.shutdown(Instant::now() + Duration::from_secs(5)));
    }

    #[test]
    fn queues_when_all_workers_are_busy_and_rejects_when_full() {
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release_rx = Arc::new(Mutex::new(release_rx));
        let pool = Pool::new(1, 1, move |_| {
            let release_rx = Arc::clone(&release_rx);
            move |_job: u32| release_rx.lock().unwrap().recv().unwrap()
        });
        assert!(matches!(pool.submit(1), Submitted::Started));
        // Let the worker take job 1, so the queue is empty again.
        while pool.shared.lock().queue.len() == 1 {
            thread::yield_now();
        }
        assert!(matches!(pool.submit(2), Submitted::Queued));
        assert!(matches!(pool.submit(3), Submitted::Rejected(3)));
        release_tx.send(()).unwrap();
        release_tx.send(()).unwrap();
        assert!(pool.shutdown(Instant::now() + Duration::from_secs(5)));
        assert!(matches!(pool.submit(4), Submitted::Rejected(4)));
    }

    #[test]
    fn shutdown_gives_up_at_the_deadline() {
        let (_keep, blocked) = mpsc::channel::<()>();
        let blocked = Arc::new(Mutex::new(blocked));
        let pool = Pool::new(1, 1, move |_| {
            let blocked = Arc::clone(&blocked);
            move |_job: u32| {
                let _ = blocked
                    .lock()
                    .unwrap()
                    .recv_timeout(Duration::from_secs(30));
            }
        });
        pool.submit(1);
        let start = Instant::now();
        assert!(!pool.shutdown(Instant::now() + Duration::from_millis(200)));
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
