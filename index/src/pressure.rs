//! Back-pressure: how a GSI's lag behind its base table slows, then stops, base writes
//! (DynamoDB throttles base writes when a GSI cannot keep up). A pure function of the
//! lag and the bounds.

use std::time::Duration;

/// How far a GSI is behind its base table (summed over base partitions, or per base
/// partition, as the caller decides).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Lag {
    /// Committed base records not yet applied.
    pub records: u64,
    /// Their bytes (in the base WAL).
    pub bytes: u64,
}

/// The bounds of [`admission`]. Between `slow_*` and `stop_*` writes are delayed, the
/// delay growing linearly from `min_delay` to `max_delay`; at or past `stop_*` they
/// stop. Records and bytes are judged separately and the worse one wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PressureBounds {
    /// Lag in records from which writes slow down.
    pub slow_records: u64,
    /// Lag in records at which writes stop.
    pub stop_records: u64,
    /// Lag in bytes from which writes slow down.
    pub slow_bytes: u64,
    /// Lag in bytes at which writes stop.
    pub stop_bytes: u64,
    /// Delay just past a `slow_*` bound.
    pub min_delay: Duration,
    /// Delay just before a `stop_*` bound.
    pub max_delay: Duration,
}

impl Default for PressureBounds {
    /// Slow from 20,000 records or 64 MiB, stop at 200,000 records or 512 MiB; delays
    /// of 1 to 100 ms.
    fn default() -> PressureBounds {
        PressureBounds {
            slow_records: 20_000,
            stop_records: 200_000,
            slow_bytes: 64 << 20,
            stop_bytes: 512 << 20,
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(100),
        }
    }
}

/// What a base write should do given the lag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Go ahead.
    Admit,
    /// Wait this long first.
    Slow(Duration),
    /// Wait until the GSI catches up (below the stop bound).
    Stop,
}

/// The admission of a base write when its GSI lags by `lag`.
///
/// ```
/// use std::time::Duration;
/// use strata_index::{admission, Admission, Lag, PressureBounds};
///
/// let b = PressureBounds { slow_records: 100, stop_records: 200, ..PressureBounds::default() };
/// assert_eq!(admission(Lag { records: 50, bytes: 0 }, &b), Admission::Admit);
/// assert!(matches!(admission(Lag { records: 150, bytes: 0 }, &b), Admission::Slow(_)));
/// assert_eq!(admission(Lag { records: 200, bytes: 0 }, &b), Admission::Stop);
/// ```
pub fn admission(lag: Lag, bounds: &PressureBounds) -> Admission {
    let records = fraction(lag.records, bounds.slow_records, bounds.stop_records);
    let bytes = fraction(lag.bytes, bounds.slow_bytes, bounds.stop_bytes);
    let f = match (records, bytes) {
        (None, None) => return Admission::Admit,
        (a, b) => a.unwrap_or(0.0).max(b.unwrap_or(0.0)),
    };
    if f >= 1.0 {
        return Admission::Stop;
    }
    let min = bounds.min_delay.min(bounds.max_delay);
    let span = bounds.max_delay.saturating_sub(min);
    Admission::Slow(min + span.mul_f64(f))
}

/// Where `lag` is between `slow` and `stop`: `None` below `slow` (or at it), else
/// `(lag - slow) / (stop - slow)` (1.0 or more means stop).
fn fraction(lag: u64, slow: u64, stop: u64) -> Option<f64> {
    if lag >= stop {
        return Some(1.0);
    }
    if lag <= slow {
        return None;
    }
    Some((lag - slow) as f64 / (stop - slow) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b() -> PressureBounds {
        PressureBounds {
            slow_records: 100,
            stop_records: 200,
            slow_bytes: 1000,
            stop_bytes: 2000,
            min_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(110),
        }
    }

    fn lag(records: u64, bytes: u64) -> Lag {
        Lag { records, bytes }
    }

    #[test]
    fn thresholds() {
        assert_eq!(admission(lag(0, 0), &b()), Admission::Admit);
        assert_eq!(admission(lag(100, 1000), &b()), Admission::Admit);
        assert_eq!(
            admission(lag(101, 0), &b()),
            Admission::Slow(Duration::from_millis(11))
        );
        assert_eq!(
            admission(lag(150, 0), &b()),
            Admission::Slow(Duration::from_millis(60))
        );
        assert_eq!(
            admission(lag(0, 1500), &b()),
            Admission::Slow(Duration::from_millis(60))
        );
        // The worse of the two wins.
        assert_eq!(
            admission(lag(150, 1900), &b()),
            Admission::Slow(Duration::from_millis(100))
        );
        assert_eq!(admission(lag(200, 0), &b()), Admission::Stop);
        assert_eq!(admission(lag(0, u64::MAX), &b()), Admission::Stop);
    }

    #[test]
    fn delay_grows_with_lag() {
        let mut last = Duration::ZERO;
        for r in 101..200 {
            let Admission::Slow(d) = admission(lag(r, 0), &b()) else {
                panic!("{r} should slow");
            };
            assert!(d >= last && d < Duration::from_millis(110));
            last = d;
        }
    }

    #[test]
    fn degenerate_bounds() {
        // stop <= slow: nothing in between, straight to Stop.
        let b = PressureBounds {
            slow_records: 100,
            stop_records: 50,
            ..b()
        };
        assert_eq!(admission(lag(49, 0), &b), Admission::Admit);
        assert_eq!(admission(lag(50, 0), &b), Admission::Stop);
        let zero = PressureBounds {
            slow_records: 0,
            stop_records: 0,
            ..b
        };
        assert_eq!(admission(lag(0, 0), &zero), Admission::Stop);
        let swapped = PressureBounds {
            min_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(5),
            ..PressureBounds::default()
        };
        assert_eq!(
            admission(lag(110_000, 0), &swapped),
            Admission::Slow(Duration::from_millis(5))
        );
    }
}
