//! Measuring: operations timed on several threads into one latency histogram,
//! amplification arithmetic, bytes on disk and the process's peak memory.

use std::ops::Range;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use indicatif::ProgressBar;

use super::BenchError;

/// What a timed phase measured.
#[derive(Debug)]
pub struct Timed {
    /// Operations done.
    pub ops: u64,
    /// Wall-clock time of the phase.
    pub elapsed: Duration,
    /// Latency of each operation, in nanoseconds.
    pub latency: Histogram<u64>,
    /// Bytes of keys and values (or items) the operations moved.
    pub bytes: u64,
    /// Operations that found what they looked for (reads), or did what they meant
    /// to (writes).
    pub found: u64,
}

/// One operation's outcome: bytes moved and whether it found its target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpOutcome {
    /// Bytes of keys and values (or items) moved.
    pub bytes: u64,
    /// Whether it found its key (reads) or wrote (writes).
    pub found: bool,
}

impl OpOutcome {
    /// `bytes` moved, target found.
    pub fn hit(bytes: usize) -> OpOutcome {
        OpOutcome {
            bytes: bytes as u64,
            found: true,
        }
    }

    /// Nothing found.
    pub fn miss() -> OpOutcome {
        OpOutcome::default()
    }
}

/// The longest latency recorded exactly (an hour, in nanoseconds); longer ones count
/// as this.
const MAX_LATENCY_NS: u64 = 3_600_000_000_000;

/// An empty latency histogram (nanoseconds, 3 significant digits).
pub fn histogram() -> Result<Histogram<u64>, BenchError> {
    Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3)
        .map_err(|e| BenchError::Internal(format!("histogram: {e}")))
}

/// Ops of thread `t` of `threads` sharing `ops`: contiguous slices, the remainder
/// spread over the first threads, so the slices cover `0..ops` exactly.
pub fn thread_slice(ops: u64, threads: usize, t: usize) -> Range<u64> {
    let threads = threads.max(1) as u64;
    let t = t as u64;
    let base = ops / threads;
    let extra = ops % threads;
    let start = t * base + t.min(extra);
    let len = base + u64::from(t < extra);
    start..start + len
}

/// How many operations a thread does between progress bar updates.
const PROGRESS_EVERY: u64 = 1024;

/// Runs `ops` operations on `threads` threads and times each one. `make(t, slice)`
/// prepares thread `t`'s operation (untimed), which is then called with each global
/// operation index of `slice`. Stops at the first error and returns it.
///
/// # Errors
/// The first operation's error; [`BenchError::Internal`] if a thread panicked.
pub fn timed_threads<M, F>(
    threads: usize,
    ops: u64,
    progress: &ProgressBar,
    make: M,
) -> Result<Timed, BenchError>
where
    M: Fn(usize, Range<u64>) -> Result<F, BenchError> + Sync,
    F: FnMut(u64) -> Result<OpOutcome, BenchError>,
{
    let threads = threads.max(1);
    let total = Mutex::new((histogram()?, 0u64, 0u64));
    let stop = AtomicBool::new(false);
    let start = Instant::now();
    let results: Vec<Result<(), BenchError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (make, total, stop) = (&make, &total, &stop);
                s.spawn(move || -> Result<(), BenchError> {
                    let slice = thread_slice(ops, threads, t);
                    let mut op = make(t, slice.clone())?;
                    let mut hist = histogram()?;
                    let (mut bytes, mut found, mut unreported) = (0u64, 0u64, 0u64);
                    for i in slice {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let at = Instant::now();
                        let outcome = match op(i) {
                            Ok(o) => o,
                            Err(e) => {
                                stop.store(true, Ordering::Relaxed);
                                return Err(e);
                            }
                        };
                        let ns = u64::try_from(at.elapsed().as_nanos()).unwrap_or(u64::MAX);
                        hist.saturating_record(ns.clamp(1, MAX_LATENCY_NS));
                        bytes += outcome.bytes;
                        found += u64::from(outcome.found);
                        unreported += 1;
                        if unreported == PROGRESS_EVERY {
                            progress.inc(unreported);
                            unreported = 0;
                        }
                    }
                    progress.inc(unreported);
                    let mut total = total
                        .lock()
                        .map_err(|_| BenchError::Internal("a bench thread panicked".into()))?;
                    total
                        .0
                        .add(&hist)
                        .map_err(|e| BenchError::Internal(format!("histogram: {e}")))?;
                    total.1 += bytes;
                    total.2 += found;
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(BenchError::Internal("a bench thread panicked".into())))
            })
            .collect()
    });
    let elapsed = start.elapsed();
    for r in results {
        r?;
    }
    let (latency, bytes, found) = total
        .into_inner()
        .map_err(|_| BenchError::Internal("a bench thread panicked".into()))?;
    Ok(Timed {
        ops: latency.len(),
        elapsed,
        latency,
        bytes,
        found,
    })
}

