//! One hash partition: an LSM tree and the lock that serialises its read-modify-write
//! cycles. All writes of a table go through [`Partition::apply`]: the one place that
//! reads the old item, decides the new one, derives LSI changes, charges capacity,
//! commits one atomic batch, and reports to the change feed.

use std::ops::Bound;
use std::path::Path;

use parking_lot::Mutex;
use strata_item::{Item, PrimaryKey, codec};

use crate::lsm::{PendingWrite, Snapshot, Tree, TreeIter, TreeOptions, WriteBatch};

use super::collections::{self, CollectionSizes};
use super::core::TableCore;
use super::error::DbError;
use super::feed::Change;
use super::layout::HashedKey;
use super::lsi;
use crate::capacity::{ConsumedCapacity, OpKind, write_units};
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
    /// Table, LSI and GSI write units of this item (none if throttled).
    pub capacity: ConsumedCapacity,
    /// Its capacity budgets could not absorb it: nothing was written for it
    /// ([`OnThrottle::Skip`] only).
    pub throttled: bool,
}

/// A write decided and appended by [`Partition::begin`], waiting for its fsync and
/// visibility in [`Begun::finish`].
#[must_use = "a begun write must be finished"]
pub(crate) struct Begun<'p> {
    partition: &'p Partition,
    pending: Option<PendingWrite>,
    applied: Vec<Applied>,
    keys: Vec<PrimaryKey>,
}

