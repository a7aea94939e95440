//! The group-commit leader's gathering policy (see `Inner::gather` in `wal.rs`):
//! how long to wait for one more commit before syncing. Pure, so it is tested
//! alone.

use std::time::{Duration, Instant};

/// What a gathering leader knows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gathering {
    /// The recent fsync time (moving average).
    pub sync_time: Duration,
    /// When the leader began to gather.
    pub start: Instant,
    /// `start` plus `WalOptions::group_commit_wait`.
    pub deadline: Instant,
    /// When the last commit arrived (`start` if none has).
    pub last_arrival: Instant,
    /// Commits pending for this sync.
    pub pending: usize,
    /// Commits expected: how many threads waited for the last sync.
    pub expected: usize,
    /// Writers that announced a commit and have not appended yet.
    pub intents: usize,
}

/// Until when to wait for the next commit, or `None` to sync now.
///
/// Sync now when nobody else is on the way (no intents, the expected commits
/// all pending). Otherwise wait, but only as long as one more commit pays: a
/// group of `g` commits synced after waiting `w` yields `g / (sync + w)`
/// commits per unit of time, and one more commit raises that only if it comes
/// within `(sync + w) / g` of the last one. Never past the deadline.
pub(crate) fn wait_until(g: &Gathering) -> Option<Instant> {
    if g.intents == 0 && g.pending >= g.expected {
        return None;
    }
    let group = u32::try_from(g.pending.max(1)).unwrap_or(u32::MAX);
    let worth = (g.sync_time + g.last_arrival.saturating_duration_since(g.start)) / group;
    let until = g.deadline.min(g.last_arrival + worth);
    (until > g.last_arrival).then_some(until)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(start: Instant, us: u64) -> Instant {
        start + Duration::from_micros(us)
    }

    fn base(start: Instant) -> Gathering {
        Gathering {
            sync_time: Duration::from_micros(400),
            start,
            deadline: at(start, 1000),
            last_arrival: start,
            pending: 1,
            expected: 1,
            intents: 0,
        }
    }

    #[test]
    fn nobody_on_the_way_syncs_at_once() {
        let s = Instant::now();
        assert_eq!(wait_until(&base(s)), None);
        let g = Gathering {
            pending: 5,
            expected: 3,
            ..base(s)
        };
        assert_eq!(wait_until(&g), None);
    }

    #[test]
    fn an_announced_writer_is_worth_a_sync_time_for_the_first_commit() {
        let s = Instant::now();
        let g = Gathering {
            intents: 1,
            ..base(s)
        };
        assert_eq!(wait_until(&g), Some(at(s, 400)));
    }

    #[test]
    fn each_further_commit_is_worth_less() {
        let s = Instant::now();
        // Three commits pending after waiting 50 µs: the fourth is worth
        // (400 + 50) / 3 = 150 µs after the last arrival.
        let g = Gathering {
            pending: 3,
            expected: 8,
            last_arrival: at(s, 50),
            ..base(s)
        };
        assert_eq!(wait_until(&g), Some(at(s, 200)));
    }

    #[test]
    fn never_past_the_deadline() {
        let s = Instant::now();
        let g = Gathering {
            expected: 2,
            deadline: at(s, 100),
            ..base(s)
        };
        assert_eq!(wait_until(&g), Some(at(s, 100)));
        let late = Gathering {
            last_arrival: at(s, 100),
            ..g
        };
        assert_eq!(wait_until(&late), None);
    }
}
