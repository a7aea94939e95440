#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Deeply nested input through every entry point of `strata-item`, each on a thread with
//! a 256 KiB stack: the answer is a clear error (or, for drops, clones and evaluation of
//! hand-built values, success), never a stack overflow.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use strata_item::expr::{
    self, AttributePath, Condition, ExprError, ExprKind, KeyCondition, Operand, Projection,
    SortKeyCondition, Substitutions, UpdateOperand,
};
use strata_item::{AttributeValue as AV, Item, ValidationError, codec, validate_item};

const SMALL_STACK: usize = 256 * 1024;

/// Runs `f` on a thread with a 256 KiB stack; a stack overflow aborts the test process.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}

/// `levels` lists and maps (alternating) around a number.
fn deep_value(levels: usize) -> AV {
    let mut v = AV::from(1);
    for i in 0..levels {
        v = if i % 2 == 0 {
            AV::L(vec![v])
        } else {
            AV::from(BTreeMap::from([("k".to_string(), v)]))
        };
    }
    v
}

fn values(pairs: Vec<(&str, AV)>) -> HashMap<String, AV> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

const NESTING: &str = "Nesting Levels have exceeded supported limits";

fn assert_invalid_value(e: &ExprError, key: &str) {
    let s = e.to_string();
    assert!(
        s.starts_with("ExpressionAttributeValues contains invalid value: ") && s.contains(NESTING),
        "{s}"
    );
    assert!(s.ends_with(&format!("for key {key}")), "{s}");
}

#[test]
fn a_thousand_nots_are_too_many_operators() {
    on_small_stack(|| {
        let src = format!("{}attribute_exists(a)", "NOT ".repeat(1000));
        assert!(src.len() < expr::MAX_EXPRESSION_BYTES);
        let none = HashMap::new();
        for e in [
            expr::parse_condition(&src, &none, &HashMap::new()).unwrap_err(),
            expr::parse_filter(&src, &none, &HashMap::new()).unwrap_err(),
        ] {
            assert!(
                matches!(e, ExprError::TooManyOperators { count: 1001, .. }),
                "{e}"
            );
        }
        let e = expr::parse_key_condition(&src, &none, &HashMap::new(), "a", None).unwrap_err();
        assert!(matches!(e, ExprError::TooManyOperators { .. }), "{e}");
        // Long AND chains too (left-deep trees).
        let src = vec!["a<b"; 400].join(" AND ");
        assert!(src.len() < expr::MAX_EXPRESSION_BYTES);
        let e = expr::parse_condition(&src, &none, &HashMap::new()).unwrap_err();
        assert!(matches!(e, ExprError::TooManyOperators { .. }), "{e}");
        // Exactly 300 is fine and evaluates.
        let src = format!("{}attribute_exists(a)", "NOT ".repeat(299));
        let c = expr::parse_condition(&src, &none, &HashMap::new()).unwrap();
        assert!(c.evaluate(&Item::new()).unwrap());
        // A condition that passed the limits can be cloned and compared on this stack.
        assert_eq!(c.clone(), c);
    });
}

#[test]
fn deep_expression_attribute_values_are_rejected_before_they_are_copied() {
    on_small_stack(|| {
        let none = HashMap::new();
        let vals = values(vec![(":v", deep_value(10_000))]);
        assert_invalid_value(
            &expr::parse_condition("a = :v", &none, &vals).unwrap_err(),
            ":v",
        );
        assert_invalid_value(
            &expr::parse_filter("a = :v", &none, &vals).unwrap_err(),
            ":v",
        );
        assert_invalid_value(
            &expr::parse_key_condition("pk = :v", &none, &vals, "pk", None).unwrap_err(),
            ":v",
        );
        assert_invalid_value(
            &expr::parse_update("SET d = :v", &none, &vals).unwrap_err(),
            ":v",
        );
        // Without validate_keys (a Substitutions used directly) the resolver still checks
        // the value before copying it.
        for parse in [
            |s: &mut Substitutions<'_>| s.parse_condition("a = :v").map(drop),
            |s: &mut Substitutions<'_>| s.parse_filter("size(a) > :v").map(drop),
            |s: &mut Substitutions<'_>| s.parse_update("SET d = :v").map(drop),
            |s: &mut Substitutions<'_>| s.parse_update("ADD d :v").map(drop),
            |s: &mut Substitutions<'_>| s.parse_key_condition("pk = :v", "pk", None).map(drop),
        ] {
            let mut subs = Substitutions::new(&none, &vals);
            assert_invalid_value(&parse(&mut subs).unwrap_err(), ":v");
        }
    });
}

