//! [`Gauge`]: one token bucket with its counters (units consumed, requests refused),
//! and the read/write pairs of them that partitions and indexes have.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::bucket::TokenBucket;
use super::meter::OpKind;
use super::stats::BudgetStats;

/// Units are counted in thousandths (they are multiples of 0.5).
pub(super) const MILLI: f64 = 1000.0;

/// A bucket with its counters.
#[derive(Debug)]
pub(super) struct Gauge {
    pub(super) bucket: TokenBucket,
    pub(super) consumed_milli: AtomicU64,
    pub(super) throttled: AtomicU64,
}

impl Gauge {
    pub(super) fn new() -> Gauge {
        Gauge {
            bucket: TokenBucket::unlimited(),
            consumed_milli: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
        }
    }

    pub(super) fn consumed(&self, units: f64) {
        if units > 0.0 {
            self.consumed_milli
                .fetch_add((units * MILLI + 0.5) as u64, Ordering::Relaxed);
        }
    }

    /// Undoes a take whose operation did not happen.
    pub(super) fn give_back(&self, units: f64) {
        if units > 0.0 {
            self.bucket.give_back(units);
            let milli = (units * MILLI + 0.5) as u64;
            let _ = self
                .consumed_milli
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                    Some(c.saturating_sub(milli))
                });
        }
    }

    pub(super) fn stats(&self, now: Duration) -> BudgetStats {
        BudgetStats {
            consumed_units: self.consumed_milli.load(Ordering::Relaxed) as f64 / MILLI,
            throttled_requests: self.throttled.load(Ordering::Relaxed),
            tokens: self.bucket.tokens(now),
            units_per_second: self.bucket.rate(),
        }
    }

    /// Sets the bucket to `rate` units per second saving `secs` seconds of them;
    /// `start`: the tokens it holds now (`None`: carried over).
    pub(super) fn set(
        &self,
        rate: f64,
        secs: f64,
        now: Duration,
        start: Option<f64>,
    ) -> Result<(), String> {
        self.bucket
            .reconfigure(rate, rate * secs, now, start)
            .map_err(|e| e.to_string())
    }
}

/// The read and write budgets of one partition or index.
#[derive(Debug)]
pub(super) struct Pair {
    pub(super) read: Gauge,
    pub(super) write: Gauge,
}

impl Pair {
    pub(super) fn new() -> Pair {
        Pair {
            read: Gauge::new(),
            write: Gauge::new(),
        }
    }

    pub(super) fn get(&self, kind: OpKind) -> &Gauge {
        match kind {
            OpKind::Read => &self.read,
            OpKind::Write => &self.write,
        }
    }
}

/// The budgets of one global secondary index (shared by the cores that open it).
#[derive(Debug)]
pub(crate) struct IndexBudgets {
    pub(super) name: String,
    pub(super) pair: Pair,
}

/// The retry hint of a refused read: until the bucket is out of debt (`wait`) and
/// holds the smallest read, half a unit (a read is admitted as soon as it is out of
/// debt; the hint is when one can succeed and cost something).
pub(super) fn smallest_read(g: &Gauge, wait: Duration) -> Duration {
    let rate = g.bucket.rate();
    if rate.is_finite() && rate > 0.0 {
        wait.saturating_add(Duration::try_from_secs_f64(0.5 / rate).unwrap_or(Duration::MAX))
    } else {
        wait
    }
}

pub(super) fn kind_index(kind: OpKind) -> usize {
    match kind {
        OpKind::Read => 0,
        OpKind::Write => 1,
    }
}
