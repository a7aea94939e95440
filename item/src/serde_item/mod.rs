//! Your own types as items, through serde: [`to_item`], [`from_item`], [`to_value`] and
//! [`from_value`] (feature `serde`, on by default).
//!
//! The mapping, as serde sees a type (like `serde_dynamo` for the AWS SDK):
//!
//! | Rust (serde data model)                        | DynamoDB                                 |
//! |------------------------------------------------|------------------------------------------|
//! | integers of every width, `f32`, `f64`          | `N` (a non-finite float is an error)     |
//! | `String`, `&str`, `char`                       | `S`                                      |
//! | bytes (`serde_bytes`, [`bytes`])               | `B`                                      |
//! | `bool`                                         | `BOOL`                                   |
//! | `()`, unit structs                             | `NULL`                                   |
//! | `Option`: `Some(v)`                            | `v`                                      |
//! | `Option`: `None`                               | struct field left out; `NULL` elsewhere  |
//! | `Vec`, slices, tuples, tuple structs           | `L`                                      |
//! | structs, maps with string keys                 | `M`                                      |
//! | newtype structs                                | the inner value (transparent)            |
//! | enums (externally tagged, like `serde_json`)   | unit variant: `S`; others: `M` with one key |
//! | [`sets`] modules (`#[serde(with = ...)]`)      | `SS`, `NS`, `BS`                         |
//!
//! Choices worth knowing:
//!
//! - A plain `Vec<u8>` is, as serde sees it, a sequence of numbers, so it becomes an `L` of
//!   `N`. Mark the field `#[serde(with = "strata_item::bytes")]` (or use `serde_bytes`) to
//!   store a `B`. Reading accepts both: a `Vec<u8>` field reads a `B` as well as an `L`.
//! - `None` in a struct field leaves the attribute out; a missing attribute reads back as
//!   `None`. `None` inside a list or as a map value is `NULL`, so lists keep their length
//!   and maps their keys.
//! - Map keys must be strings (or `char`s, or unit enum variants, stored by name); any other
//!   key is an error.
//! - An empty set (DynamoDB has none) leaves the attribute out; mark the field
//!   `#[serde(default)]` to read it back as empty. Duplicates in a set are an error.
//! - Numbers read back exactly when they fit the target type; a number out of the
//!   target's range (`300` into a `u8`, `1.5` into an `i64`) is an error.
//! - Values nest at most 32 levels ([`crate::validate::MAX_NESTING_DEPTH`]): deeper input
//!   is an error (in both directions), never a stack overflow.
//! - `to_item` builds the shape only: attribute names, sizes and keys are checked where
//!   items are checked ([`crate::validate_item`], `put_item`).
//! - Types that read through serde's buffering (`#[serde(flatten)]`, internally tagged
//!   and untagged enums) see a number as an integer when it is one, else as the nearest
//!   `f64`; read such numbers into [`crate::Number`] or a struct field outside the
//!   buffering to keep all 38 digits.
//! - Strings are read as owned values: a struct borrowing `&str` from the item cannot be
//!   read (use `String` or `Cow<str>`).
//! - Fields of type [`AttributeValue`] or [`Item`] keep their DynamoDB type: an
//!   `AttributeValue::Ss` field is stored as that `SS`, an `Item` field as an `M`.
//!
//! Errors ([`ItemSerdeError`]) name the path of the offending value:
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use strata_item::{from_item, item, AttributeValue};
//!
//! #[derive(Debug, Serialize, Deserialize, PartialEq)]
//! struct Order { total: u32 }
//! #[derive(Debug, Serialize, Deserialize, PartialEq)]
//! struct Customer { id: String, orders: Vec<Order> }
//!
//! let bad = item! {
//!     "id" => "c1",
//!     "orders" => vec![
//!         AttributeValue::from(strata_item::to_item(&Order { total: 1 })?),
//!         AttributeValue::from(item! { "total" => "lots" }),
//!     ],
//! };
//! let err = from_item::<Customer>(bad).unwrap_err();
//! assert_eq!(err.to_string(), "orders[1].total: expected a number, found S");
//! # Ok::<(), strata_item::ItemSerdeError>(())
//! ```

mod de;
mod error;
mod owned;
pub(crate) mod passthrough;
mod ser;
pub mod sets;

pub use error::{ItemSerdeError, ItemSerdeErrorKind};

use crate::{AttributeValue, Item};

