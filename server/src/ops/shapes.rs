//! The JSON type of every top-level member of every operation, checked before the
//! operation looks at any value: as in DynamoDB, a member of the wrong JSON type is a
//! `SerializationException` even when another member is invalid too. (Nested members
//! are checked as they are read, by [`crate::params::Params`].)

use serde_json::{Map, Value};

use super::Operation;
use crate::error::ApiError;
use crate::params::Params;

/// A member's JSON type.
#[derive(Debug, Clone, Copy)]
enum Ty {
    /// A string.
    Str,
    /// An integer.
    Int,
    /// A boolean.
    Bool,
    /// A list.
    List,
    /// A map or a structure (a JSON object).
    Obj,
}

use Ty::*;

const EXPRESSIONS: &[(&str, Ty)] = &[
    ("ExpressionAttributeNames", Obj),
    ("ExpressionAttributeValues", Obj),
    ("ReturnConsumedCapacity", Str),
];

fn members(op: Operation) -> &'static [(&'static str, Ty)] {
    use Operation::*;
    match op {
        CreateTable => &[
            ("TableName", Str),
            ("AttributeDefinitions", List),
            ("KeySchema", List),
            ("LocalSecondaryIndexes", List),
            ("GlobalSecondaryIndexes", List),
            ("BillingMode", Str),
            ("ProvisionedThroughput", Obj),
            ("OnDemandThroughput", Obj),
            ("StreamSpecification", Obj),
            ("SSESpecification", Obj),
            ("Tags", List),
            ("TableClass", Str),
            ("DeletionProtectionEnabled", Bool),
        ],
        DescribeTable | DeleteTable => &[("TableName", Str)],
        ListTables => &[("ExclusiveStartTableName", Str), ("Limit", Int)],
        UpdateTable => &[
            ("TableName", Str),
            ("AttributeDefinitions", List),
            ("BillingMode", Str),
            ("ProvisionedThroughput", Obj),
            ("OnDemandThroughput", Obj),
            ("GlobalSecondaryIndexUpdates", List),
            ("StreamSpecification", Obj),
            ("SSESpecification", Obj),
            ("TableClass", Str),
            ("DeletionProtectionEnabled", Bool),
        ],
        PutItem => &[
            ("TableName", Str),
            ("Item", Obj),
            ("ConditionExpression", Str),
            ("ReturnValues", Str),
            ("ReturnItemCollectionMetrics", Str),
            ("ReturnValuesOnConditionCheckFailure", Str),
            ("Expected", Obj),
            ("ConditionalOperator", Str),
        ],
        DeleteItem => &[
            ("TableName", Str),
            ("Key", Obj),
            ("ConditionExpression", Str),
            ("ReturnValues", Str),
            ("ReturnItemCollectionMetrics", Str),
            ("ReturnValuesOnConditionCheckFailure", Str),
            ("Expected", Obj),
            ("ConditionalOperator", Str),
        ],
        UpdateItem => &[
            ("TableName", Str),
            ("Key", Obj),
            ("UpdateExpression", Str),
            ("ConditionExpression", Str),
            ("ReturnValues", Str),
            ("ReturnItemCollectionMetrics", Str),
            ("ReturnValuesOnConditionCheckFailure", Str),
            ("Expected", Obj),
            ("AttributeUpdates", Obj),
            ("ConditionalOperator", Str),
        ],
        GetItem => &[
            ("TableName", Str),
            ("Key", Obj),
            ("ProjectionExpression", Str),
            ("ConsistentRead", Bool),
            ("AttributesToGet", List),
        ],
        Query => &[
            ("TableName", Str),
            ("IndexName", Str),
            ("KeyConditionExpression", Str),
            ("FilterExpression", Str),
            ("ProjectionExpression", Str),
            ("Select", Str),
            ("Limit", Int),
            ("ExclusiveStartKey", Obj),
            ("ScanIndexForward", Bool),
            ("ConsistentRead", Bool),
            ("AttributesToGet", List),
            ("KeyConditions", Obj),
            ("QueryFilter", Obj),
            ("ConditionalOperator", Str),
        ],
        Scan => &[
            ("TableName", Str),
            ("IndexName", Str),
            ("FilterExpression", Str),
            ("ProjectionExpression", Str),
            ("Select", Str),
            ("Limit", Int),
            ("ExclusiveStartKey", Obj),
            ("ConsistentRead", Bool),
            ("Segment", Int),
            ("TotalSegments", Int),
            ("AttributesToGet", List),
            ("ScanFilter", Obj),
            ("ConditionalOperator", Str),
        ],
        BatchGetItem => &[("RequestItems", Obj)],
        BatchWriteItem => &[("RequestItems", Obj), ("ReturnItemCollectionMetrics", Str)],
        DescribeLimits | DescribeEndpoints => &[],
        TagResource => &[("ResourceArn", Str), ("Tags", List)],
        UntagResource => &[("ResourceArn", Str), ("TagKeys", List)],
        ListTagsOfResource => &[("ResourceArn", Str), ("NextToken", Str)],
    }
}

/// Checks the JSON type of every top-level member `op` knows.
///
/// # Errors
/// `SerializationException` for the first member of the wrong type.
pub fn check(op: Operation, body: &Map<String, Value>) -> Result<(), ApiError> {
    let p = Params::from_map(body);
    for (name, ty) in members(op).iter().chain(EXPRESSIONS) {
        match ty {
            Str => p.str(name).map(drop)?,
            Int => p.int(name).map(drop)?,
            Bool => p.bool(name).map(drop)?,
            List => p.list(name).map(drop)?,
            Obj => p.obj(name).map(drop)?,
        }
    }
    Ok(())
}
