//! Capacity enforcement on tables, on a manual clock (no sleeps, deterministic):
//! provisioned rates, bursts, partition limits, adaptive capacity, GSI capacity,
//! on-demand peaks, batches, billing changes and their persistence.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use strata_engine::capacity::{Budget, CapacityOptions, ManualClock, OnDemandScaling, OpKind};
use strata_engine::{
    BatchGetRequest, CapacityMode, Db, DbError, DbOptions, GetOptions, GsiSpec, KeyInput,
    OnDemandThroughput, ProvisionedThroughput, PutOptions, QueryOptions, Table, TableDurability,
    TableSpec, TableUpdate, WriteRequest,
};
use strata_item::{Item, KeySchema, KeyType, item};

const MS: Duration = Duration::from_millis(1);
const SEC: Duration = Duration::from_secs(1);

struct Fixture {
    _dir: tempfile::TempDir,
    db: Db,
    clock: Arc<ManualClock>,
}

fn open_with(capacity: CapacityOptions) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new());
    let db = Db::open(
        dir.path(),
        DbOptions::default().clock(clock.clone()).capacity(capacity),
    )
    .unwrap();
    Fixture {
        _dir: dir,
        db,
        clock,
    }
}

fn open() -> Fixture {
    open_with(CapacityOptions::default())
}

fn spec(name: &str, mode: CapacityMode) -> TableSpec {
    TableSpec::new(name, KeySchema::simple("pk", KeyType::S))
        .durability(TableDurability::Buffered)
        .capacity(mode)
}

/// An item of exactly `size` bytes (DynamoDB's size rules: names plus values).
fn item_of(pk: &str, size: usize) -> Item {
    let base = item! { "pk" => pk, "pad" => "" }.size();
    let it = item! { "pk" => pk, "pad" => "x".repeat(size - base) };
    assert_eq!(it.size(), size);
    it
}

fn put(t: &Table, it: Item) -> Result<f64, DbError> {
    t.put_item(it, PutOptions::default())
        .map(|o| o.consumed_capacity.write_capacity_units)
}

fn exists(t: &Table, pk: &str) -> bool {
    t.get_item(
        item! { "pk" => pk },
        GetOptions::default().consistent_read(false),
    )
    .unwrap()
    .item
    .is_some()
}

fn throttled(err: &DbError) -> (Budget, OpKind, Duration) {
    match err {
        DbError::Throttled {
            budget,
            kind,
            retry_after,
            ..
        } => (budget.clone(), *kind, *retry_after),
        other => panic!("expected Throttled, got {other}"),
    }
}

#[test]
fn ten_wcu_table_accepts_ten_one_kb_writes_and_throttles_the_eleventh() {
    let f = open();
    f.db.create_table(spec("t10", CapacityMode::provisioned(1000, 10)))
        .unwrap();
    let t = f.db.table("t10").unwrap();
    for i in 0..10 {
        assert_eq!(put(&t, item_of(&format!("k{i}"), 1024)).unwrap(), 1.0);
    }
    let err = put(&t, item_of("k10", 1024)).unwrap_err();
    let (budget, kind, retry_after) = throttled(&err);
    assert_eq!(budget, Budget::Table);
    assert_eq!(kind, OpKind::Write);
    assert_eq!(retry_after, 100 * MS);
    assert!(
        err.to_string().contains("table write capacity exceeded"),
        "{err}"
    );
    assert!(!exists(&t, "k10"), "a throttled write wrote nothing");
    // A tenth of a second refills one unit.
    f.clock.advance(100 * MS);
    put(&t, item_of("k10", 1024)).unwrap();
    assert!(put(&t, item_of("k11", 1024)).is_err());
    let stats = f.db.capacity_stats("t10").unwrap();
    assert_eq!(stats.write.consumed_units, 11.0);
    assert_eq!(stats.write.throttled_requests, 2);
    assert_eq!(stats.write.tokens, 0.0);
}

