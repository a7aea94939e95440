//! The base partitions' durable logs as the GSIs' source of changes.
//!
//! [`BaseLog`] reads a base partition's durable WAL records
//! ([`crate::lsm::Tree::read_log`]) once per maintenance round and keeps them, with the
//! base items decoded on first use, so that every GSI of the table is fed from the same
//! read: with five GSIs a record is read and its item decoded once, not five times.
//! [`BaseSource`] is the `strata_index::ChangeSource` of one GSI over it: each record
//! becomes a change record holding that index's deltas. Records without a delta for the
//! index still come back (empty), so checkpoints advance.

use strata_index::{Change, ChangeRecord, ChangeSource, DeltaOps, GsiDef};
use strata_item::{Item, KeySchema, codec};

use crate::lsm::{LogEntry, LogRecord, Tree};

use super::delta::{self, RawPut};

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

/// A record read from a base log, with the items of its puts decoded on first use.
#[derive(Debug)]
struct Record {
    lsn: u64,
    entries: Vec<LogEntry>,
    /// By entry position: the decoded item of a put (or why it does not decode).
    items: Vec<Option<Result<Item, String>>>,
}

impl Record {
    fn new(rec: LogRecord) -> Record {
        let items = (0..rec.entries.len()).map(|_| None).collect();
        Record {
            lsn: rec.lsn,
            entries: rec.entries,
            items,
        }
    }
}

/// The item of the put at position `at` of a record (decoded once).
fn put_item<'r>(
    entries: &[LogEntry],
    items: &'r mut [Option<Result<Item, String>>],
    at: usize,
) -> Result<&'r Item, String> {
    let slot = items
        .get_mut(at)
        .ok_or_else(|| format!("no entry {at} in the record"))?;
    let decoded = slot.get_or_insert_with(|| match entries.get(at) {
        Some(LogEntry::Put { value, .. }) => {
            codec::decode_item(value).map_err(|e| format!("the base item before the delta: {e}"))
        }
        _ => Err(format!("entry {at} of the record is not a put")),
    });
    decoded.as_ref().map_err(Clone::clone)
}

/// What one read from a base partition's log returned.
#[derive(Debug)]
struct Window {
    /// The records are those with an LSN above this one ...
    after: u64,
    /// ... up to the durable end at the time of the read (fewer than were asked for).
    complete: bool,
    records: Vec<Record>,
}

impl Window {
    /// Up to `max` records after `after`, when this window holds them all.
    fn serve(&mut self, after: u64, max: usize) -> Option<&mut [Record]> {
        if after < self.after {
            return None;
        }
        let start = self.records.partition_point(|r| r.lsn <= after);
        let end = start.saturating_add(max).min(self.records.len());
        if end - start < max && !self.complete {
            return None;
        }
        Some(&mut self.records[start..end])
    }
}

/// The base partitions' durable logs, read at most once per maintenance round for every
/// GSI that needs the same records.
#[derive(Debug)]
pub(crate) struct BaseLog<'a> {
    trees: &'a [&'a Tree],
    base: &'a KeySchema,
    windows: Vec<Option<Window>>,
}

impl<'a> BaseLog<'a> {
    /// Reads `trees` (one per base partition, in order) of a table with key `base`.
    pub(crate) fn new(trees: &'a [&'a Tree], base: &'a KeySchema) -> BaseLog<'a> {
        BaseLog {
            trees,
            base,
            windows: trees.iter().map(|_| None).collect(),
        }
    }

    /// Up to `max` durable records of base partition `p` with an LSN above `after`,
    /// from the last read when it holds them, from the tree otherwise.
    fn records(&mut self, p: u32, after: u64, max: usize) -> Result<&mut [Record], SourceError> {
        let pi = p as usize;
        let tree = self
            .trees
            .get(pi)
            .ok_or_else(|| crate::lsm::Error::InvalidArgument(format!("no base partition {p}")))?;
        let cached = self.windows[pi]
            .as_mut()
            .is_some_and(|w| w.serve(after, max).is_some());
        if !cached {
            let read = tree.read_log(after, max)?;
            self.windows[pi] = Some(Window {
                after,
                complete: read.len() < max,
                records: read.into_iter().map(Record::new).collect(),
            });
        }
        let window = self.windows[pi].as_mut().ok_or_else(|| {
            crate::lsm::Error::InvalidArgument(format!("no window for base partition {p}"))
        })?;
        Ok(window.serve(after, max).unwrap_or_default())
    }
}

