//! `Db::verify_local_index`: derives a local secondary index from a scan of its
//! partition's base items and compares it, entry by entry, with the entries the
//! partition's tree holds. LSI entries are written in the same WAL batch as their
//! item, so on a consistent snapshot of one partition the two must agree exactly;
//! each partition is compared on one snapshot of its tree, so writes may run meanwhile.
//! The report has the shape of a GSI's ([`IndexVerifyReport`]); `partition` in a
//! difference is the table's hash partition.

use std::collections::BTreeMap;
use std::ops::Bound;

use strata_item::{Item, KeySchema, codec};

use super::core::TableCore;
use super::error::DbError;
use super::layout::{HashedKey, Space};
use super::lsi;
use super::partition::{Partition, hex};
use super::spec::LsiSpec;
use crate::gsi::check::{IndexDifference, IndexVerifyReport};

/// The key attributes of an LSI entry (the table's keys and the index sort key), taken
/// from the entry's item.
fn key_item(schema: &KeySchema, spec: &LsiSpec, item: &Item) -> Item {
    let mut out = Item::new();
    for a in schema.attributes() {
        if let Some(v) = item.get(&a.name) {
            out.insert(a.name.clone(), v.clone());
        }
    }
    if let Some(v) = item.get(&spec.sort_key.name) {
        out.insert(spec.sort_key.name.clone(), v.clone());
    }
    out
}

/// Compares LSI `ordinal` of `core` with what its partitions' base items derive.
pub(crate) fn verify_lsi(core: &TableCore, ordinal: usize) -> Result<IndexVerifyReport, DbError> {
    let spec = core
        .spec
        .local_secondary_indexes
        .get(ordinal)
        .ok_or_else(|| DbError::invalid("no such local secondary index"))?;
    let index = u8::try_from(ordinal).map_err(|_| DbError::invalid("too many indexes"))?;
    let mut report = IndexVerifyReport {
        index: spec.name.clone(),
        ..IndexVerifyReport::default()
    };
    let parts = core.partitions()?;
    for part in parts.iter() {
        verify_partition(core, part, spec, index, &mut report)?;
    }
    Ok(report)
}

