//! KeyConditionExpression: equality on the partition key, optionally AND one
//! condition on the sort key.

use std::cmp::Ordering;

use crate::{AttributeValue, Item, echo};

use super::check;
use super::compare;
use super::condition::{self, Condition, Operand};
use super::error::{ExprError, ExprKind};
use super::parser::Comparator;
use super::path::AttributePath;
use super::subst::Substitutions;

/// The sort-key part of a key condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKeyCondition {
    /// `sk = v`
    Eq(AttributeValue),
    /// `sk < v`
    Lt(AttributeValue),
    /// `sk <= v`
    Le(AttributeValue),
    /// `sk > v`
    Gt(AttributeValue),
    /// `sk >= v`
    Ge(AttributeValue),
    /// `sk BETWEEN lo AND hi` (inclusive).
    Between(AttributeValue, AttributeValue),
    /// `begins_with(sk, prefix)`.
    BeginsWith(AttributeValue),
}

impl SortKeyCondition {
    /// Whether a sort-key value satisfies the condition (DynamoDB's ordering:
    /// numbers numerically, strings and binaries by unsigned bytes; a value of
    /// another type never matches).
    pub fn matches(&self, value: &AttributeValue) -> bool {
        let le = |a: &AttributeValue, b: &AttributeValue| {
            matches!(compare::order(a, b), Some(Ordering::Less | Ordering::Equal))
        };
        match self {
            SortKeyCondition::Eq(v) => compare::order(value, v) == Some(Ordering::Equal),
            SortKeyCondition::Lt(v) => compare::order(value, v) == Some(Ordering::Less),
            SortKeyCondition::Le(v) => le(value, v),
            SortKeyCondition::Gt(v) => compare::order(value, v) == Some(Ordering::Greater),
            SortKeyCondition::Ge(v) => le(v, value),
            SortKeyCondition::Between(lo, hi) => le(lo, value) && le(value, hi),
            SortKeyCondition::BeginsWith(p) => compare::begins_with(value, p),
        }
    }

    /// The values the condition compares the sort key with.
    pub fn values(&self) -> Vec<&AttributeValue> {
        match self {
            SortKeyCondition::Eq(v)
            | SortKeyCondition::Lt(v)
            | SortKeyCondition::Le(v)
            | SortKeyCondition::Gt(v)
            | SortKeyCondition::Ge(v)
            | SortKeyCondition::BeginsWith(v) => vec![v],
            SortKeyCondition::Between(lo, hi) => vec![lo, hi],
        }
    }
}

/// A parsed KeyConditionExpression.
///
/// ```
/// use std::collections::HashMap;
/// use strata_item::AttributeValue;
/// use strata_item::expr::{parse_key_condition, SortKeyCondition};
///
/// let values = HashMap::from([
///     (":pk".to_string(), AttributeValue::from("user#1")),
///     (":lo".to_string(), AttributeValue::from(10)),
///     (":hi".to_string(), AttributeValue::from(20)),
/// ]);
/// let kc = parse_key_condition(
///     "pk = :pk AND ts BETWEEN :lo AND :hi",
///     &HashMap::new(),
///     &values,
///     "pk",
///     Some("ts"),
/// )?;
/// assert_eq!(kc.partition, AttributeValue::from("user#1"));
/// assert_eq!(kc.sort, Some(SortKeyCondition::Between(10.into(), 20.into())));
///
/// let err = parse_key_condition("ts = :lo", &HashMap::new(), &values, "pk", Some("ts"))
///     .unwrap_err();
/// assert_eq!(err.to_string(), "Query condition missed key schema element: pk");
/// # Ok::<(), strata_item::expr::ExprError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCondition {
    /// The partition key's value.
    pub partition: AttributeValue,
    /// The condition on the sort key, if any.
    pub sort: Option<SortKeyCondition>,
}

impl KeyCondition {
    /// Checks a key condition built in Rust by the rules its string form
    /// (`pk = :p AND sk <op> :v`) is checked by: valid values (no empty set, at most 32
    /// levels), ordering comparisons and BETWEEN on strings, numbers or binaries only,
    /// BETWEEN bounds of one type and in order, `begins_with` on a string or binary.
    /// Whether the values have the key attributes' types is the table's check.
    ///
    /// ```
    /// use strata_item::expr::{KeyCondition, SortKeyCondition};
    ///
    /// let ok = KeyCondition { partition: "a".into(), sort: Some(SortKeyCondition::Between(1.into(), 2.into())) };
    /// assert!(ok.check().is_ok());
    /// let reversed = KeyCondition { partition: "a".into(), sort: Some(SortKeyCondition::Between(2.into(), 1.into())) };
    /// assert!(reversed.check().is_err());
    /// ```
    ///
    /// # Errors
    /// The error DynamoDB would report for the string form.
    pub fn check(&self) -> Result<(), ExprError> {
        let kind = ExprKind::KeyCondition;
        // The values first, before anything copies them.
        check::typed_value(kind, &self.partition)?;
        if let Some(sort) = &self.sort {
            for v in sort.values() {
                check::typed_value(kind, v)?;
            }
        }
        check::typed_condition(&self.as_condition(), kind)
    }

