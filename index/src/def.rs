//! What a global secondary index is: [`GsiDef`] (name, key schema, [`Projection`],
//! partition count) and DynamoDB's rules for it ([`GsiDef::validate`] for one index,
//! [`validate_all`] for all indexes of a table).

use strata_item::{KeyAttribute, KeyError, KeySchema, KeyType, MAX_KEY_NAME_BYTES};

/// Most global secondary indexes per table (DynamoDB: 20).
pub const MAX_GLOBAL_SECONDARY_INDEXES: usize = 20;
/// Most hash partitions of one index (each is one LSM tree with its own WAL).
pub const MAX_GSI_PARTITIONS: u32 = 256;
/// Partitions of an index whose definition does not say.
pub const DEFAULT_GSI_PARTITIONS: u32 = 4;
/// Most `INCLUDE` attributes summed over all of a table's indexes, local and global
/// (DynamoDB: 100; an attribute projected into two indexes counts twice).
pub const MAX_PROJECTED_ATTRIBUTES: usize = 100;
/// Shortest index name.
pub const MIN_INDEX_NAME_LEN: usize = 3;
/// Longest index name.
pub const MAX_INDEX_NAME_LEN: usize = 255;

/// Which attributes an index entry holds besides the keys (DynamoDB's `Projection`).
/// The table's key attributes and the index's key attributes are always held.
///
/// ```
/// use strata_index::Projection;
/// assert_eq!(Projection::Include(vec!["title".into()]).type_name(), "INCLUDE");
/// assert_eq!(Projection::default(), Projection::All);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Projection {
    /// Only the table's and the index's key attributes (`KEYS_ONLY`).
    KeysOnly,
    /// The keys plus these attributes (`INCLUDE` with `NonKeyAttributes`).
    Include(Vec<String>),
    /// Every attribute of the item (`ALL`).
    #[default]
    All,
}

impl Projection {
    /// DynamoDB's name: `KEYS_ONLY`, `INCLUDE` or `ALL`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Projection::KeysOnly => "KEYS_ONLY",
            Projection::Include(_) => "INCLUDE",
            Projection::All => "ALL",
        }
    }

    /// The `NonKeyAttributes` (empty unless `INCLUDE`).
    pub fn non_key_attributes(&self) -> &[String] {
        match self {
            Projection::Include(a) => a,
            Projection::KeysOnly | Projection::All => &[],
        }
    }
}

/// A global secondary index: its own partition key (and optional sort key), a
/// projection, and its own number of hash partitions.
///
/// ```
/// use strata_index::{GsiDef, Projection};
/// use strata_item::{KeySchema, KeyType};
///
/// let base = KeySchema::composite("customer", KeyType::S, "order", KeyType::N);
/// let by_status = GsiDef::new("by_status", KeySchema::composite("status", KeyType::S, "placed", KeyType::N))
///     .projection(Projection::Include(vec!["total".into()]))
///     .partitions(8);
/// by_status.validate(&base)?;
/// assert!(by_status.projects(&base, "total") && !by_status.projects(&base, "note"));
/// # Ok::<(), strata_index::DefError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GsiDef {
    /// Index name (3 to 255 characters of `a-z A-Z 0-9 _ - .`), unique among the
    /// table's indexes.
    pub name: String,
    /// The index's partition key and optional sort key (`S`, `N` or `B`).
    pub key_schema: KeySchema,
    /// Attributes copied into the index.
    pub projection: Projection,
    /// Hash partitions of the index, 1 to [`MAX_GSI_PARTITIONS`]; fixed at creation.
    pub partitions: u32,
}

impl GsiDef {
    /// An index projecting `ALL` attributes over [`DEFAULT_GSI_PARTITIONS`] partitions.
    pub fn new(name: impl Into<String>, key_schema: KeySchema) -> GsiDef {
        GsiDef {
            name: name.into(),
            key_schema,
            projection: Projection::All,
            partitions: DEFAULT_GSI_PARTITIONS,
        }
    }

