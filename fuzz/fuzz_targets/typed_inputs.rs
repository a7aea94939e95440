//! Builds typed inputs from the fuzz bytes — attribute values, items, conditions,
//! key conditions and projections, with nesting as deep as the bytes ask for — and runs
//! them through every entry point that takes them: the checks, evaluation, projection,
//! item validation, the codec, DynamoDB JSON, clone, compare and drop. All of it runs on
//! a thread with a 256 KiB stack, so recursion that input can deepen is a finding.
//!
//! The bytes are a small stack-machine program (see `Builder::run`); one opcode can
//! repeat its action up to 65,535 times, so deep trees take few bytes.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};

use libfuzzer_sys::fuzz_target;
use strata_item::expr::{
    AttributePath, Comparator, Condition, ExprKind, KeyCondition, Operand, Projection,
    SortKeyCondition,
};
use strata_item::{AttributeValue, Item, codec, validate::validate_value, validate_item};

/// The stack every entry point must fit in, whatever the input.
const SMALL_STACK: usize = 256 * 1024;

/// Upper bound on nodes one input builds, so each run stays fast.
const MAX_NODES: usize = 200_000;

#[derive(Default)]
struct Builder {
    values: Vec<AttributeValue>,
    operands: Vec<Operand>,
    conditions: Vec<Condition>,
    paths: Vec<AttributePath>,
    nodes: usize,
}

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*b)
    }

    /// A repeat count: one byte, or (with the high bit set) two bytes up to 32,767.
    fn count(&mut self) -> usize {
        match self.byte() {
            Some(b) if b & 0x80 != 0 => {
                (usize::from(b & 0x7f) << 8) | usize::from(self.byte().unwrap_or(0))
            }
            Some(b) => usize::from(b),
            None => 0,
        }
    }
}

fn comparator(b: u8) -> Comparator {
    [
        Comparator::Eq,
        Comparator::Ne,
        Comparator::Lt,
        Comparator::Le,
        Comparator::Gt,
        Comparator::Ge,
    ][usize::from(b) % 6]
}

impl Builder {
    fn value(&mut self) -> AttributeValue {
        self.values.pop().unwrap_or(AttributeValue::Null)
    }

    fn operand(&mut self) -> Operand {
        self.operands
            .pop()
            .unwrap_or_else(|| Operand::Value(AttributeValue::Null))
    }

    fn condition(&mut self) -> Condition {
        self.conditions
            .pop()
            .unwrap_or_else(|| Condition::AttributeExists(AttributePath::new("a")))
    }

    fn path(&mut self) -> AttributePath {
        self.paths.pop().unwrap_or_else(|| AttributePath::new("a"))
    }

    fn budget(&mut self, n: usize) -> usize {
        let n = n.min(MAX_NODES.saturating_sub(self.nodes));
        self.nodes += n;
        n
    }

