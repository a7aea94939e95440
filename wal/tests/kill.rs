//! Process-kill test: a child process (this same test binary, told by an
//! environment variable to act as the child) appends records from several
//! threads and prints each LSN after `append` returns, while another thread
//! rotates segments and retires old ones (printing each retention point
//! first), so that rotations reuse spares and put their fsyncs off; the
//! parent kills it with SIGKILL at a random moment, reopens the log on the
//! real file system and checks that every printed record above the last
//! retention point is there with the right bytes.
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

/// The log's options for a round with this seed. Odd seeds preallocate in
/// 4 KiB chunks, so that segments grow by larger steps once past 16 KiB
/// (`WalOptions::preallocate`) while the child is killed; even seeds keep the
/// default 256 KiB, a segment's whole first chunk.
fn options(seed: u64) -> WalOptions {
    let defaults = WalOptions::default();
    WalOptions {
        segment_size: 256 * 1024,
        buffered_sync_interval: Duration::from_millis(5),
        preallocate: if seed % 2 == 1 {
            4 << 10
        } else {
            defaults.preallocate
        },
        ..defaults
    }
}

/// The child: append forever, printing `lsn thread index durability` after
/// each append returns.
fn child(dir: &Path, seed: u64) -> ! {
    let (wal, _) = Wal::open(dir, options(seed)).unwrap();
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
    // Retention: rotate now and then, and retire what is synced but for the
    // last 200 records, saying so first.
    let w = Arc::clone(&wal);
    std::thread::spawn(move || {
        let stdout = std::io::stdout();
        for n in 0u64.. {
            std::thread::sleep(Duration::from_millis(2));
            if n % 3 == 0 {
                w.rotate().unwrap();
            }
            let cut = w.synced_lsn().saturating_sub(200);
            {
                let mut out = stdout.lock();
                writeln!(out, "R {}", w.stats().segments_recycled).unwrap();
                writeln!(out, "T {cut}").unwrap();
                out.flush().unwrap();
            }
            w.truncate_before(cut).unwrap();
        }
    });
    for h in handles {
        h.join().unwrap();
    }
    std::process::exit(0);
}

/// One round: the records checked, how many rotations reused a spare, and the
/// longest file the child left.
fn parent_round(round: u64, rng: &mut rand::rngs::StdRng) -> (usize, u64, u64) {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(base).unwrap();
    let tmp = tempfile::Builder::new()
        .prefix("wal-kill")
        .tempdir_in(base)
        .unwrap();
    let dir = tmp.path().join("wal");
    // Odd rounds grow their segments in small chunks (see `options`).
    let seed: u64 = (rng.random::<u64>() & !1) | (round & 1);
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
    let mut retained_from = 1u64;
    let mut line = String::new();
    let parse = |l: &str| -> Option<(u64, u64, u64)> {
        let mut it = l.split_whitespace().map(|x| x.parse::<u64>());
        match (it.next(), it.next(), it.next()) {
            (Some(Ok(a)), Some(Ok(b)), Some(Ok(c))) => Some((a, b, c)),
            _ => None,
        }
    };
    let mut recycled = 0u64;
    let mut take = |line: &str, printed: &mut Vec<(u64, u64, u64)>| {
        if let Some(n) = line.strip_prefix("R ") {
            recycled = recycled.max(n.trim().parse().expect("bad recycling line"));
        } else if let Some(cut) = line.strip_prefix("T ") {
            let cut: u64 = cut.trim().parse().expect("bad retention line");
            retained_from = retained_from.max(cut);
        } else {
            printed.push(parse(line).expect("bad line from child"));
        }
    };
    while printed.len() < kill_after_lines && Instant::now() < deadline {
        line.clear();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if line.ends_with('\n') {
            take(&line, &mut printed);
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
            take(&line, &mut printed);
        }
    }

    // The longest file the killed child left (a segment, preallocated).
    let longest = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .max()
        .unwrap_or(0);
    let (wal, report) = Wal::open(&dir, options(seed)).unwrap();
    assert!(!report.has_corruption(), "round {round}: {report:?}");
    let mut got = BTreeMap::new();
    for item in wal.iter_from(0).unwrap() {
        let (lsn, rec) = item.unwrap();
        got.insert(lsn, rec);
    }
    // A gap-free run of LSNs, from at or before the last retention point.
    let first = got.keys().next().copied().unwrap_or(retained_from);
    assert!(
        first <= retained_from.max(1),
        "round {round}: records from {first} kept, retention was at {retained_from}"
    );
    for (i, lsn) in got.keys().enumerate() {
        assert_eq!(*lsn, first + i as u64, "round {round}: hole in the log");
    }
    for &(lsn, t, i) in printed.iter().filter(|p| p.0 >= retained_from) {
        let want = payload(seed, t, i);
        match got.get(&lsn) {
            Some(r) => assert_eq!(r, &want, "round {round}: record {lsn} has other bytes"),
            None => panic!(
                "round {round}: acknowledged record {lsn} (thread {t}, #{i}) lost; recovered {} records, report {report:?}",
                got.len()
            ),
        }
    }
    (printed.len(), recycled, longest)
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
    let (mut total, mut recycled, mut longest_small) = (0, 0, 0);
    for round in 0..ROUNDS {
        let (n, r, longest) = parent_round(round, &mut rng);
        total += n;
        recycled += r;
        if round % 2 == 1 {
            longest_small = longest_small.max(longest);
        }
    }
    // Rotations into spares (which put their fsyncs off) happened.
    assert!(recycled > 0, "no rotation reused a spare");
    // Segments of the small-chunk rounds grew past four chunks, where each
    // growth is a larger step.
    assert!(
        longest_small > 32 << 10,
        "no 4 KiB-chunk segment grew past 32 KiB ({longest_small} bytes)"
    );
    println!(
        "kill test: {ROUNDS} rounds, {total} acknowledged records checked, {recycled} rotations into spares, longest segment of a 4 KiB-chunk round {longest_small} bytes, {:.1} s",
        start.elapsed().as_secs_f64()
    );
}
