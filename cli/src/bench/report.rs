//! The figures of one workload and how they are printed: a table for people, JSON
//! for programs.

use std::fmt::Write as _;

use serde::Serialize;

use super::measure::Timed;

/// Latency percentiles, in microseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Latency {
    /// Median.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
    /// Slowest operation.
    pub max_us: f64,
}

/// What one workload measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkloadReport {
    /// The workload (for `mixed`: `mixed-a-zipfian` and so on).
    pub workload: String,
    /// Operations done.
    pub ops: u64,
    /// Operations that found their key (reads) or wrote (writes).
    pub found: u64,
    /// Threads.
    pub threads: usize,
    /// Seconds of the timed phase.
    pub seconds: f64,
    /// Operations per second.
    pub ops_per_sec: f64,
    /// Megabytes (10^6 bytes) of keys and values (or items) per second.
    pub mb_per_sec: f64,
    /// Latency percentiles.
    pub latency: Latency,
    /// Bytes written to disk (WAL, flushes, compactions) per user byte written;
    /// `null` for workloads that write nothing.
    pub write_amplification: Option<f64>,
    /// Bytes on disk per byte of live user data.
    pub space_amplification: Option<f64>,
    /// Bytes of all files of the tree or database after the workload.
    pub bytes_on_disk: u64,
    /// Peak resident memory of the process during the workload (`null` where the
    /// system does not tell).
    pub peak_memory_bytes: Option<u64>,
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

impl WorkloadReport {
    /// The report of a timed phase, before amplification and disk figures.
    pub fn from_timed(workload: String, threads: usize, t: &Timed) -> WorkloadReport {
        let secs = t.elapsed.as_secs_f64().max(1e-9);
        let h = &t.latency;
        WorkloadReport {
            workload,
            ops: t.ops,
            found: t.found,
            threads,
            seconds: t.elapsed.as_secs_f64(),
            ops_per_sec: t.ops as f64 / secs,
            mb_per_sec: t.bytes as f64 / 1e6 / secs,
            latency: Latency {
                p50_us: us(h.value_at_quantile(0.5)),
                p99_us: us(h.value_at_quantile(0.99)),
                p999_us: us(h.value_at_quantile(0.999)),
                max_us: us(h.max()),
            },
            write_amplification: None,
            space_amplification: None,
            bytes_on_disk: 0,
            peak_memory_bytes: None,
        }
    }
}

/// `bytes` as B, KiB, MiB or GiB with one decimal.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

fn ratio(r: Option<f64>) -> String {
    r.map_or_else(|| "-".into(), |r| format!("{r:.2}"))
}

/// A latency in microseconds, with fewer decimals as it grows.
fn latency(us: f64) -> String {
    if us < 10.0 {
        format!("{us:.2}")
    } else if us < 1000.0 {
        format!("{us:.1}")
    } else {
        format!("{us:.0}")
    }
}

/// The header of the table.
pub const HEADER: [&str; 12] = [
    "workload",
    "ops",
    "ops/s",
    "MB/s",
    "p50 µs",
    "p99 µs",
    "p99.9 µs",
    "max µs",
    "w-amp",
    "s-amp",
    "on disk",
    "peak mem",
];

/// The cells of one row.
pub fn row(r: &WorkloadReport) -> [String; 12] {
    [
        r.workload.clone(),
        r.ops.to_string(),
        format!("{:.0}", r.ops_per_sec),
        if r.mb_per_sec < 10.0 {
            format!("{:.2}", r.mb_per_sec)
        } else {
            format!("{:.1}", r.mb_per_sec)
        },
        latency(r.latency.p50_us),
        latency(r.latency.p99_us),
        latency(r.latency.p999_us),
        latency(r.latency.max_us),
        ratio(r.write_amplification),
        ratio(r.space_amplification),
        human_bytes(r.bytes_on_disk),
        r.peak_memory_bytes
            .map_or_else(|| "n/a".into(), human_bytes),
    ]
}

/// The results as an aligned text table (first column left-aligned, the others
/// right-aligned).
pub fn table(reports: &[WorkloadReport]) -> String {
    let mut rows: Vec<[String; 12]> = vec![HEADER.map(String::from)];
    rows.extend(reports.iter().map(row));
    let mut widths = [0usize; 12];
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for r in &rows {
        let mut line = String::new();
        for (i, (cell, w)) in r.iter().zip(widths).enumerate() {
            let pad = w - cell.chars().count();
            if i == 0 {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            } else {
                line.push_str("  ");
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::bench::measure::histogram;

    fn sample() -> WorkloadReport {
        let mut latency = histogram().unwrap();
        for ns in [1_000u64, 2_000, 3_000, 1_000_000] {
            latency.record(ns).unwrap();
        }
        let t = Timed {
            ops: 4,
            elapsed: Duration::from_secs(2),
            latency,
            bytes: 4_000_000,
            found: 3,
        };
        WorkloadReport::from_timed("readrandom".into(), 1, &t)
    }

    #[test]
    fn figures_come_from_the_timed_phase() {
        let r = sample();
        assert_eq!(r.ops, 4);
        assert_eq!(r.found, 3);
        assert!((r.ops_per_sec - 2.0).abs() < 1e-9);
        assert!((r.mb_per_sec - 2.0).abs() < 1e-9);
        assert!((r.latency.p50_us - 2.0).abs() < 0.01, "{:?}", r.latency);
        assert!((r.latency.max_us - 1000.0).abs() < 1.0, "{:?}", r.latency);
    }

    #[test]
    fn the_table_aligns_and_says_n_a_for_unknowns() {
        let mut r = sample();
        r.write_amplification = Some(2.5);
        let t = table(&[r.clone(), sample()]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("workload"));
        assert!(
            lines[1].contains("2.50") && lines[1].ends_with("n/a"),
            "{t}"
        );
        assert!(lines[2].contains(" - "), "{t}");
        assert_eq!(lines[1].chars().count(), lines[2].chars().count());
    }

    #[test]
    fn bytes_read_naturally() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
    }
}
