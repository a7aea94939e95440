//! A second *process* opening a database directory that another process has
//! open gets a clear `Locked` error (the lock is an OS file lock, not a flag
//! inside one process).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use strata_engine::{Db, DbError, DbOptions};

const DIR_ENV: &str = "STRATA_LOCK_CHILD_DIR";

/// The child: tries to open the directory and reports what happened.
#[test]
#[ignore = "run by db_open_in_second_process_is_refused as a child process"]
fn lock_child() {
    let Ok(dir) = std::env::var(DIR_ENV) else {
        return;
    };
    match Db::open(&dir, DbOptions::default()) {
        Err(DbError::Locked { .. }) => println!("RESULT locked"),
        Err(e) => println!("RESULT other error: {e}"),
        Ok(_) => println!("RESULT opened"),
    }
}

fn child_result(dir: &std::path::Path) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "lock_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DIR_ENV, dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    stdout
        .lines()
        .find_map(|l| l.split_once("RESULT ").map(|(_, r)| r.trim().to_owned()))
        .unwrap_or_else(|| panic!("child printed no result: {stdout}"))
}

#[test]
fn db_open_in_second_process_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), DbOptions::default()).unwrap();
    assert_eq!(child_result(dir.path()), "locked");
    // Once closed, another process may open it.
    db.close().unwrap();
    drop(db);
    assert_eq!(child_result(dir.path()), "opened");
}