#[test]
fn a_three_kb_item_costs_three_units() {
    let f = open();
    f.db.create_table(spec("t3kb", CapacityMode::provisioned(1000, 10)))
        .unwrap();
    let t = f.db.table("t3kb").unwrap();
    assert_eq!(put(&t, item_of("big", 3 * 1024)).unwrap(), 3.0);
    assert_eq!(put(&t, item_of("big2", 2 * 1024 + 1)).unwrap(), 3.0);
    let stats = f.db.capacity_stats("t3kb").unwrap();
    assert_eq!(stats.write.consumed_units, 6.0);
    assert_eq!(stats.write.tokens, 4.0);
    // Overwriting the 3 KB item with a small one costs the larger of the two.
    assert_eq!(put(&t, item_of("big", 10)).unwrap(), 3.0);
    assert_eq!(f.db.capacity_stats("t3kb").unwrap().write.tokens, 1.0);
}

#[test]
fn an_eventually_consistent_4kb_read_costs_half_a_unit() {
    let f = open();
    f.db.create_table(spec("r4kb", CapacityMode::provisioned(2, 100)))
        .unwrap();
    let t = f.db.table("r4kb").unwrap();
    put(&t, item_of("doc", 4096)).unwrap();
    let eventual = t
        .get_item(
            item! { "pk" => "doc" },
            GetOptions::default().consistent_read(false),
        )
        .unwrap();
    assert_eq!(eventual.consumed_capacity.read_capacity_units, 0.5);
    assert_eq!(f.db.capacity_stats("r4kb").unwrap().read.tokens, 1.5);
    let strong = t
        .get_item(
            item! { "pk" => "doc" },
            GetOptions::default().consistent_read(true),
        )
        .unwrap();
    assert_eq!(strong.consumed_capacity.read_capacity_units, 1.0);
    let stats = f.db.capacity_stats("r4kb").unwrap();
    assert_eq!(stats.read.tokens, 0.5);
    assert_eq!(stats.read.consumed_units, 1.5);
    // Four more fit in the remaining half unit and 0.75 s of refill at 2 units/s.
    f.clock.advance(750 * MS);
    for _ in 0..4 {
        t.get_item(item! { "pk" => "doc" }, GetOptions::default())
            .unwrap();
    }
    let err = t
        .get_item(item! { "pk" => "doc" }, GetOptions::default())
        .unwrap_err();
    assert_eq!(throttled(&err).1, OpKind::Read);
}

#[test]
fn reads_are_admitted_out_of_debt_and_charged_what_they_read() {
    let f = open();
    f.db.create_table(
        TableSpec::new(
            "rquery",
            KeySchema::composite("pk", KeyType::S, "sk", KeyType::N),
        )
        .durability(TableDurability::Buffered)
        .capacity(CapacityMode::provisioned(1, 100)),
    )
    .unwrap();
    let t = f.db.table("rquery").unwrap();
    for sk in 0..12 {
        t.put_item(
            item! { "pk" => "p", "sk" => sk, "pad" => "x".repeat(1000) },
            PutOptions::default(),
        )
        .unwrap();
    }
    // One token: the query is admitted, reads ~12 KB (3 units), and leaves a debt.
    let q = t
        .query(
            "pk = :p",
            QueryOptions::default()
                .value(":p", "p")
                .consistent_read(true),
        )
        .unwrap();
    assert_eq!(q.count, 12);
    assert_eq!(q.consumed_capacity.read_capacity_units, 3.0);
    assert_eq!(f.db.capacity_stats("rquery").unwrap().read.tokens, -2.0);
    let err = t
        .get_item(item! { "pk" => "p", "sk" => 1 }, GetOptions::default())
        .unwrap_err();
    let (budget, kind, retry_after) = throttled(&err);
    assert_eq!((budget, kind), (Budget::Table, OpKind::Read));
    // Out of debt in 2 s, and half a unit (the smallest read) 0.5 s later.
    assert!(
        retry_after > 2499 * MS && retry_after <= 2501 * MS,
        "{retry_after:?}"
    );
    f.clock.advance(2 * SEC);
    assert!(
        t.get_item(item! { "pk" => "p", "sk" => 1 }, GetOptions::default())
            .is_err(),
        "exactly out of debt is not enough: a read needs a token"
    );
    f.clock.advance(MS);
    t.get_item(item! { "pk" => "p", "sk" => 1 }, GetOptions::default())
        .unwrap();
}

