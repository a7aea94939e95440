//! `Db::ensure_table`: creates a missing table, accepts the same schema (also after a
//! reopen, and with indexes listed in another order), and refuses a different one
//! with every difference named, changing nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use strata_engine::{
    Db, DbError, DbOptions, GsiSpec, IndexProjection, LsiSpec, PutOptions, QueryOptions,
    TableDurability, TableSpec, TableUpdate,
};
use strata_item::{KeySchema, KeyType, item};

fn spec() -> TableSpec {
    TableSpec::new(
        "orders",
        KeySchema::composite("customer", KeyType::S, "id", KeyType::N),
    )
    .partitions(2)
    .lsi(LsiSpec::new("by_total", "total", KeyType::N))
    .lsi(LsiSpec::new("by_day", "day", KeyType::S).projection(IndexProjection::KeysOnly))
    .gsi(
        GsiSpec::new("by_status", KeySchema::simple("status", KeyType::S))
            .projection(IndexProjection::Include(vec!["total".into(), "day".into()]))
            .partitions(2),
    )
}

fn differences(r: Result<strata_engine::TableDescription, DbError>) -> Vec<String> {
    match r {
        Err(DbError::TableSpecMismatch { table, differences }) => {
            assert_eq!(table, "orders");
            differences
        }
        other => panic!("expected TableSpecMismatch, got {other:?}"),
    }
}

#[test]
fn creates_a_missing_table_and_accepts_the_same_schema_after_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), DbOptions::default()).unwrap();
    let created = db.ensure_table(spec()).unwrap();
    assert_eq!(created.spec, spec());
    db.table("orders")
        .unwrap()
        .put_item(
            item! { "customer" => "c", "id" => 1, "total" => 5 },
            PutOptions::default(),
        )
        .unwrap();
    let again = db.ensure_table(spec()).unwrap();
    assert_eq!(again.table_id, created.table_id);
    db.close().unwrap();

    let db = Db::open(dir.path(), DbOptions::default()).unwrap();
    let mut reordered = spec();
    reordered.local_secondary_indexes.reverse();
    let after = db.ensure_table(reordered).unwrap();
    assert_eq!(after.table_id, created.table_id);
    // The data is untouched.
    let q = db
        .table("orders")
        .unwrap()
        .query("customer = :c", QueryOptions::default().value(":c", "c"))
        .unwrap();
    assert_eq!(q.count, 1);
}

#[test]
fn an_lsi_added_to_the_spec_is_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), DbOptions::default()).unwrap();
    db.ensure_table(spec()).unwrap();
    db.close().unwrap();

    let db = Db::open(dir.path(), DbOptions::default()).unwrap();
    let err = db
        .ensure_table(spec().lsi(LsiSpec::new("by_weight", "weight", KeyType::N)))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Table orders exists with a different schema: local secondary index by_weight: in the spec, not in the table (an LSI can only be created with its table)"
    );
    // Nothing changed.
    assert_eq!(db.describe_table("orders").unwrap().spec, spec());
}

#[test]
fn every_kind_of_difference_is_named() {
    let db = Db::open_in_memory().unwrap();
    db.ensure_table(spec()).unwrap();

    let mut other_key = spec();
    other_key.key_schema = KeySchema::composite("customer", KeyType::S, "id", KeyType::S);
    assert_eq!(
        differences(db.ensure_table(other_key)),
        vec![
            "key schema: the table has partition key customer (S), sort key id (N), the spec partition key customer (S), sort key id (S)"
        ]
    );

    let d =
        differences(db.ensure_table(spec().partitions(3).durability(TableDurability::Buffered)));
    assert_eq!(
        d,
        vec![
            "partitions: the table has 2, the spec 3",
            "durability: the table has Sync, the spec Buffered",
        ]
    );

    let mut fewer = spec();
    fewer.local_secondary_indexes.pop();
    fewer.global_secondary_indexes[0].projection = IndexProjection::All;
    assert_eq!(
        differences(db.ensure_table(fewer)),
        vec![
            "local secondary index by_day: in the table, not in the spec",
            "global secondary index by_status projection: the table has INCLUDE [total, day], the spec ALL",
        ]
    );

    let more = spec().gsi(GsiSpec::new(
        "by_day_g",
        KeySchema::simple("day", KeyType::S),
    ));
    let d = differences(db.ensure_table(more));
    assert_eq!(d.len(), 1);
    assert!(
        d[0].starts_with("global secondary index by_day_g: in the spec, not in the table"),
        "{d:?}"
    );

    let provisioned = spec().capacity(strata_engine::CapacityMode::Provisioned {
        read_capacity_units: 5,
        write_capacity_units: 5,
    });
    let d = differences(db.ensure_table(provisioned));
    assert_eq!(
        d,
        vec!["billing mode: the table has on demand, the spec provisioned 5 RCU / 5 WCU"]
    );
    assert_eq!(db.describe_table("orders").unwrap().spec, spec());
}

#[test]
fn a_gsi_added_by_update_table_is_part_of_the_schema() {
    let db = Db::open_in_memory().unwrap();
    db.ensure_table(spec()).unwrap();
    let g = GsiSpec::new("by_day_g", KeySchema::simple("day", KeyType::S)).partitions(1);
    db.update_table("orders", TableUpdate::add_gsi(g.clone()))
        .unwrap();
    db.wait_for_indexes("orders", Duration::from_secs(30))
        .unwrap();
    db.ensure_table(spec().gsi(g)).unwrap();
    let d = differences(db.ensure_table(spec()));
    assert_eq!(
        d,
        vec![
            "global secondary index by_day_g: in the table, not in the spec (remove it with Db::update_table)"
        ]
    );
}

#[test]
fn an_invalid_spec_is_refused_before_anything_else() {
    let db = Db::open_in_memory().unwrap();
    let r = db.ensure_table(spec().partitions(0));
    assert!(matches!(r, Err(DbError::InvalidTableSpec { .. })), "{r:?}");
    assert!(db.list_tables().unwrap().is_empty());
}
