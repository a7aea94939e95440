//! The binary item format: how an [`Item`] is stored in WAL records and SSTable values.
//!
//! Specified in `docs/item-codec.md`. In short: one format byte `0xA1` (magic nibble `0xA`,
//! version 1), then the attribute count as a LEB128 varint, then each attribute as
//! `varint name length, name bytes, value` in strictly increasing name order. A value is a
//! tag byte and a payload: strings and binaries are length-prefixed, numbers are packed
//! (sign and mantissa length in one byte, the leading exponent in one byte, the mantissa as
//! little-endian bytes), lists, maps and sets are count-prefixed. The encoding is
//! canonical: one item has exactly one encoding, and the decoder accepts nothing else, so
//! `encode_item(&decode_item(b)?) == b` for every `b` that decodes.
//!
//! The decoder never panics and never allocates more than the input could describe: every
//! length and count is checked against the bytes remaining before anything is reserved,
//! containers reserve at most 1024 elements ahead of decoding them, and nesting is limited
//! to [`MAX_DECODE_DEPTH`] levels.
//!
//! ```
//! use strata_item::{item, codec};
//!
//! let it = item! { "pk" => "user#1", "n" => 42, "tags" => vec![1u8, 2] };
//! let bytes = codec::encode_item(&it);
//! assert_eq!(bytes[0], codec::FORMAT_V1);
//! assert_eq!(codec::decode_item(&bytes)?, it);
//! assert!(codec::decode_item(&bytes[..bytes.len() - 1]).is_err());
//! # Ok::<(), codec::CodecError>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};

use crate::{AttributeValue, Item, Name, Number};

/// The first byte of every encoded item: magic nibble `0xA`, format version 1.
pub const FORMAT_V1: u8 = 0xA1;

/// Deepest nesting of lists and maps the decoder accepts. DynamoDB allows 32 and
/// [`crate::validate`] enforces that before anything is stored; the decoder allows twice as
/// much so that it never rejects an item that was valid, while bounding recursion.
pub const MAX_DECODE_DEPTH: usize = 64;

/// Most elements reserved up front for one list, map or set. Counts are already bounded by
/// the remaining input, but nested containers could each reserve that much before failing;
/// beyond this cap vectors grow as elements actually decode, so memory stays proportional
/// to what was decoded (at most 64 levels × 1024 × 72 bytes reserved ahead).
const MAX_PREALLOC: usize = 1024;

const T_S: u8 = 0x01;
const T_N: u8 = 0x02;
const T_B: u8 = 0x03;
const T_FALSE: u8 = 0x04;
const T_TRUE: u8 = 0x05;
const T_NULL: u8 = 0x06;
const T_L: u8 = 0x07;
const T_M: u8 = 0x08;
const T_SS: u8 = 0x09;
const T_NS: u8 = 0x0A;
const T_BS: u8 = 0x0B;

const NUM_NEG_BIT: u8 = 0x80;
const EXP_BIAS: i32 = 130;

