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
            // Typed inputs are checked before they are copied: the derived `Clone` of a
            // condition recurses once per level, and a checked one has at most 301.
            KeyConditionInput::Typed(k) => {
                k.check()?;
                k.clone()
            }
        });
    }
    if let Some(u) = exprs.update {
        out.update = Some(match u {
            UpdateInput::Expression(s) => subs.parse_update(s)?,
            // Only the parser builds an `Update`: its values passed the depth check and
            // its operands nest at most 64 calls, so copying it cannot go deep.
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

/// The top-level attribute names a condition reads, in source order.
///
/// Walks the condition with a heap stack (no recursion), so any depth is safe; in
/// practice it runs on checked conditions only (at most 300 operators).
pub(crate) fn condition_names(c: &Condition, out: &mut Vec<String>) {
    use strata_item::expr::Operand;
    /// What is left to visit; pushed in reverse so that it pops in source order.
    enum Node<'a> {
        Cond(&'a Condition),
        Operand(&'a Operand),
    }
    let mut stack = vec![Node::Cond(c)];
    while let Some(node) = stack.pop() {
        let c = match node {
            Node::Operand(Operand::Path(p)) => {
                out.push(p.top_level_name().to_owned());
                continue;
            }
            Node::Operand(Operand::Value(_)) => continue,
            Node::Operand(Operand::Size(inner)) => {
                stack.push(Node::Operand(inner));
                continue;
            }
            Node::Cond(c) => c,
        };
        match c {
            Condition::Compare { left, right, .. } => {
                stack.extend([Node::Operand(right), Node::Operand(left)]);
            }
            Condition::Between { operand, low, high } => {
                stack.extend([
                    Node::Operand(high),
                    Node::Operand(low),
                    Node::Operand(operand),
                ]);
            }
            Condition::In { operand, list } => {
                stack.extend(list.iter().rev().map(Node::Operand));
                stack.push(Node::Operand(operand));
            }
            Condition::AttributeExists(p) | Condition::AttributeNotExists(p) => {
                out.push(p.top_level_name().to_owned());
            }
            Condition::AttributeType { path, .. } => out.push(path.top_level_name().to_owned()),
            Condition::BeginsWith { operand, prefix } => {
                stack.extend([Node::Operand(prefix), Node::Operand(operand)]);
            }
            Condition::Contains { operand, value } => {
                stack.extend([Node::Operand(value), Node::Operand(operand)]);
            }
            Condition::Not(c) => stack.push(Node::Cond(c)),
            Condition::And(a, b) | Condition::Or(a, b) => {
                stack.extend([Node::Cond(b), Node::Cond(a)]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use strata_item::expr::{AttributePath, Comparator, Operand, parse_condition};

    use super::*;

    fn names_of(c: &Condition) -> Vec<String> {
        let mut out = Vec::new();
        condition_names(c, &mut out);
        out
    }

    #[test]
    fn names_in_source_order() {
        let c = parse_condition(
            "(a < :v AND NOT b BETWEEN c AND d) OR size(e) IN (f, :v, g) OR begins_with(h, i) \
             AND contains(j, k) AND attribute_exists(l.m) AND attribute_type(n, :t)",
            &HashMap::new(),
            &HashMap::from([
                (":v".to_string(), AttributeValue::from(1)),
                (":t".to_string(), AttributeValue::from("S")),
            ]),
        )
        .unwrap();
        assert_eq!(
            names_of(&c),
            [
                "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "n"
            ]
        );
    }

    #[test]
    fn deep_conditions_are_walked_without_recursion() {
        let leaf = Condition::AttributeExists(AttributePath::new("x"));
        let mut c = leaf.clone();
        for i in 0..100_000 {
            c = if i % 2 == 0 {
                Condition::Not(Box::new(c))
            } else {
                Condition::And(Box::new(leaf.clone()), Box::new(c))
            };
        }
        let mut size = Operand::Path(AttributePath::new("y"));
        for _ in 0..100_000 {
            size = Operand::Size(Box::new(size));
        }
        let c = Condition::Or(
            Box::new(c),
            Box::new(Condition::Compare {
                op: Comparator::Eq,
                left: size,
                right: Operand::Value(AttributeValue::from(1)),
            }),
        );
        let names = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || names_of(&c))
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(names.len(), 50_002);
        assert_eq!(names.last().map(String::as_str), Some("y"));
        assert!(names[..50_001].iter().all(|n| n == "x"));
    }
}
