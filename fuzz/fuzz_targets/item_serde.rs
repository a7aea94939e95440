//! Feeds arbitrary items through `from_item` into a few struct shapes (flat scalars,
//! nested structs and lists, enums, sets, bytes, maps of `AttributeValue`, `Number`,
//! flatten and untagged enums) and back: no input may panic, and whatever reads must
//! write back (`to_item`) and read again to the same value.
//!
//! The item comes from the item codec when the bytes decode as one (so the fuzzer can
//! reach any item), else from a small generator that prefers the shapes' field names.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};

use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use strata_item::{AttributeValue, Item, Number, from_item, to_item};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Flat {
    id: String,
    n: i64,
    small: Option<u8>,
    flag: bool,
    ratio: Option<f64>,
    c: Option<char>,
    #[serde(with = "strata_item::bytes", default)]
    data: Vec<u8>,
    tags: Vec<String>,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Inner {
    name: String,
    n: Option<i32>,
    list: Option<Vec<Inner>>,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Kind {
    A,
    B(i64),
    C { name: String },
    D(u16, String),
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Nested {
    id: u32,
    nested: Inner,
    list: Vec<Inner>,
    kind: Kind,
    pair: Option<(i16, String)>,
    unit: Option<()>,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Sets {
    #[serde(with = "strata_item::sets::string_set", default)]
    tags: BTreeSet<String>,
    #[serde(with = "strata_item::sets::number_set", default)]
    n: BTreeSet<i64>,
    // A set has no order: a `Vec` here would read an `L` in its order and come back
    // from the `BS` sorted, so the shape uses ordered sets only.
    #[serde(with = "strata_item::sets::binary_set", default)]
    data: BTreeSet<Vec<u8>>,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Loose {
    id: Option<Number>,
    nested: Option<BTreeMap<String, AttributeValue>>,
    list: Option<Vec<AttributeValue>>,
    #[serde(flatten)]
    rest: BTreeMap<String, AttributeValue>,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum Either {
    Num { n: i64 },
    Named { name: String, flag: Option<bool> },
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
enum Tagged {
    A { n: i64 },
    B { name: String },
}

/// Reads `item` as `T`; if it reads, writes it back and reads again: same value.
fn round_trip<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(item: &Item) {
    let Ok(value) = from_item::<T>(item.clone()) else {
        return;
    };
    let back = to_item(&value).unwrap_or_else(|e| panic!("{value:?} read but does not write: {e}"));
    let again = from_item::<T>(back.clone())
        .unwrap_or_else(|e| panic!("{value:?} wrote {back:?}, which does not read: {e}"));
    assert_eq!(again, value, "round trip changed the value (item {back:?})");
}

const NAMES: [&str; 12] = [
    "id", "n", "small", "flag", "ratio", "c", "data", "tags", "nested", "list", "kind", "name",
];
const NUMBERS: [&str; 12] = [
    "0",
    "1",
    "-1",
    "255",
    "256",
    "1.5",
    "-0.5",
    "1e3",
    "9223372036854775807",
    "9223372036854775808",
    "1E+125",
    "0.000000000000000000000000000000000000001",
];

struct Gen<'a> {
    bytes: &'a [u8],
}

impl Gen<'_> {
    fn byte(&mut self) -> u8 {
        match self.bytes.split_first() {
            Some((b, rest)) => {
                self.bytes = rest;
                *b
            }
            None => 0,
        }
    }

    fn string(&mut self) -> String {
        let n = usize::from(self.byte() % 6);
        let b = self.byte();
        if b & 0x80 != 0 {
            return NAMES[usize::from(b) % NAMES.len()].to_owned();
        }
        (0..n)
            .map(|_| char::from(b'a' + self.byte() % 26))
            .collect()
    }

    fn number(&mut self) -> Number {
        let s = NUMBERS[usize::from(self.byte()) % NUMBERS.len()];
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn value(&mut self, depth: u32) -> AttributeValue {
        let pick = self.byte() % if depth >= 4 { 6 } else { 12 };
        match pick {
            0 => AttributeValue::S(self.string()),
            1 => AttributeValue::N(self.number()),
            2 => AttributeValue::B((0..self.byte() % 4).map(|_| self.byte()).collect()),
            3 => AttributeValue::Bool(self.byte() & 1 == 1),
            4 => AttributeValue::Null,
            5 => AttributeValue::S(char::from(self.byte()).to_string()),
            6 | 7 => {
                let n = self.byte() % 4;
                AttributeValue::L((0..n).map(|_| self.value(depth + 1)).collect())
            }
            8 | 9 => AttributeValue::from(self.item(depth + 1)),
            10 => AttributeValue::Ss((0..1 + self.byte() % 3).map(|_| self.string()).collect()),
            _ => AttributeValue::Ns((0..1 + self.byte() % 3).map(|_| self.number()).collect()),
        }
    }

    fn item(&mut self, depth: u32) -> Item {
        let mut item = Item::new();
        for _ in 0..self.byte() % 8 {
            let name = NAMES[usize::from(self.byte()) % NAMES.len()];
            let v = self.value(depth);
            item.insert(name, v);
        }
        item
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&shape, rest)) = data.split_first() else {
        return;
    };
    let item = match strata_item::codec::decode_item(rest) {
        Ok(item) if shape & 0x80 != 0 => item,
        _ => Gen { bytes: rest }.item(0),
    };
    match shape % 7 {
        0 => round_trip::<Flat>(&item),
        1 => round_trip::<Nested>(&item),
        2 => round_trip::<Sets>(&item),
        3 => round_trip::<Loose>(&item),
        4 => round_trip::<Either>(&item),
        5 => round_trip::<Tagged>(&item),
        _ => round_trip::<BTreeMap<String, AttributeValue>>(&item),
    }
});
