//! ConditionExpression and FilterExpression: resolved AST, checks, evaluation.

use std::borrow::Cow;
use std::cmp::Ordering;

use crate::{AttributeValue, Item};

use super::compare;
use super::error::{ExprError, ExprKind};
use super::parser::{self, Comparator, RawCall, RawCond, RawOperand};
use super::path::AttributePath;
use super::resolve::{CONDITION_ORDER, Cat, Resolver};
use super::subst::Substitutions;

/// Most operands after `IN`.
pub const MAX_IN_OPERANDS: usize = 100;

/// The type names `attribute_type` accepts.
pub(crate) const TYPE_NAMES: &[&str] = &["S", "N", "B", "SS", "NS", "BS", "BOOL", "NULL", "L", "M"];

/// Functions of condition expressions and how many operands each takes.
const CONDITION_FUNCTIONS: &[(&str, usize)] = &[
    ("attribute_exists", 1),
    ("attribute_not_exists", 1),
    ("attribute_type", 2),
    ("begins_with", 2),
    ("contains", 2),
    ("size", 1),
];

/// Functions of update expressions.
pub(crate) const UPDATE_FUNCTIONS: &[(&str, usize)] = &[("if_not_exists", 2), ("list_append", 2)];

pub(crate) fn condition_arity(name: &str) -> Option<usize> {
    CONDITION_FUNCTIONS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, a)| *a)
}

pub(crate) fn update_arity(name: &str) -> Option<usize> {
    UPDATE_FUNCTIONS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, a)| *a)
}

/// An operand of a comparison or function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    /// A document path into the item.
    Path(AttributePath),
    /// A value from ExpressionAttributeValues.
    Value(AttributeValue),
    /// `size(operand)`.
    Size(Box<Operand>),
}

impl Operand {
    /// The type a literal operand is known to have at parse time.
    fn static_type(&self) -> Option<&'static str> {
        match self {
            Operand::Path(_) => None,
            Operand::Value(v) => Some(v.type_name()),
            Operand::Size(_) => Some("N"),
        }
    }

    fn eval<'a>(&'a self, item: &'a Item) -> Option<Cow<'a, AttributeValue>> {
        match self {
            Operand::Path(p) => p.get(item).map(Cow::Borrowed),
            Operand::Value(v) => Some(Cow::Borrowed(v)),
            Operand::Size(inner) => compare::size(inner.eval(item)?.as_ref()).map(Cow::Owned),
        }
    }
}

/// A parsed ConditionExpression or FilterExpression.
///
/// ```
/// use std::collections::HashMap;
/// use strata_item::{AttributeValue, Item};
/// use strata_item::expr::parse_condition;
///
/// let names = HashMap::from([("#s".to_string(), "status".to_string())]);
/// let values = HashMap::from([
///     (":min".to_string(), AttributeValue::from(10)),
///     (":p".to_string(), AttributeValue::from("ab")),
/// ]);
/// let cond = parse_condition(
///     "attribute_exists(#s) AND price >= :min AND begins_with(code, :p)",
///     &names,
///     &values,
/// )?;
/// let item = Item::builder().attr("status", "open").attr("price", 12).attr("code", "abc").build();
/// assert!(cond.evaluate(&item)?);
/// let cheap = Item::builder().attr("status", "open").attr("price", 3).attr("code", "abc").build();
/// assert!(!cond.evaluate(&cheap)?);
/// # Ok::<(), strata_item::expr::ExprError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `left op right`.
    Compare {
        /// The operator.
        op: Comparator,
        /// Left operand.
        left: Operand,
        /// Right operand.
        right: Operand,
    },
    /// `operand BETWEEN low AND high` (inclusive).
    Between {
        /// Tested operand.
        operand: Operand,
        /// Lower bound.
        low: Operand,
        /// Upper bound.
        high: Operand,
    },
    /// `operand IN (list...)`.
    In {
        /// Tested operand.
        operand: Operand,
        /// Candidates (at most 100).
        list: Vec<Operand>,
    },
    /// `attribute_exists(path)`.
    AttributeExists(AttributePath),
    /// `attribute_not_exists(path)`.
    AttributeNotExists(AttributePath),
    /// `attribute_type(path, :type)`.
    AttributeType {
        /// Tested path.
        path: AttributePath,
        /// One of `S N B SS NS BS BOOL NULL L M`.
        type_name: &'static str,
    },
    /// `begins_with(operand, prefix)`.
    BeginsWith {
        /// Tested operand.
        operand: Operand,
        /// The prefix.
        prefix: Operand,
    },
    /// `contains(operand, value)`.
    Contains {
        /// Tested operand (string, binary, set or list).
        operand: Operand,
        /// Substring or element.
        value: Operand,
    },
    /// `NOT c`.
    Not(Box<Condition>),
    /// `a AND b`.
    And(Box<Condition>, Box<Condition>),
    /// `a OR b`.
    Or(Box<Condition>, Box<Condition>),
}

