//! Local secondary index entries: which entry (if any) an item has in each LSI, and
//! what a change of the item does to it.
//!
//! An entry lives in the same partition tree as its item (key layout in
//! [`super::layout`]), holds the *projected* item (the table's keys, the index key and
//! the projected attributes), and is written in the same WAL batch as the item, so LSI
//! reads are strongly consistent. Items without the index's sort key attribute have no
//! entry (the index is sparse).

use strata_item::validate::MAX_ITEM_SIZE;
use strata_item::{Item, KeyRole, KeySchema};

use super::error::DbError;
use super::layout::{HashedKey, lsi_key};
use super::spec::{IndexProjection, LsiSpec};
use crate::capacity::write_units;

/// One item's entry in one LSI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LsiEntry {
    /// Key in the partition tree.
    pub key: Vec<u8>,
    /// The projected item.
    pub item: Item,
    /// Its DynamoDB size.
    pub size: usize,
}

/// Checks the item's value of the index's sort key attribute, if present: the declared
/// type, not empty, at most 1024 bytes. Nothing is written when this fails.
pub(crate) fn check_index_key(lsi: &LsiSpec, item: &Item) -> Result<(), DbError> {
    let Some(v) = item.get(&lsi.sort_key.name) else {
        return Ok(());
    };
    strata_index::check_key_attribute(&lsi.name, &lsi.sort_key, KeyRole::Sort, v)
        .map_err(super::partition::derive_error)
}

/// The projected item of `item` for this index (keys always included).
pub(crate) fn project(schema: &KeySchema, lsi: &LsiSpec, item: &Item) -> Item {
    match &lsi.projection {
        IndexProjection::All => item.clone(),
        IndexProjection::KeysOnly | IndexProjection::Include(_) => {
            let mut out = Item::new();
            let mut copy = |name: &str| {
                if let Some(v) = item.get(name) {
                    out.insert(name, v.clone());
                }
            };
            for a in schema.attributes() {
                copy(&a.name);
            }
            copy(&lsi.sort_key.name);
            if let IndexProjection::Include(attrs) = &lsi.projection {
                for a in attrs {
                    copy(a);
                }
            }
            out
        }
    }
}

/// Whether attribute `name` is held by entries of this index.
pub(crate) fn projects(schema: &KeySchema, lsi: &LsiSpec, name: &str) -> bool {
    match &lsi.projection {
        IndexProjection::All => true,
        IndexProjection::KeysOnly => schema.is_key_attribute(name) || lsi.sort_key.name == name,
        IndexProjection::Include(attrs) => {
            schema.is_key_attribute(name)
                || lsi.sort_key.name == name
                || attrs.iter().any(|a| a == name)
        }
    }
}

/// The entry of a (valid, already checked) item in LSI number `index`, or `None` when
/// the item lacks the index's sort key.
pub(crate) fn entry(
    schema: &KeySchema,
    index: u8,
    lsi: &LsiSpec,
    pk: &HashedKey,
    item: &Item,
) -> Result<Option<LsiEntry>, DbError> {
    let Some(lsi_sk) = item.get(&lsi.sort_key.name) else {
        return Ok(None);
    };
    let table_sk = schema
        .sort_key
        .as_ref()
        .and_then(|a| item.get(&a.name))
        .ok_or_else(|| DbError::invalid("local secondary indexes need a table sort key"))?;
    let key = lsi_key(index, pk, lsi_sk, table_sk).map_err(|e| DbError::invalid(e.to_string()))?;
    let projected = project(schema, lsi, item);
    let size = projected.size();
    Ok(Some(LsiEntry {
        key,
        item: projected,
        size,
    }))
}

/// Enforces DynamoDB's limit for tables with LSIs: for each index, the item plus its
/// entry in that index must fit in 400 KB.
pub(crate) fn check_size(lsi: &LsiSpec, item: &Item, entry_size: usize) -> Result<(), DbError> {
    let item_size = item.size();
    if item_size + entry_size > MAX_ITEM_SIZE {
        return Err(DbError::ItemTooLargeWithIndex {
            index: lsi.name.clone(),
            item_size,
            entry_size,
        });
    }
    Ok(())
}

/// What a change of an item does to one index.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct IndexChange {
    /// Key of an entry to delete.
    pub delete: Option<Vec<u8>>,
    /// Entry to put.
    pub put: Option<LsiEntry>,
    /// Write units it costs (DynamoDB's LSI rules).
    pub units: f64,
}