/// Converts any serializable value into an [`Item`]: the value must serialize as a struct
/// or a map (the item's attributes). See the [module docs](crate::serde_item) for the mapping.
///
/// ```
/// use serde::Serialize;
/// use strata_item::{item, to_item};
///
/// #[derive(Serialize)]
/// struct User { pk: String, age: u8, nick: Option<String>, tags: Vec<String> }
///
/// let it = to_item(&User { pk: "u#1".into(), age: 42, nick: None, tags: vec!["a".into()] })?;
/// assert_eq!(it, item! { "pk" => "u#1", "age" => 42, "tags" => vec![strata_item::AttributeValue::from("a")] });
/// # Ok::<(), strata_item::ItemSerdeError>(())
/// ```
///
/// # Errors
/// [`ItemSerdeError`] when the value is not a struct or map, holds a non-finite float, a
/// map key that is not a string, nests deeper than 32 levels, or its `Serialize` impl fails.
pub fn to_item<T: serde::Serialize + ?Sized>(value: &T) -> Result<Item, ItemSerdeError> {
    match ser::serialize_top(value, 0)?.map(owned::Owned::from) {
        Some(owned::Owned::M(m)) => Ok(Item::from(m)),
        Some(other) => Err(ItemSerdeError::new(ItemSerdeErrorKind::NotAnItem {
            found: other.type_name(),
        })),
        None => Err(ItemSerdeError::new(ItemSerdeErrorKind::NotAnItem {
            found: "nothing (None)",
        })),
    }
}

/// Reads a value of type `T` from an [`Item`]. See the [module docs](crate::serde_item) for the mapping.
///
/// ```
/// use serde::Deserialize;
/// use strata_item::{from_item, item};
///
/// #[derive(Debug, Deserialize, PartialEq)]
/// struct User { pk: String, age: u8, nick: Option<String> }
///
/// let u: User = from_item(item! { "pk" => "u#1", "age" => 42 })?;
/// assert_eq!(u, User { pk: "u#1".into(), age: 42, nick: None });
/// # Ok::<(), strata_item::ItemSerdeError>(())
/// ```
///
/// # Errors
/// [`ItemSerdeError`] naming the path of the first value that does not fit `T` (wrong
/// type, number out of range, missing field), or of a value nested deeper than 32 levels.
pub fn from_item<T: serde::de::DeserializeOwned>(item: Item) -> Result<T, ItemSerdeError> {
    de::deserialize_top(AttributeValue::M(item.into_inner()), 0)
}

/// Converts any serializable value into one [`AttributeValue`] (an attribute's value, at
/// nesting level 1). `None` becomes `NULL`.
///
/// ```
/// use strata_item::{to_value, AttributeValue};
/// assert_eq!(to_value(&"hi")?, AttributeValue::from("hi"));
/// assert_eq!(to_value(&vec![1, 2])?, AttributeValue::L(vec![1.into(), 2.into()]));
/// assert!(to_value(&f64::NAN).is_err());
/// # Ok::<(), strata_item::ItemSerdeError>(())
/// ```
///
/// # Errors
/// As [`to_item`], except that any shape is accepted at the top.
pub fn to_value<T: serde::Serialize + ?Sized>(value: &T) -> Result<AttributeValue, ItemSerdeError> {
    Ok(ser::serialize_top(value, 1)?.unwrap_or(AttributeValue::Null))
}

/// Reads a value of type `T` from one [`AttributeValue`].
///
/// ```
/// use strata_item::{from_value, AttributeValue};
/// let v: Vec<u16> = from_value(AttributeValue::L(vec![1.into(), 2.into()]))?;
/// assert_eq!(v, [1, 2]);
/// assert!(from_value::<u8>(AttributeValue::from(300)).is_err());
/// # Ok::<(), strata_item::ItemSerdeError>(())
/// ```
///
/// # Errors
/// As [`from_item`].
pub fn from_value<T: serde::de::DeserializeOwned>(
    value: AttributeValue,
) -> Result<T, ItemSerdeError> {
    de::deserialize_top(value, 1)
}

/// `#[serde(with = "strata_item::bytes")]`: stores a byte container (`Vec<u8>`,
/// `[u8; N]` via `Vec`, `bytes::Bytes`…) as a `B` instead of an `L` of numbers.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use strata_item::{from_item, to_item, AttributeValue};
///
/// #[derive(Debug, Serialize, Deserialize, PartialEq)]
/// struct Blob { #[serde(with = "strata_item::bytes")] data: Vec<u8> }
///
/// let it = to_item(&Blob { data: vec![1, 2] })?;
/// assert_eq!(it.get("data"), Some(&AttributeValue::B(vec![1, 2])));
/// assert_eq!(from_item::<Blob>(it)?, Blob { data: vec![1, 2] });
/// # Ok::<(), strata_item::ItemSerdeError>(())
/// ```
pub mod bytes {
    /// Serializes the bytes with `serialize_bytes`.
    ///
    /// # Errors
    /// Those of the serializer.
    pub fn serialize<T: AsRef<[u8]> + ?Sized, S: serde::Serializer>(
        v: &T,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v.as_ref())
    }

    /// Reads bytes (a `B`, or a sequence of numbers) into any `From<Vec<u8>>` container.
    ///
    /// # Errors
    /// Those of the deserializer.
    pub fn deserialize<'de, T: From<Vec<u8>>, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<T, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Vec<u8>, A::Error> {
                let mut out = Vec::new();
                while let Some(b) = a.next_element::<u8>()? {
                    out.push(b);
                }
                Ok(out)
            }
        }
        d.deserialize_byte_buf(V).map(T::from)
    }
}
