//! [`TableCapacity`]: the token buckets of one table — table, partitions, GSIs; read
//! and write — and the one call per operation that enforces them.
//!
//! - A write takes its exact units from the table's, its partition's and each affected
//!   GSI's write bucket, all or nothing ([`TableCapacity::take_write`]).
//! - A read is admitted while its table and partition (or GSI) read buckets are not in
//!   debt ([`TableCapacity::admit_read`]) and charged what it actually read afterwards
//!   ([`TableCapacity::charge_read`]).
//!
//! The table bucket of a provisioned table refills at its provisioned rate and saves
//! up to `CapacityOptions::burst` of unused capacity; each partition bucket refills at
//! the partition limit (adaptive capacity: a hot partition uses the table's unused
//! capacity up to its limit) or, without adaptive capacity, at an even share of the
//! table's rate, and saves one second. See `docs/capacity.md`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

use super::clock::Clock;
pub(crate) use super::configure::BillingConfig;
pub(crate) use super::gauge::IndexBudgets;
use super::gauge::{Gauge, MILLI, Pair, kind_index, smallest_read};
use super::meter::OpKind;
use super::options::CapacityOptions;
use super::peak::PeakTracker;
use super::stats::{CapacityStats, IndexCapacity, PartitionCapacity, hottest};
use super::units::ConsumedCapacity;

/// Which budget refused an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Budget {
    /// The table's own capacity (provisioned rate with its burst, or the on-demand
    /// allowance or maximum).
    Table,
    /// One partition's limit (DynamoDB's `KeyRangeThroughputExceeded`).
    Partition(u32),
    /// A global secondary index's capacity (for a base write: the index could not
    /// absorb its share, DynamoDB's `IndexWriteProvisionedThroughputExceeded`).
    Index(String),
    /// The user's [`super::CapacityMeter`] refused.
    Meter,
}

impl std::fmt::Display for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Budget::Table => write!(f, "table"),
            Budget::Partition(p) => write!(f, "partition {p}"),
            Budget::Index(i) => write!(f, "index {i}"),
            Budget::Meter => write!(f, "capacity meter"),
        }
    }
}

/// Why an operation was refused.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Throttle {
    pub budget: Budget,
    pub kind: OpKind,
    pub retry_after: Duration,
    pub reason: String,
}

/// The token buckets of one table (see the module documentation).
#[derive(Debug)]
pub(crate) struct TableCapacity {
    pub(super) name: String,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) opts: CapacityOptions,
    pub(super) table: Pair,
    pub(super) parts: Vec<Pair>,
    pub(super) gsis: Mutex<BTreeMap<String, Arc<IndexBudgets>>>,
    pub(super) billing: Mutex<BillingConfig>,
    /// On demand with [`OnDemandScaling::PreviousPeak`]: the table buckets follow
    /// `peaks`.
    pub(super) follows_peak: AtomicBool,
    /// Read and write previous peaks.
    pub(super) peaks: [PeakTracker; 2],
    /// Requests refused by any budget, read and write.
    pub(super) throttled: [AtomicU64; 2],
}

impl TableCapacity {
    fn refuse(
        &self,
        gauge: &Gauge,
        budget: Budget,
        kind: OpKind,
        wait: Duration,
        now: Duration,
    ) -> Throttle {
        gauge.throttled.fetch_add(1, Ordering::Relaxed);
        self.throttled[kind_index(kind)].fetch_add(1, Ordering::Relaxed);
        let what = match kind {
            OpKind::Read => "read",
            OpKind::Write => "write",
        };
        let reason = format!(
            "{budget} {what} capacity exceeded ({:.1} units left of {:.1}, refilling at {} units/s); retry after {} ms",
            gauge.bucket.tokens(now),
            gauge.bucket.capacity(),
            gauge.bucket.rate(),
            wait.as_millis().max(1)
        );
        tracing::debug!(table = %self.name, %budget, kind = what, retry_after_ms = wait.as_millis() as u64, "throttled");
        Throttle {
            budget,
            kind,
            retry_after: wait,
            reason,
        }
    }

    /// Units an operation consumed on the table itself (LSIs share the table's
    /// capacity, as in DynamoDB).
    fn table_units(cap: &ConsumedCapacity) -> f64 {
        cap.table_capacity_units + cap.local_secondary_indexes.values().sum::<f64>()
    }

