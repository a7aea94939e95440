//! Metadata records kept in the `0x00` key space of every GSI partition's tree
//! (`docs/gsi-format.md`): the partition header, the checkpoint per base partition, and
//! the backfill progress per base partition. Every value is
//! `version kind body crc32(version kind body)`; decoding checks all of it.

use strata_item::PrimaryKey;
use strata_item::key::{KeyDecodeError, KeyEncodeError, decode_primary_key, encode_primary_key};

use crate::layout::{META_TAG, stable_hash};

/// Format version of every metadata value.
pub const META_VERSION: u8 = 1;
/// Magic bytes of a partition header value.
pub const HEADER_MAGIC: [u8; 4] = *b"SGIX";
/// The GSI partition that holds the backfill progress records and is written last by a
/// backfill step.
pub const HOME_PARTITION: u32 = 0;

const KIND_HEADER: u8 = b'H';
const KIND_CHECKPOINT: u8 = b'C';
const KIND_PROGRESS: u8 = b'B';

/// Key of the partition header: `0x00 'H'`.
pub fn header_key() -> Vec<u8> {
    vec![META_TAG, KIND_HEADER]
}

/// Key of the checkpoint for base partition `base_partition`: `0x00 'C' be32(p)`.
pub fn checkpoint_key(base_partition: u32) -> Vec<u8> {
    let mut k = vec![META_TAG, KIND_CHECKPOINT];
    k.extend_from_slice(&base_partition.to_be_bytes());
    k
}

/// Key of the backfill progress of base partition `base_partition`:
/// `0x00 'B' be32(p)` (in [`HOME_PARTITION`] only).
pub fn progress_key(base_partition: u32) -> Vec<u8> {
    let mut k = vec![META_TAG, KIND_PROGRESS];
    k.extend_from_slice(&base_partition.to_be_bytes());
    k
}

fn seal(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(6 + body.len());
    out.push(META_VERSION);
    out.push(kind);
    out.extend_from_slice(body);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// Checks the envelope and returns the body.
fn open(kind: u8, bytes: &[u8]) -> Result<&[u8], MetaError> {
    if bytes.len() < 6 {
        return Err(MetaError::Truncated {
            len: bytes.len(),
            need: 6,
        });
    }
    let (data, crc) = bytes.split_at(bytes.len() - 4);
    let stored = u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]);
    let computed = crc32fast::hash(data);
    if stored != computed {
        return Err(MetaError::Checksum { stored, computed });
    }
    if data[0] != META_VERSION {
        return Err(MetaError::Version { found: data[0] });
    }
    if data[1] != kind {
        return Err(MetaError::Kind {
            expected: kind,
            found: data[1],
        });
    }
    Ok(&data[2..])
}

/// Reads a body field by field.
struct Reader<'a> {
    body: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], MetaError> {
        let s = self
            .body
            .get(self.at..self.at + n)
            .ok_or(MetaError::Truncated {
                len: self.body.len(),
                need: self.at + n,
            })?;
        self.at += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, MetaError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, MetaError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, MetaError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, MetaError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }
    fn end(&self) -> Result<(), MetaError> {
        if self.at != self.body.len() {
            return Err(MetaError::TrailingBytes {
                extra: self.body.len() - self.at,
            });
        }
        Ok(())
    }
}

/// Identifies a GSI partition's tree: which index and which partition it is.
///
/// ```
/// use strata_index::meta::PartitionHeader;
/// let h = PartitionHeader { index_name: "by_city".into(), partition: 2, partitions: 4 };
/// assert_eq!(PartitionHeader::decode(&h.encode())?, h);
/// # Ok::<(), strata_index::meta::MetaError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionHeader {
    /// The index name (at most 255 bytes).
    pub index_name: String,
    /// This partition's number.
    pub partition: u32,
    /// The index's partition count.
    pub partitions: u32,
}

impl PartitionHeader {
    /// The value bytes (names longer than 65535 bytes are cut; valid names have at most
    /// 255).
    pub fn encode(&self) -> Vec<u8> {
        let name = &self.index_name.as_bytes()[..self.index_name.len().min(usize::from(u16::MAX))];
        let mut body = Vec::with_capacity(14 + name.len());
        body.extend_from_slice(&HEADER_MAGIC);
        body.extend_from_slice(&self.partition.to_be_bytes());
        body.extend_from_slice(&self.partitions.to_be_bytes());
        body.extend_from_slice(&(name.len() as u16).to_be_bytes());
        body.extend_from_slice(name);
        seal(KIND_HEADER, &body)
    }

