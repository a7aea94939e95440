//! Strata from async code: `AsyncDb`/`AsyncTable` (cargo feature `tokio`) run every
//! call that may block (fsync, flush waits, reads of SSTable blocks) on tokio's
//! blocking pool, so the runtime's workers keep serving other tasks.
//!
//! Run with `cargo run -p strata-engine --features tokio --example async_tokio`.

use std::time::Duration;

use strata_engine::{
    AsyncDb, DbOptions, GsiSpec, PutOptions, QueryOptions, TableSpec, UpdateOptions,
};
use strata_item::{KeySchema, KeyType, item};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("strata-async-{}", std::process::id()));
    let db = AsyncDb::open(&dir, DbOptions::default()).await?;
    db.ensure_table(
        TableSpec::new(
            "orders",
            KeySchema::composite("customer", KeyType::S, "id", KeyType::N),
        )
        .gsi(GsiSpec::new(
            "by_status",
            KeySchema::composite("status", KeyType::S, "id", KeyType::N),
        )),
    )
    .await?;
    let orders = db.table("orders")?;

    // A hundred concurrent writers; each put waits for its fsync on the blocking pool.
    let mut tasks = Vec::new();
    for id in 0..100 {
        let orders = orders.clone();
        tasks.push(tokio::spawn(async move {
            let status = if id % 4 == 0 { "open" } else { "shipped" };
            orders
                .put_item(
                    item! { "customer" => format!("c{}", id % 5), "id" => id, "status" => status },
                    PutOptions::default(),
                )
                .await
        }));
    }
    for t in tasks {
        t.await??;
    }
    orders
        .update_item(
            item! { "customer" => "c0", "id" => 0 },
            UpdateOptions::default()
                .update("ADD #r :one")
                .name("#r", "reads")
                .value(":one", 1),
        )
        .await?;

    // Every item of one customer, page by page (10 per page), newest first.
    let mut items = orders.query_iter(
        "customer = :c",
        QueryOptions::default()
            .value(":c", "c0")
            .limit(10)
            .reverse(),
    );
    let mut n = 0;
    while let Some(item) = items.next().await {
        let item = item?;
        n += 1;
        if n == 1 {
            println!("newest order of c0: {item}");
        }
    }
    println!("c0 has {n} orders");

    // The GSI is maintained asynchronously: wait for it before reading it.
    db.wait_for_indexes("orders", Duration::from_secs(30))
        .await?;
    let open = orders
        .query_iter(
            "#s = :s",
            QueryOptions::default()
                .index("by_status")
                .name("#s", "status")
                .value(":s", "open"),
        )
        .collect()
        .await?;
    println!("{} open orders", open.len());

    db.close().await?;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
