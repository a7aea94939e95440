//! `Db::update_table`: adding and removing a global secondary index on a table that
//! holds data (DynamoDB's `UpdateTable` with `GlobalSecondaryIndexUpdates`, one
//! `Create` or `Delete` per call).
//!
//! Both replace the table's open core: the old one stops (new operations wait, see
//! [`crate::Table`]; those in flight finish), its trees close, the change is made
//! durable with the catalog write as the commit point, and a new core opens the
//! table with its new set of indexes. Crash safety (see `docs/gsi-format.md`):
//!
//! - Adding: the new index's directory `gsi/g<id>` (a never-reused id) is created and
//!   initialised for backfill (`IndexStart::Backfill` with each base partition's last
//!   LSN as its snapshot LSN, all writes stopped) and synced *before* the catalog
//!   names it; a crash before the catalog write leaves a directory the next open
//!   removes.
//! - Removing: the catalog stops naming the index first, then its directory is
//!   removed; a crash in between leaves a directory the next open removes.

use std::sync::Arc;

use strata_index::IndexStart;

use super::{CATALOG_FILE, Db, TableEntry, table_dir_name};
use crate::capacity::{CapacityMode, OnDemandThroughput, ProvisionedThroughput};
use crate::gsi::{GsiShadow, gsi_dir};
use crate::table::core::{Existing, OpenEnv, TableCore, billing_config};
use crate::table::gate::Shut;
use crate::table::names::validate_table_name;
use crate::table::{DbError, GsiSpec, TableDescription};

/// One change of [`Db::update_table`]: DynamoDB allows one index creation or deletion
/// per `UpdateTable` call; billing changes are made in place (no tree is reopened).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableUpdate {
    change: Change,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Change {
    AddGsi(GsiSpec),
    RemoveGsi(String),
    Capacity(CapacityMode),
    OnDemand(OnDemandThroughput),
    GsiThroughput(String, ProvisionedThroughput),
}

impl TableUpdate {
    /// Adds a global secondary index; it is `CREATING` (backfilled in the
    /// background, reads refused) until every existing item is indexed, then `ACTIVE`.
    pub fn add_gsi(spec: GsiSpec) -> TableUpdate {
        TableUpdate {
            change: Change::AddGsi(spec),
        }
    }

    /// Removes the global secondary index called `name` and deletes its files.
    pub fn remove_gsi(name: impl Into<String>) -> TableUpdate {
        TableUpdate {
            change: Change::RemoveGsi(name.into()),
        }
    }

    /// Switches the billing mode, or changes a provisioned table's capacity
    /// (DynamoDB's `BillingMode` and `ProvisionedThroughput`). Switching to on-demand
    /// drops the GSIs' own provisioned figures, as DynamoDB does; switching to
    /// provisioned keeps the on-demand maximum out (it only applies on demand).
    pub fn capacity(mode: CapacityMode) -> TableUpdate {
        TableUpdate {
            change: Change::Capacity(mode),
        }
    }

    /// Sets an on-demand table's maximum (DynamoDB's `OnDemandThroughput`).
    pub fn on_demand_throughput(max: OnDemandThroughput) -> TableUpdate {
        TableUpdate {
            change: Change::OnDemand(max),
        }
    }

    /// Sets a GSI's own provisioned capacity on a provisioned table (DynamoDB's
    /// `GlobalSecondaryIndexUpdates` with `Update`).
    pub fn gsi_throughput(index: impl Into<String>, t: ProvisionedThroughput) -> TableUpdate {
        TableUpdate {
            change: Change::GsiThroughput(index.into(), t),
        }
    }

    /// Whether the change only touches billing settings.
    fn is_billing(&self) -> bool {
        matches!(
            self.change,
            Change::Capacity(_) | Change::OnDemand(_) | Change::GsiThroughput(..)
        )
    }
}

