//! DynamoDB's legacy (pre-expression) parameters, translated into expressions:
//! `AttributesToGet` into a projection, `Expected` into a condition, `QueryFilter` /
//! `ScanFilter` into a filter, `KeyConditions` into a key condition and
//! `AttributeUpdates` into an update expression. Placeholders `#lgcN` / `:lgcN` carry
//! the names and values, so no reserved word or odd name needs escaping.

use std::collections::HashMap;

use serde_json::Value;
use strata_item::AttributeValue;

use crate::error::ApiError;
use crate::params::{Params, attribute_value};

/// Expression text being built, with its placeholders.
#[derive(Debug, Default)]
pub struct Legacy {
    /// `ExpressionAttributeNames` of the translation.
    pub names: HashMap<String, String>,
    /// `ExpressionAttributeValues` of the translation.
    pub values: HashMap<String, AttributeValue>,
    next: usize,
}

/// Fails when a request mixes legacy and expression parameters, with DynamoDB's
/// message.
pub fn check_not_mixed(p: &Params<'_>, legacy: &[&str], modern: &[&str]) -> Result<(), ApiError> {
    let used_legacy: Vec<&str> = legacy.iter().copied().filter(|n| p.has(n)).collect();
    let used_modern: Vec<&str> = modern.iter().copied().filter(|n| p.has(n)).collect();
    if !used_legacy.is_empty() && !used_modern.is_empty() {
        return Err(ApiError::validation(format!(
            "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {{{}}} Expression parameters: {{{}}}",
            used_legacy.join(", "),
            used_modern.join(", ")
        )));
    }
    Ok(())
}

impl Legacy {
    fn name(&mut self, attr: &str) -> String {
        let p = format!("#lgc{}", self.next);
        self.next += 1;
        self.names.insert(p.clone(), attr.to_owned());
        p
    }

    fn value(&mut self, v: AttributeValue) -> String {
        let p = format!(":lgc{}", self.next);
        self.next += 1;
        self.values.insert(p, v);
        format!(":lgc{}", self.next - 1)
    }

