//! SSTable benchmarks: build throughput (with and without zstd), point
//! reads that hit and that miss (answered by the filter), full scans.
//!
//! Workload: 16-byte keys (`{i*3:016}`), 100-byte values of mildly
//! compressible bytes; 1M entries for reads and scans (a table of ~119 MB on
//! the real file system, read through mmap with a 256 MiB block cache), 200k
//! entries per build iteration (written to the in-memory `FaultFs`, so the
//! build figures are CPU cost, not disk speed).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use strata_fs::{FaultFs, FileSystem, RealFs};
use strata_sstable::{BlockCache, Compression, ReaderOptions, Table, TableBuilder, TableOptions};

const READ_ENTRIES: u64 = 1_000_000;
const BUILD_ENTRIES: u64 = 200_000;

fn key(i: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k.copy_from_slice(format!("{:016}", i * 3).as_bytes());
    k
}

fn value(i: u64) -> [u8; 100] {
    let mut v = [0u8; 100];
    let mut x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    for (j, b) in v.iter_mut().enumerate() {
        // Half pseudo-random bytes, half a repeated pattern.
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

fn build(fs: &Arc<dyn FileSystem>, path: &Path, n: u64, opts: TableOptions) -> u64 {
    let mut b = TableBuilder::new(fs.create(path).unwrap(), path.to_path_buf(), opts);
    for i in 0..n {
        b.add(&key(i), &value(i)).unwrap();
    }
    b.finish().unwrap().file_size
}

fn bench_build(c: &mut Criterion) {
    let mut g = c.benchmark_group("build");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(BUILD_ENTRIES * 116));
    for (name, compression) in [
        ("none", Compression::None),
        ("zstd3", Compression::Zstd { level: 3 }),
    ] {
        let opts = TableOptions {
            compression,
            ..TableOptions::default()
        };
        g.bench_function(BenchmarkId::new("200k_x_116B", name), |b| {
            b.iter(|| {
                let fs: Arc<dyn FileSystem> = Arc::new(FaultFs::new());
                build(&fs, Path::new("/b.sst"), BUILD_ENTRIES, opts.clone())
            });
        });
        let fs: Arc<dyn FileSystem> = Arc::new(FaultFs::new());
        let size = build(&fs, Path::new("/b.sst"), BUILD_ENTRIES, opts.clone());
        eprintln!(
            "build {name}: file {size} bytes for {} raw bytes",
            BUILD_ENTRIES * 116
        );
    }
    g.finish();
}

fn bench_reads(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let fs: Arc<dyn FileSystem> = Arc::new(RealFs::new());
    let path = dir.path().join("read.sst");
    build(&fs, &path, READ_ENTRIES, TableOptions::default());
    let cache = BlockCache::new(256 << 20);
    let ro = ReaderOptions {
        cache: Some(Arc::clone(&cache)),
        ..ReaderOptions::default()
    };
    let table = Table::open(&fs, &path, 1, ro).unwrap();

    // Warm the cache.
    let mut it = table.iter();
    it.seek_to_first().unwrap();
    while it.valid() {
        it.next().unwrap();
    }

    let mut g = c.benchmark_group("get");
    const BATCH: u64 = 10_000;
    g.throughput(Throughput::Elements(BATCH));
    let mut x = 1u64;
    g.bench_function("hit_1M", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let i = (x >> 33) % READ_ENTRIES;
                let v = table.get(&key(i)).unwrap();
                debug_assert!(v.is_some());
                std::hint::black_box(v);
            }
        });
    });
    g.bench_function("miss_1M", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let i = (x >> 33) % READ_ENTRIES;
                // Between two present keys: the filter answers most of these.
                let mut k = key(i);
                k[15] += 1;
                std::hint::black_box(table.get(&k).unwrap());
            }
        });
    });
    g.finish();

    let mut g = c.benchmark_group("scan");
    g.sample_size(10);
    for (what, tp) in [
        ("entries", Throughput::Elements(READ_ENTRIES)),
        ("bytes", Throughput::Bytes(READ_ENTRIES * 116)),
    ] {
        g.throughput(tp);
        g.bench_function(BenchmarkId::new("full_1M", what), |b| {
            b.iter(|| {
                let mut it = table.iter();
                it.seek_to_first().unwrap();
                let mut n = 0u64;
                while it.valid() {
                    n += (it.key().len() + it.value().len()) as u64;
                    it.next().unwrap();
                }
                std::hint::black_box(n)
            });
        });
    }
    g.finish();
    eprintln!(
        "cache: {} hits, {} misses, {} bytes",
        cache.hits(),
        cache.misses(),
        cache.usage()
    );
}

criterion_group!(benches, bench_build, bench_reads);
criterion_main!(benches);
