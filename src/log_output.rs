//! The one writer of stdout while serving. Workers hand it whole lines through a bounded
//! queue and never wait: when stdout is slow or stalled (a stuck log shipper), the queue
//! fills, further lines are dropped and counted, and the count is written once the writer
//! catches up. Serving, and stopping on SIGTERM, never depend on stdout being read; a
//! closed stdout only loses the lines.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::thread;
use std::time::{Duration, Instant};

/// Lines waiting for the writer at most.
pub const QUEUE_LINES: usize = 1024;
/// Lines the writer gathers into one write.
const BATCH_LINES: usize = 64;

enum Message {
    Line(String),
    /// Answered once every line before it has been written.
    Flush(SyncSender<()>),
}

pub struct LogOutput {
    queue: SyncSender<Message>,
    dropped: Arc<AtomicU64>,
}

impl LogOutput {
    /// Starts the writer thread on stdout.
    pub fn to_stdout() -> std::io::Result<LogOutput> {
        LogOutput::start(std::io::stdout(), QUEUE_LINES)
    }

    pub fn start(out: impl Write + Send + 'static, capacity: usize) -> std::io::Result<LogOutput> {
        let (queue, lines) = mpsc::sync_channel(capacity);
        let dropped = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&dropped);
        thread::Builder::new()
            .name("log-writer".into())
            .stack_size(64 * 1024)
            .spawn(move || write_lines(out, lines, &counter))?;
        Ok(LogOutput { queue, dropped })
    }

    /// Queues one line (with its newline); drops it if the queue is full. Never blocks.
    pub fn line(&self, line: String) {
        if let Err(TrySendError::Full(_)) = self.queue.try_send(Message::Line(line)) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Waits, at most `limit`, until every line queued so far has been written; false if
    /// stdout did not take them in time.
    pub fn flush(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let (ack, acked) = mpsc::sync_channel(1);
        let mut message = Message::Flush(ack);
        loop {
            match self.queue.try_send(message) {
                Ok(()) => break,
                Err(TrySendError::Full(m)) if Instant::now() < deadline => {
                    message = m;
                    thread::sleep(Duration::from_millis(5));
                }
                Err(_) => return false,
            }
        }
        acked
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .is_ok()
    }
}

fn write_lines(mut out: impl Write, lines: Receiver<Message>, dropped: &AtomicU64) {
    let mut batch = String::new();
    while let Ok(first) = lines.recv() {
        let mut flushes = Vec::new();
        let mut next = Some(first);
        let mut count = 0;
        while let Some(message) = next.take() {
            match message {
                Message::Line(line) => batch.push_str(&line),
                Message::Flush(ack) => flushes.push(ack),
            }
            count += 1;
            if count < BATCH_LINES {
                next = lines.try_recv().ok();
            }
        }
        // A failed write (stdout closed) loses these lines; nothing else can be done.
        let _ = out.write_all(batch.as_bytes()).and_then(|()| out.flush());
        batch.clear();
        let lost = dropped.swap(0, Ordering::Relaxed);
        if lost > 0 {
            let notice =
                format!("micro-service: {lost} log lines dropped: stdout did not keep up\n");
            let _ = out.write_all(notice.as_bytes()).and_then(|()| out.flush());
        }
        for ack in flushes {
            let _ = ack.send(());
        }
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
        // The writer takes the first line and blocks in write; 4 more fill the queue.
        for i in 0..20 {
            log.line(format!("line {i}\n"));
        }
        assert!(!log.flush(Duration::from_millis(50)), "stdout is stalled");
        out.release();
        assert!(log.flush(Duration::from_secs(10)));
        let text = out.text();
        assert!(text.starts_with("line 0\n"), "{text}");
        let kept = text.lines().filter(|l| l.starts_with("line ")).count();
        let notice = text
            .lines()
            .find(|l| l.contains("log lines dropped"))
            .expect("the drop count is reported");
        let dropped: usize = notice.split(' ').nth(1).unwrap().parse().unwrap();
        assert_eq!(kept + dropped, 20, "{text}");
        assert!(dropped >= 14, "at most 1 + 4 + 1 lines fit: {text}");
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
