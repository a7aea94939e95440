//! `query` and `scan` of a global secondary index: its own partitions (by
//! `gsi_partition`), key ranges from `strata_index::KeyRange`, the projected items it
//! holds, pagination keys of index key plus base key (DynamoDB's), and DynamoDB's rules
//! for GSIs: no consistent reads, no attributes the index does not project.

use std::ops::Bound;

use strata_index::{EntryKey, GsiDef, KeyRange, SortCondition, gsi_partition, partition_of};
use strata_item::expr::{Condition, Projection, SortKeyCondition};
use strata_item::{Item, KeyRole, KeySchema, codec};

use crate::capacity::OpKind;
use crate::table::DbError;
use crate::table::core::TableCore;
use crate::table::layout::segment_of;
use crate::table::page::{Page, PagePlan, check_limit, resolve_select};
use crate::table::query::{check_sort_condition, forbid_key_filter, type_mismatch};
use crate::table::request::{self, Exprs};
use crate::table::scan::segments;
use crate::table::{
    GsiSpec, IndexProjection, KeyConditionInput, QueryOptions, QueryOutput, ScanOptions,
    ScanOutput, Select,
};

/// DynamoDB's message for a consistent read of a GSI.
const NO_CONSISTENT_READS: &str = "Consistent reads are not supported on global secondary indexes";

/// Refuses reads of a GSI that is still `CREATING` (DynamoDB's message).
fn check_not_creating(core: &TableCore, ordinal: usize, name: &str) -> Result<(), DbError> {
    if core.gsi.is_creating(ordinal) {
        return Err(DbError::invalid(format!(
            "Cannot read from backfilling global secondary index: {name}"
        )));
    }
    Ok(())
}

/// The position of GSI `name` in the table's spec.
pub(crate) fn gsi_ordinal(core: &TableCore, name: Option<&str>) -> Option<usize> {
    let name = name?;
    core.spec
        .global_secondary_indexes
        .iter()
        .position(|g| g.name == name)
}

/// Refuses a request for attributes the GSI does not hold (it cannot fetch them).
fn check_projected(
    base: &KeySchema,
    spec: &GsiSpec,
    def: &GsiDef,
    select: Select,
    projection: Option<&Projection>,
) -> Result<(), DbError> {
    if spec.projection == IndexProjection::All {
        return Ok(());
    }
    if select == Select::AllAttributes {
        return Err(DbError::invalid(format!(
            "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index {} because its projection type is not ALL",
            spec.name
        )));
    }
    if let Some(p) = projection
        && let Some(n) = p.top_level_names().find(|n| !def.projects(base, n))
    {
        return Err(DbError::invalid(format!(
            "One or more parameter values were invalid: global secondary index {} does not project attribute {n}",
            spec.name
        )));
    }
    Ok(())
}

