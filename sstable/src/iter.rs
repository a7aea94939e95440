//! [`TableIter`]: a cursor over a table's entries in both directions.

use std::sync::Arc;

use crate::block::{BlockErr, BlockIter};
use crate::error::SstError;
use crate::table::Table;

/// A cursor over a [`Table`] (RocksDB style). It starts out not valid;
/// position it with a seek. `key` and `value` may be called only while
/// [`TableIter::valid`] (otherwise they return empty slices).
///
/// After an error the cursor is not valid; seek again to reuse it. The
/// cursor keeps the table (and the blocks it is on) alive.
#[derive(Debug)]
pub struct TableIter {
    table: Arc<Table>,
    block_idx: usize,
    it: BlockIter,
    /// `Some(offset)` for a one-pass cursor ([`Table::iter_sequential`]):
    /// the file offset below which the map's pages were released.
    released_to: Option<u64>,
}

/// A one-pass cursor releases the mapped pages behind it in steps of this
/// many bytes (one `madvise` per step).
const RELEASE_STEP: u64 = 1 << 20;

impl TableIter {
    pub(crate) fn new(table: Arc<Table>) -> Self {
        TableIter {
            table,
            block_idx: 0,
            it: BlockIter::default(),
            released_to: None,
        }
    }

    pub(crate) fn sequential(table: Arc<Table>) -> Self {
        TableIter {
            released_to: Some(0),
            ..TableIter::new(table)
        }
    }

    /// True when positioned on an entry.
    #[inline]
    pub fn valid(&self) -> bool {
        self.it.valid()
    }

    /// The current key (empty when not valid).
    #[inline]
    pub fn key(&self) -> &[u8] {
        self.it.key()
    }

    /// The current value (empty when not valid).
    #[inline]
    pub fn value(&self) -> &[u8] {
        self.it.value()
    }

    fn fail(&mut self, e: BlockErr) -> SstError {
        let handle = self
            .table
            .index
            .handles
            .get(self.block_idx)
            .copied()
            .unwrap_or_default();
        let err = self
            .table
            .block_error(handle, self.it.block().map(|b| &**b), e);
        self.it.clear();
        err
    }

    /// Loads block `i` into the block cursor.
    fn load(&mut self, i: usize) -> Result<(), SstError> {
        let loaded = match self.released_to {
            None => self.table.load_block(i),
            Some(released) => {
                let b = self.table.load_block_uncached(i);
                if b.is_ok() {
                    self.released_to = Some(self.table.release_before(i, released, RELEASE_STEP));
                }
                b
            }
        };
        match loaded {
            Ok(b) => {
                self.block_idx = i;
                self.it.set_block(b);
                Ok(())
            }
            Err(e) => {
                self.it.clear();
                Err(e)
            }
        }
    }

    /// Moves forward from block `i` until a block yields a first entry.
    fn first_from(&mut self, mut i: usize) -> Result<(), SstError> {
        while i < self.table.index.len() {
            self.load(i)?;
            if let Err(e) = self.it.seek_to_first() {
                return Err(self.fail(e));
            }
            if self.it.valid() {
                return Ok(());
            }
            i += 1;
        }
        self.it.clear();
        Ok(())
    }

    /// Moves backward from block `i` (inclusive) until a block yields a last
    /// entry.
    fn last_from(&mut self, i: Option<usize>) -> Result<(), SstError> {
        let mut i = i;
        while let Some(b) = i {
            self.load(b)?;
            if let Err(e) = self.it.seek_to_last() {
                return Err(self.fail(e));
            }
            if self.it.valid() {
                return Ok(());
            }
            i = b.checked_sub(1);
        }
        self.it.clear();
        Ok(())
    }

    /// Positions at the first entry (not valid if the table is empty).
    pub fn seek_to_first(&mut self) -> Result<(), SstError> {
        self.first_from(0)
    }

    /// Positions at the last entry (not valid if the table is empty).
    pub fn seek_to_last(&mut self) -> Result<(), SstError> {
        self.last_from(self.table.index.len().checked_sub(1))
    }

    /// Positions at the first entry whose key is >= `key`.
    pub fn seek(&mut self, key: &[u8]) -> Result<(), SstError> {
        let i = self.table.index.find(key);
        if i >= self.table.index.len() {
            self.it.clear();
            return Ok(());
        }
        self.load(i)?;
        if let Err(e) = self.it.seek(key) {
            return Err(self.fail(e));
        }
        if !self.it.valid() {
            // Every key of block i is < key <= its separator: the answer is
            // the first entry of the next block.
            return self.first_from(i + 1);
        }
        Ok(())
    }

    /// Positions at the last entry whose key is <= `key`.
    pub fn seek_for_prev(&mut self, key: &[u8]) -> Result<(), SstError> {
        self.seek(key)?;
        if !self.valid() {
            return self.seek_to_last();
        }
        if self.key() != key {
            self.prev()?;
        }
        Ok(())
    }

    /// Moves to the next entry (not valid after the last one).
    // A fallible cursor step (the contract's name), not `Iterator::next`.
    #[allow(clippy::should_implement_trait)]
    #[inline]
    pub fn next(&mut self) -> Result<(), SstError> {
        if !self.it.valid() {
            return Ok(());
        }
        if let Err(e) = self.it.next() {
            return Err(self.fail(e));
        }
        if !self.it.valid() {
            return self.first_from(self.block_idx + 1);
        }
        Ok(())
    }

    /// Moves to the previous entry (not valid before the first one).
    pub fn prev(&mut self) -> Result<(), SstError> {
        if !self.it.valid() {
            return Ok(());
        }
        if let Err(e) = self.it.prev() {
            return Err(self.fail(e));
        }
        if !self.it.valid() {
            return self.last_from(self.block_idx.checked_sub(1));
        }
        Ok(())
    }

    /// The table this cursor reads.
    pub fn table(&self) -> &Arc<Table> {
        &self.table
    }
}
