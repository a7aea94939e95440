//! A quick read/write throughput probe that reports both wall-clock and
//! on-CPU rates (the latter from `/proc/self/schedstat`, so figures stay
//! meaningful on a loaded machine). Same workload as the criterion bench:
//! 16-byte keys, 100-byte values.
//!
//! `cargo run --release -p strata-sstable --example sst_perf [entries]`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use strata_fs::{FileSystem, RealFs};
use strata_sstable::{BlockCache, Compression, ReaderOptions, Table, TableBuilder, TableOptions};

fn key(i: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    let mut x = i * 3;
    for b in k.iter_mut().rev() {
        *b = b'0' + (x % 10) as u8;
        x /= 10;
    }
    k
}

fn value(i: u64) -> [u8; 100] {
    let mut v = [0u8; 100];
    let mut x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    for (j, b) in v.iter_mut().enumerate() {
        if j % 2 == 0 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        } else {
            *b = b'a' + (j % 7) as u8;
        }
    }
    v
}

/// This thread's on-CPU time in seconds (Linux), if available.
fn cpu_secs() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

fn measure(name: &str, ops: u64, bytes: u64, f: impl FnOnce()) {
    let (w0, c0) = (Instant::now(), cpu_secs());
    f();
    let wall = w0.elapsed().as_secs_f64();
    let cpu = match (c0, cpu_secs()) {
        (Some(a), Some(b)) => b - a,
        _ => f64::NAN,
    };
    let mb = bytes as f64 / (1 << 20) as f64;
    println!(
        "{name:<28} wall {:>9.0} ops/s {:>8.1} MiB/s | cpu {:>9.0} ops/s {:>8.1} MiB/s",
        ops as f64 / wall,
        mb / wall,
        ops as f64 / cpu,
        mb / cpu
    );
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let fs: Arc<dyn FileSystem> = Arc::new(RealFs::new());
    for (name, compression) in [
        ("none", Compression::None),
        ("zstd3", Compression::Zstd { level: 3 }),
    ] {
        let path = dir.path().join(format!("{name}.sst"));
        let opts = TableOptions {
            compression,
            ..TableOptions::default()
        };
        let mut size = 0;
        measure(&format!("build {name} (incl. fsync)"), n, n * 116, || {
            let mut b = TableBuilder::new(fs.create(&path).unwrap(), path.clone(), opts);
            for i in 0..n {
                b.add(&key(i), &value(i)).unwrap();
            }
            size = b.finish().unwrap().file_size;
        });
        println!("  file {size} bytes for {} raw bytes", n * 116);
        read(&fs, &path, n, name);
    }
}

fn read(fs: &Arc<dyn FileSystem>, path: &Path, n: u64, name: &str) {
    let cache = BlockCache::new(512 << 20);
    let ro = ReaderOptions {
        cache: Some(Arc::clone(&cache)),
        ..ReaderOptions::default()
    };
    let t = Table::open(fs, path, 1, ro).unwrap();
    for pass in ["cold", "warm"] {
        measure(&format!("scan {name} {pass}"), n, n * 116, || {
            let mut it = t.iter();
            it.seek_to_first().unwrap();
            let mut c = 0;
            while it.valid() {
                c += it.value().len();
                it.next().unwrap();
            }
            assert_eq!(c as u64, n * 100);
        });
    }
    let gets = n.min(1_000_000);
    let mut x = 7u64;
    let mut rnd = move || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) % n
    };
    measure(&format!("get hit {name}"), gets, 0, || {
        for _ in 0..gets {
            assert!(t.get(&key(rnd())).unwrap().is_some());
        }
    });
    measure(&format!("get miss {name}"), gets, 0, || {
        for _ in 0..gets {
            let mut k = key(rnd());
            k[15] += 1;
            assert!(t.get(&k).unwrap().is_none());
        }
    });
    println!(
        "  cache: {} hits, {} misses, {} bytes",
        cache.hits(),
        cache.misses(),
        cache.usage()
    );
}
