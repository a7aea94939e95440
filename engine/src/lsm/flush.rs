//! Flush: writing immutable memtables to L0 tables, and the table-output
//! helpers compaction shares.
//!
//! A table is written to `NNNNNN.sst.tmp`, fsynced by the builder, renamed
//! to `NNNNNN.sst`, the directory fsynced, and only then recorded in the
//! manifest. The WAL is synced before the manifest records the flushed LSN,
//! so the log never loses records the manifest says are flushed.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use strata_sstable::{ReaderOptions, Table, TableBuilder};

use super::error::{Error, Result};
use super::ikey;
use super::stats::Counters;
use super::tree::{TreeInner, table_name};
use super::version::{FileMeta, TableHandle, VersionEdit};

/// A table being written.
pub(crate) struct Output {
    pub number: u64,
    pub tmp: PathBuf,
    pub builder: TableBuilder,
    pub smallest_seq: u64,
    pub largest_seq: u64,
}

impl TreeInner {
    pub(crate) fn new_output(&self) -> Result<Output> {
        let number = self.next_file.fetch_add(1, Ordering::AcqRel);
        let tmp = self.dir.join(format!("{}.tmp", table_name(number)));
        let file = self
            .fs
            .create(&tmp)
            .map_err(|e| Error::io("creating a table", &tmp, e))?;
        let builder = TableBuilder::new(file, tmp.clone(), self.opts.table.clone());
        Ok(Output {
            number,
            tmp,
            builder,
            smallest_seq: u64::MAX,
            largest_seq: 0,
        })
    }

    /// Finishes (fsyncs) and renames an output; the caller syncs the
    /// directory before recording it.
    pub(crate) fn finish_output(&self, mut out: Output) -> Result<(FileMeta, PathBuf)> {
        let (lo, hi) = if out.smallest_seq == u64::MAX {
            (0, 0)
        } else {
            (out.smallest_seq, out.largest_seq)
        };
        out.builder.set_seqno_range(lo, hi);
        let info = out.builder.finish()?;
        let path = self.dir.join(table_name(out.number));
        self.fs
            .rename(&out.tmp, &path)
            .map_err(|e| Error::io("renaming a finished table", &out.tmp, e))?;
        let meta = FileMeta {
            number: out.number,
            size: info.file_size,
            entries: info.entries,
            smallest: info.smallest_key,
            largest: info.largest_key,
            smallest_seq: lo,
            largest_seq: hi,
        };
        Ok((meta, path))
    }

    pub(crate) fn sync_dir(&self) -> Result<()> {
        self.fs
            .sync_dir(&self.dir)
            .map_err(|e| Error::io("syncing the tree directory", &self.dir, e))
    }

    pub(crate) fn reader_options(&self) -> ReaderOptions {
        ReaderOptions {
            cache: Some(Arc::clone(self.shared.cache())),
            verify_checksums: self.opts.verify_checksums,
            map_budget: self.shared.map_budget().cloned(),
            pread_data_blocks: self.shared.pread_data_blocks(),
        }
    }

    /// Opens a table file the tree wrote or recovered.
    pub(crate) fn open_handle(&self, meta: FileMeta, path: PathBuf) -> Result<Arc<TableHandle>> {
        let file_id = (self.tree_id << 40) | meta.number;
        let table = Table::open(&self.fs, &path, file_id, self.reader_options())?;
        Ok(Arc::new(TableHandle::new(
            meta,
            table,
            path,
            Arc::clone(&self.fs),
            Arc::clone(&self.counters.sst_bytes_on_disk),
        )))
    }

    /// Flushes every immutable memtable, oldest first, in the calling thread.
    pub(crate) fn flush_imms(&self) -> Result<()> {
        let _g = self.flush_lock.lock();
        loop {
            let Some(mem) = self.current_sv().imms.last().cloned() else {
                return Ok(());
            };
            // Records below the flushed LSN must be durable in the WAL before
            // the manifest says they are flushed. The rotation that sealed the
            // memtable usually synced them already; otherwise sync without
            // leading a group commit, which every buffered writer would wait
            // for (an fsync of the new segment, milliseconds while a
            // compaction keeps the disk busy).
            let end_lsn = mem.end_lsn();
            if self.wal.synced_lsn() < end_lsn {
                self.wal.sync_aside()?;
            }
            let (_, max_seq) = mem.seq_range();
            let mut edit = VersionEdit {
                flushed_lsn: Some(end_lsn),
                ..VersionEdit::default()
            };
            let mut added = Vec::new();
            if !mem.is_empty() {
                edit.flushed_seq = Some(max_seq);
                let mut out = self.new_output()?;
                // The table holds at most the memtable's entries: its filter
                // is sized for them up front instead of keeping every key's
                // hash until the end (3 MiB for a 64 MiB memtable of small
                // values, the largest allocation of a flush).
                out.builder.expect_keys(mem.len() as u64);
                let written = mem.for_each(|key, value| -> Result<()> {
                    if let Some(p) = ikey::parse(key) {
                        out.smallest_seq = out.smallest_seq.min(p.seq);
                        out.largest_seq = out.largest_seq.max(p.seq);
                    }
                    out.builder.add(key, value)?;
                    Ok(())
                });
                let tmp = out.tmp.clone();
                let res = written.and_then(|()| self.finish_output(out));
                let (meta, path) = match res {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = self.fs.remove_file(&tmp);
                        return Err(e);
                    }
                };
                self.sync_dir()?;
                Counters::add(&self.counters.flush_bytes, meta.size);
                tracing::debug!(dir = %self.dir.display(), file = meta.number, bytes = meta.size,
                    entries = meta.entries, "flushed memtable to L0");
                let handle = self.open_handle(meta.clone(), path)?;
                edit.added.push((0, meta));
                added.push(handle);
            }
            {
                let mut vs = self.versions.lock();
                self.log_and_apply(&mut vs, edit, &added, Some(mem.id()))?;
            }
            Counters::add(&self.counters.flushes, 1);
            self.wake_writers();
            // Free the memtable (unless a reader still holds it) before
            // deleting its WAL segment, which can take milliseconds: its
            // memory is most of the process's peak.
            drop(mem);
            self.truncate_wal(end_lsn);
        }
    }

    /// Deletes WAL segments wholly below both the flushed LSN and the
    /// retention floor of external consumers.
    pub(crate) fn truncate_wal(&self, flushed_lsn: u64) {
        let floor = self
            .opts
            .wal_retention_floor
            .as_ref()
            .map_or(flushed_lsn, |f| f().min(flushed_lsn));
        match self.wal.truncate_before(floor) {
            Ok(n) if n > 0 => tracing::debug!(segments = n, below = floor, "deleted WAL segments"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not delete old WAL segments"),
        }
    }
}
