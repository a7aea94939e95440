//! [`TokenBucket`]: a lock-free token bucket with fractional units.
//!
//! The state is one atomic: the instant `zero_at` (nanoseconds on the [`super::Clock`])
//! at which the bucket would have held zero tokens, refilling at `rate` ever since. So
//! at time `t` it holds `min(capacity, (t - zero_at) × rate)` tokens (negative: in
//! debt). Taking `n` tokens moves `zero_at` forward by `n / rate`; refill is the clock
//! moving on. This is the "generic cell rate algorithm" form of a token bucket: a
//! take is one compare-and-swap, with no lock and no background refill.
//!
//! Three ways to spend:
//! - [`TokenBucket::try_take`]: all or nothing (writes, which know their units before
//!   they commit). A take larger than the whole capacity succeeds when the bucket is
//!   full, going into debt, so that no request is refused forever.
//! - [`TokenBucket::admit`] then [`TokenBucket::charge`]: admitted while the bucket is
//!   not in debt, charged the actual units after (reads, which know their units only
//!   once they have read); the debt delays the next admission.
//! - [`TokenBucket::give_back`]: returns tokens taken for an operation that then did
//!   not happen (another budget refused it).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

const NANOS_PER_SEC: f64 = 1e9;

/// A bucket setting that makes no sense.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BucketError {
    /// The refill rate is not a finite number above zero.
    #[error("token bucket rate must be a finite number of units per second above 0, got {0}")]
    Rate(f64),
    /// The capacity is not a finite number above zero.
    #[error("token bucket capacity must be a finite number of units above 0, got {0}")]
    Capacity(f64),
    /// The initial tokens are not a finite number from 0 to the capacity.
    #[error("token bucket initial tokens must be from 0 to the capacity {capacity}, got {initial}")]
    Initial {
        /// The initial tokens asked for.
        initial: f64,
        /// The capacity.
        capacity: f64,
    },
}

/// A thread-safe token bucket (see the module documentation).
///
/// ```
/// use std::time::Duration;
/// use strata_engine::capacity::TokenBucket;
///
/// // 10 units per second, up to 300 seconds of them saved, starting with 1 second's.
/// let b = TokenBucket::new(10.0, 3000.0, 10.0, Duration::ZERO)?;
/// for _ in 0..20 {
///     b.try_take(0.5, Duration::ZERO).unwrap();
/// }
/// let wait = b.try_take(0.5, Duration::ZERO).unwrap_err();
/// assert_eq!(wait, Duration::from_millis(50));
/// assert!(b.try_take(0.5, Duration::from_millis(50)).is_ok());
/// # Ok::<(), strata_engine::capacity::BucketError>(())
/// ```
#[derive(Debug)]
pub struct TokenBucket {
    /// Nanoseconds on the clock at which the bucket held zero tokens.
    zero_at: AtomicI64,
    /// Units per second (`f64` bits); infinite for an unlimited bucket.
    rate: AtomicU64,
    /// Most tokens held (`f64` bits).
    capacity: AtomicU64,
    /// Nanoseconds an empty bucket takes to fill (`capacity / rate`), kept with the
    /// two so that a take does not divide for it.
    span: AtomicI64,
}

fn nanos(t: Duration) -> i64 {
    i64::try_from(t.as_nanos()).unwrap_or(i64::MAX)
}

/// Nanoseconds `units` take to refill at `rate` (rounded to the nearest nanosecond,
/// half away from zero; written out because `f64::round` is a library call on the
/// baseline x86-64 target, and this is on every operation's path).
fn units_ns(units: f64, rate: f64) -> i64 {
    let ns = units * NANOS_PER_SEC / rate;
    (if ns >= 0.0 { ns + 0.5 } else { ns - 0.5 }) as i64
}

fn check_rate(rate: f64) -> Result<(), BucketError> {
    if rate.is_finite() && rate > 0.0 {
        Ok(())
    } else {
        Err(BucketError::Rate(rate))
    }
}

fn check(rate: f64, capacity: f64, initial: f64) -> Result<(), BucketError> {
    check_rate(rate)?;
    if !(capacity.is_finite() && capacity > 0.0) {
        return Err(BucketError::Capacity(capacity));
    }
    if !(initial.is_finite() && (0.0..=capacity).contains(&initial)) {
        return Err(BucketError::Initial { initial, capacity });
    }
    Ok(())
}

