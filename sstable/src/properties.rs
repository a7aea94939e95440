//! The properties block: facts about a table recorded when it was built.

use crate::coding::{get_varint64, put_varint64, unzigzag, zigzag};

/// Facts about a table, stored in its properties block (and, for the file
/// checksum, its footer). See `docs/sstable-format.md` for the encoding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TableProperties {
    /// The format version the table was written with.
    pub format_version: u32,
    /// Number of entries.
    pub entries: u64,
    /// Number of data blocks.
    pub data_blocks: u64,
    /// Sum of key lengths.
    pub raw_key_bytes: u64,
    /// Sum of value lengths.
    pub raw_value_bytes: u64,
    /// Sum of the uncompressed sizes of the data blocks.
    pub raw_data_bytes: u64,
    /// Bytes of the data region as stored (compressed, with trailers).
    pub data_bytes: u64,
    /// Stored size of the index block.
    pub index_bytes: u64,
    /// Stored size of the filter block (0 when there is none).
    pub filter_bytes: u64,
    /// The first key (empty for an empty table).
    pub smallest_key: Vec<u8>,
    /// The last key (empty for an empty table).
    pub largest_key: Vec<u8>,
    /// The smallest sequence number, as given to `set_seqno_range`.
    pub smallest_seqno: u64,
    /// The largest sequence number, as given to `set_seqno_range`.
    pub largest_seqno: u64,
    /// Creation time in seconds since the Unix epoch.
    pub created_unix_secs: u64,
    /// Compression configured when building: 0 none, 1 zstd.
    pub compression: u8,
    /// The zstd level configured (0 for none).
    pub compression_level: i32,
    /// The configured target block size.
    pub block_size: u64,
    /// The configured restart interval.
    pub restart_interval: u64,
    /// Filter bits per key (0 = no filter).
    pub bloom_bits_per_key: u32,
    /// Filter probes per key (0 = no filter).
    pub filter_probes: u32,
    /// Bytes stripped from the end of each key before filtering.
    pub filter_ignore_suffix: u64,
    /// Distinct filter keys added to the filter.
    pub filter_keys: u64,
    /// XXH3-64 of every byte before the footer (stored in the footer).
    pub file_checksum: u64,
}

const TAGS: u64 = 22;

