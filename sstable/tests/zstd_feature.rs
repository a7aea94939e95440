//! The `zstd` cargo feature (default on). `tests/data/zstd-level3.sst` is a table of
//! 200 entries whose data blocks are zstd-compressed (written by
//! `write_the_zstd_fixture`, ignored: run it to regenerate). With the feature it reads
//! like any table; without it (`cargo test -p strata-sstable --no-default-features
//! --test zstd_feature`, a line of `.ci/run`) opening works, reading a data block
//! fails with `CompressionUnavailable` naming the file, the offset and the feature,
//! and building with `Compression::Zstd` fails the same way, while uncompressed
//! tables work as usual.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use strata_fs::{FaultFs, FileSystem};
use strata_sstable::{Compression, ReaderOptions, SstError, Table, TableBuilder, TableOptions};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/zstd-level3.sst")
}

fn key(i: u32) -> Vec<u8> {
    format!("key{i:05}").into_bytes()
}

/// Compressible values, so that zstd is used for every data block.
fn value(i: u32) -> Vec<u8> {
    format!("value {i} ").repeat(20).into_bytes()
}

fn open_fixture() -> Arc<Table> {
    let bytes = std::fs::read(fixture()).unwrap();
    Table::open_bytes(bytes, fixture(), 1, ReaderOptions::default()).unwrap()
}

/// Builds a table of `n` entries with `compression` in memory.
fn build(compression: Compression, n: u32) -> Result<Vec<u8>, SstError> {
    let fs: Arc<dyn FileSystem> = Arc::new(FaultFs::new());
    let path = Path::new("/t.sst");
    let opts = TableOptions {
        compression,
        ..TableOptions::default()
    };
    let mut b = TableBuilder::new(fs.create(path).unwrap(), path.to_path_buf(), opts);
    for i in 0..n {
        b.add(&key(i), &value(i))?;
    }
    b.finish()?;
    Ok(fs.read_all(path).unwrap())
}

#[cfg(feature = "zstd")]
#[test]
#[ignore = "writes the fixture; run by hand to regenerate it"]
fn write_the_zstd_fixture() {
    let bytes = build(Compression::Zstd { level: 3 }, 200).unwrap();
    std::fs::write(fixture(), bytes).unwrap();
}

#[cfg(feature = "zstd")]
#[test]
fn the_fixture_is_a_zstd_table_and_reads_with_the_feature() {
    let t = open_fixture();
    assert_eq!(t.properties().compression, 1, "the fixture must use zstd");
    assert_eq!(t.properties().entries, 200);
    for i in [0, 57, 199] {
        assert_eq!(t.get(&key(i)).unwrap(), Some(value(i)));
    }
    // The same bytes as a build of today writes: the format has not drifted.
    assert_eq!(
        build(Compression::Zstd { level: 3 }, 200).unwrap().len(),
        std::fs::read(fixture()).unwrap().len()
    );
}

#[cfg(not(feature = "zstd"))]
#[test]
fn reading_a_zstd_table_without_the_feature_is_a_clear_error() {
    let t = open_fixture();
    assert_eq!(t.properties().entries, 200);
    let e = t.get(&key(57)).unwrap_err();
    match &e {
        SstError::CompressionUnavailable {
            path,
            offset,
            compression,
        } => {
            assert_eq!(path, &fixture());
            assert!(*offset < std::fs::metadata(fixture()).unwrap().len());
            assert_eq!(*compression, "zstd");
        }
        other => panic!("expected CompressionUnavailable, got {other:?}"),
    }
    let msg = e.to_string();
    assert!(
        msg.contains("zstd-level3.sst") && msg.contains("`zstd` cargo feature"),
        "{msg}"
    );
}

#[cfg(not(feature = "zstd"))]
#[test]
fn writing_zstd_without_the_feature_is_a_clear_error_and_none_still_works() {
    match build(Compression::Zstd { level: 3 }, 200) {
        Err(SstError::CompressionUnavailable { compression, .. }) => {
            assert_eq!(compression, "zstd");
        }
        other => panic!(
            "expected CompressionUnavailable, got {:?}",
            other.map(|b| b.len())
        ),
    }
    let bytes = build(Compression::None, 200).unwrap();
    let t = Table::open_bytes(bytes, "/t.sst".into(), 2, ReaderOptions::default()).unwrap();
    assert_eq!(t.get(&key(42)).unwrap(), Some(value(42)));
}
