//! What a change of a base item does to one index: the entry to delete and the entry to
//! put ([`derive()`]), and the write-time check of an item's index key attributes
//! ([`check_item`]).

use strata_item::key::KeyEncodeError;
use strata_item::{AttributeValue, Item, KeyError, KeyRole, KeySchema, KeyType, PrimaryKey, codec};

use crate::def::{GsiDef, Projection};
use crate::layout::EntryKey;
use crate::project::project;

/// DynamoDB's write unit: 1 KB.
const WRITE_UNIT_BYTES: usize = 1024;

/// An entry key with its bytes and its GSI partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedKey {
    /// The index key and base key.
    pub key: EntryKey,
    /// The GSI partition it belongs to.
    pub partition: u32,
    /// [`EntryKey::encode`]'s bytes.
    pub bytes: Vec<u8>,
}

impl PlacedKey {
    /// Places `key` among `partitions`.
    ///
    /// # Errors
    /// [`KeyEncodeError`] when a value is not `S`, `N` or `B`.
    pub fn new(key: EntryKey, partitions: u32) -> Result<PlacedKey, KeyEncodeError> {
        Ok(PlacedKey {
            partition: key.partition(partitions)?,
            bytes: key.encode()?,
            key,
        })
    }
}

/// One base item's entry in one index.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexEntry {
    /// Where it is stored.
    pub at: PlacedKey,
    /// The projected item ([`project`]).
    pub item: Item,
    /// The projected item's DynamoDB size.
    pub size: usize,
}

impl IndexEntry {
    /// The stored value: the projected item in the item codec (`docs/item-codec.md`).
    pub fn value(&self) -> Vec<u8> {
        codec::encode_item(&self.item)
    }
}

/// What one base change does to one index. Both `None`: nothing (no entry before or
/// after, or the entry is unchanged).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IndexDelta {
    /// The old entry to delete (its index key changed, or it has no entry any more).
    pub delete: Option<PlacedKey>,
    /// The entry to put (new, moved, or with changed projected attributes).
    pub put: Option<IndexEntry>,
    /// Write units this costs the index, as DynamoDB counts them: a new entry
    /// `ceil(new/1 KB)`; a removed entry `ceil(old/1 KB)`; a moved entry both; an entry
    /// whose projected attributes changed `ceil(max(old, new)/1 KB)`; nothing 0.
    pub write_units: u64,
}

impl IndexDelta {
    /// Whether the change leaves the index as it was.
    pub fn is_empty(&self) -> bool {
        self.delete.is_none() && self.put.is_none()
    }
}

/// An index delta ready to store: the entry key to delete, and the entry key to put
/// with its stored value (the projected item in the item codec). What a maintainer
/// applies; a source that already holds the projected item's bytes (the base item's
/// own bytes, for an `ALL` projection) builds it without decoding the item.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeltaOps {
    /// The entry to delete.
    pub delete: Option<PlacedKey>,
    /// The entry to put and its value.
    pub put: Option<(PlacedKey, Vec<u8>)>,
}

impl From<IndexDelta> for DeltaOps {
    fn from(d: IndexDelta) -> DeltaOps {
        DeltaOps {
            put: d.put.map(|e| {
                let value = e.value();
                (e.at, value)
            }),
            delete: d.delete,
        }
    }
}

/// Where a write's delta puts and deletes entries, without the projected items (what a
/// writer records; the maintainer projects the committed item later).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeltaKeys {
    /// The entry to delete.
    pub delete: Option<PlacedKey>,
    /// The entry to put.
    pub put: Option<PlacedKey>,
    /// Write units, as [`IndexDelta::write_units`].
    pub write_units: u64,
}

impl DeltaKeys {
    /// Whether the change leaves the index as it was.
    pub fn is_empty(&self) -> bool {
        self.delete.is_none() && self.put.is_none()
    }
}

fn units(bytes: usize) -> u64 {
    bytes.div_ceil(WRITE_UNIT_BYTES).max(1) as u64
}

