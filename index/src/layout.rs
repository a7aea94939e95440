//! Where an index entry lives: which GSI partition (the same stable hash as base
//! tables), and its byte key inside that partition's tree (`docs/gsi-format.md`).
//!
//! ```text
//! hash          h = XXH3_64(enc(index pk), seed 0)
//! partition     h mod partitions
//! metadata      0x00 ...                                         (checkpoints, progress)
//! entry         0x01 be64(h) enc(index pk) [enc(index sk)] enc(base pk) [enc(base sk)]
//! ```
//!
//! Every `enc` is self-delimiting and prefix-free, so entries sort by hash, index
//! partition key, index sort key, then base key: a query on an index partition key is
//! one range scan, and entries with equal index keys are ordered by base key.

use strata_item::key::{
    KeyDecodeError, KeyEncodeError, decode_key_value, encode_key_prefix, encode_key_value,
};
use strata_item::{AttributeValue, KeySchema, PrimaryKey};

use crate::def::GsiDef;

/// First byte of every metadata key (checkpoints, backfill progress, header).
pub const META_TAG: u8 = 0x00;
/// First byte of every index entry key.
pub const ENTRY_TAG: u8 = 0x01;

/// The seed of the partition hash. Never change it.
const HASH_SEED: u64 = 0;

/// The stable partition hash: XXH3-64 with seed 0 over the encoded partition key value
/// (the same function as base tables use, `docs/table-layout.md`).
///
/// ```
/// use strata_index::stable_hash;
/// assert_eq!(stable_hash(b""), 0x2D06_8005_38D3_94C2);
/// ```
pub fn stable_hash(encoded_pk: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(encoded_pk, HASH_SEED)
}

/// `hash mod partitions` (0 partitions is treated as 1; definitions are validated
/// earlier).
pub fn partition_of(hash: u64, partitions: u32) -> u32 {
    // The remainder is below `partitions`, so it fits u32.
    (hash % u64::from(partitions.max(1))) as u32
}

/// The GSI partition of an entry whose index partition key is `index_pk`.
///
/// ```
/// use strata_index::gsi_partition;
/// let p = gsi_partition(&"user#1".into(), 4)?;
/// assert!(p < 4);
/// # Ok::<(), strata_item::key::KeyEncodeError>(())
/// ```
///
/// # Errors
/// [`KeyEncodeError`] when the value is not `S`, `N` or `B`.
pub fn gsi_partition(index_pk: &AttributeValue, partitions: u32) -> Result<u32, KeyEncodeError> {
    let mut enc = Vec::new();
    encode_key_value(index_pk, &mut enc)?;
    Ok(partition_of(stable_hash(&enc), partitions))
}

/// Which key values an entry key holds: whether the index and the base table have sort
/// keys (needed to decode a key, since values carry no name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyShape {
    /// The index has a sort key.
    pub index_sort: bool,
    /// The base table has a sort key.
    pub base_sort: bool,
}

impl KeyShape {
    /// The shape of `def`'s entries over a table with key schema `base`.
    pub fn new(def: &GsiDef, base: &KeySchema) -> KeyShape {
        KeyShape {
            index_sort: def.key_schema.sort_key.is_some(),
            base_sort: base.sort_key.is_some(),
        }
    }
}

/// An entry's key: the index key and the base table's primary key.
///
/// ```
/// use strata_index::{EntryKey, KeyShape};
/// use strata_item::PrimaryKey;
///
/// let k = EntryKey {
///     index: PrimaryKey::with_sort("shipped", 20240101),
///     base: PrimaryKey::with_sort("customer#7", 42),
/// };
/// let bytes = k.encode()?;
/// let shape = KeyShape { index_sort: true, base_sort: true };
/// assert_eq!(EntryKey::decode(&bytes, shape)?, k);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryKey {
    /// The index partition key and (if the index has one) sort key.
    pub index: PrimaryKey,
    /// The base item's primary key.
    pub base: PrimaryKey,
}

impl EntryKey {
    /// The hash of the index partition key.
    ///
    /// # Errors
    /// [`KeyEncodeError`] when a value is not `S`, `N` or `B`.
    pub fn hash(&self) -> Result<u64, KeyEncodeError> {
        let mut enc = Vec::new();
        encode_key_value(&self.index.partition, &mut enc)?;
        Ok(stable_hash(&enc))
    }

