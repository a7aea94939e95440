//! DynamoDB's rules for items: what `PutItem` checks before anything is written.
//!
//! [`validate_item`] checks, in this order:
//!
//! 1. every attribute name (top level and inside maps) is non-empty and at most 65535 bytes;
//! 2. no set is empty (sets cannot hold duplicates in memory; the JSON reader rejects
//!    duplicate elements);
//! 3. values nest at most [`MAX_NESTING_DEPTH`] (32) levels, counted as DynamoDB counts
//!    them: an attribute's value is level 1, an element of a list or map at level `n` is
//!    at level `n + 1`. So 31 lists or maps may wrap a scalar, 32 may not;
//! 4. the item's size ([`Item::size`]) is at most [`MAX_ITEM_SIZE`] (400 KB = 409600 bytes);
//! 5. with a key schema: the key attributes are present, `S`/`N`/`B` as declared, non-empty,
//!    and within the key size limits ([`KeySchema::extract_key`]).
//!
//! Numbers need no check here: a [`crate::Number`] is valid by construction.

use std::fmt::Write as _;

use crate::echo::{self, Bounded};
use crate::{AttributeValue, Item, KeyError, KeySchema, PrimaryKey};

/// Largest item DynamoDB stores: 400 KB.
pub const MAX_ITEM_SIZE: usize = 400 * 1024;
/// Deepest level a value may sit at, counting an attribute's value as level 1 (DynamoDB's
/// count): at most 31 lists or maps around a scalar.
pub const MAX_NESTING_DEPTH: usize = 32;

/// Whether a value enclosed by `enclosing` lists and maps is past [`MAX_NESTING_DEPTH`]
/// (it sits at level `enclosing + 1`). The one statement of the rule: the item check, the
/// JSON reader and the expression value check all use it.
pub(crate) fn too_deep(enclosing: usize) -> bool {
    enclosing >= MAX_NESTING_DEPTH
}
/// Longest attribute name (in UTF-8 bytes) outside the key: 64 KB - 1.
pub const MAX_ATTRIBUTE_NAME_BYTES: usize = 65535;

/// Why an item breaks DynamoDB's rules. Messages follow DynamoDB's `ValidationException`
/// wording, with the offending attribute path added. Paths and quoted elements are cut
/// to a fixed size ([`crate::echo`]), however long the attribute names are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// An attribute name is empty.
    #[error(
        "One or more parameter values were invalid: An attribute name cannot be empty (at {path})"
    )]
    EmptyAttributeName {
        /// Where: the path of the map holding the name (`<item>` for top level).
        path: String,
    },
    /// An attribute name is too long.
    #[error(
        "One or more parameter values were invalid: Attribute name is too large, must be less than 65536 bytes (at {path}: {len} bytes)"
    )]
    AttributeNameTooLong {
        /// Where.
        path: String,
        /// Name length in bytes.
        len: usize,
    },
    /// A set has no elements.
    #[error(
        "One or more parameter values were invalid: An {kind} set may not be empty (at {path})"
    )]
    EmptySet {
        /// Where.
        path: String,
        /// `"string"`, `"number"` or `"binary"` (DynamoDB's wording).
        kind: &'static str,
    },
    /// A set built from a list with two equal elements (numbers compare by value).
    #[error(
        "One or more parameter values were invalid: Input collection [{shown}] contains duplicates."
    )]
    DuplicateInSet {
        /// The duplicated element as text, cut to a fixed size ([`crate::echo`]).
        shown: String,
    },
    /// A value sits deeper than level 32 (the attribute's value being level 1).
    #[error(
        "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit (at {path})"
    )]
    TooDeep {
        /// The path of the first value at level 33 (its path is built only up to there).
        path: String,
    },
    /// The item is larger than 400 KB.
    #[error("Item size has exceeded the maximum allowed size ({size} bytes > 409600)")]
    ItemTooLarge {
        /// The item's DynamoDB size.
        size: usize,
    },
    /// The key attributes are missing, mistyped, empty or too large.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// Checks an item against DynamoDB's rules and, if given, a key schema; returns the
