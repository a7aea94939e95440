//! [`AttributeValue`]: one DynamoDB attribute value of any of the ten types.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::validate::ValidationError;
use crate::{Name, Number, echo};

/// Collects a set, rejecting duplicates and emptiness.
fn strict_set<T: Ord>(
    items: impl Iterator<Item = T>,
    kind: &'static str,
    show: impl Fn(&T) -> String,
) -> Result<BTreeSet<T>, ValidationError> {
    let mut set = BTreeSet::new();
    for x in items {
        if set.contains(&x) {
            return Err(ValidationError::DuplicateInSet { shown: show(&x) });
        }
        set.insert(x);
    }
    if set.is_empty() {
        return Err(ValidationError::EmptySet {
            path: "<value>".to_owned(),
            kind,
        });
    }
    Ok(set)
}

/// One DynamoDB attribute value.
///
/// Sets are `BTreeSet`s, so they hold no duplicates and iterate in a fixed order (strings
/// and binaries by bytes, numbers numerically). An *empty* set is representable here but is
/// not a valid DynamoDB value; [`crate::validate`] rejects it.
///
/// ```
/// use strata_item::{AttributeValue, Number};
///
/// let v = AttributeValue::from("hello");
/// assert_eq!(v.type_name(), "S");
/// assert_eq!(v.as_s(), Some("hello"));
/// assert_eq!(v.size(), 5);
///
/// let n = AttributeValue::from(42);
/// assert_eq!(n.as_n(), Some(&Number::from(42)));
/// ```
///
/// Values may nest lists and maps to any depth in memory (DynamoDB stores at most 32
/// levels, see [`crate::validate`]). `Clone`, `PartialEq`, `Drop` and [`size`](Self::size)
/// walk nested values with an explicit stack, so a value nested 100,000 levels deep is
/// cloned, compared and dropped without exhausting the thread's stack; `Debug` prints at
/// most 40 levels and shows deeper ones as `…`.
pub enum AttributeValue {
    /// String (`S`): UTF-8 text.
    S(String),
    /// Number (`N`).
    N(Number),
    /// Binary (`B`): raw bytes.
    B(Vec<u8>),
    /// Boolean (`BOOL`).
    Bool(bool),
    /// Null (`NULL`).
    Null,
    /// List (`L`): ordered values of any types.
    L(Vec<AttributeValue>),
    /// Map (`M`): named values of any types.
    M(BTreeMap<Name, AttributeValue>),
    /// String set (`SS`).
    Ss(BTreeSet<String>),
    /// Number set (`NS`).
    Ns(BTreeSet<Number>),
    /// Binary set (`BS`).
    Bs(BTreeSet<Vec<u8>>),
}

/// Bytes DynamoDB charges for a number: one per two significant digits (rounded up) plus one.
#[inline]
pub(crate) fn number_size(n: &Number) -> usize {
    n.significant_digits().div_ceil(2) + 1
}

