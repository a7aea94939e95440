//! [`PeakTracker`]: an on-demand table's "previous peak" (DynamoDB's rule: traffic up
//! to double the previous peak is served at once; growing faster may be throttled).
//!
//! Consumption is counted in one-second windows of the clock. When a window closes
//! with more units than the current peak, that figure becomes the *pending* peak; it
//! becomes the peak once it has been pending for the ramp time (DynamoDB asks for
//! growth beyond double the previous peak to be spread over 30 minutes). The allowance
//! is twice the peak, so a table can double at once, and double again after the ramp.
//!
//! Hot path: one atomic read per operation (no write to a shared cache line); the
//! lock is taken once per second, by the one operation that closes a window, which then
//! reads the table's running total of consumed units (kept per partition anyway).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

#[derive(Debug)]
struct PeakState {
    peak: f64,
    pending: f64,
    pending_since: Option<Duration>,
    /// The running total of consumed units when the current window opened.
    total_at_open: f64,
}

/// An on-demand table's previous peak, per read or write (see the module docs).
#[derive(Debug)]
pub struct PeakTracker {
    /// The second (of the clock) of the open window.
    window: AtomicU64,
    ramp: Duration,
    state: Mutex<PeakState>,
}

impl PeakTracker {
    /// A tracker whose previous peak is `initial` units per second; a higher peak
    /// counts once it has been pending for `ramp`.
    pub fn new(initial: f64, ramp: Duration, now: Duration) -> PeakTracker {
        PeakTracker {
            window: AtomicU64::new(now.as_secs()),
            ramp,
            state: Mutex::new(PeakState {
                peak: initial.max(0.0),
                pending: 0.0,
                pending_since: None,
                total_at_open: 0.0,
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

    /// Called after an operation consumed units at `now`; `total` gives the running
    /// total of units the table consumed so far (called only when a window closes:
    /// the units consumed since the window opened are the window's, as every later
    /// second with traffic closes its predecessor). Returns the new previous peak when
    /// it rose.
    pub fn observe(&self, now: Duration, total: impl FnOnce() -> f64) -> Option<f64> {
        let second = now.as_secs();
        let current = self.window.load(Ordering::Acquire);
        if second > current
            && self
                .window
                .compare_exchange(current, second, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            return self.close_window(total(), now);
        }
        None
    }

    fn close_window(&self, total: f64, now: Duration) -> Option<f64> {
        let mut st = self.state.lock();
        let units = (total - st.total_at_open).max(0.0);
        st.total_at_open = total;
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
        let mut total = 0.0;
        for _ in 0..10 {
            total += 1.0;
            assert_eq!(p.observe(Duration::ZERO, || total), None);
        }
        // Second 0 closed with 10 units (the op that closes it is counted in the
        // next window): pending, not yet the peak.
        assert_eq!(p.observe(S, || total), None);
        total += 1.0;
        assert_eq!(p.peak(), 5.0);
        assert_eq!(p.observe(2 * S, || total), None);
        total += 1.0;
        assert_eq!(p.observe(S + 30 * 60 * S, || total), Some(10.0));
        assert_eq!(p.peak(), 10.0);
    }

    #[test]
    fn without_a_ramp_the_peak_follows_each_second() {
        let p = PeakTracker::new(1.0, Duration::ZERO, Duration::ZERO);
        assert_eq!(p.observe(Duration::ZERO, || 3.5), None);
        assert_eq!(p.observe(5 * S, || 3.5), Some(3.5));
        // A quieter second never lowers the peak; the total is only read on a roll.
        assert_eq!(p.observe(6 * S, || 4.0), None);
        assert_eq!(
            p.observe(6 * S, || panic!("not read within a window")),
            None
        );
        assert_eq!(p.peak(), 3.5);
        p.raise_to(2.0);
        assert_eq!(p.peak(), 3.5);
        p.raise_to(20.0);
        assert_eq!(p.peak(), 20.0);
    }
}