impl TableProperties {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128 + self.smallest_key.len() + self.largest_key.len());
        let int = |out: &mut Vec<u8>, tag: u64, v: u64| {
            let mut val = Vec::with_capacity(10);
            put_varint64(&mut val, v);
            put_varint64(out, tag);
            put_varint64(out, val.len() as u64);
            out.extend_from_slice(&val);
        };
        let bytes = |out: &mut Vec<u8>, tag: u64, v: &[u8]| {
            put_varint64(out, tag);
            put_varint64(out, v.len() as u64);
            out.extend_from_slice(v);
        };
        int(&mut out, 1, u64::from(self.format_version));
        int(&mut out, 2, self.entries);
        int(&mut out, 3, self.data_blocks);
        int(&mut out, 4, self.raw_key_bytes);
        int(&mut out, 5, self.raw_value_bytes);
        int(&mut out, 6, self.raw_data_bytes);
        int(&mut out, 7, self.data_bytes);
        int(&mut out, 8, self.index_bytes);
        int(&mut out, 9, self.filter_bytes);
        bytes(&mut out, 10, &self.smallest_key);
        bytes(&mut out, 11, &self.largest_key);
        int(&mut out, 12, self.smallest_seqno);
        int(&mut out, 13, self.largest_seqno);
        int(&mut out, 14, self.created_unix_secs);
        int(&mut out, 15, u64::from(self.compression));
        int(&mut out, 16, zigzag(i64::from(self.compression_level)));
        int(&mut out, 17, self.block_size);
        int(&mut out, 18, self.restart_interval);
        int(&mut out, 19, u64::from(self.bloom_bits_per_key));
        int(&mut out, 20, u64::from(self.filter_probes));
        int(&mut out, 21, self.filter_ignore_suffix);
        int(&mut out, 22, self.filter_keys);
        out
    }

    /// Decodes a properties block; errors give the offset within the block.
    pub(crate) fn decode(b: &[u8]) -> Result<TableProperties, (usize, String)> {
        let mut p = TableProperties::default();
        let mut pos = 0usize;
        let mut last_tag = 0u64;
        let mut seen = 0u64;
        while pos < b.len() {
            let start = pos;
            let (tag, q) = get_varint64(b, pos).ok_or((pos, "bad tag varint".to_string()))?;
            let (len, q) = get_varint64(b, q).ok_or((q, "bad length varint".to_string()))?;
            let end = usize::try_from(len)
                .ok()
                .and_then(|l| q.checked_add(l))
                .filter(|&e| e <= b.len())
                .ok_or((
                    start,
                    format!("property {tag} of {len} bytes runs past the block"),
                ))?;
            if tag <= last_tag {
                return Err((
                    start,
                    format!("property tag {tag} after {last_tag}: not increasing"),
                ));
            }
            last_tag = tag;
            pos = end;
            let val = b.get(q..end).unwrap_or(&[]);
            if tag > TAGS {
                continue; // a newer writer's property: ignored
            }
            seen += 1;
            let int = || -> Result<u64, (usize, String)> {
                match get_varint64(val, 0) {
                    Some((v, n)) if n == val.len() => Ok(v),
                    _ => Err((q, format!("property {tag}: bad integer"))),
                }
            };
            let small = |v: u64| -> Result<u32, (usize, String)> {
                u32::try_from(v).map_err(|_| (q, format!("property {tag}: {v} out of range")))
            };
            match tag {
                1 => p.format_version = small(int()?)?,
                2 => p.entries = int()?,
                3 => p.data_blocks = int()?,
                4 => p.raw_key_bytes = int()?,
                5 => p.raw_value_bytes = int()?,
                6 => p.raw_data_bytes = int()?,
                7 => p.data_bytes = int()?,
                8 => p.index_bytes = int()?,
                9 => p.filter_bytes = int()?,
                10 => p.smallest_key = val.to_vec(),
                11 => p.largest_key = val.to_vec(),
                12 => p.smallest_seqno = int()?,
                13 => p.largest_seqno = int()?,
                14 => p.created_unix_secs = int()?,
                15 => {
                    p.compression = u8::try_from(int()?)
                        .map_err(|_| (q, "property 15: compression out of range".to_string()))?;
                }
                16 => {
                    p.compression_level = i32::try_from(unzigzag(int()?))
                        .map_err(|_| (q, "property 16: level out of range".to_string()))?;
                }
                17 => p.block_size = int()?,
                18 => p.restart_interval = int()?,
                19 => p.bloom_bits_per_key = small(int()?)?,
                20 => p.filter_probes = small(int()?)?,
                21 => p.filter_ignore_suffix = int()?,
                _ => p.filter_keys = int()?,
            }
        }
        if seen != TAGS {
            return Err((
                b.len(),
                format!("properties block has {seen} of the {TAGS} required properties"),
            ));
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_forward_compat() {
        let p = TableProperties {
            format_version: 1,
            entries: 10,
            smallest_key: b"a".to_vec(),
            largest_key: b"zz".to_vec(),
            compression: 1,
            compression_level: -3,
            smallest_seqno: 5,
            largest_seqno: u64::MAX,
            ..TableProperties::default()
        };
        let mut b = p.encode();
        assert_eq!(TableProperties::decode(&b).unwrap(), p);
        // An unknown, newer tag is skipped.
        b.extend_from_slice(&[40, 2, 0xaa, 0xbb]);
        assert_eq!(TableProperties::decode(&b).unwrap(), p);
        // Truncations fail.
        for cut in 0..b.len() - 4 {
            assert!(TableProperties::decode(&b[..cut]).is_err(), "cut {cut}");
        }
    }
}
