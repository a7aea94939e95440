//! Write batches: an ordered group of puts, deletes and WAL-only log data
//! applied atomically.
//!
//! A batch is kept in its WAL encoding from the start (like LevelDB's
//! `WriteBatch::rep_`), so committing it copies nothing: the tree fills in the
//! first sequence number and hands the bytes to the WAL as one record.
//!
//! ```text
//! record  = format:u8 (1 or 2) | first_seq:u64 LE | count:u32 LE | entry*
//! entry   = kind:u8 | varint len | bytes | (varint value_len | value  if kind = Put)
//! kind    = 0 Delete, 1 Put, 2 LogData (format 2 only)
//! ```
//!
//! Format 1 batches hold puts and deletes only; a batch holding log data is
//! written as format 2, which older code refuses as an unknown batch format.
//! Only puts and deletes consume sequence numbers. The WAL frames and
//! checksums the record; see `docs/internal-keys.md`.

use super::coding::{Reader, put_bytes};
use super::ikey::{SeqNo, ValueKind};

/// Format byte of a batch of puts and deletes only.
pub(crate) const BATCH_FORMAT: u8 = 1;
/// Format byte of a batch that holds log data (it may hold puts and deletes
/// too).
pub(crate) const BATCH_FORMAT_LOG_DATA: u8 = 2;
/// Entry kind byte of log data (puts and deletes use their [`ValueKind`]).
const KIND_LOG_DATA: u8 = 2;
/// Bytes before the first entry.
pub(crate) const HEADER_LEN: usize = 1 + 8 + 4;

/// The largest user key the tree accepts (bytes).
pub const MAX_KEY_LEN: usize = 1 << 20;
/// The largest value (and the largest log-data blob) the tree accepts
/// (bytes).
pub const MAX_VALUE_LEN: usize = 1 << 30;

/// An atomic group of puts, deletes and log data, committed with
/// [`Tree::write`].
///
/// Operations apply in the order they were added; a later operation on the
/// same key wins. After a crash either all of a batch or none of it is there.
///
/// [`log_data`](WriteBatch::log_data) adds a blob that is written to the WAL
/// with the batch but never applied to the tree (RocksDB's `PutLogData`):
/// it is invisible to reads and never reaches an SSTable; a consumer of the
/// log reads it back with [`Tree::read_log`].
///
/// [`Tree::write`]: super::Tree::write
/// [`Tree::read_log`]: super::Tree::read_log
///
/// ```
/// use strata_engine::lsm::WriteBatch;
/// let mut b = WriteBatch::new();
/// b.put(b"a", b"1");
/// b.delete(b"b");
/// b.log_data(b"index delta for a");
/// assert_eq!(b.len(), 3);
/// assert_eq!(b.write_count(), 2);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct WriteBatch {
    rep: Vec<u8>,
    /// Entries of every kind.
    count: u32,
    /// Puts and deletes (the sequence numbers the batch consumes).
    writes: u32,
}

impl std::fmt::Debug for WriteBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteBatch")
            .field("count", &self.count)
            .field("writes", &self.writes)
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
        WriteBatch {
            rep,
            count: 0,
            writes: 0,
        }
    }

    /// Adds a put of `value` under `key`.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> &mut Self {
        self.rep.push(ValueKind::Put as u8);
        put_bytes(&mut self.rep, key);
        put_bytes(&mut self.rep, value);
        self.count += 1;
        self.writes += 1;
        self
    }

    /// Adds a delete of `key`.
    pub fn delete(&mut self, key: &[u8]) -> &mut Self {
        self.rep.push(ValueKind::Delete as u8);
        put_bytes(&mut self.rep, key);
        self.count += 1;
        self.writes += 1;
        self
    }

    /// Adds `data` as log data: written to the WAL in this batch's record
    /// (so it is exactly as durable and atomic as the batch's puts and
    /// deletes), never applied to the memtable, never visible to `get` or
    /// `range`, never in an SSTable, and consuming no sequence number. WAL
    /// replay at open skips it; [`Tree::read_log`](super::Tree::read_log)
    /// returns it. A batch may hold only log data (a marker in the log).
    pub fn log_data(&mut self, data: &[u8]) -> &mut Self {
        self.rep[0] = BATCH_FORMAT_LOG_DATA;
        self.rep.push(KIND_LOG_DATA);
        put_bytes(&mut self.rep, data);
        self.count += 1;
        self
    }

    /// The number of entries (puts, deletes and log data).
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// The number of puts and deletes: the sequence numbers the batch
    /// consumes when committed.
    pub fn write_count(&self) -> usize {
        self.writes as usize
    }

    /// True when the batch holds no entry.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The size of the encoded batch in bytes (what the WAL record will be).
    pub fn approximate_size(&self) -> usize {
        self.rep.len()
    }

    /// Removes all entries.
    pub fn clear(&mut self) {
        self.rep.truncate(HEADER_LEN);
        self.rep[0] = BATCH_FORMAT;
        self.count = 0;
        self.writes = 0;
    }

    /// Fills in the header for a commit at `first_seq` and returns the record.
    pub(crate) fn seal(&mut self, first_seq: SeqNo) -> &[u8] {
        self.rep[1..9].copy_from_slice(&first_seq.to_le_bytes());
        self.rep[9..13].copy_from_slice(&self.count.to_le_bytes());
        &self.rep
    }

    /// Iterates the entries of the batch (before sealing: sequence numbers
    /// are assigned by the caller).
    pub(crate) fn ops(&self) -> BatchOps<'_> {
        BatchOps {
            r: Reader::new(&self.rep[HEADER_LEN..]),
            left: self.count,
            log_data_allowed: true,
        }
    }

    /// Checks the limits on keys, values and log data.
    pub(crate) fn validate(&self) -> Result<(), String> {
        for op in self.ops() {
            check_limits(&op.map_err(|e| format!("malformed batch: {e}"))?)?;
        }
        Ok(())
    }
}

