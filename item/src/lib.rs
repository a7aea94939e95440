//! strata-item: DynamoDB's data model for Strata.
//!
//! - [`AttributeValue`], [`Number`] and [`Item`]: the values and items, with DynamoDB's
//!   size rules ([`Item::size`]).
//! - [`expr`]: the expression language (parse and evaluate).
//!
//! Module ownership while this crate is being built: `expr/` holds the expression
//! language; everything else holds values, numbers, items, keys and codecs.

mod item;
pub mod number;
mod value;

pub mod expr;

pub use item::{Item, ItemBuilder};
pub use number::{Number, NumberError};
pub use value::AttributeValue;
