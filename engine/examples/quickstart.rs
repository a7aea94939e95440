//! Strata in five minutes: a database with one table, items written and read back,
//! a conditional write, an update, queries on the table and on a local secondary index,
//! a scan, batches, and a reopen that finds everything again.
//!
//! Run it with:
//!
//! ```sh
//! cargo run --release -p strata-engine --example quickstart [DIRECTORY]
//! ```
//!
//! The database goes to DIRECTORY (default: `strata-quickstart` in the system's
//! temporary directory), which is emptied first.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use strata_engine::{
    BatchGetRequest, Db, DbError, DbOptions, DeleteOptions, GetOptions, IndexProjection, LsiSpec,
    PutOptions, QueryOptions, ReturnValues, ScanOptions, TableSpec, UpdateOptions, WriteRequest,
};
use strata_item::{Item, KeySchema, KeyType, item};

fn show(item: &Item) -> String {
    let fields: Vec<String> = item
        .iter()
        .map(|(k, v)| format!("{k}: {}", render(v)))
        .collect();
    format!("{{ {} }}", fields.join(", "))
}

fn render(v: &strata_item::AttributeValue) -> String {
    match (v.as_s(), v.as_n()) {
        (Some(s), _) => format!("{s:?}"),
        (_, Some(n)) => n.to_string(),
        _ => format!("{v:?}"),
    }
}

fn main() -> Result<(), DbError> {
    let dir = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("strata-quickstart"));
    let _ = std::fs::remove_dir_all(&dir);

    println!("1. Open a database in {}", dir.display());
    let db = Db::open(&dir, DbOptions::default())?;

    println!("2. Create the table \"orders\": partition key customer (S), sort key order_id (N),");
    println!(
        "   4 hash partitions, and a local secondary index \"by_total\" sorting a customer's orders by total"
    );
    db.create_table(
        TableSpec::new(
            "orders",
            KeySchema::composite("customer", KeyType::S, "order_id", KeyType::N),
        )
        .partitions(4)
        .lsi(
            LsiSpec::new("by_total", "total", KeyType::N)
                .projection(IndexProjection::Include(vec!["status".into()])),
        ),
    )?;
    let orders = db.table("orders")?;

    println!("3. Put five orders (the item! macro builds items from Rust values)");
    for (id, total, status) in [
        (1, 250, "shipped"),
        (2, 30, "open"),
        (3, 75, "open"),
        (4, 990, "open"),
        (5, 12, "cancelled"),
    ] {
        let out = orders.put_item(
            item! { "customer" => "ada", "order_id" => id, "total" => total, "status" => status, "note" => "gift wrap" },
            PutOptions::default(),
        )?;
        println!(
            "   order {id}: consumed {} write units (1 for the item, 1 for its index entry)",
            out.consumed_capacity.write_capacity_units
        );
    }
    orders.put_item(
        item! { "customer" => "bob", "order_id" => 1, "total" => 40, "status" => "open" },
        PutOptions::default(),
    )?;

    println!("4. Idempotent write: put only if no item with this key exists");
    let once = || PutOptions::default().condition("attribute_not_exists(customer)");
    orders.put_item(
        item! { "customer" => "cy", "order_id" => 7, "total" => 5 },
        once(),
    )?;
    match orders.put_item(
        item! { "customer" => "cy", "order_id" => 7, "total" => 5 },
        once(),
    ) {
        Err(DbError::ConditionalCheckFailed { .. }) => {
            println!("   the second attempt fails with ConditionalCheckFailed, as it should")
        }
        other => panic!("unexpected: {other:?}"),
    }

    println!("5. Get one order");
    let got = orders.get_item(
        item! { "customer" => "ada", "order_id" => 3 },
        GetOptions::default().consistent_read(true),
    )?;
    println!("   {}", show(got.item.as_ref().unwrap()));

    println!("6. Update it: raise the total and mark it paid, returning the new values");
    let out = orders.update_item(
        item! { "customer" => "ada", "order_id" => 3 },
        UpdateOptions::default()
            .update("SET #t = #t + :extra, #s = :paid")
            .condition("#s = :open")
            .name("#t", "total") // `total` and `status` are reserved words: use placeholders
            .name("#s", "status")
            .value(":extra", 25)
            .value(":paid", "paid")
            .value(":open", "open")
            .return_values(ReturnValues::UpdatedNew),
    )?;
    println!(
        "   updated attributes: {}",
        show(out.attributes.as_ref().unwrap())
    );

    println!("7. Query ada's orders, newest first, two per page");
    let mut start = None;
    let mut page_no = 1;
    loop {
        let page = orders.query(
            "customer = :c",
            QueryOptions::default()
                .value(":c", "ada")
                .reverse()
                .limit(2)
                .start_after(start.take()),
        )?;
        let ids: Vec<String> = page
            .items
            .iter()
            .map(|i| render(i.get("order_id").unwrap()))
            .collect();
        println!("   page {page_no}: orders {}", ids.join(", "));
        match page.last_evaluated_key {
            Some(k) => start = Some(k),
            None => break,
        }
        page_no += 1;
    }

    println!("8. Query the index: ada's open orders between 20 and 500, cheapest first");
    let page = orders.query(
        "customer = :c AND #t BETWEEN :lo AND :hi",
        QueryOptions::default()
            .index("by_total")
            .filter("#s = :open")
            .name("#t", "total")
            .name("#s", "status")
            .value(":c", "ada")
            .value(":lo", 20)
            .value(":hi", 500)
            .value(":open", "open"),
    )?;
    for i in &page.items {
        println!("   {}", show(i));
    }
    println!(
        "   ({} read of {} evaluated; {} read units)",
        page.count, page.scanned_count, page.consumed_capacity.read_capacity_units
    );

    println!("9. Scan the whole table in 2 parallel segments");
    let total: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|seg| {
                let orders = orders.clone();
                s.spawn(move || {
                    orders
                        .scan(ScanOptions::default().segment(seg, 2))
                        .map(|p| p.count)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .sum()
    });
    println!("   {total} items");

    println!("10. Batches: write two items and delete one in one call, then read three keys");
    db.batch_write_item([(
        "orders",
        vec![
            WriteRequest::Put(item! { "customer" => "dee", "order_id" => 1, "total" => 10 }),
            WriteRequest::Put(item! { "customer" => "dee", "order_id" => 2, "total" => 20 }),
            WriteRequest::Delete(item! { "customer" => "bob", "order_id" => 1 }.into()),
        ],
    )])?;
    let got = db.batch_get_item([(
        "orders",
        BatchGetRequest::keys([
            item! { "customer" => "dee", "order_id" => 1 },
            item! { "customer" => "dee", "order_id" => 2 },
            item! { "customer" => "bob", "order_id" => 1 },
        ]),
    )])?;
    println!(
        "   found {} of 3 (bob's order was deleted)",
        got.responses["orders"].len()
    );

    println!("11. Delete an order, close, reopen: everything is still there");
    orders.delete_item(
        item! { "customer" => "ada", "order_id" => 5 },
        DeleteOptions::default(),
    )?;
    drop(orders);
    db.close()?;
    let db = Db::open(&dir, DbOptions::default())?;
    let orders = db.table("orders")?;
    let page = orders.query("customer = :c", QueryOptions::default().value(":c", "ada"))?;
    println!(
        "   ada has {} orders after reopening; tables: {:?}",
        page.count,
        db.list_tables()?
    );
    db.close()?;
    println!("Done. The data is in {}", dir.display());
    Ok(())
}
