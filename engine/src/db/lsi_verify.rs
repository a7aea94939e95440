//! [`Db::verify_local_index`]: the local secondary index check.

use super::Db;
use crate::gsi::check::IndexVerifyReport;
use crate::table::DbError;

impl Db {
    /// Derives local secondary index `index` of `table` from a scan of each
    /// partition's base items and compares it, entry by entry, with the entries the
    /// partition holds: missing, unexpected (stale) and differing entries, and entries
    /// whose value does not decode (the same report as [`Db::verify_index`] for a
    /// GSI; a difference's `partition` is the table's hash partition). Each partition
    /// is compared on one snapshot, and an item and its LSI entries are written in one
    /// batch, so the check is exact while writes run. Holds one partition's derived
    /// entries in memory at a time.
    ///
    /// ```
    /// use strata_engine::{Db, LsiSpec, PutOptions, TableSpec};
    /// use strata_item::{item, KeySchema, KeyType};
    ///
    /// let db = Db::open_in_memory()?;
    /// db.create_table(TableSpec::new("posts", KeySchema::composite("user", KeyType::S, "ts", KeyType::N))
    ///     .lsi(LsiSpec::new("by_likes", "likes", KeyType::N)))?;
    /// db.table("posts")?.put_item(item! { "user" => "ada", "ts" => 1, "likes" => 3 }, PutOptions::default())?;
    /// let report = db.verify_local_index("posts", "by_likes")?;
    /// assert!(report.is_clean(), "{report}");
    /// assert_eq!(report.found_entries, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`DbError::IndexNotFound`] (also for a global secondary index),
    /// [`DbError::TableNotFound`], [`DbError::Closed`], storage errors, and
    /// [`DbError::Corruption`] for a base item that does not decode.
    pub fn verify_local_index(
        &self,
        table: &str,
        index: &str,
    ) -> Result<IndexVerifyReport, DbError> {
        let core = self.current_core(table)?;
        let ordinal = core
            .spec
            .local_secondary_indexes
            .iter()
            .position(|l| l.name == index)
            .ok_or_else(|| DbError::IndexNotFound {
                table: table.to_owned(),
                index: index.to_owned(),
            })?;
        crate::table::verify_lsi(&core, ordinal)
    }
}
