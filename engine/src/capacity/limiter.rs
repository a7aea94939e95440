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

use super::bucket::TokenBucket;
use super::clock::Clock;
use super::meter::OpKind;
use super::mode::{CapacityMode, OnDemandThroughput, ProvisionedThroughput};
use super::options::{CapacityOptions, OnDemandScaling};
use super::peak::PeakTracker;
use super::stats::{BudgetStats, CapacityStats, IndexCapacity, PartitionCapacity, hottest};
use super::units::ConsumedCapacity;

const MILLI: f64 = 1000.0;

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

/// The table's billing settings, as the spec says.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BillingConfig {
    pub mode: CapacityMode,
    pub on_demand: OnDemandThroughput,
    /// Each GSI's name and own provisioned throughput (`None`: the table's).
    pub gsis: Vec<(String, Option<ProvisionedThroughput>)>,
}

/// A bucket with its counters.
#[derive(Debug)]
struct Gauge {
    bucket: TokenBucket,
    consumed_milli: AtomicU64,
    throttled: AtomicU64,
}

impl Gauge {
    fn new() -> Gauge {
        Gauge {
            bucket: TokenBucket::unlimited(),
            consumed_milli: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
        }
    }

    fn consumed(&self, units: f64) {
        if units > 0.0 {
            self.consumed_milli
                .fetch_add((units * MILLI).round() as u64, Ordering::Relaxed);
        }
    }

    /// Undoes a take whose operation did not happen.
    fn give_back(&self, units: f64) {
        if units > 0.0 {
            self.bucket.give_back(units);
            let milli = (units * MILLI).round() as u64;
            let _ = self
                .consumed_milli
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                    Some(c.saturating_sub(milli))
                });
        }
    }

    fn stats(&self, now: Duration) -> BudgetStats {
        BudgetStats {
            consumed_units: self.consumed_milli.load(Ordering::Relaxed) as f64 / MILLI,
            throttled_requests: self.throttled.load(Ordering::Relaxed),
            tokens: self.bucket.tokens(now),
            units_per_second: self.bucket.rate(),
        }
    }

    /// Sets the bucket to `rate` units per second saving `secs` seconds of them;
    /// `start`: the tokens it holds now (`None`: carried over).
    fn set(&self, rate: f64, secs: f64, now: Duration, start: Option<f64>) -> Result<(), String> {
        self.bucket
            .reconfigure(rate, rate * secs, now, start)
            .map_err(|e| e.to_string())
    }
}

/// The read and write budgets of one partition or index.
#[derive(Debug)]
struct Pair {
    read: Gauge,
    write: Gauge,
}

impl Pair {
    fn new() -> Pair {
        Pair {
            read: Gauge::new(),
            write: Gauge::new(),
        }
    }

    fn get(&self, kind: OpKind) -> &Gauge {
        match kind {
            OpKind::Read => &self.read,
            OpKind::Write => &self.write,
        }
    }
}

/// The budgets of one global secondary index (shared by the cores that open it).
#[derive(Debug)]
pub(crate) struct IndexBudgets {
    name: String,
    pair: Pair,
}

/// The retry hint of a refused read: until the bucket is out of debt (`wait`) and
/// holds the smallest read, half a unit (a read is admitted as soon as it is out of
/// debt; the hint is when one can succeed and cost something).
fn smallest_read(g: &Gauge, wait: Duration) -> Duration {
    let rate = g.bucket.rate();
    if rate.is_finite() && rate > 0.0 {
        wait.saturating_add(Duration::from_secs_f64(0.5 / rate))
    } else {
        wait
    }
}

fn kind_index(kind: OpKind) -> usize {
    match kind {
        OpKind::Read => 0,
        OpKind::Write => 1,
    }
}

/// The token buckets of one table (see the module documentation).
#[derive(Debug)]
pub(crate) struct TableCapacity {
    name: String,
    clock: Arc<dyn Clock>,
    opts: CapacityOptions,
    table: Pair,
    parts: Vec<Pair>,
    gsis: Mutex<BTreeMap<String, Arc<IndexBudgets>>>,
    billing: Mutex<BillingConfig>,
    /// On demand with [`OnDemandScaling::PreviousPeak`]: the table buckets follow
    /// `peaks`.
    follows_peak: AtomicBool,
    /// Read and write previous peaks.
    peaks: [PeakTracker; 2],
    /// Requests refused by any budget, read and write.
    throttled: [AtomicU64; 2],
}

