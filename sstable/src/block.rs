//! Blocks of prefix-compressed entries with restart points: the builder, the
//! parsed block, and a cursor over one block.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::coding::{get_fixed32, get_varint32, put_fixed32, put_varint32};
use crate::format::BlockData;
use crate::order::compare_keys;

/// A corruption found inside a block: the offset within the block's
/// (uncompressed) bytes and what was wrong. The table layer adds the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BlockErr {
    pub pos: usize,
    pub reason: &'static str,
}

fn err<T>(pos: usize, reason: &'static str) -> Result<T, BlockErr> {
    Err(BlockErr { pos, reason })
}

/// Builds one block (data or index).
#[derive(Debug)]
pub(crate) struct BlockBuilder {
    buf: Vec<u8>,
    restarts: Vec<u32>,
    counter: usize,
    restart_interval: usize,
    last_key: Vec<u8>,
    entries: usize,
}

impl BlockBuilder {
    pub(crate) fn new(restart_interval: usize) -> Self {
        BlockBuilder {
            buf: Vec::new(),
            restarts: vec![0],
            counter: 0,
            restart_interval: restart_interval.max(1),
            last_key: Vec::new(),
            entries: 0,
        }
    }

    /// Adds an entry; the caller guarantees keys increase and that the
    /// block stays under 4 GiB.
    pub(crate) fn add(&mut self, key: &[u8], value: &[u8]) {
        let mut shared = 0;
        if self.counter < self.restart_interval {
            shared = key
                .iter()
                .zip(self.last_key.iter())
                .take_while(|(a, b)| a == b)
                .count();
        } else {
            self.restarts.push(self.buf.len() as u32);
            self.counter = 0;
        }
        let non_shared = &key[shared..];
        put_varint32(&mut self.buf, shared as u32);
        put_varint32(&mut self.buf, non_shared.len() as u32);
        put_varint32(&mut self.buf, value.len() as u32);
        self.buf.extend_from_slice(non_shared);
        self.buf.extend_from_slice(value);
        self.last_key.truncate(shared);
        self.last_key.extend_from_slice(non_shared);
        self.counter += 1;
        self.entries += 1;
    }

    /// The size of the block if finished now.
    pub(crate) fn estimated_size(&self) -> usize {
        self.buf.len() + self.restarts.len() * 4 + 4
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Appends the restart array and returns the finished block; call
    /// [`BlockBuilder::reset`] before reusing.
    pub(crate) fn finish(&mut self) -> &[u8] {
        if self.entries == 0 {
            self.restarts.clear();
        }
        for i in 0..self.restarts.len() {
            let r = self.restarts[i];
            put_fixed32(&mut self.buf, r);
        }
        put_fixed32(&mut self.buf, self.restarts.len() as u32);
        &self.buf
    }

    pub(crate) fn reset(&mut self) {
        self.buf.clear();
        self.restarts.clear();
        self.restarts.push(0);
        self.counter = 0;
        self.last_key.clear();
        self.entries = 0;
    }
}

/// A checked, parsed block: its bytes and the position of its restart array.
#[derive(Debug)]
pub(crate) struct Block {
    data: BlockData,
    /// Where the restart array begins (= end of the entries).
    restarts_offset: usize,
    num_restarts: usize,
}

impl Block {
    /// Parses and checks the restart array. `allow_empty` permits a block
    /// with no entries (only the index block of an empty table).
    pub(crate) fn new(data: BlockData, allow_empty: bool) -> Result<Block, BlockErr> {
        let bytes = data.bytes();
        let len = bytes.len();
        if len < 4 {
            return err(0, "block shorter than its 4-byte restart count");
        }
        let n = get_fixed32(bytes, len - 4).unwrap_or(u32::MAX) as usize;
        let restarts_offset = n
            .checked_mul(4)
            .and_then(|r| (len - 4).checked_sub(r))
            .ok_or(BlockErr {
                pos: len - 4,
                reason: "restart count does not fit in the block",
            })?;
        if n == 0 {
            if allow_empty && restarts_offset == 0 {
                return Ok(Block {
                    data,
                    restarts_offset: 0,
                    num_restarts: 0,
                });
            }
            return err(len - 4, "block has no restart points");
        }
        if restarts_offset == 0 {
            return err(0, "block has restart points but no entries");
        }
        let mut prev = None;
        for i in 0..n {
            let pos = restarts_offset + 4 * i;
            let r = get_fixed32(bytes, pos).unwrap_or(u32::MAX) as usize;
            let ok = match prev {
                None => r == 0,
                Some(p) => r > p,
            };
            if !ok || r >= restarts_offset {
                return err(pos, "restart offset out of order or out of range");
            }
            prev = Some(r);
        }
        Ok(Block {
            data,
            restarts_offset,
            num_restarts: n,
        })
    }

