//! `strata bench` as a process: every workload at a small size, as a table and as
//! JSON, with the options applied; bad options fail with a clear message.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const TREE: [&str; 9] = [
    "fillseq",
    "fillrandom",
    "overwrite",
    "readrandom",
    "readmissing",
    "seekrandom",
    "readseq",
    "deleterandom",
    "fillsync",
];

/// The rows `putitem,getitem,query,updateitem,mixed` produce.
const ITEM_ROWS: [&str; 8] = [
    "putitem",
    "getitem",
    "query",
    "updateitem",
    "mixed-a-uniform",
    "mixed-a-zipfian",
    "mixed-b-uniform",
    "mixed-b-zipfian",
];

fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strata"))
        .arg("bench")
        .args(args)
        .output()
        .unwrap()
}

fn ok_json(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = bench(&all);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn results(v: &Value) -> &Vec<Value> {
    v["results"].as_array().unwrap()
}

fn num(v: &Value, field: &str) -> f64 {
    v[field]
        .as_f64()
        .unwrap_or_else(|| panic!("{field} missing in {v}"))
}

/// Checks the fields every result row has.
fn check_row(r: &Value, workload: &str, ops: u64) {
    assert_eq!(r["workload"], workload, "{r}");
    assert_eq!(r["ops"].as_u64(), Some(ops), "{r}");
    assert!(num(r, "ops_per_sec") > 0.0, "{r}");
    assert!(num(r, "mb_per_sec") >= 0.0, "{r}");
    assert!(num(r, "seconds") > 0.0, "{r}");
    let lat = &r["latency"];
    let (p50, p99, p999, max) = (
        num(lat, "p50_us"),
        num(lat, "p99_us"),
        num(lat, "p999_us"),
        num(lat, "max_us"),
    );
    assert!(
        0.0 < p50 && p50 <= p99 && p99 <= p999 && p999 <= max * 1.001,
        "{r}"
    );
    assert!(r["bytes_on_disk"].as_u64().unwrap() > 0, "{r}");
    if cfg!(target_os = "linux") {
        assert!(r["peak_memory_bytes"].as_u64().unwrap() > 0, "{r}");
    }
}

#[test]
fn every_tree_workload_reports_what_it_did_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().to_str().unwrap();
    let v = ok_json(&[&TREE.join(","), "--num", "1500", "--db", db]);
    let rows = results(&v);
    assert_eq!(rows.len(), TREE.len());
    for (r, w) in rows.iter().zip(TREE) {
        check_row(r, w, 1500);
        let writes = !matches!(w, "readrandom" | "readmissing" | "seekrandom" | "readseq");
        assert_eq!(r["write_amplification"].is_f64(), writes, "{r}");
        if writes {
            // At least the WAL record of every write reaches the disk.
            assert!(num(r, "write_amplification") >= 1.0, "{r}");
        }
    }
    let found = |w: &str| rows.iter().find(|r| r["workload"] == w).unwrap()["found"].as_u64();
    // Reads run on a tree holding every key (overwrite left it so).
    assert_eq!(found("readrandom"), Some(1500));
    assert_eq!(found("readmissing"), Some(0));
    assert_eq!(found("readseq"), Some(1500));
    assert_eq!(v["threads"], 1);
    assert_eq!(v["tree_durability"], "buffered");
    // --db keeps the data.
    assert!(Path::new(db).join("tree").is_dir());
}

#[test]
fn every_item_workload_reports_what_it_did_in_json() {
    let v = ok_json(&[
        "putitem,getitem,query,updateitem,mixed",
        "--num",
        "120",
        "--records",
        "300",
        "--gsis",
        "1",
        "--partitions",
        "2",
        "--durability",
        "buffered",
        "--threads",
        "2",
        "--value-size",
        "200",
    ]);
    let rows = results(&v);
    assert_eq!(rows.len(), ITEM_ROWS.len());
    for (r, w) in rows.iter().zip(ITEM_ROWS) {
        check_row(r, w, 120);
        assert_eq!(r["threads"], 2);
        assert!(num(r, "space_amplification") > 0.0, "{r}");
    }
    // Every loaded item is found; every query returns a page.
    assert_eq!(rows[1]["found"].as_u64(), Some(120));
    assert_eq!(rows[2]["found"].as_u64(), Some(120));
    assert!(rows[0]["write_amplification"].is_f64());
    assert!(rows[1]["write_amplification"].is_null());
    assert_eq!(
        (
            &v["gsis"],
            &v["partitions"],
            &v["item_durability"],
            &v["item_data_size"]
        ),
        (
            &Value::from(1),
            &Value::from(2),
            &Value::from("buffered"),
            &Value::from(200)
        )
    );
}

