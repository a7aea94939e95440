//! Typed getters on [`Item`]: `get_s`, `get_n::<T>`, `get_bool`, ... and their error,
//! [`GetError`].
//!
//! Every getter returns `Result<_, GetError>`, saying whether the attribute is missing
//! or of another type, so `?` works in code that requires the attribute; use `.ok()` for
//! an optional one.
//!
//! ```
//! use strata_item::{item, GetError};
//!
//! let it = item! { "pk" => "user#1", "age" => 42, "admin" => false };
//! assert_eq!(it.get_s("pk")?, "user#1");
//! assert_eq!(it.get_n::<u8>("age")?, 42);
//! assert!(!it.get_bool("admin")?);
//! assert_eq!(it.get_s("nick").ok(), None); // optional attribute
//! assert!(matches!(it.get_s("age"), Err(GetError::WrongType { found: "N", .. })));
//! # Ok::<(), GetError>(())
//! ```

use crate::Name;
use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use crate::{AttributeValue, Item, Number, echo};

/// Why a typed getter of [`Item`] returned no value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GetError {
    /// The item has no such attribute.
    #[error("attribute {name} is missing")]
    Missing {
        /// The attribute name, cut by [`echo::shown`].
        name: String,
    },
    /// The attribute has another type.
    #[error("attribute {name} is {found}, expected {expected}")]
    WrongType {
        /// The attribute name, cut by [`echo::shown`].
        name: String,
        /// The type the getter reads (`S`, `N`, ...).
        expected: &'static str,
        /// The type the attribute has.
        found: &'static str,
    },
    /// The attribute is a number that the requested Rust type cannot hold (`300` as a
    /// `u8`, `1.5` as an `i64`).
    #[error("attribute {name} is {value}, which does not fit in {target}")]
    OutOfRange {
        /// The attribute name, cut by [`echo::shown`].
        name: String,
        /// The number, as text.
        value: String,
        /// The requested Rust type.
        target: &'static str,
    },
}

impl GetError {
    /// Whether the attribute is missing (as opposed to present with another type).
    pub fn is_missing(&self) -> bool {
        matches!(self, GetError::Missing { .. })
    }
}

impl Item {
    /// The attribute's value, or [`GetError::Missing`].
    fn require(&self, name: &str) -> Result<&AttributeValue, GetError> {
        self.get(name).ok_or_else(|| GetError::Missing {
            name: echo::owned(name),
        })
    }

    /// The attribute, if it is of the type `pick` accepts.
    fn typed<'a, T>(
        &'a self,
        name: &str,
        expected: &'static str,
        pick: impl FnOnce(&'a AttributeValue) -> Option<T>,
    ) -> Result<T, GetError> {
        let v = self.require(name)?;
        pick(v).ok_or_else(|| GetError::WrongType {
            name: echo::owned(name),
            expected,
            found: v.type_name(),
        })
    }

    /// The string of an `S` attribute.
    ///
    /// ```
    /// # use strata_item::item;
    /// assert_eq!(item! { "pk" => "a" }.get_s("pk"), Ok("a"));
    /// ```
    ///
    /// # Errors
    /// [`GetError::Missing`] or [`GetError::WrongType`].
    pub fn get_s(&self, name: &str) -> Result<&str, GetError> {
        self.typed(name, "S", AttributeValue::as_s)
    }

