//! Key schemas and primary keys: which attributes form an item's key, and pulling the key
//! out of an item with DynamoDB's checks.

use std::fmt;

use crate::{AttributeValue, Item, echo};

/// Most bytes a partition key value may have (DynamoDB: 2048).
pub const MAX_PARTITION_KEY_BYTES: usize = 2048;
/// Most bytes a sort key value may have (DynamoDB: 1024).
pub const MAX_SORT_KEY_BYTES: usize = 1024;
/// Most bytes a key attribute's name may have (DynamoDB: 255).
pub const MAX_KEY_NAME_BYTES: usize = 255;

/// The scalar type of a key attribute (DynamoDB's `AttributeDefinition.AttributeType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyType {
    /// String.
    S,
    /// Number.
    N,
    /// Binary.
    B,
}

impl KeyType {
    /// `"S"`, `"N"` or `"B"`.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::S => "S",
            KeyType::N => "N",
            KeyType::B => "B",
        }
    }

    /// Whether `v` has this type.
    pub fn matches(self, v: &AttributeValue) -> bool {
        matches!(
            (self, v),
            (KeyType::S, AttributeValue::S(_))
                | (KeyType::N, AttributeValue::N(_))
                | (KeyType::B, AttributeValue::B(_))
        )
    }

    /// The key type of a value, if it is a scalar that can be a key.
    pub fn of(v: &AttributeValue) -> Option<KeyType> {
        match v {
            AttributeValue::S(_) => Some(KeyType::S),
            AttributeValue::N(_) => Some(KeyType::N),
            AttributeValue::B(_) => Some(KeyType::B),
            _ => None,
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One key attribute: its name and scalar type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyAttribute {
    /// Attribute name (1 to 255 bytes).
    pub name: String,
    /// Scalar type.
    pub key_type: KeyType,
}

impl KeyAttribute {
    /// A key attribute.
    pub fn new(name: impl Into<String>, key_type: KeyType) -> KeyAttribute {
        KeyAttribute {
            name: name.into(),
            key_type,
        }
    }
}

/// Which attribute: the partition ("hash") key or the sort ("range") key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRole {
    /// The partition key.
    Partition,
    /// The sort key.
    Sort,
}

impl fmt::Display for KeyRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyRole::Partition => "partition key",
            KeyRole::Sort => "sort key",
        })
    }
}

/// Why an item (or a key) does not fit a key schema. Messages follow DynamoDB's
/// `ValidationException` wording. Attribute names are cut to a fixed size
/// ([`crate::echo`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A key attribute is absent.
    #[error("One or more parameter values were invalid: Missing the key {name} in the item")]
    Missing {
        /// Attribute name.
        name: String,
    },
    /// A key attribute has the wrong type.
    #[error(
        "One or more parameter values were invalid: Type mismatch for key {name} expected: {expected} actual: {actual}"
    )]
    TypeMismatch {
        /// Attribute name.
        name: String,
        /// Type from the schema.
        expected: KeyType,
        /// Type found (`"S"`, `"L"`, ...).
        actual: &'static str,
    },
    /// A string key value is empty.
    #[error(
        "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: {name}"
    )]
    EmptyString {
        /// Attribute name.
        name: String,
    },
    /// A binary key value is empty.
    #[error(
        "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty binary value. Key: {name}"
    )]
    EmptyBinary {
        /// Attribute name.
        name: String,
    },
    /// The partition key value is longer than 2048 bytes.
    #[error(
        "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of 2048 bytes (key {name} has {size} bytes)"
    )]
    PartitionKeyTooLarge {
        /// Attribute name.
        name: String,
        /// Its size in bytes.
        size: usize,
    },
    /// The sort key value is longer than 1024 bytes.
    #[error(
        "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes (key {name} has {size} bytes)"
    )]
    SortKeyTooLarge {
        /// Attribute name.
        name: String,
        /// Its size in bytes.
        size: usize,
    },
    /// A key given on its own (as for `GetItem`) has attributes that are not key
    /// attributes, or lacks some. DynamoDB's message, followed by which.
    #[error("The provided key element does not match the schema ({detail})")]
    SchemaMismatch {
        /// What is missing or extra, e.g. "missing the sort key sk".
        detail: String,
    },
    /// A key schema names an attribute with an empty or too long name, or uses the same
    /// name twice.
    #[error("invalid key schema: {reason}")]
    InvalidSchema {
        /// What is wrong.
        reason: String,
    },
}