impl TokenBucket {
    /// A bucket refilling at `rate` units per second up to `capacity`, holding
    /// `initial` tokens at `now`.
    ///
    /// # Errors
    /// [`BucketError`] for a rate or capacity that is not a finite number above 0
    /// (NaN, infinite, zero or negative), or initial tokens outside `0..=capacity`.
    pub fn new(
        rate: f64,
        capacity: f64,
        initial: f64,
        now: Duration,
    ) -> Result<TokenBucket, BucketError> {
        check(rate, capacity, initial)?;
        Ok(TokenBucket {
            zero_at: AtomicI64::new(nanos(now).saturating_sub(units_ns(initial, rate))),
            rate: AtomicU64::new(rate.to_bits()),
            capacity: AtomicU64::new(capacity.to_bits()),
            span: AtomicI64::new(units_ns(capacity, rate)),
        })
    }

    /// A bucket that never runs out.
    pub fn unlimited() -> TokenBucket {
        TokenBucket {
            zero_at: AtomicI64::new(0),
            rate: AtomicU64::new(f64::INFINITY.to_bits()),
            capacity: AtomicU64::new(f64::INFINITY.to_bits()),
            span: AtomicI64::new(0),
        }
    }

    /// Units per second (infinite for an unlimited bucket).
    pub fn rate(&self) -> f64 {
        f64::from_bits(self.rate.load(Ordering::Relaxed))
    }

    /// Most tokens the bucket holds (infinite for an unlimited bucket).
    pub fn capacity(&self) -> f64 {
        f64::from_bits(self.capacity.load(Ordering::Relaxed))
    }

    /// Whether the bucket never runs out.
    pub fn is_unlimited(&self) -> bool {
        self.rate().is_infinite()
    }

    /// `zero_at` after refilling up to the capacity: never earlier than `now` minus
    /// the time a full bucket takes to fill.
    fn base(&self, zero_at: i64, now: i64) -> i64 {
        let full = now.saturating_sub(self.span.load(Ordering::Relaxed));
        zero_at.max(full)
    }

    /// Tokens held at `now` (negative when in debt; infinite when unlimited).
    pub fn tokens(&self, now: Duration) -> f64 {
        let rate = self.rate();
        if rate.is_infinite() {
            return f64::INFINITY;
        }
        let t = nanos(now);
        let base = self.base(self.zero_at.load(Ordering::Acquire), t);
        (t.saturating_sub(base)) as f64 * rate / NANOS_PER_SEC
    }