impl Db {
    /// Adds or removes a global secondary index of a table that may hold data
    /// (DynamoDB's `UpdateTable` with one `GlobalSecondaryIndexUpdates` entry).
    ///
    /// Adding returns once the index exists and is `CREATING`: the maintainer thread
    /// then backfills it from the table's items (writes go on meanwhile and are
    /// indexed exactly once; items whose index key attribute has the wrong type or
    /// size are skipped and counted, as DynamoDB does) and makes it `ACTIVE`; watch
    /// [`Db::describe_table`] or call [`Db::wait_for_indexes`]. While it is
    /// `CREATING`, reads of it are refused and base writes are not checked against
    /// its key types (DynamoDB rejects such writes only once the backfill is done).
    /// Removing stops its maintenance and deletes its files before returning.
    ///
    /// While the change is made (the table's trees are closed and reopened) operations
    /// through [`crate::Table`] handles wait for it; `Db`-level batch operations that
    /// started just before may fail with [`DbError::TableUpdating`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use strata_engine::{Db, DbOptions, GsiSpec, PutOptions, TableSpec, TableUpdate};
    /// use strata_item::{item, KeySchema, KeyType};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), DbOptions::default())?;
    /// db.create_table(TableSpec::new("users", KeySchema::simple("id", KeyType::S)))?;
    /// let users = db.table("users")?;
    /// users.put_item(item! { "id" => "u1", "city" => "Oslo" }, PutOptions::default())?;
    /// db.update_table("users", TableUpdate::add_gsi(GsiSpec::new("by_city", KeySchema::simple("city", KeyType::S))))?;
    /// db.wait_for_indexes("users", Duration::from_secs(30))?;
    /// assert!(db.verify_index("users", "by_city")?.is_clean());
    /// db.update_table("users", TableUpdate::remove_gsi("by_city"))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`DbError::InvalidTableSpec`] when the table with the new index breaks a rule
    /// (20 GSIs at most, unique names, one type per attribute, projections);
    /// [`DbError::IndexNotFound`] when removing an index the table does not have;
    /// [`DbError::TableNotFound`]; [`DbError::Closed`]; I/O and storage errors (the
    /// catalog on disk then decides, on this and the next open, whether the change
    /// happened).
    pub fn update_table(
        &self,
        name: &str,
        update: TableUpdate,
    ) -> Result<TableDescription, DbError> {
        validate_table_name(name)?;
        self.check_not_in_callback("update_table")?;
        let inner = &self.inner;
        let _ddl = inner.ddl.lock();
        let (entry, old) = {
            let st = inner.state.read();
            let entry = st.entry(name)?;
            let core = st
                .tables
                .get(name)
                .cloned()
                .ok_or_else(|| DbError::TableNotFound {
                    table: name.to_owned(),
                })?;
            (entry, core)
        };
        let mut next = entry.clone();
        if update.is_billing() {
            return self.update_billing(name, &update.change, next, &old);
        }
        match &update.change {
            Change::AddGsi(g) => {
                next.spec.global_secondary_indexes.push(g.clone());
                next.spec.validate()?;
                next.gsi_ids.push(next.next_gsi_id);
                next.next_gsi_id = next.next_gsi_id.checked_add(1).ok_or_else(|| {
                    DbError::invalid(format!("table {name} has used up its index ids"))
                })?;
            }
            Change::Capacity(_) | Change::OnDemand(_) | Change::GsiThroughput(..) => {
                return Err(DbError::invalid(
                    "internal: a billing change took the index path",
                ));
            }
            Change::RemoveGsi(index) => {
                let at = next
                    .spec
                    .global_secondary_indexes
                    .iter()
                    .position(|g| &g.name == index)
                    .ok_or_else(|| DbError::IndexNotFound {
                        table: name.to_owned(),
                        index: index.clone(),
                    })?;
                next.spec.global_secondary_indexes.remove(at);
                next.gsi_ids.remove(at);
            }
        }
        // Stop the table: new operations wait (handles) or fail; those in flight and
        // the maintainer's round finish first.
        old.stop(Shut::Replaced)?;
        inner.gsi.unregister(old.id);
        let snapshot_lsns = old.last_lsns();
        if let Err(e) = old.shutdown(Shut::Replaced) {
            tracing::warn!(table = name, error = %e, "closing a table's trees for update_table");
        }
        let table_dir = self.tables_dir().join(table_dir_name(entry.id));
        let committed = match (&update.change, snapshot_lsns) {
            (Change::AddGsi(g), Ok(lsns)) => {
                let id = next.gsi_ids.last().copied().unwrap_or_default();
                match self.create_index_dir(&next, g, id, lsns) {
                    // A failed catalog write may still have reached the disk (the
                    // rename before a failed directory sync): the directory stays,
                    // and the next open keeps or removes it as the catalog says.
                    Ok(()) => self.store_entry(&next),
                    Err(e) => {
                        let dir = gsi_dir(&table_dir, id);
                        if let Err(rm) = inner.fs.remove_dir_all(&dir) {
                            tracing::warn!(dir = %dir.display(), error = %rm,
                                "could not remove the directory of a failed add_gsi; it is removed on the next open");
                        }
                        Err(e)
                    }
                }
            }
            (Change::AddGsi(_), Err(e)) => Err(e),
            (_, _) => self.store_entry(&next),
        };
        // Whatever happened, reopen the table as the catalog in memory now says.
        let current = if committed.is_ok() { &next } else { &entry };
        let reopened = self.open_core(current);
        let mut st = inner.state.write();
        if committed.is_ok()
            && let Some(t) = st.catalog.tables.iter_mut().find(|t| t.id == entry.id)
        {
            *t = next.clone();
        }
        let core = match reopened {
            Ok(c) => Arc::new(c),
            Err(e) => {
                st.tables.remove(name);
                tracing::warn!(table = name, error = %e, "reopening a table after update_table failed");
                return Err(e);
            }
        };
        st.tables.insert(name.to_owned(), Arc::clone(&core));
        drop(st);
        inner.gsi.register(&core);
        committed?;
        if let Change::RemoveGsi(index) = &update.change {
            let removed_id = entry
                .spec
                .global_secondary_indexes
                .iter()
                .zip(&entry.gsi_ids)
                .find(|(g, _)| &g.name == index)
                .map(|(_, id)| *id);
            if let Some(id) = removed_id {
                let dir = gsi_dir(&table_dir, id);
                let removed = inner
                    .fs
                    .remove_dir_all(&dir)
                    .and_then(|()| inner.fs.sync_dir(&table_dir.join(crate::gsi::GSI_DIR)));
                if let Err(e) = removed {
                    tracing::warn!(dir = %dir.display(), error = %e,
                        "could not remove a removed index's directory; it is removed on the next open");
                }
            }
        }
        tracing::info!(table = name, change = ?update.change, "table updated");
        self.describe_table(name)
    }