#[test]
fn unused_capacity_accumulates_for_bursts_up_to_300_seconds() {
    let f = open();
    f.db.create_table(spec("burst", CapacityMode::provisioned(1000, 10)))
        .unwrap();
    let t = f.db.table("burst").unwrap();
    f.clock.advance(60 * SEC);
    // One second's units at creation plus 60 unused seconds.
    for i in 0..610 {
        put(&t, item_of(&format!("k{}", i % 50), 100)).unwrap();
    }
    assert!(put(&t, item_of("k", 100)).is_err());
    // Never more than 300 seconds' worth.
    f.clock.advance(3600 * SEC);
    let stats = f.db.capacity_stats("burst").unwrap();
    assert_eq!(stats.write.tokens, 3000.0);
}

/// Puts `pk` until it is throttled; returns the successes and the error.
fn fill(t: &Table, pk: &str, max: usize) -> (usize, DbError) {
    for n in 0..max {
        if let Err(e) = put(t, item_of(pk, 100)) {
            return (n, e);
        }
    }
    panic!("{pk} was never throttled in {max} writes");
}

#[test]
fn a_hot_partition_is_throttled_while_the_others_are_served() {
    let f = open_with(CapacityOptions::default().partition_limits(3000, 5));
    f.db.create_table(spec("hot", CapacityMode::provisioned(1000, 1000)))
        .unwrap();
    let t = f.db.table("hot").unwrap();
    let (ok, err) = fill(&t, "celebrity", 100);
    assert_eq!(ok, 5);
    let (budget, kind, retry_after) = throttled(&err);
    assert_eq!(kind, OpKind::Write);
    assert_eq!(retry_after, 200 * MS);
    let Budget::Partition(hot) = budget else {
        panic!("expected a partition budget, got {budget:?}");
    };
    // Other keys: those in the hot partition are throttled, the rest are served.
    let (mut served, mut refused) = (0, 0);
    for i in 0..8 {
        match put(&t, item_of(&format!("fan{i}"), 100)) {
            Ok(_) => served += 1,
            Err(e) => {
                assert_eq!(throttled(&e).0, Budget::Partition(hot));
                refused += 1;
            }
        }
    }
    assert!(
        served > 0 && refused > 0,
        "{served} served, {refused} refused"
    );
    let stats = f.db.capacity_stats("hot").unwrap();
    assert_eq!(stats.hottest_partitions[0].partition, hot);
    assert_eq!(
        stats.partitions[hot as usize].write.throttled_requests,
        1 + refused
    );
    assert_eq!(stats.write.throttled_requests, 1 + refused);
    assert!(stats.write.tokens > 900.0, "the table had spare capacity");
    let described = f.db.describe_table("hot").unwrap();
    assert_eq!(
        described.capacity.unwrap().hottest_partitions[0].partition,
        hot
    );
}

#[test]
fn adaptive_capacity_lends_unused_table_capacity_to_a_hot_partition() {
    // 40 WCU over 4 partitions: an even share is 10 each.
    let adaptive = open();
    adaptive
        .db
        .create_table(spec("adapt", CapacityMode::provisioned(100, 40)))
        .unwrap();
    let t = adaptive.db.table("adapt").unwrap();
    let (ok, err) = fill(&t, "hot", 100);
    assert_eq!(ok, 40, "the hot partition used the whole table's capacity");
    assert_eq!(throttled(&err).0, Budget::Table);

    let even = open_with(CapacityOptions::default().adaptive(false));
    even.db
        .create_table(spec("adapt", CapacityMode::provisioned(100, 40)))
        .unwrap();
    let t = even.db.table("adapt").unwrap();
    let (ok, err) = fill(&t, "hot", 100);
    assert_eq!(
        ok, 10,
        "without adaptive capacity a partition gets its share"
    );
    assert!(matches!(throttled(&err).0, Budget::Partition(_)));
    assert_eq!(even.db.capacity_stats("adapt").unwrap().write.tokens, 30.0);
}

