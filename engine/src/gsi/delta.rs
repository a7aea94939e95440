//! The GSI delta a base write appends to its WAL batch as log data
//! ([`crate::lsm::WriteBatch::log_data`]): what the write does to one index, computed
//! under the partition lock by `strata_index::derive`. Format in `docs/gsi-format.md`
//! ("Index deltas in the base WAL").
//!
//! ```text
//! tag:u8 = 'G'  version:u8 = 2  name_len:u8  name  flags:u8
//! [flags & 1] be32 len, entry key to delete
//! [flags & 4] be32 len, entry key to put; the entry's item is the projection of the
//!             base item of the nearest put that precedes this delta in the record
//! ```
//!
//! Version 1 (written by earlier builds, still read) carried the projected item itself:
//! `[flags & 2] be32 len, entry key to put, be32 len, value`.

use strata_index::{DeltaKeys, EntryKey, GsiDef, KeyShape, PlacedKey, Projection};
use strata_item::{Item, KeySchema, codec};

use crate::table::layout::{HashedKey, base_key};

/// First byte of an index delta.
pub(crate) const DELTA_TAG: u8 = b'G';
/// Version of the delta encoding written.
pub(crate) const DELTA_VERSION: u8 = 2;
/// The earlier version, still read: puts carry their projected item.
const DELTA_VERSION_INLINE: u8 = 1;

const HAS_DELETE: u8 = 1;
/// Version 1: a put with its value inline.
const HAS_PUT_INLINE: u8 = 2;
/// Version 2: a put whose value is projected from the record's base item.
const HAS_PUT_REF: u8 = 4;

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    // Keys and items are far below 4 GiB (400 KB item limit).
    out.extend_from_slice(&u32::try_from(b.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(b);
}

/// Encodes `delta` of index `name` (at most 255 bytes, as index names are). The caller
/// appends it to the batch *after* the put of the base item it derives from (when the
/// delta has a put), so the reader finds that item as the nearest preceding put.
pub(crate) fn encode(name: &str, delta: &DeltaKeys) -> Vec<u8> {
    let name = &name.as_bytes()[..name.len().min(255)];
    let mut out = Vec::with_capacity(64);
    out.push(DELTA_TAG);
    out.push(DELTA_VERSION);
    out.push(name.len() as u8);
    out.extend_from_slice(name);
    let flags = if delta.delete.is_some() {
        HAS_DELETE
    } else {
        0
    } | if delta.put.is_some() { HAS_PUT_REF } else { 0 };
    out.push(flags);
    if let Some(d) = &delta.delete {
        put_bytes(&mut out, &d.bytes);
    }
    if let Some(p) = &delta.put {
        put_bytes(&mut out, &p.bytes);
    }
    out
}

/// The index name a delta is for, without decoding the rest (`None`: not an index
/// delta of a version this build knows).
pub(crate) fn index_name(data: &[u8]) -> Option<&[u8]> {
    if data.len() < 3
        || data[0] != DELTA_TAG
        || !matches!(data[1], DELTA_VERSION | DELTA_VERSION_INLINE)
    {
        return None;
    }
    data.get(3..3 + usize::from(data[2]))
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| format!("truncated at byte {}: need {n} bytes", self.pos))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let l = self.take(4)?;
        let len = u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize;
        self.take(len)
    }
}

/// The put of a decoded delta.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawPut {
    /// Version 1: the entry key and the stored value.
    Inline(PlacedKey, Vec<u8>),
    /// Version 2: the entry key; the value comes from the record's base item
    /// ([`resolve`]).
    Ref(PlacedKey),
}

/// A decoded delta, its put not yet resolved against the base item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawDelta {
    pub delete: Option<PlacedKey>,
    pub put: Option<RawPut>,
}

