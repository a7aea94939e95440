//! Differential fuzzing of the item API: random `put_item` / `update_item` /
//! `delete_item` (with and without conditions, with every return-values choice),
//! `get_item`, queries (key conditions, both directions, limits, pagination, filters,
//! on the table and on its LSI), `batch_write_item`, `batch_get_item`, flushes, clean
//! reopens and simulated power loss, on a `Db` over `FaultFs`, against a model (a
//! `BTreeMap` of key → item).
//!
//! Two tables: `items` (pk S, sk N, 3 partitions, an LSI `by_l` on `l` N projecting `v`)
//! and `plain` (pk S only, 2 partitions). Keys come from a small domain (12 and 4 keys) so
//! operations collide; a few key bytes make an invalid key (empty pk, missing or
//! mistyped sort key). Attributes: `v` (a small number, or a string so arithmetic and
//! comparisons meet the wrong type), `l` (the LSI key: a number, or a string, which
//! `items` must refuse), `s` (a string set for ADD/DELETE), `t` (a string of any length,
//! so memtables fill and flush).
//!
//! After every operation the result must be what the model says: the returned items,
//! the pages of a query in order, `ConditionalCheckFailed` exactly when the model's
//! condition is false, and a validation error exactly when the model says the request
//! is invalid — and then nothing changed (the next checks see the old state). Full
//! scans of both tables and of the LSI are compared with the model now and then and at
//! the end.
//!
//! The first input byte picks the durability of both tables. `Sync`: every
//! acknowledged write survives a power loss, so the model is kept. `Buffered`: a power
//! loss may drop unsynced writes, so the model becomes what the recovered tables hold
//! (the LSI must still agree with it).
#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use strata_engine::{
    BatchGetRequest, Db, DbError, DbOptions, DeleteOptions, GetOptions, IndexProjection, LsiSpec,
    PutOptions, QueryOptions, ReturnValues, ReturnValuesOnConditionCheckFailure, ScanOptions,
    Table, TableDurability, TableSpec, UpdateOptions, WriteRequest,
};
use strata_fs::FaultFs;
use strata_item::{AttributeValue, Item, KeySchema, KeyType};

const DB: &str = "/db";
const TABLES: [&str; 2] = ["items", "plain"];
const LSI: &str = "by_l";

/// A valid key: table (0 = `t`, 1 = `u`), partition key, sort key (0 for `u`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    table: usize,
    pk: String,
    sk: i64,
}

impl Key {
    fn item(&self) -> Item {
        let mut k = Item::new();
        k.insert("pk", self.pk.as_str());
        if self.table == 0 {
            k.insert("sk", self.sk);
        }
        k
    }
}

/// A key argument: valid, or an invalid key item (the request must be refused).
#[derive(Debug, Clone)]
enum KeyArg {
    Valid(Key),
    Bad(Item),
}

impl KeyArg {
    fn item(&self) -> Item {
        match self {
            KeyArg::Valid(k) => k.item(),
            KeyArg::Bad(i) => i.clone(),
        }
    }
}

type Model = BTreeMap<Key, Item>;

fn options(fs: &FaultFs) -> DbOptions {
    let mut o = DbOptions::small(Arc::new(fs.clone()));
    // Tiny memtables: flushes (and compactions) happen within one input.
    o.tree.memtable_size = 2048;
    o
}

fn create(db: &Db, durability: TableDurability) {
    db.create_table(
        TableSpec::new(
            TABLES[0],
            KeySchema::composite("pk", KeyType::S, "sk", KeyType::N),
        )
        .partitions(3)
        .durability(durability)
        .lsi(
            LsiSpec::new(LSI, "l", KeyType::N)
                .projection(IndexProjection::Include(vec!["v".into()])),
        ),
    )
    .expect("create t");
    db.create_table(
        TableSpec::new(TABLES[1], KeySchema::simple("pk", KeyType::S))
            .partitions(2)
            .durability(durability),
    )
    .expect("create u");
}

fn open(fs: &FaultFs) -> (Db, [Table; 2]) {
    let db = Db::open(DB, options(fs)).expect("open");
    let tables = TABLES.map(|n| db.table(n).expect("table"));
    (db, tables)
}

#[path = "common/input.rs"]
mod input;
use input::Input;