    /// Applies a billing change: the catalog first (the commit point), then the
    /// table's token buckets. The table's trees stay open.
    fn update_billing(
        &self,
        name: &str,
        change: &Change,
        mut next: TableEntry,
        core: &TableCore,
    ) -> Result<TableDescription, DbError> {
        let spec = &mut next.spec;
        match change {
            Change::Capacity(mode) => {
                spec.capacity = *mode;
                match mode {
                    CapacityMode::OnDemand => {
                        for g in &mut spec.global_secondary_indexes {
                            g.provisioned_throughput = None;
                        }
                    }
                    CapacityMode::Provisioned { .. } => {
                        spec.on_demand_throughput = OnDemandThroughput::default();
                    }
                }
            }
            Change::OnDemand(max) => spec.on_demand_throughput = *max,
            Change::GsiThroughput(index, t) => {
                let g = spec
                    .global_secondary_indexes
                    .iter_mut()
                    .find(|g| &g.name == index)
                    .ok_or_else(|| DbError::IndexNotFound {
                        table: name.to_owned(),
                        index: index.clone(),
                    })?;
                g.provisioned_throughput = Some(*t);
            }
            Change::AddGsi(_) | Change::RemoveGsi(_) => {
                return Err(DbError::invalid(
                    "internal: an index change took the billing path",
                ));
            }
        }
        next.spec.validate()?;
        self.store_entry(&next)?;
        {
            let mut st = self.inner.state.write();
            if let Some(t) = st.catalog.tables.iter_mut().find(|t| t.id == next.id) {
                *t = next.clone();
            }
        }
        core.capacity
            .configure(&billing_config(&next.spec))
            .map_err(DbError::invalid)?;
        tracing::info!(
            table = name,
            mode = next.spec.capacity.billing_mode_name(),
            "table billing updated"
        );
        self.describe_table(name)
    }

