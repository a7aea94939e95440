//! Shared parts of the real-process kill tests (`db_crash`, `tree_crash`,
//! `kill_lifecycle`): starting the child (this test binary, re-executed), and
//! the checks after a SIGKILL — the scrub of the killed directory, what the
//! recovery report may contain, the scrub of the reopened database.
//!
//! # What a SIGKILL can leave half-written
//!
//! A SIGKILL stops the process between or inside system calls. The page cache
//! survives: every byte a completed `write()` handed to the kernel is there.
//! What can be incomplete is only what was being written at that moment:
//!
//! - **The newest WAL segment's tail.** The group-commit leader appends a batch
//!   of framed records with one `write_all` (`strata_fs::RealFs`). Killed
//!   inside it (a `write()` to a regular file stops part-way when a fatal
//!   signal arrives, or `write_all` is between two `write()` calls), the
//!   segment ends in a prefix of the batch: a torn tail. None of its records
//!   was acknowledged: the append had not returned (`Buffered`), let alone its
//!   fsync (`Sync`). No other segment can be torn: a rotation finishes and
//!   fsyncs the old segment's writes before the next segment exists.
//! - **The newest WAL segment's creation.** A segment is created empty, then
//!   its header is written and synced: killed in between, the newest segment
//!   is empty or shorter than its header (a torn creation, holding no record).
//! - **The manifest's last edit.** An edit (a flush, a compaction) is appended
//!   with one write: killed inside it, the manifest ends in a torn append. The
//!   edit had not taken effect: the WAL segments a flush covers and the inputs
//!   of a compaction are deleted only after the edit is synced.
//! - Everything else (SSTables, a rewritten manifest, `CURRENT`, `CATALOG`,
//!   a new table's directory) is written under a name nothing refers to until
//!   it is complete and synced; killed before, it is an orphan.
//!
//! So after a SIGKILL the recovery report may hold only torn tails and torn
//! creations of each partition's newest WAL segment, each reaching exactly to
//! the end of the file, and torn manifest appends — never corruption; and the
//! scrub of the killed directory (`verify_dir`) finds no error, only `TornTail`
//! warnings at those same places and `Orphan` warnings.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};

use strata_engine::lsm::{DropKind, TreeRecoveryReport};
use strata_engine::{
    Db, DbError, DbOptions, ProblemKind, TableDurability, TreeError as Error, VerifyReport,
    verify_dir,
};

/// Serialises the kill tests of one test binary: hold the guard for the whole
/// test.
///
/// Why: the directory locks are `flock`s, which a forked process shares until it
/// `exec`s (close-on-exec closes its copy only then). When two tests of one
/// binary run in parallel, one test's `spawn` can fork while the other test
/// holds a database open; that test then closes the database and starts its own
/// child, whose open fails with `Locked` until the first fork has finished its
/// `exec`. Seen here as a child that "did not start" under load.
pub fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A child process that is killed (SIGKILL) and reaped when dropped, so that a
/// failing parent leaves no writer behind.
pub struct KillOnDrop(pub Child);

impl KillOnDrop {
    /// Runs the test `test_name` of this binary as a child with `envs` set,
    /// its stdout piped to the parent, its stderr the parent's.
    pub fn spawn(test_name: &str, envs: &[(&str, String)]) -> (KillOnDrop, ChildStdout) {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "--exact",
            test_name,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        (KillOnDrop(child), stdout)
    }