/// Checks the item's index key attributes that are present: the declared type, not
/// empty, at most 2048 bytes (partition key) or 1024 bytes (sort key). This is what a
/// write of `item` must pass, before anything is written, while the index exists (an
/// item without the attributes passes: it has no entry).
///
/// ```
/// use strata_index::{check_item, DeriveError, GsiDef};
/// use strata_item::{item, KeySchema, KeyType};
///
/// let def = GsiDef::new("by_city", KeySchema::simple("city", KeyType::S));
/// assert!(check_item(&def, &item! { "id" => "u1" }).is_ok());
/// let err = check_item(&def, &item! { "id" => "u1", "city" => 7 }).unwrap_err();
/// assert!(matches!(err, DeriveError::IndexKeyTypeMismatch { .. }));
/// assert!(err.to_string().contains("Type mismatch for Index Key city Expected: S Actual: N IndexName: by_city"));
/// ```
///
/// # Errors
/// [`DeriveError::IndexKeyTypeMismatch`] or [`DeriveError::IndexKeyInvalid`].
pub fn check_item(def: &GsiDef, item: &Item) -> Result<(), DeriveError> {
    index_key(def, item).map(|_| ())
}

/// Checks one index key attribute's value `v` (declared as `attr`, in `role`) of index
/// `index`: the declared type, not empty, within DynamoDB's key size limits. The one
/// place where secondary index key values are checked, for GSIs and LSIs alike.
///
/// ```
/// use strata_index::{check_key_attribute, DeriveError};
/// use strata_item::{AttributeValue, KeyAttribute, KeyRole, KeyType};
///
/// let attr = KeyAttribute::new("d", KeyType::N);
/// assert!(check_key_attribute("by_d", &attr, KeyRole::Sort, &AttributeValue::from(3)).is_ok());
/// let e = check_key_attribute("by_d", &attr, KeyRole::Sort, &AttributeValue::from("x")).unwrap_err();
/// assert!(matches!(e, DeriveError::IndexKeyTypeMismatch { .. }));
/// ```
///
/// # Errors
/// [`DeriveError::IndexKeyTypeMismatch`] or [`DeriveError::IndexKeyInvalid`].
pub fn check_key_attribute(
    index: &str,
    attr: &strata_item::KeyAttribute,
    role: KeyRole,
    v: &AttributeValue,
) -> Result<(), DeriveError> {
    KeySchema::check_key_value(attr, role, v).map_err(|e| DeriveError::from_key_error(index, e))
}

/// The item's index key, `None` when it lacks an index key attribute (sparse), an error
/// when a present one is invalid.
fn index_key(def: &GsiDef, item: &Item) -> Result<Option<PrimaryKey>, DeriveError> {
    let schema = &def.key_schema;
    let check =
        |attr: &strata_item::KeyAttribute, role| -> Result<Option<AttributeValue>, DeriveError> {
            let Some(v) = item.get(&attr.name) else {
                return Ok(None);
            };
            KeySchema::check_key_value(attr, role, v)
                .map_err(|e| DeriveError::from_key_error(&def.name, e))?;
            Ok(Some(v.clone()))
        };
    let partition = check(&schema.partition_key, KeyRole::Partition)?;
    let sort = match &schema.sort_key {
        Some(attr) => match check(attr, KeyRole::Sort)? {
            Some(v) => Some(v),
            None => return Ok(None),
        },
        None => None,
    };
    Ok(partition.map(|partition| PrimaryKey { partition, sort }))
}

/// Where `item`'s entry goes and how large it is, without building the projected item
/// when it is the whole item (`ALL`).
#[derive(Debug)]
struct Slot {
    at: PlacedKey,
    /// The projected item, unless the projection is `ALL` (then it is the item itself).
    projected: Option<Item>,
    /// The projected item's DynamoDB size.
    size: usize,
}

impl Slot {
    fn into_entry(self, item: &Item) -> IndexEntry {
        IndexEntry {
            at: self.at,
            item: self.projected.unwrap_or_else(|| item.clone()),
            size: self.size,
        }
    }
}

