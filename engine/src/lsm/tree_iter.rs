//! The user-facing range iterator: merges every source at a snapshot, hides
//! deleted and newer-than-snapshot entries, and walks forward and backward.

use std::ops::Bound;
use std::path::PathBuf;
use std::sync::Arc;

use super::cursor::{Cursor, MergingCursor};
use super::error::{Error, Result};
use super::ikey::{self, SeqNo, ValueKind};
use super::super_version::SuperVersion;

/// An iterator over `(key, value)` pairs of a key range at a snapshot, in
/// key order; `next_back` walks from the other end (the two ends never
/// cross). Created by [`Tree::range`](super::Tree::range).
///
/// The iterator holds the memtables and table files it reads, so it sees a
/// stable view however long it lives; files compacted away meanwhile are
/// deleted when it is dropped.
pub struct TreeIter {
    sv: Arc<SuperVersion>,
    seq: SeqNo,
    dir: PathBuf,
    /// Escaped bounds.
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
    front: Option<MergingCursor>,
    back: Option<MergingCursor>,
    /// Escaped key last yielded from each end.
    front_last: Option<Vec<u8>>,
    back_last: Option<Vec<u8>>,
    done: bool,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for TreeIter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TreeIter")
            .field("seq", &self.seq)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

fn escape_bound(b: Bound<&[u8]>) -> Bound<Vec<u8>> {
    match b {
        Bound::Included(k) => {
            let mut v = Vec::new();
            ikey::escape_into(k, &mut v);
            Bound::Included(v)
        }
        Bound::Excluded(k) => {
            let mut v = Vec::new();
            ikey::escape_into(k, &mut v);
            Bound::Excluded(v)
        }
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn above_upper(upper: &Bound<Vec<u8>>, esc: &[u8]) -> bool {
    match upper {
        Bound::Included(u) => esc > u.as_slice(),
        Bound::Excluded(u) => esc >= u.as_slice(),
        Bound::Unbounded => false,
    }
}

fn below_lower(lower: &Bound<Vec<u8>>, esc: &[u8]) -> bool {
    match lower {
        Bound::Included(l) => esc < l.as_slice(),
        Bound::Excluded(l) => esc <= l.as_slice(),
        Bound::Unbounded => false,
    }
}

impl TreeIter {
    pub(crate) fn new(
        sv: Arc<SuperVersion>,
        seq: SeqNo,
        dir: PathBuf,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
    ) -> TreeIter {
        TreeIter {
            sv,
            seq,
            dir,
            lower: escape_bound(lower),
            upper: escape_bound(upper),
            front: None,
            back: None,
            front_last: None,
            back_last: None,
            done: false,
            scratch: Vec::new(),
        }
    }

    fn corrupt(&self, key: &[u8]) -> Error {
        Error::Corruption {
            path: self.dir.clone(),
            offset: 0,
            reason: format!(
                "malformed internal key {:02x?} in a merged scan",
                &key[..key.len().min(64)]
            ),
        }
    }

    fn init_front(&mut self) -> Result<MergingCursor> {
        let mut m = self.sv.merging_cursor();
        self.scratch.clear();
        match &self.lower {
            Bound::Included(l) => {
                ikey::first_of_escaped(l, &mut self.scratch);
                m.seek(&self.scratch)?;
            }
            Bound::Excluded(l) => {
                ikey::last_of_escaped(l, &mut self.scratch);
                m.seek(&self.scratch)?;
            }
            Bound::Unbounded => m.seek_to_first()?,
        }
        Ok(m)
    }

    fn init_back(&mut self) -> Result<MergingCursor> {
        let mut m = self.sv.merging_cursor();
        self.scratch.clear();
        match &self.upper {
            Bound::Included(u) => {
                ikey::last_of_escaped(u, &mut self.scratch);
                m.seek_for_prev(&self.scratch)?;
            }
            Bound::Excluded(u) => {
                ikey::first_of_escaped(u, &mut self.scratch);
                m.seek_for_prev(&self.scratch)?;
            }
            Bound::Unbounded => m.seek_to_last()?,
        }
        Ok(m)
    }

    fn step_front(&mut self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let mut m = match self.front.take() {
            Some(m) => m,
            None => self.init_front()?,
        };
        let res = self.forward(&mut m);
        self.front = Some(m);
        res
    }

    fn forward(&mut self, m: &mut MergingCursor) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        // `front_last` holds the escaped user key already handled: older
        // versions of it are skipped.
        loop {
            if !m.valid() {
                return Ok(None);
            }
            let key = m.key();
            let Some(p) = ikey::parse(key) else {
                return Err(self.corrupt(key));
            };
            if p.seq > self.seq || self.front_last.as_deref() == Some(p.escaped) {
                m.next()?;
                continue;
            }
            if above_upper(&self.upper, p.escaped) {
                return Ok(None);
            }
            if let Some(b) = &self.back_last
                && p.escaped >= b.as_slice()
            {
                return Ok(None);
            }
            let last = self.front_last.get_or_insert_with(Vec::new);
            last.clear();
            last.extend_from_slice(p.escaped);
            match p.kind {
                ValueKind::Delete => m.next()?,
                ValueKind::Put => {
                    let Some(k) = ikey::unescape(p.escaped) else {
                        return Err(self.corrupt(key));
                    };
                    let v = m.value().to_vec();
                    m.next()?;
                    return Ok(Some((k, v)));
                }
            }
        }
    }

    /// Calls `f` with each entry's user key and value, borrowed from the
    /// sources (no copy), in key order when `forward`, else in reverse, until
    /// `f` returns `Ok(true)` (stop) or an error, or the range ends. Errors of
    /// the tree go through `on_err`. Continues from where the iterator is, and
    /// the iterator can go on afterwards. (Walking backward still copies each
    /// entry: versions of a key are met oldest first there.)
    pub fn visit<E>(
        &mut self,
        forward: bool,
        on_err: impl Fn(Error) -> E,
        mut f: impl FnMut(&[u8], &[u8]) -> std::result::Result<bool, E>,
    ) -> std::result::Result<(), E> {
        if !forward {
            while let Some(kv) = self.next_back() {
                let (k, v) = kv.map_err(&on_err)?;
                if f(&k, &v)? {
                    break;
                }
            }
            return Ok(());
        }
        if self.done {
            return Ok(());
        }
        let mut m = match self.front.take() {
            Some(m) => m,
            None => self.init_front().map_err(|e| {
                self.done = true;
                on_err(e)
            })?,
        };
        let r = self.visit_forward(&mut m, &on_err, &mut f);
        self.front = Some(m);
        r
    }

    fn visit_forward<E>(
        &mut self,
        m: &mut MergingCursor,
        on_err: &impl Fn(Error) -> E,
        f: &mut impl FnMut(&[u8], &[u8]) -> std::result::Result<bool, E>,
    ) -> std::result::Result<(), E> {
        let mut user_key = Vec::new();
        let fail = |it: &mut TreeIter, e: Error| {
            it.done = true;
            on_err(e)
        };
        loop {
            if !m.valid() {
                self.done = true;
                return Ok(());
            }
            let key = m.key();
            let Some(p) = ikey::parse(key) else {
                let e = self.corrupt(key);
                return Err(fail(self, e));
            };
            if p.seq > self.seq || self.front_last.as_deref() == Some(p.escaped) {
                if let Err(e) = m.next() {
                    return Err(fail(self, e));
                }
                continue;
            }
            let past_back = self
                .back_last
                .as_ref()
                .is_some_and(|b| p.escaped >= b.as_slice());
            if above_upper(&self.upper, p.escaped) || past_back {
                self.done = true;
                return Ok(());
            }
            let last = self.front_last.get_or_insert_with(Vec::new);
            last.clear();
            last.extend_from_slice(p.escaped);
            let stop = match p.kind {
                ValueKind::Delete => false,
                ValueKind::Put => {
                    user_key.clear();
                    if !ikey::unescape_into(p.escaped, &mut user_key) {
                        let e = self.corrupt(key);
                        return Err(fail(self, e));
                    }
                    match f(&user_key, m.value()) {
                        Ok(stop) => stop,
                        Err(e) => {
                            self.done = true;
                            return Err(e);
                        }
                    }
                }
            };
            if let Err(e) = m.next() {
                return Err(fail(self, e));
            }
            if stop {
                return Ok(());
            }
        }
    }

    fn step_back(&mut self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let mut m = match self.back.take() {
            Some(m) => m,
            None => self.init_back()?,
        };
        let res = self.backward(&mut m);
        self.back = Some(m);
        res
    }

    fn backward(&mut self, m: &mut MergingCursor) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        // Walking backward meets a user key's versions oldest first; the
        // newest visible one is the last seen before the key changes.
        let mut cur: Option<Vec<u8>> = None;
        let mut newest: Option<(ValueKind, Vec<u8>)> = None;
        loop {
            let at_end = !m.valid();
            let parsed = if at_end {
                None
            } else {
                let key = m.key();
                match ikey::parse(key) {
                    Some(p) => Some(p),
                    None => return Err(self.corrupt(key)),
                }
            };
            let changed = match (&cur, &parsed) {
                (Some(c), Some(p)) => c.as_slice() != p.escaped,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if changed {
                let c = cur.take().unwrap_or_default();
                if let Some((ValueKind::Put, v)) = newest.take() {
                    let Some(k) = ikey::unescape(&c) else {
                        return Err(self.corrupt(&c));
                    };
                    self.back_last = Some(c);
                    return Ok(Some((k, v)));
                }
                newest = None;
                continue;
            }
            let Some(p) = parsed else {
                return Ok(None);
            };
            if cur.is_none() {
                if below_lower(&self.lower, p.escaped) {
                    return Ok(None);
                }
                if let Some(f) = &self.front_last
                    && p.escaped <= f.as_slice()
                {
                    return Ok(None);
                }
                cur = Some(p.escaped.to_vec());
            }
            if p.seq <= self.seq {
                let v = match p.kind {
                    ValueKind::Put => m.value().to_vec(),
                    ValueKind::Delete => Vec::new(),
                };
                newest = Some((p.kind, v));
            }
            m.prev()?;
        }
    }
}

impl Iterator for TreeIter {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.step_front() {
            Ok(Some(kv)) => Some(Ok(kv)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl DoubleEndedIterator for TreeIter {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.step_back() {
            Ok(Some(kv)) => Some(Ok(kv)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
