//! Item codec and DynamoDB JSON: round trips of arbitrary items, and the decoder's
//! behaviour on arbitrary and mutated bytes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use proptest::prelude::*;
use strata_item::codec::{decode_item, decode_item_sized, encode_item};
#[cfg(feature = "serde")]
use strata_item::{AttributeValue, Item};

#[cfg(feature = "serde")]
/// Replaces empty sets (which have no DynamoDB JSON form) with NULL.
fn drop_empty_sets(v: &mut AttributeValue) {
    match v {
        AttributeValue::Ss(s) if s.is_empty() => *v = AttributeValue::Null,
        AttributeValue::Ns(s) if s.is_empty() => *v = AttributeValue::Null,
        AttributeValue::Bs(s) if s.is_empty() => *v = AttributeValue::Null,
        AttributeValue::L(l) => l.iter_mut().for_each(drop_empty_sets),
        AttributeValue::M(m) => m.values_mut().for_each(drop_empty_sets),
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn codec_round_trip(item in common::item()) {
        let bytes = encode_item(&item);
        let back = decode_item(&bytes).unwrap();
        prop_assert_eq!(&back, &item);
        prop_assert_eq!(encode_item(&back), bytes.clone());
        // The size counted while decoding is the item's size.
        let (sized, size) = decode_item_sized(&bytes).unwrap();
        prop_assert_eq!(&sized, &item);
        prop_assert_eq!(size, item.size());
    }

    #[test]
    fn codec_rejects_every_truncation_and_survives_mutation(item in common::item(), pos: prop::sample::Index, byte: u8) {
        let bytes = encode_item(&item);
        for cut in 0..bytes.len() {
            prop_assert!(decode_item(&bytes[..cut]).is_err());
        }
        let mut m = bytes.clone();
        let i = pos.index(m.len());
        m[i] = byte;
        // Whatever a mutated buffer decodes to, it must be its own canonical encoding.
        if let Ok(it) = decode_item(&m) {
            prop_assert_eq!(encode_item(&it), m);
        }
    }

    #[test]
    fn codec_arbitrary_bytes(mut bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Some(b) = bytes.first_mut() { *b = strata_item::codec::FORMAT_V1; }
        if let Ok(it) = decode_item(&bytes) {
            prop_assert_eq!(encode_item(&it), bytes);
        }
    }

    #[cfg(feature = "serde")]
    #[test]
    fn dynamo_json_round_trip(mut item in common::item()) {
        item.attributes_mut().values_mut().for_each(drop_empty_sets);
        let j = item.to_dynamo_json();
        prop_assert_eq!(Item::from_dynamo_json(&j).unwrap(), item.clone());
        let text = serde_json::to_string(&item).unwrap();
        prop_assert_eq!(serde_json::from_str::<Item>(&text).unwrap(), item);
    }
}
