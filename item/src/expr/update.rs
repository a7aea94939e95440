//! UpdateExpression: SET, REMOVE, ADD and DELETE clauses, checked and applied.

use std::collections::BTreeSet;

use crate::{AttributeValue, Item, echo};

use super::condition::{condition_arity, update_arity};
use super::error::{ExprError, ExprKind};
use super::parser::{self, ArithOp, RawOperand, RawSection, SectionKind};
use super::path::{AttributePath, check_paths};
use super::projection::PathTree;
use super::resolve::{Cat, Resolver, UPDATE_ORDER};
use super::subst::Substitutions;
use super::tree_drop::{Detach, drop_iteratively, take_if_deep};

/// An operand on the right of `SET path =`.
///
/// Only the parser puts operands into an [`Update`] (its nesting is bounded by the
/// expression's 4 KB, 300 operators and 64 levels of parentheses and calls). One built by
/// hand still drops without recursion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateOperand {
    /// The current value at a path (it must exist).
    Path(AttributePath),
    /// A value from ExpressionAttributeValues.
    Value(AttributeValue),
    /// `if_not_exists(path, default)`.
    IfNotExists(AttributePath, Box<UpdateOperand>),
    /// `list_append(a, b)`.
    ListAppend(Box<UpdateOperand>, Box<UpdateOperand>),
}

impl Detach for UpdateOperand {
    fn has_children(&self) -> bool {
        matches!(
            self,
            UpdateOperand::IfNotExists(..) | UpdateOperand::ListAppend(..)
        )
    }

    fn detach_children(&mut self, out: &mut Vec<UpdateOperand>) {
        let leaf = || UpdateOperand::Value(AttributeValue::Null);
        match self {
            UpdateOperand::IfNotExists(_, b) => take_if_deep(&mut **b, leaf, out),
            UpdateOperand::ListAppend(a, b) => {
                take_if_deep(&mut **a, leaf, out);
                take_if_deep(&mut **b, leaf, out);
            }
            _ => {}
        }
    }
}

impl Drop for UpdateOperand {
    fn drop(&mut self) {
        drop_iteratively(self);
    }
}

/// The value of a SET action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetValue {
    /// A single operand.
    Operand(UpdateOperand),
    /// `a + b` (numbers).
    Plus(UpdateOperand, UpdateOperand),
    /// `a - b` (numbers).
    Minus(UpdateOperand, UpdateOperand),
}

/// One action of an update expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateAction {
    /// `SET path = value`.
    Set {
        /// Target.
        path: AttributePath,
        /// New value.
        value: SetValue,
    },
    /// `REMOVE path`.
    Remove {
        /// Target.
        path: AttributePath,
    },
    /// `ADD path :value` (number addition or set union).
    Add {
        /// Target.
        path: AttributePath,
        /// A number or a set.
        value: AttributeValue,
    },
    /// `DELETE path :value` (set difference).
    Delete {
        /// Target.
        path: AttributePath,
        /// A set.
        value: AttributeValue,
    },
}

impl UpdateAction {
    /// The path the action writes.
    pub fn path(&self) -> &AttributePath {
        match self {
            UpdateAction::Set { path, .. }
            | UpdateAction::Remove { path }
            | UpdateAction::Add { path, .. }
            | UpdateAction::Delete { path, .. } => path,
        }
    }
}

