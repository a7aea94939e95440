#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! One validation for both ways in: a condition built in Rust and the same condition
//! written as an expression string (every name and value through a placeholder) are
//! accepted or rejected alike, and when accepted they evaluate alike.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use proptest::prelude::*;
use strata_item::expr::{
    self, AttributePath, Comparator, Condition, ExprKind, Operand, PathElement,
};
use strata_item::{AttributeValue as AV, Item, Number};

/// Renders a typed condition as an expression string, collecting placeholders.
#[derive(Default)]
struct Renderer {
    names: HashMap<String, String>,
    values: HashMap<String, AV>,
}

impl Renderer {
    fn name(&mut self, n: &str) -> String {
        let key = format!("#n{}", self.names.len());
        self.names.insert(key.clone(), n.to_string());
        key
    }

    fn value(&mut self, v: &AV) -> String {
        let key = format!(":v{}", self.values.len());
        self.values.insert(key.clone(), v.clone());
        key
    }

    fn path(&mut self, p: &AttributePath) -> String {
        let mut out = String::new();
        for (i, e) in p.elements().iter().enumerate() {
            match e {
                PathElement::Name(n) => {
                    if i > 0 {
                        out.push('.');
                    }
                    let key = self.name(n);
                    out.push_str(&key);
                }
                PathElement::Index(ix) => out.push_str(&format!("[{ix}]")),
            }
        }
        out
    }

    fn operand(&mut self, o: &Operand) -> String {
        match o {
            Operand::Path(p) => self.path(p),
            Operand::Value(v) => self.value(v),
            Operand::Size(inner) => format!("size({})", self.operand(inner)),
        }
    }

    fn condition(&mut self, c: &Condition) -> String {
        match c {
            Condition::Compare { op, left, right } => {
                let l = self.operand(left);
                let r = self.operand(right);
                format!("{l} {} {r}", op.symbol())
            }
            Condition::Between { operand, low, high } => {
                let o = self.operand(operand);
                let lo = self.operand(low);
                let hi = self.operand(high);
                format!("{o} BETWEEN {lo} AND {hi}")
            }
            Condition::In { operand, list } => {
                let o = self.operand(operand);
                let l: Vec<String> = list.iter().map(|x| self.operand(x)).collect();
                format!("{o} IN ({})", l.join(", "))
            }
            Condition::AttributeExists(p) => format!("attribute_exists({})", self.path(p)),
            Condition::AttributeNotExists(p) => {
                format!("attribute_not_exists({})", self.path(p))
            }
            Condition::AttributeType { path, type_name } => {
                let p = self.path(path);
                let t = self.value(&AV::from(*type_name));
                format!("attribute_type({p}, {t})")
            }
            Condition::BeginsWith { operand, prefix } => {
                let o = self.operand(operand);
                let p = self.operand(prefix);
                format!("begins_with({o}, {p})")
            }
            Condition::Contains { operand, value } => {
                let o = self.operand(operand);
                let v = self.operand(value);
                format!("contains({o}, {v})")
            }
            Condition::Not(x) => match **x {
                Condition::And(..) | Condition::Or(..) => format!("NOT ({})", self.condition(x)),
                _ => format!("NOT {}", self.condition(x)),
            },
            // AND binds tighter than OR; chains of one operator need no parentheses
            // (the parser groups them to the left, which does not change the meaning).
            Condition::And(a, b) => {
                let a = self.and_operand(a);
                let b = self.and_operand(b);
                format!("{a} AND {b}")
            }
            Condition::Or(a, b) => {
                let a = self.condition(a);
                let b = self.condition(b);
                format!("{a} OR {b}")
            }
        }
    }

    fn and_operand(&mut self, c: &Condition) -> String {
        match c {
            Condition::Or(..) => format!("({})", self.condition(c)),
            _ => self.condition(c),
        }
    }
}

fn arb_name() -> impl Strategy<Value = String> {
    prop_oneof![
        40 => prop::sample::select(vec!["a", "b", "c", "count", "m"]).prop_map(str::to_string),
        1 => Just(String::new()),
    ]
}

fn arb_path() -> impl Strategy<Value = AttributePath> {
    let elem = prop_oneof![
        8 => arb_name().prop_map(PathElement::Name),
        4 => (0u32..3).prop_map(PathElement::Index),
        1 => Just(PathElement::Index(u32::MAX)),
    ];
    let short = prop::collection::vec(elem.clone(), 0..3);
    let long = prop::collection::vec(elem, 30..35);
    (arb_name(), prop_oneof![20 => short, 1 => long]).prop_map(|(first, rest)| {
        let mut elems = vec![PathElement::Name(first)];
        elems.extend(rest);
        AttributePath::from_elements(elems).unwrap()
    })
}

fn arb_scalar() -> impl Strategy<Value = AV> {
    prop_oneof![
        (0i64..4).prop_map(AV::from),
        prop::sample::select(vec!["", "a", "ab", "b"]).prop_map(AV::from),
        prop::collection::vec(0u8..3, 0..3).prop_map(AV::B),
        any::<bool>().prop_map(AV::Bool),
        Just(AV::Null),
    ]
}