impl Input<'_> {
    fn key(&mut self, table: usize) -> Option<KeyArg> {
        let b = self.byte()?;
        if b >= 250 {
            let mut k = Item::new();
            match (table, b % 3) {
                (0, 0) => {
                    k.insert("pk", "");
                    k.insert("sk", 0);
                }
                (0, 1) => {
                    k.insert("pk", "a");
                }
                (0, _) => {
                    k.insert("pk", "a");
                    k.insert("sk", "x");
                }
                (_, 0) => {
                    k.insert("pk", "");
                }
                (_, 1) => {
                    k.insert("pk", 1);
                }
                _ => {
                    k.insert("pk", AttributeValue::B(vec![1]));
                }
            }
            return Some(KeyArg::Bad(k));
        }
        Some(KeyArg::Valid(if table == 0 {
            Key {
                table,
                pk: ["a", "b", "c"][usize::from(b % 3)].to_owned(),
                sk: i64::from(b / 3 % 4),
            }
        } else {
            Key {
                table,
                pk: ["a", "b", "c", "d"][usize::from(b % 4)].to_owned(),
                sk: 0,
            }
        }))
    }

    fn small(&mut self) -> Option<i64> {
        Some(i64::from(self.byte()? % 4))
    }

    /// A value for `v`: a small number, or (rarely) a string.
    fn v(&mut self) -> Option<AttributeValue> {
        let b = self.byte()?;
        Some(if b % 8 == 7 {
            AttributeValue::S("x".into())
        } else {
            AttributeValue::from(i64::from(b % 4))
        })
    }

    /// A value for `l`: a small number, or (rarely) a string `items` must refuse.
    fn l(&mut self) -> Option<AttributeValue> {
        let b = self.byte()?;
        Some(if b % 8 == 7 {
            AttributeValue::S("bad".into())
        } else {
            AttributeValue::from(i64::from(b % 4))
        })
    }

    /// A non-empty string set over {p, q, r}.
    fn set(&mut self) -> Option<BTreeSet<String>> {
        let b = self.byte()?;
        let bits = (b % 7) + 1;
        Some(
            ["p", "q", "r"]
                .iter()
                .enumerate()
                .filter(|(i, _)| bits & (1 << i) != 0)
                .map(|(_, s)| (*s).to_owned())
                .collect(),
        )
    }

    fn text(&mut self) -> Option<String> {
        let b = self.byte()?;
        Some("x".repeat(usize::from(b) * 3))
    }

    /// An item with the given key and random attributes.
    fn item(&mut self, key: &KeyArg) -> Option<Item> {
        let mut item = key.item();
        let b = self.byte()?;
        if b & 1 != 0 {
            item.insert("v", self.v()?);
        }
        if b & 2 != 0 {
            item.insert("l", self.l()?);
        }
        if b & 4 != 0 {
            item.insert("s", AttributeValue::Ss(self.set()?));
        }
        if b & 8 != 0 {
            item.insert("t", self.text()?);
        }
        Some(item)
    }

    fn cond(&mut self) -> Option<Cond> {
        let b = self.byte()?;
        Some(match b % 11 {
            0 | 1 => Cond::None,
            2 => Cond::NotExists,
            3 => Cond::Exists,
            4 => Cond::Cmp("=", self.small()?),
            5 => Cond::Cmp("<", self.small()?),
            6 => Cond::Cmp(">=", self.small()?),
            7 => Cond::Cmp("<>", self.small()?),
            8 => Cond::HasL,
            9 => Cond::Between(self.small()?, self.small()?),
            _ => Cond::Contains(["p", "q", "z"][usize::from(b / 11 % 3)].to_owned()),
        })
    }

    fn action(&mut self, table: usize) -> Option<Act> {
        let b = self.byte()?;
        Some(match b % 13 {
            0 => Act::SetV(self.v()?),
            1 => Act::SetVPlus(self.small()?),
            2 => Act::SetVIfNot(self.small()?),
            3 => Act::AddV(self.small()?),
            4 => Act::RemoveV,
            5 => Act::SetL(self.l()?),
            6 => Act::RemoveL,
            7 => Act::AddS(self.set()?),
            8 => Act::DelS(self.set()?),
            9 => Act::SetT(self.text()?),
            10 => Act::RemoveT,
            11 => Act::SetV(AttributeValue::from(i64::from(b / 13 % 4))),
            _ => Act::SetKey(if table == 0 { "sk" } else { "pk" }),
        })
    }
}

fn num(v: Option<&AttributeValue>) -> Option<i64> {
    v?.as_n()?.to_i64()
}

