//! What a table is: [`TableSpec`] (what `create_table` takes) and
//! [`TableDescription`] (what `describe_table` returns).

use std::fmt;

use strata_index::{GsiDef, LsiInfo, Projection};
use strata_item::{KeyAttribute, KeySchema, KeyType};

use super::error::DbError;
use super::names::check_name;
use crate::capacity::{CapacityMode, OnDemandThroughput, ProvisionedThroughput, check_billing};

/// Default number of hash partitions of a new table.
pub const DEFAULT_PARTITIONS: u32 = 4;
/// Most hash partitions a table may have (each is one LSM tree with its own WAL).
pub const MAX_PARTITIONS: u32 = 256;
/// Most local secondary indexes per table (DynamoDB: 5).
pub const MAX_LOCAL_SECONDARY_INDEXES: usize = 5;
/// Most `INCLUDE` attributes summed over all of a table's indexes (DynamoDB: 100).
pub const MAX_PROJECTED_ATTRIBUTES: usize = 100;

/// How durable an acknowledged write of a table is.
///
/// ```
/// use strata_engine::TableDurability;
/// assert_eq!(TableDurability::default(), TableDurability::Sync);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum TableDurability {
    /// A write is acknowledged once its WAL record is fsynced (group commit shares the
    /// fsync among concurrent writers of the same partition). Survives power loss.
    #[default]
    Sync,
    /// A write is acknowledged once its WAL record is handed to the OS; the WAL is
    /// fsynced in the background. Survives a process crash; after a power loss each
    /// partition recovers a prefix of its writes (no holes).
    Buffered,
}

/// Which attributes an index holds besides the keys (DynamoDB's `Projection`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum IndexProjection {
    /// Only the table's primary key and the index key (`KEYS_ONLY`).
    KeysOnly,
    /// The keys plus these attributes (`INCLUDE` with `NonKeyAttributes`).
    Include(Vec<String>),
    /// Every attribute of the item (`ALL`).
    #[default]
    All,
}

impl IndexProjection {
    /// DynamoDB's name: `KEYS_ONLY`, `INCLUDE` or `ALL`.
    pub fn type_name(&self) -> &'static str {
        match self {
            IndexProjection::KeysOnly => "KEYS_ONLY",
            IndexProjection::Include(_) => "INCLUDE",
            IndexProjection::All => "ALL",
        }
    }
}

/// A local secondary index: same partition key as the table, another sort key.
///
/// ```
/// use strata_engine::{IndexProjection, LsiSpec};
/// use strata_item::KeyType;
/// let by_date = LsiSpec::new("by_date", "date", KeyType::S)
///     .projection(IndexProjection::Include(vec!["title".into()]));
/// assert_eq!(by_date.sort_key.name, "date");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LsiSpec {
    /// Index name (3 to 255 characters of `a-z A-Z 0-9 _ - .`), unique in its table.
    pub name: String,
    /// The index's sort key (its partition key is the table's).
    pub sort_key: KeyAttribute,
    /// Attributes copied into the index.
    pub projection: IndexProjection,
}

impl LsiSpec {
    /// An index projecting all attributes.
    pub fn new(name: impl Into<String>, sort_key: impl Into<String>, key_type: KeyType) -> LsiSpec {
        LsiSpec {
            name: name.into(),
            sort_key: KeyAttribute::new(sort_key, key_type),
            projection: IndexProjection::All,
        }
    }

    /// Sets the projection.
    #[must_use]
    pub fn projection(mut self, projection: IndexProjection) -> LsiSpec {
        self.projection = projection;
        self
    }
}

