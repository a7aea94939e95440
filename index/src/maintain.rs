//! The maintainer's logic: read a base partition's committed changes past the
//! checkpoints, derive the index mutations, group them per GSI partition, and apply
//! each group together with its checkpoint. No threads here: the engine calls
//! [`Maintainer::step`] from its worker pool.
//!
//! Each GSI partition keeps its own checkpoint per base partition and only takes the
//! records past it, so a crash between two groups of a step is harmless: the next step
//! reads again from the smallest checkpoint and every partition skips what it already
//! has.

use std::collections::BTreeMap;
use std::error::Error;

use strata_item::KeySchema;

use crate::def::GsiDef;
use crate::derive::{DeltaOps, DeriveError, derive_committed};
use crate::meta::{
    BackfillPhase, BackfillProgress, Checkpoint, HOME_PARTITION, MetaError, PartitionHeader,
    checkpoint_key, header_key, progress_key,
};
use crate::sink::{Change, ChangeSource, IndexSink, SinkOp};

/// How a new index starts out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexStart {
    /// The table is empty (an index created with its table): every checkpoint starts at
    /// 0 and the maintainer applies every record.
    Empty,
    /// The table holds data: base partition `p` is backfilled from its snapshot at
    /// `snapshot_lsns[p]`, and live maintenance of `p` starts after it.
    Backfill {
        /// One snapshot LSN per base partition.
        snapshot_lsns: Vec<u64>,
    },
}

/// The writes that initialise GSI partition `partition` of a new index: its header,
/// and the checkpoints (`Empty`) or, in [`HOME_PARTITION`], the backfill progress
/// records (`Backfill`). The engine applies them to every partition (home last) before
/// the catalog names the index.
///
/// # Errors
/// [`MetaError`] cannot happen for these records; it is passed on for completeness.
pub fn init_ops(
    def: &GsiDef,
    base_partitions: u32,
    partition: u32,
    start: &IndexStart,
) -> Result<Vec<SinkOp>, MetaError> {
    let header = PartitionHeader {
        index_name: def.name.clone(),
        partition,
        partitions: def.partitions,
    };
    let mut ops = vec![SinkOp::Put {
        key: header_key(),
        value: header.encode(),
    }];
    match start {
        IndexStart::Empty => {
            for p in 0..base_partitions {
                ops.push(SinkOp::Put {
                    key: checkpoint_key(p),
                    value: Checkpoint { applied_through: 0 }.encode(),
                });
            }
        }
        IndexStart::Backfill { snapshot_lsns } if partition == HOME_PARTITION => {
            for (p, &lsn) in (0u32..).zip(snapshot_lsns) {
                ops.push(SinkOp::Put {
                    key: progress_key(p),
                    value: BackfillProgress::start(lsn).encode()?,
                });
            }
        }
        IndexStart::Backfill { .. } => {}
    }
    Ok(ops)
}

/// What one [`Maintainer::step`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StepStats {
    /// Records read from the source.
    pub records: usize,
    /// Entry puts written.
    pub puts: usize,
    /// Entry deletes written.
    pub deletes: usize,
    /// Atomic batches applied (one per GSI partition that moved).
    pub batches: usize,
    /// New items without an entry because an index key attribute was invalid (the
    /// write-time check should have refused them).
    pub skipped_invalid: usize,
    /// Every GSI partition has applied this base partition through this LSN.
    pub applied_through: u64,
    /// The source had fewer records than asked for: the index has caught up with what
    /// was committed when the step read.
    pub caught_up: bool,
}

/// What [`Maintainer::step`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    /// The base partition is still being backfilled; its live changes wait.
    Backfilling,
    /// A step ran.
    Applied(StepStats),
}

