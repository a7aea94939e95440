//! strata-index: global secondary indexes (GSIs) for Strata, the pure part.
//!
//! A GSI is a shadow table of its own, hash-partitioned by the index's partition key
//! and kept up to date asynchronously from the base table's committed changes. This
//! crate holds everything that can be written and tested without the engine; the
//! engine implements two small traits ([`ChangeSource`], [`IndexSink`]) on its WALs and
//! trees and drives the logic from its worker pool. The formats are specified in
//! `docs/gsi-format.md`.
//!
//! - [`GsiDef`], [`Projection`], [`validate_all`]: what an index is, DynamoDB's rules.
//! - [`derive()`], [`check_item`]: what a base change does to an index ([`IndexDelta`]).
//! - [`project`]: the item an entry holds.
//! - [`EntryKey`], [`KeyRange`], [`gsi_partition`]: where entries live, query ranges.
//! - [`meta`]: checkpoints, backfill progress and partition headers.
//! - [`Maintainer`], [`backfill_page`], [`admission`]: the maintainer's step, the
//!   backfill's step, and back-pressure.
//!
//! ```
//! use strata_index::{derive, GsiDef, Projection};
//! use strata_item::{item, KeySchema, KeyType};
//!
//! let base = KeySchema::simple("id", KeyType::S);
//! let def = GsiDef::new("by_city", KeySchema::simple("city", KeyType::S))
//!     .projection(Projection::Include(vec!["name".into()]));
//! def.validate(&base)?;
//! let delta = derive(&def, &base, None, Some(&item! { "id" => "u1", "city" => "Oslo", "name" => "Ada", "x" => 1 }))?;
//! let entry = delta.put.expect("the item has the index key");
//! assert_eq!(entry.item, item! { "id" => "u1", "city" => "Oslo", "name" => "Ada" });
//! assert!(entry.at.partition < def.partitions);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod backfill;
mod def;
mod derive;
mod layout;
mod maintain;
pub mod meta;
mod pressure;
mod project;
mod sink;

pub use backfill::{BackfillBatch, backfill_page};
pub use def::{
    DEFAULT_GSI_PARTITIONS, DefError, GsiDef, LsiInfo, MAX_GLOBAL_SECONDARY_INDEXES,
    MAX_GSI_PARTITIONS, MAX_INDEX_NAME_LEN, MAX_PROJECTED_ATTRIBUTES, MIN_INDEX_NAME_LEN,
    Projection, check_index_name, validate_all,
};
pub use derive::{
    DeltaKeys, DeltaOps, DeriveError, IndexDelta, IndexEntry, PlacedKey, check_item,
    check_key_attribute, derive, derive_committed, derive_keys, derive_keys_committed, entry_of,
};
pub use layout::{
    ENTRY_TAG, EntryKey, EntryKeyError, KeyRange, KeyShape, META_TAG, SortCondition, gsi_partition,
    partition_of, partition_prefix, stable_hash,
};
pub use maintain::{
    IndexStart, MaintainError, Maintainer, StepOutcome, StepStats, init_ops, load_checkpoints,
    read_progress,
};
pub use pressure::{Admission, Lag, PressureBounds, admission};
pub use project::project;
pub use sink::{Change, ChangeRecord, ChangeSource, IndexSink, SinkOp};