/// A parsed UpdateExpression.
///
/// ```
/// use std::collections::HashMap;
/// use strata_item::{AttributeValue, Item};
/// use strata_item::expr::parse_update;
///
/// let values = HashMap::from([
///     (":one".to_string(), AttributeValue::from(1)),
///     (":zero".to_string(), AttributeValue::from(0)),
///     (":t".to_string(), AttributeValue::string_set(["new"])),
/// ]);
/// let update = parse_update(
///     "SET hits = if_not_exists(hits, :zero) + :one ADD tags :t REMOVE draft",
///     &HashMap::new(),
///     &values,
/// )?;
/// let old = Item::builder().attr("pk", "a").attr("draft", true).build();
/// let out = update.apply(&old)?;
/// assert_eq!(out.item.get("hits"), Some(&AttributeValue::from(1)));
/// assert_eq!(out.item.get("tags"), Some(&AttributeValue::string_set(["new"])));
/// assert!(out.item.get("draft").is_none());
/// // What ReturnValues=UPDATED_OLD / UPDATED_NEW return:
/// assert_eq!(out.updated_old.len(), 1); // draft
/// assert_eq!(out.updated_new.len(), 2); // hits, tags
/// # Ok::<(), strata_item::expr::ExprError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    actions: Vec<UpdateAction>,
}

/// A top-level attribute an update touched, with its values before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedAttribute {
    /// The attribute's name.
    pub name: String,
    /// Its value before the update (`None`: absent).
    pub old: Option<AttributeValue>,
    /// Its value after the update (`None`: absent).
    pub new: Option<AttributeValue>,
}

/// The result of applying an update to an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateOutcome {
    /// The whole item after the update.
    pub item: Item,
    /// The updated paths as they were before (ReturnValues `UPDATED_OLD`): nested
    /// updates give partial maps and lists, as in DynamoDB.
    pub updated_old: Item,
    /// The updated paths as they are after (ReturnValues `UPDATED_NEW`).
    pub updated_new: Item,
    /// Every top-level attribute an action named and that exists before or after
    /// the update, in name order, with its whole old and new values.
    pub changed: Vec<ChangedAttribute>,
}

/// The two operations an update finally performs on the item.
enum Write {
    Put(AttributePath, AttributeValue),
    Remove(AttributePath),
}

impl Update {
    /// The actions in expression order.
    pub fn actions(&self) -> &[UpdateAction] {
        &self.actions
    }

    /// Every path the update writes.
    pub fn paths(&self) -> impl Iterator<Item = &AttributePath> {
        self.actions.iter().map(UpdateAction::path)
    }

    /// The top-level attributes the update writes (to refuse updates of key
    /// attributes: "Cannot update attribute pk. This attribute is part of the key").
    pub fn top_level_names(&self) -> BTreeSet<&str> {
        self.paths().map(AttributePath::top_level_name).collect()
    }

    /// Applies the update to `item` (pass an item holding just the key when the
    /// item does not exist yet). Every operand is read from the item as it was
    /// before the update, as in DynamoDB.
    ///
    /// # Errors
    /// - [`ExprError::MissingAttribute`]: a SET operand reads an absent attribute.
    /// - [`ExprError::IncorrectOperandType`]: `+`/`-` on non-numbers, `list_append`
    ///   on non-lists, ADD/DELETE on an attribute of another type.
    /// - [`ExprError::InvalidUpdatePath`]: a nested target whose parent is absent or
    ///   of the wrong type.
    /// - [`ExprError::Number`]: arithmetic out of DynamoDB's number range.
    pub fn apply(&self, item: &Item) -> Result<UpdateOutcome, ExprError> {
        let mut writes = Vec::with_capacity(self.actions.len());
        for action in &self.actions {
            match action {
                UpdateAction::Set { path, value } => {
                    writes.push(Write::Put(path.clone(), eval_set_value(value, item)?));
                }
                UpdateAction::Remove { path } => writes.push(Write::Remove(path.clone())),
                UpdateAction::Add { path, value } => {
                    let new = match path.get(item) {
                        None => value.clone(),
                        Some(current) => add(current, value)?,
                    };
                    writes.push(Write::Put(path.clone(), new));
                }
                UpdateAction::Delete { path, value } => match path.get(item) {
                    None => {
                        if !path.can_set(item) {
                            return Err(ExprError::InvalidUpdatePath);
                        }
                    }
                    Some(current) => match delete(current, value)? {
                        Some(rest) => writes.push(Write::Put(path.clone(), rest)),
                        None => writes.push(Write::Remove(path.clone())),
                    },
                },
            }
        }

        // Puts in path order (so several appends past the end of one list land in
        // index order), then removals from the highest index down (so list
        // indexes keep naming the elements they named in the original item).
        let mut puts: Vec<(AttributePath, AttributeValue)> = Vec::new();
        let mut removes: Vec<AttributePath> = Vec::new();
        for w in writes {
            match w {
                Write::Put(p, v) => puts.push((p, v)),
                Write::Remove(p) => removes.push(p),
            }
        }
        puts.sort_by(|a, b| a.0.cmp(&b.0));
        removes.sort_by(|a, b| b.cmp(a));

        let mut new_item = item.clone();
        for (path, value) in puts {
            path.set(&mut new_item, value)?;
        }
        for path in removes {
            path.remove(&mut new_item)?;
        }

        let tree = PathTree::from_paths(self.paths());
        let changed = self
            .top_level_names()
            .into_iter()
            .map(|name| ChangedAttribute {
                name: name.to_string(),
                old: item.get(name).cloned(),
                new: new_item.get(name).cloned(),
            })
            .filter(|c| c.old.is_some() || c.new.is_some())
            .collect();
        Ok(UpdateOutcome {
            updated_old: tree.project(item),
            updated_new: tree.project(&new_item),
            item: new_item,
            changed,
        })
    }
}