fn slot_of(def: &GsiDef, base: &KeySchema, item: &Item) -> Result<Option<Slot>, DeriveError> {
    let Some(index) = index_key(def, item)? else {
        return Ok(None);
    };
    let base_key = base.extract_key(item).map_err(DeriveError::BaseKey)?;
    let at = PlacedKey::new(
        EntryKey {
            index,
            base: base_key,
        },
        def.partitions,
    )
    .map_err(DeriveError::Encode)?;
    let (projected, size) = if def.projection == Projection::All {
        (None, item.size())
    } else {
        let p = project(def, base, item);
        let size = p.size();
        (Some(p), size)
    };
    Ok(Some(Slot {
        at,
        projected,
        size,
    }))
}

/// The entry of `item` in the index, or `None` when it lacks an index key attribute.
///
/// # Errors
/// [`DeriveError`] when an index key attribute is invalid or the item lacks its base
/// key.
pub fn entry_of(
    def: &GsiDef,
    base: &KeySchema,
    item: &Item,
) -> Result<Option<IndexEntry>, DeriveError> {
    Ok(slot_of(def, base, item)?.map(|s| s.into_entry(item)))
}

/// What a base item going from `old` to `new` (`None`: absent) does to the index.
///
/// - The new item's index key attributes are checked ([`check_item`]); an invalid one is
///   an error, so the engine calls this *before* writing the base item and writes
///   nothing when it fails.
/// - An old item whose index key attributes are invalid has no entry (it was written
///   before the index existed and was skipped by the backfill, as DynamoDB does).
/// - Sparse: an item without the index key attributes has no entry.
/// - An unchanged entry (same key, same projected item) gives an empty delta; a changed
///   projection under the same key gives one put and no delete.
///
/// ```
/// use strata_index::{derive, GsiDef, Projection};
/// use strata_item::{item, KeySchema, KeyType};
///
/// let base = KeySchema::simple("id", KeyType::S);
/// let def = GsiDef::new("by_city", KeySchema::simple("city", KeyType::S)).projection(Projection::KeysOnly);
/// let old = item! { "id" => "u1", "city" => "Oslo", "age" => 40 };
/// let moved = item! { "id" => "u1", "city" => "Rome", "age" => 40 };
/// let d = derive(&def, &base, Some(&old), Some(&moved))?;
/// assert!(d.delete.is_some() && d.put.is_some());
/// // Only a non-projected attribute changed: nothing to do.
/// let older = item! { "id" => "u1", "city" => "Oslo", "age" => 41 };
/// assert!(derive(&def, &base, Some(&old), Some(&older))?.is_empty());
/// # Ok::<(), strata_index::DeriveError>(())
/// ```
///
/// # Errors
/// [`DeriveError`]: an invalid index key attribute in `new`, a missing base key, or
/// `old` and `new` with different base keys.
pub fn derive(
    def: &GsiDef,
    base: &KeySchema,
    old: Option<&Item>,
    new: Option<&Item>,
) -> Result<IndexDelta, DeriveError> {
    let (keys, slot) = derive_slots(def, base, old, new, false)?;
    Ok(materialize(keys, slot, new))
}

/// [`derive()`] without the projected item: where the entries go and what they cost.
/// Cheaper for a writer (an `ALL` projection copies nothing); the same checks and
/// errors.
///
/// # Errors
/// As [`derive()`].
pub fn derive_keys(
    def: &GsiDef,
    base: &KeySchema,
    old: Option<&Item>,
    new: Option<&Item>,
) -> Result<DeltaKeys, DeriveError> {
    derive_slots(def, base, old, new, false).map(|(k, _)| k.keys)
}

/// [`derive()`] for changes already committed (the maintainer's and the backfill's
/// view): a new item with an invalid index key attribute has no entry (DynamoDB skips
/// such items in a backfill) instead of being an error. Also says whether the new item
/// was skipped for that reason.
pub fn derive_committed(
    def: &GsiDef,
    base: &KeySchema,
    old: Option<&Item>,
    new: Option<&Item>,
) -> Result<(IndexDelta, bool), DeriveError> {
    let (keys, slot) = derive_slots(def, base, old, new, true)?;
    let skipped = keys.skipped;
    Ok((materialize(keys, slot, new), skipped))
}

