//! Strata's sorted string tables (SSTables).
//!
//! An SSTable is an immutable file of entries with strictly increasing keys,
//! written once by a [`TableBuilder`] and read by a [`Table`] through a memory
//! map: data blocks with prefix-compressed keys and restart points (optionally
//! zstd-compressed), a block index, a blocked bloom filter, a properties block
//! and a checksummed footer. Every block carries a CRC that also covers its
//! file offset, and the footer a checksum of the whole file. Decoded blocks are
//! shared between all tables of a process through a size-bounded
//! [`BlockCache`].
//!
//! The byte layout is specified in `docs/sstable-format.md`. All file I/O goes
//! through [`strata_fs::FileSystem`]. This crate knows nothing about keys
//! beyond bytes.
//!
//! ```
//! use std::path::Path;
//! use std::sync::Arc;
//! use strata_fs::{FaultFs, FileSystem};
//! use strata_sstable::{ReaderOptions, Table, TableBuilder, TableOptions};
//!
//! let fs: Arc<dyn FileSystem> = Arc::new(FaultFs::new());
//! let tmp = Path::new("/000001.sst.tmp");
//! let path = Path::new("/000001.sst");
//! let mut b = TableBuilder::new(fs.create(tmp).unwrap(), tmp.to_path_buf(), TableOptions::default());
//! b.add(b"k1", b"v1").unwrap();
//! b.add(b"k2", b"v2").unwrap();
//! let info = b.finish().unwrap(); // fsyncs the file
//! fs.rename(tmp, path).unwrap();
//! fs.sync_dir(Path::new("/")).unwrap();
//!
//! let table = Table::open(&fs, path, 1, ReaderOptions::default()).unwrap();
//! assert_eq!(table.get(b"k2").unwrap().as_deref(), Some(&b"v2"[..]));
//! assert_eq!(table.properties().file_checksum, info.checksum);
//! ```

mod block;
mod builder;
mod cache;
mod coding;
mod error;
mod filter;
mod format;
mod iter;
mod order;
mod properties;
mod residency;
mod table;
mod zstd_codec;

use std::sync::Arc;

pub use builder::{TableBuilder, TableInfo};
pub use cache::BlockCache;
pub use error::SstError;
pub use format::FORMAT_VERSION;
pub use iter::TableIter;
pub use order::compare_keys;
pub use properties::TableProperties;
pub use residency::MapBudget;
pub use table::Table;

/// Block compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Blocks are stored as they are.
    #[default]
    None,
    /// Data blocks are compressed with zstd at this level (RocksDB's
    /// `compression = kZSTD`, `compression_opts.level`). A block that zstd
    /// does not shrink by at least 1/8 is stored uncompressed.
    Zstd {
        /// The zstd level (1..=22; negative levels are faster).
        level: i32,
    },
}

/// How tables are built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableOptions {
    /// Target uncompressed size of a data block in bytes (RocksDB's
    /// `block_size`). Default 4096.
    pub block_size: usize,
    /// Entries between restart points of the key prefix compression
    /// (RocksDB's `block_restart_interval`). Default 16.
    pub restart_interval: usize,
    /// Data block compression. Default none.
    pub compression: Compression,
    /// Bloom filter bits per key; 0 = no filter (RocksDB's
    /// `NewBloomFilterPolicy(bits_per_key)`). Default 10.
    pub bloom_bits_per_key: u32,
    /// The filter is built over `key[..key.len() - filter_ignore_suffix]`
    /// (the whole key if shorter); the engine appends an 8-byte
    /// sequence/kind trailer to its keys and wants the filter over the
    /// user-key part. Default 0.
    pub filter_ignore_suffix: usize,
}

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions {
            block_size: 4096,
            restart_interval: 16,
            compression: Compression::None,
            bloom_bits_per_key: 10,
            filter_ignore_suffix: 0,
        }
    }
}

/// How tables are read.
#[derive(Debug, Clone)]
pub struct ReaderOptions {
    /// The block cache shared by the process's tables; `None` reads blocks
    /// straight from the map every time.
    pub cache: Option<Arc<BlockCache>>,
    /// Check each data block's CRC when it is read from the file (RocksDB's
    /// `verify_checksums`). Default true. The footer, index, filter and
    /// properties blocks are always checked at open.
    pub verify_checksums: bool,
    /// A bound on the table pages kept mapped into the process, shared by
    /// the tables opened with it ([`MapBudget`]); `None` (the default) keeps
    /// whatever reads touched mapped until the table is dropped.
    pub map_budget: Option<std::sync::Arc<MapBudget>>,
    /// Read data blocks with a positional read (`pread`) into a buffer of
    /// their own, kept in the block cache, instead of through the memory map
    /// (RocksDB's default). The process then holds no page of the tables'
    /// data beyond what the cache holds (the filters, the index and the
    /// properties are still read through the map), at the cost of a system
    /// call and a copy per block read that misses the cache. Default false.
    /// Only [`Table::open`] reads a file this way; a table opened from a map
    /// or from bytes reads through the map.
    pub pread_data_blocks: bool,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        ReaderOptions {
            cache: None,
            verify_checksums: true,
            map_budget: None,
            pread_data_blocks: false,
        }
    }
}
