//! The operations: each reads its request (a JSON object), calls the engine and
//! builds DynamoDB's response. They block (engine calls may fsync); the HTTP layer runs
//! them on tokio's blocking pool.

use serde_json::Value;

use crate::error::ApiError;
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
    if let Value::Object(m) = body {
        shapes::check(op, m)?;
    }
    match op {
        CreateTable => tables::create_table(st, &p),
        DescribeTable => tables::describe_table(st, &p),
        ListTables => tables::list_tables(st, &p),
        DeleteTable => tables::delete_table(st, &p),
        UpdateTable => tables::update_table(st, &p),
        PutItem => items::put_item(st, &p),
        GetItem => items::get_item(st, &p),
        UpdateItem => items::update_item(st, &p),
        DeleteItem => items::delete_item(st, &p),
        Query => read::query(st, &p),
        Scan => read::scan(st, &p),
        BatchGetItem => batch::batch_get_item(st, &p),
        BatchWriteItem => batch::batch_write_item(st, &p),
        DescribeLimits => Ok(meta::describe_limits()),
        DescribeEndpoints => Ok(meta::describe_endpoints(&ctx.host)),
        TagResource => meta::tag_resource(st, &p),
        UntagResource => meta::untag_resource(st, &p),
        ListTagsOfResource => meta::list_tags(st, &p),
    }
}