/// [`derive_keys`] with [`derive_committed`]'s leniency: also says whether the new
/// item was skipped for an invalid index key attribute.
///
/// # Errors
/// As [`derive_committed`].
pub fn derive_keys_committed(
    def: &GsiDef,
    base: &KeySchema,
    old: Option<&Item>,
    new: Option<&Item>,
) -> Result<(DeltaKeys, bool), DeriveError> {
    derive_slots(def, base, old, new, true).map(|(k, _)| {
        let skipped = k.skipped;
        (k.keys, skipped)
    })
}

/// Keys and units of a delta, whether the new item was skipped, and the new slot when
/// the delta puts it.
#[derive(Debug)]
struct Derived {
    keys: DeltaKeys,
    skipped: bool,
}

fn materialize(d: Derived, slot: Option<Slot>, new: Option<&Item>) -> IndexDelta {
    let put = match (slot, new) {
        (Some(s), Some(n)) => Some(s.into_entry(n)),
        _ => None,
    };
    IndexDelta {
        delete: d.keys.delete,
        put,
        write_units: d.keys.write_units,
    }
}

/// The entry of `item`, or none (and `true`) when an index key attribute is invalid.
pub(crate) fn lenient_entry(
    def: &GsiDef,
    base: &KeySchema,
    item: &Item,
) -> Result<(Option<IndexEntry>, bool), DeriveError> {
    lenient_slot(def, base, item).map(|(s, skipped)| (s.map(|s| s.into_entry(item)), skipped))
}

/// The slot of `item`, or none (and `true`) when an index key attribute is invalid.
fn lenient_slot(
    def: &GsiDef,
    base: &KeySchema,
    item: &Item,
) -> Result<(Option<Slot>, bool), DeriveError> {
    match slot_of(def, base, item) {
        Ok(e) => Ok((e, false)),
        Err(DeriveError::IndexKeyTypeMismatch { .. } | DeriveError::IndexKeyInvalid { .. }) => {
            // The base key must still be valid: a broken base item is an error.
            base.extract_key(item).map_err(DeriveError::BaseKey)?;
            Ok((None, true))
        }
        Err(e) => Err(e),
    }
}

/// The one derivation: `lenient` for committed changes.
fn derive_slots(
    def: &GsiDef,
    base: &KeySchema,
    old: Option<&Item>,
    new: Option<&Item>,
    lenient: bool,
) -> Result<(Derived, Option<Slot>), DeriveError> {
    let (new_slot, skipped) = match new {
        Some(item) if lenient => lenient_slot(def, base, item)?,
        Some(item) => (slot_of(def, base, item)?, false),
        None => (None, false),
    };
    let old_slot = old
        .map(|item| lenient_slot(def, base, item))
        .transpose()?
        .and_then(|(e, _)| e);
    if let (Some(o), Some(n)) = (old, new) {
        let ok = base.extract_key(o).map_err(DeriveError::BaseKey)?;
        let nk = base.extract_key(n).map_err(DeriveError::BaseKey)?;
        if ok != nk {
            return Err(DeriveError::BaseKeyChanged);
        }
    }
    let (keys, put) = match (old_slot, new_slot) {
        (None, None) => (DeltaKeys::default(), None),
        (Some(o), None) => (
            DeltaKeys {
                write_units: units(o.size),
                delete: Some(o.at),
                put: None,
            },
            None,
        ),
        (None, Some(n)) => (
            DeltaKeys {
                write_units: units(n.size),
                delete: None,
                put: Some(n.at.clone()),
            },
            Some(n),
        ),
        (Some(o), Some(n)) if o.at == n.at => {
            // The same projection: for `ALL` the items themselves.
            let same = match (&o.projected, &n.projected) {
                (Some(a), Some(b)) => a == b,
                _ => old == new,
            };
            if same {
                (DeltaKeys::default(), None)
            } else {
                (
                    DeltaKeys {
                        write_units: units(o.size.max(n.size)),
                        delete: None,
                        put: Some(n.at.clone()),
                    },
                    Some(n),
                )
            }
        }
        (Some(o), Some(n)) => (
            DeltaKeys {
                write_units: units(o.size) + units(n.size),
                delete: Some(o.at),
                put: Some(n.at.clone()),
            },
            Some(n),
        ),
    };
    Ok((Derived { keys, skipped }, put))
}

