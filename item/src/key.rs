//! Order-preserving, prefix-free encoding of key values and primary keys.
//!
//! The encoded bytes compare (with `memcmp`, i.e. `<[u8]>::cmp`) exactly as DynamoDB orders
//! key values: numbers numerically, strings by their UTF-8 bytes, binaries by unsigned bytes.
//! Every encoded value is self-delimiting and no encoding is a prefix of another, so a
//! primary key is simply `encode(partition) ++ encode(sort)`: all items of one partition key
//! are contiguous, ordered by sort key, and `encode(partition)` is a prefix usable for range
//! scans. The full specification is `docs/key-encoding.md`; in short:
//!
//! | value | bytes |
//! |---|---|
//! | `S` | `'S'` (0x53), the UTF-8 bytes with each 0x00 written 0x00 0xFF, then 0x00 0x01 |
//! | `B` | `'B'` (0x42), the bytes escaped the same way, then 0x00 0x01 |
//! | `N` zero | `'N'` (0x4E), 0x02 |
//! | `N` > 0 | `'N'`, 0x03, leading exponent + 130 (one byte), digit pairs as 1..=100, 0x00 |
//! | `N` < 0 | `'N'`, 0x01, 255 − (leading exponent + 130), digit pairs as 254 − pair, 0xFF |
//!
//! ```
//! use strata_item::key::{encode_primary_key, decode_primary_key};
//! use strata_item::{Number, PrimaryKey};
//!
//! let a = encode_primary_key(&PrimaryKey::with_sort("user#1", Number::parse("-2.5")?))?;
//! let b = encode_primary_key(&PrimaryKey::with_sort("user#1", 10))?;
//! let c = encode_primary_key(&PrimaryKey::with_sort("user#2", -100))?;
//! assert!(a < b && b < c);
//! assert_eq!(decode_primary_key(&b)?, PrimaryKey::with_sort("user#1", 10));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::{AttributeValue, Number, PrimaryKey};

/// Type tag of an encoded string.
pub const TAG_S: u8 = b'S';
/// Type tag of an encoded number.
pub const TAG_N: u8 = b'N';
/// Type tag of an encoded binary.
pub const TAG_B: u8 = b'B';

const NUM_NEG: u8 = 0x01;
const NUM_ZERO: u8 = 0x02;
const NUM_POS: u8 = 0x03;
/// Offset added to the leading exponent (-130..=125) to make it a byte (0..=255).
const EXP_BIAS: i32 = 130;

/// Why a value cannot be encoded as a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyEncodeError {
    /// Only `S`, `N` and `B` values can be keys.
    #[error("a key value must be of type S, N or B, not {actual}")]
    NotAKeyType {
        /// The type found.
        actual: &'static str,
    },
}

/// Why bytes are not a valid encoded key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyDecodeError {
    /// The bytes end inside a value.
    #[error("encoded key truncated at offset {offset}")]
    Truncated {
        /// Where the input ended.
        offset: usize,
    },
    /// A byte that cannot appear where it does.
    #[error("invalid byte 0x{byte:02x} in encoded key at offset {offset}: {reason}")]
    InvalidByte {
        /// Offset of the byte.
        offset: usize,
        /// The byte.
        byte: u8,
        /// What was expected.
        reason: &'static str,
    },
    /// A string key is not UTF-8.
    #[error("string key value at offset {offset} is not valid UTF-8")]
    InvalidUtf8 {
        /// Offset of the value's tag.
        offset: usize,
    },
    /// Bytes left over after the key.
    #[error("{extra} unexpected bytes after the encoded key at offset {offset}")]
    TrailingBytes {
        /// Where the key ended.
        offset: usize,
        /// How many bytes follow.
        extra: usize,
    },
}

/// Appends the order-preserving encoding of a key value (`S`, `N` or `B`) to `out`.
///
/// # Errors
/// [`KeyEncodeError::NotAKeyType`] for other types (nothing is appended).
pub fn encode_key_value(v: &AttributeValue, out: &mut Vec<u8>) -> Result<(), KeyEncodeError> {
    match v {
        AttributeValue::S(s) => {
            out.push(TAG_S);
            escape_bytes(s.as_bytes(), out);
            out.extend_from_slice(&[0x00, 0x01]);
        }
        AttributeValue::B(b) => {
            out.push(TAG_B);
            escape_bytes(b, out);
            out.extend_from_slice(&[0x00, 0x01]);
        }
        AttributeValue::N(n) => {
            out.push(TAG_N);
            encode_number(n, out);
        }
        other => {
            return Err(KeyEncodeError::NotAKeyType {
                actual: other.type_name(),
            });
        }
    }
    Ok(())
}