/// The entry key of an exclusive start key: exactly the table's and the index's key
/// attributes.
fn start_key(base: &KeySchema, spec: &GsiSpec, esk: &Item) -> Result<EntryKey, DbError> {
    let invalid =
        |why: &str| DbError::invalid(format!("The provided starting key is invalid: {why}"));
    let mut names: Vec<&str> = base
        .attributes()
        .chain(spec.key_schema.attributes())
        .map(|a| a.name.as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    let known = |n: &str| names.contains(&n);
    if esk.len() != names.len() || !esk.iter().all(|(n, _)| known(n)) {
        return Err(invalid(
            "The provided key element does not match the schema",
        ));
    }
    let index = spec
        .key_schema
        .extract_key(esk)
        .map_err(|e| invalid(&e.to_string()))?;
    let base_key = base.extract_key(esk).map_err(|e| invalid(&e.to_string()))?;
    Ok(EntryKey {
        index,
        base: base_key,
    })
}

fn sort_condition(c: &SortKeyCondition) -> SortCondition {
    match c.clone() {
        SortKeyCondition::Eq(v) => SortCondition::Eq(v),
        SortKeyCondition::Lt(v) => SortCondition::Lt(v),
        SortKeyCondition::Le(v) => SortCondition::Le(v),
        SortKeyCondition::Gt(v) => SortCondition::Gt(v),
        SortKeyCondition::Ge(v) => SortCondition::Ge(v),
        SortKeyCondition::Between(a, b) => SortCondition::Between(a, b),
        SortKeyCondition::BeginsWith(p) => SortCondition::BeginsWith(p),
    }
}

fn decode(core: &TableCore, ordinal: usize, g: u32, key: &[u8], v: &[u8]) -> Result<Item, DbError> {
    codec::decode_item(v).map_err(|e| DbError::IndexMaintenance {
        table: core.name().to_owned(),
        index: core.spec.global_secondary_indexes[ordinal].name.clone(),
        reason: format!(
            "index partition {g}: value of key {} does not decode: {e}",
            crate::table::partition::hex(key)
        ),
    })
}

/// One page of a query of GSI `ordinal`.
pub(crate) fn query(
    core: &TableCore,
    ordinal: usize,
    key_condition: KeyConditionInput,
    opts: QueryOptions,
) -> Result<QueryOutput, DbError> {
    let base = &core.spec.key_schema;
    let spec = &core.spec.global_secondary_indexes[ordinal];
    let def = &core.gsi_defs[ordinal];
    let ks = &spec.key_schema;
    check_limit(opts.limit)?;
    if opts.consistent_read {
        return Err(DbError::invalid(NO_CONSISTENT_READS));
    }
    check_not_creating(core, ordinal, &spec.name)?;
    let parsed = request::parse(
        &opts.names,
        &opts.values,
        Exprs {
            key_condition: Some((
                &key_condition,
                &ks.partition_key.name,
                ks.sort_key.as_ref().map(|a| a.name.as_str()),
            )),
            filter: opts.filter.as_ref(),
            projection: opts.projection.as_ref(),
            ..Exprs::default()
        },
    )?;
    if let Some(f) = &parsed.filter {
        forbid_key_filter(f, ks)?;
    }
    let select = resolve_select(opts.select, parsed.projection.is_some(), true)?;
    check_projected(base, spec, def, select, parsed.projection.as_ref())?;
    let kc = parsed
        .key_condition
        .ok_or_else(|| DbError::invalid("a key condition is required"))?;
    if !ks.partition_key.key_type.matches(&kc.partition) {
        return Err(type_mismatch());
    }
    KeySchema::check_key_value(&ks.partition_key, KeyRole::Partition, &kc.partition)?;
    let range = match &kc.sort {
        Some(c) => {
            let attr = ks
                .sort_key
                .as_ref()
                .ok_or_else(|| DbError::invalid("Query key condition not supported"))?;
            check_sort_condition(attr, c)?;
            if let SortKeyCondition::Between(a, b) = c {
                let lo = KeyRange::with_sort(&kc.partition, &SortCondition::Eq(a.clone()));
                let hi = KeyRange::with_sort(&kc.partition, &SortCondition::Eq(b.clone()));
                if let (Ok(lo), Ok(hi)) = (lo, hi)
                    && lo.start > hi.start
                {
                    return Err(DbError::invalid(
                        "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound",
                    ));
                }
            }
            KeyRange::with_sort(&kc.partition, &sort_condition(c))
        }
        None => KeyRange::partition(&kc.partition),
    }
    .map_err(|_| type_mismatch())?;
    let start = match &opts.exclusive_start_key {
        Some(esk) => {
            let key = start_key(base, spec, esk)?;
            if key.index.partition != kc.partition {
                return Err(DbError::invalid(
                    "The provided starting key is invalid: its partition key does not match the query's",
                ));
            }
            let bytes = key.encode().map_err(|e| {
                DbError::invalid(format!("The provided starting key is invalid: {e}"))
            })?;
            if !range.contains(&bytes) {
                return Err(DbError::invalid(
                    "The provided starting key does not match the range key predicate",
                ));
            }
            Some(bytes)
        }
        None => None,
    };
    let mut lower = Bound::Included(range.start.as_slice());
    let mut upper = Bound::Excluded(range.end.as_slice());
    if let Some(s) = &start {
        if opts.scan_index_forward {
            lower = Bound::Excluded(s.as_slice());
        } else {
            upper = Bound::Excluded(s.as_slice());
        }
    }
    let plan = plan(spec, parsed.filter, parsed.projection, select, opts.limit);
    let g = gsi_partition(&kc.partition, def.partitions).map_err(|_| type_mismatch())?;
    let shards = core.shards()?;
    let tree = &shards.gsis[ordinal].trees[g as usize];
    core.admit_index_read(ordinal)?;
    let snapshot = tree.snapshot();
    let mut iter = tree
        .range(lower, upper, Some(&snapshot))
        .map_err(|e| core.index_storage(ordinal, g, e))?;
    let mut page = Page::default();
    iter.visit(
        opts.scan_index_forward,
        |e| core.index_storage(ordinal, g, e),
        |k, v| {
            let entry = decode(core, ordinal, g, k, v)?;
            let size = entry.size();
            page.accept(&plan, base, entry, size, None)
        },
    )?;
    let out = page.finish(&plan, core);
    core.charge(None, OpKind::Read, &out.consumed_capacity);
    Ok(out)
}

/// How a page of a GSI is read: from its entries alone (they hold every attribute a
/// request may ask for; `check_projected` refused the rest), never consistently.
fn plan<'a>(
    spec: &'a GsiSpec,
    filter: Option<Condition>,
    projection: Option<Projection>,
    select: Select,
    limit: Option<usize>,
) -> PagePlan<'a> {
    PagePlan {
        lsi: None,
        gsi: Some(spec),
        fetch_base: false,
        filter,
        projection,
        select,
        limit,
        consistent: false,
    }
}