/// A condition on the item (absent attributes when there is no item).
#[derive(Debug, Clone)]
enum Cond {
    None,
    NotExists,
    Exists,
    Cmp(&'static str, i64),
    HasL,
    Between(i64, i64),
    Contains(String),
}

impl Cond {
    /// The expression and its values, or `None` for no condition.
    fn expr(&self) -> Option<(String, Vec<(&'static str, AttributeValue)>)> {
        Some(match self {
            Cond::None => return None,
            Cond::NotExists => ("attribute_not_exists(pk)".into(), vec![]),
            Cond::Exists => ("attribute_exists(pk)".into(), vec![]),
            Cond::Cmp(op, x) => (format!("v {op} :c"), vec![(":c", (*x).into())]),
            Cond::HasL => ("attribute_exists(l)".into(), vec![]),
            Cond::Between(lo, hi) => (
                "v BETWEEN :lo AND :hi".into(),
                vec![(":lo", (*lo).into()), (":hi", (*hi).into())],
            ),
            Cond::Contains(e) => ("contains(s, :e)".into(), vec![(":e", e.as_str().into())]),
        })
    }

    /// Invalid whatever the item (DynamoDB refuses BETWEEN with low > high).
    fn invalid(&self) -> bool {
        matches!(self, Cond::Between(lo, hi) if lo > hi)
    }

    fn holds(&self, item: Option<&Item>) -> bool {
        let get = |n: &str| item.and_then(|i| i.get(n));
        let v = get("v");
        match self {
            Cond::None => true,
            Cond::NotExists => item.is_none(),
            Cond::Exists => item.is_some(),
            Cond::Cmp(op, x) => match (v, num(v)) {
                (None, _) => *op == "<>",
                (Some(_), None) => *op == "<>",
                (Some(_), Some(n)) => match *op {
                    "=" => n == *x,
                    "<" => n < *x,
                    ">=" => n >= *x,
                    _ => n != *x,
                },
            },
            Cond::HasL => get("l").is_some(),
            Cond::Between(lo, hi) => num(v).is_some_and(|n| *lo <= n && n <= *hi),
            Cond::Contains(e) => matches!(get("s"), Some(AttributeValue::Ss(s)) if s.contains(e)),
        }
    }
}

/// One update action; each names one top-level attribute.
#[derive(Debug, Clone)]
enum Act {
    SetV(AttributeValue),
    SetVPlus(i64),
    SetVIfNot(i64),
    AddV(i64),
    RemoveV,
    SetL(AttributeValue),
    RemoveL,
    AddS(BTreeSet<String>),
    DelS(BTreeSet<String>),
    SetT(String),
    RemoveT,
    SetKey(&'static str),
}

impl Act {
    fn attr(&self) -> &'static str {
        match self {
            Act::SetV(_) | Act::SetVPlus(_) | Act::SetVIfNot(_) | Act::AddV(_) | Act::RemoveV => {
                "v"
            }
            Act::SetL(_) | Act::RemoveL => "l",
            Act::AddS(_) | Act::DelS(_) => "s",
            Act::SetT(_) | Act::RemoveT => "t",
            Act::SetKey(k) => k,
        }
    }
}

/// Builds the update expression and its values.
fn update_expr(acts: &[Act]) -> (String, Vec<(String, AttributeValue)>) {
    let (mut set, mut remove, mut add, mut delete) = (vec![], vec![], vec![], vec![]);
    let mut values = vec![];
    for (i, a) in acts.iter().enumerate() {
        let p = format!(":p{i}");
        match a {
            Act::SetV(x) => {
                set.push(format!("v = {p}"));
                values.push((p, x.clone()));
            }
            Act::SetVPlus(d) => {
                set.push(format!("v = v + {p}"));
                values.push((p, (*d).into()));
            }
            Act::SetVIfNot(d) => {
                set.push(format!("v = if_not_exists(v, :z{i}) + {p}"));
                values.push((p, (*d).into()));
                values.push((format!(":z{i}"), 0i64.into()));
            }
            Act::AddV(d) => {
                add.push(format!("v {p}"));
                values.push((p, (*d).into()));
            }
            Act::RemoveV | Act::RemoveL | Act::RemoveT => remove.push(a.attr().to_owned()),
            Act::SetL(x) => {
                set.push(format!("l = {p}"));
                values.push((p, x.clone()));
            }
            Act::AddS(s) => {
                add.push(format!("s {p}"));
                values.push((p, AttributeValue::Ss(s.clone())));
            }
            Act::DelS(s) => {
                delete.push(format!("s {p}"));
                values.push((p, AttributeValue::Ss(s.clone())));
            }
            Act::SetT(t) => {
                set.push(format!("t = {p}"));
                values.push((p, t.as_str().into()));
            }
            Act::SetKey(k) => {
                set.push(format!("{k} = {p}"));
                values.push((p, if *k == "pk" { "a".into() } else { 0i64.into() }));
            }
        }
    }
    let mut expr = String::new();
    for (word, parts) in [
        ("SET", set),
        ("REMOVE", remove),
        ("ADD", add),
        ("DELETE", delete),
    ] {
        if !parts.is_empty() {
            expr.push_str(&format!("{word} {} ", parts.join(", ")));
        }
    }
    (expr, values)
}

/// What the model says an update does to `base` (the old item or the bare key):
/// `None` when it fails as a validation error at evaluation time.
fn apply_update(acts: &[Act], base: &Item) -> Option<Item> {
    let mut new = base.clone();
    let v = base.get("v");
    for a in acts {
        match a {
            Act::SetV(x) => {
                new.insert("v", x.clone());
            }
            Act::SetVPlus(d) => {
                new.insert("v", num(Some(v?))? + d);
            }
            Act::SetVIfNot(d) | Act::AddV(d) => match v {
                None => {
                    new.insert("v", *d);
                }
                Some(v) => {
                    new.insert("v", num(Some(v))? + d);
                }
            },
            Act::RemoveV | Act::RemoveL | Act::RemoveT => {
                new.remove(a.attr());
            }
            Act::SetL(x) => {
                new.insert("l", x.clone());
            }
            Act::AddS(s) => {
                let mut cur = match base.get("s") {
                    Some(AttributeValue::Ss(c)) => c.clone(),
                    _ => BTreeSet::new(),
                };
                cur.extend(s.iter().cloned());
                new.insert("s", AttributeValue::Ss(cur));
            }
            Act::DelS(s) => {
                if let Some(AttributeValue::Ss(c)) = base.get("s") {
                    let rest: BTreeSet<String> = c.difference(s).cloned().collect();
                    if rest.is_empty() {
                        new.remove("s");
                    } else {
                        new.insert("s", AttributeValue::Ss(rest));
                    }
                }
            }
            Act::SetT(t) => {
                new.insert("t", t.as_str());
            }
            Act::SetKey(_) => return None,
        }
    }
    Some(new)
}

/// Whether the model refuses `item` for its table (a bad key, or an LSI key of the
/// wrong type in `items`).
fn invalid_item(key: &KeyArg, item: &Item) -> bool {
    match key {
        KeyArg::Bad(_) => true,
        KeyArg::Valid(k) => {
            k.table == 0
                && item
                    .get("l")
                    .is_some_and(|l| !matches!(l, AttributeValue::N(_)))
        }
    }
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

/// Outcome the model expects of a single-item write.
enum Expect {
    Invalid,
    CheckFails,
    Ok,
}

/// Checks an error against the model's expectation (`Expect::Ok` never gets here).
fn expect_error(e: &DbError, want: &Expect, old: Option<&Item>, asked_old: bool, what: &str) {
    match (want, e) {
        (Expect::Invalid, e) => assert!(e.is_validation(), "{what}: not a validation error: {e}"),
        (Expect::CheckFails, DbError::ConditionalCheckFailed { item, .. }) => {
            let want_item = if asked_old { old } else { None };
            assert_eq!(item.as_ref(), want_item, "{what}: item of the failed check");
        }
        (Expect::CheckFails, e) => panic!("{what}: want ConditionalCheckFailed, got {e}"),
        (Expect::Ok, e) => panic!("{what}: failed against the model: {e}"),
    }
}

/// Adds each `(placeholder, value)` to the options with `f` (the options types share no trait).
fn with_values<O>(
    mut o: O,
    values: Vec<(impl Into<String>, AttributeValue)>,
    f: fn(O, String, AttributeValue) -> O,
) -> O {
    for (n, v) in values {
        o = f(o, n.into(), v);
    }
    o
}

/// Every page of a query, checking each page against the limit.
fn query_all(t: &Table, kc: &str, opts: &QueryOptions) -> Result<Vec<Item>, DbError> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = t.query(kc, opts.clone().start_after(start.take()))?;
        if let Some(l) = opts.limit {
            assert!(page.scanned_count <= l, "page over the limit");
        }
        assert_eq!(page.count, page.items.len());
        out.extend(page.items);
        match page.last_evaluated_key {
            Some(k) => start = Some(k),
            None => return Ok(out),
        }
    }
}

fn scan_all(t: &Table, index: Option<&str>) -> Vec<Item> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let mut o = ScanOptions::default().limit(5).start_after(start.take());
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

/// The LSI entries the model derives for partition `pk` (all when `None`), in index
/// order: (l, sk), projecting the keys and `v`.
fn lsi_view(model: &Model, pk: Option<&str>) -> Vec<(i64, Key, Item)> {
    let mut out: Vec<(i64, Key, Item)> = model
        .iter()
        .filter(|(k, _)| k.table == 0 && pk.is_none_or(|p| k.pk == p))
        .filter_map(|(k, i)| {
            let l = num(i.get("l"))?;
            Some((l, k.clone(), keep(i, &["pk", "sk", "l", "v"])))
        })
        .collect();
    out.sort_by(|a, b| (&a.1.pk, a.0, a.1.sk).cmp(&(&b.1.pk, b.0, b.1.sk)));
    out
}

fn sorted(mut v: Vec<Item>) -> Vec<Item> {
    v.sort_by_key(|i| format!("{i:?}"));
    v
}

fn key_of(table: usize, i: &Item) -> Key {
    Key {
        table,
        pk: i.get("pk").and_then(|v| v.as_s()).expect("pk").to_owned(),
        sk: if table == 0 {
            num(i.get("sk")).expect("sk")
        } else {
            0
        },
    }
}

/// Full scans of both tables and of the LSI against the model.
fn check_all(tables: &[Table; 2], model: &Model) {
    for (n, t) in tables.iter().enumerate() {
        let want: Vec<Item> = model
            .iter()
            .filter(|(k, _)| k.table == n)
            .map(|(_, i)| i.clone())
            .collect();
        assert_eq!(
            sorted(scan_all(t, None)),
            sorted(want),
            "scan of {}",
            TABLES[n]
        );
    }
    let want: Vec<Item> = lsi_view(model, None).into_iter().map(|e| e.2).collect();
    assert_eq!(
        sorted(scan_all(&tables[0], Some(LSI))),
        sorted(want),
        "scan of the LSI"
    );
}

/// Reads the model back from the tables (after a power loss with buffered writes).
fn read_model(tables: &[Table; 2]) -> Model {
    let mut m = Model::new();
    for (n, t) in tables.iter().enumerate() {
        for i in scan_all(t, None) {
            m.insert(key_of(n, &i), i);
        }
    }
    m
}

/// What a put or delete under `cond` must do to an item stored as `old`,
/// when its own input is `invalid` or not.
fn expect(cond: &Cond, old: Option<&Item>, invalid: bool) -> Expect {
    if cond.invalid() || invalid {
        Expect::Invalid
    } else if !cond.holds(old) {
        Expect::CheckFails
    } else {
        Expect::Ok
    }
}

struct State {
    fs: FaultFs,
    db: Db,
    tables: [Table; 2],
    model: Model,
    durability: TableDurability,
}

impl State {
    /// The model's item under `key` (none for a malformed key).
    fn stored(&self, key: &KeyArg) -> Option<Item> {
        match key {
            KeyArg::Valid(k) => self.model.get(k).cloned(),
            KeyArg::Bad(_) => None,
        }
    }