fn eval_operand(op: &UpdateOperand, item: &Item) -> Result<AttributeValue, ExprError> {
    match op {
        UpdateOperand::Path(p) => p.get(item).cloned().ok_or(ExprError::MissingAttribute),
        UpdateOperand::Value(v) => Ok(v.clone()),
        UpdateOperand::IfNotExists(p, default) => match p.get(item) {
            Some(v) => Ok(v.clone()),
            None => eval_operand(default, item),
        },
        UpdateOperand::ListAppend(a, b) => {
            let (mut a, mut b) = (eval_operand(a, item)?, eval_operand(b, item)?);
            match (a.as_l_mut(), b.as_l_mut()) {
                (Some(x), Some(y)) => {
                    let mut x = std::mem::take(x);
                    x.append(y);
                    Ok(AttributeValue::L(x))
                }
                _ => Err(ExprError::IncorrectOperandType),
            }
        }
    }
}

fn number_error(e: crate::NumberError) -> ExprError {
    ExprError::Number {
        message: e.to_string(),
    }
}

fn eval_set_value(v: &SetValue, item: &Item) -> Result<AttributeValue, ExprError> {
    match v {
        SetValue::Operand(o) => eval_operand(o, item),
        SetValue::Plus(a, b) | SetValue::Minus(a, b) => {
            match (eval_operand(a, item)?, eval_operand(b, item)?) {
                (AttributeValue::N(x), AttributeValue::N(y)) => {
                    let r = if matches!(v, SetValue::Plus(..)) {
                        x.checked_add(&y)
                    } else {
                        x.checked_sub(&y)
                    };
                    r.map(AttributeValue::N).map_err(number_error)
                }
                _ => Err(ExprError::IncorrectOperandType),
            }
        }
    }
}

/// ADD: number addition or set union; the types must agree.
fn add(current: &AttributeValue, value: &AttributeValue) -> Result<AttributeValue, ExprError> {
    Ok(match (current, value) {
        (AttributeValue::N(a), AttributeValue::N(b)) => {
            AttributeValue::N(a.checked_add(b).map_err(number_error)?)
        }
        (AttributeValue::Ss(a), AttributeValue::Ss(b)) => {
            AttributeValue::Ss(a.union(b).cloned().collect())
        }
        (AttributeValue::Ns(a), AttributeValue::Ns(b)) => {
            AttributeValue::Ns(a.union(b).copied().collect())
        }
        (AttributeValue::Bs(a), AttributeValue::Bs(b)) => {
            AttributeValue::Bs(a.union(b).cloned().collect())
        }
        _ => return Err(ExprError::IncorrectOperandType),
    })
}

