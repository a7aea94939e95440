//! Capacity units, computed under DynamoDB's rules.
//!
//! Rules (DynamoDB's "Read/write capacity mode" and "LSI provisioned throughput"):
//!
//! - **Reads**: one unit per 4 KB (4096 bytes), rounded up, at least one; an eventually
//!   consistent read costs half. `get_item` and each item of `batch_get_item` round per
//!   item; `query` and `scan` sum the sizes of every item they *evaluated* (before the
//!   filter) and round once.
//! - **Writes**: one unit per 1 KB (1024 bytes) of the larger of the old and the new
//!   item, rounded up, at least one. A failed conditional write costs the same.
//! - **LSI writes** add their own units, in 1 KB units of the index entry: one write to
//!   put a new entry, one to delete an old one, two when the index key changes, one when
//!   only projected attributes change, none when the entry is unaffected.

use std::collections::BTreeMap;

/// Bytes per read capacity unit.
pub const READ_UNIT_BYTES: usize = 4096;
/// Bytes per write capacity unit.
pub const WRITE_UNIT_BYTES: usize = 1024;

/// Read units for `bytes` read in one rounding step.
///
/// ```
/// use strata_engine::capacity::read_units;
/// assert_eq!(read_units(0, true), 1.0);
/// assert_eq!(read_units(4096, true), 1.0);
/// assert_eq!(read_units(4097, true), 2.0);
/// assert_eq!(read_units(4097, false), 1.0);
/// ```
pub fn read_units(bytes: usize, consistent: bool) -> f64 {
    let units = bytes.div_ceil(READ_UNIT_BYTES).max(1) as f64;
    if consistent { units } else { units / 2.0 }
}

/// Write units for an item (or index entry) of `bytes`.
///
/// ```
/// use strata_engine::capacity::write_units;
/// assert_eq!(write_units(1), 1.0);
/// assert_eq!(write_units(1024), 1.0);
/// assert_eq!(write_units(1025), 2.0);
/// ```
pub fn write_units(bytes: usize) -> f64 {
    bytes.div_ceil(WRITE_UNIT_BYTES).max(1) as f64
}

/// The capacity an operation consumed on one table (DynamoDB's `ConsumedCapacity` with
/// `ReturnConsumedCapacity = INDEXES`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConsumedCapacity {
    /// The table.
    pub table_name: String,
    /// Total units (table plus indexes, reads plus writes).
    pub capacity_units: f64,
    /// Total read units.
    pub read_capacity_units: f64,
    /// Total write units.
    pub write_capacity_units: f64,
    /// Units consumed on the table itself.
    pub table_capacity_units: f64,
    /// Units consumed on each local secondary index, by index name.
    pub local_secondary_indexes: BTreeMap<String, f64>,
    /// Units consumed on each global secondary index, by index name (for writes: what
    /// maintaining the index costs, DynamoDB's rules: 1 unit per started KB of the
    /// projected entry put, 1 per KB of an entry deleted, both when its key moved).
    pub global_secondary_indexes: BTreeMap<String, f64>,
}

impl ConsumedCapacity {
    /// Nothing consumed yet on `table`.
    pub fn new(table: &str) -> ConsumedCapacity {
        ConsumedCapacity {
            table_name: table.to_owned(),
            ..ConsumedCapacity::default()
        }
    }

    /// Adds read units consumed on the table.
    pub fn add_table_read(&mut self, units: f64) {
        self.table_capacity_units += units;
        self.read_capacity_units += units;
        self.capacity_units += units;
    }

    /// Adds write units consumed on the table.
    pub fn add_table_write(&mut self, units: f64) {
        self.table_capacity_units += units;
        self.write_capacity_units += units;
        self.capacity_units += units;
    }

    /// Adds read units consumed on an LSI.
    pub fn add_index_read(&mut self, index: &str, units: f64) {
        *self
            .local_secondary_indexes
            .entry(index.to_owned())
            .or_default() += units;
        self.read_capacity_units += units;
        self.capacity_units += units;
    }

    /// Adds write units consumed on an LSI.
    pub fn add_index_write(&mut self, index: &str, units: f64) {
        if units == 0.0 {
            return;
        }
        *self
            .local_secondary_indexes
            .entry(index.to_owned())
            .or_default() += units;
        self.write_capacity_units += units;
        self.capacity_units += units;
    }

    /// Adds read units consumed on a GSI.
    pub fn add_gsi_read(&mut self, index: &str, units: f64) {
        *self
            .global_secondary_indexes
            .entry(index.to_owned())
            .or_default() += units;
        self.read_capacity_units += units;
        self.capacity_units += units;
    }

    /// Adds write units consumed on a GSI.
    pub fn add_gsi_write(&mut self, index: &str, units: f64) {
        if units == 0.0 {
            return;
        }
        *self
            .global_secondary_indexes
            .entry(index.to_owned())
            .or_default() += units;
        self.write_capacity_units += units;
        self.capacity_units += units;
    }

    /// Adds everything of `other` (same table) to this.
    pub fn merge(&mut self, other: &ConsumedCapacity) {
        self.capacity_units += other.capacity_units;
        self.read_capacity_units += other.read_capacity_units;
        self.write_capacity_units += other.write_capacity_units;
        self.table_capacity_units += other.table_capacity_units;
        for (k, v) in &other.local_secondary_indexes {
            *self.local_secondary_indexes.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.global_secondary_indexes {
            *self.global_secondary_indexes.entry(k.clone()).or_default() += v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(read_units(8192, true), 2.0);
        assert_eq!(read_units(8193, false), 1.5);
        assert_eq!(write_units(0), 1.0);
        assert_eq!(write_units(400 * 1024), 400.0);
        let mut c = ConsumedCapacity::new("t");
        c.add_table_write(2.0);
        c.add_index_write("i", 1.0);
        c.add_index_write("j", 0.0);
        assert_eq!(c.capacity_units, 3.0);
        assert_eq!(c.write_capacity_units, 3.0);
        assert_eq!(c.local_secondary_indexes.len(), 1);
        let mut d = ConsumedCapacity::new("t");
        d.add_table_read(0.5);
        d.merge(&c);
        assert_eq!(d.capacity_units, 3.5);
        assert_eq!(d.table_capacity_units, 2.5);
    }
}
