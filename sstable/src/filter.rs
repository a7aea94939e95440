//! The blocked bloom filter (see `docs/sstable-format.md`, "Filter block").
//!
//! Why our own filter rather than the `bloomfilter` crate: that crate hashes
//! through `std::hash::Hash` (whose byte encoding is not promised stable
//! across platforms or Rust versions, and a persisted filter must hash the
//! same forever), spreads its `k` probes over the whole bit array (`k` cache
//! misses per lookup), and copies the bits when loading (`from_slice`). This
//! filter hashes the raw key bytes with XXH3 (a fixed, documented function),
//! puts all probes of a key into one 64-byte cache line, and is probed in
//! place from the memory-mapped file. The price is a slightly higher false
//! positive rate at the same size: measured 0.93 % at 10 bits/key (6 probes)
//! versus the classic filter's 0.82 % (see the tests below).

use xxhash_rust::xxh3::xxh3_64;

use crate::coding::{get_fixed32, put_fixed32};

/// Bytes per filter line (one cache line, 512 bits).
pub(crate) const LINE_BYTES: usize = 64;
/// Bytes after the lines: line count, probes, hash id, reserved.
pub(crate) const FILTER_META: usize = 8;
/// The only hash scheme defined: XXH3-64, multiply-shift line, golden-ratio probes.
pub(crate) const HASH_XXH3: u8 = 1;
const MAX_PROBES: u32 = 30;
const GOLDEN: u32 = 0x9e37_79b9;

/// The hash of a filter key (what the builder collects per key).
#[inline]
pub(crate) fn filter_hash(filter_key: &[u8]) -> u64 {
    xxh3_64(filter_key)
}

/// Probes per key for a bits-per-key setting.
pub(crate) fn probes_for(bits_per_key: u32) -> u32 {
    let k = (f64::from(bits_per_key) * 0.6).round() as u32;
    k.clamp(1, MAX_PROBES)
}

#[inline]
fn line_of(h: u64, lines: u32) -> usize {
    (((h >> 32) * u64::from(lines)) >> 32) as usize
}

/// Builds the filter block contents from the collected hashes.
pub(crate) fn build(hashes: &[u64], bits_per_key: u32) -> Vec<u8> {
    build_with_probes(hashes, bits_per_key, probes_for(bits_per_key))
}

fn build_with_probes(hashes: &[u64], bits_per_key: u32, k: u32) -> Vec<u8> {
    let mut bits = FilterBits::with_probes(hashes.len() as u64, bits_per_key, k);
    for &h in hashes {
        bits.add(h);
    }
    bits.finish()
}

/// Lines for `keys` keys at `bits_per_key` (at least one).
fn lines_for(keys: u64, bits_per_key: u32) -> u32 {
    let bits = keys.saturating_mul(u64::from(bits_per_key));
    bits.div_ceil(512).clamp(1, u64::from(u32::MAX)) as u32
}

/// A filter whose size is fixed up front (from the number of keys expected)
/// and whose bits are set as each key's hash comes, so that the builder need
/// not keep every hash until the end (8 bytes per key, against the filter's
/// 10 bits). A flush, which knows its memtable's entry count, builds its
/// table's filter this way.
pub(crate) struct FilterBits {
    lines: u32,
    probes: u32,
    out: Vec<u8>,
}

impl FilterBits {
    /// Lines for `keys` keys at `bits_per_key`, with the probe count
    /// [`probes_for`] gives.
    pub(crate) fn for_keys(keys: u64, bits_per_key: u32) -> FilterBits {
        FilterBits::with_probes(keys, bits_per_key, probes_for(bits_per_key))
    }

    fn with_probes(keys: u64, bits_per_key: u32, probes: u32) -> FilterBits {
        let lines = lines_for(keys, bits_per_key);
        FilterBits {
            lines,
            probes,
            out: vec![0u8; lines as usize * LINE_BYTES],
        }
    }

    /// Sets the bits of one key's hash ([`filter_hash`]).
    #[inline]
    pub(crate) fn add(&mut self, h: u64) {
        let base = line_of(h, self.lines) * LINE_BYTES;
        let mut g = h as u32;
        for _ in 0..self.probes {
            let bit = (g >> 23) as usize;
            if let Some(byte) = self.out.get_mut(base + (bit >> 3)) {
                *byte |= 1 << (bit & 7);
            }
            g = g.wrapping_mul(GOLDEN);
        }
    }

    /// The filter block's contents: the lines, then the metadata.
    pub(crate) fn finish(self) -> Vec<u8> {
        let mut out = self.out;
        out.reserve_exact(FILTER_META);
        put_fixed32(&mut out, self.lines);
        out.push(self.probes as u8);
        out.push(HASH_XXH3);
        out.extend_from_slice(&[0, 0]);
        out
    }
}

/// A parsed filter: where its lines are within the file, and its shape.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FilterReader {
    /// File offset of line 0.
    pub start: usize,
    pub lines: u32,
    pub probes: u32,
}