    /// The GSI partition of this entry.
    ///
    /// # Errors
    /// [`KeyEncodeError`] when a value is not `S`, `N` or `B`.
    pub fn partition(&self, partitions: u32) -> Result<u32, KeyEncodeError> {
        Ok(partition_of(self.hash()?, partitions))
    }

    /// The byte key: `0x01 be64(h) enc(index pk) [enc(index sk)] enc(base pk) [enc(base sk)]`.
    ///
    /// # Errors
    /// [`KeyEncodeError`] when a value is not `S`, `N` or `B`.
    pub fn encode(&self) -> Result<Vec<u8>, KeyEncodeError> {
        let mut out = partition_prefix(&self.index.partition)?;
        for v in [
            &self.index.sort,
            &Some(self.base.partition.clone()),
            &self.base.sort,
        ]
        .into_iter()
        .flatten()
        {
            encode_key_value(v, &mut out)?;
        }
        Ok(out)
    }

    /// Decodes a key made by [`EntryKey::encode`], checking the tag, that the stored
    /// hash is the hash of the index partition key, and that the input ends after the
    /// values `shape` calls for.
    ///
    /// # Errors
    /// [`EntryKeyError`] saying what is wrong and where.
    pub fn decode(bytes: &[u8], shape: KeyShape) -> Result<EntryKey, EntryKeyError> {
        match bytes.first() {
            Some(&ENTRY_TAG) => {}
            Some(&found) => return Err(EntryKeyError::Tag { found }),
            None => return Err(EntryKeyError::Truncated { offset: 0 }),
        }
        let hash_bytes: [u8; 8] =
            bytes
                .get(1..9)
                .and_then(|b| b.try_into().ok())
                .ok_or(EntryKeyError::Truncated {
                    offset: bytes.len(),
                })?;
        let stored = u64::from_be_bytes(hash_bytes);
        let mut at = 9;
        let mut next = || -> Result<AttributeValue, EntryKeyError> {
            let (v, used) = decode_key_value(&bytes[at..])
                .map_err(|source| EntryKeyError::Value { offset: at, source })?;
            at += used;
            Ok(v)
        };
        let ipk = next()?;
        let isk = if shape.index_sort {
            Some(next()?)
        } else {
            None
        };
        let bpk = next()?;
        let bsk = if shape.base_sort { Some(next()?) } else { None };
        if at != bytes.len() {
            return Err(EntryKeyError::TrailingBytes {
                offset: at,
                extra: bytes.len() - at,
            });
        }
        let computed = stable_hash(&bytes[9..9 + encoded_len(&ipk)]);
        if computed != stored {
            return Err(EntryKeyError::HashMismatch { stored, computed });
        }
        Ok(EntryKey {
            index: PrimaryKey {
                partition: ipk,
                sort: isk,
            },
            base: PrimaryKey {
                partition: bpk,
                sort: bsk,
            },
        })
    }
}

/// The length of a value's encoding (values decoded from a key always encode).
fn encoded_len(v: &AttributeValue) -> usize {
    let mut out = Vec::new();
    match encode_key_value(v, &mut out) {
        Ok(()) => out.len(),
        Err(_) => 0,
    }
}

/// The prefix shared by all entries with index partition key `index_pk`:
/// `0x01 be64(h) enc(index pk)`.
///
/// # Errors
/// [`KeyEncodeError`] when the value is not `S`, `N` or `B`.
pub fn partition_prefix(index_pk: &AttributeValue) -> Result<Vec<u8>, KeyEncodeError> {
    let mut enc = Vec::with_capacity(32);
    encode_key_value(index_pk, &mut enc)?;
    let mut out = Vec::with_capacity(9 + enc.len() + 48);
    out.push(ENTRY_TAG);
    out.extend_from_slice(&stable_hash(&enc).to_be_bytes());
    out.extend_from_slice(&enc);
    Ok(out)
}

/// A condition on the index sort key of a query (DynamoDB's key condition operators).
#[derive(Debug, Clone, PartialEq)]
pub enum SortCondition {
    /// `sk = v`.
    Eq(AttributeValue),
    /// `sk < v`.
    Lt(AttributeValue),
    /// `sk <= v`.
    Le(AttributeValue),
    /// `sk > v`.
    Gt(AttributeValue),
    /// `sk >= v`.
    Ge(AttributeValue),
    /// `sk BETWEEN a AND b` (inclusive).
    Between(AttributeValue, AttributeValue),
    /// `begins_with(sk, p)` (`S` or `B`).
    BeginsWith(AttributeValue),
}

