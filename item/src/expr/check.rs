//! The rules an expression must follow, each written once and applied to both ways in:
//! expressions parsed from strings (through [`super::resolve::Resolver`]) and
//! expressions built in Rust (the typed inputs: [`Condition::check`],
//! [`super::KeyCondition::check`], [`super::Projection::check`]).
//!
//! Every check reports to a [`Diag`] under the category DynamoDB ranks it in, so that a
//! typed expression and its string form report the same problem first.
//!
//! None of these functions recurses: trees are walked with explicit stacks, and values
//! are checked with [`crate::validate::validate_value`], whose recursion stops at
//! DynamoDB's 32 levels.

use std::cmp::Ordering;

use crate::validate::{ValidationError, validate_value};
use crate::{AttributeValue, echo};

use super::compare;
use super::condition::{Condition, MAX_IN_OPERANDS, Operand, TYPE_NAMES};
use super::error::{ExprError, ExprKind};
use super::parser::Comparator;
use super::path::{AttributePath, MAX_PATH_DEPTH, PathElement, check_paths};
use super::resolve::{Cat, Diag};

/// The largest list index DynamoDB accepts in a path.
pub(crate) const MAX_LIST_INDEX: u32 = i32::MAX as u32;

/// An ExpressionAttributeNames entry: the name it stands for must not be empty.
pub(crate) fn name_entry(key: &str, name: &str) -> Result<(), ExprError> {
    if name.is_empty() {
        return Err(ExprError::EmptyNameValue {
            key: echo::owned(key),
        });
    }
    Ok(())
}

/// An ExpressionAttributeValues entry: a valid attribute value (no empty set, at most 32
/// levels deep). Checked before the value is copied anywhere.
pub(crate) fn value_entry(key: &str, v: &AttributeValue) -> Result<(), ExprError> {
    match value_problem(v) {
        None => Ok(()),
        Some(reason) => Err(ExprError::InvalidValue {
            key: echo::owned(key),
            reason,
        }),
    }
}

/// A value written into an expression built in Rust.
pub(crate) fn typed_value(kind: ExprKind, v: &AttributeValue) -> Result<(), ExprError> {
    match value_problem(v) {
        None => Ok(()),
        Some(reason) => Err(ExprError::InvalidOperandValue { kind, reason }),
    }
}

/// What is wrong with a value given to an expression, in DynamoDB's words.
fn value_problem(v: &AttributeValue) -> Option<String> {
    match validate_value(v) {
        Ok(()) => None,
        // DynamoDB's message has "An string set" and two spaces before "may".
        Err(ValidationError::EmptySet { kind, .. }) => Some(format!(
            "One or more parameter values were invalid: An {kind} set  may not be empty"
        )),
        Err(ValidationError::TooDeep { .. }) => Some(
            "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit"
                .to_string(),
        ),
        Err(e) => Some(e.to_string()),
    }
}

/// A document path: at most [`MAX_PATH_DEPTH`] elements, list indexes within DynamoDB's
/// range, no empty attribute name.
pub(crate) fn path(diag: &mut Diag, kind: ExprKind, p: &AttributePath) {
    for e in p.elements() {
        match e {
            PathElement::Name(n) if n.is_empty() => {
                diag.report(Cat::Request, ExprError::EmptyPathName { kind });
            }
            PathElement::Index(i) if *i > MAX_LIST_INDEX => diag.report(
                Cat::Limits,
                ExprError::ListIndexOutOfRange {
                    kind,
                    index: i.to_string(),
                },
            ),
            _ => {}
        }
    }
    if p.depth() > MAX_PATH_DEPTH {
        diag.report(
            Cat::Limits,
            ExprError::PathTooDeep {
                kind,
                depth: p.depth(),
            },
        );
    }
}

/// At most [`super::MAX_OPERATORS`] operators and functions.
pub(crate) fn operators(diag: &mut Diag, kind: ExprKind, count: usize) {
    if count > super::MAX_OPERATORS {
        diag.report(Cat::Limits, ExprError::TooManyOperators { kind, count });
    }
}

/// A type name of `attribute_type`: one of [`TYPE_NAMES`]. Returns the name as the
/// static string the resolved condition holds (`"S"` as a stand-in after an error).
pub(crate) fn type_name(diag: &mut Diag, kind: ExprKind, name: &str) -> &'static str {
    match TYPE_NAMES.iter().find(|n| **n == name) {
        Some(n) => n,
        None => {
            diag.report(
                Cat::Function,
                ExprError::InvalidTypeName {
                    kind,
                    type_name: echo::owned(name),
                },
            );
            "S"
        }
    }
}