/// DELETE: set difference; `None` when nothing is left (the attribute goes away).
fn delete(
    current: &AttributeValue,
    value: &AttributeValue,
) -> Result<Option<AttributeValue>, ExprError> {
    let rest = match (current, value) {
        (AttributeValue::Ss(a), AttributeValue::Ss(b)) => {
            let d: BTreeSet<String> = a.difference(b).cloned().collect();
            (!d.is_empty()).then_some(AttributeValue::Ss(d))
        }
        (AttributeValue::Ns(a), AttributeValue::Ns(b)) => {
            let d: BTreeSet<crate::Number> = a.difference(b).copied().collect();
            (!d.is_empty()).then_some(AttributeValue::Ns(d))
        }
        (AttributeValue::Bs(a), AttributeValue::Bs(b)) => {
            let d: BTreeSet<Vec<u8>> = a.difference(b).cloned().collect();
            (!d.is_empty()).then_some(AttributeValue::Bs(d))
        }
        _ => return Err(ExprError::IncorrectOperandType),
    };
    Ok(rest)
}

/// DynamoDB's name for a type in ADD/DELETE operand errors (sets have none: they are valid).
fn long_type_name(v: &AttributeValue) -> Option<&'static str> {
    Some(match v {
        AttributeValue::S(_) => "STRING",
        AttributeValue::N(_) => "NUMBER",
        AttributeValue::B(_) => "BINARY",
        AttributeValue::Null => "NULL",
        AttributeValue::Bool(_) => "BOOLEAN",
        AttributeValue::L(_) => "LIST",
        AttributeValue::M(_) => "MAP",
        AttributeValue::Ss(_) | AttributeValue::Ns(_) | AttributeValue::Bs(_) => return None,
    })
}

pub(crate) fn parse(expr: &str, subs: &mut Substitutions<'_>) -> Result<Update, ExprError> {
    let (sections, facts) = parser::parse_update(expr)?;
    let kind = ExprKind::Update;
    let mut r = Resolver::new(subs, kind);
    if facts.redundant_parens {
        r.diag
            .report(Cat::Parens, ExprError::RedundantParentheses { kind });
    }
    super::check::operators(&mut r.diag, kind, facts.operators);

    let mut seen: Vec<SectionKind> = Vec::new();
    let mut actions = Vec::new();
    for section in &sections {
        let sk = section.kind();
        if seen.contains(&sk) {
            r.diag.report(
                Cat::Section,
                ExprError::DuplicateSection {
                    kind,
                    section: sk.keyword(),
                },
            );
        }
        seen.push(sk);
        match section {
            RawSection::Set(list) => {
                for (path, value) in list {
                    let path = r.path(path);
                    let value = set_value(&mut r, value);
                    actions.push(UpdateAction::Set { path, value });
                }
            }
            RawSection::Remove(list) => {
                for path in list {
                    actions.push(UpdateAction::Remove { path: r.path(path) });
                }
            }
            RawSection::Add(list) | RawSection::Delete(list) => {
                let is_add = sk == SectionKind::Add;
                for (path, placeholder) in list {
                    let path = r.path(path);
                    let defined = r.value_defined(placeholder);
                    let value = r.value(placeholder);
                    if defined
                        && let Some(t) = long_type_name(&value)
                        && !(is_add && t == "NUMBER")
                    {
                        r.diag.report(
                            Cat::ActionOperand,
                            ExprError::ActionOperandType {
                                kind,
                                operator: sk.keyword(),
                                operand_type: t,
                            },
                        );
                    }
                    actions.push(if is_add {
                        UpdateAction::Add { path, value }
                    } else {
                        UpdateAction::Delete { path, value }
                    });
                }
            }
        }
    }

    let paths: Vec<&AttributePath> = actions.iter().map(UpdateAction::path).collect();
    if let Err(e) = check_paths(&paths, kind) {
        r.diag.report(Cat::PathClash, e);
    }
    r.diag.finish(UPDATE_ORDER)?;
    Ok(Update { actions })
}