#[test]
fn a_slow_gsi_throttles_base_writes() {
    let f = open();
    f.db.create_table(
        spec("orders", CapacityMode::provisioned(100, 100)).gsi(
            GsiSpec::new("by_state", KeySchema::simple("state", KeyType::S))
                .provisioned(ProvisionedThroughput::new(5, 2)),
        ),
    )
    .unwrap();
    let t = f.db.table("orders").unwrap();
    let indexed = |pk: &str| item! { "pk" => pk, "state" => "open" };
    t.put_item(indexed("o1"), PutOptions::default()).unwrap();
    let out = t.put_item(indexed("o2"), PutOptions::default()).unwrap();
    assert_eq!(
        out.consumed_capacity.global_secondary_indexes["by_state"],
        1.0
    );
    let err = t
        .put_item(indexed("o3"), PutOptions::default())
        .unwrap_err();
    let (budget, kind, retry_after) = throttled(&err);
    assert_eq!(budget, Budget::Index("by_state".into()));
    assert_eq!(kind, OpKind::Write);
    assert_eq!(retry_after, 500 * MS);
    assert!(!exists(&t, "o3"), "the throttled base write wrote nothing");
    // Items the index does not hold cost it nothing and are not throttled.
    t.put_item(item! { "pk" => "o4" }, PutOptions::default())
        .unwrap();
    let stats = f.db.capacity_stats("orders").unwrap();
    assert_eq!(
        stats.write.consumed_units, 3.0,
        "the refused write gave its units back"
    );
    assert_eq!(stats.indexes[0].index, "by_state");
    assert_eq!(stats.indexes[0].write.consumed_units, 2.0);
    assert_eq!(stats.indexes[0].write.throttled_requests, 1);
    // Raising the index's capacity lets the write through.
    f.db.update_table(
        "orders",
        TableUpdate::gsi_throughput("by_state", ProvisionedThroughput::new(5, 50)),
    )
    .unwrap();
    f.clock.advance(SEC);
    t.put_item(indexed("o3"), PutOptions::default()).unwrap();
}

#[test]
fn switching_to_on_demand_lifts_the_limit() {
    let f = open();
    f.db.create_table(spec("switch", CapacityMode::provisioned(100, 10)))
        .unwrap();
    let t = f.db.table("switch").unwrap();
    let (ok, _) = fill(&t, "k", 100);
    assert_eq!(ok, 10);
    let d =
        f.db.update_table("switch", TableUpdate::capacity(CapacityMode::OnDemand))
            .unwrap();
    assert_eq!(d.spec.capacity, CapacityMode::OnDemand);
    for i in 0..500 {
        put(&t, item_of(&format!("k{i}"), 100)).unwrap();
    }
    let stats = f.db.capacity_stats("switch").unwrap();
    assert!(stats.write.units_per_second.is_infinite());
    assert_eq!(stats.write.consumed_units, 510.0);
    // And back: provisioned again, one second's units to start with.
    f.db.update_table(
        "switch",
        TableUpdate::capacity(CapacityMode::provisioned(100, 3)),
    )
    .unwrap();
    let (ok, _) = fill(&t, "k", 100);
    assert_eq!(ok, 3);
}

#[test]
fn on_demand_doubles_from_its_previous_peak() {
    let ramp = Duration::from_secs(30 * 60);
    let f = open_with(
        CapacityOptions::default().on_demand(OnDemandScaling::PreviousPeak {
            initial_read: 50,
            initial_write: 5,
            ramp,
        }),
    );
    f.db.create_table(spec("ondemand", CapacityMode::OnDemand))
        .unwrap();
    let t = f.db.table("ondemand").unwrap();
    // Previous peak 5: up to double at once.
    let (ok, err) = fill(&t, "a", 100);
    assert_eq!(ok, 10);
    assert_eq!(throttled(&err).0, Budget::Table);
    // Sustaining the new level makes it the next peak once the ramp has passed.
    f.clock.advance(SEC);
    for i in 0..10 {
        put(&t, item_of(&format!("b{i}"), 100)).unwrap();
    }
    f.clock.advance(ramp);
    put(&t, item_of("c", 100)).unwrap();
    f.clock.advance(SEC);
    let (ok, _) = fill(&t, "d", 100);
    assert_eq!(ok, 20, "double the new previous peak of 10");
    assert_eq!(
        f.db.capacity_stats("ondemand")
            .unwrap()
            .write
            .units_per_second,
        20.0
    );
    // An on-demand maximum caps it.
    f.db.update_table(
        "ondemand",
        TableUpdate::on_demand_throughput(OnDemandThroughput::max(100, 4)),
    )
    .unwrap();
    f.clock.advance(SEC);
    let (ok, _) = fill(&t, "e", 100);
    assert_eq!(ok, 4);
}

