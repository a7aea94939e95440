//! Leveled compaction: picking (by score, as LevelDB/RocksDB) and running.
//!
//! L0's score is its file count over `l0_compaction_trigger`; L1.. score
//! their bytes over their target (`max_bytes_for_level_base` ×
//! `max_bytes_for_level_multiplier`^(n-1)). The highest score >= 1 is
//! compacted: all of L0 (its files overlap) or one file of Ln chosen
//! round-robin, together with the overlapping files of the next level.
//! Output is split into tables of `target_file_size_base`, never between two
//! versions of one user key.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::cursor::{Cursor, MergingCursor};
use super::error::{Error, Result};
use super::flush::Output;
use super::ikey::{self, SeqNo, ValueKind};
use super::options::TreeOptions;
use super::stats::Counters;
use super::table_cursor::TableCursor;
use super::tree::TreeInner;
use super::version::{NUM_LEVELS, TableHandle, Version, VersionEdit};

/// One compaction's inputs.
#[derive(Debug)]
pub(crate) struct Compaction {
    pub level: usize,
    pub inputs: Vec<Arc<TableHandle>>,
    /// Overlapping files of `level + 1`.
    pub next: Vec<Arc<TableHandle>>,
}

impl Compaction {
    pub(crate) fn output_level(&self) -> usize {
        self.level + 1
    }

    fn trivial_move(&self) -> bool {
        self.next.is_empty() && self.inputs.len() == 1
    }
}

/// Escaped user-key range covered by `files`.
fn key_range(files: &[Arc<TableHandle>]) -> Option<(Vec<u8>, Vec<u8>)> {
    let lo = files.iter().map(|f| f.meta.smallest_user()).min()?;
    let hi = files.iter().map(|f| f.meta.largest_user()).max()?;
    Some((lo.to_vec(), hi.to_vec()))
}

/// Builds a compaction of `inputs` at `level` into `level + 1`.
pub(crate) fn with_inputs(
    version: &Version,
    level: usize,
    inputs: Vec<Arc<TableHandle>>,
) -> Option<Compaction> {
    let (lo, hi) = key_range(&inputs)?;
    let next = version.overlapping(level + 1, &lo, &hi);
    Some(Compaction {
        level,
        inputs,
        next,
    })
}

/// Picks the most urgent compaction, if any level is over its target.
pub(crate) fn pick(
    version: &Version,
    opts: &TreeOptions,
    pointers: &[Vec<u8>],
) -> Option<Compaction> {
    let mut best: Option<(f64, usize)> = None;
    let l0 = version.levels[0].len() as f64 / opts.l0_compaction_trigger as f64;
    if l0 >= 1.0 {
        best = Some((l0, 0));
    }
    for level in 1..NUM_LEVELS - 1 {
        let score = version.level_bytes(level) as f64 / opts.level_target(level) as f64;
        if score >= 1.0 && best.is_none_or(|(b, _)| score > b) {
            best = Some((score, level));
        }
    }
    let (_, level) = best?;
    if level == 0 {
        return with_inputs(version, 0, version.levels[0].clone());
    }
    let files = &version.levels[level];
    let ptr = pointers.get(level).map(Vec::as_slice).unwrap_or(&[]);
    let file = files
        .iter()
        .find(|f| ptr.is_empty() || f.meta.largest.as_slice() > ptr)
        .or_else(|| files.first())?;
    with_inputs(version, level, vec![Arc::clone(file)])
}

/// Decides which entries a compaction keeps (LevelDB's rules): a version
/// shadowed by a newer one that every snapshot sees is dropped; a tombstone
/// every snapshot sees is dropped when no deeper level may hold the key.
struct DropFilter<'a> {
    smallest_snapshot: SeqNo,
    version: &'a Version,
    output_level: usize,
    current: Vec<u8>,
    has_current: bool,
    last_seq_for_key: SeqNo,
}