#[test]
fn nesting_is_counted_as_dynamodb_counts_it() {
    on_small_stack(|| {
        let none = HashMap::new();
        // 31 wrappers around a scalar: level 32, accepted; 32 wrappers: rejected.
        let ok = values(vec![(":v", deep_value(31))]);
        assert!(expr::parse_update("SET d = :v", &none, &ok).is_ok());
        assert!(validate_item(&Item::builder().attr("d", deep_value(31)).build(), None).is_ok());
        let bad = values(vec![(":v", deep_value(32))]);
        assert_invalid_value(
            &expr::parse_update("SET d = :v", &none, &bad).unwrap_err(),
            ":v",
        );
        let e =
            validate_item(&Item::builder().attr("d", deep_value(32)).build(), None).unwrap_err();
        assert!(matches!(e, ValidationError::TooDeep { .. }), "{e}");
        assert!(e.to_string().contains(NESTING), "{e}");
    });
}

#[test]
fn empty_sets_and_empty_names_are_rejected_everywhere() {
    let none = HashMap::new();
    let empty = values(vec![(":s", AV::Ss(BTreeSet::new()))]);
    let want = "ExpressionAttributeValues contains invalid value: One or more parameter values \
                were invalid: An string set  may not be empty for key :s";
    for e in [
        expr::parse_condition("contains(a, :s)", &none, &empty).unwrap_err(),
        expr::parse_condition("a = :s", &none, &empty).unwrap_err(),
        expr::parse_filter("a <> :s", &none, &empty).unwrap_err(),
        expr::parse_update("ADD a :s", &none, &empty).unwrap_err(),
        expr::parse_update("DELETE a :s", &none, &empty).unwrap_err(),
        expr::parse_update("SET a = :s", &none, &empty).unwrap_err(),
    ] {
        assert_eq!(e.to_string(), want);
    }
    // An unused invalid value is still invalid (checked before the expressions).
    let e = expr::parse_condition("attribute_exists(a)", &none, &empty).unwrap_err();
    assert_eq!(e.to_string(), want);
    let nested = values(vec![(":n", AV::L(vec![AV::Ns(BTreeSet::new())]))]);
    let e = expr::parse_update("SET a = :n", &none, &nested).unwrap_err();
    assert!(
        e.to_string()
            .contains("An number set  may not be empty for key :n"),
        "{e}"
    );

    let names = HashMap::from([("#e".to_string(), String::new())]);
    let want = "ExpressionAttributeNames contains invalid value: Empty attribute name for key #e";
    assert_eq!(
        expr::parse_projection("#e", &names)
            .unwrap_err()
            .to_string(),
        want
    );
    assert_eq!(
        expr::parse_condition("attribute_exists(#e)", &names, &HashMap::new())
            .unwrap_err()
            .to_string(),
        want
    );
    // Without validate_keys the resolver reports it too.
    let empty_values: HashMap<String, AV> = HashMap::new();
    let mut subs = Substitutions::new(&names, &empty_values);
    assert_eq!(
        subs.parse_update("REMOVE #e").unwrap_err().to_string(),
        want
    );
}