/// The limits on one entry's key and value (log data counts as a value). Checked
/// on writes and again when a batch is decoded from the WAL, so that nothing
/// past them reaches a memtable (whose nodes store 32-bit lengths).
fn check_limits(op: &BatchOp<'_>) -> Result<(), String> {
    let (k, v) = match *op {
        BatchOp::Write(_, k, v) => (k, v),
        BatchOp::LogData(d) => (&[][..], d),
    };
    if k.len() > MAX_KEY_LEN {
        return Err(format!("key of {} bytes exceeds {MAX_KEY_LEN}", k.len()));
    }
    if v.len() > MAX_VALUE_LEN {
        return Err(format!(
            "value of {} bytes exceeds {MAX_VALUE_LEN}",
            v.len()
        ));
    }
    Ok(())
}

/// One decoded entry of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BatchOp<'a> {
    /// A put (key, value) or a delete (key, empty): consumes a sequence
    /// number and goes to the memtable.
    Write(ValueKind, &'a [u8], &'a [u8]),
    /// WAL-only data: no sequence number, never in the memtable.
    LogData(&'a [u8]),
}

/// A decoded batch record read back from the WAL.
#[derive(Debug)]
pub(crate) struct DecodedBatch<'a> {
    pub first_seq: SeqNo,
    pub count: u32,
    log_data_allowed: bool,
    body: &'a [u8],
}

impl<'a> DecodedBatch<'a> {
    /// Decodes the header and checks that the body holds exactly `count`
    /// well-formed entries. Errors carry a reason and the byte offset.
    pub(crate) fn decode(rec: &'a [u8]) -> Result<DecodedBatch<'a>, (usize, String)> {
        let mut r = Reader::new(rec);
        let fmt = r.u8().map_err(|e| (0, e.to_string()))?;
        if fmt != BATCH_FORMAT && fmt != BATCH_FORMAT_LOG_DATA {
            return Err((
                0,
                format!("batch format {fmt}, expected {BATCH_FORMAT} or {BATCH_FORMAT_LOG_DATA}"),
            ));
        }
        let first_seq = r.fixed_u64().map_err(|e| (1, e.to_string()))?;
        let count = r.fixed_u32().map_err(|e| (9, e.to_string()))?;
        // Sequence numbers must fit the internal-key trailer: a record with a
        // valid checksum but an impossible range is corruption, not an
        // overflow. (`count` bounds the puts and deletes.)
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
            log_data_allowed: fmt == BATCH_FORMAT_LOG_DATA,
            body: &rec[HEADER_LEN..],
        };
        let mut n = 0u32;
        let mut ops = d.ops();
        while let Some(op) = ops.next() {
            let op = op.map_err(|e| (HEADER_LEN + ops.r.pos(), e.to_string()))?;
            check_limits(&op).map_err(|e| (HEADER_LEN + ops.r.pos(), e))?;
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
            log_data_allowed: self.log_data_allowed,
        }
    }
}

/// Iterator over the entries of a batch.
#[derive(Debug)]
pub(crate) struct BatchOps<'a> {
    r: Reader<'a>,
    left: u32,
    /// False for format 1 records, which cannot hold log data.
    log_data_allowed: bool,
}

