#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Condition and filter evaluation: every operator and function against one item.

use std::collections::{BTreeMap, HashMap};

use strata_item::expr::Substitutions;
use strata_item::{AttributeValue as AV, Item, Number};

fn n(s: &str) -> AV {
    AV::N(Number::parse(s).unwrap())
}

fn map(pairs: &[(&str, AV)]) -> AV {
    AV::M(
        pairs
            .iter()
            .map(|(k, v)| (strata_item::Name::from(*k), v.clone()))
            .collect::<BTreeMap<_, _>>(),
    )
}

fn item() -> Item {
    Item::builder()
        .attr("pk", "p")
        .attr("n", n("5"))
        .attr("neg", n("-1.5"))
        .attr("s", "hello")
        .attr("b", AV::B(vec![1, 2, 3]))
        .attr("t", true)
        .attr("nul", AV::Null)
        .attr("l", AV::L(vec![n("1"), "x".into(), map(&[("a", n("2"))])]))
        .attr(
            "m",
            map(&[("k", "v".into()), ("deep", map(&[("z", n("9"))]))]),
        )
        .attr("ss", AV::string_set(["a", "b"]))
        .attr("ns", AV::Ns([Number::from(1), Number::from(2)].into()))
        .attr("bs", AV::Bs([vec![1u8], vec![2u8]].into()))
        .attr("dotted.name", "dotted")
        .build()
}

