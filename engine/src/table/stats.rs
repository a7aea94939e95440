//! [`Table::item_stats`]: how many items a table holds and how many bytes they take,
//! counted by a key scan of its partitions (DynamoDB's `ItemCount` and
//! `TableSizeBytes`; DynamoDB refreshes its figures every six hours, this one is exact
//! at the moment of the call).

use std::ops::Bound;

use super::Table;
use super::error::DbError;
use super::layout::{BASE_TAG, LSI_TAG};

/// A table's item count and size (see [`Table::item_stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ItemStats {
    /// Items in the table.
    pub items: u64,
    /// Bytes of the items as stored (keys plus encoded items; close to, not equal
    /// to, the sum of DynamoDB's item sizes).
    pub bytes: u64,
}

impl Table {
    /// Counts the table's items and their stored bytes, one consistent snapshot per
    /// partition. Reads every item key (cost grows with the table) and charges no
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
            let mut stats = ItemStats::default();
            let (lo, hi) = ([BASE_TAG], [LSI_TAG]);
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
                    stats.items += 1;
                    stats.bytes += (k.len() + v.len()) as u64;
                }
            }
            Ok(stats)
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
        assert!(before.bytes > 50 * 8, "{before:?}");
        t.delete_item(item! { "pk" => "p0", "sk" => 0 }, DeleteOptions::default())
            .unwrap();
        t.flush().unwrap();
        assert_eq!(t.item_stats().unwrap().items, 49);
        db.delete_table("tbl").unwrap();
        assert!(t.item_stats().is_err());
    }
}