    /// Sets the projection.
    #[must_use]
    pub fn projection(mut self, projection: Projection) -> GsiDef {
        self.projection = projection;
        self
    }

    /// Sets the number of hash partitions.
    #[must_use]
    pub fn partitions(mut self, partitions: u32) -> GsiDef {
        self.partitions = partitions;
        self
    }

    /// Whether attribute `name` is held by this index's entries (key attributes of the
    /// table and of the index always are).
    pub fn projects(&self, base: &KeySchema, name: &str) -> bool {
        match &self.projection {
            Projection::All => true,
            Projection::KeysOnly | Projection::Include(_) => {
                base.is_key_attribute(name)
                    || self.key_schema.is_key_attribute(name)
                    || self
                        .projection
                        .non_key_attributes()
                        .iter()
                        .any(|a| a == name)
            }
        }
    }

    /// Checks this index alone, as DynamoDB's `CreateTable` / `UpdateTable` would: the
    /// name, the key schema (and that its attributes have the types the table's key
    /// gives them), the partition count, and the `INCLUDE` list (non-empty, names of 1
    /// to 255 bytes, no duplicates, no key attributes, at most
    /// [`MAX_PROJECTED_ATTRIBUTES`]). The limits over all indexes of a table are
    /// [`validate_all`]'s.
    ///
    /// # Errors
    /// The first broken rule, as a [`DefError`].
    pub fn validate(&self, base: &KeySchema) -> Result<(), DefError> {
        check_index_name(&self.name)?;
        self.key_schema
            .validate()
            .map_err(|e| DefError::KeySchema {
                index: shown(&self.name),
                source: e,
            })?;
        for attr in self.key_schema.attributes() {
            for b in base.attributes() {
                check_same_type(b, attr)?;
            }
        }
        if self.partitions == 0 || self.partitions > MAX_GSI_PARTITIONS {
            return Err(DefError::Partitions {
                index: shown(&self.name),
                got: self.partitions,
            });
        }
        if let Projection::Include(attrs) = &self.projection {
            let bad = |reason: String| DefError::Projection {
                index: shown(&self.name),
                reason,
            };
            if attrs.is_empty() {
                return Err(bad(
                    "ProjectionType is INCLUDE, but NonKeyAttributes is not specified".into(),
                ));
            }
            for (i, a) in attrs.iter().enumerate() {
                if a.is_empty() || a.len() > MAX_KEY_NAME_BYTES {
                    return Err(bad(format!(
                        "NonKeyAttributes names must be 1 to {MAX_KEY_NAME_BYTES} bytes, got {}",
                        a.len()
                    )));
                }
                if attrs[..i].contains(a) {
                    return Err(bad(format!("Duplicate attribute in NonKeyAttributes: {a}")));
                }
                if base.is_key_attribute(a) || self.key_schema.is_key_attribute(a) {
                    return Err(bad(format!(
                        "Key attribute {a} cannot be listed in NonKeyAttributes"
                    )));
                }
            }
            if attrs.len() > MAX_PROJECTED_ATTRIBUTES {
                return Err(DefError::TooManyProjectedAttributes { count: attrs.len() });
            }
        }
        Ok(())
    }
}

/// What [`validate_all`] needs to know of a local secondary index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LsiInfo<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its sort key (to check that an attribute has one type across all indexes).
    pub sort_key: &'a KeyAttribute,
    /// How many `NonKeyAttributes` its `INCLUDE` projection lists (0 otherwise).
    pub non_key_attributes: usize,
}

