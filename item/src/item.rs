//! [`Item`]: a DynamoDB item, a map from attribute names to values.

use std::collections::BTreeMap;
use std::collections::btree_map;

use crate::{AttributeValue, Name};

/// A DynamoDB item: attribute names mapped to values, iterated in name (byte) order.
///
/// ```
/// use strata_item::{item, AttributeValue, Item};
///
/// let mut it = Item::new();
/// it.insert("pk", "user#1");
/// it.insert("age", 42);
/// assert_eq!(it.get("pk"), Some(&AttributeValue::from("user#1")));
/// assert_eq!(it.len(), 2);
/// // DynamoDB size: names plus values ("pk" 2 + "user#1" 6, "age" 3 + 42 → 2).
/// assert_eq!(it.size(), 2 + 6 + 3 + 2);
///
/// let same = item! { "pk" => "user#1", "age" => 42 };
/// assert_eq!(it, same);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Item(BTreeMap<Name, AttributeValue>);

impl Item {
    /// An empty item.
    pub fn new() -> Item {
        Item(BTreeMap::new())
    }

    /// A builder for chained construction.
    ///
    /// ```
    /// use strata_item::Item;
    /// let it = Item::builder().attr("pk", "a").attr("n", 5).build();
    /// assert_eq!(it.len(), 2);
    /// ```
    pub fn builder() -> ItemBuilder {
        ItemBuilder(Item::new())
    }

    /// The value of an attribute.
    pub fn get(&self, name: &str) -> Option<&AttributeValue> {
        self.0.get(name)
    }

    /// The value of an attribute, mutably.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut AttributeValue> {
        self.0.get_mut(name)
    }

    /// Sets an attribute, returning its previous value.
    pub fn insert(
        &mut self,
        name: impl Into<Name>,
        value: impl Into<AttributeValue>,
    ) -> Option<AttributeValue> {
        self.0.insert(name.into(), value.into())
    }

    /// Removes an attribute, returning its value.
    pub fn remove(&mut self, name: &str) -> Option<AttributeValue> {
        self.0.remove(name)
    }

    /// Whether the attribute is present.
    pub fn contains_key(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// Number of attributes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the item has no attributes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Attributes in name order.
    pub fn iter(&self) -> btree_map::Iter<'_, Name, AttributeValue> {
        self.0.iter()
    }

    /// The underlying map.
    pub fn attributes(&self) -> &BTreeMap<Name, AttributeValue> {
        &self.0
    }

    /// The underlying map, mutably.
    pub fn attributes_mut(&mut self) -> &mut BTreeMap<Name, AttributeValue> {
        &mut self.0
    }

    /// Consumes the item, returning the map.
    pub fn into_inner(self) -> BTreeMap<Name, AttributeValue> {
        self.0
    }

    /// DynamoDB's item size: for every attribute, the UTF-8 length of its name plus the size
    /// of its value ([`AttributeValue::size`]). This is the figure the 400 KB limit and the
    /// capacity units apply to.
    pub fn size(&self) -> usize {
        self.0.iter().map(|(k, v)| k.len() + v.size()).sum()
    }
}