/// The change to one index when an item goes from `old` to `new` entries.
pub(crate) fn diff(old: Option<LsiEntry>, new: Option<LsiEntry>) -> IndexChange {
    match (old, new) {
        (None, None) => IndexChange {
            delete: None,
            put: None,
            units: 0.0,
        },
        (Some(o), None) => IndexChange {
            units: write_units(o.size),
            delete: Some(o.key),
            put: None,
        },
        (None, Some(n)) => IndexChange {
            units: write_units(n.size),
            delete: None,
            put: Some(n),
        },
        (Some(o), Some(n)) if o.key == n.key => {
            if o.item == n.item {
                IndexChange {
                    delete: None,
                    put: None,
                    units: 0.0,
                }
            } else {
                IndexChange {
                    units: write_units(o.size.max(n.size)),
                    delete: None,
                    put: Some(n),
                }
            }
        }
        (Some(o), Some(n)) => IndexChange {
            units: write_units(o.size) + write_units(n.size),
            delete: Some(o.key),
            put: Some(n),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_item::{KeyType, item};

    fn schema() -> KeySchema {
        KeySchema::composite("pk", KeyType::S, "sk", KeyType::N)
    }

    #[test]
    fn projections() {
        let it = item! { "pk" => "a", "sk" => 1, "d" => "x", "t" => "title", "o" => 5 };
        let keys = LsiSpec::new("idx", "d", KeyType::S).projection(IndexProjection::KeysOnly);
        assert_eq!(
            project(&schema(), &keys, &it),
            item! { "pk" => "a", "sk" => 1, "d" => "x" }
        );
        let inc = LsiSpec::new("idx", "d", KeyType::S)
            .projection(IndexProjection::Include(vec!["t".into(), "missing".into()]));
        assert_eq!(
            project(&schema(), &inc, &it),
            item! { "pk" => "a", "sk" => 1, "d" => "x", "t" => "title" }
        );
        assert!(projects(&schema(), &inc, "t") && !projects(&schema(), &inc, "o"));
        let all = LsiSpec::new("idx", "d", KeyType::S);
        assert_eq!(project(&schema(), &all, &it), it);
    }

    #[test]
    fn sparse_and_checked() {
        let lsi = LsiSpec::new("idx", "d", KeyType::S);
        let pk = HashedKey::new(&"a".into()).unwrap();
        let no_d = item! { "pk" => "a", "sk" => 1 };
        assert_eq!(entry(&schema(), 0, &lsi, &pk, &no_d).unwrap(), None);
        assert!(check_index_key(&lsi, &no_d).is_ok());
        assert!(matches!(
            check_index_key(&lsi, &item! { "pk" => "a", "sk" => 1, "d" => 3 }),
            Err(DbError::IndexKeyTypeMismatch { .. })
        ));
        assert!(matches!(
            check_index_key(&lsi, &item! { "pk" => "a", "sk" => 1, "d" => "" }),
            Err(DbError::IndexKeyInvalid { .. })
        ));
        assert!(matches!(
            check_index_key(
                &lsi,
                &item! { "pk" => "a", "sk" => 1, "d" => "x".repeat(1025) }
            ),
            Err(DbError::IndexKeyInvalid { .. })
        ));
        let big = item! { "pk" => "a", "sk" => 1, "d" => "x", "blob" => vec![0u8; 250 * 1024] };
        let e = entry(&schema(), 0, &lsi, &pk, &big).unwrap().unwrap();
        assert!(matches!(
            check_size(&lsi, &big, e.size),
            Err(DbError::ItemTooLargeWithIndex { .. })
        ));
        let keys_only = lsi.clone().projection(IndexProjection::KeysOnly);
        let e = entry(&schema(), 0, &keys_only, &pk, &big).unwrap().unwrap();
        assert!(check_size(&keys_only, &big, e.size).is_ok());
    }

    #[test]
    fn diffs_cost_what_dynamodb_charges() {
        let lsi = LsiSpec::new("idx", "d", KeyType::S);
        let pk = HashedKey::new(&"a".into()).unwrap();
        let e = |d: &str, extra: i32| {
            entry(
                &schema(),
                0,
                &lsi,
                &pk,
                &item! { "pk" => "a", "sk" => 1, "d" => d, "x" => extra },
            )
            .unwrap()
        };
        assert_eq!(diff(None, None).units, 0.0);
        assert_eq!(diff(None, e("a", 1)).units, 1.0);
        assert_eq!(diff(e("a", 1), None).units, 1.0);
        assert_eq!(diff(e("a", 1), e("a", 1)).units, 0.0);
        let same_key = diff(e("a", 1), e("a", 2));
        assert_eq!((same_key.units, same_key.delete.is_none()), (1.0, true));
        let moved = diff(e("a", 1), e("b", 1));
        assert_eq!(
            (moved.units, moved.delete.is_some(), moved.put.is_some()),
            (2.0, true, true)
        );
    }
}
