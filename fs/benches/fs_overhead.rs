//! What routing I/O through `dyn FileSystem` costs: 100-byte appends and
//! 4 KiB positional reads through `RealFs` versus the same calls on a
//! `std::fs::File`. Run with `cargo bench -p strata-fs`; the temp directory
//! is created under `target/` (a real disk, not tmpfs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use strata_fs::{FileSystem, RealFs};

fn bench_dir() -> tempfile::TempDir {
    let base = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("target"));
    std::fs::create_dir_all(&base).unwrap();
    tempfile::tempdir_in(base).unwrap()
}

fn appends(c: &mut Criterion) {
    let dir = bench_dir();
    let record = [7u8; 100];
    let mut g = c.benchmark_group("append_100B");
    g.throughput(Throughput::Elements(1));
    let fs: Arc<dyn FileSystem> = Arc::new(RealFs::new());
    let mut f = fs.create(&dir.path().join("via_fs")).unwrap();
    g.bench_function("dyn FileSystem", |b| b.iter(|| f.append(&record).unwrap()));
    let mut raw = File::create(dir.path().join("raw")).unwrap();
    g.bench_function("std::fs::File", |b| {
        b.iter(|| raw.write_all(&record).unwrap())
    });
    g.finish();
}

fn reads(c: &mut Criterion) {
    let dir = bench_dir();
    let path = dir.path().join("data");
    std::fs::write(&path, vec![1u8; 1 << 20]).unwrap();
    let mut g = c.benchmark_group("read_at_4KiB");
    g.throughput(Throughput::Elements(1));
    let fs: Arc<dyn FileSystem> = Arc::new(RealFs::new());
    let f = fs.open_read(&path).unwrap();
    let mut buf = vec![0u8; 4096];
    let mut off = 0u64;
    g.bench_function("dyn FileSystem", |b| {
        b.iter(|| {
            off = (off + 4096) % (1 << 20);
            f.read_exact_at(off, &mut buf).unwrap();
        })
    });
    let raw = File::open(&path).unwrap();
    g.bench_function("std::fs::File", |b| {
        b.iter(|| {
            off = (off + 4096) % (1 << 20);
            raw.read_exact_at(&mut buf, off).unwrap();
        })
    });
    g.finish();
}

criterion_group!(benches, appends, reads);
criterion_main!(benches);