    #[inline]
    pub(crate) fn bytes(&self) -> &[u8] {
        self.data.bytes()
    }

    pub(crate) fn is_compressed(&self) -> bool {
        self.data.is_compressed()
    }

    /// Memory this block holds (for the cache's accounting).
    pub(crate) fn charge(&self) -> usize {
        self.data.bytes().len() + std::mem::size_of::<Block>() + 64
    }

    #[inline]
    fn restart(&self, data: &[u8], i: usize) -> usize {
        // Checked in `new`: in range and increasing.
        get_fixed32(data, self.restarts_offset + 4 * i).unwrap_or(0) as usize
    }

    /// The whole key stored at restart point `i` (restart entries share
    /// nothing with the previous key).
    #[inline]
    fn restart_key<'a>(&self, data: &'a [u8], i: usize) -> Result<&'a [u8], BlockErr> {
        let pos = self.restart(data, i);
        let (shared, p) = get_varint32(data, pos).ok_or(BlockErr {
            pos,
            reason: "bad varint in entry header",
        })?;
        if shared != 0 {
            return err(pos, "restart entry shares a prefix");
        }
        let (non_shared, p) = get_varint32(data, p).ok_or(BlockErr {
            pos,
            reason: "bad varint in entry header",
        })?;
        let (_, p) = get_varint32(data, p).ok_or(BlockErr {
            pos,
            reason: "bad varint in entry header",
        })?;
        let end = p
            .checked_add(non_shared as usize)
            .filter(|&e| e <= self.restarts_offset)
            .ok_or(BlockErr {
                pos,
                reason: "entry key runs past the entries",
            })?;
        data.get(p..end).ok_or(BlockErr {
            pos,
            reason: "entry key runs past the entries",
        })
    }

    /// Index of the last restart point whose key is < `target` (0 if none).
    fn search_restarts(&self, data: &[u8], target: &[u8]) -> Result<usize, BlockErr> {
        let mut left = 0usize;
        let mut right = self.num_restarts.saturating_sub(1);
        while left < right {
            let mid = left + (right - left).div_ceil(2);
            if compare_keys(self.restart_key(data, mid)?, target) == Ordering::Less {
                left = mid;
            } else {
                right = mid - 1;
            }
        }
        Ok(left)
    }

    /// Point lookup: the value range of the entry whose key equals `key`.
    /// `scratch` is a reusable key buffer.
    pub(crate) fn get(
        &self,
        key: &[u8],
        scratch: &mut Vec<u8>,
    ) -> Result<Option<(usize, usize)>, BlockErr> {
        if self.num_restarts == 0 {
            return Ok(None);
        }
        let data = self.bytes();
        let r = self.search_restarts(data, key)?;
        let mut pos = self.restart(data, r);
        scratch.clear();
        while pos < self.restarts_offset {
            let e = decode_entry(data, self.restarts_offset, pos, scratch)?;
            match compare_keys(scratch, key) {
                Ordering::Less => pos = e.next,
                Ordering::Equal => return Ok(Some((e.val_start, e.next))),
                Ordering::Greater => return Ok(None),
            }
        }
        Ok(None)
    }
}

/// Where one decoded entry's value is and where the next entry starts.
struct Entry {
    val_start: usize,
    next: usize,
}

/// Decodes the entry at `pos`, updating `key` (which must hold the previous
/// key, or be empty at a restart point).
#[inline]
fn decode_entry(
    data: &[u8],
    limit: usize,
    pos: usize,
    key: &mut Vec<u8>,
) -> Result<Entry, BlockErr> {
    const BAD: &str = "bad varint in entry header";
    let (shared, p) = get_varint32(data, pos).ok_or(BlockErr { pos, reason: BAD })?;
    let (non_shared, p) = get_varint32(data, p).ok_or(BlockErr { pos, reason: BAD })?;
    let (vlen, p) = get_varint32(data, p).ok_or(BlockErr { pos, reason: BAD })?;
    let shared = shared as usize;
    if shared > key.len() {
        return err(pos, "entry shares more bytes than the previous key has");
    }
    let kend = p.checked_add(non_shared as usize);
    let vend = kend.and_then(|k| k.checked_add(vlen as usize));
    let (kend, vend) = match (kend, vend) {
        (Some(k), Some(v)) if v <= limit => (k, v),
        _ => return err(pos, "entry runs past the end of the entries"),
    };
    let delta = data.get(p..kend).ok_or(BlockErr {
        pos,
        reason: "entry runs past the end of the entries",
    })?;
    key.truncate(shared);
    key.extend_from_slice(delta);
    Ok(Entry {
        val_start: kend,
        next: vend,
    })
}

