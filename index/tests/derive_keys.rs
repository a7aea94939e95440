//! `derive_keys` (what a writer records) agrees with `derive` (what the maintainer
//! materializes) on every input: the same entry keys, units and errors, strict and
//! committed, for every projection.

use proptest::prelude::*;
use strata_index::{
    DeltaKeys, GsiDef, IndexDelta, Projection, derive, derive_committed, derive_keys,
    derive_keys_committed,
};
use strata_item::{Item, KeySchema, KeyType};

fn keys_of(d: &IndexDelta) -> DeltaKeys {
    DeltaKeys {
        delete: d.delete.clone(),
        put: d.put.as_ref().map(|e| e.at.clone()),
        write_units: d.write_units,
    }
}

/// An item with key `pk`; the index key `g` absent, a string, or a number (wrong type);
/// a projected attribute `t` and an unprojected `u`, each maybe absent.
fn item() -> impl Strategy<Value = Item> {
    (
        prop_oneof![Just(None), (0u8..3).prop_map(Some), Just(Some(99))],
        proptest::option::of(0u8..3),
        proptest::option::of(0u8..3),
        0usize..3,
    )
        .prop_map(|(g, t, u, pad)| {
            let mut it = Item::new();
            it.insert("pk", "k");
            match g {
                Some(99) => {
                    it.insert("g", 7);
                }
                Some(g) => {
                    it.insert("g", format!("g{g}"));
                }
                None => {}
            }
            if let Some(t) = t {
                it.insert("t", format!("t{t}"));
            }
            if let Some(u) = u {
                it.insert("u", "u".repeat(1 + 700 * usize::from(u)));
            }
            if pad > 0 {
                it.insert("pad", "p".repeat(900 * pad));
            }
            it
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn derive_keys_agrees_with_derive(
        old in proptest::option::of(item()),
        new in proptest::option::of(item()),
        projection in 0u8..3,
    ) {
        let base = KeySchema::simple("pk", KeyType::S);
        let projection = match projection {
            0 => Projection::All,
            1 => Projection::KeysOnly,
            _ => Projection::Include(vec!["t".into()]),
        };
        let def = GsiDef::new("by_g", KeySchema::simple("g", KeyType::S))
            .partitions(3)
            .projection(projection);
        let (o, n) = (old.as_ref(), new.as_ref());
        let strict = derive(&def, &base, o, n);
        let keys = derive_keys(&def, &base, o, n);
        prop_assert_eq!(strict.as_ref().map(keys_of).map_err(Clone::clone), keys);
        let committed = derive_committed(&def, &base, o, n);
        let keys = derive_keys_committed(&def, &base, o, n);
        prop_assert_eq!(
            committed.as_ref().map(|(d, s)| (keys_of(d), *s)).map_err(Clone::clone),
            keys
        );
    }
}
