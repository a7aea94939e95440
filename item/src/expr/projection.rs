//! ProjectionExpression: which attributes (or parts of them) to return.

use crate::Name;
use std::collections::{BTreeMap, btree_map};

use crate::{AttributeValue, Item};

use super::check;
use super::error::{ExprError, ExprKind};
use super::parser;
use super::path::{AttributePath, PathElement};
use super::resolve::{Diag, PROJECTION_ORDER, Resolver};
use super::subst::Substitutions;

/// One node of a [`PathTree`]: wanted whole, or narrowed to some map keys and list
/// indexes (children are indexes into the tree's node list).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Node {
    whole: bool,
    names: BTreeMap<String, usize>,
    indexes: BTreeMap<u32, usize>,
}

/// A tree of requested paths, stored flat (node 0 is the root, children are indexes):
/// building, cloning, comparing and dropping it never recurse, however long the paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathTree {
    nodes: Vec<Node>,
}

/// A container being projected: the wanted children still to visit, the source, and the
/// parts found so far.
enum ProjectFrame<'a> {
    Map {
        wanted: btree_map::Iter<'a, String, usize>,
        src: &'a BTreeMap<Name, AttributeValue>,
        out: BTreeMap<Name, AttributeValue>,
        /// The key of the child being projected below this frame.
        key: Option<&'a String>,
    },
    List {
        wanted: btree_map::Iter<'a, u32, usize>,
        src: &'a [AttributeValue],
        out: Vec<AttributeValue>,
    },
}

impl PathTree {
    pub(crate) fn from_paths<'p>(paths: impl IntoIterator<Item = &'p AttributePath>) -> PathTree {
        let mut tree = PathTree {
            nodes: vec![Node::default()],
        };
        for p in paths {
            tree.insert(p.elements());
        }
        tree
    }

    fn insert(&mut self, elems: &[PathElement]) {
        let mut at = 0usize;
        for e in elems {
            let fresh = self.nodes.len();
            let Some(node) = self.nodes.get_mut(at) else {
                return;
            };
            let child = match e {
                PathElement::Name(n) => *node.names.entry(n.clone()).or_insert(fresh),
                PathElement::Index(i) => *node.indexes.entry(*i).or_insert(fresh),
            };
            if child == fresh {
                self.nodes.push(Node::default());
            }
            at = child;
        }
        if let Some(node) = self.nodes.get_mut(at) {
            node.whole = true;
        }
    }

    /// The top-level names the tree asks for.
    fn top_level_names(&self) -> impl Iterator<Item = &str> {
        self.nodes
            .first()
            .into_iter()
            .flat_map(|root| root.names.keys().map(String::as_str))
    }

    /// The frame projecting `v` through node `id`, or the finished result: `Ok(Some)` for
    /// a whole value, `Ok(None)` when nothing of `v` is wanted.
    fn open<'a>(
        &'a self,
        id: usize,
        v: &'a AttributeValue,
    ) -> Result<ProjectFrame<'a>, Option<AttributeValue>> {
        let Some(node) = self.nodes.get(id) else {
            return Err(None);
        };
        if node.whole {
            return Err(Some(v.clone()));
        }
        match v {
            AttributeValue::M(m) if !node.names.is_empty() => Ok(ProjectFrame::Map {
                wanted: node.names.iter(),
                src: m,
                out: BTreeMap::new(),
                key: None,
            }),
            AttributeValue::L(l) if !node.indexes.is_empty() => Ok(ProjectFrame::List {
                wanted: node.indexes.iter(),
                src: l,
                out: Vec::new(),
            }),
            _ => Err(None),
        }
    }

    /// The parts of `item` the tree asks for. Nested paths yield partial maps and
    /// lists (list elements keep their relative order and close up the gaps);
    /// a path that finds nothing contributes nothing. Walks with a heap stack.
    pub(crate) fn project(&self, item: &Item) -> Item {
        let Some(root) = self.nodes.first() else {
            return Item::new();
        };
        let mut stack = vec![ProjectFrame::Map {
            wanted: root.names.iter(),
            src: item.attributes(),
            out: BTreeMap::new(),
            key: None,
        }];
        let mut done: Option<AttributeValue> = None;
        loop {
            let Some(top) = stack.last_mut() else {
                return Item::new();
            };
            // Hand the child just finished to its parent, then find the next child.
            let next = match top {
                ProjectFrame::Map {
                    wanted,
                    src,
                    out,
                    key,
                } => {
                    if let (Some(v), Some(k)) = (done.take(), key.take()) {
                        out.insert(Name::new(k), v);
                    }
                    wanted.find_map(|(k, id)| {
                        src.get(k.as_str()).map(|v| {
                            *key = Some(k);
                            (*id, v)
                        })
                    })
                }
                ProjectFrame::List { wanted, src, out } => {
                    out.extend(done.take());
                    wanted.find_map(|(i, id)| src.get(*i as usize).map(|v| (*id, v)))
                }
            };
            match next {
                Some((id, v)) => match self.open(id, v) {
                    Ok(frame) => stack.push(frame),
                    Err(result) => done = result,
                },
                None => {
                    let finished = stack.pop();
                    if stack.is_empty() {
                        return match finished {
                            Some(ProjectFrame::Map { out, .. }) => Item::from(out),
                            _ => Item::new(),
                        };
                    }
                    done = match finished {
                        Some(ProjectFrame::Map { out, .. }) if !out.is_empty() => {
                            Some(AttributeValue::M(out))
                        }
                        Some(ProjectFrame::List { out, .. }) if !out.is_empty() => {
                            Some(AttributeValue::L(out))
                        }
                        _ => None,
                    };
                }
            }
        }
    }
}