#[test]
fn typed_conditions_of_any_depth_are_checked_evaluated_and_dropped() {
    on_small_stack(|| {
        let leaf = || Condition::AttributeExists(AttributePath::new("a"));
        let mut nots = leaf();
        for _ in 0..10_000 {
            nots = Condition::Not(Box::new(nots));
        }
        let e = nots.check(ExprKind::Condition).unwrap_err();
        assert!(
            matches!(e, ExprError::TooManyOperators { count: 10_001, .. }),
            "{e}"
        );
        // Evaluation does not recurse either (an even number of NOTs).
        assert!(!nots.matches(&Item::new()));
        drop(nots);

        let mut ands = leaf();
        for i in 0..100_000 {
            ands = if i % 2 == 0 {
                Condition::And(Box::new(ands), Box::new(leaf()))
            } else {
                Condition::Or(Box::new(leaf()), Box::new(ands))
            };
        }
        assert!(ands.check(ExprKind::Filter).is_err());
        assert!(!ands.matches(&Item::new()));
        drop(ands);

        let mut sizes = Operand::Path(AttributePath::new("a"));
        for _ in 0..100_000 {
            sizes = Operand::Size(Box::new(sizes));
        }
        let c = Condition::Compare {
            op: expr::Comparator::Gt,
            left: sizes,
            right: Operand::Value(AV::from(1)),
        };
        // size(size(..)) is an operand-type error (size() gives a number), reported
        // before the operator count, as for the string form.
        assert!(matches!(
            c.check(ExprKind::Condition).unwrap_err(),
            ExprError::OperandType { .. }
        ));
        assert!(!c.matches(&Item::builder().attr("a", "xyz").build()));
        drop(c);

        let c = Condition::Compare {
            op: expr::Comparator::Eq,
            left: Operand::Path(AttributePath::new("a")),
            right: Operand::Value(deep_value(10_000)),
        };
        let e = c.check(ExprKind::Condition).unwrap_err();
        assert!(matches!(e, ExprError::InvalidOperandValue { .. }), "{e}");
        assert!(e.to_string().contains(NESTING), "{e}");
        drop(c);

        let mut path = AttributePath::new("a");
        for _ in 0..100_000 {
            path = path.key("b");
        }
        let c = Condition::AttributeExists(path);
        assert!(matches!(
            c.check(ExprKind::Condition).unwrap_err(),
            ExprError::PathTooDeep { depth: 100_001, .. }
        ));
    });
}

#[test]
fn typed_key_conditions_and_projections_are_checked() {
    on_small_stack(|| {
        let kc = KeyCondition {
            partition: deep_value(10_000),
            sort: None,
        };
        let e = kc.check().unwrap_err();
        assert!(e.to_string().contains(NESTING), "{e}");
        let kc = KeyCondition {
            partition: AV::from("p"),
            sort: Some(SortKeyCondition::BeginsWith(AV::L(vec![deep_value(50)]))),
        };
        assert!(kc.check().is_err());
        drop(kc);

        let mut long = AttributePath::new("a");
        for i in 0..100_000 {
            long = long.index(i);
        }
        let p = Projection::new(vec![long]);
        assert!(matches!(
            p.check().unwrap_err(),
            ExprError::PathTooDeep { .. }
        ));
        // Projecting with a long path over a deep item does not recurse either.
        assert!(
            p.apply(&Item::builder().attr("a", deep_value(10_000)).build())
                .is_empty()
        );
        let cloned = p.clone();
        assert_eq!(cloned, p);
        drop(p);

        // Many paths: checked without comparing every pair.
        let many = Projection::new(
            (0..100_000)
                .map(|i| AttributePath::new(format!("a{i}")))
                .collect(),
        );
        assert_eq!(many.check(), Ok(()));
        let mut clash: Vec<AttributePath> = (0..5_000)
            .map(|i| AttributePath::new(format!("a{i}")))
            .collect();
        clash.push(AttributePath::new("a17").key("x"));
        assert!(matches!(
            Projection::new(clash).check().unwrap_err(),
            ExprError::PathOverlap { .. }
        ));
    });
}

#[test]
fn deep_projection_strings_are_rejected() {
    on_small_stack(|| {
        let src = vec!["a"; 2000].join(".");
        let e = expr::parse_projection(&src, &HashMap::new()).unwrap_err();
        assert!(
            matches!(e, ExprError::PathTooDeep { depth: 2000, .. }),
            "{e}"
        );
        let src = format!("a{}", "[0]".repeat(1300));
        let e = expr::parse_projection(&src, &HashMap::new()).unwrap_err();
        assert!(matches!(e, ExprError::PathTooDeep { .. }), "{e}");
        let src = format!("{}a{}", "(".repeat(2000), ")".repeat(2000));
        assert!(expr::parse_condition(&src, &HashMap::new(), &HashMap::new()).is_err());
        let src = format!(
            "SET a = {}b{}",
            "list_append(".repeat(500),
            ", c)".repeat(500)
        );
        assert!(expr::parse_update(&src, &HashMap::new(), &HashMap::new()).is_err());
    });
}