    /// The condition this key condition is the typed form of, with `pk` and `sk` standing
    /// for the key attributes.
    fn as_condition(&self) -> Condition {
        let sk = || Operand::Path(AttributePath::new("sk"));
        let value = |v: &AttributeValue| Operand::Value(v.clone());
        let cmp = |op, v: &AttributeValue| Condition::Compare {
            op,
            left: sk(),
            right: value(v),
        };
        let partition = Condition::Compare {
            op: Comparator::Eq,
            left: Operand::Path(AttributePath::new("pk")),
            right: value(&self.partition),
        };
        let sort = match &self.sort {
            None => return partition,
            Some(SortKeyCondition::Eq(v)) => cmp(Comparator::Eq, v),
            Some(SortKeyCondition::Lt(v)) => cmp(Comparator::Lt, v),
            Some(SortKeyCondition::Le(v)) => cmp(Comparator::Le, v),
            Some(SortKeyCondition::Gt(v)) => cmp(Comparator::Gt, v),
            Some(SortKeyCondition::Ge(v)) => cmp(Comparator::Ge, v),
            Some(SortKeyCondition::Between(lo, hi)) => Condition::Between {
                operand: sk(),
                low: value(lo),
                high: value(hi),
            },
            Some(SortKeyCondition::BeginsWith(p)) => Condition::BeginsWith {
                operand: sk(),
                prefix: value(p),
            },
        };
        Condition::And(Box::new(partition), Box::new(sort))
    }

    /// Whether an item satisfies the key condition, given the key attribute names.
    pub fn matches(&self, item: &Item, partition_key: &str, sort_key: Option<&str>) -> bool {
        if item.get(partition_key) != Some(&self.partition) {
            return false;
        }
        match (&self.sort, sort_key) {
            (None, _) => true,
            (Some(c), Some(sk)) => item.get(sk).is_some_and(|v| c.matches(v)),
            (Some(_), None) => false,
        }
    }
}

/// Name a condition leaf uses in "Invalid operator used in KeyConditionExpression".
fn invalid_operator(c: &Condition) -> Option<&'static str> {
    match c {
        Condition::Compare {
            op: Comparator::Ne, ..
        } => Some("<>"),
        Condition::In { .. } => Some("IN"),
        Condition::AttributeExists(_) => Some("attribute_exists"),
        Condition::AttributeNotExists(_) => Some("attribute_not_exists"),
        Condition::AttributeType { .. } => Some("attribute_type"),
        Condition::Contains { .. } => Some("contains"),
        Condition::Not(_) => Some("NOT"),
        Condition::Or(..) => Some("OR"),
        Condition::Compare { .. }
        | Condition::Between { .. }
        | Condition::BeginsWith { .. }
        | Condition::And(..) => None,
    }
}

/// The operands of the AND tree at the top of `c`, in source order (walked with a heap
/// stack).
fn flatten(c: &Condition) -> Vec<&Condition> {
    let mut out = Vec::new();
    let mut stack = vec![c];
    while let Some(c) = stack.pop() {
        match c {
            Condition::And(a, b) => {
                stack.push(b);
                stack.push(a);
            }
            other => out.push(other),
        }
    }
    out
}

fn first_invalid_operator(c: &Condition) -> Option<&'static str> {
    flatten(c).into_iter().find_map(invalid_operator)
}

/// One checked leaf: the key attribute it constrains and how.
struct Leaf {
    attribute: String,
    kind: LeafKind,
}

enum LeafKind {
    Cmp(Comparator, AttributeValue),
    Between(AttributeValue, AttributeValue),
    BeginsWith(AttributeValue),
}

