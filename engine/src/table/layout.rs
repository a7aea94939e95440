//! Where a table's data lives inside a partition's LSM tree: the hash that picks the
//! partition, and the byte layout of keys (`docs/table-layout.md` is the spec).
//!
//! ```text
//! partition key hash  h = xxh3_64(encode(pk), seed 0)
//! partition           h % partitions
//! base item           0x01 ++ be64(h) ++ encode(pk) [++ encode(sk)]          -> item codec bytes
//! LSI entry           0x02 ++ lsi# ++ be64(h) ++ encode(pk) ++ encode(lsi sk) ++ encode(sk)
//!                                                                            -> projected item
//! ```
//!
//! `encode` is the order-preserving, self-delimiting key encoding of
//! [`strata_item::key`]. Putting the hash before the partition key makes every
//! `Scan` segment (a range of hashes) one contiguous key range in every partition,
//! while all items of one partition key stay contiguous and ordered by sort key.
//!
//! The hash function and this layout are part of the on-disk format: they must never
//! change for existing data.

use strata_item::AttributeValue;
use strata_item::key::{KeyEncodeError, encode_key_prefix, encode_key_value};

/// First byte of every base-item key.
pub(crate) const BASE_TAG: u8 = 0x01;
/// First byte of every LSI entry key.
pub(crate) const LSI_TAG: u8 = 0x02;

/// The seed of the partition hash. Never change it.
const HASH_SEED: u64 = 0;

/// A partition key value encoded once, with its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HashedKey {
    /// `xxh3_64(encoded, 0)`.
    pub hash: u64,
    /// `strata_item::key` encoding of the partition key value.
    pub encoded: Vec<u8>,
}

impl HashedKey {
    /// Encodes and hashes a partition key value.
    pub(crate) fn new(pk: &AttributeValue) -> Result<HashedKey, KeyEncodeError> {
        let mut encoded = Vec::with_capacity(32);
        encode_key_value(pk, &mut encoded)?;
        Ok(HashedKey {
            hash: stable_hash(&encoded),
            encoded,
        })
    }

    /// The partition (0-based) this key belongs to among `partitions`.
    pub(crate) fn partition(&self, partitions: u32) -> u32 {
        partition_of(self.hash, partitions)
    }
}

/// The stable partition hash: XXH3-64 with seed 0 over the encoded partition key.
pub(crate) fn stable_hash(encoded_pk: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(encoded_pk, HASH_SEED)
}

/// `hash % partitions` (0 partitions is treated as 1; specs are validated earlier).
pub(crate) fn partition_of(hash: u64, partitions: u32) -> u32 {
    // The result is < partitions, so it fits u32.
    (hash % u64::from(partitions.max(1))) as u32
}

/// Which of `total` scan segments a hash belongs to: `floor(h * total / 2^64)`.
pub(crate) fn segment_of(hash: u64, total: u32) -> u32 {
    ((u128::from(hash) * u128::from(total)) >> 64) as u32
}

/// The hashes of segment `s` of `total`: `[ceil(s * 2^64 / total), ceil((s+1) * 2^64 / total))`;
/// `None` as the end means 2^64 (the last segment). Consistent with [`segment_of`].
pub(crate) fn segment_hash_range(s: u32, total: u32) -> (u64, Option<u64>) {
    let bound = |k: u32| -> u128 {
        let num = u128::from(k) << 64;
        num.div_ceil(u128::from(total))
    };
    let lo = bound(s);
    let hi = bound(s + 1);
    // lo < 2^64 because s < total; hi == 2^64 only for the last segment.
    let lo = u64::try_from(lo).unwrap_or(u64::MAX);
    let hi = u64::try_from(hi).ok();
    (lo, hi)
}

/// The key of a base item: `0x01 ++ be64(h) ++ encode(pk) [++ encode(sk)]`.
pub(crate) fn base_key(
    pk: &HashedKey,
    sk: Option<&AttributeValue>,
) -> Result<Vec<u8>, KeyEncodeError> {
    let mut k = base_prefix(pk);
    if let Some(sk) = sk {
        encode_key_value(sk, &mut k)?;
    }
    Ok(k)
}

/// The prefix shared by all base items of one partition key value.
pub(crate) fn base_prefix(pk: &HashedKey) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + 8 + pk.encoded.len() + 24);
    k.push(BASE_TAG);
    k.extend_from_slice(&pk.hash.to_be_bytes());
    k.extend_from_slice(&pk.encoded);
    k
}

/// The key of an LSI entry:
/// `0x02 ++ lsi# ++ be64(h) ++ encode(pk) ++ encode(lsi sk) ++ encode(table sk)`.
pub(crate) fn lsi_key(
    lsi: u8,
    pk: &HashedKey,
    lsi_sk: &AttributeValue,
    table_sk: &AttributeValue,
) -> Result<Vec<u8>, KeyEncodeError> {
    let mut k = lsi_prefix(lsi, pk);
    encode_key_value(lsi_sk, &mut k)?;
    encode_key_value(table_sk, &mut k)?;
    Ok(k)
}

/// The prefix shared by all entries of one partition key value in LSI `lsi`.
pub(crate) fn lsi_prefix(lsi: u8, pk: &HashedKey) -> Vec<u8> {
    let mut k = Vec::with_capacity(2 + 8 + pk.encoded.len() + 48);
    k.push(LSI_TAG);
    k.push(lsi);
    k.extend_from_slice(&pk.hash.to_be_bytes());
    k.extend_from_slice(&pk.encoded);
    k
}

