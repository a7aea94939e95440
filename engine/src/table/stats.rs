//! [`Table::item_stats`]: how many items a table holds and how many bytes they take,
//! counted by a key scan of its partitions (DynamoDB's `ItemCount` and
//! `TableSizeBytes`; DynamoDB refreshes its figures every six hours, this one is exact
//! at the moment of the call).

use std::ops::Bound;

use strata_item::{AttributeValue, KeyRole, KeySchema};

use super::Table;
use super::collections;
use super::error::DbError;
use super::layout::{BASE_TAG, HashedKey, LSI_TAG};

/// A table's item count and size (see [`Table::item_stats`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ItemStats {
    /// Items in the table.
    pub items: u64,
    /// Bytes of the items as stored (keys plus encoded items; close to, not equal
    /// to, the sum of DynamoDB's item sizes).
    pub bytes: u64,
    /// Entries and stored bytes of each local secondary index, in spec order.
    pub local_secondary_indexes: Vec<(u64, u64)>,
}

impl Table {
    /// Counts the table's items and their stored bytes (and its LSIs' entries), one
    /// consistent snapshot per partition. Reads every item key (cost grows with the table) and charges no
    /// capacity: it is a description, not a read of the data.
    ///
    /// ```
    /// use strata_engine::{Db, PutOptions, TableSpec};
    /// use strata_item::{item, KeySchema, KeyType};
    ///
    /// let db = Db::open_in_memory()?;
    /// db.create_table(TableSpec::new("things", KeySchema::simple("id", KeyType::N)))?;
    /// let things = db.table("things")?;
    /// for id in 0..10 {
    ///     things.put_item(item! { "id" => id }, PutOptions::default())?;
    /// }
    /// assert_eq!(things.item_stats()?.items, 10);
    /// # Ok::<(), strata_engine::DbError>(())
    /// ```
    ///
    /// # Errors
    /// Storage errors; [`DbError::TableNotFound`] once the table is deleted.
    pub fn item_stats(&self) -> Result<ItemStats, DbError> {
        self.with_core(|core| {
            let parts = core.partitions()?;
            let mut stats = ItemStats {
                local_secondary_indexes: vec![(0, 0); core.spec.local_secondary_indexes.len()],
                ..ItemStats::default()
            };
            // Base items, then every LSI's entries (the byte after the tag is the
            // LSI's number).
            let (lo, hi) = ([BASE_TAG], [LSI_TAG + 1]);
            for part in parts.iter() {
                let snapshot = part.tree.snapshot();
                let iter = part.range(
                    core,
                    Bound::Included(lo.as_slice()),
                    Bound::Excluded(hi.as_slice()),
                    Some(&snapshot),
                )?;
                for kv in iter {
                    let (k, v) = kv.map_err(|e| core.storage(part.index, e))?;
                    let size = (k.len() + v.len()) as u64;
                    match (k.first(), k.get(1)) {
                        (Some(&BASE_TAG), _) => {
                            stats.items += 1;
                            stats.bytes += size;
                        }
                        (Some(&LSI_TAG), Some(&n)) => {
                            if let Some(l) = stats.local_secondary_indexes.get_mut(usize::from(n)) {
                                l.0 += 1;
                                l.1 += size;
                            }
                        }
                        _ => {}
                    }
                }
            }
            Ok(stats)
        })
    }
}

impl Table {
    /// [`Table::item_stats`] counted at most [`crate::DbOptions::item_stats_max_age`]
    /// ago (by [`crate::DbOptions::clock`]): the figures of the last count while they
    /// are younger than that, else a new count (a key scan of the table), which is
    /// then kept. What a server reports as `DescribeTable`'s `ItemCount` and
    /// `TableSizeBytes`, which DynamoDB too updates only now and then: the cost of a
    /// scan is paid at most once per period however often the table is described.
    /// The figures start afresh when the table's definition changes (`update_table`).
    ///
    /// # Errors
    /// As [`Table::item_stats`].
    pub fn item_stats_cached(&self) -> Result<ItemStats, DbError> {
        let cached = self.with_core(|core| {
            let now = core.hooks.clock.now();
            Ok(match &*core.stats_cache.lock() {
                Some((at, stats)) if now.saturating_sub(*at) < core.hooks.item_stats_max_age => {
                    Some(stats.clone())
                }
                _ => None,
            })
        })?;
        if let Some(stats) = cached {
            return Ok(stats);
        }
        let stats = self.item_stats()?;
        self.with_core(|core| {
            let now = core.hooks.clock.now();
            *core.stats_cache.lock() = Some((now, stats.clone()));
            Ok(stats)
        })
    }