impl Begun<'_> {
    /// Waits until the write is as durable as the table promises and visible,
    /// charges its capacity and tells the change sink. Returns what each mutation did.
    pub(crate) fn finish(self, core: &TableCore) -> Result<Vec<Applied>, DbError> {
        let Begun {
            partition,
            pending,
            applied,
            keys,
        } = self;
        let seqno = match pending {
            Some(p) => partition.tree.write_finish(p).map_err(|e| {
                // The write's collection sizes may now be wrong: measure again.
                partition.collections.lock().clear();
                core.storage(partition.index, e)
            })?,
            None => 0,
        };
        let mut total = ConsumedCapacity::new(core.name());
        for a in &applied {
            total.merge(&a.capacity);
        }
        if total.capacity_units > 0.0 {
            core.charge(Some(partition.index), OpKind::Write, &total);
        }
        if let Some(sink) = &core.hooks.change_sink {
            for (a, key) in applied.iter().zip(&keys) {
                if !a.throttled && a.old != a.new {
                    sink.on_change(&Change {
                        table: core.name(),
                        table_id: core.id,
                        partition: partition.index,
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

/// One partition of a table.
#[derive(Debug)]
pub(crate) struct Partition {
    pub index: u32,
    pub tree: Tree,
    write_lock: Mutex<()>,
    /// Known item collection sizes (tables with LSIs), changed under `write_lock`.
    collections: Mutex<CollectionSizes>,
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
            collections: Mutex::new(CollectionSizes::default()),
        })
    }

    /// Decodes a stored item (or index entry).
    pub(crate) fn decode(
        &self,
        core: &TableCore,
        key: &[u8],
        value: &[u8],
    ) -> Result<Item, DbError> {
        codec::decode_item(value).map_err(|e| self.undecodable(core, key, e))
    }

    /// [`Partition::decode`] with the item's size ([`Item::size`]).
    pub(crate) fn decode_sized(
        &self,
        core: &TableCore,
        key: &[u8],
        value: &[u8],
    ) -> Result<(Item, usize), DbError> {
        codec::decode_item_sized(value).map_err(|e| self.undecodable(core, key, e))
    }

    fn undecodable(&self, core: &TableCore, key: &[u8], e: codec::CodecError) -> DbError {
        DbError::Corruption {
            table: core.name().to_owned(),
            partition: self.index,
            reason: format!("value of key {} does not decode: {e}", hex(key)),
        }
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

    /// The newest version of the stored entry `key`, including a write of this
    /// partition that is appended but still waits for its fsync (what a writer deciding
    /// under the partition lock must see: the WAL orders the two writes, so the later
    /// one can only survive a crash together with the earlier).
    fn read_latest(&self, core: &TableCore, key: &[u8]) -> Result<Option<Item>, DbError> {
        match self
            .tree
            .get_latest(key)
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
    /// derives the LSI and GSI entry changes, takes each item's capacity (the one
    /// point where write capacity is enforced), commits one WAL batch, then reports
    /// each change to the change feed.
    ///
    /// An item its capacity budgets cannot absorb is not written: with
    /// [`OnThrottle::Fail`] the whole call fails with [`DbError::Throttled`] (and
    /// gives back what earlier items took); with [`OnThrottle::Skip`] that item's
    /// result is marked `throttled` and the others are written. A failed condition
    /// still consumes the units of the existing item (DynamoDB charges it), unless
    /// throttled.
    pub(crate) fn apply(
        &self,
        core: &TableCore,
        muts: Vec<Mutation<'_>>,
        on_throttle: OnThrottle,
    ) -> Result<Vec<Applied>, DbError> {
        if core.hooks.change_sink.is_some() {
            // The lock is kept through the fsync, so that the sink sees the
            // partition's changes in order.
            core.admit(Some(self.index), OpKind::Write)?;
            crate::gsi::pressure::admit_write(core, self)?;
            let guard = self.write_lock.lock();
            let begun = self.begin_locked(core, muts, on_throttle, None)?;
            let applied = begun.finish(core)?;
            drop(guard);
            return Ok(applied);
        }
        self.begin(core, muts, on_throttle)?.finish(core)
    }

    /// The first half of [`Partition::apply`] for a table without a change sink:
    /// decides and appends under the partition lock, and releases it before the
    /// fsync (pipelined commit, `docs/commit.md`), so the next writer of the
    /// partition may decide and append while this one waits for its fsync, and
    /// share it. [`Begun::finish`] must follow, also when the caller fails
    /// meanwhile: until then the write keeps later writes of the partition invisible.
    pub(crate) fn begin<'p>(
        &'p self,
        core: &TableCore,
        muts: Vec<Mutation<'_>>,
        on_throttle: OnThrottle,
    ) -> Result<Begun<'p>, DbError> {
        debug_assert!(core.hooks.change_sink.is_none());
        core.admit(Some(self.index), OpKind::Write)?;
        crate::gsi::pressure::admit_write(core, self)?;
        // Announced before queueing for the lock: a writer of this partition
        // about to fsync may wait a moment for this one to append, so that one
        // fsync covers both (`docs/commit.md`).
        let intent = self.tree.commit_intent(core.durability);
        let guard = self.write_lock.lock();
        self.begin_locked(core, muts, on_throttle, Some((guard, intent)))
    }

    /// Decides and appends under the partition lock (held by the caller, or passed
    /// in `release` to be dropped, with the writer's commit intent, once the batch
    /// is appended). The caller has admitted the write (capacity, GSI back-pressure)
    /// before taking the lock. On an error nothing is committed: the capacity taken is given
    /// back, and the error is reported once the writes it may rest on are visible.
    fn begin_locked<'p>(
        &'p self,
        core: &TableCore,
        muts: Vec<Mutation<'_>>,
        on_throttle: OnThrottle,
        release: Option<(
            parking_lot::MutexGuard<'_, ()>,
            Option<strata_wal::CommitIntent>,
        )>,
    ) -> Result<Begun<'p>, DbError> {
        let mut applied: Vec<Applied> = Vec::with_capacity(muts.len());
        let mut keys = Vec::with_capacity(muts.len());
        let decided = self.apply_locked(core, muts, on_throttle, &mut applied, &mut keys);
        drop(release);
        match decided {
            Ok(pending) => Ok(Begun {
                partition: self,
                pending,
                applied,
                keys,
            }),
            Err(e) => {
                // Nothing was committed: give back what the items took.
                for a in applied.iter().filter(|a| !a.throttled) {
                    core.give_back_write(self.index, &a.capacity);
                }
                // The error may rest on an earlier writer's write that is not durable
                // yet (a failed condition, the existing item it returns): report it
                // only once that write is, as a reader would see it. (With a change
                // sink the caller holds the lock, so every such write is visible.)
                self.tree
                    .wait_written_visible()
                    .map_err(|w| core.storage(self.index, w))?;
                Err(e)
            }
        }
    }

    /// The part of [`Partition::apply`] under the partition lock: decides, derives and
    /// takes capacity item by item into `applied` (and `keys`), then appends one WAL
    /// batch (`None`: nothing to write), which the caller finishes. On an error nothing
    /// is committed, and the caller gives back the capacity of the items in `applied`.
    fn apply_locked(
        &self,
        core: &TableCore,
        muts: Vec<Mutation<'_>>,
        on_throttle: OnThrottle,
        applied: &mut Vec<Applied>,
        keys: &mut Vec<PrimaryKey>,
    ) -> Result<Option<PendingWrite>, DbError> {
        let mut batch = WriteBatch::new();
        let mut has_gsi_delta = false;
        let mut gsi_deltas = Vec::new();
        // Item collections (tables with LSIs): the sizes this batch makes, applied to
        // `self.collections` only once the batch is appended.
        let tracked = !core.spec.local_secondary_indexes.is_empty();
        let mut sizes: Vec<(Vec<u8>, u64)> = Vec::new();
        for m in muts {
            let old = self.read_latest(core, &m.base_key)?;
            let new = match (m.decide)(old.as_ref()) {
                Ok(new) => new,
                Err(e) => {
                    if matches!(e, DbError::ConditionalCheckFailed { .. }) {
                        // DynamoDB charges a failed conditional write by the size of the
                        // existing item (at least one unit).
                        let mut cap = ConsumedCapacity::new(core.name());
                        cap.add_table_write(write_units(old.as_ref().map_or(0, Item::size)));
                        core.take_write(self.index, &cap)?;
                        core.charge(Some(self.index), OpKind::Write, &cap);
                    }
                    return Err(e);
                }
            };
            let (cap, ops) = self.derive(core, &m.hashed, old.as_ref(), new.as_ref())?;
            let size = if tracked {
                Some(self.collection_after(
                    core,
                    (&m.hashed, m.base_key.as_slice()),
                    (old.as_ref(), new.as_ref()),
                    &sizes,
                )?)
            } else {
                None
            };
            if let Err(e) = core.take_write(self.index, &cap) {
                match on_throttle {
                    OnThrottle::Fail => return Err(e),
                    OnThrottle::Skip => {
                        keys.push(m.key);
                        applied.push(Applied {
                            old,
                            new,
                            capacity: ConsumedCapacity::new(core.name()),
                            throttled: true,
                        });
                        continue;
                    }
                }
            }
            for op in ops {
                match op {
                    EntryOp::Put(k, v) => {
                        batch.put(&k, &v);
                    }
                    EntryOp::Delete(k) => {
                        batch.delete(&k);
                    }
                    // After the base item's put, below.
                    EntryOp::Log(d) => gsi_deltas.push(d),
                }
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
            if let Some(size) = size {
                sizes.push((m.hashed.encoded.clone(), size));
            }
            keys.push(m.key);
            applied.push(Applied {
                old,
                new,
                capacity: cap,
                throttled: false,
            });
        }
        if batch.is_empty() {
            return Ok(None);
        }
        if let Some(w) = core.gsi.written.get(self.index as usize) {
            w.note(batch.approximate_size());
        }
        let pending = self
            .tree
            .write_begin(batch, core.durability)
            .map_err(|e| core.storage(self.index, e))?;
        if !sizes.is_empty() {
            let mut known = self.collections.lock();
            for (pk, size) in sizes {
                known.set(&pk, size);
            }
        }
        if has_gsi_delta {
            // Under the write lock: the record just appended is the WAL's last.
            core.gsi
                .note_write(self.index, self.tree.wal_next_lsn().saturating_sub(1));
        }
        Ok(Some(pending))
    }

    /// The size of an item's collection once `new` replaces `old` (sizes of this
    /// batch's earlier mutations in `pending`), or
    /// [`DbError::ItemCollectionSizeLimitExceeded`]. Called under the write lock.
    fn collection_after(
        &self,
        core: &TableCore,
        (hashed, base_key): (&HashedKey, &[u8]),
        (old, new): (Option<&Item>, Option<&Item>),
        pending: &[(Vec<u8>, u64)],
    ) -> Result<u64, DbError> {
        let pk = &hashed.encoded;
        let current = match pending.iter().rev().find(|(k, _)| k == pk) {
            Some(&(_, size)) => size,
            None => self.collection_size_locked(core, hashed)?,
        };
        let old_bytes = collections::footprint(core, hashed, base_key, old)?;
        let new_bytes = collections::footprint(core, hashed, base_key, new)?;
        let limit = core.hooks.item_collection_limit;
        collections::next_size(current, old_bytes, new_bytes, limit).map_err(|would_be| {
            DbError::ItemCollectionSizeLimitExceeded {
                table: core.name().to_owned(),
                would_be,
                limit,
            }
        })
    }

    /// The size of collection `hashed`, from the map or measured (after waiting for
    /// the writes already appended to become visible). The caller holds the write lock.
    fn collection_size_locked(&self, core: &TableCore, hashed: &HashedKey) -> Result<u64, DbError> {
        if let Some(size) = self.collections.lock().get(&hashed.encoded) {
            return Ok(size);
        }
        self.tree
            .wait_written_visible()
            .map_err(|e| core.storage(self.index, e))?;
        let size = collections::measure(core, self, hashed)?;
        self.collections.lock().set(&hashed.encoded, size);
        Ok(size)
    }

    /// The size of item collection `hashed` in stored bytes: the tracked figure the
    /// limit checks (which includes every write appended so far) when known, else a
    /// measurement of what is visible (not kept: only writers, under the write lock,
    /// fill the map). Never takes the write lock, so a change sink may call it.
    pub(crate) fn collection_size(
        &self,
        core: &TableCore,
        hashed: &HashedKey,
    ) -> Result<u64, DbError> {
        if let Some(size) = self.collections.lock().get(&hashed.encoded) {
            return Ok(size);
        }
        collections::measure(core, self, hashed)
    }

    /// What writing `new` over `old` costs (table, LSI and GSI write units) and the
    /// index entries and GSI deltas it writes besides the item itself.
    fn derive(
        &self,
        core: &TableCore,
        hashed: &HashedKey,
        old: Option<&Item>,
        new: Option<&Item>,
    ) -> Result<(ConsumedCapacity, Vec<EntryOp>), DbError> {
        let schema = &core.spec.key_schema;
        let mut ops = Vec::new();
        let mut cap = ConsumedCapacity::new(core.name());
        let old_size = old.map_or(0, Item::size);
        let new_size = new.map_or(0, Item::size);
        cap.add_table_write(write_units(old_size.max(new_size)));
        for (i, spec) in core.spec.local_secondary_indexes.iter().enumerate() {
            let idx = u8::try_from(i).map_err(|_| DbError::invalid("too many indexes"))?;
            let old_entry = match old {
                Some(o) => lsi::entry(schema, idx, spec, hashed, o)?,
                None => None,
            };
            let new_entry = match new {
                Some(n) => {
                    lsi::check_index_key(spec, n)?;
                    let e = lsi::entry(schema, idx, spec, hashed, n)?;
                    if let Some(e) = &e {
                        lsi::check_size(spec, n, e.size)?;
                    }
                    e
                }
                None => None,
            };
            let change = lsi::diff(old_entry, new_entry);
            if let Some(k) = change.delete {
                ops.push(EntryOp::Delete(k));
            }
            if let Some(e) = &change.put {
                ops.push(EntryOp::Put(e.key.clone(), codec::encode_item(&e.item)));
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
                strata_index::derive_keys_committed(def, schema, old, new).map(|(d, _skipped)| d)
            } else {
                strata_index::derive_keys(def, schema, old, new)
            }
            .map_err(derive_error)?;
            if !d.is_empty() {
                ops.push(EntryOp::Log(gsi_delta::encode(&def.name, &d)));
            }
            cap.add_gsi_write(&spec.name, d.write_units as f64);
        }
        Ok((cap, ops))
    }
}

/// What [`Partition::apply`] does with an item its capacity budgets cannot absorb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnThrottle {
    /// Fail the call (single-item writes).
    Fail,
    /// Leave the item out (batch writes return it unprocessed).
    Skip,
}

/// One change of a write batch besides the item itself.
enum EntryOp {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    /// A GSI delta for the index maintainer.
    Log(Vec<u8>),
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
