//! Cursors over SSTables: one table, and a whole sorted level (a
//! concatenation of non-overlapping tables opened lazily).

use std::sync::Arc;

use strata_sstable::TableIter;

use super::cursor::Cursor;
use super::error::Result;
use super::version::TableHandle;

/// A cursor over one table; keeps the table file alive.
pub(crate) struct TableCursor {
    it: TableIter,
    _handle: Arc<TableHandle>,
}

impl TableCursor {
    pub(crate) fn new(handle: &Arc<TableHandle>) -> TableCursor {
        TableCursor {
            it: handle.table.iter(),
            _handle: Arc::clone(handle),
        }
    }

    /// A cursor for one pass over the whole table (a compaction's input):
    /// see [`strata_sstable::Table::iter_sequential`].
    pub(crate) fn sequential(handle: &Arc<TableHandle>) -> TableCursor {
        TableCursor {
            it: handle.table.iter_sequential(),
            _handle: Arc::clone(handle),
        }
    }
}

impl Cursor for TableCursor {
    fn valid(&self) -> bool {
        self.it.valid()
    }
    fn key(&self) -> &[u8] {
        self.it.key()
    }
    fn value(&self) -> &[u8] {
        self.it.value()
    }
    fn seek_to_first(&mut self) -> Result<()> {
        Ok(self.it.seek_to_first()?)
    }
    fn seek_to_last(&mut self) -> Result<()> {
        Ok(self.it.seek_to_last()?)
    }
    fn seek(&mut self, key: &[u8]) -> Result<()> {
        Ok(self.it.seek(key)?)
    }
    fn seek_for_prev(&mut self, key: &[u8]) -> Result<()> {
        Ok(self.it.seek_for_prev(key)?)
    }
    fn next(&mut self) -> Result<()> {
        Ok(self.it.next()?)
    }
    fn prev(&mut self) -> Result<()> {
        Ok(self.it.prev()?)
    }
}

/// A cursor over a sorted level (L1 and below): files are sorted and
/// disjoint, so the level reads as one sorted run.
pub(crate) struct LevelCursor {
    files: Vec<Arc<TableHandle>>,
    idx: usize,
    cur: Option<TableCursor>,
}

impl LevelCursor {
    pub(crate) fn new(files: Vec<Arc<TableHandle>>) -> LevelCursor {
        LevelCursor {
            files,
            idx: 0,
            cur: None,
        }
    }

    fn open(&mut self, idx: usize) {
        if self.cur.is_none() || self.idx != idx {
            self.cur = self.files.get(idx).map(TableCursor::new);
        }
        self.idx = idx;
    }

    fn skip_forward(&mut self) -> Result<()> {
        while let Some(c) = &self.cur {
            if c.valid() {
                break;
            }
            if self.idx + 1 >= self.files.len() {
                self.cur = None;
                break;
            }
            self.open(self.idx + 1);
            if let Some(c) = &mut self.cur {
                c.seek_to_first()?;
            }
        }
        Ok(())
    }

    fn skip_backward(&mut self) -> Result<()> {
        while let Some(c) = &self.cur {
            if c.valid() {
                break;
            }
            if self.idx == 0 {
                self.cur = None;
                break;
            }
            self.open(self.idx - 1);
            if let Some(c) = &mut self.cur {
                c.seek_to_last()?;
            }
        }
        Ok(())
    }
}

impl Cursor for LevelCursor {
    fn valid(&self) -> bool {
        self.cur.as_ref().is_some_and(|c| c.valid())
    }
    fn key(&self) -> &[u8] {
        self.cur.as_ref().map_or(&[][..], |c| c.key())
    }
    fn value(&self) -> &[u8] {
        self.cur.as_ref().map_or(&[][..], |c| c.value())
    }
    fn seek_to_first(&mut self) -> Result<()> {
        if self.files.is_empty() {
            self.cur = None;
            return Ok(());
        }
        self.open(0);
        if let Some(c) = &mut self.cur {
            c.seek_to_first()?;
        }
        self.skip_forward()
    }
    fn seek_to_last(&mut self) -> Result<()> {
        if self.files.is_empty() {
            self.cur = None;
            return Ok(());
        }
        self.open(self.files.len() - 1);
        if let Some(c) = &mut self.cur {
            c.seek_to_last()?;
        }
        self.skip_backward()
    }
    fn seek(&mut self, key: &[u8]) -> Result<()> {
        let i = self
            .files
            .partition_point(|f| f.meta.largest.as_slice() < key);
        if i >= self.files.len() {
            self.cur = None;
            return Ok(());
        }
        self.open(i);
        if let Some(c) = &mut self.cur {
            c.seek(key)?;
        }
        self.skip_forward()
    }
    fn seek_for_prev(&mut self, key: &[u8]) -> Result<()> {
        let i = self
            .files
            .partition_point(|f| f.meta.smallest.as_slice() <= key);
        if i == 0 {
            self.cur = None;
            return Ok(());
        }
        self.open(i - 1);
        if let Some(c) = &mut self.cur {
            c.seek_for_prev(key)?;
        }
        self.skip_backward()
    }
    fn next(&mut self) -> Result<()> {
        if let Some(c) = &mut self.cur {
            c.next()?;
        }
        self.skip_forward()
    }
    fn prev(&mut self) -> Result<()> {
        if let Some(c) = &mut self.cur {
            c.prev()?;
        }
        self.skip_backward()
    }
}
