//! What a test cycle costs on an in-memory database, and on disk for comparison:
//! open a database, create a table, put, get, query, delete the table, close.
//!
//! ```sh
//! cargo run --release -p strata-engine --example in_memory_cycle [CYCLES]
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use strata_engine::{Db, DbOptions, GetOptions, PutOptions, QueryOptions, TableSpec};
use strata_item::{KeySchema, KeyType, item};

fn table_cycle(db: &Db) {
    db.create_table(TableSpec::new(
        "orders",
        KeySchema::composite("customer", KeyType::S, "id", KeyType::N),
    ))
    .unwrap();
    let t = db.table("orders").unwrap();
    t.put_item(
        item! { "customer" => "c1", "id" => 1, "total" => 250 },
        PutOptions::default(),
    )
    .unwrap();
    let got = t
        .get_item(
            item! { "customer" => "c1", "id" => 1 },
            GetOptions::default(),
        )
        .unwrap();
    assert!(got.item.is_some());
    let q = t
        .query("customer = :c", QueryOptions::default().value(":c", "c1"))
        .unwrap();
    assert_eq!(q.items.len(), 1);
    drop(t);
    db.delete_table("orders").unwrap();
}

fn report(what: &str, cycles: u32, took: Duration) {
    let per = took / cycles;
    println!("{what:<48} {cycles:>6} cycles  {per:>12.2?} per cycle");
}

fn main() {
    let cycles: u32 = std::env::args()
        .nth(1)
        .map_or(1000, |s| s.parse().expect("CYCLES is a number"));

    // Open, one table cycle, close: a whole test.
    let start = Instant::now();
    for _ in 0..cycles {
        let db = Db::open_in_memory().unwrap();
        table_cycle(&db);
        db.close().unwrap();
    }
    report(
        "in memory: open + table cycle + close",
        cycles,
        start.elapsed(),
    );

    // Table cycles in one open database.
    let db = Db::open_in_memory().unwrap();
    let start = Instant::now();
    for _ in 0..cycles {
        table_cycle(&db);
    }
    report(
        "in memory: table cycle in an open Db",
        cycles,
        start.elapsed(),
    );
    db.close().unwrap();

    // The same on disk (fewer cycles: each one fsyncs).
    let disk_cycles = (cycles / 100).max(3);
    let dir = std::env::temp_dir().join(format!("strata-cycle-{}", std::process::id()));
    let start = Instant::now();
    for _ in 0..disk_cycles {
        let db = Db::open(&dir, DbOptions::default()).unwrap();
        table_cycle(&db);
        db.close().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
    report(
        "on disk: open + table cycle + close",
        disk_cycles,
        start.elapsed(),
    );
}
