//! `Display` for [`AttributeValue`] and [`Item`]: a compact, readable form.
//!
//! | type | shown as | | type | shown as |
//! |------|----------|-|------|----------|
//! | `S` | `"text"` (escaped as Rust does) | | `L` | `[1, "a"]` |
//! | `N` | `3.5` | | `M`, items | `{id: "u1", "odd name": 3}` |
//! | `B` | `0x0102ff` (hex) | | `SS` | `<<"a", "b">>` |
//! | `BOOL` | `true` | | `NS` | `<<1, 2>>` |
//! | `NULL` | `null` | | `BS` | `<<0x01, 0x02>>` |
//!
//! Map keys that are identifiers (`[A-Za-z_][A-Za-z0-9_]*`) are shown bare, others quoted.
//! Values nested deeper than 40 levels are shown as `…`. A precision bounds the output:
//! `format!("{:.80}", item)` writes the first 80 characters, then `…` if there was more,
//! so a 400 KB item can go into a log line (the rest of the value is not visited). For DynamoDB's JSON form use
//! [`Item::to_dynamo_json`](crate::Item::to_dynamo_json) (feature `serde`); `Debug` is
//! unchanged.
//!
//! ```
//! use strata_item::{item, AttributeValue};
//!
//! let it = item! { "id" => "u1", "n" => 3, "tags" => AttributeValue::string_set(["a", "b"]) };
//! assert_eq!(it.to_string(), r#"{id: "u1", n: 3, tags: <<"a", "b">>}"#);
//! assert_eq!(format!("{it:.12}"), r#"{id: "u1", n…"#);
//! assert_eq!(AttributeValue::B(vec![1, 255]).to_string(), "0x01ff");
//! ```

use std::fmt::{self, Write as _};

use crate::value_deep::MAX_DEBUG_DEPTH;
use crate::{AttributeValue, Item, Name};

/// A writer that keeps the first `left` characters, then writes `…` once and drops the
/// rest.
struct Limited<'a, 'b> {
    f: &'a mut fmt::Formatter<'b>,
    left: Option<usize>,
    cut: bool,
}

impl fmt::Write for Limited<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.cut {
            return Ok(());
        }
        let Some(left) = self.left else {
            return self.f.write_str(s);
        };
        let n = s.chars().count();
        if n <= left {
            self.left = Some(left - n);
            return self.f.write_str(s);
        }
        let keep: String = s.chars().take(left).collect();
        self.f.write_str(&keep)?;
        self.f.write_char('…')?;
        self.cut = true;
        Ok(())
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn write_hex(out: &mut Limited<'_, '_>, b: &[u8]) -> fmt::Result {
    out.write_str("0x")?;
    for byte in b {
        if out.cut {
            break;
        }
        write!(out, "{byte:02x}")?;
    }
    Ok(())
}

fn write_entries<'v>(
    out: &mut Limited<'_, '_>,
    entries: impl Iterator<Item = (&'v Name, &'v AttributeValue)>,
    depth: usize,
) -> fmt::Result {
    out.write_char('{')?;
    for (i, (k, v)) in entries.enumerate() {
        if out.cut {
            return Ok(());
        }
        if i > 0 {
            out.write_str(", ")?;
        }
        if is_identifier(k) {
            out.write_str(k)?;
        } else {
            write!(out, "{k:?}")?;
        }
        out.write_str(": ")?;
        write_value(out, v, depth + 1)?;
    }
    out.write_char('}')
}

/// Writes a set's elements between `<<` and `>>`.
fn write_set<T>(
    out: &mut Limited<'_, '_>,
    items: impl Iterator<Item = T>,
    mut each: impl FnMut(&mut Limited<'_, '_>, T) -> fmt::Result,
) -> fmt::Result {
    out.write_str("<<")?;
    for (i, x) in items.enumerate() {
        if out.cut {
            return Ok(());
        }
        if i > 0 {
            out.write_str(", ")?;
        }
        each(out, x)?;
    }
    out.write_str(">>")
}