/// Maintains one GSI from its base table's changes.
///
/// ```
/// use std::collections::BTreeMap;
/// use std::convert::Infallible;
/// use strata_index::{init_ops, Change, ChangeRecord, ChangeSource, GsiDef, IndexSink, IndexStart, Maintainer, SinkOp, StepOutcome};
/// use strata_item::{item, KeySchema, KeyType};
///
/// struct Mem(BTreeMap<(u32, Vec<u8>), Vec<u8>>);
/// impl IndexSink for Mem {
///     type Error = Infallible;
///     fn get(&self, p: u32, key: &[u8]) -> Result<Option<Vec<u8>>, Infallible> {
///         Ok(self.0.get(&(p, key.to_vec())).cloned())
///     }
///     fn apply(&mut self, p: u32, ops: &[SinkOp]) -> Result<(), Infallible> {
///         for op in ops {
///             match op {
///                 SinkOp::Put { key, value } => { self.0.insert((p, key.clone()), value.clone()); }
///                 SinkOp::Delete { key } => { self.0.remove(&(p, key.clone())); }
///             }
///         }
///         Ok(())
///     }
/// }
/// struct Log(Vec<ChangeRecord>);
/// impl ChangeSource for Log {
///     type Error = Infallible;
///     fn read(&mut self, _p: u32, from: u64, max: usize) -> Result<Vec<ChangeRecord>, Infallible> {
///         Ok(self.0.iter().filter(|r| r.lsn >= from).take(max).cloned().collect())
///     }
/// }
///
/// let base = KeySchema::simple("id", KeyType::S);
/// let def = GsiDef::new("by_city", KeySchema::simple("city", KeyType::S)).partitions(2);
/// let mut sink = Mem(BTreeMap::new());
/// for g in [1, 0] {
///     sink.apply(g, &init_ops(&def, 1, g, &IndexStart::Empty)?)?;
/// }
/// let mut log = Log(vec![ChangeRecord {
///     lsn: 1,
///     changes: vec![Change::Item { old: None, new: Some(item! { "id" => "u1", "city" => "Oslo" }) }],
/// }]);
/// let mut m = Maintainer::new(def, base, 1);
/// let StepOutcome::Applied(stats) = m.step(&mut log, &mut sink, 0, 100)? else { unreachable!() };
/// assert_eq!((stats.puts, stats.applied_through, stats.caught_up), (1, 1, true));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Maintainer {
    def: GsiDef,
    base: KeySchema,
    base_partitions: u32,
    /// Per base partition, the checkpoint of every GSI partition, once loaded.
    checkpoints: Vec<Option<Vec<u64>>>,
}

impl Maintainer {
    /// A maintainer of index `def` over a table with key schema `base` and
    /// `base_partitions` partitions. It loads checkpoints from the sink when it first
    /// needs them (so a new maintainer after a crash resumes where the sink is).
    pub fn new(def: GsiDef, base: KeySchema, base_partitions: u32) -> Maintainer {
        Maintainer {
            def,
            base,
            base_partitions,
            checkpoints: vec![None; base_partitions as usize],
        }
    }

    /// The index maintained.
    pub fn def(&self) -> &GsiDef {
        &self.def
    }

    /// The LSN through which every GSI partition has applied base partition `p` (the
    /// base WAL may be released up to it), once known.
    pub fn applied_through(&self, base_partition: u32) -> Option<u64> {
        self.checkpoints
            .get(base_partition as usize)?
            .as_ref()
            .and_then(|c| c.iter().copied().min())
    }

    /// Forgets the cached checkpoints (they are reloaded from the sink on the next step).
    pub fn reset(&mut self) {
        self.checkpoints.iter_mut().for_each(|c| *c = None);
    }