/// Decodes a delta of index `def` over a table with key schema `base`.
///
/// # Errors
/// What is wrong, with the byte offset: a bad tag, version or flags, a truncated field,
/// trailing bytes, an entry key that does not decode, an inline value that is not an
/// item.
pub(crate) fn decode(data: &[u8], def: &GsiDef, base: &KeySchema) -> Result<RawDelta, String> {
    let mut r = Reader { buf: data, pos: 0 };
    let head = r.take(3)?;
    let known = match head[1] {
        DELTA_VERSION => HAS_DELETE | HAS_PUT_REF,
        DELTA_VERSION_INLINE => HAS_DELETE | HAS_PUT_INLINE,
        _ => 0,
    };
    if head[0] != DELTA_TAG || known == 0 {
        return Err(format!(
            "not an index delta of version {DELTA_VERSION_INLINE} or {DELTA_VERSION}: starts {:02x} {:02x}",
            head[0], head[1]
        ));
    }
    let name = r.take(usize::from(head[2]))?;
    if name != def.name.as_bytes() {
        return Err(format!("delta names another index than {}", def.name));
    }
    let flags = r.take(1)?[0];
    if flags & !known != 0 {
        return Err(format!(
            "unknown flags {flags:#04x} for version {}",
            head[1]
        ));
    }
    let shape = KeyShape::new(def, base);
    let place = |bytes: &[u8]| -> Result<PlacedKey, String> {
        let key = EntryKey::decode(bytes, shape).map_err(|e| format!("entry key: {e}"))?;
        PlacedKey::new(key, def.partitions).map_err(|e| format!("entry key: {e}"))
    };
    let delete = if flags & HAS_DELETE != 0 {
        Some(place(r.bytes()?)?)
    } else {
        None
    };
    let put = if flags & HAS_PUT_INLINE != 0 {
        let at = place(r.bytes()?)?;
        let value = r.bytes()?;
        codec::decode_item(value).map_err(|e| format!("projected item: {e}"))?;
        Some(RawPut::Inline(at, value.to_vec()))
    } else if flags & HAS_PUT_REF != 0 {
        Some(RawPut::Ref(place(r.bytes()?)?))
    } else {
        None
    };
    if r.pos != data.len() {
        return Err(format!("{} bytes after the delta", data.len() - r.pos));
    }
    Ok(RawDelta { delete, put })
}

