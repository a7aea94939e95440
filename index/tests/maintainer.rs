//! The maintainer and the backfill against in-memory fakes: a `BTreeMap` sink that can
//! "crash" (refuse every batch after a budget), a `Vec` change source, and a model base
//! table. After any schedule of steps, backfill pages and crashes, once caught up the
//! sink must hold exactly the index derived from the final base table.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::fmt;

use proptest::prelude::*;
use strata_index::meta::{BackfillPhase, base_scan_key};
use strata_index::{
    Change, ChangeRecord, ChangeSource, DeriveError, ENTRY_TAG, GsiDef, IndexSink, IndexStart,
    MaintainError, Maintainer, Projection, SinkOp, StepOutcome, backfill_page, derive, entry_of,
    gsi_partition, init_ops, read_progress,
};
use strata_item::{AttributeValue, Item, KeySchema, KeyType, PrimaryKey, item};

#[derive(Debug)]
struct Crash;

impl fmt::Display for Crash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("simulated crash")
    }
}

impl std::error::Error for Crash {}

/// GSI partitions in a map; `budget` batches are applied, then every batch fails
/// without effect (the process "died" before that WAL record was durable).
#[derive(Default)]
struct MemSink {
    data: BTreeMap<(u32, Vec<u8>), Vec<u8>>,
    budget: Option<usize>,
    applied: usize,
}

impl IndexSink for MemSink {
    type Error = Crash;
    fn get(&self, partition: u32, key: &[u8]) -> Result<Option<Vec<u8>>, Crash> {
        Ok(self.data.get(&(partition, key.to_vec())).cloned())
    }
    fn apply(&mut self, partition: u32, ops: &[SinkOp]) -> Result<(), Crash> {
        if let Some(b) = &mut self.budget {
            if *b == 0 {
                return Err(Crash);
            }
            *b -= 1;
        }
        self.applied += 1;
        for op in ops {
            match op {
                SinkOp::Put { key, value } => {
                    self.data.insert((partition, key.clone()), value.clone());
                }
                SinkOp::Delete { key } => {
                    self.data.remove(&(partition, key.clone()));
                }
            }
        }
        Ok(())
    }
}

