//! Capacity: units computed by DynamoDB's rules, and enforced by token buckets.
//!
//! | module | job |
//! |---|---|
//! | `units` | read/write units of an operation, [`ConsumedCapacity`] |
//! | `meter` | the user-pluggable [`CapacityMeter`] hook |
//! | `clock` | [`Clock`]: [`SystemClock`], [`ManualClock`] for deterministic tests |
//! | `bucket` | [`TokenBucket`]: lock-free, fractional units |
//! | `peak` | an on-demand table's previous peak |
//! | `mode` | billing settings ([`CapacityMode`], ...) and their validation |
//! | `options` | [`CapacityOptions`]: partition limits, burst window, on-demand scaling |
//! | `gauge` | a bucket with its counters |
//! | `limiter` | one table's buckets and the one call per operation that enforces them |
//! | `configure` | setting a table's buckets from its billing settings |
//! | `stats` | [`CapacityStats`]: consumed, throttled, tokens left |
//! | `registry` | every table's buckets, by table id |
//!
//! Nothing here knows tables, partitions' storage or the `Db`: the table layer calls
//! the limiter at the one point where it charges capacity. The model is described in
//! `docs/capacity.md`.

mod bucket;
mod clock;
mod configure;
mod gauge;
pub(crate) mod limiter;
mod meter;
mod mode;
mod options;
mod peak;
pub(crate) mod registry;
mod stats;
mod units;

pub use bucket::{BucketError, TokenBucket};
pub use clock::{Clock, ManualClock, SystemClock};
pub use limiter::Budget;
pub use meter::{CapacityMeter, OpInfo, OpKind, UnmeteredCapacity};
pub(crate) use mode::check_billing;
pub use mode::{CapacityMode, MAX_CAPACITY_UNITS, OnDemandThroughput, ProvisionedThroughput};
pub use options::{CapacityOptions, OnDemandScaling};
pub use peak::PeakTracker;
pub use stats::{BudgetStats, CapacityStats, HOTTEST_LISTED, IndexCapacity, PartitionCapacity};
pub use units::{ConsumedCapacity, READ_UNIT_BYTES, WRITE_UNIT_BYTES, read_units, write_units};