    fn put(&mut self, input: &mut Input<'_>, table: usize) -> Option<()> {
        let key = input.key(table)?;
        let item = input.item(&key)?;
        let cond = input.cond()?;
        let flags = input.byte()?;
        let old = self.stored(&key);
        let want = expect(&cond, old.as_ref(), invalid_item(&key, &item));
        let mut o = PutOptions::default();
        if let Some((e, values)) = cond.expr() {
            o = with_values(o.condition(e), values, |o, n, v| o.value(n, v));
        }
        let all_old = flags & 1 != 0;
        if all_old {
            o = o.return_values(ReturnValues::AllOld);
        }
        let asked = flags & 2 != 0;
        if asked {
            o = o.return_values_on_condition_check_failure(
                ReturnValuesOnConditionCheckFailure::AllOld,
            );
        }
        let what = format!("put {item:?} if {cond:?}");
        match self.tables[table].put_item(item.clone(), o) {
            Ok(out) => {
                assert!(
                    matches!(want, Expect::Ok),
                    "{what}: succeeded against the model"
                );
                let want_attrs = if all_old { old } else { None };
                assert_eq!(out.attributes, want_attrs, "{what}: returned");
                if let KeyArg::Valid(k) = key {
                    self.model.insert(k, item);
                }
            }
            Err(e) => expect_error(&e, &want, old.as_ref(), asked, &what),
        }
        Some(())
    }

