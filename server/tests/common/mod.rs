//! A server on a free port for tests, and a raw HTTP/1.1 client.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::net::SocketAddr;

use strata_engine::Db;
use strata_server::{Server, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running server; dropping `stop` (or sending on it) shuts it down.
pub struct Running {
    pub addr: SocketAddr,
    pub stop: Option<oneshot::Sender<()>>,
    pub task: JoinHandle<Result<(), strata_server::ServeError>>,
}

impl Running {
    /// Stops the server and waits for it (requests in flight finish, the Db closes).
    pub async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.task.await.unwrap().unwrap();
    }
}

pub async fn start_with(config: ServerConfig) -> Running {
    start_with_db(Db::open_in_memory().unwrap(), config).await
}

pub async fn start_with_db(db: Db, config: ServerConfig) -> Running {
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), db, config)
        .await
        .unwrap();
    let addr = server.local_addr();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));
    Running {
        addr,
        stop: Some(tx),
        task,
    }
}

pub async fn start() -> Running {
    start_with(ServerConfig::default()).await
}

/// A response: status, headers (lower-case names), body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The error type's short name (after `#`).
    pub fn error_name(&self) -> String {
        let j = self.json();
        let t = j["__type"]
            .as_str()
            .unwrap_or_else(|| panic!("no __type: {j}"));
        t.rsplit('#').next().unwrap().to_owned()
    }

    pub fn message(&self) -> String {
        self.json()["message"].as_str().unwrap_or("").to_owned()
    }
}

pub const AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0123456789abcdef";

/// Sends raw request head lines (without the request line's CRLF handling: give
/// complete header lines) and body, then reads the whole response (the request says
/// `Connection: close`).
pub async fn raw(addr: SocketAddr, head: &str, body: &[u8]) -> Reply {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut req = head.replace('\n', "\r\n");
    req.push_str("Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    read_reply(&mut s).await
}

pub async fn read_reply(s: &mut TcpStream) -> Reply {
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    parse_reply(&buf)
}

pub fn parse_reply(buf: &[u8]) -> Reply {
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(buf)));
    let head = std::str::from_utf8(&buf[..split]).unwrap();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let body = buf[split + 4..].to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

/// A well-formed DynamoDB request for `op` with `body`.
pub async fn call(addr: SocketAddr, op: &str, body: &str) -> Reply {
    let head = format!(
        "POST / HTTP/1.1\nHost: {addr}\nContent-Type: application/x-amz-json-1.0\nX-Amz-Target: DynamoDB_20120810.{op}\nAuthorization: {AUTH}\nContent-Length: {}\n",
        body.len()
    );
    raw(addr, &head, body.as_bytes()).await
}
