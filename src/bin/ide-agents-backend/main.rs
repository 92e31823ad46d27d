//! `ide-agents-backend`: the deterministic reference agents backend that ide-agentsd talks to in
//! integration tests, benchmarks and first tries. HTTP/1.1 + JSON, with switchable faults
//! (`/_control/faults`) and counters (`/_control/stats`) so tests can prove retries, timeouts,
//! the circuit breaker, cancellation and keep-alive.

mod command;
mod control;
mod core_api;
mod faults;
mod ml;
mod reply;
mod stats;

use std::io::Write;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use clap::Parser;

use crate::faults::{FaultConfig, FaultState};
use crate::ml::Outcomes;
use crate::stats::Stats;

/// Deterministic reference agents backend for ide-agentsd (tests, benchmarks, demos).
///
/// Prints exactly one line on stdout once listening: `listening on http://HOST:PORT`.
/// Logs go to stderr (RUST_LOG=info or debug for more; default warn).
#[derive(Parser, Debug)]
#[command(name = "ide-agents-backend", version)]
struct Cli {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on; 0 picks a free one (read it from the stdout line).
    #[arg(long, default_value_t = 8001)]
    port: u16,
    /// HTTP worker threads; 1 by default because tests run many instances on few cores.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    workers: u16,
    /// Faults active from the start (same fields as `POST /_control/faults`).
    #[command(flatten)]
    faults: FaultConfig,
}

/// Shared by all workers through `web::Data` (an `Arc`).
pub struct AppState {
    pub stats: Arc<Stats>,
    pub faults: Mutex<FaultState>,
    pub outcomes: Mutex<Outcomes>,
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    if let Err(e) = cli.faults.validate() {
        eprintln!("ide-agents-backend: invalid fault flags: {e}");
        return ExitCode::from(2);
    }
    match actix_rt::System::new().block_on(serve(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ide-agents-backend: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(cli: Cli) -> Result<(), String> {
    let state = web::Data::new(AppState {
        stats: Arc::new(Stats::default()),
        faults: Mutex::new(FaultState::new(cli.faults)),
        outcomes: Mutex::new(Outcomes::default()),
    });
    let conn_stats = Arc::clone(&state.stats);
    let app_state = state.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(app_state.clone())
            .app_data(reply::json_config())
            .app_data(reply::query_config())
            .app_data(reply::path_config())
            .wrap(from_fn(faults::inject))
            .configure(control::routes)
            .configure(core_api::routes)
            .configure(command::routes)
            .configure(ml::routes)
            .default_service(web::to(reply::not_found))
    })
    .workers(usize::from(cli.workers))
    // Counting accepted connections is how tests prove the daemon reuses keep-alive connections.
    .on_connect(move |_, _| conn_stats.connection_opened())
    // A client that closes its socket must cancel its request (drop the handler), not linger.
    .h1_allow_half_closed(false)
    // Bounded, so a hung request does not hold up SIGTERM for actix's default 30 s.
    .shutdown_timeout(1)
    // Our own handler: actix's adds a fixed 300 ms before exiting, which adds up across tests.
    .disable_signals()
    .bind((cli.host.as_str(), cli.port))
    .map_err(|e| {
        format!(
            "cannot listen on {}:{}: {e} (another backend running? try --port 0)",
            cli.host, cli.port
        )
    })?;
    let addr = server
        .addrs()
        .first()
        .copied()
        .ok_or_else(|| format!("no address to listen on for {}", cli.host))?;
    // The socket is already listening; early connections wait in the backlog until run().
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on http://{addr}")
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("cannot write the listening line to stdout: {e}"))?;
    drop(stdout);
    log::info!("serving on http://{addr}");
    let server = server.run();
    let handle = server.handle();
    actix_rt::spawn(async move {
        shutdown_signal().await;
        // Killing children first lets their requests answer, so the graceful stop is quick.
        command::begin_shutdown();
        handle.stop(true).await;
    });
    let result = server.await.map_err(|e| format!("server error: {e}"));
    command::wait_for_children(Duration::from_millis(500));
    result
}

/// SIGTERM or SIGINT start a graceful stop; `serve` then returns and the process exits 0.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            log::warn!("cannot watch SIGTERM ({e}); only SIGINT stops the server");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => log::info!("SIGTERM: shutting down"),
        _ = tokio::signal::ctrl_c() => log::info!("SIGINT: shutting down"),
    }
}