    /// `AttributesToGet` as a projection expression.
    pub fn projection(&mut self, attrs: &[&str]) -> Result<String, ApiError> {
        if attrs.is_empty() {
            return Err(ApiError::validation(
                "1 validation error detected: Value '[]' at 'attributesToGet' failed to satisfy constraint: Member must have length greater than or equal to 1",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        let mut parts = Vec::with_capacity(attrs.len());
        for a in attrs {
            if !seen.insert(*a) {
                return Err(ApiError::validation(format!(
                    "One or more parameter values were invalid: Duplicate value in attribute name: {a}"
                )));
            }
            parts.push(self.name(a));
        }
        Ok(parts.join(", "))
    }

    /// `Expected` (with `ConditionalOperator`) as a condition expression.
    pub fn expected(
        &mut self,
        expected: &serde_json::Map<String, Value>,
        operator: Option<&str>,
    ) -> Result<Option<String>, ApiError> {
        let mut parts = Vec::new();
        for (attr, v) in expected {
            let c = Params::root(v)?;
            let value = c.raw("Value").map(attribute_value).transpose()?;
            let exists = c.bool("Exists")?;
            let op = c.str("ComparisonOperator")?;
            let list = c.list("AttributeValueList")?;
            if let Some(op) = op {
                if value.is_some() && list.is_some() {
                    return Err(ApiError::validation(
                        "One or more parameter values were invalid: Value and AttributeValueList cannot be used together for Attribute: ".to_owned() + attr,
                    ));
                }
                if exists.is_some() {
                    return Err(ApiError::validation(format!(
                        "One or more parameter values were invalid: Exists and ComparisonOperator cannot be used together for Attribute: {attr}"
                    )));
                }
                let args = match (value, list) {
                    (Some(v), _) => vec![v],
                    (None, Some(l)) => l.iter().map(attribute_value).collect::<Result<_, _>>()?,
                    (None, None) => Vec::new(),
                };
                parts.push(self.comparison(attr, op, args)?);
                continue;
            }
            match (exists.unwrap_or(true), value) {
                (true, Some(v)) => {
                    let n = self.name(attr);
                    let val = self.value(v);
                    parts.push(format!("{n} = {val}"));
                }
                (true, None) => {
                    return Err(ApiError::validation(format!(
                        "One or more parameter values were invalid: Value must be provided when Exists is true for Attribute: {attr}"
                    )));
                }
                (false, Some(_)) => {
                    return Err(ApiError::validation(format!(
                        "One or more parameter values were invalid: Value cannot be used when Exists is false for Attribute: {attr}"
                    )));
                }
                (false, None) => {
                    let n = self.name(attr);
                    parts.push(format!("attribute_not_exists({n})"));
                }
            }
        }
        join(parts, operator)
    }

    /// `QueryFilter` / `ScanFilter` (with `ConditionalOperator`) as a filter expression.
    pub fn filter(
        &mut self,
        filter: &serde_json::Map<String, Value>,
        operator: Option<&str>,
    ) -> Result<Option<String>, ApiError> {
        let mut parts = Vec::new();
        for (attr, v) in filter {
            let c = Params::root(v)?;
            let op = c.req_str("ComparisonOperator", "comparisonOperator")?;
            let args = match c.list("AttributeValueList")? {
                Some(l) => l.iter().map(attribute_value).collect::<Result<_, _>>()?,
                None => Vec::new(),
            };
            parts.push(self.comparison(attr, op, args)?);
        }
        join(parts, operator)
    }

    /// `KeyConditions` as a key condition expression (hash key `EQ`; sort key `EQ`,
    /// `LE`, `LT`, `GE`, `GT`, `BEGINS_WITH` or `BETWEEN`).
    pub fn key_conditions(
        &mut self,
        conditions: &serde_json::Map<String, Value>,
    ) -> Result<String, ApiError> {
        let mut parts = Vec::new();
        for (attr, v) in conditions {
            let c = Params::root(v)?;
            let op = c.req_str("ComparisonOperator", "comparisonOperator")?;
            if !["EQ", "LE", "LT", "GE", "GT", "BEGINS_WITH", "BETWEEN"].contains(&op) {
                return Err(ApiError::validation(format!(
                    "Attempted conditional constraint is not an indexable operation: {op}"
                )));
            }
            let args = match c.list("AttributeValueList")? {
                Some(l) => l.iter().map(attribute_value).collect::<Result<_, _>>()?,
                None => Vec::new(),
            };
            parts.push(self.comparison(attr, op, args)?);
        }
        if parts.is_empty() {
            return Err(ApiError::validation(
                "Conditions can be of length 1 or 2 only",
            ));
        }
        Ok(parts.join(" AND "))
    }

    /// `AttributeUpdates` as an update expression.
    pub fn attribute_updates(
        &mut self,
        updates: &serde_json::Map<String, Value>,
    ) -> Result<Option<String>, ApiError> {
        let (mut set, mut add, mut delete, mut remove) = (vec![], vec![], vec![], vec![]);
        for (attr, v) in updates {
            let u = Params::root(v)?;
            let action = u
                .enum_str(
                    "Action",
                    "attributeUpdates.action",
                    &["ADD", "PUT", "DELETE"],
                )?
                .unwrap_or("PUT");
            let value = u.raw("Value").map(attribute_value).transpose()?;
            let n = self.name(attr);
            match (action, value) {
                ("PUT", Some(v)) => {
                    let val = self.value(v);
                    set.push(format!("{n} = {val}"));
                }
                ("PUT", None) => {
                    return Err(ApiError::validation(format!(
                        "One or more parameter values were invalid: Only DELETE action is allowed when no attribute value is specified: {attr}"
                    )));
                }
                ("ADD", Some(v)) => {
                    let val = self.value(v);
                    add.push(format!("{n} {val}"));
                }
                ("ADD", None) => {
                    return Err(ApiError::validation(format!(
                        "One or more parameter values were invalid: Only DELETE action is allowed when no attribute value is specified: {attr}"
                    )));
                }
                (_, Some(v)) => {
                    let val = self.value(v);
                    delete.push(format!("{n} {val}"));
                }
                (_, None) => remove.push(n),
            }
        }
        let mut clauses = Vec::new();
        for (kw, list) in [
            ("SET", set),
            ("ADD", add),
            ("DELETE", delete),
            ("REMOVE", remove),
        ] {
            if !list.is_empty() {
                clauses.push(format!("{kw} {}", list.join(", ")));
            }
        }
        Ok((!clauses.is_empty()).then(|| clauses.join(" ")))
    }

    /// One legacy comparison of `attr` as an expression.
    fn comparison(
        &mut self,
        attr: &str,
        op: &str,
        args: Vec<AttributeValue>,
    ) -> Result<String, ApiError> {
        let want = match op {
            "NULL" | "NOT_NULL" => 0,
            "EQ" | "NE" | "LE" | "LT" | "GE" | "GT" | "CONTAINS" | "NOT_CONTAINS"
            | "BEGINS_WITH" => 1,
            "BETWEEN" => 2,
            "IN" => usize::MAX,
            other => {
                return Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{other}' at 'comparisonOperator' failed to satisfy constraint: Member must satisfy enum value set: [IN, NULL, BETWEEN, LT, NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]"
                )));
            }
        };
        let count_ok = if want == usize::MAX {
            !args.is_empty()
        } else {
            args.len() == want
        };
        if !count_ok {
            return Err(ApiError::validation(format!(
                "One or more parameter values were invalid: Invalid number of argument(s) for the {op} ComparisonOperator"
            )));
        }
        let n = self.name(attr);
        let mut vals: Vec<String> = args.into_iter().map(|v| self.value(v)).collect();
        let first = vals.first().cloned().unwrap_or_default();
        Ok(match op {
            "NULL" => format!("attribute_not_exists({n})"),
            "NOT_NULL" => format!("attribute_exists({n})"),
            "EQ" => format!("{n} = {first}"),
            "NE" => format!("{n} <> {first}"),
            "LE" => format!("{n} <= {first}"),
            "LT" => format!("{n} < {first}"),
            "GE" => format!("{n} >= {first}"),
            "GT" => format!("{n} > {first}"),
            "CONTAINS" => format!("contains({n}, {first})"),
            "NOT_CONTAINS" => format!("NOT contains({n}, {first})"),
            "BEGINS_WITH" => format!("begins_with({n}, {first})"),
            "BETWEEN" => {
                let second = vals.pop().unwrap_or_default();
                format!("{n} BETWEEN {first} AND {second}")
            }
            _ => format!("{n} IN ({})", vals.join(", ")),
        })
    }
}

