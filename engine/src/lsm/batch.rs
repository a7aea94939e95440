//! Write batches: an ordered group of puts and deletes applied atomically.
//!
//! A batch is kept in its WAL encoding from the start (like LevelDB's
//! `WriteBatch::rep_`), so committing it copies nothing: the tree fills in the
//! first sequence number and hands the bytes to the WAL as one record.
//!
//! ```text
//! record  = format:u8 (=1) | first_seq:u64 LE | count:u32 LE | entry*
//! entry   = kind:u8 | varint key_len | key | (varint value_len | value  if kind = Put)
//! ```
//!
//! The WAL frames and checksums the record; see `docs/internal-keys.md`.

use super::coding::{Reader, put_bytes};
use super::ikey::{SeqNo, ValueKind};

/// Format byte at the start of every batch record.
pub(crate) const BATCH_FORMAT: u8 = 1;
/// Bytes before the first entry.
pub(crate) const HEADER_LEN: usize = 1 + 8 + 4;

/// The largest user key the tree accepts (bytes).
pub const MAX_KEY_LEN: usize = 1 << 20;
/// The largest value the tree accepts (bytes).
pub const MAX_VALUE_LEN: usize = 1 << 30;

/// An atomic group of puts and deletes, committed with [`Tree::write`].
///
/// Operations apply in the order they were added; a later operation on the
/// same key wins. After a crash either all of a batch or none of it is there.
///
/// [`Tree::write`]: super::Tree::write
///
/// ```
/// use strata_engine::lsm::WriteBatch;
/// let mut b = WriteBatch::new();
/// b.put(b"a", b"1");
/// b.delete(b"b");
/// assert_eq!(b.len(), 2);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct WriteBatch {
    rep: Vec<u8>,
    count: u32,
}

impl std::fmt::Debug for WriteBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteBatch")
            .field("count", &self.count)
            .field("bytes", &self.rep.len())
            .finish()
    }
}

impl Default for WriteBatch {
    fn default() -> Self {
        Self::new()
    }
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> WriteBatch {
        Self::with_capacity(64)
    }

    /// An empty batch with room for `bytes` of encoded operations.
    pub fn with_capacity(bytes: usize) -> WriteBatch {
        let mut rep = Vec::with_capacity(HEADER_LEN + bytes);
        rep.push(BATCH_FORMAT);
        rep.extend_from_slice(&[0u8; 12]);
        WriteBatch { rep, count: 0 }
    }

    /// Adds a put of `value` under `key`.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> &mut Self {
        self.rep.push(ValueKind::Put as u8);
        put_bytes(&mut self.rep, key);
        put_bytes(&mut self.rep, value);
        self.count += 1;
        self
    }

    /// Adds a delete of `key`.
    pub fn delete(&mut self, key: &[u8]) -> &mut Self {
        self.rep.push(ValueKind::Delete as u8);
        put_bytes(&mut self.rep, key);
        self.count += 1;
        self
    }

    /// The number of operations.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// True when the batch holds no operation.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The size of the encoded batch in bytes (what the WAL record will be).
    pub fn approximate_size(&self) -> usize {
        self.rep.len()
    }

    /// Removes all operations.
    pub fn clear(&mut self) {
        self.rep.truncate(HEADER_LEN);
        self.count = 0;
    }

    /// Fills in the header for a commit at `first_seq` and returns the record.
    pub(crate) fn seal(&mut self, first_seq: SeqNo) -> &[u8] {
        self.rep[1..9].copy_from_slice(&first_seq.to_le_bytes());
        self.rep[9..13].copy_from_slice(&self.count.to_le_bytes());
        &self.rep
    }

    /// Iterates the operations of the batch (before sealing: sequence numbers
    /// are assigned by the caller).
    pub(crate) fn ops(&self) -> BatchOps<'_> {
        BatchOps {
            r: Reader::new(&self.rep[HEADER_LEN..]),
            left: self.count,
        }
    }

    /// Checks the limits on keys and values.
    pub(crate) fn validate(&self) -> Result<(), String> {
        for op in self.ops() {
            let (_, k, v) = op.map_err(|e| format!("malformed batch: {e}"))?;
            if k.len() > MAX_KEY_LEN {
                return Err(format!("key of {} bytes exceeds {MAX_KEY_LEN}", k.len()));
            }
            if v.len() > MAX_VALUE_LEN {
                return Err(format!(
                    "value of {} bytes exceeds {MAX_VALUE_LEN}",
                    v.len()
                ));
            }
        }
        Ok(())
    }
}

/// A decoded batch record read back from the WAL.
#[derive(Debug)]
pub(crate) struct DecodedBatch<'a> {
    pub first_seq: SeqNo,
    pub count: u32,
    body: &'a [u8],
}

