//! `query`: one partition key, an optional sort-key condition turned into a key range
//! of the partition's tree, walked forward or backward one page at a time.

use std::ops::Bound;

use strata_item::expr::SortKeyCondition;
use strata_item::{AttributeValue, Item, KeyAttribute, KeyRole, KeySchema};

use super::core::TableCore;
use super::error::DbError;
use super::layout::{
    HashedKey, Space, after_extensions, base_key, lsi_key, prefix_successor, push_sort_prefix,
    push_sort_value,
};
use super::names::validate_index_name;
use super::options::{KeyConditionInput, QueryOptions, QueryOutput};
use super::page::{Page, PagePlan, check_limit, needs_base, resolve_select};
use super::request::{self, Exprs, condition_names};
use super::spec::LsiSpec;
use crate::capacity::OpKind;

/// The index a query or scan reads: the table (`None`) or an LSI with its number.
/// The name is checked against the naming rule before it is looked up.
pub(crate) fn resolve_index<'a>(
    core: &'a TableCore,
    index_name: Option<&str>,
) -> Result<(Space, Option<&'a LsiSpec>), DbError> {
    match index_name {
        None => Ok((Space::Base, None)),
        Some(name) => {
            validate_index_name(name)?;
            let (i, lsi) = core
                .spec
                .local_secondary_indexes
                .iter()
                .enumerate()
                .find(|(_, l)| l.name == name)
                .ok_or_else(|| DbError::IndexNotFound {
                    table: core.name().to_owned(),
                    index: name.to_owned(),
                })?;
            let i = u8::try_from(i).map_err(|_| DbError::invalid("too many indexes"))?;
            Ok((Space::Lsi(i), Some(lsi)))
        }
    }
}

/// The attribute the index (or table) sorts by.
fn sort_attr<'a>(schema: &'a KeySchema, lsi: Option<&'a LsiSpec>) -> Option<&'a KeyAttribute> {
    match lsi {
        Some(l) => Some(&l.sort_key),
        None => schema.sort_key.as_ref(),
    }
}

pub(crate) fn type_mismatch() -> DbError {
    DbError::invalid(
        "One or more parameter values were invalid: Condition parameter type does not match schema type",
    )
}

/// Checks a sort-key condition's operands against the sort attribute's type.
pub(crate) fn check_sort_condition(
    attr: &KeyAttribute,
    cond: &SortKeyCondition,
) -> Result<(), DbError> {
    for v in cond.values() {
        if !attr.key_type.matches(v) {
            return Err(type_mismatch());
        }
    }
    if let SortKeyCondition::BeginsWith(AttributeValue::N(_)) = cond {
        return Err(DbError::invalid(
            "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
        ));
    }
    Ok(())
}

/// The key range `[lo, hi)` of the entries matching the sort condition, below the
/// partition-key prefix `p`.
pub(crate) fn sort_range(
    p: &[u8],
    cond: Option<&SortKeyCondition>,
) -> Result<(Vec<u8>, Vec<u8>), DbError> {
    let enc = |v: &AttributeValue| -> Result<Vec<u8>, DbError> {
        let mut k = p.to_vec();
        push_sort_value(&mut k, v).map_err(|_| type_mismatch())?;
        Ok(k)
    };
    let whole = (p.to_vec(), after_extensions(p));
    Ok(match cond {
        None => whole,
        Some(SortKeyCondition::Eq(v)) => {
            let k = enc(v)?;
            let hi = after_extensions(&k);
            (k, hi)
        }
        Some(SortKeyCondition::Lt(v)) => (whole.0, enc(v)?),
        Some(SortKeyCondition::Le(v)) => (whole.0, after_extensions(&enc(v)?)),
        Some(SortKeyCondition::Gt(v)) => (after_extensions(&enc(v)?), whole.1),
        Some(SortKeyCondition::Ge(v)) => (enc(v)?, whole.1),
        Some(SortKeyCondition::Between(a, b)) => {
            let (lo, hi) = (enc(a)?, enc(b)?);
            if lo > hi {
                return Err(DbError::invalid(
                    "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound",
                ));
            }
            (lo, after_extensions(&hi))
        }
        Some(SortKeyCondition::BeginsWith(v)) => {
            let mut k = p.to_vec();
            push_sort_prefix(&mut k, v).map_err(|_| type_mismatch())?;
            let hi = prefix_successor(&k).unwrap_or_else(|| whole.1.clone());
            (k, hi)
        }
    })
}

