//! Writing a table: [`TableBuilder`].

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use strata_fs::WritableFile;
use xxhash_rust::xxh3::Xxh3Default;

use crate::block::BlockBuilder;
use crate::coding::{put_varint32, put_varint64};
use crate::error::SstError;
use crate::filter;
use crate::format::{
    BlockHandle, COMPRESSION_NONE, COMPRESSION_ZSTD, FORMAT_VERSION, Footer, MAX_RAW_BLOCK,
    TRAILER_SIZE, block_crc,
};
use crate::properties::TableProperties;
use crate::zstd_codec::{self, ZstdError};
use crate::{Compression, TableOptions};

/// Output is handed to the file in chunks of about this size.
const WRITE_BUFFER: usize = 256 << 10;
/// The largest key + value the builder accepts (so a block stays under the
/// readers' 1 GiB limit).
const MAX_ENTRY: usize = 256 << 20;
/// The largest `block_size` honoured.
const MAX_BLOCK_SIZE: usize = 64 << 20;

/// What [`TableBuilder::finish`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableInfo {
    /// Size of the file in bytes.
    pub file_size: u64,
    /// Number of entries.
    pub entries: u64,
    /// The first key (empty for an empty table).
    pub smallest_key: Vec<u8>,
    /// The last key (empty for an empty table).
    pub largest_key: Vec<u8>,
    /// As given to [`TableBuilder::set_seqno_range`] (0 if never called).
    pub smallest_seqno: u64,
    /// As given to [`TableBuilder::set_seqno_range`] (0 if never called).
    pub largest_seqno: u64,
    /// XXH3-64 of every byte before the footer (the whole-file checksum
    /// stored in the footer).
    pub checksum: u64,
}

/// Writes a table front to back into a [`WritableFile`].
///
/// Keys must be added in strictly increasing order (unsigned byte order).
/// [`TableBuilder::finish`] writes the filter, index and properties blocks and
/// the footer, then fsyncs the file. The caller writes to a temporary name
/// and renames it (and syncs the directory) once `finish` succeeded. After
/// any error (an out-of-order key, an I/O error) the builder refuses further
/// work and never writes a footer, so the file is not a valid table.
///
/// An empty table (no entries) is allowed: it has no data blocks, and reads
/// of it find nothing.
///
/// ```
/// use std::path::Path;
/// use std::sync::Arc;
/// use strata_fs::{FaultFs, FileSystem};
/// use strata_sstable::{Compression, ReaderOptions, Table, TableBuilder, TableOptions};
///
/// let fs: Arc<dyn FileSystem> = Arc::new(FaultFs::new());
/// let path = Path::new("/000001.sst");
/// let opts = TableOptions { compression: Compression::Zstd { level: 3 }, ..TableOptions::default() };
/// let mut b = TableBuilder::new(fs.create(path).unwrap(), path.to_path_buf(), opts);
/// b.set_seqno_range(1, 3);
/// b.add(b"apple", b"red").unwrap();
/// b.add(b"banana", b"yellow").unwrap();
/// b.add(b"cherry", b"dark red").unwrap();
/// assert!(b.add(b"banana", b"again").is_err()); // keys must increase
/// ```
///
/// A successful build:
///
/// ```
/// # use std::path::Path;
/// # use std::sync::Arc;
/// # use strata_fs::{FaultFs, FileSystem};
/// # use strata_sstable::{ReaderOptions, Table, TableBuilder, TableOptions};
/// let fs: Arc<dyn FileSystem> = Arc::new(FaultFs::new());
/// let path = Path::new("/000002.sst");
/// let mut b = TableBuilder::new(fs.create(path).unwrap(), path.to_path_buf(), TableOptions::default());
/// for i in 0..1000u32 {
///     b.add(format!("key{i:04}").as_bytes(), &i.to_le_bytes()).unwrap();
/// }
/// let info = b.finish().unwrap();
/// assert_eq!(info.entries, 1000);
/// assert_eq!(info.file_size, fs.file_size(path).unwrap());
/// let table = Table::open(&fs, path, 1, ReaderOptions::default()).unwrap();
/// assert_eq!(table.get(b"key0042").unwrap(), Some(42u32.to_le_bytes().to_vec()));
/// ```
pub struct TableBuilder {
    file: Box<dyn WritableFile>,
    path: PathBuf,
    opts: TableOptions,
    block_size: usize,
    /// Bytes handed to the file so far plus those buffered in `out`.
    offset: u64,
    out: Vec<u8>,
    file_hash: Xxh3Default,
    data_block: BlockBuilder,
    index_block: BlockBuilder,
    pending_index: Option<BlockHandle>,
    last_key: Vec<u8>,
    smallest_key: Vec<u8>,
    /// The filter keys' hashes, kept until `finish` sizes the filter; unused
    /// once [`TableBuilder::expect_keys`] sized it up front.
    filter_hashes: Vec<u64>,
    /// The filter, sized up front by [`TableBuilder::expect_keys`].
    filter_bits: Option<filter::FilterBits>,
    /// Distinct filter keys added.
    filter_keys: u64,
    compressor: Option<zstd_codec::Compressor>,
    zbuf: Vec<u8>,
    props: TableProperties,
    created: Option<u64>,
    failed: bool,
    /// Length of the file when handed over (must be 0).
    start_offset: u64,
}

