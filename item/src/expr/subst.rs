//! ExpressionAttributeNames / ExpressionAttributeValues and the request-wide
//! check that every one of them was used.

use std::collections::{BTreeSet, HashMap};

use crate::{AttributeValue, echo};

use super::check;
use super::condition::Condition;
use super::error::{ExprError, ExprKind};
use super::key_condition::KeyCondition;
use super::projection::Projection;
use super::update::Update;

/// The placeholders of one request, and which of them its expressions used.
///
/// DynamoDB rejects a request whose ExpressionAttributeNames or
/// ExpressionAttributeValues contain an entry that none of its expressions
/// (condition, filter, key condition, update, projection) uses. Parse every
/// expression of the request through one `Substitutions`, then call
/// [`check_all_used`](Self::check_all_used).
///
/// ```
/// use std::collections::HashMap;
/// use strata_item::AttributeValue;
/// use strata_item::expr::Substitutions;
///
/// let names = HashMap::from([("#s".to_string(), "status".to_string())]);
/// let values = HashMap::from([
///     (":open".to_string(), AttributeValue::from("open")),
///     (":pk".to_string(), AttributeValue::from("user#1")),
/// ]);
/// let mut subs = Substitutions::new(&names, &values);
/// subs.validate_keys()?;
/// let key = subs.parse_key_condition("pk = :pk", "pk", Some("sk"))?;
/// let filter = subs.parse_filter("#s = :open")?;
/// subs.check_all_used()?;
/// # let _ = (key, filter);
/// # Ok::<(), strata_item::expr::ExprError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Substitutions<'a> {
    names: Option<&'a HashMap<String, String>>,
    values: Option<&'a HashMap<String, AttributeValue>>,
    used_names: BTreeSet<String>,
    used_values: BTreeSet<String>,
}

impl Default for Substitutions<'_> {
    fn default() -> Self {
        Substitutions::none()
    }
}

fn valid_key(key: &str, sigil: char) -> bool {
    let mut chars = key.chars();
    chars.next() == Some(sigil)
        && key.len() > 1
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The unused keys among `keys`: the first few in sorted order (cut for a message) and
/// how many there are; `None` if every key was used.
fn unused<'k>(
    keys: impl Iterator<Item = &'k String>,
    used: &BTreeSet<String>,
) -> Option<(Vec<String>, usize)> {
    let mut unused: Vec<&str> = keys
        .filter(|k| !used.contains(*k))
        .map(String::as_str)
        .collect();
    if unused.is_empty() {
        return None;
    }
    unused.sort_unstable();
    Some((echo::listed(unused.iter().copied()), unused.len()))
}