/// The tree key of an exclusive start key for the table or an LSI, checking that it
/// holds exactly the key attributes. Returns the key bytes and its hashed partition key.
pub(crate) fn start_key_bytes(
    core: &TableCore,
    space: Space,
    lsi: Option<&LsiSpec>,
    esk: &Item,
) -> Result<(Vec<u8>, HashedKey), DbError> {
    let schema = &core.spec.key_schema;
    let invalid =
        |why: &str| DbError::invalid(format!("The provided starting key is invalid: {why}"));
    let expected = schema.attributes().count() + usize::from(lsi.is_some());
    let known = |n: &str| schema.is_key_attribute(n) || lsi.is_some_and(|l| l.sort_key.name == n);
    if esk.len() != expected || !esk.iter().all(|(n, _)| known(n)) {
        return Err(invalid(
            "The provided key element does not match the schema",
        ));
    }
    let pk = schema
        .extract_key(esk)
        .map_err(|e| invalid(&e.to_string()))?;
    let hashed = HashedKey::new(&pk.partition).map_err(|e| invalid(&e.to_string()))?;
    let bytes = match (space, lsi) {
        (Space::Lsi(i), Some(l)) => {
            let v = esk
                .get(&l.sort_key.name)
                .ok_or_else(|| invalid("missing the index key"))?;
            KeySchema::check_key_value(&l.sort_key, KeyRole::Sort, v)
                .map_err(|e| invalid(&e.to_string()))?;
            let table_sk = pk
                .sort
                .as_ref()
                .ok_or_else(|| invalid("missing the sort key"))?;
            lsi_key(i, &hashed, v, table_sk).map_err(|e| invalid(&e.to_string()))?
        }
        _ => base_key(&hashed, pk.sort.as_ref()).map_err(|e| invalid(&e.to_string()))?,
    };
    Ok((bytes, hashed))
}

/// DynamoDB: a query's filter cannot name the key attributes of the index queried.
pub(crate) fn forbid_key_filter(
    filter: &strata_item::expr::Condition,
    keys: &KeySchema,
) -> Result<(), DbError> {
    let mut names = Vec::new();
    condition_names(filter, &mut names);
    if let Some(k) = names.iter().find(|n| keys.is_key_attribute(n)) {
        return Err(DbError::invalid(format!(
            "Filter Expression can only contain non-primary key attributes: Primary key attribute: {k}"
        )));
    }
    Ok(())
}

