//! The trait impls of [`AttributeValue`] that visit nested values: `Drop`, `Clone`,
//! `PartialEq`, `Debug`, and the size computation.
//!
//! A caller can build a value nested as deeply as memory allows, so none of these may
//! recurse once per level: `Drop`, `Clone`, `PartialEq` and [`size`] keep an explicit
//! stack on the heap; `Debug` recurses but stops at [`MAX_DEBUG_DEPTH`] levels.

use crate::Name;
use std::collections::{BTreeMap, btree_map};
use std::fmt;
use std::mem;

use crate::AttributeValue;
use crate::value::number_size;

/// Deepest level `Debug` prints; deeper values are shown as `…`. Above DynamoDB's 32
/// levels, so every storable value prints in full.
pub(crate) const MAX_DEBUG_DEPTH: usize = 40;

/// Whether `v` is a list or map with at least one element (something a walk descends into).
fn has_children(v: &AttributeValue) -> bool {
    match v {
        AttributeValue::L(l) => !l.is_empty(),
        AttributeValue::M(m) => !m.is_empty(),
        _ => false,
    }
}

/// Moves the non-empty lists and maps directly inside `v` onto `stack`, leaving `NULL`s.
fn detach_children(v: &mut AttributeValue, stack: &mut Vec<AttributeValue>) {
    match v {
        AttributeValue::L(l) => {
            for e in l.iter_mut().filter(|e| has_children(e)) {
                stack.push(mem::replace(e, AttributeValue::Null));
            }
        }
        AttributeValue::M(m) => {
            for e in m.values_mut().filter(|e| has_children(e)) {
                stack.push(mem::replace(e, AttributeValue::Null));
            }
        }
        _ => {}
    }
}

impl Drop for AttributeValue {
    /// Drops nested lists and maps one at a time: every value dropped by the compiler's
    /// glue has no nested containers left, so dropping never recurses more than once.
    fn drop(&mut self) {
        if !has_children(self) {
            return;
        }
        let mut stack = Vec::new();
        detach_children(self, &mut stack);
        while let Some(mut v) = stack.pop() {
            detach_children(&mut v, &mut stack);
        }
    }
}

/// A copy of a value that is not a list or map.
fn clone_leaf(v: &AttributeValue) -> AttributeValue {
    match v {
        AttributeValue::S(s) => AttributeValue::S(s.clone()),
        AttributeValue::N(n) => AttributeValue::N(*n),
        AttributeValue::B(b) => AttributeValue::B(b.clone()),
        AttributeValue::Bool(b) => AttributeValue::Bool(*b),
        AttributeValue::Null => AttributeValue::Null,
        AttributeValue::Ss(s) => AttributeValue::Ss(s.clone()),
        AttributeValue::Ns(s) => AttributeValue::Ns(s.clone()),
        AttributeValue::Bs(s) => AttributeValue::Bs(s.clone()),
        AttributeValue::L(_) | AttributeValue::M(_) => AttributeValue::Null,
    }
}

/// A container being copied: the source elements still to visit and the copies so far.
enum CloneFrame<'a> {
    List(std::slice::Iter<'a, AttributeValue>, Vec<AttributeValue>),
    /// The `Name` is the key of the element being copied below this frame.
    Map(
        btree_map::Iter<'a, Name, AttributeValue>,
        Vec<(Name, AttributeValue)>,
        Name,
    ),
}