/// primary key when a schema is given.
///
/// ```
/// use strata_item::{item, validate::validate_item, AttributeValue, KeySchema, KeyType};
///
/// let schema = KeySchema::simple("pk", KeyType::S);
/// let key = validate_item(&item! { "pk" => "a", "n" => 1 }, Some(&schema))?;
/// assert_eq!(key.map(|k| k.partition), Some(AttributeValue::from("a")));
///
/// let empty_set = item! { "pk" => "a", "tags" => AttributeValue::Ss(Default::default()) };
/// assert!(validate_item(&empty_set, Some(&schema)).is_err());
/// # Ok::<(), strata_item::validate::ValidationError>(())
/// ```
///
/// # Errors
/// See [`ValidationError`].
pub fn validate_item(
    item: &Item,
    schema: Option<&KeySchema>,
) -> Result<Option<PrimaryKey>, ValidationError> {
    let mut steps = Vec::new();
    for (name, v) in item {
        check_name(name, &[Step::Root("<item>")])?;
        steps.clear();
        steps.push(Step::Name(name));
        check_value(v, 0, &mut steps)?;
    }
    let size = item.size();
    if size > MAX_ITEM_SIZE {
        return Err(ValidationError::ItemTooLarge { size });
    }
    match schema {
        Some(s) => Ok(Some(s.extract_key(item)?)),
        None => Ok(None),
    }
}

/// Checks one attribute value on its own (empty sets, nesting depth, names inside maps).
///
/// # Errors
/// See [`ValidationError`]; paths start at `<value>`.
pub fn validate_value(v: &AttributeValue) -> Result<(), ValidationError> {
    check_value(v, 0, &mut vec![Step::Root("<value>")])
}

