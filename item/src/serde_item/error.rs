//! [`ItemSerdeError`]: why a value could not be mapped to or from an item, with the path
//! of the offending value.

use std::fmt;

use crate::{NumberError, echo};

/// What went wrong in [`crate::to_item`], [`crate::from_item`], [`crate::to_value`] or
/// [`crate::from_value`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ItemSerdeErrorKind {
    /// The value has another DynamoDB type than the Rust type needs.
    #[error("expected {expected}, found {found}")]
    WrongType {
        /// What the Rust type needs ("a number", "a string", ...).
        expected: &'static str,
        /// The DynamoDB type found (`S`, `N`, ...).
        found: &'static str,
    },
    /// A number that DynamoDB cannot store (a non-finite float, more than 38 digits, out
    /// of range).
    #[error("{0}")]
    Number(NumberError),
    /// A number that does not fit the Rust type (`300` into a `u8`, `1.5` into an `i64`).
    #[error("{value} does not fit in {target}")]
    OutOfRange {
        /// The Rust type.
        target: &'static str,
        /// The number, as text.
        value: String,
    },
    /// A map key that is not a string.
    #[error("map keys must be strings, found {found}")]
    KeyNotString {
        /// What serde was given as the key.
        found: &'static str,
    },
    /// `to_item` was given something that is not a struct or a map.
    #[error("an item must be a struct or a map, found {found}")]
    NotAnItem {
        /// What was found.
        found: &'static str,
    },
    /// A value nested deeper than 32 levels (DynamoDB's limit), or newtype wrappers
    /// nested so deeply that following them could exhaust the stack.
    #[error("nested deeper than {} levels", crate::validate::MAX_NESTING_DEPTH)]
    TooDeep,
    /// A set with the same element twice (DynamoDB rejects it).
    #[error("duplicate element in a set: {shown}")]
    DuplicateInSet {
        /// The element, cut to a fixed size.
        shown: String,
    },
    /// A message from a `Serialize` or `Deserialize` impl (such as serde's
    /// "missing field `x`").
    #[error("{0}")]
    Custom(String),
}

/// One step of a path: a map key or struct field, or a list index.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Field(String),
    Index(usize),
}

/// An error of the serde mapping, naming the path of the offending value, as in
/// `orders[2].total: expected a number, found S`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemSerdeError {
    /// Innermost step first (steps are added while the error travels outwards).
    rev_path: Vec<Step>,
    kind: ItemSerdeErrorKind,
}

impl ItemSerdeError {
    pub(crate) fn new(kind: ItemSerdeErrorKind) -> ItemSerdeError {
        ItemSerdeError {
            rev_path: Vec::new(),
            kind,
        }
    }

    pub(crate) fn wrong_type(expected: &'static str, found: &'static str) -> ItemSerdeError {
        ItemSerdeError::new(ItemSerdeErrorKind::WrongType { expected, found })
    }

    /// Prefixes the path with a field or map key.
    pub(crate) fn at_field(mut self, name: &str) -> ItemSerdeError {
        self.rev_path
            .push(Step::Field(echo::shown(name).into_owned()));
        self
    }

    /// Prefixes the path with a list index.
    pub(crate) fn at_index(mut self, i: usize) -> ItemSerdeError {
        self.rev_path.push(Step::Index(i));
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &ItemSerdeErrorKind {
        &self.kind
    }

    /// The path of the offending value (`orders[2].total`), empty for the top value.
    /// Names longer than [`echo::MAX_SHOWN`] bytes are cut.
    pub fn path(&self) -> String {
        let mut out = String::new();
        for step in self.rev_path.iter().rev() {
            match step {
                Step::Field(name) if out.is_empty() => out.push_str(name),
                Step::Field(name) => {
                    out.push('.');
                    out.push_str(name);
                }
                Step::Index(i) => {
                    out.push('[');
                    out.push_str(&i.to_string());
                    out.push(']');
                }
            }
        }
        out
    }
}

impl fmt::Display for ItemSerdeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rev_path.is_empty() {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "{}: {}", self.path(), self.kind)
        }
    }
}

impl std::error::Error for ItemSerdeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ItemSerdeErrorKind::Number(e) => Some(e),
            _ => None,
        }
    }
}

impl From<NumberError> for ItemSerdeError {
    fn from(e: NumberError) -> Self {
        ItemSerdeError::new(ItemSerdeErrorKind::Number(e))
    }
}

impl serde::ser::Error for ItemSerdeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ItemSerdeError::new(ItemSerdeErrorKind::Custom(msg.to_string()))
    }
}

impl serde::de::Error for ItemSerdeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ItemSerdeError::new(ItemSerdeErrorKind::Custom(msg.to_string()))
    }
}
