//! The order of keys: bytewise, as `<[u8]>::cmp`, computed eight bytes at a
//! time.

use std::cmp::Ordering;

/// Compares two keys bytewise: the same answer as `a.cmp(b)`.
///
/// Inlined, it reads eight bytes at a time as big-endian words. Searches in
/// tables and memtables compare short keys (a user key and an 8-byte
/// trailer) a few dozen times per lookup, and the call into the C library's
/// `memcmp`, with its dispatch, costs more than such a comparison.
///
/// ```
/// use std::cmp::Ordering;
/// use strata_sstable::compare_keys;
///
/// assert_eq!(compare_keys(b"apple", b"apricot"), Ordering::Less);
/// assert_eq!(compare_keys(b"key-00000001", b"key-0000000"), Ordering::Greater);
/// assert_eq!(compare_keys(b"", b""), Ordering::Equal);
/// ```
#[inline]
pub fn compare_keys(a: &[u8], b: &[u8]) -> Ordering {
    let n = a.len().min(b.len());
    let (mut x, mut y) = (&a[..n], &b[..n]);
    while let (Some((wa, ra)), Some((wb, rb))) =
        (x.split_first_chunk::<8>(), y.split_first_chunk::<8>())
    {
        let (wa, wb) = (u64::from_be_bytes(*wa), u64::from_be_bytes(*wb));
        if wa != wb {
            return wa.cmp(&wb);
        }
        (x, y) = (ra, rb);
    }
    for (ca, cb) in x.iter().zip(y) {
        if ca != cb {
            return ca.cmp(cb);
        }
    }
    a.len().cmp(&b.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The slices' own order, for any lengths (with and without whole
        /// 8-byte words) and shared prefixes of any length.
        #[test]
        fn compare_keys_is_the_byte_order(
            prefix in proptest::collection::vec(any::<u8>(), 0..40),
            a in proptest::collection::vec(0u8..4, 0..20),
            b in proptest::collection::vec(0u8..4, 0..20),
        ) {
            let a: Vec<u8> = prefix.iter().chain(&a).copied().collect();
            let b: Vec<u8> = prefix.iter().chain(&b).copied().collect();
            prop_assert_eq!(compare_keys(&a, &b), a.cmp(&b));
            prop_assert_eq!(compare_keys(&b, &a), b.cmp(&a));
            prop_assert_eq!(compare_keys(&a, &a), Ordering::Equal);
        }
    }
}