#[test]
fn a_throttled_batch_returns_unprocessed_items_and_writes_nothing_for_them() {
    let f = open();
    f.db.create_table(spec("bwrite", CapacityMode::provisioned(1, 5)))
        .unwrap();
    let t = f.db.table("bwrite").unwrap();
    let reqs: Vec<WriteRequest> = (0..8)
        .map(|i| WriteRequest::Put(item! { "pk" => format!("k{i}") }))
        .collect();
    let out = f.db.batch_write_item([("bwrite", reqs)]).unwrap();
    let unprocessed = &out.unprocessed_items["bwrite"];
    assert_eq!(unprocessed.len(), 3);
    assert_eq!(out.consumed_capacity[0].write_capacity_units, 5.0);
    let left: Vec<String> = unprocessed
        .iter()
        .map(|r| match r {
            WriteRequest::Put(i) => i.get("pk").unwrap().as_s().unwrap().to_owned(),
            other => panic!("{other:?}"),
        })
        .collect();
    f.clock.advance(10 * SEC);
    for i in 0..8 {
        let pk = format!("k{i}");
        assert_eq!(exists(&t, &pk), !left.contains(&pk), "{pk}");
    }
    // Sent again later, they go through.
    let again =
        f.db.batch_write_item([("bwrite", unprocessed.clone())])
            .unwrap();
    assert!(again.unprocessed_items.is_empty());
    // Deletes come back as deletes: drain the budget, then one second's units.
    fill(&t, "drain", 10_000);
    f.clock.advance(SEC);
    let dels: Vec<WriteRequest> = (0..8)
        .map(|i| WriteRequest::Delete(KeyInput::from(item! { "pk" => format!("k{i}") })))
        .collect();
    let out = f.db.batch_write_item([("bwrite", dels)]).unwrap();
    let unprocessed = &out.unprocessed_items["bwrite"];
    assert_eq!(unprocessed.len(), 3);
    for r in unprocessed {
        let WriteRequest::Delete(KeyInput::Key(k)) = r else {
            panic!("{r:?}");
        };
        let pk = k.partition.as_s().unwrap();
        f.clock.advance(SEC);
        assert!(exists(&t, pk), "{pk} was not deleted");
    }
}

#[test]
fn a_throttled_batch_get_returns_unprocessed_keys() {
    let f = open();
    f.db.create_table(spec("bget", CapacityMode::provisioned(1, 100)))
        .unwrap();
    let keys: Vec<Item> = (0..4).map(|i| item! { "pk" => format!("g{i}") }).collect();
    let mut req = BatchGetRequest::keys(keys);
    req.consistent_read = true;
    // One token: the first key is read (one unit), the others find the budget empty.
    let got = f.db.batch_get_item([("bget", req)]).unwrap();
    assert_eq!(got.unprocessed_keys["bget"].keys.len(), 3);
    assert!(got.unprocessed_keys["bget"].consistent_read);
    assert_eq!(got.consumed_capacity[0].read_capacity_units, 1.0);
    let stats = f.db.capacity_stats("bget").unwrap();
    assert_eq!(stats.read.throttled_requests, 3);
    f.clock.advance(3 * SEC);
    let again =
        f.db.batch_get_item([("bget", got.unprocessed_keys["bget"].clone())])
            .unwrap();
    assert!(again.unprocessed_keys.is_empty());
}

#[test]
fn a_failed_conditional_write_still_consumes() {
    let f = open();
    f.db.create_table(spec("cond", CapacityMode::provisioned(10, 10)))
        .unwrap();
    let t = f.db.table("cond").unwrap();
    put(&t, item_of("x", 2000)).unwrap();
    let err = t
        .put_item(
            item! { "pk" => "x" },
            PutOptions::default().condition("attribute_not_exists(pk)"),
        )
        .unwrap_err();
    assert!(
        matches!(err, DbError::ConditionalCheckFailed { .. }),
        "{err}"
    );
    let stats = f.db.capacity_stats("cond").unwrap();
    assert_eq!(
        stats.write.consumed_units, 4.0,
        "2 for the put, 2 for the failed check"
    );
}

