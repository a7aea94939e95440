//! Document paths (`a.b[3].c`) and how they read and write items.

use crate::Name;
use std::collections::BTreeMap;
use std::fmt;
use std::fmt::Write as _;

use crate::echo::{self, Bounded};
use crate::{AttributeValue, Item};

use super::error::ExprError;

/// The deepest document path DynamoDB accepts (elements, counting the top-level name).
pub const MAX_PATH_DEPTH: usize = 32;

/// One step of a document path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathElement {
    /// A map key (or, first, a top-level attribute name).
    Name(String),
    /// A list index.
    Index(u32),
}

/// A document path: a top-level attribute name followed by map keys and list indexes,
/// with every `#placeholder` already substituted.
///
/// ```
/// use strata_item::expr::{AttributePath, PathElement};
/// use strata_item::{AttributeValue, Item};
///
/// let path = AttributePath::new("a").key("b").index(1);
/// assert_eq!(path.to_string(), "a.b[1]");
///
/// let mut item = Item::new();
/// item.insert("a", AttributeValue::M([("b".into(), AttributeValue::L(vec![
///     AttributeValue::from(1), AttributeValue::from(2)]))].into()));
/// assert_eq!(path.get(&item), Some(&AttributeValue::from(2)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttributePath {
    elements: Vec<PathElement>,
}

impl AttributePath {
    /// A path naming a top-level attribute.
    pub fn new(name: impl Into<String>) -> AttributePath {
        AttributePath {
            elements: vec![PathElement::Name(name.into())],
        }
    }

    /// A path with no elements: a stand-in that allocates nothing (for leaves left behind
    /// while a tree is dropped, and next to reported errors). Never evaluated.
    pub(crate) fn empty() -> AttributePath {
        AttributePath {
            elements: Vec::new(),
        }
    }

    /// This path followed by a map key.
    #[must_use]
    pub fn key(mut self, name: impl Into<String>) -> AttributePath {
        self.elements.push(PathElement::Name(name.into()));
        self
    }

    /// This path followed by a list index.
    #[must_use]
    pub fn index(mut self, index: u32) -> AttributePath {
        self.elements.push(PathElement::Index(index));
        self
    }

    /// Builds a path from elements; `None` unless the first element is a name.
    pub fn from_elements(elements: Vec<PathElement>) -> Option<AttributePath> {
        match elements.first() {
            Some(PathElement::Name(_)) => Some(AttributePath { elements }),
            _ => None,
        }
    }

    /// The elements, first the top-level name.
    pub fn elements(&self) -> &[PathElement] {
        &self.elements
    }

    /// The top-level attribute this path starts at.
    pub fn top_level_name(&self) -> &str {
        match self.elements.first() {
            Some(PathElement::Name(n)) => n,
            // Constructors guarantee the first element is a name.
            _ => "",
        }
    }

    /// Whether the path is just a top-level attribute name.
    pub fn is_top_level(&self) -> bool {
        self.elements.len() == 1
    }

    /// How many elements the path has.
    pub fn depth(&self) -> usize {
        self.elements.len()
    }

