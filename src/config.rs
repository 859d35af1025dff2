//! Configuration from the environment (12-factor) and matching command-line flags; a flag
//! wins over its variable. One table drives both the parsing and `--help`.

use crate::access_log::Format;
use crate::routes::FailureRate;
use std::net::IpAddr;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `None`: all interfaces, IPv6 and IPv4 where the host has IPv6, else IPv4 only.
    pub bind: Option<IpAddr>,
    pub port: u16,
    pub workers: usize,
    pub max_connections: usize,
    pub health_failure_rate: FailureRate,
    /// `None`: no access log.
    pub access_log: Option<Format>,
    pub idle_timeout: Duration,
    pub request_timeout: Duration,
    pub shutdown_timeout: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Serve(Config),
    /// GET /ping on the local server; the container's health check (it has no shell).
    Healthcheck(Config),
    Help,
    Version,
}

struct Setting {
    flag: &'static str,
    env: &'static str,
    default: &'static str,
    help: &'static str,
}

const SETTINGS: &[Setting] = &[
    Setting {
        flag: "--port",
        env: "PORT",
        default: "8080",
        help: "TCP port to listen on; 0 picks a free one",
    },
    Setting {
        flag: "--bind",
        env: "BIND",
        default: "",
        help: "IP address to listen on (default: all interfaces)",
    },
    Setting {
        flag: "--workers",
        env: "WORKERS",
        default: "",
        help: "worker threads, each an event loop serving many connections (1-1024) [default: one per CPU]",
    },
    Setting {
        flag: "--max-connections",
        env: "MAX_CONNECTIONS",
        default: "10000",
        help: "connections served at most (all workers together); beyond it the one quiet longest is closed if quiet for 1 s, else new ones get 503 (1-1000000)",
    },
    Setting {
        flag: "--health-failure-rate",
        env: "HEALTH_FAILURE_RATE",
        default: "0.1",
        help: "fraction of /health calls that fail with 500, on purpose (0.0-1.0)",
    },
    Setting {
        flag: "--access-log",
        env: "ACCESS_LOG",
        default: "on",
        help: "one line per request on stdout: on (plain text), json (one JSON object a line) or off",
    },
    Setting {
        flag: "--idle-timeout",
        env: "IDLE_TIMEOUT",
        default: "75",
        help: "seconds an idle keep-alive connection stays open; keep it above the load balancer's idle timeout (ALB: 60)",
    },
    Setting {
        flag: "--request-timeout",
        env: "REQUEST_TIMEOUT",
        default: "10",
        help: "seconds a client has to send a whole request, and to read a response",
    },
    Setting {
        flag: "--shutdown-timeout",
        env: "SHUTDOWN_TIMEOUT",
        default: "5",
        help: "seconds to finish requests in flight after SIGTERM/SIGINT before exiting",
    },
];

pub fn help_text() -> String {
    let mut text = String::from(
        "micro-service: a tiny HTTP/1.1 service.\n\n\
         Routes: GET|HEAD /  -> Hello World!   /ping -> Pong!   /health -> 200, or 500 at the failure rate\n\n\
         Usage:\n  micro-service [OPTIONS]              serve HTTP\n  \
         micro-service healthcheck [OPTIONS]  GET /ping on the local server; exit 0 if it answers Pong!, else 1\n  \
         micro-service --help | --version\n\n\
         Options (each also read from the environment variable shown; a flag wins):\n",
    );
    for s in SETTINGS {
        let default = if s.default.is_empty() {
            String::new()
        } else {
            format!(" [default: {}]", s.default)
        };
        text.push_str(&format!(
            "  {:<24} {:<20} {}{}\n",
            format!("{} <value>", s.flag),
            s.env,
            s.help,
            default
        ));
    }
    text.push_str(
        "\nDurations are seconds and may be fractional (0.5). Invalid configuration exits with status 2.\n",
    );
    text
}

