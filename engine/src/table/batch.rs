//! `batch_get_item` and `batch_write_item`: validated as a whole first (nothing is read
//! or written when any request is invalid), then executed per partition. A batch write
//! is atomic within each partition (one WAL batch per partition touched), not across
//! partitions or tables, as in DynamoDB. Items (keys) their capacity budgets cannot
//! absorb come back unprocessed instead of failing the batch.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use strata_item::{Item, PrimaryKey};

use super::core::TableCore;
use super::error::DbError;
use super::names::validate_table_name;
use super::options::{BatchGetOutput, BatchGetRequest, BatchWriteOutput, KeyInput, WriteRequest};
use super::partition::{Applied, Begun, Mutation, OnThrottle, Partition};
use super::request::{self, Exprs};
use super::write::{Located, locate, resolve_key, validate_for_write};
use crate::capacity::{ConsumedCapacity, OpKind, read_units};

/// Most keys in one `batch_get_item`.
pub const MAX_BATCH_GET_KEYS: usize = 100;
/// Most requests in one `batch_write_item`.
pub const MAX_BATCH_WRITE_REQUESTS: usize = 25;
/// Response size after which the remaining keys are returned unprocessed.
pub const MAX_BATCH_GET_RESPONSE_BYTES: usize = 16 << 20;

/// Which batch operation [`check_batch_shape`] checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BatchKind {
    Get,
    Write,
}

