//! `strata bench`'s command line: the clap arguments and their validation into a
//! [`Plan`] (pure: no file is touched here).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use clap::{Args, ValueEnum};
use strata_engine::lsm::{MAX_KEY_LEN, MAX_VALUE_LEN};

use super::BenchError;

/// One workload `strata bench` can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Workload {
    /// Puts in key order into a fresh tree.
    FillSeq,
    /// Puts of random keys (with repeats) into a fresh tree.
    FillRandom,
    /// Puts of random existing keys.
    Overwrite,
    /// Gets of random existing keys.
    ReadRandom,
    /// Gets of absent keys that sort among present ones.
    ReadMissing,
    /// A seek to a random existing key followed by [`SEEK_NEXTS`] nexts.
    SeekRandom,
    /// One forward scan, one entry per operation.
    ReadSeq,
    /// Deletes of random existing keys.
    DeleteRandom,
    /// `Sync` puts of random keys into a fresh tree.
    FillSync,
    /// `put_item` of new items.
    PutItem,
    /// `get_item` of random loaded items.
    GetItem,
    /// `query` of one random loaded partition key (a page of up to 100 items).
    Query,
    /// `update_item` (`ADD hits :one`) of random loaded items.
    UpdateItem,
    /// YCSB A (50 % reads, 50 % updates) and B (95 % / 5 %), each with uniform and
    /// Zipfian keys: four result rows.
    Mixed,
}

/// Entries each `seekrandom` operation reads after its seek.
pub const SEEK_NEXTS: usize = 10;

/// Every workload with its name, in the order `--help` lists them.
pub const WORKLOADS: [(&str, Workload); 14] = [
    ("fillseq", Workload::FillSeq),
    ("fillrandom", Workload::FillRandom),
    ("overwrite", Workload::Overwrite),
    ("readrandom", Workload::ReadRandom),
    ("readmissing", Workload::ReadMissing),
    ("seekrandom", Workload::SeekRandom),
    ("readseq", Workload::ReadSeq),
    ("deleterandom", Workload::DeleteRandom),
    ("fillsync", Workload::FillSync),
    ("putitem", Workload::PutItem),
    ("getitem", Workload::GetItem),
    ("query", Workload::Query),
    ("updateitem", Workload::UpdateItem),
    ("mixed", Workload::Mixed),
];

impl Workload {
    /// The name on the command line and in reports.
    pub fn name(self) -> &'static str {
        WORKLOADS
            .iter()
            .find(|(_, w)| *w == self)
            .map_or("?", |(n, _)| n)
    }

    /// Whether it runs on the item API (a table) rather than on a bare tree.
    pub fn is_item(self) -> bool {
        matches!(
            self,
            Workload::PutItem
                | Workload::GetItem
                | Workload::Query
                | Workload::UpdateItem
                | Workload::Mixed
        )
    }

    /// Operations when `--num` is not given.
    pub fn default_num(self) -> u64 {
        match self {
            Workload::FillSync => 10_000,
            Workload::PutItem | Workload::UpdateItem | Workload::Mixed => 20_000,
            Workload::GetItem => 100_000,
            Workload::Query => 5_000,
            _ => 1_000_000,
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Workload {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        WORKLOADS
            .iter()
            .find(|(n, _)| *n == s.trim())
            .map(|(_, w)| *w)
            .ok_or_else(|| {
                let names: Vec<&str> = WORKLOADS.iter().map(|(n, _)| *n).collect();
                format!("unknown workload {s:?}; known: {}", names.join(", "))
            })
    }
}

/// `--durability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DurabilityArg {
    /// Every write waits for its fsync.
    Sync,
    /// Writes are handed to the OS and fsynced in the background.
    Buffered,
}

/// `--compression`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CompressionArg {
    /// Blocks stored as they are.
    None,
    /// zstd level 3 on data blocks.
    Zstd,
}