/// Appends the encoding of the *start* of a string or binary key value: the bytes of
/// `begins_with(sort_key, prefix)` queries. Every `S` (or `B`) value that starts with
/// `prefix` encodes to bytes that start with this output, and no other value does.
///
/// # Errors
/// [`KeyEncodeError::NotAKeyType`] for anything but `S` and `B`.
pub fn encode_key_prefix(prefix: &AttributeValue, out: &mut Vec<u8>) -> Result<(), KeyEncodeError> {
    match prefix {
        AttributeValue::S(s) => {
            out.push(TAG_S);
            escape_bytes(s.as_bytes(), out);
        }
        AttributeValue::B(b) => {
            out.push(TAG_B);
            escape_bytes(b, out);
        }
        other => {
            return Err(KeyEncodeError::NotAKeyType {
                actual: other.type_name(),
            });
        }
    }
    Ok(())
}

/// Encodes a primary key: `encode(partition) ++ encode(sort)`.
///
/// # Errors
/// [`KeyEncodeError::NotAKeyType`] when a value is not `S`, `N` or `B`.
pub fn encode_primary_key(key: &PrimaryKey) -> Result<Vec<u8>, KeyEncodeError> {
    let mut out = Vec::with_capacity(
        encoded_len_hint(&key.partition) + key.sort.as_ref().map_or(0, encoded_len_hint),
    );
    encode_key_value(&key.partition, &mut out)?;
    if let Some(sort) = &key.sort {
        encode_key_value(sort, &mut out)?;
    }
    Ok(out)
}

/// The bytes every encoded primary key with this partition key value starts with (the
/// encoding of the value itself). For a table without a sort key this *is* the key.
///
/// # Errors
/// [`KeyEncodeError::NotAKeyType`].
pub fn encode_partition_prefix(partition: &AttributeValue) -> Result<Vec<u8>, KeyEncodeError> {
    let mut out = Vec::with_capacity(encoded_len_hint(partition));
    encode_key_value(partition, &mut out)?;
    Ok(out)
}

/// The half-open byte range `[start, end)` holding exactly the keys of one partition key
/// value: `start` is [`encode_partition_prefix`], `end` is `start ++ [0xFF]` (no encoded
/// sort key starts with 0xFF: tags are `'B'`, `'N'`, `'S'`).
///
/// # Errors
/// [`KeyEncodeError::NotAKeyType`].
pub fn partition_range(partition: &AttributeValue) -> Result<(Vec<u8>, Vec<u8>), KeyEncodeError> {
    let start = encode_partition_prefix(partition)?;
    let mut end = start.clone();
    end.push(0xFF);
    Ok((start, end))
}

fn encoded_len_hint(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len() + 3,
        AttributeValue::B(b) => b.len() + 3,
        _ => 24,
    }
}

#[inline]
fn escape_bytes(b: &[u8], out: &mut Vec<u8>) {
    out.reserve(b.len() + 2);
    let mut rest = b;
    while let Some(z) = rest.iter().position(|&c| c == 0) {
        out.extend_from_slice(&rest[..z]);
        out.extend_from_slice(&[0x00, 0xFF]);
        rest = &rest[z + 1..];
    }
    out.extend_from_slice(rest);
}

/// Number body (after the `'N'` tag). See the module table.
fn encode_number(n: &Number, out: &mut Vec<u8>) {
    if n.is_zero() {
        out.push(NUM_ZERO);
        return;
    }
    let neg = n.is_negative();
    let exp_byte = (n.leading_exponent() + EXP_BIAS) as u8;
    out.push(if neg { NUM_NEG } else { NUM_POS });
    out.push(if neg { 255 - exp_byte } else { exp_byte });
    // Digits, most significant first, two per byte.
    let mut buf = [0u8; 40];
    let digits = crate::number::mantissa_digits(n.mantissa(), &mut buf);
    for pair in digits.chunks(2) {
        let p = pair[0] * 10 + pair.get(1).copied().unwrap_or(0);
        // Positive: 1..=100; negative: 254 - p, i.e. 154..=254.
        out.push(if neg { 254 - p } else { p + 1 });
    }
    out.push(if neg { 0xFF } else { 0x00 });
}

