//! The page loop shared by `query` and `scan`: evaluate stored entries in key order
//! until `limit` entries or 1 MB were read, apply the filter and the projection, and
//! remember where the page stopped.

use strata_item::expr::{Condition, Projection};
use strata_item::{Item, KeySchema};

use crate::lsm::Snapshot;

use super::core::TableCore;
use super::error::DbError;
use super::layout::{HashedKey, base_key};
use super::lsi;
use super::options::{QueryOutput, Select};
use super::partition::Partition;
use super::request::condition_names;
use super::spec::{GsiSpec, IndexProjection, LsiSpec};
use crate::capacity::{ConsumedCapacity, read_units};

/// DynamoDB reads at most 1 MB (of item sizes, before filtering) per page.
pub const PAGE_CAP_BYTES: usize = 1 << 20;

/// What a page reads and returns.
#[derive(Debug)]
pub(crate) struct PagePlan<'a> {
    /// The LSI read, if any.
    pub lsi: Option<&'a LsiSpec>,
    /// The GSI read, if any.
    pub gsi: Option<&'a GsiSpec>,
    pub filter: Option<Condition>,
    pub projection: Option<Projection>,
    pub select: Select,
    pub limit: Option<usize>,
    /// Entries of an LSI lack attributes the request needs: read the base item too.
    pub fetch_base: bool,
    pub consistent: bool,
}

/// DynamoDB's rules for `Select` and `ProjectionExpression` together.
pub(crate) fn resolve_select(
    select: Option<Select>,
    has_projection: bool,
    is_index: bool,
) -> Result<Select, DbError> {
    let name = |s: Select| match s {
        Select::AllAttributes => "ALL_ATTRIBUTES",
        Select::AllProjectedAttributes => "ALL_PROJECTED_ATTRIBUTES",
        Select::SpecificAttributes => "SPECIFIC_ATTRIBUTES",
        Select::Count => "COUNT",
    };
    match (select, has_projection) {
        (None, false) => Ok(if is_index {
            Select::AllProjectedAttributes
        } else {
            Select::AllAttributes
        }),
        (None, true) | (Some(Select::SpecificAttributes), true) => Ok(Select::SpecificAttributes),
        (Some(Select::SpecificAttributes), false) => Err(DbError::invalid(
            "Must specify the ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES",
        )),
        (Some(s), true) => Err(DbError::invalid(format!(
            "Cannot specify the ProjectionExpression when choosing to get {}",
            name(s)
        ))),
        (Some(Select::AllProjectedAttributes), false) if !is_index => Err(DbError::invalid(
            "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName",
        )),
        (Some(s), false) => Ok(s),
    }
}

/// Whether reading this LSI needs the base items (attributes it does not project).
pub(crate) fn needs_base(
    schema: &KeySchema,
    lsi: Option<&LsiSpec>,
    select: Select,
    projection: Option<&Projection>,
    filter: Option<&Condition>,
) -> bool {
    let Some(lsi) = lsi else { return false };
    if lsi.projection == IndexProjection::All {
        return false;
    }
    if select == Select::AllAttributes {
        return true;
    }
    let mut names: Vec<String> = Vec::new();
    if let Some(p) = projection {
        names.extend(p.top_level_names().map(str::to_owned));
    }
    if let Some(f) = filter {
        condition_names(f, &mut names);
    }
    names.iter().any(|n| !lsi::projects(schema, lsi, n))
}

/// Checks `limit` (DynamoDB: at least 1).
pub(crate) fn check_limit(limit: Option<usize>) -> Result<(), DbError> {
    if limit == Some(0) {
        return Err(DbError::invalid(
            "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
        ));
    }
    Ok(())
}

/// The key attributes of an entry (what `last_evaluated_key` holds): the table's key,
/// plus the LSI's sort key or the GSI's key attributes.
pub(crate) fn key_of(
    schema: &KeySchema,
    lsi: Option<&LsiSpec>,
    gsi: Option<&GsiSpec>,
    entry: &Item,
) -> Item {
    let mut k = Item::new();
    let index_attrs = lsi
        .map(|l| &l.sort_key)
        .into_iter()
        .chain(gsi.into_iter().flat_map(|g| g.key_schema.attributes()));
    for a in schema.attributes().chain(index_attrs) {
        if let Some(v) = entry.get(&a.name) {
            k.insert(a.name.clone(), v.clone());
        }
    }
    k
}