    fn update(&mut self, input: &mut Input<'_>, table: usize) -> Option<()> {
        let key = input.key(table)?;
        let n = 1 + input.byte()? % 3;
        let mut acts = Vec::new();
        for _ in 0..n {
            acts.push(input.action(table)?);
        }
        let cond = input.cond()?;
        let flags = input.byte()?;
        let old = self.stored(&key);
        let names: Vec<&str> = acts.iter().map(Act::attr).collect();
        let overlap = (1..names.len()).any(|i| names[..i].contains(&names[i]));
        let sets_key = acts.iter().any(|a| matches!(a, Act::SetKey(_)));
        let mut new = None;
        let want = if cond.invalid() || overlap || sets_key || matches!(key, KeyArg::Bad(_)) {
            Expect::Invalid
        } else if !cond.holds(old.as_ref()) {
            Expect::CheckFails
        } else {
            let base = old.clone().unwrap_or_else(|| key.item());
            match apply_update(&acts, &base) {
                Some(item) if !invalid_item(&key, &item) => {
                    new = Some(item);
                    Expect::Ok
                }
                _ => Expect::Invalid,
            }
        };
        let (expr, values) = update_expr(&acts);
        let mut o = with_values(
            UpdateOptions::default().update(expr.clone()),
            values,
            |o, n, v| o.value(n, v),
        );
        if let Some((e, values)) = cond.expr() {
            o = with_values(o.condition(e), values, |o, n, v| o.value(n, v));
        }
        let rv = [
            ReturnValues::None,
            ReturnValues::AllOld,
            ReturnValues::AllNew,
            ReturnValues::UpdatedOld,
            ReturnValues::UpdatedNew,
        ][usize::from(flags % 5)];
        o = o.return_values(rv);
        let asked = flags & 8 != 0;
        if asked {
            o = o.return_values_on_condition_check_failure(
                ReturnValuesOnConditionCheckFailure::AllOld,
            );
        }
        let what = format!("update {key:?} with {expr} if {cond:?} (old {old:?})");
        match self.tables[table].update_item(key.item(), o) {
            Ok(out) => {
                let (Expect::Ok, Some(new), KeyArg::Valid(k)) = (want, new, key) else {
                    panic!("{what}: succeeded against the model");
                };
                let base = old.clone().unwrap_or_else(|| k.item());
                let non_empty = |i: Item| (!i.is_empty()).then_some(i);
                let want_attrs = match rv {
                    ReturnValues::None => None,
                    ReturnValues::AllOld => old,
                    ReturnValues::AllNew => Some(new.clone()),
                    ReturnValues::UpdatedOld => non_empty(keep(&base, &names)),
                    ReturnValues::UpdatedNew => non_empty(keep(&new, &names)),
                };
                assert_eq!(out.attributes, want_attrs, "{what}: returned ({rv:?})");
                self.model.insert(k, new);
            }
            Err(e) => expect_error(&e, &want, old.as_ref(), asked, &what),
        }
        Some(())
    }

