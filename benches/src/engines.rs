//! The key-value engines behind one small trait, each opened with the same sizes:
//! no compression, 64 MiB memtables (fjall's and RocksDB's defaults differ; these
//! are Strata's), bloom filters of 10 bits per key, and writes that reach the OS
//! (`buffered`) or the disk (`sync`) on every put.

use std::path::Path;

use strata_engine::lsm::{Durability, Tree, TreeOptions};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What the workloads need of an engine.
pub trait Kv: Send + Sync {
    /// One put; `sync` makes it durable before returning.
    fn put(&self, key: &[u8], value: &[u8], sync: bool) -> Result<(), BoxError>;
    /// One point read.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BoxError>;
    /// Makes everything written so far reach the table files (not timed).
    fn flush(&self) -> Result<(), BoxError>;
    /// fsync calls so far, if the engine counts them.
    fn syncs(&self) -> Option<u64> {
        None
    }
}

/// Engines compiled into this binary.
pub fn built_in() -> Vec<&'static str> {
    let mut v = vec!["strata"];
    if cfg!(feature = "fjall") {
        v.push("fjall");
    }
    if cfg!(feature = "rocksdb") {
        v.push("rocksdb");
    }
    if cfg!(feature = "dynoxide") {
        v.push("dynoxide");
    }
    v
}

/// Whether `engine` runs key-value (`item == false`) or item workloads.
pub fn supports(engine: &str, item: bool) -> bool {
    match engine {
        "strata" => true,
        "dynoxide" => item,
        _ => !item,
    }
}

/// Opens `engine` in the empty directory `dir`.
pub fn open(engine: &str, dir: &Path, _sync_workload: bool) -> Result<Box<dyn Kv>, BoxError> {
    match engine {
        "strata" => {
            // `STRATA_PREAD=0` reads data blocks through the tables' memory
            // maps instead of with `pread` into the block cache, the default
            // (`SharedResources::with_pread_data_blocks`); `STRATA_MAX_MAPPED_MIB=N`
            // then bounds the mapped table pages (see
            // `SharedResources::with_max_mapped_bytes`; unset, no bound).
            // `STRATA_CACHE_MIB=N` sizes the block cache (default 64 MiB).
            let mut opts = TreeOptions::default();
            let env_u64 = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
            let mapped = env_u64("STRATA_MAX_MAPPED_MIB");
            let pread = env_u64("STRATA_PREAD").map(|v| v != 0);
            let cache = env_u64("STRATA_CACHE_MIB");
            // `STRATA_BG_NICE=N` runs the background workers at nice N (`-1`:
            // at the caller's priority); unset, the default (the caller's priority).
            let nice = std::env::var("STRATA_BG_NICE")
                .ok()
                .and_then(|v| v.parse::<i32>().ok());
            // `STRATA_BG_THREADS=N`: N background workers (default: one per core).
            let bg_threads = env_u64("STRATA_BG_THREADS");
            if mapped.is_some()
                || pread.is_some()
                || cache.is_some()
                || nice.is_some()
                || bg_threads.is_some()
            {
                let threads = match bg_threads {
                    Some(n) => usize::try_from(n)?.max(1),
                    None => std::thread::available_parallelism().map_or(2, |n| n.get()),
                };
                let cache = usize::try_from(cache.unwrap_or(64) << 20)?;
                opts.shared = Some(
                    strata_engine::lsm::SharedResources::new(cache, threads, 256 << 20)
                        .with_max_mapped_bytes(mapped.map(|m| m << 20))
                        .with_pread_data_blocks(pread.unwrap_or(true)),
                );
            }
            if let (Some(n), Some(shared)) = (nice, &opts.shared) {
                shared.pool().set_nice((n >= 0).then_some(n));
            }
            // `STRATA_WAL_SYNC_MS=N`: fsync buffered writes in the background
            // every N ms (`TreeOptions::wal_buffered_sync_interval`, default 100).
            if let Some(ms) = env_u64("STRATA_WAL_SYNC_MS") {
                opts.wal_buffered_sync_interval = std::time::Duration::from_millis(ms);
            }
            Ok(Box::new(StrataKv(Tree::open(dir, opts)?)))
        }
        #[cfg(feature = "fjall")]
        "fjall" => Ok(Box::new(fjall_kv::open(dir)?)),
        #[cfg(feature = "rocksdb")]
        "rocksdb" => Ok(Box::new(rocks_kv::open(dir)?)),
        other => Err(format!("engine {other} is not built in (built: {:?})", built_in()).into()),
    }
}

