//! Pieces shared by the operations: table handles, error mapping, the enum
//! parameters every item operation has, consumed capacity in DynamoDB's shapes.

use std::collections::HashMap;

use serde_json::{Map, Value, json};
use strata_engine::{
    CapacityMode, ConsumedCapacity, DbError, ReturnValues, ReturnValuesOnConditionCheckFailure,
    Table,
};
use strata_item::AttributeValue;

use super::Cx;
use crate::error::ApiError;
use crate::legacy::Legacy;
use crate::params::Params;

/// A handle on the table a request names (`TableName`), and how its errors map.
pub struct Target {
    /// The table.
    pub table: Table,
    /// The table's name as the caller knows it.
    pub shown: String,
    provisioned: bool,
}

impl Target {
    /// The table `TableName` names.
    pub fn of(cx: &Cx<'_>, p: &Params<'_>) -> Result<Target, ApiError> {
        let name = p.req_str("TableName", "tableName")?;
        let engine = cx.ns().to_engine(name)?;
        let table = cx.st.db.table(&engine).map_err(|e| match e {
            DbError::TableNotFound { .. } => ApiError::not_found("Requested resource not found"),
            e => ApiError::from_db(e, false),
        })?;
        let provisioned = matches!(table.spec().capacity, CapacityMode::Provisioned { .. });
        Ok(Target {
            table,
            shown: name.to_owned(),
            provisioned,
        })
    }

    /// Adds `ConsumedCapacity` (under the caller's table name) when asked for.
    pub fn add_capacity(&self, out: &mut Map<String, Value>, c: &ConsumedCapacity, rcc: Rcc) {
        if let Some(v) = capacity_json(c, rcc, &self.shown) {
            out.insert("ConsumedCapacity".into(), v);
        }
    }

    /// Maps an engine error of an operation on this table.
    pub fn err(&self, e: DbError) -> ApiError {
        ApiError::from_db(e, self.provisioned)
    }
}

/// `ReturnConsumedCapacity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rcc {
    /// `NONE` (the default).
    None,
    /// `TOTAL`.
    Total,
    /// `INDEXES`.
    Indexes,
}

/// Reads `ReturnConsumedCapacity`.
pub fn rcc(p: &Params<'_>) -> Result<Rcc, ApiError> {
    Ok(
        match p.enum_str(
            "ReturnConsumedCapacity",
            "returnConsumedCapacity",
            &["INDEXES", "TOTAL", "NONE"],
        )? {
            Some("INDEXES") => Rcc::Indexes,
            Some("TOTAL") => Rcc::Total,
            _ => Rcc::None,
        },
    )
}

/// Reads `ReturnItemCollectionMetrics`: whether `SIZE` was asked for.
pub fn ricm(p: &Params<'_>) -> Result<bool, ApiError> {
    Ok(p.enum_str(
        "ReturnItemCollectionMetrics",
        "returnItemCollectionMetrics",
        &["SIZE", "NONE"],
    )?
    .is_some_and(|s| s == "SIZE"))
}

/// `ItemCollectionMetrics` of the collection of `table`'s partition key value in
/// `key_source` (an item or a key), for a table with local secondary indexes; `None`
/// otherwise. Computed after a write succeeded: a failure to measure is logged and the
/// metrics left out, never reported as a failed write.
pub fn collection_metrics(table: &Table, key_source: &strata_item::Item) -> Option<Value> {
    let spec = table.spec();
    if spec.local_secondary_indexes.is_empty() {
        return None;
    }
    let name = &spec.key_schema.partition_key.name;
    let value = key_source.get(name)?;
    match table.item_collection_bytes(value) {
        Ok(bytes) => {
            // DynamoDB's estimate is a range in GB; the size is exact here, so the
            // range is the whole GB it falls in.
            let gb = (bytes as f64 / f64::from(1u32 << 30)).floor();
            let mut key = Map::new();
            key.insert(name.clone(), value.to_dynamo_json());
            Some(json!({"ItemCollectionKey": key, "SizeEstimateRangeGB": [gb, gb + 1.0]}))
        }
        Err(e) => {
            tracing::warn!(table = table.name(), error = %e, "measuring an item collection");
            None
        }
    }
}

/// Consumed capacity in DynamoDB's shape (under the table name `shown`), or `None`
/// for `NONE`.
pub fn capacity_json(c: &ConsumedCapacity, rcc: Rcc, shown: &str) -> Option<Value> {
    let mut m = Map::new();
    m.insert("TableName".into(), json!(shown));
    m.insert("CapacityUnits".into(), json!(c.capacity_units));
    match rcc {
        Rcc::None => return None,
        Rcc::Total => {}
        Rcc::Indexes => {
            m.insert(
                "Table".into(),
                json!({"CapacityUnits": c.table_capacity_units}),
            );
            let units = |idx: &std::collections::BTreeMap<String, f64>| -> Value {
                Value::Object(
                    idx.iter()
                        .map(|(k, v)| (k.clone(), json!({"CapacityUnits": v})))
                        .collect(),
                )
            };
            if !c.local_secondary_indexes.is_empty() {
                m.insert(
                    "LocalSecondaryIndexes".into(),
                    units(&c.local_secondary_indexes),
                );
            }
            if !c.global_secondary_indexes.is_empty() {
                m.insert(
                    "GlobalSecondaryIndexes".into(),
                    units(&c.global_secondary_indexes),
                );
            }
        }
    }
    Some(Value::Object(m))
}