#[test]
fn billing_mode_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let gsi = GsiSpec::new("by_x", KeySchema::simple("x", KeyType::S))
        .provisioned(ProvisionedThroughput::new(7, 3));
    {
        let db = Db::open(dir.path(), DbOptions::default()).unwrap();
        db.create_table(spec("prov", CapacityMode::provisioned(11, 12)).gsi(gsi.clone()))
            .unwrap();
        db.create_table(spec("odem", CapacityMode::OnDemand))
            .unwrap();
        db.update_table(
            "odem",
            TableUpdate::on_demand_throughput(OnDemandThroughput::max(40, 20)),
        )
        .unwrap();
        db.close().unwrap();
    }
    let db = Db::open(dir.path(), DbOptions::default()).unwrap();
    let p = db.describe_table("prov").unwrap();
    assert_eq!(p.spec.capacity, CapacityMode::provisioned(11, 12));
    assert_eq!(p.spec.global_secondary_indexes[0], gsi);
    let o = db.describe_table("odem").unwrap();
    assert_eq!(o.spec.capacity, CapacityMode::OnDemand);
    assert_eq!(o.spec.on_demand_throughput, OnDemandThroughput::max(40, 20));
    let stats = db.capacity_stats("odem").unwrap();
    assert_eq!(stats.write.units_per_second, 20.0);
    assert_eq!(
        db.capacity_stats("prov").unwrap().indexes[0]
            .write
            .units_per_second,
        3.0
    );
}

#[test]
fn bad_billing_values_get_clear_errors() {
    let f = open();
    let cases: Vec<(TableSpec, &str)> = vec![
        (
            spec("bad", CapacityMode::provisioned(0, 5)),
            "Value '0' at 'provisionedThroughput.readCapacityUnits' failed to satisfy constraint: Member must have value greater than or equal to 1",
        ),
        (
            spec("bad", CapacityMode::provisioned(5, u64::MAX)),
            "Member must have value less than or equal to",
        ),
        (
            spec("bad", CapacityMode::OnDemand).gsi(
                GsiSpec::new("gx", KeySchema::simple("x", KeyType::S))
                    .provisioned(ProvisionedThroughput::new(1, 1)),
            ),
            "ProvisionedThroughput should not be specified for index: gx when BillingMode is PAY_PER_REQUEST",
        ),
        (
            spec("bad", CapacityMode::provisioned(5, 5)).gsi(
                GsiSpec::new("gx", KeySchema::simple("x", KeyType::S))
                    .provisioned(ProvisionedThroughput::new(0, 1)),
            ),
            "globalSecondaryIndexes.gx.provisionedThroughput.readCapacityUnits",
        ),
        (
            spec("bad", CapacityMode::OnDemand).on_demand_throughput(OnDemandThroughput::max(0, 5)),
            "onDemandThroughput.maxReadRequestUnits",
        ),
        (
            spec("bad", CapacityMode::provisioned(5, 5))
                .on_demand_throughput(OnDemandThroughput::max(5, 5)),
            "OnDemandThroughput can only be specified when BillingMode is PAY_PER_REQUEST",
        ),
    ];
    for (s, want) in cases {
        let err = f.db.create_table(s).unwrap_err();
        assert!(err.is_validation(), "{err}");
        assert!(err.to_string().contains(want), "{err} should say {want}");
    }
    assert!(f.db.list_tables().unwrap().is_empty());
    // A bad update changes nothing.
    f.db.create_table(spec("good", CapacityMode::provisioned(5, 5)))
        .unwrap();
    let err =
        f.db.update_table(
            "good",
            TableUpdate::capacity(CapacityMode::provisioned(5, 0)),
        )
        .unwrap_err();
    assert!(err.is_validation(), "{err}");
    assert!(matches!(
        f.db.update_table(
            "good",
            TableUpdate::gsi_throughput("nope", ProvisionedThroughput::new(1, 1))
        ),
        Err(DbError::IndexNotFound { .. })
    ));
    assert_eq!(
        f.db.describe_table("good").unwrap().spec.capacity,
        CapacityMode::provisioned(5, 5)
    );
    // Bad Db-wide options are refused before anything is created.
    let dir = tempfile::tempdir().unwrap();
    let err = Db::open(
        dir.path().join("db"),
        DbOptions::default().capacity(CapacityOptions::default().partition_limits(0, 1000)),
    )
    .unwrap_err();
    assert!(err.to_string().contains("partition_read_units"), "{err}");
    assert!(!dir.path().join("db").exists());
}

