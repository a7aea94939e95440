//! The GSI delta a base write appends to its WAL batch as log data
//! ([`crate::lsm::WriteBatch::log_data`]): what the write does to one index, computed
//! under the partition lock by `strata_index::derive`. Format in `docs/gsi-format.md`
//! ("Index deltas in the base WAL").
//!
//! ```text
//! tag:u8 = 'G'  version:u8 = 1  name_len:u8  name  flags:u8
//! [flags & 1] be32 len, entry key to delete
//! [flags & 2] be32 len, entry key to put, be32 len, value (projected item, item codec)
//! ```

use strata_index::{EntryKey, GsiDef, IndexDelta, IndexEntry, KeyShape, PlacedKey};
use strata_item::codec;

/// First byte of an index delta.
pub(crate) const DELTA_TAG: u8 = b'G';
/// Version of the delta encoding.
pub(crate) const DELTA_VERSION: u8 = 1;

const HAS_DELETE: u8 = 1;
const HAS_PUT: u8 = 2;

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    // Keys and items are far below 4 GiB (400 KB item limit).
    out.extend_from_slice(&u32::try_from(b.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(b);
}

/// Encodes `delta` of index `name` (at most 255 bytes, as index names are).
pub(crate) fn encode(name: &str, delta: &IndexDelta) -> Vec<u8> {
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
    } | if delta.put.is_some() { HAS_PUT } else { 0 };
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

/// The index name a delta is for, without decoding the rest (`None`: not an index
/// delta of a version this build knows).
pub(crate) fn index_name(data: &[u8]) -> Option<&[u8]> {
    if data.len() < 3 || data[0] != DELTA_TAG || data[1] != DELTA_VERSION {
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

/// Decodes a delta of index `def` over a table with key schema `base`.
///
/// # Errors
/// What is wrong, with the byte offset: a bad tag, version or flags, a truncated field,
/// trailing bytes, an entry key that does not decode, a value that is not an item.
pub(crate) fn decode(
    data: &[u8],
    def: &GsiDef,
    base: &strata_item::KeySchema,
) -> Result<IndexDelta, String> {
    let mut r = Reader { buf: data, pos: 0 };
    let head = r.take(3)?;
    if head[0] != DELTA_TAG || head[1] != DELTA_VERSION {
        return Err(format!(
            "not an index delta of version {DELTA_VERSION}: starts {:02x} {:02x}",
            head[0], head[1]
        ));
    }
    let name = r.take(usize::from(head[2]))?;
    if name != def.name.as_bytes() {
        return Err(format!("delta names another index than {}", def.name));
    }
    let flags = r.take(1)?[0];
    if flags & !(HAS_DELETE | HAS_PUT) != 0 {
        return Err(format!("unknown flags {flags:#04x}"));
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
    let put = if flags & HAS_PUT != 0 {
        let at = place(r.bytes()?)?;
        let item = codec::decode_item(r.bytes()?).map_err(|e| format!("projected item: {e}"))?;
        let size = item.size();
        Some(IndexEntry { at, item, size })
    } else {
        None
    };
    if r.pos != data.len() {
        return Err(format!("{} bytes after the delta", data.len() - r.pos));
    }
    Ok(IndexDelta {
        delete,
        put,
        write_units: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_index::derive;
    use strata_item::{KeySchema, KeyType, item};

    #[test]
    fn round_trip_and_damage() {
        let base = KeySchema::composite("pk", KeyType::S, "sk", KeyType::N);
        let def = GsiDef::new("by_g", KeySchema::simple("g", KeyType::S)).partitions(3);
        let old = item! { "pk" => "a", "sk" => 1, "g" => "x", "v" => 1 };
        let new = item! { "pk" => "a", "sk" => 1, "g" => "y", "v" => 2 };
        for (o, n) in [
            (None, Some(&new)),
            (Some(&old), Some(&new)),
            (Some(&old), None),
        ] {
            let mut d = derive(&def, &base, o, n).unwrap();
            let bytes = encode(&def.name, &d);
            assert_eq!(index_name(&bytes), Some(&b"by_g"[..]));
            d.write_units = 0;
            assert_eq!(decode(&bytes, &def, &base).unwrap(), d);
            for len in 0..bytes.len() {
                assert!(decode(&bytes[..len], &def, &base).is_err(), "len {len}");
            }
            let mut long = bytes.clone();
            long.push(0);
            assert!(decode(&long, &def, &base).is_err());
        }
        let other = GsiDef::new("by_h", KeySchema::simple("g", KeyType::S));
        let bytes = encode(&def.name, &derive(&def, &base, None, Some(&new)).unwrap());
        assert!(decode(&bytes, &other, &base).is_err());
        assert_eq!(index_name(b"xx"), None);
    }
}