    /// Decodes a header value.
    ///
    /// # Errors
    /// [`MetaError`] for anything but what [`PartitionHeader::encode`] writes.
    pub fn decode(bytes: &[u8]) -> Result<PartitionHeader, MetaError> {
        let mut r = Reader {
            body: open(KIND_HEADER, bytes)?,
            at: 0,
        };
        let magic = r.take(4)?;
        if magic != HEADER_MAGIC {
            return Err(MetaError::Magic {
                found: [magic[0], magic[1], magic[2], magic[3]],
            });
        }
        let partition = r.u32()?;
        let partitions = r.u32()?;
        let len = r.u16()?;
        let name = r.take(usize::from(len))?;
        r.end()?;
        let index_name = String::from_utf8(name.to_vec()).map_err(|_| MetaError::Invalid {
            what: "index name is not UTF-8",
        })?;
        Ok(PartitionHeader {
            index_name,
            partition,
            partitions,
        })
    }
}

/// How far a GSI partition has applied one base partition's changes: every change
/// record with LSN `<= applied_through` is applied (LSNs start at 1; 0 means none).
///
/// ```
/// use strata_index::meta::Checkpoint;
/// let c = Checkpoint { applied_through: 42 };
/// assert_eq!(Checkpoint::decode(&c.encode())?, c);
/// # Ok::<(), strata_index::meta::MetaError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// The LSN of the last applied record.
    pub applied_through: u64,
}

impl Checkpoint {
    /// The value bytes.
    pub fn encode(&self) -> Vec<u8> {
        seal(KIND_CHECKPOINT, &self.applied_through.to_be_bytes())
    }

    /// Decodes a checkpoint value.
    ///
    /// # Errors
    /// [`MetaError`] for anything but what [`Checkpoint::encode`] writes.
    pub fn decode(bytes: &[u8]) -> Result<Checkpoint, MetaError> {
        let mut r = Reader {
            body: open(KIND_CHECKPOINT, bytes)?,
            at: 0,
        };
        let applied_through = r.u64()?;
        r.end()?;
        Ok(Checkpoint { applied_through })
    }
}

/// Where a backfill of one base partition is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackfillPhase {
    /// Scanning the snapshot; live changes of this base partition wait.
    Scanning,
    /// The snapshot is indexed and every GSI partition's checkpoint for this base
    /// partition is the snapshot LSN: live maintenance takes over.
    Done,
}

/// The backfill state of one base partition (kept in [`HOME_PARTITION`]).
///
/// ```
/// use strata_index::meta::{BackfillPhase, BackfillProgress};
/// use strata_item::PrimaryKey;
/// let mut p = BackfillProgress::start(900);
/// p.last_key = Some(PrimaryKey::partition_only("user#7"));
/// p.items_done = 10;
/// assert_eq!(BackfillProgress::decode(&p.encode()?)?, p);
/// assert_eq!(p.phase, BackfillPhase::Scanning);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackfillProgress {
    /// Scanning or done.
    pub phase: BackfillPhase,
    /// The base partition's snapshot being scanned: it holds every record with
    /// LSN `<= snapshot_lsn`, and live maintenance starts after it.
    pub snapshot_lsn: u64,
    /// The last base key whose entry is written, in the base partition's scan order
    /// ([`base_scan_key`]); `None` before the first page.
    pub last_key: Option<PrimaryKey>,
    /// Base items scanned so far.
    pub items_done: u64,
    /// Of those, items skipped because an index key attribute was invalid.
    pub items_skipped: u64,
}

impl BackfillProgress {
    /// A backfill about to scan the snapshot at `snapshot_lsn`.
    pub fn start(snapshot_lsn: u64) -> BackfillProgress {
        BackfillProgress {
            phase: BackfillPhase::Scanning,
            snapshot_lsn,
            last_key: None,
            items_done: 0,
            items_skipped: 0,
        }
    }

