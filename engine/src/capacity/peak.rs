//! [`PeakTracker`]: an on-demand table's "previous peak" (DynamoDB's rule: traffic up
//! to double the previous peak is served at once; growing faster may be throttled).
//!
//! Consumption is counted in one-second windows of the clock. When a window closes
//! with more units than the current peak, that figure becomes the *pending* peak; it
//! becomes the peak once it has been pending for the ramp time (DynamoDB asks for
//! growth beyond double the previous peak to be spread over 30 minutes). The allowance
//! is twice the peak, so a table can double at once, and double again after the ramp.
//!
//! Hot path: two atomic reads and one atomic add per operation; the lock is taken once
//! per second, by the one operation that closes a window.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

/// Units are counted in thousandths (units are multiples of 0.5).
const MILLI: f64 = 1000.0;

#[derive(Debug)]
struct PeakState {
    peak: f64,
    pending: f64,
    pending_since: Option<Duration>,
}

/// An on-demand table's previous peak, per read or write (see the module docs).
#[derive(Debug)]
pub struct PeakTracker {
    /// The second (of the clock) whose consumption `in_window` counts.
    window: AtomicU64,
    /// Thousandths of units consumed in `window`.
    in_window: AtomicU64,
    ramp: Duration,
    state: Mutex<PeakState>,
}

impl PeakTracker {
    /// A tracker whose previous peak is `initial` units per second; a higher peak
    /// counts once it has been pending for `ramp`.
    pub fn new(initial: f64, ramp: Duration, now: Duration) -> PeakTracker {
        PeakTracker {
            window: AtomicU64::new(now.as_secs()),
            in_window: AtomicU64::new(0),
            ramp,
            state: Mutex::new(PeakState {
                peak: initial.max(0.0),
                pending: 0.0,
                pending_since: None,
            }),
        }
    }

    /// The previous peak, in units per second.
    pub fn peak(&self) -> f64 {
        self.state.lock().peak
    }

    /// Raises the previous peak to at least `peak` at once (a table switched from
    /// provisioned to on-demand starts from half its provisioned rate).
    pub fn raise_to(&self, peak: f64) {
        let mut st = self.state.lock();
        if peak > st.peak {
            st.peak = peak;
        }
    }

    /// Records `units` consumed at `now`. Returns the new previous peak when it rose.
    pub fn record(&self, units: f64, now: Duration) -> Option<f64> {
        let second = now.as_secs();
        let current = self.window.load(Ordering::Acquire);
        let mut raised = None;
        if second > current
            && self
                .window
                .compare_exchange(current, second, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            let closed = self.in_window.swap(0, Ordering::AcqRel) as f64 / MILLI;
            raised = self.close_window(closed, now);
        }
        let milli = (units.max(0.0) * MILLI).round() as u64;
        self.in_window.fetch_add(milli, Ordering::AcqRel);
        raised
    }

    fn close_window(&self, units: f64, now: Duration) -> Option<f64> {
        let mut st = self.state.lock();
        if units > st.peak && units > st.pending {
            st.pending = units;
            st.pending_since.get_or_insert(now);
        }
        match st.pending_since {
            Some(since) if now >= since.saturating_add(self.ramp) => {
                st.peak = st.peak.max(st.pending);
                st.pending = 0.0;
                st.pending_since = None;
                Some(st.peak)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn a_new_peak_counts_after_the_ramp() {
        let p = PeakTracker::new(5.0, 30 * 60 * S, Duration::ZERO);
        for _ in 0..10 {
            assert_eq!(p.record(1.0, Duration::ZERO), None);
        }
        // Second 0 closed with 10 units: pending, not yet the peak.
        assert_eq!(p.record(1.0, S), None);
        assert_eq!(p.peak(), 5.0);
        assert_eq!(p.record(1.0, 2 * S), None);
        assert_eq!(p.record(1.0, S + 30 * 60 * S), Some(10.0));
        assert_eq!(p.peak(), 10.0);
    }

    #[test]
    fn without_a_ramp_the_peak_follows_each_second() {
        let p = PeakTracker::new(1.0, Duration::ZERO, Duration::ZERO);
        p.record(3.5, Duration::ZERO);
        assert_eq!(p.record(0.5, 5 * S), Some(3.5));
        // A quieter second never lowers the peak.
        assert_eq!(p.record(0.0, 6 * S), None);
        assert_eq!(p.peak(), 3.5);
        p.raise_to(2.0);
        assert_eq!(p.peak(), 3.5);
        p.raise_to(20.0);
        assert_eq!(p.peak(), 20.0);
    }
}