/// The arguments of `strata bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Workloads to run in order, comma-separated (or give them with --workloads).
    #[arg(value_name = "WORKLOAD", value_delimiter = ',')]
    pub positional: Vec<Workload>,
    /// Workloads to run in order, comma-separated: fillseq, fillrandom, overwrite,
    /// readrandom, readmissing, seekrandom, readseq, deleterandom, fillsync (tree);
    /// putitem, getitem, query, updateitem, mixed (items).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub workloads: Vec<Workload>,
    /// Operations per workload, and the number of keys of the tree workloads
    /// (default: 1,000,000 for tree workloads, 10,000 for fillsync, 20,000 for putitem,
    /// updateitem and mixed, 100,000 for getitem, 5,000 for query).
    #[arg(long)]
    pub num: Option<u64>,
    /// Bytes per key of the tree workloads (decimal key numbers, zero-padded).
    #[arg(long, default_value_t = 16)]
    pub key_size: usize,
    /// Bytes per value (tree workloads, default 100) or of an item's `data`
    /// attribute (item workloads, default 1000: items of about 1 KB).
    #[arg(long)]
    pub value_size: Option<usize>,
    /// Threads issuing operations (the operations are split among them).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Durability of writes (default: buffered for tree workloads, as db_bench's
    /// sync=false; sync for item workloads, a table's default). fillsync is always sync.
    #[arg(long, value_enum)]
    pub durability: Option<DurabilityArg>,
    /// Hash partitions of the item workloads' table.
    #[arg(long, default_value_t = 4)]
    pub partitions: u32,
    /// Global secondary indexes on the item workloads' table.
    #[arg(long, default_value_t = 0)]
    pub gsis: u32,
    /// SSTable data block compression.
    #[arg(long, value_enum, default_value_t = CompressionArg::None)]
    pub compression: CompressionArg,
    /// Items loaded (untimed) for getitem, query, updateitem and mixed, 100 per
    /// partition key.
    #[arg(long, default_value_t = 20_000)]
    pub records: u64,
    /// The database directory (default: a fresh temporary directory, removed at the
    /// end). Tree workloads use DIR/tree, item workloads DIR/items; the fill workloads
    /// start DIR/tree afresh.
    #[arg(long, value_name = "DIR")]
    pub db: Option<PathBuf>,
    /// Print the results as one JSON document instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Seed of the random key choices.
    #[arg(long, default_value_t = 0x5eed)]
    pub seed: u64,
    /// With --mmap-data-blocks, bound the SSTable pages kept mapped into the
    /// process to about this many MiB (`DbOptions::max_mapped_bytes`; default: no
    /// bound).
    #[arg(long, value_name = "MIB")]
    pub max_mapped_mib: Option<u64>,
    /// Read SSTable data blocks through memory maps instead of with pread into the
    /// block cache, the default (`DbOptions::pread_data_blocks = false`).
    #[arg(long)]
    pub mmap_data_blocks: bool,
    /// Read SSTable data blocks with pread into the block cache: the default, so
    /// this flag changes nothing (kept for scripts written when it was not).
    #[arg(long, hide = true, conflicts_with = "mmap_data_blocks")]
    pub pread_data_blocks: bool,
}

/// The validated plan of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Workloads in order.
    pub workloads: Vec<Workload>,
    /// `--num` if given.
    pub num: Option<u64>,
    /// Key bytes (tree).
    pub key_size: usize,
    /// Value bytes (tree).
    pub value_size: usize,
    /// Bytes of an item's `data` attribute.
    pub item_data_size: usize,
    /// Threads.
    pub threads: usize,
    /// Durability of tree puts (fillsync aside).
    pub tree_durability: DurabilityArg,
    /// Durability of the item table.
    pub item_durability: DurabilityArg,
    /// Item table partitions.
    pub partitions: u32,
    /// Item table GSIs.
    pub gsis: u32,
    /// Compression.
    pub compression: CompressionArg,
    /// Items loaded for the item read/update workloads.
    pub records: u64,
    /// `--db`.
    pub db: Option<PathBuf>,
    /// `--json`.
    pub json: bool,
    /// Seed.
    pub seed: u64,
    /// `--max-mapped-mib`, in bytes.
    pub max_mapped_bytes: Option<u64>,
    /// `--pread-data-blocks`.
    pub pread_data_blocks: bool,
}

