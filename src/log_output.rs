//! The one writer of stdout while serving. Workers hand it whole lines through a bounded
//! queue and never wait: when stdout is slow or stalled (a stuck log shipper), the queue
//! fills, further lines are dropped and counted, and the count is written once the writer
//! catches up. Serving, and stopping on SIGTERM, never depend on stdout being read; a
//! closed stdout only loses the lines.

use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// Lines waiting for the writer at most.
pub const QUEUE_LINES: usize = 1024;
/// How often `flush` looks whether the writer has caught up.
const FLUSH_POLL: Duration = Duration::from_millis(2);

#[derive(Default)]
struct Queue {
    lines: Vec<String>,
    capacity: usize,
    /// Lines refused since the writer last reported.
    dropped: u64,
    /// Lines accepted so far, and lines written (or lost to a failed write) so far.
    accepted: u64,
    written: u64,
}

/// A mutex poisoned by a panic elsewhere still guards a valid queue: logging goes on.
fn lock(queue: &Mutex<Queue>) -> MutexGuard<'_, Queue> {
    queue
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub struct LogOutput {
    queue: Arc<Mutex<Queue>>,
    writer: Thread,
}

impl LogOutput {
    /// Starts the writer thread on stdout.
    pub fn to_stdout() -> std::io::Result<LogOutput> {
        LogOutput::start(std::io::stdout(), QUEUE_LINES)
    }

    pub fn start(out: impl Write + Send + 'static, capacity: usize) -> std::io::Result<LogOutput> {
        let queue = Arc::new(Mutex::new(Queue {
            capacity,
            ..Queue::default()
        }));
        let shared = Arc::clone(&queue);
        let writer = thread::Builder::new()
            .name("log-writer".into())
            .stack_size(64 * 1024)
            .spawn(move || write_lines(out, &shared))?;
        Ok(LogOutput {
            queue,
            writer: writer.thread().clone(),
        })
    }

    /// Queues one line (with its newline); drops it if the queue is full. Never waits for
    /// stdout: the writer holds the lock only to take what is queued, never while writing.
    pub fn line(&self, line: String) {
        let mut queue = lock(&self.queue);
        if queue.lines.len() == queue.capacity {
            queue.dropped += 1;
            return;
        }
        queue.lines.push(line);
        queue.accepted += 1;
        drop(queue);
        self.writer.unpark();
    }

    /// Waits, at most `limit`, until every line queued so far has been written; false if
    /// stdout did not take them in time.
    pub fn flush(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let target = lock(&self.queue).accepted;
        while lock(&self.queue).written < target {
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(FLUSH_POLL);
        }
        true
    }
}

fn write_lines(mut out: impl Write, queue: &Mutex<Queue>) {
    let mut batch = String::new();
    loop {
        let (lines, lost) = {
            let mut queue = lock(queue);
            (
                std::mem::take(&mut queue.lines),
                std::mem::take(&mut queue.dropped),
            )
        };
        if lines.is_empty() && lost == 0 {
            // `line` unparks us; a wake-up with nothing queued just looks again.
            thread::park();
            continue;
        }
        let count = lines.len() as u64;
        for line in lines {
            batch.push_str(&line);
        }
        if lost > 0 {
            batch.push_str(&crate::report::line(&format!(
                "micro-service: {lost} log lines dropped: stdout did not keep up"
            )));
        }
        // A failed write (stdout closed) loses these lines; nothing else can be done.
        let _ = out.write_all(batch.as_bytes()).and_then(|()| out.flush());
        batch.clear();
        lock(queue).written += count;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Condvar, Mutex};

    /// A writer that blocks until released, like stdout into a pipe nobody reads.
    #[derive(Clone, Default)]
    struct Stalled {
        written: Arc<Mutex<Vec<u8>>>,
        open: Arc<(Mutex<bool>, Condvar)>,
    }

    impl Stalled {
        fn release(&self) {
            *self.open.0.lock().unwrap() = true;
            self.open.1.notify_all();
        }

        fn text(&self) -> String {
            String::from_utf8(self.written.lock().unwrap().clone()).unwrap()
        }
    }

    impl Write for Stalled {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let (lock, cvar) = &*self.open;
            let _open = cvar
                .wait_while(lock.lock().unwrap(), |open| !*open)
                .unwrap();
            self.written.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stalled_writer_never_blocks_the_callers_and_drops_are_reported() {
        let out = Stalled::default();
        let log = LogOutput::start(out.clone(), 4).unwrap();
        // The writer takes what is queued (4 at most) and blocks writing it; 4 more fill
        // the queue; the rest are dropped.
        for i in 0..20 {
            log.line(format!("line {i}\n"));
        }
        assert!(!log.flush(Duration::from_millis(50)), "stdout is stalled");
        out.release();
        assert!(log.flush(Duration::from_secs(10)));
        let text = out.text();
        assert!(text.starts_with("line 0\n"), "{text}");
        let kept = text.lines().filter(|l| l.starts_with("line ")).count();
        // Drops may be reported in more than one notice (before and after the stall).
        let dropped: usize = text
            .lines()
            .filter(|l| l.contains("log lines dropped"))
            .map(|l| l.split(' ').nth(1).unwrap().parse::<usize>().unwrap())
            .sum();
        assert_eq!(kept + dropped, 20, "{text}");
        // The batch the stalled write holds, and a full queue behind it: 2 x 4 lines.
        assert!(kept <= 8, "{text}");
    }

    #[test]
    fn lines_that_all_fit_are_written_in_order_without_a_notice() {
        let out = Stalled::default();
        out.release();
        let log = LogOutput::start(out.clone(), 4).unwrap();
        for i in 0..3 {
            log.line(format!("line {i}\n"));
            assert!(log.flush(Duration::from_secs(10)));
        }
        assert_eq!(out.text(), "line 0\nline 1\nline 2\n");
    }

    /// CPU time, in clock ticks, of this process's thread named `name`.
    fn thread_ticks(name: &str) -> u64 {
        let task = std::fs::read_dir("/proc/self/task")
            .unwrap()
            .map(|t| t.unwrap().path())
            .find(|t| std::fs::read_to_string(t.join("comm")).unwrap().trim() == name)
            .expect("the thread exists");
        let stat = std::fs::read_to_string(task.join("stat")).unwrap();
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    }

    #[test]
    fn an_idle_writer_sleeps() {
        let out = Stalled::default();
        out.release();
        let log = LogOutput::start(out, 4).unwrap();
        log.line("one\n".into());
        assert!(log.flush(Duration::from_secs(10)));
        let before = thread_ticks("log-writer");
        thread::sleep(Duration::from_millis(300));
        let used = thread_ticks("log-writer") - before;
        assert!(
            used <= 3,
            "the idle writer used {used} ticks in 0.3 s: it spins"
        );
    }

    #[test]
    fn a_failing_writer_loses_lines_quietly() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let log = LogOutput::start(Closed, 4).unwrap();
        log.line("lost\n".into());
        assert!(
            log.flush(Duration::from_secs(10)),
            "the writer is still alive"
        );
    }
}