struct StrataKv(Tree);

impl Kv for StrataKv {
    fn put(&self, key: &[u8], value: &[u8], sync: bool) -> Result<(), BoxError> {
        let d = if sync {
            Durability::Sync
        } else {
            Durability::Buffered
        };
        self.0.put(key, value, d)?;
        Ok(())
    }
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BoxError> {
        Ok(self.0.get(key, None)?)
    }
    fn flush(&self) -> Result<(), BoxError> {
        Ok(self.0.flush()?)
    }
    fn syncs(&self) -> Option<u64> {
        Some(self.0.stats().wal_syncs)
    }
}

#[cfg(feature = "fjall")]
mod fjall_kv {
    use super::{BoxError, Kv};
    use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};
    use std::path::Path;

    pub struct FjallKv {
        db: Database,
        ks: Keyspace,
    }

    pub fn open(dir: &Path) -> Result<FjallKv, BoxError> {
        let db = Database::builder(dir).open()?;
        let ks = db.keyspace("bench", || {
            KeyspaceCreateOptions::default()
                .data_block_compression_policy(fjall::config::CompressionPolicy::disabled())
                .max_memtable_size(64 << 20)
        })?;
        Ok(FjallKv { db, ks })
    }

    impl Kv for FjallKv {
        fn put(&self, key: &[u8], value: &[u8], sync: bool) -> Result<(), BoxError> {
            self.ks.insert(key, value)?;
            // fjall buffers journal writes in user space; `Buffer` hands them to
            // the OS, as the other engines' buffered writes do.
            let mode = if sync {
                PersistMode::SyncData
            } else {
                PersistMode::Buffer
            };
            self.db.persist(mode)?;
            Ok(())
        }
        fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BoxError> {
            Ok(self.ks.get(key)?.map(|v| v.to_vec()))
        }
        fn flush(&self) -> Result<(), BoxError> {
            self.db.persist(PersistMode::SyncAll)?;
            Ok(())
        }
    }
}

#[cfg(feature = "rocksdb")]
mod rocks_kv {
    use super::{BoxError, Kv};
    use rocksdb::{BlockBasedOptions, DB, DBCompressionType, Options, WriteOptions};
    use std::path::Path;

    pub struct RocksKv {
        db: DB,
        sync: WriteOptions,
        buffered: WriteOptions,
    }

    pub fn open(dir: &Path) -> Result<RocksKv, BoxError> {
        let mut o = Options::default();
        o.create_if_missing(true);
        o.set_compression_type(DBCompressionType::None);
        o.set_write_buffer_size(64 << 20);
        o.increase_parallelism(2);
        let mut t = BlockBasedOptions::default();
        t.set_bloom_filter(10.0, false);
        o.set_block_based_table_factory(&t);
        let db = DB::open(&o, dir)?;
        let mut sync = WriteOptions::default();
        sync.set_sync(true);
        Ok(RocksKv {
            db,
            sync,
            buffered: WriteOptions::default(),
        })
    }

    impl Kv for RocksKv {
        fn put(&self, key: &[u8], value: &[u8], sync: bool) -> Result<(), BoxError> {
            let w = if sync { &self.sync } else { &self.buffered };
            self.db.put_opt(key, value, w)?;
            Ok(())
        }
        fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BoxError> {
            Ok(self.db.get(key)?)
        }
        fn flush(&self) -> Result<(), BoxError> {
            self.db.flush()?;
            Ok(())
        }
    }
}
