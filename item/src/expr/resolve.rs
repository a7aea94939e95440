//! Turning raw parse trees into resolved ones: placeholder substitution,
//! reserved words, path limits, and DynamoDB's order of error reporting.
//!
//! DynamoDB does not stop at the first semantic problem it sees; it checks the
//! whole expression and reports the problem of the highest-ranked category
//! (for a condition: redundant parentheses before an unknown function before a
//! reserved word before an undefined placeholder, ...). [`Diag`] keeps the first
//! error of each category and picks by rank at the end.

use crate::{AttributeValue, echo};

use super::check;
use super::error::{ExprError, ExprKind};
use super::parser::{RawElem, RawPath};
use super::path::{AttributePath, PathElement};
use super::reserved::is_reserved;
use super::subst::Substitutions;

/// Categories of semantic errors, for ranking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cat {
    /// Request parameters DynamoDB checks before parsing: ExpressionAttributeNames
    /// standing for empty names, ExpressionAttributeValues that are not valid values
    /// (and their counterparts in expressions built in Rust).
    Request,
    Parens,
    UnknownFunction,
    Misused,
    Reserved,
    Section,
    UndefinedName,
    UndefinedValue,
    PathClash,
    ActionOperand,
    OperandCount,
    /// Function argument errors: document path required, operand types, BETWEEN bounds.
    Function,
    Distinct,
    /// The first leaf condition (comparison, BETWEEN, IN, function) with an error
    /// among UndefinedName..Function: DynamoDB reports a condition's problems leaf
    /// by leaf in source order.
    Leaf,
    Limits,
}

/// Categories a condition reports leaf by leaf, ranked within one leaf.
pub(crate) const LEAF_ORDER: &[Cat] = &[
    Cat::UndefinedName,
    Cat::UndefinedValue,
    Cat::OperandCount,
    Cat::Distinct,
    Cat::Function,
];

/// Rank of categories for conditions, filters and key conditions.
pub(crate) const CONDITION_ORDER: &[Cat] = &[
    Cat::Request,
    Cat::Parens,
    Cat::UnknownFunction,
    Cat::Misused,
    Cat::Reserved,
    Cat::Leaf,
    Cat::Limits,
];

/// Rank of categories for update expressions.
pub(crate) const UPDATE_ORDER: &[Cat] = &[
    Cat::Request,
    Cat::Reserved,
    Cat::UnknownFunction,
    Cat::Section,
    Cat::UndefinedName,
    Cat::UndefinedValue,
    Cat::PathClash,
    Cat::ActionOperand,
    Cat::OperandCount,
    Cat::Function,
    Cat::Misused,
    Cat::Parens,
    Cat::Limits,
];

/// Rank of categories for projection expressions.
pub(crate) const PROJECTION_ORDER: &[Cat] = &[
    Cat::Request,
    Cat::Reserved,
    Cat::UndefinedName,
    Cat::PathClash,
    Cat::Limits,
];

/// First error seen per category.
#[derive(Debug, Default)]
pub(crate) struct Diag {
    errors: Vec<(Cat, ExprError)>,
}

impl Diag {
    pub(crate) fn report(&mut self, cat: Cat, err: ExprError) {
        if !self.errors.iter().any(|(c, _)| *c == cat) {
            self.errors.push((cat, err));
        }
    }

    pub(crate) fn has(&self, cat: Cat) -> bool {
        self.errors.iter().any(|(c, _)| *c == cat)
    }

    /// Merges the errors of one leaf condition: leaf categories become at most one
    /// [`Cat::Leaf`] error (the first leaf with any wins), the rest merge as usual.
    pub(crate) fn absorb_leaf(&mut self, local: Diag) {
        let mut best: Option<(usize, ExprError)> = None;
        for (cat, err) in local.errors {
            match LEAF_ORDER.iter().position(|c| *c == cat) {
                Some(rank) => {
                    if best.as_ref().is_none_or(|(b, _)| rank < *b) {
                        best = Some((rank, err));
                    }
                }
                None => self.report(cat, err),
            }
        }
        if let Some((_, err)) = best {
            self.report(Cat::Leaf, err);
        }
    }

    /// The highest-ranked error, if any.
    pub(crate) fn finish(mut self, order: &[Cat]) -> Result<(), ExprError> {
        if self.errors.is_empty() {
            return Ok(());
        }
        let rank = |c: &Cat| order.iter().position(|o| o == c).unwrap_or(order.len());
        self.errors.sort_by_key(|(c, _)| rank(c));
        match self.errors.into_iter().next() {
            Some((_, e)) => Err(e),
            None => Ok(()),
        }
    }
}