/// A global secondary index: its own partition key (and optional sort key), a
/// projection, and its own number of hash partitions. It is kept up to date
/// asynchronously from the base table's committed writes (eventually consistent).
///
/// ```
/// use strata_engine::{GsiSpec, IndexProjection, TableSpec};
/// use strata_item::{KeySchema, KeyType};
///
/// let spec = TableSpec::new("users", KeySchema::simple("id", KeyType::S)).gsi(
///     GsiSpec::new("by_city", KeySchema::simple("city", KeyType::S))
///         .projection(IndexProjection::KeysOnly)
///         .partitions(2),
/// );
/// assert!(spec.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GsiSpec {
    /// Index name (3 to 255 characters of `a-z A-Z 0-9 _ - .`), unique among the
    /// table's indexes.
    pub name: String,
    /// The index's key schema (`S`, `N` or `B` attributes).
    pub key_schema: KeySchema,
    /// Attributes copied into the index.
    pub projection: IndexProjection,
    /// Hash partitions of the index (1 to 256; default 4), fixed at creation.
    pub partitions: u32,
    /// The index's own provisioned capacity when its table is provisioned (`None`:
    /// the table's figures). Must be `None` on an on-demand table, as in DynamoDB.
    pub provisioned_throughput: Option<ProvisionedThroughput>,
}

impl GsiSpec {
    /// An index projecting all attributes over
    /// [`strata_index::DEFAULT_GSI_PARTITIONS`] partitions.
    pub fn new(name: impl Into<String>, key_schema: KeySchema) -> GsiSpec {
        GsiSpec {
            name: name.into(),
            key_schema,
            projection: IndexProjection::All,
            partitions: strata_index::DEFAULT_GSI_PARTITIONS,
            provisioned_throughput: None,
        }
    }

    /// Sets the index's own provisioned capacity (for a provisioned table).
    #[must_use]
    pub fn provisioned(mut self, throughput: ProvisionedThroughput) -> GsiSpec {
        self.provisioned_throughput = Some(throughput);
        self
    }

    /// Sets the projection.
    #[must_use]
    pub fn projection(mut self, projection: IndexProjection) -> GsiSpec {
        self.projection = projection;
        self
    }

    /// Sets the number of hash partitions.
    #[must_use]
    pub fn partitions(mut self, partitions: u32) -> GsiSpec {
        self.partitions = partitions;
        self
    }

    /// The index definition `strata-index` works with.
    pub fn def(&self) -> GsiDef {
        GsiDef::new(self.name.clone(), self.key_schema.clone())
            .projection(match &self.projection {
                IndexProjection::KeysOnly => Projection::KeysOnly,
                IndexProjection::Include(a) => Projection::Include(a.clone()),
                IndexProjection::All => Projection::All,
            })
            .partitions(self.partitions)
    }
}

/// Everything `create_table` needs to know.
///
/// ```
/// use strata_engine::{LsiSpec, TableDurability, TableSpec};
/// use strata_item::{KeySchema, KeyType};
///
/// let spec = TableSpec::new("orders", KeySchema::composite("customer", KeyType::S, "order", KeyType::N))
///     .partitions(8)
///     .lsi(LsiSpec::new("by_total", "total", KeyType::N))
///     .durability(TableDurability::Buffered);
/// assert_eq!(spec.partitions, 8);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TableSpec {
    /// Table name (3 to 255 characters of `a-z A-Z 0-9 _ - .`).
    pub name: String,
    /// Partition key and optional sort key.
    pub key_schema: KeySchema,
    /// Number of hash partitions, 1 to [`MAX_PARTITIONS`]; fixed at creation.
    pub partitions: u32,
    /// Local secondary indexes (at most 5; the table must have a sort key).
    pub local_secondary_indexes: Vec<LsiSpec>,
    /// Global secondary indexes (at most 20).
    pub global_secondary_indexes: Vec<GsiSpec>,
    /// Durability of acknowledged writes.
    pub durability: TableDurability,
    /// Billing mode: on demand (the default) or provisioned; enforced by token
    /// buckets (see `docs/capacity.md`), changeable with `Db::update_table`.
    pub capacity: CapacityMode,
    /// The optional maximum of an on-demand table (none by default).
    pub on_demand_throughput: OnDemandThroughput,
}

