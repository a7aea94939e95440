//! `strata inspect`, `verify`, `export` and `import` as processes: happy paths in
//! text and JSON, `verify` finding planted damage (exit code 1, the damaged file
//! named), export → import round trips (plain and gzip) equal to the source, a
//! malformed import line, and an import resumed after a SIGKILL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use strata_engine::{
    CapacityMode, Db, DbOptions, GsiSpec, LsiSpec, PutOptions, ScanOptions, TableSpec,
};
use strata_item::{AttributeValue, Item, KeySchema, KeyType, item};

const TABLE: &str = "posts";

fn strata(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Checks that the command failed with `needle` in its error message.
fn fails_saying(out: &Output, needle: &str) {
    assert!(!out.status.success(), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(err.contains(needle), "no {needle:?} in {err}");
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn options() -> DbOptions {
    let mut o = DbOptions::default();
    // No automatic flush: what is written after the explicit flush stays in the
    // WAL.
    o.tree.memtable_size = 64 << 20;
    o
}

fn spec() -> TableSpec {
    TableSpec::new(
        TABLE,
        KeySchema::composite("user", KeyType::S, "ts", KeyType::N),
    )
    .partitions(2)
    .lsi(LsiSpec::new("by_likes", "likes", KeyType::N))
    .gsi(GsiSpec::new("by_tag", KeySchema::simple("tag", KeyType::S)))
    .capacity(CapacityMode::provisioned(1000, 1000))
}

fn post(i: i64) -> Item {
    let mut it = item! {
        "user" => format!("u{}", i % 17),
        "ts" => i,
        "body" => format!("post number {i} ").repeat(3),
        "bin" => AttributeValue::B(vec![i as u8, 0, 255]),
        "flags" => AttributeValue::L(vec![AttributeValue::Bool(i % 2 == 0), AttributeValue::Null]),
    };
    if i % 3 != 0 {
        it.insert("likes", AttributeValue::from(i * 5));
    }
    if i % 4 != 0 {
        it.insert("tag", AttributeValue::from(format!("t{}", i % 5)));
    }
    it
}

/// A database in `dir` with `posts` (2 partitions, an LSI, a GSI, provisioned
/// capacity): 300 items flushed to SSTables, 100 more only in the WAL. Returned
/// open and quiescent (indexes caught up, nothing flushing).
fn build(dir: &Path) -> Db {
    let db = Db::open(dir, options()).unwrap();
    db.create_table(spec()).unwrap();
    let t = db.table(TABLE).unwrap();
    for i in 0..300 {
        t.put_item(post(i), PutOptions::default()).unwrap();
    }
    t.flush().unwrap();
    for i in 300..400 {
        t.put_item(post(i), PutOptions::default()).unwrap();
    }
    db.wait_for_indexes(TABLE, Duration::from_secs(30)).unwrap();
    db
}

/// A closed, cleanly shut down database.
fn closed_db(dir: &Path) {
    let db = build(dir);
    db.close().unwrap();
}

/// The files of a database as a SIGKILL leaves them (the WAL holds records not
/// in any SSTable): a copy of an open, quiescent database.
fn killed_db(dir: &Path) {
    let tmp = tempfile::tempdir().unwrap();
    let db = build(tmp.path());
    copy_dir(tmp.path(), dir);
    db.close().unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

fn files_ending(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_ending(&p, suffix));
        } else if p.to_str().unwrap().ends_with(suffix) {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// The base table's files (not the GSI's).
fn base_files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    files_ending(dir, suffix)
        .into_iter()
        .filter(|p| !p.to_str().unwrap().contains("/gsi/"))
        .collect()
}

fn flip(path: &Path, pos: usize) {
    let mut b = std::fs::read(path).unwrap();
    b[pos] ^= 0x10;
    std::fs::write(path, b).unwrap();
}

/// Every item of `table` in `dir`, by key.
fn items_of(dir: &Path, table: &str) -> BTreeMap<String, Item> {
    let db = Db::open(dir, options()).unwrap();
    let t = db.table(table).unwrap();
    let mut out = BTreeMap::new();
    for it in t.scan_iter(ScanOptions::default()) {
        let it = it.unwrap();
        out.insert(key_of(&it), it);
    }
    db.close().unwrap();
    out
}

fn key_of(it: &Item) -> String {
    format!("{:?}/{:?}", it.get("user"), it.get("ts"))
}

/// The items of an export file (plain or gzip), by key, checking the format.
fn items_in_export(path: &Path) -> BTreeMap<String, Item> {
    use std::io::Read;
    let raw = std::fs::read(path).unwrap();
    let mut content = String::new();
    if raw.starts_with(&[0x1f, 0x8b]) {
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_string(&mut content)
            .unwrap();
    } else {
        content = String::from_utf8(raw).unwrap();
    }
    let mut out = BTreeMap::new();
    for line in content.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let obj = v.as_object().unwrap();
        assert_eq!(obj.len(), 1, "{line}");
        let it = Item::from_dynamo_json(&obj["Item"]).unwrap();
        assert!(out.insert(key_of(&it), it).is_none(), "duplicate {line}");
    }
    out
}

// ---------------------------------------------------------------- inspect

#[test]
fn inspect_a_database_in_text_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let db_dir = dir.path().join("db");
    killed_db(&db_dir);

    let out = strata(&["inspect", s(&db_dir)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    for want in [
        "table posts",
        "key user:S, ts:N; 2 partitions",
        "billing PROVISIONED: 1000 RCU, 1000 WCU",
        "items: 400",
        "LSI by_likes: sort key likes:N",
        "GSI by_tag: key tag:S",
        "capacity write: 1000 units/s",
        "partition 0",
        "partition 1",
        " L0 ",
        "wal ",
    ] {
        assert!(t.contains(want), "missing {want:?} in\n{t}");
    }

    let out = strata(&["inspect", "--json", s(&db_dir)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let table = &v["tables"][0];
    assert_eq!(table["name"], "posts");
    assert_eq!(table["items"], 400);
    assert_eq!(table["sort_key"], "ts:N");
    assert_eq!(
        table["local_secondary_indexes"][0]["entries"],
        (0..400).filter(|i| i % 3 != 0).count()
    );
    let gsi = &table["global_secondary_indexes"][0];
    assert_eq!(gsi["name"], "by_tag");
    assert_eq!(gsi["status"], "Active");
    assert_eq!(gsi["item_count"], (0..400).filter(|i| i % 4 != 0).count());
    assert_eq!(gsi["lag_records"], 0);
    // The GSI's shadow partitions, with the entries of every tagged item.
    let gparts = gsi["partition_details"].as_array().unwrap();
    assert!(!gparts.is_empty());
    assert!(
        gparts
            .iter()
            .all(|p| p["directory"].as_str().unwrap().contains("/gsi/"))
    );
    assert!(
        t.lines()
            .any(|l| l.starts_with("  GSI by_tag partition 0 (")),
        "{t}"
    );
    let parts = table["partition_details"].as_array().unwrap();
    assert_eq!(parts.len(), 2);
    // The 300 flushed items and their LSI entries are in the level files; the
    // 100 replayed from the WAL may be too (the open schedules their flush).
    let entries: u64 = parts
        .iter()
        .flat_map(|p| p["files"].as_array().unwrap())
        .map(|f| f["entries"].as_u64().unwrap())
        .sum();
    let lsi = |n: i64| (0..n).filter(|i| i % 3 != 0).count() as u64;
    assert!(
        (300 + lsi(300)..=400 + lsi(400)).contains(&entries),
        "{entries}"
    );
    for p in parts {
        for f in p["files"].as_array().unwrap() {
            assert!(f["file"].as_str().unwrap().ends_with(".sst"));
            assert!(f["size"].as_u64().unwrap() > 0);
            assert!(f["smallest_key"].as_str().unwrap() <= f["largest_key"].as_str().unwrap());
        }
        let wal = p["wal_segments"].as_array().unwrap();
        assert!(!wal.is_empty());
        assert!(
            wal.iter()
                .all(|w| w["damage"].as_array().unwrap().is_empty())
        );
    }
}

#[test]
fn inspect_one_sstable_and_one_wal_segment() {
    let dir = tempfile::tempdir().unwrap();
    let db_dir = dir.path().join("db");
    killed_db(&db_dir);
    let sst = base_files(&db_dir, ".sst").remove(0);
    let out = strata(&["inspect", s(&sst)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    assert!(t.starts_with("SSTable "), "{t}");
    assert!(
        t.contains("checksums: every block and the whole file verified"),
        "{t}"
    );
    assert!(t.contains("filter: "), "{t}");
    let out = strata(&["inspect", "--json", s(&sst)]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "sstable");
    assert!(v["entries"].as_u64().unwrap() > 0);
    assert_eq!(v["entries"], v["entries_read"]);
    assert!(v["data_blocks"].as_u64().unwrap() > 0);
    assert_eq!(v["problems"].as_array().unwrap().len(), 0);
    assert!(v["first_entries"].as_array().unwrap().is_empty());
    // --entries N lists the first N entries, in key order.
    let out = strata(&["inspect", "--json", "--entries", "3", s(&sst)]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let first = v["first_entries"].as_array().unwrap();
    assert_eq!(first.len(), 3);
    assert!(first[0]["key"].as_str().unwrap() < first[1]["key"].as_str().unwrap());
    assert!(first.iter().all(|e| e["value_len"].as_u64().unwrap() > 0));
    let t = text(&strata(&["inspect", "--entries", "2", s(&sst)]).stdout);
    assert_eq!(
        t.lines().filter(|l| l.starts_with("  entry ")).count(),
        2,
        "{t}"
    );

    // The WAL segment holding the 100 unflushed items of a partition.
    let wal = base_files(&db_dir, ".wal")
        .into_iter()
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let out = strata(&["inspect", "--json", s(&wal)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "wal_segment");
    assert_eq!(v["format_version"], 3);
    assert_eq!(v["block_size"], 32768);
    assert!(v["header_flags"].as_u64().unwrap() <= 1, "{v}");
    let records = v["records"].as_u64().unwrap();
    assert!(records > 10, "{v}");
    assert_eq!(
        v["last_lsn"].as_u64().unwrap(),
        v["first_lsn"].as_u64().unwrap() + records - 1
    );
    let out = strata(&["inspect", s(&wal)]);
    let t = text(&out.stdout);
    assert!(t.contains(&format!("({records} records)")), "{t}");

    // A flipped byte shows up in the file's own inspection.
    flip(&sst, 100);
    let v: serde_json::Value =
        serde_json::from_slice(&strata(&["inspect", "--json", s(&sst)]).stdout).unwrap();
    assert!(!v["problems"].as_array().unwrap().is_empty(), "{v}");

    // Something else is refused, saying what was expected.
    let other = dir.path().join("notes.txt");
    std::fs::write(&other, "hello").unwrap();
    fails_saying(&strata(&["inspect", s(&other)]), "neither an SSTable");
}

#[test]
fn a_database_open_elsewhere_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let db = build(dir.path());
    for args in [
        vec!["inspect", s(dir.path())],
        vec!["verify", s(dir.path())],
        vec!["export", s(dir.path()), TABLE],
    ] {
        fails_saying(&strata(&args), "is open in another process");
    }
    db.close().unwrap();
}

// ---------------------------------------------------------------- verify

#[test]
fn verify_a_clean_database_in_text_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let db_dir = dir.path().join("db");
    killed_db(&db_dir);
    let out = strata(&["verify", s(&db_dir)]);
    let t = text(&out.stdout);
    assert!(out.status.success(), "{t}{}", text(&out.stderr));
    assert!(t.contains("0 errors"), "{t}");
    assert!(
        t.contains(&format!(
            "LSI posts.by_likes: 400 base items (0 skipped), {n} entries expected, {n} found, 0 differences",
            n = (0..400).filter(|i| i % 3 != 0).count()
        )),
        "{t}"
    );
    assert!(t.contains("GSI posts.by_tag: 400 base items"), "{t}");
    assert!(t.trim_end().ends_with("OK"), "{t}");

    let out = strata(&["verify", "--json", s(&db_dir)]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["clean"], true);
    assert!(v["files_checked"].as_u64().unwrap() > 5);
    assert_eq!(v["indexes"].as_array().unwrap().len(), 2);

    // --files-only does not open the database: nothing in it changes.
    let before: Vec<(PathBuf, Vec<u8>)> = files_ending(&db_dir, "")
        .into_iter()
        .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
        .collect();
    let out = strata(&["verify", "--files-only", s(&db_dir)]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("indexes: not checked: --files-only"));
    let after: Vec<(PathBuf, Vec<u8>)> = files_ending(&db_dir, "")
        .into_iter()
        .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
        .collect();
    assert_eq!(before, after);
}

/// Runs `strata verify` (text and JSON) on a damaged copy and checks it fails
/// naming `file` as an error.
fn expect_damage(db_dir: &Path, file: &Path) {
    let out = strata(&["verify", s(db_dir)]);
    let t = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{t}{}", text(&out.stderr));
    assert!(
        t.lines()
            .any(|l| l.starts_with("  error: ") && l.contains(s(file))),
        "no error naming {} in\n{t}",
        file.display()
    );
    assert!(t.trim_end().ends_with("DAMAGED"), "{t}");
    assert!(
        t.contains("indexes: not checked: the files are damaged"),
        "{t}"
    );
    let out = strata(&["verify", "--json", s(db_dir)]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["clean"], false);
    assert!(
        v["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["severity"] == "error" && p["path"] == s(file)),
        "{v}"
    );
}

#[test]
fn verify_finds_planted_damage_and_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    killed_db(&base);
    let mut n = 0;
    let mut fresh = || {
        n += 1;
        let d = dir.path().join(format!("copy{n}"));
        copy_dir(&base, &d);
        d
    };

    // A flipped byte inside an SSTable's data.
    let d = fresh();
    let sst = base_files(&d, ".sst").remove(0);
    flip(&sst, 200);
    expect_damage(&d, &sst);

    // A truncated SSTable.
    let d = fresh();
    let sst = base_files(&d, ".sst").remove(0);
    let len = std::fs::metadata(&sst).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&sst)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    expect_damage(&d, &sst);

    // A deleted SSTable.
    let d = fresh();
    let sst = base_files(&d, ".sst").remove(0);
    std::fs::remove_file(&sst).unwrap();
    expect_damage(&d, &sst);

    // A flipped byte in a manifest record (past its 16-byte header).
    let d = fresh();
    let manifest = base_files(&d, "")
        .into_iter()
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("MANIFEST-")
        })
        .unwrap();
    let mlen = std::fs::metadata(&manifest).unwrap().len() as usize;
    assert!(mlen > 40, "{mlen}");
    flip(&manifest, 30);
    expect_damage(&d, &manifest);

    // A flipped byte in the first record of a WAL segment that holds more.
    let d = fresh();
    let wal = base_files(&d, ".wal")
        .into_iter()
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    flip(&wal, 32 + 12);
    expect_damage(&d, &wal);

    // A flipped byte in the catalog.
    let d = fresh();
    let catalog = d.join("CATALOG");
    flip(&catalog, 20);
    expect_damage(&d, &catalog);
}

// ---------------------------------------------------------------- export/import

#[test]
fn export_then_import_round_trips_plain_and_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    closed_db(&src);
    let source = items_of(&src, TABLE);
    assert_eq!(source.len(), 400);

    for gzip in [false, true] {
        let file = dir
            .path()
            .join(if gzip { "posts.json.gz" } else { "posts.json" });
        let mut args = vec!["export", s(&src), TABLE, "--out", s(&file)];
        if gzip {
            args.push("--gzip");
        }
        let out = strata(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(out.stdout.is_empty());
        assert_eq!(
            std::fs::read(&file).unwrap().starts_with(&[0x1f, 0x8b]),
            gzip
        );
        assert_eq!(items_in_export(&file), source);

        // Into a fresh database, the table created from the command line.
        let dst = dir.path().join(format!("dst-{gzip}"));
        let out = strata(&[
            "import",
            s(&dst),
            "copy",
            s(&file),
            "--partition-key",
            "user:S",
            "--sort-key",
            "ts:N",
            "--partitions",
            "3",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains("imported 400 items into copy"),
            "{}",
            text(&out.stdout)
        );
        assert_eq!(items_of(&dst, "copy"), source);
        // The checkpoint is gone once the import finished.
        assert!(
            !dir.path()
                .join(format!("dst-{gzip}.import-copy.checkpoint"))
                .exists()
        );
    }

    // Export to stdout equals export to a file.
    let out = strata(&["export", s(&src), TABLE]);
    assert!(out.status.success());
    let stdout_file = dir.path().join("stdout.json");
    std::fs::write(&stdout_file, &out.stdout).unwrap();
    assert_eq!(items_in_export(&stdout_file), source);
}

#[test]
fn import_creates_the_table_from_a_create_table_schema() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.json");
    let lines: Vec<String> = (0..60)
        .map(|i| format!("{{\"Item\": {}}}", post(i).to_dynamo_json()))
        .collect();
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let schema = dir.path().join("schema.json");
    std::fs::write(
        &schema,
        r#"{
          "AttributeDefinitions": [
            {"AttributeName": "user", "AttributeType": "S"},
            {"AttributeName": "ts", "AttributeType": "N"},
            {"AttributeName": "likes", "AttributeType": "N"}
          ],
          "KeySchema": [
            {"AttributeName": "user", "KeyType": "HASH"},
            {"AttributeName": "ts", "KeyType": "RANGE"}
          ],
          "LocalSecondaryIndexes": [{
            "IndexName": "by_likes",
            "KeySchema": [
              {"AttributeName": "user", "KeyType": "HASH"},
              {"AttributeName": "likes", "KeyType": "RANGE"}
            ],
            "Projection": {"ProjectionType": "ALL"}
          }],
          "BillingMode": "PAY_PER_REQUEST"
        }"#,
    )
    .unwrap();
    let db_dir = dir.path().join("db");
    let out = strata(&[
        "import",
        s(&db_dir),
        "fromschema",
        s(&input),
        "--schema",
        s(&schema),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let db = Db::open(&db_dir, options()).unwrap();
    let d = db.describe_table("fromschema").unwrap();
    assert_eq!(d.spec.local_secondary_indexes[0].name, "by_likes");
    assert_eq!(
        db.table("fromschema").unwrap().item_stats().unwrap().items,
        60
    );
    assert!(
        db.verify_local_index("fromschema", "by_likes")
            .unwrap()
            .is_clean()
    );
    db.close().unwrap();

    // A missing table without a schema is refused, saying what to give.
    fails_saying(
        &strata(&["import", s(&db_dir), "other", s(&input)]),
        "--partition-key",
    );
}

#[test]
fn a_malformed_line_is_an_error_with_its_number_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bad.json");
    let good = |i: i64| format!("{{\"Item\": {}}}", post(i).to_dynamo_json());
    let content = [
        good(1),
        good(2),
        String::new(),
        good(3),
        r#"{"Item": {"user": {"S": "u1"}, "ts": {"N": 5}}}"#.to_owned(),
        good(4),
    ]
    .join("\n");
    std::fs::write(&input, content).unwrap();
    let db_dir = dir.path().join("db");
    let import = || {
        strata(&[
            "import",
            s(&db_dir),
            TABLE,
            s(&input),
            "--partition-key",
            "user:S",
            "--sort-key",
            "ts:N",
        ])
    };
    let out = import();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("{}: line 5: ", input.display())),
        "{err}"
    );
    assert!(err.contains("ts"), "{err}");
    // Nothing written: not even the database.
    assert!(!db_dir.exists());
    // Nor into an existing database: not even the table.
    Db::open(&db_dir, options()).unwrap().close().unwrap();
    fails_saying(&import(), &format!("{}: line 5: ", input.display()));
    let db = Db::open(&db_dir, options()).unwrap();
    assert!(db.list_tables().unwrap().is_empty());
    db.close().unwrap();
    assert!(!dir.path().join("db.import-posts.checkpoint").exists());
}

#[test]
fn an_import_killed_midway_resumes_without_losing_or_duplicating() {
    const N: i64 = 4000;
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("big.json");
    // Some keys repeat with another value: the later line must win.
    let mut lines = Vec::new();
    let mut expected = BTreeMap::new();
    for i in 0..N {
        let mut it = post(i % 3500);
        it.insert("line", AttributeValue::from(i));
        lines.push(format!("{{\"Item\": {}}}", it.to_dynamo_json()));
        expected.insert(key_of(&it), it);
    }
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let db_dir = dir.path().join("db");
    let checkpoint = dir.path().join("db.import-posts.checkpoint");
    let args = [
        "import",
        s(&db_dir),
        TABLE,
        s(&input),
        "--partition-key",
        "user:S",
        "--sort-key",
        "ts:N",
        "--max-items-per-second",
        "1000",
    ];
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the checkpoint shows progress, then kill.
    let deadline = Instant::now() + Duration::from_secs(30);
    let done_at_kill = loop {
        assert!(Instant::now() < deadline, "no checkpoint appeared");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import ended before it was killed"
        );
        if let Ok(b) = std::fs::read(&checkpoint)
            && let Ok(v) = serde_json::from_slice::<serde_json::Value>(&b)
            && v["lines_done"].as_u64().unwrap_or(0) >= 400
        {
            break v["lines_done"].as_u64().unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(done_at_kill < N as u64);

    let out = strata(&args[..8]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("resuming from"), "{err}");
    assert!(!checkpoint.exists());
    assert_eq!(items_of(&db_dir, TABLE), expected);
}

/// Opens partition tree `dir` directly (the database closed) and lets `f` change it.
fn with_tree(dir: &Path, f: impl FnOnce(&strata_engine::Tree)) {
    let tree = strata_engine::Tree::open(dir, strata_engine::TreeOptions::default()).unwrap();
    f(&tree);
    tree.close().unwrap();
}

/// The keys of `tree` starting with `prefix`.
fn keys_with(tree: &strata_engine::Tree, prefix: &[u8]) -> Vec<Vec<u8>> {
    use std::ops::Bound;
    tree.range(Bound::Included(prefix), Bound::Unbounded, None)
        .unwrap()
        .map(|kv| kv.unwrap().0)
        .take_while(|k| k.starts_with(prefix))
        .collect()
}

/// Runs `strata verify` on `db_dir` and checks that it fails on exactly one
/// difference in index `line_start` (`LSI table.index` / `GSI table.index`).
fn expect_index_difference(db_dir: &Path, line_start: &str) {
    let out = strata(&["verify", s(db_dir)]);
    let t = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{t}{}", text(&out.stderr));
    assert!(t.contains(": 0 errors"), "the files are intact: {t}");
    assert!(
        t.lines()
            .any(|l| l.starts_with(line_start) && l.ends_with(" 1 differences")),
        "{t}"
    );
    assert!(t.contains("  error: Missing"), "{t}");
    assert!(t.trim_end().ends_with("DAMAGED"), "{t}");
}

#[test]
fn verify_finds_a_wrong_lsi_entry() {
    use strata_engine::lsm::Durability;
    let dir = tempfile::tempdir().unwrap();
    // A table without GSIs: a raw write to its tree is not a change a GSI
    // maintainer could read.
    let db = Db::open(dir.path(), options()).unwrap();
    db.create_table(
        TableSpec::new(
            "lsi_only",
            KeySchema::composite("user", KeyType::S, "ts", KeyType::N),
        )
        .partitions(1)
        .lsi(LsiSpec::new("by_likes", "likes", KeyType::N)),
    )
    .unwrap();
    let t = db.table("lsi_only").unwrap();
    for i in 0..50 {
        t.put_item(post(i), PutOptions::default()).unwrap();
    }
    db.close().unwrap();
    // An LSI entry deleted (LSI keys start 0x02, then the index number).
    with_tree(&dir.path().join("tables/t00000001/p0000"), |t| {
        let keys = keys_with(t, &[0x02, 0x00]);
        assert!(!keys.is_empty());
        t.delete(&keys[0], Durability::Sync).unwrap();
    });
    expect_index_difference(dir.path(), "LSI lsi_only.by_likes");
}

#[test]
fn verify_finds_a_wrong_gsi_entry() {
    use strata_engine::lsm::Durability;
    let dir = tempfile::tempdir().unwrap();
    let db_dir = dir.path().join("db");
    closed_db(&db_dir);
    // A GSI entry (keys start 0x01) deleted from the first shadow partition
    // that has one.
    let gsi_root = db_dir.join("tables/t00000001/gsi");
    let gsi_dir = std::fs::read_dir(&gsi_root)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut deleted = false;
    for p in 0..4 {
        let pdir = gsi_dir.join(format!("p{p:04}"));
        if deleted || !pdir.exists() {
            continue;
        }
        with_tree(&pdir, |t| {
            if let Some(k) = keys_with(t, &[0x01]).first() {
                t.delete(k, Durability::Sync).unwrap();
                deleted = true;
            }
        });
    }
    assert!(deleted, "no GSI entry found under {}", gsi_dir.display());
    expect_index_difference(&db_dir, "GSI posts.by_tag");
}

#[test]
fn a_checkpoint_of_another_input_is_refused_unless_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let write_input = |name: &str, from: i64| {
        let p = dir.path().join(name);
        let lines: Vec<String> = (from..from + 30)
            .map(|i| format!("{{\"Item\": {}}}", post(i).to_dynamo_json()))
            .collect();
        std::fs::write(&p, lines.join("\n") + "\n").unwrap();
        p
    };
    let a = write_input("a.json", 0);
    let b = write_input("b.json", 100);
    let db_dir = dir.path().join("db");
    // An existing table with Buffered durability: the import flushes it before
    // each checkpoint and at the end.
    let db = Db::open(&db_dir, options()).unwrap();
    db.create_table(spec().durability(strata_engine::TableDurability::Buffered))
        .unwrap();
    db.close().unwrap();
    // A checkpoint left by an interrupted import of a.json.
    let checkpoint = dir.path().join("db.import-posts.checkpoint");
    let a_abs = std::fs::canonicalize(&a).unwrap();
    let len = std::fs::metadata(&a).unwrap().len();
    let mut crc = flate2::Crc::new();
    crc.update(&std::fs::read(&a).unwrap());
    let first_line_end = std::fs::read_to_string(&a).unwrap().find('\n').unwrap() + 1;
    std::fs::write(
        &checkpoint,
        serde_json::json!({
            "format": "strata-import-checkpoint", "version": 1, "table": "posts",
            "input": {"path": a_abs, "len": len, "head_crc32": crc.sum()},
            "lines_done": 1, "bytes_done": first_line_end, "items_done": 1
        })
        .to_string(),
    )
    .unwrap();
    // Importing b.json is refused: the checkpoint is a.json's.
    fails_saying(
        &strata(&["import", s(&db_dir), TABLE, s(&b)]),
        "remove it or pass --restart",
    );
    // a.json resumes after its first line.
    let out = strata(&["import", s(&db_dir), TABLE, s(&a)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("1 lines (1 items) already imported"));
    assert!(!checkpoint.exists());
    // A stale checkpoint is ignored with --restart.
    std::fs::write(&checkpoint, "{}").unwrap();
    fails_saying(
        &strata(&["import", s(&db_dir), TABLE, s(&b)]),
        "not an import checkpoint",
    );
    let out = strata(&["import", s(&db_dir), TABLE, s(&b), "--restart"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The resumed import wrote lines 2..30 of a.json (its first line was the
    // interrupted import's, which never ran here), and all of b.json.
    let items = items_of(&db_dir, TABLE);
    assert_eq!(items.len(), 29 + 30);
    assert!(!items.contains_key(&key_of(&post(0))));
    assert_eq!(items[&key_of(&post(1))], post(1));
    assert_eq!(items[&key_of(&post(129))], post(129));
}