/// One step of the path to a value. The steps are kept as references while the value is
/// walked; the path text is written only for an error, and then cut to a fixed size
/// ([`path_text`]).
#[derive(Debug, Clone, Copy)]
enum Step<'a> {
    /// `<item>` or `<value>`.
    Root(&'static str),
    /// An attribute name: top level, or a key of a map.
    Name(&'a str),
    /// A list index.
    Index(usize),
}

/// The path of `steps` as errors show it (`a.b[3]`), at most
/// [`echo::MAX_PATH_SHOWN`] bytes and each name cut by [`echo::shown`]: 32 names of 60 KB
/// give a path of half a kilobyte, and are not copied to find that out.
fn path_text(steps: &[Step<'_>]) -> String {
    let mut out = Bounded::new(echo::MAX_PATH_SHOWN);
    for (i, step) in steps.iter().enumerate() {
        match step {
            Step::Root(r) => out.push_str(r),
            Step::Name(n) => {
                if i > 0 {
                    out.push_str(".");
                }
                out.push_name(n);
            }
            Step::Index(x) => {
                // Writing into a `Bounded` never fails.
                let _ = write!(out, "[{x}]");
            }
        }
    }
    out.finish()
}

/// `path` is where the map holding `name` is.
fn check_name(name: &str, path: &[Step<'_>]) -> Result<(), ValidationError> {
    if name.is_empty() {
        return Err(ValidationError::EmptyAttributeName {
            path: path_text(path),
        });
    }
    if name.len() > MAX_ATTRIBUTE_NAME_BYTES {
        return Err(ValidationError::AttributeNameTooLong {
            path: path_text(path),
            len: name.len(),
        });
    }
    Ok(())
}

/// `depth` counts the lists and maps enclosing `v`; `steps` is the path of `v`.
/// Recursion is bounded: the depth is checked first, so this never goes more than
/// [`MAX_NESTING_DEPTH`] calls deep.
fn check_value<'a>(
    v: &'a AttributeValue,
    depth: usize,
    steps: &mut Vec<Step<'a>>,
) -> Result<(), ValidationError> {
    if too_deep(depth) {
        return Err(ValidationError::TooDeep {
            path: path_text(steps),
        });
    }
    let empty_set = match v {
        AttributeValue::Ss(s) if s.is_empty() => Some("string"),
        AttributeValue::Ns(s) if s.is_empty() => Some("number"),
        AttributeValue::Bs(s) if s.is_empty() => Some("binary"),
        _ => None,
    };
    if let Some(kind) = empty_set {
        return Err(ValidationError::EmptySet {
            path: path_text(steps),
            kind,
        });
    }
    match v {
        AttributeValue::L(l) => {
            for (i, e) in l.iter().enumerate() {
                steps.push(Step::Index(i));
                check_value(e, depth + 1, steps)?;
                steps.pop();
            }
        }
        AttributeValue::M(m) => {
            for (k, e) in m {
                check_name(k, steps)?;
                steps.push(Step::Name(k));
                check_value(e, depth + 1, steps)?;
                steps.pop();
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KeyType, item};
    use std::collections::{BTreeMap, BTreeSet};

    fn nested(levels: usize) -> AttributeValue {
        let mut v = AttributeValue::from(1);
        for i in 0..levels {
            v = if i % 2 == 0 {
                AttributeValue::L(vec![v])
            } else {
                AttributeValue::from(BTreeMap::from([("k".to_string(), v)]))
            };
        }
        v
    }

    #[test]
    fn rules() {
        let ok = item! { "a" => 1 };
        assert_eq!(validate_item(&ok, None), Ok(None));

        let cases: Vec<(Item, &str)> = vec![
            (item! { "" => 1 }, "attribute name cannot be empty"),
            (
                item! { "x".repeat(65536) => 1 },
                "Attribute name is too large",
            ),
            (
                item! { "s" => AttributeValue::Ss(BTreeSet::new()) },
                "An string set may not be empty (at s)",
            ),
            (
                item! { "l" => AttributeValue::L(vec![1.into(), AttributeValue::Ns(BTreeSet::new())]) },
                "An number set may not be empty (at l[1])",
            ),
            (
                item! { "m" => AttributeValue::from(BTreeMap::from([("in".to_string(), AttributeValue::Bs(BTreeSet::new()))])) },
                "An binary set may not be empty (at m.in)",
            ),
            (
                item! { "m" => AttributeValue::from(BTreeMap::from([(String::new(), AttributeValue::Null)])) },
                "cannot be empty (at m)",
            ),
            (
                item! { "deep" => nested(32) },
                "Nesting Levels have exceeded supported limits",
            ),
            (
                item! { "big" => "x".repeat(MAX_ITEM_SIZE) },
                "Item size has exceeded",
            ),
        ];
        for (item, want) in cases {
            let err = validate_item(&item, None).unwrap_err().to_string();
            assert!(err.contains(want), "{err:?} should contain {want:?}");
        }
        // DynamoDB's count: 31 wrappers around a scalar are fine, 32 are not; an empty
        // list at level 32 is fine too.
        assert!(validate_item(&item! { "deep" => nested(31) }, None).is_ok());
        let mut empty_at_32 = AttributeValue::L(vec![]);
        for _ in 0..31 {
            empty_at_32 = AttributeValue::L(vec![empty_at_32]);
        }
        assert!(validate_item(&item! { "deep" => empty_at_32.clone() }, None).is_ok());
        assert!(
            validate_item(
                &item! { "deep" => AttributeValue::L(vec![empty_at_32]) },
                None
            )
            .is_err()
        );
        assert!(validate_item(&item! { "x".repeat(65535) => 1 }, None).is_ok());
        // Exactly 400 KB is fine: name 3 bytes + value.
        assert!(validate_item(&item! { "big" => "x".repeat(MAX_ITEM_SIZE - 3) }, None).is_ok());
        assert!(validate_item(&item! { "big" => "x".repeat(MAX_ITEM_SIZE - 2) }, None).is_err());
    }

    #[test]
    fn with_schema() {
        let schema = KeySchema::simple("pk", KeyType::N);
        assert!(matches!(
            validate_item(&item! { "pk" => "s" }, Some(&schema)),
            Err(ValidationError::Key(KeyError::TypeMismatch { .. }))
        ));
        let key = validate_item(&item! { "pk" => 3 }, Some(&schema))
            .unwrap()
            .unwrap();
        assert_eq!(key.partition, AttributeValue::from(3));
        assert!(validate_value(&nested(40)).is_err());
    }
}
