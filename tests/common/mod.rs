//! Runs the real binary on an ephemeral loopback port and speaks raw HTTP to it.
#![allow(dead_code)] // each test file uses a different part of this kit

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_micro-service");

/// What `Service` starts: cargo's build, or MICRO_SERVICE_BIN (another build, such as the
/// arm64 one) run by MICRO_SERVICE_RUNNER if set (such as qemu-aarch64-static).
fn service_argv() -> Vec<OsString> {
    let bin = std::env::var_os("MICRO_SERVICE_BIN").unwrap_or_else(|| BIN.into());
    let runner = std::env::var_os("MICRO_SERVICE_RUNNER").filter(|r| !r.is_empty());
    runner.into_iter().chain([bin]).collect()
}

/// A command that starts the binary under test, through the runner if there is one.
pub fn service_command() -> Command {
    let argv = service_argv();
    let mut command = Command::new(&argv[0]);
    command.args(&argv[1..]);
    command
}

/// Generous: a loaded CI machine must not turn into a flaky test.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Service {
    child: Child,
    /// Everything the service wrote to stderr so far (also echoed to ours).
    stderr: Arc<Mutex<String>>,
    /// The thread collecting stderr: joined once the process has exited, so that
    /// nothing it wrote last is still in transit.
    stderr_reader: Option<thread::JoinHandle<()>>,
    pub addr: SocketAddr,
    /// stdout lines after the startup line (access log, shutdown messages).
    pub lines: Receiver<String>,
}

impl Service {
    /// Starts the service with test-friendly defaults that `env` may override.
    pub fn start(env: &[(&str, &str)]) -> Service {
        Service::spawn(service_command(), env)
    }

    /// Starts cargo's build of the service whatever MICRO_SERVICE_BIN says.
    pub fn start_this_build(env: &[(&str, &str)]) -> Service {
        Service::spawn(Command::new(BIN), env)
    }

