//! ConditionExpression and FilterExpression: resolved AST, checks, evaluation.

use std::borrow::Cow;
use std::cmp::Ordering;

use crate::{AttributeValue, Item, echo};

use super::check;
use super::compare;
use super::error::{ExprError, ExprKind};
use super::parser::{self, Comparator, RawCall, RawCond, RawOperand};
use super::path::AttributePath;
use super::resolve::{CONDITION_ORDER, Cat, Resolver};
use super::subst::Substitutions;
use super::tree_drop::{Detach, drop_iteratively, take_if_deep};

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
///
/// `Drop` never recurses (a chain of 100,000 `Size`s drops fine); the derived `Clone`,
/// `PartialEq` and `Debug` do, so check a condition built in Rust with
/// [`Condition::check`] before copying or comparing it: a condition that passes has at
/// most 300 operators, hence at most 300 levels.
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
    pub(crate) fn static_type(&self) -> Option<&'static str> {
        match self {
            Operand::Path(_) => None,
            Operand::Value(v) => Some(v.type_name()),
            Operand::Size(_) => Some("N"),
        }
    }

    /// The operand's value in `item`. A chain of `size()`s is unwound with a loop.
    fn eval<'a>(&'a self, item: &'a Item) -> Option<Cow<'a, AttributeValue>> {
        let mut sizes = 0usize;
        let mut cur = self;
        while let Operand::Size(inner) = cur {
            sizes += 1;
            cur = inner;
        }
        let mut v = match cur {
            Operand::Path(p) => Cow::Borrowed(p.get(item)?),
            Operand::Value(v) => Cow::Borrowed(v),
            Operand::Size(_) => return None,
        };
        for _ in 0..sizes {
            v = Cow::Owned(compare::size(v.as_ref())?);
        }
        Some(v)
    }
}

impl Detach for Operand {
    fn has_children(&self) -> bool {
        matches!(self, Operand::Size(inner) if matches!(**inner, Operand::Size(_)))
    }

    fn detach_children(&mut self, out: &mut Vec<Operand>) {
        if let Operand::Size(inner) = self {
            take_if_deep(&mut **inner, || Operand::Value(AttributeValue::Null), out);
        }
    }
}