    /// Reads up to `max_records` committed records of `base_partition` past the
    /// smallest checkpoint, derives their index mutations, and applies one batch per
    /// GSI partition that has anything to apply or a checkpoint to advance (entries and
    /// the new checkpoint in one atomic [`IndexSink::apply`]).
    ///
    /// # Errors
    /// [`MaintainError`]; after a sink error the checkpoints are reloaded on the next
    /// step, so calling again is safe.
    pub fn step<S, K>(
        &mut self,
        source: &mut S,
        sink: &mut K,
        base_partition: u32,
        max_records: usize,
    ) -> Result<StepOutcome, MaintainError>
    where
        S: ChangeSource + ?Sized,
        K: IndexSink + ?Sized,
    {
        if base_partition >= self.base_partitions {
            return Err(MaintainError::BasePartition {
                base_partition,
                base_partitions: self.base_partitions,
            });
        }
        let slot = base_partition as usize;
        let cps = match self.checkpoints[slot].take() {
            Some(c) => c,
            None => match load_checkpoints(&self.def, sink, base_partition)? {
                Some(c) => c,
                None => return Ok(StepOutcome::Backfilling),
            },
        };
        let min = cps.iter().copied().min().unwrap_or(0);
        let mut stats = StepStats {
            applied_through: min,
            ..StepStats::default()
        };
        if max_records == 0 {
            self.checkpoints[slot] = Some(cps);
            return Ok(StepOutcome::Applied(stats));
        }
        let from = min.saturating_add(1);
        let records = source
            .read(base_partition, from, max_records)
            .map_err(|e| MaintainError::Source(Box::new(e)));
        let records = match records {
            Ok(r) => r,
            Err(e) => {
                self.checkpoints[slot] = Some(cps);
                return Err(e);
            }
        };
        stats.records = records.len();
        stats.caught_up = records.len() < max_records;
        let mut groups: BTreeMap<u32, Vec<SinkOp>> = BTreeMap::new();
        let mut previous: Option<u64> = None;
        for rec in records {
            if rec.lsn < from || previous.is_some_and(|p| rec.lsn <= p) {
                self.checkpoints[slot] = Some(cps);
                return Err(MaintainError::SourceOrder {
                    base_partition,
                    from_lsn: from,
                    lsn: rec.lsn,
                });
            }
            previous = Some(rec.lsn);
            for change in rec.changes {
                let ops = match change {
                    Change::Item { old, new } => {
                        let derived =
                            derive_committed(&self.def, &self.base, old.as_ref(), new.as_ref());
                        let (d, skipped) = match derived {
                            Ok(x) => x,
                            Err(source) => {
                                self.checkpoints[slot] = Some(cps);
                                return Err(MaintainError::Derive {
                                    base_partition,
                                    lsn: rec.lsn,
                                    source,
                                });
                            }
                        };
                        stats.skipped_invalid += usize::from(skipped);
                        DeltaOps::from(d)
                    }
                    Change::Delta { index, ops } if index == self.def.name => *ops,
                    Change::Delta { .. } => continue,
                };
                if let Err(e) = self.route(ops, rec.lsn, &cps, &mut groups, &mut stats) {
                    self.checkpoints[slot] = Some(cps);
                    return Err(e);
                }
            }
        }
        let Some(last) = previous else {
            self.checkpoints[slot] = Some(cps);
            return Ok(StepOutcome::Applied(stats));
        };
        let mut cps = cps;
        let checkpoint = Checkpoint {
            applied_through: last,
        }
        .encode();
        for g in 0..self.def.partitions {
            let gi = g as usize;
            if cps[gi] >= last {
                continue;
            }
            let mut ops = groups.remove(&g).unwrap_or_default();
            ops.push(SinkOp::Put {
                key: checkpoint_key(base_partition),
                value: checkpoint.clone(),
            });
            // On failure the slot stays empty: the next step reloads from the sink.
            sink.apply(g, &ops).map_err(|e| MaintainError::Sink {
                partition: g,
                source: Box::new(e),
            })?;
            cps[gi] = last;
            stats.batches += 1;
        }
        stats.applied_through = cps.iter().copied().min().unwrap_or(last);
        self.checkpoints[slot] = Some(cps);
        Ok(StepOutcome::Applied(stats))
    }

    /// Adds a delta's writes to the groups of the GSI partitions that have not applied
    /// record `lsn` yet.
    fn route(
        &self,
        delta: DeltaOps,
        lsn: u64,
        cps: &[u64],
        groups: &mut BTreeMap<u32, Vec<SinkOp>>,
        stats: &mut StepStats,
    ) -> Result<(), MaintainError> {
        let mut add = |partition: u32, op: SinkOp| -> Result<(), MaintainError> {
            let Some(&cp) = cps.get(partition as usize) else {
                return Err(MaintainError::DeltaPartition {
                    lsn,
                    partition,
                    partitions: self.def.partitions,
                });
            };
            if lsn > cp {
                match op {
                    SinkOp::Put { .. } => stats.puts += 1,
                    SinkOp::Delete { .. } => stats.deletes += 1,
                }
                groups.entry(partition).or_default().push(op);
            }
            Ok(())
        };
        if let Some(d) = delta.delete {
            add(d.partition, SinkOp::Delete { key: d.bytes })?;
        }
        if let Some((at, value)) = delta.put {
            add(
                at.partition,
                SinkOp::Put {
                    key: at.bytes,
                    value,
                },
            )?;
        }
        Ok(())
    }
}