/// One page of a scan (or a scan segment) of GSI `ordinal`: its partitions in order.
pub(crate) fn scan(
    core: &TableCore,
    ordinal: usize,
    opts: ScanOptions,
) -> Result<ScanOutput, DbError> {
    let base = &core.spec.key_schema;
    let spec = &core.spec.global_secondary_indexes[ordinal];
    let def = &core.gsi_defs[ordinal];
    check_limit(opts.limit)?;
    let (segment, total) = segments(&opts)?;
    if opts.consistent_read {
        return Err(DbError::invalid(NO_CONSISTENT_READS));
    }
    check_not_creating(core, ordinal, &spec.name)?;
    let parsed = request::parse(
        &opts.names,
        &opts.values,
        Exprs {
            filter: opts.filter.as_ref(),
            projection: opts.projection.as_ref(),
            ..Exprs::default()
        },
    )?;
    let select = resolve_select(opts.select, parsed.projection.is_some(), true)?;
    check_projected(base, spec, def, select, parsed.projection.as_ref())?;
    let range = KeyRange::segment(segment, total);
    let (first, start) = match &opts.exclusive_start_key {
        Some(esk) => {
            let key = start_key(base, spec, esk)?;
            let invalid =
                |e: String| DbError::invalid(format!("The provided starting key is invalid: {e}"));
            let hash = key.hash().map_err(|e| invalid(e.to_string()))?;
            if segment_of(hash, total) != segment {
                return Err(DbError::invalid(
                    "The provided Exclusive start key does not map to the provided segment",
                ));
            }
            let bytes = key.encode().map_err(|e| invalid(e.to_string()))?;
            (partition_of(hash, def.partitions), Some(bytes))
        }
        None => (0, None),
    };
    let plan = plan(spec, parsed.filter, parsed.projection, select, opts.limit);
    let shards = core.shards()?;
    let trees = &shards.gsis[ordinal].trees;
    core.admit_index_read(ordinal)?;
    let mut page = Page::default();
    'partitions: for g in first..def.partitions {
        let tree = &trees[g as usize];
        let lower = match &start {
            Some(s) if g == first => Bound::Excluded(s.as_slice()),
            _ => Bound::Included(range.start.as_slice()),
        };
        let snapshot = tree.snapshot();
        let iter = tree
            .range(
                lower,
                Bound::Excluded(range.end.as_slice()),
                Some(&snapshot),
            )
            .map_err(|e| core.index_storage(ordinal, g, e))?;
        for kv in iter {
            let (k, v) = kv.map_err(|e| core.index_storage(ordinal, g, e))?;
            let entry = decode(core, ordinal, g, &k, &v)?;
            let size = entry.size();
            if page.accept(&plan, base, entry, size, None)? {
                break 'partitions;
            }
        }
    }
    let out = page.finish(&plan, core);
    core.charge(None, OpKind::Read, &out.consumed_capacity);
    Ok(out)
}
