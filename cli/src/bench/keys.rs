//! Which key an operation touches and what it does (pure): the tree workloads' key
//! format, uniform and Zipfian key choice, and YCSB's read/update mixes.

use rand::Rng;
use rand_distr::{Distribution, Zipf};

/// The tree key of key number `i`: `i` in decimal, zero-padded to `size` bytes (the
/// caller checked that `size` holds every key number's digits).
pub fn tree_key(i: u64, size: usize) -> Vec<u8> {
    format!("{i:0size$}").into_bytes()
}

/// A key that sorts right after key `i` and is never written (db_bench's
/// `readmissing`: the key and a `.`).
pub fn missing_key(i: u64, size: usize) -> Vec<u8> {
    let mut k = tree_key(i, size);
    k.push(b'.');
    k
}

/// The random seed of thread `t` of a workload: distinct per workload (`tag`) and
/// thread, so that one workload does not replay another's keys.
pub fn thread_seed(seed: u64, tag: &str, t: usize) -> u64 {
    let mut h = seed ^ 0x9e37_79b9_7f4a_7c15;
    for b in tag.bytes().chain((t as u64).to_le_bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// How keys are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyDistribution {
    /// Every key equally likely.
    Uniform,
    /// YCSB's Zipfian (constant 0.99): a few keys take most of the operations; the
    /// popular ones are scattered over the key space, not the first keys.
    Zipfian,
}

impl KeyDistribution {
    /// The name in reports.
    pub fn name(self) -> &'static str {
        match self {
            KeyDistribution::Uniform => "uniform",
            KeyDistribution::Zipfian => "zipfian",
        }
    }
}

/// YCSB's Zipfian constant.
pub const ZIPF_CONSTANT: f64 = 0.99;

/// Chooses key numbers in `0..n`.
#[derive(Debug, Clone)]
pub struct KeyChooser {
    n: u64,
    zipf: Option<Zipf<f64>>,
}

/// A prime above every key count used, so that `rank * P mod n` permutes `0..n`.
const SCRAMBLE: u128 = (1 << 61) - 1;

/// Maps Zipf rank `rank` (0 = most popular) to a key number: a permutation of `0..n`,
/// so popular keys are spread out as YCSB's scrambled Zipfian spreads them.
pub fn scramble(rank: u64, n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    ((u128::from(rank) * SCRAMBLE) % u128::from(n)) as u64
}

impl KeyChooser {
    /// Key numbers `0..n` (`n` at least 1) with this distribution.
    pub fn new(distribution: KeyDistribution, n: u64) -> KeyChooser {
        let n = n.max(1);
        let zipf = match distribution {
            KeyDistribution::Uniform => None,
            // Zipf::new only fails for n < 1 or a negative exponent.
            KeyDistribution::Zipfian => Zipf::new(n as f64, ZIPF_CONSTANT).ok(),
        };
        KeyChooser { n, zipf }
    }

    /// The next key number.
    pub fn next<R: Rng>(&self, rng: &mut R) -> u64 {
        match &self.zipf {
            None => rng.random_range(0..self.n),
            Some(z) => {
                // Samples are ranks 1..=n as floats.
                let rank = (z.sample(rng) as u64).clamp(1, self.n) - 1;
                scramble(rank, self.n)
            }
        }
    }
}

/// A YCSB core workload's mix of operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mix {
    /// Workload A: 50 % reads, 50 % updates.
    A,
    /// Workload B: 95 % reads, 5 % updates.
    B,
}

impl Mix {
    /// The share of reads.
    pub fn read_fraction(self) -> f64 {
        match self {
            Mix::A => 0.5,
            Mix::B => 0.95,
        }
    }

    /// The letter in reports.
    pub fn name(self) -> &'static str {
        match self {
            Mix::A => "a",
            Mix::B => "b",
        }
    }

    /// Whether the next operation is a read (otherwise an update).
    pub fn next_is_read<R: Rng>(self, rng: &mut R) -> bool {
        rng.random_bool(self.read_fraction())
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn tree_keys_sort_and_missing_keys_sit_between() {
        assert_eq!(tree_key(42, 16), b"0000000000000042");
        assert_eq!(tree_key(42, 2), b"42");
        assert!(tree_key(41, 16) < missing_key(41, 16));
        assert!(missing_key(41, 16) < tree_key(42, 16));
    }

    #[test]
    fn mixes_pick_reads_in_their_proportions() {
        let mut rng = StdRng::seed_from_u64(7);
        for (mix, lo, hi) in [(Mix::A, 0.48, 0.52), (Mix::B, 0.94, 0.96)] {
            let reads = (0..20_000).filter(|_| mix.next_is_read(&mut rng)).count();
            let share = reads as f64 / 20_000.0;
            assert!((lo..=hi).contains(&share), "{mix:?}: {share}");
        }
    }

    fn hottest_share(d: KeyDistribution, n: u64, samples: usize) -> (f64, usize) {
        let mut rng = StdRng::seed_from_u64(11);
        let chooser = KeyChooser::new(d, n);
        let mut counts = vec![0usize; n as usize];
        for _ in 0..samples {
            let k = chooser.next(&mut rng);
            assert!(k < n);
            counts[k as usize] += 1;
        }
        let max = counts.iter().copied().max().unwrap_or(0);
        let distinct = counts.iter().filter(|&&c| c > 0).count();
        (max as f64 / samples as f64, distinct)
    }

    #[test]
    fn zipfian_keys_concentrate_and_uniform_keys_spread() {
        // With 1,000 keys and constant 0.99 the hottest key takes about 1/H(1000, 0.99),
        // ~13 % of the operations; uniformly ~0.1 % (a little more for the maximum).
        let (zipf_top, _) = hottest_share(KeyDistribution::Zipfian, 1000, 50_000);
        let (uniform_top, uniform_distinct) = hottest_share(KeyDistribution::Uniform, 1000, 50_000);
        assert!((0.10..0.17).contains(&zipf_top), "{zipf_top}");
        assert!(uniform_top < 0.005, "{uniform_top}");
        assert_eq!(uniform_distinct, 1000);
    }

    #[test]
    fn scramble_permutes_the_key_space() {
        for n in [1u64, 2, 7, 1000, 20_000] {
            let mut seen = vec![false; n as usize];
            for r in 0..n {
                let k = scramble(r, n);
                assert!(!seen[k as usize], "n {n}: {k} twice");
                seen[k as usize] = true;
            }
        }
        // The most popular ranks are not the first keys.
        assert_ne!(scramble(1, 20_000), 1);
    }

    #[test]
    fn seeds_differ_per_workload_and_thread() {
        let a = thread_seed(1, "fillrandom", 0);
        assert_ne!(a, thread_seed(1, "overwrite", 0));
        assert_ne!(a, thread_seed(1, "fillrandom", 1));
        assert_ne!(a, thread_seed(2, "fillrandom", 0));
        assert_eq!(a, thread_seed(1, "fillrandom", 0));
    }

    #[test]
    fn one_key_space_is_fine() {
        let mut rng = StdRng::seed_from_u64(1);
        for d in [KeyDistribution::Uniform, KeyDistribution::Zipfian] {
            assert_eq!(KeyChooser::new(d, 1).next(&mut rng), 0);
        }
    }
}