impl Condition {
    /// Evaluates the condition against an item (an absent item is an empty one).
    ///
    /// Follows DynamoDB: a comparison with a missing attribute or between values of
    /// different types is false, not an error (`<>` is then true).
    ///
    /// # Errors
    /// None today: every check that can fail is made when the expression is parsed.
    /// The `Result` leaves room for evaluation limits without an API change.
    pub fn evaluate(&self, item: &Item) -> Result<bool, ExprError> {
        Ok(self.matches(item))
    }

    /// Evaluates the condition against an item.
    pub fn matches(&self, item: &Item) -> bool {
        match self {
            Condition::Compare { op, left, right } => {
                let (Some(a), Some(b)) = (left.eval(item), right.eval(item)) else {
                    return *op == Comparator::Ne;
                };
                match op {
                    Comparator::Eq => a == b,
                    Comparator::Ne => a != b,
                    Comparator::Lt => compare::order(&a, &b) == Some(Ordering::Less),
                    Comparator::Le => matches!(
                        compare::order(&a, &b),
                        Some(Ordering::Less | Ordering::Equal)
                    ),
                    Comparator::Gt => compare::order(&a, &b) == Some(Ordering::Greater),
                    Comparator::Ge => matches!(
                        compare::order(&a, &b),
                        Some(Ordering::Greater | Ordering::Equal)
                    ),
                }
            }
            Condition::Between { operand, low, high } => {
                let (Some(v), Some(lo), Some(hi)) =
                    (operand.eval(item), low.eval(item), high.eval(item))
                else {
                    return false;
                };
                matches!(
                    compare::order(&lo, &v),
                    Some(Ordering::Less | Ordering::Equal)
                ) && matches!(
                    compare::order(&v, &hi),
                    Some(Ordering::Less | Ordering::Equal)
                )
            }
            Condition::In { operand, list } => {
                let Some(v) = operand.eval(item) else {
                    return false;
                };
                list.iter()
                    .any(|c| c.eval(item).is_some_and(|c| c.as_ref() == v.as_ref()))
            }
            Condition::AttributeExists(p) => p.get(item).is_some(),
            Condition::AttributeNotExists(p) => p.get(item).is_none(),
            Condition::AttributeType { path, type_name } => {
                path.get(item).is_some_and(|v| v.type_name() == *type_name)
            }
            Condition::BeginsWith { operand, prefix } => {
                match (operand.eval(item), prefix.eval(item)) {
                    (Some(a), Some(p)) => compare::begins_with(&a, &p),
                    _ => false,
                }
            }
            Condition::Contains { operand, value } => {
                match (operand.eval(item), value.eval(item)) {
                    (Some(a), Some(b)) => compare::contains(&a, &b),
                    _ => false,
                }
            }
            Condition::Not(c) => !c.matches(item),
            Condition::And(a, b) => a.matches(item) && b.matches(item),
            Condition::Or(a, b) => a.matches(item) || b.matches(item),
        }
    }
}

