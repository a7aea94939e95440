//! Back-pressure on base writes from GSIs that fall behind (DynamoDB throttles base
//! writes for a GSI that cannot keep up): before a write to base partition `p`, each
//! `ACTIVE` GSI's lag in `p` is judged by `strata_index::admission` against
//! `DbOptions::index_pressure`. `Slow(d)`: the write sleeps `d` first (holding no lock
//! but its table's operation gate). `Stop`: the write waits for the maintainer (woken,
//! and rechecked after each of its rounds) up to `DbOptions::index_pressure_wait`, then
//! fails with [`DbError::IndexBackpressure`], writing nothing. `CREATING` indexes are
//! exempt: their live changes wait for the backfill by design.
//!
//! Lag: records are exact (the partition's last LSN minus the index's applied
//! checkpoint); bytes are estimated as records times the partition's average WAL
//! record size since the table was opened (`approximate_size` of its batches), which
//! keeps the check O(1) per index with no per-record memory.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use strata_index::{Admission, Lag, PressureBounds, admission};

use crate::table::DbError;
use crate::table::core::TableCore;
use crate::table::partition::Partition;

use super::service::TICK;

/// Bytes and records written to one base partition since the table was opened (for
/// the average record size of the byte lag estimate).
#[derive(Debug, Default)]
pub(crate) struct Written {
    records: AtomicU64,
    bytes: AtomicU64,
}

impl Written {
    /// Notes one WAL record of `bytes`.
    pub(crate) fn note(&self, bytes: usize) {
        self.records.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    fn avg(&self) -> u64 {
        let r = self.records.load(Ordering::Relaxed);
        self.bytes
            .load(Ordering::Relaxed)
            .checked_div(r)
            .unwrap_or(0)
    }
}

/// The worst admission over the table's ACTIVE GSIs for a write to `part`, with the
/// index and its lag.
fn judge(core: &TableCore, part: &Partition, bounds: &PressureBounds) -> (Admission, usize, Lag) {
    let p = part.index as usize;
    let last = part.tree.wal_next_lsn().saturating_sub(1);
    let avg = core.gsi.written.get(p).map_or(0, Written::avg);
    let mut worst = (Admission::Admit, 0, Lag::default());
    for g in 0..core.gsi_defs.len() {
        if core.gsi.is_creating(g) {
            continue;
        }
        let records = last.saturating_sub(core.gsi.applied(g, p));
        let lag = Lag {
            records,
            bytes: records.saturating_mul(avg),
        };
        let a = admission(lag, bounds);
        let rank = |a: &Admission| match a {
            Admission::Admit => Duration::ZERO,
            Admission::Slow(d) => *d,
            Admission::Stop => Duration::MAX,
        };
        if rank(&a) > rank(&worst.0) {
            worst = (a, g, lag);
        }
    }
    worst
}

/// Slows or stops a base write to `part` while a GSI of the table is too far behind
/// (see the module doc). Called before the partition's write lock is taken.
///
/// # Errors
/// [`DbError::IndexBackpressure`] after the bounded wait.
pub(crate) fn admit_write(core: &TableCore, part: &Partition) -> Result<(), DbError> {
    if core.gsi_defs.is_empty() {
        return Ok(());
    }
    let bounds = &core.hooks.index_pressure;
    let mut deadline: Option<Instant> = None;
    loop {
        let (a, g, lag) = judge(core, part, bounds);
        match a {
            Admission::Admit => return Ok(()),
            Admission::Slow(d) => {
                core.hooks.gsi_waker.wake();
                std::thread::sleep(d);
                return Ok(());
            }
            Admission::Stop => {
                let now = Instant::now();
                let until = *deadline.get_or_insert(now + core.hooks.index_pressure_wait);
                if now >= until {
                    tracing::warn!(table = core.name(), partition = part.index,
                        index = %core.gsi_defs[g].name, lag_records = lag.records,
                        "base write throttled: a GSI is too far behind");
                    return Err(DbError::IndexBackpressure {
                        table: core.name().to_owned(),
                        partition: part.index,
                        index: core.gsi_defs[g].name.clone(),
                        lag_records: lag.records,
                        lag_bytes: lag.bytes,
                    });
                }
                core.hooks.gsi_waker.wake();
                let mut l = core.gsi.progress_lock.lock();
                core.gsi.progress.wait_for(&mut l, (until - now).min(TICK));
            }
        }
    }
}
