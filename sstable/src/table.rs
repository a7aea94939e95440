//! Reading a table: [`Table`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use strata_fs::{FileSystem, MappedFile, RandomAccessFile};
use xxhash_rust::xxh3::xxh3_64;

use crate::ReaderOptions;
use crate::block::{Block, BlockErr, BlockIter};
use crate::cache::BlockCache;
use crate::coding::get_varint64;
use crate::error::SstError;
use crate::filter::{self, FilterReader, LINE_BYTES};
use crate::format::{
    BlockData, BlockHandle, FOOTER_SIZE, Footer, TRAILER_SIZE, read_block, read_block_at,
};
use crate::iter::TableIter;
use crate::order::compare_keys;
use crate::properties::TableProperties;

/// The decoded block index: one separator key and handle per data block.
#[derive(Debug, Default)]
pub(crate) struct Index {
    /// All separator keys, concatenated.
    keys: Vec<u8>,
    /// End of each separator within `keys`.
    key_ends: Vec<usize>,
    pub(crate) handles: Vec<BlockHandle>,
}

impl Index {
    pub(crate) fn len(&self) -> usize {
        self.handles.len()
    }

    #[inline]
    pub(crate) fn key(&self, i: usize) -> &[u8] {
        let start = if i == 0 {
            0
        } else {
            self.key_ends.get(i - 1).copied().unwrap_or(0)
        };
        let end = self.key_ends.get(i).copied().unwrap_or(start);
        self.keys.get(start..end).unwrap_or(&[])
    }