    /// Starts the service allowed only `limit` open file descriptors.
    pub fn start_with_fd_limit(env: &[(&str, &str)], limit: u32) -> Service {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("ulimit -n {limit} && exec \"$@\""))
            .arg("sh")
            .args(service_argv());
        Service::spawn(command, env)
    }

    /// Starts the service with stdout a pipe that is read for the startup line and then
    /// not at all, as with a stuck log shipper, until the caller reads or drops it.
    pub fn start_with_stdout_unread(env: &[(&str, &str)]) -> (Service, ChildStdout) {
        let (child, mut stdout) = Service::spawn_child(service_command(), env);
        // Byte by byte: a buffered reader would take lines the test means to leave unread.
        let mut first = Vec::new();
        let mut byte = [0u8; 1];
        while byte[0] != b'\n' {
            stdout
                .read_exact(&mut byte)
                .expect("the service prints its address when it listens");
            first.push(byte[0]);
        }
        let (_, lines) = mpsc::channel();
        let service = Service::with_startup_line(child, &String::from_utf8_lossy(&first), lines);
        (service, stdout)
    }

    fn spawn(command: Command, env: &[(&str, &str)]) -> Service {
        let (child, stdout) = Service::spawn_child(command, env);
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = lines
            .recv_timeout(IO_TIMEOUT)
            .expect("the service prints its address when it listens");
        Service::with_startup_line(child, &first, lines)
    }

    /// The process with its stderr collected, and its stdout.
    fn spawn_child(mut command: Command, env: &[(&str, &str)]) -> (Child, ChildStdout) {
        command
            .env_clear()
            .envs([
                ("PORT", "0"),
                ("BIND", "127.0.0.1"),
                ("ACCESS_LOG", "off"),
                ("HEALTH_FAILURE_RATE", "0"),
            ])
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("spawn micro-service");
        let stdout = child.stdout.take().expect("piped stdout");
        (child, stdout)
    }

    fn with_startup_line(mut child: Child, first: &str, lines: Receiver<String>) -> Service {
        let stderr = Arc::new(Mutex::new(String::new()));
        let (collected, pipe) = (Arc::clone(&stderr), child.stderr.take().unwrap());
        let stderr_reader = thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                eprintln!("{line}");
                let mut text = collected.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        // With ACCESS_LOG=json the startup line is a JSON object holding the same text.
        let text = if first.starts_with('{') {
            let line: serde_json::Value = serde_json::from_str(first)
                .unwrap_or_else(|e| panic!("startup line {first:?} is not JSON: {e}"));
            line["message"].as_str().unwrap_or_default().to_string()
        } else {
            first.to_string()
        };
        let addr = text
            .trim_end()
            .rsplit(' ')
            .next()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected startup line {first:?}"));
        Service {
            child,
            stderr,
            stderr_reader: Some(stderr_reader),
            addr,
            lines,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// How many established TCP connections the service holds: one for each connection
    /// it has accepted and not yet closed (its sockets, by inode, in /proc/net/tcp*).
    pub fn established_connections(&self) -> usize {
        let pid = self.child.id();
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            return 0;
        };
        let sockets: Vec<String> = fds
            .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
            .filter_map(|target| {
                let target = target.to_string_lossy();
                Some(
                    target
                        .strip_prefix("socket:[")?
                        .strip_suffix(']')?
                        .to_string(),
                )
            })
            .collect();
        ["tcp", "tcp6"]
            .iter()
            .filter_map(|file| std::fs::read_to_string(format!("/proc/{pid}/net/{file}")).ok())
            .flat_map(|table| {
                table
                    .lines()
                    .skip(1)
                    .map(|line| line.split_whitespace().map(str::to_string).collect())
                    .collect::<Vec<Vec<String>>>()
            })
            // Field 3 is the state (01: established), field 9 the socket's inode.
            .filter(|fields| fields.len() > 9 && fields[3] == "01" && sockets.contains(&fields[9]))
            .count()
    }

    /// What the service wrote to stderr; all of it once the process has exited.
    pub fn stderr_text(&mut self) -> String {
        if self.child.try_wait().is_ok_and(|s| s.is_some()) {
            if let Some(reader) = self.stderr_reader.take() {
                reader.join().unwrap();
            }
        }
        self.stderr.lock().unwrap().clone()
    }

    pub fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(self.addr).expect("connect");
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        stream
    }

    /// Sends `raw` on a fresh connection and reads one reply.
    pub fn exchange(&self, raw: &[u8]) -> Reply {
        let mut client = Client::new(self.connect());
        client.send(raw);
        client.reply()
    }

    pub fn get(&self, path: &str) -> Reply {
        self.exchange(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes())
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args(["-s", signal, &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Waits for the process to exit, up to `limit`; returns its status and how long it took.
    pub fn wait_exit(&mut self, limit: Duration) -> (ExitStatus, Duration) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return (status, start.elapsed());
            }
            assert!(
                start.elapsed() < limit,
                "the service did not exit within {limit:?}"
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `condition` holds, checking every 10 ms, at most IO_TIMEOUT:
/// the test states what it waits for, not a time a loaded machine may exceed.
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(
            start.elapsed() < IO_TIMEOUT,
            "not within {IO_TIMEOUT:?}: {what}"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

/// One connection, read through a buffer so that pipelined replies can be split.
pub struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    pub fn new(stream: TcpStream) -> Client {
        Client {
            reader: BufReader::new(stream),
        }
    }

    pub fn stream(&self) -> &TcpStream {
        self.reader.get_ref()
    }

    pub fn send(&mut self, raw: &[u8]) {
        self.reader.get_mut().write_all(raw).expect("send");
    }

    /// Reads one reply; an error if the connection ends (or fails) before a whole one.
    pub fn try_reply(&mut self) -> std::io::Result<Reply> {
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut line = Vec::new();
            if self.reader.read_until(b'\n', &mut line)? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            head.extend_from_slice(&line);
        }
        let text = String::from_utf8_lossy(&head);
        let mut lines = text.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .ok_or(std::io::ErrorKind::InvalidData)?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(": "))
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        let mut reply = Reply {
            status,
            headers,
            body: Vec::new(),
        };
        let len: usize = reply
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        reply.body.resize(len, 0);
        self.reader.read_exact(&mut reply.body)?;
        Ok(reply)
    }

    /// Reads one reply, its body framed by Content-Length.
    pub fn reply(&mut self) -> Reply {
        self.read_reply(false)
    }

    /// Reads the reply to a HEAD request: Content-Length describes a body that is not sent.
    pub fn head_reply(&mut self) -> Reply {
        self.read_reply(true)
    }

    fn read_reply(&mut self, head_only: bool) -> Reply {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("read status line");
        assert!(line.ends_with("\r\n"), "truncated status line {line:?}");
        let mut parts = line.trim_end().splitn(3, ' ');
        assert_eq!(parts.next(), Some("HTTP/1.1"), "status line {line:?}");
        let status = parts
            .next()
            .and_then(|s| s.parse().ok())
            .expect("status code");
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).expect("read header");
            assert!(line.ends_with("\r\n"), "truncated header {line:?}");
            if line == "\r\n" {
                break;
            }
            let (name, value) = line.trim_end().split_once(": ").expect("header syntax");
            headers.push((name.to_string(), value.to_string()));
        }
        let mut reply = Reply {
            status,
            headers,
            body: Vec::new(),
        };
        if status >= 200 && !head_only {
            let len: usize = reply
                .header("content-length")
                .expect("every final reply has a Content-Length")
                .parse()
                .expect("numeric Content-Length");
            reply.body.resize(len, 0);
            self.reader.read_exact(&mut reply.body).expect("read body");
        }
        reply
    }

    /// Reads and drops everything until the server closes; false if it does not close
    /// within the read timeout.
    pub fn drain_until_closed(&mut self) -> bool {
        let mut sink = Vec::new();
        match self.reader.read_to_end(&mut sink) {
            Ok(_) => true,
            Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    }

    /// True once the server has closed the connection with a FIN and nothing more to
    /// say; a reset is not a clean close (a proxy turns it into a 502).
    pub fn is_closed_by_server(&mut self) -> bool {
        let mut rest = Vec::new();
        match self.reader.read_to_end(&mut rest) {
            Ok(_) => rest.is_empty(),
            Err(_) => false,
        }
    }
}
