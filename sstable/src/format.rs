//! The physical layout: block handles, trailers, the footer, and reading a
//! checked (and decompressed) block out of the mapped file.
//!
//! See `docs/sstable-format.md` for the specification.

use std::path::Path;
use std::sync::Arc;

use strata_fs::{MappedFile, RandomAccessFile};

use crate::coding::{get_fixed32, get_fixed64, get_varint32, mask_crc, put_fixed32, put_fixed64};
use crate::error::SstError;
use crate::zstd_codec::{self, ZstdError};

/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The last 8 bytes of every table: ASCII "STRATSST".
pub(crate) const MAGIC: u64 = 0x5453_5354_4152_5453;
/// Bytes after every block: compression, flags, masked CRC-32.
pub(crate) const TRAILER_SIZE: usize = 6;
/// Size of the fixed footer at the end of the file.
pub(crate) const FOOTER_SIZE: usize = 76;
/// The largest uncompressed block a reader accepts.
pub(crate) const MAX_RAW_BLOCK: usize = 1 << 30;

/// Block compression type byte: stored as is.
pub(crate) const COMPRESSION_NONE: u8 = 0;
/// Block compression type byte: `varint32 raw_len` + one zstd frame.
pub(crate) const COMPRESSION_ZSTD: u8 = 1;

/// Where a block is: its file offset and stored size (without trailer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct BlockHandle {
    pub offset: u64,
    pub size: u64,
}

impl BlockHandle {
    /// The offset just past the block's trailer.
    pub(crate) fn end_with_trailer(&self) -> Option<u64> {
        self.offset
            .checked_add(self.size)?
            .checked_add(TRAILER_SIZE as u64)
    }
}

/// The masked CRC stored in a block trailer.
pub(crate) fn block_crc(parts: &[&[u8]], ctype: u8, flags: u8, offset: u64) -> u32 {
    let mut h = crc32fast::Hasher::new();
    for p in parts {
        h.update(p);
    }
    h.update(&[ctype, flags]);
    h.update(&offset.to_le_bytes());
    mask_crc(h.finalize())
}

/// The footer: handles of the meta blocks, the whole-file checksum, the
/// format version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Footer {
    pub filter: BlockHandle,
    pub index: BlockHandle,
    pub properties: BlockHandle,
    pub file_checksum: u64,
    pub version: u32,
}

impl Footer {
    /// Encodes the footer that will sit at `footer_offset`.
    pub(crate) fn encode(&self, footer_offset: u64) -> Vec<u8> {
        let mut b = Vec::with_capacity(FOOTER_SIZE);
        for h in [self.filter, self.index, self.properties] {
            put_fixed64(&mut b, h.offset);
            put_fixed64(&mut b, h.size);
        }
        put_fixed64(&mut b, self.file_checksum);
        put_fixed32(&mut b, self.version);
        put_fixed32(&mut b, 0);
        let crc = footer_crc(&b, footer_offset);
        put_fixed32(&mut b, crc);
        put_fixed64(&mut b, MAGIC);
        b
    }

    /// Decodes and checks the footer at the end of `file`.
    pub(crate) fn decode(file: &[u8], path: &Path) -> Result<Footer, SstError> {
        let corrupt = |offset: u64, reason: String| SstError::Corruption {
            path: path.to_path_buf(),
            offset,
            reason,
        };
        let len = file.len();
        if len < FOOTER_SIZE {
            return Err(corrupt(
                0,
                format!("file is {len} bytes, shorter than the {FOOTER_SIZE}-byte footer"),
            ));
        }
        let start = len - FOOTER_SIZE;
        let f = file.get(start..).unwrap_or(&[]);
        let field = |pos: usize| get_fixed64(f, pos).unwrap_or(0);
        let magic = field(68);
        if magic != MAGIC {
            return Err(corrupt(
                start as u64 + 68,
                format!(
                    "bad magic number {magic:#018x}, expected {MAGIC:#018x} (not a table, or truncated)"
                ),
            ));
        }
        let stored_crc = get_fixed32(f, 64).unwrap_or(0);
        let actual = footer_crc(f.get(..64).unwrap_or(&[]), start as u64);
        if stored_crc != actual {
            return Err(corrupt(
                start as u64,
                format!(
                    "footer checksum mismatch: stored {stored_crc:#010x}, computed {actual:#010x}"
                ),
            ));
        }
        let version = get_fixed32(f, 56).unwrap_or(0);
        if version != FORMAT_VERSION {
            return Err(SstError::UnsupportedVersion {
                path: path.to_path_buf(),
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let flags = get_fixed32(f, 60).unwrap_or(0);
        if flags != 0 {
            return Err(corrupt(
                start as u64 + 60,
                format!("unknown footer flags {flags:#010x}"),
            ));
        }
        let handle = |pos: usize| BlockHandle {
            offset: field(pos),
            size: field(pos + 8),
        };
        Ok(Footer {
            filter: handle(0),
            index: handle(16),
            properties: handle(32),
            file_checksum: field(48),
            version,
        })
    }
}

fn footer_crc(first64: &[u8], footer_offset: u64) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(first64);
    h.update(&footer_offset.to_le_bytes());
    mask_crc(h.finalize())
}

/// The bytes of a checked block: a range of the memory map (uncompressed
/// blocks are not copied) or a decompressed buffer.
pub(crate) enum BlockData {
    Mapped {
        map: Arc<dyn MappedFile>,
        start: usize,
        end: usize,
    },
    Owned(Vec<u8>),
}

impl std::fmt::Debug for BlockData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlockData::Mapped { start, end, .. } => write!(f, "Mapped({start}..{end})"),
            BlockData::Owned(v) => write!(f, "Owned({} bytes)", v.len()),
        }
    }
}

