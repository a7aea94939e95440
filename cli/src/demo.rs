//! `strata demo [DIR]`: a guided tour on a fresh directory. It creates a table with
//! a sort key, a local and a global secondary index and provisioned capacity, loads
//! a few thousand items, queries the table and both indexes, watches the GSI catch
//! up, shows a conditional put failing and a burst being throttled, and says what
//! happened.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;
use strata_engine::{
    CapacityMode, Db, DbError, DbOptions, GsiSpec, IndexProjection, LsiSpec, ProvisionedThroughput,
    PutOptions, QueryOptions, TableSpec, WriteRequest,
};
use strata_item::{Item, KeySchema, KeyType, item};

use crate::bench::progress;

/// The arguments of `strata demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// A new or empty directory for the database (default: a temporary directory,
    /// removed at the end).
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// The database reported an error.
    #[error("database: {0}")]
    Db(#[from] DbError),
    /// The directory cannot be used.
    #[error("{}: {source}", path.display())]
    Io {
        /// The directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The directory holds files already.
    #[error("{} is not empty: strata demo wants a new or empty directory", .0.display())]
    NotEmpty(PathBuf),
    /// Something did not behave as the demo shows it should.
    #[error("unexpected: {0}")]
    Unexpected(String),
}

/// Customers loaded.
const CUSTOMERS: u64 = 100;
/// Orders per customer.
const ORDERS_PER_CUSTOMER: u64 = 30;
/// Order statuses, assigned in turn.
const STATUSES: [&str; 3] = ["open", "shipped", "cancelled"];
/// The provisioned capacity of `orders`.
const ORDERS_UNITS: u64 = 4000;
/// The provisioned write capacity of `clicks`, the table the burst hits.
const CLICKS_WCU: u64 = 5;
/// Writes in the burst.
const BURST: u64 = 200;
/// The longest the demo waits for the GSI to catch up.
const LAG_TIMEOUT: Duration = Duration::from_secs(20);

fn order(customer: u64, order_id: u64) -> Item {
    let i = customer * ORDERS_PER_CUSTOMER + order_id;
    item! {
        "customer" => format!("c{customer:03}"),
        "order_id" => i64::try_from(order_id).unwrap_or(i64::MAX),
        "total" => i64::try_from((i * 7919) % 1000).unwrap_or(0),
        "status" => STATUSES[(i % 3) as usize],
        "note" => "demo order",
    }
}

fn ids(items: &[Item]) -> String {
    let shown: Vec<String> = items
        .iter()
        .take(5)
        .map(|i| {
            let id = i
                .get("order_id")
                .and_then(|v| v.as_n())
                .map(|n| n.to_string());
            let total = i.get("total").and_then(|v| v.as_n()).map(|n| n.to_string());
            format!(
                "#{} (total {})",
                id.unwrap_or_default(),
                total.unwrap_or_default()
            )
        })
        .collect();
    let more = items.len().saturating_sub(shown.len());
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// Log records the GSIs of `orders` have not applied yet.
fn gsi_lag(db: &Db) -> Result<u64, DemoError> {
    Ok(db
        .describe_table("orders")?
        .global_secondary_indexes
        .iter()
        .map(|g| g.lag_records)
        .sum())
}

/// Makes sure `dir` exists and is empty.
fn prepare(dir: &Path) -> Result<(), DemoError> {
    let io = |source| DemoError::Io {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    if std::fs::read_dir(dir).map_err(io)?.next().is_some() {
        return Err(DemoError::NotEmpty(dir.to_path_buf()));
    }
    Ok(())
}

/// Runs `strata demo`.
///
/// # Errors
/// A non-empty directory, database errors, or a step that did not behave as shown.
pub fn run(args: DemoArgs) -> Result<(), DemoError> {
    let (dir, temp) = match args.dir {
        Some(d) => {
            prepare(&d)?;
            (d, None)
        }
        None => {
            let t = tempfile::Builder::new()
                .prefix("strata-demo-")
                .tempdir()
                .map_err(|source| DemoError::Io {
                    path: std::env::temp_dir(),
                    source,
                })?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    let started = Instant::now();
    println!("Strata demo in {}", dir.display());
    let db = Db::open(&dir, DbOptions::default())?;
    let summary = tour(&db)?;
    db.close()?;
    println!();
    println!("What happened ({:.1} s):", started.elapsed().as_secs_f64());
    for line in summary {
        println!("  - {line}");
    }
    match temp {
        Some(t) => {
            let path = t.path().display().to_string();
            drop(t);
            println!(
                "The temporary directory {path} was removed; run `strata demo DIR` to keep the data."
            );
        }
        None => println!(
            "The data stays in {}: look at it with `strata serve --dir {}`.",
            dir.display(),
            dir.display()
        ),
    }
    Ok(())
}

/// The steps; returns the summary lines.
fn tour(db: &Db) -> Result<Vec<String>, DemoError> {
    let mut summary = Vec::new();

    println!(
        "1. create table: \"orders\" keyed by customer (S) and order_id (N), 4 hash partitions,"
    );
    println!(
        "   LSI \"by_total\" (a customer's orders by total), GSI \"by_status\" (all orders by status and total),"
    );
    println!("   provisioned at {ORDERS_UNITS} read and {ORDERS_UNITS} write units per second");
    db.create_table(
        TableSpec::new(
            "orders",
            KeySchema::composite("customer", KeyType::S, "order_id", KeyType::N),
        )
        .partitions(4)
        .capacity(CapacityMode::provisioned(ORDERS_UNITS, ORDERS_UNITS))
        .lsi(LsiSpec::new("by_total", "total", KeyType::N))
        .gsi(
            GsiSpec::new(
                "by_status",
                KeySchema::composite("status", KeyType::S, "total", KeyType::N),
            )
            .projection(IndexProjection::KeysOnly)
            .provisioned(ProvisionedThroughput::new(ORDERS_UNITS, ORDERS_UNITS)),
        ),
    )?;
    let orders = db.table("orders")?;

    let total = CUSTOMERS * ORDERS_PER_CUSTOMER;
    println!("2. load: {total} orders in batches of 25");
    let start = Instant::now();
    let bar = progress::bar("load", total);
    let (mut retries, mut batches, mut max_lag) = (0u64, 0u64, 0u64);
    let all: Vec<(u64, u64)> = (0..CUSTOMERS)
        .flat_map(|c| (0..ORDERS_PER_CUSTOMER).map(move |o| (c, o)))
        .collect();
    for chunk in all.chunks(25) {
        let mut batch: Vec<WriteRequest> = chunk
            .iter()
            .map(|&(c, o)| WriteRequest::Put(order(c, o)))
            .collect();
        batches += 1;
        loop {
            let out = db.batch_write_item([("orders", batch)])?;
            batch = out.unprocessed_items.into_values().flatten().collect();
            if batch.is_empty() {
                break;
            }
            // Throttled items come back unprocessed: wait a little and send them again,
            // as DynamoDB's SDKs do.
            retries += 1;
            std::thread::sleep(Duration::from_millis(20));
        }
        bar.inc(chunk.len() as u64);
        if batches.is_multiple_of(10) {
            max_lag = max_lag.max(gsi_lag(db)?);
        }
    }
    bar.finish_and_clear();
    let load_secs = start.elapsed().as_secs_f64();
    println!(
        "   {total} orders in {batches} batches in {load_secs:.2} s; {retries} times the capacity ran out and the unprocessed items were sent again"
    );
    summary.push(format!(
        "loaded {total} orders in {load_secs:.2} s, each write charging the table and its LSI and feeding the GSI"
    ));

    println!("3. GSI lag: the index is maintained in the background from the table's log");
    let first = gsi_lag(db)?;
    let start = Instant::now();
    let mut now = first;
    while now > 0 {
        if start.elapsed() > LAG_TIMEOUT {
            return Err(DemoError::Unexpected(format!(
                "the GSI still has {now} records to apply after {} s",
                LAG_TIMEOUT.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(10));
        now = gsi_lag(db)?;
    }
    let settled_ms = start.elapsed().as_millis();
    println!(
        "   during the load \"by_status\" was up to {max_lag} log records behind the table; right after it, {first}; it reached 0 in {settled_ms} ms"
    );
    summary.push(format!(
        "the GSI followed the table asynchronously (up to {max_lag} records behind during the load, {first} at its end) and caught up in {settled_ms} ms"
    ));

    println!("4. query: the orders of customer c042, in order_id order");
    let page = orders.query("customer = :c", QueryOptions::default().value(":c", "c042"))?;
    println!(
        "   {} orders: {} ({} read units)",
        page.count,
        ids(&page.items),
        page.consumed_capacity.read_capacity_units
    );
    if page.count as u64 != ORDERS_PER_CUSTOMER {
        return Err(DemoError::Unexpected(format!(
            "c042 has {} orders, expected {ORDERS_PER_CUSTOMER}",
            page.count
        )));
    }

    println!("5. LSI query: c042's orders with a total of 500 or more, cheapest first");
    let page = orders.query(
        "customer = :c AND #t >= :min",
        QueryOptions::default()
            .index("by_total")
            .name("#t", "total")
            .value(":c", "c042")
            .value(":min", 500),
    )?;
    println!("   {} orders: {}", page.count, ids(&page.items));
    summary.push(format!(
        "queried one customer's {ORDERS_PER_CUSTOMER} orders by key and {} of them by total through the LSI",
        page.count
    ));

    println!("6. GSI query: every shipped order with a total under 100, across all customers");
    let mut shipped = 0;
    let mut start_key = None;
    loop {
        let page = orders.query(
            "#s = :s AND #t < :max",
            QueryOptions::default()
                .index("by_status")
                .name("#s", "status")
                .name("#t", "total")
                .value(":s", "shipped")
                .value(":max", 100)
                .start_after(start_key.take()),
        )?;
        shipped += page.count;
        match page.last_evaluated_key {
            Some(k) => start_key = Some(k),
            None => break,
        }
    }
    let expected = (0..total)
        .filter(|i| i % 3 == 1 && (i * 7919) % 1000 < 100)
        .count();
    println!("   {shipped} orders (the load wrote {expected} such orders)");
    if shipped != expected {
        return Err(DemoError::Unexpected(format!(
            "the GSI returned {shipped} shipped orders under 100, expected {expected}"
        )));
    }
    summary.push(format!(
        "found all {shipped} shipped orders under 100 through the GSI once it had caught up"
    ));

    println!("7. conditional put: write c042's order 7 again only if it does not exist yet");
    match orders.put_item(
        order(42, 7),
        PutOptions::default().condition("attribute_not_exists(order_id)"),
    ) {
        Err(DbError::ConditionalCheckFailed { .. }) => {
            println!(
                "   refused with ConditionalCheckFailed: the order exists, nothing was written"
            );
        }
        Err(e) => return Err(e.into()),
        Ok(_) => {
            return Err(DemoError::Unexpected(
                "the conditional put succeeded on an existing item".into(),
            ));
        }
    }
    summary.push("a put conditioned on the item not existing was refused and wrote nothing".into());

    println!(
        "8. throttling: table \"clicks\" is provisioned at {CLICKS_WCU} write units per second; {BURST} writes at once"
    );
    db.create_table(
        TableSpec::new("clicks", KeySchema::simple("id", KeyType::N))
            .capacity(CapacityMode::provisioned(CLICKS_WCU, CLICKS_WCU)),
    )?;
    let clicks = db.table("clicks")?;
    let (mut accepted, mut throttled) = (0u64, 0u64);
    let mut retry_after = Duration::ZERO;
    for i in 0..BURST {
        let id = i64::try_from(i).unwrap_or(i64::MAX);
        match clicks.put_item(item! { "id" => id }, PutOptions::default()) {
            Ok(_) => accepted += 1,
            Err(DbError::Throttled { retry_after: r, .. }) => {
                throttled += 1;
                retry_after = r;
            }
            Err(e) => return Err(e.into()),
        }
    }
    println!(
        "   {accepted} accepted, {throttled} throttled (ProvisionedThroughputExceeded; the last said retry after {} ms)",
        retry_after.as_millis()
    );
    if throttled == 0 {
        return Err(DemoError::Unexpected(
            "no write of the burst was throttled".into(),
        ));
    }
    summary.push(format!(
        "a burst of {BURST} writes against {CLICKS_WCU} write units per second: {accepted} accepted, {throttled} throttled"
    ));
    Ok(summary)
}