/// Which key space a read addresses: the base items, or one LSI's entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Space {
    /// Base items.
    Base,
    /// Entries of the LSI with this number (its position in the table spec).
    Lsi(u8),
}

impl Space {
    /// The bytes every key of this space starts with.
    pub(crate) fn tag(self) -> Vec<u8> {
        match self {
            Space::Base => vec![BASE_TAG],
            Space::Lsi(i) => vec![LSI_TAG, i],
        }
    }

    /// The prefix of one partition key value in this space.
    pub(crate) fn partition_prefix(self, pk: &HashedKey) -> Vec<u8> {
        match self {
            Space::Base => base_prefix(pk),
            Space::Lsi(i) => lsi_prefix(i, pk),
        }
    }

    /// The key range `[start, end)` of scan segment `s` of `total` in this space
    /// (`end = None`: up to the end of the space).
    pub(crate) fn segment_range(self, s: u32, total: u32) -> (Vec<u8>, Vec<u8>) {
        let (lo, hi) = segment_hash_range(s, total);
        let mut start = self.tag();
        start.extend_from_slice(&lo.to_be_bytes());
        let end = match hi {
            Some(hi) => {
                let mut e = self.tag();
                e.extend_from_slice(&hi.to_be_bytes());
                e
            }
            None => prefix_successor(&self.tag()).unwrap_or_default(),
        };
        (start, end)
    }
}

/// The sort-key part of a key: appends the encoding of a sort key value.
pub(crate) fn push_sort_value(key: &mut Vec<u8>, v: &AttributeValue) -> Result<(), KeyEncodeError> {
    encode_key_value(v, key)
}

/// Appends the encoding of a `begins_with` prefix.
pub(crate) fn push_sort_prefix(
    key: &mut Vec<u8>,
    v: &AttributeValue,
) -> Result<(), KeyEncodeError> {
    encode_key_prefix(v, key)
}

/// The smallest byte string greater than every string starting with `prefix`
/// (`None` if `prefix` is all 0xFF, which no key of ours is).
pub(crate) fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut out = prefix.to_vec();
    while let Some(last) = out.pop() {
        if last != 0xFF {
            out.push(last + 1);
            return Some(out);
        }
    }
    None
}

/// The smallest byte string greater than every key that *extends* `prefix` by one more
/// encoded key value (encoded values start with a tag below 0xFF): `prefix ++ 0xFF`.
pub(crate) fn after_extensions(prefix: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(prefix.len() + 1);
    out.extend_from_slice(prefix);
    out.push(0xFF);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_stable() {
        // These values are part of the on-disk format: if this test fails, existing
        // databases would map keys to the wrong partitions.
        let k = HashedKey::new(&AttributeValue::from("user#1")).unwrap();
        assert_eq!(k.encoded, b"Suser#1\x00\x01");
        assert_eq!(k.hash, xxhash_rust::xxh3::xxh3_64(b"Suser#1\x00\x01"));
        assert_eq!(stable_hash(b""), 0x2D06_8005_38D3_94C2);
        assert_eq!(partition_of(10, 4), 2);
    }

    #[test]
    fn segments_partition_the_hash_space() {
        for total in [1u32, 2, 3, 7, 1000, 1_000_000] {
            assert_eq!(segment_hash_range(0, total).0, 0);
            let mut probes = vec![0, total / 2, total - 1];
            probes.dedup();
            for s in probes {
                let (lo, hi) = segment_hash_range(s, total);
                assert_eq!(segment_of(lo, total), s, "total {total} s {s}");
                if let Some(hi) = hi {
                    assert_eq!(segment_of(hi - 1, total), s);
                    assert_eq!(segment_of(hi, total), s + 1);
                } else {
                    assert_eq!(s, total - 1);
                    assert_eq!(segment_of(u64::MAX, total), s);
                }
            }
            // Adjacent segments meet exactly.
            for s in 0..total.min(50) - 1 {
                assert_eq!(
                    segment_hash_range(s, total).1,
                    Some(segment_hash_range(s + 1, total).0)
                );
            }
        }
    }

    #[test]
    fn key_order_within_partition_key() {
        let pk = HashedKey::new(&AttributeValue::from("p")).unwrap();
        let a = base_key(&pk, Some(&AttributeValue::from(1))).unwrap();
        let b = base_key(&pk, Some(&AttributeValue::from(20))).unwrap();
        let prefix = base_prefix(&pk);
        assert!(a < b);
        assert!(a.starts_with(&prefix) && b.starts_with(&prefix));
        assert!(b < after_extensions(&prefix));
        let l1 = lsi_key(0, &pk, &AttributeValue::from("x"), &AttributeValue::from(5)).unwrap();
        let l2 = lsi_key(0, &pk, &AttributeValue::from("x"), &AttributeValue::from(6)).unwrap();
        let l3 = lsi_key(0, &pk, &AttributeValue::from("y"), &AttributeValue::from(1)).unwrap();
        assert!(l1 < l2 && l2 < l3);
        assert!(Space::Lsi(0).tag() < l1 && l3 < Space::Lsi(1).tag());
        assert!(a > Space::Base.tag() && a < Space::Lsi(0).tag());
    }

    #[test]
    fn successor() {
        assert_eq!(prefix_successor(&[1, 2]), Some(vec![1, 3]));
        assert_eq!(prefix_successor(&[1, 0xFF]), Some(vec![2]));
        assert_eq!(prefix_successor(&[0xFF]), None);
        let (s, e) = Space::Base.segment_range(0, 1);
        assert_eq!(s, [1, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(e, [2]);
    }
}