/// Parses and resolves a condition-shaped expression.
pub(crate) fn parse(
    expr: &str,
    kind: ExprKind,
    subs: &mut Substitutions<'_>,
) -> Result<Condition, ExprError> {
    let (raw, facts) = parser::parse_condition(expr, kind)?;
    let mut r = Resolver::new(subs, kind);
    if facts.redundant_parens {
        r.diag
            .report(Cat::Parens, ExprError::RedundantParentheses { kind });
    }
    r.check_operator_count(facts.operators);
    let cond = resolve_cond(&mut r, &raw);
    r.diag.finish(CONDITION_ORDER)?;
    Ok(cond)
}

/// A stand-in returned next to a reported error; never evaluated.
fn placeholder_condition() -> Condition {
    Condition::AttributeExists(AttributePath::new(""))
}

/// Ordering operators need strings, numbers or binaries: a literal of another
/// type is rejected when the expression is parsed.
fn check_orderable(r: &mut Resolver<'_, '_>, operator: &str, operands: &[&Operand]) {
    for o in operands {
        if let Some(t) = o.static_type().filter(|t| !matches!(*t, "S" | "N" | "B")) {
            operand_type_error(r, operator, t);
        }
    }
}

fn check_distinct(r: &mut Resolver<'_, '_>, operator: &str, a: &Operand, b: &Operand) {
    if let (Operand::Path(x), Operand::Path(y)) = (a, b)
        && x == y
    {
        r.diag.report(
            Cat::Distinct,
            ExprError::NotDistinct {
                kind: r.kind,
                operator: operator.to_string(),
                path: x.dynamo_format(),
            },
        );
    }
}

pub(crate) fn resolve_cond(r: &mut Resolver<'_, '_>, raw: &RawCond) -> Condition {
    match raw {
        RawCond::Not(c) => Condition::Not(Box::new(resolve_cond(r, c))),
        RawCond::And(a, b) => {
            Condition::And(Box::new(resolve_cond(r, a)), Box::new(resolve_cond(r, b)))
        }
        RawCond::Or(a, b) => {
            Condition::Or(Box::new(resolve_cond(r, a)), Box::new(resolve_cond(r, b)))
        }
        leaf => {
            let outer = std::mem::take(&mut r.diag);
            let cond = resolve_leaf(r, leaf);
            let local = std::mem::replace(&mut r.diag, outer);
            r.diag.absorb_leaf(local);
            cond
        }
    }
}

fn resolve_leaf(r: &mut Resolver<'_, '_>, raw: &RawCond) -> Condition {
    match raw {
        RawCond::Compare(op, a, b) => {
            let left = operand(r, a);
            let right = operand(r, b);
            check_distinct(r, op.symbol(), &left, &right);
            if !matches!(op, Comparator::Eq | Comparator::Ne) {
                check_orderable(r, op.symbol(), &[&left, &right]);
            }
            Condition::Compare {
                op: *op,
                left,
                right,
            }
        }
        RawCond::Between(a, lo, hi) => {
            let operand_ = operand(r, a);
            let low = operand(r, lo);
            let high = operand(r, hi);
            check_orderable(r, "BETWEEN", &[&operand_, &low, &high]);
            if let (Operand::Value(l), Operand::Value(h)) = (&low, &high)
                && !r.diag.has(Cat::UndefinedValue)
            {
                if l.type_name() != h.type_name() {
                    r.diag.report(
                        Cat::Function,
                        ExprError::BetweenTypes {
                            kind: r.kind,
                            lower: compare::format_value(l),
                            upper: compare::format_value(h),
                        },
                    );
                } else if compare::order(l, h) == Some(Ordering::Greater) {
                    r.diag.report(
                        Cat::Function,
                        ExprError::BetweenOrder {
                            kind: r.kind,
                            lower: compare::format_value(l),
                            upper: compare::format_value(h),
                        },
                    );
                }
            }
            Condition::Between {
                operand: operand_,
                low,
                high,
            }
        }
        RawCond::In(a, list) => {
            let operand_ = operand(r, a);
            let list: Vec<Operand> = list.iter().map(|o| operand(r, o)).collect();
            if list.len() > MAX_IN_OPERANDS {
                r.diag.report(
                    Cat::Limits,
                    ExprError::TooManyInOperands {
                        kind: r.kind,
                        count: list.len(),
                    },
                );
            }
            Condition::In {
                operand: operand_,
                list,
            }
        }
        RawCond::Call(call) => condition_call(r, call),
        // Not leaves; `resolve_cond` handles them.
        RawCond::Not(_) | RawCond::And(..) | RawCond::Or(..) => resolve_cond(r, raw),
    }
}

