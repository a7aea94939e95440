//! [`CapacityOptions`]: the `Db`-wide settings of capacity enforcement (what DynamoDB
//! fixes for its service: partition limits, burst window, on-demand scaling).

use std::time::Duration;

use super::mode::MAX_CAPACITY_UNITS;

/// How on-demand tables scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OnDemandScaling {
    /// No limit but the table's optional [`super::OnDemandThroughput`] maximum; no
    /// per-partition limit (the default: an embedded on-demand table is unthrottled in
    /// practice, as before capacity was enforced).
    Unbounded,
    /// DynamoDB's rule: up to double the previous peak at once, the per-partition
    /// limits on top. A new table's previous peak is `initial_read` / `initial_write`
    /// units per second (DynamoDB: 6,000 and 2,000, so 12,000 RCU and 4,000 WCU at
    /// once); a higher peak counts once it has been sustained for `ramp` (DynamoDB: 30
    /// minutes).
    PreviousPeak {
        /// A new table's previous read peak (units per second).
        initial_read: u64,
        /// A new table's previous write peak (units per second).
        initial_write: u64,
        /// How long a new peak is pending before the allowance doubles from it.
        ramp: Duration,
    },
}

impl OnDemandScaling {
    /// DynamoDB's figures: previous peaks of 6,000 RCU and 2,000 WCU, a 30-minute ramp.
    pub fn dynamodb() -> OnDemandScaling {
        OnDemandScaling::PreviousPeak {
            initial_read: 6_000,
            initial_write: 2_000,
            ramp: Duration::from_secs(30 * 60),
        }
    }
}

/// Capacity enforcement settings of a `Db` (`DbOptions::capacity`).
///
/// ```
/// use std::time::Duration;
/// use strata_engine::capacity::{CapacityOptions, OnDemandScaling};
///
/// let opts = CapacityOptions::default()
///     .partition_limits(300, 100)
///     .on_demand(OnDemandScaling::dynamodb());
/// assert_eq!(opts.burst, Duration::from_secs(300));
/// assert!(opts.validate().is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct CapacityOptions {
    /// Most read units per second one partition serves (DynamoDB: 3,000).
    pub partition_read_units: u64,
    /// Most write units per second one partition serves (DynamoDB: 1,000).
    pub partition_write_units: u64,
    /// Adaptive capacity (default on, as in DynamoDB): a hot partition may use the
    /// table's unused capacity up to its partition limit. Off, each partition of a
    /// provisioned table gets an even share of the table's rate.
    pub adaptive: bool,
    /// How long unused provisioned capacity is kept for bursts (DynamoDB: 300 s).
    pub burst: Duration,
    /// How on-demand tables scale (default [`OnDemandScaling::Unbounded`]).
    pub on_demand: OnDemandScaling,
}

impl Default for CapacityOptions {
    fn default() -> Self {
        CapacityOptions {
            partition_read_units: 3_000,
            partition_write_units: 1_000,
            adaptive: true,
            burst: Duration::from_secs(300),
            on_demand: OnDemandScaling::Unbounded,
        }
    }
}

impl CapacityOptions {
    /// Sets the per-partition limits (units per second).
    #[must_use]
    pub fn partition_limits(mut self, read: u64, write: u64) -> CapacityOptions {
        self.partition_read_units = read;
        self.partition_write_units = write;
        self
    }

    /// Turns adaptive capacity on or off.
    #[must_use]
    pub fn adaptive(mut self, on: bool) -> CapacityOptions {
        self.adaptive = on;
        self
    }

    /// Sets how long unused capacity is kept.
    #[must_use]
    pub fn burst(mut self, burst: Duration) -> CapacityOptions {
        self.burst = burst;
        self
    }

    /// Sets how on-demand tables scale.
    #[must_use]
    pub fn on_demand(mut self, scaling: OnDemandScaling) -> CapacityOptions {
        self.on_demand = scaling;
        self
    }

    /// The burst window in seconds, at least one.
    pub(crate) fn burst_secs(&self) -> f64 {
        self.burst.as_secs_f64().max(1.0)
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// What is wrong: a limit or initial peak of 0 or above
    /// [`MAX_CAPACITY_UNITS`](super::MAX_CAPACITY_UNITS), a burst window under a
    /// second or over a day.
    pub fn validate(&self) -> Result<(), String> {
        let unit = |what: &str, v: u64| {
            if v == 0 || v > MAX_CAPACITY_UNITS {
                Err(format!(
                    "capacity option {what} must be 1 to {MAX_CAPACITY_UNITS} units per second, got {v}"
                ))
            } else {
                Ok(())
            }
        };
        unit("partition_read_units", self.partition_read_units)?;
        unit("partition_write_units", self.partition_write_units)?;
        if self.burst < Duration::from_secs(1) || self.burst > Duration::from_secs(86_400) {
            return Err(format!(
                "capacity option burst must be 1 s to 1 day, got {:?}",
                self.burst
            ));
        }
        if let OnDemandScaling::PreviousPeak {
            initial_read,
            initial_write,
            ..
        } = self.on_demand
        {
            unit("on_demand initial_read", initial_read)?;
            unit("on_demand initial_write", initial_write)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_options_are_refused() {
        assert!(CapacityOptions::default().validate().is_ok());
        assert!(
            CapacityOptions::default()
                .partition_limits(0, 1)
                .validate()
                .is_err()
        );
        assert!(
            CapacityOptions::default()
                .partition_limits(1, u64::MAX)
                .validate()
                .is_err()
        );
        assert!(
            CapacityOptions::default()
                .burst(Duration::from_millis(10))
                .validate()
                .is_err()
        );
        let err = CapacityOptions::default()
            .on_demand(OnDemandScaling::PreviousPeak {
                initial_read: 0,
                initial_write: 1,
                ramp: Duration::ZERO,
            })
            .validate()
            .unwrap_err();
        assert!(err.contains("initial_read"), "{err}");
    }
}
