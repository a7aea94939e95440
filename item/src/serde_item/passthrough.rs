//! [`AttributeValue`] and [`Item`] fields inside your types: they keep their DynamoDB
//! type through [`crate::to_item`] / [`crate::from_item`].
//!
//! Their serde impls (the DynamoDB JSON form) wrap that form in a newtype with a
//! reserved name; other formats see only the JSON form, while strata's serializer
//! recognises the name and rebuilds the value from it (and its deserializer hands out the
//! JSON form of the stored value).

use serde_json::Value;

use super::{ItemSerdeError, ItemSerdeErrorKind};
use crate::validate::too_deep;
use crate::{AttributeValue, Item};

/// The newtype name of [`AttributeValue`]'s serde form.
pub(crate) const VALUE_NAME: &str = "\0strata_item::AttributeValue";
/// The newtype name of [`Item`]'s serde form.
pub(crate) const ITEM_NAME: &str = "\0strata_item::Item";

/// Lists and maps around the deepest element of `v` (0 for a scalar or an empty list or
/// map), counted without recursion.
fn depth(v: &AttributeValue) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(v, 0usize)];
    while let Some((v, d)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &AttributeValue>> = match v {
            AttributeValue::L(l) => Box::new(l.iter()),
            AttributeValue::M(m) => Box::new(m.values()),
            _ => continue,
        };
        for c in children {
            deepest = deepest.max(d + 1);
            stack.push((c, d + 1));
        }
    }
    deepest
}

/// Checks that `v`, whose elements sit inside `children` lists and maps, keeps within
/// DynamoDB's nesting limit.
pub(super) fn check_depth(v: &AttributeValue, children: usize) -> Result<(), ItemSerdeError> {
    match depth(v) {
        0 => Ok(()),
        d if too_deep(children + d - 1) => Err(ItemSerdeError::new(ItemSerdeErrorKind::TooDeep)),
        _ => Ok(()),
    }
}

/// Rebuilds the value a `VALUE_NAME` or `ITEM_NAME` newtype wraps, from its JSON form.
pub(super) fn rebuild<T: serde::Serialize + ?Sized>(
    name: &str,
    inner: &T,
    children: usize,
) -> Result<AttributeValue, ItemSerdeError> {
    let json = serde_json::to_value(inner).map_err(custom)?;
    let v = if name == ITEM_NAME {
        AttributeValue::from(Item::from_dynamo_json(&json).map_err(custom)?)
    } else {
        AttributeValue::from_dynamo_json(&json).map_err(custom)?
    };
    check_depth(&v, children)?;
    Ok(v)
}

/// The JSON form a `VALUE_NAME` or `ITEM_NAME` newtype reads, after the depth check.
pub(super) fn json_form(
    name: &str,
    v: &AttributeValue,
    children: usize,
) -> Result<Value, ItemSerdeError> {
    check_depth(v, children)?;
    if name == ITEM_NAME {
        match v {
            AttributeValue::M(m) => Ok(Value::Object(crate::json::map_to_json(m))),
            other => Err(ItemSerdeError::wrong_type("a map", other.type_name())),
        }
    } else {
        Ok(v.to_dynamo_json())
    }
}

fn custom(e: impl std::fmt::Display) -> ItemSerdeError {
    ItemSerdeError::new(ItemSerdeErrorKind::Custom(e.to_string()))
}