fn check_leaf(c: &Condition) -> Result<Leaf, ExprError> {
    let operands: Vec<&Operand> = match c {
        Condition::Compare { left, right, .. } => vec![left, right],
        Condition::Between {
            operand, low, high, ..
        } => vec![operand, low, high],
        Condition::BeginsWith { operand, prefix } => vec![operand, prefix],
        _ => Vec::new(),
    };
    let op_name = match c {
        Condition::Between { .. } => Some("BETWEEN"),
        Condition::BeginsWith { .. } => Some("begins_with"),
        _ => None,
    };
    if let Some(op) = op_name
        && !matches!(operands.first(), Some(Operand::Path(_)))
    {
        return Err(ExprError::KeyConditionFirstOperand {
            operator: op.to_string(),
        });
    }
    let mut key: Option<&AttributePath> = None;
    for o in &operands {
        match o {
            Operand::Size(_) => return Err(ExprError::KeyConditionNested),
            Operand::Path(_) if key.is_some() => {
                return Err(ExprError::KeyConditionMultipleNames);
            }
            Operand::Path(p) if !p.is_top_level() => {
                return Err(ExprError::KeyConditionNestedAttribute);
            }
            Operand::Path(p) => key = Some(p),
            Operand::Value(_) => {}
        }
    }
    let Some(key) = key else {
        return Err(ExprError::KeyConditionNoKey);
    };
    let value = |o: &Operand| match o {
        Operand::Value(v) => v.clone(),
        // Unreachable: exactly one operand is a path and none is a function.
        _ => AttributeValue::Null,
    };
    let kind = match c {
        Condition::Compare { op, left, right } => match left {
            Operand::Path(_) => LeafKind::Cmp(*op, value(right)),
            _ => LeafKind::Cmp(op.flipped(), value(left)),
        },
        Condition::Between { low, high, .. } => LeafKind::Between(value(low), value(high)),
        Condition::BeginsWith { prefix, .. } => LeafKind::BeginsWith(value(prefix)),
        _ => return Err(ExprError::KeyConditionNotSupported),
    };
    Ok(Leaf {
        attribute: key.top_level_name().to_string(),
        kind,
    })
}

pub(crate) fn parse(
    expr: &str,
    partition_key: &str,
    sort_key: Option<&str>,
    subs: &mut Substitutions<'_>,
) -> Result<KeyCondition, ExprError> {
    let cond = condition::parse(expr, ExprKind::KeyCondition, subs)?;
    if let Some(op) = first_invalid_operator(&cond) {
        return Err(ExprError::KeyConditionOperator {
            operator: op.to_string(),
        });
    }
    let leaves = flatten(&cond)
        .into_iter()
        .map(check_leaf)
        .collect::<Result<Vec<_>, _>>()?;
    if leaves.len() > 2 {
        return Err(ExprError::KeyConditionRepeated);
    }
    let mut partition: Option<AttributeValue> = None;
    let mut sort: Option<SortKeyCondition> = None;
    let mut other_attribute = false;
    let mut pk_not_equality = false;
    for leaf in leaves {
        if leaf.attribute == partition_key {
            if partition.is_some() || pk_not_equality {
                return Err(ExprError::KeyConditionRepeated);
            }
            match leaf.kind {
                LeafKind::Cmp(Comparator::Eq, v) => partition = Some(v),
                _ => pk_not_equality = true,
            }
        } else if Some(leaf.attribute.as_str()) == sort_key {
            if sort.is_some() {
                return Err(ExprError::KeyConditionRepeated);
            }
            sort = Some(match leaf.kind {
                LeafKind::Cmp(op, v) => match op {
                    Comparator::Eq => SortKeyCondition::Eq(v),
                    Comparator::Lt => SortKeyCondition::Lt(v),
                    Comparator::Le => SortKeyCondition::Le(v),
                    Comparator::Gt => SortKeyCondition::Gt(v),
                    Comparator::Ge => SortKeyCondition::Ge(v),
                    Comparator::Ne => {
                        return Err(ExprError::KeyConditionOperator {
                            operator: "<>".into(),
                        });
                    }
                },
                LeafKind::Between(lo, hi) => SortKeyCondition::Between(lo, hi),
                LeafKind::BeginsWith(p) => SortKeyCondition::BeginsWith(p),
            });
        } else {
            other_attribute = true;
        }
    }
    if pk_not_equality || (other_attribute && (partition.is_some() || sort.is_some())) {
        return Err(ExprError::KeyConditionNotSupported);
    }
    match partition {
        Some(partition) => Ok(KeyCondition { partition, sort }),
        None => Err(ExprError::KeyConditionMissingKey {
            key: echo::owned(partition_key),
        }),
    }
}