/// Reports an unknown (or update-only) function name; true if the name is a
/// condition function.
fn check_function_name(r: &mut Resolver<'_, '_>, name: &str) -> bool {
    if condition_arity(name).is_some() {
        return true;
    }
    let err = if update_arity(name).is_some() {
        ExprError::FunctionNotAllowedInCondition {
            kind: r.kind,
            function: name.to_string(),
        }
    } else {
        ExprError::InvalidFunction {
            kind: r.kind,
            function: name.to_string(),
        }
    };
    r.diag.report(Cat::UnknownFunction, err);
    false
}

/// An operand in a comparison, BETWEEN, IN or function argument: only `size()`
/// may appear there as a function.
fn operand(r: &mut Resolver<'_, '_>, raw: &RawOperand) -> Operand {
    match raw {
        RawOperand::Path(p) => Operand::Path(r.path(p)),
        RawOperand::Value(v) => Operand::Value(r.value(v)),
        RawOperand::Call(call) if call.name == "size" => size_call(r, call),
        RawOperand::Call(call) => {
            r.diag.report(
                Cat::Misused,
                ExprError::FunctionMisused {
                    kind: r.kind,
                    function: call.name.clone(),
                },
            );
            if check_function_name(r, &call.name) {
                condition_call(r, call);
            } else {
                for a in &call.args {
                    operand(r, a);
                }
            }
            Operand::Value(AttributeValue::Null)
        }
        RawOperand::Arith(op, a, b) => {
            // The condition grammar has no arithmetic; keep going defensively.
            operand(r, a);
            operand(r, b);
            r.diag.report(
                Cat::Misused,
                ExprError::FunctionMisused {
                    kind: r.kind,
                    function: match op {
                        parser::ArithOp::Plus => "+".into(),
                        parser::ArithOp::Minus => "-".into(),
                    },
                },
            );
            Operand::Value(AttributeValue::Null)
        }
    }
}

fn check_arity(r: &mut Resolver<'_, '_>, name: &str, want: usize, got: usize) -> bool {
    if want == got {
        return true;
    }
    r.diag.report(
        Cat::OperandCount,
        ExprError::OperandCount {
            kind: r.kind,
            function: name.to_string(),
            count: got,
        },
    );
    false
}

fn operand_type_error(r: &mut Resolver<'_, '_>, function: &str, operand_type: &str) {
    r.diag.report(
        Cat::Function,
        ExprError::OperandType {
            kind: r.kind,
            function: function.to_string(),
            operand_type: operand_type.to_string(),
        },
    );
}

fn requires_path(r: &mut Resolver<'_, '_>, function: &str, op: Operand) -> AttributePath {
    match op {
        Operand::Path(p) => p,
        _ => {
            r.diag.report(
                Cat::Function,
                ExprError::RequiresPath {
                    kind: r.kind,
                    function: function.to_string(),
                },
            );
            AttributePath::new("")
        }
    }
}

fn size_call(r: &mut Resolver<'_, '_>, call: &RawCall) -> Operand {
    let args: Vec<Operand> = call.args.iter().map(|a| operand(r, a)).collect();
    if !check_arity(r, "size", 1, args.len()) {
        return Operand::Value(AttributeValue::Null);
    }
    let mut args = args.into_iter();
    let Some(arg) = args.next() else {
        return Operand::Value(AttributeValue::Null);
    };
    if let Some(t @ ("N" | "BOOL" | "NULL")) = arg.static_type() {
        operand_type_error(r, "size", t);
    }
    Operand::Size(Box::new(arg))
}