/// Why bytes are not a valid encoded item. Offsets are from the start of the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The input is empty.
    #[error("encoded item is empty")]
    Empty,
    /// The format byte is not one this version understands.
    #[error("unknown item format byte 0x{found:02x} (expected 0x{FORMAT_V1:02x})")]
    UnknownFormat {
        /// The first byte.
        found: u8,
    },
    /// The input ends inside a value.
    #[error("encoded item truncated at offset {offset}: {what}")]
    Truncated {
        /// Where more bytes were needed.
        offset: usize,
        /// What was being read.
        what: &'static str,
    },
    /// A length or count larger than the bytes that remain.
    #[error(
        "{what} {len} at offset {offset} exceeds the {remaining} bytes remaining in the encoded item"
    )]
    LengthOutOfBounds {
        /// Where the varint starts.
        offset: usize,
        /// What it counts.
        what: &'static str,
        /// The value read.
        len: u64,
        /// Bytes left after it.
        remaining: usize,
    },
    /// A varint that overflows 64 bits or is not in its shortest form.
    #[error("invalid varint at offset {offset}: {reason}")]
    InvalidVarint {
        /// Where it starts.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// An unknown value tag.
    #[error("unknown value tag 0x{tag:02x} at offset {offset}")]
    InvalidTag {
        /// Where.
        offset: usize,
        /// The byte.
        tag: u8,
    },
    /// A string or name that is not UTF-8.
    #[error("invalid UTF-8 in {what} at offset {offset}")]
    InvalidUtf8 {
        /// Where the bytes start.
        offset: usize,
        /// `"attribute name"` or `"string"`.
        what: &'static str,
    },
    /// A packed number that is malformed or not canonical.
    #[error("invalid number at offset {offset}: {reason}")]
    InvalidNumber {
        /// Where it starts.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// Map names or set elements not in strictly increasing order (a duplicate, or an
    /// encoding this encoder would not produce).
    #[error("{what} at offset {offset} is out of order or duplicated")]
    NotSorted {
        /// Where the element starts.
        offset: usize,
        /// `"attribute name"`, `"map key"` or `"set element"`.
        what: &'static str,
    },
    /// Lists and maps nested deeper than [`MAX_DECODE_DEPTH`].
    #[error("lists and maps nested deeper than {MAX_DECODE_DEPTH} levels at offset {offset}")]
    TooDeep {
        /// Where the too-deep value starts.
        offset: usize,
    },
    /// Bytes after the item.
    #[error("{extra} unexpected bytes after the encoded item at offset {offset}")]
    TrailingBytes {
        /// Where the item ended.
        offset: usize,
        /// How many bytes follow.
        extra: usize,
    },
}

/// Encodes an item (format byte included).
pub fn encode_item(item: &Item) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + item.len() * 16);
    encode_item_into(item, &mut out);
    out
}

/// Appends the encoding of an item (format byte included) to `out`.
pub fn encode_item_into(item: &Item, out: &mut Vec<u8>) {
    out.push(FORMAT_V1);
    put_varint(out, item.len() as u64);
    for (name, v) in item {
        put_bytes(out, name.as_bytes());
        encode_value(v, out);
    }
}

#[inline]
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[inline]
fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn put_number(out: &mut Vec<u8>, n: &Number) {
    if n.is_zero() {
        out.push(0);
        return;
    }
    let m = n.mantissa();
    let len = (16 - (m.leading_zeros() / 8)) as usize;
    let sign = if n.is_negative() { NUM_NEG_BIT } else { 0 };
    out.push(sign | len as u8);
    out.push((n.leading_exponent() + EXP_BIAS) as u8);
    out.extend_from_slice(&m.to_le_bytes()[..len]);
}