    fn delete(&mut self, input: &mut Input<'_>, table: usize) -> Option<()> {
        let key = input.key(table)?;
        let cond = input.cond()?;
        let flags = input.byte()?;
        let old = self.stored(&key);
        let want = expect(&cond, old.as_ref(), matches!(key, KeyArg::Bad(_)));
        let mut o = DeleteOptions::default();
        if let Some((e, values)) = cond.expr() {
            o = with_values(o.condition(e), values, |o, n, v| o.value(n, v));
        }
        let all_old = flags & 1 != 0;
        if all_old {
            o = o.return_values(ReturnValues::AllOld);
        }
        let asked = flags & 2 != 0;
        if asked {
            o = o.return_values_on_condition_check_failure(
                ReturnValuesOnConditionCheckFailure::AllOld,
            );
        }
        let what = format!("delete {key:?} if {cond:?}");
        match self.tables[table].delete_item(key.item(), o) {
            Ok(out) => {
                let (Expect::Ok, KeyArg::Valid(k)) = (want, key) else {
                    panic!("{what}: succeeded against the model");
                };
                let want_attrs = if all_old { old } else { None };
                assert_eq!(out.attributes, want_attrs, "{what}: returned");
                self.model.remove(&k);
            }
            Err(e) => expect_error(&e, &want, old.as_ref(), asked, &what),
        }
        Some(())
    }

    fn get(&mut self, input: &mut Input<'_>, table: usize) -> Option<()> {
        let key = input.key(table)?;
        let flags = input.byte()?;
        let mut o = GetOptions::default().consistent_read(flags & 1 != 0);
        let projected = flags & 2 != 0;
        if projected {
            o = o.projection("pk, v, l");
        }
        let res = self.tables[table].get_item(key.item(), o);
        match key {
            KeyArg::Bad(_) => {
                let e = res.expect_err("get with a bad key succeeded");
                assert!(e.is_validation(), "get with a bad key: {e}");
            }
            KeyArg::Valid(k) => {
                let got = res.expect("get").item;
                let mut want = self.model.get(&k).cloned();
                if projected {
                    want = want.map(|i| keep(&i, &["pk", "v", "l"]));
                }
                assert_eq!(got, want, "get {k:?}");
            }
        }
        Some(())
    }

