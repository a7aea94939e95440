//! `Query` and `Scan`.

use serde_json::{Map, Value, json};
use strata_engine::{QueryOptions, QueryOutput, ScanOptions, Select};

use super::Cx;
use super::common::{Placeholders, Target, rcc, read_projection};
use crate::error::ApiError;
use crate::legacy::check_not_mixed;
use crate::params::Params;

/// What Query and Scan share.
struct Common {
    index: Option<String>,
    filter: Option<String>,
    projection: Option<String>,
    select: Option<Select>,
    limit: Option<usize>,
    start: Option<strata_item::Item>,
    consistent: bool,
}

fn select(p: &Params<'_>) -> Result<Option<Select>, ApiError> {
    Ok(
        match p.enum_str(
            "Select",
            "select",
            &[
                "ALL_ATTRIBUTES",
                "ALL_PROJECTED_ATTRIBUTES",
                "SPECIFIC_ATTRIBUTES",
                "COUNT",
            ],
        )? {
            Some("ALL_ATTRIBUTES") => Some(Select::AllAttributes),
            Some("ALL_PROJECTED_ATTRIBUTES") => Some(Select::AllProjectedAttributes),
            Some("SPECIFIC_ATTRIBUTES") => Some(Select::SpecificAttributes),
            Some(_) => Some(Select::Count),
            None => None,
        },
    )
}

/// A positive integer member (`Limit`, `TotalSegments`), with DynamoDB's message.
fn positive(p: &Params<'_>, name: &str, member: &str) -> Result<Option<i64>, ApiError> {
    match p.int(name)? {
        Some(n) if n < 1 => Err(ApiError::validation(format!(
            "1 validation error detected: Value '{n}' at '{member}' failed to satisfy constraint: Member must have value greater than or equal to 1"
        ))),
        other => Ok(other),
    }
}

fn common(p: &Params<'_>, ph: &mut Placeholders, legacy_filter: &str) -> Result<Common, ApiError> {
    check_not_mixed(
        p,
        &[
            "AttributesToGet",
            legacy_filter,
            "ConditionalOperator",
            "KeyConditions",
        ],
        &[
            "ProjectionExpression",
            "FilterExpression",
            "KeyConditionExpression",
            "ExpressionAttributeNames",
            "ExpressionAttributeValues",
        ],
    )?;
    let projection = read_projection(p, ph)?;
    let filter = match p.str("FilterExpression")? {
        Some(f) => Some(f.to_owned()),
        None => match p.map(legacy_filter)? {
            Some(f) => ph.legacy.filter(f, p.str("ConditionalOperator")?)?,
            None => None,
        },
    };
    let select = select(p)?;
    if p.has("AttributesToGet") && select.is_some_and(|s| s != Select::SpecificAttributes) {
        return Err(ApiError::validation(
            "One or more parameter values were invalid: Cannot specify the AttributesToGet when choosing to get ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES or COUNT",
        ));
    }
    let limit = positive(p, "Limit", "limit")?.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    let start = p.item("ExclusiveStartKey")?;
    Ok(Common {
        index: p.str("IndexName")?.map(str::to_owned),
        filter,
        projection,
        select,
        limit,
        start,
        consistent: p.bool("ConsistentRead")?.unwrap_or(false),
    })
}

fn page_json(t: &Target, out: &QueryOutput, counting: bool, rcc: super::common::Rcc) -> Value {
    let mut m = Map::new();
    if !counting {
        m.insert(
            "Items".into(),
            Value::Array(out.items.iter().map(|i| i.to_dynamo_json()).collect()),
        );
    }
    m.insert("Count".into(), json!(out.count));
    m.insert("ScannedCount".into(), json!(out.scanned_count));
    if let Some(k) = &out.last_evaluated_key {
        m.insert("LastEvaluatedKey".into(), k.to_dynamo_json());
    }
    t.add_capacity(&mut m, &out.consumed_capacity, rcc);
    Value::Object(m)
}

pub fn query(cx: &Cx<'_>, p: &Params<'_>) -> Result<Value, ApiError> {
    let t = Target::of(cx, p)?;
    let rcc = rcc(p)?;
    let mut ph = Placeholders::read(
        p,
        &[
            "KeyConditionExpression",
            "FilterExpression",
            "ProjectionExpression",
        ],
    )?;
    let c = common(p, &mut ph, "QueryFilter")?;
    let key_condition = match p.str("KeyConditionExpression")? {
        Some(k) => k.to_owned(),
        None => match p.map("KeyConditions")? {
            Some(k) => ph.legacy.key_conditions(k)?,
            None => {
                return Err(ApiError::validation(
                    "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
                ));
            }
        },
    };
    let (names, values) = ph.finish();
    let opts = QueryOptions {
        index_name: c.index,
        filter: c.filter.map(Into::into),
        projection: c.projection.map(Into::into),
        select: c.select,
        names,
        values,
        scan_index_forward: p.bool("ScanIndexForward")?.unwrap_or(true),
        limit: c.limit,
        exclusive_start_key: c.start,
        consistent_read: c.consistent,
    };
    let out = t.table.query(key_condition, opts).map_err(|e| t.err(e))?;
    Ok(page_json(&t, &out, c.select == Some(Select::Count), rcc))
}

pub fn scan(cx: &Cx<'_>, p: &Params<'_>) -> Result<Value, ApiError> {
    let t = Target::of(cx, p)?;
    let rcc = rcc(p)?;
    let mut ph = Placeholders::read(p, &["FilterExpression", "ProjectionExpression"])?;
    let c = common(p, &mut ph, "ScanFilter")?;
    let total = positive(p, "TotalSegments", "totalSegments")?;
    let segment = match p.int("Segment")? {
        Some(n) if n < 0 => {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{n}' at 'segment' failed to satisfy constraint: Member must have value greater than or equal to 0"
            )));
        }
        other => other,
    };
    let to_u32 = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
    let (names, values) = ph.finish();
    let opts = ScanOptions {
        index_name: c.index,
        filter: c.filter.map(Into::into),
        projection: c.projection.map(Into::into),
        select: c.select,
        names,
        values,
        limit: c.limit,
        exclusive_start_key: c.start,
        segment: segment.map(to_u32),
        total_segments: total.map(to_u32),
        consistent_read: c.consistent,
    };
    let out = t.table.scan(opts).map_err(|e| t.err(e))?;
    Ok(page_json(&t, &out, c.select == Some(Select::Count), rcc))
}
