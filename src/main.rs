//! micro-service: a tiny HTTP/1.1 service. Configuration in, server out; see `--help`.
// All unsafe code is in `sys`, the one module that talks to the OS through FFI.
#![deny(unsafe_code)]

mod access_log;
mod buffer_pool;
mod clock;
mod config;
mod connection;
mod event_loop;
mod faults;
mod healthcheck;
mod http;
mod input;
mod listen;
mod log_output;
mod report;
mod routes;
mod server;
mod signals;
mod slot_heap;
#[allow(unsafe_code)]
mod sys;
mod transport;
mod workers;

use access_log::Format;
use config::{Command, Config};
use log_output::LogOutput;
use report::report;
use server::Outcome;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

fn main() -> ExitCode {
    let command = match config::parse(std::env::args().skip(1), |k| std::env::var(k).ok()) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("micro-service: {message}");
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Help => print!("{}", config::help_text()),
        Command::Version => println!("micro-service {}", server::version()),
        Command::Healthcheck(config) => return healthcheck(&config),
        Command::Serve(config) => return serve(config),
    }
    ExitCode::SUCCESS
}

fn healthcheck(config: &Config) -> ExitCode {
    match healthcheck::check(config) {
        Ok(message) => {
            println!("healthy: {message}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("unhealthy: {message}");
            ExitCode::FAILURE
        }
    }
}

/// How long the last lines may take to reach stdout at exit; a stalled stdout must not
/// hold the process.
const FINAL_FLUSH: Duration = Duration::from_millis(500);

fn serve(config: Config) -> ExitCode {
    // Before any thread exists, so that every thread inherits the blocked signals.
    signals::block_termination();
    report::set_format(config.access_log.unwrap_or(Format::Plain));
    let log = match LogOutput::to_stdout() {
        Ok(log) => Arc::new(log),
        Err(e) => {
            report(&format!("cannot start the log writer: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let (listener, note) = match server::bind(&config) {
        Ok(bound) => bound,
        Err(e) => {
            report(&format!("cannot listen on port {}: {e}", config.port));
            return ExitCode::FAILURE;
        }
    };
    let grace = config.shutdown_timeout;
    let access_log = config.access_log.is_some().then(|| Arc::clone(&log));
    let started = server::Server::new(listener, config, access_log)
        .and_then(|server| Ok((server.local_addr()?, server)));
    let (addr, server) = match started {
        Ok(started) => started,
        Err(e) => {
            report(&format!("cannot start: {e}"));
            return ExitCode::FAILURE;
        }
    };
    if let Some(note) = note {
        log.line(report::line(&format!("micro-service: {note}")));
    }
    log.line(report::line(&format!(
        "micro-service {} listening on {addr}",
        server::version()
    )));
    let (stopper, on_error) = (server.stopper(), server.stopper());
    let (signal_log, again_log) = (Arc::clone(&log), Arc::clone(&log));
    let watching = signals::on_termination(
        move |signal| {
            signal_log.line(report::line(&format!(
                "received {}: finishing requests in flight (grace {grace:?})",
                signal.name()
            )));
            stopper.stop();
        },
        move |signal| {
            again_log.line(report::line(&format!(
                "received {} again: stopping at once, without finishing requests in flight",
                signal.name()
            )));
            again_log.flush(FINAL_FLUSH);
            std::process::exit(1);
        },
        move |e| {
            report(&format!("cannot wait for SIGTERM: {e}; stopping"));
            on_error.fail();
        },
    );
    if let Err(e) = watching {
        report(&format!("cannot start the signal thread: {e}"));
        return ExitCode::FAILURE;
    }
    let code = match server.run() {
        Ok(Outcome::Drained) => {
            log.line(report::line("shutdown complete"));
            ExitCode::SUCCESS
        }
        Ok(Outcome::GraceOver) => {
            log.line(report::line(
                "shutdown grace period over: closed connections still in progress",
            ));
            ExitCode::SUCCESS
        }
        Ok(Outcome::Failed) => {
            report("stopped: the server could no longer serve (see above)");
            ExitCode::FAILURE
        }
        Err(e) => {
            report(&e.to_string());
            ExitCode::FAILURE
        }
    };
    log.flush(FINAL_FLUSH);
    code
}
