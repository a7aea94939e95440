//! `batch_get_item` and `batch_write_item`: validated as a whole first (nothing is read
//! or written when any request is invalid), then executed per partition. A batch write
//! is atomic within each partition (one WAL batch per partition touched), not across
//! partitions or tables, as in DynamoDB.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use strata_item::Item;

use super::capacity::{ConsumedCapacity, OpKind, read_units};
use super::core::TableCore;
use super::error::DbError;
use super::options::{BatchGetOutput, BatchGetRequest, BatchWriteOutput, KeyInput, WriteRequest};
use super::partition::Mutation;
use super::request::{self, Exprs};
use super::write::{Located, locate, resolve_key, validate_for_write};

/// Most keys in one `batch_get_item`.
pub const MAX_BATCH_GET_KEYS: usize = 100;
/// Most requests in one `batch_write_item`.
pub const MAX_BATCH_WRITE_REQUESTS: usize = 25;
/// Response size after which the remaining keys are returned unprocessed.
pub const MAX_BATCH_GET_RESPONSE_BYTES: usize = 16 << 20;

pub(crate) fn batch_get(
    tables: &[(Arc<TableCore>, BatchGetRequest)],
) -> Result<BatchGetOutput, DbError> {
    let count: usize = tables.iter().map(|(_, r)| r.keys.len()).sum();
    if count > MAX_BATCH_GET_KEYS {
        return Err(DbError::TooManyBatchItems {
            operation: "BatchGetItem",
            count,
            max: MAX_BATCH_GET_KEYS,
        });
    }
    if count == 0 {
        return Err(DbError::invalid(
            "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    // Validate everything first.
    let mut plans = Vec::with_capacity(tables.len());
    for (core, req) in tables {
        if req.keys.is_empty() {
            return Err(DbError::invalid(format!(
                "1 validation error detected: the key list of table {} must have at least 1 key",
                core.name()
            )));
        }
        let parsed = request::parse(
            &req.names,
            &Default::default(),
            Exprs {
                projection: req.projection.as_ref(),
                ..Exprs::default()
            },
        )?;
        let mut seen = HashSet::new();
        let mut locs = Vec::with_capacity(req.keys.len());
        for k in &req.keys {
            let loc = locate(core, resolve_key(core, k.clone())?)?;
            if !seen.insert(loc.base_key.clone()) {
                return Err(DbError::DuplicateBatchKeys {
                    table: core.name().to_owned(),
                });
            }
            locs.push((loc, k.clone()));
        }
        plans.push((core, req, parsed.projection, locs));
    }
    let mut out = BatchGetOutput::default();
    let mut bytes = 0usize;
    for (core, req, projection, locs) in plans {
        let parts = core.partitions()?;
        core.admit(None, OpKind::Read)?;
        let mut cap = ConsumedCapacity::new(core.name());
        let mut found = Vec::new();
        let mut unprocessed: Vec<KeyInput> = Vec::new();
        for (loc, original) in locs {
            if bytes >= MAX_BATCH_GET_RESPONSE_BYTES {
                unprocessed.push(original);
                continue;
            }
            let item = parts[loc.partition as usize].read(core, &loc.base_key, None)?;
            cap.add_table_read(read_units(
                item.as_ref().map_or(0, Item::size),
                req.consistent_read,
            ));
            if let Some(i) = item {
                bytes += i.size();
                found.push(match &projection {
                    Some(p) => p.apply(&i),
                    None => i,
                });
            }
        }
        core.charge(None, OpKind::Read, &cap);
        out.consumed_capacity.push(cap);
        out.responses.insert(core.name().to_owned(), found);
        if !unprocessed.is_empty() {
            out.unprocessed_keys.insert(
                core.name().to_owned(),
                BatchGetRequest {
                    keys: unprocessed,
                    projection: req.projection.clone(),
                    names: req.names.clone(),
                    consistent_read: req.consistent_read,
                },
            );
        }
    }
    Ok(out)
}

/// A table's validated write requests, grouped by partition: key and new item (`None`
/// deletes).
type ByPartition = BTreeMap<u32, Vec<(Located, Option<Item>)>>;

pub(crate) fn batch_write(
    tables: Vec<(Arc<TableCore>, Vec<WriteRequest>)>,
) -> Result<BatchWriteOutput, DbError> {
    let count: usize = tables.iter().map(|(_, r)| r.len()).sum();
    if count > MAX_BATCH_WRITE_REQUESTS {
        return Err(DbError::TooManyBatchItems {
            operation: "BatchWriteItem",
            count,
            max: MAX_BATCH_WRITE_REQUESTS,
        });
    }
    if count == 0 {
        return Err(DbError::invalid(
            "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    // Validate everything first; group by partition.
    let mut plans: Vec<(Arc<TableCore>, ByPartition)> = Vec::new();
    for (core, reqs) in tables {
        if reqs.is_empty() {
            return Err(DbError::invalid(format!(
                "1 validation error detected: the request list of table {} must have at least 1 request",
                core.name()
            )));
        }
        let mut seen = HashSet::new();
        let mut by_partition = ByPartition::new();
        for r in reqs {
            let (key, new) = match r {
                WriteRequest::Put(item) => (validate_for_write(&core, &item)?, Some(item)),
                WriteRequest::Delete(k) => (resolve_key(&core, k)?, None),
            };
            let loc = locate(&core, key)?;
            if !seen.insert(loc.base_key.clone()) {
                return Err(DbError::DuplicateBatchKeys {
                    table: core.name().to_owned(),
                });
            }
            by_partition
                .entry(loc.partition)
                .or_default()
                .push((loc, new));
        }
        plans.push((core, by_partition));
    }
    let mut out = BatchWriteOutput::default();
    for (core, by_partition) in plans {
        let parts = core.partitions()?;
        let mut cap = ConsumedCapacity::new(core.name());
        for (p, items) in by_partition {
            let muts: Vec<Mutation<'_>> = items
                .into_iter()
                .map(|(loc, new)| Mutation {
                    key: loc.key,
                    hashed: loc.hashed,
                    base_key: loc.base_key,
                    decide: Box::new(move |_old| Ok(new)),
                })
                .collect();
            for a in parts[p as usize].apply(&core, muts)? {
                cap.merge(&a.capacity);
            }
        }
        out.consumed_capacity.push(cap);
    }
    Ok(out)
}
