//! strata-item: DynamoDB's data model for Strata.
//!
//! - [`AttributeValue`], [`Number`] and [`Item`]: the values and items, with DynamoDB's
//!   size rules ([`Item::size`]).
//!   Typed getters ([`Item::get_s`], [`Item::get_n`], ..., errors in [`GetError`]) and a
//!   compact `Display` (`{id: "u1", n: 3}`, see the `Display` impls).
//! - [`KeySchema`], [`PrimaryKey`]: key schemas and extracting keys from items.
//! - [`validate`]: DynamoDB's item rules (400 KB, nesting, empty sets, names, keys).
//! - [`key`]: the order-preserving key encoding (`docs/key-encoding.md`).
//! - [`codec`]: the binary item format stored on disk (`docs/item-codec.md`).
//! - [`json`] (feature `serde`, on by default): DynamoDB's JSON form of values and items.
//! - [`serde_item`] (feature `serde`): your own types as items through serde ([`to_item`],
//!   [`from_item`]), with [`sets`] and [`bytes`] for `SS`/`NS`/`BS` and `B` fields.
//! - [`expr`]: the expression language (parse and evaluate).
//! - [`echo`]: how errors quote caller input (cut to a fixed size).
//!
//! ```
//! use strata_item::{codec, item, key, validate_item, KeySchema, KeyType, Number};
//!
//! let schema = KeySchema::composite("pk", KeyType::S, "sk", KeyType::N);
//! let it = item! { "pk" => "user#1", "sk" => 3, "balance" => Number::parse("10.50")? };
//!
//! // What PutItem checks: limits, types, key attributes.
//! let pk = validate_item(&it, Some(&schema))?.expect("schema given");
//! // The bytes the engine sorts by, and the bytes it stores.
//! let key_bytes = key::encode_primary_key(&pk)?;
//! let value_bytes = codec::encode_item(&it);
//! assert_eq!(codec::decode_item(&value_bytes)?, it);
//! assert_eq!(key::decode_primary_key(&key_bytes)?, pk);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Module ownership while this crate is being built: `expr/` holds the expression
//! language; everything else holds values, numbers, items, keys and codecs.

pub mod codec;
mod display;
pub mod echo;
mod getters;
mod item;
#[cfg(feature = "serde")]
pub mod json;
pub mod key;
mod name;
pub mod number;
mod schema;
#[cfg(feature = "serde")]
pub mod serde_item;
pub mod validate;
mod value;
mod value_deep;

pub mod expr;

pub use getters::GetError;
pub use item::{Item, ItemBuilder};
pub use name::Name;
pub use number::{Number, NumberError};
pub use schema::{
    KeyAttribute, KeyError, KeyRole, KeySchema, KeyType, MAX_KEY_NAME_BYTES,
    MAX_PARTITION_KEY_BYTES, MAX_SORT_KEY_BYTES, PrimaryKey,
};
#[cfg(feature = "serde")]
pub use serde_item::{
    ItemSerdeError, ItemSerdeErrorKind, bytes, from_item, from_value, sets, to_item, to_value,
};
pub use validate::{ValidationError, validate_item};
pub use value::AttributeValue;