    /// The bytes of the item collection of `partition_key`: its base items and their
    /// local secondary index entries, as stored (keys plus values) — what DynamoDB's
    /// `ItemCollectionMetrics` estimates and its 10 GB item-collection limit counts.
    /// For a table with LSIs this is the size the limit is checked against, kept up
    /// to date by every write (it reads the collection's keys only when the size is
    /// not known yet); otherwise the collection's keys are read. Charges no capacity.
    ///
    /// # Errors
    /// A key error when `partition_key` does not fit the table's partition key;
    /// storage errors.
    pub fn item_collection_bytes(&self, partition_key: &AttributeValue) -> Result<u64, DbError> {
        self.with_core(|core| {
            let attr = &core.spec.key_schema.partition_key;
            KeySchema::check_key_value(attr, KeyRole::Partition, partition_key)?;
            let hashed = HashedKey::new(partition_key)
                .map_err(|e| DbError::invalid(format!("partition key cannot be encoded: {e}")))?;
            let parts = core.partitions()?;
            let part = parts
                .get(hashed.partition(core.spec.partitions) as usize)
                .ok_or_else(|| DbError::invalid("partition out of range"))?;
            if core.spec.local_secondary_indexes.is_empty() {
                // No limit to check, so nothing tracked: measure.
                return collections::measure(core, part, &hashed);
            }
            part.collection_size(core, &hashed)
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::{Db, DeleteOptions, LsiSpec, PutOptions, TableSpec};
    use strata_item::{KeySchema, KeyType, item};

    #[test]
    fn counts_items_not_index_entries_or_deleted_items() {
        let db = Db::open_in_memory().unwrap();
        db.create_table(
            TableSpec::new(
                "tbl",
                KeySchema::composite("pk", KeyType::S, "sk", KeyType::N),
            )
            .lsi(LsiSpec::new("by_x", "x", KeyType::S)),
        )
        .unwrap();
        let t = db.table("tbl").unwrap();
        assert_eq!(t.item_stats().unwrap().items, 0);
        for i in 0..50 {
            t.put_item(
                item! { "pk" => format!("p{}", i % 7), "sk" => i, "x" => "v" },
                PutOptions::default(),
            )
            .unwrap();
        }
        let before = t.item_stats().unwrap();
        assert_eq!(before.items, 50);
        assert_eq!(before.local_secondary_indexes.len(), 1);
        assert_eq!(before.local_secondary_indexes[0].0, 50);
        assert!(before.bytes > 50 * 8, "{before:?}");
        t.delete_item(item! { "pk" => "p0", "sk" => 0 }, DeleteOptions::default())
            .unwrap();
        t.flush().unwrap();
        assert_eq!(t.item_stats().unwrap().items, 49);
        // p1's collection: its 7 items and their LSI entries; p1 alone is smaller
        // than the table, and grows with an item.
        let p1 = t.item_collection_bytes(&"p1".into()).unwrap();
        assert!(p1 > 0 && p1 < before.bytes, "{p1} vs {before:?}");
        t.put_item(
            item! { "pk" => "p1", "sk" => 1000, "x" => "w" },
            PutOptions::default(),
        )
        .unwrap();
        assert!(t.item_collection_bytes(&"p1".into()).unwrap() > p1);
        assert_eq!(t.item_collection_bytes(&"none".into()).unwrap(), 0);
        assert!(
            t.item_collection_bytes(&1.into())
                .unwrap_err()
                .is_validation()
        );
        db.delete_table("tbl").unwrap();
        assert!(t.item_stats().is_err());
    }
}
