//! Parsing a request's expressions: every expression of one request shares one set of
//! placeholders, and DynamoDB rejects placeholders that none of them uses.

use std::collections::HashMap;

use strata_item::AttributeValue;
use strata_item::expr::{Condition, ExprKind, KeyCondition, Projection, Substitutions, Update};

use super::error::DbError;
use super::options::{ConditionInput, KeyConditionInput, ProjectionInput, UpdateInput};

/// The expressions of one request, as given.
#[derive(Debug, Default)]
pub(crate) struct Exprs<'a> {
    /// Key condition, with the key attribute names it is checked against.
    pub key_condition: Option<(&'a KeyConditionInput, &'a str, Option<&'a str>)>,
    pub condition: Option<&'a ConditionInput>,
    pub filter: Option<&'a ConditionInput>,
    pub update: Option<&'a UpdateInput>,
    pub projection: Option<&'a ProjectionInput>,
}

/// The expressions of one request, parsed.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub key_condition: Option<KeyCondition>,
    pub condition: Option<Condition>,
    pub filter: Option<Condition>,
    pub update: Option<Update>,
    pub projection: Option<Projection>,
}

/// Parses every expression of a request with its placeholders, then checks that every
/// placeholder was used.
pub(crate) fn parse(
    names: &HashMap<String, String>,
    values: &HashMap<String, AttributeValue>,
    exprs: Exprs<'_>,
) -> Result<Parsed, DbError> {
    let mut subs = Substitutions::from_options(
        (!names.is_empty()).then_some(names),
        (!values.is_empty()).then_some(values),
    );
    subs.validate_keys()?;
    let mut out = Parsed::default();
    if let Some((kc, pk, sk)) = exprs.key_condition {
        out.key_condition = Some(match kc {
            KeyConditionInput::Expression(s) => subs.parse_key_condition(s, pk, sk)?,
            KeyConditionInput::Typed(k) => {
                k.check()?;
                k.clone()
            }
        });
    }
    if let Some(u) = exprs.update {
        out.update = Some(match u {
            UpdateInput::Expression(s) => subs.parse_update(s)?,
            UpdateInput::Parsed(u) => u.clone(),
        });
    }
    if let Some(c) = exprs.condition {
        out.condition = Some(match c {
            ConditionInput::Expression(s) => subs.parse_condition(s)?,
            ConditionInput::Typed(c) => {
                c.check(ExprKind::Condition)?;
                c.clone()
            }
        });
    }
    if let Some(c) = exprs.filter {
        out.filter = Some(match c {
            ConditionInput::Expression(s) => subs.parse_filter(s)?,
            ConditionInput::Typed(c) => {
                c.check(ExprKind::Filter)?;
                c.clone()
            }
        });
    }
    if let Some(p) = exprs.projection {
        out.projection = Some(match p {
            ProjectionInput::Expression(s) => subs.parse_projection(s)?,
            ProjectionInput::Typed(p) => {
                p.check()?;
                p.clone()
            }
        });
    }
    subs.check_all_used()?;
    Ok(out)
}

/// The top-level attribute names a condition reads.
pub(crate) fn condition_names(c: &Condition, out: &mut Vec<String>) {
    use strata_item::expr::Operand;
    fn operand(o: &Operand, out: &mut Vec<String>) {
        match o {
            Operand::Path(p) => out.push(p.top_level_name().to_owned()),
            Operand::Value(_) => {}
            Operand::Size(inner) => operand(inner, out),
        }
    }
    match c {
        Condition::Compare { left, right, .. } => {
            operand(left, out);
            operand(right, out);
        }
        Condition::Between {
            operand: o,
            low,
            high,
        } => {
            operand(o, out);
            operand(low, out);
            operand(high, out);
        }
        Condition::In { operand: o, list } => {
            operand(o, out);
            for l in list {
                operand(l, out);
            }
        }
        Condition::AttributeExists(p) | Condition::AttributeNotExists(p) => {
            out.push(p.top_level_name().to_owned());
        }
        Condition::AttributeType { path, .. } => out.push(path.top_level_name().to_owned()),
        Condition::BeginsWith { operand: o, prefix } => {
            operand(o, out);
            operand(prefix, out);
        }
        Condition::Contains { operand: o, value } => {
            operand(o, out);
            operand(value, out);
        }
        Condition::Not(c) => condition_names(c, out),
        Condition::And(a, b) | Condition::Or(a, b) => {
            condition_names(a, out);
            condition_names(b, out);
        }
    }
}