    /// The value bytes.
    ///
    /// # Errors
    /// [`MetaError::Encode`] when the last key holds a value that is not `S`, `N`, `B`.
    pub fn encode(&self) -> Result<Vec<u8>, MetaError> {
        let key = match &self.last_key {
            Some(k) => encode_primary_key(k).map_err(MetaError::Encode)?,
            None => Vec::new(),
        };
        let mut body = Vec::with_capacity(29 + key.len());
        body.push(match self.phase {
            BackfillPhase::Scanning => 1,
            BackfillPhase::Done => 2,
        });
        body.extend_from_slice(&self.snapshot_lsn.to_be_bytes());
        body.extend_from_slice(&self.items_done.to_be_bytes());
        body.extend_from_slice(&self.items_skipped.to_be_bytes());
        body.extend_from_slice(&(key.len() as u32).to_be_bytes());
        body.extend_from_slice(&key);
        Ok(seal(KIND_PROGRESS, &body))
    }

    /// Decodes a progress value.
    ///
    /// # Errors
    /// [`MetaError`] for anything but what [`BackfillProgress::encode`] writes.
    pub fn decode(bytes: &[u8]) -> Result<BackfillProgress, MetaError> {
        let mut r = Reader {
            body: open(KIND_PROGRESS, bytes)?,
            at: 0,
        };
        let phase = match r.u8()? {
            1 => BackfillPhase::Scanning,
            2 => BackfillPhase::Done,
            _ => {
                return Err(MetaError::Invalid {
                    what: "unknown backfill phase",
                });
            }
        };
        let snapshot_lsn = r.u64()?;
        let items_done = r.u64()?;
        let items_skipped = r.u64()?;
        let len = r.u32()? as usize;
        let key = r.take(len)?;
        r.end()?;
        let last_key = if key.is_empty() {
            None
        } else {
            Some(decode_primary_key(key).map_err(MetaError::Key)?)
        };
        Ok(BackfillProgress {
            phase,
            snapshot_lsn,
            last_key,
            items_done,
            items_skipped,
        })
    }
}

/// A base key's position in its partition's scan order: `be64(h) enc(pk) [enc(sk)]`,
/// which is the base table's item key (`docs/table-layout.md`) without its `0x01` tag.
/// Backfill pages must come in increasing order of this.
///
/// # Errors
/// [`KeyEncodeError`] when a value is not `S`, `N` or `B`.
pub fn base_scan_key(key: &PrimaryKey) -> Result<Vec<u8>, KeyEncodeError> {
    let enc = encode_primary_key(key)?;
    let mut pk_only = Vec::new();
    strata_item::key::encode_key_value(&key.partition, &mut pk_only)?;
    let mut out = Vec::with_capacity(8 + enc.len());
    out.extend_from_slice(&stable_hash(&pk_only).to_be_bytes());
    out.extend_from_slice(&enc);
    Ok(out)
}

