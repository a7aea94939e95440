//! Pipelined commit (`docs/commit.md`): a partition's writer releases the partition
//! lock before its fsync, so the next writer decides on a write that is not durable
//! yet. These tests check the two promises that makes:
//!
//! - no lost update: concurrent read-modify-write operations (`ADD`, conditional puts)
//!   on the same items see each other's effects, durable or not;
//! - a reader never sees a value a power loss can still take away (nor does a writer
//!   whose condition failed, in the item the failure returns), and nothing
//!   acknowledged is lost: at many moments while writers run, the file system's
//!   power-loss image is taken, and every value a reader saw and every write
//!   acknowledged before that moment must be in the database reopened from it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use strata_engine::{
    Db, DbOptions, GetOptions, PutOptions, ReturnValues, ReturnValuesOnConditionCheckFailure,
    TableDurability, TableSpec, UpdateOptions,
};
use strata_fs::FaultFs;
use strata_item::{AttributeValue, Item, KeySchema, KeyType, item};

const KEYS: i64 = 4;
const WRITERS: usize = 4;

fn options(fs: &FaultFs) -> DbOptions {
    DbOptions::small(Arc::new(fs.clone()))
}

fn counter(item: &Item) -> i64 {
    match item.get("n") {
        Some(AttributeValue::N(n)) => n.to_string().parse().unwrap_or(-1),
        other => panic!("counter attribute: {other:?}"),
    }
}

fn key(k: i64) -> Item {
    item! { "id" => k }
}

/// Each key's counter in the database in `fs`.
fn counters(fs: &FaultFs) -> BTreeMap<i64, i64> {
    let db = Db::open(Path::new("/db"), options(fs)).unwrap();
    let t = db.table("ctr").unwrap();
    let mut out = BTreeMap::new();
    for k in 0..KEYS {
        let got = t.get_item(key(k), GetOptions::default()).unwrap().item;
        out.insert(k, got.as_ref().map_or(0, counter));
    }
    db.close().unwrap();
    out
}

#[derive(Default)]
struct Seen {
    /// Per key: the highest counter a reader saw, and the highest an acknowledged
    /// increment returned.
    read: BTreeMap<i64, i64>,
    acked: BTreeMap<i64, i64>,
}

impl Seen {
    fn note(map: &mut BTreeMap<i64, i64>, k: i64, v: i64) {
        let e = map.entry(k).or_insert(0);
        *e = (*e).max(v);
    }
}

#[test]
fn concurrent_increments_lose_nothing_and_readers_never_see_what_a_power_loss_takes() {
    let fs = FaultFs::new();
    let db = Db::open(Path::new("/db"), options(&fs)).unwrap();
    db.create_table(
        TableSpec::new("ctr", KeySchema::simple("id", KeyType::N))
            .partitions(1)
            .durability(TableDurability::Sync),
    )
    .unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for w in 0..WRITERS {
        let t = db.table("ctr").unwrap();
        let (seen, stop) = (Arc::clone(&seen), Arc::clone(&stop));
        threads.push(std::thread::spawn(move || {
            let mut done = 0u64;
            let mut i = w as i64;
            while !stop.load(Ordering::Acquire) {
                let k = i % KEYS;
                i += 1;
                let out = if i % 3 == 0 {
                    // A conditional put that must see the latest counter.
                    let cur = t
                        .update_item(
                            key(k),
                            UpdateOptions::default()
                                .update("ADD n :zero")
                                .value(":zero", 0)
                                .return_values(ReturnValues::AllNew),
                        )
                        .unwrap()
                        .attributes
                        .map_or(0, |it| counter(&it));
                    let put = t.put_item(
                        item! { "id" => k, "n" => cur + 1 },
                        PutOptions::default()
                            .condition("n = :cur")
                            .value(":cur", cur)
                            .return_values_on_condition_check_failure(
                                ReturnValuesOnConditionCheckFailure::AllOld,
                            ),
                    );
                    match put {
                        Ok(_) => Some(cur + 1),
                        Err(strata_engine::DbError::ConditionalCheckFailed { item, .. }) => {
                            // The item a failed condition returns was seen too.
                            if let Some(v) = item.as_ref().map(counter) {
                                Seen::note(&mut seen.lock().unwrap().read, k, v);
                            }
                            None
                        }
                        Err(e) => panic!("conditional put: {e}"),
                    }
                } else {
                    let out = t
                        .update_item(
                            key(k),
                            UpdateOptions::default()
                                .update("ADD n :one")
                                .value(":one", 1)
                                .return_values(ReturnValues::UpdatedNew),
                        )
                        .unwrap();
                    out.attributes.map(|it| counter(&it))
                };
                if let Some(v) = out {
                    Seen::note(&mut seen.lock().unwrap().acked, k, v);
                    done += 1;
                }
            }
            done
        }));
    }
    {
        let t = db.table("ctr").unwrap();
        let (seen, stop) = (Arc::clone(&seen), Arc::clone(&stop));
        threads.push(std::thread::spawn(move || {
            let mut i = 0i64;
            while !stop.load(Ordering::Acquire) {
                let k = i % KEYS;
                i += 1;
                let got = t.get_item(key(k), GetOptions::default()).unwrap().item;
                if let Some(v) = got.as_ref().map(counter) {
                    Seen::note(&mut seen.lock().unwrap().read, k, v);
                }
            }
            0
        }));
    }
    // Power-loss images while the writers run: everything seen or acknowledged
    // before the image was taken must be in it.
    let mut checks = Vec::new();
    for _ in 0..12 {
        std::thread::sleep(Duration::from_millis(40));
        let s = seen.lock().unwrap();
        let image = fs.recovered();
        checks.push((image, s.read.clone(), s.acked.clone()));
    }
    stop.store(true, Ordering::Release);
    let increments: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(increments > 0);
    // No lost update: every acknowledged increment is in the final counters.
    let t = db.table("ctr").unwrap();
    let mut total = 0;
    for k in 0..KEYS {
        let got = t.get_item(key(k), GetOptions::default()).unwrap().item;
        total += got.as_ref().map_or(0, counter);
    }
    assert_eq!(total as u64, increments, "increments were lost");
    db.close().unwrap();
    for (n, (image, read, acked)) in checks.into_iter().enumerate() {
        let got = counters(&image);
        for (k, v) in read.iter().chain(&acked) {
            assert!(
                got[k] >= *v,
                "image {n}: key {k} recovered at {} but {v} was read or acknowledged before the power loss",
                got[k]
            );
        }
    }
}
