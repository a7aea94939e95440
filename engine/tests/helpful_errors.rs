//! Errors that say what to fix (issue 15): a key with a missing or an extra attribute
//! names it; opening a path that is a file says so; a second open names the lock file.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use strata_engine::{Db, DbError, GetOptions, TableSpec};
use strata_item::{KeySchema, KeyType, item};

#[test]
fn a_key_with_a_missing_or_extra_attribute_names_it() {
    let db = Db::open_in_memory().unwrap();
    db.create_table(TableSpec::new(
        "music",
        KeySchema::composite("artist", KeyType::S, "song", KeyType::S),
    ))
    .unwrap();
    let t = db.table("music").unwrap();
    let err = |key| {
        t.get_item(key, GetOptions::default())
            .unwrap_err()
            .to_string()
    };
    let missing = err(item! { "artist" => "a" });
    assert!(missing.contains("missing the sort key song"), "{missing}");
    let extra = err(item! { "artist" => "a", "song" => "s", "year" => 1 });
    assert!(extra.contains("year is not part of the key"), "{extra}");
    assert!(
        extra.starts_with("The provided key element does not match the schema"),
        "{extra}"
    );
}

#[test]
fn opening_a_file_or_a_locked_directory_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let e = Db::open(&file, Default::default()).unwrap_err().to_string();
    assert!(e.contains("is a file, not a database directory"), "{e}");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        b"x",
        "the file is left alone"
    );

    let db_dir = dir.path().join("db");
    let db = Db::open(&db_dir, Default::default()).unwrap();
    match Db::open(&db_dir, Default::default()) {
        Err(DbError::Locked { path, .. }) => assert_eq!(path, db_dir.join("LOCK")),
        other => panic!("expected Locked, got {other:?}"),
    }
    db.close().unwrap();
}