impl AttributeValue {
    /// DynamoDB's type descriptor: `"S"`, `"N"`, `"B"`, `"BOOL"`, `"NULL"`, `"L"`, `"M"`,
    /// `"SS"`, `"NS"` or `"BS"`.
    pub fn type_name(&self) -> &'static str {
        match self {
            AttributeValue::S(_) => "S",
            AttributeValue::N(_) => "N",
            AttributeValue::B(_) => "B",
            AttributeValue::Bool(_) => "BOOL",
            AttributeValue::Null => "NULL",
            AttributeValue::L(_) => "L",
            AttributeValue::M(_) => "M",
            AttributeValue::Ss(_) => "SS",
            AttributeValue::Ns(_) => "NS",
            AttributeValue::Bs(_) => "BS",
        }
    }

    /// The DynamoDB size of this value alone (not counting any attribute name), following
    /// DynamoDB's "Item sizes and formats" rules:
    ///
    /// - `S`: UTF-8 bytes; `B`: raw bytes (not base64);
    /// - `N`: `ceil(significant digits / 2) + 1` (leading and trailing zeros trimmed; zero
    ///   counts as one digit);
    /// - `BOOL`, `NULL`: 1;
    /// - `L`: 3 + Σ (1 + element size); `M`: 3 + Σ (1 + UTF-8 name length + value size);
    /// - `SS`, `NS`, `BS`: the sum of the element sizes.
    ///
    /// ```
    /// use strata_item::AttributeValue;
    /// let l = AttributeValue::L(vec!["ab".into(), true.into()]);
    /// assert_eq!(l.size(), 3 + (1 + 2) + (1 + 1));
    /// ```
    pub fn size(&self) -> usize {
        crate::value_deep::size(self)
    }

    /// The string, if this is an `S`.
    pub fn as_s(&self) -> Option<&str> {
        match self {
            AttributeValue::S(s) => Some(s),
            _ => None,
        }
    }

    /// The number, if this is an `N`.
    pub fn as_n(&self) -> Option<&Number> {
        match self {
            AttributeValue::N(n) => Some(n),
            _ => None,
        }
    }

    /// The bytes, if this is a `B`.
    pub fn as_b(&self) -> Option<&[u8]> {
        match self {
            AttributeValue::B(b) => Some(b),
            _ => None,
        }
    }

    /// The boolean, if this is a `BOOL`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            AttributeValue::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// Whether this is `NULL`.
    pub fn is_null(&self) -> bool {
        matches!(self, AttributeValue::Null)
    }

    /// The elements, if this is an `L`.
    pub fn as_l(&self) -> Option<&Vec<AttributeValue>> {
        match self {
            AttributeValue::L(l) => Some(l),
            _ => None,
        }
    }

    /// The elements, mutably, if this is an `L`.
    pub fn as_l_mut(&mut self) -> Option<&mut Vec<AttributeValue>> {
        match self {
            AttributeValue::L(l) => Some(l),
            _ => None,
        }
    }

    /// The entries, if this is an `M`.
    pub fn as_m(&self) -> Option<&BTreeMap<Name, AttributeValue>> {
        match self {
            AttributeValue::M(m) => Some(m),
            _ => None,
        }
    }

    /// The entries, mutably, if this is an `M`.
    pub fn as_m_mut(&mut self) -> Option<&mut BTreeMap<Name, AttributeValue>> {
        match self {
            AttributeValue::M(m) => Some(m),
            _ => None,
        }
    }

    /// The strings, if this is an `SS`.
    pub fn as_ss(&self) -> Option<&BTreeSet<String>> {
        match self {
            AttributeValue::Ss(s) => Some(s),
            _ => None,
        }
    }

    /// The numbers, if this is an `NS`.
    pub fn as_ns(&self) -> Option<&BTreeSet<Number>> {
        match self {
            AttributeValue::Ns(s) => Some(s),
            _ => None,
        }
    }

    /// The binaries, if this is a `BS`.
    pub fn as_bs(&self) -> Option<&BTreeSet<Vec<u8>>> {
        match self {
            AttributeValue::Bs(s) => Some(s),
            _ => None,
        }
    }

    /// Whether this is one of the three set types.
    pub fn is_set(&self) -> bool {
        matches!(
            self,
            AttributeValue::Ss(_) | AttributeValue::Ns(_) | AttributeValue::Bs(_)
        )
    }

    /// A string set from any strings (duplicates collapse).
    pub fn string_set<I, S>(items: I) -> AttributeValue
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        AttributeValue::Ss(items.into_iter().map(Into::into).collect())
    }

    /// A number set from any numbers (duplicates collapse).
    pub fn number_set<I, N>(items: I) -> AttributeValue
    where
        I: IntoIterator<Item = N>,
        N: Into<Number>,
    {
        AttributeValue::Ns(items.into_iter().map(Into::into).collect())
    }

    /// A binary set from any byte vectors (duplicates collapse).
    pub fn binary_set<I, B>(items: I) -> AttributeValue
    where
        I: IntoIterator<Item = B>,
        B: Into<Vec<u8>>,
    {
        AttributeValue::Bs(items.into_iter().map(Into::into).collect())
    }

    /// A string set, strictly: DynamoDB rejects empty sets and duplicate elements.
    ///
    /// ```
    /// use strata_item::AttributeValue;
    /// assert!(AttributeValue::try_string_set(["a", "b"]).is_ok());
    /// assert!(AttributeValue::try_string_set(["a", "a"]).is_err());
    /// assert!(AttributeValue::try_string_set(Vec::<String>::new()).is_err());
    /// ```
    ///
    /// # Errors
    /// [`ValidationError::EmptySet`] or [`ValidationError::DuplicateInSet`].
    pub fn try_string_set<I, S>(items: I) -> Result<AttributeValue, ValidationError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        strict_set(items.into_iter().map(Into::into), "string", |s: &String| {
            echo::owned(s)
        })
        .map(AttributeValue::Ss)
    }

    /// A number set, strictly (numbers are equal by value: `1` and `1.0` are duplicates).
    ///
    /// # Errors
    /// [`ValidationError::EmptySet`] or [`ValidationError::DuplicateInSet`].
    pub fn try_number_set<I, N>(items: I) -> Result<AttributeValue, ValidationError>
    where
        I: IntoIterator<Item = N>,
        N: Into<Number>,
    {
        strict_set(
            items.into_iter().map(Into::into),
            "number",
            Number::to_string,
        )
        .map(AttributeValue::Ns)
    }

    /// A binary set, strictly.
    ///
    /// # Errors
    /// [`ValidationError::EmptySet`] or [`ValidationError::DuplicateInSet`].
    pub fn try_binary_set<I, B>(items: I) -> Result<AttributeValue, ValidationError>
    where
        I: IntoIterator<Item = B>,
        B: Into<Vec<u8>>,
    {
        strict_set(
            items.into_iter().map(Into::into),
            "binary",
            |b: &Vec<u8>| echo::display_within(format_args!("{b:?}"), echo::MAX_VALUE_SHOWN),
        )
        .map(AttributeValue::Bs)
    }
}

