//! Decodes arbitrary bytes as an item; whatever decodes must re-encode to the same bytes
//! (the codec is canonical), and must survive the DynamoDB JSON round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_item::codec::{decode_item, encode_item};

fuzz_target!(|data: &[u8]| {
    // Half the time force the format byte so the fuzzer explores the body.
    let mut owned;
    let bytes = if data.first().is_some_and(|b| b & 1 == 1) {
        owned = data.to_vec();
        owned[0] = strata_item::codec::FORMAT_V1;
        &owned[..]
    } else {
        data
    };
    if let Ok(item) = decode_item(bytes) {
        assert_eq!(encode_item(&item), bytes, "codec is not canonical");
        if strata_item::validate_item(&item, None).is_ok() {
            let json = item.to_dynamo_json();
            let back = strata_item::Item::from_dynamo_json(&json).expect("valid item JSON");
            assert_eq!(back, item);
        }
    }
});