/// Joins conditions with `ConditionalOperator` (`AND` by default).
fn join(parts: Vec<String>, operator: Option<&str>) -> Result<Option<String>, ApiError> {
    let op = match operator {
        None | Some("AND") => " AND ",
        Some("OR") => " OR ",
        Some(other) => {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{other}' at 'conditionalOperator' failed to satisfy constraint: Member must satisfy enum value set: [AND, OR]"
            )));
        }
    };
    if parts.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        parts
            .into_iter()
            .map(|p| format!("({p})"))
            .collect::<Vec<_>>()
            .join(op),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> serde_json::Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn expected_translates_each_form() {
        let mut l = Legacy::default();
        let e = map(json!({
            "a": {"Value": {"S": "x"}},
            "b": {"Exists": false},
            "c": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "1"}, {"N": "5"}]}
        }));
        let expr = l.expected(&e, Some("OR")).unwrap().unwrap();
        assert_eq!(
            expr,
            "(#lgc0 = :lgc1) OR (attribute_not_exists(#lgc2)) OR (#lgc3 BETWEEN :lgc4 AND :lgc5)"
        );
        assert_eq!(l.names["#lgc3"], "c");
        assert_eq!(l.values[":lgc5"], AttributeValue::from(5));
    }

    #[test]
    fn bad_legacy_conditions_are_validation_errors() {
        let mut l = Legacy::default();
        let e = map(json!({"a": {"ComparisonOperator": "EQ"}}));
        let err = l.expected(&e, None).unwrap_err();
        assert!(
            err.message
                .contains("Invalid number of argument(s) for the EQ")
        );
        let e = map(json!({"a": {"Exists": true}}));
        assert!(
            l.expected(&e, None)
                .unwrap_err()
                .message
                .contains("Value must be provided")
        );
        let e = map(json!({"a": {"ComparisonOperator": "XX", "AttributeValueList": []}}));
        assert_eq!(
            l.filter(&e, None).unwrap_err().name(),
            "ValidationException"
        );
        let k = map(json!({"a": {"ComparisonOperator": "NE", "AttributeValueList": [{"S": "x"}]}}));
        assert!(
            l.key_conditions(&k)
                .unwrap_err()
                .message
                .contains("not an indexable")
        );
    }

    #[test]
    fn attribute_updates_group_by_action() {
        let mut l = Legacy::default();
        let u = map(json!({
            "a": {"Action": "PUT", "Value": {"S": "x"}},
            "b": {"Action": "ADD", "Value": {"N": "1"}},
            "c": {"Action": "DELETE"},
            "d": {"Action": "DELETE", "Value": {"SS": ["q"]}}
        }));
        let expr = l.attribute_updates(&u).unwrap().unwrap();
        assert_eq!(
            expr,
            "SET #lgc0 = :lgc1 ADD #lgc2 :lgc3 DELETE #lgc5 :lgc6 REMOVE #lgc4"
        );
    }

    #[test]
    fn projection_refuses_duplicates() {
        let mut l = Legacy::default();
        assert_eq!(l.projection(&["a", "b"]).unwrap(), "#lgc0, #lgc1");
        assert!(l.projection(&["a", "a"]).is_err());
    }
}
