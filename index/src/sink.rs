//! The two small traits the engine implements: where committed base changes are read
//! from ([`ChangeSource`]) and where index entries are written ([`IndexSink`]).

use strata_item::Item;

use crate::derive::DeltaOps;

/// One write to a GSI partition's tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkOp {
    /// Put `value` under `key`.
    Put {
        /// The key (an entry key or a metadata key).
        key: Vec<u8>,
        /// The value (the projected item's codec bytes, or a metadata value).
        value: Vec<u8>,
    },
    /// Delete `key`.
    Delete {
        /// The key.
        key: Vec<u8>,
    },
}

impl SinkOp {
    /// The key written.
    pub fn key(&self) -> &[u8] {
        match self {
            SinkOp::Put { key, .. } | SinkOp::Delete { key } => key,
        }
    }
}

/// The GSI's partition trees.
pub trait IndexSink {
    /// The engine's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Reads one key of GSI partition `partition` (used for metadata: checkpoints and
    /// progress).
    ///
    /// # Errors
    /// An I/O or corruption error of the engine.
    fn get(&self, partition: u32, key: &[u8]) -> Result<Option<Vec<u8>>, Self::Error>;

    /// Applies `ops` to GSI partition `partition` **atomically** (all or nothing, also
    /// across a crash: one WAL record) and in order (a later op on the same key wins).
    /// Once it returns `Ok`, the writes must survive what the GSI's durability promises.
    ///
    /// # Errors
    /// An I/O error of the engine; the maintainer then reloads its checkpoints before
    /// going on, so an apply that did or did not happen is both fine.
    fn apply(&mut self, partition: u32, ops: &[SinkOp]) -> Result<(), Self::Error>;
}

/// One base item change inside a [`ChangeRecord`].
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// The base item went from `old` to `new` (`None`: absent). The base key is that of
    /// the items (both have the same).
    Item {
        /// The item before the write.
        old: Option<Item>,
        /// The item after the write.
        new: Option<Item>,
    },
    /// A delta computed at write time (by [`crate::derive()`]) for the index named
    /// `index`, ready to store; a maintainer ignores deltas of other indexes.
    Delta {
        /// The index it is for.
        index: String,
        /// What to do (boxed: two entry keys with their decoded key values).
        ops: Box<DeltaOps>,
    },
}

/// One committed write batch of a base partition.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeRecord {
    /// Its log sequence number in the base partition: at least 1, strictly increasing
    /// within the partition (gaps allowed).
    pub lsn: u64,
    /// The changes it made.
    pub changes: Vec<Change>,
}

/// The durable, ordered source of a base table's committed changes (the base WALs).
pub trait ChangeSource {
    /// The engine's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Up to `max_records` records of base partition `base_partition` with
    /// `lsn >= from_lsn`, in increasing LSN order; fewer (or none) when the partition
    /// has no more committed records.
    ///
    /// # Errors
    /// An I/O or corruption error, or records from `from_lsn` no longer retained (which
    /// the retention floor must prevent).
    fn read(
        &mut self,
        base_partition: u32,
        from_lsn: u64,
        max_records: usize,
    ) -> Result<Vec<ChangeRecord>, Self::Error>;
}