/// A half-open byte range `[start, end)` of entry keys in one GSI partition's tree.
///
/// ```
/// use strata_index::{EntryKey, KeyRange, SortCondition};
/// use strata_item::PrimaryKey;
///
/// let k = EntryKey { index: PrimaryKey::with_sort("open", 5), base: PrimaryKey::partition_only("o#1") };
/// let all = KeyRange::partition(&"open".into())?;
/// let low = KeyRange::with_sort(&"open".into(), &SortCondition::Lt(5.into()))?;
/// let bytes = k.encode()?;
/// assert!(all.contains(&bytes) && !low.contains(&bytes));
/// # Ok::<(), strata_item::key::KeyEncodeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRange {
    /// First key in the range.
    pub start: Vec<u8>,
    /// First key after the range.
    pub end: Vec<u8>,
}

impl KeyRange {
    /// Every entry key of a GSI partition (not the metadata).
    pub fn all_entries() -> KeyRange {
        KeyRange {
            start: vec![ENTRY_TAG],
            end: vec![ENTRY_TAG + 1],
        }
    }

    /// The entries of one index partition key value.
    ///
    /// # Errors
    /// [`KeyEncodeError`] when the value is not `S`, `N` or `B`.
    pub fn partition(index_pk: &AttributeValue) -> Result<KeyRange, KeyEncodeError> {
        let start = partition_prefix(index_pk)?;
        let end = after_extensions(&start);
        Ok(KeyRange { start, end })
    }

    /// The entries of one index partition key value whose index sort key meets `cond`.
    /// An empty range (`start >= end`) when nothing can (`BETWEEN` with `a > b`).
    ///
    /// # Errors
    /// [`KeyEncodeError`] when a value is not `S`, `N` or `B` (`begins_with`: `S`, `B`).
    pub fn with_sort(
        index_pk: &AttributeValue,
        cond: &SortCondition,
    ) -> Result<KeyRange, KeyEncodeError> {
        let prefix = partition_prefix(index_pk)?;
        let with = |v: &AttributeValue| -> Result<Vec<u8>, KeyEncodeError> {
            let mut k = prefix.clone();
            encode_key_value(v, &mut k)?;
            Ok(k)
        };
        let whole_end = after_extensions(&prefix);
        let (start, end) = match cond {
            SortCondition::Eq(v) => {
                let k = with(v)?;
                let e = after_extensions(&k);
                (k, e)
            }
            SortCondition::Lt(v) => (prefix.clone(), with(v)?),
            SortCondition::Le(v) => (prefix.clone(), after_extensions(&with(v)?)),
            SortCondition::Gt(v) => (after_extensions(&with(v)?), whole_end),
            SortCondition::Ge(v) => (with(v)?, whole_end),
            SortCondition::Between(a, b) => (with(a)?, after_extensions(&with(b)?)),
            SortCondition::BeginsWith(p) => {
                let mut k = prefix.clone();
                encode_key_prefix(p, &mut k)?;
                let e = prefix_successor(&k).unwrap_or(whole_end);
                (k, e)
            }
        };
        let end = if end < start { start.clone() } else { end };
        Ok(KeyRange { start, end })
    }

    /// Scan segment `s` of `total` (DynamoDB's parallel scan): the entries whose hash is
    /// in `[ceil(s·2⁶⁴/total), ceil((s+1)·2⁶⁴/total))`. Segments are disjoint and cover
    /// every entry. `total` must be at least 1 and `s` below it.
    pub fn segment(s: u32, total: u32) -> KeyRange {
        let total = total.max(1);
        let bound = |k: u32| -> u128 { (u128::from(k) << 64).div_ceil(u128::from(total)) };
        let key = |h: u64| {
            let mut k = vec![ENTRY_TAG];
            k.extend_from_slice(&h.to_be_bytes());
            k
        };
        let start = key(u64::try_from(bound(s)).unwrap_or(u64::MAX));
        let end = match u64::try_from(bound(s + 1)) {
            Ok(h) => key(h),
            Err(_) => vec![ENTRY_TAG + 1],
        };
        KeyRange { start, end }
    }

    /// Whether `key` is in the range.
    pub fn contains(&self, key: &[u8]) -> bool {
        self.start.as_slice() <= key && key < self.end.as_slice()
    }

    /// Whether the range holds no key.
    pub fn is_empty(&self) -> bool {
        self.start >= self.end
    }

    /// The rest of a forward scan after the entry `last` (the page's last key): its
    /// start moves just past `last`.
    #[must_use]
    pub fn resume_after(&self, last: &[u8]) -> KeyRange {
        let mut next = last.to_vec();
        next.push(0x00);
        KeyRange {
            start: next.max(self.start.clone()),
            end: self.end.clone(),
        }
    }

