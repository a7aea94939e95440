//! [`Name`]: an attribute name, the key type of [`crate::Item`] and of `M` maps.
//!
//! Names up to 24 bytes (nearly every attribute name) are stored inline, with no heap
//! allocation; longer ones on the heap. Decoding an item from disk used to allocate
//! a `String` for every attribute name, which with the values' own strings made
//! allocation and freeing most of a query's time (3 of the 6 allocations of a
//! 3-attribute item). The inline storage is `compact_str`'s `CompactString`, kept
//! behind this type so that the public API does not depend on that crate's version.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

use compact_str::CompactString;

/// An attribute name: text that is stored inline when it is short (up to 24 bytes).
///
/// It reads as a `&str` (`Deref`, `AsRef<str>`, `Borrow<str>`, so maps keyed by `Name`
/// are looked up with a `&str`), orders and hashes as its text, and converts from and
/// into `String`.
///
/// ```
/// use strata_item::{Item, Name};
///
/// let n = Name::from("pk");
/// assert_eq!(n, "pk");
/// assert_eq!(n.len(), 2);
/// let mut it = Item::new();
/// it.insert(n, "user#1");
/// let (name, _) = it.iter().next().unwrap();
/// assert_eq!(name.as_str(), "pk");
/// assert_eq!(String::from(name.clone()), "pk");
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(CompactString);

impl Name {
    /// A name with the given text.
    #[inline]
    pub fn new(text: &str) -> Name {
        Name(CompactString::new(text))
    }

    /// The text.
    #[inline]
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The text as a `String`.
    pub fn into_string(self) -> String {
        self.0.into_string()
    }
}

impl Deref for Name {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        self.0.as_str()
    }
}

impl AsRef<str> for Name {
    #[inline]
    fn as_ref(&self) -> &str {
        self.0.as_str()
    }
}

impl Borrow<str> for Name {
    #[inline]
    fn borrow(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for Name {
    #[inline]
    fn from(s: &str) -> Name {
        Name::new(s)
    }
}

impl From<&String> for Name {
    #[inline]
    fn from(s: &String) -> Name {
        Name::new(s)
    }
}

impl From<String> for Name {
    #[inline]
    fn from(s: String) -> Name {
        Name(CompactString::from(s))
    }
}

impl From<&Name> for Name {
    #[inline]
    fn from(s: &Name) -> Name {
        s.clone()
    }
}

impl From<Box<str>> for Name {
    fn from(s: Box<str>) -> Name {
        Name(CompactString::from(s))
    }
}

impl From<std::borrow::Cow<'_, str>> for Name {
    fn from(s: std::borrow::Cow<'_, str>) -> Name {
        Name(CompactString::from(s))
    }
}

impl From<Name> for String {
    fn from(n: Name) -> String {
        n.into_string()
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Name {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<Name> for str {
    fn eq(&self, other: &Name) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Name> for &str {
    fn eq(&self, other: &Name) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<Name> for String {
    fn eq(&self, other: &Name) -> bool {
        self.as_str() == other.as_str()
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Name {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Name {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Name, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Name;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an attribute name")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Name, E> {
                Ok(Name::new(v))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Name, E> {
                Ok(Name::from(v))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn orders_and_looks_up_as_its_text() {
        let long = "a".repeat(40);
        let names = [
            "",
            "a",
            "b",
            "ab",
            "zz",
            long.as_str(),
            "ü",
            "24-bytes-exactly-1234567",
        ];
        let mut sorted_text: Vec<&str> = names.to_vec();
        sorted_text.sort_unstable();
        let mut sorted_names: Vec<Name> = names.iter().map(|s| Name::from(*s)).collect();
        sorted_names.sort();
        let back: Vec<&str> = sorted_names.iter().map(Name::as_str).collect();
        assert_eq!(back, sorted_text);

        let map: BTreeMap<Name, usize> = names.iter().map(|s| (Name::from(*s), s.len())).collect();
        for s in names {
            assert_eq!(map.get(s), Some(&s.len()), "{s:?}");
        }
        assert_eq!(map.get("missing"), None);
    }

    #[test]
    fn converts_both_ways() {
        for s in ["", "pk", &"x".repeat(100)] {
            let n = Name::from(s.to_owned());
            assert_eq!(n, s);
            assert_eq!(s, n);
            assert_eq!(n.into_string(), s);
        }
        assert_eq!(format!("{}", Name::from("a b")), "a b");
        assert_eq!(format!("{:?}", Name::from("a\"b")), "\"a\\\"b\"");
    }
}