/// A function call in condition position.
fn condition_call(r: &mut Resolver<'_, '_>, call: &RawCall) -> Condition {
    let name = call.name.as_str();
    if name == "size" {
        size_call(r, call);
        r.diag.report(
            Cat::Misused,
            ExprError::FunctionMisused {
                kind: r.kind,
                function: "size".into(),
            },
        );
        return placeholder_condition();
    }
    let known = check_function_name(r, name);
    let args: Vec<Operand> = call.args.iter().map(|a| operand(r, a)).collect();
    let Some(arity) = condition_arity(name).filter(|_| known) else {
        return placeholder_condition();
    };
    if !check_arity(r, name, arity, args.len()) {
        return placeholder_condition();
    }
    let mut args = args.into_iter();
    let (Some(first), second) = (args.next(), args.next()) else {
        return placeholder_condition();
    };
    if let Some(second) = &second {
        check_distinct(r, name, &first, second);
    }
    match (name, second) {
        ("attribute_exists", None) => Condition::AttributeExists(requires_path(r, name, first)),
        ("attribute_not_exists", None) => {
            Condition::AttributeNotExists(requires_path(r, name, first))
        }
        ("attribute_type", Some(t)) => {
            let path = requires_path(r, name, first);
            let type_name = match &t {
                Operand::Value(AttributeValue::S(s)) => {
                    match TYPE_NAMES.iter().find(|n| **n == s.as_str()) {
                        Some(n) => n,
                        None => {
                            r.diag.report(
                                Cat::Function,
                                ExprError::InvalidTypeName {
                                    kind: r.kind,
                                    type_name: s.clone(),
                                },
                            );
                            "S"
                        }
                    }
                }
                other => {
                    let t = other
                        .static_type()
                        .unwrap_or("{NS,SS,L,BS,N,M,B,BOOL,NULL,S}");
                    operand_type_error(r, name, t);
                    "S"
                }
            };
            Condition::AttributeType { path, type_name }
        }
        ("begins_with", Some(prefix)) => {
            for op in [&first, &prefix] {
                if let Some(t) = op.static_type().filter(|t| *t != "S" && *t != "B") {
                    operand_type_error(r, name, t);
                }
            }
            Condition::BeginsWith {
                operand: first,
                prefix,
            }
        }
        ("contains", Some(value)) => Condition::Contains {
            operand: first,
            value,
        },
        _ => placeholder_condition(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn parse_with(expr: &str, values: &[(&str, AttributeValue)]) -> Result<Condition, ExprError> {
        let names = HashMap::from([("#a".to_string(), "a".to_string())]);
        let values: HashMap<String, AttributeValue> = values
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let mut s = Substitutions::new(&names, &values);
        parse(expr, ExprKind::Filter, &mut s)
    }

    #[test]
    fn structure() {
        let c = parse_with("a = :v", &[(":v", 1.into())]).unwrap();
        assert_eq!(
            c,
            Condition::Compare {
                op: Comparator::Eq,
                left: Operand::Path(AttributePath::new("a")),
                right: Operand::Value(1.into())
            }
        );
        let c = parse_with("size(#a.b) > :v", &[(":v", 1.into())]).unwrap();
        assert!(matches!(
            c,
            Condition::Compare {
                left: Operand::Size(_),
                ..
            }
        ));
    }

    #[test]
    fn misuse_messages() {
        let e = parse_with("size(a)", &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Invalid FilterExpression: The function is not allowed to be used this way in an expression; function: size"
        );
        let e = parse_with("a = if_not_exists(a, b)", &[]).unwrap_err();
        assert!(
            matches!(e, ExprError::FunctionNotAllowedInCondition { .. }),
            "{e}"
        );
    }
}