impl std::fmt::Debug for TableBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableBuilder")
            .field("path", &self.path)
            .field("entries", &self.props.entries)
            .field("offset", &self.offset)
            .field("failed", &self.failed)
            .finish()
    }
}

impl TableBuilder {
    /// A builder writing to `file` (normally freshly created and empty);
    /// `path` is used in error messages only.
    pub fn new(file: Box<dyn WritableFile>, path: PathBuf, options: TableOptions) -> TableBuilder {
        let restart_interval = options.restart_interval.max(1);
        let block_size = options.block_size.clamp(1, MAX_BLOCK_SIZE);
        let offset = file.len();
        let (compression, compression_level) = match options.compression {
            Compression::None => (COMPRESSION_NONE, 0),
            Compression::Zstd { level } => (COMPRESSION_ZSTD, level),
        };
        let props = TableProperties {
            format_version: FORMAT_VERSION,
            compression,
            compression_level,
            block_size: block_size as u64,
            restart_interval: restart_interval as u64,
            bloom_bits_per_key: options.bloom_bits_per_key,
            filter_probes: if options.bloom_bits_per_key > 0 {
                filter::probes_for(options.bloom_bits_per_key)
            } else {
                0
            },
            filter_ignore_suffix: options.filter_ignore_suffix as u64,
            ..TableProperties::default()
        };
        TableBuilder {
            file,
            path,
            block_size,
            offset,
            out: Vec::with_capacity(WRITE_BUFFER + (64 << 10)),
            file_hash: Xxh3Default::new(),
            data_block: BlockBuilder::new(restart_interval),
            index_block: BlockBuilder::new(1),
            pending_index: None,
            last_key: Vec::new(),
            smallest_key: Vec::new(),
            filter_hashes: Vec::new(),
            filter_bits: None,
            filter_keys: 0,
            compressor: None,
            zbuf: Vec::new(),
            props,
            created: None,
            failed: false,
            start_offset: offset,
            opts: TableOptions {
                restart_interval,
                ..options
            },
        }
    }

    /// Records the range of sequence numbers of the entries (stored in the
    /// properties; the builder does not interpret keys).
    pub fn set_seqno_range(&mut self, smallest: u64, largest: u64) {
        self.props.smallest_seqno = smallest;
        self.props.largest_seqno = largest;
    }

    /// Overrides the creation time stored in the properties (seconds since
    /// the Unix epoch; default: the time `finish` runs).
    pub fn set_creation_time(&mut self, unix_secs: u64) {
        self.created = Some(unix_secs);
    }

