//! Internal cursors over internal keys, and the merging cursor that combines
//! them (LevelDB's `MergingIterator`).
//!
//! A cursor starts invalid; `seek*` positions it; `key`/`value` may only be
//! called while it is valid.

use super::error::Result;

/// A bidirectional cursor over (internal key, value) pairs in key order.
pub(crate) trait Cursor: Send {
    fn valid(&self) -> bool;
    fn key(&self) -> &[u8];
    fn value(&self) -> &[u8];
    fn seek_to_first(&mut self) -> Result<()>;
    fn seek_to_last(&mut self) -> Result<()>;
    /// Positions at the first entry `>= key`.
    fn seek(&mut self, key: &[u8]) -> Result<()>;
    /// Positions at the last entry `<= key`.
    fn seek_for_prev(&mut self, key: &[u8]) -> Result<()>;
    fn next(&mut self) -> Result<()>;
    fn prev(&mut self) -> Result<()>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Forward,
    Reverse,
}

/// Merges children whose key sets are disjoint (every internal key is unique
/// in the tree) into one ordered cursor.
pub(crate) struct MergingCursor {
    children: Vec<Box<dyn Cursor>>,
    current: Option<usize>,
    direction: Direction,
}

impl std::fmt::Debug for MergingCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MergingCursor")
            .field("children", &self.children.len())
            .field("current", &self.current)
            .finish()
    }
}

impl MergingCursor {
    pub(crate) fn new(children: Vec<Box<dyn Cursor>>) -> Self {
        MergingCursor {
            children,
            current: None,
            direction: Direction::Forward,
        }
    }

    fn find_smallest(&mut self) {
        let mut best: Option<usize> = None;
        for (i, c) in self.children.iter().enumerate() {
            if !c.valid() {
                continue;
            }
            match best {
                Some(b) if self.children[b].key() <= c.key() => {}
                _ => best = Some(i),
            }
        }
        self.current = best;
    }

    fn find_largest(&mut self) {
        let mut best: Option<usize> = None;
        for (i, c) in self.children.iter().enumerate().rev() {
            if !c.valid() {
                continue;
            }
            match best {
                Some(b) if self.children[b].key() >= c.key() => {}
                _ => best = Some(i),
            }
        }
        self.current = best;
    }
}

impl Cursor for MergingCursor {
    fn valid(&self) -> bool {
        self.current.is_some()
    }

    fn key(&self) -> &[u8] {
        match self.current {
            Some(i) => self.children[i].key(),
            None => &[],
        }
    }

    fn value(&self) -> &[u8] {
        match self.current {
            Some(i) => self.children[i].value(),
            None => &[],
        }
    }

    fn seek_to_first(&mut self) -> Result<()> {
        for c in &mut self.children {
            c.seek_to_first()?;
        }
        self.direction = Direction::Forward;
        self.find_smallest();
        Ok(())
    }

    fn seek_to_last(&mut self) -> Result<()> {
        for c in &mut self.children {
            c.seek_to_last()?;
        }
        self.direction = Direction::Reverse;
        self.find_largest();
        Ok(())
    }

    fn seek(&mut self, key: &[u8]) -> Result<()> {
        for c in &mut self.children {
            c.seek(key)?;
        }
        self.direction = Direction::Forward;
        self.find_smallest();
        Ok(())
    }

    fn seek_for_prev(&mut self, key: &[u8]) -> Result<()> {
        for c in &mut self.children {
            c.seek_for_prev(key)?;
        }
        self.direction = Direction::Reverse;
        self.find_largest();
        Ok(())
    }

    fn next(&mut self) -> Result<()> {
        let Some(cur) = self.current else {
            return Ok(());
        };
        if self.direction != Direction::Forward {
            // Every other child must be positioned after the current key.
            let key = self.children[cur].key().to_vec();
            for (i, c) in self.children.iter_mut().enumerate() {
                if i != cur {
                    c.seek(&key)?;
                    if c.valid() && c.key() == key.as_slice() {
                        c.next()?;
                    }
                }
            }
            self.direction = Direction::Forward;
        }
        self.children[cur].next()?;
        self.find_smallest();
        Ok(())
    }

