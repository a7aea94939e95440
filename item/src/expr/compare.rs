//! How DynamoDB compares values in conditions.
//!
//! - `=` / `<>`: equal only if the types match and the values are equal (numbers
//!   numerically, sets as sets, lists and maps deeply).
//! - `<`, `<=`, `>`, `>=`, BETWEEN: defined only between two strings (UTF-8 byte
//!   order), two numbers (numeric) or two binaries (unsigned byte order); any other
//!   pair is simply not in order, so the comparison is false rather than an error.

use std::cmp::Ordering;
use std::fmt::Write as _;

use crate::echo::{self, Bounded};
use crate::{AttributeValue, Number};

/// Order of two values of the same scalar type (S, N, B); `None` otherwise.
pub(crate) fn order(a: &AttributeValue, b: &AttributeValue) -> Option<Ordering> {
    match (a, b) {
        (AttributeValue::S(x), AttributeValue::S(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (AttributeValue::N(x), AttributeValue::N(y)) => Some(x.cmp(y)),
        (AttributeValue::B(x), AttributeValue::B(y)) => Some(x.as_slice().cmp(y.as_slice())),
        _ => None,
    }
}

/// `size()` of a value: string length (UTF-16 code units, as DynamoDB's Java
/// implementation counts), binary length, or element count of a set, list or map.
pub(crate) fn size(v: &AttributeValue) -> Option<AttributeValue> {
    let n = match v {
        AttributeValue::S(s) => s.encode_utf16().count(),
        AttributeValue::B(b) => b.len(),
        AttributeValue::Ss(s) => s.len(),
        AttributeValue::Ns(s) => s.len(),
        AttributeValue::Bs(s) => s.len(),
        AttributeValue::L(l) => l.len(),
        AttributeValue::M(m) => m.len(),
        AttributeValue::N(_) | AttributeValue::Bool(_) | AttributeValue::Null => return None,
    };
    Some(AttributeValue::N(Number::from(n)))
}

/// `begins_with(a, b)`: string or binary prefix.
pub(crate) fn begins_with(a: &AttributeValue, prefix: &AttributeValue) -> bool {
    match (a, prefix) {
        (AttributeValue::S(s), AttributeValue::S(p)) => s.starts_with(p.as_str()),
        (AttributeValue::B(s), AttributeValue::B(p)) => s.starts_with(p),
        _ => false,
    }
}

/// `contains(a, b)`: substring of a string or binary, member of a set or list.
pub(crate) fn contains(a: &AttributeValue, b: &AttributeValue) -> bool {
    match (a, b) {
        (AttributeValue::S(s), AttributeValue::S(x)) => s.contains(x.as_str()),
        (AttributeValue::B(s), AttributeValue::B(x)) => {
            x.is_empty() || s.windows(x.len()).any(|w| w == x.as_slice())
        }
        (AttributeValue::Ss(s), AttributeValue::S(x)) => s.contains(x),
        (AttributeValue::Ns(s), AttributeValue::N(x)) => s.contains(x),
        (AttributeValue::Bs(s), AttributeValue::B(x)) => s.contains(x),
        (AttributeValue::L(l), x) => l.iter().any(|e| e == x),
        _ => false,
    }
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(BASE64[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A value as DynamoDB prints it inside error messages: `{S:abc}`, `{N:1.5}`, cut to
/// [`echo::MAX_VALUE_SHOWN`] bytes while it is written (a 400 KB string is never copied).
pub(crate) fn format_value(v: &AttributeValue) -> String {
    let mut out = Bounded::new(echo::MAX_VALUE_SHOWN);
    write_value(&mut out, v);
    out.finish()
}

/// Writes `v` into `out`. Each level writes its `{T:[` before going deeper and nothing
/// goes deeper once `out` is full, so the recursion is at most about
/// `MAX_VALUE_SHOWN / 4` levels deep whatever the value's depth.
fn write_value(out: &mut Bounded, v: &AttributeValue) {
    if out.is_full() {
        out.stop();
        return;
    }
    out.push_str("{");
    out.push_str(v.type_name());
    out.push_str(":");
    match v {
        AttributeValue::S(s) => out.push_str(s),
        AttributeValue::N(n) => {
            // Writing into a `Bounded` never fails.
            let _ = write!(out, "{n}");
        }
        AttributeValue::B(b) => push_base64(out, b),
        AttributeValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        AttributeValue::Null => out.push_str("true"),
        AttributeValue::Ss(s) => write_list(out, "[]", s, |out, x| out.push_str(x)),
        AttributeValue::Ns(s) => write_list(out, "[]", s, |out, n| {
            let _ = write!(out, "{n}");
        }),
        AttributeValue::Bs(s) => write_list(out, "[]", s, |out, b| push_base64(out, b)),
        AttributeValue::L(l) => write_list(out, "[]", l, write_value),
        AttributeValue::M(m) => write_list(out, "{}", m, |out, (k, v)| {
            out.push_str(k);
            out.push_str("=");
            write_value(out, v);
        }),
    }
    out.push_str("}");
}

/// Writes `items` between the two brackets of `brackets`, separated by `", "`; stops
/// at the first item that finds `out` full.
fn write_list<I: IntoIterator>(
    out: &mut Bounded,
    brackets: &str,
    items: I,
    mut each: impl FnMut(&mut Bounded, I::Item),
) {
    let (open, close) = brackets.split_at(1);
    out.push_str(open);
    for (i, x) in items.into_iter().enumerate() {
        if out.is_full() {
            out.stop();
            return;
        }
        if i > 0 {
            out.push_str(", ");
        }
        each(out, x);
    }
    out.push_str(close);
}

/// Writes the base64 text of `data`, encoding only what can be shown: a prefix of whole
/// 3-byte groups encodes to a prefix of the full text, and the rest is only counted.
fn push_base64(out: &mut Bounded, data: &[u8]) {
    let encoded = data.len().min((echo::MAX_VALUE_SHOWN / 4 + 1) * 3);
    let text = base64(data.get(..encoded).unwrap_or(data));
    out.push_str(&text);
    out.skip(data.len().div_ceil(3) * 4 - text.len());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> AttributeValue {
        AttributeValue::N(Number::parse(s).unwrap())
    }

    #[test]
    fn ordering() {
        assert_eq!(order(&n("10"), &n("9")), Some(Ordering::Greater));
        assert_eq!(order(&n("1.0"), &n("1")), Some(Ordering::Equal));
        assert_eq!(order(&"a".into(), &"b".into()), Some(Ordering::Less));
        // Byte order, not locale order: 'Z' < 'a', 'é' > 'z'.
        assert_eq!(order(&"Z".into(), &"a".into()), Some(Ordering::Less));
        assert_eq!(order(&"é".into(), &"z".into()), Some(Ordering::Greater));
        assert_eq!(
            order(
                &AttributeValue::B(vec![0xff]),
                &AttributeValue::B(vec![0x01, 0])
            ),
            Some(Ordering::Greater)
        );
        assert_eq!(order(&"1".into(), &n("1")), None);
        assert_eq!(
            order(&AttributeValue::Bool(true), &AttributeValue::Bool(true)),
            None
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(size(&"héllo".into()), Some(n("5")));
        assert_eq!(size(&"😀".into()), Some(n("2")));
        assert_eq!(size(&AttributeValue::B(vec![1, 2, 3])), Some(n("3")));
        assert_eq!(size(&AttributeValue::L(vec![])), Some(n("0")));
        assert_eq!(size(&n("123")), None);
        assert_eq!(size(&AttributeValue::Null), None);
    }

    #[test]
    fn contains_and_prefix() {
        assert!(contains(&"hello".into(), &"ell".into()));
        assert!(!contains(&"hello".into(), &n("1")));
        assert!(contains(
            &AttributeValue::string_set(["a", "b"]),
            &"a".into()
        ));
        assert!(!contains(&AttributeValue::string_set(["ab"]), &"a".into()));
        assert!(contains(
            &AttributeValue::L(vec![n("1"), "x".into()]),
            &n("1.0")
        ));
        assert!(contains(
            &AttributeValue::B(vec![1, 2, 3]),
            &AttributeValue::B(vec![2, 3])
        ));
        assert!(!contains(&n("12"), &n("1")));
        assert!(begins_with(&"hello".into(), &"he".into()));
        assert!(!begins_with(
            &"hello".into(),
            &AttributeValue::B(b"he".to_vec())
        ));
        assert!(begins_with(
            &AttributeValue::B(vec![1, 2]),
            &AttributeValue::B(vec![1])
        ));
    }

    #[test]
    fn formatting() {
        assert_eq!(format_value(&n("1")), "{N:1}");
        assert_eq!(format_value(&"a".into()), "{S:a}");
        assert_eq!(format_value(&AttributeValue::B(b"a".to_vec())), "{B:YQ==}");
        assert_eq!(base64(b"abcd"), "YWJjZA==");
        assert_eq!(base64(b"abc"), "YWJj");
        assert_eq!(base64(b""), "");
        let set = AttributeValue::string_set(["a", "b"]);
        let map = AttributeValue::M([("k".into(), set)].into());
        let list = AttributeValue::L(vec![map, AttributeValue::Null, n("-2.5")]);
        assert_eq!(
            format_value(&list),
            "{L:[{M:{k={SS:[a, b]}}}, {NULL:true}, {N:-2.5}]}"
        );
    }

    #[test]
    fn formatting_is_bounded() {
        use std::collections::BTreeMap;

        let s = format_value(&"x".repeat(400_000).into());
        assert!(s.len() < echo::MAX_VALUE_SHOWN + 32, "{}", s.len());
        // The string, then its closing brace, are left out.
        let shown = echo::MAX_VALUE_SHOWN - 3;
        assert!(
            s.ends_with(&format!("…({} more bytes)", 400_000 - shown + 1)),
            "{s}"
        );

        let b = format_value(&AttributeValue::B(vec![7; 300_000]));
        assert!(b.len() < echo::MAX_VALUE_SHOWN + 32, "{}", b.len());
        assert!(
            b.ends_with(&format!("…({} more bytes)", 400_000 - shown + 1)),
            "{b}"
        );
        let full = base64(&[7; 300]);
        assert!(full.starts_with(b.trim_start_matches("{B:").split('…').next().unwrap()));

        let mut deep = AttributeValue::from(1);
        for _ in 0..100_000 {
            deep = AttributeValue::L(vec![deep]);
        }
        let wide: BTreeMap<crate::Name, AttributeValue> = (0..10_000)
            .map(|i| {
                (
                    crate::Name::from(format!("k{i}")),
                    AttributeValue::string_set(["s"]),
                )
            })
            .collect();
        let w = format_value(&AttributeValue::M(wide));
        assert!(w.starts_with("{M:{k0={SS:[s]}, k1={SS:[s]}"), "{w}");
        assert!(w.ends_with("…(more)"), "{w}");
        assert!(w.len() < echo::MAX_VALUE_SHOWN + 32, "{}", w.len());

        let d = format_value(&deep);
        assert!(d.ends_with("…(more)"), "{d}");
        assert!(d.len() < echo::MAX_VALUE_SHOWN + 32, "{}", d.len());
    }
}
