//! The operations: each reads its request (a JSON object), calls the engine and
//! builds DynamoDB's response. They block (engine calls may fsync); the HTTP layer runs
//! them on tokio's blocking pool.

use serde_json::Value;

use crate::error::ApiError;
use crate::namespace::Namespace;
use crate::params::Params;
use crate::state::State;

mod batch;
mod common;
mod items;
mod meta;
mod read;
mod shapes;
mod tables;

/// Every operation this server answers. Transactions, TTL, streams, backups, exports
/// and the rest of DynamoDB's API are unknown operations for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `CreateTable`.
    CreateTable,
    /// `DescribeTable`.
    DescribeTable,
    /// `ListTables`.
    ListTables,
    /// `DeleteTable`.
    DeleteTable,
    /// `UpdateTable`.
    UpdateTable,
    /// `PutItem`.
    PutItem,
    /// `GetItem`.
    GetItem,
    /// `UpdateItem`.
    UpdateItem,
    /// `DeleteItem`.
    DeleteItem,
    /// `Query`.
    Query,
    /// `Scan`.
    Scan,
    /// `BatchGetItem`.
    BatchGetItem,
    /// `BatchWriteItem`.
    BatchWriteItem,
    /// `DescribeLimits`.
    DescribeLimits,
    /// `DescribeEndpoints`.
    DescribeEndpoints,
    /// `TagResource`.
    TagResource,
    /// `UntagResource`.
    UntagResource,
    /// `ListTagsOfResource`.
    ListTagsOfResource,
}

/// The `X-Amz-Target` prefix of DynamoDB's API version.
pub const TARGET_PREFIX: &str = "DynamoDB_20120810.";

impl Operation {
    /// The operation an `X-Amz-Target` header names, if this server knows it.
    pub fn from_target(target: &str) -> Option<Operation> {
        use Operation::*;
        Some(match target.strip_prefix(TARGET_PREFIX)? {
            "CreateTable" => CreateTable,
            "DescribeTable" => DescribeTable,
            "ListTables" => ListTables,
            "DeleteTable" => DeleteTable,
            "UpdateTable" => UpdateTable,
            "PutItem" => PutItem,
            "GetItem" => GetItem,
            "UpdateItem" => UpdateItem,
            "DeleteItem" => DeleteItem,
            "Query" => Query,
            "Scan" => Scan,
            "BatchGetItem" => BatchGetItem,
            "BatchWriteItem" => BatchWriteItem,
            "DescribeLimits" => DescribeLimits,
            "DescribeEndpoints" => DescribeEndpoints,
            "TagResource" => TagResource,
            "UntagResource" => UntagResource,
            "ListTagsOfResource" => ListTagsOfResource,
            _ => return None,
        })
    }

    /// Whether the server runs this operation on the connection's own task
    /// rather than on the blocking pool: it reads at most one item or only
    /// in-memory state, never waits for an fsync, and so finishes in
    /// microseconds (tags go to disk: not inline).
    pub fn runs_inline(self) -> bool {
        use Operation::*;
        matches!(
            self,
            GetItem | ListTables | DescribeLimits | DescribeEndpoints
        )
    }

    /// The operation's name.
    pub fn name(self) -> &'static str {
        use Operation::*;
        match self {
            CreateTable => "CreateTable",
            DescribeTable => "DescribeTable",
            ListTables => "ListTables",
            DeleteTable => "DeleteTable",
            UpdateTable => "UpdateTable",
            PutItem => "PutItem",
            GetItem => "GetItem",
            UpdateItem => "UpdateItem",
            DeleteItem => "DeleteItem",
            Query => "Query",
            Scan => "Scan",
            BatchGetItem => "BatchGetItem",
            BatchWriteItem => "BatchWriteItem",
            DescribeLimits => "DescribeLimits",
            DescribeEndpoints => "DescribeEndpoints",
            TagResource => "TagResource",
            UntagResource => "UntagResource",
            ListTagsOfResource => "ListTagsOfResource",
        }
    }
}

/// What a request carries besides its body.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    /// The `Host` header (for `DescribeEndpoints`).
    pub host: String,
    /// The caller's namespace (from its access key, with `--auth`).
    pub namespace: Namespace,
}

/// What an operation works with: the server's state and the request's context.
#[derive(Debug, Clone, Copy)]
pub struct Cx<'a> {
    /// The server's state.
    pub st: &'a State,
    /// The request's context.
    pub req: &'a RequestContext,
}

impl Cx<'_> {
    /// The caller's namespace.
    pub fn ns(&self) -> &Namespace {
        &self.req.namespace
    }
}

/// Runs one operation on a parsed body.
///
/// # Errors
/// The [`ApiError`] DynamoDB would send.
pub fn call(
    st: &State,
    op: Operation,
    body: &Value,
    ctx: &RequestContext,
) -> Result<Value, ApiError> {
    use Operation::*;
    let p = Params::root(body)?;
    let cx = &Cx { st, req: ctx };
    if let Value::Object(m) = body {
        shapes::check(op, m)?;
    }
    match op {
        CreateTable => tables::create_table(cx, &p),
        DescribeTable => tables::describe_table(cx, &p),
        ListTables => tables::list_tables(cx, &p),
        DeleteTable => tables::delete_table(cx, &p),
        UpdateTable => tables::update_table(cx, &p),
        PutItem => items::put_item(cx, &p),
        GetItem => items::get_item(cx, &p),
        UpdateItem => items::update_item(cx, &p),
        DeleteItem => items::delete_item(cx, &p),
        Query => read::query(cx, &p),
        Scan => read::scan(cx, &p),
        BatchGetItem => batch::batch_get_item(cx, &p),
        BatchWriteItem => batch::batch_write_item(cx, &p),
        DescribeLimits => Ok(meta::describe_limits()),
        DescribeEndpoints => Ok(meta::describe_endpoints(&ctx.host)),
        TagResource => meta::tag_resource(cx, &p),
        UntagResource => meta::untag_resource(cx, &p),
        ListTagsOfResource => meta::list_tags(cx, &p),
    }
}