impl MemSink {
    fn entries(&self) -> BTreeMap<(u32, Vec<u8>), Vec<u8>> {
        self.data
            .iter()
            .filter(|((_, k), _)| k.first() == Some(&ENTRY_TAG))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// Per base partition, its records in LSN order.
struct VecSource(Vec<Vec<ChangeRecord>>);

impl ChangeSource for VecSource {
    type Error = Crash;
    fn read(&mut self, p: u32, from: u64, max: usize) -> Result<Vec<ChangeRecord>, Crash> {
        Ok(self.0[p as usize]
            .iter()
            .filter(|r| r.lsn >= from)
            .take(max)
            .cloned()
            .collect())
    }
}

/// The base table: partitions of items by encoded base key, and the log of changes.
struct Base {
    schema: KeySchema,
    parts: Vec<BTreeMap<Vec<u8>, Item>>,
    log: Vec<Vec<ChangeRecord>>,
}

impl Base {
    fn new(schema: KeySchema, partitions: u32) -> Base {
        Base {
            schema,
            parts: vec![BTreeMap::new(); partitions as usize],
            log: vec![Vec::new(); partitions as usize],
        }
    }

    fn partition_of(&self, key: &PrimaryKey) -> usize {
        gsi_partition(&key.partition, self.parts.len() as u32).unwrap() as usize
    }

    /// Writes (`Some`) or deletes (`None`) the item with key `key`; one record.
    fn write(&mut self, key: &PrimaryKey, new: Option<Item>) {
        let p = self.partition_of(key);
        let k = base_scan_key(key).unwrap();
        let old = match &new {
            Some(it) => self.parts[p].insert(k, it.clone()),
            None => self.parts[p].remove(&k),
        };
        let lsn = self.log[p].len() as u64 + 1;
        self.log[p].push(ChangeRecord {
            lsn,
            changes: vec![Change::Item { old, new }],
        });
    }

    fn last_lsn(&self, p: usize) -> u64 {
        self.log[p].len() as u64
    }

    /// The index derived from the current base table (invalid items skipped).
    fn derived(&self, def: &GsiDef) -> BTreeMap<(u32, Vec<u8>), Vec<u8>> {
        let mut out = BTreeMap::new();
        for part in &self.parts {
            for it in part.values() {
                match entry_of(def, &self.schema, it) {
                    Ok(Some(e)) => {
                        out.insert((e.at.partition, e.at.bytes.clone()), e.value());
                    }
                    Ok(None)
                    | Err(
                        DeriveError::IndexKeyTypeMismatch { .. }
                        | DeriveError::IndexKeyInvalid { .. },
                    ) => {}
                    Err(e) => panic!("{e}"),
                }
            }
        }
        out
    }
}

fn schema() -> KeySchema {
    KeySchema::composite("pk", KeyType::S, "sk", KeyType::N)
}

fn def(partitions: u32) -> GsiDef {
    GsiDef::new(
        "by_g",
        KeySchema::composite("g", KeyType::S, "h", KeyType::N),
    )
    .projection(Projection::Include(vec!["t".into()]))
    .partitions(partitions)
}

fn init(sink: &mut MemSink, def: &GsiDef, base_partitions: u32, start: &IndexStart) {
    for g in (0..def.partitions).rev() {
        sink.apply(g, &init_ops(def, base_partitions, g, start).unwrap())
            .unwrap();
    }
}

/// Steps every base partition until each is caught up.
fn catch_up(
    m: &mut Maintainer,
    src: &mut VecSource,
    sink: &mut MemSink,
    base_partitions: u32,
    n: usize,
) {
    for p in 0..base_partitions {
        loop {
            match m.step(src, sink, p, n).unwrap() {
                StepOutcome::Applied(s) if s.caught_up => break,
                StepOutcome::Applied(_) => {}
                StepOutcome::Backfilling => panic!("partition {p} still backfilling"),
            }
        }
    }
}

/// A small item: key (pk, sk), index attributes g/h when given, projected t, other o.
fn it(pk: u8, sk: u8, g: Option<u8>, h: Option<u8>, t: u8) -> (PrimaryKey, Item) {
    let key = PrimaryKey::with_sort(format!("p{pk}"), i64::from(sk));
    let mut item = key.to_item(&schema());
    if let Some(g) = g {
        item.insert("g", AttributeValue::from(format!("g{g}")));
    }
    if let Some(h) = h {
        item.insert("h", i64::from(h));
    }
    item.insert("t", i64::from(t));
    item.insert("o", i64::from(t) * 7);
    (key, item)
}

fn fill(base: &mut Base, n: u8) {
    for i in 0..n {
        let (k, v) = it(i % 7, i % 3, Some(i % 4), Some(i % 5), i);
        base.write(&k, Some(v));
        if i % 5 == 0 {
            let (k, v) = it(i % 7, i % 3, Some((i + 1) % 4), Some(i % 5), i);
            base.write(&k, Some(v));
        }
        if i % 9 == 0 {
            base.write(&k, None);
        }
    }
}

#[test]
fn maintained_index_equals_derived_index() {
    let def = def(3);
    let mut base = Base::new(schema(), 2);
    fill(&mut base, 60);
    let mut sink = MemSink::default();
    init(&mut sink, &def, 2, &IndexStart::Empty);
    let mut src = VecSource(base.log.clone());
    let mut m = Maintainer::new(def.clone(), schema(), 2);
    catch_up(&mut m, &mut src, &mut sink, 2, 7);
    let want = base.derived(&def);
    assert!(!want.is_empty());
    assert_eq!(sink.entries(), want);
    for p in 0..2 {
        assert_eq!(m.applied_through(p), Some(base.last_lsn(p as usize)));
    }
}

#[test]
fn crash_between_groups_replays_idempotently() {
    let def = def(4);
    let mut base = Base::new(schema(), 1);
    fill(&mut base, 40);
    let mut sink = MemSink::default();
    init(&mut sink, &def, 1, &IndexStart::Empty);
    let mut src = VecSource(base.log.clone());
    // The first step writes one batch (partition 0's) and "crashes" before the others.
    sink.budget = Some(1);
    let mut m = Maintainer::new(def.clone(), schema(), 1);
    let err = m.step(&mut src, &mut sink, 0, 1000).unwrap_err();
    assert!(
        matches!(err, MaintainError::Sink { partition: 1, .. }),
        "{err}"
    );
    // A new maintainer resumes from the stored checkpoints: partition 0 is done and
    // skips every record; the others apply them once.
    sink.budget = None;
    let before = sink.applied;
    let mut m = Maintainer::new(def.clone(), schema(), 1);
    let StepOutcome::Applied(stats) = m.step(&mut src, &mut sink, 0, 1000).unwrap() else {
        panic!("not backfilling")
    };
    assert_eq!(stats.batches, 3, "partition 0 already had everything");
    assert_eq!(sink.applied - before, 3);
    assert!(stats.caught_up);
    assert_eq!(sink.entries(), base.derived(&def));
    // Caught up: another step reads nothing and writes nothing.
    let StepOutcome::Applied(stats) = m.step(&mut src, &mut sink, 0, 1000).unwrap() else {
        panic!()
    };
    assert_eq!((stats.records, stats.batches), (0, 0));
}

#[test]
fn precomputed_deltas_give_the_same_index() {
    let def = def(2);
    let other = GsiDef::new("other", KeySchema::simple("t", KeyType::N)).partitions(2);
    let mut base = Base::new(schema(), 1);
    fill(&mut base, 30);
    // Replace item changes by the deltas the engine would write at write time, plus
    // deltas of another index (ignored).
    let log: Vec<ChangeRecord> = base.log[0]
        .iter()
        .map(|r| {
            let mut changes = Vec::new();
            for c in &r.changes {
                let Change::Item { old, new } = c else {
                    unreachable!()
                };
                for d in [&def, &other] {
                    let delta = derive(d, &schema(), old.as_ref(), new.as_ref()).unwrap();
                    changes.push(Change::Delta {
                        index: d.name.clone(),
                        ops: Box::new(delta.into()),
                    });
                }
            }
            ChangeRecord {
                lsn: r.lsn,
                changes,
            }
        })
        .collect();
    let mut sink = MemSink::default();
    init(&mut sink, &def, 1, &IndexStart::Empty);
    let mut m = Maintainer::new(def.clone(), schema(), 1);
    catch_up(&mut m, &mut VecSource(vec![log]), &mut sink, 1, 4);
    assert_eq!(sink.entries(), base.derived(&def));
}

#[test]
fn invalid_committed_items_lose_their_entry() {
    // A record whose new item has a wrong-typed index key (which the write-time check
    // should have refused) removes the old entry and is counted, not an error.
    let def = def(1);
    let mut base = Base::new(schema(), 1);
    let (k, good) = it(1, 1, Some(1), Some(1), 1);
    base.write(&k, Some(good));
    let mut bad = base.parts[0].values().next().unwrap().clone();
    bad.insert("g", 5);
    base.write(&k, Some(bad));
    let mut sink = MemSink::default();
    init(&mut sink, &def, 1, &IndexStart::Empty);
    let mut m = Maintainer::new(def.clone(), schema(), 1);
    let StepOutcome::Applied(s) = m
        .step(&mut VecSource(base.log.clone()), &mut sink, 0, 10)
        .unwrap()
    else {
        panic!()
    };
    assert_eq!((s.skipped_invalid, s.puts, s.deletes), (1, 1, 1));
    assert!(sink.entries().is_empty());
}

#[test]
fn errors_are_typed() {
    let def = def(2);
    let mut sink = MemSink::default();
    let mut m = Maintainer::new(def.clone(), schema(), 1);
    let mut src = VecSource(vec![vec![]]);
    assert!(matches!(
        m.step(&mut src, &mut sink, 0, 10),
        Err(MaintainError::MissingCheckpoint {
            partition: 0,
            base_partition: 0
        })
    ));
    assert!(matches!(
        m.step(&mut src, &mut sink, 1, 10),
        Err(MaintainError::BasePartition { .. })
    ));
    init(&mut sink, &def, 1, &IndexStart::Empty);
    sink.data
        .remove(&(1, strata_index::meta::checkpoint_key(0)));
    assert!(matches!(
        m.step(&mut src, &mut sink, 0, 10),
        Err(MaintainError::MissingCheckpoint { partition: 1, .. })
    ));
    init(&mut sink, &def, 1, &IndexStart::Empty);
    sink.data
        .get_mut(&(1, strata_index::meta::checkpoint_key(0)))
        .unwrap()[3] ^= 1;
    assert!(matches!(
        m.step(&mut src, &mut sink, 0, 10),
        Err(MaintainError::Meta { partition: 1, .. })
    ));
    init(&mut sink, &def, 1, &IndexStart::Empty);
    let rec = |lsn| ChangeRecord {
        lsn,
        changes: vec![],
    };
    let mut unordered = VecSource(vec![vec![rec(2), rec(2)]]);
    assert!(matches!(
        m.step(&mut unordered, &mut sink, 0, 10),
        Err(MaintainError::SourceOrder { lsn: 2, .. })
    ));
    let mut changed_key = VecSource(vec![vec![ChangeRecord {
        lsn: 1,
        changes: vec![Change::Item {
            old: Some(it(1, 1, None, None, 0).1),
            new: Some(it(2, 1, None, None, 0).1),
        }],
    }]]);
    assert!(matches!(
        m.step(&mut changed_key, &mut sink, 0, 10),
        Err(MaintainError::Derive {
            lsn: 1,
            source: DeriveError::BaseKeyChanged,
            ..
        })
    ));
}

/// Runs one backfill page of base partition `p` from `snapshot` (the partition's items
/// at the snapshot, in scan order).
fn backfill_step(
    def: &GsiDef,
    sink: &mut MemSink,
    p: u32,
    snapshot: &[(Vec<u8>, Item)],
    page: usize,
) -> Result<bool, MaintainError> {
    let progress = read_progress(sink, p)?.expect("backfill initialised");
    if progress.phase == BackfillPhase::Done {
        return Ok(true);
    }
    let after = progress
        .last_key
        .as_ref()
        .map(|k| base_scan_key(k).unwrap());
    let rest: Vec<Item> = snapshot
        .iter()
        .filter(|(k, _)| after.as_ref().is_none_or(|a| k > a))
        .map(|(_, v)| v.clone())
        .collect();
    let n = page.min(rest.len());
    let batch = backfill_page(def, &schema(), p, &progress, &rest[..n], n == rest.len())?;
    batch.apply(sink)?;
    Ok(false)
}

#[test]
fn backfill_then_live_changes() {
    let def = def(3);
    let mut base = Base::new(schema(), 2);
    fill(&mut base, 50);
    // Legacy items written before the index existed, one with a wrong-typed index key.
    let (k, mut legacy) = it(9, 9, Some(1), Some(1), 0);
    legacy.insert("g", 42);
    base.write(&k, Some(legacy));
    let snapshots: Vec<u64> = (0..2).map(|p| base.last_lsn(p)).collect();
    let frozen: Vec<Vec<(Vec<u8>, Item)>> = base
        .parts
        .iter()
        .map(|m| m.clone().into_iter().collect())
        .collect();
    // Writes during the backfill (the index exists now: valid index keys only).
    for i in 0..30u8 {
        let (k, v) = it(i % 11, i % 2, Some(i % 3), Some(i % 2), i + 100);
        base.write(&k, if i % 6 == 5 { None } else { Some(v) });
    }
    let mut sink = MemSink::default();
    init(
        &mut sink,
        &def,
        2,
        &IndexStart::Backfill {
            snapshot_lsns: snapshots.clone(),
        },
    );
    let mut src = VecSource(base.log.clone());
    let mut m = Maintainer::new(def.clone(), schema(), 2);
    assert_eq!(
        m.step(&mut src, &mut sink, 0, 10).unwrap(),
        StepOutcome::Backfilling
    );
    // Backfill partition 0 with a crash in the middle of its last page.
    let mut crashes = 0;
    loop {
        sink.budget = if crashes < 3 { Some(1) } else { None };
        match backfill_step(&def, &mut sink, 0, &frozen[0], 4) {
            Ok(true) => break,
            Ok(false) => {}
            Err(MaintainError::Sink { .. }) => crashes += 1,
            Err(e) => panic!("{e}"),
        }
    }
    sink.budget = None;
    // Partition 0 is live now; partition 1 still waits.
    let mut m = Maintainer::new(def.clone(), schema(), 2);
    assert!(matches!(
        m.step(&mut src, &mut sink, 0, 5).unwrap(),
        StepOutcome::Applied(_)
    ));
    assert_eq!(
        m.step(&mut src, &mut sink, 1, 5).unwrap(),
        StepOutcome::Backfilling
    );
    while !backfill_step(&def, &mut sink, 1, &frozen[1], 3).unwrap() {}
    let progress = read_progress(&sink, 1).unwrap().unwrap();
    assert_eq!(progress.items_done, frozen[1].len() as u64);
    let skipped: u64 = (0..2)
        .map(|p| read_progress(&sink, p).unwrap().unwrap().items_skipped)
        .sum();
    assert_eq!(skipped, 1, "the legacy item is skipped");
    catch_up(&mut m, &mut src, &mut sink, 2, 4);
    assert_eq!(sink.entries(), base.derived(&def));
}

#[test]
fn backfill_pages_must_follow_scan_order() {
    let def = def(1);
    let mut items: Vec<(Vec<u8>, Item)> = (0..3u8)
        .map(|i| {
            let (k, v) = it(i, 0, Some(0), Some(0), 0);
            (base_scan_key(&k).unwrap(), v)
        })
        .collect();
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let page: Vec<Item> = items.iter().rev().map(|(_, v)| v.clone()).collect();
    let progress = strata_index::meta::BackfillProgress::start(1);
    assert!(matches!(
        backfill_page(&def, &schema(), 0, &progress, &page, false),
        Err(MaintainError::PageOrder { base_partition: 0 })
    ));
    let sorted: Vec<Item> = items.iter().map(|(_, v)| v.clone()).collect();
    let b = backfill_page(&def, &schema(), 0, &progress, &sorted[..2], false).unwrap();
    // The next page may not repeat what the progress says is done.
    assert!(backfill_page(&def, &schema(), 0, &b.progress, &sorted[1..], true).is_err());
    assert!(backfill_page(&def, &schema(), 0, &b.progress, &sorted[2..], true).is_ok());
    let _ = item! { "unused" => 0 };
}

/// One base operation of the property test.
#[derive(Debug, Clone)]
enum Op {
    Put {
        pk: u8,
        sk: u8,
        g: Option<u8>,
        h: Option<u8>,
        t: u8,
    },
    Delete {
        pk: u8,
        sk: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..6u8, 0..3u8, proptest::option::weighted(0.8, 0..4u8), proptest::option::weighted(0.8, 0..3u8), 0..3u8)
            .prop_map(|(pk, sk, g, h, t)| Op::Put { pk, sk, g, h, t }),
        1 => (0..6u8, 0..3u8).prop_map(|(pk, sk)| Op::Delete { pk, sk }),
    ]
}

/// What the scheduler does next: a maintainer step, a backfill page, or a crash (the
/// sink accepts `n` more batches, then the maintainer is dropped and rebuilt).
#[derive(Debug, Clone)]
enum Action {
    Step { p: u8, n: usize },
    Backfill { p: u8, page: usize },
    Crash { after: usize },
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => (0..3u8, 1..6usize).prop_map(|(p, n)| Action::Step { p, n }),
        2 => (0..3u8, 1..4usize).prop_map(|(p, page)| Action::Backfill { p, page }),
        1 => (0..3usize).prop_map(|after| Action::Crash { after }),
    ]
}

