//! Proptest strategies shared by the property tests.
#![allow(dead_code)]

use std::collections::BTreeMap;

use proptest::prelude::*;
use strata_item::{AttributeValue, Item, Number};

/// Valid numbers, biased towards collisions: few distinct digit patterns, exponents close
/// together, both signs, zero, and the extremes of the range.
pub fn number() -> impl Strategy<Value = Number> {
    let digits = prop_oneof![
        3 => "[1-9][0-9]{0,3}",
        2 => "[1-9][0-9]{0,37}",
        1 => "[19]{1,38}",
        1 => Just("1".to_string()),
    ];
    let exp = prop_oneof![3 => -6i32..6, 1 => -170i32..130];
    (any::<bool>(), digits, exp).prop_filter_map("in range", |(neg, d, e)| {
        let text = format!("{}{}e{}", if neg { "-" } else { "" }, d, e);
        Number::parse(&text).ok()
    })
}

pub fn key_string() -> impl Strategy<Value = String> {
    // Small alphabet with NUL, 0x01 and multi-byte characters to stress the escaping.
    proptest::collection::vec(
        prop_oneof![
            Just('\0'),
            Just('\u{1}'),
            Just('a'),
            Just('b'),
            Just('é'),
            Just('\u{FFFF}')
        ],
        0..6,
    )
    .prop_map(|v| v.into_iter().collect())
}

pub fn key_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![Just(0u8), Just(1u8), Just(0x7F), Just(0xFE), Just(0xFF)],
        0..6,
    )
}

fn scalar() -> impl Strategy<Value = AttributeValue> {
    prop_oneof![
        ".{0,12}".prop_map(AttributeValue::S),
        number().prop_map(AttributeValue::N),
        proptest::collection::vec(any::<u8>(), 0..12).prop_map(AttributeValue::B),
        any::<bool>().prop_map(AttributeValue::Bool),
        Just(AttributeValue::Null),
        proptest::collection::btree_set(".{0,6}", 0..4).prop_map(AttributeValue::Ss),
        proptest::collection::btree_set(number(), 0..4).prop_map(AttributeValue::Ns),
        proptest::collection::btree_set(proptest::collection::vec(any::<u8>(), 0..5), 0..4)
            .prop_map(AttributeValue::Bs),
    ]
}

/// Any attribute value, nested up to a few levels.
pub fn value() -> impl Strategy<Value = AttributeValue> {
    scalar().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(AttributeValue::L),
            proptest::collection::btree_map(".{0,6}", inner, 0..6).prop_map(AttributeValue::from),
        ]
    })
}

pub fn item() -> impl Strategy<Value = Item> {
    proptest::collection::btree_map(".{0,10}", value(), 0..8)
        .prop_map(|m: BTreeMap<String, AttributeValue>| Item::from(m))
}