/// Every GSI partition's checkpoint for `base_partition`, or `None` while the base
/// partition is being backfilled.
///
/// # Errors
/// [`MaintainError::MissingCheckpoint`] when a checkpoint is missing and no backfill
/// explains it; sink and decoding errors.
pub fn load_checkpoints<K: IndexSink + ?Sized>(
    def: &GsiDef,
    sink: &K,
    base_partition: u32,
) -> Result<Option<Vec<u64>>, MaintainError> {
    let key = checkpoint_key(base_partition);
    let read = |g: u32| -> Result<Option<u64>, MaintainError> {
        let raw = sink.get(g, &key).map_err(|e| MaintainError::Sink {
            partition: g,
            source: Box::new(e),
        })?;
        raw.map(|v| Checkpoint::decode(&v).map(|c| c.applied_through))
            .transpose()
            .map_err(|source| MaintainError::Meta {
                partition: g,
                source,
            })
    };
    // The home partition's checkpoint is written last by a backfill (with the progress
    // record that says Done), so it decides whether the backfill is over.
    let Some(home) = read(HOME_PARTITION)? else {
        let progress = read_progress(sink, base_partition)?;
        return match progress {
            Some(p) if p.phase == BackfillPhase::Scanning => Ok(None),
            _ => Err(MaintainError::MissingCheckpoint {
                partition: HOME_PARTITION,
                base_partition,
            }),
        };
    };
    let mut out = Vec::with_capacity(def.partitions as usize);
    for g in 0..def.partitions {
        let cp = if g == HOME_PARTITION {
            Some(home)
        } else {
            read(g)?
        };
        out.push(cp.ok_or(MaintainError::MissingCheckpoint {
            partition: g,
            base_partition,
        })?);
    }
    Ok(Some(out))
}

/// The backfill progress of `base_partition`, if any.
///
/// # Errors
/// Sink and decoding errors.
pub fn read_progress<K: IndexSink + ?Sized>(
    sink: &K,
    base_partition: u32,
) -> Result<Option<BackfillProgress>, MaintainError> {
    let raw = sink
        .get(HOME_PARTITION, &progress_key(base_partition))
        .map_err(|e| MaintainError::Sink {
            partition: HOME_PARTITION,
            source: Box::new(e),
        })?;
    raw.map(|v| BackfillProgress::decode(&v))
        .transpose()
        .map_err(|source| MaintainError::Meta {
            partition: HOME_PARTITION,
            source,
        })
}

/// Why maintaining or backfilling an index failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MaintainError {
    /// The change source failed.
    #[error("reading base changes: {0}")]
    Source(#[source] Box<dyn Error + Send + Sync>),
    /// The sink failed.
    #[error("writing index partition {partition}: {source}")]
    Sink {
        /// The GSI partition.
        partition: u32,
        /// The engine's error.
        source: Box<dyn Error + Send + Sync>,
    },
    /// A metadata value is corrupt.
    #[error("index partition {partition}: {source}")]
    Meta {
        /// The GSI partition.
        partition: u32,
        /// What is wrong.
        source: MetaError,
    },
    /// A checkpoint is missing though no backfill is running (the index was not
    /// initialised with [`init_ops`], or its metadata was lost).
    #[error("index partition {partition} has no checkpoint for base partition {base_partition}")]
    MissingCheckpoint {
        /// The GSI partition.
        partition: u32,
        /// The base partition.
        base_partition: u32,
    },
    /// A base partition number out of range.
    #[error("base partition {base_partition} out of range (the table has {base_partitions})")]
    BasePartition {
        /// The number given.
        base_partition: u32,
        /// The table's count.
        base_partitions: u32,
    },
    /// The source returned records out of order or before the LSN asked for.
    #[error(
        "base partition {base_partition}: change record LSN {lsn} out of order (asked from {from_lsn})"
    )]
    SourceOrder {
        /// The base partition.
        base_partition: u32,
        /// The LSN asked from.
        from_lsn: u64,
        /// The offending LSN.
        lsn: u64,
    },
    /// A committed change is not a valid base change (no base key, key changed).
    #[error("base partition {base_partition}, record {lsn}: {source}")]
    Derive {
        /// The base partition.
        base_partition: u32,
        /// The record.
        lsn: u64,
        /// What is wrong.
        source: DeriveError,
    },
    /// A precomputed delta names a GSI partition the index does not have.
    #[error("record {lsn}: delta for index partition {partition}, the index has {partitions}")]
    DeltaPartition {
        /// The record.
        lsn: u64,
        /// The partition named.
        partition: u32,
        /// The index's count.
        partitions: u32,
    },
    /// A backfill page is not in scan order after the progress record's last key.
    #[error("base partition {base_partition}: backfill page out of scan order")]
    PageOrder {
        /// The base partition.
        base_partition: u32,
    },
}