    /// Takes `units` if the bucket holds them (or is full); otherwise takes nothing
    /// and returns how long until it would hold them. Zero or negative units are
    /// always served (they take nothing); NaN or infinite units never.
    ///
    /// # Errors
    /// The wait until the take would succeed (at the current rate, with no one else
    /// taking).
    pub fn try_take(&self, units: f64, now: Duration) -> Result<(), Duration> {
        let rate = self.rate();
        if !units.is_finite() {
            // Not a request size: never served (NaN or infinite units).
            return Err(Duration::MAX);
        }
        if rate.is_infinite() || units <= 0.0 {
            return Ok(());
        }
        let t = nanos(now);
        let need = units_ns(units, rate);
        let full_span = self.span.load(Ordering::Relaxed);
        let mut cur = self.zero_at.load(Ordering::Acquire);
        loop {
            let base = self.base(cur, t);
            let next = base.saturating_add(need);
            let is_full = base <= t.saturating_sub(full_span);
            if next > t && !(is_full && need > full_span) {
                let wait = if need > full_span {
                    // Only a full bucket serves more than its capacity.
                    base.saturating_add(full_span).saturating_sub(t)
                } else {
                    next.saturating_sub(t)
                };
                return Err(Duration::from_nanos(u64::try_from(wait).unwrap_or(0)));
            }
            match self
                .zero_at
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Ok(()),
                Err(actual) => cur = actual,
            }
        }
    }

    /// Admits an operation whose units are not known yet: succeeds while the bucket
    /// holds more than zero tokens (is not in debt).
    ///
    /// # Errors
    /// How long until the bucket is out of debt.
    pub fn admit(&self, now: Duration) -> Result<(), Duration> {
        if self.is_unlimited() {
            return Ok(());
        }
        let t = nanos(now);
        let z = self.zero_at.load(Ordering::Acquire);
        if z < t {
            Ok(())
        } else {
            let wait = z.saturating_sub(t).saturating_add(1);
            Err(Duration::from_nanos(u64::try_from(wait).unwrap_or(0)))
        }
    }

    /// Takes `units` whatever the bucket holds (it may go into debt). Units that are
    /// not a finite number above zero take nothing.
    pub fn charge(&self, units: f64, now: Duration) {
        let rate = self.rate();
        if rate.is_infinite() || !(units.is_finite() && units > 0.0) {
            return;
        }
        let t = nanos(now);
        let need = units_ns(units, rate);
        let _ = self
            .zero_at
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |z| {
                Some(self.base(z, t).saturating_add(need))
            });
    }

    /// Returns `units` taken by [`TokenBucket::try_take`] for an operation that did
    /// not happen.
    pub fn give_back(&self, units: f64) {
        let rate = self.rate();
        if rate.is_infinite() || !(units.is_finite() && units > 0.0) {
            return;
        }
        let back = units_ns(units, rate);
        let _ = self
            .zero_at
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |z| {
                Some(z.saturating_sub(back))
            });
    }

    /// Changes the rate and capacity at `now`. With `tokens` `None` the tokens held
    /// carry over (capped by the new capacity; a debt stays a debt; an unlimited
    /// bucket becomes full); with `Some(n)` the bucket holds `n` (capped by the
    /// capacity). A take racing the change may be computed with the old rate.
    ///
    /// # Errors
    /// As [`TokenBucket::new`] (nothing is changed then).
    pub fn reconfigure(
        &self,
        rate: f64,
        capacity: f64,
        now: Duration,
        tokens: Option<f64>,
    ) -> Result<(), BucketError> {
        check(rate, capacity, 0.0)?;
        if let Some(n) = tokens
            && !(n.is_finite() && n >= 0.0)
        {
            return Err(BucketError::Initial {
                initial: n,
                capacity,
            });
        }
        let t = nanos(now);
        let old_rate = self.rate();
        let mut cur = self.zero_at.load(Ordering::Acquire);
        loop {
            let held = if old_rate.is_infinite() {
                capacity
            } else {
                let base = self.base(cur, t);
                t.saturating_sub(base) as f64 * old_rate / NANOS_PER_SEC
            };
            let held = tokens.unwrap_or(held).min(capacity);
            let next = t.saturating_sub(units_ns(held, rate));
            match self
                .zero_at
                .compare_exchange(cur, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break,
                Err(actual) => cur = actual,
            }
        }
        self.rate.store(rate.to_bits(), Ordering::Release);
        self.capacity.store(capacity.to_bits(), Ordering::Release);
        self.span.store(units_ns(capacity, rate), Ordering::Release);
        Ok(())
    }

    /// Makes the bucket unlimited.
    pub fn set_unlimited(&self) {
        self.rate.store(f64::INFINITY.to_bits(), Ordering::Release);
        self.capacity
            .store(f64::INFINITY.to_bits(), Ordering::Release);
        self.span.store(0, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn refills_at_its_rate() {
        let b = TokenBucket::new(10.0, 3000.0, 10.0, Duration::ZERO).unwrap();
        for _ in 0..10 {
            b.try_take(1.0, Duration::ZERO).unwrap();
        }
        assert_eq!(b.try_take(1.0, Duration::ZERO), Err(ms(100)));
        assert_eq!(b.tokens(Duration::ZERO), 0.0);
        assert_eq!(b.tokens(ms(250)), 2.5);
        b.try_take(1.0, ms(100)).unwrap();
        assert_eq!(b.try_take(1.0, ms(100)), Err(ms(100)));
    }

    #[test]
    fn unused_capacity_accumulates_up_to_the_burst_cap() {
        // 10 units/s, 300 s of burst.
        let b = TokenBucket::new(10.0, 3000.0, 10.0, Duration::ZERO).unwrap();
        assert_eq!(b.tokens(60 * S), 610.0);
        assert_eq!(b.tokens(299 * S), 3000.0);
        assert_eq!(b.tokens(10_000 * S), 3000.0);
        let now = 10_000 * S;
        for _ in 0..3000 {
            b.try_take(1.0, now).unwrap();
        }
        assert!(b.try_take(1.0, now).is_err());
    }

    #[test]
    fn fractional_units() {
        let b = TokenBucket::new(1.0, 1.0, 1.0, Duration::ZERO).unwrap();
        b.try_take(0.5, Duration::ZERO).unwrap();
        b.try_take(0.25, Duration::ZERO).unwrap();
        b.try_take(0.25, Duration::ZERO).unwrap();
        assert_eq!(b.try_take(0.5, Duration::ZERO), Err(ms(500)));
        assert_eq!(b.tokens(ms(750)), 0.75);
    }

    #[test]
    fn admit_then_charge_goes_into_debt_and_waits_it_out() {
        let b = TokenBucket::new(2.0, 2.0, 2.0, Duration::ZERO).unwrap();
        b.admit(Duration::ZERO).unwrap();
        b.charge(5.0, Duration::ZERO);
        assert_eq!(b.tokens(Duration::ZERO), -3.0);
        let wait = b.admit(Duration::ZERO).unwrap_err();
        assert!(wait > ms(1499) && wait <= ms(1501), "{wait:?}");
        assert!(b.admit(ms(1500)).is_err());
        b.admit(ms(1501)).unwrap();
    }

    #[test]
    fn a_take_above_capacity_succeeds_only_from_a_full_bucket() {
        let b = TokenBucket::new(1.0, 4.0, 3.0, Duration::ZERO).unwrap();
        assert_eq!(b.try_take(10.0, Duration::ZERO), Err(S));
        b.try_take(10.0, S).unwrap();
        assert_eq!(b.tokens(S), -6.0);
    }

    #[test]
    fn give_back_undoes_a_take() {
        let b = TokenBucket::new(5.0, 5.0, 5.0, Duration::ZERO).unwrap();
        b.try_take(4.0, Duration::ZERO).unwrap();
        b.give_back(4.0);
        assert_eq!(b.tokens(Duration::ZERO), 5.0);
    }

    #[test]
    fn reconfigure_carries_tokens_or_fills() {
        let b = TokenBucket::new(10.0, 100.0, 50.0, Duration::ZERO).unwrap();
        b.reconfigure(1.0, 20.0, Duration::ZERO, None).unwrap();
        assert_eq!(b.tokens(Duration::ZERO), 20.0);
        assert_eq!(b.rate(), 1.0);
        b.try_take(20.0, Duration::ZERO).unwrap();
        b.reconfigure(100.0, 100.0, Duration::ZERO, Some(1000.0))
            .unwrap();
        assert_eq!(b.tokens(Duration::ZERO), 100.0);
        b.set_unlimited();
        assert!(b.try_take(1e12, Duration::ZERO).is_ok());
        assert!(b.tokens(Duration::ZERO).is_infinite());
        b.reconfigure(1.0, 1.0, Duration::ZERO, None).unwrap();
        assert_eq!(b.tokens(Duration::ZERO), 1.0);
    }

    #[test]
    fn bad_settings_are_refused() {
        let z = Duration::ZERO;
        for rate in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert_eq!(
                TokenBucket::new(rate, 1.0, 0.0, z).unwrap_err().to_string(),
                BucketError::Rate(rate).to_string()
            );
        }
        for cap in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                TokenBucket::new(1.0, cap, 0.0, z),
                Err(BucketError::Capacity(_))
            ));
        }
        for initial in [-0.5, 2.0, f64::NAN] {
            assert!(matches!(
                TokenBucket::new(1.0, 1.0, initial, z),
                Err(BucketError::Initial { .. })
            ));
        }
        let b = TokenBucket::new(1.0, 1.0, 1.0, z).unwrap();
        assert!(b.reconfigure(f64::NAN, 1.0, z, None).is_err());
        assert!(b.reconfigure(1.0, f64::NAN, z, None).is_err());
        assert!(b.reconfigure(1.0, 1.0, z, Some(f64::NAN)).is_err());
        assert!(b.reconfigure(1.0, 1.0, z, Some(-1.0)).is_err());
        assert_eq!(b.rate(), 1.0);
    }

    #[test]
    fn unlimited_never_refuses() {
        let b = TokenBucket::unlimited();
        b.charge(1e9, Duration::ZERO);
        b.admit(Duration::ZERO).unwrap();
        b.try_take(1e9, Duration::ZERO).unwrap();
    }

    fn any_f64() -> impl Strategy<Value = f64> {
        prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(0.0),
            Just(-0.0),
            Just(f64::MIN_POSITIVE),
            Just(f64::MAX),
            Just(1e-300),
            proptest::num::f64::ANY,
            -1e6f64..1e6,
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever numbers a caller passes, the bucket answers (an error or a
        /// result) and never panics; a refused setting leaves no bucket.
        #[test]
        fn any_numbers_are_answered_never_a_panic(
            rate in any_f64(),
            capacity in any_f64(),
            initial in any_f64(),
            ops in proptest::collection::vec((0u8..6, any_f64(), 0u64..u64::MAX), 0..20),
        ) {
            let now = Duration::from_secs(1);
            match TokenBucket::new(rate, capacity, initial, now) {
                Err(_) => prop_assert!(
                    !(rate.is_finite()
                        && rate > 0.0
                        && capacity.is_finite()
                        && capacity > 0.0
                        && initial.is_finite()
                        && (0.0..=capacity).contains(&initial))
                ),
                Ok(b) => {
                    for (op, x, t) in ops {
                        let t = Duration::from_nanos(t);
                        match op {
                            0 => drop(b.try_take(x, t)),
                            1 => b.charge(x, t),
                            2 => drop(b.admit(t)),
                            3 => b.give_back(x),
                            4 => drop(b.reconfigure(x, x * 2.0, t, Some(x))),
                            _ => {
                                let _ = b.tokens(t);
                            }
                        }
                    }
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Concurrent takers at one instant never take more than the bucket held.
        #[test]
        fn concurrent_takers_never_overdraw(
            rate in 1u32..1000,
            initial_pct in 0u32..=100,
            takes in proptest::collection::vec(
                proptest::collection::vec(1u32..40, 1..60), 2..6),
        ) {
            let rate = f64::from(rate);
            let capacity = rate * 300.0;
            let initial = (capacity * f64::from(initial_pct) / 100.0).min(rate * 3.0);
            let now = Duration::from_secs(5);
            let b = Arc::new(TokenBucket::new(rate, capacity, initial, now).unwrap());
            let handles: Vec<_> = takes
                .into_iter()
                .map(|list| {
                    let b = Arc::clone(&b);
                    std::thread::spawn(move || {
                        let mut got = 0.0;
                        for quarters in list {
                            let units = f64::from(quarters) / 4.0;
                            if b.try_take(units, now).is_ok() {
                                got += units;
                            }
                        }
                        got
                    })
                })
                .collect();
            let taken: f64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
            // Times are kept in whole nanoseconds: each take may round by half a
            // nanosecond's worth of units, far below any request's size.
            prop_assert!(taken <= initial + 1e-3, "took {taken} of {initial}");
            let left = b.tokens(now);
            prop_assert!((initial - taken - left).abs() < 1e-3, "{initial} - {taken} != {left}");
        }

        /// Over time, what a taker gets never exceeds what was there plus the refill.
        #[test]
        fn takes_never_exceed_refill(
            steps in proptest::collection::vec((0u64..2000, 1u32..20), 1..200),
        ) {
            let b = TokenBucket::new(7.0, 70.0, 7.0, Duration::ZERO).unwrap();
            let mut now = Duration::ZERO;
            let mut taken = 0.0;
            for (advance_ms, halves) in steps {
                now += Duration::from_millis(advance_ms);
                let units = f64::from(halves) / 2.0;
                if b.try_take(units, now).is_ok() {
                    taken += units;
                }
                let bound = 7.0 + 7.0 * now.as_secs_f64();
                prop_assert!(taken <= bound + 1e-3);
                prop_assert!(b.tokens(now) <= 70.0 + 1e-9);
            }
        }
    }
}