#[test]
fn on_demand_tables_are_unthrottled_by_default() {
    let f = open();
    f.db.create_table(spec("free", CapacityMode::OnDemand))
        .unwrap();
    let t = f.db.table("free").unwrap();
    // 6,000 WCU in an instant, over DynamoDB's 1,000 per partition and 4,000 at once.
    for i in 0..30 {
        put(&t, item_of(&format!("k{}", i % 3), 200 * 1024)).unwrap();
    }
    let stats = f.db.capacity_stats("free").unwrap();
    assert_eq!(stats.write.consumed_units, 6_000.0);
    assert_eq!(stats.write.throttled_requests, 0);
    assert!(
        stats
            .partitions
            .iter()
            .all(|p| p.write.tokens.is_infinite())
    );
}

#[test]
fn gsi_reads_use_the_index_read_budget_not_the_table_one() {
    let f = open();
    f.db.create_table(
        spec("gsiread", CapacityMode::provisioned(1000, 1000)).gsi(
            GsiSpec::new("by_state", KeySchema::simple("state", KeyType::S))
                .provisioned(ProvisionedThroughput::new(1, 100)),
        ),
    )
    .unwrap();
    let t = f.db.table("gsiread").unwrap();
    let q = || {
        t.query(
            "#s = :s",
            QueryOptions::default()
                .index("by_state")
                .name("#s", "state")
                .value(":s", "open"),
        )
    };
    // GSI queries are eventually consistent: half a unit each (at least one 4 KB unit).
    assert_eq!(
        q().unwrap().consumed_capacity.global_secondary_indexes["by_state"],
        0.5
    );
    q().unwrap();
    let err = q().unwrap_err();
    assert_eq!(
        throttled(&err),
        (
            Budget::Index("by_state".into()),
            OpKind::Read,
            500 * MS + Duration::from_nanos(1)
        ),
        "the bucket is empty: half a unit (the smallest read) takes half a second"
    );
    // The table's own reads are not affected.
    t.get_item(item! { "pk" => "x" }, GetOptions::default())
        .unwrap();
    let stats = f.db.capacity_stats("gsiread").unwrap();
    assert_eq!(stats.indexes[0].read.consumed_units, 1.0);
    assert_eq!(stats.indexes[0].read.throttled_requests, 1);
    assert_eq!(stats.read.consumed_units, 0.5);
}

fn any_units() -> impl proptest::strategy::Strategy<Value = u64> {
    use proptest::prelude::*;
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(strata_engine::capacity::MAX_CAPACITY_UNITS),
        Just(strata_engine::capacity::MAX_CAPACITY_UNITS + 1),
        Just(u64::MAX),
        any::<u64>(),
        1u64..100_000,
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// Any billing figures: the table is created (and takes a write) exactly when
    /// every figure is 1 to `MAX_CAPACITY_UNITS`; otherwise a validation error and no
    /// table.
    #[test]
    fn any_billing_figures_are_accepted_or_refused_cleanly(
        rcu in any_units(),
        wcu in any_units(),
        gsi_rcu in any_units(),
        gsi_wcu in any_units(),
    ) {
        let f = open();
        let ok = |u: u64| (1..=strata_engine::capacity::MAX_CAPACITY_UNITS).contains(&u);
        let s = spec("anyfig", CapacityMode::provisioned(rcu, wcu)).gsi(
            GsiSpec::new("by_x", KeySchema::simple("x", KeyType::S))
                .provisioned(ProvisionedThroughput::new(gsi_rcu, gsi_wcu)),
        );
        match f.db.create_table(s) {
            Ok(_) => {
                proptest::prop_assert!(ok(rcu) && ok(wcu) && ok(gsi_rcu) && ok(gsi_wcu));
                let t = f.db.table("anyfig").unwrap();
                put(&t, item! { "pk" => "a", "x" => "b" }).unwrap();
            }
            Err(e) => {
                proptest::prop_assert!(e.is_validation(), "{e}");
                proptest::prop_assert!(!(ok(rcu) && ok(wcu) && ok(gsi_rcu) && ok(gsi_wcu)));
                proptest::prop_assert!(f.db.list_tables().unwrap().is_empty());
            }
        }
        // On demand: the maximum follows the same rule.
        let s = spec("anymax", CapacityMode::OnDemand)
            .on_demand_throughput(OnDemandThroughput::max(rcu, wcu));
        proptest::prop_assert_eq!(f.db.create_table(s).is_ok(), ok(rcu) && ok(wcu));
    }
}
