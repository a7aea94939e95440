#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! KeyConditionExpression shapes and ProjectionExpression results.

use std::collections::{BTreeMap, HashMap};

use strata_item::expr::{
    KeyCondition, SortKeyCondition, Substitutions, parse_key_condition, parse_projection,
};
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

fn key_values() -> HashMap<String, AV> {
    [
        (":p", AV::from("user#1")),
        (":lo", n("10")),
        (":hi", n("20")),
        (":pre", "2024-".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn key(expr: &str) -> KeyCondition {
    let names = HashMap::from([
        ("#pk".to_string(), "pk".to_string()),
        ("#sk".to_string(), "sk".to_string()),
    ]);
    let values = key_values();
    Substitutions::new(&names, &values)
        .parse_key_condition(expr, "pk", Some("sk"))
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
}

#[test]
fn key_condition_shapes() {
    let p = AV::from("user#1");
    let cases: Vec<(&str, Option<SortKeyCondition>)> = vec![
        ("pk = :p", None),
        ("#pk = :p", None),
        (":p = pk", None),
        ("(pk = :p)", None),
        ("pk = :p AND sk = :lo", Some(SortKeyCondition::Eq(n("10")))),
        ("pk = :p AND sk < :lo", Some(SortKeyCondition::Lt(n("10")))),
        ("pk = :p AND sk <= :lo", Some(SortKeyCondition::Le(n("10")))),
        ("pk = :p AND sk > :lo", Some(SortKeyCondition::Gt(n("10")))),
        ("pk = :p AND sk >= :lo", Some(SortKeyCondition::Ge(n("10")))),
        // A value on the left flips the operator.
        ("pk = :p AND :lo < sk", Some(SortKeyCondition::Gt(n("10")))),
        (
            "pk = :p AND :lo >= #sk",
            Some(SortKeyCondition::Le(n("10"))),
        ),
        (
            "pk = :p AND sk BETWEEN :lo AND :hi",
            Some(SortKeyCondition::Between(n("10"), n("20"))),
        ),
        (
            "pk = :p and begins_with(sk, :pre)",
            Some(SortKeyCondition::BeginsWith("2024-".into())),
        ),
        // Either order, any parentheses.
        ("sk > :lo AND pk = :p", Some(SortKeyCondition::Gt(n("10")))),
        (
            "(sk > :lo) AND (pk = :p)",
            Some(SortKeyCondition::Gt(n("10"))),
        ),
    ];
    for (expr, sort) in cases {
        assert_eq!(
            key(expr),
            KeyCondition {
                partition: p.clone(),
                sort
            },
            "{expr}"
        );
    }
}

#[test]
fn key_condition_matching() {
    let kc = key("pk = :p AND sk BETWEEN :lo AND :hi");
    let row = |pk: &str, sk: AV| Item::builder().attr("pk", pk).attr("sk", sk).build();
    assert!(kc.matches(&row("user#1", n("10")), "pk", Some("sk")));
    assert!(kc.matches(&row("user#1", n("20")), "pk", Some("sk")));
    assert!(!kc.matches(&row("user#1", n("21")), "pk", Some("sk")));
    assert!(!kc.matches(&row("user#2", n("15")), "pk", Some("sk")));
    assert!(!kc.matches(&row("user#1", "15".into()), "pk", Some("sk")));

    let sk = |c: SortKeyCondition, v: AV| c.matches(&v);
    assert!(sk(SortKeyCondition::Eq(n("1")), n("1.0")));
    assert!(sk(SortKeyCondition::Lt(n("2")), n("1")));
    assert!(!sk(SortKeyCondition::Lt(n("1")), n("1")));
    assert!(sk(SortKeyCondition::Le(n("1")), n("1")));
    assert!(sk(SortKeyCondition::Gt("a".into()), "b".into()));
    assert!(sk(SortKeyCondition::Ge("b".into()), "b".into()));
    assert!(!sk(SortKeyCondition::Ge("b".into()), "a".into()));
    assert!(sk(SortKeyCondition::BeginsWith("ab".into()), "abc".into()));
    assert!(!sk(SortKeyCondition::BeginsWith("ab".into()), "a".into()));
    assert!(sk(
        SortKeyCondition::BeginsWith(AV::B(vec![1])),
        AV::B(vec![1, 2])
    ));
    assert!(sk(
        SortKeyCondition::Lt(AV::B(vec![0x80])),
        AV::B(vec![0x7f, 0xff])
    ));
    assert_eq!(
        SortKeyCondition::Between(n("1"), n("2")).values(),
        vec![&n("1"), &n("2")]
    );

    let hash_only = parse_key_condition(
        "pk = :p",
        &HashMap::new(),
        &HashMap::from([(":p".to_string(), AV::from("x"))]),
        "pk",
        None,
    )
    .unwrap();
    assert!(hash_only.matches(&Item::builder().attr("pk", "x").build(), "pk", None));
}

#[test]
fn key_condition_on_hash_only_table() {
    let values = HashMap::from([
        (":p".to_string(), AV::from("x")),
        (":s".to_string(), n("1")),
    ]);
    let err = parse_key_condition("pk = :p AND sk = :s", &HashMap::new(), &values, "pk", None)
        .unwrap_err();
    assert_eq!(err.to_string(), "Query key condition not supported");
}

fn sample() -> Item {
    Item::builder()
        .attr("title", "Dune")
        .attr("year", 1965)
        .attr(
            "tags",
            AV::L(vec![
                "a".into(),
                "b".into(),
                map(&[("x", n("1")), ("y", n("2"))]),
            ]),
        )
        .attr(
            "info",
            map(&[
                ("rating", n("5")),
                ("plot", "sand".into()),
                ("actors", AV::L(vec!["paul".into(), "jessica".into()])),
            ]),
        )
        .attr("a.b", "dotted")
        .build()
}

fn project(expr: &str) -> Item {
    let names = HashMap::from([
        ("#dot".to_string(), "a.b".to_string()),
        ("#y".to_string(), "year".to_string()),
    ]);
    let values = HashMap::new();
    let mut subs = Substitutions::new(&names, &values);
    subs.parse_projection(expr)
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
        .apply(&sample())
}

#[test]
fn projections() {
    let it = |pairs: &[(&str, AV)]| -> Item {
        pairs
            .iter()
            .map(|(k, v)| (strata_item::Name::from(*k), v.clone()))
            .collect()
    };
    let cases: Vec<(&str, Item)> = vec![
        ("title", it(&[("title", "Dune".into())])),
        (
            "title, #y",
            it(&[("title", "Dune".into()), ("year", n("1965"))]),
        ),
        ("#dot", it(&[("a.b", "dotted".into())])),
        ("nothere", Item::new()),
        ("info.rating", it(&[("info", map(&[("rating", n("5"))]))])),
        (
            "info.rating, info.plot",
            it(&[("info", map(&[("plot", "sand".into()), ("rating", n("5"))]))]),
        ),
        (
            "info.actors[1]",
            it(&[("info", map(&[("actors", AV::L(vec!["jessica".into()]))]))]),
        ),
        ("info.nothere", Item::new()),
        ("info[0]", Item::new()),
        ("title.x", Item::new()),
        (
            "tags[0], tags[2].y",
            it(&[("tags", AV::L(vec!["a".into(), map(&[("y", n("2"))])]))]),
        ),
        (
            "tags[2], tags[0]",
            it(&[(
                "tags",
                AV::L(vec!["a".into(), map(&[("x", n("1")), ("y", n("2"))])]),
            )]),
        ),
        ("tags[7]", Item::new()),
        ("tags[1], tags[7]", it(&[("tags", AV::L(vec!["b".into()]))])),
    ];
    for (expr, want) in cases {
        assert_eq!(project(expr), want, "{expr}");
    }
}

#[test]
fn projection_introspection() {
    let p = parse_projection("b, a.x, a.y[2]", &HashMap::new()).unwrap();
    assert_eq!(
        p.paths()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["b", "a.x", "a.y[2]"]
    );
    assert_eq!(p.top_level_names().collect::<Vec<_>>(), ["a", "b"]);
}
