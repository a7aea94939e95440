//! The one error type of the expression language.
//!
//! Every variant's `Display` is the message DynamoDB returns for the same
//! mistake (a `ValidationException` body), so a server can pass it through
//! unchanged. Parse-time errors carry the [`ExprKind`] of the expression they
//! came from, which DynamoDB puts in front of the message
//! (`Invalid ConditionExpression: ...`).
//!
//! Text taken from the caller (names, placeholder keys, tokens, paths, values) is cut
//! to a fixed size by [`crate::echo`] when the error is built, so no message or field
//! grows with the input; inputs of ordinary size are quoted unchanged.

use std::fmt;

/// Which request parameter an expression came from; DynamoDB names it in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExprKind {
    /// `ConditionExpression` of PutItem, UpdateItem, DeleteItem, TransactWriteItems.
    Condition,
    /// `FilterExpression` of Query and Scan.
    Filter,
    /// `KeyConditionExpression` of Query.
    KeyCondition,
    /// `UpdateExpression` of UpdateItem.
    Update,
    /// `ProjectionExpression` of GetItem, Query, Scan, BatchGetItem.
    Projection,
}

impl ExprKind {
    /// The request parameter's name, e.g. `"ConditionExpression"`.
    pub fn parameter_name(self) -> &'static str {
        match self {
            ExprKind::Condition => "ConditionExpression",
            ExprKind::Filter => "FilterExpression",
            ExprKind::KeyCondition => "KeyConditionExpression",
            ExprKind::Update => "UpdateExpression",
            ExprKind::Projection => "ProjectionExpression",
        }
    }
}

impl fmt::Display for ExprKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.parameter_name())
    }
}

