//! Differential fuzzing of global secondary indexes: random base operations (puts,
//! updates and deletes on a 12-key space, with index key attributes of the right type,
//! the wrong type, empty, or absent) on a `Db` over `FaultFs`, interleaved with
//! flushes, `wait_for_indexes`, clean reopens and simulated power loss, against a model
//! of the base table (a `BTreeMap`). After every wait, each GSI's full scan and a query
//! must equal the index the model derives (computed here, independently of
//! `strata-index`), and `verify_index` must be clean; the base table must equal the
//! model. A write with an invalid index key attribute must fail as a validation error
//! and change nothing.
//!
//! The first input byte picks the table's durability. `Sync`: every acknowledged write
//! survives a power loss, so the model is kept. `Buffered`: a power loss may drop
//! unsynced writes, so the model becomes what the recovered base table holds (the
//! index must still equal what that derives).
#![no_main]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use strata_engine::{
    Db, DbOptions, DeleteOptions, GsiSpec, IndexProjection, PutOptions, QueryOptions, ScanOptions,
    Table, TableDurability, TableSpec, UpdateOptions,
};
use strata_fs::FaultFs;
use strata_item::{AttributeValue, Item, KeySchema, KeyType};

const DB: &str = "/db";
const TABLE: &str = "things";
const WAIT: Duration = Duration::from_secs(30);

type Key = (String, i64);

fn options(fs: &FaultFs) -> DbOptions {
    let mut o = DbOptions::small(Arc::new(fs.clone()));
    // Tiny memtables: flushes (and compactions) of base and index trees happen.
    o.tree.memtable_size = 2048;
    o
}

/// `by_gh`: (g S, h N), ALL, 2 partitions. `by_n`: (n N), INCLUDE [t], 1 partition.
fn spec(durability: TableDurability) -> TableSpec {
    TableSpec::new(
        TABLE,
        KeySchema::composite("pk", KeyType::S, "sk", KeyType::N),
    )
    .partitions(2)
    .durability(durability)
    .gsi(
        GsiSpec::new(
            "by_gh",
            KeySchema::composite("g", KeyType::S, "h", KeyType::N),
        )
        .partitions(2),
    )
    .gsi(
        GsiSpec::new("by_n", KeySchema::simple("n", KeyType::N))
            .projection(IndexProjection::Include(vec!["t".into()]))
            .partitions(1),
    )
}

fn open(fs: &FaultFs) -> (Db, Table) {
    let db = Db::open(DB, options(fs)).expect("open");
    let t = db.table(TABLE).expect("table");
    (db, t)
}

#[path = "common/input.rs"]
mod input;
use input::Input;

impl Input<'_> {
    fn key(&mut self) -> Option<Key> {
        let b = self.byte()?;
        Some((
            ["a", "b", "c"][usize::from(b % 3)].to_owned(),
            i64::from(b / 3 % 4),
        ))
    }

    /// A value for index key attribute of type `want`: absent, valid (from a small
    /// domain, so index keys repeat), of the wrong type, or empty (invalid for S, B).
    fn attr(&mut self, want: KeyType) -> Option<Option<AttributeValue>> {
        let b = self.byte()?;
        let small = i64::from(b >> 3) % 3;
        Some(match b % 8 {
            0 | 1 => None,
            2 | 3 | 4 => Some(valid(want, small)),
            5 => Some(match want {
                KeyType::N => AttributeValue::S(format!("{small}")),
                _ => AttributeValue::from(small),
            }),
            6 => Some(AttributeValue::Bool(b & 0x10 != 0)),
            _ => Some(match want {
                KeyType::S => AttributeValue::S(String::new()),
                KeyType::B => AttributeValue::B(Vec::new()),
                KeyType::N => AttributeValue::B(vec![1]),
            }),
        })
    }

    /// A non-key attribute value (`t` is projected into `by_n`, `o` into nothing but ALL).
    fn plain(&mut self) -> Option<Option<AttributeValue>> {
        let b = self.byte()?;
        Some(match b % 4 {
            0 => None,
            1 => Some(AttributeValue::S("x".repeat(usize::from(b)))),
            2 => Some(AttributeValue::from(i64::from(b))),
            _ => Some(AttributeValue::Bool(b & 4 != 0)),
        })
    }
}

fn valid(t: KeyType, small: i64) -> AttributeValue {
    match t {
        KeyType::S => AttributeValue::S(format!("v{small}")),
        KeyType::N => AttributeValue::from(small),
        KeyType::B => AttributeValue::B(vec![u8::try_from(small).unwrap_or(0)]),
    }
}