impl TableSpec {
    /// A table with [`DEFAULT_PARTITIONS`] partitions, no indexes, `Sync` durability.
    pub fn new(name: impl Into<String>, key_schema: KeySchema) -> TableSpec {
        TableSpec {
            name: name.into(),
            key_schema,
            partitions: DEFAULT_PARTITIONS,
            local_secondary_indexes: Vec::new(),
            global_secondary_indexes: Vec::new(),
            durability: TableDurability::Sync,
            capacity: CapacityMode::OnDemand,
            on_demand_throughput: OnDemandThroughput::default(),
        }
    }

    /// Sets the number of hash partitions.
    #[must_use]
    pub fn partitions(mut self, n: u32) -> TableSpec {
        self.partitions = n;
        self
    }

    /// Adds a local secondary index.
    #[must_use]
    pub fn lsi(mut self, lsi: LsiSpec) -> TableSpec {
        self.local_secondary_indexes.push(lsi);
        self
    }

    /// Adds a global secondary index.
    #[must_use]
    pub fn gsi(mut self, gsi: GsiSpec) -> TableSpec {
        self.global_secondary_indexes.push(gsi);
        self
    }

    /// Sets the durability.
    #[must_use]
    pub fn durability(mut self, d: TableDurability) -> TableSpec {
        self.durability = d;
        self
    }

    /// Sets the billing mode.
    #[must_use]
    pub fn capacity(mut self, c: CapacityMode) -> TableSpec {
        self.capacity = c;
        self
    }

    /// Sets the on-demand maximum (for an on-demand table).
    #[must_use]
    pub fn on_demand_throughput(mut self, t: OnDemandThroughput) -> TableSpec {
        self.on_demand_throughput = t;
        self
    }

    /// Checks the spec as DynamoDB's `CreateTable` would.
    ///
    /// # Errors
    /// [`DbError::InvalidTableSpec`] saying what is wrong.
    pub fn validate(&self) -> Result<(), DbError> {
        let bad = |reason: String| DbError::InvalidTableSpec {
            table: self.name.clone(),
            reason,
        };
        check_name("table", &self.name).map_err(bad)?;
        self.key_schema.validate().map_err(|e| bad(e.to_string()))?;
        if self.partitions == 0 || self.partitions > MAX_PARTITIONS {
            return Err(bad(format!(
                "partitions must be 1 to {MAX_PARTITIONS}, got {}",
                self.partitions
            )));
        }
        check_billing(
            &self.capacity,
            &self.on_demand_throughput,
            self.global_secondary_indexes
                .iter()
                .map(|g| (g.name.as_str(), g.provisioned_throughput.as_ref())),
        )
        .map_err(bad)?;
        self.validate_lsis().map_err(bad)?;
        let lsi_infos: Vec<LsiInfo<'_>> = self
            .local_secondary_indexes
            .iter()
            .map(|l| LsiInfo {
                name: &l.name,
                sort_key: &l.sort_key,
                non_key_attributes: match &l.projection {
                    IndexProjection::Include(a) => a.len(),
                    _ => 0,
                },
            })
            .collect();
        let defs: Vec<GsiDef> = self
            .global_secondary_indexes
            .iter()
            .map(GsiSpec::def)
            .collect();
        strata_index::validate_all(&self.key_schema, &lsi_infos, &defs)
            .map_err(|e| bad(e.to_string()))
    }