#[test]
fn reads_under_a_mapped_page_bound_find_every_key() {
    // A 1 MiB bound, below the tree's 8 MB (flushed before the reads): its tables
    // are released and mapped again during the reads, which still find what was
    // written. The item workloads take the option too (their data stays in
    // memtables at this size).
    let v = reads_find_every_key(&["--mmap-data-blocks", "--max-mapped-mib", "1"]);
    assert_eq!(v["max_mapped_bytes"], 1 << 20);
    assert_eq!(v["pread_data_blocks"], false);
    let unbounded = ok_json(&["fillseq", "--num", "100"]);
    assert!(unbounded["max_mapped_bytes"].is_null());
    // Data blocks are read with pread by default.
    assert_eq!(unbounded["pread_data_blocks"], true);
}

#[test]
fn reads_with_mapped_data_blocks_find_every_key() {
    // Data blocks read through the tables' memory maps: the tree's reads (from
    // its flushed tables) and the item workloads find what was written.
    let v = reads_find_every_key(&["--mmap-data-blocks"]);
    assert_eq!(v["pread_data_blocks"], false);
    // The old flag still parses, and is the default.
    let v = ok_json(&["fillseq", "--num", "100", "--pread-data-blocks"]);
    assert_eq!(v["pread_data_blocks"], true);
}

/// Writes and reads back 20,000 keys (tree, flushed before the reads) and
/// 20,000 items with `extra` options; checks every read found what it
/// should, and returns the JSON.
fn reads_find_every_key(extra: &[&str]) -> Value {
    let mut args = vec![
        "fillseq,readrandom,readmissing,readseq,putitem,getitem,query",
        "--num",
        "20000",
        "--value-size",
        "400",
        "--records",
        "2000",
    ];
    args.extend_from_slice(extra);
    let v = ok_json(&args);
    let found =
        |w: &str| results(&v).iter().find(|r| r["workload"] == w).unwrap()["found"].as_u64();
    assert_eq!(found("readseq"), Some(20_000));
    assert_eq!(found("readrandom"), Some(20_000));
    assert_eq!(found("readmissing"), Some(0));
    assert_eq!(found("getitem"), Some(20_000));
    assert_eq!(found("query"), Some(20_000));
    v
}

#[test]
fn the_table_names_every_workload_and_column() {
    let out = bench(&[
        "fillseq",
        "--workloads",
        "readrandom,getitem",
        "--num",
        "300",
        "--records",
        "100",
        "--compression",
        "zstd",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for word in [
        "compression zstd",
        "workload",
        "ops/s",
        "MB/s",
        "p99.9 µs",
        "w-amp",
        "s-amp",
        "on disk",
        "peak mem",
    ] {
        assert!(text.contains(word), "{word:?} missing:\n{text}");
    }
    for w in ["fillseq", "readrandom", "getitem"] {
        let line = text
            .lines()
            .find(|l| l.starts_with(w))
            .unwrap_or_else(|| panic!("no row {w}:\n{text}"));
        assert_eq!(line.split_whitespace().nth(1), Some("300"), "{line}");
    }
}

#[test]
fn the_default_directory_is_removed_afterwards() {
    let out = bench(&["fillseq", "--num", "50"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let dir = text
        .lines()
        .next()
        .and_then(|l| l.rsplit(" in ").next())
        .unwrap();
    assert!(dir.contains("strata-bench-"), "{text}");
    assert!(!Path::new(dir).exists(), "{dir} left behind");
}

#[test]
fn bad_options_fail_with_a_clear_message() {
    let cases: [(&[&str], &str); 8] = [
        (&[], "give the workloads to run"),
        (&["fillsort"], "unknown workload \"fillsort\""),
        (&["fillseq", "--num", "0"], "--num must be at least 1"),
        (&["fillseq", "--threads", "0"], "--threads must be from 1"),
        (
            &["fillseq", "--num", "100000", "--key-size", "4"],
            "--key-size must be from 5",
        ),
        (&["putitem", "--gsis", "50"], "--gsis must be from 0 to 20"),
        (&["fillseq", "--compression", "lz4"], "invalid value 'lz4'"),
        (
            &["fillseq", "--max-mapped-mib", "0"],
            "--max-mapped-mib must be at least 1",
        ),
    ];
    for (args, want) in cases {
        let out = bench(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(
            out.stdout.is_empty(),
            "{args:?} printed {:?}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[test]
fn an_item_table_of_another_shape_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().to_str().unwrap();
    ok_json(&["putitem", "--num", "10", "--db", db]);
    let out = bench(&["putitem", "--num", "10", "--db", db, "--partitions", "3"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("already holds a table \"bench\" with 4 partitions"),
        "{err}"
    );
}
