//! Differential fuzzing of the LSM tree: an operation sequence decoded from
//! the input runs against the tree (on FaultFs, tiny memtables and tables so
//! flushes and compactions happen) and a BTreeMap. Any difference, error or
//! panic is a crash. Writes are `Sync`, so a simulated power loss keeps them.
#![no_main]

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use strata_engine::lsm::{Durability, SharedResources, Tree, TreeOptions, WriteBatch};
use strata_fs::{FaultFs, FileSystem};

fn shared() -> SharedResources {
    static S: OnceLock<SharedResources> = OnceLock::new();
    S.get_or_init(|| SharedResources::new(1 << 20, 2, 1 << 20))
        .clone()
}

fn open(fs: &FaultFs) -> Tree {
    let mut o = TreeOptions::small_for_tests(Arc::new(fs.clone()) as Arc<dyn FileSystem>);
    o.memtable_size = 1024;
    o.target_file_size_base = 1024;
    o.max_bytes_for_level_base = 2048;
    o.max_bytes_for_level_multiplier = 2;
    o.shared = Some(shared());
    Tree::open(Path::new("/t"), o).expect("open")
}

#[path = "common/input.rs"]
mod input;
use input::Input;

impl Input<'_> {
    fn key(&mut self) -> Option<Vec<u8>> {
        let b = self.byte()?;
        // A small key space with zero bytes and prefixes.
        Some(match b % 4 {
            0 => vec![b'k', b >> 2],
            1 => vec![b'k', 0, b >> 2],
            2 => vec![b'k'],
            _ => vec![b >> 2],
        })
    }
    fn bound(&mut self) -> Option<Bound<Vec<u8>>> {
        let b = self.byte()?;
        Some(match b % 3 {
            0 => Bound::Unbounded,
            1 => Bound::Included(self.key()?),
            _ => Bound::Excluded(self.key()?),
        })
    }
}

fn as_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k),
        Bound::Excluded(k) => Bound::Excluded(k),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn valid(lo: &Bound<Vec<u8>>, hi: &Bound<Vec<u8>>) -> bool {
    match (lo, hi) {
        (Bound::Included(a), Bound::Included(b)) => a <= b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Excluded(b))
        | (Bound::Excluded(a), Bound::Included(b)) => a < b,
        _ => true,
    }
}

fuzz_target!(|data: &[u8]| {
    let mut fs = FaultFs::new();
    let mut tree = open(&fs);
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut snap: Option<(strata_engine::lsm::Snapshot, BTreeMap<Vec<u8>, Vec<u8>>)> = None;
    let mut input = Input(data);
    let mut ops = 0;
    while let Some(op) = input.byte() {
        ops += 1;
        if ops > 400 {
            break;
        }
        match op % 12 {
            0..=2 => {
                let mut b = WriteBatch::new();
                let n = 1 + (op / 12) % 4;
                let mut staged = Vec::new();
                for _ in 0..n {
                    let Some(k) = input.key() else { break };
                    let Some(v) = input.byte() else { break };
                    if v % 5 == 0 {
                        b.delete(&k);
                        staged.push((k, None));
                    } else {
                        let val = vec![v; v as usize];
                        b.put(&k, &val);
                        staged.push((k, Some(val)));
                    }
                }
                tree.write(b, Durability::Sync).expect("write");
                for (k, v) in staged {
                    match v {
                        Some(v) => model.insert(k, v),
                        None => model.remove(&k),
                    };
                }
            }
            3 | 4 => {
                let Some(k) = input.key() else { break };
                assert_eq!(
                    tree.get(&k, None).expect("get"),
                    model.get(&k).cloned(),
                    "get {k:?}"
                );
            }
            5 | 6 => {
                let (Some(lo), Some(hi), Some(dir)) = (input.bound(), input.bound(), input.byte())
                else {
                    break;
                };
                if !valid(&lo, &hi) {
                    continue;
                }
                let (m, s) = match (&snap, dir % 4 == 3) {
                    (Some((s, m)), true) => (m, Some(s)),
                    _ => (&model, None),
                };
                let expect: Vec<_> = m
                    .range((lo.clone(), hi.clone()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let it = tree.range(as_ref(&lo), as_ref(&hi), s).expect("range");
                let got: Vec<_> = if dir % 2 == 0 {
                    it.map(|r| r.expect("scan")).collect()
                } else {
                    let mut v: Vec<_> = it.rev().map(|r| r.expect("scan")).collect();
                    v.reverse();
                    v
                };
                assert_eq!(got, expect, "scan {lo:?}..{hi:?} dir {dir}");
            }
            7 => snap = Some((tree.snapshot(), model.clone())),
            8 => {
                if let Some((s, m)) = &snap {
                    let Some(k) = input.key() else { break };
                    assert_eq!(
                        tree.get(&k, Some(s)).expect("snapshot get"),
                        m.get(&k).cloned()
                    );
                }
            }
            9 => tree.flush().expect("flush"),
            10 => tree.compact_range(None, None).expect("compact"),
            _ => {
                snap = None;
                if op % 2 == 0 {
                    tree.close().expect("close");
                    drop(tree);
                } else {
                    // Power loss: only what was made durable survives.
                    let rec = fs.recovered();
                    drop(tree);
                    fs = rec;
                }
                tree = open(&fs);
            }
        }
    }
    drop(snap);
    let all: Vec<_> = tree
        .range(Bound::Unbounded, Bound::Unbounded, None)
        .expect("range")
        .map(|r| r.expect("scan"))
        .collect();
    let expect: Vec<_> = model.into_iter().collect();
    assert_eq!(all, expect, "final scan");
    tree.close().expect("close");
});