/// Everything that can go wrong parsing or evaluating an expression.
///
/// `Display` gives DynamoDB's wording. Variants with a `kind` field are
/// validation errors found while parsing; the rest arise when an update is
/// applied to an item (DynamoDB reports those without the `Invalid ...:` prefix).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExprError {
    /// The expression string is empty (or only whitespace).
    #[error("Invalid {kind}: The expression can not be empty;")]
    Empty {
        /// Which expression.
        kind: ExprKind,
    },

    /// The expression is longer than 4 KB (4096 bytes of UTF-8).
    #[error(
        "Invalid {kind}: Expression size has exceeded the maximum allowed size; expression size: {size}"
    )]
    TooLong {
        /// Which expression.
        kind: ExprKind,
        /// Its size in bytes.
        size: usize,
    },

    /// The expression does not follow the grammar.
    #[error("Invalid {kind}: Syntax error; token: \"{token}\", near: \"{near}\"")]
    Syntax {
        /// Which expression.
        kind: ExprKind,
        /// The offending token (`<EOF>` at the end of input).
        token: String,
        /// The source text around it (previous token through next token).
        near: String,
        /// Byte offset of the offending token in the expression.
        offset: usize,
    },

    /// A bare attribute name is one of DynamoDB's reserved words.
    #[error("Invalid {kind}: Attribute name is a reserved keyword; reserved keyword: {keyword}")]
    ReservedKeyword {
        /// Which expression.
        kind: ExprKind,
        /// The word as written.
        keyword: String,
    },

    /// `#name` is used but missing from ExpressionAttributeNames.
    #[error(
        "Invalid {kind}: An expression attribute name used in the document path is not defined; attribute name: {name}"
    )]
    UndefinedName {
        /// Which expression.
        kind: ExprKind,
        /// The placeholder, with its `#`.
        name: String,
    },

    /// `:value` is used but missing from ExpressionAttributeValues.
    #[error(
        "Invalid {kind}: An expression attribute value used in expression is not defined; attribute value: {name}"
    )]
    UndefinedValue {
        /// Which expression.
        kind: ExprKind,
        /// The placeholder, with its `:`.
        name: String,
    },

    /// Names given in ExpressionAttributeNames that no expression of the request used.
    #[error("Value provided in ExpressionAttributeNames unused in expressions: keys: {{{}}}", crate::echo::join_listed(.keys, *.total))]
    UnusedNames {
        /// The first unused placeholders in sorted order: at most
        /// [`crate::echo::MAX_LISTED`], each cut by [`crate::echo::shown`].
        keys: Vec<String>,
        /// How many placeholders were unused (the message says how many it leaves out).
        total: usize,
    },

    /// Values given in ExpressionAttributeValues that no expression of the request used.
    #[error("Value provided in ExpressionAttributeValues unused in expressions: keys: {{{}}}", crate::echo::join_listed(.keys, *.total))]
    UnusedValues {
        /// The first unused placeholders in sorted order: at most
        /// [`crate::echo::MAX_LISTED`], each cut by [`crate::echo::shown`].
        keys: Vec<String>,
        /// How many placeholders were unused (the message says how many it leaves out).
        total: usize,
    },

    /// A placeholder key in ExpressionAttributeNames/Values is not `#word` / `:word`.
    #[error("{parameter} contains invalid key: Syntax error; key: \"{key}\"")]
    InvalidPlaceholderKey {
        /// `ExpressionAttributeNames` or `ExpressionAttributeValues`.
        parameter: &'static str,
        /// The bad key.
        key: String,
    },

    /// An ExpressionAttributeNames entry stands for an empty attribute name.
    #[error("ExpressionAttributeNames contains invalid value: Empty attribute name for key {key}")]
    EmptyNameValue {
        /// The placeholder, with its `#`.
        key: String,
    },

    /// An ExpressionAttributeValues entry is not a valid attribute value (an empty set, or
    /// nested deeper than 32 levels).
    #[error("ExpressionAttributeValues contains invalid value: {reason} for key {key}")]
    InvalidValue {
        /// The placeholder, with its `:`.
        key: String,
        /// DynamoDB's description of the problem.
        reason: String,
    },

    /// A value written into an expression built in Rust is not a valid attribute value
    /// (the typed counterpart of [`ExprError::InvalidValue`]).
    #[error("Invalid {kind}: {reason}")]
    InvalidOperandValue {
        /// Which expression.
        kind: ExprKind,
        /// DynamoDB's description of the problem.
        reason: String,
    },

    /// A document path of an expression built in Rust has an empty attribute name (the
    /// typed counterpart of [`ExprError::EmptyNameValue`]).
    #[error("Invalid {kind}: An attribute name in a document path is empty")]
    EmptyPathName {
        /// Which expression.
        kind: ExprKind,
    },

    /// Two pairs of parentheses around the same thing.
    #[error("Invalid {kind}: The expression has redundant parentheses;")]
    RedundantParentheses {
        /// Which expression.
        kind: ExprKind,
    },

    /// A function name that does not exist (names are case-sensitive).
    #[error("Invalid {kind}: Invalid function name; function: {function}")]
    InvalidFunction {
        /// Which expression.
        kind: ExprKind,
        /// The name as written.
        function: String,
    },

    /// A function used where its result type is not allowed (e.g. `size(a)` as a condition).
    #[error(
        "Invalid {kind}: The function is not allowed to be used this way in an expression; function: {function}"
    )]
    FunctionMisused {
        /// Which expression.
        kind: ExprKind,
        /// The function.
        function: String,
    },

    /// An update function (`if_not_exists`, `list_append`) used in a condition.
    #[error(
        "Invalid {kind}: The function is not allowed in a condition expression; function: {function}"
    )]
    FunctionNotAllowedInCondition {
        /// Which expression.
        kind: ExprKind,
        /// The function.
        function: String,
    },

    /// A condition function (`attribute_exists`, ...) used in an update expression.
    #[error(
        "Invalid {kind}: The function is not allowed in an update expression; function: {function}"
    )]
    FunctionNotAllowedInUpdate {
        /// Which expression.
        kind: ExprKind,
        /// The function.
        function: String,
    },

    /// A function or operator got the wrong number of operands.
    #[error(
        "Invalid {kind}: Incorrect number of operands for operator or function; operator or function: {function}, number of operands: {count}"
    )]
    OperandCount {
        /// Which expression.
        kind: ExprKind,
        /// The function or operator.
        function: String,
        /// How many operands it got.
        count: usize,
    },

    /// A function whose first operand must be a document path got something else.
    #[error(
        "Invalid {kind}: Operator or function requires a document path; operator or function: {function}"
    )]
    RequiresPath {
        /// Which expression.
        kind: ExprKind,
        /// The function.
        function: String,
    },

    /// A literal operand of the wrong type (e.g. `begins_with(a, :n)` with `:n` a number).
    #[error(
        "Invalid {kind}: Incorrect operand type for operator or function; operator or function: {function}, operand type: {operand_type}"
    )]
    OperandType {
        /// Which expression.
        kind: ExprKind,
        /// The function or operator.
        function: String,
        /// DynamoDB's type name of the operand (`N`, `BOOL`, ...).
        operand_type: String,
    },

    /// The value of an ADD or DELETE action has a type the action does not accept.
    #[error(
        "Invalid {kind}: Incorrect operand type for operator or function; operator: {operator}, operand type: {operand_type}"
    )]
    ActionOperandType {
        /// Which expression.
        kind: ExprKind,
        /// `ADD` or `DELETE`.
        operator: &'static str,
        /// `STRING`, `NUMBER`, `BINARY`, `BOOLEAN`, `NULL`, `LIST` or `MAP`.
        operand_type: &'static str,
    },

    /// `attribute_type(path, :t)` where `:t` is not a type name.
    #[error(
        "Invalid {kind}: Invalid attribute type name found; type: {type_name}, valid types: {{B,NULL,SS,BOOL,L,BS,N,NS,S,M}}"
    )]
    InvalidTypeName {
        /// Which expression.
        kind: ExprKind,
        /// What was given.
        type_name: String,
    },

    /// The same document path on both sides of an operator, e.g. `a = a`.
    #[error(
        "Invalid {kind}: The first operand must be distinct from the remaining operands for this operator or function; operator: {operator}, first operand: {path}"
    )]
    NotDistinct {
        /// Which expression.
        kind: ExprKind,
        /// The operator or function.
        operator: String,
        /// The path, formatted as DynamoDB does (`[a, b, [1]]`).
        path: String,
    },

    /// BETWEEN bounds of different types.
    #[error(
        "Invalid {kind}: The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: AttributeValue: {lower}, upper bound operand: AttributeValue: {upper}"
    )]
    BetweenTypes {
        /// Which expression.
        kind: ExprKind,
        /// The lower bound, formatted `{N:1}`.
        lower: String,
        /// The upper bound.
        upper: String,
    },

    /// BETWEEN bounds in the wrong order.
    #[error(
        "Invalid {kind}: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {lower}, upper bound operand: AttributeValue: {upper}"
    )]
    BetweenOrder {
        /// Which expression.
        kind: ExprKind,
        /// The lower bound, formatted `{N:1}`.
        lower: String,
        /// The upper bound.
        upper: String,
    },

    /// More than 100 operands after `IN`.
    #[error(
        "Invalid {kind}: The IN operator is provided with too many operands; number of operands: {count}"
    )]
    TooManyInOperands {
        /// Which expression.
        kind: ExprKind,
        /// How many were given.
        count: usize,
    },

    /// More than 300 operators and functions in one expression.
    #[error("Invalid {kind}: The expression contains too many operators; operator count: {count}")]
    TooManyOperators {
        /// Which expression.
        kind: ExprKind,
        /// How many were counted.
        count: usize,
    },

    /// A document path deeper than 32 levels.
    #[error(
        "Invalid {kind}: The document path has too many nesting levels; nesting levels: {depth}"
    )]
    PathTooDeep {
        /// Which expression.
        kind: ExprKind,
        /// The path's depth.
        depth: usize,
    },

    /// A list index that does not fit DynamoDB's range.
    #[error("Invalid {kind}: List index is not within the allowable range; index: {index}")]
    ListIndexOutOfRange {
        /// Which expression.
        kind: ExprKind,
        /// The index as written.
        index: String,
    },

    /// An update expression with the same clause twice.
    #[error(
        "Invalid {kind}: The \"{section}\" section can only be used once in an update expression;"
    )]
    DuplicateSection {
        /// Which expression.
        kind: ExprKind,
        /// `SET`, `REMOVE`, `ADD` or `DELETE`.
        section: &'static str,
    },

    /// Two paths where one is a prefix of (or equal to) the other.
    #[error(
        "Invalid {kind}: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: {first}, path two: {second}"
    )]
    PathOverlap {
        /// Which expression.
        kind: ExprKind,
        /// The earlier path, formatted `[a, [1]]`.
        first: String,
        /// The later path.
        second: String,
    },

    /// Two paths that use the same element both as a map and as a list.
    #[error(
        "Invalid {kind}: Two document paths conflict with each other; must remove or rewrite one of these paths; path one: {first}, path two: {second}"
    )]
    PathConflict {
        /// Which expression.
        kind: ExprKind,
        /// The earlier path.
        first: String,
        /// The later path.
        second: String,
    },

    /// KeyConditionExpression with an operator a key condition cannot use.
    #[error("Invalid operator used in KeyConditionExpression: {operator}")]
    KeyConditionOperator {
        /// The operator or function, e.g. `OR`, `<>`, `attribute_exists`.
        operator: String,
    },

    /// KeyConditionExpression BETWEEN or begins_with whose first operand is not the key.
    #[error(
        "Invalid condition in KeyConditionExpression: {operator} operator must have the key attribute as its first operand"
    )]
    KeyConditionFirstOperand {
        /// `BETWEEN` or `begins_with`.
        operator: String,
    },

    /// KeyConditionExpression with a function inside a condition.
    #[error("KeyConditionExpressions cannot contain nested operations")]
    KeyConditionNested,

    /// KeyConditionExpression on a nested attribute (`a.b`, `a[0]`).
    #[error("KeyConditionExpressions cannot have conditions on nested attributes")]
    KeyConditionNestedAttribute,

    /// KeyConditionExpression naming two attributes in one condition.
    #[error(
        "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition"
    )]
    KeyConditionMultipleNames,

    /// KeyConditionExpression condition without any attribute.
    #[error("Invalid condition in KeyConditionExpression: No key attribute specified")]
    KeyConditionNoKey,

    /// KeyConditionExpression with two conditions on one key, or more than two conditions.
    #[error("KeyConditionExpressions must only contain one condition per key")]
    KeyConditionRepeated,

    /// KeyConditionExpression without a condition on the partition key.
    #[error("Query condition missed key schema element: {key}")]
    KeyConditionMissingKey {
        /// The partition key's attribute name.
        key: String,
    },

    /// KeyConditionExpression that is well formed but not a valid key condition
    /// (non-equality on the partition key, condition on a non-key attribute).
    #[error("Query key condition not supported")]
    KeyConditionNotSupported,

    /// An update read an attribute the item does not have (`SET a = b` with no `b`).
    #[error("The provided expression refers to an attribute that does not exist in the item")]
    MissingAttribute,

    /// An update's target path cannot exist in the item (parent missing or of the wrong type).
    #[error("The document path provided in the update expression is invalid for update")]
    InvalidUpdatePath,

    /// An update operand has the wrong type at run time (`SET a = b + :one` with `b` a string).
    #[error("An operand in the update expression has an incorrect data type")]
    IncorrectOperandType,

    /// Arithmetic in an update produced a number DynamoDB cannot store.
    #[error("{message}")]
    Number {
        /// The number module's message (overflow, underflow, precision).
        message: String,
    },
}