/// Why an index entry cannot be derived. The first two are what a writer sees (DynamoDB's
/// `ValidationException` wording); the others mean the caller passed something that is
/// not a valid base item.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeriveError {
    /// An index key attribute has the wrong type.
    #[error(
        "One or more parameter values were invalid: Type mismatch for Index Key {attribute} Expected: {expected} Actual: {actual} IndexName: {index}"
    )]
    IndexKeyTypeMismatch {
        /// The index.
        index: String,
        /// The index key attribute.
        attribute: String,
        /// Its declared type.
        expected: KeyType,
        /// The type the item has.
        actual: &'static str,
    },
    /// An index key attribute is empty or too large.
    #[error(
        "One or more parameter values are not valid. A value specified for a secondary index key is not supported: {reason}. IndexName: {index}, IndexKey: {attribute}"
    )]
    IndexKeyInvalid {
        /// The index.
        index: String,
        /// The index key attribute.
        attribute: String,
        /// What is wrong with the value.
        reason: String,
    },
    /// The item lacks its base key (or it is invalid).
    #[error("not a valid base item: {0}")]
    BaseKey(KeyError),
    /// The old and the new item have different base keys.
    #[error("the old and the new item of one change have different primary keys")]
    BaseKeyChanged,
    /// A key value cannot be encoded (not `S`, `N` or `B`).
    #[error("index key cannot be encoded: {0}")]
    Encode(KeyEncodeError),
}

