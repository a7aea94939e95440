//! The key encoding orders exactly as DynamoDB orders keys, and round-trips.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::cmp::Ordering;

use proptest::prelude::*;
use strata_item::key::{
    decode_key_value, decode_primary_key, encode_key_prefix, encode_key_value,
    encode_partition_prefix, encode_primary_key, partition_range,
};
use strata_item::{AttributeValue, PrimaryKey};

/// DynamoDB's order of two key values of the same type.
fn reference_cmp(a: &AttributeValue, b: &AttributeValue) -> Ordering {
    match (a, b) {
        (AttributeValue::S(x), AttributeValue::S(y)) => x.as_bytes().cmp(y.as_bytes()),
        (AttributeValue::B(x), AttributeValue::B(y)) => x.cmp(y),
        (AttributeValue::N(x), AttributeValue::N(y)) => {
            // Independent reference: compare as exact decimals through bigdecimal.
            use std::str::FromStr;
            let bx = bigdecimal::BigDecimal::from_str(&x.to_string()).unwrap();
            let by = bigdecimal::BigDecimal::from_str(&y.to_string()).unwrap();
            bx.cmp(&by)
        }
        _ => unreachable!("same-type comparison only"),
    }
}

fn enc(v: &AttributeValue) -> Vec<u8> {
    let mut out = Vec::new();
    encode_key_value(v, &mut out).unwrap();
    out
}

/// Pairs of key values of one type.
fn same_type_pair() -> impl Strategy<Value = (AttributeValue, AttributeValue)> {
    prop_oneof![
        (common::number(), common::number())
            .prop_map(|(a, b)| (AttributeValue::N(a), AttributeValue::N(b))),
        (common::key_string(), common::key_string())
            .prop_map(|(a, b)| (AttributeValue::S(a), AttributeValue::S(b))),
        (common::key_bytes(), common::key_bytes())
            .prop_map(|(a, b)| (AttributeValue::B(a), AttributeValue::B(b))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn value_order_matches_reference((a, b) in same_type_pair()) {
        let (ea, eb) = (enc(&a), enc(&b));
        prop_assert_eq!(ea.cmp(&eb), reference_cmp(&a, &b), "{:?} vs {:?}", a, b);
        // Prefix-free: distinct values never encode one as a prefix of the other.
        if a != b {
            prop_assert!(!ea.starts_with(&eb) && !eb.starts_with(&ea));
        }
        let (da, used) = decode_key_value(&ea).unwrap();
        prop_assert_eq!(used, ea.len());
        prop_assert_eq!(da, a);
    }

    #[test]
    fn primary_key_order_is_lexicographic(
        (p1, p2) in same_type_pair(),
        (s1, s2) in same_type_pair(),
        same_partition: bool,
    ) {
        let p2 = if same_partition { p1.clone() } else { p2 };
        let k1 = PrimaryKey { partition: p1.clone(), sort: Some(s1.clone()) };
        let k2 = PrimaryKey { partition: p2.clone(), sort: Some(s2.clone()) };
        let want = reference_cmp(&p1, &p2).then_with(|| reference_cmp(&s1, &s2));
        let (e1, e2) = (encode_primary_key(&k1).unwrap(), encode_primary_key(&k2).unwrap());
        prop_assert_eq!(e1.cmp(&e2), want);
        // The partition range holds exactly the keys with that partition value.
        let (start, end) = partition_range(&p1).unwrap();
        prop_assert!(e1 >= start && e1 < end);
        prop_assert_eq!(e2 >= start && e2 < end, p1 == p2);
        prop_assert!(e1.starts_with(&encode_partition_prefix(&p1).unwrap()));
        prop_assert_eq!(decode_primary_key(&e1).unwrap(), k1);
    }

    #[test]
    fn begins_with_prefix((a, b) in prop_oneof![
        (common::key_string(), common::key_string()).prop_map(|(a, b)| (AttributeValue::S(a), AttributeValue::S(b))),
        (common::key_bytes(), common::key_bytes()).prop_map(|(a, b)| (AttributeValue::B(a), AttributeValue::B(b))),
    ]) {
        let mut p = Vec::new();
        encode_key_prefix(&a, &mut p).unwrap();
        let starts = match (&a, &b) {
            (AttributeValue::S(x), AttributeValue::S(y)) => y.as_bytes().starts_with(x.as_bytes()),
            (AttributeValue::B(x), AttributeValue::B(y)) => y.starts_with(x),
            _ => unreachable!(),
        };
        prop_assert_eq!(enc(&b).starts_with(&p), starts);
    }

    #[test]
    fn decode_never_panics_and_is_canonical(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
        if let Ok((v, used)) = decode_key_value(&bytes) {
            prop_assert_eq!(&enc(&v)[..], &bytes[..used]);
        }
        if let Ok(k) = decode_primary_key(&bytes) {
            prop_assert_eq!(encode_primary_key(&k).unwrap(), bytes);
        }
    }
}