    /// SIGKILLs the child and waits for it. Fails if it had already exited
    /// (a child that dies by itself failed: its stderr says why).
    pub fn kill(&mut self) {
        if let Some(status) = self.0.try_wait().unwrap() {
            panic!("the child exited by itself before it was killed: {status}");
        }
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What recovery dropped over some opens, by kind.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub torn_tails: usize,
    pub torn_creations: usize,
    pub manifest_tails: usize,
    /// Opens with `refuse_open_on_loss` that refused (`Buffered` tables only).
    pub refused: usize,
    /// Files of GSI shadow trees the scrub found torn (see [`check_db_report`]).
    pub gsi_torn: usize,
}

impl Tally {
    pub fn add(&mut self, o: Tally) {
        self.torn_tails += o.torn_tails;
        self.torn_creations += o.torn_creations;
        self.manifest_tails += o.manifest_tails;
        self.refused += o.refused;
        self.gsi_torn += o.gsi_torn;
    }
}

/// The newest segment of every WAL directory (a directory named `wal`) under
/// `root`, with its length: `wal dir -> (segment path, length)`.
pub fn newest_segments(root: &Path) -> BTreeMap<PathBuf, (PathBuf, u64)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut newest: Option<(u64, PathBuf)> = None;
        for e in entries {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if dir.file_name() == Some(OsStr::new("wal"))
                && let Some(n) = path
                    .file_name()
                    .and_then(OsStr::to_str)
                    .and_then(|n| n.strip_suffix(".wal"))
                    .and_then(|n| n.parse::<u64>().ok())
                && newest.as_ref().is_none_or(|(m, _)| n > *m)
            {
                newest = Some((n, path));
            }
        }
        if let Some((_, seg)) = newest {
            let len = std::fs::metadata(&seg).unwrap().len();
            out.insert(dir, (seg, len));
        }
    }
    out
}

/// Checks one tree's recovery report against what a SIGKILL can leave (see
/// the module documentation): only torn tails and torn creations of the
/// newest segment of the tree's WAL, reaching to the end of the file as it
/// was before the open (`newest`, from [`newest_segments`]), and torn
/// manifest appends.
pub fn check_tree_report(
    what: &str,
    report: &TreeRecoveryReport,
    newest: &BTreeMap<PathBuf, (PathBuf, u64)>,
) -> Tally {
    assert!(
        !report.has_corruption() && report.wal.salvaged_records == 0,
        "{what}: recovery after a SIGKILL found corruption: {report:?}"
    );
    let mut tally = Tally::default();
    for d in &report.wal.dropped {
        match d.kind {
            DropKind::TornTail => tally.torn_tails += 1,
            DropKind::TornCreation => tally.torn_creations += 1,
            other => panic!("{what}: recovery after a SIGKILL dropped {other:?}: {d:?}"),
        }
        let wal_dir = d.segment.parent().unwrap();
        let (seg, len) = newest
            .get(wal_dir)
            .unwrap_or_else(|| panic!("{what}: {d:?} is in no WAL directory seen before open"));
        assert_eq!(
            &d.segment, seg,
            "{what}: a dropped range is not in the newest segment: {d:?}"
        );
        assert_eq!(
            d.offset + d.bytes,
            *len,
            "{what}: a dropped range does not reach the end of the segment ({len} bytes): {d:?}"
        );
    }
    if report.manifest_tail.is_some() {
        tally.manifest_tails += 1;
    }
    tally
}

/// The scrub of a killed (closed) database directory, and the newest WAL
/// segments as they were before anything reopened it.
pub struct Killed {
    pub scrub: VerifyReport,
    pub newest: BTreeMap<PathBuf, (PathBuf, u64)>,
}

impl Killed {
    /// The files the scrub found torn (WAL segments and manifests).
    fn torn_paths(&self) -> BTreeSet<PathBuf> {
        self.scrub
            .warnings()
            .filter(|p| p.kind == ProblemKind::TornTail)
            .map(|p| p.path.clone())
            .collect()
    }
}

/// Runs `verify_dir` on the killed database in `path` and checks it: no
/// error; warnings (printed) only torn tails of a partition's newest WAL
/// segment or of a manifest, and orphans.
pub fn scrub_killed(path: &Path) -> Killed {
    let newest = newest_segments(path);
    let scrub = verify_dir(path, &strata_fs::default_fs()).unwrap();
    assert!(
        scrub.is_clean(),
        "verify_dir after a SIGKILL found errors:\n{scrub}"
    );
    for w in scrub.warnings() {
        eprintln!("  verify_dir warning: {w}");
        match w.kind {
            ProblemKind::Orphan => {}
            ProblemKind::TornTail => {
                let parent = w.path.parent().unwrap();
                let name = w.path.file_name().unwrap().to_string_lossy();
                let newest_wal = newest.get(parent).map(|(s, _)| s);
                assert!(
                    newest_wal == Some(&w.path) || name.starts_with("MANIFEST-"),
                    "a torn tail outside a newest WAL segment or a manifest: {w}"
                );
            }
            _ => panic!("unexpected warning after a SIGKILL: {w}"),
        }
    }
    Killed { scrub, newest }
}