const INDEX_ATTRS: [(&str, KeyType); 3] = [("g", KeyType::S), ("h", KeyType::N), ("n", KeyType::N)];

/// Whether a present index key attribute is invalid (wrong type or empty).
fn invalid(item: &Item) -> bool {
    INDEX_ATTRS
        .iter()
        .any(|(name, want)| match (item.get(name), want) {
            (None, _) => false,
            (Some(AttributeValue::S(s)), KeyType::S) => s.is_empty(),
            (Some(AttributeValue::N(_)), KeyType::N) => false,
            (Some(AttributeValue::B(b)), KeyType::B) => b.is_empty(),
            _ => true,
        })
}

fn key_item((pk, sk): &Key) -> Item {
    let mut k = Item::new();
    k.insert("pk", pk.as_str());
    k.insert("sk", *sk);
    k
}

fn keep(item: &Item, names: &[&str]) -> Item {
    let mut out = Item::new();
    for n in names {
        if let Some(v) = item.get(n) {
            out.insert(*n, v.clone());
        }
    }
    out
}

/// The entries (projected items) the model derives for each index.
fn derived(model: &BTreeMap<Key, Item>) -> [Vec<Item>; 2] {
    let mut gh = Vec::new();
    let mut n = Vec::new();
    for item in model.values() {
        if item.contains_key("g") && item.contains_key("h") {
            gh.push(item.clone());
        }
        if item.contains_key("n") {
            n.push(keep(item, &["pk", "sk", "n", "t"]));
        }
    }
    [sorted(gh), sorted(n)]
}

fn sorted(mut v: Vec<Item>) -> Vec<Item> {
    v.sort_by_key(|i| format!("{i:?}"));
    v
}

fn scan_all(t: &Table, index: Option<&str>, limit: usize) -> Vec<Item> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let mut o = ScanOptions::default()
            .limit(limit)
            .start_after(start.take());
        if let Some(i) = index {
            o = o.index(i);
        }
        let page = t.scan(o).expect("scan");
        out.extend(page.items);
        match page.last_evaluated_key {
            Some(k) => start = Some(k),
            None => return out,
        }
    }
}

fn query_all(t: &Table, kc: &str, opts: QueryOptions) -> Vec<Item> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = t
            .query(kc, opts.clone().start_after(start.take()))
            .expect("query");
        out.extend(page.items);
        match page.last_evaluated_key {
            Some(k) => start = Some(k),
            None => return out,
        }
    }
}

/// Waits for the indexes, then checks the base table, both indexes (full scans and one
/// query each) and `verify_index` against the model.
fn check(db: &Db, t: &Table, model: &BTreeMap<Key, Item>, probe: u8) {
    db.wait_for_indexes(TABLE, WAIT).expect("wait_for_indexes");
    let limit = 1 + usize::from(probe % 5);
    let base = sorted(scan_all(t, None, limit));
    assert_eq!(
        base,
        sorted(model.values().cloned().collect()),
        "base table"
    );
    let [gh, n] = derived(model);
    assert_eq!(sorted(scan_all(t, Some("by_gh"), limit)), gh, "scan by_gh");
    assert_eq!(sorted(scan_all(t, Some("by_n"), limit)), n, "scan by_n");
    let small = i64::from(probe >> 4) % 3;
    let gv = format!("v{small}");
    let want_g: Vec<Item> = gh
        .iter()
        .filter(|i| i.get("g") == Some(&AttributeValue::S(gv.clone())))
        .cloned()
        .collect();
    let got_g = query_all(
        t,
        "g = :g",
        QueryOptions::default()
            .index("by_gh")
            .value(":g", gv.as_str())
            .limit(limit),
    );
    assert_eq!(sorted(got_g), want_g, "query by_gh g = {gv}");
    let want_n: Vec<Item> = n
        .iter()
        .filter(|i| i.get("n") == Some(&AttributeValue::from(small)))
        .cloned()
        .collect();
    let got_n = query_all(
        t,
        "n = :n",
        QueryOptions::default()
            .index("by_n")
            .value(":n", small)
            .limit(limit),
    );
    assert_eq!(sorted(got_n), want_n, "query by_n n = {small}");
    for index in ["by_gh", "by_n"] {
        let r = db.verify_index(TABLE, index).expect("verify_index");
        assert!(r.is_clean(), "{r}");
    }
}