    /// The value at this path in `item`, if there is one.
    pub fn get<'a>(&self, item: &'a Item) -> Option<&'a AttributeValue> {
        get_in(item.attributes(), &self.elements)
    }

    /// Sets the value at this path, following DynamoDB's rules for `SET`:
    /// a top-level attribute is always created; a nested element needs its parent
    /// to exist and to be a map (for a key) or a list (for an index); an index at or
    /// past the end of the list appends.
    ///
    /// # Errors
    /// [`ExprError::InvalidUpdatePath`] when the parent is missing or of the wrong type.
    pub fn set(&self, item: &mut Item, value: AttributeValue) -> Result<(), ExprError> {
        let (last, parents) = self.split_last();
        let map = item.attributes_mut();
        let Some(parent_path) = parents else {
            if let PathElement::Name(n) = last {
                map.insert(Name::new(n), value);
            }
            return Ok(());
        };
        let parent = get_in_mut(map, parent_path).ok_or(ExprError::InvalidUpdatePath)?;
        match (last, parent) {
            (PathElement::Name(n), AttributeValue::M(m)) => {
                m.insert(Name::new(n), value);
                Ok(())
            }
            (PathElement::Index(i), AttributeValue::L(l)) => {
                let i = *i as usize;
                if i < l.len() {
                    l[i] = value;
                } else {
                    l.push(value);
                }
                Ok(())
            }
            _ => Err(ExprError::InvalidUpdatePath),
        }
    }

    /// Removes the value at this path, following DynamoDB's rules for `REMOVE`:
    /// removing an absent key or an index past the end changes nothing, but the
    /// parent must exist and be of the right type.
    ///
    /// # Errors
    /// [`ExprError::InvalidUpdatePath`] when the parent is missing or of the wrong type.
    pub fn remove(&self, item: &mut Item) -> Result<Option<AttributeValue>, ExprError> {
        let (last, parents) = self.split_last();
        let map = item.attributes_mut();
        let Some(parent_path) = parents else {
            return Ok(match last {
                PathElement::Name(n) => map.remove(n.as_str()),
                PathElement::Index(_) => None,
            });
        };
        let parent = get_in_mut(map, parent_path).ok_or(ExprError::InvalidUpdatePath)?;
        match (last, parent) {
            (PathElement::Name(n), AttributeValue::M(m)) => Ok(m.remove(n.as_str())),
            (PathElement::Index(i), AttributeValue::L(l)) => {
                let i = *i as usize;
                Ok((i < l.len()).then(|| l.remove(i)))
            }
            _ => Err(ExprError::InvalidUpdatePath),
        }
    }

    /// Whether the parent of this path's last element exists in `item` with the right
    /// type, i.e. whether [`set`](Self::set) would succeed.
    pub fn can_set(&self, item: &Item) -> bool {
        let (last, parents) = self.split_last();
        let Some(parent_path) = parents else {
            return true;
        };
        matches!(
            (last, get_in(item.attributes(), parent_path)),
            (PathElement::Name(_), Some(AttributeValue::M(_)))
                | (PathElement::Index(_), Some(AttributeValue::L(_)))
        )
    }

    fn split_last(&self) -> (&PathElement, Option<&[PathElement]>) {
        match self.elements.split_last() {
            Some((last, rest)) if !rest.is_empty() => (last, Some(rest)),
            Some((last, _)) => (last, None),
            // Unreachable by construction; treat an empty path as an empty name.
            None => (&EMPTY_NAME, None),
        }
    }

    /// The path as DynamoDB prints it in error messages: `[a, b, [3]]`, cut to a fixed
    /// size ([`format_elements`]).
    pub(crate) fn dynamo_format(&self) -> String {
        format_elements(&self.elements)
    }
}

static EMPTY_NAME: PathElement = PathElement::Name(String::new());

/// The elements as DynamoDB prints a path in messages, cut to
/// [`echo::MAX_PATH_SHOWN`] bytes (each name to [`echo::MAX_SHOWN`]) while it is built.
pub(crate) fn format_elements(elements: &[PathElement]) -> String {
    let mut s = Bounded::new(echo::MAX_PATH_SHOWN);
    s.push_str("[");
    for (i, e) in elements.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        match e {
            PathElement::Name(n) => s.push_name(n),
            PathElement::Index(i) => {
                // Not written at all once the text is full (only counted).
                let _ = write!(s, "[{i}]");
            }
        }
    }
    s.push_str("]");
    s.finish()
}