/// A table's (or index's) key schema: a partition key and an optional sort key.
///
/// ```
/// use strata_item::{item, KeySchema, KeyType, AttributeValue};
///
/// let schema = KeySchema::composite("pk", KeyType::S, "sk", KeyType::N);
/// let key = schema.extract_key(&item! { "pk" => "user#1", "sk" => 7, "x" => true })?;
/// assert_eq!(key.partition, AttributeValue::from("user#1"));
/// assert_eq!(key.sort, Some(AttributeValue::from(7)));
///
/// let err = schema.extract_key(&item! { "pk" => "user#1" }).unwrap_err();
/// assert!(err.to_string().contains("Missing the key sk"));
/// # Ok::<(), strata_item::KeyError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeySchema {
    /// The partition ("hash") key.
    pub partition_key: KeyAttribute,
    /// The sort ("range") key, if any.
    pub sort_key: Option<KeyAttribute>,
}

/// A primary key value: the partition key value and, for tables with a sort key, the sort
/// key value. Values are `S`, `N` or `B` (checked by [`KeySchema::extract_key`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrimaryKey {
    /// Partition key value.
    pub partition: AttributeValue,
    /// Sort key value.
    pub sort: Option<AttributeValue>,
}

impl PrimaryKey {
    /// A key without a sort key.
    pub fn partition_only(partition: impl Into<AttributeValue>) -> PrimaryKey {
        PrimaryKey {
            partition: partition.into(),
            sort: None,
        }
    }

    /// A key with a sort key.
    pub fn with_sort(
        partition: impl Into<AttributeValue>,
        sort: impl Into<AttributeValue>,
    ) -> PrimaryKey {
        PrimaryKey {
            partition: partition.into(),
            sort: Some(sort.into()),
        }
    }

    /// The key as an item holding only the key attributes (as DynamoDB's `Key` map).
    pub fn to_item(&self, schema: &KeySchema) -> Item {
        let mut item = Item::new();
        item.insert(schema.partition_key.name.clone(), self.partition.clone());
        if let (Some(attr), Some(v)) = (&schema.sort_key, &self.sort) {
            item.insert(attr.name.clone(), v.clone());
        }
        item
    }
}

impl KeySchema {
    /// A schema with a partition key only.
    pub fn simple(name: impl Into<String>, key_type: KeyType) -> KeySchema {
        KeySchema {
            partition_key: KeyAttribute::new(name, key_type),
            sort_key: None,
        }
    }

    /// A schema with a partition key and a sort key.
    pub fn composite(
        pk_name: impl Into<String>,
        pk_type: KeyType,
        sk_name: impl Into<String>,
        sk_type: KeyType,
    ) -> KeySchema {
        KeySchema {
            partition_key: KeyAttribute::new(pk_name, pk_type),
            sort_key: Some(KeyAttribute::new(sk_name, sk_type)),
        }
    }

    /// Checks the schema itself: names of 1 to 255 bytes, partition and sort key names
    /// different.
    ///
    /// # Errors
    /// [`KeyError::InvalidSchema`].
    pub fn validate(&self) -> Result<(), KeyError> {
        for attr in std::iter::once(&self.partition_key).chain(self.sort_key.as_ref()) {
            if attr.name.is_empty() || attr.name.len() > MAX_KEY_NAME_BYTES {
                return Err(KeyError::InvalidSchema {
                    reason: format!(
                        "key attribute name must be 1 to {MAX_KEY_NAME_BYTES} bytes, got {} bytes",
                        attr.name.len()
                    ),
                });
            }
        }
        if let Some(sk) = &self.sort_key
            && sk.name == self.partition_key.name
        {
            return Err(KeyError::InvalidSchema {
                reason: format!(
                    "partition key and sort key have the same name {:?}",
                    echo::shown(&sk.name)
                ),
            });
        }
        Ok(())
    }

    /// Whether `name` is one of the key attributes.
    pub fn is_key_attribute(&self, name: &str) -> bool {
        self.partition_key.name == name || self.sort_key.as_ref().is_some_and(|s| s.name == name)
    }

