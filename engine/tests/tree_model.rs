//! Model test: random operation sequences against the tree and a `BTreeMap`.
//!
//! Seeded; the seed is printed at the start of each run (shown when a run
//! fails). Override with `STRATA_MODEL_SEED=<n>`, and the number of steps
//! with `STRATA_MODEL_STEPS=<n>`. Tiny memtables and table sizes make
//! flushes, multi-level compactions and write stalls happen; the test
//! asserts from the statistics that they did.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata_engine::lsm::{Durability, Snapshot, Tree, TreeOptions, TreeStats, WriteBatch};
use strata_fs::{FaultFs, FileSystem};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn key(rng: &mut StdRng) -> Vec<u8> {
    let n = rng.random_range(0..400u32);
    match n % 7 {
        // Keys with zero bytes and prefixes of each other exercise escaping.
        0 => vec![b'k', 0, (n >> 3) as u8],
        1 => format!("k{:03}", n / 7).into_bytes()[..2].to_vec(),
        _ => format!("k{n:04}").into_bytes(),
    }
}

fn value(rng: &mut StdRng, seq: u64) -> Vec<u8> {
    let len = rng.random_range(0..120);
    let mut v = format!("v{seq}-").into_bytes();
    v.extend((0..len).map(|i| (i as u8).wrapping_mul(31)));
    v
}

fn bound(rng: &mut StdRng) -> Bound<Vec<u8>> {
    match rng.random_range(0..3) {
        0 => Bound::Unbounded,
        1 => Bound::Included(key(rng)),
        _ => Bound::Excluded(key(rng)),
    }
}

fn as_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k.as_slice()),
        Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn valid_range(lo: &Bound<Vec<u8>>, hi: &Bound<Vec<u8>>) -> bool {
    match (lo, hi) {
        (Bound::Included(a), Bound::Included(b)) => a <= b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Excluded(b))
        | (Bound::Excluded(a), Bound::Included(b)) => a < b,
        _ => true,
    }
}