/// Reads the deltas of one index from the base partitions' logs.
#[derive(Debug)]
pub(crate) struct BaseSource<'l, 'a> {
    pub log: &'l mut BaseLog<'a>,
    pub def: &'l GsiDef,
}

impl ChangeSource for BaseSource<'_, '_> {
    type Error = SourceError;

    fn read(
        &mut self,
        base_partition: u32,
        from_lsn: u64,
        max_records: usize,
    ) -> Result<Vec<ChangeRecord>, SourceError> {
        let base = self.log.base;
        let def = self.def;
        let name = def.name.as_bytes();
        let records = self
            .log
            .records(base_partition, from_lsn.saturating_sub(1), max_records)?;
        let mut out = Vec::with_capacity(records.len());
        for rec in records {
            let mut changes = Vec::new();
            let mut last_put = None;
            for (i, e) in rec.entries.iter().enumerate() {
                let data = match e {
                    LogEntry::Put { .. } => {
                        last_put = Some(i);
                        continue;
                    }
                    LogEntry::LogData(data) => data,
                    _ => continue,
                };
                if delta::index_name(data) != Some(name) {
                    continue;
                }
                let fail = |reason: String| SourceError::Delta {
                    partition: base_partition,
                    lsn: rec.lsn,
                    reason,
                };
                let raw = delta::decode(data, def, base).map_err(fail)?;
                let put = match raw.put {
                    None => None,
                    Some(RawPut::Inline(at, value)) => Some((at, value)),
                    Some(RawPut::Ref(at)) => {
                        let Some((at_put, LogEntry::Put { key, value })) =
                            last_put.and_then(|i| Some((i, rec.entries.get(i)?)))
                        else {
                            return Err(fail(
                                "a put by reference, but no base item precedes it".to_owned(),
                            ));
                        };
                        let items = &mut rec.items;
                        let entries = &rec.entries;
                        let value = delta::resolve(def, base, &at, key, value, || {
                            put_item(entries, items, at_put)
                        })
                        .map_err(fail)?;
                        Some((at, value))
                    }
                };
                changes.push(Change::Delta {
                    index: def.name.clone(),
                    ops: Box::new(DeltaOps {
                        delete: raw.delete,
                        put,
                    }),
                });
            }
            out.push(ChangeRecord {
                lsn: rec.lsn,
                changes,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(after: u64, lsns: &[u64], complete: bool) -> Window {
        Window {
            after,
            complete,
            records: lsns
                .iter()
                .map(|&lsn| Record {
                    lsn,
                    entries: Vec::new(),
                    items: Vec::new(),
                })
                .collect(),
        }
    }

    fn lsns(w: &mut Window, after: u64, max: usize) -> Option<Vec<u64>> {
        w.serve(after, max)
            .map(|r| r.iter().map(|r| r.lsn).collect())
    }

    #[test]
    fn a_window_serves_only_what_it_holds_entirely() {
        // Read with after = 3, max = 4: LSNs 4..=7, more may follow.
        let mut w = window(3, &[4, 5, 6, 7], false);
        assert_eq!(lsns(&mut w, 3, 4), Some(vec![4, 5, 6, 7]));
        assert_eq!(lsns(&mut w, 5, 2), Some(vec![6, 7]));
        // Asking for more than it holds, or from before it: read again.
        assert_eq!(lsns(&mut w, 5, 3), None);
        assert_eq!(lsns(&mut w, 2, 1), None);
        // A read that reached the durable end serves any tail of it.
        let mut w = window(3, &[4, 5], true);
        assert_eq!(lsns(&mut w, 4, 10), Some(vec![5]));
        assert_eq!(lsns(&mut w, 9, 10), Some(vec![]));
        assert_eq!(lsns(&mut w, 0, 10), None);
    }
}