    /// The key attributes: partition first, then sort.
    pub fn attributes(&self) -> impl Iterator<Item = &KeyAttribute> {
        std::iter::once(&self.partition_key).chain(self.sort_key.as_ref())
    }

    /// Checks one key value against its attribute: type, non-empty, size limit.
    ///
    /// # Errors
    /// [`KeyError::TypeMismatch`], [`KeyError::EmptyString`], [`KeyError::EmptyBinary`],
    /// [`KeyError::PartitionKeyTooLarge`], [`KeyError::SortKeyTooLarge`].
    pub fn check_key_value(
        attr: &KeyAttribute,
        role: KeyRole,
        v: &AttributeValue,
    ) -> Result<(), KeyError> {
        if !attr.key_type.matches(v) {
            return Err(KeyError::TypeMismatch {
                name: echo::owned(&attr.name),
                expected: attr.key_type,
                actual: v.type_name(),
            });
        }
        let size = match v {
            AttributeValue::S(s) if s.is_empty() => {
                return Err(KeyError::EmptyString {
                    name: echo::owned(&attr.name),
                });
            }
            AttributeValue::B(b) if b.is_empty() => {
                return Err(KeyError::EmptyBinary {
                    name: echo::owned(&attr.name),
                });
            }
            other => other.size(),
        };
        match role {
            KeyRole::Partition if size > MAX_PARTITION_KEY_BYTES => {
                Err(KeyError::PartitionKeyTooLarge {
                    name: echo::owned(&attr.name),
                    size,
                })
            }
            KeyRole::Sort if size > MAX_SORT_KEY_BYTES => Err(KeyError::SortKeyTooLarge {
                name: echo::owned(&attr.name),
                size,
            }),
            _ => Ok(()),
        }
    }

    /// Extracts and checks the primary key of an item (which may hold other attributes).
    ///
    /// # Errors
    /// [`KeyError::Missing`] when a key attribute is absent, and the errors of
    /// [`KeySchema::check_key_value`].
    pub fn extract_key(&self, item: &Item) -> Result<PrimaryKey, KeyError> {
        let get = |attr: &KeyAttribute, role| -> Result<AttributeValue, KeyError> {
            let v = item.get(&attr.name).ok_or_else(|| KeyError::Missing {
                name: echo::owned(&attr.name),
            })?;
            Self::check_key_value(attr, role, v)?;
            Ok(v.clone())
        };
        let partition = get(&self.partition_key, KeyRole::Partition)?;
        let sort = match &self.sort_key {
            Some(attr) => Some(get(attr, KeyRole::Sort)?),
            None => None,
        };
        Ok(PrimaryKey { partition, sort })
    }

