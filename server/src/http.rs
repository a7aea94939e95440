//! One HTTP request: DynamoDB's checks in DynamoDB's order (content type, target,
//! authentication, body size, JSON), the operation on the blocking pool, and the
//! response with `x-amz-crc32` and `x-amzn-RequestId`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use rand::Rng;
use serde_json::Value;

use crate::error::ApiError;
use crate::ops::{self, Operation, RequestContext};
use crate::{Shared, auth, sigv4};

/// The content type of DynamoDB's protocol.
pub const AMZ_JSON: &str = "application/x-amz-json-1.0";

/// A request id in DynamoDB's form: 52 upper-case letters and digits.
fn request_id() -> String {
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(52)
        .map(|b| char::from(b).to_ascii_uppercase())
        .collect()
}

fn header<'a>(req: &'a Request<Incoming>, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// A response with DynamoDB's headers.
fn respond(status: u16, body: Vec<u8>, request_id: &str) -> Response<Full<Bytes>> {
    let crc = crc32fast::hash(&body);
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(AMZ_JSON));
    h.insert("x-amz-crc32", HeaderValue::from(crc));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-RequestId", v);
    }
    r
}

fn error_response(e: &ApiError, request_id: &str) -> Response<Full<Bytes>> {
    respond(e.status, e.body().to_string().into_bytes(), request_id)
}

/// Whether the content type is one DynamoDB accepts (parameters such as `charset`
/// are ignored).
fn content_type_ok(ct: Option<&str>) -> bool {
    let Some(ct) = ct else { return false };
    let base = ct.split(';').next().unwrap_or("").trim();
    base.eq_ignore_ascii_case(AMZ_JSON) || base.eq_ignore_ascii_case("application/json")
}

/// Handles one request (never fails: every error is a DynamoDB error response).
pub async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let id = request_id();
    let started = Instant::now();
    let (op, result) = dispatch(&shared, req).await;
    let response = match result {
        Ok(Prepared::Json(v)) => respond(200, v, &id),
        Ok(Prepared::Raw(r)) => r,
        Err(e) => {
            if e.status >= 500 {
                tracing::warn!(request_id = %id, op, error = %e, "request failed");
            } else {
                tracing::debug!(request_id = %id, op, error = %e, "request refused");
            }
            error_response(&e, &id)
        }
    };
    tracing::debug!(
        request_id = %id,
        op,
        status = response.status().as_u16(),
        micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        "request"
    );
    Ok(response)
}

/// A successful outcome: a JSON body, or a ready response (health check).
enum Prepared {
    Json(Vec<u8>),
    Raw(Response<Full<Bytes>>),
}

impl From<Response<Full<Bytes>>> for Prepared {
    fn from(r: Response<Full<Bytes>>) -> Self {
        Prepared::Raw(r)
    }
}

async fn dispatch(
    shared: &Arc<Shared>,
    req: Request<Incoming>,
) -> (&'static str, Result<Prepared, ApiError>) {
    if req.method() == Method::GET && req.uri().path() == "/" {
        let mut r = Response::new(Full::new(Bytes::from(format!(
            "healthy: dynamodb.{}.amazonaws.com ",
            shared.state.loc.region
        ))));
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        return ("health", Ok(r.into()));
    }
    if req.method() != Method::POST || !content_type_ok(header(&req, "content-type")) {
        return ("-", Err(ApiError::unknown_operation(404)));
    }
    let Some(op) = header(&req, "x-amz-target").and_then(Operation::from_target) else {
        return ("-", Err(ApiError::unknown_operation(400)));
    };
    let name = op.name();
    let (parts, body) = req.into_parts();
    let authorization = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let sig = match auth::parse(authorization) {
        Ok(s) => s,
        Err(e) => return (name, Err(e)),
    };
    let mut ctx = RequestContext {
        namespace: crate::namespace::Namespace::none(),
        host: parts
            .headers
            .get("host")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("localhost")
            .to_owned(),
    };
    let body = match read_body(shared, &parts.headers, body).await {
        Ok(b) => b,
        Err(e) => return (name, Err(e)),
    };
    if let Some(creds) = &shared.config.auth {
        let signed = sigv4::SignedParts {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: parts
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: &body,
        };
        match sigv4::verify(creds, &sig, &signed, unix_now()) {
            Ok(ns) => ctx.namespace = ns,
            Err(e) => return (name, Err(e)),
        }
    }
    let parsed: Value = if body.is_empty() {
        Value::Object(serde_json::Map::new())
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                return (
                    name,
                    Err(ApiError::serialization(format!(
                        "The request body is not valid JSON: {e}"
                    ))),
                );
            }
        }
    };
    let state = Arc::clone(&shared.state);
    let run = move || {
        let out = ops::call(&state, op, &parsed, &ctx);
        // serde_json's `Value` drops recursively; bodies are bounded by the parser's
        // depth limit (128), so dropping here is safe.
        drop(parsed);
        out.map(|v| v.to_string().into_bytes())
    };
    let result = if op.runs_inline() {
        // A bounded, non-blocking operation (one item read, metadata in memory):
        // handing it to the blocking pool would cost two thread wake-ups, more than
        // the operation itself (GetItem with one connection was 80% context switches).
        run_caught(name, run)
    } else {
        run_blocking(shared, name, run).await
    };
    (name, result)
}