/// Compares a scan (forward, reverse or alternating ends) with the model.
fn check_scan(tree: &Tree, model: &Model, snap: Option<&Snapshot>, rng: &mut StdRng, ctx: &str) {
    let (lo, hi) = (bound(rng), bound(rng));
    if !valid_range(&lo, &hi) {
        return;
    }
    let expect: Vec<(Vec<u8>, Vec<u8>)> = model
        .range((lo.clone(), hi.clone()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut it = tree.range(as_ref(&lo), as_ref(&hi), snap).unwrap();
    let mode = rng.random_range(0..3);
    let limit = if rng.random_bool(0.3) {
        rng.random_range(0..10)
    } else {
        usize::MAX
    };
    let (mut front, mut back) = (Vec::new(), Vec::new());
    let mut n = 0;
    loop {
        if n >= limit {
            break;
        }
        let from_back = match mode {
            0 => false,
            1 => true,
            _ => rng.random_bool(0.5),
        };
        let item = if from_back { it.next_back() } else { it.next() };
        match item {
            None => break,
            Some(r) => {
                let kv = r.unwrap();
                if from_back {
                    back.push(kv)
                } else {
                    front.push(kv)
                }
            }
        }
        n += 1;
    }
    if limit == usize::MAX {
        back.reverse();
        front.extend(back);
        assert_eq!(front, expect, "{ctx}: scan {lo:?}..{hi:?} mode {mode}");
    } else {
        let fl = front.len();
        assert_eq!(
            front,
            expect[..fl.min(expect.len())],
            "{ctx}: limited front scan {lo:?}..{hi:?}"
        );
        for (i, kv) in back.iter().enumerate() {
            assert_eq!(
                Some(kv),
                expect.iter().rev().nth(i),
                "{ctx}: limited back scan {lo:?}..{hi:?}"
            );
        }
    }
}

fn open(fs: &FaultFs, dir: &Path) -> Tree {
    let mut o = TreeOptions::small_for_tests(Arc::new(fs.clone()) as Arc<dyn FileSystem>);
    o.memtable_size = 8 << 10;
    o.target_file_size_base = 8 << 10;
    o.max_bytes_for_level_base = 8 << 10;
    o.max_bytes_for_level_multiplier = 2;
    Tree::open(dir, o).unwrap()
}

fn run(seed: u64, steps: usize) -> TreeStats {
    eprintln!("tree_model seed = {seed} (STRATA_MODEL_SEED={seed} to replay), steps = {steps}");
    let mut rng = StdRng::seed_from_u64(seed);
    let fs = FaultFs::new();
    let dir = Path::new("/db");
    let mut tree = open(&fs, dir);
    let mut model = Model::new();
    let mut snaps: Vec<(Snapshot, Model)> = Vec::new();
    let mut total = TreeStats::default();
    let mut seq = 0u64;
    let accumulate = |total: &mut TreeStats, s: &TreeStats| {
        total.flushes += s.flushes;
        total.compactions += s.compactions;
        total.trivial_moves += s.trivial_moves;
        total.max_compaction_output_level = total
            .max_compaction_output_level
            .max(s.max_compaction_output_level);
        total.slowdown_writes += s.slowdown_writes;
        total.stopped_writes += s.stopped_writes;
        total.compaction_bytes_written += s.compaction_bytes_written;
    };
    for step in 0..steps {
        let ctx = format!("seed {seed} step {step}");
        let r = rng.random_range(0..1000);
        match r {
            0..=399 => {
                let mut b = WriteBatch::new();
                let n = if rng.random_bool(0.2) {
                    rng.random_range(1..20)
                } else {
                    1
                };
                let mut staged = Vec::new();
                for _ in 0..n {
                    seq += 1;
                    let k = key(&mut rng);
                    if rng.random_bool(0.25) {
                        b.delete(&k);
                        staged.push((k, None));
                    } else {
                        let v = value(&mut rng, seq);
                        b.put(&k, &v);
                        staged.push((k, Some(v)));
                    }
                }
                let d = [Durability::Sync, Durability::Buffered, Durability::None]
                    [rng.random_range(0..3)];
                tree.write(b, d).unwrap();
                for (k, v) in staged {
                    match v {
                        Some(v) => model.insert(k, v),
                        None => model.remove(&k),
                    };
                }
            }
            400..=649 => {
                let k = key(&mut rng);
                assert_eq!(
                    tree.get(&k, None).unwrap(),
                    model.get(&k).cloned(),
                    "{ctx}: get {k:?}"
                );
            }
            650..=759 => check_scan(&tree, &model, None, &mut rng, &ctx),
            760..=789 => {
                if snaps.len() < 4 {
                    snaps.push((tree.snapshot(), model.clone()));
                }
            }
            790..=859 => {
                if !snaps.is_empty() {
                    let i = rng.random_range(0..snaps.len());
                    let (s, m) = &snaps[i];
                    if rng.random_bool(0.5) {
                        let k = key(&mut rng);
                        assert_eq!(
                            tree.get(&k, Some(s)).unwrap(),
                            m.get(&k).cloned(),
                            "{ctx}: snapshot get {k:?}"
                        );
                    } else {
                        check_scan(&tree, m, Some(s), &mut rng, &format!("{ctx} (snapshot)"));
                    }
                }
            }
            860..=884 => {
                if !snaps.is_empty() {
                    let i = rng.random_range(0..snaps.len());
                    snaps.swap_remove(i);
                }
            }
            885..=919 => tree.flush().unwrap(),
            920..=949 => {
                let (a, b) = (key(&mut rng), key(&mut rng));
                let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
                if rng.random_bool(0.5) {
                    tree.compact_range(Some(&lo), Some(&hi)).unwrap();
                } else {
                    tree.compact_range(None, None).unwrap();
                }
            }
            950..=979 => {
                // Clean reopen.
                snaps.clear();
                accumulate(&mut total, &tree.stats());
                tree.close().unwrap();
                drop(tree);
                tree = open(&fs, dir);
            }
            _ => {
                // Process crash: drop without close (everything written to the
                // file system is kept; the WAL is replayed).
                snaps.clear();
                accumulate(&mut total, &tree.stats());
                drop(tree);
                tree = open(&fs, dir);
            }
        }
    }
    // Full final check, both directions.
    let all: Vec<_> = tree
        .range(Bound::Unbounded, Bound::Unbounded, None)
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let expect: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(all, expect, "seed {seed}: final scan");
    let rev: Vec<_> = tree
        .range(Bound::Unbounded, Bound::Unbounded, None)
        .unwrap()
        .rev()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(
        rev,
        expect.iter().rev().cloned().collect::<Vec<_>>(),
        "seed {seed}: final reverse scan"
    );
    accumulate(&mut total, &tree.stats());
    drop(snaps);
    tree.close().unwrap();
    total
}

fn seeds() -> Vec<u64> {
    match std::env::var("STRATA_MODEL_SEED") {
        Ok(s) => vec![s.parse().expect("STRATA_MODEL_SEED must be a number")],
        Err(_) => {
            let base: u64 = rand::random();
            (0..3).map(|i| base.wrapping_add(i)).collect()
        }
    }
}

fn steps() -> usize {
    std::env::var("STRATA_MODEL_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4000)
}

#[test]
fn random_operations_match_btreemap() {
    let mut total = TreeStats::default();
    for seed in seeds() {
        let s = run(seed, steps());
        total.flushes += s.flushes;
        total.compactions += s.compactions;
        total.trivial_moves += s.trivial_moves;
        total.max_compaction_output_level = total
            .max_compaction_output_level
            .max(s.max_compaction_output_level);
        total.compaction_bytes_written += s.compaction_bytes_written;
    }
    eprintln!("{total:?}");
    assert!(total.flushes > 10, "flushes ran: {total:?}");
    assert!(total.compactions > 5, "compactions ran: {total:?}");
    assert!(
        total.compaction_bytes_written > 0,
        "merging compactions ran: {total:?}"
    );
    assert!(
        total.max_compaction_output_level >= 2,
        "multi-level compaction ran: {total:?}"
    );
}

/// Fast writes with tiny memtables and triggers make writers slow down and
/// stop; every write is still there afterwards.
#[test]
fn write_stalls_happen_and_lose_nothing() {
    let fs = FaultFs::new();
    let dir = Path::new("/stall");
    let mut o = TreeOptions::small_for_tests(Arc::new(fs.clone()) as Arc<dyn FileSystem>);
    o.memtable_size = 4 << 10;
    o.l0_compaction_trigger = 2;
    o.l0_slowdown_writes_trigger = 2;
    o.l0_stop_writes_trigger = 3;
    o.compaction_rate_limit = Some(256 << 10);
    let tree = Tree::open(dir, o).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let tree = tree.clone();
            std::thread::spawn(move || {
                for i in 0..1500u32 {
                    let k = format!("t{t}-{i:05}");
                    tree.put(k.as_bytes(), &[t as u8; 100], Durability::None)
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let s = tree.stats();
    eprintln!("{s:?}");
    assert!(
        s.slowdown_writes + s.stopped_writes > 0,
        "stalls happened: {s:?}"
    );
    for t in 0..4u8 {
        for i in 0..1500u32 {
            let k = format!("t{t}-{i:05}");
            assert_eq!(
                tree.get(k.as_bytes(), None).unwrap(),
                Some(vec![t; 100]),
                "{k}"
            );
        }
    }
    tree.close().unwrap();
}

/// Trees sharing one pool, cache and memtable budget: the budget makes the
/// largest memtable flush even though no tree reached its own limit.
#[test]
fn shared_resources_budget_flushes_across_trees() {
    use strata_engine::lsm::SharedResources;
    let fs = FaultFs::new();
    let shared = SharedResources::new(1 << 20, 2, 64 << 10);
    let trees: Vec<Tree> = (0..8)
        .map(|i| {
            let mut o = TreeOptions::small_for_tests(Arc::new(fs.clone()) as Arc<dyn FileSystem>);
            o.memtable_size = 1 << 20; // never reached by one tree
            o.shared = Some(shared.clone());
            Tree::open(Path::new(&format!("/multi/{i}")), o).unwrap()
        })
        .collect();
    for round in 0..200u32 {
        for (i, t) in trees.iter().enumerate() {
            t.put(
                format!("k{round:05}").as_bytes(),
                &[i as u8; 200],
                Durability::None,
            )
            .unwrap();
        }
    }
    let start = std::time::Instant::now();
    while trees.iter().map(|t| t.stats().flushes).sum::<u64>() == 0
        && start.elapsed().as_secs() < 10
    {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let flushes: u64 = trees.iter().map(|t| t.stats().flushes).sum();
    assert!(flushes > 0, "the shared budget never forced a flush");
    for (i, t) in trees.iter().enumerate() {
        assert_eq!(t.get(b"k00199", None).unwrap(), Some(vec![i as u8; 200]));
        t.close().unwrap();
    }
}

/// Readers running alongside writers, flushes and compactions never see
/// half of a batch: every batch sets a pair of keys to the same value, and
/// every scan and every pair of gets at one snapshot must find them equal.
#[test]
fn concurrent_readers_see_whole_batches() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let fs = FaultFs::new();
    let mut o = TreeOptions::small_for_tests(Arc::new(fs.clone()) as Arc<dyn FileSystem>);
    o.memtable_size = 4 << 10;
    let tree = Tree::open(Path::new("/conc"), o).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3u32)
        .map(|t| {
            let tree = tree.clone();
            std::thread::spawn(move || {
                let mut rng = StdRng::seed_from_u64(u64::from(t));
                for n in 0..1500u32 {
                    let i = rng.random_range(0..50u32);
                    let v = format!("{t}-{n}").into_bytes();
                    let mut b = WriteBatch::new();
                    b.put(format!("a{i:02}").as_bytes(), &v);
                    b.put(format!("b{i:02}").as_bytes(), &v);
                    let d = if n % 10 == 0 {
                        Durability::Sync
                    } else {
                        Durability::None
                    };
                    tree.write(b, d).unwrap();
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|r| {
            let tree = tree.clone();
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut checks = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let snap = tree.snapshot();
                    let all: BTreeMap<Vec<u8>, Vec<u8>> = tree
                        .range(Bound::Unbounded, Bound::Unbounded, Some(&snap))
                        .unwrap()
                        .map(|kv| kv.unwrap())
                        .collect();
                    for i in 0..50u32 {
                        let a = all.get(format!("a{i:02}").as_bytes());
                        let b = all.get(format!("b{i:02}").as_bytes());
                        assert_eq!(a, b, "reader {r}: pair {i} torn in a scan");
                        let ga = tree
                            .get(format!("a{i:02}").as_bytes(), Some(&snap))
                            .unwrap();
                        let gb = tree
                            .get(format!("b{i:02}").as_bytes(), Some(&snap))
                            .unwrap();
                        assert_eq!(ga, gb, "reader {r}: pair {i} torn in gets");
                        assert_eq!(
                            ga.as_ref(),
                            a,
                            "reader {r}: get and scan disagree at one snapshot"
                        );
                    }
                    checks += 1;
                }
                checks
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let checks: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
    let s = tree.stats();
    eprintln!("{checks} snapshot checks; {s:?}");
    assert!(checks > 0);
    assert!(s.flushes > 0 && s.compactions > 0, "{s:?}");
    tree.close().unwrap();
}

/// With a bound on mapped table pages far below the data, reads release and
/// map pages back again and again (on the real file system, so that the
/// `madvise` happens), from several threads at once, and every value read is
/// still the one written.
#[test]
fn reads_under_a_tiny_mapped_budget_return_what_was_written() {
    use strata_engine::lsm::SharedResources;
    let dir = tempfile::tempdir().unwrap();
    let shared = SharedResources::new(256 << 10, 2, 16 << 20)
        .with_pread_data_blocks(false)
        .with_max_mapped_bytes(Some(64 << 10));
    let mut o = TreeOptions::small_for_tests(strata_fs::default_fs());
    o.memtable_size = 256 << 10;
    o.shared = Some(shared.clone());
    let tree = Tree::open(dir.path(), o).unwrap();
    write_then_read_from_threads(&tree, 6000, false, 2);
    assert!(shared.map_budget().unwrap().releases() > 10);
}

/// Writes `n` keys, flushes (and with `compact`, compacts them all), then
/// reads every 7th key `rounds` times from 3 threads and scans them all,
/// checking each value.
fn write_then_read_from_threads(tree: &Tree, n: u32, compact: bool, rounds: usize) {
    let val = |i: u32| format!("value-{i:08}-").repeat(12).into_bytes();
    for i in 0..n {
        tree.put(format!("k{i:08}").as_bytes(), &val(i), Durability::None)
            .unwrap();
    }
    tree.flush().unwrap();
    if compact {
        tree.compact_range(None, None).unwrap();
    }
    std::thread::scope(|s| {
        for t in 0..3u32 {
            s.spawn(move || {
                for round in 0..rounds {
                    for i in (t..n).step_by(7) {
                        let got = tree.get(format!("k{i:08}").as_bytes(), None).unwrap();
                        assert_eq!(got.as_deref(), Some(&val(i)[..]), "key {i}, round {round}");
                    }
                }
            });
        }
    });
    let mut seen = 0u32;
    for kv in tree
        .range(Bound::Unbounded, Bound::Unbounded, None)
        .unwrap()
    {
        let (k, v) = kv.unwrap();
        assert_eq!(k, format!("k{seen:08}").into_bytes());
        assert_eq!(v, val(seen));
        seen += 1;
    }
    assert_eq!(seen, n);
}

/// With data blocks read by `pread` into a small block cache, reads from
/// several threads (point reads and a full scan, from tables and across a
/// compaction) return what was written, and the tree's SSTable data pages
/// are never mapped in (checked through `/proc/self/smaps` on Linux).
#[test]
fn pread_data_blocks_return_what_was_written() {
    use strata_engine::lsm::SharedResources;
    let dir = tempfile::tempdir().unwrap();
    let shared = SharedResources::new(128 << 10, 2, 16 << 20).with_pread_data_blocks(true);
    let mut o = TreeOptions::small_for_tests(strata_fs::default_fs());
    o.memtable_size = 1 << 20;
    o.target_file_size_base = 1 << 20;
    o.shared = Some(shared);
    let tree = Tree::open(dir.path(), o).unwrap();
    write_then_read_from_threads(&tree, 12_000, true, 2);
    #[cfg(target_os = "linux")]
    {
        // Each mapped table shows in smaps with its resident bytes: only the
        // filter, index and properties pages at the end of the file may be.
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let dir_s = dir.path().to_string_lossy().into_owned();
        let mut lines = smaps.lines();
        let (mut tables, mut large) = (0, 0);
        while let Some(line) = lines.next() {
            if !(line.contains(&dir_s) && line.ends_with(".sst")) {
                continue;
            }
            tables += 1;
            let size_kb =
                |l: &str| -> u64 { l.split_whitespace().nth(1).unwrap().parse().unwrap() };
            let mut size = 0;
            for l in lines.by_ref() {
                if l.starts_with("Size:") {
                    size = size_kb(l);
                }
                if l.starts_with("Rss:") {
                    // Fault-around maps up to 64 KiB around each page the
                    // filter and index reads touch: only larger tables tell.
                    let rss = size_kb(l);
                    if size >= 256 {
                        large += 1;
                        assert!(rss * 2 <= size, "{line}: {rss} of {size} KiB resident");
                    }
                    break;
                }
            }
        }
        assert!(tables > 0, "no table mapped under {dir_s}");
        assert!(large > 0, "no table of 256 KiB or more under {dir_s}");
    }
}

/// One writer keeps rewriting a few keys. Each new version sorts right before
/// the older versions of its key, which is where a read at an older snapshot
/// searches the memtable, so reads and inserts meet at the same place.
/// Readers hold a snapshot and read the same keys again and again: the values
/// must never change.
#[test]
fn reads_at_a_snapshot_never_see_later_versions() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let fs = FaultFs::new();
    let mut o = TreeOptions::small_for_tests(Arc::new(fs.clone()) as Arc<dyn FileSystem>);
    o.memtable_size = 32 << 20;
    let tree = Tree::open(Path::new("/snapshots"), o).unwrap();
    let keys: Vec<Vec<u8>> = (0..4u8).map(|i| vec![b'k', i]).collect();
    for k in &keys {
        tree.put(k, b"0", Durability::None).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|r| {
            let (tree, stop, keys) = (tree.clone(), Arc::clone(&stop), keys.clone());
            std::thread::spawn(move || {
                let mut reads = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let snap = tree.snapshot();
                    let first: Vec<_> = keys
                        .iter()
                        .map(|k| tree.get(k, Some(&snap)).unwrap())
                        .collect();
                    for _ in 0..200 {
                        for (k, v) in keys.iter().zip(&first) {
                            assert_eq!(&tree.get(k, Some(&snap)).unwrap(), v, "reader {r}");
                            reads += 1;
                        }
                    }
                }
                reads
            })
        })
        .collect();
    for n in 1..150_000u32 {
        let k = &keys[(n % 4) as usize];
        tree.put(k, n.to_string().as_bytes(), Durability::None)
            .unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
}
