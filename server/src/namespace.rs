//! Per-access-key namespaces (`--auth FILE` with a third column): a key with namespace
//! `team1` sees only the tables it created, stored in the engine as `team1.NAME`; names
//! in requests and responses are the caller's (`NAME`). Keys without a namespace (and
//! every request when signatures are not verified) see the engine's names unchanged,
//! namespaced tables included.

use strata_engine::table::{MAX_NAME_LEN, MIN_NAME_LEN};

use crate::error::ApiError;

/// How a request's table names map onto the engine's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Namespace {
    prefix: Option<String>,
}

/// Whether `ns` may be a namespace: 1 to 64 of `a-z A-Z 0-9 _ -` (no `.`, which
/// separates it from the table name).
pub fn valid_namespace(ns: &str) -> bool {
    (1..=64).contains(&ns.len())
        && ns
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl Namespace {
    /// No namespace: names pass through.
    pub fn none() -> Namespace {
        Namespace { prefix: None }
    }

    /// The namespace `ns` (see [`valid_namespace`]).
    pub fn of(ns: &str) -> Namespace {
        Namespace {
            prefix: Some(format!("{ns}.")),
        }
    }

    /// The engine's name of the caller's table `name`. The caller's name is checked
    /// against DynamoDB's rule first (so the message names what the caller sent), and
    /// the namespaced name must still fit 255 characters.
    ///
    /// # Errors
    /// `ValidationException`.
    pub fn to_engine(&self, name: &str) -> Result<String, ApiError> {
        let Some(prefix) = &self.prefix else {
            return Ok(name.to_owned());
        };
        let bad_char = name
            .chars()
            .any(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')));
        let max = MAX_NAME_LEN - prefix.len();
        let constraint = if bad_char {
            "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+".to_owned()
        } else if name.len() < MIN_NAME_LEN {
            format!("Member must have length greater than or equal to {MIN_NAME_LEN}")
        } else if name.len() > max {
            format!("Member must have length less than or equal to {max}")
        } else {
            return Ok(format!("{prefix}{name}"));
        };
        Err(ApiError::validation(format!(
            "1 validation error detected: Value '{}' at 'tableName' failed to satisfy constraint: {constraint}",
            strata_item::echo::shown(name)
        )))
    }

    /// The caller's name of engine table `engine`, or `None` when it is not in the
    /// caller's namespace.
    pub fn to_user<'a>(&self, engine: &'a str) -> Option<&'a str> {
        match &self.prefix {
            None => Some(engine),
            Some(p) => engine.strip_prefix(p.as_str()),
        }
    }

    /// The caller's name of an engine table the caller named (falls back to the
    /// engine's name, which never happens for names made by [`Namespace::to_engine`]).
    pub fn shown<'a>(&self, engine: &'a str) -> &'a str {
        self.to_user(engine).unwrap_or(engine)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_checked() {
        let ns = Namespace::of("team1");
        assert_eq!(ns.to_engine("orders").unwrap(), "team1.orders");
        assert_eq!(ns.to_user("team1.orders"), Some("orders"));
        assert_eq!(ns.to_user("team2.orders"), None);
        assert_eq!(ns.to_user("orders"), None);
        assert!(ns.to_engine("ab").unwrap_err().message.contains("'ab'"));
        assert!(ns.to_engine("a b c").is_err());
        assert!(
            ns.to_engine(&"x".repeat(250))
                .unwrap_err()
                .message
                .contains("249")
        );
        let none = Namespace::none();
        assert_eq!(none.to_engine("ab").unwrap(), "ab");
        assert_eq!(none.to_user("team1.orders"), Some("team1.orders"));
        assert!(valid_namespace("team-1_a"));
        assert!(!valid_namespace("a.b"));
        assert!(!valid_namespace(""));
    }
}
