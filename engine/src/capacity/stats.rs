//! What capacity enforcement shows: per table, partition and index, the units
//! consumed, the requests throttled and the tokens left ([`CapacityStats`], returned by
//! `Db::capacity_stats` and in `describe_table`).

use super::mode::{CapacityMode, OnDemandThroughput};

/// How many partitions [`CapacityStats::hottest_partitions`] lists.
pub const HOTTEST_LISTED: usize = 3;

/// One budget (read or write) of a table, partition or index.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BudgetStats {
    /// Units consumed since the `Db` opened.
    pub consumed_units: f64,
    /// Requests refused since the `Db` opened: for a table, every request of the
    /// table refused by any of its budgets; for a partition or an index, those this
    /// budget refused.
    pub throttled_requests: u64,
    /// Tokens left now (negative: in debt after a read larger than what was left;
    /// infinite: not limited).
    pub tokens: f64,
    /// The refill rate in units per second (infinite: not limited).
    pub units_per_second: f64,
}

/// Read and write budgets of one partition.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionCapacity {
    /// The partition.
    pub partition: u32,
    /// Its read budget.
    pub read: BudgetStats,
    /// Its write budget.
    pub write: BudgetStats,
}

/// Read and write budgets of one global secondary index.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexCapacity {
    /// The index.
    pub index: String,
    /// Its read budget.
    pub read: BudgetStats,
    /// Its write budget.
    pub write: BudgetStats,
}

/// A table's capacity: settings, use and what is left.
#[derive(Debug, Clone, PartialEq)]
pub struct CapacityStats {
    /// The table.
    pub table: String,
    /// Its billing mode now.
    pub mode: CapacityMode,
    /// Its on-demand maximum (if on demand).
    pub on_demand: OnDemandThroughput,
    /// The table's read budget.
    pub read: BudgetStats,
    /// The table's write budget.
    pub write: BudgetStats,
    /// Every partition, in order.
    pub partitions: Vec<PartitionCapacity>,
    /// Every global secondary index, by name.
    pub indexes: Vec<IndexCapacity>,
    /// The [`HOTTEST_LISTED`] hottest partitions, hottest first: the most throttled
    /// requests (reads plus writes), then the most units consumed.
    pub hottest_partitions: Vec<PartitionCapacity>,
}

/// The hottest partitions of `parts` (see [`CapacityStats::hottest_partitions`]).
pub(crate) fn hottest(parts: &[PartitionCapacity]) -> Vec<PartitionCapacity> {
    let mut v: Vec<&PartitionCapacity> = parts.iter().collect();
    let heat = |p: &PartitionCapacity| p.read.consumed_units + p.write.consumed_units;
    let throttled = |p: &PartitionCapacity| p.read.throttled_requests + p.write.throttled_requests;
    v.sort_by(|a, b| {
        throttled(b)
            .cmp(&throttled(a))
            .then(heat(b).total_cmp(&heat(a)))
            .then(a.partition.cmp(&b.partition))
    });
    v.into_iter().take(HOTTEST_LISTED).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(partition: u32, consumed: f64, throttled: u64) -> PartitionCapacity {
        PartitionCapacity {
            partition,
            read: BudgetStats::default(),
            write: BudgetStats {
                consumed_units: consumed,
                throttled_requests: throttled,
                ..BudgetStats::default()
            },
        }
    }

    #[test]
    fn hottest_first() {
        let parts = vec![
            part(0, 1.0, 0),
            part(1, 9.0, 0),
            part(2, 1.0, 4),
            part(3, 0.0, 0),
        ];
        let hot: Vec<u32> = hottest(&parts).iter().map(|p| p.partition).collect();
        assert_eq!(hot, vec![2, 1, 0]);
    }
}
