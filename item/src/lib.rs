//! strata-item: DynamoDB's data model for Strata.
//!
//! - [`AttributeValue`], [`Number`] and [`Item`]: the values and items, with DynamoDB's
//!   size rules ([`Item::size`]).
//! - [`KeySchema`], [`PrimaryKey`]: key schemas and extracting keys from items.
//! - [`validate`]: DynamoDB's item rules (400 KB, nesting, empty sets, names, keys).
//! - [`key`]: the order-preserving key encoding (`docs/key-encoding.md`).
//! - [`codec`]: the binary item format stored on disk (`docs/item-codec.md`).
//! - [`json`] (feature `serde`, on by default): DynamoDB's JSON form of values and items.
//! - [`expr`]: the expression language (parse and evaluate).
//!
//! Module ownership while this crate is being built: `expr/` holds the expression
//! language; everything else holds values, numbers, items, keys and codecs.

pub mod codec;
mod item;
#[cfg(feature = "serde")]
pub mod json;
pub mod key;
pub mod number;
mod schema;
pub mod validate;
mod value;

pub mod expr;

pub use item::{Item, ItemBuilder};
pub use number::{Number, NumberError};
pub use schema::{
    KeyAttribute, KeyError, KeyRole, KeySchema, KeyType, MAX_KEY_NAME_BYTES,
    MAX_PARTITION_KEY_BYTES, MAX_SORT_KEY_BYTES, PrimaryKey,
};
pub use validate::{ValidationError, validate_item};
pub use value::AttributeValue;