/// Checks all global secondary indexes of a table together with its local ones: each
/// GSI alone ([`GsiDef::validate`]), at most [`MAX_GLOBAL_SECONDARY_INDEXES`] GSIs,
/// unique names across LSIs and GSIs, one type per attribute across the table's key and
/// every index key, and at most [`MAX_PROJECTED_ATTRIBUTES`] `NonKeyAttributes` summed
/// over all indexes.
///
/// ```
/// use strata_index::{validate_all, GsiDef, LsiInfo};
/// use strata_item::{KeyAttribute, KeySchema, KeyType};
///
/// let base = KeySchema::composite("pk", KeyType::S, "sk", KeyType::N);
/// let date = KeyAttribute::new("date", KeyType::S);
/// let lsis = [LsiInfo { name: "by_date", sort_key: &date, non_key_attributes: 0 }];
/// let gsis = [GsiDef::new("by_date", KeySchema::simple("owner", KeyType::S))];
/// let err = validate_all(&base, &lsis, &gsis).unwrap_err();
/// assert!(err.to_string().contains("Duplicate index name: by_date"));
/// ```
///
/// # Errors
/// The first broken rule, as a [`DefError`].
pub fn validate_all(
    base: &KeySchema,
    lsis: &[LsiInfo<'_>],
    gsis: &[GsiDef],
) -> Result<(), DefError> {
    if gsis.len() > MAX_GLOBAL_SECONDARY_INDEXES {
        return Err(DefError::TooManyIndexes { count: gsis.len() });
    }
    let mut included: usize = lsis.iter().map(|l| l.non_key_attributes).sum();
    for (i, g) in gsis.iter().enumerate() {
        g.validate(base)?;
        let dup =
            lsis.iter().any(|l| l.name == g.name) || gsis[..i].iter().any(|o| o.name == g.name);
        if dup {
            return Err(DefError::DuplicateName {
                name: shown(&g.name),
            });
        }
        for attr in g.key_schema.attributes() {
            for l in lsis {
                check_same_type(l.sort_key, attr)?;
            }
            for o in &gsis[..i] {
                for other in o.key_schema.attributes() {
                    check_same_type(other, attr)?;
                }
            }
        }
        included += g.projection.non_key_attributes().len();
    }
    if included > MAX_PROJECTED_ATTRIBUTES {
        return Err(DefError::TooManyProjectedAttributes { count: included });
    }
    Ok(())
}

fn check_same_type(a: &KeyAttribute, b: &KeyAttribute) -> Result<(), DefError> {
    if a.name == b.name && a.key_type != b.key_type {
        return Err(DefError::TypeConflict {
            attribute: a.name.clone(),
            first: a.key_type,
            second: b.key_type,
        });
    }
    Ok(())
}

/// DynamoDB's naming rule for an index: 3 to 255 characters of `a-z A-Z 0-9 _ - .`.
///
/// # Errors
/// [`DefError::InvalidName`] with DynamoDB's `ValidationException` wording.
pub fn check_index_name(name: &str) -> Result<(), DefError> {
    let constraint = if name
        .chars()
        .any(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+".to_owned()
    } else if name.len() < MIN_INDEX_NAME_LEN {
        format!("Member must have length greater than or equal to {MIN_INDEX_NAME_LEN}")
    } else if name.len() > MAX_INDEX_NAME_LEN {
        format!("Member must have length less than or equal to {MAX_INDEX_NAME_LEN}")
    } else {
        return Ok(());
    };
    Err(DefError::InvalidName {
        name: shown(name),
        constraint,
    })
}

/// A name as shown in a message: at most [`MAX_INDEX_NAME_LEN`] characters.
fn shown(name: &str) -> String {
    let mut s: String = name.chars().take(MAX_INDEX_NAME_LEN).collect();
    if s.len() < name.len() {
        s.push_str("...");
    }
    s
}

/// Why a GSI definition (or a table's set of indexes) is invalid. Messages follow
/// DynamoDB's `ValidationException` wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DefError {
    /// The index name breaks the naming rule.
    #[error(
        "1 validation error detected: Value '{name}' at 'indexName' failed to satisfy constraint: {constraint}"
    )]
    InvalidName {
        /// The name (at most 255 characters of it).
        name: String,
        /// The constraint broken.
        constraint: String,
    },
    /// The index's key schema is invalid.
    #[error("One or more parameter values were invalid: index {index}: {source}")]
    KeySchema {
        /// The index.
        index: String,
        /// What is wrong.
        source: KeyError,
    },
    /// The partition count is out of range.
    #[error(
        "One or more parameter values were invalid: index {index}: partitions must be 1 to {MAX_GSI_PARTITIONS}, got {got}"
    )]
    Partitions {
        /// The index.
        index: String,
        /// The count given.
        got: u32,
    },
    /// The projection is invalid.
    #[error("One or more parameter values were invalid: {reason} (index {index})")]
    Projection {
        /// The index.
        index: String,
        /// What is wrong.
        reason: String,
    },
    /// More than 100 `NonKeyAttributes` over all indexes.
    #[error(
        "One or more parameter values were invalid: Number of projected attributes in all indexes exceeds limit of {MAX_PROJECTED_ATTRIBUTES}, number of projected attributes: {count}"
    )]
    TooManyProjectedAttributes {
        /// The total.
        count: usize,
    },
    /// Two indexes of the table share a name.
    #[error("One or more parameter values were invalid: Duplicate index name: {name}")]
    DuplicateName {
        /// The name.
        name: String,
    },
    /// More than 20 GSIs.
    #[error(
        "One or more parameter values were invalid: GlobalSecondaryIndexes count {count} exceeds the limit of {MAX_GLOBAL_SECONDARY_INDEXES} per table"
    )]
    TooManyIndexes {
        /// How many were given.
        count: usize,
    },
    /// One attribute is declared with two types (DynamoDB's `AttributeDefinitions` give
    /// each attribute one type for the table and all its indexes).
    #[error(
        "One or more parameter values were invalid: attribute {attribute} is defined with types {first} and {second}"
    )]
    TypeConflict {
        /// The attribute.
        attribute: String,
        /// One declared type.
        first: KeyType,
        /// Another.
        second: KeyType,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> KeySchema {
        KeySchema::composite("pk", KeyType::S, "sk", KeyType::N)
    }

    fn gsi(name: &str) -> GsiDef {
        GsiDef::new(name, KeySchema::composite("g", KeyType::S, "h", KeyType::N))
    }

    #[test]
    fn valid_definitions() {
        gsi("idx").validate(&base()).unwrap();
        // An index may reuse the table's key attributes (with their types).
        GsiDef::new(
            "by_sk",
            KeySchema::composite("sk", KeyType::N, "pk", KeyType::S),
        )
        .validate(&base())
        .unwrap();
        gsi("a.b-c_D9")
            .projection(Projection::Include(vec!["x".into(), "y".into()]))
            .partitions(MAX_GSI_PARTITIONS)
            .validate(&base())
            .unwrap();
        GsiDef::new("n".repeat(255), KeySchema::simple("g", KeyType::B))
            .projection(Projection::KeysOnly)
            .partitions(1)
            .validate(&base())
            .unwrap();
    }

    #[test]
    fn invalid_definitions() {
        let cases: Vec<(GsiDef, &str)> = vec![
            (gsi("ab"), "greater than or equal to 3"),
            (gsi(&"x".repeat(256)), "less than or equal to 255"),
            (gsi("a b"), "regular expression pattern"),
            (
                gsi("idx").partitions(0),
                "partitions must be 1 to 256, got 0",
            ),
            (gsi("idx").partitions(257), "got 257"),
            (
                GsiDef::new(
                    "idx",
                    KeySchema::composite("g", KeyType::S, "g", KeyType::S),
                ),
                "same name",
            ),
            (
                GsiDef::new("idx", KeySchema::simple("", KeyType::S)),
                "1 to 255 bytes",
            ),
            (
                GsiDef::new("idx", KeySchema::simple("sk", KeyType::S)),
                "defined with types N and S",
            ),
            (
                gsi("idx").projection(Projection::Include(vec![])),
                "NonKeyAttributes is not specified",
            ),
            (
                gsi("idx").projection(Projection::Include(vec!["a".into(), "a".into()])),
                "Duplicate attribute in NonKeyAttributes: a",
            ),
            (
                gsi("idx").projection(Projection::Include(vec!["pk".into()])),
                "Key attribute pk cannot",
            ),
            (
                gsi("idx").projection(Projection::Include(vec!["h".into()])),
                "Key attribute h cannot",
            ),
            (
                gsi("idx").projection(Projection::Include(vec![String::new()])),
                "1 to 255 bytes",
            ),
            (
                gsi("idx").projection(Projection::Include(
                    (0..101).map(|i| format!("a{i}")).collect(),
                )),
                "exceeds limit of 100, number of projected attributes: 101",
            ),
        ];
        for (def, want) in cases {
            let err = def.validate(&base()).unwrap_err().to_string();
            assert!(err.contains(want), "{err:?} should contain {want:?}");
        }
    }

    #[test]
    fn long_names_are_shown_bounded() {
        let err = gsi(&"y".repeat(100_000))
            .validate(&base())
            .unwrap_err()
            .to_string();
        assert!(err.len() < 600, "{}", err.len());
    }

    #[test]
    fn table_level_rules() {
        let date = KeyAttribute::new("date", KeyType::S);
        let lsi = LsiInfo {
            name: "by_date",
            sort_key: &date,
            non_key_attributes: 60,
        };
        validate_all(&base(), &[lsi], &[gsi("gsi1"), gsi("gsi2")]).unwrap();
        let too_many: Vec<GsiDef> = (0..21).map(|i| gsi(&format!("idx{i}"))).collect();
        assert!(matches!(
            validate_all(&base(), &[], &too_many),
            Err(DefError::TooManyIndexes { count: 21 })
        ));
        validate_all(&base(), &[], &too_many[..20]).unwrap();
        assert!(matches!(
            validate_all(&base(), &[], &[gsi("gsi1"), gsi("gsi1")]),
            Err(DefError::DuplicateName { .. })
        ));
        assert!(matches!(
            validate_all(&base(), &[lsi], &[gsi("by_date")]),
            Err(DefError::DuplicateName { .. })
        ));
        // Types agree across the LSI's sort key and a GSI key.
        let g_date = GsiDef::new("gsi3", KeySchema::simple("date", KeyType::N));
        assert!(matches!(
            validate_all(&base(), &[lsi], &[g_date]),
            Err(DefError::TypeConflict { .. })
        ));
        let g_num = GsiDef::new("gsi4", KeySchema::simple("g", KeyType::N));
        assert!(matches!(
            validate_all(&base(), &[], &[gsi("gsi1"), g_num]),
            Err(DefError::TypeConflict { .. })
        ));
        // 60 from the LSI plus 41 from GSIs is over 100; 60 + 40 is not.
        let inc = |n: usize, name: &str| {
            gsi(name).projection(Projection::Include(
                (0..n).map(|i| format!("a{i}")).collect(),
            ))
        };
        validate_all(&base(), &[lsi], &[inc(20, "gsi1"), inc(20, "gsi2")]).unwrap();
        let err = validate_all(&base(), &[lsi], &[inc(20, "gsi1"), inc(21, "gsi2")]).unwrap_err();
        assert_eq!(err, DefError::TooManyProjectedAttributes { count: 101 });
    }

    #[test]
    fn projections() {
        let b = base();
        let keys = gsi("idx").projection(Projection::KeysOnly);
        assert!(keys.projects(&b, "pk") && keys.projects(&b, "h") && !keys.projects(&b, "x"));
        let inc = gsi("idx").projection(Projection::Include(vec!["x".into()]));
        assert!(inc.projects(&b, "x") && !inc.projects(&b, "y"));
        assert!(gsi("idx").projects(&b, "anything"));
        assert_eq!(Projection::KeysOnly.type_name(), "KEYS_ONLY");
        assert!(Projection::All.non_key_attributes().is_empty());
    }
}