impl DeriveError {
    fn from_key_error(index: &str, e: KeyError) -> DeriveError {
        let invalid = |attribute: String, reason: String| DeriveError::IndexKeyInvalid {
            index: index.to_owned(),
            attribute,
            reason,
        };
        match e {
            KeyError::TypeMismatch {
                name,
                expected,
                actual,
            } => DeriveError::IndexKeyTypeMismatch {
                index: index.to_owned(),
                attribute: name,
                expected,
                actual,
            },
            KeyError::EmptyString { name } => invalid(
                name,
                "The AttributeValue for a key attribute cannot contain an empty string value"
                    .into(),
            ),
            KeyError::EmptyBinary { name } => invalid(
                name,
                "The AttributeValue for a key attribute cannot contain an empty binary value"
                    .into(),
            ),
            KeyError::PartitionKeyTooLarge { name, size } => invalid(
                name,
                format!(
                    "Size of hashkey has exceeded the maximum size limit of {} bytes ({size} bytes)",
                    strata_item::MAX_PARTITION_KEY_BYTES
                ),
            ),
            KeyError::SortKeyTooLarge { name, size } => invalid(
                name,
                format!(
                    "Aggregated size of all range keys has exceeded the size limit of {} bytes ({size} bytes)",
                    strata_item::MAX_SORT_KEY_BYTES
                ),
            ),
            other => DeriveError::BaseKey(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::def::Projection;
    use strata_item::item;
    use strata_item::validate::MAX_ITEM_SIZE;

    fn base() -> KeySchema {
        KeySchema::composite("pk", KeyType::S, "sk", KeyType::N)
    }

    fn def(p: Projection) -> GsiDef {
        GsiDef::new(
            "idx",
            KeySchema::composite("g", KeyType::S, "h", KeyType::N),
        )
        .projection(p)
    }

    fn d(def: &GsiDef, old: Option<&Item>, new: Option<&Item>) -> IndexDelta {
        derive(def, &base(), old, new).unwrap()
    }

    #[test]
    fn derivation_table() {
        let keys = def(Projection::KeysOnly);
        let inc = def(Projection::Include(vec!["t".into()]));
        let all = def(Projection::All);
        let a = item! { "pk" => "a", "sk" => 1, "g" => "x", "h" => 1, "t" => "t1", "o" => 1 };
        let a_o = item! { "pk" => "a", "sk" => 1, "g" => "x", "h" => 1, "t" => "t1", "o" => 2 };
        let a_t = item! { "pk" => "a", "sk" => 1, "g" => "x", "h" => 1, "t" => "t2", "o" => 1 };
        let a_moved = item! { "pk" => "a", "sk" => 1, "g" => "y", "h" => 1, "t" => "t1", "o" => 1 };
        let a_no_h = item! { "pk" => "a", "sk" => 1, "g" => "x", "t" => "t1" };
        let a_no_g = item! { "pk" => "a", "sk" => 1, "h" => 1 };
        for def in [&keys, &inc, &all] {
            // Insert, delete, nothing, sparse.
            let put = d(def, None, Some(&a));
            assert!(put.delete.is_none() && put.put.is_some() && put.write_units == 1);
            let del = d(def, Some(&a), None);
            assert!(del.delete.is_some() && del.put.is_none() && del.write_units == 1);
            assert!(d(def, None, None).is_empty());
            assert!(d(def, None, Some(&a_no_h)).is_empty());
            assert!(d(def, None, Some(&a_no_g)).is_empty());
            // Removing an indexed attribute removes the entry; adding it back adds it.
            assert_eq!(
                d(def, Some(&a), Some(&a_no_h)).delete,
                put.put.as_ref().map(|p| p.at.clone())
            );
            assert!(d(def, Some(&a), Some(&a_no_h)).put.is_none());
            assert!(d(def, Some(&a_no_g), Some(&a)).put.is_some());
            // Key change: delete old, put new.
            let mv = d(def, Some(&a), Some(&a_moved));
            assert_eq!(
                mv.delete.as_ref().map(|k| &k.key.index),
                Some(&PrimaryKey::with_sort("x", 1))
            );
            assert_eq!(
                mv.put.as_ref().map(|e| &e.at.key.index),
                Some(&PrimaryKey::with_sort("y", 1))
            );
            assert_eq!(mv.write_units, 2);
            // Unchanged item: nothing.
            assert!(d(def, Some(&a), Some(&a)).is_empty());
        }
        // A non-projected change is nothing; a projected change is one put.
        assert!(d(&keys, Some(&a), Some(&a_o)).is_empty());
        assert!(d(&inc, Some(&a), Some(&a_o)).is_empty());
        let t = d(&inc, Some(&a), Some(&a_t));
        assert!(t.delete.is_none() && t.put.is_some());
        let o = d(&all, Some(&a), Some(&a_o));
        assert!(o.delete.is_none() && o.put.as_ref().map(|e| &e.item) == Some(&a_o));
        assert!(d(&keys, Some(&a), Some(&a_t)).is_empty());
        // Entry contents.
        let e = d(&keys, None, Some(&a)).put.unwrap();
        assert_eq!(
            e.item,
            item! { "pk" => "a", "sk" => 1, "g" => "x", "h" => 1 }
        );
        assert_eq!(e.size, e.item.size());
        assert_eq!(codec::decode_item(&e.value()).unwrap(), e.item);
        assert_eq!(e.at.key.base, PrimaryKey::with_sort("a", 1));
        assert_eq!(e.at.partition, e.at.key.partition(keys.partitions).unwrap());
    }

    #[test]
    fn type_errors_reject_the_new_item() {
        let def = def(Projection::All);
        let ok = item! { "pk" => "a", "sk" => 1, "g" => "x", "h" => 1 };
        let cases: Vec<(Item, &str)> = vec![
            (
                item! { "pk" => "a", "sk" => 1, "g" => 1, "h" => 1 },
                "Type mismatch for Index Key g Expected: S Actual: N IndexName: idx",
            ),
            (
                item! { "pk" => "a", "sk" => 1, "g" => "x", "h" => "1" },
                "Type mismatch for Index Key h Expected: N Actual: S",
            ),
            // A wrong type is an error even when the other key attribute is absent.
            (
                item! { "pk" => "a", "sk" => 1, "h" => "1" },
                "Type mismatch for Index Key h",
            ),
            (
                item! { "pk" => "a", "sk" => 1, "g" => "", "h" => 1 },
                "empty string value. IndexName: idx, IndexKey: g",
            ),
            (
                item! { "pk" => "a", "sk" => 1, "g" => "x".repeat(2049), "h" => 1 },
                "maximum size limit of 2048 bytes",
            ),
        ];
        for (bad, want) in cases {
            let err = derive(&def, &base(), Some(&ok), Some(&bad)).unwrap_err();
            assert!(
                err.to_string().contains(want),
                "{err} should contain {want:?}"
            );
            assert_eq!(check_item(&def, &bad).unwrap_err(), err);
        }
        assert!(
            check_item(
                &def,
                &item! { "pk" => "a", "sk" => 1, "g" => "x".repeat(2048) }
            )
            .is_ok()
        );
        let bdef = GsiDef::new(
            "idx",
            KeySchema::composite("g", KeyType::S, "h", KeyType::B),
        );
        let e = check_item(&bdef, &item! { "g" => "x", "h" => vec![0u8; 1025] }).unwrap_err();
        assert!(e.to_string().contains("1024 bytes"), "{e}");
        let e = check_item(&bdef, &item! { "g" => "x", "h" => Vec::<u8>::new() }).unwrap_err();
        assert!(e.to_string().contains("empty binary"), "{e}");
        assert!(check_item(&bdef, &item! { "g" => "x", "h" => vec![0u8; 1024] }).is_ok());
    }

    #[test]
    fn invalid_old_items_have_no_entry() {
        let def = def(Projection::All);
        let legacy = item! { "pk" => "a", "sk" => 1, "g" => 5, "h" => 1 };
        let fixed = item! { "pk" => "a", "sk" => 1, "g" => "x", "h" => 1 };
        let delta = d(&def, Some(&legacy), Some(&fixed));
        assert!(delta.delete.is_none() && delta.put.is_some());
        assert!(d(&def, Some(&legacy), None).is_empty());
    }

    #[test]
    fn bad_base_items() {
        let def = def(Projection::All);
        let no_base = item! { "g" => "x", "h" => 1 };
        assert!(matches!(
            derive(&def, &base(), None, Some(&no_base)),
            Err(DeriveError::BaseKey(_))
        ));
        let a = item! { "pk" => "a", "sk" => 1 };
        let b = item! { "pk" => "b", "sk" => 1 };
        assert_eq!(
            derive(&def, &base(), Some(&a), Some(&b)),
            Err(DeriveError::BaseKeyChanged)
        );
    }

    #[test]
    fn items_at_the_size_limit() {
        // An item near 400 KB: ALL copies it whole, KEYS_ONLY stays small.
        let filler = "z".repeat(MAX_ITEM_SIZE - 100);
        let big = item! { "pk" => "a", "sk" => 1, "g" => "x", "h" => 1, "f" => filler };
        assert!(big.size() <= MAX_ITEM_SIZE);
        let all = d(&def(Projection::All), None, Some(&big)).put.unwrap();
        assert_eq!(all.size, big.size());
        assert_eq!(
            d(&def(Projection::All), None, Some(&big)).write_units,
            big.size().div_ceil(1024) as u64
        );
        let keys = d(&def(Projection::KeysOnly), None, Some(&big)).put.unwrap();
        assert!(keys.size < 100);
        let same_key = d(
            &def(Projection::All),
            Some(&big),
            Some(&item! { "pk" => "a", "sk" => 1, "g" => "x", "h" => 1 }),
        );
        assert!(same_key.delete.is_none());
        assert_eq!(same_key.write_units, 400);
    }
}