impl<K: Into<Name>> FromIterator<(K, AttributeValue)> for Item {
    fn from_iter<I: IntoIterator<Item = (K, AttributeValue)>>(iter: I) -> Self {
        Item(iter.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
}

impl From<BTreeMap<Name, AttributeValue>> for Item {
    fn from(m: BTreeMap<Name, AttributeValue>) -> Self {
        Item(m)
    }
}

/// From a map keyed by `String` (the names are converted; see [`Name`]).
impl From<BTreeMap<String, AttributeValue>> for Item {
    fn from(m: BTreeMap<String, AttributeValue>) -> Self {
        Item(m.into_iter().map(|(k, v)| (Name::from(k), v)).collect())
    }
}

impl From<Item> for BTreeMap<Name, AttributeValue> {
    fn from(i: Item) -> Self {
        i.0
    }
}

impl IntoIterator for Item {
    type Item = (Name, AttributeValue);
    type IntoIter = btree_map::IntoIter<Name, AttributeValue>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Item {
    type Item = (&'a Name, &'a AttributeValue);
    type IntoIter = btree_map::Iter<'a, Name, AttributeValue>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<K: Into<Name>> Extend<(K, AttributeValue)> for Item {
    fn extend<I: IntoIterator<Item = (K, AttributeValue)>>(&mut self, iter: I) {
        self.0.extend(iter.into_iter().map(|(k, v)| (k.into(), v)));
    }
}

/// Chained construction of an [`Item`]; see [`Item::builder`].
#[derive(Debug, Clone, Default)]
pub struct ItemBuilder(Item);

impl ItemBuilder {
    /// Sets an attribute.
    pub fn attr(mut self, name: impl Into<Name>, value: impl Into<AttributeValue>) -> Self {
        self.0.insert(name, value);
        self
    }

    /// Sets an attribute when `value` is `Some`; `None` leaves it out.
    ///
    /// ```
    /// use strata_item::Item;
    /// let it = Item::builder().attr("pk", "a").attr_opt("nick", None::<&str>).build();
    /// assert_eq!(it.len(), 1);
    /// ```
    pub fn attr_opt<V: Into<AttributeValue>>(
        mut self,
        name: impl Into<Name>,
        value: Option<V>,
    ) -> Self {
        if let Some(v) = value {
            self.0.insert(name, v);
        }
        self
    }

    /// The finished item.
    pub fn build(self) -> Item {
        self.0
    }
}

/// Builds an [`Item`] from `name => value` pairs; values go through
/// `Into<AttributeValue>`.
///
/// `name =>? value` takes an `Option`: `Some(v)` sets the attribute, `None` leaves it
/// out. With plain `=>`, an `Option` value follows `From<Option<T>>`: `None` is stored as
/// `NULL`, an attribute that is present.
///
/// ```
/// use strata_item::{item, AttributeValue};
/// let nick: Option<&str> = None;
/// let it = item! { "pk" => "a", "n" => 5, "ok" => true, "raw" => vec![1u8, 2], "nick" =>? nick };
/// assert_eq!(it.get("n"), Some(&AttributeValue::from(5)));
/// assert!(!it.contains_key("nick"));
/// let with_null = item! { "nick" => nick, "age" =>? Some(3) };
/// assert_eq!(with_null.get("nick"), Some(&AttributeValue::Null));
/// assert_eq!(with_null.get("age"), Some(&AttributeValue::from(3)));
/// let empty = item! {};
/// assert!(empty.is_empty());
/// ```
#[macro_export]
macro_rules! item {
    () => { $crate::Item::new() };
    // Without `=>?`: any number of attributes.
    ($($name:expr => $value:expr),+ $(,)?) => {{
        let mut item = $crate::Item::new();
        $( item.insert($name, $value); )+
        item
    }};
    // With `=>?`: one attribute per step (so at most about 120 attributes, the
    // compiler's macro recursion limit).
    ($($body:tt)+) => {{
        let mut item = $crate::Item::new();
        $crate::__item_attributes!(item; $($body)+);
        item
    }};
}

/// The attributes of [`item!`], one at a time.
#[doc(hidden)]
#[macro_export]
macro_rules! __item_attributes {
    ($item:ident;) => {};
    ($item:ident; $name:expr =>? $value:expr $(, $($rest:tt)*)?) => {
        if let ::core::option::Option::Some(v) = $value {
            $item.insert($name, v);
        }
        $crate::__item_attributes!($item; $($($rest)*)?);
    };
    ($item:ident; $name:expr => $value:expr $(, $($rest:tt)*)?) => {
        $item.insert($name, $value);
        $crate::__item_attributes!($item; $($($rest)*)?);
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basics() {
        let mut it = item! { "a" => 1, "b" => "x" };
        assert!(it.contains_key("a"));
        assert_eq!(it.insert("a", 2), Some(AttributeValue::from(1)));
        assert_eq!(it.remove("b"), Some(AttributeValue::from("x")));
        assert_eq!(it.len(), 1);
        *it.get_mut("a").unwrap() = AttributeValue::Null;
        assert_eq!(it.size(), 1 + 1);
        let names: Vec<_> = it.iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(names, ["a"]);
        let collected: Item = it.clone().into_iter().collect();
        assert_eq!(collected, it);
        assert_eq!(Item::from(it.clone().into_inner()), it);
    }
}
