//! Item sizes against DynamoDB's documented rules ("Item sizes and formats" in the
//! DynamoDB developer guide) and capacity-unit arithmetic examples.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use strata_item::{AttributeValue, Item, Number, item};

#[test]
fn documented_rules() {
    // Strings: name bytes + UTF-8 bytes.
    assert_eq!(item! { "name" => "héllo" }.size(), 4 + 6);
    // Numbers: name + 1 byte per two significant digits + 1; leading/trailing zeros trimmed.
    let n = |s: &str| Number::parse(s).unwrap();
    assert_eq!(item! { "n" => n("123456") }.size(), 1 + 3 + 1);
    assert_eq!(item! { "n" => n("0012345600") }.size(), 1 + 3 + 1);
    assert_eq!(item! { "n" => n("1.5") }.size(), 1 + 1 + 1);
    assert_eq!(item! { "n" => n("12345") }.size(), 1 + 3 + 1);
    // Binary: raw bytes, not base64.
    assert_eq!(item! { "b" => vec![0u8; 10] }.size(), 1 + 10);
    // Null and Boolean: 1 byte.
    assert_eq!(
        item! { "z" => AttributeValue::Null, "t" => true }.size(),
        1 + 1 + 1 + 1
    );
    // Empty list or map: 3 bytes.
    assert_eq!(item! { "l" => AttributeValue::L(vec![]) }.size(), 1 + 3);
    assert_eq!(
        item! { "m" => AttributeValue::M(BTreeMap::new()) }.size(),
        1 + 3
    );
    // Each list or map element costs 1 byte more; map entries count their names.
    let m = AttributeValue::from(BTreeMap::from([
        ("a".to_string(), AttributeValue::from("xyz")),
        ("bb".to_string(), AttributeValue::from(7)),
    ]));
    assert_eq!(item! { "m" => m }.size(), 1 + 3 + (1 + 1 + 3) + (1 + 2 + 2));
    // Sets: the sum of their elements.
    assert_eq!(
        item! { "ss" => AttributeValue::string_set(["ab", "cde"]) }.size(),
        2 + 5
    );
}

#[test]
fn capacity_unit_example() {
    // A 1 KB item: with a 2-byte name "pk", a 4-byte key value and a "data" string padded
    // so that the total is exactly 1024 bytes, one more byte crosses into the second WCU.
    let mut it: Item = item! { "pk" => "user" };
    let pad = 1024 - it.size() - "data".len();
    it.insert("data", "x".repeat(pad));
    assert_eq!(it.size(), 1024);
    assert_eq!(it.size().div_ceil(1024), 1);
    it.insert("data", "x".repeat(pad + 1));
    assert_eq!(it.size().div_ceil(1024), 2);
}
