//! Setting a table's buckets from its billing settings: at open, on
//! `Db::update_table`, and when a replaced core brings another set of GSIs. What each
//! mode gives each bucket is tabled in `docs/capacity.md`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

use super::clock::Clock;
use super::gauge::{IndexBudgets, Pair, kind_index};
use super::limiter::TableCapacity;
use super::meter::OpKind;
use super::mode::{CapacityMode, OnDemandThroughput, ProvisionedThroughput};
use super::options::{CapacityOptions, OnDemandScaling};
use super::peak::PeakTracker;

/// The table's billing settings, as the spec says.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BillingConfig {
    pub mode: CapacityMode,
    pub on_demand: OnDemandThroughput,
    /// Each GSI's name and own provisioned throughput (`None`: the table's).
    pub gsis: Vec<(String, Option<ProvisionedThroughput>)>,
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

    /// An on-demand table's allowance: twice its previous peak, at most its maximum.
    pub(super) fn allowance(&self, peak: f64, max: Option<u64>) -> f64 {
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
}
