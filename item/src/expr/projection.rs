//! ProjectionExpression: which attributes (or parts of them) to return.

use std::collections::BTreeMap;

use crate::{AttributeValue, Item};

use super::error::{ExprError, ExprKind};
use super::parser;
use super::path::{AttributePath, PathElement, check_paths};
use super::resolve::{Cat, PROJECTION_ORDER, Resolver};
use super::subst::Substitutions;

/// A tree of requested paths: a node is either wanted whole or narrowed to
/// some of its map keys or list indexes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PathTree {
    whole: bool,
    names: BTreeMap<String, PathTree>,
    indexes: BTreeMap<u32, PathTree>,
}

impl PathTree {
    pub(crate) fn from_paths<'p>(paths: impl IntoIterator<Item = &'p AttributePath>) -> PathTree {
        let mut root = PathTree::default();
        for p in paths {
            root.insert(p.elements());
        }
        root
    }

    fn insert(&mut self, elems: &[PathElement]) {
        let Some((first, rest)) = elems.split_first() else {
            self.whole = true;
            return;
        };
        let child = match first {
            PathElement::Name(n) => self.names.entry(n.clone()).or_default(),
            PathElement::Index(i) => self.indexes.entry(*i).or_default(),
        };
        child.insert(rest);
    }

    fn project_value(&self, v: &AttributeValue) -> Option<AttributeValue> {
        if self.whole {
            return Some(v.clone());
        }
        match v {
            AttributeValue::M(m) if !self.names.is_empty() => {
                let out = project_map(&self.names, m);
                (!out.is_empty()).then_some(AttributeValue::M(out))
            }
            AttributeValue::L(l) if !self.indexes.is_empty() => {
                let out: Vec<AttributeValue> = self
                    .indexes
                    .iter()
                    .filter_map(|(i, n)| l.get(*i as usize).and_then(|c| n.project_value(c)))
                    .collect();
                (!out.is_empty()).then_some(AttributeValue::L(out))
            }
            _ => None,
        }
    }

    /// The parts of `item` the tree asks for. Nested paths yield partial maps and
    /// lists (list elements keep their relative order and close up the gaps);
    /// a path that finds nothing contributes nothing.
    pub(crate) fn project(&self, item: &Item) -> Item {
        Item::from(project_map(&self.names, item.attributes()))
    }
}

fn project_map(
    wanted: &BTreeMap<String, PathTree>,
    m: &BTreeMap<String, AttributeValue>,
) -> BTreeMap<String, AttributeValue> {
    wanted
        .iter()
        .filter_map(|(k, n)| {
            m.get(k)
                .and_then(|v| n.project_value(v))
                .map(|v| (k.clone(), v))
        })
        .collect()
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
///         ("rating".to_string(), AttributeValue::from(5)),
///         ("plot".to_string(), AttributeValue::from("sand")),
///     ].into()))
///     .attr("year", 1965)
///     .build();
/// let out = p.apply(&item);
/// assert_eq!(out.get("tags"), Some(&AttributeValue::L(vec!["b".into()])));
/// assert_eq!(out.get("info"), Some(&AttributeValue::M([
///     ("rating".to_string(), AttributeValue::from(5))].into())));
/// assert!(out.get("year").is_none());
/// # Ok::<(), strata_item::expr::ExprError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Projection {
    paths: Vec<AttributePath>,
    tree: PathTree,
}

impl Projection {
    /// A projection of the given paths.
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
        self.tree.names.keys().map(String::as_str)
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
    if let Err(e) = check_paths(&refs, ExprKind::Projection) {
        r.diag.report(Cat::PathClash, e);
    }
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
                    AttributeValue::M(
                        [("x".to_string(), 1.into()), ("y".to_string(), 2.into())].into(),
                    ),
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
                AttributeValue::M([("y".to_string(), 2.into())].into()),
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