    /// Tells the builder, before the first [`add`](TableBuilder::add), at most
    /// how many distinct keys the table will hold (distinct after
    /// `filter_ignore_suffix` is cut off). The bloom filter is then sized for
    /// that many keys at once and each key's bits are set as it is added,
    /// instead of keeping an 8-byte hash per key until [`finish`](TableBuilder::finish)
    /// (3 MiB for a 64 MiB memtable of 100-byte values, a flush's largest
    /// allocation besides the memtable itself).
    ///
    /// The count is a hint: if more keys come, they still all go into the
    /// filter, which then has fewer bits per key and more false positives
    /// (never a false negative); if fewer come, the filter has more bits per
    /// key than configured. It is ignored after the first `add`, when the
    /// table has no filter, and when a filter for that many keys would take
    /// more than 64 MiB (54 million keys at 10 bits per key): the hashes are
    /// then kept as without it.
    ///
    /// ```
    /// # use std::path::Path;
    /// # use std::sync::Arc;
    /// # use strata_fs::{FaultFs, FileSystem};
    /// # use strata_sstable::{ReaderOptions, Table, TableBuilder, TableOptions};
    /// let fs: Arc<dyn FileSystem> = Arc::new(FaultFs::new());
    /// let path = Path::new("/000003.sst");
    /// let mut b = TableBuilder::new(fs.create(path).unwrap(), path.to_path_buf(), TableOptions::default());
    /// b.expect_keys(100);
    /// for i in 0..100u32 {
    ///     b.add(format!("key{i:04}").as_bytes(), b"v").unwrap();
    /// }
    /// b.finish().unwrap();
    /// let table = Table::open(&fs, path, 1, ReaderOptions::default()).unwrap();
    /// assert_eq!(table.get(b"key0042").unwrap(), Some(b"v".to_vec()));
    /// assert_eq!(table.properties().filter_keys, 100);
    /// ```
    pub fn expect_keys(&mut self, keys: u64) {
        const MAX_PRESIZED_FILTER_BYTES: u64 = 64 << 20;
        let bits_per_key = u64::from(self.opts.bloom_bits_per_key);
        let filter_bytes = keys.saturating_mul(bits_per_key) / 8;
        if self.props.entries == 0 && bits_per_key > 0 && filter_bytes <= MAX_PRESIZED_FILTER_BYTES
        {
            self.filter_bits = Some(filter::FilterBits::for_keys(
                keys,
                self.opts.bloom_bits_per_key,
            ));
        }
    }

    /// Bytes written so far plus the size of the block being built.
    pub fn estimated_size(&self) -> u64 {
        self.offset + self.data_block.estimated_size() as u64
    }

    /// Entries added so far.
    pub fn entries(&self) -> u64 {
        self.props.entries
    }

    fn check_usable(&self) -> Result<(), SstError> {
        if self.start_offset != 0 {
            return Err(SstError::InvalidArgument {
                path: self.path.clone(),
                reason: format!(
                    "the file already holds {} bytes; a table must be written to an empty file",
                    self.start_offset
                ),
            });
        }
        if self.failed {
            return Err(SstError::BuilderFailed {
                path: self.path.clone(),
            });
        }
        Ok(())
    }

    /// A compression failure: an I/O-like failure of the zstd library, or
    /// [`SstError::CompressionUnavailable`] in a build without the `zstd` feature.
    fn zstd_err(&mut self, e: ZstdError) -> SstError {
        match e {
            ZstdError::Failed(source) => self.io_err(source),
            ZstdError::Unavailable => {
                self.failed = true;
                SstError::CompressionUnavailable {
                    path: self.path.clone(),
                    offset: self.offset,
                    compression: "zstd",
                }
            }
        }
    }