#[test]
fn deep_items_are_validated_sized_encoded_and_dropped() {
    on_small_stack(|| {
        for levels in [33, 1_000, 100_000] {
            let item = Item::builder().attr("d", deep_value(levels)).build();
            let e = validate_item(&item, None).unwrap_err();
            assert!(matches!(e, ValidationError::TooDeep { .. }), "{e}");
            assert!(item.size() > levels);
            let copy = item.clone();
            assert!(copy == item);
            assert_eq!(format!("{item:?}").contains('…'), levels > 40);
            // Encoding does not recurse; decoding stops at its depth limit.
            let bytes = codec::encode_item(&item);
            if levels <= codec::MAX_DECODE_DEPTH {
                assert!(codec::decode_item(&bytes).unwrap() == item);
            } else {
                assert!(matches!(
                    codec::decode_item(&bytes).unwrap_err(),
                    codec::CodecError::TooDeep { .. }
                ));
            }
        }
    });
}

#[test]
fn hand_built_values_drop_at_any_depth() {
    on_small_stack(|| {
        let mut l = AV::Null;
        for _ in 0..100_000 {
            l = AV::L(vec![l, AV::from("x")]);
        }
        drop(l);
        let mut m = AV::Null;
        for _ in 0..100_000 {
            m = AV::from(BTreeMap::from([("k".to_string(), m)]));
        }
        drop(m);
        let mut u = UpdateOperand::Value(AV::from(1));
        for i in 0..100_000 {
            u = if i % 2 == 0 {
                UpdateOperand::ListAppend(Box::new(u), Box::new(UpdateOperand::Value(AV::Null)))
            } else {
                UpdateOperand::IfNotExists(AttributePath::new("a"), Box::new(u))
            };
        }
        drop(u);
        let mut wide = Vec::new();
        for _ in 0..1_000 {
            wide.push(deep_value(100));
        }
        drop(AV::L(wide));
    });
}

#[test]
fn deep_codec_bytes_are_rejected() {
    on_small_stack(|| {
        // FORMAT_V1, one attribute "d", then 100,000 lists of one element each.
        let mut b = vec![codec::FORMAT_V1, 1, 1, b'd'];
        for _ in 0..100_000 {
            b.extend_from_slice(&[0x07, 1]);
        }
        b.push(0x06);
        assert!(matches!(
            codec::decode_item(&b).unwrap_err(),
            codec::CodecError::TooDeep { .. }
        ));
    });
}

#[test]
fn deep_dynamodb_json_is_rejected() {
    on_small_stack(|| {
        // Text nested past serde_json's own limit: a syntax error.
        let text = format!(
            "{{\"d\": {}{{\"NULL\": true}}{}}}",
            "{\"L\": [".repeat(10_000),
            "]}".repeat(10_000)
        );
        assert!(Item::from_dynamo_json_str(&text).is_err());
        // Text within serde_json's limit but past DynamoDB's 32 levels.
        let text = format!(
            "{{\"d\": {}{{\"NULL\": true}}{}}}",
            "{\"L\": [".repeat(40),
            "]}".repeat(40)
        );
        let e = Item::from_dynamo_json_str(&text).unwrap_err();
        assert_eq!(e.kind, strata_item::json::JsonErrorKind::TooDeep);
        let text = format!(
            "{{\"d\": {}{{\"NULL\": true}}{}}}",
            "{\"M\": {\"k\": ".repeat(31),
            "}}".repeat(31)
        );
        assert!(Item::from_dynamo_json_str(&text).is_ok());
        // Serializing a value deeper than any DynamoDB value is an error, not a crash.
        let deep = deep_value(10_000);
        assert!(serde_json::to_string(&deep).is_err());
        assert!(serde_json::to_string(&deep_value(31)).is_ok());
    });
}