fn operand_type_error(diag: &mut Diag, kind: ExprKind, function: &str, operand_type: &str) {
    diag.report(
        Cat::Function,
        ExprError::OperandType {
            kind,
            function: function.to_string(),
            operand_type: operand_type.to_string(),
        },
    );
}

/// One operand: a literal value must be valid; `size()` takes no literal number,
/// boolean or null. Walks a chain of `size(size(...))` without recursion.
fn operand(diag: &mut Diag, kind: ExprKind, o: &Operand) {
    let mut cur = o;
    loop {
        match cur {
            Operand::Path(_) => return,
            Operand::Value(v) => {
                if let Err(e) = typed_value(kind, v) {
                    diag.report(Cat::Request, e);
                }
                return;
            }
            Operand::Size(inner) => {
                size_arg(diag, kind, inner);
                cur = inner;
            }
        }
    }
}

/// The operand of `size()`: not a literal number, boolean or null.
pub(crate) fn size_arg(diag: &mut Diag, kind: ExprKind, arg: &Operand) {
    if let Some(t @ ("N" | "BOOL" | "NULL")) = arg.static_type() {
        operand_type_error(diag, kind, "size", t);
    }
}

/// Ordering operators need strings, numbers or binaries: a literal of another type is
/// an error.
fn orderable(diag: &mut Diag, kind: ExprKind, operator: &str, operands: &[&Operand]) {
    for o in operands {
        if let Some(t) = o.static_type().filter(|t| !matches!(*t, "S" | "N" | "B")) {
            operand_type_error(diag, kind, operator, t);
        }
    }
}

/// The two operands of a comparison or function must not be the same path.
pub(crate) fn distinct(diag: &mut Diag, kind: ExprKind, operator: &str, a: &Operand, b: &Operand) {
    if let (Operand::Path(x), Operand::Path(y)) = (a, b)
        && x == y
    {
        diag.report(
            Cat::Distinct,
            ExprError::NotDistinct {
                kind,
                operator: operator.to_string(),
                path: x.dynamo_format(),
            },
        );
    }
}

/// Literal BETWEEN bounds: the same type, low ≤ high.
fn between_bounds(diag: &mut Diag, kind: ExprKind, low: &Operand, high: &Operand) {
    let (Operand::Value(l), Operand::Value(h)) = (low, high) else {
        return;
    };
    if diag.has(Cat::UndefinedValue) || diag.has(Cat::Request) {
        return;
    }
    if l.type_name() != h.type_name() {
        diag.report(
            Cat::Function,
            ExprError::BetweenTypes {
                kind,
                lower: compare::format_value(l),
                upper: compare::format_value(h),
            },
        );
    } else if compare::order(l, h) == Some(Ordering::Greater) {
        diag.report(
            Cat::Function,
            ExprError::BetweenOrder {
                kind,
                lower: compare::format_value(l),
                upper: compare::format_value(h),
            },
        );
    }
}

/// The rules of one leaf condition (comparison, BETWEEN, IN or function), after its
/// placeholders are resolved. Paths are checked separately ([`path`]), where they are
/// resolved.
pub(crate) fn leaf(diag: &mut Diag, kind: ExprKind, c: &Condition) {
    match c {
        Condition::Compare { op, left, right } => {
            operand(diag, kind, left);
            operand(diag, kind, right);
            distinct(diag, kind, op.symbol(), left, right);
            if !matches!(op, Comparator::Eq | Comparator::Ne) {
                orderable(diag, kind, op.symbol(), &[left, right]);
            }
        }
        Condition::Between {
            operand: o,
            low,
            high,
        } => {
            for x in [o, low, high] {
                operand(diag, kind, x);
            }
            orderable(diag, kind, "BETWEEN", &[o, low, high]);
            between_bounds(diag, kind, low, high);
        }
        Condition::In { operand: o, list } => {
            operand(diag, kind, o);
            for x in list {
                operand(diag, kind, x);
            }
            if list.len() > MAX_IN_OPERANDS {
                diag.report(
                    Cat::Limits,
                    ExprError::TooManyInOperands {
                        kind,
                        count: list.len(),
                    },
                );
            }
        }
        Condition::AttributeType { type_name: t, .. } => {
            type_name(diag, kind, t);
        }
        Condition::BeginsWith { operand: o, prefix } => {
            operand(diag, kind, o);
            operand(diag, kind, prefix);
            distinct(diag, kind, "begins_with", o, prefix);
            for x in [o, prefix] {
                if let Some(t) = x.static_type().filter(|t| *t != "S" && *t != "B") {
                    operand_type_error(diag, kind, "begins_with", t);
                }
            }
        }
        Condition::Contains { operand: o, value } => {
            operand(diag, kind, o);
            operand(diag, kind, value);
            distinct(diag, kind, "contains", o, value);
        }
        Condition::AttributeExists(_)
        | Condition::AttributeNotExists(_)
        | Condition::Not(_)
        | Condition::And(..)
        | Condition::Or(..) => {}
    }
}