    fn io_err(&mut self, source: std::io::Error) -> SstError {
        self.failed = true;
        SstError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn filter_key<'k>(&self, key: &'k [u8]) -> &'k [u8] {
        key.get(..key.len().saturating_sub(self.opts.filter_ignore_suffix))
            .unwrap_or(&[])
    }

    /// Adds an entry. `key` must be strictly greater than the previous key;
    /// otherwise this fails with [`SstError::KeyOrder`] and the builder is
    /// unusable. Keys and values may be empty; key + value must be under
    /// 256 MiB.
    pub fn add(&mut self, key: &[u8], value: &[u8]) -> Result<(), SstError> {
        self.check_usable()?;
        if self.props.entries > 0 && key <= self.last_key.as_slice() {
            self.failed = true;
            return Err(SstError::KeyOrder {
                path: self.path.clone(),
                previous: self.last_key.clone(),
                key: key.to_vec(),
            });
        }
        if key.len().saturating_add(value.len()) > MAX_ENTRY {
            self.failed = true;
            return Err(SstError::InvalidArgument {
                path: self.path.clone(),
                reason: format!(
                    "entry of {} + {} bytes exceeds the {MAX_ENTRY}-byte limit",
                    key.len(),
                    value.len()
                ),
            });
        }
        if let Some(handle) = self.pending_index.take() {
            let sep = shortest_separator(&self.last_key, key);
            self.add_index_entry(&sep, handle);
        }
        if self.opts.bloom_bits_per_key > 0 {
            let fk = self.filter_key(key);
            let dup = self.props.entries > 0 && self.filter_key(&self.last_key) == fk;
            if !dup {
                let h = filter::filter_hash(fk);
                match &mut self.filter_bits {
                    Some(bits) => bits.add(h),
                    None => self.filter_hashes.push(h),
                }
                self.filter_keys += 1;
            }
        }
        if self.props.entries == 0 {
            self.smallest_key = key.to_vec();
        }
        self.data_block.add(key, value);
        self.last_key.clear();
        self.last_key.extend_from_slice(key);
        self.props.entries += 1;
        self.props.raw_key_bytes += key.len() as u64;
        self.props.raw_value_bytes += value.len() as u64;
        if self.data_block.estimated_size() >= self.block_size {
            self.flush_data_block()?;
        }
        Ok(())
    }

    fn add_index_entry(&mut self, key: &[u8], handle: BlockHandle) {
        let mut v = Vec::with_capacity(20);
        put_varint64(&mut v, handle.offset);
        put_varint64(&mut v, handle.size);
        self.index_block.add(key, &v);
    }

    fn flush_data_block(&mut self) -> Result<(), SstError> {
        if self.data_block.is_empty() {
            return Ok(());
        }
        let mut block = std::mem::replace(&mut self.data_block, BlockBuilder::new(1));
        let raw = block.finish();
        let raw_len = raw.len();
        let result = self.write_raw_block(raw, true);
        block.reset();
        self.data_block = block;
        let handle = result?;
        self.props.data_blocks += 1;
        self.props.raw_data_bytes += raw_len as u64;
        self.pending_index = Some(handle);
        Ok(())
    }

    fn write_block_from(
        &mut self,
        block: &mut BlockBuilder,
        compress: bool,
    ) -> Result<BlockHandle, SstError> {
        let raw = block.finish();
        self.write_raw_block(raw, compress)
    }

    /// Writes `raw` as a block (compressed if configured, allowed and
    /// worthwhile) with its trailer.
    fn write_raw_block(&mut self, raw: &[u8], compress: bool) -> Result<BlockHandle, SstError> {
        if raw.len() > MAX_RAW_BLOCK {
            self.failed = true;
            return Err(SstError::InvalidArgument {
                path: self.path.clone(),
                reason: format!("block of {} bytes exceeds the format's limit", raw.len()),
            });
        }
        let mut zlen = None;
        if compress && let Compression::Zstd { level } = self.opts.compression {
            if self.compressor.is_none() {
                match zstd_codec::Compressor::new(level) {
                    Ok(c) => self.compressor = Some(c),
                    Err(e) => return Err(self.zstd_err(e)),
                }
            }
            let mut prefix = Vec::with_capacity(5);
            put_varint32(&mut prefix, raw.len() as u32);
            self.zbuf.clear();
            self.zbuf.extend_from_slice(&prefix);
            let res = match self.compressor.as_mut() {
                Some(c) => c.compress(raw),
                None => Err(ZstdError::Failed(std::io::Error::other(
                    "no zstd compressor",
                ))),
            };
            match res {
                Ok(frame) => {
                    if prefix.len() + frame.len() < raw.len() - raw.len() / 8 {
                        self.zbuf.extend_from_slice(&frame);
                        zlen = Some(self.zbuf.len());
                    }
                }
                Err(e) => return Err(self.zstd_err(e)),
            }
        }
        let handle_offset = self.offset;
        let (ctype, size) = match zlen {
            Some(n) => (COMPRESSION_ZSTD, n),
            None => (COMPRESSION_NONE, raw.len()),
        };
        let zbuf = std::mem::take(&mut self.zbuf);
        let contents: &[u8] = if zlen.is_some() { &zbuf } else { raw };
        let crc = block_crc(&[contents], ctype, 0, handle_offset);
        let mut trailer = [0u8; TRAILER_SIZE];
        trailer[0] = ctype;
        trailer[1] = 0;
        trailer[2..6].copy_from_slice(&crc.to_le_bytes());
        let r = self.emit(contents).and_then(|()| self.emit(&trailer));
        self.zbuf = zbuf;
        r?;
        Ok(BlockHandle {
            offset: handle_offset,
            size: size as u64,
        })
    }

    /// Appends bytes to the file (through the write buffer), hashing them
    /// into the whole-file checksum.
    fn emit(&mut self, bytes: &[u8]) -> Result<(), SstError> {
        self.file_hash.update(bytes);
        self.offset += bytes.len() as u64;
        if self.out.len() + bytes.len() > WRITE_BUFFER && !self.out.is_empty() {
            self.flush_out()?;
        }
        if bytes.len() >= WRITE_BUFFER {
            if let Err(e) = self.file.append(bytes) {
                return Err(self.io_err(e));
            }
        } else {
            self.out.extend_from_slice(bytes);
        }
        Ok(())
    }

    fn flush_out(&mut self) -> Result<(), SstError> {
        if self.out.is_empty() {
            return Ok(());
        }
        let r = self.file.append(&self.out);
        self.out.clear();
        r.map_err(|e| self.io_err(e))
    }

    /// Finishes the table: flushes the last data block, writes the filter,
    /// index and properties blocks and the footer, and fsyncs the file.
    pub fn finish(mut self) -> Result<TableInfo, SstError> {
        self.check_usable()?;
        self.flush_data_block()?;
        if let Some(handle) = self.pending_index.take() {
            let last = std::mem::take(&mut self.last_key);
            self.add_index_entry(&last, handle);
            self.last_key = last;
        }
        self.props.data_bytes = self.offset;

        let mut filter_handle = BlockHandle::default();
        if self.opts.bloom_bits_per_key > 0 {
            let pad = (64 - (self.offset % 64)) % 64;
            self.emit(&[0u8; 64][..pad as usize])?;
            let block = match self.filter_bits.take() {
                Some(bits) => bits.finish(),
                None => filter::build(&self.filter_hashes, self.opts.bloom_bits_per_key),
            };
            self.props.filter_keys = self.filter_keys;
            filter_handle = self.write_raw_block(&block, false)?;
            self.props.filter_bytes = filter_handle.size;
        }

        let mut index = std::mem::replace(&mut self.index_block, BlockBuilder::new(1));
        let index_handle = self.write_block_from(&mut index, false)?;
        self.props.index_bytes = index_handle.size;

        self.props.smallest_key = std::mem::take(&mut self.smallest_key);
        self.props.largest_key = if self.props.entries > 0 {
            self.last_key.clone()
        } else {
            Vec::new()
        };
        self.props.created_unix_secs = self.created.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        });
        let props_block = self.props.encode();
        let props_handle = self.write_raw_block(&props_block, false)?;

        let checksum = self.file_hash.digest();
        let footer = Footer {
            filter: filter_handle,
            index: index_handle,
            properties: props_handle,
            file_checksum: checksum,
            version: FORMAT_VERSION,
        }
        .encode(self.offset);
        self.emit(&footer)?;
        self.flush_out()?;
        if let Err(e) = self.file.sync() {
            return Err(self.io_err(e));
        }
        Ok(TableInfo {
            file_size: self.offset,
            entries: self.props.entries,
            smallest_key: std::mem::take(&mut self.props.smallest_key),
            largest_key: std::mem::take(&mut self.props.largest_key),
            smallest_seqno: self.props.smallest_seqno,
            largest_seqno: self.props.largest_seqno,
            checksum,
        })
    }
}

