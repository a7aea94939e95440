//! `strata serve` as a process: acknowledged writes survive a SIGKILL under a write
//! load, and SIGTERM shuts down cleanly.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

const AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00";

/// Starts `strata serve --dir dir --port 0` and returns it with its address.
fn serve(dir: &Path) -> (Child, SocketAddr) {
    serve_with(&["--dir", dir.to_str().unwrap()])
}

/// Starts `strata serve --port 0 ARGS`.
fn serve_with(args: &[&str]) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["serve", "--port", "0"])
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("strata: listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .unwrap();
    (child, addr)
}

/// One request; `None` when the connection fails (the server is gone).
fn call(addr: SocketAddr, op: &str, body: &str) -> Option<(u16, serde_json::Value)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let req = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: DynamoDB_20120810.{op}\r\nAuthorization: {AUTH}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..split]).ok()?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let json = serde_json::from_slice(&buf[split + 4..]).ok()?;
    Some((status, json))
}

const CREATE: &str = r#"{"TableName":"events","AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],"BillingMode":"PAY_PER_REQUEST"}"#;

#[test]
fn acknowledged_puts_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = serve(dir.path());
    assert_eq!(call(addr, "CreateTable", CREATE).unwrap().0, 200);
    let stop = Arc::new(AtomicBool::new(false));
    let (acks, acked) = mpsc::channel::<String>();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let stop = Arc::clone(&stop);
            let acks = acks.clone();
            std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let key = format!("w{w}-{i}");
                    let body = format!(
                        r#"{{"TableName":"events","Item":{{"pk":{{"S":"{key}"}},"n":{{"N":"{i}"}}}}}}"#
                    );
                    match call(addr, "PutItem", &body) {
                        Some((200, _)) => {
                            if acks.send(key).is_err() {
                                return;
                            }
                        }
                        // Refused or cut off by the kill: not acknowledged.
                        _ => return,
                    }
                    i += 1;
                }
            })
        })
        .collect();
    drop(acks);
    // Kill once a good number of writes have been acknowledged, writers still going.
    let mut keys = Vec::new();
    while keys.len() < 400 {
        keys.push(acked.recv().unwrap());
    }
    child.kill().unwrap();
    child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    keys.extend(acked.try_iter());

    let (mut child, addr) = serve(dir.path());
    for key in &keys {
        let body = format!(
            r#"{{"TableName":"events","Key":{{"pk":{{"S":"{key}"}}}},"ConsistentRead":true}}"#
        );
        let (status, json) = call(addr, "GetItem", &body).unwrap();
        assert_eq!(status, 200, "{json}");
        assert_eq!(
            json["Item"]["pk"]["S"],
            key.as_str(),
            "acknowledged {key} lost"
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn sigterm_shuts_down_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = serve(dir.path());
    assert_eq!(call(addr, "CreateTable", CREATE).unwrap().0, 200);
    let put = r#"{"TableName":"events","Item":{"pk":{"S":"a"}}}"#;
    assert_eq!(call(addr, "PutItem", put).unwrap().0, 200);
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    // The database was closed (its lock released): it opens again with the item.
    let (mut child, addr) = serve(dir.path());
    let (status, json) = call(
        addr,
        "GetItem",
        r#"{"TableName":"events","Key":{"pk":{"S":"a"}}}"#,
    )
    .unwrap();
    assert_eq!(status, 200);
    assert_eq!(json["Item"]["pk"]["S"], "a");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn in_memory_serves() {
    let (mut child, addr) = serve_with(&["--in-memory"]);
    assert_eq!(call(addr, "CreateTable", CREATE).unwrap().0, 200);
    let (status, json) = call(addr, "ListTables", "{}").unwrap();
    assert_eq!(
        (status, json["TableNames"][0].as_str()),
        (200, Some("events"))
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

/// `--item-collection-limit-bytes` reaches the engine: a table with an LSI refuses
/// the write that would take a partition key's items over it, with DynamoDB's
/// error; `--read-spin-us 0` serves as well.
#[test]
fn item_collection_limit_flag() {
    let (mut child, addr) = serve_with(&[
        "--in-memory",
        "--item-collection-limit-bytes",
        "3000",
        "--read-spin-us",
        "0",
    ]);
    let create = r#"{"TableName":"coll","BillingMode":"PAY_PER_REQUEST",
        "AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"},
            {"AttributeName":"sk","AttributeType":"N"},{"AttributeName":"x","AttributeType":"N"}],
        "KeySchema":[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}],
        "LocalSecondaryIndexes":[{"IndexName":"by_x","KeySchema":[
            {"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"x","KeyType":"RANGE"}],
            "Projection":{"ProjectionType":"ALL"}}]}"#;
    let (status, json) = call(addr, "CreateTable", create).unwrap();
    if status != 200 {
        child.kill().unwrap();
        panic!("CreateTable: {json}");
    }
    let pad = "y".repeat(1000);
    let mut refused = None;
    for sk in 0..10 {
        let body = format!(
            r#"{{"TableName":"coll","Item":{{"pk":{{"S":"a"}},"sk":{{"N":"{sk}"}},"x":{{"N":"1"}},"pad":{{"S":"{pad}"}}}}}}"#
        );
        let (status, json) = call(addr, "PutItem", &body).unwrap();
        if status != 200 {
            let kind = json["__type"].as_str().unwrap_or_default().to_owned();
            if status != 400 || !kind.ends_with("#ItemCollectionSizeLimitExceededException") {
                child.kill().unwrap();
                panic!("PutItem {sk}: {status} {json}");
            }
            assert_eq!(json["message"], "Collection size exceeded.");
            refused = Some(sk);
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // About 2 KB per item with its LSI entry: the first fits, the second not.
    assert_eq!(refused, Some(1), "refused at item {refused:?}");
}

/// `--max-mapped-bytes`: items written, flushed to SSTables by a clean shutdown,
/// and read back by a server whose bound (64 KiB) is far below them, so that its
/// tables are released and mapped again during the reads.
#[test]
fn max_mapped_bytes_flag_serves_reads() {
    serves_reads_from_tables(&["--mmap-data-blocks", "--max-mapped-bytes", "65536"]);
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["serve", "--in-memory", "--max-mapped-bytes", "lots"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--max-mapped-bytes"));
}

/// The same with data blocks read by `pread`, the default (and with the flag
/// that asked for it before it was), and through memory maps.
#[test]
fn data_block_read_flags_serve_reads() {
    serves_reads_from_tables(&[]);
    serves_reads_from_tables(&["--pread-data-blocks"]);
    serves_reads_from_tables(&["--mmap-data-blocks"]);
}

/// Items written, flushed to SSTables by a clean shutdown, and read back twice
/// by a server started with `flags`.
fn serves_reads_from_tables(flags: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let args: Vec<&str> = ["--dir", d].iter().chain(flags).copied().collect();
    let (mut child, addr) = serve_with(&args);
    assert_eq!(call(addr, "CreateTable", CREATE).unwrap().0, 200);
    let pad = "z".repeat(2000);
    for i in 0..300 {
        let put = format!(
            r#"{{"TableName":"events","Item":{{"pk":{{"S":"k{i}"}},"pad":{{"S":"{pad}"}}}}}}"#
        );
        assert_eq!(call(addr, "PutItem", &put).unwrap().0, 200, "put {i}");
    }
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    assert!(child.wait().unwrap().success());
    let (mut child, addr) = serve_with(&args);
    for round in 0..2 {
        for i in 0..300 {
            let get = format!(r#"{{"TableName":"events","Key":{{"pk":{{"S":"k{i}"}}}}}}"#);
            let (status, json) = call(addr, "GetItem", &get).unwrap();
            assert_eq!(status, 200, "get {i}, round {round}: {json}");
            assert_eq!(
                json["Item"]["pad"]["S"].as_str(),
                Some(pad.as_str()),
                "get {i}"
            );
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn bad_arguments_fail() {
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["serve"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["serve", "--in-memory", "--dir", "/tmp/x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    // An auth file that cannot be read or parsed is an error before listening.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("auth");
    std::fs::write(&bad, "only-a-key\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["serve", "--in-memory", "--port", "0", "--auth"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1"));
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["serve", "--in-memory", "--read-spin-us", "soon"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}
