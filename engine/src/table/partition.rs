//! One hash partition: an LSM tree and the lock that serialises its read-modify-write
//! cycles. All writes of a table go through [`Partition::apply`]: the one place that
//! reads the old item, decides the new one, derives LSI changes, charges capacity,
//! commits one atomic batch, and reports to the change feed.

use std::ops::Bound;
use std::path::Path;

use parking_lot::Mutex;
use strata_item::{Item, PrimaryKey, codec};

use crate::lsm::{Snapshot, Tree, TreeIter, TreeOptions, WriteBatch};

use super::capacity::{ConsumedCapacity, OpKind, write_units};
use super::core::TableCore;
use super::error::DbError;
use super::feed::Change;
use super::layout::HashedKey;
use super::lsi;
use crate::gsi::delta as gsi_delta;

/// Decides the new item from the old one (`None`: absent / delete). Errors abort the
/// whole batch with nothing written.
pub(crate) type Decide<'a> = Box<dyn FnOnce(Option<&Item>) -> Result<Option<Item>, DbError> + 'a>;

/// One item to change.
pub(crate) struct Mutation<'a> {
    pub key: PrimaryKey,
    pub hashed: HashedKey,
    pub base_key: Vec<u8>,
    pub decide: Decide<'a>,
}

/// What a mutation did.
#[derive(Debug)]
pub(crate) struct Applied {
    pub old: Option<Item>,
    pub new: Option<Item>,
    /// Table and LSI write units of this item.
    pub capacity: ConsumedCapacity,
}

/// One partition of a table.
#[derive(Debug)]
pub(crate) struct Partition {
    pub index: u32,
    pub tree: Tree,
    write_lock: Mutex<()>,
}

impl Partition {
    pub(crate) fn open(
        dir: &Path,
        index: u32,
        opts: TreeOptions,
    ) -> Result<Partition, crate::lsm::Error> {
        Ok(Partition {
            index,
            tree: Tree::open(dir, opts)?,
            write_lock: Mutex::new(()),
        })
    }

    /// Decodes a stored item (or index entry).
    pub(crate) fn decode(
        &self,
        core: &TableCore,
        key: &[u8],
        value: &[u8],
    ) -> Result<Item, DbError> {
        codec::decode_item(value).map_err(|e| DbError::Corruption {
            table: core.name().to_owned(),
            partition: self.index,
            reason: format!("value of key {} does not decode: {e}", hex(key)),
        })
    }

    /// Reads one stored item.
    pub(crate) fn read(
        &self,
        core: &TableCore,
        key: &[u8],
        snapshot: Option<&Snapshot>,
    ) -> Result<Option<Item>, DbError> {
        match self
            .tree
            .get(key, snapshot)
            .map_err(|e| core.storage(self.index, e))?
        {
            Some(v) => Ok(Some(self.decode(core, key, &v)?)),
            None => Ok(None),
        }
    }

    /// Iterates stored entries in `[lower, upper)`.
    pub(crate) fn range(
        &self,
        core: &TableCore,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        snapshot: Option<&Snapshot>,
    ) -> Result<TreeIter, DbError> {
        self.tree
            .range(lower, upper, snapshot)
            .map_err(|e| core.storage(self.index, e))
    }

