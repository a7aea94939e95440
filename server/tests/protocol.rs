//! Raw-HTTP protocol tests: DynamoDB's checks (content type, target, authentication,
//! body size, JSON, member types) and response headers, without an SDK in the way.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{AUTH, call, raw, start, start_with};
use strata_server::ServerConfig;

const CREATE: &str = r#"{"TableName":"tbl","AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],"BillingMode":"PAY_PER_REQUEST"}"#;

#[tokio::test]
async fn health_check_answers_get() {
    let s = start().await;
    let r = raw(s.addr, "GET / HTTP/1.1\nHost: x\n", b"").await;
    assert_eq!(r.status, 200);
    assert!(String::from_utf8_lossy(&r.body).starts_with("healthy: dynamodb."));
    s.shutdown().await;
}

#[tokio::test]
async fn missing_and_unknown_targets_are_unknown_operations() {
    let s = start().await;
    let no_target = format!(
        "POST / HTTP/1.1\nHost: x\nContent-Type: application/x-amz-json-1.0\nAuthorization: {AUTH}\nContent-Length: 2\n"
    );
    let r = raw(s.addr, &no_target, b"{}").await;
    assert_eq!(
        (r.status, r.error_name().as_str()),
        (400, "UnknownOperationException")
    );
    // Transactions, TTL and streams are later issues: unknown operations until then.
    for op in [
        "TransactWriteItems",
        "TransactGetItems",
        "UpdateTimeToLive",
        "DescribeTimeToLive",
        "ExecuteStatement",
        "NoSuchThing",
    ] {
        let r = call(s.addr, op, "{}").await;
        assert_eq!(r.status, 400, "{op}");
        assert_eq!(r.error_name(), "UnknownOperationException", "{op}");
    }
    // Another API version is unknown too.
    let other = format!(
        "POST / HTTP/1.1\nHost: x\nContent-Type: application/x-amz-json-1.0\nX-Amz-Target: DynamoDB_20111205.ListTables\nAuthorization: {AUTH}\nContent-Length: 2\n"
    );
    assert_eq!(
        raw(s.addr, &other, b"{}").await.error_name(),
        "UnknownOperationException"
    );
    s.shutdown().await;
}

#[tokio::test]
async fn wrong_content_type_is_refused() {
    let s = start().await;
    for ct in [
        "text/plain",
        "application/xml",
        "application/x-amz-json-1.1x",
    ] {
        let head = format!(
            "POST / HTTP/1.1\nHost: x\nContent-Type: {ct}\nX-Amz-Target: DynamoDB_20120810.ListTables\nAuthorization: {AUTH}\nContent-Length: 2\n"
        );
        let r = raw(s.addr, &head, b"{}").await;
        assert_eq!(r.status, 404, "{ct}");
        assert_eq!(r.error_name(), "UnknownOperationException");
    }
    // No content type at all.
    let head = format!(
        "POST / HTTP/1.1\nHost: x\nX-Amz-Target: DynamoDB_20120810.ListTables\nAuthorization: {AUTH}\nContent-Length: 2\n"
    );
    assert_eq!(raw(s.addr, &head, b"{}").await.status, 404);
    // application/json and a charset parameter are accepted.
    for ct in [
        "application/json",
        "application/x-amz-json-1.0; charset=utf-8",
    ] {
        let head = format!(
            "POST / HTTP/1.1\nHost: x\nContent-Type: {ct}\nX-Amz-Target: DynamoDB_20120810.ListTables\nAuthorization: {AUTH}\nContent-Length: 2\n"
        );
        assert_eq!(raw(s.addr, &head, b"{}").await.status, 200, "{ct}");
    }
    s.shutdown().await;
}