/// Checks what a batch request says before any table is looked up: the table
/// names (DynamoDB's naming rule, each table once), the number of requests (at least
/// one per table, at most the limit in all). `tables` gives each table's name and
/// request count.
pub(crate) fn check_batch_shape<'a>(
    kind: BatchKind,
    tables: impl Iterator<Item = (&'a str, usize)>,
) -> Result<(), DbError> {
    let (operation, max, what) = match kind {
        BatchKind::Get => ("BatchGetItem", MAX_BATCH_GET_KEYS, "key"),
        BatchKind::Write => ("BatchWriteItem", MAX_BATCH_WRITE_REQUESTS, "request"),
    };
    let mut names: HashSet<&str> = HashSet::new();
    let mut count = 0usize;
    for (name, n) in tables {
        validate_table_name(name)?;
        if !names.insert(name) {
            return Err(DbError::invalid(format!(
                "table {name} is listed twice in the batch"
            )));
        }
        if n == 0 {
            return Err(DbError::invalid(format!(
                "1 validation error detected: the {what} list of table {name} must have at least 1 {what}"
            )));
        }
        count = count.saturating_add(n);
    }
    if count > max {
        return Err(DbError::TooManyBatchItems {
            operation,
            count,
            max,
        });
    }
    if count == 0 {
        return Err(DbError::invalid(
            "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    Ok(())
}

/// Reads a batch whose shape [`check_batch_shape`] accepted.
pub(crate) fn batch_get(
    tables: &[(Arc<TableCore>, BatchGetRequest)],
) -> Result<BatchGetOutput, DbError> {
    // Validate everything first.
    let mut plans = Vec::with_capacity(tables.len());
    for (core, req) in tables {
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
            let loc = locate(core, resolve_key(core, k)?)?;
            if !seen.insert(loc.base_key.clone()) {
                return Err(DbError::DuplicateBatchKeys {
                    table: core.name().to_owned(),
                });
            }
            locs.push((loc, k.clone()));
        }
        plans.push((core, req, parsed.projection, locs));
    }
    // Every table at once, before anything is read: a table being deleted fails the
    // whole batch.
    let guards = plans
        .iter()
        .map(|(core, ..)| core.partitions())
        .collect::<Result<Vec<_>, DbError>>()?;
    let mut out = BatchGetOutput::default();
    let mut bytes = 0usize;
    for ((core, req, projection, locs), parts) in plans.into_iter().zip(guards) {
        core.meter_admit(None, OpKind::Read)?;
        let mut cap = ConsumedCapacity::new(core.name());
        let mut found = Vec::new();
        let mut unprocessed: Vec<KeyInput> = Vec::new();
        for (loc, original) in locs {
            // A key whose table or partition read budget is in debt comes back
            // unprocessed, as DynamoDB returns throttled keys.
            if bytes >= MAX_BATCH_GET_RESPONSE_BYTES
                || core.admit_read_buckets(Some(loc.partition)).is_err()
            {
                unprocessed.push(original);
                continue;
            }
            let item = partition(core, &parts, loc.partition)?.read(core, &loc.base_key, None)?;
            let mut one = ConsumedCapacity::new(core.name());
            one.add_table_read(read_units(
                item.as_ref().map_or(0, Item::size),
                req.consistent_read,
            ));
            core.charge_read_buckets(Some(loc.partition), &one);
            cap.merge(&one);
            if let Some(i) = item {
                bytes += i.size();
                found.push(match &projection {
                    Some(p) => p.apply(&i),
                    None => i,
                });
            }
        }
        core.meter_consumed(None, OpKind::Read, &cap);
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

/// Writes a batch whose shape [`check_batch_shape`] accepted.
pub(crate) fn batch_write(
    tables: Vec<(Arc<TableCore>, Vec<WriteRequest>)>,
) -> Result<BatchWriteOutput, DbError> {
    // Validate everything first; group by partition.
    let mut cores: Vec<Arc<TableCore>> = Vec::with_capacity(tables.len());
    let mut groups: Vec<ByPartition> = Vec::with_capacity(tables.len());
    for (core, reqs) in tables {
        let mut seen = HashSet::new();
        let mut by_partition = ByPartition::new();
        for r in reqs {
            let (key, new) = match r {
                WriteRequest::Put(item) => (validate_for_write(&core, &item)?, Some(item)),
                WriteRequest::Delete(k) => (resolve_key(&core, &k)?, None),
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
        cores.push(core);
        groups.push(by_partition);
    }
    // Every table at once, before anything is written: a table being deleted (or a
    // database being closed) fails the whole batch with nothing written, and a
    // deletion waits for the batch to finish instead of cutting it in two.
    let guards = cores
        .iter()
        .map(|core| core.partitions())
        .collect::<Result<Vec<_>, DbError>>()?;
    // One job per partition touched: its mutations, and the keys to name what
    // comes back unprocessed.
    let mut jobs: Vec<(usize, u32, Vec<Mutation<'_>>, Vec<PrimaryKey>)> = Vec::new();
    for (t, by_partition) in groups.into_iter().enumerate() {
        for (p, items) in by_partition {
            let mut keys = Vec::with_capacity(items.len());
            let muts: Vec<Mutation<'_>> = items
                .into_iter()
                .map(|(loc, new)| {
                    keys.push(loc.key.clone());
                    Mutation {
                        key: loc.key,
                        hashed: loc.hashed,
                        base_key: loc.base_key,
                        decide: Box::new(move |_old| Ok(new)),
                    }
                })
                .collect();
            jobs.push((t, p, muts, keys));
        }
    }
    let mut results: Vec<PartDone> = Vec::with_capacity(jobs.len());
    let pipelined = cores.iter().all(|c| c.hooks.change_sink.is_none());
    if pipelined {
        // Decide and append in every partition first, then wait for the fsyncs
        // together: each partition has its own WAL, so its fsync runs in parallel
        // with the others' instead of one after another.
        let mut begun = Vec::with_capacity(jobs.len());
        let mut failed = None;
        for (t, p, muts, keys) in jobs {
            let core: &TableCore = &cores[t];
            match partition(core, &guards[t], p)
                .and_then(|part| part.begin(core, muts, OnThrottle::Skip))
            {
                Ok(b) => begun.push((t, b, keys)),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        // Every begun write is finished, also after a failure.
        let finished = finish_all(&cores, begun);
        if let Some(e) = failed {
            return Err(e);
        }
        results = finished?;
    } else {
        for (t, p, muts, keys) in jobs {
            let core: &TableCore = &cores[t];
            let applied = partition(core, &guards[t], p)?.apply(core, muts, OnThrottle::Skip)?;
            results.push((t, applied, keys));
        }
    }
    let mut out = BatchWriteOutput::default();
    let mut caps: Vec<ConsumedCapacity> = cores
        .iter()
        .map(|c| ConsumedCapacity::new(c.name()))
        .collect();
    let mut unprocessed: Vec<Vec<WriteRequest>> = vec![Vec::new(); cores.len()];
    for (t, applied, keys) in results {
        for (a, key) in applied.into_iter().zip(keys) {
            if a.throttled {
                // Throttled items come back unprocessed, as DynamoDB returns them.
                unprocessed[t].push(match a.new {
                    Some(item) => WriteRequest::Put(item),
                    None => WriteRequest::Delete(KeyInput::Key(key)),
                });
            } else {
                caps[t].merge(&a.capacity);
            }
        }
    }
    for ((core, cap), unprocessed) in cores.iter().zip(caps).zip(unprocessed) {
        if !unprocessed.is_empty() {
            out.unprocessed_items
                .insert(core.name().to_owned(), unprocessed);
        }
        out.consumed_capacity.push(cap);
    }
    Ok(out)
}

/// One partition's part of a batch, done: its table (index), what each mutation
/// did, and the mutations' keys.
type PartDone = (usize, Vec<Applied>, Vec<PrimaryKey>);

/// A begun part of a batch waiting to be finished, taken by whoever finishes it.
type PartSlot<'p> = parking_lot::Mutex<Option<(usize, Begun<'p>, Vec<PrimaryKey>)>>;

/// Finishes begun partition writes: on threads of their own when more than one
/// waits for an fsync (one partition's fsync then overlaps the others'), in
/// order otherwise. Every write is finished; the first error is returned.
fn finish_all(
    cores: &[Arc<TableCore>],
    begun: Vec<(usize, Begun<'_>, Vec<PrimaryKey>)>,
) -> Result<Vec<PartDone>, DbError> {
    let syncing = begun
        .iter()
        .filter(|(t, _, _)| cores[*t].durability == strata_wal::Durability::Sync)
        .count();
    if syncing <= 1 {
        return begun
            .into_iter()
            .map(|(t, b, keys)| b.finish(&cores[t]).map(|a| (t, a, keys)))
            .collect();
    }
    // Each part waits in a slot that whoever finishes it empties: a thread of its
    // own, or this one, which finishes the first part and then any part no thread
    // took (one whose thread could not be started: a begun write must be finished
    // whatever happens, so no spawn may panic here).
    let slots: Vec<PartSlot<'_>> = begun
        .into_iter()
        .map(|b| parking_lot::Mutex::new(Some(b)))
        .collect();
    let finish = |slot: &PartSlot<'_>| {
        let taken = slot.lock().take();
        taken.map(|(t, b, keys)| b.finish(&cores[t]).map(|a| (t, a, keys)))
    };
    let results: Vec<Result<PartDone, DbError>> = std::thread::scope(|s| {
        let handles: Vec<_> = slots
            .iter()
            .skip(1)
            .filter_map(|slot| {
                std::thread::Builder::new()
                    .name("strata-batch-commit".into())
                    .spawn_scoped(s, move || finish(slot))
                    .ok()
            })
            .collect();
        let mut out: Vec<Result<PartDone, DbError>> = slots.iter().filter_map(finish).collect();
        for h in handles {
            match h.join() {
                Ok(Some(r)) => out.push(r),
                Ok(None) => {}
                Err(_) => out.push(Err(DbError::invalid(
                    "a batch write's commit thread panicked",
                ))),
            }
        }
        out
    });
    results.into_iter().collect()
}

/// Partition `p` of a table (an internal error if the layout computed a wrong one).
fn partition<'a>(
    core: &TableCore,
    parts: &'a [Partition],
    p: u32,
) -> Result<&'a Partition, DbError> {
    parts.get(p as usize).ok_or_else(|| {
        DbError::invalid(format!(
            "internal: table {} has no partition {p}",
            core.name()
        ))
    })
}