    /// Applies mutations of distinct items of this partition as one atomic batch:
    /// under the partition lock, reads each old item, lets `decide` choose the new one
    /// (a failed condition or an invalid result aborts everything, nothing written),
    /// derives the LSI entry changes, commits one WAL batch, then reports each change to
    /// the change feed. Capacity is admitted before and charged after (also for a
    /// failed condition).
    pub(crate) fn apply(
        &self,
        core: &TableCore,
        muts: Vec<Mutation<'_>>,
    ) -> Result<Vec<Applied>, DbError> {
        core.admit(Some(self.index), OpKind::Write)?;
        crate::gsi::pressure::admit_write(core, self)?;
        let schema = &core.spec.key_schema;
        let lsis = &core.spec.local_secondary_indexes;
        let _guard = self.write_lock.lock();
        let mut batch = WriteBatch::new();
        let mut has_gsi_delta = false;
        let mut applied = Vec::with_capacity(muts.len());
        let mut keys = Vec::with_capacity(muts.len());
        let mut gsi_deltas = Vec::new();
        for m in muts {
            let old = self.read(core, &m.base_key, None)?;
            let new = match (m.decide)(old.as_ref()) {
                Ok(new) => new,
                Err(e) => {
                    if matches!(e, DbError::ConditionalCheckFailed { .. }) {
                        // DynamoDB charges a failed conditional write by the size of the
                        // existing item (at least one unit).
                        let mut cap = ConsumedCapacity::new(core.name());
                        cap.add_table_write(write_units(old.as_ref().map_or(0, Item::size)));
                        core.charge(Some(self.index), OpKind::Write, &cap);
                    }
                    return Err(e);
                }
            };
            let mut cap = ConsumedCapacity::new(core.name());
            let old_size = old.as_ref().map_or(0, Item::size);
            let new_size = new.as_ref().map_or(0, Item::size);
            cap.add_table_write(write_units(old_size.max(new_size)));
            for (i, spec) in lsis.iter().enumerate() {
                let idx = u8::try_from(i).map_err(|_| DbError::invalid("too many indexes"))?;
                let old_entry = match &old {
                    Some(o) => lsi::entry(schema, idx, spec, &m.hashed, o)?,
                    None => None,
                };
                let new_entry = match &new {
                    Some(n) => {
                        lsi::check_index_key(spec, n)?;
                        let e = lsi::entry(schema, idx, spec, &m.hashed, n)?;
                        if let Some(e) = &e {
                            lsi::check_size(spec, n, e.size)?;
                        }
                        e
                    }
                    None => None,
                };
                let change = lsi::diff(old_entry, new_entry);
                if let Some(k) = &change.delete {
                    batch.delete(k);
                }
                if let Some(e) = &change.put {
                    batch.put(&e.key, &codec::encode_item(&e.item));
                }
                cap.add_index_write(&spec.name, change.units);
            }
            for (g, (def, spec)) in core
                .gsi_defs
                .iter()
                .zip(&core.spec.global_secondary_indexes)
                .enumerate()
            {
                let d = if core.gsi.is_creating(g) {
                    // Not checked at write time while CREATING: an invalid index key
                    // attribute means no entry, as in the backfill.
                    strata_index::derive_keys_committed(def, schema, old.as_ref(), new.as_ref())
                        .map(|(d, _skipped)| d)
                } else {
                    strata_index::derive_keys(def, schema, old.as_ref(), new.as_ref())
                }
                .map_err(derive_error)?;
                if !d.is_empty() {
                    gsi_deltas.push(gsi_delta::encode(&def.name, &d));
                }
                cap.add_gsi_write(&spec.name, d.write_units as f64);
            }
            match &new {
                Some(n) => {
                    batch.put(&m.base_key, &codec::encode_item(n));
                }
                None if old.is_some() => {
                    batch.delete(&m.base_key);
                }
                None => {}
            }
            // After the base item's put: a delta's entry refers to the nearest put
            // before it (`docs/gsi-format.md`).
            has_gsi_delta |= !gsi_deltas.is_empty();
            for d in gsi_deltas.drain(..) {
                batch.log_data(&d);
            }
            keys.push(m.key);
            applied.push(Applied {
                old,
                new,
                capacity: cap,
            });
        }
        let seqno = if batch.is_empty() {
            0
        } else {
            if let Some(w) = core.gsi.written.get(self.index as usize) {
                w.note(batch.approximate_size());
            }
            let seqno = self
                .tree
                .write(batch, core.durability)
                .map_err(|e| core.storage(self.index, e))?;
            if has_gsi_delta {
                // Under the write lock: the record just appended is the WAL's last.
                core.gsi
                    .note_write(self.index, self.tree.wal_next_lsn().saturating_sub(1));
            }
            seqno
        };
        let mut total = ConsumedCapacity::new(core.name());
        for a in &applied {
            total.merge(&a.capacity);
        }
        core.charge(Some(self.index), OpKind::Write, &total);
        if let Some(sink) = &core.hooks.change_sink {
            for (a, key) in applied.iter().zip(&keys) {
                if a.old != a.new {
                    sink.on_change(&Change {
                        table: core.name(),
                        table_id: core.id,
                        partition: self.index,
                        seqno,
                        key,
                        old: a.old.as_ref(),
                        new: a.new.as_ref(),
                    });
                }
            }
        }
        Ok(applied)
    }
}

/// A write-time derivation error as the writer sees it (DynamoDB's messages).
pub(crate) fn derive_error(e: strata_index::DeriveError) -> DbError {
    match e {
        strata_index::DeriveError::IndexKeyTypeMismatch {
            index,
            attribute,
            expected,
            actual,
        } => DbError::IndexKeyTypeMismatch {
            index,
            attribute,
            expected,
            actual,
        },
        strata_index::DeriveError::IndexKeyInvalid {
            index,
            attribute,
            reason,
        } => DbError::IndexKeyInvalid {
            index,
            attribute,
            reason,
        },
        other => DbError::invalid(other.to_string()),
    }
}

/// Hex rendering of a key for error messages (at most 64 bytes shown).
pub(crate) fn hex(b: &[u8]) -> String {
    let mut s: String = b.iter().take(64).map(|x| format!("{x:02x}")).collect();
    if b.len() > 64 {
        s.push_str("...");
    }
    s
}