impl<'a> Iterator for BatchOps<'a> {
    type Item = Result<BatchOp<'a>, &'static str>;

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
            let kind = self.r.u8()?;
            if kind == KIND_LOG_DATA {
                if !self.log_data_allowed {
                    return Err("log data in a format 1 batch");
                }
                return Ok(BatchOp::LogData(self.r.bytes()?));
            }
            let kind = ValueKind::from_u8(kind).ok_or("unknown entry kind")?;
            let key = self.r.bytes()?;
            let value = match kind {
                ValueKind::Put => self.r.bytes()?,
                ValueKind::Delete => &[][..],
            };
            Ok(BatchOp::Write(kind, key, value))
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
    fn a_decoded_entry_past_the_limits_is_an_error() {
        // A record a writer's validation would have refused (say, written by
        // other software, checksum intact) is refused when decoded as well.
        let mut b = WriteBatch::new();
        b.put(b"k", b"v").put(&vec![7u8; MAX_KEY_LEN + 1], b"v");
        assert!(b.validate().is_err());
        let rec = b.seal(1).to_vec();
        let (offset, reason) = DecodedBatch::decode(&rec).unwrap_err();
        assert!(reason.contains("exceeds"), "{reason}");
        assert!(offset > HEADER_LEN, "{offset}");
        let mut ok = WriteBatch::new();
        ok.put(&vec![7u8; MAX_KEY_LEN], b"v");
        assert!(DecodedBatch::decode(ok.seal(1)).is_ok());
    }

    #[test]
    fn encode_decode() {
        let mut b = WriteBatch::new();
        b.put(b"k1", b"v1").delete(b"k2").put(b"", b"");
        let rec = b.seal(77).to_vec();
        let d = DecodedBatch::decode(&rec).unwrap();
        assert_eq!(d.first_seq, 77);
        assert_eq!(d.count, 3);
        let ops: Vec<_> = d.ops().map(|r| r.unwrap()).collect();
        assert_eq!(
            ops[0],
            BatchOp::Write(ValueKind::Put, &b"k1"[..], &b"v1"[..])
        );
        assert_eq!(
            ops[1],
            BatchOp::Write(ValueKind::Delete, &b"k2"[..], &b""[..])
        );
        assert_eq!(ops[2], BatchOp::Write(ValueKind::Put, &b""[..], &b""[..]));
        assert_eq!(
            rec[0], BATCH_FORMAT,
            "no log data: format 1 (readable by old code)"
        );
    }

    #[test]
    fn log_data_roundtrip_and_format() {
        let mut b = WriteBatch::new();
        b.put(b"k", b"v")
            .log_data(b"blob")
            .delete(b"d")
            .log_data(b"");
        assert_eq!((b.len(), b.write_count()), (4, 2));
        let rec = b.seal(5).to_vec();
        assert_eq!(rec[0], BATCH_FORMAT_LOG_DATA);
        let d = DecodedBatch::decode(&rec).unwrap();
        let ops: Vec<_> = d.ops().map(|r| r.unwrap()).collect();
        assert_eq!(
            ops,
            vec![
                BatchOp::Write(ValueKind::Put, &b"k"[..], &b"v"[..]),
                BatchOp::LogData(&b"blob"[..]),
                BatchOp::Write(ValueKind::Delete, &b"d"[..], &b""[..]),
                BatchOp::LogData(&b""[..]),
            ]
        );
        // Log data only.
        let mut only = WriteBatch::new();
        only.log_data(b"marker");
        assert_eq!(
            (only.len(), only.write_count(), only.is_empty()),
            (1, 0, false)
        );
        assert!(DecodedBatch::decode(only.seal(9)).is_ok());
        // `clear` returns to format 1.
        b.clear();
        b.put(b"a", b"b");
        assert_eq!(b.seal(1)[0], BATCH_FORMAT);
    }

    /// A format 1 record holding a log-data entry is corruption (format 1
    /// never held one), and an unknown format byte is refused by name.
    #[test]
    fn log_data_needs_format_2() {
        let mut b = WriteBatch::new();
        b.log_data(b"x");
        let mut rec = b.seal(1).to_vec();
        rec[0] = BATCH_FORMAT;
        let err = DecodedBatch::decode(&rec).unwrap_err();
        assert!(err.1.contains("log data in a format 1 batch"), "{err:?}");
        rec[0] = 3;
        let err = DecodedBatch::decode(&rec).unwrap_err();
        assert!(err.1.contains("batch format 3"), "{err:?}");
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
