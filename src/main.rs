//! micro-service: a tiny HTTP/1.1 service. Configuration in, server out; see `--help`.

mod access_log;
mod config;
mod connection;
mod healthcheck;
mod http;
mod input;
mod pool;
mod routes;
mod server;
mod signals;
mod slots;

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
    let server = server::Server::new(listener, config);
    let (addr, stopper) = match (server.local_addr(), server.stopper()) {
        (Ok(addr), Ok(stopper)) => (addr, stopper),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("micro-service: cannot read the listening address: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("micro-service {} listening on {addr}", server::version());
    signals::on_termination(move |signal| {
        println!("received {signal}: finishing requests in flight (grace {grace:?})");
        stopper.stop();
    });
    if server.run() {
        println!("shutdown complete");
    } else {
        println!("shutdown grace period over: closing connections still in progress");
    }
    ExitCode::SUCCESS
}