impl Clone for AttributeValue {
    fn clone(&self) -> Self {
        let mut stack: Vec<CloneFrame<'_>> = Vec::new();
        let mut next = self;
        loop {
            // Enter `next`: a leaf is copied at once, a container opens a frame.
            let mut done = match next {
                AttributeValue::L(l) => {
                    stack.push(CloneFrame::List(l.iter(), Vec::with_capacity(l.len())));
                    None
                }
                AttributeValue::M(m) => {
                    stack.push(CloneFrame::Map(
                        m.iter(),
                        Vec::with_capacity(m.len()),
                        Name::default(),
                    ));
                    None
                }
                leaf => Some(clone_leaf(leaf)),
            };
            // Hand finished values to their parents until some frame has more to visit.
            loop {
                let Some(top) = stack.last_mut() else {
                    return done.unwrap_or(AttributeValue::Null);
                };
                match top {
                    CloneFrame::List(it, out) => {
                        out.extend(done.take());
                        if let Some(child) = it.next() {
                            next = child;
                            break;
                        }
                    }
                    CloneFrame::Map(it, out, key) => {
                        if let Some(v) = done.take() {
                            out.push((mem::take(key), v));
                        }
                        if let Some((k, child)) = it.next() {
                            key.clone_from(k);
                            next = child;
                            break;
                        }
                    }
                }
                done = match stack.pop() {
                    Some(CloneFrame::List(_, out)) => Some(AttributeValue::L(out)),
                    // Sorted and unique: collecting builds the map in linear time.
                    Some(CloneFrame::Map(_, out, _)) => Some(AttributeValue::M(
                        out.into_iter().collect::<BTreeMap<_, _>>(),
                    )),
                    None => done,
                };
            }
        }
    }
}

impl PartialEq for AttributeValue {
    /// Equal types and equal values: numbers by value, sets as sets, lists element by
    /// element, maps by keys and values.
    fn eq(&self, other: &Self) -> bool {
        let mut stack: Vec<(&AttributeValue, &AttributeValue)> = Vec::new();
        let (mut a, mut b) = (self, other);
        loop {
            let same = match (a, b) {
                (AttributeValue::S(x), AttributeValue::S(y)) => x == y,
                (AttributeValue::N(x), AttributeValue::N(y)) => x == y,
                (AttributeValue::B(x), AttributeValue::B(y)) => x == y,
                (AttributeValue::Bool(x), AttributeValue::Bool(y)) => x == y,
                (AttributeValue::Null, AttributeValue::Null) => true,
                (AttributeValue::Ss(x), AttributeValue::Ss(y)) => x == y,
                (AttributeValue::Ns(x), AttributeValue::Ns(y)) => x == y,
                (AttributeValue::Bs(x), AttributeValue::Bs(y)) => x == y,
                (AttributeValue::L(x), AttributeValue::L(y)) => {
                    stack.extend(x.iter().zip(y));
                    x.len() == y.len()
                }
                (AttributeValue::M(x), AttributeValue::M(y)) => {
                    x.len() == y.len()
                        && x.iter().zip(y).all(|((kx, vx), (ky, vy))| {
                            stack.push((vx, vy));
                            kx == ky
                        })
                }
                _ => false,
            };
            if !same {
                return false;
            }
            match stack.pop() {
                Some((x, y)) => (a, b) = (x, y),
                None => return true,
            }
        }
    }
}

impl Eq for AttributeValue {}

/// `Debug` of a value at nesting level `.1` (the value itself is level 1).
struct DebugAt<'a>(&'a AttributeValue, usize);

impl fmt::Debug for DebugAt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = self.1;
        match self.0 {
            AttributeValue::S(s) => f.debug_tuple("S").field(s).finish(),
            AttributeValue::N(n) => f.debug_tuple("N").field(n).finish(),
            AttributeValue::B(b) => f.debug_tuple("B").field(b).finish(),
            AttributeValue::Bool(b) => f.debug_tuple("Bool").field(b).finish(),
            AttributeValue::Null => f.write_str("Null"),
            AttributeValue::Ss(s) => f.debug_tuple("Ss").field(s).finish(),
            AttributeValue::Ns(s) => f.debug_tuple("Ns").field(s).finish(),
            AttributeValue::Bs(s) => f.debug_tuple("Bs").field(s).finish(),
            AttributeValue::L(_) | AttributeValue::M(_) if level >= MAX_DEBUG_DEPTH => {
                f.write_str("…")
            }
            AttributeValue::L(l) => f.debug_tuple("L").field(&DebugList(l, level + 1)).finish(),
            AttributeValue::M(m) => f.debug_tuple("M").field(&DebugMap(m, level + 1)).finish(),
        }
    }
}