    /// The LSI rules (see [`TableSpec::validate`]); the reason of the first broken one.
    fn validate_lsis(&self) -> Result<(), String> {
        let bad = |reason: String| reason;
        let lsis = &self.local_secondary_indexes;
        if lsis.is_empty() {
            return Ok(());
        }
        if self.key_schema.sort_key.is_none() {
            return Err(bad(
                "local secondary indexes need a table with a sort key (a composite primary key)"
                    .to_owned(),
            ));
        }
        if lsis.len() > MAX_LOCAL_SECONDARY_INDEXES {
            return Err(bad(format!(
                "at most {MAX_LOCAL_SECONDARY_INDEXES} local secondary indexes, got {}",
                lsis.len()
            )));
        }
        let mut included = 0usize;
        for (i, lsi) in lsis.iter().enumerate() {
            check_name("index", &lsi.name).map_err(bad)?;
            if lsis[..i].iter().any(|o| o.name == lsi.name) {
                return Err(bad(format!("duplicate index name {:?}", lsi.name)));
            }
            let key = &lsi.sort_key;
            if key.name.is_empty() || key.name.len() > strata_item::MAX_KEY_NAME_BYTES {
                return Err(bad(format!(
                    "index {}: key attribute name must be 1 to 255 bytes",
                    lsi.name
                )));
            }
            if self.key_schema.is_key_attribute(&key.name) {
                return Err(bad(format!(
                    "index {}: its sort key {:?} must differ from the table's key attributes",
                    lsi.name, key.name
                )));
            }
            // One attribute, one type: every definition of an attribute must agree.
            for other in &lsis[..i] {
                if other.sort_key.name == key.name && other.sort_key.key_type != key.key_type {
                    return Err(bad(format!(
                        "attribute {:?} is defined with types {} and {}",
                        key.name, other.sort_key.key_type, key.key_type
                    )));
                }
            }
            if let IndexProjection::Include(attrs) = &lsi.projection {
                if attrs.is_empty() {
                    return Err(bad(format!(
                        "index {}: an INCLUDE projection needs at least one attribute",
                        lsi.name
                    )));
                }
                for (j, a) in attrs.iter().enumerate() {
                    if a.is_empty() || a.len() > strata_item::MAX_KEY_NAME_BYTES {
                        return Err(bad(format!(
                            "index {}: projected attribute names must be 1 to 255 bytes",
                            lsi.name
                        )));
                    }
                    if attrs[..j].contains(a) {
                        return Err(bad(format!(
                            "index {}: projected attribute {a:?} listed twice",
                            lsi.name
                        )));
                    }
                    if self.key_schema.is_key_attribute(a) || *a == key.name {
                        return Err(bad(format!(
                            "index {}: key attribute {a:?} cannot be a projected non-key attribute",
                            lsi.name
                        )));
                    }
                }
                included += attrs.len();
            }
        }
        if included > MAX_PROJECTED_ATTRIBUTES {
            return Err(bad(format!(
                "at most {MAX_PROJECTED_ATTRIBUTES} projected non-key attributes over all indexes, got {included}"
            )));
        }
        Ok(())
    }
}

/// What `describe_table` reports.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TableDescription {
    /// The spec the table was created with, with its GSIs as they are now (after any
    /// `Db::update_table`).
    pub spec: TableSpec,
    /// Internal identifier, unique for the life of the database (never reused, so a
    /// re-created table with the same name gets a new one).
    pub table_id: u64,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at_ms: u64,
    /// Each GSI's status, size and lag, in spec order (empty when the table has none,
    /// and in the descriptions `create_table` and `delete_table` return).
    pub global_secondary_indexes: Vec<crate::gsi::status::GsiDescription>,
    /// Capacity now: consumed units, throttled requests and tokens left, per table,
    /// partition and index, with the hottest partitions (`None` in the descriptions
    /// `create_table` and `delete_table` return).
    pub capacity: Option<crate::capacity::CapacityStats>,
}