/// The stored value of entry `at`, put by reference: the projection of the base item
/// that the nearest preceding put of the record wrote (`put_key`, `put_value`;
/// `item` decodes `put_value`, called only when the projection is not `ALL`).
///
/// # Errors
/// The put is of another base item than the entry's; the item does not give the
/// entry (a projection other than `ALL`: its index key must give `at`).
pub(crate) fn resolve<'i>(
    def: &GsiDef,
    base: &KeySchema,
    at: &PlacedKey,
    put_key: &[u8],
    put_value: &[u8],
    item: impl FnOnce() -> Result<&'i Item, String>,
) -> Result<Vec<u8>, String> {
    let pk = &at.key.base;
    let hashed = HashedKey::new(&pk.partition).map_err(|e| format!("entry key: {e}"))?;
    let want = base_key(&hashed, pk.sort.as_ref()).map_err(|e| format!("entry key: {e}"))?;
    if put_key != want {
        return Err("the put before the delta is of another base item".to_owned());
    }
    if def.projection == Projection::All {
        // The base item's own bytes are the projected item's.
        return Ok(put_value.to_vec());
    }
    let entry = strata_index::entry_of(def, base, item()?)
        .map_err(|e| format!("the base item before the delta: {e}"))?
        .ok_or_else(|| "the base item before the delta has no entry in the index".to_owned())?;
    if entry.at.bytes != at.bytes {
        return Err("the base item before the delta gives another entry key".to_owned());
    }
    Ok(entry.value())
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_index::{DeltaOps, IndexDelta, derive, derive_keys};
    use strata_item::{KeyType, item};

    fn v1(name: &str, delta: &IndexDelta) -> Vec<u8> {
        let mut out = vec![DELTA_TAG, DELTA_VERSION_INLINE, name.len() as u8];
        out.extend_from_slice(name.as_bytes());
        let flags = u8::from(delta.delete.is_some()) | (u8::from(delta.put.is_some()) << 1);
        out.push(flags);
        if let Some(d) = &delta.delete {
            put_bytes(&mut out, &d.bytes);
        }
        if let Some(p) = &delta.put {
            put_bytes(&mut out, &p.at.bytes);
            put_bytes(&mut out, &p.value());
        }
        out
    }

    fn tree_key(schema: &KeySchema, item: &Item) -> Vec<u8> {
        let pk = schema.extract_key(item).unwrap();
        base_key(&HashedKey::new(&pk.partition).unwrap(), pk.sort.as_ref()).unwrap()
    }

    /// Decodes and resolves `bytes` as the source does, with `new` as the record's put.
    fn ops(
        bytes: &[u8],
        def: &GsiDef,
        schema: &KeySchema,
        new: Option<&Item>,
    ) -> Result<DeltaOps, String> {
        let raw = decode(bytes, def, schema)?;
        let put = match raw.put {
            None => None,
            Some(RawPut::Inline(at, v)) => Some((at, v)),
            Some(RawPut::Ref(at)) => {
                let n = new.ok_or("no put")?;
                let v = resolve(
                    def,
                    schema,
                    &at,
                    &tree_key(schema, n),
                    &codec::encode_item(n),
                    || Ok(n),
                )?;
                Some((at, v))
            }
        };
        Ok(DeltaOps {
            delete: raw.delete,
            put,
        })
    }

    #[test]
    fn round_trip_and_damage_every_projection_and_both_versions() {
        let base = KeySchema::composite("pk", KeyType::S, "sk", KeyType::N);
        let all = GsiDef::new("by_g", KeySchema::simple("g", KeyType::S)).partitions(3);
        let keys = all.clone().projection(strata_index::Projection::KeysOnly);
        let old = item! { "pk" => "a", "sk" => 1, "g" => "x", "v" => 1 };
        let new = item! { "pk" => "a", "sk" => 1, "g" => "y", "v" => 2 };
        for def in [&all, &keys] {
            for (o, n) in [
                (None, Some(&new)),
                (Some(&old), Some(&new)),
                (Some(&old), None),
            ] {
                let d = derive(def, &base, o, n).unwrap();
                let want = DeltaOps::from(d.clone());
                let k = derive_keys(def, &base, o, n).unwrap();
                for bytes in [encode(&def.name, &k), v1(&def.name, &d)] {
                    assert_eq!(index_name(&bytes), Some(&b"by_g"[..]));
                    assert_eq!(ops(&bytes, def, &base, n).unwrap(), want);
                    for len in 0..bytes.len() {
                        assert!(decode(&bytes[..len], def, &base).is_err(), "len {len}");
                    }
                    let mut long = bytes.clone();
                    long.push(0);
                    assert!(decode(&long, def, &base).is_err());
                }
            }
        }
        let other = GsiDef::new("by_h", KeySchema::simple("g", KeyType::S));
        let bytes = encode(
            &all.name,
            &derive_keys(&all, &base, None, Some(&new)).unwrap(),
        );
        assert!(decode(&bytes, &other, &base).is_err());
        assert_eq!(index_name(b"xx"), None);
    }

    #[test]
    fn a_put_by_reference_must_match_the_base_item_before_it() {
        let base = KeySchema::simple("pk", KeyType::S);
        let all = GsiDef::new("by_g", KeySchema::simple("g", KeyType::S));
        let keys = all.clone().projection(strata_index::Projection::KeysOnly);
        let new = item! { "pk" => "a", "g" => "y" };
        for def in [&all, &keys] {
            let bytes = encode(
                &def.name,
                &derive_keys(def, &base, None, Some(&new)).unwrap(),
            );
            let Some(RawPut::Ref(at)) = decode(&bytes, def, &base).unwrap().put else {
                panic!("a put by reference")
            };
            let other = item! { "pk" => "b", "g" => "y" };
            let e = resolve(def, &base, &at, &tree_key(&base, &other), b"", || {
                Ok(&other)
            })
            .unwrap_err();
            assert!(e.contains("another base item"), "{e}");
            let v = resolve(
                def,
                &base,
                &at,
                &tree_key(&base, &new),
                &codec::encode_item(&new),
                || Ok(&new),
            );
            assert_eq!(v.unwrap(), codec::encode_item(&new));
        }
        // A projection other than ALL checks the item's index key too.
        let at = match decode(
            &encode(
                &keys.name,
                &derive_keys(&keys, &base, None, Some(&new)).unwrap(),
            ),
            &keys,
            &base,
        )
        .unwrap()
        .put
        {
            Some(RawPut::Ref(at)) => at,
            other => panic!("{other:?}"),
        };
        let moved = item! { "pk" => "a", "g" => "z" };
        let e = resolve(&keys, &base, &at, &tree_key(&base, &moved), b"", || {
            Ok(&moved)
        })
        .unwrap_err();
        assert!(e.contains("another entry key"), "{e}");
        let sparse = item! { "pk" => "a" };
        let e = resolve(&keys, &base, &at, &tree_key(&base, &sparse), b"", || {
            Ok(&sparse)
        })
        .unwrap_err();
        assert!(e.contains("no entry"), "{e}");
        let e = resolve(&keys, &base, &at, &tree_key(&base, &new), b"", || {
            Err("damaged".to_owned())
        })
        .unwrap_err();
        assert_eq!(e, "damaged");
        // Version 2 refuses version 1's inline flag and the other way round.
        let bytes = encode(
            &all.name,
            &derive_keys(&all, &base, None, Some(&new)).unwrap(),
        );
        let mut bad = bytes.clone();
        let flags_at = 3 + all.name.len();
        bad[flags_at] = HAS_PUT_INLINE;
        assert!(decode(&bad, &all, &base).is_err());
        bad[1] = DELTA_VERSION_INLINE;
        bad[flags_at] = HAS_PUT_REF;
        assert!(decode(&bad, &all, &base).is_err());
    }
}