fn arb_value() -> impl Strategy<Value = AV> {
    prop_oneof![
        8 => arb_scalar(),
        1 => prop::collection::btree_set(prop::sample::select(vec!["a", "b"]), 0..3)
            .prop_map(|s| AV::Ss(s.into_iter().map(str::to_string).collect())),
        1 => (0i64..3).prop_map(|n| AV::Ns(BTreeSet::from([Number::from(n)]))),
        1 => prop::collection::vec(arb_scalar(), 0..3).prop_map(AV::L),
        1 => (30usize..34).prop_map(|levels| {
            let mut v = AV::from(1);
            for _ in 0..levels {
                v = AV::L(vec![v]);
            }
            v
        }),
    ]
}

fn arb_operand() -> impl Strategy<Value = Operand> {
    prop_oneof![
        4 => arb_path().prop_map(Operand::Path),
        3 => arb_value().prop_map(Operand::Value),
        1 => prop_oneof![arb_path().prop_map(Operand::Path), arb_value().prop_map(Operand::Value)]
            .prop_map(|o| Operand::Size(Box::new(o))),
    ]
}

fn arb_comparator() -> impl Strategy<Value = Comparator> {
    prop::sample::select(vec![
        Comparator::Eq,
        Comparator::Ne,
        Comparator::Lt,
        Comparator::Le,
        Comparator::Gt,
        Comparator::Ge,
    ])
}

fn arb_leaf() -> impl Strategy<Value = Condition> {
    prop_oneof![
        4 => (arb_comparator(), arb_operand(), arb_operand())
            .prop_map(|(op, left, right)| Condition::Compare { op, left, right }),
        1 => (arb_comparator(), arb_path()).prop_map(|(op, p)| Condition::Compare {
            op,
            left: Operand::Path(p.clone()),
            right: Operand::Path(p),
        }),
        1 => (arb_operand(), arb_operand(), arb_operand())
            .prop_map(|(operand, low, high)| Condition::Between { operand, low, high }),
        1 => (arb_operand(), prop::collection::vec(arb_operand(), 1..4))
            .prop_map(|(operand, list)| Condition::In { operand, list }),
        1 => (arb_path(), 98usize..103).prop_map(|(p, n)| Condition::In {
            operand: Operand::Path(p),
            list: (0..n).map(|i| Operand::Value(AV::from(i))).collect(),
        }),
        1 => arb_path().prop_map(Condition::AttributeExists),
        1 => arb_path().prop_map(Condition::AttributeNotExists),
        1 => (arb_path(), prop::sample::select(vec!["S", "N", "L", "M", "BOOL", "XX", "s"]))
            .prop_map(|(path, type_name)| Condition::AttributeType { path, type_name }),
        1 => (arb_operand(), arb_operand())
            .prop_map(|(operand, prefix)| Condition::BeginsWith { operand, prefix }),
        1 => (arb_operand(), arb_operand())
            .prop_map(|(operand, value)| Condition::Contains { operand, value }),
    ]
}

fn arb_condition() -> impl Strategy<Value = Condition> {
    let tree = arb_leaf().prop_recursive(3, 8, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|c| Condition::Not(Box::new(c))),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| Condition::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| Condition::Or(Box::new(a), Box::new(b))),
        ]
    });
    // Sometimes a long chain of NOTs around it, near the 300-operator limit.
    (tree, prop_oneof![6 => Just(0usize), 1 => 290usize..305]).prop_map(|(mut c, nots)| {
        for _ in 0..nots {
            c = Condition::Not(Box::new(c));
        }
        c
    })
}

fn arb_item() -> impl Strategy<Value = Item> {
    let nested = prop_oneof![
        arb_scalar(),
        prop::collection::vec(arb_scalar(), 0..3).prop_map(AV::L),
        prop::collection::btree_map(
            prop::sample::select(vec!["a", "b", "c"]).prop_map(strata_item::Name::from),
            arb_scalar(),
            0..3
        )
        .prop_map(AV::M),
    ];
    prop::collection::btree_map(
        prop::sample::select(vec!["a", "b", "c", "count", "m"]).prop_map(strata_item::Name::from),
        nested,
        0..5,
    )
    .prop_map(|m: BTreeMap<strata_item::Name, AV>| Item::from(m))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn typed_and_string_conditions_agree(c in arb_condition(), item in arb_item()) {
        let mut r = Renderer::default();
        let src = r.condition(&c);
        prop_assume!(src.len() <= expr::MAX_EXPRESSION_BYTES);
        for kind in [ExprKind::Condition, ExprKind::Filter] {
            let typed = c.check(kind);
            let parsed = match kind {
                ExprKind::Condition => expr::parse_condition(&src, &r.names, &r.values),
                _ => expr::parse_filter(&src, &r.names, &r.values),
            };
            match (&typed, &parsed) {
                (Ok(()), Ok(p)) => prop_assert_eq!(
                    c.matches(&item),
                    p.matches(&item),
                    "{} on {:?}", src, item
                ),
                // Where both name the problem the same way, the same problem is named:
                // only request-level problems (empty names, invalid values) are worded
                // differently, because the string form reports them by placeholder.
                (Err(t), Err(p)) => {
                    let by_placeholder = p.to_string().starts_with("ExpressionAttribute");
                    if !by_placeholder {
                        prop_assert_eq!(t, p, "{}", src);
                    }
                }
                _ => prop_assert!(
                    false,
                    "typed {:?} but string {:?} for {}",
                    typed, parsed.map(|_| ()), src
                ),
            }
        }
    }
}