/// Writes `v`, which sits at nesting `depth` (the top value is at 1).
fn write_value(out: &mut Limited<'_, '_>, v: &AttributeValue, depth: usize) -> fmt::Result {
    if depth > MAX_DEBUG_DEPTH {
        return out.write_char('…');
    }
    match v {
        AttributeValue::S(s) => write!(out, "{s:?}"),
        AttributeValue::N(n) => write!(out, "{n}"),
        AttributeValue::B(b) => write_hex(out, b),
        AttributeValue::Bool(b) => write!(out, "{b}"),
        AttributeValue::Null => out.write_str("null"),
        AttributeValue::L(l) => {
            out.write_char('[')?;
            for (i, e) in l.iter().enumerate() {
                if out.cut {
                    return Ok(());
                }
                if i > 0 {
                    out.write_str(", ")?;
                }
                write_value(out, e, depth + 1)?;
            }
            out.write_char(']')
        }
        AttributeValue::M(m) => write_entries(out, m.iter(), depth),
        AttributeValue::Ss(s) => write_set(out, s.iter(), |o, x| write!(o, "{x:?}")),
        AttributeValue::Ns(s) => write_set(out, s.iter(), |o, x| write!(o, "{x}")),
        AttributeValue::Bs(s) => write_set(out, s.iter(), |o, x| write_hex(o, x)),
    }
}

impl fmt::Display for AttributeValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let left = f.precision();
        let mut out = Limited {
            f,
            left,
            cut: false,
        };
        write_value(&mut out, self, 1)
    }
}

impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let left = f.precision();
        let mut out = Limited {
            f,
            left,
            cut: false,
        };
        write_entries(&mut out, self.iter(), 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Number, item};

    #[test]
    fn every_type() {
        let it = item! {
            "s" => "a \"q\"\n", "n" => Number::parse("-1.5").unwrap(), "b" => vec![0u8, 16],
            "t" => true, "z" => AttributeValue::Null,
            "l" => vec![AttributeValue::from(1), AttributeValue::L(vec![])],
            "m" => item! { "odd name" => 1, "_k9" => item! {} },
            "ss" => AttributeValue::string_set(["x"]),
            "ns" => AttributeValue::number_set([2, 1]),
            "bs" => AttributeValue::binary_set([vec![1u8], vec![2u8]]),
            "" => 0,
        };
        assert_eq!(
            it.to_string(),
            r#"{"": 0, b: 0x0010, bs: <<0x01, 0x02>>, l: [1, []], m: {_k9: {}, "odd name": 1}, n: -1.5, ns: <<1, 2>>, s: "a \"q\"\n", ss: <<"x">>, t: true, z: null}"#
        );
        assert_eq!(AttributeValue::B(vec![]).to_string(), "0x");
        assert_eq!(Item::new().to_string(), "{}");
    }

    #[test]
    fn precision_bounds_the_output() {
        let it = item! { "big" => "x".repeat(400_000), "more" => vec![1u8; 1000] };
        let shown = format!("{it:.50}");
        assert_eq!(shown.chars().count(), 51);
        assert!(shown.ends_with('…'));
        assert!(shown.starts_with("{big: \"xxx"));
        let v = AttributeValue::from("héllo");
        assert_eq!(format!("{v:.3}"), "\"hé…");
        assert_eq!(format!("{v:.7}"), "\"héllo\"");
        assert_eq!(format!("{v:.0}"), "…");
    }

    #[test]
    fn deep_values_are_cut() {
        let mut v = AttributeValue::from(1);
        for _ in 0..100_000 {
            v = AttributeValue::L(vec![v]);
        }
        let s = v.to_string();
        assert_eq!(s, format!("{}…{}", "[".repeat(40), "]".repeat(40)));
    }
}