    /// Admits a read of the table (and of `partition`, for single-partition reads)
    /// while their read buckets are not in debt.
    ///
    /// # Errors
    /// The budget in debt, with the time until it is not.
    pub(crate) fn admit_read(&self, partition: Option<u32>) -> Result<(), Throttle> {
        let now = self.clock.now();
        let table = &self.table.read;
        if let Err(wait) = table.bucket.admit(now) {
            let wait = smallest_read(table, wait);
            return Err(self.refuse(table, Budget::Table, OpKind::Read, wait, now));
        }
        if let Some(p) = partition
            && let Some(pair) = self.parts.get(p as usize)
            && let Err(wait) = pair.read.bucket.admit(now)
        {
            let wait = smallest_read(&pair.read, wait);
            return Err(self.refuse(&pair.read, Budget::Partition(p), OpKind::Read, wait, now));
        }
        Ok(())
    }

    /// Admits a read of a GSI while its read bucket is not in debt.
    ///
    /// # Errors
    /// As [`TableCapacity::admit_read`].
    pub(crate) fn admit_index_read(&self, index: &IndexBudgets) -> Result<(), Throttle> {
        let now = self.clock.now();
        index.pair.read.bucket.admit(now).map_err(|wait| {
            let g = &index.pair.read;
            let wait = smallest_read(g, wait);
            self.refuse(
                g,
                Budget::Index(index.name.clone()),
                OpKind::Read,
                wait,
                now,
            )
        })
    }

    /// Charges what an admitted read consumed (the buckets may go into debt).
    pub(crate) fn charge_read(
        &self,
        partition: Option<u32>,
        cap: &ConsumedCapacity,
        gsis: &[Arc<IndexBudgets>],
    ) {
        let now = self.clock.now();
        let units = Self::table_units(cap);
        if units > 0.0 {
            self.table.read.bucket.charge(units, now);
            match partition.and_then(|p| self.parts.get(p as usize)) {
                Some(pair) => {
                    pair.read.bucket.charge(units, now);
                    pair.read.consumed(units);
                }
                None => self.table.read.consumed(units),
            }
            self.follow_peak(OpKind::Read, units, now);
        }
        for (name, &u) in &cap.global_secondary_indexes {
            if let Some(b) = gsis.iter().find(|b| &b.name == name) {
                b.pair.read.bucket.charge(u, now);
                b.pair.read.consumed(u);
            }
        }
    }

    /// Takes a write's units from the table's, the partition's and each affected
    /// GSI's write buckets, all or nothing.
    ///
    /// # Errors
    /// The first budget that cannot absorb its share (nothing is taken then).
    pub(crate) fn take_write(
        &self,
        partition: u32,
        cap: &ConsumedCapacity,
        gsis: &[Arc<IndexBudgets>],
    ) -> Result<(), Throttle> {
        let now = self.clock.now();
        let units = Self::table_units(cap);
        let table = &self.table.write;
        if let Err(wait) = table.bucket.try_take(units, now) {
            return Err(self.refuse(table, Budget::Table, OpKind::Write, wait, now));
        }
        let part = self.parts.get(partition as usize).map(|p| &p.write);
        if let Some(g) = part
            && let Err(wait) = g.bucket.try_take(units, now)
        {
            table.bucket.give_back(units);
            return Err(self.refuse(g, Budget::Partition(partition), OpKind::Write, wait, now));
        }
        let mut refused = None;
        let mut taken = 0usize;
        for (name, &u) in &cap.global_secondary_indexes {
            let Some(b) = gsis.iter().find(|b| &b.name == name) else {
                taken += 1;
                continue;
            };
            if let Err(wait) = b.pair.write.bucket.try_take(u, now) {
                refused = Some((b, wait));
                break;
            }
            taken += 1;
        }
        if let Some((b, wait)) = refused {
            for (name, &u) in cap.global_secondary_indexes.iter().take(taken) {
                if let Some(g) = gsis.iter().find(|g| &g.name == name) {
                    g.pair.write.bucket.give_back(u);
                }
            }
            if let Some(g) = part {
                g.bucket.give_back(units);
            }
            table.bucket.give_back(units);
            return Err(self.refuse(
                &b.pair.write,
                Budget::Index(b.name.clone()),
                OpKind::Write,
                wait,
                now,
            ));
        }
        match part {
            Some(g) => g.consumed(units),
            None => table.consumed(units),
        }
        for (name, &u) in &cap.global_secondary_indexes {
            if let Some(b) = gsis.iter().find(|b| &b.name == name) {
                b.pair.write.consumed(u);
            }
        }
        self.follow_peak(OpKind::Write, units, now);
        Ok(())
    }

