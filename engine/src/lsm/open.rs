//! Opening a tree: lock, manifest recovery, WAL recovery with its coverage
//! check, orphan removal, WAL replay (`docs/recovery.md`).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::{Condvar, Mutex, RwLock};
use strata_wal::{RecoveryMode, Wal, WalOptions};

use super::batch::{BatchOp, DecodedBatch};
use super::error::{Error, Result};
use super::log_reader::{DurableNotifier, LogHints};
use super::manifest::{self, ManifestState, ManifestWriter};
use super::memtable::Memtable;
use super::options::TreeOptions;
use super::rate_limiter::RateLimiter;
use super::recovery::{TreeRecoveryReport, check_wal};
use super::shared::{BufferOwner, SharedResources};
use super::snapshot::SnapshotList;
use super::stats::Counters;
use super::super_version::SuperVersion;
use super::tree::{
    StallState, Tree, TreeInner, VersionSet, WriterState, parse_table_name, table_name,
};
use super::version::{TableHandle, Version};

static NEXT_TREE_ID: AtomicU64 = AtomicU64::new(1);

/// Subdirectory holding the WAL segments.
pub(crate) const WAL_DIR: &str = "wal";

pub(crate) fn open(dir: &Path, opts: TreeOptions) -> Result<Tree> {
    let opts = opts.sanitized();
    let fs = Arc::clone(&opts.fs);
    fs.create_dir_all(dir)
        .map_err(|e| Error::io("creating the tree directory", dir, e))?;
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs.sync_dir(parent)
            .map_err(|e| Error::io("syncing the parent directory", parent, e))?;
    }
    let lock_path = dir.join("LOCK");
    let lock = fs.lock(&lock_path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::WouldBlock {
            Error::Locked(dir.to_path_buf())
        } else {
            Error::io("locking the tree directory", &lock_path, e)
        }
    })?;

    // Nothing on disk changes until every check has passed (steps 1-3), so
    // that an open refused for damage leaves the files as they were.
    // 1. The manifest (reads only).
    let names = fs
        .list(dir)
        .map_err(|e| Error::io("listing the tree directory", dir, e))?;
    let (old_manifest, mut state, manifest_tail) = match manifest::recover(&fs, dir)? {
        Some((n, s, tail)) => (Some(n), s, tail),
        None => {
            if let Some(t) = names.iter().find(|n| parse_table_name(n).is_some()) {
                return Err(Error::Corruption {
                    path: dir.join(manifest::CURRENT),
                    offset: 0,
                    reason: format!(
                        "CURRENT is missing but table {t} exists; refusing to start empty"
                    ),
                });
            }
            (
                None,
                ManifestState {
                    next_file_number: 1,
                    ..ManifestState::default()
                },
                None,
            )
        }
    };
    state.next_file_number = state.next_file_number.max(1);
    let live: std::collections::HashSet<u64> =
        state.levels.iter().flatten().map(|m| m.number).collect();
    for n in &live {
        if !names.contains(&table_name(*n)) {
            return Err(Error::Corruption {
                path: dir.join(table_name(*n)),
                offset: 0,
                reason: "table listed in the manifest is missing".into(),
            });
        }
    }

    // 2. The WAL: plan its recovery, check that it covers the flushed
    //    position and drops nothing the policy forbids, then apply it.
    let shared = opts.shared.clone().unwrap_or_else(|| {
        SharedResources::new(
            8 << 20,
            std::thread::available_parallelism().map_or(2, |n| n.get()),
            opts.memtable_size
                .saturating_mul(opts.max_write_buffer_number)
                .saturating_mul(2),
        )
    });
    let wal_opts = WalOptions {
        syncer: Some(Arc::clone(shared.wal_syncer())),
        fs: Arc::clone(&fs),
        segment_size: opts.wal_segment_size,
        recovery_mode: opts.wal_recovery_mode,
        buffered_sync_interval: opts.wal_buffered_sync_interval,
        preallocate: opts.wal_preallocate,
        recycle_segments: opts.wal_recycle_segments,
        group_commit_wait: opts.wal_group_commit_wait,
        ..WalOptions::default()
    };
    let wal_dir = dir.join(WAL_DIR);
    let salvage_mode = opts.wal_recovery_mode == RecoveryMode::SkipCorruptedRecords;
    let (wal, wal_report) = Wal::open_checked(&wal_dir, wal_opts, |r| {
        check_wal(
            &wal_dir,
            r,
            state.flushed_lsn,
            salvage_mode && r.has_corruption(),
            opts.wal_loss_policy,
        )
    })?;
    let salvaged = salvage_mode && wal_report.has_corruption();
    if !wal_report.dropped.is_empty() {
        tracing::warn!(dir = %wal_dir.display(), dropped = ?wal_report.dropped, "WAL recovery dropped damaged records");
    }

    // 3. Orphans: temp files, tables not in the manifest, stale manifests.
    for name in &names {
        let orphan = name.ends_with(".tmp")
            || parse_table_name(name).is_some_and(|n| !live.contains(&n))
            || manifest::parse_manifest_name(name).is_some_and(|n| Some(n) != old_manifest);
        if orphan {
            let p = dir.join(name);
            tracing::info!(path = %p.display(), "removing orphan file");
            fs.remove_file(&p)
                .map_err(|e| Error::io("removing an orphan file", &p, e))?;
        }
    }

    let tree_id = NEXT_TREE_ID.fetch_add(1, Ordering::Relaxed);
    // The WAL's background sync thread reports what it made durable; it
    // holds no lock of the tree when it does.
    let durable = Arc::new(DurableNotifier::new(opts.on_durable.clone()));
    if opts.on_durable.is_some() {
        let d = Arc::clone(&durable);
        wal.set_sync_listener(Arc::new(move |synced| d.advance(synced)));
    }
    let wbm = Arc::clone(shared.write_buffer_manager());

    let inner = Arc::new_cyclic(|weak| TreeInner {
        dir: dir.to_path_buf(),
        fs: Arc::clone(&fs),
        tree_id,
        wal,
        rate_limiter: opts.compaction_rate_limit.map(RateLimiter::new),
        shared,
        writer: Mutex::new(WriterState {
            active: Arc::new(Memtable::new(0, opts.memtable_size, Some(Arc::clone(&wbm)))),
            next_seq: 1,
        }),
        sv: RwLock::new(Arc::new(SuperVersion {
            mem: Arc::new(Memtable::new(0, 0, None)),
            imms: Vec::new(),
            version: Arc::new(Version::default()),
        })),
        visible_seq: AtomicU64::new(0),
        written_seq: AtomicU64::new(0),
        publish: Mutex::new(super::tree::Publish::default()),
        publish_cv: Condvar::new(),
        next_file: AtomicU64::new(state.next_file_number),
        next_mem_id: AtomicU64::new(1),
        versions: Mutex::new(VersionSet {
            manifest: None,
            state: ManifestState::default(),
        }),
        flush_lock: Mutex::new(()),
        compaction_lock: Mutex::new(()),
        flush_scheduled: AtomicBool::new(false),
        compaction_scheduled: AtomicBool::new(false),
        switch_requested: AtomicBool::new(false),
        stall: Mutex::new(StallState::default()),
        stall_cv: Condvar::new(),
        poisoned: Mutex::new(None),
        failed: AtomicBool::new(false),
        closed: AtomicBool::new(false),
        snapshots: Arc::new(SnapshotList::default()),
        counters: Counters::default(),
        jobs: Arc::default(),
        weak: weak.clone(),
        dir_lock: Mutex::new(Some(lock)),
        recovery: Mutex::new(TreeRecoveryReport::default()),
        log_hints: LogHints::default(),
        durable: Arc::clone(&durable),
        opts,
    });

    // 4. Open the live tables.
    let mut version = Version::default();
    for (level, files) in state.levels.iter().enumerate() {
        for meta in files {
            let path = dir.join(table_name(meta.number));
            let h: Arc<TableHandle> = inner.open_handle(meta.clone(), path.clone())?;
            if h.table.file_size() != meta.size {
                return Err(Error::Corruption {
                    path,
                    offset: h.table.file_size(),
                    reason: format!(
                        "table is {} bytes, the manifest says {}",
                        h.table.file_size(),
                        meta.size
                    ),
                });
            }
            version.levels[level].push(h);
        }
    }
    version.levels[0].sort_by_key(|t| std::cmp::Reverse(t.meta.number));
    for l in &mut version.levels[1..] {
        l.sort_by(|a, b| a.meta.smallest.cmp(&b.meta.smallest));
    }

    // 5. Replay the WAL past what the tables hold.
    let mut imms: Vec<Arc<Memtable>> = Vec::new();
    let mut mem = Arc::new(Memtable::new(
        0,
        inner.opts.memtable_size,
        Some(Arc::clone(&wbm)),
    ));
    let mut last_seq = state.last_seq.max(state.flushed_seq);
    let mut replayed = 0u64;
    // After salvage, LSNs past skipped damage are positional and may be lower
    // than the flushed position: replay everything (entries at or below the
    // flushed sequence number are skipped either way).
    let replay_from = if salvaged {
        wal_report.start_lsn
    } else {
        state.flushed_lsn.max(1)
    };
    for rec in inner.wal.iter_from(replay_from)? {
        let (lsn, bytes) = rec?;
        let batch = DecodedBatch::decode(&bytes).map_err(|(off, reason)| Error::Corruption {
            path: wal_dir.clone(),
            offset: off as u64,
            reason: format!("WAL record {lsn} is not a valid write batch: {reason}"),
        })?;
        let mut seq = batch.first_seq;
        for op in batch.ops() {
            let op = op.map_err(|reason| Error::Corruption {
                path: wal_dir.clone(),
                offset: 0,
                reason: format!("WAL record {lsn}: {reason}"),
            })?;
            // Log data stays in the WAL (for `read_log`); it is not replayed.
            let BatchOp::Write(kind, k, v) = op else {
                continue;
            };
            if seq > state.flushed_seq {
                mem.insert(k, seq, kind, v);
            }
            last_seq = last_seq.max(seq);
            seq += 1;
        }
        replayed += 1;
        if mem.approximate_size() >= inner.opts.memtable_size {
            mem.seal(lsn + 1);
            imms.insert(0, mem);
            let id = inner.next_mem_id.fetch_add(1, Ordering::Relaxed);
            mem = Arc::new(Memtable::new(
                id,
                inner.opts.memtable_size,
                Some(Arc::clone(&wbm)),
            ));
        }
    }
    if replayed > 0 {
        tracing::info!(dir = %dir.display(), records = replayed, "replayed WAL records");
    }

    // 6. A fresh manifest holding the recovered state.
    state.last_seq = last_seq;
    if salvaged {
        // Positions in the salvaged log restart from its own numbering.
        state.flushed_lsn = if mem.is_empty() && imms.is_empty() {
            inner.wal.next_lsn()
        } else {
            replay_from
        };
    }
    let manifest_number = inner.next_file.fetch_add(1, Ordering::AcqRel);
    state.next_file_number = inner.next_file.load(Ordering::Acquire);
    let writer = ManifestWriter::create(&inner.fs, dir, manifest_number, &state)?;
    if let Some(old) = old_manifest {
        let p = dir.join(manifest::manifest_name(old));
        fs.remove_file(&p)
            .map_err(|e| Error::io("removing the old manifest", &p, e))?;
    }
    {
        let mut vs = inner.versions.lock();
        vs.manifest = Some(writer);
        vs.state = state;
    }
    inner.visible_seq.store(last_seq, Ordering::Release);
    inner.written_seq.store(last_seq, Ordering::Release);
    inner.publish.lock().done = last_seq;
    {
        let mut w = inner.writer.lock();
        w.next_seq = last_seq + 1;
        w.active = Arc::clone(&mem);
        *inner.sv.write() = Arc::new(SuperVersion {
            mem,
            imms,
            version: Arc::new(version),
        });
    }
    let owner: Arc<dyn BufferOwner> = inner.clone();
    wbm.register(Arc::downgrade(&owner));
    drop(owner);
    *inner.recovery.lock() = TreeRecoveryReport {
        wal: wal_report,
        manifest_tail,
        replay_from,
        replayed_records: replayed,
        salvaged,
    };
    if salvaged {
        // Move what salvage kept into tables and drop the damaged segments,
        // so that the next open (in any mode) finds a clean log.
        inner.flush_all()?;
        let flushed = inner.versions.lock().state.flushed_lsn;
        inner.truncate_wal(flushed);
    }
    if !inner.current_sv().imms.is_empty() {
        inner.schedule_flush();
    }
    inner.maybe_schedule_compaction();
    Ok(Tree::from_inner(inner))
}
