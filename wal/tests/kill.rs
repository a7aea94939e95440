//! Process-kill test: a child process (this same test binary, told by an
//! environment variable to act as the child) appends records from several
//! threads and prints each LSN after `append` returns; the parent kills it
//! with SIGKILL at a random moment, reopens the log on the real file system
//! and checks that every printed record is there with the right bytes.
//!
//! Runs without the libtest harness (`harness = false`): `main` is either the
//! parent (20 rounds) or the child.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use strata_wal::{Durability, Wal, WalOptions};

const CHILD_ENV: &str = "STRATA_WAL_KILL_CHILD";
const ROUNDS: u64 = 20;
const THREADS: u64 = 4;

/// The payload of record `i` of thread `t` in a run with `seed`.
fn payload(seed: u64, t: u64, i: u64) -> Vec<u8> {
    let mut x = seed ^ (t << 48) ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 1;
    let len = (x % 3000) as usize;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn options() -> WalOptions {
    WalOptions {
        segment_size: 256 * 1024,
        buffered_sync_interval: Duration::from_millis(5),
        ..WalOptions::default()
    }
}

/// The child: append forever, printing `lsn thread index durability` after
/// each append returns.
fn child(dir: &Path, seed: u64) -> ! {
    let (wal, _) = Wal::open(dir, options()).unwrap();
    let wal = Arc::new(wal);
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let wal = Arc::clone(&wal);
            std::thread::spawn(move || {
                let stdout = std::io::stdout();
                for i in 0.. {
                    let d = if (i + t) % 3 == 0 {
                        Durability::Buffered
                    } else {
                        Durability::Sync
                    };
                    let lsn = wal.append(&payload(seed, t, i), d).unwrap();
                    // Buffered records are written to the OS before append
                    // returns, so they too survive the death of the process.
                    let mut out = stdout.lock();
                    writeln!(out, "{lsn} {t} {i}").unwrap();
                    out.flush().unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    std::process::exit(0);
}

fn parent_round(round: u64, rng: &mut rand::rngs::StdRng) -> usize {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(base).unwrap();
    let tmp = tempfile::Builder::new()
        .prefix("wal-kill")
        .tempdir_in(base)
        .unwrap();
    let dir = tmp.path().join("wal");
    let seed: u64 = rng.random();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(CHILD_ENV, format!("{}:{seed}", dir.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut reader = BufReader::new(stdout);
    let kill_after_lines = rng.random_range(1..1500usize);
    let deadline = Instant::now() + Duration::from_millis(rng.random_range(20..600));
    let mut printed: Vec<(u64, u64, u64)> = Vec::new();
    let mut line = String::new();
    let parse = |l: &str| -> Option<(u64, u64, u64)> {
        let mut it = l.split_whitespace().map(|x| x.parse::<u64>());
        match (it.next(), it.next(), it.next()) {
            (Some(Ok(a)), Some(Ok(b)), Some(Ok(c))) => Some((a, b, c)),
            _ => None,
        }
    };
    while printed.len() < kill_after_lines && Instant::now() < deadline {
        line.clear();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if line.ends_with('\n') {
            printed.push(parse(&line).expect("bad line from child"));
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // Lines the child printed before it died were printed after their
    // appends returned: they count too. A partial last line does not.
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if line.ends_with('\n') {
            printed.push(parse(&line).expect("bad line from child"));
        }
    }

    let (wal, report) = Wal::open(&dir, options()).unwrap();
    let mut got = BTreeMap::new();
    for item in wal.iter_from(0).unwrap() {
        let (lsn, rec) = item.unwrap();
        got.insert(lsn, rec);
    }
    // A gap-free run of LSNs from 1.
    for (i, lsn) in got.keys().enumerate() {
        assert_eq!(*lsn, i as u64 + 1, "round {round}: hole in the log");
    }
    for &(lsn, t, i) in &printed {
        let want = payload(seed, t, i);
        match got.get(&lsn) {
            Some(r) => assert_eq!(r, &want, "round {round}: record {lsn} has other bytes"),
            None => panic!(
                "round {round}: acknowledged record {lsn} (thread {t}, #{i}) lost; recovered {} records, report {report:?}",
                got.len()
            ),
        }
    }
    printed.len()
}

fn main() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        let (dir, seed) = spec.rsplit_once(':').expect("bad child spec");
        child(Path::new(dir), seed.parse().expect("bad seed"));
    }
    let start = Instant::now();
    let mut rng = rand::rngs::StdRng::seed_from_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64),
    );
    let mut total = 0;
    for round in 0..ROUNDS {
        total += parent_round(round, &mut rng);
    }
    println!(
        "kill test: {ROUNDS} rounds, {total} acknowledged records checked, {:.1} s",
        start.elapsed().as_secs_f64()
    );
}
