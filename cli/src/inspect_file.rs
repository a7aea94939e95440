//! `strata inspect FILE`: one SSTable (properties, blocks, filter, entries,
//! checksums) or one WAL segment (header, records, LSN range, damage). Reads the
//! file only; works on a file of a database that is open elsewhere (what it
//! reads is the bytes at that moment).

use std::path::{Path, PathBuf};

use serde::Serialize;
use strata_sstable::{ReaderOptions, Table};
use strata_wal::{SEGMENT_HEADER_SIZE, SEGMENT_MAGIC, SegmentDamageKind, scan_segment_bytes};

use crate::error::CliError;
use crate::output::{Text, full_hex, human_bytes, print_json, short_hex};

/// The 8 magic bytes that end every SSTable (`docs/sstable-format.md`).
const SST_MAGIC: &[u8; 8] = b"STRATSST";

/// What `strata inspect FILE` reports.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FileReport {
    /// An SSTable.
    Sstable(Box<SstReport>),
    /// A WAL segment.
    WalSegment(WalReport),
}

/// One SSTable.
#[derive(Debug, Serialize)]
pub struct SstReport {
    path: PathBuf,
    file_size: u64,
    format_version: u32,
    entries: u64,
    data_blocks: u64,
    data_bytes: u64,
    raw_key_bytes: u64,
    raw_value_bytes: u64,
    raw_data_bytes: u64,
    index_bytes: u64,
    filter_bytes: u64,
    bloom_bits_per_key: u32,
    filter_probes: u32,
    filter_keys: u64,
    compression: String,
    block_size: u64,
    restart_interval: u64,
    smallest_key: String,
    largest_key: String,
    smallest_seqno: u64,
    largest_seqno: u64,
    created_unix_secs: u64,
    file_checksum: String,
    #[serde(skip)]
    smallest_raw: Vec<u8>,
    #[serde(skip)]
    largest_raw: Vec<u8>,
    /// Entries counted by reading every block (equals `entries` when intact).
    entries_read: u64,
    /// Every problem `Table::verify_all` found (empty when intact).
    problems: Vec<String>,
    /// The first entries, as `--entries N` asked.
    first_entries: Vec<EntryOut>,
}

/// One entry of an SSTable.
#[derive(Debug, Serialize)]
pub struct EntryOut {
    /// The stored (internal) key, hex.
    key: String,
    /// The value's length in bytes.
    value_len: usize,
    #[serde(skip)]
    raw_key: Vec<u8>,
}

/// One WAL segment.
#[derive(Debug, Serialize)]
pub struct WalReport {
    /// The segment file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub file_size: u64,
    format_version: Option<u32>,
    block_size: Option<u32>,
    /// Version-3 header flags (bit 0: the segment before was not yet synced
    /// when this one was started).
    header_flags: Option<u16>,
    segment_tag: Option<u32>,
    first_lsn: Option<u64>,
    /// The LSN of the last complete record (`None` when there is none).
    last_lsn: Option<u64>,
    records: u64,
    /// Where the intact records end (recovery would cut the file here).
    good_len: u64,
    damage: Vec<WalDamage>,
}

/// A problem in a WAL segment.
#[derive(Debug, Serialize)]
pub struct WalDamage {
    offset: u64,
    kind: String,
    reason: String,
}

/// Inspects the file at `path`, printing to stdout.
pub fn run(path: &Path, json: bool, entries: usize) -> Result<(), CliError> {
    let bytes = std::fs::read(path).map_err(|e| CliError::io(path, e))?;
    let report = if is_wal(path, &bytes) {
        FileReport::WalSegment(wal_report(path, &bytes))
    } else if is_sst(path, &bytes) {
        FileReport::Sstable(Box::new(sst_report(path, bytes, entries)?))
    } else {
        return Err(CliError::bad_file(
            path,
            "neither an SSTable (ends in the magic STRATSST) nor a WAL segment (starts with STRATAWL)",
        ));
    };
    if json {
        print_json(&report)
    } else {
        print!("{}", render(&report));
        Ok(())
    }
}

fn is_wal(path: &Path, bytes: &[u8]) -> bool {
    bytes.starts_with(&SEGMENT_MAGIC) || path.extension().is_some_and(|e| e == "wal")
}