impl TableCapacity {
    /// The buckets of a new (or newly opened) table.
    ///
    /// # Errors
    /// Settings the buckets refuse (validated specs never have them).
    pub(crate) fn new(
        name: &str,
        partitions: u32,
        clock: Arc<dyn Clock>,
        opts: CapacityOptions,
        billing: &BillingConfig,
    ) -> Result<TableCapacity, String> {
        let now = clock.now();
        let (initial_read, initial_write, ramp) = match opts.on_demand {
            OnDemandScaling::PreviousPeak {
                initial_read,
                initial_write,
                ramp,
            } => (initial_read as f64, initial_write as f64, ramp),
            OnDemandScaling::Unbounded => (0.0, 0.0, Duration::ZERO),
        };
        let t = TableCapacity {
            name: name.to_owned(),
            opts,
            table: Pair::new(),
            parts: (0..partitions).map(|_| Pair::new()).collect(),
            gsis: Mutex::new(BTreeMap::new()),
            billing: Mutex::new(billing.clone()),
            follows_peak: AtomicBool::new(false),
            peaks: [
                PeakTracker::new(initial_read, ramp, now),
                PeakTracker::new(initial_write, ramp, now),
            ],
            throttled: [AtomicU64::new(0), AtomicU64::new(0)],
            clock,
        };
        t.apply(billing, None, now)?;
        Ok(t)
    }

    /// Switches to new billing settings (`Db::update_table`, or a reopened core with
    /// other GSIs). Units consumed and throttled counts carry over; the tokens of a
    /// bucket whose mode did not change carry over too.
    ///
    /// # Errors
    /// As [`TableCapacity::new`].
    pub(crate) fn configure(&self, billing: &BillingConfig) -> Result<(), String> {
        let now = self.clock.now();
        let mut cur = self.billing.lock();
        if *cur == *billing {
            return Ok(());
        }
        let prev = cur.clone();
        self.apply(billing, Some(&prev), now)?;
        *cur = billing.clone();
        Ok(())
    }

    fn apply(
        &self,
        billing: &BillingConfig,
        prev: Option<&BillingConfig>,
        now: Duration,
    ) -> Result<(), String> {
        let burst = self.opts.burst_secs();
        let limits = [
            self.opts.partition_read_units as f64,
            self.opts.partition_write_units as f64,
        ];
        let same_mode = prev.is_some_and(|p| {
            std::mem::discriminant(&p.mode) == std::mem::discriminant(&billing.mode)
        });
        match billing.mode {
            CapacityMode::Provisioned {
                read_capacity_units,
                write_capacity_units,
            } => {
                self.follows_peak.store(false, Ordering::Release);
                let rates = [read_capacity_units as f64, write_capacity_units as f64];
                for kind in [OpKind::Read, OpKind::Write] {
                    let k = kind_index(kind);
                    let rate = rates[k];
                    // A new table (or one leaving on-demand) starts with one second's
                    // units; unused capacity then accumulates up to the burst window.
                    let start = (!same_mode).then_some(rate);
                    self.table.get(kind).set(rate, burst, now, start)?;
                    let share = if self.opts.adaptive {
                        limits[k]
                    } else {
                        limits[k].min(rate / self.parts.len().max(1) as f64)
                    };
                    for p in &self.parts {
                        p.get(kind)
                            .set(share, 1.0, now, (!same_mode).then_some(share))?;
                    }
                }
            }
            CapacityMode::OnDemand => {
                let maxes = [
                    billing.on_demand.max_read_request_units,
                    billing.on_demand.max_write_request_units,
                ];
                match self.opts.on_demand {
                    OnDemandScaling::Unbounded => {
                        self.follows_peak.store(false, Ordering::Release);
                        for kind in [OpKind::Read, OpKind::Write] {
                            let g = self.table.get(kind);
                            match maxes[kind_index(kind)] {
                                Some(m) => g.set(m as f64, 1.0, now, Some(m as f64))?,
                                None => g.bucket.set_unlimited(),
                            }
                            for p in &self.parts {
                                p.get(kind).bucket.set_unlimited();
                            }
                        }
                    }
                    OnDemandScaling::PreviousPeak { .. } => {
                        if let Some(BillingConfig {
                            mode:
                                CapacityMode::Provisioned {
                                    read_capacity_units,
                                    write_capacity_units,
                                },
                            ..
                        }) = prev
                        {
                            // DynamoDB: a table switched to on-demand starts from half
                            // its provisioned throughput (or a new table's peak).
                            self.peaks[0].raise_to(*read_capacity_units as f64 / 2.0);
                            self.peaks[1].raise_to(*write_capacity_units as f64 / 2.0);
                        }
                        for kind in [OpKind::Read, OpKind::Write] {
                            let k = kind_index(kind);
                            let allowance = self.allowance(self.peaks[k].peak(), maxes[k]);
                            self.table
                                .get(kind)
                                .set(allowance, 1.0, now, Some(allowance))?;
                            for p in &self.parts {
                                p.get(kind).set(
                                    limits[k],
                                    1.0,
                                    now,
                                    (!same_mode).then_some(limits[k]),
                                )?;
                            }
                        }
                        self.follows_peak.store(true, Ordering::Release);
                    }
                }
            }
        }
        self.apply_gsis(billing, prev, now)
    }