/// Write amplification: bytes written to disk (WAL, flushes, compactions) per byte
/// of keys and values the user wrote; `None` when the user wrote nothing.
pub fn write_amplification(disk_bytes_written: u64, user_bytes_written: u64) -> Option<f64> {
    (user_bytes_written > 0).then(|| disk_bytes_written as f64 / user_bytes_written as f64)
}

/// Space amplification: bytes on disk per byte of live user data; `None` when no
/// data is live.
pub fn space_amplification(bytes_on_disk: u64, live_user_bytes: u64) -> Option<f64> {
    (live_user_bytes > 0).then(|| bytes_on_disk as f64 / live_user_bytes as f64)
}

/// Apparent bytes of all files under `dir` (0 if it does not exist).
///
/// # Errors
/// An I/O error reading a directory, with its path.
pub fn dir_bytes(dir: &Path) -> Result<u64, BenchError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(BenchError::io(dir, e)),
    };
    let mut total = 0;
    for entry in entries {
        let entry = entry.map_err(|e| BenchError::io(dir, e))?;
        let path = entry.path();
        // A file may vanish while compactions run: count what is there.
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            total += dir_bytes(&path)?;
        } else {
            total += meta.len();
        }
    }
    Ok(total)
}

/// The `VmHWM:` line of a `/proc/PID/status` text, in bytes.
pub fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let mut fields = line.split_whitespace().skip(1);
    let kb: u64 = fields.next()?.parse().ok()?;
    match fields.next() {
        Some("kB") => Some(kb * 1024),
        _ => None,
    }
}

/// The process's peak resident memory since it started or since the last
/// [`reset_peak_memory`] (Linux's VmHWM); `None` where `/proc` does not tell.
pub fn peak_memory() -> Option<u64> {
    parse_vm_hwm(&std::fs::read_to_string("/proc/self/status").ok()?)
}

/// Resets the peak resident memory to the current one (Linux, `clear_refs` 5), so the
/// next [`peak_memory`] is the peak of what ran in between. Does nothing elsewhere.
pub fn reset_peak_memory() {
    // Best effort: without it the figure is the peak since the process started.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_slices_cover_every_operation_once() {
        for (ops, threads) in [(10, 3), (2, 5), (1_000_001, 8), (0, 2), (7, 1)] {
            let mut next = 0;
            for t in 0..threads {
                let s = thread_slice(ops, threads, t);
                assert_eq!(s.start, next, "{ops}/{threads}");
                next = s.end;
            }
            assert_eq!(next, ops);
        }
    }

    #[test]
    fn amplification_arithmetic() {
        assert_eq!(write_amplification(300, 100), Some(3.0));
        assert_eq!(write_amplification(300, 0), None);
        assert_eq!(space_amplification(150, 100), Some(1.5));
        assert_eq!(space_amplification(0, 0), None);
        assert_eq!(space_amplification(10, 40), Some(0.25));
    }

    #[test]
    fn vm_hwm_is_read_in_bytes() {
        let status = "Name:\tstrata\nVmPeak:\t  10 kB\nVmHWM:\t    2048 kB\nVmRSS:\t 100 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(2048 * 1024));
        assert_eq!(parse_vm_hwm("VmRSS: 1 kB\n"), None);
        assert_eq!(parse_vm_hwm("VmHWM: lots\n"), None);
    }

    #[test]
    fn timed_threads_counts_every_operation_and_stops_on_error() {
        let bar = ProgressBar::hidden();
        let t = timed_threads(3, 1000, &bar, |_, _| {
            Ok(|i: u64| Ok(OpOutcome::hit(usize::from(i.is_multiple_of(2)))))
        })
        .unwrap();
        assert_eq!((t.ops, t.bytes, t.found), (1000, 500, 1000));
        assert_eq!(bar.position(), 1000);
        let err = timed_threads(2, 100, &bar, |_, _| {
            Ok(|i: u64| {
                if i == 70 {
                    Err(BenchError::Internal("op 70 failed".into()))
                } else {
                    Ok(OpOutcome::miss())
                }
            })
        })
        .unwrap_err();
        assert!(err.to_string().contains("op 70 failed"), "{err}");
    }

    #[test]
    fn dir_bytes_sums_nested_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), [0u8; 10]).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/b"), [0u8; 5]).unwrap();
        assert_eq!(dir_bytes(dir.path()).unwrap(), 15);
        assert_eq!(dir_bytes(&dir.path().join("absent")).unwrap(), 0);
    }
}
