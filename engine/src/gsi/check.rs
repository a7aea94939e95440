//! `Db::verify_index`: derives a GSI from a scan of the base table and compares it,
//! entry by entry, with the shadow trees. Meaningful when the index has caught up and
//! no write runs meanwhile (call [`crate::Db::wait_for_indexes`] first): the base scan
//! and the index scan are not one snapshot.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;

use strata_index::{DeriveError, EntryKey, GsiDef, KeyRange, KeyShape, entry_of};
use strata_item::{Item, KeySchema, codec};

use crate::table::DbError;
use crate::table::core::TableCore;
use crate::table::layout::Space;

/// Most differences a report lists (the counts are exact).
pub const MAX_LISTED_DIFFERENCES: usize = 1000;

/// One way the shadow trees differ from the index derived from the base table. Keys
/// are shown as items holding the index key and the base key attributes.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum IndexDifference {
    /// A base item's entry is missing.
    Missing {
        /// The index partition it belongs to.
        partition: u32,
        /// Its key attributes.
        key: Item,
    },
    /// An entry no base item explains (stale or duplicate).
    Unexpected {
        /// The index partition holding it.
        partition: u32,
        /// Its key attributes.
        key: Item,
    },
    /// The entry exists but holds another projected item.
    ValueDiffers {
        /// The index partition.
        partition: u32,
        /// Its key attributes.
        key: Item,
        /// What deriving gives.
        expected: Item,
        /// What the index holds.
        found: Item,
    },
    /// The entry is in the wrong index partition.
    WrongPartition {
        /// Where it is.
        partition: u32,
        /// Where it belongs.
        expected: u32,
        /// Its key attributes.
        key: Item,
    },
    /// A stored entry whose key or value does not decode.
    Undecodable {
        /// The index partition.
        partition: u32,
        /// The key, hex.
        key_hex: String,
        /// What is wrong.
        reason: String,
    },
}

/// What [`crate::Db::verify_index`] found.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct IndexVerifyReport {
    /// The index.
    pub index: String,
    /// Base items read.
    pub base_items: u64,
    /// Base items whose index key attribute is invalid (no entry, as DynamoDB skips
    /// them).
    pub skipped_items: u64,
    /// Entries deriving gives.
    pub expected_entries: u64,
    /// Entries the shadow trees hold.
    pub found_entries: u64,
    /// How many differences there are.
    pub difference_count: u64,
    /// The first [`MAX_LISTED_DIFFERENCES`] of them.
    pub differences: Vec<IndexDifference>,
}

impl IndexVerifyReport {
    /// No difference.
    pub fn is_clean(&self) -> bool {
        self.difference_count == 0
    }

    pub(crate) fn push(&mut self, d: IndexDifference) {
        self.difference_count += 1;
        if self.differences.len() < MAX_LISTED_DIFFERENCES {
            self.differences.push(d);
        }
    }
}

impl fmt::Display for IndexVerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "index {}: {} base items ({} skipped), {} entries expected, {} found, {} differences",
            self.index,
            self.base_items,
            self.skipped_items,
            self.expected_entries,
            self.found_entries,
            self.difference_count
        )?;
        for d in &self.differences {
            write!(f, "\n  {d:?}")?;
        }
        Ok(())
    }
}

/// The key attributes of an entry key, as an item.
fn key_item(def: &GsiDef, base: &KeySchema, key: &EntryKey) -> Item {
    let mut it = Item::new();
    let mut add = |schema: &KeySchema, pk: &strata_item::PrimaryKey| {
        it.insert(schema.partition_key.name.clone(), pk.partition.clone());
        if let (Some(a), Some(v)) = (&schema.sort_key, &pk.sort) {
            it.insert(a.name.clone(), v.clone());
        }
    };
    add(base, &key.base);
    add(&def.key_schema, &key.index);
    it
}

/// Compares GSI `ordinal` of `core` with what its base table derives.
pub(crate) fn verify_index(core: &TableCore, ordinal: usize) -> Result<IndexVerifyReport, DbError> {
    let shards = core.shards()?;
    let base = &core.spec.key_schema;
    let shadow = shards
        .gsis
        .get(ordinal)
        .ok_or_else(|| DbError::invalid("no such index"))?;
    let def = &shadow.def;
    let mut report = IndexVerifyReport {
        index: def.name.clone(),
        ..IndexVerifyReport::default()
    };
    // Derived: entry key -> (partition, key item, projected item).
    let mut expected: BTreeMap<Vec<u8>, (u32, Item, Item)> = BTreeMap::new();
    let (lo, hi) = Space::Base.segment_range(0, 1);
    for part in &shards.parts {
        let snapshot = part.tree.snapshot();
        let iter = part.range(
            core,
            Bound::Included(lo.as_slice()),
            Bound::Excluded(hi.as_slice()),
            Some(&snapshot),
        )?;
        for kv in iter {
            let (k, v) = kv.map_err(|e| core.storage(part.index, e))?;
            let item = part.decode(core, &k, &v)?;
            report.base_items += 1;
            match entry_of(def, base, &item) {
                Ok(Some(e)) => {
                    let key = key_item(def, base, &e.at.key);
                    expected.insert(e.at.bytes, (e.at.partition, key, e.item));
                }
                Ok(None) => {}
                Err(
                    DeriveError::IndexKeyTypeMismatch { .. } | DeriveError::IndexKeyInvalid { .. },
                ) => {
                    report.skipped_items += 1;
                }
                Err(e) => {
                    return Err(DbError::Corruption {
                        table: core.name().to_owned(),
                        partition: part.index,
                        reason: format!("base item does not derive an index entry: {e}"),
                    });
                }
            }
        }
    }
    report.expected_entries = expected.len() as u64;
    let shape = KeyShape::new(def, base);
    let all = KeyRange::all_entries();
    for (g, tree) in (0u32..).zip(&shadow.trees) {
        let snapshot = tree.snapshot();
        let iter = tree
            .range(
                Bound::Included(all.start.as_slice()),
                Bound::Excluded(all.end.as_slice()),
                Some(&snapshot),
            )
            .map_err(|e| core.index_storage(ordinal, g, e))?;
        for kv in iter {
            let (k, v) = kv.map_err(|e| core.index_storage(ordinal, g, e))?;
            report.found_entries += 1;
            let undecodable = |reason: String| IndexDifference::Undecodable {
                partition: g,
                key_hex: crate::table::partition::hex(&k),
                reason,
            };
            let key = match EntryKey::decode(&k, shape) {
                Ok(key) => key,
                Err(e) => {
                    report.push(undecodable(e.to_string()));
                    continue;
                }
            };
            let found = match codec::decode_item(&v) {
                Ok(i) => i,
                Err(e) => {
                    report.push(undecodable(format!("value: {e}")));
                    continue;
                }
            };
            let key_attrs = key_item(def, base, &key);
            match expected.remove(&k) {
                None => report.push(IndexDifference::Unexpected {
                    partition: g,
                    key: key_attrs,
                }),
                Some((want, _, item)) => {
                    if want != g {
                        report.push(IndexDifference::WrongPartition {
                            partition: g,
                            expected: want,
                            key: key_attrs.clone(),
                        });
                    }
                    if item != found {
                        report.push(IndexDifference::ValueDiffers {
                            partition: g,
                            key: key_attrs,
                            expected: item,
                            found,
                        });
                    }
                }
            }
        }
    }
    for (_, (partition, key, _)) in expected {
        report.push(IndexDifference::Missing { partition, key });
    }
    Ok(report)
}