    fn prev(&mut self) -> Result<()> {
        let Some(cur) = self.current else {
            return Ok(());
        };
        if self.direction != Direction::Reverse {
            let key = self.children[cur].key().to_vec();
            for (i, c) in self.children.iter_mut().enumerate() {
                if i != cur {
                    c.seek_for_prev(&key)?;
                    if c.valid() && c.key() == key.as_slice() {
                        c.prev()?;
                    }
                }
            }
            self.direction = Direction::Reverse;
        }
        self.children[cur].prev()?;
        self.find_largest();
        Ok(())
    }
}

/// A cursor over a sorted in-memory vector (tests and small helpers).
#[cfg(test)]
pub(crate) struct VecCursor {
    items: Vec<(Vec<u8>, Vec<u8>)>,
    pos: Option<usize>,
}

#[cfg(test)]
impl VecCursor {
    pub(crate) fn new(mut items: Vec<(Vec<u8>, Vec<u8>)>) -> Self {
        items.sort();
        VecCursor { items, pos: None }
    }
}

#[cfg(test)]
impl Cursor for VecCursor {
    fn valid(&self) -> bool {
        self.pos.is_some()
    }
    fn key(&self) -> &[u8] {
        self.pos.map_or(&[][..], |p| &self.items[p].0)
    }
    fn value(&self) -> &[u8] {
        self.pos.map_or(&[][..], |p| &self.items[p].1)
    }
    fn seek_to_first(&mut self) -> Result<()> {
        self.pos = (!self.items.is_empty()).then_some(0);
        Ok(())
    }
    fn seek_to_last(&mut self) -> Result<()> {
        self.pos = self.items.len().checked_sub(1);
        Ok(())
    }
    fn seek(&mut self, key: &[u8]) -> Result<()> {
        let p = self.items.partition_point(|(k, _)| k.as_slice() < key);
        self.pos = (p < self.items.len()).then_some(p);
        Ok(())
    }
    fn seek_for_prev(&mut self, key: &[u8]) -> Result<()> {
        let p = self.items.partition_point(|(k, _)| k.as_slice() <= key);
        self.pos = p.checked_sub(1);
        Ok(())
    }
    fn next(&mut self) -> Result<()> {
        self.pos = self
            .pos
            .and_then(|p| (p + 1 < self.items.len()).then_some(p + 1));
        Ok(())
    }
    fn prev(&mut self) -> Result<()> {
        self.pos = self.pos.and_then(|p| p.checked_sub(1));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn merging_matches_sorted_union_both_directions() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for _ in 0..50 {
            let mut all = Vec::new();
            let mut children: Vec<Box<dyn Cursor>> = Vec::new();
            for _ in 0..rng.random_range(0..5) {
                let mut items = Vec::new();
                for _ in 0..rng.random_range(0..20) {
                    let k: Vec<u8> = vec![rng.random_range(0..200u8), rng.random()];
                    if !all.iter().any(|(a, _): &(Vec<u8>, Vec<u8>)| *a == k) {
                        all.push((k.clone(), vec![]));
                        items.push((k, vec![]));
                    }
                }
                children.push(Box::new(VecCursor::new(items)));
            }
            all.sort();
            let mut m = MergingCursor::new(children);
            // Random walk with direction changes, compared against the vector.
            let mut pos: Option<usize> = None;
            for _ in 0..100 {
                match rng.random_range(0..6) {
                    0 => {
                        m.seek_to_first().unwrap();
                        pos = (!all.is_empty()).then_some(0);
                    }
                    1 => {
                        m.seek_to_last().unwrap();
                        pos = all.len().checked_sub(1);
                    }
                    2 => {
                        let k = vec![rng.random_range(0..200u8)];
                        m.seek(&k).unwrap();
                        let p = all.partition_point(|(a, _)| a.as_slice() < k.as_slice());
                        pos = (p < all.len()).then_some(p);
                    }
                    3 => {
                        let k = vec![rng.random_range(0..200u8)];
                        m.seek_for_prev(&k).unwrap();
                        let p = all.partition_point(|(a, _)| a.as_slice() <= k.as_slice());
                        pos = p.checked_sub(1);
                    }
                    4 => {
                        if pos.is_some() {
                            m.next().unwrap();
                            pos = pos.and_then(|p| (p + 1 < all.len()).then_some(p + 1));
                        }
                    }
                    _ => {
                        if pos.is_some() {
                            m.prev().unwrap();
                            pos = pos.and_then(|p| p.checked_sub(1));
                        }
                    }
                }
                assert_eq!(m.valid(), pos.is_some());
                if let Some(p) = pos {
                    assert_eq!(m.key(), all[p].0.as_slice());
                }
            }
        }
    }
}