fn apply_op(base: &mut Base, op: &Op) {
    match *op {
        Op::Put { pk, sk, g, h, t } => {
            let (k, v) = it(pk, sk, g, h, t);
            base.write(&k, Some(v));
        }
        Op::Delete { pk, sk } => {
            let (k, _) = it(pk, sk, None, None, 0);
            base.write(&k, None);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_schedule_of_steps_and_crashes_converges(
        before in proptest::collection::vec(op(), 0..30),
        after in proptest::collection::vec(op(), 0..40),
        actions in proptest::collection::vec(action(), 0..40),
        backfill in any::<bool>(),
        gsi_partitions in 1..4u32,
    ) {
        const BASE_PARTITIONS: u32 = 3;
        let def = def(gsi_partitions);
        let mut base = Base::new(schema(), BASE_PARTITIONS);
        let mut sink = MemSink::default();
        let frozen;
        if backfill {
            // Items before the index existed, then the index is added with a snapshot.
            for o in &before {
                apply_op(&mut base, o);
            }
            let snapshot_lsns = (0..BASE_PARTITIONS as usize).map(|p| base.last_lsn(p)).collect();
            init(&mut sink, &def, BASE_PARTITIONS, &IndexStart::Backfill { snapshot_lsns });
            frozen = base.parts.iter().map(|m| m.clone().into_iter().collect::<Vec<_>>()).collect::<Vec<_>>();
        } else {
            init(&mut sink, &def, BASE_PARTITIONS, &IndexStart::Empty);
            frozen = vec![Vec::new(); BASE_PARTITIONS as usize];
            for o in &before {
                apply_op(&mut base, o);
            }
        }
        for o in &after {
            apply_op(&mut base, o);
        }
        let mut src = VecSource(base.log.clone());
        let mut m = Maintainer::new(def.clone(), schema(), BASE_PARTITIONS);
        for a in &actions {
            match *a {
                Action::Step { p, n } => {
                    let r = m.step(&mut src, &mut sink, u32::from(p), n);
                    match r {
                        Ok(StepOutcome::Backfilling) => prop_assert!(backfill),
                        Ok(StepOutcome::Applied(_)) | Err(MaintainError::Sink { .. }) => {}
                        Err(e) => prop_assert!(false, "{e}"),
                    }
                }
                Action::Backfill { p, page } if backfill => {
                    match backfill_step(&def, &mut sink, u32::from(p), &frozen[usize::from(p)], page) {
                        Ok(_) | Err(MaintainError::Sink { .. }) => {}
                        Err(e) => prop_assert!(false, "{e}"),
                    }
                }
                Action::Backfill { .. } => {}
                Action::Crash { after } => {
                    // Everything not yet applied is lost; the next batches fail until
                    // the "restart" below.
                    sink.budget = Some(after);
                    let _ = m.step(&mut src, &mut sink, 0, 3);
                    if backfill {
                        let _ = backfill_step(&def, &mut sink, 1, &frozen[1], 2);
                    }
                    sink.budget = None;
                    m = Maintainer::new(def.clone(), schema(), BASE_PARTITIONS);
                }
            }
        }
        // Recovery: finish every backfill, then catch up.
        if backfill {
            for p in 0..BASE_PARTITIONS {
                while !backfill_step(&def, &mut sink, p, &frozen[p as usize], 5).unwrap() {}
            }
        }
        catch_up(&mut m, &mut src, &mut sink, BASE_PARTITIONS, 4);
        prop_assert_eq!(sink.entries(), base.derived(&def));
        for p in 0..BASE_PARTITIONS {
            prop_assert_eq!(m.applied_through(p), Some(base.last_lsn(p as usize)));
        }
    }
}