fn is_sst(path: &Path, bytes: &[u8]) -> bool {
    bytes.ends_with(SST_MAGIC) || path.extension().is_some_and(|e| e == "sst")
}

fn sst_report(path: &Path, bytes: Vec<u8>, shown: usize) -> Result<SstReport, CliError> {
    let table = Table::open_bytes(bytes, path.to_path_buf(), 0, ReaderOptions::default())
        .map_err(|e| CliError::bad_file(path, format!("cannot open the SSTable: {e}")))?;
    let p = table.properties().clone();
    let problems: Vec<String> = table.verify_all().iter().map(ToString::to_string).collect();
    let mut entries_read = 0u64;
    let mut first_entries = Vec::new();
    let mut it = table.iter();
    if it.seek_to_first().is_ok() {
        while it.valid() {
            entries_read += 1;
            if first_entries.len() < shown {
                first_entries.push(EntryOut {
                    key: full_hex(it.key()),
                    value_len: it.value().len(),
                    raw_key: it.key().to_vec(),
                });
            }
            if it.next().is_err() {
                break;
            }
        }
    }
    Ok(SstReport {
        path: path.to_path_buf(),
        file_size: table.file_size(),
        format_version: p.format_version,
        entries: p.entries,
        data_blocks: p.data_blocks,
        data_bytes: p.data_bytes,
        raw_key_bytes: p.raw_key_bytes,
        raw_value_bytes: p.raw_value_bytes,
        raw_data_bytes: p.raw_data_bytes,
        index_bytes: p.index_bytes,
        filter_bytes: p.filter_bytes,
        bloom_bits_per_key: p.bloom_bits_per_key,
        filter_probes: p.filter_probes,
        filter_keys: p.filter_keys,
        compression: match p.compression {
            0 => "none".to_owned(),
            1 => format!("zstd level {}", p.compression_level),
            other => format!("unknown ({other})"),
        },
        block_size: p.block_size,
        restart_interval: p.restart_interval,
        smallest_key: full_hex(&p.smallest_key),
        largest_key: full_hex(&p.largest_key),
        smallest_seqno: p.smallest_seqno,
        largest_seqno: p.largest_seqno,
        created_unix_secs: p.created_unix_secs,
        file_checksum: format!("{:016x}", p.file_checksum),
        smallest_raw: p.smallest_key.clone(),
        largest_raw: p.largest_key.clone(),
        entries_read,
        problems,
        first_entries,
    })
}

fn le_u16(bytes: &[u8], at: usize) -> Option<u16> {
    let b: [u8; 2] = bytes.get(at..at + 2)?.try_into().ok()?;
    Some(u16::from_le_bytes(b))
}

fn le_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
    Some(u32::from_le_bytes(b))
}

/// Reads a segment's header fields and scans every record (`docs/wal-format.md`).
pub fn wal_report(path: &Path, bytes: &[u8]) -> WalReport {
    let scan = scan_segment_bytes(bytes);
    let header = bytes.len() >= SEGMENT_HEADER_SIZE;
    WalReport {
        path: path.to_path_buf(),
        file_size: bytes.len() as u64,
        format_version: header.then(|| le_u32(bytes, 8)).flatten(),
        // Bytes 12..16: the block size as a `u16` and the flags (version 3),
        // or the block size as a `u32` (versions 1 and 2, flags 0).
        block_size: header.then(|| le_u16(bytes, 12).map(u32::from)).flatten(),
        header_flags: header.then(|| le_u16(bytes, 14)).flatten(),
        segment_tag: header.then(|| le_u32(bytes, 24)).flatten(),
        first_lsn: scan.first_lsn,
        last_lsn: scan
            .first_lsn
            .filter(|_| scan.records > 0)
            .map(|f| f + scan.records - 1),
        records: scan.records,
        good_len: scan.good_len,
        damage: scan
            .damage
            .iter()
            .map(|d| WalDamage {
                offset: d.offset,
                kind: match &d.kind {
                    SegmentDamageKind::Header => "header".to_owned(),
                    SegmentDamageKind::TornCreation => "torn creation".to_owned(),
                    SegmentDamageKind::TornTail => "torn tail".to_owned(),
                    SegmentDamageKind::Corruption { next_valid } => {
                        format!("corruption (intact data follows at {next_valid})")
                    }
                    other => format!("{other:?}"),
                },
                reason: d.reason.clone(),
            })
            .collect(),
    }
}