    fn query(&mut self, input: &mut Input<'_>) -> Option<()> {
        let b = input.byte()?;
        let pk = ["a", "b", "c", "d"][usize::from(b % 4)];
        let table = usize::from(b / 4 % 2);
        let (lo, hi) = (input.small()?, input.small()?);
        let kind = input.byte()?;
        let flags = input.byte()?;
        let t = &self.tables[table];
        let mut o = QueryOptions::default().value(":pk", pk);
        if flags & 1 != 0 {
            o = o.reverse();
        }
        if flags & 2 != 0 {
            o = o.limit(usize::from(1 + flags / 4 % 4));
        }
        if table == 1 {
            let got = query_all(t, "pk = :pk", &o).expect("query u");
            let want: Vec<Item> = self
                .model
                .get(&Key {
                    table: 1,
                    pk: pk.to_owned(),
                    sk: 0,
                })
                .cloned()
                .into_iter()
                .collect();
            assert_eq!(got, want, "query u pk = {pk}");
            return Some(());
        }
        let on_lsi = flags & 32 != 0;
        let attr = if on_lsi { "l" } else { "sk" };
        let (cond, pred): (String, Box<dyn Fn(i64) -> bool>) = match kind % 7 {
            0 => (String::new(), Box::new(|_| true)),
            1 => (format!(" AND {attr} = :lo"), Box::new(move |s| s == lo)),
            2 => (format!(" AND {attr} < :lo"), Box::new(move |s| s < lo)),
            3 => (format!(" AND {attr} <= :lo"), Box::new(move |s| s <= lo)),
            4 => (format!(" AND {attr} > :lo"), Box::new(move |s| s > lo)),
            5 => (format!(" AND {attr} >= :lo"), Box::new(move |s| s >= lo)),
            _ => (
                format!(" AND {attr} BETWEEN :lo AND :hi"),
                Box::new(move |s| lo <= s && s <= hi),
            ),
        };
        if cond.contains(":lo") {
            o = o.value(":lo", lo);
        }
        if cond.contains(":hi") {
            o = o.value(":hi", hi);
        }
        let filter = (flags & 64 != 0).then(|| i64::from(kind / 7 % 4));
        if let Some(f) = filter {
            o = o.filter("v >= :f").value(":f", f);
        }
        let passes = |i: &Item| filter.is_none_or(|f| num(i.get("v")).is_some_and(|v| v >= f));
        let kc = format!("pk = :pk{cond}");
        let what = format!("query {kc} lo={lo} hi={hi} filter={filter:?} on_lsi={on_lsi} {o:?}");
        let mut want: Vec<Item> = if on_lsi {
            o = o.index(LSI);
            lsi_view(&self.model, Some(pk))
                .into_iter()
                .filter(|(l, _, i)| pred(*l) && passes(i))
                .map(|e| e.2)
                .collect()
        } else {
            self.model
                .iter()
                .filter(|(k, i)| k.table == 0 && k.pk == pk && pred(k.sk) && passes(i))
                .map(|(_, i)| i.clone())
                .collect()
        };
        if flags & 1 != 0 {
            want.reverse();
        }
        match query_all(t, &kc, &o) {
            Ok(got) => {
                assert!(
                    kind % 7 != 6 || lo <= hi,
                    "{what}: accepted BETWEEN with low > high"
                );
                assert_eq!(got, want, "{what}");
            }
            Err(e) => {
                assert!(kind % 7 == 6 && lo > hi, "{what}: {e}");
                assert!(e.is_validation(), "{what}: {e}");
            }
        }
        Some(())
    }