    /// Gives back what [`TableCapacity::take_write`] took for a write that then
    /// failed before it was committed (a storage error, a later item of its batch
    /// that was invalid).
    pub(crate) fn give_back_write(
        &self,
        partition: u32,
        cap: &ConsumedCapacity,
        gsis: &[Arc<IndexBudgets>],
    ) {
        let units = Self::table_units(cap);
        match self.parts.get(partition as usize) {
            Some(p) => {
                self.table.write.bucket.give_back(units);
                p.write.give_back(units);
            }
            None => self.table.write.give_back(units),
        }
        for (name, &u) in &cap.global_secondary_indexes {
            if let Some(b) = gsis.iter().find(|b| &b.name == name) {
                b.pair.write.give_back(u);
            }
        }
    }

    /// Feeds an on-demand table's previous peak; raises its allowance when the peak
    /// rose.
    /// `units`: what the operation that calls this consumed (counted in the window it
    /// opens, not in the one it closes).
    fn follow_peak(&self, kind: OpKind, units: f64, now: Duration) {
        if !self.follows_peak.load(Ordering::Acquire) {
            return;
        }
        let k = kind_index(kind);
        if let Some(peak) = self.peaks[k].observe(now, || self.consumed_total(kind) - units) {
            let billing = self.billing.lock();
            let max = match kind {
                OpKind::Read => billing.on_demand.max_read_request_units,
                OpKind::Write => billing.on_demand.max_write_request_units,
            };
            let allowance = self.allowance(peak, max);
            if let Err(e) = self
                .table
                .get(kind)
                .set(allowance, 1.0, now, Some(allowance))
            {
                tracing::warn!(table = %self.name, error = %e, "raising an on-demand allowance");
            } else {
                tracing::debug!(table = %self.name, peak, allowance, "on-demand peak rose");
            }
        }
    }

    /// Units the table consumed (of `kind`) since it was opened: its partitions' and
    /// its unpartitioned operations' (scans), which the table gauge counts. Kept this
    /// way so that an operation updates one counter, its partition's, and not one
    /// shared by every partition.
    fn consumed_total(&self, kind: OpKind) -> f64 {
        let milli: u64 = self
            .parts
            .iter()
            .map(|p| p.get(kind).consumed_milli.load(Ordering::Relaxed))
            .sum::<u64>()
            + self.table.get(kind).consumed_milli.load(Ordering::Relaxed);
        milli as f64 / MILLI
    }

    /// Everything [`CapacityStats`] shows, now.
    pub(crate) fn stats(&self) -> CapacityStats {
        let now = self.clock.now();
        let billing = self.billing.lock().clone();
        let partitions: Vec<PartitionCapacity> = (0u32..)
            .zip(&self.parts)
            .map(|(partition, p)| PartitionCapacity {
                partition,
                read: p.read.stats(now),
                write: p.write.stats(now),
            })
            .collect();
        let mut read = self.table.read.stats(now);
        read.throttled_requests = self.throttled[0].load(Ordering::Relaxed);
        read.consumed_units = self.consumed_total(OpKind::Read);
        let mut write = self.table.write.stats(now);
        write.throttled_requests = self.throttled[1].load(Ordering::Relaxed);
        write.consumed_units = self.consumed_total(OpKind::Write);
        let indexes = self
            .gsis
            .lock()
            .values()
            .map(|b| IndexCapacity {
                index: b.name.clone(),
                read: b.pair.read.stats(now),
                write: b.pair.write.stats(now),
            })
            .collect();
        CapacityStats {
            table: self.name.clone(),
            mode: billing.mode,
            on_demand: billing.on_demand,
            read,
            write,
            hottest_partitions: hottest(&partitions),
            partitions,
            indexes,
        }
    }
}