/// The LSN range of a segment for people: `LSN 5..=9 (5 records)`.
pub fn lsn_range(w: &WalReport) -> String {
    match (w.first_lsn, w.last_lsn) {
        (Some(f), Some(l)) => format!("LSN {f}..={l} ({} records)", w.records),
        (Some(f), None) => format!("no records (next LSN {f})"),
        _ => "header unreadable".to_owned(),
    }
}

/// One line per damage of a segment, for people.
pub fn wal_damage_lines(w: &WalReport) -> Vec<String> {
    w.damage
        .iter()
        .map(|d| {
            format!(
                "{} at offset {}: {}: {}",
                w.path.display(),
                d.offset,
                d.kind,
                d.reason
            )
        })
        .collect()
}

fn render(r: &FileReport) -> String {
    let mut out = Text::default();
    match r {
        FileReport::Sstable(s) => {
            out.line(format!(
                "SSTable {} ({}, format version {})",
                s.path.display(),
                human_bytes(s.file_size),
                s.format_version
            ));
            out.line(format!(
                "  entries: {} ({} read back), seq {}..={}",
                s.entries, s.entries_read, s.smallest_seqno, s.largest_seqno
            ));
            out.line(format!(
                "  keys: {} .. {}",
                short_hex(&s.smallest_raw),
                short_hex(&s.largest_raw)
            ));
            out.line(format!(
                "  data: {} blocks, {} stored ({} keys + {} values = {} uncompressed), block size {}, restart interval {}, compression {}",
                s.data_blocks,
                human_bytes(s.data_bytes),
                human_bytes(s.raw_key_bytes),
                human_bytes(s.raw_value_bytes),
                human_bytes(s.raw_data_bytes),
                s.block_size,
                s.restart_interval,
                s.compression
            ));
            out.line(format!("  index: {}", human_bytes(s.index_bytes)));
            if s.filter_bytes == 0 {
                out.line("  filter: none");
            } else {
                out.line(format!(
                    "  filter: {}, {} keys, {} bits/key, {} probes",
                    human_bytes(s.filter_bytes),
                    s.filter_keys,
                    s.bloom_bits_per_key,
                    s.filter_probes
                ));
            }
            out.line(format!(
                "  created: unix {}, file checksum xxh3 {}",
                s.created_unix_secs, s.file_checksum
            ));
            for e in &s.first_entries {
                out.line(format!(
                    "  entry {} ({} value bytes)",
                    short_hex(&e.raw_key),
                    e.value_len
                ));
            }
            if s.problems.is_empty() {
                out.line("  checksums: every block and the whole file verified");
            } else {
                out.line(format!("  DAMAGED: {} problems", s.problems.len()));
                for p in &s.problems {
                    out.line(format!("    {p}"));
                }
            }
        }
        FileReport::WalSegment(w) => {
            out.line(format!(
                "WAL segment {} ({})",
                w.path.display(),
                human_bytes(w.file_size)
            ));
            out.line(format!(
                "  header: format version {}, block size {}, segment tag {}{}",
                opt(w.format_version),
                opt(w.block_size),
                opt(w.segment_tag),
                match w.header_flags {
                    Some(f) if f & 1 != 0 => {
                        ", started before the segment before it was synced".to_owned()
                    }
                    Some(f) if f != 0 => format!(", flags {f:#06x}"),
                    _ => String::new(),
                }
            ));
            out.line(format!(
                "  records: {}, intact up to offset {}",
                lsn_range(w),
                w.good_len
            ));
            if w.damage.is_empty() {
                out.line("  checksums: every record verified");
            }
            for d in wal_damage_lines(w) {
                out.line(format!("  {d}"));
            }
        }
    }
    out.into_string()
}

fn opt(v: Option<u32>) -> String {
    v.map_or_else(|| "?".to_owned(), |v| v.to_string())
}
