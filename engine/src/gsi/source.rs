//! [`BaseSource`]: the `strata_index::ChangeSource` over a table's base partition
//! trees: their durable WAL records ([`crate::lsm::Tree::read_log`]), each turned into
//! a change record holding the index deltas the write appended for one index. Records
//! without a delta for that index still come back (empty), so checkpoints advance.

use strata_index::{Change, ChangeRecord, ChangeSource, GsiDef};
use strata_item::KeySchema;

use crate::lsm::{LogEntry, Tree};

use super::delta;

/// Why reading base changes failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SourceError {
    /// The base tree failed (I/O, a truncated log, corruption).
    #[error(transparent)]
    Tree(#[from] crate::lsm::Error),
    /// A delta of this index in the log does not decode.
    #[error("base partition {partition} record {lsn}: index delta does not decode: {reason}")]
    Delta {
        partition: u32,
        lsn: u64,
        reason: String,
    },
}

/// Reads the deltas of one index from the base partitions' logs.
#[derive(Debug)]
pub(crate) struct BaseSource<'a> {
    pub trees: &'a [&'a Tree],
    pub def: &'a GsiDef,
    pub base: &'a KeySchema,
}

impl ChangeSource for BaseSource<'_> {
    type Error = SourceError;

    fn read(
        &mut self,
        base_partition: u32,
        from_lsn: u64,
        max_records: usize,
    ) -> Result<Vec<ChangeRecord>, SourceError> {
        let tree = self.trees.get(base_partition as usize).ok_or_else(|| {
            crate::lsm::Error::InvalidArgument(format!("no base partition {base_partition}"))
        })?;
        let records = tree.read_log(from_lsn.saturating_sub(1), max_records)?;
        let name = self.def.name.as_bytes();
        records
            .into_iter()
            .map(|rec| {
                let mut changes = Vec::new();
                for e in &rec.entries {
                    let LogEntry::LogData(data) = e else { continue };
                    if delta::index_name(data) != Some(name) {
                        continue;
                    }
                    let d = delta::decode(data, self.def, self.base).map_err(|reason| {
                        SourceError::Delta {
                            partition: base_partition,
                            lsn: rec.lsn,
                            reason,
                        }
                    })?;
                    changes.push(Change::Delta {
                        index: self.def.name.clone(),
                        delta: Box::new(d),
                    });
                }
                Ok(ChangeRecord {
                    lsn: rec.lsn,
                    changes,
                })
            })
            .collect()
    }
}