/// An accumulating page.
#[derive(Debug, Default)]
pub(crate) struct Page {
    pub items: Vec<Item>,
    pub count: usize,
    pub scanned: usize,
    /// Sizes of the entries evaluated.
    pub bytes: usize,
    /// Read units of base-item fetches (LSI reads of non-projected attributes).
    pub fetch_units: f64,
    pub last_key: Option<Item>,
}

impl Page {
    /// Evaluates one stored entry. Returns true when the page is full (`limit` or the
    /// 1 MB cap reached), with `last_key` set.
    pub(crate) fn feed(
        &mut self,
        plan: &PagePlan<'_>,
        core: &TableCore,
        part: &Partition,
        snapshot: &Snapshot,
        key: &[u8],
        value: &[u8],
    ) -> Result<bool, DbError> {
        let schema = &core.spec.key_schema;
        let (entry, size) = part.decode_sized(core, key, value)?;
        // The base item, when the entry lacks attributes the request needs. The entry
        // and its item are written in one batch and read at one snapshot, so the item
        // exists; if it did not, the entry is what we have.
        let fetched = if plan.fetch_base {
            let pk = schema.extract_key(&entry)?;
            let hashed =
                HashedKey::new(&pk.partition).map_err(|e| DbError::invalid(e.to_string()))?;
            let bk =
                base_key(&hashed, pk.sort.as_ref()).map_err(|e| DbError::invalid(e.to_string()))?;
            let base = part.read(core, &bk, Some(snapshot))?;
            self.fetch_units += read_units(base.as_ref().map_or(0, Item::size), plan.consistent);
            base
        } else {
            None
        };
        self.accept(plan, schema, entry, size, fetched)
    }

    /// Evaluates one decoded entry (with its base item when fetched); see
    /// [`Page::feed`].
    pub(crate) fn accept(
        &mut self,
        plan: &PagePlan<'_>,
        schema: &KeySchema,
        entry: Item,
        entry_size: usize,
        fetched: Option<Item>,
    ) -> Result<bool, DbError> {
        self.scanned += 1;
        self.bytes += entry_size;
        let full = fetched.as_ref().unwrap_or(&entry);
        let passes = match &plan.filter {
            Some(f) => f.evaluate(full)?,
            None => true,
        };
        let full_page =
            plan.limit.is_some_and(|l| self.scanned >= l) || self.bytes >= PAGE_CAP_BYTES;
        if full_page {
            self.last_key = Some(key_of(schema, plan.lsi, plan.gsi, &entry));
        }
        if passes {
            self.count += 1;
            match plan.select {
                Select::Count => {}
                Select::SpecificAttributes => {
                    if let Some(p) = &plan.projection {
                        self.items.push(p.apply(full));
                    }
                }
                Select::AllAttributes => self.items.push(fetched.unwrap_or(entry)),
                Select::AllProjectedAttributes => self.items.push(entry),
            }
        }
        Ok(full_page)
    }

    /// The finished page with its capacity.
    pub(crate) fn finish(self, plan: &PagePlan<'_>, core: &TableCore) -> QueryOutput {
        let mut cap = ConsumedCapacity::new(core.name());
        let units = read_units(self.bytes, plan.consistent);
        match (plan.lsi, plan.gsi) {
            (Some(l), _) => cap.add_index_read(&l.name, units),
            (None, Some(g)) => cap.add_gsi_read(&g.name, units),
            (None, None) => cap.add_table_read(units),
        }
        if self.fetch_units > 0.0 {
            cap.add_table_read(self.fetch_units);
        }
        QueryOutput {
            items: self.items,
            count: self.count,
            scanned_count: self.scanned,
            last_evaluated_key: self.last_key,
            consumed_capacity: cap,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_rules() {
        assert_eq!(
            resolve_select(None, false, false).unwrap(),
            Select::AllAttributes
        );
        assert_eq!(
            resolve_select(None, false, true).unwrap(),
            Select::AllProjectedAttributes
        );
        assert_eq!(
            resolve_select(None, true, true).unwrap(),
            Select::SpecificAttributes
        );
        assert_eq!(
            resolve_select(Some(Select::Count), false, false).unwrap(),
            Select::Count
        );
        assert!(resolve_select(Some(Select::Count), true, false).is_err());
        assert!(resolve_select(Some(Select::SpecificAttributes), false, false).is_err());
        assert!(resolve_select(Some(Select::AllProjectedAttributes), false, false).is_err());
        assert!(resolve_select(Some(Select::AllAttributes), true, false).is_err());
    }
}