    /// The number of an `N` attribute as any type that parses from its text: integers,
    /// floats, [`Number`]. An integer type gets the exact value or
    /// [`GetError::OutOfRange`]; a float gets the nearest value.
    ///
    /// ```
    /// # use strata_item::{item, Number};
    /// let it = item! { "n" => 300, "x" => Number::parse("2.5")? };
    /// assert_eq!(it.get_n::<i64>("n")?, 300);
    /// assert_eq!(it.get_n::<f64>("x")?, 2.5);
    /// assert!(it.get_n::<u8>("n").is_err());   // out of range
    /// assert!(it.get_n::<i32>("x").is_err());  // not an integer
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`GetError::Missing`], [`GetError::WrongType`] or [`GetError::OutOfRange`].
    pub fn get_n<T: FromStr>(&self, name: &str) -> Result<T, GetError> {
        let n = self.get_number(name)?;
        let text = n.to_string();
        text.parse().map_err(|_| GetError::OutOfRange {
            name: echo::owned(name),
            value: echo::owned(&text),
            target: std::any::type_name::<T>(),
        })
    }

    /// The [`Number`] of an `N` attribute.
    ///
    /// ```
    /// # use strata_item::{item, Number};
    /// assert_eq!(item! { "n" => 7 }.get_number("n"), Ok(&Number::from(7)));
    /// ```
    ///
    /// # Errors
    /// [`GetError::Missing`] or [`GetError::WrongType`].
    pub fn get_number(&self, name: &str) -> Result<&Number, GetError> {
        self.typed(name, "N", AttributeValue::as_n)
    }

    /// The bytes of a `B` attribute.
    ///
    /// ```
    /// # use strata_item::item;
    /// assert_eq!(item! { "b" => vec![1u8, 2] }.get_b("b"), Ok(&[1u8, 2][..]));
    /// ```
    ///
    /// # Errors
    /// [`GetError::Missing`] or [`GetError::WrongType`].
    pub fn get_b(&self, name: &str) -> Result<&[u8], GetError> {
        self.typed(name, "B", AttributeValue::as_b)
    }

    /// The value of a `BOOL` attribute.
    ///
    /// ```
    /// # use strata_item::item;
    /// assert_eq!(item! { "ok" => true }.get_bool("ok"), Ok(true));
    /// ```
    ///
    /// # Errors
    /// [`GetError::Missing`] or [`GetError::WrongType`].
    pub fn get_bool(&self, name: &str) -> Result<bool, GetError> {
        self.typed(name, "BOOL", AttributeValue::as_bool)
    }

    /// The elements of an `L` attribute.
    ///
    /// ```
    /// # use strata_item::{item, AttributeValue};
    /// let it = item! { "l" => vec![AttributeValue::from(1)] };
    /// assert_eq!(it.get_l("l")?.len(), 1);
    /// # Ok::<(), strata_item::GetError>(())
    /// ```
    ///
    /// # Errors
    /// [`GetError::Missing`] or [`GetError::WrongType`].
    pub fn get_l(&self, name: &str) -> Result<&[AttributeValue], GetError> {
        self.typed(name, "L", |v| v.as_l().map(Vec::as_slice))
    }

    /// The entries of an `M` attribute.
    ///
    /// ```
    /// # use strata_item::item;
    /// let it = item! { "m" => item! { "k" => "v" } };
    /// assert_eq!(it.get_m("m")?["k"].as_s(), Some("v"));
    /// # Ok::<(), strata_item::GetError>(())
    /// ```
    ///
    /// # Errors
    /// [`GetError::Missing`] or [`GetError::WrongType`].
    pub fn get_m(&self, name: &str) -> Result<&BTreeMap<Name, AttributeValue>, GetError> {
        self.typed(name, "M", AttributeValue::as_m)
    }

    /// The strings of an `SS` attribute.
    ///
    /// ```
    /// # use strata_item::{item, AttributeValue};
    /// let it = item! { "tags" => AttributeValue::string_set(["a", "b"]) };
    /// assert!(it.get_ss("tags")?.contains("a"));
    /// # Ok::<(), strata_item::GetError>(())
    /// ```
    ///
    /// # Errors
    /// [`GetError::Missing`] or [`GetError::WrongType`].
    pub fn get_ss(&self, name: &str) -> Result<&BTreeSet<String>, GetError> {
        self.typed(name, "SS", AttributeValue::as_ss)
    }

    /// The numbers of an `NS` attribute.
    ///
    /// ```
    /// # use strata_item::{item, AttributeValue, Number};
    /// let it = item! { "ns" => AttributeValue::number_set([1, 2]) };
    /// assert!(it.get_ns("ns")?.contains(&Number::from(2)));
    /// # Ok::<(), strata_item::GetError>(())
    /// ```
    ///
    /// # Errors
    /// [`GetError::Missing`] or [`GetError::WrongType`].
    pub fn get_ns(&self, name: &str) -> Result<&BTreeSet<Number>, GetError> {
        self.typed(name, "NS", AttributeValue::as_ns)
    }

    /// The binaries of a `BS` attribute.
    ///
    /// ```
    /// # use strata_item::{item, AttributeValue};
    /// let it = item! { "bs" => AttributeValue::binary_set([vec![1u8]]) };
    /// assert_eq!(it.get_bs("bs")?.len(), 1);
    /// # Ok::<(), strata_item::GetError>(())
    /// ```
    ///
    /// # Errors
    /// [`GetError::Missing`] or [`GetError::WrongType`].
    pub fn get_bs(&self, name: &str) -> Result<&BTreeSet<Vec<u8>>, GetError> {
        self.typed(name, "BS", AttributeValue::as_bs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item;

    #[test]
    fn every_getter_reads_its_type_and_rejects_the_others() {
        let it = item! {
            "s" => "x", "n" => 12, "b" => vec![1u8], "t" => true,
            "l" => vec![AttributeValue::Null], "m" => item! { "k" => 1 },
            "ss" => AttributeValue::string_set(["a"]),
            "ns" => AttributeValue::number_set([1]),
            "bs" => AttributeValue::binary_set([vec![2u8]]),
            "null" => AttributeValue::Null,
        };
        assert_eq!(it.get_s("s").unwrap(), "x");
        assert_eq!(it.get_n::<u64>("n").unwrap(), 12);
        assert_eq!(it.get_n::<Number>("n").unwrap(), Number::from(12));
        assert_eq!(it.get_b("b").unwrap(), [1]);
        assert!(it.get_bool("t").unwrap());
        assert_eq!(it.get_l("l").unwrap(), [AttributeValue::Null]);
        assert_eq!(it.get_m("m").unwrap().len(), 1);
        assert_eq!(it.get_ss("ss").unwrap().len(), 1);
        assert_eq!(it.get_ns("ns").unwrap().len(), 1);
        assert_eq!(it.get_bs("bs").unwrap().len(), 1);
        // Every getter on the NULL attribute: a wrong type naming both types.
        let errs = [
            it.get_s("null").unwrap_err(),
            it.get_n::<i64>("null").unwrap_err(),
            it.get_b("null").unwrap_err(),
            it.get_bool("null").unwrap_err(),
            it.get_l("null").unwrap_err(),
            it.get_m("null").unwrap_err(),
            it.get_ss("null").unwrap_err(),
            it.get_ns("null").unwrap_err(),
            it.get_bs("null").unwrap_err(),
        ];
        let expected = ["S", "N", "B", "BOOL", "L", "M", "SS", "NS", "BS"];
        for (e, want) in errs.iter().zip(expected) {
            assert_eq!(
                e.to_string(),
                format!("attribute null is NULL, expected {want}")
            );
            assert!(!e.is_missing());
        }
        let e = it.get_s("nope").unwrap_err();
        assert!(e.is_missing());
        assert_eq!(e.to_string(), "attribute nope is missing");
    }

    #[test]
    fn numbers_out_of_range_are_errors() {
        let it = item! {
            "big" => u64::MAX, "neg" => -1, "frac" => Number::parse("0.5").unwrap(),
            "huge" => Number::parse("1E125").unwrap(),
        };
        assert_eq!(it.get_n::<u64>("big").unwrap(), u64::MAX);
        assert!(it.get_n::<i64>("big").is_err());
        assert!(it.get_n::<u32>("neg").is_err());
        assert_eq!(it.get_n::<i8>("neg").unwrap(), -1);
        assert_eq!(it.get_n::<f32>("frac").unwrap(), 0.5);
        let e = it.get_n::<i64>("frac").unwrap_err();
        assert_eq!(
            e.to_string(),
            "attribute frac is 0.5, which does not fit in i64"
        );
        assert!(it.get_n::<u128>("huge").is_err());
        assert_eq!(it.get_n::<f64>("huge").unwrap(), 1e125);
    }
}