    fn allowance(&self, peak: f64, max: Option<u64>) -> f64 {
        let a = (2.0 * peak).max(1.0);
        match max {
            Some(m) => a.min(m as f64),
            None => a,
        }
    }

    fn apply_gsis(
        &self,
        billing: &BillingConfig,
        prev: Option<&BillingConfig>,
        now: Duration,
    ) -> Result<(), String> {
        let burst = self.opts.burst_secs();
        let mut map = self.gsis.lock();
        map.retain(|name, _| billing.gsis.iter().any(|(n, _)| n == name));
        for (name, own) in &billing.gsis {
            let prev_setting = prev.and_then(|p| {
                p.gsis
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, t)| (p.mode, *t))
            });
            let budgets = map
                .entry(name.clone())
                .or_insert_with(|| {
                    Arc::new(IndexBudgets {
                        name: name.clone(),
                        pair: Pair::new(),
                    })
                })
                .clone();
            match billing.mode {
                CapacityMode::Provisioned {
                    read_capacity_units,
                    write_capacity_units,
                } => {
                    let t = own.unwrap_or(ProvisionedThroughput::new(
                        read_capacity_units,
                        write_capacity_units,
                    ));
                    let rates = [t.read_capacity_units as f64, t.write_capacity_units as f64];
                    for kind in [OpKind::Read, OpKind::Write] {
                        let rate = rates[kind_index(kind)];
                        // A new index (or one leaving on-demand) starts with one
                        // second's units; a provisioned one keeps what it has.
                        let start = match prev_setting {
                            Some((CapacityMode::Provisioned { .. }, _)) => None,
                            _ => Some(rate),
                        };
                        budgets.pair.get(kind).set(rate, burst, now, start)?;
                    }
                }
                CapacityMode::OnDemand => {
                    budgets.pair.read.bucket.set_unlimited();
                    budgets.pair.write.bucket.set_unlimited();
                }
            }
        }
        Ok(())
    }

    /// The budgets of the GSIs called `names`, in that order (a GSI this table does
    /// not know gets unlimited budgets of its own).
    pub(crate) fn index_budgets<'a>(
        &self,
        names: impl Iterator<Item = &'a str>,
    ) -> Vec<Arc<IndexBudgets>> {
        let map = self.gsis.lock();
        names
            .map(|n| match map.get(n) {
                Some(b) => Arc::clone(b),
                None => Arc::new(IndexBudgets {
                    name: n.to_owned(),
                    pair: Pair::new(),
                }),
            })
            .collect()
    }

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