/// Decodes one key value from the start of `b`; returns it and the bytes consumed.
///
/// Decoding is strict: only bytes that [`encode_key_value`] produces are accepted, so
/// re-encoding a decoded value gives back exactly the consumed bytes.
///
/// # Errors
/// [`KeyDecodeError`] for anything else.
pub fn decode_key_value(b: &[u8]) -> Result<(AttributeValue, usize), KeyDecodeError> {
    let Some(&tag) = b.first() else {
        return Err(KeyDecodeError::Truncated { offset: 0 });
    };
    match tag {
        TAG_S => {
            let (bytes, used) = unescape(b, 1)?;
            let s =
                String::from_utf8(bytes).map_err(|_| KeyDecodeError::InvalidUtf8 { offset: 0 })?;
            Ok((AttributeValue::S(s), used))
        }
        TAG_B => {
            let (bytes, used) = unescape(b, 1)?;
            Ok((AttributeValue::B(bytes), used))
        }
        TAG_N => {
            let (n, used) = decode_number(b, 1)?;
            Ok((AttributeValue::N(n), used))
        }
        byte => Err(KeyDecodeError::InvalidByte {
            offset: 0,
            byte,
            reason: "expected a type tag 'S', 'N' or 'B'",
        }),
    }
}

/// Decodes a primary key produced by [`encode_primary_key`]: one value, then optionally a
/// second, then the end of the input.
///
/// # Errors
/// [`KeyDecodeError`].
pub fn decode_primary_key(b: &[u8]) -> Result<PrimaryKey, KeyDecodeError> {
    let (partition, used) = decode_key_value(b)?;
    if used == b.len() {
        return Ok(PrimaryKey {
            partition,
            sort: None,
        });
    }
    let (sort, used2) = decode_key_value(&b[used..]).map_err(|e| shift(e, used))?;
    let end = used + used2;
    if end != b.len() {
        return Err(KeyDecodeError::TrailingBytes {
            offset: end,
            extra: b.len() - end,
        });
    }
    Ok(PrimaryKey {
        partition,
        sort: Some(sort),
    })
}

fn shift(e: KeyDecodeError, by: usize) -> KeyDecodeError {
    match e {
        KeyDecodeError::Truncated { offset } => KeyDecodeError::Truncated {
            offset: offset + by,
        },
        KeyDecodeError::InvalidByte {
            offset,
            byte,
            reason,
        } => KeyDecodeError::InvalidByte {
            offset: offset + by,
            byte,
            reason,
        },
        KeyDecodeError::InvalidUtf8 { offset } => KeyDecodeError::InvalidUtf8 {
            offset: offset + by,
        },
        KeyDecodeError::TrailingBytes { offset, extra } => KeyDecodeError::TrailingBytes {
            offset: offset + by,
            extra,
        },
    }
}

/// Reads escaped bytes starting at `start` up to and including the 0x00 0x01 terminator.
fn unescape(b: &[u8], start: usize) -> Result<(Vec<u8>, usize), KeyDecodeError> {
    // Common case: no escaped zero, one exact allocation.
    let body = &b[start..];
    if let Some(z) = body.iter().position(|&c| c == 0)
        && body.get(z + 1) == Some(&0x01)
    {
        return Ok((body[..z].to_vec(), start + z + 2));
    }
    let mut out = Vec::with_capacity(body.len());
    let mut i = start;
    loop {
        let rest = &b[i..];
        let Some(z) = rest.iter().position(|&c| c == 0) else {
            return Err(KeyDecodeError::Truncated { offset: b.len() });
        };
        out.extend_from_slice(&rest[..z]);
        i += z;
        match b.get(i + 1) {
            Some(0x01) => return Ok((out, i + 2)),
            Some(0xFF) => {
                out.push(0);
                i += 2;
            }
            Some(&byte) => {
                return Err(KeyDecodeError::InvalidByte {
                    offset: i + 1,
                    byte,
                    reason: "0x00 must be followed by 0xFF (escaped zero) or 0x01 (end)",
                });
            }
            None => return Err(KeyDecodeError::Truncated { offset: b.len() }),
        }
    }
}

