//! Errors never echo unbounded caller input: every error of this crate that quotes a
//! name, key, token, path or value cuts it to a fixed size, and still says what is wrong
//! and where. Each case builds an oversized input, and checks the message (at most
//! 2 KB, DynamoDB's wording, the start of the offending input) and the error's fields
//! (its `Debug` form, at most 4 KB).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::{Debug, Display};

use serde_json::json;
use strata_item::expr::{self, AttributePath, Condition, ExprError, ExprKind, Operand, Projection};
use strata_item::validate::{ValidationError, validate_item, validate_value};
use strata_item::{AttributeValue as AV, Item, KeyError, KeySchema, KeyType, Number, item};

/// Longest message allowed.
const MAX_MESSAGE: usize = 2048;
/// Longest `Debug` form (all fields) allowed.
const MAX_DEBUG: usize = 4096;

/// Checks the error's size and that its message contains every one of `wants`.
fn check<E: Display + Debug>(what: &str, e: &E, wants: &[&str]) {
    let msg = e.to_string();
    assert!(
        msg.len() <= MAX_MESSAGE,
        "{what}: message of {} bytes: {}",
        msg.len(),
        &msg[..msg.len().min(300)]
    );
    let debug = format!("{e:?}");
    assert!(
        debug.len() <= MAX_DEBUG,
        "{what}: Debug of {} bytes",
        debug.len()
    );
    for want in wants {
        assert!(
            msg.contains(want),
            "{what}: {msg:?} should contain {want:?}"
        );
    }
}

fn x(n: usize) -> String {
    "x".repeat(n)
}

fn names(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn values(pairs: Vec<(&str, AV)>) -> HashMap<String, AV> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn no_names() -> HashMap<String, String> {
    HashMap::new()
}

fn no_values() -> HashMap<String, AV> {
    HashMap::new()
}

/// The first 20 bytes of `s`: what a cut message still shows.
fn head(s: &str) -> &str {
    &s[..20]
}

#[test]
fn placeholder_keys() {
    let bad = format!("#{}-", x(100_000));
    let e = expr::parse_projection("a", &names(&[(&bad, "a")])).unwrap_err();
    assert!(matches!(&e, ExprError::InvalidPlaceholderKey { key, .. } if key.len() < 200));
    check(
        "a 100 KB name key",
        &e,
        &[
            "ExpressionAttributeNames contains invalid key: Syntax error; key: \"#xxx",
            "more bytes)\"",
        ],
    );

    let bad = format!(":{}-", x(100_000));
    let e =
        expr::parse_condition("a = :a", &no_names(), &values(vec![(&bad, 1.into())])).unwrap_err();
    check(
        "a 100 KB value key",
        &e,
        &[
            "ExpressionAttributeValues contains invalid key",
            head(&bad),
            "more bytes",
        ],
    );

    let empty_name = format!("#{}", x(100_000));
    let e = expr::parse_projection("a", &names(&[(&empty_name, "")])).unwrap_err();
    check(
        "a 100 KB key of an empty name",
        &e,
        &[
            "ExpressionAttributeNames contains invalid value: Empty attribute name for key #xxx",
            "more bytes",
        ],
    );

    let empty_set = format!(":{}", x(100_000));
    let e = expr::parse_condition(
        "a = :a",
        &no_names(),
        &values(vec![(&empty_set, AV::Ss(BTreeSet::new()))]),
    )
    .unwrap_err();
    check(
        "a 100 KB key of an empty set",
        &e,
        &[
            "ExpressionAttributeValues contains invalid value: One or more parameter values were invalid: An string set  may not be empty for key :xxx",
            "more bytes",
        ],
    );
}

#[test]
fn unused_placeholders_are_counted_not_listed() {
    let long = "y".repeat(50);
    let many_names: HashMap<String, String> = (0..10_000)
        .map(|i| (format!("#unused{i:05}_{long}"), "a".to_string()))
        .collect();
    let e = expr::parse_projection("a", &many_names).unwrap_err();
    match &e {
        ExprError::UnusedNames { keys, total } => {
            assert_eq!(*total, 10_000);
            assert!(!keys.is_empty() && keys.len() <= 8, "{}", keys.len());
            assert!(keys[0].starts_with("#unused00000_"), "sorted: {}", keys[0]);
        }
        other => panic!("{other:?}"),
    }
    check(
        "10,000 unused names",
        &e,
        &[
            "Value provided in ExpressionAttributeNames unused in expressions: keys: {#unused00000_",
            "and 9992 more}",
        ],
    );

    let mut many_values: HashMap<String, AV> = (0..10_000)
        .map(|i| (format!(":unused{i:05}_{long}"), AV::from(i)))
        .collect();
    many_values.insert(":a".into(), 1.into());
    let e = expr::parse_condition("a = :a", &no_names(), &many_values).unwrap_err();
    assert!(
        matches!(&e, ExprError::UnusedValues { total: 10_000, .. }),
        "{e:?}"
    );
    check(
        "10,000 unused values",
        &e,
        &[
            "Value provided in ExpressionAttributeValues unused in expressions: keys: {:unused00000_",
            "and 9992 more}",
        ],
    );

    // A few long keys: each is cut.
    let three: HashMap<String, String> = (0..3)
        .map(|i| (format!("#k{i}{}", x(60_000)), "a".to_string()))
        .collect();
    let e = expr::parse_projection("a", &three).unwrap_err();
    check(
        "three unused 60 KB names",
        &e,
        &["keys: {#k0xxx", "more bytes"],
    );
}

#[test]
fn placeholders_of_ordinary_size_are_quoted_whole() {
    let key = format!("#{}-", x(100));
    let e = expr::parse_projection("a", &names(&[(&key, "a")])).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("ExpressionAttributeNames contains invalid key: Syntax error; key: \"{key}\"")
    );
    let e =
        expr::parse_projection("a", &names(&[("#a", "a"), ("#b", "b"), ("#c", "c")])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#a, #b, #c}"
    );
}