impl<'a> DecodedBatch<'a> {
    /// Decodes the header and checks that the body holds exactly `count`
    /// well-formed entries. Errors carry a reason and the byte offset.
    pub(crate) fn decode(rec: &'a [u8]) -> Result<DecodedBatch<'a>, (usize, String)> {
        let mut r = Reader::new(rec);
        let fmt = r.u8().map_err(|e| (0, e.to_string()))?;
        if fmt != BATCH_FORMAT {
            return Err((0, format!("batch format {fmt}, expected {BATCH_FORMAT}")));
        }
        let first_seq = r.fixed_u64().map_err(|e| (1, e.to_string()))?;
        let count = r.fixed_u32().map_err(|e| (9, e.to_string()))?;
        // Sequence numbers must fit the internal-key trailer: a record with a
        // valid checksum but an impossible range is corruption, not an
        // overflow.
        let last = first_seq.checked_add(u64::from(count).saturating_sub(1));
        if first_seq == 0 || last.is_none_or(|l| l > super::ikey::MAX_SEQNO) {
            return Err((
                1,
                format!("batch sequence numbers {first_seq} + {count} are out of range"),
            ));
        }
        let d = DecodedBatch {
            first_seq,
            count,
            body: &rec[HEADER_LEN..],
        };
        let mut n = 0u32;
        let mut ops = d.ops();
        while let Some(op) = ops.next() {
            op.map_err(|e| (HEADER_LEN + ops.r.pos(), e.to_string()))?;
            n += 1;
        }
        if n != count {
            return Err((9, format!("batch says {count} entries, holds {n}")));
        }
        Ok(d)
    }

    pub(crate) fn ops(&self) -> BatchOps<'a> {
        BatchOps {
            r: Reader::new(self.body),
            left: self.count,
        }
    }
}

/// Iterator over `(kind, key, value)` of a batch; value is empty for deletes.
#[derive(Debug)]
pub(crate) struct BatchOps<'a> {
    r: Reader<'a>,
    left: u32,
}

impl<'a> Iterator for BatchOps<'a> {
    type Item = Result<(ValueKind, &'a [u8], &'a [u8]), &'static str>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.r.is_empty() {
            return None;
        }
        if self.left == 0 {
            self.r = Reader::new(&[]);
            return Some(Err("more entries than the batch's count"));
        }
        self.left -= 1;
        let res = (|| {
            let kind = ValueKind::from_u8(self.r.u8()?).ok_or("unknown entry kind")?;
            let key = self.r.bytes()?;
            let value = match kind {
                ValueKind::Put => self.r.bytes()?,
                ValueKind::Delete => &[][..],
            };
            Ok((kind, key, value))
        })();
        if res.is_err() {
            self.r = Reader::new(&[]);
        }
        Some(res)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode() {
        let mut b = WriteBatch::new();
        b.put(b"k1", b"v1").delete(b"k2").put(b"", b"");
        let rec = b.seal(77).to_vec();
        let d = DecodedBatch::decode(&rec).unwrap();
        assert_eq!(d.first_seq, 77);
        assert_eq!(d.count, 3);
        let ops: Vec<_> = d.ops().map(|r| r.unwrap()).collect();
        assert_eq!(ops[0], (ValueKind::Put, &b"k1"[..], &b"v1"[..]));
        assert_eq!(ops[1], (ValueKind::Delete, &b"k2"[..], &b""[..]));
        assert_eq!(ops[2], (ValueKind::Put, &b""[..], &b""[..]));
    }

    /// Regression (review): a checksummed record with a first sequence number
    /// near `u64::MAX` overflowed during WAL replay instead of being reported.
    #[test]
    fn rejects_out_of_range_sequence_numbers() {
        let mut b = WriteBatch::new();
        b.put(b"a", b"1").put(b"b", b"2");
        for first in [0, u64::MAX, u64::MAX - 1, super::super::ikey::MAX_SEQNO] {
            let rec = b.seal(first).to_vec();
            assert!(DecodedBatch::decode(&rec).is_err(), "first_seq {first}");
        }
        let rec = b.seal(super::super::ikey::MAX_SEQNO - 1).to_vec();
        assert!(DecodedBatch::decode(&rec).is_ok());
    }

    #[test]
    fn rejects_damage() {
        let mut b = WriteBatch::new();
        b.put(b"key", b"value");
        let rec = b.seal(1).to_vec();
        for cut in 0..rec.len() {
            assert!(DecodedBatch::decode(&rec[..cut]).is_err(), "cut {cut}");
        }
        let mut bad = rec.clone();
        bad[0] = 9;
        assert!(DecodedBatch::decode(&bad).is_err());
        let mut bad = rec.clone();
        bad[9] = 2; // count 2, holds 1
        assert!(DecodedBatch::decode(&bad).is_err());
        let mut extra = rec;
        extra.push(1);
        assert!(DecodedBatch::decode(&extra).is_err());
    }
}