/// A list or map being encoded: the elements still to write.
enum EncodeFrame<'a> {
    List(std::slice::Iter<'a, AttributeValue>),
    Map(std::collections::btree_map::Iter<'a, Name, AttributeValue>),
}

/// Encodes a value of any depth with an explicit stack (no recursion per level).
fn encode_value(v: &AttributeValue, out: &mut Vec<u8>) {
    let mut stack: Vec<EncodeFrame<'_>> = Vec::new();
    let mut next = Some(v);
    loop {
        if let Some(v) = next.take() {
            match v {
                AttributeValue::L(l) => {
                    out.push(T_L);
                    put_varint(out, l.len() as u64);
                    stack.push(EncodeFrame::List(l.iter()));
                }
                AttributeValue::M(m) => {
                    out.push(T_M);
                    put_varint(out, m.len() as u64);
                    stack.push(EncodeFrame::Map(m.iter()));
                }
                leaf => encode_leaf(leaf, out),
            }
        }
        let Some(top) = stack.last_mut() else {
            return;
        };
        match top {
            EncodeFrame::List(it) => next = it.next(),
            EncodeFrame::Map(it) => {
                next = it.next().map(|(k, e)| {
                    put_bytes(out, k.as_bytes());
                    e
                });
            }
        }
        if next.is_none() {
            stack.pop();
        }
    }
}

/// Encodes a value that is not a list or map.
fn encode_leaf(v: &AttributeValue, out: &mut Vec<u8>) {
    match v {
        AttributeValue::S(s) => {
            out.push(T_S);
            put_bytes(out, s.as_bytes());
        }
        AttributeValue::N(n) => {
            out.push(T_N);
            put_number(out, n);
        }
        AttributeValue::B(b) => {
            out.push(T_B);
            put_bytes(out, b);
        }
        AttributeValue::Bool(b) => out.push(if *b { T_TRUE } else { T_FALSE }),
        AttributeValue::Null => out.push(T_NULL),
        AttributeValue::Ss(s) => {
            out.push(T_SS);
            put_varint(out, s.len() as u64);
            for e in s {
                put_bytes(out, e.as_bytes());
            }
        }
        AttributeValue::Ns(s) => {
            out.push(T_NS);
            put_varint(out, s.len() as u64);
            for e in s {
                put_number(out, e);
            }
        }
        AttributeValue::Bs(s) => {
            out.push(T_BS);
            put_varint(out, s.len() as u64);
            for e in s {
                put_bytes(out, e);
            }
        }
        // Containers are written by `encode_value`.
        AttributeValue::L(_) | AttributeValue::M(_) => {}
    }
}

/// Decodes an item produced by [`encode_item`].
///
/// # Errors
/// [`CodecError`] for anything that is not exactly a canonical encoding.
pub fn decode_item(b: &[u8]) -> Result<Item, CodecError> {
    decode(b, None)
}

/// Decodes an item produced by [`encode_item`] together with its size
/// ([`Item::size`]), counted while decoding rather than by walking the item
/// afterwards.
///
/// ```
/// use strata_item::{Item, codec};
/// let mut it = Item::new();
/// it.insert("pk", "customer#1");
/// it.insert("n", 12);
/// let (back, size) = codec::decode_item_sized(&codec::encode_item(&it)).unwrap();
/// assert_eq!(back, it);
/// assert_eq!(size, it.size());
/// ```
///
/// # Errors
/// As [`decode_item`].
pub fn decode_item_sized(b: &[u8]) -> Result<(Item, usize), CodecError> {
    let mut size = 0;
    let item = decode(b, Some(&mut size))?;
    Ok((item, size))
}

fn decode(b: &[u8], size: Option<&mut usize>) -> Result<Item, CodecError> {
    let Some(&format) = b.first() else {
        return Err(CodecError::Empty);
    };
    if format != FORMAT_V1 {
        return Err(CodecError::UnknownFormat { found: format });
    }
    let mut d = Decoder { b, pos: 1 };
    let map = d.map_body("attribute name", 0, size)?;
    if d.pos != b.len() {
        return Err(CodecError::TrailingBytes {
            offset: d.pos,
            extra: b.len() - d.pos,
        });
    }
    Ok(Item::from(map))
}

/// `raw` as text, if it is valid UTF-8. `simdutf8` rather than the standard
/// library's check: validating string values was a tenth of a 100-item query's
/// time, and its vectorized check is several times faster on strings of a
/// kilobyte. The caller reports the offset, so the error's detail is not needed.
#[inline]
fn utf8(raw: &[u8]) -> Option<&str> {
    simdutf8::basic::from_utf8(raw).ok()
}

struct Decoder<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    #[inline]
    fn remaining(&self) -> usize {
        self.b.len() - self.pos
    }

    #[inline]
    fn byte(&mut self, what: &'static str) -> Result<u8, CodecError> {
        let &v = self.b.get(self.pos).ok_or(CodecError::Truncated {
            offset: self.pos,
            what,
        })?;
        self.pos += 1;
        Ok(v)
    }

    #[inline]
    fn varint(&mut self) -> Result<u64, CodecError> {
        let start = self.pos;
        // Fast path: one byte.
        if let Some(&v) = self.b.get(self.pos)
            && v < 0x80
        {
            self.pos += 1;
            return Ok(u64::from(v));
        }
        let mut v: u64 = 0;
        let mut shift = 0u32;
        loop {
            let byte = self.byte("varint")?;
            if shift == 63 && byte > 1 {
                return Err(CodecError::InvalidVarint {
                    offset: start,
                    reason: "overflows 64 bits",
                });
            }
            v |= u64::from(byte & 0x7F) << shift;
            if byte & 0x80 == 0 {
                if byte == 0 && shift > 0 {
                    return Err(CodecError::InvalidVarint {
                        offset: start,
                        reason: "not in shortest form",
                    });
                }
                return Ok(v);
            }
            shift += 7;
        }
    }

    /// A length or count, which must not exceed the remaining bytes (every element takes
    /// at least one byte).
    #[inline]
    fn len(&mut self, what: &'static str) -> Result<usize, CodecError> {
        let offset = self.pos;
        let v = self.varint()?;
        let remaining = self.remaining();
        if v > remaining as u64 {
            return Err(CodecError::LengthOutOfBounds {
                offset,
                what,
                len: v,
                remaining,
            });
        }
        Ok(v as usize)
    }

    #[inline]
    fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], CodecError> {
        let n = self.len(what)?;
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    #[inline]
    fn string(&mut self, what: &'static str) -> Result<String, CodecError> {
        let offset = self.pos;
        let raw = self.bytes(what)?;
        match utf8(raw) {
            Some(s) => Ok(s.to_owned()),
            None => Err(CodecError::InvalidUtf8 { offset, what }),
        }
    }

    fn number(&mut self) -> Result<Number, CodecError> {
        let offset = self.pos;
        let bad = |reason| CodecError::InvalidNumber { offset, reason };
        let h = self.byte("number")?;
        if h == 0 {
            return Ok(Number::ZERO);
        }
        let neg = h & NUM_NEG_BIT != 0;
        let len = usize::from(h & !NUM_NEG_BIT);
        if len == 0 || len > 16 {
            return Err(bad("mantissa length must be 1 to 16 bytes"));
        }
        let eb = self.byte("number exponent")?;
        if self.remaining() < len {
            return Err(CodecError::Truncated {
                offset: self.pos,
                what: "number mantissa",
            });
        }
        let mut le = [0u8; 16];
        le[..len].copy_from_slice(&self.b[self.pos..self.pos + len]);
        self.pos += len;
        if le[len - 1] == 0 {
            return Err(bad("mantissa not in shortest form"));
        }
        let m = u128::from_le_bytes(le);
        // 64-bit arithmetic when the mantissa fits: a 128-bit remainder is a slow library
        // call, and this runs for every number of every item read.
        let trailing_zero = match u64::try_from(m) {
            Ok(v) => v.is_multiple_of(10),
            Err(_) => m.is_multiple_of(10),
        };
        if trailing_zero {
            return Err(bad("mantissa has trailing zero digits"));
        }
        let digits = crate::number::digit_count(m);
        if digits > 38 {
            return Err(bad("more than 38 significant digits"));
        }
        let leading = i64::from(eb) - i64::from(EXP_BIAS);
        Number::from_normalized_digits(neg, m, leading - i64::from(digits) + 1, digits)
            .map_err(|_| bad("out of range"))
    }

    /// A map's entries; adds the entries' sizes (name length plus value size,
    /// as [`Item::size`] counts them) to `size` when given.
    fn map_body(
        &mut self,
        what: &'static str,
        depth: usize,
        mut size: Option<&mut usize>,
    ) -> Result<BTreeMap<Name, AttributeValue>, CodecError> {
        let n = self.len("attribute count")?;
        // Built by inserting in order: no intermediate vector (an allocation per
        // decoded map, a third of decoding's cost being allocation); names are
        // checked strictly increasing, so each insert lands at the end.
        let mut map = BTreeMap::new();
        let mut prev: Option<&'a [u8]> = None;
        for _ in 0..n {
            let offset = self.pos;
            let raw = self.bytes(what)?;
            if prev.is_some_and(|p| p >= raw) {
                return Err(CodecError::NotSorted { offset, what });
            }
            prev = Some(raw);
            let name = match utf8(raw) {
                Some(s) => Name::new(s),
                None => return Err(CodecError::InvalidUtf8 { offset, what }),
            };
            let v = self.value(depth)?;
            if let Some(total) = size.as_deref_mut() {
                *total = total.saturating_add(name.len() + v.size());
            }
            map.insert(name, v);
        }
        Ok(map)
    }

    fn value(&mut self, depth: usize) -> Result<AttributeValue, CodecError> {
        let offset = self.pos;
        let tag = self.byte("value tag")?;
        Ok(match tag {
            T_S => AttributeValue::S(self.string("string")?),
            T_N => AttributeValue::N(self.number()?),
            T_B => AttributeValue::B(self.bytes("binary length")?.to_vec()),
            T_FALSE => AttributeValue::Bool(false),
            T_TRUE => AttributeValue::Bool(true),
            T_NULL => AttributeValue::Null,
            T_L => {
                if depth >= MAX_DECODE_DEPTH {
                    return Err(CodecError::TooDeep { offset });
                }
                let n = self.len("list length")?;
                let mut l = Vec::with_capacity(n.min(MAX_PREALLOC));
                for _ in 0..n {
                    l.push(self.value(depth + 1)?);
                }
                AttributeValue::L(l)
            }
            T_M => {
                if depth >= MAX_DECODE_DEPTH {
                    return Err(CodecError::TooDeep { offset });
                }
                AttributeValue::M(self.map_body("map key", depth + 1, None)?)
            }
            T_SS => {
                let n = self.len("set size")?;
                let mut v: Vec<String> = Vec::with_capacity(n.min(MAX_PREALLOC));
                for _ in 0..n {
                    let at = self.pos;
                    let s = self.string("string")?;
                    if v.last().is_some_and(|p| *p >= s) {
                        return Err(CodecError::NotSorted {
                            offset: at,
                            what: "set element",
                        });
                    }
                    v.push(s);
                }
                AttributeValue::Ss(v.into_iter().collect::<BTreeSet<_>>())
            }
            T_NS => {
                let n = self.len("set size")?;
                let mut v: Vec<Number> = Vec::with_capacity(n.min(MAX_PREALLOC));
                for _ in 0..n {
                    let at = self.pos;
                    let x = self.number()?;
                    if v.last().is_some_and(|p| *p >= x) {
                        return Err(CodecError::NotSorted {
                            offset: at,
                            what: "set element",
                        });
                    }
                    v.push(x);
                }
                AttributeValue::Ns(v.into_iter().collect())
            }
            T_BS => {
                let n = self.len("set size")?;
                let mut v: Vec<Vec<u8>> = Vec::with_capacity(n.min(MAX_PREALLOC));
                for _ in 0..n {
                    let at = self.pos;
                    let x = self.bytes("binary length")?;
                    if v.last().is_some_and(|p| p.as_slice() >= x) {
                        return Err(CodecError::NotSorted {
                            offset: at,
                            what: "set element",
                        });
                    }
                    v.push(x.to_vec());
                }
                AttributeValue::Bs(v.into_iter().collect())
            }
            tag => return Err(CodecError::InvalidTag { offset, tag }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item;

    fn sample() -> Item {
        item! {
            "pk" => "user#1",
            "n" => Number::parse("-123.456e-7").unwrap(),
            "zero" => 0,
            "big" => Number::parse("9.9999999999999999999999999999999999999E+125").unwrap(),
            "tiny" => Number::parse("1e-130").unwrap(),
            "bin" => vec![0u8, 1, 255],
            "t" => true, "f" => false, "nul" => AttributeValue::Null,
            "list" => vec![AttributeValue::from(1), "x".into(), AttributeValue::L(vec![])],
            "map" => AttributeValue::from(BTreeMap::from([("a".to_string(), AttributeValue::from("b")), ("é".to_string(), AttributeValue::Null)])),
            "ss" => AttributeValue::string_set(["b", "a", ""]),
            "ns" => AttributeValue::number_set([3, -1, 200]),
            "bs" => AttributeValue::binary_set([vec![2u8], vec![], vec![1, 2]]),
            "long" => "x".repeat(300),
        }
    }

    #[test]
    fn round_trip() {
        let it = sample();
        let b = encode_item(&it);
        assert_eq!(decode_item(&b).unwrap(), it);
        assert_eq!(
            decode_item(&encode_item(&Item::new())).unwrap(),
            Item::new()
        );
        assert_eq!(encode_item(&Item::new()), vec![FORMAT_V1, 0]);
    }

    #[test]
    fn every_truncation_fails() {
        let b = encode_item(&sample());
        for cut in 0..b.len() {
            assert!(decode_item(&b[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = b.clone();
        extra.push(0);
        assert!(matches!(
            decode_item(&extra),
            Err(CodecError::TrailingBytes { extra: 1, .. })
        ));
    }

    #[test]
    fn specific_errors() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![], "empty"),
            (vec![0xA2, 0], "unknown item format"),
            (vec![FORMAT_V1, 0x80, 0x00], "shortest form"),
            (
                vec![
                    FORMAT_V1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F,
                ],
                "overflows",
            ),
            (vec![FORMAT_V1, 100], "exceeds the 0 bytes remaining"),
            (vec![FORMAT_V1, 1, 1, b'a', 0x0C], "unknown value tag 0x0c"),
            (
                vec![FORMAT_V1, 1, 1, 0xFF, T_NULL],
                "invalid UTF-8 in attribute name",
            ),
            (
                vec![FORMAT_V1, 2, 1, b'b', T_NULL, 1, b'a', T_NULL],
                "out of order",
            ),
            (
                vec![FORMAT_V1, 2, 1, b'a', T_NULL, 1, b'a', T_NULL],
                "out of order",
            ),
            (
                vec![FORMAT_V1, 1, 1, b'a', T_N, 0x01, 130, 10],
                "trailing zero",
            ),
            (
                vec![FORMAT_V1, 1, 1, b'a', T_N, 0x02, 130, 1, 0],
                "shortest form",
            ),
            (vec![FORMAT_V1, 1, 1, b'a', T_N, 0x11, 130], "1 to 16"),
            (
                vec![FORMAT_V1, 1, 1, b'a', T_SS, 2, 1, b'a', 1, b'a'],
                "set element",
            ),
            (vec![FORMAT_V1, 1, 1, b'a', T_NS, 2, 0, 0], "set element"),
        ];
        for (bytes, want) in cases {
            let err = decode_item(&bytes).unwrap_err().to_string();
            assert!(
                err.contains(want),
                "{bytes:?}: {err:?} should contain {want:?}"
            );
        }
        let mut wide = vec![FORMAT_V1, 1, 1, b'a', T_N, 0x10, 130];
        wide.extend_from_slice(&(10u128.pow(38) + 1).to_le_bytes());
        assert!(
            decode_item(&wide)
                .unwrap_err()
                .to_string()
                .contains("more than 38")
        );
        // 65 nested lists.
        let mut deep = vec![FORMAT_V1, 1, 1, b'a'];
        deep.extend(std::iter::repeat_n([T_L, 1], 65).flatten());
        deep.push(T_NULL);
        assert!(matches!(
            decode_item(&deep),
            Err(CodecError::TooDeep { .. })
        ));
    }

    #[test]
    fn numbers_are_packed() {
        let b = encode_item(&item! { "n" => 5 });
        assert_eq!(b, vec![FORMAT_V1, 1, 1, b'n', T_N, 0x01, 130, 5]);
        let b = encode_item(&item! { "n" => -1_000_000 });
        assert_eq!(b, vec![FORMAT_V1, 1, 1, b'n', T_N, 0x81, 136, 1]);
    }
}