#[test]
fn long_tokens_of_an_expression() {
    // Each expression is under DynamoDB's 4 KB, each message under 2 KB.
    let ident = "c".repeat(4000);
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "syntax",
            format!("a = b {ident}"),
            "Syntax error; token: \"ccc",
        ),
        (
            "undefined name",
            format!("attribute_exists(#{ident})"),
            "An expression attribute name used in the document path is not defined; attribute name: #ccc",
        ),
        (
            "undefined value",
            format!("a = :{ident}"),
            "An expression attribute value used in expression is not defined; attribute value: :ccc",
        ),
        (
            "unknown function",
            format!("{ident}(a)"),
            "Invalid function name; function: ccc",
        ),
        (
            "list index",
            format!("attribute_exists(a[{}])", "9".repeat(4000)),
            "List index is not within the allowable range; index: 999",
        ),
    ];
    for (what, src, want) in cases {
        let e = expr::parse_condition(&src, &no_names(), &no_values()).unwrap_err();
        check(
            what,
            &e,
            &["Invalid ConditionExpression: ", want, "more bytes"],
        );
    }
    let e =
        expr::parse_update(&format!("SET a = {ident}(b)"), &no_names(), &no_values()).unwrap_err();
    check(
        "unknown update function",
        &e,
        &[
            "Invalid UpdateExpression: Invalid function name; function: ccc",
            "more bytes",
        ],
    );
}

/// The check of `p = p` built in Rust.
fn same_path_twice(p: AttributePath, kind: ExprKind) -> Result<(), ExprError> {
    Condition::Compare {
        op: expr::Comparator::Eq,
        left: Operand::Path(p.clone()),
        right: Operand::Path(p),
    }
    .check(kind)
}

#[test]
fn long_names_in_paths_of_expressions() {
    let huge = x(100_000);
    let long_name = names(&[("#a", &huge)]);

    let e = expr::parse_condition("#a = #a", &long_name, &no_values()).unwrap_err();
    check(
        "a 100 KB name on both sides",
        &e,
        &[
            "The first operand must be distinct from the remaining operands for this operator or function; operator: =, first operand: [xxx",
            "more bytes",
        ],
    );

    let one = values(vec![(":x", 1.into())]);
    let e = expr::parse_update("SET #a = :x, #a.b = :x", &long_name, &one).unwrap_err();
    check(
        "overlapping 100 KB names in an update",
        &e,
        &[
            "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [xxx",
            "path two: [xxx",
        ],
    );

    let e = expr::parse_projection("#a, #a.b", &long_name).unwrap_err();
    check(
        "overlapping 100 KB names in a projection",
        &e,
        &[
            "Two document paths overlap with each other",
            "path two: [xxx",
        ],
    );

    let e = expr::parse_projection("#a.b, #a[0]", &long_name).unwrap_err();
    check(
        "conflicting 100 KB names in a projection",
        &e,
        &["Two document paths conflict with each other", "more bytes"],
    );

    let typed = Projection::new(vec![
        AttributePath::new(huge.clone()),
        AttributePath::new(huge.clone()).key("b"),
    ]);
    check(
        "overlapping 100 KB names in a typed projection",
        &typed.check().unwrap_err(),
        &["Invalid ProjectionExpression: Two document paths overlap"],
    );

    // 41 names of 100 KB: the path is too deep, and is not quoted at all.
    let mut deep = AttributePath::new(huge.clone());
    for _ in 0..40 {
        deep = deep.key(huge.clone());
    }
    let e = Condition::AttributeExists(deep.clone())
        .check(ExprKind::Filter)
        .unwrap_err();
    check(
        "a typed path of 41 100 KB names",
        &e,
        &["The document path has too many nesting levels; nesting levels: 41"],
    );
    let e = same_path_twice(deep, ExprKind::Filter).unwrap_err();
    check(
        "a typed comparison of 41 100 KB names",
        &e,
        &["Invalid FilterExpression"],
    );

    // The same path of 32 names of 60 KB on both sides: the path is quoted, cut.
    let mut long = AttributePath::new(x(60_000));
    for _ in 0..31 {
        long = long.key(x(60_000));
    }
    let e = same_path_twice(long, ExprKind::Condition).unwrap_err();
    check(
        "32 names of 60 KB on both sides",
        &e,
        &["first operand: [xxx", "more bytes"],
    );
}

