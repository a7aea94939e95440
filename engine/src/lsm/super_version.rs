//! The read view of a tree: active memtable, immutable memtables and the
//! current version, swapped as one `Arc` so a reader sees them consistently.

use std::sync::Arc;

use super::cursor::{Cursor, MergingCursor};
use super::memtable::Memtable;
use super::table_cursor::{LevelCursor, TableCursor};
use super::version::Version;

/// Everything a read needs, captured at one moment.
#[derive(Debug)]
pub(crate) struct SuperVersion {
    pub mem: Arc<Memtable>,
    /// Immutable memtables, newest first.
    pub imms: Vec<Arc<Memtable>>,
    pub version: Arc<Version>,
}

impl SuperVersion {
    /// A merging cursor over every source (not positioned).
    pub(crate) fn merging_cursor(&self) -> MergingCursor {
        let mut children: Vec<Box<dyn Cursor>> = Vec::new();
        children.push(Box::new(self.mem.cursor()));
        for m in &self.imms {
            children.push(Box::new(m.cursor()));
        }
        for t in &self.version.levels[0] {
            children.push(Box::new(TableCursor::new(t)));
        }
        for level in &self.version.levels[1..] {
            if !level.is_empty() {
                children.push(Box::new(LevelCursor::new(level.clone())));
            }
        }
        MergingCursor::new(children)
    }
}
