//! `CreateTable`, `DescribeTable`, `ListTables`, `DeleteTable`, `UpdateTable`.

use serde_json::{Map, Value, json};
use strata_engine::{CapacityMode, DbError, IndexStatus, ItemStats, TableDescription, TableUpdate};

use super::Cx;
use super::meta::{add_tags, read_tags};
use crate::describe::{
    TableStatus, attribute_definitions, billing, gsi_spec, on_demand_throughput,
    provisioned_throughput, table_description, table_spec,
};
use crate::error::ApiError;
use crate::params::Params;

fn db_err(e: DbError) -> ApiError {
    ApiError::from_db(e, false)
}

fn describe_json(cx: &Cx<'_>, d: &TableDescription, status: TableStatus) -> Value {
    describe_counted(cx, d, status, &ItemStats::default())
}

fn describe_counted(
    cx: &Cx<'_>,
    d: &TableDescription,
    status: TableStatus,
    counts: &ItemStats,
) -> Value {
    table_description(d, cx.ns().shown(&d.spec.name), status, &cx.st.loc, counts)
}

/// The table's item count and size, counted at most `DbOptions::item_stats_max_age` ago.
fn counts(cx: &Cx<'_>, engine_name: &str) -> Result<ItemStats, ApiError> {
    cx.st
        .db
        .table(engine_name)
        .and_then(|t| t.item_stats_cached())
        .map_err(db_err)
}

/// Refuses `StreamSpecification` with streams enabled (streams are a later issue).
fn no_streams(p: &Params<'_>) -> Result<(), ApiError> {
    if let Some(s) = p.obj("StreamSpecification")?
        && s.bool("StreamEnabled")? == Some(true)
    {
        return Err(ApiError::validation(
            "One or more parameter values were invalid: Streams are not supported by this server yet (StreamEnabled must be false)",
        ));
    }
    Ok(())
}

pub fn create_table(cx: &Cx<'_>, p: &Params<'_>) -> Result<Value, ApiError> {
    let shown = p.req_str("TableName", "tableName")?;
    let engine = cx.ns().to_engine(shown)?;
    let name = engine.as_str();
    // The name first, with DynamoDB's message (the engine's lookup checks it).
    if let Err(e) = cx.st.db.describe_table(name)
        && e.is_validation()
    {
        return Err(db_err(e));
    }
    let spec = table_spec(p, name)?;
    no_streams(p)?;
    let tags = read_tags(p)?;
    // Checked before the table exists, so that a refused tag list creates nothing.
    super::meta::check_tag_count(&tags)?;
    let d = cx.st.db.create_table(spec).map_err(db_err)?;
    if !tags.is_empty() {
        add_tags(cx.st, name, tags)?;
    }
    Ok(json!({"TableDescription": describe_json(cx, &d, TableStatus::Active)}))
}

pub fn describe_table(cx: &Cx<'_>, p: &Params<'_>) -> Result<Value, ApiError> {
    let name = cx.ns().to_engine(p.req_str("TableName", "tableName")?)?;
    let d = cx.st.db.describe_table(&name).map_err(db_err)?;
    let counts = counts(cx, &name)?;
    Ok(json!({"Table": describe_counted(cx, &d, TableStatus::Active, &counts)}))
}

pub fn delete_table(cx: &Cx<'_>, p: &Params<'_>) -> Result<Value, ApiError> {
    let name = cx.ns().to_engine(p.req_str("TableName", "tableName")?)?;
    let d = cx.st.db.delete_table(&name).map_err(db_err)?;
    Ok(json!({"TableDescription": describe_json(cx, &d, TableStatus::Deleting)}))
}