    /// The rest of a backward scan after the entry `last`: its end moves to `last`.
    #[must_use]
    pub fn resume_before(&self, last: &[u8]) -> KeyRange {
        KeyRange {
            start: self.start.clone(),
            end: last.to_vec().min(self.end.clone()),
        }
    }
}

/// The smallest byte string greater than every string starting with `prefix`
/// (`None` if `prefix` is all `0xFF`).
fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut out = prefix.to_vec();
    while let Some(last) = out.pop() {
        if last != 0xFF {
            out.push(last + 1);
            return Some(out);
        }
    }
    None
}

/// `prefix ++ 0xFF`: greater than every key extending `prefix` by more encoded values
/// (which start with a tag below `0xFF`).
fn after_extensions(prefix: &[u8]) -> Vec<u8> {
    let mut out = prefix.to_vec();
    out.push(0xFF);
    out
}

/// Why bytes are not a valid entry key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryKeyError {
    /// The first byte is not the entry tag `0x01`.
    #[error("index entry key starts with 0x{found:02x}, expected 0x01")]
    Tag {
        /// The byte found.
        found: u8,
    },
    /// The key ends inside its hash.
    #[error("index entry key truncated at offset {offset}")]
    Truncated {
        /// Where it ended.
        offset: usize,
    },
    /// A key value does not decode.
    #[error("index entry key: bad key value at offset {offset}: {source}")]
    Value {
        /// Offset of the value in the key.
        offset: usize,
        /// What is wrong (offsets relative to the value).
        source: KeyDecodeError,
    },
    /// Bytes after the last value.
    #[error("index entry key: {extra} unexpected bytes at offset {offset}")]
    TrailingBytes {
        /// Where the values ended.
        offset: usize,
        /// How many bytes follow.
        extra: usize,
    },
    /// The stored hash is not the hash of the index partition key.
    #[error(
        "index entry key: stored hash {stored:#018x} but the partition key hashes to {computed:#018x}"
    )]
    HashMismatch {
        /// The hash in the key.
        stored: u64,
        /// The hash of its partition key value.
        computed: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ipk: &str, isk: Option<i64>, bpk: &str, bsk: Option<i64>) -> EntryKey {
        EntryKey {
            index: PrimaryKey {
                partition: ipk.into(),
                sort: isk.map(AttributeValue::from),
            },
            base: PrimaryKey {
                partition: bpk.into(),
                sort: bsk.map(AttributeValue::from),
            },
        }
    }

    #[test]
    fn hash_is_the_base_tables_hash() {
        // Part of the on-disk format (docs/table-layout.md's test vector).
        assert_eq!(stable_hash(b""), 0x2D06_8005_38D3_94C2);
        let mut enc = Vec::new();
        encode_key_value(&"user#1".into(), &mut enc).unwrap();
        assert_eq!(enc, b"Suser#1\x00\x01");
        assert_eq!(
            stable_hash(&enc),
            xxhash_rust::xxh3::xxh3_64(b"Suser#1\x00\x01")
        );
        assert_eq!(partition_of(10, 4), 2);
        assert_eq!(partition_of(10, 0), 0);
        assert_eq!(
            gsi_partition(&"user#1".into(), 7).unwrap(),
            (stable_hash(&enc) % 7) as u32
        );
        assert!(gsi_partition(&AttributeValue::Bool(true), 4).is_err());
    }

    #[test]
    fn layout_bytes() {
        let k = key("a", None, "b", None);
        let bytes = k.encode().unwrap();
        let mut want = vec![ENTRY_TAG];
        want.extend_from_slice(&stable_hash(b"Sa\x00\x01").to_be_bytes());
        want.extend_from_slice(b"Sa\x00\x01Sb\x00\x01");
        assert_eq!(bytes, want);
    }

    #[test]
    fn roundtrip_every_shape() {
        for (isk, bsk) in [
            (None, None),
            (Some(3), None),
            (None, Some(-1)),
            (Some(0), Some(9)),
        ] {
            let k = key("x\0y", isk, "base", bsk);
            let shape = KeyShape {
                index_sort: isk.is_some(),
                base_sort: bsk.is_some(),
            };
            let bytes = k.encode().unwrap();
            assert_eq!(EntryKey::decode(&bytes, shape).unwrap(), k);
            // The wrong shape is an error, never a wrong key.
            let wrong = KeyShape {
                index_sort: !shape.index_sort,
                base_sort: shape.base_sort,
            };
            assert!(EntryKey::decode(&bytes, wrong).is_err());
        }
    }

    #[test]
    fn decode_errors() {
        let shape = KeyShape {
            index_sort: false,
            base_sort: false,
        };
        let good = key("a", None, "b", None).encode().unwrap();
        assert_eq!(
            EntryKey::decode(&[], shape),
            Err(EntryKeyError::Truncated { offset: 0 })
        );
        assert_eq!(
            EntryKey::decode(&[0x00, 1], shape),
            Err(EntryKeyError::Tag { found: 0 })
        );
        assert!(matches!(
            EntryKey::decode(&good[..5], shape),
            Err(EntryKeyError::Truncated { .. })
        ));
        assert!(matches!(
            EntryKey::decode(&good[..good.len() - 1], shape),
            Err(EntryKeyError::Value { offset: 13, .. })
        ));
        let mut extra = good.clone();
        extra.push(b'S');
        assert!(matches!(
            EntryKey::decode(&extra, shape),
            Err(EntryKeyError::TrailingBytes { .. })
        ));
        let mut bad_hash = good.clone();
        bad_hash[3] ^= 1;
        assert!(matches!(
            EntryKey::decode(&bad_hash, shape),
            Err(EntryKeyError::HashMismatch { .. })
        ));
    }

    #[test]
    fn order_and_query_ranges() {
        // Same index key: ordered by base key; then by index sort key.
        let a = key("p", Some(1), "b1", None).encode().unwrap();
        let b = key("p", Some(1), "b2", None).encode().unwrap();
        let c = key("p", Some(2), "b0", None).encode().unwrap();
        let d = key("p", Some(10), "b0", None).encode().unwrap();
        assert!(a < b && b < c && c < d);
        let pk: AttributeValue = "p".into();
        let all = KeyRange::partition(&pk).unwrap();
        assert!([&a, &b, &c, &d].iter().all(|k| all.contains(k)));
        assert!(!all.contains(&key("q", Some(1), "b", None).encode().unwrap()));
        let check = |cond: SortCondition, want: [bool; 4]| {
            let r = KeyRange::with_sort(&pk, &cond).unwrap();
            let got = [&a, &b, &c, &d].map(|k| r.contains(k));
            assert_eq!(got, want, "{cond:?}");
        };
        check(SortCondition::Eq(1.into()), [true, true, false, false]);
        check(SortCondition::Lt(2.into()), [true, true, false, false]);
        check(SortCondition::Le(2.into()), [true, true, true, false]);
        check(SortCondition::Gt(1.into()), [false, false, true, true]);
        check(SortCondition::Ge(2.into()), [false, false, true, true]);
        check(
            SortCondition::Between(2.into(), 10.into()),
            [false, false, true, true],
        );
        assert!(
            KeyRange::with_sort(&pk, &SortCondition::Between(3.into(), 2.into()))
                .unwrap()
                .is_empty()
        );
        let s1 = key("p", None, "x", None);
        let s = |sk: &str| EntryKey {
            index: PrimaryKey::with_sort("p", sk),
            ..s1.clone()
        };
        let r = KeyRange::with_sort(&pk, &SortCondition::BeginsWith("ab".into())).unwrap();
        assert!(r.contains(&s("ab").encode().unwrap()) && r.contains(&s("abz").encode().unwrap()));
        assert!(!r.contains(&s("b").encode().unwrap()) && !r.contains(&s("a").encode().unwrap()));
        // Pagination.
        let rest = all.resume_after(&b);
        assert!(!rest.contains(&a) && !rest.contains(&b) && rest.contains(&c));
        let back = all.resume_before(&c);
        assert!(back.contains(&b) && !back.contains(&c));
    }

    #[test]
    fn segments_cover_entries() {
        let keys: Vec<Vec<u8>> = (0..200)
            .map(|i| key(&format!("k{i}"), None, "b", None).encode().unwrap())
            .collect();
        for total in [1u32, 2, 3, 7] {
            for k in &keys {
                let n = (0..total)
                    .filter(|&s| KeyRange::segment(s, total).contains(k))
                    .count();
                assert_eq!(n, 1);
            }
        }
        assert_eq!(
            KeyRange::segment(0, 1),
            KeyRange {
                start: vec![1, 0, 0, 0, 0, 0, 0, 0, 0],
                end: vec![2]
            }
        );
    }
}
