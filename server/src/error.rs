//! [`ApiError`]: an error as DynamoDB sends it (HTTP status, `__type`, `message`), and
//! how engine errors map onto DynamoDB's error types.

use serde_json::{Map, Value};
use strata_engine::DbError;
use strata_item::Item;
use strata_item::json::{JsonError, JsonErrorKind};

/// The namespace of DynamoDB's own error types.
const DYNAMODB: &str = "com.amazonaws.dynamodb.v20120810#";
/// The namespace of errors raised by the service framework before an operation runs.
const CORAL: &str = "com.amazon.coral.service#";

/// An error response: HTTP status, DynamoDB's error type and message, and for a failed
/// condition the item when the request asked for it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status (400 for client errors, 413 for an oversized body, 500 for internal
    /// faults).
    pub status: u16,
    /// The full `__type` (namespace `#` name).
    pub error_type: String,
    /// The `message` member.
    pub message: String,
    /// `Item` of a `ConditionalCheckFailedException` (with
    /// `ReturnValuesOnConditionCheckFailure` `ALL_OLD`).
    pub item: Option<Item>,
}

impl ApiError {
    fn new(status: u16, namespace: &str, name: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            error_type: format!("{namespace}{name}"),
            message: message.into(),
            item: None,
        }
    }

    /// `ValidationException`: the request is wrong.
    pub fn validation(message: impl Into<String>) -> ApiError {
        ApiError::new(400, DYNAMODB, "ValidationException", message)
    }

    /// `ValidationException` for a required member that is absent, in DynamoDB's
    /// words (`member` as DynamoDB names it, lower camel case).
    pub fn missing(member: &str) -> ApiError {
        ApiError::validation(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ))
    }

    /// `SerializationException`: the body is not JSON, or a member has the wrong JSON
    /// type.
    pub fn serialization(message: impl Into<String>) -> ApiError {
        ApiError::new(400, CORAL, "SerializationException", message)
    }

    /// `UnknownOperationException`: no such target (also transactions, TTL and
    /// streams, which this server does not implement yet).
    pub fn unknown_operation(status: u16) -> ApiError {
        ApiError::new(
            status,
            CORAL,
            "UnknownOperationException",
            "An unknown operation was requested.",
        )
    }

    /// `MissingAuthenticationTokenException`: no `Authorization` header.
    pub fn missing_auth() -> ApiError {
        ApiError::new(
            400,
            CORAL,
            "MissingAuthenticationTokenException",
            "Request is missing Authentication Token",
        )
    }

    /// `IncompleteSignatureException`: an `Authorization` header that is not a SigV4
    /// signature.
    pub fn incomplete_signature(message: impl Into<String>) -> ApiError {
        ApiError::new(400, CORAL, "IncompleteSignatureException", message)
    }

    /// `UnrecognizedClientException`: an access key the server does not know.
    pub fn unrecognized_client() -> ApiError {
        ApiError::new(
            400,
            CORAL,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        )
    }

    /// `InvalidSignatureException`: the signature does not match (or is too old).
    pub fn invalid_signature(message: impl Into<String>) -> ApiError {
        ApiError::new(400, CORAL, "InvalidSignatureException", message)
    }

    /// `RequestEntityTooLarge` (HTTP 413): the body is over the limit.
    pub fn too_large(limit: usize) -> ApiError {
        ApiError::new(
            413,
            CORAL,
            "RequestEntityTooLarge",
            format!("Request body is larger than the maximum of {limit} bytes"),
        )
    }

    /// `ResourceNotFoundException`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(400, DYNAMODB, "ResourceNotFoundException", message)
    }

    /// `ResourceInUseException`.
    pub fn in_use(message: impl Into<String>) -> ApiError {
        ApiError::new(400, DYNAMODB, "ResourceInUseException", message)
    }

    /// `InternalServerError` (HTTP 500): a fault of the server, never of the request.
    pub fn internal() -> ApiError {
        ApiError::new(
            500,
            DYNAMODB,
            "InternalServerError",
            "Internal server error",
        )
    }

    /// The short name of the type (after the `#`).
    pub fn name(&self) -> &str {
        self.error_type
            .rsplit_once('#')
            .map_or(self.error_type.as_str(), |(_, n)| n)
    }

    /// The JSON body DynamoDB sends.
    pub fn body(&self) -> Value {
        let mut m = Map::new();
        m.insert("__type".into(), Value::String(self.error_type.clone()));
        m.insert("message".into(), Value::String(self.message.clone()));
        if let Some(item) = &self.item {
            m.insert("Item".into(), item.to_dynamo_json());
        }
        Value::Object(m)
    }

    /// Maps an engine error. `provisioned`: whether the table the request named is
    /// provisioned (a throttle is then `ProvisionedThroughputExceededException`, else
    /// `ThrottlingException`).
    pub fn from_db(e: DbError, provisioned: bool) -> ApiError {
        if e.is_validation() {
            return ApiError::validation(e.to_string());
        }
        match e {
            DbError::TableNotFound { table } => ApiError::not_found(format!(
                "Requested resource not found: Table: {table} not found"
            )),
            DbError::TableExists { table } => {
                ApiError::in_use(format!("Table already exists: {table}"))
            }
            DbError::TableUpdating { table } => ApiError::in_use(format!(
                "Attempt to change a resource which is still in use: Table is being updated: {table}"
            )),
            DbError::ConditionalCheckFailed { item, .. } => ApiError {
                item,
                ..ApiError::new(
                    400,
                    DYNAMODB,
                    "ConditionalCheckFailedException",
                    "The conditional request failed",
                )
            },
            DbError::Throttled { budget, .. } => {
                if provisioned && budget != strata_engine::capacity::Budget::Meter {
                    ApiError::new(
                        400,
                        DYNAMODB,
                        "ProvisionedThroughputExceededException",
                        "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.",
                    )
                } else {
                    ApiError::new(
                        400,
                        DYNAMODB,
                        "ThrottlingException",
                        "Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your table or index so please try again shortly.",
                    )
                }
            }
            DbError::ItemCollectionSizeLimitExceeded { .. } => ApiError::new(
                400,
                DYNAMODB,
                "ItemCollectionSizeLimitExceededException",
                "Collection size exceeded.",
            ),
            DbError::IndexBackpressure { .. } => ApiError::new(
                400,
                DYNAMODB,
                "ProvisionedThroughputExceededException",
                "The level of configured provisioned throughput for one or more global secondary indexes of the table was exceeded. Consider increasing your provisioning level for the under-provisioned global secondary indexes with the UpdateTable API",
            ),
            other => {
                tracing::warn!(error = %other, "internal error");
                ApiError::internal()
            }
        }
    }

    /// Maps an error reading DynamoDB JSON attribute values: a wrong JSON type is a
    /// `SerializationException`, a wrong value a `ValidationException`.
    pub fn from_json(e: &JsonError) -> ApiError {
        match e.kind {
            JsonErrorKind::NotAnObject { .. } | JsonErrorKind::WrongJsonType { .. } => {
                ApiError::serialization(e.to_string())
            }
            _ => ApiError::validation(e.kind.to_string()),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name(), self.message)
    }
}

impl std::error::Error for ApiError {}