/// Applies a write's outcome: a rejected write must be a validation error and change
/// nothing; an accepted one replaces the model's item.
fn apply(
    res: Result<(), strata_engine::DbError>,
    model: &mut BTreeMap<Key, Item>,
    key: Key,
    new: Option<Item>,
) {
    let bad = new.as_ref().is_some_and(invalid);
    match res {
        Ok(()) => {
            assert!(!bad, "accepted an item with an invalid index key: {new:?}");
            match new {
                Some(i) => model.insert(key, i),
                None => model.remove(&key),
            };
        }
        Err(e) => {
            assert!(bad, "rejected a valid write of {new:?}: {e}");
            assert!(e.is_validation(), "not a validation error: {e}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let Some(first) = input.byte() else { return };
    let durability = if first % 2 == 0 {
        TableDurability::Sync
    } else {
        TableDurability::Buffered
    };
    let mut fs = FaultFs::new();
    let mut db = Db::open(DB, options(&fs)).expect("create");
    db.create_table(spec(durability)).expect("create_table");
    let mut t = db.table(TABLE).expect("table");
    let mut model: BTreeMap<Key, Item> = BTreeMap::new();
    let mut ops = 0;
    while let Some(op) = input.byte() {
        ops += 1;
        if ops > 200 {
            break;
        }
        match op % 16 {
            0..=4 => {
                // put_item of a whole item.
                let Some(key) = input.key() else { break };
                let mut item = key_item(&key);
                for (name, want) in INDEX_ATTRS {
                    let Some(v) = input.attr(want) else { break };
                    if let Some(v) = v {
                        item.insert(name, v);
                    }
                }
                for name in ["t", "o"] {
                    let Some(v) = input.plain() else { break };
                    if let Some(v) = v {
                        item.insert(name, v);
                    }
                }
                let res = t.put_item(item.clone(), PutOptions::default()).map(|_| ());
                apply(res, &mut model, key, Some(item));
            }
            5..=7 => {
                // update_item: SET or REMOVE one index key attribute and maybe `t`.
                let Some(key) = input.key() else { break };
                let (name, want) = INDEX_ATTRS[usize::from(op / 16 % 3)];
                let Some(v) = input.attr(want) else { break };
                let Some(tv) = input.plain() else { break };
                let mut new = model.get(&key).cloned().unwrap_or_else(|| key_item(&key));
                let mut opts = UpdateOptions::default();
                let mut expr = match &v {
                    Some(v) => {
                        opts = opts.value(":v", v.clone());
                        new.insert(name, v.clone());
                        format!("SET {name} = :v")
                    }
                    None => {
                        new.remove(name);
                        format!("REMOVE {name}")
                    }
                };
                if let Some(tv) = tv {
                    opts = opts.value(":t", tv.clone());
                    new.insert("t", tv);
                    expr = if v.is_some() {
                        format!("{expr}, t = :t")
                    } else {
                        format!("SET t = :t {expr}")
                    };
                }
                let res = t.update_item(key_item(&key), opts.update(expr)).map(|_| ());
                apply(res, &mut model, key, Some(new));
            }
            8 | 9 => {
                let Some(key) = input.key() else { break };
                let res = t
                    .delete_item(key_item(&key), DeleteOptions::default())
                    .map(|_| ());
                apply(res, &mut model, key, None);
            }
            10 => t.flush().expect("flush"),
            11 | 12 => {
                let Some(probe) = input.byte() else { break };
                check(&db, &t, &model, probe);
            }
            13 => {
                db.close().expect("close");
                drop(t);
                drop(db);
                (db, t) = open(&fs);
            }
            _ => {
                // Power loss: only what was synced survives; the maintainer may be
                // anywhere in a step.
                let lost = fs.recovered();
                drop(t);
                drop(db);
                fs = lost;
                (db, t) = open(&fs);
                if durability == TableDurability::Buffered {
                    model = scan_all(&t, None, 100)
                        .into_iter()
                        .map(|i| {
                            let pk = i.get("pk").and_then(|v| v.as_s()).expect("pk").to_owned();
                            let sk = (0..4i64)
                                .find(|s| i.get("sk") == Some(&AttributeValue::from(*s)))
                                .expect("sk in the key space");
                            ((pk, sk), i)
                        })
                        .collect();
                }
            }
        }
    }
    check(&db, &t, &model, 0);
    db.close().expect("close");
});