/// The largest `--threads`.
pub const MAX_THREADS: usize = 1024;
/// The largest `--partitions` (the engine's own limit may be lower).
pub const MAX_PARTITIONS: u32 = 256;
/// The largest `--gsis` (DynamoDB's limit).
pub const MAX_GSIS: u32 = 20;
/// The largest `data` attribute of an item (DynamoDB items are at most 400 KB).
pub const MAX_ITEM_DATA: usize = 399 * 1024;

/// Decimal digits of `n` (at least 1).
pub fn digits(mut n: u64) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

impl Plan {
    /// Validates the arguments.
    ///
    /// # Errors
    /// [`BenchError::Options`] saying which option is wrong and why.
    pub fn from_args(args: BenchArgs) -> Result<Plan, BenchError> {
        let bad = |m: String| Err(BenchError::Options(m));
        let mut workloads = args.positional;
        workloads.extend(args.workloads);
        if workloads.is_empty() {
            let names: Vec<&str> = WORKLOADS.iter().map(|(n, _)| *n).collect();
            return bad(format!(
                "give the workloads to run, e.g. `strata bench fillseq,readrandom` (known: {})",
                names.join(", ")
            ));
        }
        if args.num == Some(0) {
            return bad("--num must be at least 1".into());
        }
        if args.threads == 0 || args.threads > MAX_THREADS {
            return bad(format!(
                "--threads must be from 1 to {MAX_THREADS}, got {}",
                args.threads
            ));
        }
        // The largest key number a tree workload writes is num - 1.
        let tree_num = workloads
            .iter()
            .filter(|w| !w.is_item())
            .map(|w| args.num.unwrap_or(w.default_num()))
            .max();
        if let Some(n) = tree_num {
            let need = digits(n.saturating_sub(1));
            // readmissing appends one byte to a key.
            if args.key_size < need || args.key_size + 1 > MAX_KEY_LEN {
                return bad(format!(
                    "--key-size must be from {need} (the digits of {n} keys) to {}, got {}",
                    MAX_KEY_LEN - 1,
                    args.key_size
                ));
            }
        }
        let value_size = args.value_size.unwrap_or(100);
        if value_size > MAX_VALUE_LEN {
            return bad(format!(
                "--value-size must be at most {MAX_VALUE_LEN} for tree workloads, got {value_size}"
            ));
        }
        let item_data_size = args.value_size.unwrap_or(1000);
        if workloads.iter().any(|w| w.is_item()) && item_data_size > MAX_ITEM_DATA {
            return bad(format!(
                "--value-size must be at most {MAX_ITEM_DATA} for item workloads (items are at most 400 KB), got {item_data_size}"
            ));
        }
        if args.partitions == 0 || args.partitions > MAX_PARTITIONS {
            return bad(format!(
                "--partitions must be from 1 to {MAX_PARTITIONS}, got {}",
                args.partitions
            ));
        }
        if args.gsis > MAX_GSIS {
            return bad(format!(
                "--gsis must be from 0 to {MAX_GSIS}, got {}",
                args.gsis
            ));
        }
        if args.records == 0 {
            return bad("--records must be at least 1".into());
        }
        let max_mapped_bytes = match args.max_mapped_mib {
            Some(0) => return bad("--max-mapped-mib must be at least 1".into()),
            Some(m) => match m.checked_mul(1 << 20) {
                Some(b) => Some(b),
                None => return bad(format!("--max-mapped-mib {m} is too large")),
            },
            None => None,
        };
        Ok(Plan {
            workloads,
            num: args.num,
            key_size: args.key_size,
            value_size,
            item_data_size,
            threads: args.threads,
            tree_durability: args.durability.unwrap_or(DurabilityArg::Buffered),
            item_durability: args.durability.unwrap_or(DurabilityArg::Sync),
            partitions: args.partitions,
            gsis: args.gsis,
            compression: args.compression,
            records: args.records,
            db: args.db,
            json: args.json,
            seed: args.seed,
            max_mapped_bytes,
            pread_data_blocks: !args.mmap_data_blocks,
        })
    }

