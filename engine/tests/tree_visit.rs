//! `TreeIter::visit` (borrowed entries, the query and scan page loop) yields
//! exactly what the copying iterator yields: over memtables, immutable
//! memtables and tables, with deletes, overwrites and snapshots, in both
//! directions, stopping early and going on afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata_engine::lsm::{Durability, Error, Tree, TreeOptions};
use strata_fs::{FaultFs, FileSystem};

type Kv = (Vec<u8>, Vec<u8>);

fn as_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(v) => Bound::Included(v.as_slice()),
        Bound::Excluded(v) => Bound::Excluded(v.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn collect_visit(
    tree: &Tree,
    lo: Bound<&[u8]>,
    hi: Bound<&[u8]>,
    snap: Option<&strata_engine::lsm::Snapshot>,
    forward: bool,
    stop_after: usize,
) -> Vec<Kv> {
    let mut it = tree.range(lo, hi, snap).unwrap();
    let mut out = Vec::new();
    // In chunks of `stop_after`: stop, then go on with the same iterator.
    loop {
        let before = out.len();
        let mut n = 0;
        it.visit(
            forward,
            |e: Error| e,
            |k, v| {
                out.push((k.to_vec(), v.to_vec()));
                n += 1;
                Ok(n >= stop_after)
            },
        )
        .unwrap();
        if out.len() == before || n < stop_after {
            return out;
        }
    }
}

#[test]
fn visit_matches_the_iterator() {
    let fs: Arc<dyn FileSystem> = Arc::new(FaultFs::new());
    let mut o = TreeOptions::small_for_tests(Arc::clone(&fs));
    o.memtable_size = 4 << 10;
    let tree = Tree::open(Path::new("/visit"), o).unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    let mut snaps = Vec::new();
    for round in 0..6 {
        for _ in 0..400 {
            // Keys with zero bytes too (escaped in internal keys).
            let k = vec![b'k', rng.random_range(0..3u8), rng.random_range(0..60u8)];
            if rng.random_bool(0.2) {
                tree.delete(&k, Durability::Buffered).unwrap();
            } else {
                let v = vec![round as u8; rng.random_range(0..50)];
                tree.put(&k, &v, Durability::Buffered).unwrap();
            }
        }
        snaps.push(tree.snapshot());
        if round % 2 == 0 {
            tree.flush().unwrap();
        }
    }
    type Range = (Bound<Vec<u8>>, Bound<Vec<u8>>);
    let bounds: Vec<Range> = vec![
        (Bound::Unbounded, Bound::Unbounded),
        (
            Bound::Included(vec![b'k', 1]),
            Bound::Excluded(vec![b'k', 2]),
        ),
        (
            Bound::Excluded(vec![b'k', 0, 5]),
            Bound::Included(vec![b'k', 2, 30]),
        ),
        (Bound::Included(vec![b'z']), Bound::Unbounded),
    ];
    let mut checked = 0;
    for (lo, hi) in &bounds {
        for snap in std::iter::once(None).chain(snaps.iter().map(Some)) {
            let expected: Vec<Kv> = tree
                .range(as_ref(lo), as_ref(hi), snap)
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let mut reversed = expected.clone();
            reversed.reverse();
            for stop_after in [1, 3, usize::MAX] {
                let fwd = collect_visit(&tree, as_ref(lo), as_ref(hi), snap, true, stop_after);
                assert_eq!(fwd, expected, "forward, stop after {stop_after}");
                let back = collect_visit(&tree, as_ref(lo), as_ref(hi), snap, false, stop_after);
                assert_eq!(back, reversed, "backward, stop after {stop_after}");
                checked += expected.len();
            }
        }
    }
    assert!(checked > 1000, "the ranges were nearly empty: {checked}");

    // Visiting from the front, then iterating from the back: the two ends meet
    // without overlap.
    let all: Vec<Kv> = tree
        .range(Bound::Unbounded, Bound::Unbounded, None)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut it = tree
        .range(Bound::Unbounded, Bound::Unbounded, None)
        .unwrap();
    let mut front = Vec::new();
    it.visit(
        true,
        |e: Error| e,
        |k, v| {
            front.push((k.to_vec(), v.to_vec()));
            Ok(front.len() == all.len() / 2)
        },
    )
    .unwrap();
    let mut back: Vec<Kv> = it.by_ref().rev().map(Result::unwrap).collect();
    back.reverse();
    front.extend(back);
    assert_eq!(front, all);
}
