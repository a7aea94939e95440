//! Strata's DynamoDB-compatible server: DynamoDB's JSON-over-HTTP protocol
//! (`X-Amz-Target: DynamoDB_20120810.<Op>`, `application/x-amz-json-1.0`) on top of an
//! embedded [`strata_engine::Db`], so that AWS SDKs, the AWS CLI and existing DynamoDB
//! code can use Strata unchanged.
//!
//! - [`Server::bind`] listens; [`Server::run`] serves until a shutdown future
//!   completes, then stops accepting, finishes the requests in flight and closes the
//!   database.
//! - Requests are parsed into the engine's option types ([`ops`]), legacy parameters
//!   are translated into expressions ([`legacy`]), and errors are sent as DynamoDB
//!   sends them ([`error::ApiError`]). What is supported and how errors map is written
//!   down in `docs/server.md`.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use strata_server::{Server, ServerConfig};
//! let db = strata_engine::Db::open_in_memory()?;
//! let server = Server::bind("127.0.0.1:8000".parse()?, db, ServerConfig::default()).await?;
//! println!("listening on {}", server.local_addr());
//! server.run(async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use strata_engine::{Db, DbError};
use tokio::net::TcpListener;

pub mod auth;
pub mod describe;
pub mod error;
pub mod http;
pub mod legacy;
pub mod namespace;
pub mod ops;
pub mod params;
pub mod sigv4;
mod spin;
pub mod state;

use describe::Location;
use state::State;

/// DynamoDB's largest request (a `BatchWriteItem` of 25 items of 400 KB is far
/// below; DynamoDB caps request bodies at 16 MB).
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// How the server behaves.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Request bodies over this are refused (413) before being read whole.
    pub max_body_bytes: usize,
    /// A client must send a request's headers within this (also bounds how long an
    /// idle keep-alive connection waits for its next request).
    pub header_timeout: Duration,
    /// A client must send a request's body within this.
    pub body_timeout: Duration,
    /// On shutdown, how long requests in flight may take before connections are
    /// dropped.
    pub shutdown_grace: Duration,
    /// The region in ARNs and the health check (`ddblocal`, as DynamoDB Local).
    pub region: String,
    /// The account id in ARNs.
    pub account: String,
    /// Verify SigV4 signatures against these keys (`--auth FILE`); `None`: accept
    /// any well-formed `Authorization` header, as DynamoDB Local does.
    pub auth: Option<Arc<sigv4::Credentials>>,
    /// While the server has a single connection and nothing running, how long a
    /// read waiting for that connection's next request polls the socket before
    /// the worker thread sleeps (`--read-spin-us`; zero: never). A sleeping
    /// worker's wake-up dominates a one-connection round trip on virtual machines
    /// (see `spin.rs`); the price is up to this much CPU per request.
    pub read_spin: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_body_bytes: MAX_BODY_BYTES,
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(30),
            region: "ddblocal".to_owned(),
            account: "000000000000".to_owned(),
            auth: None,
            read_spin: Duration::from_micros(100),
        }
    }
}

/// What every connection shares.
#[derive(Debug)]
pub struct Shared {
    state: Arc<State>,
    config: ServerConfig,
    /// Open connections and operations running off the connection tasks.
    load: Arc<spin::Load>,
}

/// Errors of [`Server::bind`] and [`Server::run`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// Closing the database after the last request failed.
    #[error("closing the database: {0}")]
    Close(#[from] DbError),
    /// The blocking task closing the database did not finish.
    #[error("closing the database: {0}")]
    Join(String),
}

/// A bound server (see the crate documentation).
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
}

impl Server {
    /// Listens on `addr` (port 0: any free port, see [`Server::local_addr`]).
    ///
    /// # Errors
    /// [`ServeError::Bind`].
    pub async fn bind(
        addr: SocketAddr,
        db: Db,
        config: ServerConfig,
    ) -> Result<Server, ServeError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        let loc = Location {
            region: config.region.clone(),
            account: config.account.clone(),
        };
        Ok(Server {
            listener,
            shared: Arc::new(Shared {
                state: Arc::new(State::new(db, loc)),
                config,
                load: Arc::default(),
            }),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        // A bound listener always has a local address; fall back to unspecified.
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Serves until `shutdown` completes; then stops accepting, lets the requests in
    /// flight finish (within [`ServerConfig::shutdown_grace`]) and closes the
    /// database.
    ///
    /// # Errors
    /// [`ServeError::Close`] when closing the database fails.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
        let Server { listener, shared } = self;
        let graceful = GracefulShutdown::new();
        tokio::pin!(shutdown);
        tracing::info!(addr = %listener.local_addr().map_or_else(|e| e.to_string(), |a| a.to_string()), "serving");
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(a) => a,
                        Err(e) => {
                            // Out of file descriptors and the like: wait a little, go on.
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    if let Err(e) = stream.set_nodelay(true) {
                        tracing::debug!(%peer, error = %e, "set_nodelay");
                    }
                    let header_timeout = shared.config.header_timeout;
                    let conn_shared = Arc::clone(&shared);
                    let svc = service_fn(move |req| http::handle(Arc::clone(&conn_shared), req));
                    let conn = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(header_timeout)
                        .keep_alive(true)
                        .serve_connection(
                            TokioIo::new(spin::SpinStream::new(
                                stream,
                                shared.config.read_spin,
                                &shared.load,
                            )),
                            svc,
                        );
                    let watched = graceful.watch(conn);
                    tokio::spawn(async move {
                        if let Err(e) = watched.await {
                            tracing::debug!(%peer, error = %e, "connection ended with an error");
                        }
                    });
                }
                () = &mut shutdown => break,
            }
        }
        drop(listener);
        tracing::info!("shutting down: finishing requests in flight");
        let grace = shared.config.shutdown_grace;
        if tokio::time::timeout(grace, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(
                ?grace,
                "requests still running after the shutdown grace period"
            );
        }
        let db = shared.state.db.clone();
        tokio::task::spawn_blocking(move || db.close())
            .await
            .map_err(|e| ServeError::Join(e.to_string()))??;
        tracing::info!("database closed");
        Ok(())
    }
}