impl From<String> for AttributeValue {
    fn from(v: String) -> Self {
        AttributeValue::S(v)
    }
}
impl From<&str> for AttributeValue {
    fn from(v: &str) -> Self {
        AttributeValue::S(v.to_owned())
    }
}
impl From<&String> for AttributeValue {
    fn from(v: &String) -> Self {
        AttributeValue::S(v.clone())
    }
}
impl From<bool> for AttributeValue {
    fn from(v: bool) -> Self {
        AttributeValue::Bool(v)
    }
}
impl From<Number> for AttributeValue {
    fn from(v: Number) -> Self {
        AttributeValue::N(v)
    }
}
macro_rules! av_from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for AttributeValue {
            fn from(v: $t) -> Self {
                AttributeValue::N(Number::from(v))
            }
        }
    )*};
}
av_from_int!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

/// Floats convert with `TryFrom`, not `From`: NaN, the infinities and magnitudes outside
/// DynamoDB's range (about 1E-130 to 1E+126) have no `N`, and a `From` could only hide
/// that. The number is the shortest decimal that reads back as the same float (`0.1`
/// becomes exactly `0.1`).
///
/// ```
/// use strata_item::{AttributeValue, Item};
/// let v = AttributeValue::try_from(0.1)?;
/// assert_eq!(v.to_string(), "0.1");
/// assert!(AttributeValue::try_from(f64::NAN).is_err());
/// // In an item: convert first.
/// let mut it = Item::new();
/// it.insert("price", AttributeValue::try_from(9.99f32)?);
/// # Ok::<(), strata_item::NumberError>(())
/// ```
impl TryFrom<f64> for AttributeValue {
    type Error = crate::NumberError;
    fn try_from(v: f64) -> Result<Self, Self::Error> {
        Number::try_from(v).map(AttributeValue::N)
    }
}
/// As for `f64`: NaN and the infinities are errors.
impl TryFrom<f32> for AttributeValue {
    type Error = crate::NumberError;
    fn try_from(v: f32) -> Result<Self, Self::Error> {
        Number::try_from(v).map(AttributeValue::N)
    }
}

macro_rules! av_from_vec {
    ($($t:ty),*) => {$(
        /// An `L` of the elements.
        impl From<Vec<$t>> for AttributeValue {
            fn from(v: Vec<$t>) -> Self {
                AttributeValue::L(v.into_iter().map(AttributeValue::from).collect())
            }
        }
    )*};
}
// Not `Vec<u8>`: that is a `B`.
av_from_vec!(
    &str,
    String,
    bool,
    Number,
    crate::Item,
    i16,
    i32,
    i64,
    u16,
    u32,
    u64
);