impl BlockData {
    #[inline]
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            BlockData::Mapped { map, start, end } => map.bytes().get(*start..*end).unwrap_or(&[]),
            BlockData::Owned(v) => v,
        }
    }

    pub(crate) fn is_compressed(&self) -> bool {
        matches!(self, BlockData::Owned(_))
    }
}

/// Where the block at `handle` lies in a file of `file_len` bytes:
/// `(start, end of contents, end of trailer)`, checked to end within `limit`
/// (the offset where the region it belongs to ends) and the file.
fn locate(
    handle: BlockHandle,
    limit: u64,
    file_len: u64,
    path: &Path,
    what: &str,
) -> Result<(usize, usize, usize), SstError> {
    let end_with_trailer = handle
        .end_with_trailer()
        .filter(|&e| e <= limit && e <= file_len)
        .ok_or_else(|| SstError::Corruption {
            path: path.to_path_buf(),
            offset: handle.offset,
            reason: format!(
                "{what} block handle (offset {}, size {}) runs past its region ending at {limit}",
                handle.offset, handle.size
            ),
        })?;
    // All three fit in usize for a mapped file (they are <= its length); a
    // file read with `pread` beyond the address space is refused.
    let fit = |v: u64| {
        usize::try_from(v).map_err(|_| SstError::Corruption {
            path: path.to_path_buf(),
            offset: handle.offset,
            reason: format!("{what} block offset {v} is out of range"),
        })
    };
    Ok((
        fit(handle.offset)?,
        fit(handle.offset + handle.size)?,
        fit(end_with_trailer)?,
    ))
}

/// Reads the block at `handle` from `map`: checks that it lies within
/// `limit` (the offset where the region it belongs to ends), checks its CRC
/// (when `verify`), its flags, and decompresses it. An uncompressed block is
/// a view of the map.
pub(crate) fn read_block(
    map: &Arc<dyn MappedFile>,
    handle: BlockHandle,
    limit: u64,
    path: &Path,
    verify: bool,
    what: &str,
) -> Result<BlockData, SstError> {
    let file = map.bytes();
    let (start, end, trailer_end) = locate(handle, limit, file.len() as u64, path, what)?;
    let contents = file.get(start..end).unwrap_or(&[]);
    let trailer = file.get(end..trailer_end).unwrap_or(&[]);
    let checked = check_block(contents, trailer, handle, path, verify, what)?;
    Ok(checked.map_or_else(
        || BlockData::Mapped {
            map: Arc::clone(map),
            start,
            end,
        },
        BlockData::Owned,
    ))
}