/// Reads `ReturnValues` (any of the five; the engine refuses those an operation does
/// not allow).
pub fn return_values(p: &Params<'_>) -> Result<ReturnValues, ApiError> {
    Ok(
        match p.enum_str(
            "ReturnValues",
            "returnValues",
            &["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"],
        )? {
            Some("ALL_OLD") => ReturnValues::AllOld,
            Some("UPDATED_OLD") => ReturnValues::UpdatedOld,
            Some("ALL_NEW") => ReturnValues::AllNew,
            Some("UPDATED_NEW") => ReturnValues::UpdatedNew,
            _ => ReturnValues::None,
        },
    )
}

/// Reads `ReturnValuesOnConditionCheckFailure`.
pub fn on_failure(p: &Params<'_>) -> Result<ReturnValuesOnConditionCheckFailure, ApiError> {
    Ok(
        match p.enum_str(
            "ReturnValuesOnConditionCheckFailure",
            "returnValuesOnConditionCheckFailure",
            &["ALL_OLD", "NONE"],
        )? {
            Some("ALL_OLD") => ReturnValuesOnConditionCheckFailure::AllOld,
            _ => ReturnValuesOnConditionCheckFailure::None,
        },
    )
}

/// The placeholders of a request: `ExpressionAttributeNames` and
/// `ExpressionAttributeValues`, refused when the request has none of the expression
/// parameters in `expressions` (DynamoDB's rule), plus those of legacy translations.
pub struct Placeholders {
    /// Names.
    pub names: HashMap<String, String>,
    /// Values.
    pub values: HashMap<String, AttributeValue>,
    /// Translations of legacy parameters add their placeholders here.
    pub legacy: Legacy,
}

impl Placeholders {
    /// Reads the request's placeholders.
    pub fn read(p: &Params<'_>, expressions: &[&str]) -> Result<Placeholders, ApiError> {
        let names = p.names()?;
        let values = p.values()?;
        let any_expression = expressions.iter().any(|e| p.has(e));
        if !any_expression && p.has("ExpressionAttributeNames") {
            return Err(ApiError::validation(
                "ExpressionAttributeNames can only be specified when using expressions",
            ));
        }
        if !any_expression && p.has("ExpressionAttributeValues") {
            return Err(ApiError::validation(
                "ExpressionAttributeValues can only be specified when using expressions",
            ));
        }
        Ok(Placeholders {
            names,
            values,
            legacy: Legacy::default(),
        })
    }

    /// Names and values of the request and of the legacy translations together.
    pub fn finish(self) -> (HashMap<String, String>, HashMap<String, AttributeValue>) {
        let (mut names, mut values) = (self.names, self.values);
        names.extend(self.legacy.names);
        values.extend(self.legacy.values);
        (names, values)
    }
}

/// The condition of a write: `ConditionExpression`, or `Expected` with
/// `ConditionalOperator` translated.
pub fn write_condition(p: &Params<'_>, ph: &mut Placeholders) -> Result<Option<String>, ApiError> {
    crate::legacy::check_not_mixed(
        p,
        &["Expected", "ConditionalOperator", "AttributeUpdates"],
        &[
            "ConditionExpression",
            "UpdateExpression",
            "ExpressionAttributeNames",
            "ExpressionAttributeValues",
        ],
    )?;
    if let Some(c) = p.str("ConditionExpression")? {
        return Ok(Some(c.to_owned()));
    }
    match p.map("Expected")? {
        Some(expected) => ph.legacy.expected(expected, p.str("ConditionalOperator")?),
        None if p.has("ConditionalOperator") => Err(ApiError::validation(
            "ConditionalOperator can only be used when Filter or Expected has two or more elements",
        )),
        None => Ok(None),
    }
}

/// The projection of a read: `ProjectionExpression`, or `AttributesToGet` translated.
pub fn read_projection(p: &Params<'_>, ph: &mut Placeholders) -> Result<Option<String>, ApiError> {
    if let Some(e) = p.str("ProjectionExpression")? {
        return Ok(Some(e.to_owned()));
    }
    match p.str_list("AttributesToGet")? {
        Some(attrs) => ph.legacy.projection(&attrs).map(Some),
        None => Ok(None),
    }
}

/// Puts `item` under `name` when present.
pub fn put_item_member(out: &mut Map<String, Value>, name: &str, item: Option<&strata_item::Item>) {
    if let Some(i) = item {
        out.insert(name.into(), i.to_dynamo_json());
    }
}