    /// Reads a key given on its own, as in `GetItem`'s or `DeleteItem`'s `Key` map: it must
    /// hold exactly the key attributes.
    ///
    /// # Errors
    /// [`KeyError::SchemaMismatch`] for missing or extra attributes, and the errors of
    /// [`KeySchema::check_key_value`].
    pub fn key_from_key_map(&self, key: &Item) -> Result<PrimaryKey, KeyError> {
        let mut problems = Vec::new();
        for (role, attr) in std::iter::once(("partition", &self.partition_key))
            .chain(self.sort_key.as_ref().map(|a| ("sort", a)))
        {
            if key.get(&attr.name).is_none() {
                problems.push(format!(
                    "missing the {role} key {}",
                    crate::echo::owned(&attr.name)
                ));
            }
        }
        let extra: Vec<&str> = key
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| !self.is_key_attribute(k))
            .collect();
        if !extra.is_empty() {
            let shown = crate::echo::listed(extra.iter().copied());
            problems.push(format!(
                "{} {} not part of the key",
                crate::echo::join_listed(&shown, extra.len()),
                if extra.len() == 1 { "is" } else { "are" }
            ));
        }
        if !problems.is_empty() {
            return Err(KeyError::SchemaMismatch {
                detail: problems.join("; "),
            });
        }
        self.extract_key(key)
    }

    /// Checks a [`PrimaryKey`] against this schema (types, emptiness, sizes, and that a sort
    /// key is present exactly when the schema has one).
    ///
    /// # Errors
    /// [`KeyError::SchemaMismatch`] and the errors of [`KeySchema::check_key_value`].
    pub fn check_key(&self, key: &PrimaryKey) -> Result<(), KeyError> {
        Self::check_key_value(&self.partition_key, KeyRole::Partition, &key.partition)?;
        match (&self.sort_key, &key.sort) {
            (Some(attr), Some(v)) => Self::check_key_value(attr, KeyRole::Sort, v),
            (None, None) => Ok(()),
            (Some(attr), None) => Err(KeyError::SchemaMismatch {
                detail: format!("missing the sort key {}", crate::echo::owned(&attr.name)),
            }),
            (None, Some(_)) => Err(KeyError::SchemaMismatch {
                detail: "the table has no sort key, but the key has a sort key value".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item;

    #[test]
    fn extract_key_errors() {
        let schema = KeySchema::composite("pk", KeyType::S, "sk", KeyType::B);
        let cases: Vec<(Item, &str)> = vec![
            (
                item! { "sk" => vec![1u8] },
                "Missing the key pk in the item",
            ),
            (
                item! { "pk" => 1, "sk" => vec![1u8] },
                "Type mismatch for key pk expected: S actual: N",
            ),
            (
                item! { "pk" => "", "sk" => vec![1u8] },
                "cannot contain an empty string value. Key: pk",
            ),
            (
                item! { "pk" => "a", "sk" => Vec::<u8>::new() },
                "cannot contain an empty binary value. Key: sk",
            ),
            (
                item! { "pk" => "a", "sk" => "s" },
                "Type mismatch for key sk expected: B actual: S",
            ),
            (
                item! { "pk" => "a".repeat(2049), "sk" => vec![1u8] },
                "maximum size limit of 2048 bytes",
            ),
            (
                item! { "pk" => "a", "sk" => vec![0u8; 1025] },
                "size limit of 1024 bytes",
            ),
            (
                item! { "pk" => "a", "sk" => AttributeValue::L(vec![]) },
                "actual: L",
            ),
        ];
        for (item, want) in cases {
            let err = schema.extract_key(&item).unwrap_err().to_string();
            assert!(err.contains(want), "{err} should contain {want}");
        }
        let ok = item! { "pk" => "a".repeat(2048), "sk" => vec![0u8; 1024], "other" => 1 };
        let key = schema.extract_key(&ok).unwrap();
        assert_eq!(key.sort, Some(AttributeValue::B(vec![0u8; 1024])));
        assert_eq!(key.to_item(&schema).len(), 2);
        assert!(schema.check_key(&key).is_ok());
        assert_eq!(
            schema.check_key(&PrimaryKey::partition_only("a")),
            Err(KeyError::SchemaMismatch {
                detail: "missing the sort key sk".into()
            })
        );
    }

    #[test]
    fn key_map_must_match_exactly() {
        let schema = KeySchema::simple("id", KeyType::N);
        assert!(schema.key_from_key_map(&item! { "id" => 1 }).is_ok());
        let msg = |k: Item| schema.key_from_key_map(&k).unwrap_err().to_string();
        assert_eq!(
            msg(item! { "id" => 1, "x" => 2 }),
            "The provided key element does not match the schema (x is not part of the key)"
        );
        assert_eq!(
            msg(item! { "x" => 2, "y" => 3 }),
            "The provided key element does not match the schema (missing the partition key id; x, y are not part of the key)"
        );
        let composite = KeySchema::composite("pk", KeyType::S, "sk", KeyType::N);
        assert_eq!(
            composite
                .key_from_key_map(&item! { "pk" => "a" })
                .unwrap_err()
                .to_string(),
            "The provided key element does not match the schema (missing the sort key sk)"
        );
    }

    #[test]
    fn schema_validation() {
        assert!(KeySchema::simple("a", KeyType::S).validate().is_ok());
        assert!(KeySchema::simple("", KeyType::S).validate().is_err());
        assert!(
            KeySchema::simple("x".repeat(256), KeyType::S)
                .validate()
                .is_err()
        );
        assert!(
            KeySchema::composite("a", KeyType::S, "a", KeyType::N)
                .validate()
                .is_err()
        );
        let s = KeySchema::composite("a", KeyType::S, "b", KeyType::N);
        assert!(s.is_key_attribute("b") && !s.is_key_attribute("c"));
        assert_eq!(s.attributes().count(), 2);
    }
}
