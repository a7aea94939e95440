//! Item workloads: Strata's `Db` against Dynoxide (SQLite underneath), both on disk
//! and durable on every write (Strata: a `Sync` table of 4 partitions; Dynoxide:
//! SQLite in WAL mode, `synchronous=FULL`, its default, which syncs the WAL on every
//! commit).
//!
//! | name | set-up (not timed) | timed |
//! |---|---|---|
//! | `putitem` | — | `ops` (default 20,000) put_item of new 1 KB items from `threads` threads |
//! | `query` | 200 partition keys × 100 items | `ops` (default 5,000) queries of one partition key, 100 items each |

use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::engines::BoxError;
use crate::workloads::{finish, new_histogram, record, timed_threads};
use crate::{RunResult, Shape};

const PARTITION_KEYS: u64 = 200;
const PER_KEY: u64 = 100;

/// An item store: a table `bench` with keys `pk` (S) and `sk` (N).
trait Items: Send + Sync {
    fn put(&self, pk: &str, sk: u64, data: &str) -> Result<(), BoxError>;
    fn query(&self, pk: &str) -> Result<usize, BoxError>;
}

pub fn run(
    engine: &str,
    workload: &str,
    shape: &Shape,
    dir: &std::path::Path,
) -> Result<RunResult, BoxError> {
    let store: Box<dyn Items> = match engine {
        "strata" => Box::new(strata_items::open(dir)?),
        #[cfg(feature = "dynoxide")]
        "dynoxide" => Box::new(dynoxide_items::open(dir)?),
        other => return Err(format!("engine {other} has no item workloads here").into()),
    };
    // A 1 KB item: the keys plus a `data` string that fills the rest.
    let data = "x".repeat(shape.item_size.saturating_sub(40));
    let mut hist = new_histogram();
    let start;
    match workload {
        "putitem" => {
            let ops = shape.ops.unwrap_or(20_000);
            let (store, data) = (store.as_ref(), &data);
            start = Instant::now();
            hist = timed_threads(shape.threads, ops, |t, per_thread| {
                move |i| {
                    let n = t * per_thread + i;
                    store.put(&format!("w{:08}", n / 100), n % 100, data)
                }
            })?;
        }
        "query" => {
            for p in 0..PARTITION_KEYS {
                for s in 0..PER_KEY {
                    store.put(&format!("p{p:06}"), s, &data)?;
                }
            }
            let ops = shape.ops.unwrap_or(5_000);
            let mut rng = StdRng::seed_from_u64(0x5eed);
            start = Instant::now();
            for _ in 0..ops {
                let p = rng.random_range(0..PARTITION_KEYS);
                let at = Instant::now();
                let n = store.query(&format!("p{p:06}"))?;
                record(&mut hist, at);
                if n != PER_KEY as usize {
                    return Err(format!("query returned {n} items, expected {PER_KEY}").into());
                }
            }
        }
        other => return Err(format!("unknown item workload {other}").into()),
    }
    let secs = start.elapsed().as_secs_f64();
    let n = hist.len();
    Ok(finish(hist, n, secs, 0, None))
}

mod strata_items {
    use super::{BoxError, Items};
    use strata_engine::{
        Db, DbOptions, PutOptions, QueryOptions, Table, TableDurability, TableSpec,
    };
    use strata_item::Item;
    use strata_item::{KeySchema, KeyType};

    pub struct StrataItems {
        _db: Db,
        table: Table,
    }

    pub fn open(dir: &std::path::Path) -> Result<StrataItems, BoxError> {
        let db = Db::open(dir, DbOptions::default())?;
        db.create_table(
            TableSpec::new(
                "bench",
                KeySchema::composite("pk", KeyType::S, "sk", KeyType::N),
            )
            .partitions(4)
            .durability(TableDurability::Sync),
        )?;
        let table = db.table("bench")?;
        Ok(StrataItems { _db: db, table })
    }

    impl Items for StrataItems {
        fn put(&self, pk: &str, sk: u64, data: &str) -> Result<(), BoxError> {
            let mut item = Item::new();
            item.insert("pk", pk);
            item.insert("sk", sk as i64);
            item.insert("data", data);
            self.table.put_item(item, PutOptions::default())?;
            Ok(())
        }
        fn query(&self, pk: &str) -> Result<usize, BoxError> {
            let page = self.table.query(
                "pk = :p",
                QueryOptions::default().value(":p", pk).limit(100),
            )?;
            Ok(page.count)
        }
    }
}

#[cfg(feature = "dynoxide")]
mod dynoxide_items {
    use super::{BoxError, Items};
    use dynoxide::Database;
    use serde_json::json;

    pub struct DynoxideItems {
        db: Database,
    }

    fn req<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, BoxError> {
        Ok(serde_json::from_value(v)?)
    }

    pub fn open(dir: &std::path::Path) -> Result<DynoxideItems, BoxError> {
        let path = dir.join("dynoxide.db");
        let db = Database::new(&path.to_string_lossy())?;
        db.create_table(req(json!({
            "TableName": "bench",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}],
            "BillingMode": "PAY_PER_REQUEST"
        }))?)?;
        Ok(DynoxideItems { db })
    }

    impl Items for DynoxideItems {
        fn put(&self, pk: &str, sk: u64, data: &str) -> Result<(), BoxError> {
            self.db.put_item(req(json!({
                "TableName": "bench",
                "Item": {"pk": {"S": pk}, "sk": {"N": sk.to_string()}, "data": {"S": data}}
            }))?)?;
            Ok(())
        }
        fn query(&self, pk: &str) -> Result<usize, BoxError> {
            let r = self.db.query(req(json!({
                "TableName": "bench",
                "KeyConditionExpression": "pk = :p",
                "ExpressionAttributeValues": {":p": {"S": pk}},
                "Limit": 100
            }))?)?;
            Ok(r.items.map_or(0, |i| i.len()))
        }
    }
}
