//! DynamoDB sets from Rust collections, with `#[serde(with = ...)]`:
//! [`string_set`] (`SS`), [`number_set`] (`NS`) and [`binary_set`] (`BS`).
//!
//! Any collection whose references iterate over the elements works on the way out
//! (`HashSet`, `BTreeSet`, `Vec`, ...), and any collection that deserializes from a
//! sequence and has a `Default` works on the way back. Without `with`, the same
//! collection is an `L`.
//!
//! An empty collection leaves the attribute out (DynamoDB has no empty sets), so mark the
//! field `#[serde(default)]` to read it back; a `NULL` reads back as empty too. Duplicate
//! elements (in a `Vec`, or numbers equal in value such as `1.0` and `1`) are an error.
//! With other serde formats (`serde_json`, ...) the modules write a plain sequence.
//!
//! ```
//! use std::collections::{BTreeSet, HashSet};
//! use serde::{Deserialize, Serialize};
//! use strata_item::{from_item, to_item, AttributeValue};
//!
//! #[derive(Debug, PartialEq, Serialize, Deserialize)]
//! struct Post {
//!     #[serde(with = "strata_item::sets::string_set", default)]
//!     tags: BTreeSet<String>,
//!     #[serde(with = "strata_item::sets::number_set", default)]
//!     scores: HashSet<u32>,
//!     #[serde(with = "strata_item::sets::binary_set", default)]
//!     keys: Vec<Vec<u8>>,
//! }
//!
//! let p = Post { tags: ["a".into(), "b".into()].into(), scores: [7].into(), keys: vec![] };
//! let it = to_item(&p)?;
//! assert_eq!(it.get("tags"), Some(&AttributeValue::string_set(["a", "b"])));
//! assert_eq!(it.get("scores"), Some(&AttributeValue::number_set([7])));
//! assert!(!it.contains_key("keys")); // empty: left out
//! assert_eq!(from_item::<Post>(it)?, p);
//! # Ok::<(), strata_item::ItemSerdeError>(())
//! ```

use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The newtype names that tell strata's serializer to build a set; other serializers see
/// an ordinary newtype around a sequence.
pub(super) const SS_NAME: &str = "\0strata_item::SS";
pub(super) const NS_NAME: &str = "\0strata_item::NS";
pub(super) const BS_NAME: &str = "\0strata_item::BS";

/// The elements of a collection as a sequence.
struct Plain<'a, T: ?Sized>(&'a T);

impl<'a, T: ?Sized> Serialize for Plain<'a, T>
where
    &'a T: IntoIterator<Item: Serialize>,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0)
    }
}

/// The elements of a collection of byte strings, each written with `serialize_bytes`.
struct Binaries<'a, T: ?Sized>(&'a T);

impl<'a, T: ?Sized> Serialize for Binaries<'a, T>
where
    &'a T: IntoIterator<Item: AsRef<[u8]>>,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for e in self.0 {
            seq.serialize_element(&Bytes(e.as_ref()))?;
        }
        seq.end()
    }
}

struct Bytes<'a>(&'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

/// Reads a set (or a list, or `NULL` as empty) into the collection.
fn read<'de, T: Deserialize<'de> + Default, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

macro_rules! set_module {
    ($(#[$doc:meta])* $m:ident, $name:ident, $wrap:ident, $bound:path) => {
        $(#[$doc])*
        pub mod $m {
            use super::*;

            /// Writes the collection as a set.
            ///
            /// # Errors
            /// Those of the serializer; with strata's, elements of the wrong type and
            /// duplicates.
            pub fn serialize<'a, T: ?Sized, S: Serializer>(
                set: &'a T,
                s: S,
            ) -> Result<S::Ok, S::Error>
            where
                &'a T: IntoIterator<Item: $bound>,
            {
                s.serialize_newtype_struct($name, &$wrap(set))
            }

            /// Reads a set (or a list, or `NULL` as empty) into the collection.
            ///
            /// # Errors
            /// Those of the deserializer.
            pub fn deserialize<'de, T: Deserialize<'de> + Default, D: Deserializer<'de>>(
                d: D,
            ) -> Result<T, D::Error> {
                read(d)
            }
        }
    };
}

set_module!(
    /// `#[serde(with = "strata_item::sets::string_set")]`: a collection of strings as an `SS`.
    string_set, SS_NAME, Plain, Serialize
);
set_module!(
    /// `#[serde(with = "strata_item::sets::number_set")]`: a collection of numbers (any
    /// integer or float type, or [`crate::Number`]) as an `NS`.
    number_set, NS_NAME, Plain, Serialize
);
set_module!(
    /// `#[serde(with = "strata_item::sets::binary_set")]`: a collection of byte strings
    /// (`Vec<u8>`, `&[u8]`, ...) as a `BS`.
    binary_set, BS_NAME, Binaries, AsRef<[u8]>
);