/// Whether `path` is in a GSI's shadow trees (`<table dir>/gsi/...`).
fn is_gsi_path(path: &Path) -> bool {
    path.components().any(|c| c.as_os_str() == "gsi")
}

/// Checks a database's recovery report against the scrub of the killed
/// directory: every partition's report as [`check_tree_report`], and every
/// file recovery cut or ignored is one the scrub reported as torn; with
/// `exact`, also the converse (every torn file the scrub found was recovered).
///
/// `Db::recovery_report` lists the shadow trees of global secondary indexes
/// too, so their torn files are compared like the base partitions' (and also
/// counted in [`Tally::gsi_torn`]).
pub fn check_db_report(db: &Db, killed: &Killed, exact: bool) -> Tally {
    let mut tally = Tally::default();
    let mut recovered = BTreeSet::new();
    for p in &db.recovery_report().partitions {
        let what = match &p.index {
            Some(i) => format!("table {} index {i} partition {}", p.table, p.partition),
            None => format!("table {} partition {}", p.table, p.partition),
        };
        tally.add(check_tree_report(&what, &p.report, &killed.newest));
        recovered.extend(p.report.wal.dropped.iter().map(|d| d.segment.clone()));
        recovered.extend(p.report.manifest_tail.iter().map(|m| m.path.clone()));
    }
    let torn: BTreeSet<PathBuf> = killed.torn_paths().into_iter().collect();
    tally.gsi_torn += torn.iter().filter(|p| is_gsi_path(p)).count();
    if exact {
        assert_eq!(
            recovered, torn,
            "recovery and the scrub of the killed directory disagree on what is torn"
        );
    } else {
        assert!(
            recovered.is_subset(&torn),
            "recovery dropped data the scrub did not report as torn: {recovered:?} vs {torn:?}"
        );
    }
    tally
}

/// Reopens a database after a SIGKILL and checks it: [`scrub_killed`] first;
/// then `Db::open` with `refuse_open_on_loss`, which must succeed when the
/// tables are `Sync` (a torn tail holds no acknowledged `Sync` write). A
/// `Buffered` table refuses to open on a torn WAL tail (after a power loss it
/// may hold acknowledged writes, and recovery cannot tell a kill from a power
/// loss): then the scrub must have seen that torn tail, and the database is
/// opened without the option. The recovery report is checked with
/// [`check_db_report`], and `Db::verify` on the open database must be clean.
pub fn open_after_kill(path: &Path, opts: &DbOptions, durability: TableDurability) -> (Db, Tally) {
    let killed = scrub_killed(path);
    let mut strict = opts.clone();
    strict.refuse_open_on_loss = true;
    let (db, tally) = match Db::open(path, strict) {
        Ok(db) => {
            let t = check_db_report(&db, &killed, true);
            (db, t)
        }
        Err(DbError::Storage {
            source: Error::RecoveryRefused { reason, .. },
            ..
        }) if durability == TableDurability::Buffered => {
            eprintln!("  refuse_open_on_loss refused: {reason}");
            let wal_torn: Vec<PathBuf> = killed
                .torn_paths()
                .into_iter()
                .filter(|p| p.extension() == Some(OsStr::new("wal")))
                .collect();
            assert!(
                wal_torn
                    .iter()
                    .any(|p| reason.contains(&p.display().to_string())),
                "the open was refused for a WAL file the scrub did not find torn ({wal_torn:?}): {reason}"
            );
            let mut lenient = opts.clone();
            lenient.refuse_open_on_loss = false;
            let db = Db::open(path, lenient).unwrap();
            let mut t = check_db_report(&db, &killed, false);
            assert!(
                t.torn_tails > 0,
                "the strict open was refused, the lenient one cut no torn tail"
            );
            t.refused += 1;
            (db, t)
        }
        Err(e) => panic!("reopening after a SIGKILL failed: {e}"),
    };
    let v = db.verify().unwrap();
    for w in v.warnings() {
        eprintln!("  Db::verify warning: {w}");
    }
    assert!(v.is_clean(), "Db::verify after recovery:\n{v}");
    (db, tally)
}
