//! `strata`: Strata's command line. Subcommands:
//!
//! - `strata serve [--dir DIR | --in-memory] [--port 8000] [--host 127.0.0.1]`: serves a
//!   database over DynamoDB's protocol until SIGINT or SIGTERM, then stops accepting,
//!   finishes the requests in flight and closes the database. `--auth FILE` verifies
//!   SigV4 signatures against the keys in FILE.
//! - `strata inspect DIR|FILE [--json]`: tables, partitions, levels, files, WAL
//!   segments, indexes and capacity of a database; or one SSTable or WAL segment.
//! - `strata verify DIR [--files-only] [--json]`: every checksum of every file, the
//!   manifests against the files, every LSI and GSI against its table; exit code 1
//!   on any problem.
//! - `strata export DIR TABLE [--out FILE] [--gzip]` and `strata import DIR TABLE
//!   FILE [--partition-key NAME:TYPE ...]`: DynamoDB's export format, both ways.
//! - `strata bench WORKLOADS [options]`: db_bench-like workloads on the tree and the
//!   item API.
//! - `strata demo [DIR]`: a guided tour of a table with indexes and capacity.
//!
//! Each subcommand is a module of its own; `docs/cli.md` describes them.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

mod bench;
mod checkpoint;
mod demo;
mod error;
mod export;
mod import;
mod import_input;
mod inspect;
mod inspect_file;
mod output;
mod verify;

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
    /// Show a database's tables, partitions, levels, files, WAL segments, indexes
    /// and capacity; or one SSTable or WAL segment.
    Inspect(inspect::Args),
    /// Check every file and every index of a database; exit code 1 on any problem.
    Verify(verify::Args),
    /// Write a table's items in DynamoDB's export format (JSON lines).
    Export(export::Args),
    /// Load items in DynamoDB's export format into a table (resumable).
    Import(import::Args),
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
    /// With a single client connection, how long (microseconds) to poll for its
    /// next request before the worker thread sleeps: a sleeping thread's wake-up
    /// costs more than a request on virtual machines. 0: never poll.
    #[arg(long, default_value_t = 100, value_name = "MICROSECONDS")]
    read_spin_us: u64,
    /// The largest item collection (items of one partition key with their local
    /// secondary index entries) of a table with LSIs, in bytes; DynamoDB's is 10 GiB.
    #[arg(long, default_value_t = 10 << 30, value_name = "BYTES")]
    item_collection_limit_bytes: u64,
    /// How old (seconds) DescribeTable's ItemCount and TableSizeBytes may be before
    /// they are counted again (DynamoDB updates them about every six hours).
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    item_count_max_age: u64,
    /// With --mmap-data-blocks, bound the SSTable pages kept mapped into the process
    /// (counted in its RSS) to about this many bytes; past it they are released and
    /// read again from the page cache. Default: no bound. See docs/embedding.md.
    #[arg(long, value_name = "BYTES")]
    max_mapped_bytes: Option<u64>,
    /// Read SSTable data blocks through memory maps instead of with pread into the
    /// block cache (the default): faster reads, but every table page read then counts
    /// in the process's RSS, which grows toward the size of the tables read. See
    /// docs/embedding.md.
    #[arg(long)]
    mmap_data_blocks: bool,
    /// Read SSTable data blocks with pread into the block cache: the default, so this
    /// flag changes nothing (kept for scripts written when it was not).
    #[arg(long, hide = true, conflicts_with = "mmap_data_blocks")]
    pread_data_blocks: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A server logs what it does; the tools print their results and log only
    // warnings (RUST_LOG overrides both).
    let default_level = match cli.command {
        Command::Serve(_) => "info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::Inspect(args) => inspect::run(&args).map_err(Into::into),
        Command::Verify(args) => match verify::run(&args) {
            Ok(code) => return code,
            Err(e) => Err(e.into()),
        },
        Command::Export(args) => export::run(&args).map_err(Into::into),
        Command::Import(args) => import::run(&args).map_err(Into::into),
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
    let (path, mut opts) = match (&args.dir, args.in_memory) {
        (_, true) => (
            PathBuf::from(strata_engine::IN_MEMORY_PATH),
            DbOptions::in_memory(),
        ),
        (Some(dir), false) => (dir.clone(), DbOptions::default()),
        (None, false) => return Err("give --dir DIR or --in-memory".into()),
    };
    opts.item_collection_limit_bytes = args.item_collection_limit_bytes;
    opts.item_stats_max_age = std::time::Duration::from_secs(args.item_count_max_age);
    opts.max_mapped_bytes = args.max_mapped_bytes;
    opts.pread_data_blocks = !args.mmap_data_blocks;
    let db = Db::open(&path, opts)?;
    let auth = match &args.auth {
        Some(path) => Some(std::sync::Arc::new(
            strata_server::sigv4::Credentials::load(path)?,
        )),
        None => None,
    };
    let config = ServerConfig {
        max_body_bytes: args.max_body_bytes,
        auth,
        read_spin: std::time::Duration::from_micros(args.read_spin_us),
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