struct DebugList<'a>(&'a [AttributeValue], usize);

impl fmt::Debug for DebugList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|v| DebugAt(v, self.1)))
            .finish()
    }
}

struct DebugMap<'a>(&'a BTreeMap<Name, AttributeValue>, usize);

impl fmt::Debug for DebugMap<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, v)| (k, DebugAt(v, self.1))))
            .finish()
    }
}

impl fmt::Debug for AttributeValue {
    /// The derived format (`S("a")`, `L([N(1)])`, `M({"k": Null})`), down to 40 levels.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        DebugAt(self, 1).fmt(f)
    }
}

/// DynamoDB's size of a value (see [`AttributeValue::size`]), without recursion.
pub(crate) fn size(v: &AttributeValue) -> usize {
    fn leaf_size(v: &AttributeValue) -> usize {
        match v {
            AttributeValue::S(s) => s.len(),
            AttributeValue::N(n) => number_size(n),
            AttributeValue::B(b) => b.len(),
            AttributeValue::Bool(_) | AttributeValue::Null => 1,
            AttributeValue::Ss(s) => s.iter().map(String::len).sum(),
            AttributeValue::Ns(s) => s.iter().map(number_size).sum(),
            AttributeValue::Bs(s) => s.iter().map(Vec::len).sum(),
            AttributeValue::L(_) | AttributeValue::M(_) => 3,
        }
    }
    if !has_children(v) {
        return leaf_size(v);
    }
    let mut total = 0usize;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        total = total.saturating_add(leaf_size(v));
        match v {
            AttributeValue::L(l) => {
                total = total.saturating_add(l.len());
                stack.extend(l.iter());
            }
            AttributeValue::M(m) => {
                for (k, e) in m {
                    total = total.saturating_add(1 + k.len());
                    stack.push(e);
                }
            }
            _ => {}
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deep(levels: usize) -> AttributeValue {
        let mut v = AttributeValue::from(1);
        for i in 0..levels {
            v = if i % 2 == 0 {
                AttributeValue::L(vec![v, AttributeValue::from("x")])
            } else {
                AttributeValue::from(BTreeMap::from([("k".to_string(), v)]))
            };
        }
        v
    }

    #[test]
    fn clone_eq_and_debug_match_the_derived_behaviour() {
        let v = deep(5);
        let c = v.clone();
        assert_eq!(v, c);
        assert_ne!(v, deep(4));
        assert_ne!(
            AttributeValue::L(vec![1.into()]),
            AttributeValue::L(vec![1.into(), 2.into()])
        );
        assert_ne!(
            AttributeValue::from(BTreeMap::from([("a".to_string(), 1.into())])),
            AttributeValue::from(BTreeMap::from([("b".to_string(), 1.into())]))
        );
        assert_eq!(
            format!(
                "{:?}",
                AttributeValue::L(vec!["a".into(), AttributeValue::Null])
            ),
            "L([S(\"a\"), Null])"
        );
        assert_eq!(
            format!(
                "{:?}",
                AttributeValue::from(BTreeMap::from([("k".to_string(), true.into())]))
            ),
            "M({\"k\": Bool(true)})"
        );
        assert!(format!("{:?}", deep(100)).contains('…'));
        assert_eq!(size(&deep(2)), deep(2).size());
    }

    #[test]
    fn deep_values_on_a_small_stack() {
        let h = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let v = deep(100_000);
                let c = v.clone();
                assert!(v == c);
                assert!(v.size() > 100_000);
                assert!(format!("{v:?}").len() < 10_000);
                drop(c);
            })
            .unwrap();
        h.join().unwrap();
    }
}
