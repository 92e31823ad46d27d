//! The command line: `serve` and the client subcommands.

pub mod approvals;
pub mod call;
pub mod client;
pub mod connect;
pub mod control;
pub mod serve_args;
pub mod status;
pub mod terminal;

use crate::config::{Config, client_socket_path};
use clap::{Args, Parser, Subcommand};
use serve_args::ServeArgs;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "ide-agentsd",
    version,
    about = "One local MCP server per user for IDE agents"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where a client command finds the daemon.
#[derive(Args)]
struct SocketArg {
    /// The daemon's socket [default: $IDE_AGENTS_SOCKET when set and not empty, else
    /// $XDG_RUNTIME_DIR/ide-agents/mcp.sock or /tmp/ide-agents-$UID/mcp.sock].
    #[arg(long)]
    socket: Option<PathBuf>,
}

impl SocketArg {
    fn path(self) -> PathBuf {
        client_socket_path(self.socket)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon in the foreground (what the systemd unit runs).
    Serve(ServeArgs),
    /// Bridge stdin/stdout to the daemon's socket: the command an IDE launches.
    Connect {
        #[command(flatten)]
        socket: SocketArg,
    },
    /// Call one tool and print its structured result as JSON.
    Call {
        /// The tool name, e.g. ide_agents_healthz.
        tool: String,
        /// An argument as key=value, repeatable: the text as written for an argument the tool
        /// types as a string, else parsed as JSON when it is JSON.
        #[arg(long = "arg", value_name = "KEY=VALUE")]
        args: Vec<String>,
        /// All arguments as one JSON object.
        #[arg(long)]
        json: Option<String>,
        #[command(flatten)]
        socket: SocketArg,
    },
    /// List the commands waiting for approval.
    Approvals {
        #[command(flatten)]
        socket: SocketArg,
    },
    /// Allow one run of the command behind an action id.
    Approve {
        action_id: String,
        /// How long the grant stays usable, e.g. 90s, 10m, 2h [default: 10m].
        #[arg(long)]
        ttl: Option<String>,
        #[command(flatten)]
        socket: SocketArg,
    },
    /// Refuse the command behind an action id.
    Deny {
        action_id: String,
        #[command(flatten)]
        socket: SocketArg,
    },
    /// Stop the daemon: it finishes in-flight requests, then exits.
    Stop {
        #[command(flatten)]
        socket: SocketArg,
    },
    /// Reload the daemon (as SIGHUP): every worker clears its caches and re-reads its files.
    Reload {
        #[command(flatten)]
        socket: SocketArg,
    },
    /// Show the daemon's state: connections, requests, tools, telemetry, components.
    /// Exit 3 when it is not reachable, 4 when it is degraded.
    Status {
        /// Print one JSON object instead of the table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        socket: SocketArg,
    },
}

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    // `serve` holds its stop and reload signals back from its first instant, before the
    // parsing of its many flags (see `daemon::signals`); other commands keep Ctrl-C.
    if std::env::args_os().nth(1).is_some_and(|a| a == "serve") {
        crate::daemon::signals::hold();
    }
    let cli = Cli::parse();
    // Every command that talks to the daemon but the bridge (which waits as long as the
    // IDE does) bounds its wait by this setting.
    if !matches!(cli.command, Command::Serve(_) | Command::Connect { .. })
        && let Err(e) = client::timeout_setting()
    {
        eprintln!("{e}");
        return client::EXIT_USAGE;
    }
    match cli.command {
        Command::Serve(args) => serve(&args),
        Command::Connect { socket } => connect::run(&socket.path()),
        Command::Call {
            tool,
            args,
            json,
            socket,
        } => call::run(&socket.path(), &tool, json.as_deref(), &args),
        Command::Approvals { socket } => approvals::run(&socket.path(), approvals::Action::List),
        Command::Approve {
            action_id,
            ttl,
            socket,
        } => approvals::run(
            &socket.path(),
            approvals::Action::Approve {
                id: &action_id,
                ttl: ttl.as_deref(),
            },
        ),
        Command::Deny { action_id, socket } => {
            approvals::run(&socket.path(), approvals::Action::Deny { id: &action_id })
        }
        Command::Stop { socket } => control::stop(&socket.path()),
        Command::Reload { socket } => control::reload(&socket.path()),
        Command::Status { json, socket } => status::run(&socket.path(), json),
    }
}

fn serve(args: &ServeArgs) -> i32 {
    init_logging();
    let config = match Config::from_process(&args.values) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ide-agentsd: {e}");
            return 1;
        }
    };
    match crate::daemon::serve::run(config) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("ide-agentsd: {e}");
            1
        }
    }
}

/// Logs to stderr (journald picks them up); `info` unless RUST_LOG says otherwise. A
/// serving daemon's warnings also go to its IDEs (`daemon::log_relay`).
fn init_logging() {
    let env = env_logger::Env::default().default_filter_or("info");
    let logger = env_logger::Builder::from_env(env)
        .format_timestamp_millis()
        .build();
    crate::daemon::log_relay::install(logger);
}