    fn run(&mut self, b: &mut Bytes<'_>) {
        while let Some(op) = b.byte() {
            if self.nodes >= MAX_NODES {
                return;
            }
            match op % 24 {
                // Values.
                0 => {
                    let n = b.byte().unwrap_or(0);
                    self.values.push(AttributeValue::from(i64::from(n) - 128));
                }
                1 => {
                    let n = usize::from(b.byte().unwrap_or(0) % 4);
                    self.values
                        .push(AttributeValue::from(["", "a", "ab", "b"][n]));
                }
                2 => self
                    .values
                    .push(AttributeValue::Bool(b.byte().unwrap_or(0) % 2 == 1)),
                3 => self.values.push(AttributeValue::Null),
                4 => {
                    let n = usize::from(b.byte().unwrap_or(0) % 3);
                    let set: BTreeSet<String> =
                        ["a", "b"].iter().take(n).map(|s| s.to_string()).collect();
                    self.values.push(AttributeValue::Ss(set));
                }
                5 => {
                    let n = self.budget(b.count());
                    let mut v = self.value();
                    for _ in 0..n {
                        v = AttributeValue::L(vec![v]);
                    }
                    self.values.push(v);
                }
                6 => {
                    let n = self.budget(b.count());
                    let mut v = self.value();
                    for _ in 0..n {
                        v = AttributeValue::from(BTreeMap::from([("k".to_string(), v)]));
                    }
                    self.values.push(v);
                }
                7 => {
                    let (x, y) = (self.value(), self.value());
                    self.values.push(AttributeValue::L(vec![y, x]));
                }
                // Paths.
                8 => {
                    let n = usize::from(b.byte().unwrap_or(0) % 6);
                    self.paths
                        .push(AttributePath::new(["a", "b", "l", "m", "", "count"][n]));
                }
                9 => {
                    let n = self.budget(b.count());
                    let mut p = self.path();
                    for i in 0..n {
                        p = if i % 2 == 0 { p.key("a") } else { p.index(0) };
                    }
                    self.paths.push(p);
                }
                10 => {
                    let p = self.path();
                    self.paths.push(p.index(u32::MAX));
                }
                // Operands.
                11 => {
                    let p = self.path();
                    self.operands.push(Operand::Path(p));
                }
                12 => {
                    let v = self.value();
                    self.operands.push(Operand::Value(v));
                }
                13 => {
                    let n = self.budget(b.count());
                    let mut o = self.operand();
                    for _ in 0..n {
                        o = Operand::Size(Box::new(o));
                    }
                    self.operands.push(o);
                }
                // Conditions.
                14 => {
                    let op = comparator(b.byte().unwrap_or(0));
                    let (right, left) = (self.operand(), self.operand());
                    self.conditions.push(Condition::Compare { op, left, right });
                }
                15 => {
                    let (high, low, operand) = (self.operand(), self.operand(), self.operand());
                    self.conditions
                        .push(Condition::Between { operand, low, high });
                }
                16 => {
                    let n = self.budget(b.count());
                    let operand = self.operand();
                    let list = (0..n)
                        .map(|i| Operand::Value(AttributeValue::from(i)))
                        .collect();
                    self.conditions.push(Condition::In { operand, list });
                }
                17 => {
                    let p = self.path();
                    let c = match b.byte().unwrap_or(0) % 3 {
                        0 => Condition::AttributeExists(p),
                        1 => Condition::AttributeNotExists(p),
                        _ => Condition::AttributeType {
                            path: p,
                            type_name: ["S", "N", "L", "XX"]
                                [usize::from(b.byte().unwrap_or(0) % 4)],
                        },
                    };
                    self.conditions.push(c);
                }
                18 => {
                    let (second, first) = (self.operand(), self.operand());
                    self.conditions.push(if b.byte().unwrap_or(0) % 2 == 0 {
                        Condition::BeginsWith {
                            operand: first,
                            prefix: second,
                        }
                    } else {
                        Condition::Contains {
                            operand: first,
                            value: second,
                        }
                    });
                }
                19 => {
                    let n = self.budget(b.count());
                    let mut c = self.condition();
                    for _ in 0..n {
                        c = Condition::Not(Box::new(c));
                    }
                    self.conditions.push(c);
                }
                20 => {
                    let (b_, a) = (self.condition(), self.condition());
                    self.conditions
                        .push(Condition::And(Box::new(a), Box::new(b_)));
                }
                21 => {
                    let (b_, a) = (self.condition(), self.condition());
                    self.conditions
                        .push(Condition::Or(Box::new(a), Box::new(b_)));
                }
                22 => {
                    // A chain: n times (c AND leaf) or (leaf OR c).
                    let n = self.budget(b.count());
                    let mut c = self.condition();
                    for i in 0..n {
                        let leaf = Condition::AttributeExists(AttributePath::new("a"));
                        c = if i % 2 == 0 {
                            Condition::And(Box::new(c), Box::new(leaf))
                        } else {
                            Condition::Or(Box::new(leaf), Box::new(c))
                        };
                    }
                    self.conditions.push(c);
                }
                _ => {
                    let n = self.budget(b.count());
                    for i in 0..n {
                        self.paths.push(AttributePath::new(format!("p{}", i % 512)));
                    }
                }
            }
        }
    }
}

fn exercise(data: &[u8]) {
    let mut builder = Builder::default();
    builder.run(&mut Bytes(data));
    let Builder {
        values,
        operands,
        conditions,
        paths,
        ..
    } = builder;

    let mut item = Item::new();
    for (i, v) in values.iter().enumerate().take(8) {
        let _ = validate_value(v);
        let _ = v.size();
        let _ = format!("{v:?}");
        let _ = serde_json::to_string(v);
        item.insert(["a", "b", "l", "m", "s", "t", "u", "w"][i], v.clone());
    }
    let _ = validate_item(&item, None);
    let bytes = codec::encode_item(&item);
    match codec::decode_item(&bytes) {
        Ok(back) => assert!(back == item, "codec round trip"),
        Err(e) => assert!(matches!(e, codec::CodecError::TooDeep { .. }), "{e}"),
    }
    let copy = item.clone();
    assert!(copy == item);

    for c in &conditions {
        let checked = c.check(ExprKind::Condition);
        let _ = c.check(ExprKind::Filter);
        let _ = c.matches(&item);
        if checked.is_ok() {
            // Within the limits, the derived recursive impls are safe to use.
            let copy = c.clone();
            assert!(copy == *c);
            let _ = format!("{c:?}");
        }
    }
    drop(operands);

    let projection = Projection::new(paths);
    if projection.check().is_ok() {
        let _ = projection.apply(&item);
    }
    let _ = projection.apply(&Item::new());

    let mut values = values.into_iter();
    let partition = values.next().unwrap_or(AttributeValue::from("p"));
    let sort = values
        .next()
        .map(|v| match data.first().copied().unwrap_or(0) % 4 {
            0 => SortKeyCondition::Lt(v),
            1 => SortKeyCondition::BeginsWith(v),
            2 => SortKeyCondition::Between(v, values.next().unwrap_or(AttributeValue::Null)),
            _ => SortKeyCondition::Eq(v),
        });
    let kc = KeyCondition { partition, sort };
    let _ = kc.check();
    drop(conditions);
}

fuzz_target!(|data: &[u8]| {
    let data = data.to_vec();
    let worker = std::thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(move || exercise(&data))
        .expect("spawn the small-stack worker");
    if let Err(panic) = worker.join() {
        std::panic::resume_unwind(panic);
    }
});