    /// Operations of workload `w`.
    pub fn num_for(&self, w: Workload) -> u64 {
        self.num.unwrap_or(w.default_num())
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cmd {
        #[command(flatten)]
        args: BenchArgs,
    }

    fn plan(argv: &[&str]) -> Result<Plan, String> {
        let mut all = vec!["bench"];
        all.extend_from_slice(argv);
        let cmd = Cmd::try_parse_from(all).map_err(|e| e.to_string())?;
        Plan::from_args(cmd.args).map_err(|e| e.to_string())
    }

    #[test]
    fn workloads_come_from_positionals_and_the_option_in_order() {
        let p = plan(&["fillseq,readrandom", "--workloads", "query,mixed"]).unwrap();
        assert_eq!(
            p.workloads,
            [
                Workload::FillSeq,
                Workload::ReadRandom,
                Workload::Query,
                Workload::Mixed
            ]
        );
        for (name, w) in WORKLOADS {
            assert_eq!(name.parse::<Workload>().unwrap(), w);
            assert_eq!(w.name(), name);
        }
    }

    #[test]
    fn defaults_depend_on_the_workload() {
        let p = plan(&["fillseq,fillsync,putitem"]).unwrap();
        assert_eq!(p.num_for(Workload::FillSeq), 1_000_000);
        assert_eq!(p.num_for(Workload::FillSync), 10_000);
        assert_eq!(p.num_for(Workload::PutItem), 20_000);
        assert_eq!(p.tree_durability, DurabilityArg::Buffered);
        assert_eq!(p.item_durability, DurabilityArg::Sync);
        assert_eq!((p.value_size, p.item_data_size), (100, 1000));
        let p = plan(&[
            "readseq",
            "--num",
            "7",
            "--durability",
            "sync",
            "--value-size",
            "10",
            "--compression",
            "zstd",
            "--threads",
            "3",
        ])
        .unwrap();
        assert_eq!(p.num_for(Workload::ReadSeq), 7);
        assert_eq!(p.num_for(Workload::Query), 7);
        assert_eq!(p.tree_durability, DurabilityArg::Sync);
        assert_eq!(p.item_durability, DurabilityArg::Sync);
        assert_eq!((p.value_size, p.item_data_size), (10, 10));
        assert_eq!(p.compression, CompressionArg::Zstd);
        assert_eq!(p.threads, 3);
    }

    #[test]
    fn bad_options_say_what_is_wrong() {
        let cases: [(&[&str], &str); 9] = [
            (&[], "give the workloads"),
            (&["nosuch"], "unknown workload \"nosuch\""),
            (&["fillseq", "--num", "0"], "--num must be at least 1"),
            (&["fillseq", "--threads", "0"], "--threads must be"),
            (
                &["fillseq", "--num", "1000", "--key-size", "2"],
                "--key-size must be from 3",
            ),
            (
                &["fillseq", "--value-size", "2000000000"],
                "--value-size must be at most",
            ),
            (&["putitem", "--partitions", "0"], "--partitions must be"),
            (&["putitem", "--gsis", "21"], "--gsis must be"),
            (
                &["fillseq", "--durability", "never"],
                "invalid value 'never'",
            ),
        ];
        for (argv, want) in cases {
            let err = plan(argv).unwrap_err();
            assert!(err.contains(want), "{argv:?}: {err}");
        }
    }

    #[test]
    fn digits_counts_decimal_digits() {
        assert_eq!(digits(0), 1);
        assert_eq!(digits(9), 1);
        assert_eq!(digits(10), 2);
        assert_eq!(digits(999_999), 6);
        assert_eq!(digits(u64::MAX), 20);
    }
}