/// Parses the arguments (without the program name) against the environment.
pub fn parse<I, E>(args: I, env: E) -> Result<Command, String>
where
    I: IntoIterator<Item = String>,
    E: Fn(&str) -> Option<String>,
{
    let mut args = args.into_iter().peekable();
    let healthcheck = args.next_if(|a| a == "healthcheck").is_some();
    let mut flags: Vec<Option<String>> = vec![None; SETTINGS.len()];
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            _ => {}
        }
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name.to_string(), Some(value.to_string())),
            None => (arg.clone(), None),
        };
        let index = SETTINGS
            .iter()
            .position(|s| s.flag == name)
            .ok_or_else(|| format!("unknown argument '{arg}' (see --help)"))?;
        let value = match inline {
            Some(v) => v,
            None => args
                .next()
                .ok_or_else(|| format!("{name} needs a value (see --help)"))?,
        };
        flags[index] = Some(value);
    }

    let raw = |flag: &str| -> (String, String) {
        let i = SETTINGS.iter().position(|s| s.flag == flag).expect("known");
        let s = &SETTINGS[i];
        let value = flags[i]
            .clone()
            .or_else(|| env(s.env))
            .unwrap_or_else(|| s.default.to_string());
        (format!("{} / {}", s.flag, s.env), value)
    };

    let config = Config {
        port: setting(raw("--port"), "a port number 0-65535", |v| v.parse().ok())?,
        bind: setting(raw("--bind"), "an IP address", |v| match v {
            "" => Some(None),
            v => v.parse().ok().map(Some),
        })?,
        workers: setting(raw("--workers"), "an integer 1-1024", |v| match v {
            "" => Some(std::thread::available_parallelism().map_or(1, usize::from)),
            v => v.parse().ok().filter(|n| (1..=1024).contains(n)),
        })?,
        max_connections: setting(raw("--max-connections"), "an integer 1-1000000", |v| {
            v.parse().ok().filter(|n| (1..=1_000_000).contains(n))
        })?,
        health_failure_rate: setting(raw("--health-failure-rate"), "a number 0.0-1.0", |v| {
            parse_decimal(v).and_then(FailureRate::from_billionths)
        })?,
        access_log: setting(raw("--access-log"), "on, json or off", |v| {
            match v.to_ascii_lowercase().as_str() {
                "on" | "true" | "1" | "yes" => Some(Some(Format::Plain)),
                "json" => Some(Some(Format::Json)),
                "off" | "false" | "0" | "no" => Some(None),
                _ => None,
            }
        })?,
        idle_timeout: setting(raw("--idle-timeout"), SECONDS, seconds)?,
        request_timeout: setting(raw("--request-timeout"), SECONDS, seconds)?,
        shutdown_timeout: setting(raw("--shutdown-timeout"), SECONDS, seconds)?,
    };
    Ok(if healthcheck {
        Command::Healthcheck(config)
    } else {
        Command::Serve(config)
    })
}

const SECONDS: &str = "seconds, more than 0 and at most 86400";

fn seconds(v: &str) -> Option<Duration> {
    let nanos = parse_decimal(v)?;
    (nanos > 0 && nanos <= 86_400 * 1_000_000_000).then(|| Duration::from_nanos(nanos))
}