impl From<HashSet<String>> for AttributeValue {
    /// An `SS` (empty stays empty, which [`crate::validate`] rejects).
    fn from(v: HashSet<String>) -> Self {
        AttributeValue::Ss(v.into_iter().collect())
    }
}
impl From<HashSet<&str>> for AttributeValue {
    /// An `SS`.
    fn from(v: HashSet<&str>) -> Self {
        AttributeValue::string_set(v)
    }
}
impl From<BTreeSet<&str>> for AttributeValue {
    /// An `SS`.
    fn from(v: BTreeSet<&str>) -> Self {
        AttributeValue::string_set(v)
    }
}
impl From<HashSet<Number>> for AttributeValue {
    /// An `NS`.
    fn from(v: HashSet<Number>) -> Self {
        AttributeValue::Ns(v.into_iter().collect())
    }
}
impl From<HashSet<Vec<u8>>> for AttributeValue {
    /// A `BS`.
    fn from(v: HashSet<Vec<u8>>) -> Self {
        AttributeValue::Bs(v.into_iter().collect())
    }
}
macro_rules! av_from_int_set {
    ($($t:ty),*) => {$(
        /// An `NS`.
        impl From<BTreeSet<$t>> for AttributeValue {
            fn from(v: BTreeSet<$t>) -> Self {
                AttributeValue::number_set(v)
            }
        }
        /// An `NS`.
        impl From<HashSet<$t>> for AttributeValue {
            fn from(v: HashSet<$t>) -> Self {
                AttributeValue::number_set(v)
            }
        }
    )*};
}
av_from_int_set!(i32, i64, u32, u64);
impl From<Vec<u8>> for AttributeValue {
    fn from(v: Vec<u8>) -> Self {
        AttributeValue::B(v)
    }
}
impl From<&[u8]> for AttributeValue {
    fn from(v: &[u8]) -> Self {
        AttributeValue::B(v.to_vec())
    }
}
impl<const N: usize> From<&[u8; N]> for AttributeValue {
    fn from(v: &[u8; N]) -> Self {
        AttributeValue::B(v.to_vec())
    }
}
impl From<Vec<AttributeValue>> for AttributeValue {
    fn from(v: Vec<AttributeValue>) -> Self {
        AttributeValue::L(v)
    }
}
impl From<BTreeMap<Name, AttributeValue>> for AttributeValue {
    fn from(v: BTreeMap<Name, AttributeValue>) -> Self {
        AttributeValue::M(v)
    }
}
/// An `M` from a map keyed by `String` (the names are converted; see [`Name`]).
impl From<BTreeMap<String, AttributeValue>> for AttributeValue {
    fn from(v: BTreeMap<String, AttributeValue>) -> Self {
        AttributeValue::M(v.into_iter().map(|(k, v)| (Name::from(k), v)).collect())
    }
}
impl From<BTreeSet<String>> for AttributeValue {
    fn from(v: BTreeSet<String>) -> Self {
        AttributeValue::Ss(v)
    }
}
impl From<BTreeSet<Number>> for AttributeValue {
    fn from(v: BTreeSet<Number>) -> Self {
        AttributeValue::Ns(v)
    }
}
impl From<BTreeSet<Vec<u8>>> for AttributeValue {
    fn from(v: BTreeSet<Vec<u8>>) -> Self {
        AttributeValue::Bs(v)
    }
}
impl From<crate::Item> for AttributeValue {
    fn from(v: crate::Item) -> Self {
        AttributeValue::M(v.into_inner())
    }
}
impl<T: Into<AttributeValue>> From<Option<T>> for AttributeValue {
    /// `None` becomes `NULL`. To leave an attribute out instead, use `=>?` in
    /// [`item!`](crate::item!) or [`ItemBuilder::attr_opt`](crate::ItemBuilder::attr_opt).
    fn from(v: Option<T>) -> Self {
        v.map_or(AttributeValue::Null, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        let n = |s: &str| AttributeValue::N(Number::parse(s).unwrap());
        let cases: Vec<(AttributeValue, usize)> = vec![
            (AttributeValue::from("abc"), 3),
            (AttributeValue::from("é"), 2),
            (AttributeValue::from(""), 0),
            (n("0"), 2),
            (n("1"), 2),
            (n("12"), 2),
            (n("123"), 3),
            (n("1000000"), 2),
            (n("-1.5"), 2),
            (n("12345678901234567890123456789012345678"), 20),
            (AttributeValue::B(vec![1, 2, 3, 4]), 4),
            (AttributeValue::Bool(true), 1),
            (AttributeValue::Null, 1),
            (AttributeValue::L(vec![]), 3),
            (AttributeValue::M(BTreeMap::new()), 3),
            (
                AttributeValue::L(vec!["ab".into(), AttributeValue::Null]),
                3 + 3 + 2,
            ),
            (
                AttributeValue::M([("k".into(), AttributeValue::from("vv"))].into()),
                3 + 1 + 1 + 2,
            ),
            (AttributeValue::string_set(["a", "bc"]), 3),
            (AttributeValue::number_set([1, 100]), 4),
            (AttributeValue::binary_set([vec![1u8], vec![2, 3]]), 3),
        ];
        for (v, want) in cases {
            assert_eq!(v.size(), want, "{v:?}");
        }
    }

    #[test]
    fn from_collections() {
        use std::collections::HashSet;
        assert_eq!(
            AttributeValue::from(vec!["a", "b"]),
            AttributeValue::L(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            AttributeValue::from(vec![1i64, -2]),
            AttributeValue::L(vec![1.into(), (-2).into()])
        );
        assert_eq!(AttributeValue::from(vec![1u8]), AttributeValue::B(vec![1]));
        let ss = AttributeValue::string_set(["x", "y"]);
        assert_eq!(AttributeValue::from(HashSet::from(["x", "y"])), ss);
        assert_eq!(AttributeValue::from(BTreeSet::from(["x", "y"])), ss);
        assert_eq!(
            AttributeValue::from(HashSet::from(["x".to_string(), "y".to_string()])),
            ss
        );
        let ns = AttributeValue::number_set([1, 2]);
        assert_eq!(AttributeValue::from(HashSet::from([2u64, 1])), ns);
        assert_eq!(AttributeValue::from(BTreeSet::from([1i32, 2])), ns);
        assert_eq!(
            AttributeValue::from(HashSet::from([Number::from(1), Number::from(2)])),
            ns
        );
        assert_eq!(
            AttributeValue::from(HashSet::from([vec![1u8]])),
            AttributeValue::binary_set([vec![1u8]])
        );
        assert_eq!(AttributeValue::try_from(0.5f32).unwrap().to_string(), "0.5");
        assert!(AttributeValue::try_from(f32::INFINITY).is_err());
        assert!(AttributeValue::try_from(1e300).is_err());
    }

    #[test]
    fn type_names_and_accessors() {
        let v = AttributeValue::from(vec![1u8, 2]);
        assert_eq!(v.type_name(), "B");
        assert_eq!(v.as_b(), Some(&[1u8, 2][..]));
        assert_eq!(v.as_s(), None);
        assert_eq!(AttributeValue::Null.type_name(), "NULL");
        assert!(AttributeValue::Null.is_null());
        assert_eq!(AttributeValue::from(true).as_bool(), Some(true));
        assert_eq!(AttributeValue::number_set([1, 2]).type_name(), "NS");
        assert!(AttributeValue::string_set(["x"]).is_set());
        assert_eq!(AttributeValue::from(None::<i32>), AttributeValue::Null);
        assert_eq!(
            AttributeValue::from(1.0f64.to_string().as_str()).type_name(),
            "S"
        );
        assert_eq!(AttributeValue::try_from(1.5f64).unwrap().type_name(), "N");
        let e = AttributeValue::try_number_set([
            Number::parse("1").unwrap(),
            Number::parse("1.0").unwrap(),
        ]);
        assert!(
            e.unwrap_err()
                .to_string()
                .contains("Input collection [1] contains duplicates")
        );
        assert!(AttributeValue::try_binary_set([vec![1u8], vec![1u8]]).is_err());
        assert_eq!(
            AttributeValue::try_binary_set([vec![1u8]]).unwrap(),
            AttributeValue::binary_set([vec![1u8]])
        );
    }
}