impl fmt::Display for AttributePath {
    /// `a.b[3].c`; names are printed as they are, without escaping.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.elements.iter().enumerate() {
            match e {
                PathElement::Name(n) if i == 0 => f.write_str(n)?,
                PathElement::Name(n) => write!(f, ".{n}")?,
                PathElement::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

/// The value at `path` inside a top-level attribute map.
pub(crate) fn get_in<'a>(
    map: &'a BTreeMap<Name, AttributeValue>,
    path: &[PathElement],
) -> Option<&'a AttributeValue> {
    let (first, rest) = path.split_first()?;
    let PathElement::Name(name) = first else {
        return None;
    };
    let mut cur = map.get(name.as_str())?;
    for e in rest {
        cur = match (e, cur) {
            (PathElement::Name(n), AttributeValue::M(m)) => m.get(n.as_str())?,
            (PathElement::Index(i), AttributeValue::L(l)) => l.get(*i as usize)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// The value at `path` inside a top-level attribute map, mutably.
pub(crate) fn get_in_mut<'a>(
    map: &'a mut BTreeMap<Name, AttributeValue>,
    path: &[PathElement],
) -> Option<&'a mut AttributeValue> {
    let (first, rest) = path.split_first()?;
    let PathElement::Name(name) = first else {
        return None;
    };
    let mut cur = map.get_mut(name.as_str())?;
    for e in rest {
        cur = match (e, cur) {
            (PathElement::Name(n), AttributeValue::M(m)) => m.get_mut(n.as_str())?,
            (PathElement::Index(i), AttributeValue::L(l)) => l.get_mut(*i as usize)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// How two paths of one update or projection relate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathRelation {
    /// Neither is a prefix of the other and they agree on element kinds.
    Disjoint,
    /// One is a prefix of (or equal to) the other.
    Overlap,
    /// At some common position one has a key and the other an index.
    Conflict,
}

pub(crate) fn relate(a: &[PathElement], b: &[PathElement]) -> PathRelation {
    for (x, y) in a.iter().zip(b) {
        match (x, y) {
            (PathElement::Name(p), PathElement::Name(q)) if p == q => {}
            (PathElement::Index(p), PathElement::Index(q)) if p == q => {}
            (PathElement::Name(_), PathElement::Name(_))
            | (PathElement::Index(_), PathElement::Index(_)) => return PathRelation::Disjoint,
            _ => return PathRelation::Conflict,
        }
    }
    PathRelation::Overlap
}

/// Above this many paths [`check_paths`] sorts instead of comparing every pair. A 4 KB
/// expression holds at most 2,048 paths, so expression strings always get the pairwise
/// scan (and DynamoDB's choice of pair in the message); only a projection built in Rust
/// can be larger.
const PAIRWISE_LIMIT: usize = 2048;

/// Checks a list of paths pairwise the way DynamoDB does: the first overlap found
/// is reported, else the first conflict. Past [`PAIRWISE_LIMIT`] paths, the same
/// problems are found in O(n log n) by comparing neighbours in sorted order (a path and
/// its extensions, and the last key and first index under one parent, are neighbours),
/// and the pair reported is one such neighbouring pair.
pub(crate) fn check_paths(
    paths: &[&AttributePath],
    kind: super::ExprKind,
) -> Result<(), ExprError> {
    if paths.len() > PAIRWISE_LIMIT {
        let mut sorted = paths.to_vec();
        sorted.sort();
        return first_clash(sorted.windows(2).map(|w| (w[0], w[1])), kind);
    }
    first_clash(
        paths
            .iter()
            .enumerate()
            .flat_map(|(j, later)| paths[..j].iter().map(move |earlier| (*earlier, *later))),
        kind,
    )
}

/// The first overlapping pair, else the first conflicting pair.
fn first_clash<'p>(
    pairs: impl Iterator<Item = (&'p AttributePath, &'p AttributePath)>,
    kind: super::ExprKind,
) -> Result<(), ExprError> {
    let mut conflict: Option<ExprError> = None;
    for (earlier, later) in pairs {
        match relate(earlier.elements(), later.elements()) {
            PathRelation::Disjoint => {}
            PathRelation::Overlap => {
                return Err(ExprError::PathOverlap {
                    kind,
                    first: earlier.dynamo_format(),
                    second: later.dynamo_format(),
                });
            }
            PathRelation::Conflict => {
                if conflict.is_none() {
                    conflict = Some(ExprError::PathConflict {
                        kind,
                        first: earlier.dynamo_format(),
                        second: later.dynamo_format(),
                    });
                }
            }
        }
    }
    conflict.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::ExprKind;

    fn sample() -> Item {
        let mut item = Item::new();
        item.insert(
            "m",
            AttributeValue::M(
                [
                    ("x".into(), AttributeValue::from(1)),
                    (
                        "l".into(),
                        AttributeValue::L(vec![
                            AttributeValue::from("a"),
                            AttributeValue::from("b"),
                        ]),
                    ),
                ]
                .into(),
            ),
        );
        item.insert("s", "str");
        item
    }

    #[test]
    fn get_follows_types() {
        let item = sample();
        assert_eq!(
            AttributePath::new("s").get(&item),
            Some(&AttributeValue::from("str"))
        );
        assert_eq!(
            AttributePath::new("m").key("l").index(1).get(&item),
            Some(&AttributeValue::from("b"))
        );
        assert_eq!(AttributePath::new("m").key("l").index(2).get(&item), None);
        assert_eq!(AttributePath::new("m").index(0).get(&item), None);
        assert_eq!(AttributePath::new("s").key("x").get(&item), None);
        assert_eq!(AttributePath::new("nope").get(&item), None);
    }

    #[test]
    fn set_rules() {
        let mut item = sample();
        AttributePath::new("new").set(&mut item, 5.into()).unwrap();
        assert_eq!(item.get("new"), Some(&AttributeValue::from(5)));
        AttributePath::new("m")
            .key("y")
            .set(&mut item, 2.into())
            .unwrap();
        AttributePath::new("m")
            .key("l")
            .index(0)
            .set(&mut item, "z".into())
            .unwrap();
        AttributePath::new("m")
            .key("l")
            .index(99)
            .set(&mut item, "end".into())
            .unwrap();
        assert_eq!(
            AttributePath::new("m").key("l").get(&item),
            Some(&AttributeValue::L(vec![
                "z".into(),
                "b".into(),
                "end".into()
            ]))
        );
        for bad in [
            AttributePath::new("missing").key("a"),
            AttributePath::new("missing").index(0),
            AttributePath::new("s").key("a"),
            AttributePath::new("m").index(0),
            AttributePath::new("m").key("l").key("a"),
            AttributePath::new("m").key("q").key("a"),
        ] {
            assert!(!bad.can_set(&item), "{bad}");
            assert_eq!(
                bad.set(&mut item, 1.into()),
                Err(ExprError::InvalidUpdatePath),
                "{bad}"
            );
            assert_eq!(
                bad.remove(&mut item),
                Err(ExprError::InvalidUpdatePath),
                "{bad}"
            );
        }
    }

    #[test]
    fn remove_rules() {
        let mut item = sample();
        assert_eq!(AttributePath::new("nope").remove(&mut item), Ok(None));
        assert_eq!(
            AttributePath::new("m").key("nope").remove(&mut item),
            Ok(None)
        );
        assert_eq!(
            AttributePath::new("m").key("l").index(5).remove(&mut item),
            Ok(None)
        );
        assert_eq!(
            AttributePath::new("m").key("l").index(0).remove(&mut item),
            Ok(Some("a".into()))
        );
        assert_eq!(
            AttributePath::new("m").key("l").get(&item),
            Some(&AttributeValue::L(vec!["b".into()]))
        );
        assert_eq!(
            AttributePath::new("s").remove(&mut item),
            Ok(Some("str".into()))
        );
    }

    #[test]
    fn formats() {
        let p = AttributePath::new("a").key("b").index(3);
        assert_eq!(p.to_string(), "a.b[3]");
        assert_eq!(p.dynamo_format(), "[a, b, [3]]");
        assert!(AttributePath::from_elements(vec![PathElement::Index(0)]).is_none());
        assert!(AttributePath::from_elements(vec![]).is_none());
    }

    #[test]
    fn overlap_and_conflict() {
        let a = AttributePath::new("a");
        let ab = AttributePath::new("a").key("b");
        let a1 = AttributePath::new("a").index(1);
        let c = AttributePath::new("c");
        assert_eq!(check_paths(&[&a, &c], ExprKind::Update), Ok(()));
        assert!(matches!(
            check_paths(&[&ab, &c, &a], ExprKind::Update),
            Err(ExprError::PathOverlap { ref first, ref second, .. }) if first == "[a, b]" && second == "[a]"
        ));
        assert!(matches!(
            check_paths(&[&ab, &a1], ExprKind::Update),
            Err(ExprError::PathConflict { .. })
        ));
        // An overlap anywhere wins over an earlier conflict.
        assert!(matches!(
            check_paths(&[&ab, &a1, &c, &c], ExprKind::Update),
            Err(ExprError::PathOverlap { .. })
        ));
    }
}
