//! [`Db::ensure_table`]: create a table unless it exists with the same schema.

use super::Db;
use crate::table::spec_diff::spec_differences;
use crate::table::{DbError, TableDescription, TableSpec};

impl Db {
    /// Makes sure the table `spec` describes exists: creates it if it is missing;
    /// returns its description if it exists with the same schema; otherwise fails with
    /// [`DbError::TableSpecMismatch`], naming every difference (key schema,
    /// partitions, local and global secondary indexes, durability, billing mode,
    /// on-demand maximum), and changes nothing. Indexes are compared by name, so their
    /// order in the spec does not matter.
    ///
    /// This is the call for an application that declares its tables at start-up: a
    /// spec that drifted from the stored table (an LSI added in the code, which cannot
    /// be added to an existing table) is reported when the application starts, not
    /// when a query first uses the index. A GSI can be added or removed with
    /// [`Db::update_table`].
    ///
    /// ```
    /// use strata_engine::{Db, DbError, LsiSpec, TableSpec};
    /// use strata_item::{KeySchema, KeyType};
    ///
    /// let db = Db::open_in_memory()?;
    /// let spec = TableSpec::new("orders", KeySchema::composite("customer", KeyType::S, "id", KeyType::N));
    /// db.ensure_table(spec.clone())?; // created
    /// db.ensure_table(spec.clone())?; // there, the same: Ok
    ///
    /// let drifted = spec.lsi(LsiSpec::new("by_total", "total", KeyType::N));
    /// match db.ensure_table(drifted) {
    ///     Err(DbError::TableSpecMismatch { differences, .. }) => {
    ///         assert!(differences[0].starts_with("local secondary index by_total: in the spec, not in the table"));
    ///     }
    ///     other => panic!("{other:?}"),
    /// }
    /// # Ok::<(), strata_engine::DbError>(())
    /// ```
    ///
    /// # Errors
    /// [`DbError::TableSpecMismatch`]; an invalid spec ([`DbError::InvalidTableSpec`]);
    /// the errors of [`Db::create_table`] and [`Db::describe_table`].
    pub fn ensure_table(&self, spec: TableSpec) -> Result<TableDescription, DbError> {
        spec.validate()?;
        let existing = match self.describe_table(&spec.name) {
            Err(DbError::TableNotFound { .. }) => match self.create_table(spec.clone()) {
                // Created by someone else meanwhile: compare with theirs.
                Err(DbError::TableExists { .. }) => self.describe_table(&spec.name)?,
                created => return created,
            },
            found => found?,
        };
        let differences = spec_differences(&existing.spec, &spec);
        if differences.is_empty() {
            Ok(existing)
        } else {
            Err(DbError::TableSpecMismatch {
                table: spec.name,
                differences,
            })
        }
    }
}