/// The paths a leaf condition reads (through `size()` chains), in source order.
pub(crate) fn leaf_paths(c: &Condition) -> Vec<&AttributePath> {
    fn operand_path(o: &Operand) -> Option<&AttributePath> {
        let mut cur = o;
        loop {
            match cur {
                Operand::Path(p) => return Some(p),
                Operand::Value(_) => return None,
                Operand::Size(inner) => cur = inner,
            }
        }
    }
    let operands: Vec<&Operand> = match c {
        Condition::Compare { left, right, .. } => vec![left, right],
        Condition::Between {
            operand: o,
            low,
            high,
        } => vec![o, low, high],
        Condition::In { operand: o, list } => std::iter::once(o).chain(list).collect(),
        Condition::BeginsWith { operand: o, prefix } => vec![o, prefix],
        Condition::Contains { operand: o, value } => vec![o, value],
        Condition::AttributeExists(p)
        | Condition::AttributeNotExists(p)
        | Condition::AttributeType { path: p, .. } => return vec![p],
        Condition::Not(_) | Condition::And(..) | Condition::Or(..) => Vec::new(),
    };
    operands.into_iter().filter_map(operand_path).collect()
}

/// How many `size()` calls a leaf's operands hold (each counts as a function).
fn size_calls(c: &Condition) -> usize {
    let count = |o: &Operand| {
        let mut n = 0;
        let mut cur = o;
        while let Operand::Size(inner) = cur {
            n += 1;
            cur = inner;
        }
        n
    };
    match c {
        Condition::Compare { left, right, .. } => count(left) + count(right),
        Condition::Between {
            operand: o,
            low,
            high,
        } => count(o) + count(low) + count(high),
        Condition::In { operand: o, list } => count(o) + list.iter().map(count).sum::<usize>(),
        Condition::BeginsWith { operand: o, prefix } => count(o) + count(prefix),
        Condition::Contains { operand: o, value } => count(o) + count(value),
        _ => 0,
    }
}

/// Checks a condition built in Rust by the rules its string form would be checked by;
/// see [`Condition::check`].
pub(crate) fn typed_condition(c: &Condition, kind: ExprKind) -> Result<(), ExprError> {
    let mut diag = Diag::default();
    // The operator count first, as the string path reports it (from the parser) before
    // resolving any leaf. Every node is one operator or function, as the parser counts.
    let mut operators_seen = 0usize;
    let mut stack = vec![c];
    while let Some(c) = stack.pop() {
        operators_seen += 1;
        match c {
            Condition::Not(x) => stack.push(x),
            Condition::And(a, b) | Condition::Or(a, b) => {
                stack.push(b);
                stack.push(a);
            }
            leaf_cond => operators_seen += size_calls(leaf_cond),
        }
    }
    operators(&mut diag, kind, operators_seen);
    // Then the leaves in source order (the right operand of AND/OR is pushed first).
    stack.push(c);
    while let Some(c) = stack.pop() {
        match c {
            Condition::Not(x) => stack.push(x),
            Condition::And(a, b) | Condition::Or(a, b) => {
                stack.push(b);
                stack.push(a);
            }
            leaf_cond => {
                let mut local = Diag::default();
                for p in leaf_paths(leaf_cond) {
                    path(&mut local, kind, p);
                }
                leaf(&mut local, kind, leaf_cond);
                diag.absorb_leaf(local);
            }
        }
    }
    diag.finish(super::resolve::CONDITION_ORDER)
}

/// The paths of a projection: none overlapping or conflicting (each path's own rules
/// are checked by [`path`]).
pub(crate) fn projection_paths(diag: &mut Diag, paths: &[&AttributePath]) {
    if let Err(e) = check_paths(paths, ExprKind::Projection) {
        diag.report(Cat::PathClash, e);
    }
}