pub(crate) fn query(
    core: &TableCore,
    key_condition: KeyConditionInput,
    opts: QueryOptions,
) -> Result<QueryOutput, DbError> {
    if let Some(g) = crate::gsi::read::gsi_ordinal(core, opts.index_name.as_deref()) {
        return crate::gsi::read::query(core, g, key_condition, opts);
    }
    let schema = &core.spec.key_schema;
    // What needs no lookup first.
    check_limit(opts.limit)?;
    let (space, lsi) = resolve_index(core, opts.index_name.as_deref())?;
    let sort = sort_attr(schema, lsi);
    let parsed = request::parse(
        &opts.names,
        &opts.values,
        Exprs {
            key_condition: Some((
                &key_condition,
                &schema.partition_key.name,
                sort.map(|a| a.name.as_str()),
            )),
            filter: opts.filter.as_ref(),
            projection: opts.projection.as_ref(),
            ..Exprs::default()
        },
    )?;
    if let Some(f) = &parsed.filter {
        forbid_key_filter(
            f,
            &KeySchema {
                partition_key: schema.partition_key.clone(),
                sort_key: sort.cloned(),
            },
        )?;
    }
    let select = resolve_select(opts.select, parsed.projection.is_some(), lsi.is_some())?;
    let kc = parsed
        .key_condition
        .ok_or_else(|| DbError::invalid("a key condition is required"))?;
    if !schema.partition_key.key_type.matches(&kc.partition) {
        return Err(type_mismatch());
    }
    KeySchema::check_key_value(&schema.partition_key, KeyRole::Partition, &kc.partition)?;
    if let Some(c) = &kc.sort {
        let attr = sort.ok_or_else(|| DbError::invalid("Query key condition not supported"))?;
        check_sort_condition(attr, c)?;
    }
    let hashed = HashedKey::new(&kc.partition).map_err(|_| type_mismatch())?;
    let prefix = space.partition_prefix(&hashed);
    let (lo, hi) = sort_range(&prefix, kc.sort.as_ref())?;
    let mut lower = Bound::Included(lo.as_slice());
    let mut upper = Bound::Excluded(hi.as_slice());
    let start = match &opts.exclusive_start_key {
        Some(esk) => {
            let (bytes, esk_hash) = start_key_bytes(core, space, lsi, esk)?;
            if esk_hash != hashed {
                return Err(DbError::invalid(
                    "The provided starting key is invalid: its partition key does not match the query's",
                ));
            }
            if bytes < lo || bytes >= hi {
                return Err(DbError::invalid(
                    "The provided starting key does not match the range key predicate",
                ));
            }
            Some(bytes)
        }
        None => None,
    };
    if let Some(s) = &start {
        if opts.scan_index_forward {
            lower = Bound::Excluded(s.as_slice());
        } else {
            upper = Bound::Excluded(s.as_slice());
        }
    }
    let plan = PagePlan {
        lsi,
        gsi: None,
        fetch_base: needs_base(
            schema,
            lsi,
            select,
            parsed.projection.as_ref(),
            parsed.filter.as_ref(),
        ),
        filter: parsed.filter,
        projection: parsed.projection,
        select,
        limit: opts.limit,
        consistent: opts.consistent_read,
    };
    let p = hashed.partition(core.spec.partitions);
    let parts = core.partitions()?;
    let part = &parts[p as usize];
    core.admit(Some(p), OpKind::Read)?;
    let snapshot = part.tree.snapshot();
    let mut iter = part.range(core, lower, upper, Some(&snapshot))?;
    let mut page = Page::default();
    // A page of `limit` items needs no regrowing (bounded: the limit is the
    // caller's and the page may end far sooner at 1 MB).
    if let Some(limit) = opts.limit {
        page.items.reserve(limit.min(1024));
    }
    iter.visit(
        opts.scan_index_forward,
        |e| core.storage(p, e),
        |k, v| page.feed(&plan, core, part, &snapshot, k, v),
    )?;
    let out = page.finish(&plan, core);
    core.charge(Some(p), OpKind::Read, &out.consumed_capacity);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_select_exactly_the_matching_sort_keys() {
        let pk = HashedKey::new(&AttributeValue::from("p")).unwrap();
        let prefix = Space::Base.partition_prefix(&pk);
        let values: Vec<AttributeValue> = ["a", "ab", "abc", "b", "ba", "c"]
            .iter()
            .map(|s| AttributeValue::from(*s))
            .collect();
        let keys: Vec<Vec<u8>> = values
            .iter()
            .map(|v| {
                let mut k = prefix.clone();
                push_sort_value(&mut k, v).unwrap();
                k
            })
            .collect();
        let conds = vec![
            SortKeyCondition::Eq("ab".into()),
            SortKeyCondition::Lt("ab".into()),
            SortKeyCondition::Le("ab".into()),
            SortKeyCondition::Gt("ab".into()),
            SortKeyCondition::Ge("ab".into()),
            SortKeyCondition::Between("ab".into(), "b".into()),
            SortKeyCondition::BeginsWith("a".into()),
            SortKeyCondition::BeginsWith("b".into()),
            SortKeyCondition::BeginsWith("abc".into()),
        ];
        for c in conds {
            let (lo, hi) = sort_range(&prefix, Some(&c)).unwrap();
            for (v, k) in values.iter().zip(&keys) {
                let inside = *k >= lo && *k < hi;
                assert_eq!(inside, c.matches(v), "{c:?} on {v:?}");
            }
        }
        let (lo, hi) = sort_range(&prefix, None).unwrap();
        assert!(keys.iter().all(|k| *k >= lo && *k < hi));
        assert!(
            sort_range(
                &prefix,
                Some(&SortKeyCondition::Between("b".into(), "a".into()))
            )
            .is_err()
        );
    }
}
