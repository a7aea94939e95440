#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! UpdateExpression application: SET (with + - if_not_exists list_append),
//! REMOVE, ADD, DELETE, nested paths, list appends, UPDATED_OLD / UPDATED_NEW.

use std::collections::{BTreeMap, HashMap};

use strata_item::expr::{ChangedAttribute, ExprError, Substitutions, UpdateOutcome};
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

fn list(items: &[AV]) -> AV {
    AV::L(items.to_vec())
}

fn ns(items: &[i64]) -> AV {
    AV::Ns(items.iter().map(|i| Number::from(*i)).collect())
}

fn item(pairs: &[(&str, AV)]) -> Item {
    pairs
        .iter()
        .map(|(k, v)| (strata_item::Name::from(*k), v.clone()))
        .collect()
}

fn values() -> HashMap<String, AV> {
    [
        (":one", n("1")),
        (":two", n("2")),
        (":half", n("0.5")),
        (":zero", n("0")),
        (":s", "str".into()),
        (":l", list(&["x".into()])),
        (":empty", list(&[])),
        (":ss", AV::string_set(["b", "c"])),
        (":ss_b", AV::string_set(["b"])),
        (":ss_all", AV::string_set(["a", "b", "c"])),
        (":ns", ns(&[2, 3])),
        (":bs", AV::Bs([vec![9u8]].into())),
        (":m", map(&[("k", n("1"))])),
        (":big", n("9.9999999999999999999999999999999999999E+125")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn apply(expr: &str, before: &Item) -> Result<UpdateOutcome, ExprError> {
    let names = HashMap::from([
        ("#c".to_string(), "count".to_string()),
        ("#dot".to_string(), "a.b".to_string()),
    ]);
    let values = values();
    let mut subs = Substitutions::new(&names, &values);
    let update = subs
        .parse_update(expr)
        .unwrap_or_else(|e| panic!("{expr}: {e}"));
    update.apply(before)
}

fn base() -> Item {
    item(&[
        ("pk", "k".into()),
        ("n", n("10")),
        ("s", "hello".into()),
        ("l", list(&[n("1"), n("2"), n("3")])),
        (
            "m",
            map(&[("a", n("1")), ("l", list(&["p".into(), "q".into()]))]),
        ),
        ("ss", AV::string_set(["a", "b"])),
        ("ns", ns(&[1, 2])),
        ("bs", AV::Bs([vec![1u8]].into())),
        ("count", n("7")),
    ])
}

#[test]
fn set_actions() {
    let cases: &[(&str, &str, AV)] = &[
        ("SET x = :s", "x", "str".into()),
        ("SET n = :s", "n", "str".into()),
        ("SET x = n", "x", n("10")),
        ("SET x = m.a", "x", n("1")),
        ("SET x = l[1]", "x", n("2")),
        ("SET n = n + :one", "n", n("11")),
        ("SET n = n - :half", "n", n("9.5")),
        ("SET n = :one - n", "n", n("-9")),
        ("SET x = n + n", "x", n("20")),
        ("SET x = (n + :two)", "x", n("12")),
        ("SET x = (n) + (:two)", "x", n("12")),
        ("SET #c = #c + :one", "count", n("8")),
        ("SET x = if_not_exists(x, :zero)", "x", n("0")),
        ("SET n = if_not_exists(n, :zero)", "n", n("10")),
        ("SET x = if_not_exists(x, :zero) + :one", "x", n("1")),
        ("SET n = if_not_exists(n, :zero) + :one", "n", n("11")),
        (
            "SET l = list_append(l, :l)",
            "l",
            list(&[n("1"), n("2"), n("3"), "x".into()]),
        ),
        (
            "SET l = list_append(:l, l)",
            "l",
            list(&["x".into(), n("1"), n("2"), n("3")]),
        ),
        (
            "SET x = list_append(if_not_exists(x, :empty), :l)",
            "x",
            list(&["x".into()]),
        ),
        ("SET x = list_append(:empty, :empty)", "x", list(&[])),
        (
            "SET m.a = :two",
            "m",
            map(&[("a", n("2")), ("l", list(&["p".into(), "q".into()]))]),
        ),
        (
            "SET m.fresh = :s",
            "m",
            map(&[
                ("a", n("1")),
                ("fresh", "str".into()),
                ("l", list(&["p".into(), "q".into()])),
            ]),
        ),
        (
            "SET m.l[0] = :s",
            "m",
            map(&[("a", n("1")), ("l", list(&["str".into(), "q".into()]))]),
        ),
        // An index past the end appends.
        (
            "SET l[7] = :s",
            "l",
            list(&[n("1"), n("2"), n("3"), "str".into()]),
        ),
        (
            "SET l[3] = :s",
            "l",
            list(&[n("1"), n("2"), n("3"), "str".into()]),
        ),
        (
            "SET l[0] = :m",
            "l",
            list(&[map(&[("k", n("1"))]), n("2"), n("3")]),
        ),
        // A placeholder name may contain dots: it is one attribute name.
        ("SET #dot = :one", "a.b", n("1")),
        // Operands are read from the item before the update: a swap works.
        ("SET n = s, s = n", "n", "hello".into()),
    ];
    for (expr, attr, want) in cases {
        let out = apply(expr, &base()).unwrap();
        assert_eq!(out.item.get(attr), Some(want), "{expr}");
    }
    let out = apply("SET n = s, s = n", &base()).unwrap();
    assert_eq!(out.item.get("s"), Some(&n("10")));
}

#[test]
fn remove_actions() {
    let out = apply("REMOVE s, nothere, m.a, m.zz, l[1], l[9]", &base()).unwrap();
    assert!(out.item.get("s").is_none());
    assert_eq!(
        out.item.get("m"),
        Some(&map(&[("l", list(&["p".into(), "q".into()]))]))
    );
    assert_eq!(out.item.get("l"), Some(&list(&[n("1"), n("3")])));
    // Several indexes of one list name elements of the original list.
    let out = apply("REMOVE l[0], l[2]", &base()).unwrap();
    assert_eq!(out.item.get("l"), Some(&list(&[n("2")])));
    let out = apply("REMOVE l[2], l[0], l[1]", &base()).unwrap();
    assert_eq!(out.item.get("l"), Some(&list(&[])));
    // SET and REMOVE on one list: indexes refer to the original positions.
    let out = apply("SET l[1] = :s REMOVE l[0]", &base()).unwrap();
    assert_eq!(out.item.get("l"), Some(&list(&["str".into(), n("3")])));
    let out = apply("SET l[5] = :s REMOVE l[0]", &base()).unwrap();
    assert_eq!(
        out.item.get("l"),
        Some(&list(&[n("2"), n("3"), "str".into()]))
    );
}

#[test]
fn add_and_delete_actions() {
    let cases: &[(&str, &str, Option<AV>)] = &[
        ("ADD n :one", "n", Some(n("11"))),
        ("ADD n :half", "n", Some(n("10.5"))),
        ("ADD x :two", "x", Some(n("2"))),
        ("ADD ss :ss", "ss", Some(AV::string_set(["a", "b", "c"]))),
        ("ADD ns :ns", "ns", Some(ns(&[1, 2, 3]))),
        (
            "ADD bs :bs",
            "bs",
            Some(AV::Bs([vec![1u8], vec![9u8]].into())),
        ),
        ("ADD x :ss", "x", Some(AV::string_set(["b", "c"]))),
        (
            "ADD m.a :one",
            "m",
            Some(map(&[
                ("a", n("2")),
                ("l", list(&["p".into(), "q".into()])),
            ])),
        ),
        (
            "ADD m.l[5] :one",
            "m",
            Some(map(&[
                ("a", n("1")),
                ("l", list(&["p".into(), "q".into(), n("1")])),
            ])),
        ),
        ("DELETE ss :ss_b", "ss", Some(AV::string_set(["a"]))),
        ("DELETE ss :ss", "ss", Some(AV::string_set(["a"]))),
        ("DELETE ns :ns", "ns", Some(ns(&[1]))),
        // Deleting every element removes the attribute.
        ("DELETE ss :ss_all", "ss", None),
        ("DELETE bs :bs", "bs", Some(AV::Bs([vec![1u8]].into()))),
        // Deleting from an absent attribute changes nothing.
        ("DELETE x :ss", "x", None),
    ];
    for (expr, attr, want) in cases {
        let out = apply(expr, &base()).unwrap();
        assert_eq!(out.item.get(attr), want.as_ref(), "{expr}");
    }
}

#[test]
fn runtime_errors() {
    let cases: &[(&str, ExprError)] = &[
        ("SET x = nothere", ExprError::MissingAttribute),
        ("SET x = m.zz", ExprError::MissingAttribute),
        ("SET x = l[5]", ExprError::MissingAttribute),
        (
            "SET x = list_append(nothere, :l)",
            ExprError::MissingAttribute,
        ),
        ("SET x = s + :one", ExprError::IncorrectOperandType),
        ("SET x = :one - ss", ExprError::IncorrectOperandType),
        (
            "SET x = list_append(n, :l)",
            ExprError::IncorrectOperandType,
        ),
        (
            "SET x = list_append(if_not_exists(x, :s), :l)",
            ExprError::IncorrectOperandType,
        ),
        ("ADD s :one", ExprError::IncorrectOperandType),
        ("ADD ss :ns", ExprError::IncorrectOperandType),
        ("ADD n :ss", ExprError::IncorrectOperandType),
        ("ADD ns :one", ExprError::IncorrectOperandType),
        ("DELETE ss :ns", ExprError::IncorrectOperandType),
        ("DELETE n :ns", ExprError::IncorrectOperandType),
        ("SET nothere.a = :one", ExprError::InvalidUpdatePath),
        ("SET nothere[0] = :one", ExprError::InvalidUpdatePath),
        ("SET s.a = :one", ExprError::InvalidUpdatePath),
        ("SET m[0] = :one", ExprError::InvalidUpdatePath),
        ("SET l.a = :one", ExprError::InvalidUpdatePath),
        ("SET m.zz.a = :one", ExprError::InvalidUpdatePath),
        ("REMOVE nothere.a", ExprError::InvalidUpdatePath),
        ("REMOVE s[1]", ExprError::InvalidUpdatePath),
        ("REMOVE m[1]", ExprError::InvalidUpdatePath),
        ("REMOVE l.a", ExprError::InvalidUpdatePath),
        ("ADD nothere.a :one", ExprError::InvalidUpdatePath),
        ("ADD s.a :one", ExprError::InvalidUpdatePath),
        ("DELETE nothere.a :ss", ExprError::InvalidUpdatePath),
        ("DELETE l.a :ss", ExprError::InvalidUpdatePath),
    ];
    for (expr, want) in cases {
        assert_eq!(apply(expr, &base()).unwrap_err(), *want, "{expr}");
    }
    let err = apply("SET n = :big + :big", &base()).unwrap_err();
    assert!(matches!(err, ExprError::Number { .. }), "{err:?}");
    assert!(err.to_string().starts_with("Number overflow."), "{err}");
    assert_eq!(
        ExprError::InvalidUpdatePath.to_string(),
        "The document path provided in the update expression is invalid for update"
    );
    assert_eq!(
        ExprError::MissingAttribute.to_string(),
        "The provided expression refers to an attribute that does not exist in the item"
    );
    assert_eq!(
        ExprError::IncorrectOperandType.to_string(),
        "An operand in the update expression has an incorrect data type"
    );
}

#[test]
fn new_item_from_key_only() {
    // UpdateItem on an absent item starts from the key.
    let key = item(&[("pk", "k".into())]);
    let out = apply("REMOVE b DELETE c :ss ADD d :two, e :ss SET f = :l", &key).unwrap();
    assert_eq!(
        out.item,
        item(&[
            ("pk", "k".into()),
            ("d", n("2")),
            ("e", AV::string_set(["b", "c"])),
            ("f", list(&["x".into()])),
        ])
    );
    assert_eq!(
        out.updated_new,
        item(&[
            ("d", n("2")),
            ("e", AV::string_set(["b", "c"])),
            ("f", list(&["x".into()]))
        ])
    );
    assert_eq!(out.updated_old, Item::new());
}

#[test]
fn updated_old_and_new_project_the_updated_paths() {
    // The nested update DynamoDB is known to answer with partial maps and lists.
    let names = HashMap::new();
    let values = HashMap::from([
        (":a".to_string(), n("2")),
        (":b".to_string(), AV::string_set(["a"])),
    ]);
    let before = item(&[
        ("a", "key".into()),
        ("b", map(&[("a", n("1")), ("b", n("2")), ("c", n("3"))])),
        ("c", list(&[n("1"), n("3")])),
    ]);
    let update = Substitutions::new(&names, &values)
        .parse_update(
            "set b.c=((c[1])+(b.a)),b.a = a,c[1] = a, c[4] = b.a - b.b, c[2] = b.c add c[8] :b, c[6] :a",
        )
        .unwrap();
    let out = update.apply(&before).unwrap();
    assert_eq!(
        out.updated_new,
        item(&[
            ("b", map(&[("a", "key".into()), ("c", n("4"))])),
            ("c", list(&["key".into(), n("3"), n("2")])),
        ])
    );
    assert_eq!(
        out.item,
        item(&[
            ("a", "key".into()),
            (
                "b",
                map(&[("a", "key".into()), ("b", n("2")), ("c", n("4"))])
            ),
            (
                "c",
                list(&[
                    n("1"),
                    "key".into(),
                    n("3"),
                    n("-1"),
                    n("2"),
                    AV::string_set(["a"])
                ])
            ),
        ])
    );
    assert_eq!(
        out.updated_old,
        item(&[
            ("b", map(&[("a", n("1")), ("c", n("3"))])),
            ("c", list(&[n("3")])),
        ])
    );
    assert_eq!(
        out.changed,
        vec![
            ChangedAttribute {
                name: "b".into(),
                old: before.get("b").cloned(),
                new: out.item.get("b").cloned(),
            },
            ChangedAttribute {
                name: "c".into(),
                old: before.get("c").cloned(),
                new: out.item.get("c").cloned(),
            },
        ]
    );
}

#[test]
fn removed_attributes_are_in_updated_old_only() {
    let out = apply("REMOVE s SET n = :one", &base()).unwrap();
    assert_eq!(
        out.updated_old,
        item(&[("s", "hello".into()), ("n", n("10"))])
    );
    assert_eq!(out.updated_new, item(&[("n", n("1"))]));
    let names: Vec<&str> = out.changed.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["n", "s"]);
    assert_eq!(out.changed[1].new, None);
    // An action that finds and leaves nothing is not a change.
    let out = apply("DELETE x :ss REMOVE y SET n = :one", &base()).unwrap();
    let names: Vec<&str> = out.changed.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["n"]);
}

#[test]
fn introspection() {
    let values = values();
    let names = HashMap::new();
    let update = Substitutions::new(&names, &values)
        .parse_update("SET a.b = :one, c = :two REMOVE d[1] ADD e :one DELETE f :ss")
        .unwrap();
    assert_eq!(update.actions().len(), 5);
    assert_eq!(
        update.top_level_names().into_iter().collect::<Vec<_>>(),
        ["a", "c", "d", "e", "f"]
    );
    assert_eq!(
        update.paths().map(ToString::to_string).collect::<Vec<_>>(),
        ["a.b", "c", "d[1]", "e", "f"]
    );
}

#[test]
fn keywords_are_case_insensitive_and_clauses_in_any_order() {
    let out = apply("add n :one remove s set x = :s delete ss :ss_b", &base()).unwrap();
    assert_eq!(out.item.get("n"), Some(&n("11")));
    assert!(out.item.get("s").is_none());
    assert_eq!(out.item.get("x"), Some(&"str".into()));
    assert_eq!(out.item.get("ss"), Some(&AV::string_set(["a"])));
}
