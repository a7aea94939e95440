//! DynamoDB's expression language: parsing, checking and evaluation.
//!
//! | DynamoDB parameter           | Parse with                                   | Use                       |
//! |------------------------------|----------------------------------------------|---------------------------|
//! | `ConditionExpression`        | [`parse_condition`]                          | [`Condition::evaluate`]   |
//! | `FilterExpression`           | [`parse_filter`]                             | [`Condition::evaluate`]   |
//! | `KeyConditionExpression`     | [`parse_key_condition`]                      | [`KeyCondition`] fields   |
//! | `UpdateExpression`           | [`parse_update`]                             | [`Update::apply`]         |
//! | `ProjectionExpression`       | [`parse_projection`]                         | [`Projection::apply`]     |
//!
//! The free functions parse one expression and check that every entry of
//! ExpressionAttributeNames / ExpressionAttributeValues was used. A request with
//! several expressions (an UpdateItem with a ConditionExpression, a Query with a
//! filter and a projection) must share one [`Substitutions`] so that the
//! "unused" check covers all of them, as DynamoDB's does.
//!
//! Errors are one type, [`ExprError`], whose `Display` is DynamoDB's message.
//! When an expression has several problems the one reported is the one DynamoDB
//! ranks first (syntax, then for example redundant parentheses, unknown
//! functions, reserved words, undefined placeholders, ...).
//!
//! Limits enforced: expressions up to [`MAX_EXPRESSION_BYTES`] bytes, at most
//! [`MAX_OPERATORS`] operators and functions per expression, at most
//! [`MAX_IN_OPERANDS`] operands after `IN`, document paths at most
//! [`MAX_PATH_DEPTH`] levels deep. See `docs/expressions.md` for what is
//! supported and the known deviations from DynamoDB.
//!
//! ```
//! use std::collections::HashMap;
//! use strata_item::{AttributeValue, Item};
//! use strata_item::expr::Substitutions;
//!
//! // An UpdateItem request: one update and one condition share the placeholders.
//! let names = HashMap::from([("#c".to_string(), "count".to_string())]);
//! let values = HashMap::from([
//!     (":inc".to_string(), AttributeValue::from(1)),
//!     (":max".to_string(), AttributeValue::from(10)),
//! ]);
//! let mut subs = Substitutions::new(&names, &values);
//! subs.validate_keys()?;
//! let update = subs.parse_update("SET #c = #c + :inc")?;
//! let condition = subs.parse_condition("#c < :max")?;
//! subs.check_all_used()?;
//!
//! let item = Item::builder().attr("pk", "a").attr("count", 3).build();
//! assert!(condition.evaluate(&item)?);
//! let outcome = update.apply(&item)?;
//! assert_eq!(outcome.item.get("count"), Some(&AttributeValue::from(4)));
//!
//! // `count` is a reserved word: it must be written as a placeholder.
//! let err = Substitutions::new(&names, &values).parse_update("SET count = :inc").unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: count"
//! );
//! # Ok::<(), strata_item::expr::ExprError>(())
//! ```

use std::collections::HashMap;

use crate::AttributeValue;

mod check;
mod compare;
mod condition;
mod error;
mod key_condition;
mod lexer;
mod parser;
mod path;
mod projection;
mod reserved;
mod resolve;
mod subst;
mod tree_drop;
mod update;

pub use condition::{Condition, MAX_IN_OPERANDS, Operand};
pub use error::{ExprError, ExprKind};
pub use key_condition::{KeyCondition, SortKeyCondition};
pub use parser::Comparator;
pub use path::{AttributePath, MAX_PATH_DEPTH, PathElement};
pub use projection::Projection;
pub use reserved::{RESERVED_WORDS, is_reserved};
pub use subst::Substitutions;
pub use update::{ChangedAttribute, SetValue, Update, UpdateAction, UpdateOperand, UpdateOutcome};

/// Longest expression DynamoDB accepts, in bytes.
pub const MAX_EXPRESSION_BYTES: usize = 4096;

/// Most operators and functions in one expression.
pub const MAX_OPERATORS: usize = 300;

fn parse_alone<T>(
    names: Option<&HashMap<String, String>>,
    values: Option<&HashMap<String, AttributeValue>>,
    f: impl FnOnce(&mut Substitutions<'_>) -> Result<T, ExprError>,
) -> Result<T, ExprError> {
    let mut subs = Substitutions::from_options(names, values);
    subs.validate_keys()?;
    let parsed = f(&mut subs)?;
    subs.check_all_used()?;
    Ok(parsed)
}

/// Parses a `ConditionExpression` that is the only expression of its request.
///
/// See [`Condition`] for an example; use [`Substitutions`] when the request has
/// other expressions too.
///
/// # Errors
/// Any validation error DynamoDB reports for the expression, and unused or
/// malformed placeholder keys.
pub fn parse_condition(
    expr: &str,
    names: &HashMap<String, String>,
    values: &HashMap<String, AttributeValue>,
) -> Result<Condition, ExprError> {
    parse_alone(Some(names), Some(values), |s| s.parse_condition(expr))
}

/// Parses a `FilterExpression` that is the only expression of its request.
///
/// # Errors
/// As [`parse_condition`], with `FilterExpression` in the messages.
pub fn parse_filter(
    expr: &str,
    names: &HashMap<String, String>,
    values: &HashMap<String, AttributeValue>,
) -> Result<Condition, ExprError> {
    parse_alone(Some(names), Some(values), |s| s.parse_filter(expr))
}

/// Parses a `KeyConditionExpression` that is the only expression of its request,
/// for a table or index whose key attributes are `partition_key` and `sort_key`.
///
/// # Errors
/// As [`parse_condition`], plus the key-condition rules (equality on the
/// partition key, at most one condition on the sort key).
pub fn parse_key_condition(
    expr: &str,
    names: &HashMap<String, String>,
    values: &HashMap<String, AttributeValue>,
    partition_key: &str,
    sort_key: Option<&str>,
) -> Result<KeyCondition, ExprError> {
    parse_alone(Some(names), Some(values), |s| {
        s.parse_key_condition(expr, partition_key, sort_key)
    })
}

/// Parses an `UpdateExpression` that is the only expression of its request.
///
/// # Errors
/// As [`parse_condition`], plus the update rules (each clause once, no
/// overlapping paths, ADD/DELETE operand types).
pub fn parse_update(
    expr: &str,
    names: &HashMap<String, String>,
    values: &HashMap<String, AttributeValue>,
) -> Result<Update, ExprError> {
    parse_alone(Some(names), Some(values), |s| s.parse_update(expr))
}

/// Parses a `ProjectionExpression` that is the only expression of its request
/// (projections take no values).
///
/// # Errors
/// Syntax, reserved words, undefined or unused names, overlapping paths.
pub fn parse_projection(
    expr: &str,
    names: &HashMap<String, String>,
) -> Result<Projection, ExprError> {
    parse_alone(Some(names), None, |s| s.parse_projection(expr))
}