#[tokio::test]
async fn authentication_is_required_and_must_be_sigv4_shaped() {
    let s = start().await;
    let head = "POST / HTTP/1.1\nHost: x\nContent-Type: application/x-amz-json-1.0\nX-Amz-Target: DynamoDB_20120810.ListTables\nContent-Length: 2\n";
    let r = raw(s.addr, head, b"{}").await;
    assert_eq!(
        (r.status, r.error_name().as_str()),
        (400, "MissingAuthenticationTokenException")
    );
    let bad = "POST / HTTP/1.1\nHost: x\nContent-Type: application/x-amz-json-1.0\nX-Amz-Target: DynamoDB_20120810.ListTables\nAuthorization: AWS4-HMAC-SHA256 Credential=AKID\nContent-Length: 2\n";
    let r = raw(s.addr, bad, b"{}").await;
    assert_eq!(r.error_name(), "IncompleteSignatureException");
    s.shutdown().await;
}

#[tokio::test]
async fn malformed_json_is_a_serialization_exception() {
    let s = start().await;
    for body in ["{", "not json", "[1,2", "{\"TableName\": }", "\u{0}"] {
        let r = call(s.addr, "ListTables", body).await;
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(r.error_name(), "SerializationException", "{body}");
    }
    // A body that is JSON but not an object.
    for body in ["[]", "5", "\"x\""] {
        let r = call(s.addr, "DescribeTable", body).await;
        assert_eq!(r.error_name(), "SerializationException", "{body}");
    }
    // Deep nesting is an error, not a stack overflow.
    let deep = format!(
        "{{\"Item\":{}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let r = call(s.addr, "PutItem", &deep).await;
    assert_eq!(r.error_name(), "SerializationException");
    s.shutdown().await;
}

#[tokio::test]
async fn wrong_json_types_for_each_parameter() {
    let s = start().await;
    assert_eq!(call(s.addr, "CreateTable", CREATE).await.status, 200);
    let cases: &[(&str, &str)] = &[
        ("DescribeTable", r#"{"TableName": 5}"#),
        ("DescribeTable", r#"{"TableName": ["tbl"]}"#),
        ("DescribeTable", r#"{"TableName": {"S": "tbl"}}"#),
        ("ListTables", r#"{"Limit": "5"}"#),
        ("ListTables", r#"{"Limit": 1.5}"#),
        ("ListTables", r#"{"ExclusiveStartTableName": true}"#),
        (
            "CreateTable",
            r#"{"TableName":"tbl2","KeySchema":{"a":1},"AttributeDefinitions":[]}"#,
        ),
        (
            "CreateTable",
            r#"{"TableName":"tbl2","KeySchema":[],"AttributeDefinitions":"x"}"#,
        ),
        ("PutItem", r#"{"TableName":"tbl","Item":[]}"#),
        ("PutItem", r#"{"TableName":"tbl","Item":{"pk":"plain"}}"#),
        (
            "PutItem",
            r#"{"TableName":"tbl","Item":{"pk":{"S":"a"},"n":{"N":5}}}"#,
        ),
        (
            "PutItem",
            r#"{"TableName":"tbl","Item":{"pk":{"S":"a"}},"ReturnValues":5}"#,
        ),
        (
            "PutItem",
            r#"{"TableName":"tbl","Item":{"pk":{"S":"a"}},"ConditionExpression":["x"]}"#,
        ),
        ("GetItem", r#"{"TableName":"tbl","Key":"pk"}"#),
        (
            "GetItem",
            r#"{"TableName":"tbl","Key":{"pk":{"S":"a"}},"ConsistentRead":"yes"}"#,
        ),
        (
            "GetItem",
            r#"{"TableName":"tbl","Key":{"pk":{"S":"a"}},"AttributesToGet":"pk"}"#,
        ),
        (
            "Query",
            r#"{"TableName":"tbl","KeyConditionExpression":"pk = :v","ExpressionAttributeValues":{":v":"a"}}"#,
        ),
        (
            "Query",
            r#"{"TableName":"tbl","KeyConditionExpression":"pk = :v","ExpressionAttributeValues":[]}"#,
        ),
        (
            "Query",
            r##"{"TableName":"tbl","KeyConditionExpression":"#p = :v","ExpressionAttributeNames":{"#p":1},"ExpressionAttributeValues":{":v":{"S":"a"}}}"##,
        ),
        (
            "Query",
            r#"{"TableName":"tbl","KeyConditionExpression":"pk = :v","ExpressionAttributeValues":{":v":{"S":"a"}},"ScanIndexForward":1}"#,
        ),
        (
            "Scan",
            r#"{"TableName":"tbl","Segment":"0","TotalSegments":2}"#,
        ),
        ("Scan", r#"{"TableName":"tbl","ExclusiveStartKey":5}"#),
        (
            "BatchWriteItem",
            r#"{"RequestItems":{"tbl":{"PutRequest":{}}}}"#,
        ),
        ("BatchGetItem", r#"{"RequestItems":[]}"#),
        (
            "UpdateItem",
            r#"{"TableName":"tbl","Key":{"pk":{"S":"a"}},"UpdateExpression":{}}"#,
        ),
        (
            "DeleteItem",
            r#"{"TableName":"tbl","Key":{"pk":{"S":"a"}},"Expected":[]}"#,
        ),
        // Types are checked before values: a bad name does not hide a bad type.
        ("Query", r#"{"TableName":"x","Limit":"5"}"#),
        ("Scan", r#"{"TotalSegments":true}"#),
        ("TagResource", r#"{"ResourceArn":"nope","Tags":{"k":"v"}}"#),
    ];
    for (op, body) in cases {
        let r = call(s.addr, op, body).await;
        assert_eq!(r.status, 400, "{op} {body}");
        assert_eq!(
            r.error_name(),
            "SerializationException",
            "{op} {body}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    s.shutdown().await;
}

#[tokio::test]
async fn validation_and_not_found_errors() {
    let s = start().await;
    let r = call(s.addr, "DescribeTable", "{}").await;
    assert_eq!(r.error_name(), "ValidationException");
    assert!(
        r.message().contains("Value null at 'tableName'"),
        "{}",
        r.message()
    );
    assert!(
        r.json()["__type"]
            .as_str()
            .unwrap()
            .starts_with("com.amazonaws.dynamodb.v20120810#")
    );
    let r = call(s.addr, "DescribeTable", r#"{"TableName":"nope"}"#).await;
    assert_eq!(
        (r.status, r.error_name().as_str()),
        (400, "ResourceNotFoundException")
    );
    let r = call(
        s.addr,
        "PutItem",
        r#"{"TableName":"nope","Item":{"pk":{"S":"a"}}}"#,
    )
    .await;
    assert_eq!(r.error_name(), "ResourceNotFoundException");
    assert_eq!(call(s.addr, "CreateTable", CREATE).await.status, 200);
    let r = call(s.addr, "CreateTable", CREATE).await;
    assert_eq!(r.error_name(), "ResourceInUseException");
    let r = call(
        s.addr,
        "PutItem",
        r#"{"TableName":"tbl","Item":{"x":{"S":"a"}}}"#,
    )
    .await;
    assert_eq!(r.error_name(), "ValidationException");
    assert!(
        r.message().contains("Missing the key pk"),
        "{}",
        r.message()
    );
    let r = call(s.addr, "ListTables", r#"{"Limit": 0}"#).await;
    assert_eq!(r.error_name(), "ValidationException");
    s.shutdown().await;
}

#[tokio::test]
async fn oversized_bodies_are_refused_before_being_read() {
    let s = start_with(ServerConfig {
        max_body_bytes: 1024,
        ..ServerConfig::default()
    })
    .await;
    // Content-Length over the limit: the answer comes without the body being sent.
    let head = format!(
        "POST / HTTP/1.1\nHost: x\nContent-Type: application/x-amz-json-1.0\nX-Amz-Target: DynamoDB_20120810.ListTables\nAuthorization: {AUTH}\nContent-Length: 100000000\n"
    );
    let r = raw(s.addr, &head, b"").await;
    assert_eq!(r.status, 413);
    assert_eq!(r.error_name(), "RequestEntityTooLarge");
    // A chunked body that grows over the limit is cut off while being read.
    let head = format!(
        "POST / HTTP/1.1\nHost: x\nContent-Type: application/x-amz-json-1.0\nX-Amz-Target: DynamoDB_20120810.ListTables\nAuthorization: {AUTH}\nTransfer-Encoding: chunked\n"
    );
    let mut chunked = Vec::new();
    for _ in 0..4 {
        chunked.extend_from_slice(format!("{:x}\r\n", 512).as_bytes());
        chunked.extend_from_slice(&[b' '; 512]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let r = raw(s.addr, &head, &chunked).await;
    assert_eq!(r.status, 413);
    // Just under the limit is fine.
    let r = call(s.addr, "ListTables", &format!("{{}}{}", " ".repeat(900))).await;
    assert_eq!(r.status, 200);
    s.shutdown().await;
}

#[tokio::test]
async fn responses_carry_crc32_and_request_id() {
    let s = start().await;
    for (op, body) in [
        ("ListTables", "{}"),
        ("DescribeTable", r#"{"TableName":"nope"}"#),
    ] {
        let r = call(s.addr, op, body).await;
        let crc: u32 = r.headers["x-amz-crc32"].parse().unwrap();
        assert_eq!(crc, crc32fast::hash(&r.body), "{op}");
        let id = &r.headers["x-amzn-requestid"];
        assert_eq!(id.len(), 52);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        );
        assert_eq!(r.headers["content-type"], "application/x-amz-json-1.0");
    }
    let a = call(s.addr, "ListTables", "{}").await;
    let b = call(s.addr, "ListTables", "{}").await;
    assert_ne!(a.headers["x-amzn-requestid"], b.headers["x-amzn-requestid"]);
    s.shutdown().await;
}

#[tokio::test]
async fn keep_alive_serves_many_requests_on_one_connection() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = start().await;
    let mut conn = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    for _ in 0..20 {
        let req = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\nAuthorization: {AUTH}\r\nContent-Length: 2\r\n\r\n{{}}"
        );
        conn.write_all(req.as_bytes()).await.unwrap();
        // Read one response: headers, then Content-Length bytes.
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        while !buf.ends_with(b"\r\n\r\n") {
            conn.read_exact(&mut byte).await.unwrap();
            buf.push(byte[0]);
        }
        let head = String::from_utf8(buf).unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let len: usize = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse().unwrap())
            })
            .unwrap();
        let mut body = vec![0u8; len];
        conn.read_exact(&mut body).await.unwrap();
        assert_eq!(body, br#"{"TableNames":[]}"#);
    }
    s.shutdown().await;
}

#[tokio::test]
async fn shutdown_finishes_and_closes_the_database() {
    let s = start().await;
    assert_eq!(call(s.addr, "CreateTable", CREATE).await.status, 200);
    let addr = s.addr;
    s.shutdown().await;
    // Nothing listens any more.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn bad_signatures_are_refused_with_auth() {
    let creds = strata_server::sigv4::Credentials::parse("AKIDEXAMPLE secret").unwrap();
    let s = start_with(ServerConfig {
        auth: Some(std::sync::Arc::new(creds)),
        ..ServerConfig::default()
    })
    .await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // Format "now" as an X-Amz-Date (seconds to civil date).
    let date = amz_date(now);
    let day = &date[..8];
    let head = |auth: &str, date: &str| {
        format!(
            "POST / HTTP/1.1\nHost: x\nContent-Type: application/x-amz-json-1.0\nX-Amz-Target: DynamoDB_20120810.ListTables\nX-Amz-Date: {date}\nAuthorization: {auth}\nContent-Length: 2\n"
        )
    };
    let wrong = format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{day}/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=00ff"
    );
    let r = raw(s.addr, &head(&wrong, &date), b"{}").await;
    assert_eq!(
        (r.status, r.error_name().as_str()),
        (400, "InvalidSignatureException")
    );
    let unknown = wrong.replace("AKIDEXAMPLE", "NOBODY");
    let r = raw(s.addr, &head(&unknown, &date), b"{}").await;
    assert_eq!(r.error_name(), "UnrecognizedClientException");
    // Still no header at all: MissingAuthenticationTokenException.
    let r = raw(
        s.addr,
        "POST / HTTP/1.1\nHost: x\nContent-Type: application/x-amz-json-1.0\nX-Amz-Target: DynamoDB_20120810.ListTables\nContent-Length: 2\n",
        b"{}",
    )
    .await;
    assert_eq!(r.error_name(), "MissingAuthenticationTokenException");
    // A date an hour off is refused before the signature is looked at.
    let old = amz_date(now - 3600);
    let r = raw(s.addr, &head(&wrong.replace(day, &old[..8]), &old), b"{}").await;
    assert_eq!(r.error_name(), "InvalidSignatureException");
    assert!(r.message().contains("15 minutes"), "{}", r.message());
    s.shutdown().await;
}

/// `YYYYMMDDTHHMMSSZ` of Unix seconds (civil from days, Howard Hinnant's algorithm).
fn amz_date(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[tokio::test]
async fn slow_and_silent_clients_are_disconnected() {
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = start_with(ServerConfig {
        header_timeout: Duration::from_millis(300),
        body_timeout: Duration::from_millis(300),
        ..ServerConfig::default()
    })
    .await;
    // A client that connects and sends nothing, one that stops in the middle of its
    // headers, and one that stops in the middle of its body: each is cut off. The
    // 20 s bound only detects a hang.
    let partial_head = "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: appl";
    let partial_body = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\nAuthorization: {AUTH}\r\nContent-Length: 10\r\n\r\n{{"
    );
    for sent in ["", partial_head, partial_body.as_str()] {
        let mut conn = tokio::net::TcpStream::connect(s.addr).await.unwrap();
        conn.write_all(sent.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(20), conn.read_to_end(&mut buf)).await;
        assert!(read.is_ok(), "connection still open after 20 s ({sent:?})");
        if sent == partial_body {
            // The body timeout answers before closing.
            let r = common::parse_reply(&buf);
            assert_eq!(r.status, 400);
        }
    }
    // The server still serves others.
    assert_eq!(call(s.addr, "ListTables", "{}").await.status, 200);
    s.shutdown().await;
}

#[tokio::test]
async fn deeply_nested_expressions_and_values_are_errors() {
    let s = start().await;
    assert_eq!(call(s.addr, "CreateTable", CREATE).await.status, 200);
    // 2,000 nested parentheses in a condition: a ValidationException, no overflow.
    let cond = format!(
        "{}attribute_exists(pk){}",
        "(".repeat(2000),
        ")".repeat(2000)
    );
    let body = serde_json::json!({
        "TableName": "tbl",
        "Item": {"pk": {"S": "a"}},
        "ConditionExpression": cond,
    })
    .to_string();
    let r = call(s.addr, "PutItem", &body).await;
    assert_eq!(
        (r.status, r.error_name().as_str()),
        (400, "ValidationException")
    );
    // An attribute value nested 40 levels deep (DynamoDB allows 32).
    let mut v = serde_json::json!({"S": "x"});
    for _ in 0..40 {
        v = serde_json::json!({"L": [v]});
    }
    let body =
        serde_json::json!({"TableName": "tbl", "Item": {"pk": {"S": "a"}, "deep": v}}).to_string();
    let r = call(s.addr, "PutItem", &body).await;
    assert_eq!(r.error_name(), "ValidationException");
    assert!(r.message().contains("Nesting Levels"), "{}", r.message());
    // The server is fine afterwards.
    assert_eq!(call(s.addr, "ListTables", "{}").await.status, 200);
    s.shutdown().await;
}

/// A capacity meter that holds every write in `admit` until released: a request that
/// is certainly in flight, inside the engine.
#[derive(Debug)]
struct Gate {
    entered: std::sync::Mutex<std::sync::mpsc::Sender<()>>,
    release: std::sync::Mutex<std::sync::mpsc::Receiver<()>>,
}

impl strata_engine::CapacityMeter for Gate {
    fn admit(&self, op: &strata_engine::capacity::OpInfo<'_>) -> Result<(), String> {
        if op.kind == strata_engine::capacity::OpKind::Write {
            self.entered.lock().unwrap().send(()).unwrap();
            self.release.lock().unwrap().recv().unwrap();
        }
        Ok(())
    }
}

#[tokio::test]
async fn shutdown_finishes_requests_in_flight() {
    let (entered_tx, entered_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel();
    let gate = Gate {
        entered: std::sync::Mutex::new(entered_tx),
        release: std::sync::Mutex::new(release_rx),
    };
    let db = strata_engine::Db::open(
        strata_engine::IN_MEMORY_PATH,
        strata_engine::DbOptions::in_memory().capacity_meter(std::sync::Arc::new(gate)),
    )
    .unwrap();
    let s = common::start_with_db(db, ServerConfig::default()).await;
    let addr = s.addr;
    assert_eq!(call(addr, "CreateTable", CREATE).await.status, 200);
    let put = tokio::spawn(async move {
        call(
            addr,
            "PutItem",
            r#"{"TableName":"tbl","Item":{"pk":{"S":"held"}}}"#,
        )
        .await
    });
    // The put is inside the engine now.
    tokio::task::spawn_blocking(move || entered_rx.recv().unwrap())
        .await
        .unwrap();
    let common::Running { stop, task, .. } = s;
    stop.unwrap().send(()).unwrap();
    // New connections are refused once the listener is closed (bounded wait: a hang).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        assert!(std::time::Instant::now() < deadline, "still accepting");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // The request in flight finishes with its answer, then the server stops.
    release_tx.send(()).unwrap();
    let r = put.await.unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    task.await.unwrap().unwrap();
}

const ARN: &str = "arn:aws:dynamodb:ddblocal:000000000000:table/tbl";

fn tag_keys(r: &common::Reply) -> Vec<(String, String)> {
    r.json()["Tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["Key"].as_str().unwrap().to_owned(),
                t["Value"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn tags_survive_a_restart_and_go_with_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let open = || strata_engine::Db::open(dir.path(), strata_engine::DbOptions::default()).unwrap();
    let list = format!(r#"{{"ResourceArn":"{ARN}"}}"#);
    let s = common::start_with_db(open(), ServerConfig::default()).await;
    assert_eq!(call(s.addr, "CreateTable", CREATE).await.status, 200);
    let tag = format!(
        r#"{{"ResourceArn":"{ARN}","Tags":[{{"Key":"env","Value":"test"}},{{"Key":"team","Value":"db"}},{{"Key":"gone","Value":""}}]}}"#
    );
    assert_eq!(call(s.addr, "TagResource", &tag).await.status, 200);
    let untag = format!(r#"{{"ResourceArn":"{ARN}","TagKeys":["gone"]}}"#);
    assert_eq!(call(s.addr, "UntagResource", &untag).await.status, 200);
    s.shutdown().await;

    // A new server on the same directory finds the tags.
    let s = common::start_with_db(open(), ServerConfig::default()).await;
    let r = call(s.addr, "ListTagsOfResource", &list).await;
    assert_eq!(r.status, 200, "{}", r.message());
    assert_eq!(
        tag_keys(&r),
        vec![
            ("env".to_owned(), "test".to_owned()),
            ("team".to_owned(), "db".to_owned())
        ]
    );
    // Over the limit with the stored ones: refused, nothing changes.
    let many: Vec<String> = (0..49)
        .map(|i| format!(r#"{{"Key":"k{i}","Value":"v"}}"#))
        .collect();
    let over = format!(r#"{{"ResourceArn":"{ARN}","Tags":[{}]}}"#, many.join(","));
    let r = call(s.addr, "TagResource", &over).await;
    assert_eq!(r.error_name(), "ValidationException");
    assert!(
        r.message().contains("exceeds the limit of 50"),
        "{}",
        r.message()
    );
    assert_eq!(
        tag_keys(&call(s.addr, "ListTagsOfResource", &list).await).len(),
        2
    );

    // Deleted and created again: no tags, also after another restart.
    assert_eq!(
        call(s.addr, "DeleteTable", r#"{"TableName":"tbl"}"#)
            .await
            .status,
        200
    );
    assert_eq!(
        call(s.addr, "ListTagsOfResource", &list).await.error_name(),
        "ResourceNotFoundException"
    );
    assert_eq!(call(s.addr, "CreateTable", CREATE).await.status, 200);
    assert!(tag_keys(&call(s.addr, "ListTagsOfResource", &list).await).is_empty());
    s.shutdown().await;
    let s = common::start_with_db(open(), ServerConfig::default()).await;
    assert!(tag_keys(&call(s.addr, "ListTagsOfResource", &list).await).is_empty());
    s.shutdown().await;
}

#[tokio::test]
async fn item_collection_over_the_limit_is_item_collection_size_limit_exceeded() {
    let opts = strata_engine::DbOptions {
        item_collection_limit_bytes: 2048,
        ..strata_engine::DbOptions::in_memory()
    };
    let db = strata_engine::Db::open(strata_engine::IN_MEMORY_PATH, opts).unwrap();
    let s = common::start_with_db(db, ServerConfig::default()).await;
    let create = r#"{"TableName":"lsi","AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"},{"AttributeName":"sk","AttributeType":"N"},{"AttributeName":"x","AttributeType":"S"}],"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}],"LocalSecondaryIndexes":[{"IndexName":"by_x","KeySchema":[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"x","KeyType":"RANGE"}],"Projection":{"ProjectionType":"ALL"}}],"BillingMode":"PAY_PER_REQUEST"}"#;
    let r = call(s.addr, "CreateTable", create).await;
    assert_eq!(r.status, 200, "{}", r.message());
    let pad = "p".repeat(300);
    let mut refused = None;
    for i in 0..50 {
        let put = format!(
            r#"{{"TableName":"lsi","Item":{{"pk":{{"S":"a"}},"sk":{{"N":"{i}"}},"x":{{"S":"v"}},"pad":{{"S":"{pad}"}}}},"ReturnItemCollectionMetrics":"SIZE"}}"#
        );
        let r = call(s.addr, "PutItem", &put).await;
        if r.status != 200 {
            refused = Some((i, r));
            break;
        }
        assert_eq!(
            r.json()["ItemCollectionMetrics"]["SizeEstimateRangeGB"],
            serde_json::json!([0.0, 1.0])
        );
    }
    let (i, r) = refused.expect("the limit never refused a put");
    assert!(i >= 1);
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["__type"],
        "com.amazonaws.dynamodb.v20120810#ItemCollectionSizeLimitExceededException"
    );
    assert_eq!(r.message(), "Collection size exceeded.");
    // Nothing was written.
    let get = format!(r#"{{"TableName":"lsi","Key":{{"pk":{{"S":"a"}},"sk":{{"N":"{i}"}}}}}}"#);
    let got = call(s.addr, "GetItem", &get).await;
    assert_eq!(got.status, 200);
    assert!(got.json().get("Item").is_none());
    s.shutdown().await;
}
