//! strata-item: DynamoDB's data model for Strata (being built).
//!
//! Module ownership while this crate is being built: `expr/` holds the expression
//! language; everything else holds values, numbers, items, keys and codecs.

pub mod expr;
