//! micro-service: a tiny HTTP/1.1 service. Configuration in, server out; see `--help`.

mod access_log;
mod clock;
mod config;
mod connection;
mod epoll;
mod event_loop;
mod healthcheck;
mod http;
mod input;
mod routes;
mod server;
mod signals;
mod socket;

use config::{Command, Config};
use std::process::ExitCode;

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

fn serve(config: Config) -> ExitCode {
    // Before any thread exists, so that every thread inherits the blocked signals.
    signals::block_termination();
    let listener = match server::bind(&config) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("micro-service: cannot listen on port {}: {e}", config.port);
            return ExitCode::FAILURE;
        }
    };
    let grace = config.shutdown_timeout;
    let started = server::Server::new(listener, config)
        .and_then(|server| Ok((server.local_addr()?, server.stopper()?, server)));
    let (addr, stopper, server) = match started {
        Ok(started) => started,
        Err(e) => {
            eprintln!("micro-service: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("micro-service {} listening on {addr}", server::version());
    signals::on_termination(move |signal| {
        println!("received {signal}: finishing requests in flight (grace {grace:?})");
        stopper.stop();
    });
    match server.run() {
        Ok(true) => println!("shutdown complete"),
        Ok(false) => println!("shutdown grace period over: closing connections still in progress"),
        Err(e) => {
            eprintln!("micro-service: cannot start the workers: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
