//! A token-bucket rate limiter for compaction writes (RocksDB:
//! `NewGenericRateLimiter`).

use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Limits a byte stream to `rate` bytes per second, allowing bursts of up to
/// 100 ms worth of tokens.
#[derive(Debug)]
pub struct RateLimiter {
    rate: u64,
    state: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl RateLimiter {
    /// A limiter of `bytes_per_sec` (at least 1).
    pub fn new(bytes_per_sec: u64) -> RateLimiter {
        RateLimiter {
            rate: bytes_per_sec.max(1),
            state: Mutex::new(Bucket {
                tokens: 0.0,
                last: Instant::now(),
            }),
        }
    }

    /// The configured rate in bytes per second.
    pub fn rate(&self) -> u64 {
        self.rate
    }

    /// Takes `bytes` tokens, sleeping until they are available. Returns the
    /// time slept.
    pub fn request(&self, bytes: u64) -> Duration {
        let wait = {
            let mut b = self.state.lock();
            let now = Instant::now();
            let burst = self.rate as f64 / 10.0;
            let refill = now.duration_since(b.last).as_secs_f64() * self.rate as f64;
            b.tokens = (b.tokens + refill).min(burst.max(bytes as f64));
            b.last = now;
            b.tokens -= bytes as f64;
            if b.tokens >= 0.0 {
                Duration::ZERO
            } else {
                Duration::from_secs_f64(-b.tokens / self.rate as f64)
            }
        };
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debt_makes_callers_wait() {
        let r = RateLimiter::new(1_000_000);
        // 50 KB at 1 MB/s with an empty bucket: about 50 ms of debt overall.
        let mut slept = Duration::ZERO;
        for _ in 0..5 {
            slept += r.request(10_000);
        }
        assert!(slept > Duration::ZERO);
    }
}
