//! `BatchGetItem` and `BatchWriteItem`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use strata_engine::{BatchGetRequest, CapacityMode, KeyInput, WriteRequest};

use super::Cx;
use super::common::{
    Placeholders, Rcc, capacity_json, collection_metrics, rcc, read_projection, ricm,
};
use crate::error::ApiError;
use crate::legacy::check_not_mixed;
use crate::params::{Params, item_of};

/// Whether any of the named (engine) tables is provisioned (for mapping a throttle).
fn any_provisioned<'a>(cx: &Cx<'_>, names: impl Iterator<Item = &'a String>) -> bool {
    names
        .filter_map(|n| cx.st.db.table(n).ok())
        .any(|t| matches!(t.spec().capacity, CapacityMode::Provisioned { .. }))
}

fn request_items<'a>(p: &Params<'a>) -> Result<&'a Map<String, Value>, ApiError> {
    let items = p
        .map("RequestItems")?
        .ok_or_else(|| ApiError::missing("requestItems"))?;
    if items.is_empty() {
        return Err(ApiError::validation(
            "1 validation error detected: Value '{}' at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    Ok(items)
}

fn capacities(cx: &Cx<'_>, list: &[strata_engine::ConsumedCapacity], rcc: Rcc) -> Option<Value> {
    let v: Vec<Value> = list
        .iter()
        .filter_map(|c| capacity_json(c, rcc, cx.ns().shown(&c.table_name)))
        .collect();
    (rcc != Rcc::None).then_some(Value::Array(v))
}

pub fn batch_get_item(cx: &Cx<'_>, p: &Params<'_>) -> Result<Value, ApiError> {
    let rcc = rcc(p)?;
    let items = request_items(p)?;
    let mut requests = Vec::with_capacity(items.len());
    // The request of each table as given, to send back unprocessed keys with.
    let mut given: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for (table, v) in items {
        let r = Params::root(v)?;
        check_not_mixed(
            &r,
            &["AttributesToGet"],
            &["ProjectionExpression", "ExpressionAttributeNames"],
        )?;
        let keys = r
            .list("Keys")?
            .ok_or_else(|| ApiError::missing("requestItems.member.keys"))?;
        if keys.is_empty() {
            return Err(ApiError::validation(
                "1 validation error detected: Value '[]' at 'requestItems.member.keys' failed to satisfy constraint: Member must have length greater than or equal to 1",
            ));
        }
        let keys = keys
            .iter()
            .map(|k| item_of(k).map(KeyInput::Map))
            .collect::<Result<Vec<_>, _>>()?;
        let mut ph = Placeholders::read(&r, &["ProjectionExpression"])?;
        let projection = read_projection(&r, &mut ph)?;
        let (names, _) = ph.finish();
        requests.push((
            cx.ns().to_engine(table)?,
            BatchGetRequest {
                keys,
                projection: projection.map(Into::into),
                names,
                consistent_read: r.bool("ConsistentRead")?.unwrap_or(false),
            },
        ));
        if let Value::Object(m) = v {
            given.insert(cx.ns().to_engine(table)?, m.clone());
        }
    }
    let provisioned = any_provisioned(cx, requests.iter().map(|(n, _)| n));
    let out = cx.st.db.batch_get_item(requests).map_err(|e| match e {
        strata_engine::DbError::TableNotFound { .. } => {
            ApiError::not_found("Requested resource not found")
        }
        e => ApiError::from_db(e, provisioned),
    })?;
    let mut responses = Map::new();
    for table in items.keys() {
        let engine = cx.ns().to_engine(table)?;
        let found = out.responses.get(&engine).map_or(&[][..], Vec::as_slice);
        responses.insert(
            table.clone(),
            Value::Array(found.iter().map(|i| i.to_dynamo_json()).collect()),
        );
    }
    let mut unprocessed = Map::new();
    for (table, req) in &out.unprocessed_keys {
        let mut m = given.get(table).cloned().unwrap_or_default();
        m.insert(
            "Keys".into(),
            Value::Array(
                req.keys
                    .iter()
                    .map(|k| match k {
                        KeyInput::Map(i) => i.to_dynamo_json(),
                        KeyInput::Key(_) => Value::Null,
                    })
                    .collect(),
            ),
        );
        unprocessed.insert(cx.ns().shown(table).to_owned(), Value::Object(m));
    }
    let mut m = Map::new();
    m.insert("Responses".into(), Value::Object(responses));
    m.insert("UnprocessedKeys".into(), Value::Object(unprocessed));
    if let Some(c) = capacities(cx, &out.consumed_capacity, rcc) {
        m.insert("ConsumedCapacity".into(), c);
    }
    Ok(Value::Object(m))
}

pub fn batch_write_item(cx: &Cx<'_>, p: &Params<'_>) -> Result<Value, ApiError> {
    let rcc = rcc(p)?;
    let metrics = ricm(p)?;
    let items = request_items(p)?;
    let mut requests = Vec::with_capacity(items.len());
    for (table, v) in items {
        let Value::Array(list) = v else {
            return Err(ApiError::serialization(
                "Start of structure or map found where not expected (expected a list of write requests).",
            ));
        };
        if list.is_empty() {
            return Err(ApiError::validation(
                "1 validation error detected: Value '[]' at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to 25, Member must have length greater than or equal to 1]",
            ));
        }
        let mut writes = Vec::with_capacity(list.len());
        for w in list {
            let w = Params::root(w)?;
            match (w.obj("PutRequest")?, w.obj("DeleteRequest")?) {
                (Some(put), None) => {
                    writes.push(WriteRequest::Put(put.item("Item")?.ok_or_else(|| {
                        ApiError::missing("requestItems.member.member.putRequest.item")
                    })?))
                }
                (None, Some(del)) => writes.push(WriteRequest::Delete(KeyInput::Map(
                    del.item("Key")?.ok_or_else(|| {
                        ApiError::missing("requestItems.member.member.deleteRequest.key")
                    })?,
                ))),
                _ => {
                    return Err(ApiError::validation(
                        "One or more parameter values were invalid: A write request must contain exactly one of PutRequest and DeleteRequest",
                    ));
                }
            }
        }
        requests.push((cx.ns().to_engine(table)?, writes));
    }
    let provisioned = any_provisioned(cx, requests.iter().map(|(n, _)| n));
    let asked = metrics.then(|| requests.clone());
    let out = cx.st.db.batch_write_item(requests).map_err(|e| match e {
        strata_engine::DbError::TableNotFound { .. } => {
            ApiError::not_found("Requested resource not found")
        }
        e => ApiError::from_db(e, provisioned),
    })?;
    let mut unprocessed = Map::new();
    for (table, writes) in &out.unprocessed_items {
        let list: Vec<Value> = writes
            .iter()
            .map(|w| match w {
                WriteRequest::Put(i) => json!({"PutRequest": {"Item": i.to_dynamo_json()}}),
                WriteRequest::Delete(KeyInput::Map(k)) => {
                    json!({"DeleteRequest": {"Key": k.to_dynamo_json()}})
                }
                WriteRequest::Delete(KeyInput::Key(_)) => Value::Null,
            })
            .collect();
        unprocessed.insert(cx.ns().shown(table).to_owned(), Value::Array(list));
    }
    let mut m = Map::new();
    m.insert("UnprocessedItems".into(), Value::Object(unprocessed));
    if let Some(c) = capacities(cx, &out.consumed_capacity, rcc) {
        m.insert("ConsumedCapacity".into(), c);
    }
    if let Some(requests) = asked {
        m.insert(
            "ItemCollectionMetrics".into(),
            Value::Object(batch_metrics(cx, &requests, &out.unprocessed_items)),
        );
    }
    Ok(Value::Object(m))
}

/// `ItemCollectionMetrics` of a batch: for each table with local secondary indexes,
/// one entry per item collection the applied writes touched.
fn batch_metrics(
    cx: &Cx<'_>,
    requests: &[(String, Vec<WriteRequest>)],
    unprocessed: &BTreeMap<String, Vec<WriteRequest>>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for (table, writes) in requests {
        let Ok(handle) = cx.st.db.table(table) else {
            continue;
        };
        let spec = handle.spec();
        if spec.local_secondary_indexes.is_empty() {
            continue;
        }
        let pk = &spec.key_schema.partition_key.name;
        let left = unprocessed.get(table);
        let mut seen = Vec::new();
        let mut list = Vec::new();
        for w in writes {
            if left.is_some_and(|l| l.contains(w)) {
                continue;
            }
            let source = match w {
                WriteRequest::Put(i) | WriteRequest::Delete(KeyInput::Map(i)) => i,
                WriteRequest::Delete(KeyInput::Key(_)) => continue,
            };
            let Some(v) = source.get(pk) else { continue };
            if seen.contains(&v) {
                continue;
            }
            seen.push(v);
            list.extend(collection_metrics(&handle, source));
        }
        if !list.is_empty() {
            out.insert(cx.ns().shown(table).to_owned(), Value::Array(list));
        }
    }
    out
}
