//! `strata demo` as a process: it names every step, exits 0, keeps the data in the
//! directory it was given and refuses a directory holding files.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output};

fn demo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strata"))
        .arg("demo")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn the_demo_names_each_step_and_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("db");
    let out = demo(&[target.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for step in [
        "1. create table",
        "2. load: 3000 orders",
        "3. GSI lag",
        "it reached 0 in",
        "4. query",
        "30 orders",
        "5. LSI query",
        "6. GSI query",
        "7. conditional put",
        "ConditionalCheckFailed",
        "8. throttling",
        "throttled",
        "What happened",
    ] {
        assert!(text.contains(step), "{step:?} missing:\n{text}");
    }
    // The data stays where it was asked to go.
    assert!(
        text.contains(&format!("The data stays in {}", target.display())),
        "{text}"
    );
    assert!(std::fs::read_dir(&target).unwrap().next().is_some());
}

#[test]
fn a_directory_with_files_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("precious.txt"), "keep me").unwrap();
    let out = demo(&[dir.path().to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not empty"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("precious.txt")).unwrap(),
        "keep me"
    );
}