fn decode_number(b: &[u8], start: usize) -> Result<(Number, usize), KeyDecodeError> {
    let class = *b
        .get(start)
        .ok_or(KeyDecodeError::Truncated { offset: b.len() })?;
    let neg = match class {
        NUM_ZERO => return Ok((Number::ZERO, start + 1)),
        NUM_NEG => true,
        NUM_POS => false,
        byte => {
            return Err(KeyDecodeError::InvalidByte {
                offset: start,
                byte,
                reason: "expected a number sign byte 0x01, 0x02 or 0x03",
            });
        }
    };
    let eb = *b
        .get(start + 1)
        .ok_or(KeyDecodeError::Truncated { offset: b.len() })?;
    let leading = i32::from(if neg { 255 - eb } else { eb }) - EXP_BIAS;
    let term = if neg { 0xFF } else { 0x00 };
    let mut mant: u128 = 0;
    let mut digits = 0usize;
    let mut i = start + 2;
    let mut last_pair = None;
    loop {
        let &byte = b
            .get(i)
            .ok_or(KeyDecodeError::Truncated { offset: b.len() })?;
        if byte == term {
            break;
        }
        let p = if neg {
            254u8.checked_sub(byte)
        } else {
            byte.checked_sub(1)
        };
        let p = match p {
            Some(p) if p <= 99 => p,
            _ => {
                return Err(KeyDecodeError::InvalidByte {
                    offset: i,
                    byte,
                    reason: "not a digit pair",
                });
            }
        };
        if digits == 0 && p < 10 {
            return Err(KeyDecodeError::InvalidByte {
                offset: i,
                byte,
                reason: "leading digit zero",
            });
        }
        if digits >= 38 {
            return Err(KeyDecodeError::InvalidByte {
                offset: i,
                byte,
                reason: "more than 38 digits",
            });
        }
        mant = mant * 100 + u128::from(p);
        digits += 2;
        last_pair = Some((i, byte, p));
        i += 1;
    }
    let Some((pi, pbyte, p)) = last_pair else {
        return Err(KeyDecodeError::InvalidByte {
            offset: i,
            byte: term,
            reason: "number without digits",
        });
    };
    // Canonical: the last pair is not 00, and a pair ending in 0 means an odd digit count.
    if p == 0 {
        return Err(KeyDecodeError::InvalidByte {
            offset: pi,
            byte: pbyte,
            reason: "trailing zero digits",
        });
    }
    if p % 10 == 0 {
        mant /= 10;
        digits -= 1;
    }
    let exp = leading - digits as i32 + 1;
    let n = Number::from_parts(neg, mant, exp).map_err(|_| KeyDecodeError::InvalidByte {
        offset: start + 1,
        byte: eb,
        reason: "number out of range",
    })?;
    Ok((n, i + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(v: &AttributeValue) -> Vec<u8> {
        let mut out = Vec::new();
        encode_key_value(v, &mut out).unwrap();
        out
    }

    fn n(s: &str) -> AttributeValue {
        AttributeValue::N(Number::parse(s).unwrap())
    }

    #[test]
    fn number_order_table() {
        let ordered = [
            "-9.9999999999999999999999999999999999999e125",
            "-1e125",
            "-101",
            "-100.5",
            "-100",
            "-99",
            "-10",
            "-9.5",
            "-1.0001",
            "-1",
            "-0.99",
            "-0.5",
            "-0.1",
            "-1e-130",
            "0",
            "1e-130",
            "1.5e-130",
            "0.001",
            "0.1",
            "0.12",
            "0.123",
            "1",
            "1.0000000000000000000000000000000000001",
            "1.01",
            "1.1",
            "2",
            "9.99",
            "10",
            "10.01",
            "99",
            "100",
            "1e38",
            "1e125",
            "9.9999999999999999999999999999999999999e125",
        ];
        let encs: Vec<Vec<u8>> = ordered.iter().map(|s| enc(&n(s))).collect();
        for (i, w) in encs.windows(2).enumerate() {
            assert!(
                w[0] < w[1],
                "{} < {}: {:?} vs {:?}",
                ordered[i],
                ordered[i + 1],
                w[0],
                w[1]
            );
        }
        for (s, e) in ordered.iter().zip(&encs) {
            let (v, used) = decode_key_value(e).unwrap();
            assert_eq!(v, n(s));
            assert_eq!(used, e.len());
        }
        assert_eq!(enc(&n("1")), enc(&n("1.00")));
        assert_eq!(enc(&n("0")), vec![TAG_N, NUM_ZERO]);
        // The examples in docs/key-encoding.md.
        assert_eq!(enc(&n("12.5")), vec![0x4E, 0x03, 0x83, 0x0D, 0x33, 0x00]);
        assert_eq!(enc(&n("-12.5")), vec![0x4E, 0x01, 0x7C, 0xF2, 0xCC, 0xFF]);
        assert_eq!(enc(&n("1e-130")), vec![0x4E, 0x03, 0x00, 0x0B, 0x00]);
        assert_eq!(
            enc(&n("-9.9999999999999999999999999999999999999e125")).len(),
            23
        );
    }

    #[test]
    fn string_and_binary_escaping() {
        let strings = [
            "",
            "\0",
            "\0\0",
            "\0\u{1}",
            "a",
            "a\0",
            "a\0b",
            "a\u{1}",
            "ab",
            "b",
            "é",
            "\u{10FFFF}",
        ];
        let mut sorted = strings.to_vec();
        sorted.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        let encs: Vec<Vec<u8>> = sorted
            .iter()
            .map(|s| enc(&AttributeValue::from(*s)))
            .collect();
        for w in encs.windows(2) {
            assert!(w[0] < w[1]);
            assert!(!w[1].starts_with(&w[0]), "prefix-free");
        }
        assert_eq!(
            enc(&AttributeValue::from("a\0")),
            b"Sa\x00\xff\x00\x01".to_vec()
        );
        let bin = AttributeValue::B(vec![0, 0xFF, 0, 1]);
        let e = enc(&bin);
        assert_eq!(decode_key_value(&e).unwrap(), (bin, e.len()));
    }

    #[test]
    fn primary_keys_group_by_partition() {
        let keys = [
            PrimaryKey::with_sort("a", "z"),
            PrimaryKey::with_sort("a\0", ""),
            PrimaryKey::with_sort("ab", "\0"),
            PrimaryKey::with_sort("ab", "a"),
            PrimaryKey::with_sort("b", ""),
        ];
        let encs: Vec<Vec<u8>> = keys
            .iter()
            .map(|k| encode_primary_key(k).unwrap())
            .collect();
        for w in encs.windows(2) {
            assert!(w[0] < w[1]);
        }
        let (start, end) = partition_range(&"ab".into()).unwrap();
        let inside: Vec<_> = encs.iter().filter(|e| **e >= start && **e < end).collect();
        assert_eq!(inside.len(), 2);
        for (k, e) in keys.iter().zip(&encs) {
            assert_eq!(&decode_primary_key(e).unwrap(), k);
        }
        let mut p = Vec::new();
        encode_key_prefix(&"a".into(), &mut p).unwrap();
        assert!(enc(&"abc".into()).starts_with(&p));
        assert!(!enc(&"b".into()).starts_with(&p));
    }

    #[test]
    fn decode_errors() {
        let bad: &[&[u8]] = &[
            b"",
            b"X",
            b"Sabc",
            b"Sa\x00",
            b"Sa\x00\x02",
            b"S\xff\xfe\x00\x01",
            b"N",
            b"N\x04",
            b"N\x03",
            b"N\x03\x83",
            b"N\x03\x83\x00",         // no digits
            b"N\x03\x83\x02\x00",     // leading zero digit
            b"N\x03\x83\x0b\x01\x00", // trailing 00 pair
            b"N\x03\x83\x66\x00",     // pair byte 102 > 100
            b"N\x01\x7c\x00\xff",     // negative pair byte 0 invalid
        ];
        for b in bad {
            assert!(decode_key_value(b).is_err(), "{b:?}");
        }
        let mut two = encode_primary_key(&PrimaryKey::with_sort("a", "b")).unwrap();
        two.push(b'x');
        assert!(matches!(
            decode_primary_key(&two),
            Err(KeyDecodeError::TrailingBytes { extra: 1, .. })
        ));
        assert!(encode_key_value(&AttributeValue::Null, &mut Vec::new()).is_err());
    }
}
