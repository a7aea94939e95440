//! `put_item`, `update_item` and `delete_item`: validate, parse the expressions, then
//! one [`Partition::apply`] under the partition lock.

use strata_item::expr::Condition;
use strata_item::{Item, PrimaryKey, validate_item};

use super::core::TableCore;
use super::error::DbError;
use super::layout::{HashedKey, base_key};
use super::lsi;
use super::options::{
    DeleteOptions, DeleteOutput, KeyInput, PutOptions, PutOutput, ReturnValues,
    ReturnValuesOnConditionCheckFailure, UpdateOptions, UpdateOutput,
};
use super::partition::{Applied, Decide, Mutation, OnThrottle};
use super::request::{self, Exprs};

/// A primary key with where it lives.
#[derive(Debug, Clone)]
pub(crate) struct Located {
    pub key: PrimaryKey,
    pub hashed: HashedKey,
    pub partition: u32,
    pub base_key: Vec<u8>,
}

/// Checks a key given on its own against the table's schema, and copies its values
/// only once they passed (a key value is a scalar of at most 2 KB; the caller's input
/// may be anything).
pub(crate) fn resolve_key(core: &TableCore, key: &KeyInput) -> Result<PrimaryKey, DbError> {
    let schema = &core.spec.key_schema;
    match key {
        KeyInput::Map(m) => Ok(schema.key_from_key_map(m)?),
        KeyInput::Key(k) => {
            schema.check_key(k)?;
            Ok(k.clone())
        }
    }
}

/// Where a (checked) key lives.
pub(crate) fn locate(core: &TableCore, key: PrimaryKey) -> Result<Located, DbError> {
    let hashed = HashedKey::new(&key.partition).map_err(|e| DbError::invalid(e.to_string()))?;
    let partition = hashed.partition(core.spec.partitions);
    let base_key =
        base_key(&hashed, key.sort.as_ref()).map_err(|e| DbError::invalid(e.to_string()))?;
    Ok(Located {
        key,
        hashed,
        partition,
        base_key,
    })
}

/// Validates an item for writing: DynamoDB's item rules, the key schema, the LSI
/// and GSI key attributes, and the 400 KB limit counting each LSI entry (so that a batch is
/// rejected before any of its partitions is written). Returns its primary key.
pub(crate) fn validate_for_write(core: &TableCore, item: &Item) -> Result<PrimaryKey, DbError> {
    let schema = &core.spec.key_schema;
    let key = validate_item(item, Some(schema))?
        .ok_or_else(|| DbError::invalid("item has no primary key"))?;
    for spec in &core.spec.local_secondary_indexes {
        lsi::check_index_key(spec, item)?;
        if item.contains_key(&spec.sort_key.name) {
            lsi::check_size(spec, item, lsi::project(schema, spec, item).size())?;
        }
    }
    for (g, def) in core.gsi_defs.iter().enumerate() {
        // A CREATING index does not refuse writes (DynamoDB rejects them only once
        // the backfill is done); the item then has no entry.
        if !core.gsi.is_creating(g) {
            strata_index::check_item(def, item).map_err(super::partition::derive_error)?;
        }
    }
    Ok(key)
}

/// Evaluates the write's condition on the existing item (an empty one when there is
/// none); a failure carries that item when `on_failure` asks for it.
fn check_condition(
    core: &TableCore,
    cond: Option<&Condition>,
    old: Option<&Item>,
    on_failure: ReturnValuesOnConditionCheckFailure,
) -> Result<(), DbError> {
    if let Some(c) = cond {
        let empty = Item::new();
        if !c.evaluate(old.unwrap_or(&empty))? {
            let item = match on_failure {
                ReturnValuesOnConditionCheckFailure::AllOld => old.cloned(),
                ReturnValuesOnConditionCheckFailure::None => None,
            };
            return Err(DbError::ConditionalCheckFailed {
                table: core.name().to_owned(),
                item,
            });
        }
    }
    Ok(())
}

fn only_none_or_all_old(r: ReturnValues) -> Result<(), DbError> {
    match r {
        ReturnValues::None | ReturnValues::AllOld => Ok(()),
        other => Err(DbError::invalid(format!(
            "Return values set to invalid value: {} (only NONE and ALL_OLD are allowed here)",
            other.name()
        ))),
    }
}