impl ExprError {
    /// The byte offset in the expression where a syntax error was found, if this is one.
    pub fn offset(&self) -> Option<usize> {
        match self {
            ExprError::Syntax { offset, .. } => Some(*offset),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_dynamodb() {
        let e = ExprError::Syntax {
            kind: ExprKind::Condition,
            token: "4".into(),
            near: "> 4".into(),
            offset: 4,
        };
        assert_eq!(
            e.to_string(),
            "Invalid ConditionExpression: Syntax error; token: \"4\", near: \"> 4\""
        );
        let e = ExprError::UnusedValues {
            keys: vec![":a".into(), ":c".into()],
            total: 2,
        };
        assert_eq!(
            e.to_string(),
            "Value provided in ExpressionAttributeValues unused in expressions: keys: {:a, :c}"
        );
        let e = ExprError::Empty {
            kind: ExprKind::Projection,
        };
        assert_eq!(
            e.to_string(),
            "Invalid ProjectionExpression: The expression can not be empty;"
        );
        let e = ExprError::InvalidTypeName {
            kind: ExprKind::Filter,
            type_name: "1".into(),
        };
        assert_eq!(
            e.to_string(),
            "Invalid FilterExpression: Invalid attribute type name found; type: 1, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}"
        );
        assert_eq!(e.offset(), None);
    }
}