impl fmt::Display for TableDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.spec;
        write!(
            f,
            "{} (id {}): {}",
            s.name, self.table_id, s.key_schema.partition_key.name
        )?;
        if let Some(sk) = &s.key_schema.sort_key {
            write!(f, ", {}", sk.name)?;
        }
        write!(
            f,
            "; {} partitions; {} LSIs; {} GSIs",
            s.partitions,
            s.local_secondary_indexes.len(),
            s.global_secondary_indexes.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> TableSpec {
        TableSpec::new(
            "tbl",
            KeySchema::composite("pk", KeyType::S, "sk", KeyType::N),
        )
    }

    #[test]
    fn valid_specs() {
        assert!(base().validate().is_ok());
        let s = base()
            .lsi(LsiSpec::new("idx1", "a", KeyType::S))
            .lsi(LsiSpec::new("idx2", "b", KeyType::N).projection(IndexProjection::KeysOnly))
            .lsi(
                LsiSpec::new("idx3", "a", KeyType::S)
                    .projection(IndexProjection::Include(vec!["x".into(), "y".into()])),
            );
        assert!(s.validate().is_ok(), "{:?}", s.validate());
    }

    #[test]
    fn invalid_specs() {
        let cases: Vec<(TableSpec, &str)> = vec![
            (
                TableSpec::new("ab", KeySchema::simple("pk", KeyType::S)),
                "3 to 255",
            ),
            (
                TableSpec::new("a b c", KeySchema::simple("pk", KeyType::S)),
                "character ' '",
            ),
            (base().partitions(0), "partitions must be"),
            (base().partitions(MAX_PARTITIONS + 1), "partitions must be"),
            (
                TableSpec::new("tbl", KeySchema::simple("pk", KeyType::S)).lsi(LsiSpec::new(
                    "idx",
                    "a",
                    KeyType::S,
                )),
                "need a table with a sort key",
            ),
            (
                base().lsi(LsiSpec::new("ix", "a", KeyType::S)),
                "index name",
            ),
            (
                base()
                    .lsi(LsiSpec::new("idx", "a", KeyType::S))
                    .lsi(LsiSpec::new("idx", "b", KeyType::S)),
                "duplicate index name",
            ),
            (
                base().lsi(LsiSpec::new("idx", "sk", KeyType::S)),
                "must differ",
            ),
            (
                base()
                    .lsi(LsiSpec::new("idx1", "a", KeyType::S))
                    .lsi(LsiSpec::new("idx2", "a", KeyType::N)),
                "defined with types",
            ),
            (
                base().lsi(
                    LsiSpec::new("idx", "a", KeyType::S)
                        .projection(IndexProjection::Include(vec![])),
                ),
                "at least one attribute",
            ),
            (
                base().lsi(
                    LsiSpec::new("idx", "a", KeyType::S)
                        .projection(IndexProjection::Include(vec!["pk".into()])),
                ),
                "cannot be a projected",
            ),
            (
                base().capacity(CapacityMode::Provisioned {
                    read_capacity_units: 0,
                    write_capacity_units: 1,
                }),
                "greater than or equal to 1",
            ),
            (
                TableSpec::new(
                    "tbl",
                    KeySchema::composite("pk", KeyType::S, "pk", KeyType::S),
                ),
                "same name",
            ),
        ];
        for (spec, want) in cases {
            let err = spec.validate().unwrap_err().to_string();
            assert!(err.contains(want), "{err:?} should contain {want:?}");
        }
        let mut six = base();
        for i in 0..6 {
            six = six.lsi(LsiSpec::new(format!("idx{i}"), format!("a{i}"), KeyType::S));
        }
        assert!(
            six.validate()
                .unwrap_err()
                .to_string()
                .contains("at most 5")
        );
        let ok = base().gsi(GsiSpec::new("gsi", KeySchema::simple("x", KeyType::S)));
        assert!(ok.validate().is_ok(), "{:?}", ok.validate());
        let gsi_cases: Vec<(TableSpec, &str)> = vec![
            (
                base().gsi(GsiSpec::new("g", KeySchema::simple("x", KeyType::S))),
                "indexName",
            ),
            (
                base()
                    .lsi(LsiSpec::new("idx", "a", KeyType::S))
                    .gsi(GsiSpec::new("idx", KeySchema::simple("x", KeyType::S))),
                "Duplicate index name",
            ),
            (
                base().gsi(GsiSpec::new("gsi", KeySchema::simple("sk", KeyType::S))),
                "sk",
            ),
            (
                base().gsi(GsiSpec::new("gsi", KeySchema::simple("x", KeyType::S)).partitions(0)),
                "partitions",
            ),
        ];
        for (spec, want) in gsi_cases {
            let err = spec.validate().unwrap_err().to_string();
            assert!(err.contains(want), "{err:?} should contain {want:?}");
        }
        let mut many = base();
        for i in 0..21 {
            many = many.gsi(GsiSpec::new(
                format!("gsi{i}"),
                KeySchema::simple(format!("a{i}"), KeyType::S),
            ));
        }
        assert!(many.validate().is_err());
    }
}
