//! [`Owned`]: the contents of an [`AttributeValue`] moved out of it. `AttributeValue`
//! implements `Drop` (to drop deep values without recursion), so a `match` cannot move
//! its fields out directly.

use crate::Name;
use std::collections::{BTreeMap, BTreeSet};
use std::mem;

use crate::{AttributeValue, Number};

/// The same ten cases as [`AttributeValue`], without a `Drop` impl.
pub(super) enum Owned {
    S(String),
    N(Number),
    B(Vec<u8>),
    Bool(bool),
    Null,
    L(Vec<AttributeValue>),
    M(BTreeMap<Name, AttributeValue>),
    Ss(BTreeSet<String>),
    Ns(BTreeSet<Number>),
    Bs(BTreeSet<Vec<u8>>),
}

impl From<AttributeValue> for Owned {
    fn from(mut v: AttributeValue) -> Owned {
        match &mut v {
            AttributeValue::S(s) => Owned::S(mem::take(s)),
            AttributeValue::N(n) => Owned::N(*n),
            AttributeValue::B(b) => Owned::B(mem::take(b)),
            AttributeValue::Bool(b) => Owned::Bool(*b),
            AttributeValue::Null => Owned::Null,
            AttributeValue::L(l) => Owned::L(mem::take(l)),
            AttributeValue::M(m) => Owned::M(mem::take(m)),
            AttributeValue::Ss(s) => Owned::Ss(mem::take(s)),
            AttributeValue::Ns(s) => Owned::Ns(mem::take(s)),
            AttributeValue::Bs(s) => Owned::Bs(mem::take(s)),
        }
    }
}

impl Owned {
    /// DynamoDB's type descriptor, as [`AttributeValue::type_name`].
    pub(super) fn type_name(&self) -> &'static str {
        match self {
            Owned::S(_) => "S",
            Owned::N(_) => "N",
            Owned::B(_) => "B",
            Owned::Bool(_) => "BOOL",
            Owned::Null => "NULL",
            Owned::L(_) => "L",
            Owned::M(_) => "M",
            Owned::Ss(_) => "SS",
            Owned::Ns(_) => "NS",
            Owned::Bs(_) => "BS",
        }
    }
}