    /// Creates and initialises the directory of a GSI being added (every partition's
    /// header, the home partition's backfill progress per base partition), synced.
    fn create_index_dir(
        &self,
        entry: &TableEntry,
        g: &GsiSpec,
        id: u32,
        snapshot_lsns: Vec<u64>,
    ) -> Result<(), DbError> {
        let inner = &self.inner;
        let fs = &inner.fs;
        let table_dir = self.tables_dir().join(table_dir_name(entry.id));
        let gdir = gsi_dir(&table_dir, id);
        // A leftover of an earlier failed attempt with this id cannot exist (ids are
        // never reused), but a directory there would be mixed in: refuse.
        if fs.exists(&gdir) {
            return Err(DbError::invalid(format!(
                "index directory {} already exists",
                gdir.display()
            )));
        }
        fs.create_dir_all(&gdir)
            .map_err(|e| DbError::io(&gdir, e))?;
        let mut tree_opts = inner.tree_opts.clone();
        tree_opts.fs = Arc::clone(fs);
        tree_opts.shared = Some(inner.shared.clone());
        let start = IndexStart::Backfill { snapshot_lsns };
        let shadow = GsiShadow::open(
            fs,
            &gdir,
            g.def(),
            entry.spec.partitions,
            &tree_opts,
            Some(&start),
        )
        .map_err(|(partition, source)| DbError::IndexStorage {
            table: entry.spec.name.clone(),
            index: g.name.clone(),
            partition,
            source: Box::new(source),
        })?;
        shadow
            .close()
            .map_err(|(partition, source)| DbError::IndexStorage {
                table: entry.spec.name.clone(),
                index: g.name.clone(),
                partition,
                source: Box::new(source),
            })?;
        let parent = table_dir.join(crate::gsi::GSI_DIR);
        fs.sync_dir(&gdir)
            .and_then(|()| fs.sync_dir(&parent))
            .and_then(|()| fs.sync_dir(&table_dir))
            .map_err(|e| DbError::io(&gdir, e))
    }

    /// Writes the catalog with `entry` replacing its table's entry.
    fn store_entry(&self, entry: &TableEntry) -> Result<(), DbError> {
        let inner = &self.inner;
        let mut catalog = inner.state.read().catalog.clone();
        if let Some(t) = catalog.tables.iter_mut().find(|t| t.id == entry.id) {
            *t = entry.clone();
        }
        catalog.store(inner.fs.as_ref(), &inner.path.join(CATALOG_FILE))
    }

    /// Opens the table of `entry` (its directories exist).
    fn open_core(&self, entry: &TableEntry) -> Result<TableCore, DbError> {
        let inner = &self.inner;
        let env = OpenEnv {
            fs: &inner.fs,
            tree_opts: &inner.tree_opts,
            shared: &inner.shared,
            hooks: &inner.hooks,
        };
        TableCore::open(
            &env,
            &self.tables_dir().join(table_dir_name(entry.id)),
            entry.id,
            entry.spec.clone(),
            &entry.gsi_ids,
            Existing::MustExist,
        )
    }

    /// Pauses (`true`) or resumes the maintenance of every global secondary index: a
    /// test hook for a maintainer that falls behind (back-pressure, lag). Not for
    /// production use: indexes stop catching up while paused.
    #[doc(hidden)]
    pub fn pause_index_maintenance(&self, paused: bool) {
        self.inner.gsi.set_paused(paused);
    }

    /// The table's open core, after any `update_table` in progress.
    pub(crate) fn current_core(&self, name: &str) -> Result<Arc<TableCore>, DbError> {
        let mut core = self.core(name)?;
        loop {
            let entered = core.enter().map(drop);
            match entered {
                Ok(()) => return Ok(core),
                Err(Shut::Replaced) => core = self.replacement_of(&core)?,
                Err(why) => return Err(core.shut_error(why)),
            }
        }
    }

    /// The table that replaced `core` (after an `update_table`), waiting for an
    /// `update_table` in progress to finish.
    pub(crate) fn replacement_of(&self, core: &TableCore) -> Result<Arc<TableCore>, DbError> {
        drop(self.inner.ddl.lock());
        let st = self.inner.state.read();
        if st.closed {
            return Err(DbError::Closed);
        }
        match st.tables.get(core.name()) {
            Some(c) if c.id == core.id && !std::ptr::eq(&**c, core) => Ok(Arc::clone(c)),
            Some(c) if c.id == core.id => Err(DbError::TableUpdating {
                table: core.name().to_owned(),
            }),
            _ => Err(DbError::TableNotFound {
                table: core.name().to_owned(),
            }),
        }
    }
}