fn set_value(r: &mut Resolver<'_, '_>, raw: &RawOperand) -> SetValue {
    match raw {
        RawOperand::Arith(op, a, b) => {
            let symbol = match op {
                ArithOp::Plus => "+",
                ArithOp::Minus => "-",
            };
            let (a, ta) = operand(r, a);
            let (b, tb) = operand(r, b);
            for t in [ta, tb].into_iter().flatten() {
                if t != "N" {
                    r.diag.report(
                        Cat::Function,
                        ExprError::OperandType {
                            kind: r.kind,
                            function: symbol.to_string(),
                            operand_type: t.to_string(),
                        },
                    );
                }
            }
            match op {
                ArithOp::Plus => SetValue::Plus(a, b),
                ArithOp::Minus => SetValue::Minus(a, b),
            }
        }
        other => SetValue::Operand(operand(r, other).0),
    }
}

/// Resolves an update operand; also returns its type when it is a literal value
/// (DynamoDB type-checks only literal operands at parse time).
fn operand(r: &mut Resolver<'_, '_>, raw: &RawOperand) -> (UpdateOperand, Option<&'static str>) {
    match raw {
        RawOperand::Path(p) => (UpdateOperand::Path(r.path(p)), None),
        RawOperand::Value(v) => {
            let defined = r.value_defined(v);
            let value = r.value(v);
            let t = defined.then(|| value.type_name());
            (UpdateOperand::Value(value), t)
        }
        RawOperand::Call(call) => {
            let name = call.name.as_str();
            let args: Vec<(UpdateOperand, Option<&'static str>)> =
                call.args.iter().map(|a| operand(r, a)).collect();
            let stand_in = (UpdateOperand::Value(AttributeValue::Null), None);
            let Some(arity) = update_arity(name) else {
                let err = if condition_arity(name).is_some() {
                    ExprError::FunctionNotAllowedInUpdate {
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
                return stand_in;
            };
            if args.len() != arity {
                r.diag.report(
                    Cat::OperandCount,
                    ExprError::OperandCount {
                        kind: r.kind,
                        function: echo::owned(name),
                        count: args.len(),
                    },
                );
                return stand_in;
            }
            let mut args = args.into_iter();
            let (Some((mut a, ta)), Some((b, tb))) = (args.next(), args.next()) else {
                return stand_in;
            };
            if name == "if_not_exists" {
                let UpdateOperand::Path(p) = &mut a else {
                    r.diag.report(
                        Cat::Function,
                        ExprError::RequiresPath {
                            kind: r.kind,
                            function: echo::owned(name),
                        },
                    );
                    return stand_in;
                };
                // DynamoDB checks only literal operands at parse time; what a
                // function yields is checked when the update is applied.
                let p = std::mem::replace(p, AttributePath::empty());
                (UpdateOperand::IfNotExists(p, Box::new(b)), None)
            } else {
                for t in [ta, tb].into_iter().flatten() {
                    if t != "L" {
                        r.diag.report(
                            Cat::Function,
                            ExprError::OperandType {
                                kind: r.kind,
                                function: echo::owned(name),
                                operand_type: t.to_string(),
                            },
                        );
                    }
                }
                (UpdateOperand::ListAppend(Box::new(a), Box::new(b)), None)
            }
        }
        RawOperand::Arith(..) => {
            // The grammar only allows arithmetic at the top of a SET value.
            r.diag.report(
                Cat::Function,
                ExprError::FunctionMisused {
                    kind: r.kind,
                    function: "+".into(),
                },
            );
            (UpdateOperand::Value(AttributeValue::Null), None)
        }
    }
}