/// Like [`read_block`], but reads the block with one positional read from
/// `file` (`file_len` bytes long) into a buffer of its own, so that no page
/// of the file is mapped into the process.
pub(crate) fn read_block_at(
    file: &dyn RandomAccessFile,
    file_len: u64,
    handle: BlockHandle,
    limit: u64,
    path: &Path,
    verify: bool,
    what: &str,
) -> Result<BlockData, SstError> {
    let (start, end, trailer_end) = locate(handle, limit, file_len, path, what)?;
    // The buffer is sized by the handle: no larger than the largest block
    // the format allows (a compressed one may exceed its raw size a little).
    if end - start > MAX_RAW_BLOCK + MAX_RAW_BLOCK / 64 {
        return Err(SstError::Corruption {
            path: path.to_path_buf(),
            offset: handle.offset,
            reason: format!(
                "{what} block of {} bytes exceeds the {MAX_RAW_BLOCK}-byte limit",
                end - start
            ),
        });
    }
    let mut buf = vec![0u8; trailer_end - start];
    file.read_exact_at(handle.offset, &mut buf)
        .map_err(|source| SstError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    let (contents, trailer) = buf.split_at(end - start);
    let checked = check_block(contents, trailer, handle, path, verify, what)?;
    Ok(BlockData::Owned(checked.unwrap_or_else(|| {
        buf.truncate(end - start);
        buf
    })))
}

/// Checks a block's `contents` and `trailer` (read from `handle`): its CRC
/// (when `verify`), its flags, and its compression. Returns the decompressed
/// contents, or `None` when the block is stored uncompressed.
fn check_block(
    contents: &[u8],
    trailer: &[u8],
    handle: BlockHandle,
    path: &Path,
    verify: bool,
    what: &str,
) -> Result<Option<Vec<u8>>, SstError> {
    let corrupt = |reason: String| SstError::Corruption {
        path: path.to_path_buf(),
        offset: handle.offset,
        reason,
    };
    let (ctype, flags) = match trailer {
        [c, f, ..] => (*c, *f),
        _ => return Err(corrupt(format!("{what} block trailer missing"))),
    };
    if verify {
        let stored = get_fixed32(trailer, 2).unwrap_or(0);
        let actual = block_crc(&[contents], ctype, flags, handle.offset);
        if stored != actual {
            return Err(corrupt(format!(
                "{what} block checksum mismatch: stored {stored:#010x}, computed {actual:#010x}"
            )));
        }
    }
    if flags != 0 {
        return Err(SstError::UnsupportedFlags {
            path: path.to_path_buf(),
            offset: handle.offset,
            flags,
        });
    }
    match ctype {
        COMPRESSION_NONE => {
            if contents.len() > MAX_RAW_BLOCK {
                return Err(corrupt(format!(
                    "{what} block of {} bytes exceeds the {MAX_RAW_BLOCK}-byte limit",
                    contents.len()
                )));
            }
            Ok(None)
        }
        COMPRESSION_ZSTD => {
            let (raw_len, p) = get_varint32(contents, 0)
                .ok_or_else(|| corrupt(format!("{what} block: bad uncompressed-length varint")))?;
            let raw_len = raw_len as usize;
            if raw_len > MAX_RAW_BLOCK {
                return Err(corrupt(format!(
                    "{what} block claims {raw_len} uncompressed bytes, over the {MAX_RAW_BLOCK}-byte limit"
                )));
            }
            let frame = contents.get(p..).unwrap_or(&[]);
            let unavailable = || SstError::CompressionUnavailable {
                path: path.to_path_buf(),
                offset: handle.offset,
                compression: "zstd",
            };
            match zstd_codec::frame_content_size(frame) {
                Ok(Some(n)) if n == raw_len as u64 => {}
                Err(ZstdError::Unavailable) => return Err(unavailable()),
                Ok(Some(n)) => {
                    return Err(corrupt(format!(
                        "{what} block: zstd frame holds {n} bytes, block header says {raw_len}"
                    )));
                }
                _ => {
                    return Err(corrupt(format!(
                        "{what} block: zstd frame header missing or without content size"
                    )));
                }
            }
            let out = zstd_codec::decompress(frame, raw_len).map_err(|e| match e {
                ZstdError::Unavailable => unavailable(),
                ZstdError::Failed(e) => {
                    corrupt(format!("{what} block: zstd decompression failed: {e}"))
                }
            })?;
            if out.len() != raw_len {
                return Err(corrupt(format!(
                    "{what} block decompressed to {} bytes, expected {raw_len}",
                    out.len()
                )));
            }
            Ok(Some(out))
        }
        other => Err(corrupt(format!(
            "{what} block has unknown compression type {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn footer_round_trip_and_checks() {
        let f = Footer {
            filter: BlockHandle {
                offset: 64,
                size: 72,
            },
            index: BlockHandle {
                offset: 142,
                size: 30,
            },
            properties: BlockHandle {
                offset: 178,
                size: 100,
            },
            file_checksum: 0x1234,
            version: FORMAT_VERSION,
        };
        let mut file = vec![0u8; 284];
        file.extend_from_slice(&f.encode(284));
        assert_eq!(file.len(), 284 + FOOTER_SIZE);
        assert_eq!(&file[file.len() - 8..], b"STRATSST");
        let p = Path::new("t.sst");
        assert_eq!(Footer::decode(&file, p).unwrap(), f);
        // The footer's CRC covers its own position.
        let mut moved = vec![0u8];
        moved.extend_from_slice(&file);
        assert!(Footer::decode(&moved, p).is_err());
        for i in 284..file.len() {
            let mut bad = file.clone();
            bad[i] ^= 0x01;
            assert!(Footer::decode(&bad, p).is_err(), "flip at {i}");
        }
        assert!(Footer::decode(&file[..10], p).is_err());
    }
}