impl DropFilter<'_> {
    fn keep(&mut self, escaped: &[u8], seq: SeqNo, kind: ValueKind) -> bool {
        if !self.has_current || self.current.as_slice() != escaped {
            self.current.clear();
            self.current.extend_from_slice(escaped);
            self.has_current = true;
            self.last_seq_for_key = SeqNo::MAX;
        }
        let drop = if self.last_seq_for_key <= self.smallest_snapshot {
            true
        } else {
            kind == ValueKind::Delete
                && seq <= self.smallest_snapshot
                && !(self.output_level + 1..NUM_LEVELS)
                    .any(|l| self.version.find_in_level(l, escaped).is_some())
        };
        self.last_seq_for_key = seq;
        !drop
    }
}

impl TreeInner {
    /// Runs one picked compaction if any is needed. Returns whether one ran.
    pub(crate) fn compact_once(&self) -> Result<bool> {
        let Some(_g) = self.compaction_lock.try_lock() else {
            return Ok(false);
        };
        let version = Arc::clone(&self.current_sv().version);
        let pointers = self.versions.lock().state.compact_pointers.clone();
        let Some(c) = pick(&version, &self.opts, &pointers) else {
            return Ok(false);
        };
        self.run_compaction(&version, c)?;
        Ok(true)
    }

    /// Compacts every file overlapping the user-key range down to the bottom
    /// level that holds data.
    pub(crate) fn compact_range(&self, lower: Option<&[u8]>, upper: Option<&[u8]>) -> Result<()> {
        let _g = self.compaction_lock.lock();
        let esc = |k: &[u8]| {
            let mut v = Vec::new();
            ikey::escape_into(k, &mut v);
            v
        };
        let lo = lower.map(esc).unwrap_or_default();
        let hi = upper.map(esc);
        let in_range = |t: &Arc<TableHandle>| {
            t.meta.largest_user() >= lo.as_slice()
                && hi.as_deref().is_none_or(|h| t.meta.smallest_user() <= h)
        };
        let version = Arc::clone(&self.current_sv().version);
        let bottom = (1..NUM_LEVELS)
            .rev()
            .find(|&l| !version.levels[l].is_empty())
            .unwrap_or(1);
        for level in 0..bottom {
            self.check_open()?;
            let version = Arc::clone(&self.current_sv().version);
            let inputs: Vec<_> = if level == 0 {
                // L0 files overlap each other: moving some but not older
                // overlapping ones would let stale data shadow newer data.
                if version.levels[0].iter().any(in_range) {
                    version.levels[0].clone()
                } else {
                    Vec::new()
                }
            } else {
                version.levels[level]
                    .iter()
                    .filter(|t| in_range(t))
                    .cloned()
                    .collect()
            };
            if let Some(c) = with_inputs(&version, level, inputs) {
                self.run_compaction(&version, c)?;
            }
        }
        drop(_g);
        self.maybe_schedule_compaction();
        Ok(())
    }