/// Runs an operation that may wait (an fsync, a long query) off the async
/// workers. Alone, it runs on this thread after the worker's other tasks are
/// handed to another thread (`block_in_place`), so that the request does not
/// pay two thread wake-ups on its way (PutItem with one connection +4%, Query
/// +25%). With others in flight it goes to the blocking pool, which serves many
/// at a lower cost per request (`block_in_place` for each of 16 connections
/// cost PutItem 7-20% and Query 7-27%). A current-thread runtime cannot give its
/// one worker away: always the pool there.
async fn run_blocking(
    shared: &Shared,
    name: &'static str,
    run: impl FnOnce() -> Result<Vec<u8>, ApiError> + Send + 'static,
) -> Result<Prepared, ApiError> {
    struct InFlight<'a>(&'a std::sync::atomic::AtomicUsize);
    impl Drop for InFlight<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::AcqRel);
        }
    }
    let before = shared.load.blocking.fetch_add(1, Ordering::AcqRel);
    let _in_flight = InFlight(&shared.load.blocking);
    let multi = tokio::runtime::Handle::current().runtime_flavor()
        == tokio::runtime::RuntimeFlavor::MultiThread;
    if before == 0 && multi {
        return tokio::task::block_in_place(|| run_caught(name, run));
    }
    match tokio::task::spawn_blocking(run).await {
        Ok(r) => r.map(Prepared::Json),
        Err(e) => {
            tracing::warn!(op = name, error = %e, "operation panicked or was cancelled");
            Err(ApiError::internal())
        }
    }
}

/// Runs an operation on the calling thread; a panic becomes an internal error.
fn run_caught(
    name: &'static str,
    run: impl FnOnce() -> Result<Vec<u8>, ApiError>,
) -> Result<Prepared, ApiError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
        Ok(r) => r.map(Prepared::Json),
        Err(_) => {
            tracing::warn!(op = name, "operation panicked");
            Err(ApiError::internal())
        }
    }
}

/// Reads the body, refusing one over the limit before reading it whole (by its
/// `Content-Length`, and while reading for chunked bodies) and one that does not
/// arrive within the body timeout.
async fn read_body(
    shared: &Shared,
    headers: &hyper::HeaderMap,
    body: Incoming,
) -> Result<Bytes, ApiError> {
    let limit = shared.config.max_body_bytes;
    if let Some(len) = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > limit as u64
    {
        return Err(ApiError::too_large(limit));
    }
    let collect = Limited::new(body, limit).collect();
    match tokio::time::timeout(shared.config.body_timeout, collect).await {
        Err(_) => Err(ApiError::serialization(
            "Timed out reading the request body",
        )),
        Ok(Ok(c)) => Ok(c.to_bytes()),
        Ok(Err(e)) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Err(ApiError::too_large(limit))
            } else {
                Err(ApiError::serialization(format!(
                    "Could not read the request body: {e}"
                )))
            }
        }
    }
}

/// Seconds since the Unix epoch (0 if the clock is before it).
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
