//! `PutItem`, `GetItem`, `UpdateItem`, `DeleteItem`.

use serde_json::{Map, Value};
use strata_engine::{DeleteOptions, GetOptions, PutOptions, UpdateOptions};

use super::Cx;
use super::common::{
    Placeholders, Target, collection_metrics, on_failure, put_item_member, rcc, read_projection,
    return_values, ricm, write_condition,
};
use crate::error::ApiError;
use crate::legacy::check_not_mixed;
use crate::params::Params;

/// Adds `ItemCollectionMetrics` when they were asked for and the table has LSIs.
fn add_metrics(m: &mut Map<String, Value>, t: &Target, key_source: Option<&strata_item::Item>) {
    if let Some(v) = key_source.and_then(|k| collection_metrics(&t.table, k)) {
        m.insert("ItemCollectionMetrics".into(), v);
    }
}

pub fn put_item(cx: &Cx<'_>, p: &Params<'_>) -> Result<Value, ApiError> {
    let t = Target::of(cx, p)?;
    let item = p.item("Item")?.ok_or_else(|| ApiError::missing("item"))?;
    let rcc = rcc(p)?;
    let metrics = ricm(p)?;
    let key_source = metrics.then(|| item.clone());
    let mut ph = Placeholders::read(p, &["ConditionExpression"])?;
    let condition = write_condition(p, &mut ph)?;
    let (names, values) = ph.finish();
    let opts = PutOptions {
        condition: condition.map(Into::into),
        names,
        values,
        return_values: return_values(p)?,
        return_values_on_condition_check_failure: on_failure(p)?,
    };
    let out = t.table.put_item(item, opts).map_err(|e| t.err(e))?;
    let mut m = Map::new();
    put_item_member(&mut m, "Attributes", out.attributes.as_ref());
    t.add_capacity(&mut m, &out.consumed_capacity, rcc);
    add_metrics(&mut m, &t, key_source.as_ref());
    Ok(Value::Object(m))
}

pub fn get_item(cx: &Cx<'_>, p: &Params<'_>) -> Result<Value, ApiError> {
    let t = Target::of(cx, p)?;
    let key = p.item("Key")?.ok_or_else(|| ApiError::missing("key"))?;
    let rcc = rcc(p)?;
    check_not_mixed(
        p,
        &["AttributesToGet"],
        &["ProjectionExpression", "ExpressionAttributeNames"],
    )?;
    let mut ph = Placeholders::read(p, &["ProjectionExpression"])?;
    let projection = read_projection(p, &mut ph)?;
    let (names, _) = ph.finish();
    let opts = GetOptions {
        projection: projection.map(Into::into),
        names,
        consistent_read: p.bool("ConsistentRead")?.unwrap_or(false),
    };
    let out = t.table.get_item(key, opts).map_err(|e| t.err(e))?;
    let mut m = Map::new();
    put_item_member(&mut m, "Item", out.item.as_ref());
    t.add_capacity(&mut m, &out.consumed_capacity, rcc);
    Ok(Value::Object(m))
}

pub fn update_item(cx: &Cx<'_>, p: &Params<'_>) -> Result<Value, ApiError> {
    let t = Target::of(cx, p)?;
    let key = p.item("Key")?.ok_or_else(|| ApiError::missing("key"))?;
    let rcc = rcc(p)?;
    let key_source = ricm(p)?.then(|| key.clone());
    let mut ph = Placeholders::read(p, &["ConditionExpression", "UpdateExpression"])?;
    let condition = write_condition(p, &mut ph)?;
    let update = match p.str("UpdateExpression")? {
        Some(u) => Some(u.to_owned()),
        None => match p.map("AttributeUpdates")? {
            Some(u) => ph.legacy.attribute_updates(u)?,
            None => None,
        },
    };
    let (names, values) = ph.finish();
    let opts = UpdateOptions {
        update: update.map(Into::into),
        condition: condition.map(Into::into),
        names,
        values,
        return_values: return_values(p)?,
        return_values_on_condition_check_failure: on_failure(p)?,
    };
    let out = t.table.update_item(key, opts).map_err(|e| t.err(e))?;
    let mut m = Map::new();
    put_item_member(&mut m, "Attributes", out.attributes.as_ref());
    t.add_capacity(&mut m, &out.consumed_capacity, rcc);
    add_metrics(&mut m, &t, key_source.as_ref());
    Ok(Value::Object(m))
}

pub fn delete_item(cx: &Cx<'_>, p: &Params<'_>) -> Result<Value, ApiError> {
    let t = Target::of(cx, p)?;
    let key = p.item("Key")?.ok_or_else(|| ApiError::missing("key"))?;
    let rcc = rcc(p)?;
    let key_source = ricm(p)?.then(|| key.clone());
    let mut ph = Placeholders::read(p, &["ConditionExpression"])?;
    let condition = write_condition(p, &mut ph)?;
    let (names, values) = ph.finish();
    let opts = DeleteOptions {
        condition: condition.map(Into::into),
        names,
        values,
        return_values: return_values(p)?,
        return_values_on_condition_check_failure: on_failure(p)?,
    };
    let out = t.table.delete_item(key, opts).map_err(|e| t.err(e))?;
    let mut m = Map::new();
    put_item_member(&mut m, "Attributes", out.attributes.as_ref());
    t.add_capacity(&mut m, &out.consumed_capacity, rcc);
    add_metrics(&mut m, &t, key_source.as_ref());
    Ok(Value::Object(m))
}
