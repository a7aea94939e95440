#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Property tests: the parsers never panic, whatever the input, and what parses
//! can be evaluated and applied without panicking.

use std::collections::HashMap;

use proptest::prelude::*;
use strata_item::expr::Substitutions;
use strata_item::{AttributeValue as AV, Item, Number};

const VOCABULARY: &[&str] = &[
    "a",
    "b",
    "l",
    "m",
    "s",
    "#n",
    "#m",
    "#undefined",
    ":v",
    ":w",
    ":l",
    ":ss",
    ":undefined",
    "(",
    ")",
    "[",
    "]",
    "0",
    "1",
    "99999999999",
    ".",
    ",",
    "=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    "+",
    "-",
    "AND",
    "OR",
    "NOT",
    "BETWEEN",
    "IN",
    "SET",
    "REMOVE",
    "ADD",
    "DELETE",
    "size",
    "attribute_exists",
    "attribute_not_exists",
    "attribute_type",
    "begins_with",
    "contains",
    "if_not_exists",
    "list_append",
    "status",
    " ",
    "\t",
    "ü",
    "\"",
    "#",
    ":",
    "_x",
];

fn names() -> HashMap<String, String> {
    HashMap::from([
        ("#n".to_string(), "n".to_string()),
        ("#m".to_string(), "m".to_string()),
    ])
}

fn values() -> HashMap<String, AV> {
    HashMap::from([
        (":v".to_string(), AV::from(1)),
        (":w".to_string(), AV::from("S")),
        (":l".to_string(), AV::L(vec![AV::from(2)])),
        (":ss".to_string(), AV::string_set(["x"])),
    ])
}

fn sample() -> Item {
    Item::builder()
        .attr("a", 1)
        .attr("b", "S")
        .attr("l", AV::L(vec![AV::from(1), AV::from("x")]))
        .attr(
            "m",
            AV::M([("a".into(), AV::from(3)), ("l".into(), AV::L(vec![]))].into()),
        )
        .attr("s", AV::string_set(["x", "y"]))
        .attr("n", 5)
        .build()
}

/// Runs `src` through every parser; evaluates or applies whatever parses.
fn exercise(src: &str) {
    let (names, values) = (names(), values());
    let item = sample();
    let mut subs = Substitutions::new(&names, &values);
    for r in [subs.parse_condition(src), subs.parse_filter(src)] {
        match r {
            Ok(c) => {
                let _ = c.evaluate(&item).unwrap();
                let _ = c.evaluate(&Item::new()).unwrap();
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
    match subs.parse_key_condition(src, "a", Some("b")) {
        Ok(k) => {
            let _ = k.matches(&item, "a", Some("b"));
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    match subs.parse_update(src) {
        Ok(u) => {
            if let Ok(out) = u.apply(&item) {
                // Whatever the update wrote is visible in UPDATED_NEW's paths.
                for name in out.updated_new.attributes().keys() {
                    assert!(out.item.get(name).is_some());
                }
            }
            let _ = u.apply(&Item::new());
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    match subs.parse_projection(src) {
        Ok(p) => {
            let out = p.apply(&item);
            assert!(out.len() <= item.len());
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    let _ = subs.check_all_used();
}

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(VOCABULARY), 0..40).prop_map(|v| v.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_never_panic(src in any::<String>()) {
        exercise(&src);
    }

    #[test]
    fn expression_like_strings_never_panic(src in "[a-z#:()\\[\\]0-9., =<>+\\-]{0,80}") {
        exercise(&src);
    }

    #[test]
    fn token_soup_never_panics(src in token_soup()) {
        exercise(&src);
    }

    #[test]
    fn tight_token_soup_never_panics(
        v in prop::collection::vec(prop::sample::select(VOCABULARY), 0..40)
    ) {
        exercise(&v.concat());
    }

    /// `<`, `=` and BETWEEN on numbers agree with integer arithmetic.
    #[test]
    fn numeric_comparisons_match_integers(x in any::<i64>(), y in any::<i64>(), z in any::<i64>()) {
        let item = Item::builder().attr("n", Number::from(x)).build();
        let values = HashMap::from([
            (":y".to_string(), AV::N(Number::from(y))),
            (":z".to_string(), AV::N(Number::from(z))),
        ]);
        let names = HashMap::new();
        let check = |expr: &str, want: bool| {
            let mut subs = Substitutions::new(&names, &values);
            let c = subs.parse_condition(expr).unwrap();
            assert_eq!(c.evaluate(&item).unwrap(), want, "{expr} x={x} y={y} z={z}");
        };
        check("n < :y", x < y);
        check("n <= :y", x <= y);
        check("n > :y", x > y);
        check("n >= :y", x >= y);
        check("n = :y", x == y);
        check("n <> :y", x != y);
        if y <= z {
            check("n BETWEEN :y AND :z", y <= x && x <= z);
        }
        check("n IN (:y, :z)", x == y || x == z);
    }

    /// `SET n = n + :y` and `ADD n :y` agree with integer addition.
    #[test]
    fn arithmetic_matches_integers(x in any::<i64>(), y in any::<i64>()) {
        let item = Item::builder().attr("n", Number::from(x)).build();
        let values = HashMap::from([(":y".to_string(), AV::N(Number::from(y)))]);
        let names = HashMap::new();
        let want = AV::N(Number::try_from(i128::from(x) + i128::from(y)).unwrap());
        for expr in ["SET n = n + :y", "ADD n :y"] {
            let u = Substitutions::new(&names, &values).parse_update(expr).unwrap();
            let out = u.apply(&item).unwrap();
            prop_assert_eq!(out.item.get("n"), Some(&want));
        }
        let want = AV::N(Number::try_from(i128::from(x) - i128::from(y)).unwrap());
        let u = Substitutions::new(&names, &values).parse_update("SET n = n - :y").unwrap();
        let out = u.apply(&item).unwrap();
        prop_assert_eq!(out.item.get("n"), Some(&want));
    }
}