fn values() -> HashMap<String, AV> {
    let mut v: HashMap<String, AV> = [
        (":zero", n("0")),
        (":one", n("1")),
        (":one0", n("1.0")),
        (":two", n("2")),
        (":three", n("3")),
        (":four", n("4")),
        (":five", n("5")),
        (":fivestr", "5".into()),
        (":six", n("6")),
        (":seven", n("7")),
        (":nine", n("9")),
        (":minus2", n("-2")),
        (":hello", "hello".into()),
        (":he", "he".into()),
        (":hz", "hz".into()),
        (":ell", "ell".into()),
        (":a", "a".into()),
        (":z", "z".into()),
        (":x", "x".into()),
        (":v", "v".into()),
        (":nope", "nope".into()),
        (":b1", AV::B(vec![1])),
        (":b2", AV::B(vec![2])),
        (":b23", AV::B(vec![2, 3])),
        (":b124", AV::B(vec![1, 2, 4])),
        (":true", true.into()),
        (":false", false.into()),
        (":null", AV::Null),
        (":ss_ab", AV::string_set(["b", "a"])),
        (":ss_a", AV::string_set(["a"])),
        (
            ":list",
            AV::L(vec![n("1.00"), "x".into(), map(&[("a", n("2"))])]),
        ),
        (":minner", map(&[("z", n("9"))])),
        (":dotted", "dotted".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for t in ["S", "N", "B", "SS", "NS", "BS", "BOOL", "NULL", "L", "M"] {
        v.insert(format!(":t{t}"), AV::from(t));
    }
    v
}

fn names() -> HashMap<String, String> {
    HashMap::from([
        ("#dn".to_string(), "dotted.name".to_string()),
        ("#k".to_string(), "k".to_string()),
        ("#size".to_string(), "size".to_string()),
    ])
}

fn eval(expr: &str) -> bool {
    let (names, values) = (names(), values());
    let mut subs = Substitutions::new(&names, &values);
    let cond = subs
        .parse_filter(expr)
        .unwrap_or_else(|e| panic!("{expr}: {e}"));
    cond.evaluate(&item()).unwrap()
}

#[test]
fn comparisons() {
    let cases: &[(&str, bool)] = &[
        // =
        ("n = :five", true),
        ("n = :four", false),
        ("n = :fivestr", false), // different types are unequal, not an error
        (":five = n", true),
        ("l[0] = :one0", true), // numbers compare numerically
        ("s = :hello", true),
        ("b = :b1", false),
        ("t = :true", true),
        ("t = :false", false),
        ("nul = :null", true),
        ("ss = :ss_ab", true), // sets compare as sets
        ("ss = :ss_a", false),
        ("l = :list", true), // lists and maps compare deeply
        ("m.deep = :minner", true),
        ("nothere = :five", false),
        ("nothere = nothere2", false),
        // <>
        ("n <> :four", true),
        ("n <> :five", false),
        ("n <> :fivestr", true),
        ("nothere <> :five", true),
        ("ss <> :ss_a", true),
        // < <= > >=
        ("n < :six", true),
        ("n < :five", false),
        ("n <= :five", true),
        ("n <= :four", false),
        ("n > :four", true),
        ("n > :five", false),
        ("n >= :five", true),
        ("n >= :six", false),
        ("neg < :zero", true),
        ("neg > :minus2", true),
        (":four < n", true),
        ("s < :hz", true),
        ("s > :he", true),
        ("s >= :hello", true),
        ("b < :b124", true),
        ("b > :b1", true),
        ("b < :b2", true),
        // Ordering across types or of unordered types is false.
        ("n < :fivestr", false),
        ("n > :fivestr", false),
        ("nothere < :five", false),
        ("nothere >= :five", false),
        // Attributes of unordered types compare false (literals of those types are
        // rejected at parse time, see expr_errors.rs).
        ("t < n", false),
        ("ss <= s", false),
        ("l >= n", false),
        ("m > l", false),
        // Attribute to attribute.
        ("n > neg", true),
        ("m.deep.z > n", true),
        ("l[2].a < n", true),
        ("l[1] = :x", true),
    ];
    for (expr, want) in cases {
        assert_eq!(eval(expr), *want, "{expr}");
    }
}

#[test]
fn between_and_in() {
    let cases: &[(&str, bool)] = &[
        ("n BETWEEN :four AND :six", true),
        ("n BETWEEN :five AND :five", true),
        ("n BETWEEN :six AND :seven", false),
        ("n BETWEEN :one AND :four", false),
        ("s BETWEEN :a AND :z", true),
        ("s BETWEEN :hz AND :z", false),
        ("b BETWEEN :b1 AND :b2", true),
        ("nothere BETWEEN :one AND :two", false),
        ("s BETWEEN :one AND :two", false),
        ("size(l) between :two and :four", true),
        ("n BETWEEN neg AND m.deep.z", true),
        ("n IN (:four, :five)", true),
        ("n IN (:one, :two, :three)", false),
        ("n IN (:fivestr)", false),
        ("s IN (:a, :hello)", true),
        ("ss IN (:ss_a, :ss_ab)", true),
        ("nothere IN (:five)", false),
        ("n in (neg, m.deep.z, l[0], :five)", true),
    ];
    for (expr, want) in cases {
        assert_eq!(eval(expr), *want, "{expr}");
    }
}

#[test]
fn functions() {
    let cases: &[(&str, bool)] = &[
        ("attribute_exists(n)", true),
        ("attribute_exists(nothere)", false),
        ("attribute_exists(m.deep.z)", true),
        ("attribute_exists(m.deep.y)", false),
        ("attribute_exists(m.#k)", true),
        ("attribute_exists(l[2].a)", true),
        ("attribute_exists(l[3])", false),
        ("attribute_exists(s.x)", false),
        ("attribute_exists(nul)", true),
        ("attribute_exists(#dn)", true),
        ("attribute_not_exists(nothere)", true),
        ("attribute_not_exists(n)", false),
        ("attribute_not_exists(l[9])", true),
        ("attribute_type(s, :tS)", true),
        ("attribute_type(n, :tN)", true),
        ("attribute_type(b, :tB)", true),
        ("attribute_type(ss, :tSS)", true),
        ("attribute_type(ns, :tNS)", true),
        ("attribute_type(bs, :tBS)", true),
        ("attribute_type(t, :tBOOL)", true),
        ("attribute_type(nul, :tNULL)", true),
        ("attribute_type(l, :tL)", true),
        ("attribute_type(m, :tM)", true),
        ("attribute_type(n, :tS)", false),
        ("attribute_type(nothere, :tS)", false),
        ("begins_with(s, :he)", true),
        ("begins_with(s, :hello)", true),
        ("begins_with(s, :ell)", false),
        ("begins_with(b, :b1)", true),
        ("begins_with(b, :b2)", false),
        ("begins_with(s, :b1)", false),
        ("begins_with(nothere, :he)", false),
        ("begins_with(#dn, :hello)", false),
        ("contains(s, :ell)", true),
        ("contains(s, :z)", false),
        ("contains(b, :b23)", true),
        ("contains(ss, :a)", true),
        ("contains(ss, :z)", false),
        ("contains(ns, :one)", true),
        ("contains(ns, :three)", false),
        ("contains(bs, :b1)", true),
        ("contains(l, :x)", true),
        ("contains(l, :one0)", true),
        ("contains(l, :z)", false),
        ("contains(m, :v)", false),
        ("contains(n, :five)", false),
        ("contains(nothere, :a)", false),
        ("contains(ss, s)", false),
        ("size(s) = :five", true),
        ("size(b) = :three", true),
        ("size(ss) = :two", true),
        ("size(ns) = :two", true),
        ("size(bs) = :two", true),
        ("size(l) = :three", true),
        ("size(m) = :two", true),
        ("size(m.deep) = :one", true),
        ("size(n) >= :zero", false),
        ("size(t) >= :zero", false),
        ("size(nothere) >= :zero", false),
        ("size(nothere) <> :zero", true),
        ("size(s) > size(l)", true),
        ("#size = :one", false),
    ];
    for (expr, want) in cases {
        assert_eq!(eval(expr), *want, "{expr}");
    }
}

#[test]
fn logic_and_precedence() {
    let cases: &[(&str, bool)] = &[
        ("n = :five AND s = :hello", true),
        ("n = :five AND s = :nope", false),
        ("n = :four OR s = :hello", true),
        ("n = :four OR s = :nope", false),
        ("NOT n = :four", true),
        ("NOT n = :five", false),
        ("not not n = :five", true),
        ("NOT attribute_exists(nothere)", true),
        // NOT binds tighter than AND, AND tighter than OR.
        ("NOT n = :four AND s = :hello", true),
        ("n = :four OR n = :five AND s = :nope", false),
        ("n = :five OR n = :four AND s = :nope", true),
        ("(n = :four OR n = :five) AND s = :nope", false),
        ("(n = :four OR n = :five) AND s = :hello", true),
        ("NOT (n = :four OR n = :five)", false),
        ("NOT n = :four OR n = :four", true),
        ("n BETWEEN :one AND :six AND s = :hello", true),
        ("n BETWEEN :one AND :two OR s = :hello", true),
        ("(n) = :five", true),
        ("(size(l)) = :three", true),
        ("((n = :five) OR (s = :z))", true),
        ("a = :one or b = :one or c = :one or n = :five", true),
        ("a = :one and b = :one or n = :five and s = :hello", true),
        ("  n=:five  AND\ts=:hello\n", true),
        ("n = :five and S = :hello", false),
    ];
    for (expr, want) in cases {
        assert_eq!(eval(expr), *want, "{expr}");
    }
}

#[test]
fn evaluate_on_absent_item() {
    let names = HashMap::new();
    let values = HashMap::from([(":v".to_string(), AV::from(1))]);
    let empty = Item::new();
    for (expr, want) in [
        ("attribute_not_exists(pk)", true),
        ("attribute_exists(pk)", false),
        ("a = :v", false),
        ("a <> :v", true),
        ("NOT a = :v", true),
    ] {
        let mut subs = Substitutions::new(&names, &values);
        let c = subs.parse_condition(expr).unwrap();
        assert_eq!(c.evaluate(&empty).unwrap(), want, "{expr}");
        assert_eq!(c.matches(&empty), want, "{expr}");
    }
}

#[test]
fn case_insensitive_keywords_case_sensitive_functions() {
    assert!(eval("n between :four and :six"));
    assert!(eval("n BeTwEeN :four aNd :six"));
    assert!(eval("n iN (:five)"));
    let (names, values) = (names(), values());
    let err = Substitutions::new(&names, &values)
        .parse_filter("Attribute_Exists(n)")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Invalid FilterExpression: Invalid function name; function: Attribute_Exists"
    );
}