/// Why a metadata value does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetaError {
    /// Shorter than its fields.
    #[error("index metadata value truncated: {len} bytes, need {need}")]
    Truncated {
        /// Bytes available.
        len: usize,
        /// Bytes needed.
        need: usize,
    },
    /// The CRC32 does not match.
    #[error(
        "index metadata value checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"
    )]
    Checksum {
        /// CRC in the value.
        stored: u32,
        /// CRC of the bytes.
        computed: u32,
    },
    /// An unknown format version.
    #[error("index metadata value has version {found}, this build reads version 1")]
    Version {
        /// The version byte.
        found: u8,
    },
    /// A value of another kind (a checkpoint where a progress record belongs, ...).
    #[error("index metadata value of kind 0x{found:02x} where kind 0x{expected:02x} belongs")]
    Kind {
        /// The kind wanted.
        expected: u8,
        /// The kind found.
        found: u8,
    },
    /// The header magic is wrong.
    #[error("index partition header magic {found:02x?}, expected \"SGIX\"")]
    Magic {
        /// The bytes found.
        found: [u8; 4],
    },
    /// Bytes after the last field.
    #[error("index metadata value has {extra} unexpected trailing bytes")]
    TrailingBytes {
        /// How many.
        extra: usize,
    },
    /// A field holds an impossible value.
    #[error("index metadata value invalid: {what}")]
    Invalid {
        /// Which.
        what: &'static str,
    },
    /// The stored base key does not decode.
    #[error("index metadata value: bad base key: {0}")]
    Key(KeyDecodeError),
    /// A key cannot be encoded.
    #[error("index metadata value: key cannot be encoded: {0}")]
    Encode(KeyEncodeError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<(u8, Vec<u8>)> {
        let mut p = BackfillProgress::start(7);
        p.last_key = Some(PrimaryKey::with_sort("k", 3));
        p.phase = BackfillPhase::Done;
        vec![
            (
                KIND_CHECKPOINT,
                Checkpoint {
                    applied_through: u64::MAX,
                }
                .encode(),
            ),
            (KIND_PROGRESS, p.encode().unwrap()),
            (KIND_PROGRESS, BackfillProgress::start(0).encode().unwrap()),
            (
                KIND_HEADER,
                PartitionHeader {
                    index_name: "idx".into(),
                    partition: 1,
                    partitions: 2,
                }
                .encode(),
            ),
        ]
    }

    fn decode(kind: u8, b: &[u8]) -> Result<(), MetaError> {
        match kind {
            KIND_CHECKPOINT => Checkpoint::decode(b).map(|_| ()),
            KIND_PROGRESS => BackfillProgress::decode(b).map(|_| ()),
            _ => PartitionHeader::decode(b).map(|_| ()),
        }
    }

    #[test]
    fn roundtrips() {
        let mut p = BackfillProgress::start(7);
        p.last_key = Some(PrimaryKey::with_sort("k", 3));
        p.items_done = 5;
        p.items_skipped = 1;
        assert_eq!(BackfillProgress::decode(&p.encode().unwrap()).unwrap(), p);
        assert_eq!(
            Checkpoint::decode(&Checkpoint { applied_through: 9 }.encode())
                .unwrap()
                .applied_through,
            9
        );
        for (kind, bytes) in samples() {
            decode(kind, &bytes).unwrap();
        }
    }

    #[test]
    fn every_flipped_bit_and_cut_is_detected() {
        for (kind, bytes) in samples() {
            for i in 0..bytes.len() {
                for bit in 0..8 {
                    let mut b = bytes.clone();
                    b[i] ^= 1 << bit;
                    assert!(decode(kind, &b).is_err(), "kind {kind} byte {i} bit {bit}");
                }
            }
            for n in 0..bytes.len() {
                assert!(decode(kind, &bytes[..n]).is_err());
            }
        }
    }

    #[test]
    fn typed_errors() {
        let c = Checkpoint { applied_through: 1 }.encode();
        let mut bad = c.clone();
        bad[3] ^= 1;
        assert!(matches!(
            Checkpoint::decode(&bad),
            Err(MetaError::Checksum { .. })
        ));
        assert!(matches!(
            Checkpoint::decode(&c[..3]),
            Err(MetaError::Truncated { .. })
        ));
        assert!(matches!(
            BackfillProgress::decode(&c),
            Err(MetaError::Kind {
                expected: b'B',
                found: b'C'
            })
        ));
        let v2 = seal(KIND_CHECKPOINT, &[0; 8]);
        let mut v2 = v2[..v2.len() - 4].to_vec();
        v2[0] = 2;
        let crc = crc32fast::hash(&v2);
        v2.extend_from_slice(&crc.to_be_bytes());
        assert_eq!(
            Checkpoint::decode(&v2),
            Err(MetaError::Version { found: 2 })
        );
        assert!(matches!(
            Checkpoint::decode(&seal(KIND_CHECKPOINT, &[0; 9])),
            Err(MetaError::TrailingBytes { extra: 1 })
        ));
        assert!(matches!(
            PartitionHeader::decode(&seal(KIND_HEADER, b"XXXX\0\0\0\0\0\0\0\0\0\0")),
            Err(MetaError::Magic { .. })
        ));
        let mut phase = vec![9u8];
        phase.extend_from_slice(&[0; 28]);
        assert!(matches!(
            BackfillProgress::decode(&seal(KIND_PROGRESS, &phase)),
            Err(MetaError::Invalid { .. })
        ));
    }

    #[test]
    fn keys_live_in_the_metadata_space() {
        for k in [header_key(), checkpoint_key(3), progress_key(u32::MAX)] {
            assert_eq!(k[0], META_TAG);
            assert!(k < vec![crate::layout::ENTRY_TAG]);
        }
        assert_eq!(checkpoint_key(1), [0, b'C', 0, 0, 0, 1]);
        assert!(checkpoint_key(1) < checkpoint_key(2));
    }

    #[test]
    fn scan_order_is_hash_then_key() {
        let a = PrimaryKey::with_sort("a", 1);
        let k = base_scan_key(&a).unwrap();
        let mut enc = Vec::new();
        strata_item::key::encode_key_value(&"a".into(), &mut enc).unwrap();
        assert_eq!(&k[..8], &stable_hash(&enc).to_be_bytes());
        assert!(base_scan_key(&PrimaryKey::with_sort("a", 2)).unwrap() > k);
    }
}