/// A cursor over the entries of one block. Reuses its key buffer when
/// moved to another block.
#[derive(Debug, Default)]
pub(crate) struct BlockIter {
    block: Option<Arc<Block>>,
    /// Offset of the current entry.
    cur: usize,
    /// Offset of the entry after the current one.
    next: usize,
    key: Vec<u8>,
    val_start: usize,
    val_end: usize,
    valid: bool,
}

impl BlockIter {
    /// Points the cursor at `block` (not positioned).
    pub(crate) fn set_block(&mut self, block: Arc<Block>) {
        self.block = Some(block);
        self.valid = false;
    }

    pub(crate) fn clear(&mut self) {
        self.block = None;
        self.valid = false;
    }

    pub(crate) fn block(&self) -> Option<&Arc<Block>> {
        self.block.as_ref()
    }

    #[inline]
    pub(crate) fn valid(&self) -> bool {
        self.valid
    }

    #[inline]
    pub(crate) fn key(&self) -> &[u8] {
        if self.valid { &self.key } else { &[] }
    }

    #[inline]
    pub(crate) fn value(&self) -> &[u8] {
        match &self.block {
            Some(b) if self.valid => b.bytes().get(self.val_start..self.val_end).unwrap_or(&[]),
            _ => &[],
        }
    }

    /// Decodes the entry at `pos` (the key buffer must hold the previous key).
    #[inline]
    fn parse_at(&mut self, pos: usize) -> Result<(), BlockErr> {
        let Some(block) = &self.block else {
            self.valid = false;
            return Ok(());
        };
        if pos >= block.restarts_offset {
            self.valid = false;
            return Ok(());
        }
        let data = block.bytes();
        match decode_entry(data, block.restarts_offset, pos, &mut self.key) {
            Ok(e) => {
                self.cur = pos;
                self.next = e.next;
                self.val_start = e.val_start;
                self.val_end = e.next;
                self.valid = true;
                Ok(())
            }
            Err(e) => {
                self.valid = false;
                Err(e)
            }
        }
    }

    fn seek_to_restart(&mut self, i: usize) -> Result<(), BlockErr> {
        let Some(block) = &self.block else {
            self.valid = false;
            return Ok(());
        };
        let pos = block.restart(block.bytes(), i);
        self.key.clear();
        self.parse_at(pos)
    }

    pub(crate) fn seek_to_first(&mut self) -> Result<(), BlockErr> {
        match &self.block {
            Some(b) if b.num_restarts > 0 => self.seek_to_restart(0),
            _ => {
                self.valid = false;
                Ok(())
            }
        }
    }

    pub(crate) fn seek_to_last(&mut self) -> Result<(), BlockErr> {
        let (n, end) = match &self.block {
            Some(b) if b.num_restarts > 0 => (b.num_restarts, b.restarts_offset),
            _ => {
                self.valid = false;
                return Ok(());
            }
        };
        self.seek_to_restart(n - 1)?;
        while self.valid && self.next < end {
            self.parse_at(self.next)?;
        }
        Ok(())
    }

    /// Positions at the first entry >= `target`; not valid if there is none
    /// in this block.
    pub(crate) fn seek(&mut self, target: &[u8]) -> Result<(), BlockErr> {
        let r = match &self.block {
            Some(b) if b.num_restarts > 0 => b.search_restarts(b.bytes(), target)?,
            _ => {
                self.valid = false;
                return Ok(());
            }
        };
        self.seek_to_restart(r)?;
        while self.valid && compare_keys(&self.key, target) == Ordering::Less {
            self.next()?;
        }
        Ok(())
    }

    #[inline]
    pub(crate) fn next(&mut self) -> Result<(), BlockErr> {
        if !self.valid {
            return Ok(());
        }
        self.parse_at(self.next)
    }

