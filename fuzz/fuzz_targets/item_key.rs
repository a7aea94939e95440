//! Decodes arbitrary bytes as an encoded primary key; whatever decodes must re-encode to
//! the same bytes, and two decodable keys must compare as their decoded values do.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_item::key::{
    decode_key_value, decode_primary_key, encode_key_value, encode_primary_key,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(k) = decode_primary_key(data) {
        assert_eq!(encode_primary_key(&k).expect("key types"), data);
    }
    if let Ok((v, used)) = decode_key_value(data) {
        let mut out = Vec::new();
        encode_key_value(&v, &mut out).expect("key types");
        assert_eq!(&out[..], &data[..used]);
        // Compare with the value that follows, if any, of the same type.
        if let Ok((w, _)) = decode_key_value(&data[used..]) {
            let mut out2 = Vec::new();
            encode_key_value(&w, &mut out2).expect("key types");
            let want = match (&v, &w) {
                (strata_item::AttributeValue::N(a), strata_item::AttributeValue::N(b)) => {
                    Some(a.cmp(b))
                }
                (strata_item::AttributeValue::S(a), strata_item::AttributeValue::S(b)) => {
                    Some(a.as_bytes().cmp(b.as_bytes()))
                }
                (strata_item::AttributeValue::B(a), strata_item::AttributeValue::B(b)) => {
                    Some(a.cmp(b))
                }
                _ => None,
            };
            if let Some(want) = want {
                assert_eq!(out.cmp(&out2), want);
            }
        }
    }
});