impl<'a> Substitutions<'a> {
    /// Placeholders from a request's ExpressionAttributeNames and ExpressionAttributeValues.
    pub fn new(
        names: &'a HashMap<String, String>,
        values: &'a HashMap<String, AttributeValue>,
    ) -> Substitutions<'a> {
        Substitutions::from_options(Some(names), Some(values))
    }

    /// For a request that may lack either map.
    pub fn from_options(
        names: Option<&'a HashMap<String, String>>,
        values: Option<&'a HashMap<String, AttributeValue>>,
    ) -> Substitutions<'a> {
        Substitutions {
            names,
            values,
            used_names: BTreeSet::new(),
            used_values: BTreeSet::new(),
        }
    }

    /// No placeholders at all.
    pub fn none() -> Substitutions<'static> {
        Substitutions::from_options(None, None)
    }

    /// Checks the request's placeholders as DynamoDB does before parsing any expression:
    /// every key is `#word` / `:word` (letters, digits, `_`), no name entry stands for an
    /// empty name, and every value is a valid attribute value (no empty set, at most 32
    /// levels deep, counted as for items). Values are checked without copying them and
    /// without recursing past 32 levels.
    ///
    /// ```
    /// use std::collections::{BTreeSet, HashMap};
    /// use strata_item::AttributeValue;
    /// use strata_item::expr::Substitutions;
    ///
    /// let names = HashMap::from([("#n".to_string(), String::new())]);
    /// let err = Substitutions::new(&names, &HashMap::new()).validate_keys().unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "ExpressionAttributeNames contains invalid value: Empty attribute name for key #n"
    /// );
    ///
    /// let values = HashMap::from([(":s".to_string(), AttributeValue::Ss(BTreeSet::new()))]);
    /// let err = Substitutions::new(&HashMap::new(), &values).validate_keys().unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "ExpressionAttributeValues contains invalid value: One or more parameter values \
    ///      were invalid: An string set  may not be empty for key :s"
    /// );
    /// ```
    ///
    /// # Errors
    /// [`ExprError::InvalidPlaceholderKey`] naming the first bad key (in sorted order),
    /// then [`ExprError::EmptyNameValue`] or [`ExprError::InvalidValue`] for the first bad
    /// entry (in sorted key order).
    pub fn validate_keys(&self) -> Result<(), ExprError> {
        if let Some(names) = self.names {
            let mut keys: Vec<&String> = names.keys().collect();
            keys.sort();
            if let Some(k) = keys.into_iter().find(|k| !valid_key(k, '#')) {
                return Err(ExprError::InvalidPlaceholderKey {
                    parameter: "ExpressionAttributeNames",
                    key: echo::owned(k),
                });
            }
        }
        if let Some(values) = self.values {
            let mut keys: Vec<&String> = values.keys().collect();
            keys.sort();
            if let Some(k) = keys.into_iter().find(|k| !valid_key(k, ':')) {
                return Err(ExprError::InvalidPlaceholderKey {
                    parameter: "ExpressionAttributeValues",
                    key: echo::owned(k),
                });
            }
        }
        if let Some(names) = self.names {
            let mut entries: Vec<(&String, &String)> = names.iter().collect();
            entries.sort();
            for (k, n) in entries {
                check::name_entry(k, n)?;
            }
        }
        if let Some(values) = self.values {
            let mut entries: Vec<(&String, &AttributeValue)> = values.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            for (k, v) in entries {
                check::value_entry(k, v)?;
            }
        }
        Ok(())
    }

    /// Looks up `#name`, marking it used.
    pub(crate) fn name(&mut self, placeholder: &str) -> Option<&'a str> {
        let v = self.names?.get(placeholder)?;
        if !self.used_names.contains(placeholder) {
            self.used_names.insert(placeholder.to_string());
        }
        Some(v.as_str())
    }

    /// Looks up `:value`, marking it used.
    pub(crate) fn value(&mut self, placeholder: &str) -> Option<&'a AttributeValue> {
        let v = self.values?.get(placeholder)?;
        if !self.used_values.contains(placeholder) {
            self.used_values.insert(placeholder.to_string());
        }
        Some(v)
    }

    /// Errors if some name or value was never used by the expressions parsed so far.
    ///
    /// # Errors
    /// [`ExprError::UnusedNames`] (checked first) or [`ExprError::UnusedValues`], naming
    /// the first few unused keys in sorted order and counting all of them.
    pub fn check_all_used(&self) -> Result<(), ExprError> {
        if let Some(names) = self.names
            && let Some((keys, total)) = unused(names.keys(), &self.used_names)
        {
            return Err(ExprError::UnusedNames { keys, total });
        }
        if let Some(values) = self.values
            && let Some((keys, total)) = unused(values.keys(), &self.used_values)
        {
            return Err(ExprError::UnusedValues { keys, total });
        }
        Ok(())
    }

    /// Parses a `ConditionExpression` (errors say `Invalid ConditionExpression`).
    ///
    /// # Errors
    /// Any validation error DynamoDB would report for this expression.
    pub fn parse_condition(&mut self, expr: &str) -> Result<Condition, ExprError> {
        super::condition::parse(expr, ExprKind::Condition, self)
    }

    /// Parses a `FilterExpression` (errors say `Invalid FilterExpression`).
    ///
    /// # Errors
    /// Any validation error DynamoDB would report for this expression.
    pub fn parse_filter(&mut self, expr: &str) -> Result<Condition, ExprError> {
        super::condition::parse(expr, ExprKind::Filter, self)
    }

    /// Parses a `KeyConditionExpression` against a key schema given by attribute names.
    ///
    /// # Errors
    /// Any validation error DynamoDB would report, including the key-condition
    /// specific ones (`Query key condition not supported`, ...).
    pub fn parse_key_condition(
        &mut self,
        expr: &str,
        partition_key: &str,
        sort_key: Option<&str>,
    ) -> Result<KeyCondition, ExprError> {
        super::key_condition::parse(expr, partition_key, sort_key, self)
    }

    /// Parses an `UpdateExpression`.
    ///
    /// # Errors
    /// Any validation error DynamoDB would report for this expression.
    pub fn parse_update(&mut self, expr: &str) -> Result<Update, ExprError> {
        super::update::parse(expr, self)
    }

    /// Parses a `ProjectionExpression`.
    ///
    /// # Errors
    /// Any validation error DynamoDB would report for this expression.
    pub fn parse_projection(&mut self, expr: &str) -> Result<Projection, ExprError> {
        super::projection::parse(expr, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_syntax() {
        assert!(valid_key("#a_1", '#'));
        assert!(!valid_key("#", '#'));
        assert!(!valid_key("a", '#'));
        assert!(!valid_key("#a-b", '#'));
        assert!(!valid_key(":a", '#'));
        let names = HashMap::from([("a".to_string(), "a".to_string())]);
        let values = HashMap::new();
        assert_eq!(
            Substitutions::new(&names, &values)
                .validate_keys()
                .unwrap_err()
                .to_string(),
            "ExpressionAttributeNames contains invalid key: Syntax error; key: \"a\""
        );
        let names = HashMap::new();
        let values = HashMap::from([("a".to_string(), AttributeValue::from("b"))]);
        assert_eq!(
            Substitutions::new(&names, &values)
                .validate_keys()
                .unwrap_err()
                .to_string(),
            "ExpressionAttributeValues contains invalid key: Syntax error; key: \"a\""
        );
    }

    #[test]
    fn usage_tracking() {
        let names = HashMap::from([
            ("#a".to_string(), "a".to_string()),
            ("#b".to_string(), "b".to_string()),
        ]);
        let values = HashMap::from([(":x".to_string(), AttributeValue::from(1))]);
        let mut s = Substitutions::new(&names, &values);
        assert_eq!(s.name("#a"), Some("a"));
        assert_eq!(s.name("#zz"), None);
        assert_eq!(
            s.check_all_used().unwrap_err().to_string(),
            "Value provided in ExpressionAttributeNames unused in expressions: keys: {#b}"
        );
        s.name("#b");
        assert_eq!(
            s.check_all_used().unwrap_err().to_string(),
            "Value provided in ExpressionAttributeValues unused in expressions: keys: {:x}"
        );
        assert!(s.value(":x").is_some());
        assert_eq!(s.check_all_used(), Ok(()));
        assert_eq!(Substitutions::none().check_all_used(), Ok(()));
    }
}