/// Applies one mutation, decided by `decide` from the old item, to the item at
/// `key` under its partition's lock (put, delete and update all go through here).
fn apply_single<'a>(
    core: &'a TableCore,
    key: PrimaryKey,
    decide: Decide<'a>,
) -> Result<Applied, DbError> {
    let loc = locate(core, key)?;
    let parts = core.partitions()?;
    let part = parts
        .get(loc.partition as usize)
        .ok_or_else(|| DbError::invalid(format!("internal: no partition {}", loc.partition)))?;
    let mut applied = part.apply(
        core,
        vec![Mutation {
            key: loc.key,
            hashed: loc.hashed,
            base_key: loc.base_key,
            decide,
        }],
        OnThrottle::Fail,
    )?;
    applied
        .pop()
        .ok_or_else(|| DbError::invalid("internal: a single write applied nothing"))
}

pub(crate) fn put_item(
    core: &TableCore,
    item: Item,
    opts: PutOptions,
) -> Result<PutOutput, DbError> {
    only_none_or_all_old(opts.return_values)?;
    let parsed = request::parse(
        &opts.names,
        &opts.values,
        Exprs {
            condition: opts.condition.as_ref(),
            ..Exprs::default()
        },
    )?;
    let key = validate_for_write(core, &item)?;
    let cond = parsed.condition;
    let on_failure = opts.return_values_on_condition_check_failure;
    let applied = apply_single(
        core,
        key,
        Box::new(move |old| {
            check_condition(core, cond.as_ref(), old, on_failure)?;
            Ok(Some(item))
        }),
    )?;
    Ok(PutOutput {
        attributes: match opts.return_values {
            ReturnValues::AllOld => applied.old,
            _ => None,
        },
        consumed_capacity: applied.capacity,
    })
}

pub(crate) fn delete_item(
    core: &TableCore,
    key: KeyInput,
    opts: DeleteOptions,
) -> Result<DeleteOutput, DbError> {
    only_none_or_all_old(opts.return_values)?;
    let parsed = request::parse(
        &opts.names,
        &opts.values,
        Exprs {
            condition: opts.condition.as_ref(),
            ..Exprs::default()
        },
    )?;
    let key = resolve_key(core, &key)?;
    let cond = parsed.condition;
    let on_failure = opts.return_values_on_condition_check_failure;
    let applied = apply_single(
        core,
        key,
        Box::new(move |old| {
            check_condition(core, cond.as_ref(), old, on_failure)?;
            Ok(None)
        }),
    )?;
    Ok(DeleteOutput {
        attributes: match opts.return_values {
            ReturnValues::AllOld => applied.old,
            _ => None,
        },
        consumed_capacity: applied.capacity,
    })
}

pub(crate) fn update_item(
    core: &TableCore,
    key: KeyInput,
    opts: UpdateOptions,
) -> Result<UpdateOutput, DbError> {
    let parsed = request::parse(
        &opts.names,
        &opts.values,
        Exprs {
            condition: opts.condition.as_ref(),
            update: opts.update.as_ref(),
            ..Exprs::default()
        },
    )?;
    let key = resolve_key(core, &key)?;
    let schema = &core.spec.key_schema;
    if let Some(u) = &parsed.update {
        for name in u.top_level_names() {
            if schema.is_key_attribute(name) {
                return Err(DbError::invalid(format!(
                    "One or more parameter values were invalid: Cannot update attribute {name}. This attribute is part of the key"
                )));
            }
        }
    }
    let key_item = key.to_item(schema);
    let cond = parsed.condition;
    let on_failure = opts.return_values_on_condition_check_failure;
    let update = parsed.update;
    // The partial old/new items for UPDATED_OLD / UPDATED_NEW, filled by `decide`.
    let updated = std::cell::RefCell::new((Item::new(), Item::new()));
    let applied = apply_single(
        core,
        key,
        Box::new(|old| {
            check_condition(core, cond.as_ref(), old, on_failure)?;
            let base = old.cloned().unwrap_or(key_item);
            let new = match &update {
                Some(u) => {
                    let outcome = u.apply(&base)?;
                    *updated.borrow_mut() = (outcome.updated_old, outcome.updated_new);
                    outcome.item
                }
                None => base,
            };
            validate_for_write(core, &new)?;
            Ok(Some(new))
        }),
    )?;
    let (updated_old, updated_new) = updated.into_inner();
    let non_empty = |i: Item| (!i.is_empty()).then_some(i);
    let attributes = match opts.return_values {
        ReturnValues::None => None,
        ReturnValues::AllOld => applied.old,
        ReturnValues::AllNew => applied.new,
        ReturnValues::UpdatedOld => non_empty(updated_old),
        ReturnValues::UpdatedNew => non_empty(updated_new),
    };
    Ok(UpdateOutput {
        attributes,
        consumed_capacity: applied.capacity,
    })
}