    /// Moves to the previous entry; not valid if the current one is first.
    pub(crate) fn prev(&mut self) -> Result<(), BlockErr> {
        if !self.valid {
            return Ok(());
        }
        let original = self.cur;
        let Some(block) = self.block.clone() else {
            self.valid = false;
            return Ok(());
        };
        if original == 0 {
            self.valid = false;
            return Ok(());
        }
        let data = block.bytes();
        // The last restart point before the current entry.
        let (mut lo, mut hi) = (0usize, block.num_restarts);
        while lo + 1 < hi {
            let mid = lo + (hi - lo) / 2;
            if block.restart(data, mid) < original {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        self.seek_to_restart(lo)?;
        while self.valid && self.next < original {
            self.parse_at(self.next)?;
        }
        if self.valid && self.next != original {
            self.valid = false;
            return err(original, "entries do not chain up to the current entry");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(entries: &[(&[u8], &[u8])], interval: usize) -> Arc<Block> {
        let mut b = BlockBuilder::new(interval);
        for (k, v) in entries {
            b.add(k, v);
        }
        let bytes = b.finish().to_vec();
        Arc::new(Block::new(BlockData::Owned(bytes), true).unwrap())
    }

    fn keys(n: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
        (0..n)
            .map(|i| {
                (
                    format!("key{:05}", i * 2).into_bytes(),
                    format!("v{i}").into_bytes(),
                )
            })
            .collect()
    }

    #[test]
    fn iterate_seek_and_prev() {
        for interval in [1, 2, 3, 16] {
            let kv = keys(50);
            let refs: Vec<(&[u8], &[u8])> = kv
                .iter()
                .map(|(k, v)| (k.as_slice(), v.as_slice()))
                .collect();
            let block = build(&refs, interval);
            let mut it = BlockIter::default();
            it.set_block(Arc::clone(&block));
            it.seek_to_first().unwrap();
            for (k, v) in &kv {
                assert!(it.valid());
                assert_eq!(it.key(), k.as_slice());
                assert_eq!(it.value(), v.as_slice());
                it.next().unwrap();
            }
            assert!(!it.valid());
            it.seek_to_last().unwrap();
            for (k, _) in kv.iter().rev() {
                assert_eq!(it.key(), k.as_slice());
                it.prev().unwrap();
            }
            assert!(!it.valid());
            for i in 0..100 {
                let target = format!("key{i:05}").into_bytes();
                it.seek(&target).unwrap();
                let want = kv.iter().find(|(k, _)| *k >= target);
                match want {
                    Some((k, _)) => assert_eq!(it.key(), k.as_slice()),
                    None => assert!(!it.valid()),
                }
                let mut scratch = Vec::new();
                let got = block.get(&target, &mut scratch).unwrap();
                let exact = kv.iter().find(|(k, _)| *k == target);
                assert_eq!(got.is_some(), exact.is_some());
            }
        }
    }

    #[test]
    fn bad_restart_arrays_are_rejected() {
        let kv = keys(5);
        let refs: Vec<(&[u8], &[u8])> = kv
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
            .collect();
        let mut b = BlockBuilder::new(2);
        for (k, v) in &refs {
            b.add(k, v);
        }
        let good = b.finish().to_vec();
        assert!(Block::new(BlockData::Owned(good.clone()), false).is_ok());
        // Restart count too large.
        let mut bad = good.clone();
        let n = bad.len();
        bad[n - 4..].copy_from_slice(&1000u32.to_le_bytes());
        assert!(Block::new(BlockData::Owned(bad), false).is_err());
        // First restart not zero.
        let mut bad = good.clone();
        let r0 = n - 4 - 3 * 4;
        bad[r0..r0 + 4].copy_from_slice(&1u32.to_le_bytes());
        assert!(Block::new(BlockData::Owned(bad), false).is_err());
        // Too short.
        assert!(Block::new(BlockData::Owned(vec![1, 0]), false).is_err());
        // Empty allowed only when asked.
        let empty = 0u32.to_le_bytes().to_vec();
        assert!(Block::new(BlockData::Owned(empty.clone()), false).is_err());
        assert!(Block::new(BlockData::Owned(empty), true).is_ok());
    }

    #[test]
    fn bad_entries_are_errors_not_panics() {
        // One restart at 0, entry claims shared = 3 with no previous key.
        let mut data = vec![3u8, 1, 1, b'a', b'b'];
        data.extend_from_slice(&0u32.to_le_bytes());
        data.extend_from_slice(&1u32.to_le_bytes());
        let block = Arc::new(Block::new(BlockData::Owned(data), false).unwrap());
        let mut it = BlockIter::default();
        it.set_block(Arc::clone(&block));
        assert!(it.seek_to_first().is_err());
        assert!(it.seek(b"a").is_err());
        assert!(block.get(b"a", &mut Vec::new()).is_err());
        // Value length past the end.
        let mut data = vec![0u8, 1, 100, b'a', b'b'];
        data.extend_from_slice(&0u32.to_le_bytes());
        data.extend_from_slice(&1u32.to_le_bytes());
        let block = Arc::new(Block::new(BlockData::Owned(data), false).unwrap());
        it.set_block(block);
        assert!(it.seek_to_last().is_err());
    }
}
