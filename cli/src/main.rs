//! `strata`: Strata's command line. Subcommands:
//!
//! - `strata serve [--dir DIR | --in-memory] [--port 8000] [--host 127.0.0.1]`: serves a
//!   database over DynamoDB's protocol until SIGINT or SIGTERM, then stops accepting,
//!   finishes the requests in flight and closes the database. `--auth FILE` verifies
//!   SigV4 signatures against the keys in FILE.
//! - `strata bench WORKLOADS [options]`: db_bench-like workloads on the tree and the
//!   item API (module `bench`, `docs/cli.md`).
//! - `strata demo [DIR]`: a guided tour of a table with indexes and capacity (module
//!   `demo`).

mod bench;
mod demo;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use strata_engine::{Db, DbOptions};
use strata_server::{Server, ServerConfig};

#[derive(Debug, Parser)]
#[command(
    name = "strata",
    version,
    about = "Strata: DynamoDB's data model on an LSM tree"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve a database over DynamoDB's HTTP/JSON protocol.
    Serve(ServeArgs),
    /// Run db_bench-like workloads on the LSM tree and the item API.
    Bench(bench::options::BenchArgs),
    /// Show what Strata does, on a fresh directory (default: a temporary one).
    Demo(demo::DemoArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// The database directory (created if missing).
    #[arg(
        long,
        conflicts_with = "in_memory",
        required_unless_present = "in_memory"
    )]
    dir: Option<PathBuf>,
    /// Keep everything in memory (nothing survives the process), as DynamoDB Local's
    /// -inMemory.
    #[arg(long)]
    in_memory: bool,
    /// The port to listen on (0: any free port; the chosen one is printed).
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Verify SigV4 signatures against the keys in FILE (one `ACCESS_KEY_ID
    /// SECRET_ACCESS_KEY` per line). Without it any well-formed signature is
    /// accepted, as DynamoDB Local does.
    #[arg(long, value_name = "FILE")]
    auth: Option<PathBuf>,
    /// The largest request body accepted, in bytes.
    #[arg(long, default_value_t = strata_server::MAX_BODY_BYTES)]
    max_body_bytes: usize,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // bench and demo print their own report: only warnings from the engine there.
    let level = match cli.command {
        Command::Serve(_) => "info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::Bench(args) => bench::run(args).map_err(Into::into),
        Command::Demo(args) => demo::run(args).map_err(Into::into),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("strata: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> Result<(), Box<dyn std::error::Error>> {
    let db = match (&args.dir, args.in_memory) {
        (_, true) => Db::open_in_memory()?,
        (Some(dir), false) => Db::open(dir, DbOptions::default())?,
        (None, false) => return Err("give --dir DIR or --in-memory".into()),
    };
    let auth = match &args.auth {
        Some(path) => Some(std::sync::Arc::new(
            strata_server::sigv4::Credentials::load(path)?,
        )),
        None => None,
    };
    let config = ServerConfig {
        max_body_bytes: args.max_body_bytes,
        auth,
        ..ServerConfig::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let server = Server::bind(SocketAddr::new(args.host, args.port), db, config).await?;
        // The one line scripts and tests wait for.
        println!("strata: listening on {}", server.local_addr());
        server.run(shutdown_signal()).await?;
        Ok(())
    })
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT: shutting down"),
        () = term => tracing::info!("SIGTERM: shutting down"),
    }
}