/// A parsed ProjectionExpression.
///
/// ```
/// use std::collections::HashMap;
/// use strata_item::{AttributeValue, Item};
/// use strata_item::expr::parse_projection;
///
/// let p = parse_projection("title, tags[1], info.rating", &HashMap::new())?;
/// let item = Item::builder()
///     .attr("title", "Dune")
///     .attr("tags", AttributeValue::L(vec!["a".into(), "b".into(), "c".into()]))
///     .attr("info", AttributeValue::M([
///         ("rating".into(), AttributeValue::from(5)),
///         ("plot".into(), AttributeValue::from("sand")),
///     ].into()))
///     .attr("year", 1965)
///     .build();
/// let out = p.apply(&item);
/// assert_eq!(out.get("tags"), Some(&AttributeValue::L(vec!["b".into()])));
/// assert_eq!(out.get("info"), Some(&AttributeValue::M([
///     ("rating".into(), AttributeValue::from(5))].into())));
/// assert!(out.get("year").is_none());
/// # Ok::<(), strata_item::expr::ExprError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Projection {
    paths: Vec<AttributePath>,
    tree: PathTree,
}

impl Projection {
    /// A projection of the given paths. Check one built this way with
    /// [`check`](Self::check) before using it for a request.
    pub fn new(paths: Vec<AttributePath>) -> Projection {
        let tree = PathTree::from_paths(&paths);
        Projection { paths, tree }
    }

    /// The requested paths, in expression order.
    pub fn paths(&self) -> &[AttributePath] {
        &self.paths
    }

    /// The top-level attribute names the projection reads.
    pub fn top_level_names(&self) -> impl Iterator<Item = &str> {
        self.tree.top_level_names()
    }

    /// Checks a projection built in Rust by exactly the rules a ProjectionExpression
    /// string is checked by: at least one path, each at most 32 levels with list indexes
    /// up to 2^31 - 1 and no empty attribute name, and no two paths overlapping (one a
    /// prefix of the other) or conflicting (a map key and a list index at the same
    /// place). Reserved words need no placeholders here: nothing is parsed.
    ///
    /// ```
    /// use strata_item::expr::{AttributePath, Projection};
    ///
    /// assert!(Projection::new(vec![AttributePath::new("a").key("b")]).check().is_ok());
    /// let overlap = Projection::new(vec![AttributePath::new("a"), AttributePath::new("a").key("b")]);
    /// assert_eq!(
    ///     overlap.check().unwrap_err().to_string(),
    ///     "Invalid ProjectionExpression: Two document paths overlap with each other; \
    ///      must remove or rewrite one of these paths; path one: [a], path two: [a, b]"
    /// );
    /// assert!(Projection::new(vec![]).check().is_err());
    /// ```
    ///
    /// # Errors
    /// The error DynamoDB would report for the projection's string form.
    pub fn check(&self) -> Result<(), ExprError> {
        let kind = ExprKind::Projection;
        if self.paths.is_empty() {
            return Err(ExprError::Empty { kind });
        }
        let mut diag = Diag::default();
        for p in &self.paths {
            check::path(&mut diag, kind, p);
        }
        let refs: Vec<&AttributePath> = self.paths.iter().collect();
        check::projection_paths(&mut diag, &refs);
        diag.finish(PROJECTION_ORDER)
    }

    /// The requested parts of `item`.
    pub fn apply(&self, item: &Item) -> Item {
        self.tree.project(item)
    }
}

pub(crate) fn parse(expr: &str, subs: &mut Substitutions<'_>) -> Result<Projection, ExprError> {
    let raw = parser::parse_projection(expr)?;
    let mut r = Resolver::new(subs, ExprKind::Projection);
    let paths: Vec<AttributePath> = raw.iter().map(|p| r.path(p)).collect();
    let refs: Vec<&AttributePath> = paths.iter().collect();
    check::projection_paths(&mut r.diag, &refs);
    r.diag.finish(PROJECTION_ORDER)?;
    Ok(Projection::new(paths))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_lists_and_maps() {
        let item = Item::builder()
            .attr(
                "l",
                AttributeValue::L(vec![
                    AttributeValue::M([("x".into(), 1.into()), ("y".into(), 2.into())].into()),
                    "b".into(),
                    "c".into(),
                ]),
            )
            .attr("s", "v")
            .build();
        let p = Projection::new(vec![
            AttributePath::new("l").index(2),
            AttributePath::new("l").index(0).key("y"),
            AttributePath::new("l").index(9),
            AttributePath::new("s").key("nope"),
            AttributePath::new("missing"),
        ]);
        let out = p.apply(&item);
        assert_eq!(
            out.get("l"),
            Some(&AttributeValue::L(vec![
                AttributeValue::M([("y".into(), 2.into())].into()),
                "c".into()
            ]))
        );
        assert_eq!(out.len(), 1);
        assert_eq!(
            p.top_level_names().collect::<Vec<_>>(),
            vec!["l", "missing", "s"]
        );
    }
}
