//! Random GSI definitions and base items through `strata_index::derive`, with the
//! invariants of its result checked: entry keys decode back to themselves and land in
//! their partition, the stored item is the projection, unchanged items give no delta,
//! errors agree with `check_item`. The rest of the input is decoded as an entry key and
//! as each metadata value; whatever decodes must re-encode to the same bytes.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use strata_index::meta::{BackfillProgress, Checkpoint, PartitionHeader};
use strata_index::{
    DeltaKeys, DeriveError, EntryKey, GsiDef, KeyShape, Projection, check_item, derive,
    derive_keys, project,
};
use strata_item::{AttributeValue, Item, KeySchema, KeyType, codec};

const NAMES: [&str; 6] = ["pk", "sk", "g", "h", "a", "b"];

fn key_type(u: &mut Unstructured<'_>) -> Result<KeyType> {
    Ok(*u.choose(&[KeyType::S, KeyType::N, KeyType::B])?)
}

fn value(u: &mut Unstructured<'_>) -> Result<AttributeValue> {
    Ok(match u.int_in_range(0..=6u8)? {
        0 => AttributeValue::from(*u.choose(&["", "x", "y", "a\0b", "zz"])?),
        1 => AttributeValue::from(u.int_in_range(-3..=3i64)?),
        2 => {
            let n = u.int_in_range(0..=3usize)?;
            AttributeValue::B(u.bytes(n)?.to_vec())
        }
        3 => AttributeValue::Bool(u.arbitrary()?),
        4 => AttributeValue::Null,
        5 => AttributeValue::from("k".repeat(u.int_in_range(1000..=2100usize)?)),
        _ => AttributeValue::L(vec![AttributeValue::from(1)]),
    })
}

fn item(u: &mut Unstructured<'_>, base: &KeySchema) -> Result<Option<Item>> {
    if !u.arbitrary::<bool>()? {
        return Ok(None);
    }
    let mut it = Item::new();
    it.insert("pk", AttributeValue::from(*u.choose(&["p1", "p2"])?));
    if base.sort_key.is_some() {
        it.insert("sk", AttributeValue::from(u.int_in_range(0..=2i64)?));
    }
    for _ in 0..u.int_in_range(0..=4usize)? {
        let name = *u.choose(&NAMES[2..])?;
        it.insert(name, value(u)?);
    }
    Ok(Some(it))
}

fn def(u: &mut Unstructured<'_>) -> Result<GsiDef> {
    let pk = *u.choose(&NAMES)?;
    let schema = if u.arbitrary()? {
        KeySchema::composite(pk, key_type(u)?, *u.choose(&NAMES)?, key_type(u)?)
    } else {
        KeySchema::simple(pk, key_type(u)?)
    };
    let projection = match u.int_in_range(0..=2u8)? {
        0 => Projection::KeysOnly,
        1 => {
            let n = u.int_in_range(0..=3usize)?;
            let mut attrs = Vec::new();
            for _ in 0..n {
                attrs.push((*u.choose(&NAMES)?).to_string());
            }
            Projection::Include(attrs)
        }
        _ => Projection::All,
    };
    Ok(GsiDef::new("fuzz_idx", schema)
        .projection(projection)
        .partitions(u.int_in_range(1..=8u32)?))
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let base = if u.arbitrary()? {
        KeySchema::composite("pk", KeyType::S, "sk", KeyType::N)
    } else {
        KeySchema::simple("pk", KeyType::S)
    };
    let def = def(u)?;
    let _ = def.validate(&base).map_err(|e| e.to_string());
    let old = item(u, &base)?;
    let new = item(u, &base)?;
    let shape = KeyShape::new(&def, &base);
    // What a writer records agrees with what the maintainer materializes.
    let keys = derive_keys(&def, &base, old.as_ref(), new.as_ref());
    let full = derive(&def, &base, old.as_ref(), new.as_ref());
    assert_eq!(
        full.as_ref().map(|d| DeltaKeys {
            delete: d.delete.clone(),
            put: d.put.as_ref().map(|e| e.at.clone()),
            write_units: d.write_units,
        }),
        keys.as_ref().cloned()
    );
    match full {
        Ok(d) => {
            if let Some(n) = &new {
                assert!(check_item(&def, n).is_ok());
                assert!(
                    derive(&def, &base, Some(n), Some(n))
                        .expect("same item")
                        .is_empty()
                );
            }
            if let Some(e) = &d.put {
                let n = new.as_ref().expect("a put needs a new item");
                assert_eq!(
                    EntryKey::decode(&e.at.bytes, shape).expect("decodes"),
                    e.at.key
                );
                assert_eq!(e.at.key.encode().expect("encodes"), e.at.bytes);
                assert!(e.at.partition < def.partitions);
                assert_eq!(
                    e.at.partition,
                    e.at.key.partition(def.partitions).expect("hash")
                );
                assert_eq!(e.item, project(&def, &base, n));
                assert_eq!(e.size, e.item.size());
                assert_eq!(codec::decode_item(&e.value()).expect("codec"), e.item);
            }
            if let Some(k) = &d.delete {
                assert_eq!(EntryKey::decode(&k.bytes, shape).expect("decodes"), k.key);
                if let Some(p) = &d.put {
                    assert_ne!(p.at.bytes, k.bytes, "a same-key change is a put alone");
                }
            }
            assert_eq!(d.write_units == 0, d.is_empty());
        }
        Err(
            e @ (DeriveError::IndexKeyTypeMismatch { .. } | DeriveError::IndexKeyInvalid { .. }),
        ) => {
            let n = new.as_ref().expect("only the new item is checked");
            assert_eq!(check_item(&def, n), Err(e));
        }
        Err(_) => {}
    }
    // Decoders on the rest of the input.
    let rest = u.bytes(u.len())?;
    if let Ok(k) = EntryKey::decode(rest, shape) {
        assert_eq!(k.encode().expect("decoded keys encode"), rest);
    }
    if let Ok(c) = Checkpoint::decode(rest) {
        assert_eq!(c.encode(), rest);
    }
    if let Ok(p) = BackfillProgress::decode(rest) {
        assert_eq!(p.encode().expect("decoded keys encode"), rest);
    }
    if let Ok(h) = PartitionHeader::decode(rest) {
        assert_eq!(h.encode(), rest);
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