#[test]
fn long_values_in_expressions() {
    let big = AV::S(x(400_000));
    let e = expr::parse_condition(
        "attribute_type(a, :t)",
        &no_names(),
        &values(vec![(":t", big.clone())]),
    )
    .unwrap_err();
    check(
        "a 400 KB type name",
        &e,
        &["Invalid attribute type name found; type: xxx", "more bytes"],
    );

    let e = expr::parse_condition(
        "a BETWEEN :l AND :h",
        &no_names(),
        &values(vec![(":l", big.clone()), (":h", 1.into())]),
    )
    .unwrap_err();
    check(
        "400 KB bounds of different types",
        &e,
        &[
            "The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: AttributeValue: {S:xxx",
            "more bytes), upper bound operand: AttributeValue: {N:1}",
        ],
    );

    let e = expr::parse_condition(
        "a BETWEEN :l AND :h",
        &no_names(),
        &values(vec![
            (":l", AV::B(vec![9; 300_000])),
            (":h", AV::B(vec![1])),
        ]),
    )
    .unwrap_err();
    check(
        "300 KB binary bounds in the wrong order",
        &e,
        &[
            "upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {B:CQkJ",
            "upper bound operand: AttributeValue: {B:AQ==}",
        ],
    );

    // A value given to an expression built in Rust: an empty name deep under long
    // names is reported with its path, cut.
    let value = AV::from(BTreeMap::from([(
        x(60_000),
        AV::from(BTreeMap::from([(String::new(), AV::Null)])),
    )]));
    let e = Condition::Compare {
        op: expr::Comparator::Eq,
        left: Operand::Path(AttributePath::new("a")),
        right: Operand::Value(value),
    }
    .check(ExprKind::Condition)
    .unwrap_err();
    check(
        "an empty name under a 60 KB name in a typed value",
        &e,
        &[
            "An attribute name cannot be empty (at <value>.xxx",
            "more bytes",
        ],
    );
}

#[test]
fn key_conditions_with_long_key_names() {
    let pk = x(100_000);
    let e = expr::parse_key_condition(
        "z = :v",
        &no_names(),
        &values(vec![(":v", 1.into())]),
        &pk,
        None,
    )
    .unwrap_err();
    check(
        "a 100 KB partition key name",
        &e,
        &[
            "Query condition missed key schema element: xxx",
            "more bytes",
        ],
    );
}

/// 40 maps, each under a 60 KB name, around a number.
fn deep_under_long_names() -> AV {
    let mut v = AV::from(1);
    for i in 0..40 {
        v = AV::from(BTreeMap::from([(format!("{i}{}", "n".repeat(60_000)), v)]));
    }
    v
}

/// `inner` under two maps with 60 KB names.
fn under_two_long_names(inner: AV) -> AV {
    AV::from(BTreeMap::from([(
        "n".repeat(60_000),
        AV::from(BTreeMap::from([("m".repeat(60_000), inner)])),
    )]))
}