pub fn list_tables(cx: &Cx<'_>, p: &Params<'_>) -> Result<Value, ApiError> {
    let start = p.str("ExclusiveStartTableName")?;
    let limit = match p.int("Limit")? {
        None => 100,
        Some(n) if (1..=100).contains(&n) => usize::try_from(n).unwrap_or(100),
        Some(n) => {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{n}' at 'limit' failed to satisfy constraint: Member must have value {} 100",
                if n < 1 {
                    "greater than or equal to 1 and less than or equal to"
                } else {
                    "less than or equal to"
                }
            )));
        }
    };
    let names = cx.st.db.list_tables().map_err(db_err)?;
    // The caller's names, in order (a namespace prefix keeps the engine's order).
    let rest: Vec<&str> = names
        .iter()
        .filter_map(|n| cx.ns().to_user(n))
        .filter(|n| start.is_none_or(|s| *n > s))
        .collect();
    let page: Vec<&str> = rest.iter().take(limit).copied().collect();
    let mut m = Map::new();
    m.insert("TableNames".into(), json!(page));
    if rest.len() > limit
        && let Some(last) = page.last()
    {
        m.insert("LastEvaluatedTableName".into(), json!(last));
    }
    Ok(Value::Object(m))
}

pub fn update_table(cx: &Cx<'_>, p: &Params<'_>) -> Result<Value, ApiError> {
    let engine = cx.ns().to_engine(p.req_str("TableName", "tableName")?)?;
    let name = engine.as_str();
    let current = cx.st.db.describe_table(name).map_err(db_err)?;
    no_streams(p)?;
    let mut updates = Vec::new();
    let was = current.spec.capacity;
    let default_mode = if was == CapacityMode::OnDemand {
        "PAY_PER_REQUEST"
    } else {
        "PROVISIONED"
    };
    if (p.has("BillingMode") || p.has("ProvisionedThroughput"))
        && let Some(mode) = billing(p, default_mode)?
    {
        updates.push(TableUpdate::capacity(mode));
    }
    if let Some(t) = on_demand_throughput(p)? {
        updates.push(TableUpdate::on_demand_throughput(t));
    }
    let gsi_updates = p
        .obj_list("GlobalSecondaryIndexUpdates")?
        .unwrap_or_default();
    let mut index_changes = 0;
    for u in &gsi_updates {
        if let Some(c) = u.obj("Create")? {
            index_changes += 1;
            let defs = attribute_definitions(p)?;
            let mut used = Vec::new();
            let g = gsi_spec(
                &c,
                "globalSecondaryIndexUpdates.member.create",
                &defs,
                &mut used,
            )?;
            updates.push(TableUpdate::add_gsi(g));
        } else if let Some(d) = u.obj("Delete")? {
            index_changes += 1;
            let index = d.req_str(
                "IndexName",
                "globalSecondaryIndexUpdates.member.delete.indexName",
            )?;
            updates.push(TableUpdate::remove_gsi(index));
        } else if let Some(up) = u.obj("Update")? {
            let index = up.req_str(
                "IndexName",
                "globalSecondaryIndexUpdates.member.update.indexName",
            )?;
            let t = provisioned_throughput(
                &up,
                "globalSecondaryIndexUpdates.member.update.provisionedThroughput",
            )?
            .ok_or_else(|| {
                ApiError::missing("globalSecondaryIndexUpdates.member.update.provisionedThroughput")
            })?;
            updates.push(TableUpdate::gsi_throughput(index, t));
        } else {
            return Err(ApiError::validation(
                "One or more parameter values were invalid: One of GlobalSecondaryIndexUpdate.Create, GlobalSecondaryIndexUpdate.Update, or GlobalSecondaryIndexUpdate.Delete must be specified",
            ));
        }
    }
    if index_changes > 1 {
        return Err(ApiError::validation(
            "One or more parameter values were invalid: Only one global secondary index can be created or deleted per UpdateTable call",
        ));
    }
    if updates.is_empty() {
        return Err(ApiError::validation(
            "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required",
        ));
    }
    for u in updates {
        cx.st.db.update_table(name, u).map_err(db_err)?;
    }
    let d = cx.st.db.describe_table(name).map_err(db_err)?;
    let creating = d
        .global_secondary_indexes
        .iter()
        .any(|g| g.status == IndexStatus::Creating);
    let status = if creating {
        TableStatus::Updating
    } else {
        TableStatus::Active
    };
    let counts = counts(cx, name)?;
    Ok(json!({"TableDescription": describe_counted(cx, &d, status, &counts)}))
}