/// A non-negative decimal (`2`, `0.5`, `.25`) in billionths; more than nine decimals are
/// refused rather than silently rounded.
fn parse_decimal(v: &str) -> Option<u64> {
    let (whole, fraction) = v.split_once('.').unwrap_or((v, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty())
        || !all_digits(whole)
        || !all_digits(fraction)
        || fraction.len() > 9
    {
        return None;
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let fraction: u64 = format!("{fraction:0<9}").parse().ok()?;
    whole.checked_mul(1_000_000_000)?.checked_add(fraction)
}

fn setting<T>(
    (name, value): (String, String),
    expected: &str,
    convert: impl Fn(&str) -> Option<T>,
) -> Result<T, String> {
    convert(value.trim()).ok_or_else(|| format!("invalid {name} '{value}': expected {expected}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse_with(args: &[&str], env: &[(&str, &str)]) -> Result<Command, String> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse(args.iter().map(|a| a.to_string()), |k| env.get(k).cloned())
    }

    fn serve(args: &[&str], env: &[(&str, &str)]) -> Config {
        match parse_with(args, env) {
            Ok(Command::Serve(c)) => c,
            other => panic!("expected a serve config, got {other:?}"),
        }
    }

    #[test]
    fn defaults_suit_a_service_behind_an_alb() {
        let c = serve(&[], &[]);
        assert_eq!(c.port, 8080);
        assert_eq!(c.bind, None);
        assert!(c.workers >= 1, "one worker per CPU");
        assert_eq!(
            c.health_failure_rate,
            FailureRate::from_billionths(100_000_000).unwrap()
        );
        assert_eq!(c.access_log, Some(Format::Plain), "plain text by default");
        assert!(
            c.idle_timeout > Duration::from_secs(60),
            "must outlive ALB's idle timeout"
        );
        assert_eq!(c.shutdown_timeout, Duration::from_secs(5));
    }

    #[test]
    fn flags_win_over_the_environment() {
        let env = [("PORT", "9000"), ("WORKERS", "8"), ("ACCESS_LOG", "off")];
        let c = serve(&["--port", "9100", "--workers=4"], &env);
        assert_eq!((c.port, c.workers, c.access_log), (9100, 4, None));
        assert_eq!(serve(&[], &env).port, 9000);
    }

    #[test]
    fn reads_every_setting() {
        let c = serve(
            &[
                "--bind=127.0.0.1",
                "--max-connections=7",
                "--health-failure-rate=0",
                "--idle-timeout=0.5",
                "--request-timeout=2",
                "--shutdown-timeout=1.5",
                "--access-log=JSON",
            ],
            &[],
        );
        assert_eq!(c.bind, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(c.max_connections, 7);
        assert_eq!(
            c.health_failure_rate,
            FailureRate::from_billionths(0).unwrap()
        );
        assert_eq!(c.idle_timeout, Duration::from_millis(500));
        assert_eq!(c.request_timeout, Duration::from_secs(2));
        assert_eq!(c.shutdown_timeout, Duration::from_millis(1500));
        assert_eq!(c.access_log, Some(Format::Json));
    }

    #[test]
    fn refuses_invalid_values_with_a_clear_message() {
        for (args, env, needle) in [
            (vec!["--port", "70000"], vec![], "--port / PORT '70000'"),
            (vec![], vec![("WORKERS", "0")], "WORKERS '0'"),
            (vec![], vec![("HEALTH_FAILURE_RATE", "1.5")], "0.0-1.0"),
            (vec![], vec![("HEALTH_FAILURE_RATE", "NaN")], "0.0-1.0"),
            (vec!["--access-log", "maybe"], vec![], "on, json or off"),
            (vec!["--idle-timeout=0"], vec![], "seconds"),
            (vec!["--bind=localhost"], vec![], "an IP address"),
            (vec!["--frobnicate"], vec![], "unknown argument"),
            (vec!["--port"], vec![], "needs a value"),
        ] {
            let err = parse_with(&args, &env).unwrap_err();
            assert!(err.contains(needle), "{err:?} should mention {needle:?}");
        }
    }

    #[test]
    fn parses_decimals_exactly() {
        assert_eq!(parse_decimal("2"), Some(2_000_000_000));
        assert_eq!(parse_decimal("0.1"), Some(100_000_000));
        assert_eq!(parse_decimal(".25"), Some(250_000_000));
        assert_eq!(parse_decimal("1."), Some(1_000_000_000));
        assert_eq!(parse_decimal("0.000000001"), Some(1));
        for bad in [
            "",
            ".",
            "-1",
            "+1",
            "1e3",
            "0.1.2",
            "0.0000000001",
            "inf",
            " 1",
        ] {
            assert_eq!(parse_decimal(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn knows_its_subcommand_and_meta_flags() {
        assert!(matches!(
            parse_with(&["healthcheck", "--port", "1"], &[]),
            Ok(Command::Healthcheck(Config { port: 1, .. }))
        ));
        assert_eq!(parse_with(&["--help"], &[]), Ok(Command::Help));
        assert_eq!(parse_with(&["-V"], &[]), Ok(Command::Version));
        for s in SETTINGS {
            assert!(help_text().contains(s.env) && help_text().contains(s.flag));
        }
    }
}