    fn batch_write(&mut self, input: &mut Input<'_>) -> Option<()> {
        let n = 1 + input.byte()? % 6;
        let mut reqs: [Vec<WriteRequest>; 2] = [vec![], vec![]];
        let mut valid = true;
        let mut keys = BTreeSet::new();
        let mut effects = Vec::new();
        for _ in 0..n {
            let b = input.byte()?;
            let table = usize::from(b % 2);
            let key = input.key(table)?;
            if b & 2 != 0 {
                let item = input.item(&key)?;
                valid &= !invalid_item(&key, &item);
                reqs[table].push(WriteRequest::Put(item.clone()));
                if let KeyArg::Valid(k) = key {
                    valid &= keys.insert(k.clone());
                    effects.push((k, Some(item)));
                }
            } else {
                reqs[table].push(WriteRequest::Delete(key.item().into()));
                match key {
                    KeyArg::Valid(k) => {
                        valid &= keys.insert(k.clone());
                        effects.push((k, None));
                    }
                    KeyArg::Bad(_) => valid = false,
                }
            }
        }
        let what = format!("batch_write {reqs:?}");
        let requests = TABLES
            .iter()
            .zip(reqs)
            .filter(|(_, r)| !r.is_empty())
            .map(|(n, r)| (*n, r));
        match self.db.batch_write_item(requests) {
            Ok(out) => {
                assert!(valid, "{what}: succeeded against the model");
                assert!(out.unprocessed_items.is_empty(), "{what}: unprocessed");
                for (k, item) in effects {
                    match item {
                        Some(i) => self.model.insert(k, i),
                        None => self.model.remove(&k),
                    };
                }
            }
            Err(e) => {
                assert!(!valid, "{what}: failed against the model: {e}");
                assert!(e.is_validation(), "{what}: {e}");
            }
        }
        Some(())
    }

    fn batch_get(&mut self, input: &mut Input<'_>) -> Option<()> {
        let n = 1 + input.byte()? % 6;
        let mut keys: [Vec<Item>; 2] = [vec![], vec![]];
        let mut valid = true;
        let mut seen = BTreeSet::new();
        let mut want: [Vec<Item>; 2] = [vec![], vec![]];
        for _ in 0..n {
            let table = usize::from(input.byte()? % 2);
            let key = input.key(table)?;
            keys[table].push(key.item());
            match key {
                KeyArg::Valid(k) => {
                    if let Some(i) = self.model.get(&k) {
                        want[table].push(i.clone());
                    }
                    valid &= seen.insert(k);
                }
                KeyArg::Bad(_) => valid = false,
            }
        }
        let what = format!("batch_get {keys:?}");
        let requests: Vec<(&str, BatchGetRequest)> = TABLES
            .iter()
            .zip(keys)
            .filter(|(_, k)| !k.is_empty())
            .map(|(n, k)| (*n, BatchGetRequest::keys(k)))
            .collect();
        let asked: Vec<&str> = requests.iter().map(|(n, _)| *n).collect();
        match self.db.batch_get_item(requests) {
            Ok(out) => {
                assert!(valid, "{what}: succeeded against the model");
                assert!(out.unprocessed_keys.is_empty(), "{what}: unprocessed");
                for (i, name) in TABLES.iter().enumerate() {
                    let got = out.responses.get(*name).cloned().unwrap_or_default();
                    if !asked.contains(name) {
                        assert!(got.is_empty(), "{what}: answer for {name}");
                    }
                    assert_eq!(sorted(got), sorted(want[i].clone()), "{what}: {name}");
                }
            }
            Err(e) => {
                assert!(!valid, "{what}: failed against the model: {e}");
                assert!(e.is_validation(), "{what}: {e}");
            }
        }
        Some(())
    }

    fn reopen(&mut self) {
        self.db.close().expect("close");
        let (db, tables) = open(&self.fs);
        self.tables = tables;
        self.db = db;
    }

    /// Power loss: only what was synced survives.
    fn power_loss(&mut self) {
        let lost = self.fs.recovered();
        self.fs = lost;
        let (db, tables) = open(&self.fs);
        self.tables = tables;
        self.db = db;
        if self.durability == TableDurability::Buffered {
            self.model = read_model(&self.tables);
        }
        check_all(&self.tables, &self.model);
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
    let fs = FaultFs::new();
    let db = Db::open(DB, options(&fs)).expect("create");
    create(&db, durability);
    let tables = TABLES.map(|n| db.table(n).expect("table"));
    let mut s = State {
        fs,
        db,
        tables,
        model: Model::new(),
        durability,
    };
    for _ in 0..200 {
        let Some(op) = input.byte() else { break };
        let table = usize::from(op / 32 % 2);
        let done = match op % 32 {
            0..=5 => s.put(&mut input, table),
            6..=10 => s.update(&mut input, table),
            11..=13 => s.delete(&mut input, table),
            14..=16 => s.get(&mut input, table),
            17..=21 => s.query(&mut input),
            22..=24 => s.batch_write(&mut input),
            25 | 26 => s.batch_get(&mut input),
            27 => {
                for t in &s.tables {
                    t.flush().expect("flush");
                }
                Some(())
            }
            28 => {
                check_all(&s.tables, &s.model);
                Some(())
            }
            29 | 30 => {
                s.reopen();
                Some(())
            }
            _ => {
                s.power_loss();
                Some(())
            }
        };
        if done.is_none() {
            break;
        }
    }
    check_all(&s.tables, &s.model);
    s.db.close().expect("close");
});