/// A short key `s` with `a <= s < b` (for `a < b`), as LevelDB's
/// `FindShortestSeparator`: `a` cut after the first differing byte, which is
/// incremented, when that keeps `s < b`; otherwise `a` itself.
pub(crate) fn shortest_separator(a: &[u8], b: &[u8]) -> Vec<u8> {
    let common = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    if common < a.len()
        && let (Some(&x), Some(&y)) = (a.get(common), b.get(common))
        && x < 0xff
        && x + 1 < y
    {
        let mut s = a[..common].to_vec();
        s.push(x + 1);
        return s;
    }
    a.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"abcdefgh", b"abzz"),
            (b"abc", b"abd"),
            (b"abc", b"abcd"),
            (b"", b"a"),
            (b"a\xff", b"b"),
            (b"helloworld", b"hellz"),
            (
                b"k\x00\x00\x00\x00\x00\x00\x00\x01",
                b"k\x00\x00\x00\x00\x00\x00\x00\x05",
            ),
        ];
        for (a, b) in cases {
            let s = shortest_separator(a, b);
            assert!(
                a <= &s.as_slice() && s.as_slice() < *b,
                "{a:?} {b:?} -> {s:?}"
            );
            assert!(s.len() <= a.len());
        }
        assert_eq!(shortest_separator(b"abcdefgh", b"abzz"), b"abd");
    }
}