#[test]
fn item_validation_paths_are_cut() {
    let e = validate_item(&item! { "d" => deep_under_long_names() }, None).unwrap_err();
    assert!(matches!(&e, ValidationError::TooDeep { path } if path.len() < 1024));
    check(
        "a too-deep value under 60 KB names",
        &e,
        &[
            "Nesting Levels have exceeded supported limits",
            "(at d.39nnn",
            "more bytes)",
        ],
    );

    let e = validate_item(
        &item! { "d" => under_two_long_names(AV::Ss(BTreeSet::new())) },
        None,
    )
    .unwrap_err();
    check(
        "an empty set under 60 KB names",
        &e,
        &[
            "One or more parameter values were invalid: An string set may not be empty (at d.nnn",
            // Each name is cut, so both show.
            "more bytes).mmm",
        ],
    );

    let e = validate_item(
        &item! { "d" => under_two_long_names(AV::from(BTreeMap::from([(String::new(), AV::Null)]))) },
        None,
    )
    .unwrap_err();
    check(
        "an empty name under 60 KB names",
        &e,
        &[
            "An attribute name cannot be empty (at d.nnn",
            "more bytes).mmm",
        ],
    );

    let too_long = AV::from(BTreeMap::from([(x(65_536), AV::Null)]));
    let e = validate_item(&item! { "d" => under_two_long_names(too_long) }, None).unwrap_err();
    check(
        "a 64 KB name under 60 KB names",
        &e,
        &["Attribute name is too large", "(at d.nnn", ": 65536 bytes)"],
    );

    let e = validate_value(&deep_under_long_names()).unwrap_err();
    check("a too-deep value on its own", &e, &["(at <value>.39nnn"]);

    let e = AV::try_string_set([x(400_000), x(400_000)]).unwrap_err();
    check(
        "a duplicated 400 KB string",
        &e,
        &["Input collection [xxx", "more bytes)] contains duplicates."],
    );
    let e = AV::try_binary_set([vec![1u8; 400_000], vec![1u8; 400_000]]).unwrap_err();
    check(
        "a duplicated 400 KB binary",
        &e,
        &["Input collection [[1, 1, 1", "contains duplicates."],
    );

    // Ordinary paths are unchanged.
    let e = validate_item(
        &item! { "m" => AV::from(BTreeMap::from([("in".to_string(), AV::L(vec![AV::Bs(BTreeSet::new())]))])) },
        None,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "One or more parameter values were invalid: An binary set may not be empty (at m.in[0])"
    );
}

#[test]
fn key_errors_with_long_names() {
    let name = x(100_000);
    let schema = KeySchema::simple(name.clone(), KeyType::S);
    let e = validate_item(&item! { "a" => 1 }, Some(&schema)).unwrap_err();
    check(
        "a missing 100 KB key name",
        &e,
        &["Missing the key xxx", "more bytes) in the item"],
    );
    let mut it = Item::new();
    it.insert(name.clone(), AV::from(1));
    let e = schema.extract_key(&it).unwrap_err();
    assert!(matches!(&e, KeyError::TypeMismatch { name, .. } if name.len() < 200));
    check(
        "a mistyped 100 KB key name",
        &e,
        &["Type mismatch for key xxx", "expected: S actual: N"],
    );
    check(
        "a 100 KB key name in a schema",
        &schema.validate().unwrap_err(),
        &["invalid key schema: key attribute name must be 1 to 255 bytes, got 100000 bytes"],
    );
}

#[test]
fn numbers() {
    let e = Number::parse(&format!("1{}", x(100_000))).unwrap_err();
    check(
        "a 100 KB invalid number",
        &e,
        &[
            "The parameter cannot be converted to a numeric value: 1xxx",
            "more bytes)",
        ],
    );
    // Ordinary input is quoted whole.
    assert_eq!(
        Number::parse("12abc").unwrap_err().to_string(),
        "The parameter cannot be converted to a numeric value: 12abc"
    );
}

#[test]
fn json_errors() {
    let mut deep = json!({"N": "1"});
    for i in 0..40 {
        let mut m = serde_json::Map::new();
        m.insert(format!("{i}{}", "n".repeat(60_000)), deep);
        deep = json!({ "M": m });
    }
    let e = Item::from_dynamo_json(&json!({ "d": deep })).unwrap_err();
    check(
        "a too-deep JSON value under 60 KB names",
        &e,
        &[
            "Nesting Levels have exceeded supported limits",
            "(at item.d.M.39nnn",
        ],
    );

    let huge = x(100_000);
    let cases = vec![
        (
            "a 100 KB type descriptor",
            json!({ "a": { huge.clone(): "1" } }),
            vec!["unknown attribute value type \"xxx", "(at item.a.xxx"],
        ),
        (
            "an empty set under a 100 KB name",
            json!({ huge.clone(): { "SS": [] } }),
            vec![
                "An string set may not be empty (at item.xxx",
                "more bytes).SS)",
            ],
        ),
        (
            "a duplicated 400 KB string",
            json!({ "s": { "SS": [x(400_000), x(400_000)] } }),
            vec![
                "Input collection [xxx",
                "contains duplicates. (at item.s.SS[1])",
            ],
        ),
        (
            "a duplicated 300 KB binary",
            json!({ "b": { "BS": ["A".repeat(400_000), "A".repeat(400_000)] } }),
            vec!["Input collection [AAA", "more bytes)] contains duplicates."],
        ),
        (
            "a 100 KB invalid number",
            json!({ "n": { "N": huge.clone() } }),
            vec![
                "cannot be converted to a numeric value: xxx",
                "(at item.n.N)",
            ],
        ),
    ];
    for (what, v, wants) in cases {
        let e = Item::from_dynamo_json(&v).unwrap_err();
        check(what, &e, &wants);
    }

    let e = Item::from_dynamo_json_str(&format!("{{\"{huge}")).unwrap_err();
    check("100 KB of broken JSON", &e, &["invalid JSON: "]);
}