/// Substitution and checking shared by all expression kinds.
pub(crate) struct Resolver<'r, 'a> {
    pub(crate) subs: &'r mut Substitutions<'a>,
    pub(crate) kind: ExprKind,
    pub(crate) diag: Diag,
}

impl<'r, 'a> Resolver<'r, 'a> {
    pub(crate) fn new(subs: &'r mut Substitutions<'a>, kind: ExprKind) -> Resolver<'r, 'a> {
        Resolver {
            subs,
            kind,
            diag: Diag::default(),
        }
    }

    /// Resolves a path. Problems are reported to the diagnostics; the returned path
    /// then holds stand-ins and must not be used unless `diag` ends up empty.
    pub(crate) fn path(&mut self, raw: &RawPath) -> AttributePath {
        let mut elements = Vec::with_capacity(raw.elems.len());
        for e in &raw.elems {
            elements.push(match e {
                RawElem::Name(n) => {
                    if is_reserved(n) {
                        self.diag.report(
                            Cat::Reserved,
                            ExprError::ReservedKeyword {
                                kind: self.kind,
                                keyword: n.clone(),
                            },
                        );
                    }
                    PathElement::Name(n.clone())
                }
                RawElem::Placeholder(p) => match self.subs.name(p) {
                    Some(n) => {
                        if let Err(e) = check::name_entry(p, n) {
                            self.diag.report(Cat::Request, e);
                        }
                        PathElement::Name(n.to_string())
                    }
                    None => {
                        self.diag.report(
                            Cat::UndefinedName,
                            ExprError::UndefinedName {
                                kind: self.kind,
                                name: echo::owned(p),
                            },
                        );
                        PathElement::Name(p.clone())
                    }
                },
                // Indexes past DynamoDB's range are reported by `check::path`; here only
                // the ones that do not even fit a `u32`.
                RawElem::Index(digits) => match digits.parse::<u32>() {
                    Ok(i) => PathElement::Index(i),
                    Err(_) => {
                        self.diag.report(
                            Cat::Limits,
                            ExprError::ListIndexOutOfRange {
                                kind: self.kind,
                                index: echo::owned(digits),
                            },
                        );
                        PathElement::Index(0)
                    }
                },
            });
        }
        // The grammar always starts a path with a name; keep going with a stand-in.
        let path = AttributePath::from_elements(elements).unwrap_or_else(AttributePath::empty);
        check::path(&mut self.diag, self.kind, &path);
        path
    }

    /// Resolves `:placeholder`; a missing or invalid one is reported and stands in as
    /// NULL. The value is checked (no empty set, at most 32 levels) before it is copied.
    pub(crate) fn value(&mut self, placeholder: &str) -> AttributeValue {
        match self.subs.value(placeholder) {
            Some(v) => match check::value_entry(placeholder, v) {
                Ok(()) => v.clone(),
                Err(e) => {
                    self.diag.report(Cat::Request, e);
                    AttributeValue::Null
                }
            },
            None => {
                self.diag.report(
                    Cat::UndefinedValue,
                    ExprError::UndefinedValue {
                        kind: self.kind,
                        name: echo::owned(placeholder),
                    },
                );
                AttributeValue::Null
            }
        }
    }

    /// Whether `:placeholder` resolves (without marking anything).
    pub(crate) fn value_defined(&mut self, placeholder: &str) -> bool {
        self.subs.value(placeholder).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diag_ranks() {
        let mut d = Diag::default();
        d.report(Cat::Reserved, ExprError::KeyConditionNoKey);
        d.report(Cat::Parens, ExprError::KeyConditionNested);
        d.report(Cat::Parens, ExprError::KeyConditionRepeated);
        assert!(d.has(Cat::Parens));
        assert_eq!(
            d.finish(CONDITION_ORDER),
            Err(ExprError::KeyConditionNested)
        );
        let mut d = Diag::default();
        d.report(Cat::Parens, ExprError::KeyConditionNested);
        d.report(Cat::Reserved, ExprError::KeyConditionNoKey);
        assert_eq!(d.finish(UPDATE_ORDER), Err(ExprError::KeyConditionNoKey));
        assert_eq!(Diag::default().finish(UPDATE_ORDER), Ok(()));
    }
}
