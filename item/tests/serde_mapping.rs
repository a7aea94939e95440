//! The serde mapping (`to_item` / `from_item`): round trips of every supported shape
//! (property tests) and the errors for unsupported ones, with the field path.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use strata_item::{
    AttributeValue, Item, ItemSerdeErrorKind, Number, NumberError, from_item, from_value, item,
    to_item, to_value, validate_item,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Inner {
    name: String,
    score: Option<i32>,
    flags: Vec<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Wrapper(u32);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Unit;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Shape {
    Empty,
    Circle(u16),
    Pair(i8, String),
    Rect {
        w: u32,
        h: Option<u32>,
        tags: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Everything {
    s: String,
    ch: char,
    i8: i8,
    i16: i16,
    i32: i32,
    i64: i64,
    i128: i128,
    u8: u8,
    u16: u16,
    u32: u32,
    u64: u64,
    u128: u128,
    f32: f32,
    f64: f64,
    b: bool,
    opt: Option<i64>,
    opt_nested: Option<Inner>,
    nested: Inner,
    list: Vec<Inner>,
    list_of_opts: Vec<Option<u8>>,
    map: BTreeMap<String, Option<i64>>,
    hmap: HashMap<String, Vec<String>>,
    enum_map: BTreeMap<ShapeKey, u8>,
    shapes: Vec<Shape>,
    #[serde(with = "strata_item::sets::string_set", default)]
    ss: BTreeSet<String>,
    #[serde(with = "strata_item::sets::number_set", default)]
    ns: BTreeSet<i64>,
    #[serde(with = "strata_item::sets::binary_set", default)]
    bs: BTreeSet<Vec<u8>>,
    #[serde(with = "strata_item::bytes")]
    blob: Vec<u8>,
    plain_bytes: Vec<u8>,
    unit: (),
    unit_struct: Unit,
    tuple: (u8, String, bool),
    newtype: Wrapper,
    number: Number,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
enum ShapeKey {
    Small,
    Large,
}

/// At most 38 significant digits: what a DynamoDB number holds.
const MAX_38: u128 = 99_999_999_999_999_999_999_999_999_999_999_999_999;

fn inner() -> impl Strategy<Value = Inner> {
    (
        ".{0,8}",
        any::<Option<i32>>(),
        prop::collection::vec(any::<bool>(), 0..4),
    )
        .prop_map(|(name, score, flags)| Inner { name, score, flags })
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        Just(Shape::Empty),
        any::<u16>().prop_map(Shape::Circle),
        (any::<i8>(), ".{0,4}").prop_map(|(a, b)| Shape::Pair(a, b)),
        (
            any::<u32>(),
            any::<Option<u32>>(),
            prop::collection::vec(".{0,3}", 0..3)
        )
            .prop_map(|(w, h, tags)| Shape::Rect { w, h, tags }),
    ]
}

/// Finite `f64`s inside DynamoDB's range (about 1E-130 to 1E+126), zero included.
fn f64_in_range() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        Just(9.999e125),
        Just(-1e-120),
        Just(f64::EPSILON),
        (prop::num::f64::NORMAL).prop_filter("DynamoDB's range", |v| {
            v.abs() > 1e-120 && v.abs() < 1e120
        }),
    ]
}

prop_compose! {
    fn scalars()(
        s in ".{0,16}",
        ch in any::<char>(),
        ints in (any::<i8>(), any::<i16>(), any::<i32>(), any::<i64>(),
                 -(MAX_38 as i128)..=(MAX_38 as i128)),
        uints in (any::<u8>(), any::<u16>(), any::<u32>(), any::<u64>(), 0..=MAX_38),
        f32 in prop::num::f32::ANY.prop_filter("finite", |v| v.is_finite()),
        f64 in f64_in_range(),
        b in any::<bool>(),
        number in (any::<bool>(), 0..=MAX_38, -120i32..100).prop_filter_map(
            "valid number", |(neg, m, e)| Number::from_parts(neg, m, e).ok()),
    ) -> (String, char, (i8, i16, i32, i64, i128), (u8, u16, u32, u64, u128), f32, f64, bool, Number) {
        (s, ch, ints, uints, f32, f64, b, number)
    }
}

prop_compose! {
    fn everything()(
        (s, ch, ints, uints, f32, f64, b, number) in scalars(),
        opt in any::<Option<i64>>(),
        opt_nested in prop::option::of(inner()),
        nested in inner(),
        list in prop::collection::vec(inner(), 0..3),
        list_of_opts in prop::collection::vec(any::<Option<u8>>(), 0..4),
        map in prop::collection::btree_map(".{1,6}", any::<Option<i64>>(), 0..4),
        hmap in prop::collection::hash_map(".{1,6}", prop::collection::vec(".{0,3}", 0..3), 0..3),
        enum_map in prop::collection::btree_map(
            prop_oneof![Just(ShapeKey::Small), Just(ShapeKey::Large)], any::<u8>(), 0..2),
        shapes in prop::collection::vec(shape(), 0..4),
        ss in prop::collection::btree_set(".{0,6}", 0..4),
        ns in prop::collection::btree_set(any::<i64>(), 0..4),
        bs in prop::collection::btree_set(prop::collection::vec(any::<u8>(), 0..4), 0..4),
        blob in prop::collection::vec(any::<u8>(), 0..8),
        plain_bytes in prop::collection::vec(any::<u8>(), 0..8),
        tuple in (any::<u8>(), ".{0,4}", any::<bool>()),
        newtype in any::<u32>(),
    ) -> Everything {
        let (i8, i16, i32, i64, i128) = ints;
        let (u8, u16, u32, u64, u128) = uints;
        Everything {
            s, ch, i8, i16, i32, i64, i128, u8, u16, u32, u64, u128, f32, f64, b, opt,
            opt_nested, nested, list, list_of_opts, map, hmap, enum_map, shapes, ss, ns, bs,
            blob, plain_bytes, unit: (), unit_struct: Unit, tuple, newtype: Wrapper(newtype),
            number,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_shape_round_trips(v in everything()) {
        let it = to_item(&v).unwrap();
        // What comes out is a valid DynamoDB item (no empty sets, no deep nesting).
        prop_assert!(validate_item(&it, None).is_ok(), "{:?}", validate_item(&it, None));
        // `None` fields are left out.
        prop_assert_eq!(it.contains_key("opt"), v.opt.is_some());
        prop_assert_eq!(it.contains_key("ss"), !v.ss.is_empty());
        let back: Everything = from_item(it.clone()).unwrap();
        prop_assert_eq!(&back, &v);
        // A lone value round trips too.
        let value = to_value(&v).unwrap();
        prop_assert_eq!(&value, &AttributeValue::M(it.into_inner()));
        prop_assert_eq!(from_value::<Everything>(value).unwrap(), v);
    }

    #[test]
    fn numbers_at_the_edges_round_trip(x in prop_oneof![
        Just(i64::MIN), Just(i64::MAX), Just(0i64), Just(-1), any::<i64>()
    ], y in prop_oneof![Just(u64::MAX), Just(0u64), any::<u64>()]) {
        prop_assert_eq!(from_value::<i64>(to_value(&x).unwrap()).unwrap(), x);
        prop_assert_eq!(from_value::<u64>(to_value(&y).unwrap()).unwrap(), y);
        // Into a type that is too narrow: an error, never a wrapped value.
        if i8::try_from(x).is_err() {
            let err = from_value::<i8>(to_value(&x).unwrap()).unwrap_err();
            prop_assert!(matches!(err.kind(), ItemSerdeErrorKind::OutOfRange { target: "i8", .. }), "{err}");
        }
    }
}

#[test]
fn mapping_is_the_documented_one() {
    let v = Everything {
        s: "x".into(),
        ch: 'c',
        i8: -1,
        i16: 2,
        i32: 3,
        i64: 4,
        i128: 5,
        u8: 6,
        u16: 7,
        u32: 8,
        u64: 9,
        u128: 10,
        f32: 1.5,
        f64: 0.1,
        b: true,
        opt: None,
        opt_nested: None,
        nested: Inner {
            name: "n".into(),
            score: None,
            flags: vec![true],
        },
        list: vec![],
        list_of_opts: vec![None, Some(1)],
        map: BTreeMap::from([("k".to_string(), None)]),
        hmap: HashMap::new(),
        enum_map: BTreeMap::from([(ShapeKey::Large, 1)]),
        shapes: vec![
            Shape::Empty,
            Shape::Circle(3),
            Shape::Pair(1, "p".into()),
            Shape::Rect {
                w: 1,
                h: None,
                tags: vec![],
            },
        ],
        ss: BTreeSet::from(["a".to_string()]),
        ns: BTreeSet::from([1, 2]),
        bs: BTreeSet::from([vec![1u8]]),
        blob: vec![1, 2],
        plain_bytes: vec![3],
        unit: (),
        unit_struct: Unit,
        tuple: (1, "t".into(), false),
        newtype: Wrapper(9),
        number: Number::parse("1.25").unwrap(),
    };
    let it = to_item(&v).unwrap();
    let l = |v: Vec<AttributeValue>| AttributeValue::L(v);
    let m = |v: Vec<(&str, AttributeValue)>| {
        AttributeValue::M(
            v.into_iter()
                .map(|(k, v)| (strata_item::Name::from(k), v))
                .collect(),
        )
    };
    let want = item! {
        "s" => "x", "ch" => "c", "i8" => -1, "i16" => 2, "i32" => 3, "i64" => 4, "i128" => 5,
        "u8" => 6, "u16" => 7, "u32" => 8, "u64" => 9, "u128" => 10,
        "f32" => Number::parse("1.5").unwrap(), "f64" => Number::parse("0.1").unwrap(),
        "b" => true,
        "nested" => m(vec![("name", "n".into()), ("flags", l(vec![true.into()]))]),
        "list" => l(vec![]),
        "list_of_opts" => l(vec![AttributeValue::Null, 1.into()]),
        "map" => m(vec![("k", AttributeValue::Null)]),
        "hmap" => m(vec![]),
        "enum_map" => m(vec![("Large", 1.into())]),
        "shapes" => l(vec![
            "Empty".into(),
            m(vec![("Circle", 3.into())]),
            m(vec![("Pair", l(vec![1.into(), "p".into()]))]),
            m(vec![("Rect", m(vec![("w", 1.into()), ("tags", l(vec![]))]))]),
        ]),
        "ss" => AttributeValue::string_set(["a"]),
        "ns" => AttributeValue::number_set([1, 2]),
        "bs" => AttributeValue::binary_set([vec![1u8]]),
        "blob" => AttributeValue::B(vec![1, 2]),
        "plain_bytes" => l(vec![3.into()]),
        "unit" => AttributeValue::Null,
        "unit_struct" => AttributeValue::Null,
        "tuple" => l(vec![1.into(), "t".into(), false.into()]),
        "newtype" => 9,
        "number" => Number::parse("1.25").unwrap(),
    };
    assert_eq!(it, want);
    // Reading is lenient where it is unambiguous: a plain `Vec<u8>` reads a `B`, a `Vec`
    // reads a set.
    let mut it2 = it.clone();
    it2.insert("plain_bytes", AttributeValue::B(vec![3]));
    assert_eq!(from_item::<Everything>(it2).unwrap(), v);
    assert_eq!(
        from_value::<Vec<String>>(AttributeValue::string_set(["b", "a"])).unwrap(),
        ["a", "b"]
    );
    // A NULL reads as an empty set; a missing set with `default` reads as empty.
    let mut it3 = it;
    it3.insert("ss", AttributeValue::Null);
    it3.remove("ns");
    let back: Everything = from_item(it3).unwrap();
    assert!(back.ss.is_empty() && back.ns.is_empty());
}

#[test]
fn wrong_types_name_the_path() {
    #[derive(Debug, Serialize, Deserialize)]
    struct Order {
        total: u32,
    }
    #[derive(Debug, Serialize, Deserialize)]
    struct Customer {
        id: String,
        orders: Vec<Order>,
    }
    let order = |v: AttributeValue| AttributeValue::from(item! { "total" => v });
    let it = item! {
        "id" => "c1",
        "orders" => vec![order(1.into()), order(2.into()), order("many".into())],
    };
    let err = from_item::<Customer>(it).unwrap_err();
    assert_eq!(
        err.to_string(),
        "orders[2].total: expected a number, found S"
    );
    assert_eq!(err.path(), "orders[2].total");

    let err = from_item::<Customer>(item! { "id" => "c1" }).unwrap_err();
    assert_eq!(err.to_string(), "missing field `orders`");

    let err = from_item::<Customer>(item! { "id" => 1, "orders" => vec![] as Vec<AttributeValue> })
        .unwrap_err();
    assert_eq!(err.to_string(), "id: expected a string, found N");

    let err = from_value::<u8>(AttributeValue::from(300)).unwrap_err();
    assert_eq!(err.to_string(), "300 does not fit in u8");
    let err = from_value::<i64>(AttributeValue::N(Number::parse("1.5").unwrap())).unwrap_err();
    assert_eq!(err.to_string(), "1.5 does not fit in i64");
    let err = from_value::<f32>(AttributeValue::N(Number::parse("1E100").unwrap())).unwrap_err();
    assert!(err.to_string().contains("does not fit in f32"), "{err}");

    #[derive(Debug, Deserialize)]
    enum E {
        #[allow(dead_code)]
        A(u8),
    }
    let two_keys = AttributeValue::from(item! { "A" => 1, "B" => 2 });
    let err = from_value::<E>(two_keys).unwrap_err();
    assert!(err.to_string().starts_with("expected an enum"), "{err}");
    let err = from_value::<Vec<E>>(AttributeValue::L(vec![AttributeValue::from(
        item! { "A" => "x" },
    )]))
    .unwrap_err();
    assert_eq!(err.to_string(), "[0].A: expected a number, found S");
}

#[test]
fn non_string_map_keys_are_errors() {
    #[derive(Serialize)]
    struct S {
        by_id: BTreeMap<u32, String>,
    }
    let err = to_item(&S {
        by_id: BTreeMap::from([(1, "a".to_string())]),
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "by_id: map keys must be strings, found a number"
    );
    assert!(matches!(
        err.kind(),
        ItemSerdeErrorKind::KeyNotString { .. }
    ));
    let err = to_value(&HashMap::from([((1, 2), 3)])).unwrap_err();
    assert!(matches!(
        err.kind(),
        ItemSerdeErrorKind::KeyNotString { found: "a tuple" }
    ));
}

#[test]
fn non_finite_floats_and_huge_numbers_are_errors() {
    #[derive(Serialize)]
    struct S {
        xs: Vec<f64>,
    }
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let err = to_item(&S { xs: vec![1.0, bad] }).unwrap_err();
        assert!(err.to_string().starts_with("xs[1]: "), "{err}");
        assert!(
            matches!(
                err.kind(),
                ItemSerdeErrorKind::Number(NumberError::NotFinite { .. })
            ),
            "{err:?}"
        );
    }
    assert!(to_value(&f32::NAN).is_err());
    assert!(matches!(
        to_value(&i128::MAX).unwrap_err().kind(),
        ItemSerdeErrorKind::Number(NumberError::TooManyDigits { .. })
    ));
    assert!(matches!(
        to_value(&1e300f64).unwrap_err().kind(),
        ItemSerdeErrorKind::Number(NumberError::Overflow)
    ));
}

#[test]
fn other_unsupported_shapes_are_errors() {
    let err = to_item(&5).unwrap_err();
    assert_eq!(
        err.to_string(),
        "an item must be a struct or a map, found N"
    );
    assert!(to_item(&None::<Inner>).is_err());
    assert_eq!(to_value(&None::<u8>).unwrap(), AttributeValue::Null);

    #[derive(Serialize)]
    struct Dup {
        #[serde(with = "strata_item::sets::string_set")]
        tags: Vec<&'static str>,
    }
    let err = to_item(&Dup {
        tags: vec!["a", "b", "a"],
    })
    .unwrap_err();
    assert_eq!(err.to_string(), "tags: duplicate element in a set: a");

    #[derive(Serialize)]
    struct Mixed {
        #[serde(with = "strata_item::sets::number_set")]
        nums: Vec<AttributeValueLike>,
    }
    #[derive(Serialize)]
    #[serde(untagged)]
    enum AttributeValueLike {
        N(u8),
        S(&'static str),
    }
    let err = to_item(&Mixed {
        nums: vec![AttributeValueLike::N(1), AttributeValueLike::S("x")],
    })
    .unwrap_err();
    assert_eq!(err.to_string(), "nums[1]: expected a number, found S");
}

/// A list nested `depth` times around a number.
fn nested_list(depth: usize) -> AttributeValue {
    let mut v = AttributeValue::from(1);
    for _ in 0..depth {
        v = AttributeValue::L(vec![v]);
    }
    v
}

#[derive(Debug, Serialize, Deserialize)]
struct Node {
    next: Option<Box<Node>>,
}

fn chain(n: usize) -> Node {
    let mut node = Node { next: None };
    for _ in 0..n {
        node = Node {
            next: Some(Box::new(node)),
        };
    }
    node
}

#[test]
fn nesting_follows_dynamodbs_limit() {
    // 31 lists around a scalar are fine, 32 are not: the same rule as `validate_item`.
    for (depth, ok) in [(31, true), (32, false)] {
        let it = item! { "deep" => nested_list(depth) };
        assert_eq!(validate_item(&it, None).is_ok(), ok);
        let back = from_item::<BTreeMap<String, serde_json::Value>>(it);
        assert_eq!(back.is_ok(), ok, "{back:?}");
        let v: serde_json::Value =
            serde_json::from_str(&format!("{}1{}", "[".repeat(depth), "]".repeat(depth))).unwrap();
        let to = to_item(&BTreeMap::from([("deep", v)]));
        assert_eq!(to.is_ok(), ok, "{to:?}");
        if !ok {
            let err = to.unwrap_err();
            assert!(matches!(err.kind(), ItemSerdeErrorKind::TooDeep));
            assert!(err.path().starts_with("deep[0][0]"), "{}", err.path());
        }
    }
    // A struct chain: each level is a map.
    assert!(to_item(&chain(30)).is_ok());
    let err = to_item(&chain(40)).unwrap_err();
    assert!(matches!(err.kind(), ItemSerdeErrorKind::TooDeep));
    assert!(err.path().starts_with("next.next.next"), "{}", err.path());
}

#[test]
fn very_deep_input_is_an_error_not_a_stack_overflow() {
    // 100,000 levels in memory: reading stops at level 33.
    let it = item! { "deep" => nested_list(100_000) };
    let err = from_item::<BTreeMap<String, serde_json::Value>>(it).unwrap_err();
    assert!(matches!(err.kind(), ItemSerdeErrorKind::TooDeep), "{err}");
    let err = from_value::<serde_json::Value>(nested_list(100_000)).unwrap_err();
    assert!(matches!(err.kind(), ItemSerdeErrorKind::TooDeep), "{err}");

    // Newtype wrappers add no DynamoDB level, but each is a stack frame: bounded too.
    #[derive(Serialize)]
    struct W(Option<Box<W>>);
    let mut w = W(None);
    for _ in 0..2_000 {
        w = W(Some(Box::new(w)));
    }
    let err = to_value(&w).unwrap_err();
    assert!(matches!(err.kind(), ItemSerdeErrorKind::TooDeep), "{err}");
    // Dropping the chain recurses once per level; keep it off this test's stack.
    std::mem::forget(w);
}

#[test]
fn attribute_value_and_item_fields_keep_their_types() {
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Holder {
        raw: Item,
        any: AttributeValue,
        list: Vec<AttributeValue>,
    }
    let h = Holder {
        raw: item! { "a" => 1, "s" => AttributeValue::string_set(["x"]) },
        any: AttributeValue::number_set([1, 2]),
        list: vec![AttributeValue::B(vec![7]), AttributeValue::Null],
    };
    let it = to_item(&h).unwrap();
    assert_eq!(
        it,
        item! {
            "raw" => item! { "a" => 1, "s" => AttributeValue::string_set(["x"]) },
            "any" => AttributeValue::number_set([1, 2]),
            "list" => AttributeValue::L(vec![AttributeValue::B(vec![7]), AttributeValue::Null]),
        }
    );
    assert_eq!(from_item::<Holder>(it).unwrap(), h);
    // Other formats still see DynamoDB JSON.
    assert_eq!(
        serde_json::to_string(&h.any).unwrap(),
        r#"{"NS":["1","2"]}"#
    );
    // A whole item read as an `Item` is the item itself.
    let it = item! { "k" => "v", "n" => 3 };
    assert_eq!(from_item::<Item>(it.clone()).unwrap(), it);
    assert_eq!(to_item(&it).unwrap(), it);
    // The nesting limit holds for these fields too.
    let mut deep = item! { "x" => 1 };
    for _ in 0..31 {
        deep = item! { "x" => deep };
    }
    assert!(
        to_item(&Holder {
            raw: deep.clone(),
            any: AttributeValue::Null,
            list: vec![]
        })
        .is_err()
    );
    assert!(from_item::<Holder>(item! { "raw" => deep, "any" => AttributeValue::Null, "list" => AttributeValue::L(vec![]) }).is_err());
}

#[test]
fn flatten_and_other_enum_representations() {
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "type")]
    enum Event {
        Created { by: String },
        Deleted,
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(untagged)]
    enum Id {
        Num(u64),
        Text(String),
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Meta {
        version: u32,
        amount: Number,
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Doc {
        id: Id,
        other: Id,
        events: Vec<Event>,
        #[serde(flatten)]
        meta: Meta,
        #[serde(rename = "odd name", skip_serializing_if = "Vec::is_empty", default)]
        renamed: Vec<u8>,
    }
    let d = Doc {
        id: Id::Num(7),
        other: Id::Text("x".into()),
        events: vec![Event::Created { by: "ann".into() }, Event::Deleted],
        meta: Meta {
            version: 3,
            amount: Number::parse("12.5").unwrap(),
        },
        renamed: vec![],
    };
    let it = to_item(&d).unwrap();
    assert_eq!(it.get("version"), Some(&AttributeValue::from(3)));
    assert_eq!(
        it.get("amount"),
        Some(&AttributeValue::N(Number::parse("12.5").unwrap()))
    );
    assert_eq!(
        it.get("events")
            .and_then(AttributeValue::as_l)
            .map(|l| l[1].clone()),
        Some(AttributeValue::from(item! { "type" => "Deleted" }))
    );
    assert!(!it.contains_key("odd name"));
    assert_eq!(from_item::<Doc>(it).unwrap(), d);
}
