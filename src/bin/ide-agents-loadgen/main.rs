//! Load generator for MCP servers speaking newline-delimited JSON-RPC 2.0, over a Unix
//! socket or a child's stdio; plus a bare echo server as the performance ceiling, and plain
//! HTTP/1.1 requests to compare the daemon with the backend endpoint it calls.

mod connection;
mod echo;
mod http;
mod run;
mod scenario;
mod soak;
mod stats;
mod transport;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgGroup, Args, CommandFactory, Parser, Subcommand, error::ErrorKind};
use serde_json::Value;

use crate::connection::Plan;
use crate::http::{HttpPlan, Method};
use crate::run::LoadConfig;
use crate::scenario::{RequestSpec, Scenario};
use crate::transport::Target;

#[derive(Parser)]
#[command(
    name = "ide-agents-loadgen",
    version,
    about = "Load generator for MCP servers on a Unix socket or a stdio command, and the bare echo server that is their ceiling"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Send pipelined requests over N connections and report throughput and latency.
    Run(RunArgs),
    /// Bare newline-JSON echo server on a Unix socket (the ceiling to compare against).
    EchoServer(EchoArgs),
    /// A fixed number of mixed requests over connections that come and go, with calls
    /// cancelled mid-flight and connections dropped mid-call; every answer is checked.
    Soak(SoakArgs),
    /// Keep-alive HTTP/1.1 requests to a URL (e.g. the backend endpoint behind a tool);
    /// every response must be 2xx. A window above 1 pipelines requests.
    Http(HttpArgs),
}

/// How much load, for how long, and how the result is printed.
#[derive(Args)]
struct LoadArgs {
    #[arg(long, default_value_t = 1, value_parser = at_least_one)]
    connections: usize,
    /// Requests in flight per connection (pipelined).
    #[arg(long, default_value_t = 1, value_parser = at_least_one)]
    window: usize,
    /// Seconds of measured load.
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = seconds)]
    duration: Duration,
    /// Stop after this many measured requests in total (or at --duration, if sooner).
    #[arg(long, value_name = "N")]
    max_requests: Option<u64>,
    /// Seconds of load before measuring starts (verified, not counted).
    #[arg(long, value_name = "SECS", default_value = "0.5", value_parser = seconds)]
    warmup: Duration,
    /// Client threads, each with its own runtime; connections are spread over them.
    #[arg(long, default_value_t = 1, value_parser = at_least_one)]
    threads: usize,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
#[command(group(ArgGroup::new("target").required(true).args(["socket", "stdio"])))]
struct RunArgs {
    /// Unix socket of the server under test.
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Server command to spawn, one child per connection (split on whitespace, no shell).
    #[arg(long, value_name = "CMD")]
    stdio: Option<String>,
    #[arg(long, value_enum)]
    scenario: Scenario,
    /// Tool for tools-call.
    #[arg(long, value_name = "NAME", default_value = "ide_agents_healthz")]
    tool: String,
    /// Tool arguments for tools-call, a JSON object.
    #[arg(long, value_name = "JSON", default_value = "{}", value_parser = json_object)]
    args: Value,
    /// Resource URI for resources-read.
    #[arg(long)]
    uri: Option<String>,
    /// Skip the initialize handshake; send protocol version and capabilities in every
    /// request's `_meta` instead.
    #[arg(long)]
    modern: bool,
    #[command(flatten)]
    load: LoadArgs,
}

#[derive(Args)]
struct SoakArgs {
    /// Unix socket of the daemon under test.
    #[arg(long, value_name = "PATH")]
    socket: PathBuf,
    #[arg(long, default_value_t = 32, value_parser = at_least_one)]
    connections: usize,
    /// Requests answered in all (cancelled and dropped ones come on top).
    #[arg(long, default_value_t = 1_000_000)]
    requests: u64,
    /// Requests sent at once per round.
    #[arg(long, default_value_t = 8, value_parser = at_least_one)]
    window: usize,
    /// Rounds before a connection is closed and opened again.
    #[arg(long, default_value_t = 50)]
    rounds_per_connection: u64,
    /// Every Nth round also sends the slow tool and cancels it at once (0: never).
    #[arg(long, default_value_t = 10)]
    cancel_every: u64,
    /// Every Nth connection is dropped with a slow call unanswered (0: never).
    #[arg(long, default_value_t = 4)]
    drop_every: u64,
    /// A resource read in the mix (else prompts/list).
    #[arg(long)]
    uri: Option<String>,
    /// A tool that reaches the backend, answered every round.
    #[arg(long, default_value = "ide_agents_list_entities")]
    backend_tool: String,
    /// A slow tool to cancel, and its arguments.
    #[arg(long, default_value = "ide_agents_fetch_doc")]
    slow_tool: String,
    #[arg(long, value_name = "JSON", default_value = r#"{"topic":"getting-started"}"#, value_parser = json_object)]
    slow_args: Value,
}

#[derive(Args)]
struct EchoArgs {
    #[arg(long, value_name = "PATH")]
    socket: PathBuf,
    /// Worker threads [default: number of CPUs].
    #[arg(long, value_parser = at_least_one)]
    threads: Option<usize>,
}

#[derive(Args)]
struct HttpArgs {
    /// http://HOST:PORT/PATH?QUERY (plain HTTP; no TLS, no redirects).
    #[arg(long)]
    url: String,
    #[arg(long, value_enum, default_value = "get")]
    method: Method,
    /// Request body for --method post, sent as application/json.
    #[arg(long, value_name = "TEXT")]
    body: Option<String>,
    #[command(flatten)]
    load: LoadArgs,
}

fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("expected a whole number ≥ 1".into()),
    }
}

fn seconds(s: &str) -> Result<Duration, String> {
    s.parse::<f64>()
        .ok()
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .ok_or_else(|| "expected a non-negative number of seconds".into())
}

fn json_object(s: &str) -> Result<Value, String> {
    match serde_json::from_str(s) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err("expected a JSON object".into()),
        Err(e) => Err(format!("invalid JSON: {e}")),
    }
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    match Cli::parse().command {
        Command::Run(args) => {
            let (plan, load) = mcp_plan(args);
            run::run(plan, &load)
        }
        Command::Soak(args) => soak(args),
        Command::Http(args) => {
            let (plan, load) = http_plan(args);
            run::run(plan, &load)
        }
        Command::EchoServer(args) => {
            let threads = args.threads.unwrap_or_else(|| {
                std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
            });
            match echo::serve(&args.socket, threads) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// Prints the soak's counts as one JSON object; fails if any answer was wrong.
fn soak(args: SoakArgs) -> ExitCode {
    let plan = soak::SoakPlan {
        socket: args.socket,
        connections: args.connections,
        requests: args.requests,
        window: args.window,
        rounds_per_connection: args.rounds_per_connection.max(1),
        cancel_every: args.cancel_every,
        drop_every: args.drop_every,
        resource_uri: args.uri,
        backend_tool: args.backend_tool,
        slow_tool: args.slow_tool,
        slow_args: args.slow_args,
    };
    match soak::run(plan) {
        Ok(report) => {
            println!("{report}");
            if report["errors"] == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage_error(msg: &str) -> ! {
    Cli::command().error(ErrorKind::ValueValidation, msg).exit()
}

/// Checks what clap cannot express in the shared load options.
fn load_config(args: LoadArgs) -> LoadConfig {
    if args.duration.is_zero() {
        usage_error("--duration must be greater than 0");
    }
    LoadConfig {
        connections: args.connections,
        window: args.window,
        duration: args.duration,
        warmup: args.warmup,
        max_requests: args.max_requests,
        threads: args.threads,
        json: args.json,
    }
}

fn http_plan(args: HttpArgs) -> (HttpPlan, LoadConfig) {
    if args.body.is_some() && args.method != Method::Post {
        usage_error("--body needs --method post");
    }
    let load = load_config(args.load);
    match HttpPlan::new(
        &args.url,
        args.method,
        args.body.as_deref(),
        load.window,
        load.max_requests,
    ) {
        Ok(plan) => (plan, load),
        Err(e) => usage_error(&format!("--url {e}")),
    }
}

/// Checks what clap cannot express and builds the run's plan.
fn mcp_plan(args: RunArgs) -> (Plan, LoadConfig) {
    let target = match (args.socket, args.stdio) {
        (Some(path), _) => Target::Socket(path),
        (None, Some(cmd)) => {
            let argv: Vec<String> = cmd.split_whitespace().map(str::to_owned).collect();
            if argv.is_empty() {
                usage_error("--stdio needs a command");
            }
            Target::Stdio(argv)
        }
        (None, None) => usage_error("one of --socket or --stdio is required"),
    };
    if args.scenario == Scenario::ResourcesRead && args.uri.is_none() {
        usage_error("--scenario resources-read needs --uri");
    }
    let spec = RequestSpec {
        scenario: args.scenario,
        tool: args.tool,
        args: args.args,
        uri: args.uri,
        modern: args.modern,
    };
    let load = load_config(args.load);
    let plan = Plan::new(target, &spec, load.window, load.max_requests);
    (plan, load)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_run_defaults() {
        let cli = Cli::try_parse_from([
            "ide-agents-loadgen",
            "run",
            "--socket",
            "/tmp/s",
            "--scenario",
            "tools-call",
        ])
        .unwrap();
        let Command::Run(args) = cli.command else {
            panic!("expected run");
        };
        assert_eq!(args.load.connections, 1);
        assert_eq!(args.load.window, 1);
        assert_eq!(args.load.duration, Duration::from_secs(5));
        assert_eq!(args.load.warmup, Duration::from_millis(500));
        assert_eq!(args.tool, "ide_agents_healthz");
        assert_eq!(args.args, serde_json::json!({}));
    }

    #[test]
    fn rejects_bad_values() {
        let base = ["ide-agents-loadgen", "run", "--scenario", "ping"];
        let parse = |extra: &[&str]| Cli::try_parse_from(base.iter().chain(extra)).is_ok();
        assert!(!parse(&[]), "a target is required");
        assert!(!parse(&["--socket", "a", "--stdio", "b"]));
        assert!(!parse(&["--socket", "a", "--window", "0"]));
        assert!(!parse(&["--socket", "a", "--duration", "-1"]));
        assert!(!parse(&["--socket", "a", "--args", "[1]"]));
        assert!(parse(&["--stdio", "srv --flag", "--duration", "0.25"]));
    }

    #[test]
    fn parses_http() {
        let cli = Cli::try_parse_from([
            "ide-agents-loadgen",
            "http",
            "--url",
            "http://127.0.0.1:1/entities/mappings",
            "--connections",
            "4",
            "--json",
        ])
        .unwrap();
        let Command::Http(args) = cli.command else {
            panic!("expected http");
        };
        assert_eq!(args.method, Method::Get);
        assert_eq!(args.load.connections, 4);
        assert!(args.load.json);
        assert!(Cli::try_parse_from(["ide-agents-loadgen", "http"]).is_err());
    }
}