    fn run_compaction(&self, version: &Arc<Version>, c: Compaction) -> Result<()> {
        let out_level = c.output_level();
        let mut edit = VersionEdit::default();
        for t in &c.inputs {
            edit.deleted.push((c.level as u8, t.meta.number));
        }
        for t in &c.next {
            edit.deleted.push((out_level as u8, t.meta.number));
        }
        if c.level > 0
            && let Some(max) = c.inputs.iter().map(|t| &t.meta.largest).max()
        {
            edit.compact_pointers.push((c.level as u8, max.clone()));
        }
        if c.trivial_move() {
            let t = &c.inputs[0];
            edit.added.push((out_level as u8, t.meta.clone()));
            let mut vs = self.versions.lock();
            self.log_and_apply(&mut vs, edit, &[Arc::clone(t)], None)?;
            drop(vs);
            Counters::add(&self.counters.compactions, 1);
            Counters::add(&self.counters.trivial_moves, 1);
            self.counters
                .max_output_level
                .fetch_max(out_level as u64, Ordering::Relaxed);
            tracing::debug!(
                file = t.meta.number,
                from = c.level,
                to = out_level,
                "moved table"
            );
            self.wake_writers();
            return Ok(());
        }

        let read_bytes: u64 = c.inputs.iter().chain(&c.next).map(|t| t.meta.size).sum();
        let mut children: Vec<Box<dyn Cursor>> = Vec::new();
        for t in c.inputs.iter().chain(&c.next) {
            children.push(Box::new(TableCursor::sequential(t)));
        }
        let mut merged = MergingCursor::new(children);
        let mut filter = DropFilter {
            smallest_snapshot: self.smallest_snapshot(),
            version,
            output_level: out_level,
            current: Vec::new(),
            has_current: false,
            last_seq_for_key: SeqNo::MAX,
        };
        let mut current: Option<Output> = None;
        let mut finished = Vec::new();
        let res = (|| -> Result<()> {
            let mut last_user: Vec<u8> = Vec::new();
            let mut since_limit = 0u64;
            let mut n = 0u64;
            merged.seek_to_first()?;
            while merged.valid() {
                n += 1;
                if n.is_multiple_of(4096) {
                    self.check_open()?;
                }
                let key = merged.key();
                let Some(p) = ikey::parse(key) else {
                    return Err(Error::Corruption {
                        path: self.dir.clone(),
                        offset: 0,
                        reason: format!(
                            "malformed internal key {:02x?} during compaction",
                            &key[..key.len().min(64)]
                        ),
                    });
                };
                if filter.keep(p.escaped, p.seq, p.kind) {
                    let new_user = last_user.as_slice() != p.escaped;
                    let full = current.as_ref().is_some_and(|o| {
                        o.builder.estimated_size() >= self.opts.target_file_size_base
                    });
                    if new_user
                        && full
                        && let Some(o) = current.take()
                    {
                        finished.push(self.finish_output(o)?);
                    }
                    if current.is_none() {
                        current = Some(self.new_output()?);
                    }
                    if let Some(o) = current.as_mut() {
                        o.builder.add(key, merged.value())?;
                        o.smallest_seq = o.smallest_seq.min(p.seq);
                        o.largest_seq = o.largest_seq.max(p.seq);
                    }
                    if new_user {
                        last_user.clear();
                        last_user.extend_from_slice(p.escaped);
                    }
                    if let Some(rl) = &self.rate_limiter {
                        since_limit += (key.len() + merged.value().len()) as u64;
                        if since_limit >= 64 << 10 {
                            rl.request(since_limit);
                            since_limit = 0;
                        }
                    }
                }
                merged.next()?;
            }
            if let Some(o) = current.take() {
                finished.push(self.finish_output(o)?);
            }
            Ok(())
        })();
        if let Err(e) = res {
            // Remove what this compaction wrote; nothing references it.
            if let Some(o) = current.take() {
                let _ = self.fs.remove_file(&o.tmp);
            }
            for (_, path) in &finished {
                let _ = self.fs.remove_file(path);
            }
            return Err(e);
        }
        self.sync_dir()?;
        let mut handles = Vec::new();
        let mut written = 0u64;
        for (meta, path) in finished {
            written += meta.size;
            edit.added.push((out_level as u8, meta.clone()));
            handles.push(self.open_handle(meta, path)?);
        }
        {
            let mut vs = self.versions.lock();
            self.log_and_apply(&mut vs, edit, &handles, None)?;
        }
        Counters::add(&self.counters.compactions, 1);
        Counters::add(&self.counters.compaction_bytes, written);
        Counters::add(&self.counters.compaction_read_bytes, read_bytes);
        self.counters
            .max_output_level
            .fetch_max(out_level as u64, Ordering::Relaxed);
        tracing::debug!(dir = %self.dir.display(), level = c.level, inputs = c.inputs.len(),
            next = c.next.len(), outputs = handles.len(), read_bytes, written, "compaction done");
        self.wake_writers();
        Ok(())
    }
}