    /// The first block whose separator is >= `key` (`len()` if none).
    #[inline]
    pub(crate) fn find(&self, key: &[u8]) -> usize {
        let (mut lo, mut hi) = (0usize, self.handles.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if compare_keys(self.key(mid), key) == std::cmp::Ordering::Less {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

/// An open, immutable table, read through a memory map. `Send + Sync`;
/// share it with `Arc`.
///
/// Opening checks the footer (magic, CRC, version) and reads and checks the
/// properties, index and filter blocks. Data blocks are read on demand,
/// their checksums checked (unless [`ReaderOptions::verify_checksums`] is
/// off) and kept in the optional shared [`BlockCache`]. Every malformed byte
/// is reported as an [`SstError`] naming the file and offset.
///
/// ```
/// use std::path::Path;
/// use std::sync::Arc;
/// use strata_fs::{FaultFs, FileSystem};
/// use strata_sstable::{BlockCache, ReaderOptions, Table, TableBuilder, TableOptions};
///
/// let fs: Arc<dyn FileSystem> = Arc::new(FaultFs::new());
/// let path = Path::new("/000007.sst");
/// let mut b = TableBuilder::new(fs.create(path).unwrap(), path.to_path_buf(), TableOptions::default());
/// for k in ["a", "b", "c", "d"] {
///     b.add(k.as_bytes(), k.to_uppercase().as_bytes()).unwrap();
/// }
/// b.finish().unwrap();
///
/// let cache = BlockCache::new(8 << 20);
/// let opts = ReaderOptions { cache: Some(cache.clone()), ..ReaderOptions::default() };
/// let table = Table::open(&fs, path, 7, opts).unwrap();
/// assert_eq!(table.get(b"c").unwrap(), Some(b"C".to_vec()));
/// assert_eq!(table.get(b"x").unwrap(), None);
/// assert_eq!(table.properties().entries, 4);
///
/// // A cursor, forwards and backwards.
/// let mut it = table.iter();
/// it.seek(b"b").unwrap();
/// assert_eq!((it.key(), it.value()), (&b"b"[..], &b"B"[..]));
/// it.next().unwrap();
/// assert_eq!(it.key(), b"c");
/// it.seek_for_prev(b"bb").unwrap();
/// assert_eq!(it.key(), b"b");
/// it.prev().unwrap();
/// assert_eq!(it.key(), b"a");
/// it.prev().unwrap();
/// assert!(!it.valid());
/// table.verify().unwrap();
/// ```
pub struct Table {
    path: PathBuf,
    file_id: u64,
    map: Arc<dyn MappedFile>,
    /// Set when data blocks are read with `pread` ([`ReaderOptions::pread_data_blocks`]).
    file: Option<Arc<dyn RandomAccessFile>>,
    cache: Option<Arc<BlockCache>>,
    verify_checksums: bool,
    /// Which parts of the map reads touched, under the shared budget.
    residency: Option<Arc<crate::residency::Residency>>,
    pub(crate) index: Index,
    filter: Option<FilterReader>,
    filter_ignore_suffix: usize,
    props: TableProperties,
    footer: Footer,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("path", &self.path)
            .field("file_id", &self.file_id)
            .field("file_size", &self.file_size())
            .field("entries", &self.props.entries)
            .field("data_blocks", &self.index.len())
            .finish()
    }
}

/// A file's bytes held in memory (for [`Table::open_bytes`]).
#[derive(Debug)]
struct OwnedBytes(Vec<u8>);

impl MappedFile for OwnedBytes {
    fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl Table {
    /// Opens the table at `path` by mapping it through `fs`. `file_id` must
    /// be unique among the tables of this process that share a cache (it
    /// keys the cache).
    pub fn open(
        fs: &Arc<dyn FileSystem>,
        path: &Path,
        file_id: u64,
        options: ReaderOptions,
    ) -> Result<Arc<Table>, SstError> {
        let io = |source| SstError::Io {
            path: path.to_path_buf(),
            source,
        };
        let map = fs.map(path).map_err(io)?;
        let file = if options.pread_data_blocks {
            Some(fs.open_read(path).map_err(io)?)
        } else {
            None
        };
        Table::open_with(map, file, path.to_path_buf(), file_id, options)
    }

    /// Opens a table from bytes held in memory (tests, fuzzing, tools);
    /// `path` is used in error messages only.
    pub fn open_bytes(
        bytes: Vec<u8>,
        path: PathBuf,
        file_id: u64,
        options: ReaderOptions,
    ) -> Result<Arc<Table>, SstError> {
        Table::open_mapped(Arc::new(OwnedBytes(bytes)), path, file_id, options)
    }

    /// Opens a table from an already mapped file.
    pub fn open_mapped(
        map: Arc<dyn MappedFile>,
        path: PathBuf,
        file_id: u64,
        options: ReaderOptions,
    ) -> Result<Arc<Table>, SstError> {
        Table::open_with(map, None, path, file_id, options)
    }

    fn open_with(
        map: Arc<dyn MappedFile>,
        data_file: Option<Arc<dyn RandomAccessFile>>,
        path: PathBuf,
        file_id: u64,
        options: ReaderOptions,
    ) -> Result<Arc<Table>, SstError> {
        let file = map.bytes();
        let footer = Footer::decode(file, &path)?;
        let footer_start = (file.len() - FOOTER_SIZE) as u64;
        let corrupt = |offset: u64, reason: String| SstError::Corruption {
            path: path.clone(),
            offset,
            reason,
        };

        // Layout: data | pad | filter | index | props | footer, contiguous.
        let props_end = footer.properties.end_with_trailer();
        if props_end != Some(footer_start) {
            return Err(corrupt(
                footer_start,
                format!(
                    "properties block (offset {}, size {}) does not end where the footer starts",
                    footer.properties.offset, footer.properties.size
                ),
            ));
        }
        if footer.index.end_with_trailer() != Some(footer.properties.offset) {
            return Err(corrupt(
                footer_start,
                format!(
                    "index block (offset {}, size {}) does not end where the properties start",
                    footer.index.offset, footer.index.size
                ),
            ));
        }
        let props_data = read_block(
            &map,
            footer.properties,
            footer_start,
            &path,
            true,
            "properties",
        )?;
        let mut props = TableProperties::decode(props_data.bytes()).map_err(|(pos, reason)| {
            corrupt(
                footer.properties.offset,
                format!("properties block at byte {pos}: {reason}"),
            )
        })?;
        props.file_checksum = footer.file_checksum;
        if props.format_version != footer.version {
            return Err(corrupt(
                footer.properties.offset,
                format!(
                    "properties say format version {}, footer says {}",
                    props.format_version, footer.version
                ),
            ));
        }

        let index_data = read_block(
            &map,
            footer.index,
            footer.properties.offset,
            &path,
            true,
            "index",
        )?;
        let index = decode_index(index_data, &footer, &path)?;
        let data_end = index
            .handles
            .last()
            .and_then(|h| h.end_with_trailer())
            .unwrap_or(0);
        if props.data_blocks != index.len() as u64 || props.data_bytes != data_end {
            return Err(corrupt(
                footer.index.offset,
                format!(
                    "index lists {} data blocks ending at {data_end}, properties say {} ending at {}",
                    index.len(),
                    props.data_blocks,
                    props.data_bytes
                ),
            ));
        }
        if (props.entries == 0) != index.handles.is_empty() {
            return Err(corrupt(
                footer.index.offset,
                format!("{} entries in {} data blocks", props.entries, index.len()),
            ));
        }

        let filter = if footer.filter.size == 0 && footer.filter.offset == 0 {
            if footer.index.offset != data_end {
                return Err(corrupt(
                    footer.index.offset,
                    format!("index block does not start where the data ends ({data_end})"),
                ));
            }
            if props.bloom_bits_per_key != 0 {
                return Err(corrupt(
                    footer_start,
                    "properties describe a filter but the footer has none".to_string(),
                ));
            }
            None
        } else {
            let f = footer.filter;
            let pad_ok = f.offset >= data_end && f.offset - data_end < LINE_BYTES as u64;
            if !pad_ok || f.offset % LINE_BYTES as u64 != 0 {
                return Err(corrupt(
                    f.offset,
                    format!(
                        "filter block offset not the 64-aligned offset after the data ({data_end})"
                    ),
                ));
            }
            if f.end_with_trailer() != Some(footer.index.offset) {
                return Err(corrupt(
                    f.offset,
                    "filter block does not end where the index starts".to_string(),
                ));
            }
            check_padding(file, data_end, f.offset, &path)?;
            let fdata = read_block(&map, f, footer.index.offset, &path, true, "filter")?;
            let BlockData::Mapped { start, .. } = fdata else {
                return Err(corrupt(f.offset, "filter block is compressed".to_string()));
            };
            let reader = FilterReader::parse(fdata.bytes(), start).map_err(|(pos, reason)| {
                corrupt(f.offset + pos as u64, format!("filter block: {reason}"))
            })?;
            if reader.probes != props.filter_probes || props.bloom_bits_per_key == 0 {
                return Err(corrupt(
                    f.offset,
                    format!(
                        "filter uses {} probes, properties say {} (bits/key {})",
                        reader.probes, props.filter_probes, props.bloom_bits_per_key
                    ),
                ));
            }
            Some(reader)
        };
        let filter_ignore_suffix = usize::try_from(props.filter_ignore_suffix).map_err(|_| {
            corrupt(
                footer.properties.offset,
                "filter_ignore_suffix out of range".to_string(),
            )
        })?;

        let residency = options
            .map_budget
            .as_ref()
            .map(|b| b.track(Arc::clone(&map)));
        // A file whose length disagrees with the map is not read with pread.
        let data_file = data_file.filter(|f| f.len() == map.bytes().len() as u64);
        Ok(Arc::new(Table {
            path,
            file_id,
            map,
            file: data_file,
            residency,
            cache: options.cache,
            verify_checksums: options.verify_checksums,
            index,
            filter,
            filter_ignore_suffix,
            props,
            footer,
        }))
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's size in bytes.
    pub fn file_size(&self) -> u64 {
        self.map.bytes().len() as u64
    }

    /// The id given at open (the cache key prefix).
    pub fn file_id(&self) -> u64 {
        self.file_id
    }

    /// Facts recorded when the table was built, and the whole-file checksum.
    pub fn properties(&self) -> &TableProperties {
        &self.props
    }

    /// The properties plus the footer's file checksum.
    fn corrupt(&self, offset: u64, reason: String) -> SstError {
        SstError::Corruption {
            path: self.path.clone(),
            offset,
            reason,
        }
    }

    /// Turns an error inside the block at `handle` into an [`SstError`].
    pub(crate) fn block_error(
        &self,
        handle: BlockHandle,
        block: Option<&Block>,
        e: BlockErr,
    ) -> SstError {
        let compressed = block.is_some_and(Block::is_compressed);
        if compressed {
            self.corrupt(
                handle.offset,
                format!(
                    "data block: {} (at byte {} of the decompressed block)",
                    e.reason, e.pos
                ),
            )
        } else {
            self.corrupt(
                handle.offset + e.pos as u64,
                format!("data block: {}", e.reason),
            )
        }
    }

    /// The data block number `i`, from the cache or the file.
    pub(crate) fn load_block(&self, i: usize) -> Result<Arc<Block>, SstError> {
        self.load_block_with(i, true)
    }

    /// Block `i` for a one-pass reader: from the cache when it is there, else
    /// read from the file without adding it to the cache (a compaction must not
    /// push out what point reads use; RocksDB's `fill_cache = false`).
    pub(crate) fn load_block_uncached(&self, i: usize) -> Result<Arc<Block>, SstError> {
        self.load_block_with(i, false)
    }

    fn load_block_with(&self, i: usize, fill_cache: bool) -> Result<Arc<Block>, SstError> {
        let handle = self
            .index
            .handles
            .get(i)
            .copied()
            .ok_or_else(|| self.corrupt(0, format!("data block {i} does not exist")))?;
        // A cached block may be a view of the map too: hits count as touches.
        // A one-pass reader (`fill_cache == false`) releases the pages behind
        // itself and is not charged to the budget.
        if fill_cache
            && self.file.is_none()
            && let Some(r) = &self.residency
        {
            r.touch(
                handle.offset,
                handle.size.saturating_add(TRAILER_SIZE as u64),
            );
        }
        if let Some(cache) = &self.cache
            && let Some(b) = cache.get(self.file_id, handle.offset)
        {
            return Ok(b);
        }
        let block = self.read_data_block(handle, self.verify_checksums)?;
        if fill_cache && let Some(cache) = &self.cache {
            cache.insert(self.file_id, handle.offset, Arc::clone(&block));
        }
        Ok(block)
    }

    /// Releases the mapped pages from `released` up to the start of data block
    /// `i` when that is at least `step` bytes, returning the new bound. A
    /// one-pass reader calls it as it moves forward, so that a compaction over
    /// large tables does not leave them all resident in the process.
    pub(crate) fn release_before(&self, i: usize, released: u64, step: u64) -> u64 {
        let Some(start) = self.index.handles.get(i).map(|h| h.offset) else {
            return released;
        };
        if start >= released.saturating_add(step) {
            self.map
                .release(released as usize, (start - released) as usize);
            start
        } else {
            released
        }
    }

    fn read_data_block(&self, handle: BlockHandle, verify: bool) -> Result<Arc<Block>, SstError> {
        let limit = self.props.data_bytes;
        let data = match &self.file {
            Some(f) => read_block_at(&**f, f.len(), handle, limit, &self.path, verify, "data")?,
            None => read_block(&self.map, handle, limit, &self.path, verify, "data")?,
        };
        let block = Block::new(data, false).map_err(|e| self.block_error(handle, None, e))?;
        Ok(Arc::new(block))
    }

    #[inline]
    fn filter_key<'k>(&self, key: &'k [u8]) -> &'k [u8] {
        key.get(..key.len().saturating_sub(self.filter_ignore_suffix))
            .unwrap_or(&[])
    }

    /// Filter probe on an already stripped key (the key without its last
    /// `filter_ignore_suffix` bytes). `false` means no key with this prefix
    /// is in the table; `true` means it may be. Always `true` without a filter.
    pub fn may_contain(&self, filter_key: &[u8]) -> bool {
        match &self.filter {
            Some(f) => f.may_contain_hash(self.map.bytes(), filter::filter_hash(filter_key)),
            None => true,
        }
    }

    /// The value stored under exactly `key`, if any. Consults the filter
    /// first, then the index, then one data block.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, SstError> {
        if !self.may_contain(self.filter_key(key)) {
            return Ok(None);
        }
        let i = self.index.find(key);
        if i >= self.index.len() {
            return Ok(None);
        }
        let block = self.load_block(i)?;
        let mut scratch = Vec::with_capacity(key.len() + 16);
        match block.get(key, &mut scratch) {
            Ok(Some((start, end))) => {
                Ok(Some(block.bytes().get(start..end).unwrap_or(&[]).to_vec()))
            }
            Ok(None) => Ok(None),
            Err(e) => {
                let handle = self.index.handles.get(i).copied().unwrap_or_default();
                Err(self.block_error(handle, Some(&block), e))
            }
        }
    }

    /// A cursor over the table (initially not positioned).
    pub fn iter(self: &Arc<Self>) -> TableIter {
        TableIter::new(Arc::clone(self))
    }

    /// A cursor for one pass in key order over the whole table, such as a
    /// compaction's: blocks it reads are not added to the block cache, and
    /// the mapped pages it has passed are released from the process (in
    /// steps of 1 MiB, see [`strata_fs::MappedFile::release`]), so that
    /// reading a large table does not leave it resident. It may still seek
    /// and move backwards; it is only slower to read released pages again.
    pub fn iter_sequential(self: &Arc<Self>) -> TableIter {
        TableIter::sequential(Arc::clone(self))
    }

    /// Checks the whole file: the whole-file checksum, every block's
    /// checksum, every entry's encoding, that keys strictly increase across
    /// the file and agree with the index and the properties, and that the
    /// filter admits every key. Returns the first problem; see
    /// [`Table::verify_all`] for all of them.
    pub fn verify(&self) -> Result<(), SstError> {
        match self.verify_all().into_iter().next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Like [`Table::verify`], but goes on after a damaged data block and
    /// returns every problem found, in file order (the whole-file checksum
    /// first): a scrub wants to know how much of the file is damaged, not
    /// only that it is. Empty when the file is intact.
    pub fn verify_all(&self) -> Vec<SstError> {
        let mut problems = Vec::new();
        let file = self.map.bytes();
        let footer_start = file.len().saturating_sub(FOOTER_SIZE);
        let sum = xxh3_64(file.get(..footer_start).unwrap_or(&[]));
        if sum != self.footer.file_checksum {
            problems.push(self.corrupt(
                0,
                format!(
                    "whole-file checksum mismatch: footer says {:#018x}, bytes hash to {sum:#018x}",
                    self.footer.file_checksum
                ),
            ));
        }
        let mut totals = Totals::default();
        let mut damaged_blocks = 0usize;
        for (i, &handle) in self.index.handles.iter().enumerate() {
            if let Err(e) = self.verify_block(i, handle, &mut totals) {
                problems.push(e);
                damaged_blocks += 1;
            }
        }
        if damaged_blocks == 0 {
            problems.extend(self.check_totals(&totals));
        }
        problems
    }

    /// Checks data block `i`: its checksum, entries, key order (within the
    /// block, against the previous block's keys and the index separators)
    /// and filter; adds its entries to `totals`.
    fn verify_block(
        &self,
        i: usize,
        handle: BlockHandle,
        totals: &mut Totals,
    ) -> Result<(), SstError> {
        let block = self.read_data_block(handle, true)?;
        let mut it = BlockIter::default();
        it.set_block(Arc::clone(&block));
        let mut first = true;
        it.seek_to_first()
            .map_err(|e| self.block_error(handle, Some(&block), e))?;
        while it.valid() {
            let key = it.key();
            if totals.entries > 0 && key <= totals.last_key.as_slice() {
                return Err(self.corrupt(
                    handle.offset,
                    format!("keys out of order in data block {i}"),
                ));
            }
            if first && i > 0 && key <= self.index.key(i - 1) {
                return Err(self.corrupt(
                    handle.offset,
                    format!("first key of data block {i} is not above the previous separator"),
                ));
            }
            if key > self.index.key(i) {
                return Err(self.corrupt(
                    handle.offset,
                    format!("a key of data block {i} is above its index separator"),
                ));
            }
            if !self.may_contain(self.filter_key(key)) {
                return Err(self.corrupt(
                    self.footer.filter.offset,
                    format!("the filter does not admit a key of data block {i}"),
                ));
            }
            if totals.entries == 0 {
                totals.first_key = key.to_vec();
            }
            first = false;
            totals.entries += 1;
            totals.key_bytes += key.len() as u64;
            totals.value_bytes += it.value().len() as u64;
            totals.last_key.clear();
            totals.last_key.extend_from_slice(key);
            it.next()
                .map_err(|e| self.block_error(handle, Some(&block), e))?;
        }
        totals.raw_data_bytes += block.bytes().len() as u64;
        Ok(())
    }

    /// Compares what the data blocks hold with the properties.
    fn check_totals(&self, t: &Totals) -> Vec<SstError> {
        let p = &self.props;
        let at = self.footer.properties.offset;
        let mut problems = Vec::new();
        let mut check = |what: &str, recorded: u64, found: u64| {
            if recorded != found {
                problems.push(self.corrupt(
                    at,
                    format!("properties say {recorded} {what}, the data blocks hold {found}"),
                ));
            }
        };
        check("entries", p.entries, t.entries);
        check("key bytes", p.raw_key_bytes, t.key_bytes);
        check("value bytes", p.raw_value_bytes, t.value_bytes);
        check(
            "uncompressed data bytes",
            p.raw_data_bytes,
            t.raw_data_bytes,
        );
        if t.first_key != p.smallest_key {
            problems.push(self.corrupt(
                at,
                "smallest key in the properties is not the first key".to_string(),
            ));
        }
        if t.last_key != p.largest_key {
            problems.push(self.corrupt(
                at,
                "largest key in the properties is not the last key".to_string(),
            ));
        }
        problems
    }
}

/// What [`Table::verify_all`] counts while reading the data blocks.
#[derive(Debug, Default)]
struct Totals {
    entries: u64,
    key_bytes: u64,
    value_bytes: u64,
    raw_data_bytes: u64,
    first_key: Vec<u8>,
    last_key: Vec<u8>,
}

impl Drop for Table {
    fn drop(&mut self) {
        // Release cached blocks, which may hold the file's memory map.
        if let Some(cache) = &self.cache {
            for h in &self.index.handles {
                cache.erase(self.file_id, h.offset);
            }
        }
    }
}

/// Checks the padding between the data region (ending at `from`) and the
/// filter block (at `to`): no checksum covers it, so every byte must be the
/// zero the builder wrote. `from..to` has already been checked to be fewer
/// than 64 bytes inside the file.
fn check_padding(file: &[u8], from: u64, to: u64, path: &Path) -> Result<(), SstError> {
    let pad = usize::try_from(from)
        .ok()
        .zip(usize::try_from(to).ok())
        .and_then(|(a, b)| file.get(a..b));
    let Some(pad) = pad else {
        return Err(SstError::Corruption {
            path: path.to_path_buf(),
            offset: from,
            reason: format!("filter padding {from}..{to} lies outside the file"),
        });
    };
    match pad.iter().position(|&b| b != 0) {
        None => Ok(()),
        Some(i) => Err(SstError::Corruption {
            path: path.to_path_buf(),
            offset: from + i as u64,
            reason: format!(
                "non-zero byte {:#04x} in the zero padding before the filter block ({from}..{to})",
                pad[i]
            ),
        }),
    }
}

/// Decodes the index block and checks the handles tile the data region.
fn decode_index(data: BlockData, footer: &Footer, path: &Path) -> Result<Index, SstError> {
    let corrupt = |offset: u64, reason: String| SstError::Corruption {
        path: path.to_path_buf(),
        offset,
        reason,
    };
    let at = footer.index.offset;
    let block = Arc::new(
        Block::new(data, true)
            .map_err(|e| corrupt(at, format!("index block at byte {}: {}", e.pos, e.reason)))?,
    );
    let mut it = BlockIter::default();
    it.set_block(Arc::clone(&block));
    let mut index = Index::default();
    let mut expected_offset = 0u64;
    let bad = |e: BlockErr| corrupt(at, format!("index block at byte {}: {}", e.pos, e.reason));
    it.seek_to_first().map_err(bad)?;
    while it.valid() {
        let key = it.key();
        let n = index.handles.len();
        if n > 0 && key <= index.key(n - 1) {
            return Err(corrupt(
                at,
                format!("index separators out of order at entry {n}"),
            ));
        }
        let v = it.value();
        let handle = get_varint64(v, 0)
            .and_then(|(offset, p)| {
                get_varint64(v, p)
                    .filter(|&(_, q)| q == v.len())
                    .map(|(size, _)| BlockHandle { offset, size })
            })
            .ok_or_else(|| corrupt(at, format!("index entry {n}: bad block handle")))?;
        if handle.offset != expected_offset {
            return Err(corrupt(
                at,
                format!(
                    "index entry {n}: data block at offset {}, expected {expected_offset}",
                    handle.offset
                ),
            ));
        }
        expected_offset = handle
            .end_with_trailer()
            .filter(|&e| e <= footer.index.offset)
            .ok_or_else(|| {
                corrupt(
                    at,
                    format!("index entry {n}: data block runs past the data region"),
                )
            })?;
        index.keys.extend_from_slice(key);
        index.key_ends.push(index.keys.len());
        index.handles.push(handle);
        it.next().map_err(bad)?;
    }
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TableBuilder, TableOptions};
    use strata_fs::FaultFs;

    #[test]
    fn small_verify() {
        let fs: Arc<dyn FileSystem> = Arc::new(FaultFs::new());
        let path = Path::new("/t.sst");
        let mut b = TableBuilder::new(
            fs.create(path).unwrap(),
            path.to_path_buf(),
            TableOptions::default(),
        );
        for k in ["a", "b", "c", "d"] {
            b.add(k.as_bytes(), k.as_bytes()).unwrap();
        }
        b.finish().unwrap();
        let t = Table::open(&fs, path, 1, ReaderOptions::default()).unwrap();
        let mut it = t.iter();
        it.seek_to_first().unwrap();
        let mut got = Vec::new();
        while it.valid() {
            got.push(it.key().to_vec());
            it.next().unwrap();
        }
        assert_eq!(
            got,
            vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec(), b"d".to_vec()]
        );
        t.verify().unwrap();
    }
}
