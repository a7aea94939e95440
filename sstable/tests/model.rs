//! Property tests: a table's cursor and point reads agree with a `BTreeMap`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::ops::Bound;

use common::*;
use proptest::prelude::*;
use strata_sstable::{BlockCache, Compression, ReaderOptions, Table, TableOptions};

#[derive(Debug, Clone)]
enum Op {
    First,
    Last,
    Seek(Vec<u8>),
    SeekForPrev(Vec<u8>),
    Next,
    Prev,
    Get(Vec<u8>),
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    // Small alphabet so keys share prefixes and probes hit existing keys.
    prop::collection::vec(
        prop_oneof![Just(0u8), Just(1u8), Just(b'a'), Just(b'b'), Just(0xff)],
        0..6,
    )
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => Just(Op::First),
        1 => Just(Op::Last),
        3 => key().prop_map(Op::Seek),
        3 => key().prop_map(Op::SeekForPrev),
        4 => Just(Op::Next),
        4 => Just(Op::Prev),
        2 => key().prop_map(Op::Get),
    ]
}

fn options() -> impl Strategy<Value = TableOptions> {
    (
        1usize..200,
        1usize..6,
        any::<bool>(),
        prop_oneof![Just(0u32), Just(10)],
        0usize..3,
    )
        .prop_map(
            |(block_size, restart_interval, zstd, bloom, suffix)| TableOptions {
                block_size,
                restart_interval,
                compression: if zstd {
                    Compression::Zstd { level: 1 }
                } else {
                    Compression::None
                },
                bloom_bits_per_key: bloom,
                filter_ignore_suffix: suffix,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn cursor_agrees_with_btreemap(
        model in prop::collection::btree_map(key(), prop::collection::vec(any::<u8>(), 0..40), 0..120),
        opts in options(),
        ops in prop::collection::vec(op(), 1..80),
        cached in any::<bool>(),
        // The filter sized up front for a key count that may be wrong.
        hint in prop::option::of(0u64..300),
    ) {
        let entries: Vec<Kv> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let bytes = table_bytes_hinted(&entries, opts, hint);
        let ro = ReaderOptions { cache: cached.then(|| BlockCache::new(1 << 20)), ..ReaderOptions::default() };
        let t = Table::open_bytes(bytes, "/m.sst".into(), 1, ro).unwrap();
        t.verify().unwrap();
        prop_assert_eq!(scan(&t).unwrap(), entries.clone());
        prop_assert_eq!(scan_rev(&t).unwrap(), entries);

        let mut it = t.iter();
        // The model cursor: the current key, if valid.
        let mut cur: Option<Vec<u8>> = None;
        for op in ops {
            match op {
                Op::First => { it.seek_to_first().unwrap(); cur = model.keys().next().cloned(); }
                Op::Last => { it.seek_to_last().unwrap(); cur = model.keys().next_back().cloned(); }
                Op::Seek(k) => {
                    it.seek(&k).unwrap();
                    cur = model.range::<[u8], _>((Bound::Included(k.as_slice()), Bound::Unbounded)).next().map(|e| e.0.clone());
                }
                Op::SeekForPrev(k) => {
                    it.seek_for_prev(&k).unwrap();
                    cur = model.range::<[u8], _>((Bound::Unbounded, Bound::Included(k.as_slice()))).next_back().map(|e| e.0.clone());
                }
                Op::Next => {
                    it.next().unwrap();
                    cur = cur.and_then(|c| model.range::<[u8], _>((Bound::Excluded(c.as_slice()), Bound::Unbounded)).next().map(|e| e.0.clone()));
                }
                Op::Prev => {
                    it.prev().unwrap();
                    cur = cur.and_then(|c| model.range::<[u8], _>((Bound::Unbounded, Bound::Excluded(c.as_slice()))).next_back().map(|e| e.0.clone()));
                }
                Op::Get(k) => {
                    prop_assert_eq!(t.get(&k).unwrap(), model.get(&k).cloned());
                }
            }
            match &cur {
                Some(k) => {
                    prop_assert!(it.valid());
                    prop_assert_eq!(it.key(), k.as_slice());
                    prop_assert_eq!(it.value(), model[k].as_slice());
                }
                None => prop_assert!(!it.valid()),
            }
        }
    }
}