impl FilterReader {
    /// Parses the filter block whose contents are `block` (at file offset
    /// `start`). Errors name the offset within the block.
    pub(crate) fn parse(block: &[u8], start: usize) -> Result<FilterReader, (usize, String)> {
        let len = block.len();
        if len < FILTER_META {
            return Err((0, format!("filter block of {len} bytes is too short")));
        }
        let meta = len - FILTER_META;
        let lines = get_fixed32(block, meta).unwrap_or(0);
        let probes = u32::from(block.get(meta + 4).copied().unwrap_or(0));
        let hash = block.get(meta + 5).copied().unwrap_or(0);
        let reserved = [block.get(meta + 6), block.get(meta + 7)];
        if hash != HASH_XXH3 {
            return Err((meta + 5, format!("unknown filter hash scheme {hash}")));
        }
        if reserved != [Some(&0), Some(&0)] {
            return Err((meta + 6, "filter reserved bytes are not zero".to_string()));
        }
        if lines == 0 || (lines as usize).checked_mul(LINE_BYTES) != Some(meta) {
            return Err((
                meta,
                format!("filter has {lines} lines but {meta} bytes of bits"),
            ));
        }
        if probes == 0 || probes > MAX_PROBES {
            return Err((
                meta + 4,
                format!("filter probe count {probes} out of range"),
            ));
        }
        Ok(FilterReader {
            start,
            lines,
            probes,
        })
    }

    /// True if the key with this filter hash may be present. `file` is the
    /// whole mapped file.
    #[inline]
    pub(crate) fn may_contain_hash(&self, file: &[u8], h: u64) -> bool {
        let base = self.start + line_of(h, self.lines) * LINE_BYTES;
        let Some(line) = file.get(base..base + LINE_BYTES) else {
            return true; // cannot happen for a parsed filter; never a false negative
        };
        let Ok(line) = <&[u8; LINE_BYTES]>::try_from(line) else {
            return true;
        };
        let mut g = h as u32;
        for _ in 0..self.probes {
            let bit = g >> 23;
            if line[(bit >> 3) as usize] & (1 << (bit & 7)) == 0 {
                return false;
            }
            g = g.wrapping_mul(GOLDEN);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u64) -> Vec<u8> {
        format!("user-key-{i:012}").into_bytes()
    }

    #[test]
    fn no_false_negatives_and_fp_rate() {
        let n = 100_000u64;
        let hashes: Vec<u64> = (0..n).map(|i| filter_hash(&key(i))).collect();
        let block = build(&hashes, 10);
        let f = FilterReader::parse(&block, 0).unwrap();
        for i in 0..n {
            assert!(f.may_contain_hash(&block, filter_hash(&key(i))));
        }
        let probes = 200_000u64;
        let fp = (n..n + probes)
            .filter(|&i| f.may_contain_hash(&block, filter_hash(&key(i))))
            .count();
        let rate = fp as f64 / probes as f64;
        assert!(rate < 0.025, "false positive rate {rate}");
        assert!(rate > 0.001, "suspiciously low false positive rate {rate}");
    }

    fn fp_rate(bits_per_key: u32, k: u32) -> f64 {
        let n = 20_000u64;
        let hashes: Vec<u64> = (0..n).map(|i| filter_hash(&key(i))).collect();
        let block = build_with_probes(&hashes, bits_per_key, k);
        let f = FilterReader::parse(&block, 0).unwrap();
        let probes = 300_000u64;
        let fp = (n..n + probes)
            .filter(|&i| f.may_contain_hash(&block, filter_hash(&key(i))))
            .count();
        fp as f64 / probes as f64
    }

    /// The probe count chosen for common sizes is (nearly) the best one.
    #[test]
    fn probe_count_is_near_optimal() {
        for bpk in [6u32, 10, 16] {
            let rates: Vec<(u32, f64)> = (3..=11).map(|k| (k, fp_rate(bpk, k))).collect();
            let best = rates.iter().map(|r| r.1).fold(f64::MAX, f64::min);
            let chosen = fp_rate(bpk, probes_for(bpk));
            eprintln!(
                "bits/key {bpk}: chosen k={} fp={chosen:.5}; all: {rates:?}",
                probes_for(bpk)
            );
            assert!(
                chosen <= best * 1.1,
                "bits/key {bpk}: {chosen} vs best {best}"
            );
        }
    }

    #[test]
    fn parse_rejects_bad_meta() {
        let block = build(&[1, 2, 3], 10);
        assert!(FilterReader::parse(&block, 0).is_ok());
        for i in block.len() - FILTER_META..block.len() {
            let mut bad = block.clone();
            bad[i] ^= 0x40;
            assert!(FilterReader::parse(&bad, 0).is_err(), "byte {i}");
        }
        assert!(FilterReader::parse(&block[..4], 0).is_err());
    }

    #[test]
    fn empty_filter_rejects_everything() {
        let block = build(&[], 10);
        let f = FilterReader::parse(&block, 0).unwrap();
        assert_eq!(f.lines, 1);
        assert!(!f.may_contain_hash(&block, filter_hash(b"x")));
    }
}