/// One partition: its base items and its entries of the index, on one snapshot.
fn verify_partition(
    core: &TableCore,
    part: &Partition,
    spec: &LsiSpec,
    index: u8,
    report: &mut IndexVerifyReport,
) -> Result<(), DbError> {
    let schema = &core.spec.key_schema;
    let snapshot = part.tree.snapshot();
    let corrupt = |reason: String| DbError::Corruption {
        table: core.name().to_owned(),
        partition: part.index,
        reason,
    };
    // Derived: entry key -> projected item.
    let mut expected: BTreeMap<Vec<u8>, Item> = BTreeMap::new();
    let (lo, hi) = Space::Base.segment_range(0, 1);
    let base = part.range(
        core,
        Bound::Included(lo.as_slice()),
        Bound::Excluded(hi.as_slice()),
        Some(&snapshot),
    )?;
    for kv in base {
        let (k, v) = kv.map_err(|e| core.storage(part.index, e))?;
        let item = part.decode(core, &k, &v)?;
        report.base_items += 1;
        let pk = item.get(&schema.partition_key.name).ok_or_else(|| {
            corrupt(format!(
                "base item under key {} has no partition key attribute",
                hex(&k)
            ))
        })?;
        let hashed = HashedKey::new(pk)
            .map_err(|e| corrupt(format!("base item under key {}: {e}", hex(&k))))?;
        if lsi::check_index_key(spec, &item).is_err() {
            report.skipped_items += 1;
            continue;
        }
        if let Some(e) = lsi::entry(schema, index, spec, &hashed, &item)? {
            expected.insert(e.key, e.item);
        }
    }
    report.expected_entries += expected.len() as u64;
    let (lo, hi) = Space::Lsi(index).segment_range(0, 1);
    let entries = part.range(
        core,
        Bound::Included(lo.as_slice()),
        Bound::Excluded(hi.as_slice()),
        Some(&snapshot),
    )?;
    for kv in entries {
        let (k, v) = kv.map_err(|e| core.storage(part.index, e))?;
        report.found_entries += 1;
        let found = match codec::decode_item(&v) {
            Ok(i) => i,
            Err(e) => {
                expected.remove(&k);
                report.push(IndexDifference::Undecodable {
                    partition: part.index,
                    key_hex: hex(&k),
                    reason: format!("value: {e}"),
                });
                continue;
            }
        };
        match expected.remove(&k) {
            None => report.push(IndexDifference::Unexpected {
                partition: part.index,
                key: key_item(schema, spec, &found),
            }),
            Some(want) if want != found => report.push(IndexDifference::ValueDiffers {
                partition: part.index,
                key: key_item(schema, spec, &want),
                expected: want,
                found,
            }),
            Some(_) => {}
        }
    }
    for (_, item) in expected {
        report.push(IndexDifference::Missing {
            partition: part.index,
            key: key_item(schema, spec, &item),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use strata_item::{KeySchema, KeyType, item};

    use crate::lsm::Durability;
    use crate::{Db, LsiSpec, PutOptions, TableSpec};

    use super::*;

    fn db_with_items() -> Db {
        let db = Db::open_in_memory().unwrap();
        db.create_table(
            TableSpec::new(
                "posts",
                KeySchema::composite("user", KeyType::S, "ts", KeyType::N),
            )
            .partitions(2)
            .lsi(LsiSpec::new("by_likes", "likes", KeyType::N)),
        )
        .unwrap();
        let t = db.table("posts").unwrap();
        for i in 0..20 {
            let mut it = item! { "user" => format!("u{}", i % 5), "ts" => i };
            if i % 4 != 0 {
                it.insert("likes", strata_item::AttributeValue::from(i * 10));
            }
            t.put_item(it, PutOptions::default()).unwrap();
        }
        db
    }

    #[test]
    fn a_consistent_index_is_clean() {
        let db = db_with_items();
        let r = db.verify_local_index("posts", "by_likes").unwrap();
        assert!(r.is_clean(), "{r}");
        assert_eq!(r.base_items, 20);
        assert_eq!(r.expected_entries, 15);
        assert_eq!(r.found_entries, 15);
        db.table("posts").unwrap().flush().unwrap();
        assert!(
            db.verify_local_index("posts", "by_likes")
                .unwrap()
                .is_clean()
        );
    }

    #[test]
    fn planted_wrong_entries_are_reported() {
        let db = db_with_items();
        let core = db.current_core("posts").unwrap();
        let parts = core.partitions().unwrap();
        let (lo, hi) = Space::Lsi(0).segment_range(0, 1);
        let part = &parts[0];
        let keys: Vec<Vec<u8>> = part
            .tree
            .range(
                Bound::Included(lo.as_slice()),
                Bound::Excluded(hi.as_slice()),
                None,
            )
            .unwrap()
            .map(|kv| kv.unwrap().0)
            .collect();
        assert!(keys.len() >= 3, "partition 0 has {} entries", keys.len());
        // Missing: an entry deleted.
        part.tree.delete(&keys[0], Durability::Sync).unwrap();
        // Value differs: an entry holding another item.
        let other = codec::encode_item(&item! { "user" => "zz", "ts" => 1, "likes" => 7 });
        part.tree.put(&keys[1], &other, Durability::Sync).unwrap();
        // Unexpected: an entry under a key no item derives.
        let mut stray = keys[2].clone();
        stray.push(0x07);
        part.tree.put(&stray, &other, Durability::Sync).unwrap();
        // Undecodable: garbage value.
        let mut garbage = keys[2].clone();
        garbage.push(0x08);
        part.tree
            .put(&garbage, b"\x00\x01", Durability::Sync)
            .unwrap();
        drop(parts);

        let r = db.verify_local_index("posts", "by_likes").unwrap();
        assert_eq!(r.difference_count, 4, "{r}");
        let has = |f: &dyn Fn(&IndexDifference) -> bool| r.differences.iter().any(f);
        assert!(has(&|d| matches!(
            d,
            IndexDifference::Missing { partition: 0, .. }
        )));
        assert!(has(
            &|d| matches!(d, IndexDifference::ValueDiffers { partition: 0, found, .. } if found.get("user") == Some(&strata_item::AttributeValue::from("zz")))
        ));
        assert!(has(
            &|d| matches!(d, IndexDifference::Unexpected { partition: 0, key } if key.get("likes") == Some(&strata_item::AttributeValue::from(7)))
        ));
        assert!(has(&|d| matches!(
            d,
            IndexDifference::Undecodable { partition: 0, .. }
        )));
    }

    #[test]
    fn unknown_or_global_index_names_are_refused() {
        let db = db_with_items();
        assert!(matches!(
            db.verify_local_index("posts", "nope"),
            Err(DbError::IndexNotFound { .. })
        ));
        assert!(matches!(
            db.verify_local_index("nope", "by_likes"),
            Err(DbError::TableNotFound { .. })
        ));
    }
}