impl Drop for Operand {
    fn drop(&mut self) {
        drop_iteratively(self);
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
///
/// A condition built in Rust (rather than parsed) is checked by the same rules as an
/// expression string with [`Condition::check`]. Dropping and evaluating never recurse;
/// the derived `Clone`, `PartialEq` and `Debug` recurse once per level, which a
/// condition that passed [`Condition::check`] bounds (at most 300 operators).
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

impl Detach for Condition {
    fn has_children(&self) -> bool {
        matches!(
            self,
            Condition::Not(_) | Condition::And(..) | Condition::Or(..)
        )
    }

    fn detach_children(&mut self, out: &mut Vec<Condition>) {
        let leaf = || Condition::AttributeExists(AttributePath::empty());
        match self {
            Condition::Not(c) => take_if_deep(&mut **c, leaf, out),
            Condition::And(a, b) | Condition::Or(a, b) => {
                take_if_deep(&mut **a, leaf, out);
                take_if_deep(&mut **b, leaf, out);
            }
            _ => {}
        }
    }
}

impl Drop for Condition {
    fn drop(&mut self) {
        drop_iteratively(self);
    }
}

/// What is left to do while a condition is evaluated with an explicit stack.
enum EvalStep<'c> {
    Eval(&'c Condition),
    Negate,
    /// The right operand of an AND, evaluated only if the left one held.
    AndThen(&'c Condition),
    /// The right operand of an OR, evaluated only if the left one did not hold.
    OrElse(&'c Condition),
}

impl Condition {
    /// Checks a condition built in Rust by exactly the rules an expression string is
    /// checked by when parsed as `kind` ([`ExprKind::Condition`] or
    /// [`ExprKind::Filter`]): at most 300 operators and functions, at most 100 `IN`
    /// operands, document paths at most 32 levels deep with list indexes up to
    /// 2^31 - 1, no empty attribute name, valid values (no empty set, at most 32 levels),
    /// operand types of functions and ordering operators, BETWEEN bounds in order,
    /// distinct operands. The walk uses a heap stack, so any depth is rejected cleanly.
    ///
    /// ```
    /// use strata_item::expr::{AttributePath, Condition, ExprKind};
    ///
    /// let ok = Condition::Not(Box::new(Condition::AttributeExists(AttributePath::new("a"))));
    /// assert!(ok.check(ExprKind::Condition).is_ok());
    ///
    /// let mut deep = Condition::AttributeExists(AttributePath::new("a"));
    /// for _ in 0..10_000 {
    ///     deep = Condition::Not(Box::new(deep));
    /// }
    /// assert_eq!(
    ///     deep.check(ExprKind::Condition).unwrap_err().to_string(),
    ///     "Invalid ConditionExpression: The expression contains too many operators; operator count: 10001"
    /// );
    /// ```
    ///
    /// # Errors
    /// The error DynamoDB would report for the string form of the condition.
    pub fn check(&self, kind: ExprKind) -> Result<(), ExprError> {
        check::typed_condition(self, kind)
    }

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

    /// Evaluates the condition against an item (with a heap stack: any depth works).
    pub fn matches(&self, item: &Item) -> bool {
        let mut steps = vec![EvalStep::Eval(self)];
        let mut result = false;
        while let Some(step) = steps.pop() {
            match step {
                EvalStep::Eval(Condition::Not(c)) => {
                    steps.push(EvalStep::Negate);
                    steps.push(EvalStep::Eval(c));
                }
                EvalStep::Eval(Condition::And(a, b)) => {
                    steps.push(EvalStep::AndThen(b));
                    steps.push(EvalStep::Eval(a));
                }
                EvalStep::Eval(Condition::Or(a, b)) => {
                    steps.push(EvalStep::OrElse(b));
                    steps.push(EvalStep::Eval(a));
                }
                EvalStep::Eval(leaf) => result = leaf.leaf_matches(item),
                EvalStep::Negate => result = !result,
                EvalStep::AndThen(b) => {
                    if result {
                        steps.push(EvalStep::Eval(b));
                    }
                }
                EvalStep::OrElse(b) => {
                    if !result {
                        steps.push(EvalStep::Eval(b));
                    }
                }
            }
        }
        result
    }

    /// Evaluates a comparison, BETWEEN, IN or function (`false` for NOT/AND/OR, which
    /// [`matches`](Self::matches) handles).
    fn leaf_matches(&self, item: &Item) -> bool {
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
            Condition::Not(_) | Condition::And(..) | Condition::Or(..) => false,
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
    check::operators(&mut r.diag, kind, facts.operators);
    let cond = resolve_cond(&mut r, &raw);
    r.diag.finish(CONDITION_ORDER)?;
    Ok(cond)
}

/// A stand-in returned next to a reported error; never evaluated.
fn placeholder_condition() -> Condition {
    Condition::AttributeExists(AttributePath::empty())
}

/// What is left to do while a raw condition is resolved with an explicit stack.
enum ResolveStep<'a> {
    Visit(&'a RawCond),
    Not,
    And,
    Or,
}

/// Resolves a raw condition tree bottom-up with heap stacks (a 4 KB expression can hold
/// 1,000 `NOT`s, and the operator limit is reported only after resolving). Each leaf is
/// resolved and checked ([`check::leaf`]) in its own diagnostics scope, in source order.
pub(crate) fn resolve_cond(r: &mut Resolver<'_, '_>, raw: &RawCond) -> Condition {
    let mut steps = vec![ResolveStep::Visit(raw)];
    let mut done: Vec<Condition> = Vec::new();
    while let Some(step) = steps.pop() {
        match step {
            ResolveStep::Visit(RawCond::Not(c)) => {
                steps.push(ResolveStep::Not);
                steps.push(ResolveStep::Visit(c));
            }
            ResolveStep::Visit(RawCond::And(a, b)) => {
                steps.push(ResolveStep::And);
                steps.push(ResolveStep::Visit(b));
                steps.push(ResolveStep::Visit(a));
            }
            ResolveStep::Visit(RawCond::Or(a, b)) => {
                steps.push(ResolveStep::Or);
                steps.push(ResolveStep::Visit(b));
                steps.push(ResolveStep::Visit(a));
            }
            ResolveStep::Visit(leaf) => {
                let outer = std::mem::take(&mut r.diag);
                let cond = resolve_leaf(r, leaf);
                check::leaf(&mut r.diag, r.kind, &cond);
                let local = std::mem::replace(&mut r.diag, outer);
                r.diag.absorb_leaf(local);
                done.push(cond);
            }
            ResolveStep::Not => {
                let c = done.pop().unwrap_or_else(placeholder_condition);
                done.push(Condition::Not(Box::new(c)));
            }
            ResolveStep::And | ResolveStep::Or => {
                let b = done.pop().unwrap_or_else(placeholder_condition);
                let a = done.pop().unwrap_or_else(placeholder_condition);
                done.push(if matches!(step, ResolveStep::And) {
                    Condition::And(Box::new(a), Box::new(b))
                } else {
                    Condition::Or(Box::new(a), Box::new(b))
                });
            }
        }
    }
    done.pop().unwrap_or_else(placeholder_condition)
}

/// Resolves one leaf's placeholders and function shape; its remaining rules are
/// [`check::leaf`]'s.
fn resolve_leaf(r: &mut Resolver<'_, '_>, raw: &RawCond) -> Condition {
    match raw {
        RawCond::Compare(op, a, b) => {
            let left = operand(r, a);
            let right = operand(r, b);
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
            Condition::Between {
                operand: operand_,
                low,
                high,
            }
        }
        RawCond::In(a, list) => {
            let operand_ = operand(r, a);
            let list: Vec<Operand> = list.iter().map(|o| operand(r, o)).collect();
            Condition::In {
                operand: operand_,
                list,
            }
        }
        RawCond::Call(call) => condition_call(r, call),
        // Not leaves; `resolve_cond` handles them.
        RawCond::Not(_) | RawCond::And(..) | RawCond::Or(..) => placeholder_condition(),
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
            function: echo::owned(name),
        }
    } else {
        ExprError::InvalidFunction {
            kind: r.kind,
            function: echo::owned(name),
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
                    function: echo::owned(&call.name),
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
            function: echo::owned(name),
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

fn requires_path(r: &mut Resolver<'_, '_>, function: &str, mut op: Operand) -> AttributePath {
    if let Operand::Path(p) = &mut op {
        return std::mem::replace(p, AttributePath::empty());
    }
    r.diag.report(
        Cat::Function,
        ExprError::RequiresPath {
            kind: r.kind,
            function: function.to_string(),
        },
    );
    AttributePath::empty()
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
    // Checked here too (not only with the leaf) because a misused `size()` (say, in
    // `attribute_exists(size(:n))`) leaves no `Size` in the resolved leaf.
    check::size_arg(&mut r.diag, r.kind, &arg);
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
    // begins_with and contains are checked with the leaf ([`check::leaf`]); only the
    // string form can give attribute_type a path where its type name goes.
    if let (Some(second), "attribute_type") = (&second, name) {
        check::distinct(&mut r.diag, r.kind, name, &first, second);
    }
    match (name, second) {
        ("attribute_exists", None) => Condition::AttributeExists(requires_path(r, name, first)),
        ("attribute_not_exists", None) => {
            Condition::AttributeNotExists(requires_path(r, name, first))
        }
        ("attribute_type", Some(t)) => {
            let path = requires_path(r, name, first);
            let type_name = match &t {
                Operand::Value(AttributeValue::S(s)) => check::type_name(&mut r.diag, r.kind, s),
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
        ("begins_with", Some(prefix)) => Condition::BeginsWith {
            operand: first,
            prefix,
        },
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
