//! `scan`: every partition in order, each walked over the key range of the requested
//! segment. Keys start with the partition key's hash, so a segment (a range of
//! hashes) is one contiguous key range in every partition, and the segments of a
//! `total_segments` split are disjoint and together cover the whole table.

use std::ops::Bound;

use super::core::TableCore;
use super::error::DbError;
use super::layout::segment_of;
use super::options::{ScanOptions, ScanOutput};
use super::page::{Page, PagePlan, check_limit, needs_base, resolve_select};
use super::query::{resolve_index, start_key_bytes};
use super::request::{self, Exprs};
use crate::capacity::OpKind;

/// Most segments DynamoDB allows.
pub const MAX_TOTAL_SEGMENTS: u32 = 1_000_000;

/// The segment and the total of a scan request (DynamoDB's rules).
pub(crate) fn segments(opts: &ScanOptions) -> Result<(u32, u32), DbError> {
    Ok(match (opts.segment, opts.total_segments) {
        (None, None) => (0, 1),
        (Some(s), Some(t)) => {
            if t == 0 || t > MAX_TOTAL_SEGMENTS {
                return Err(DbError::invalid(format!(
                    "1 validation error detected: Value '{t}' at 'totalSegments' failed to satisfy constraint: Member must have value between 1 and {MAX_TOTAL_SEGMENTS}"
                )));
            }
            if s >= t {
                return Err(DbError::invalid(format!(
                    "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: {s} is out of bounds for TotalSegments: {t}"
                )));
            }
            (s, t)
        }
        (Some(_), None) => {
            return Err(DbError::invalid(
                "The TotalSegments parameter is required but was not present in the request when Segment parameter is present",
            ));
        }
        (None, Some(_)) => {
            return Err(DbError::invalid(
                "The Segment parameter is required but was not present in the request when parameter TotalSegments is present",
            ));
        }
    })
}

pub(crate) fn scan(core: &TableCore, opts: ScanOptions) -> Result<ScanOutput, DbError> {
    if let Some(g) = crate::gsi::read::gsi_ordinal(core, opts.index_name.as_deref()) {
        return crate::gsi::read::scan(core, g, opts);
    }
    let schema = &core.spec.key_schema;
    // What needs no lookup first.
    check_limit(opts.limit)?;
    let (segment, total) = segments(&opts)?;
    let parsed = request::parse(
        &opts.names,
        &opts.values,
        Exprs {
            filter: opts.filter.as_ref(),
            projection: opts.projection.as_ref(),
            ..Exprs::default()
        },
    )?;
    let (space, lsi) = resolve_index(core, opts.index_name.as_deref())?;
    let select = resolve_select(opts.select, parsed.projection.is_some(), lsi.is_some())?;
    let n = core.spec.partitions;
    let (first_partition, start) = match &opts.exclusive_start_key {
        Some(esk) => {
            let (bytes, hashed) = start_key_bytes(core, space, lsi, esk)?;
            if segment_of(hashed.hash, total) != segment {
                return Err(DbError::invalid(
                    "The provided Exclusive start key does not map to the provided segment",
                ));
            }
            (hashed.partition(n), Some(bytes))
        }
        None => (0, None),
    };
    let plan = PagePlan {
        lsi,
        gsi: None,
        fetch_base: needs_base(
            schema,
            lsi,
            select,
            parsed.projection.as_ref(),
            parsed.filter.as_ref(),
        ),
        filter: parsed.filter,
        projection: parsed.projection,
        select,
        limit: opts.limit,
        consistent: opts.consistent_read,
    };
    let parts = core.partitions()?;
    core.admit(None, OpKind::Read)?;
    let (lo, hi) = space.segment_range(segment, total);
    let mut page = Page::default();
    for p in first_partition..n {
        let part = &parts[p as usize];
        let lower = match &start {
            Some(s) if p == first_partition => Bound::Excluded(s.as_slice()),
            _ => Bound::Included(lo.as_slice()),
        };
        let snapshot = part.tree.snapshot();
        let mut iter = part.range(core, lower, Bound::Excluded(hi.as_slice()), Some(&snapshot))?;
        let mut full = false;
        iter.visit(
            true,
            |e| core.storage(p, e),
            |k, v| {
                full = page.feed(&plan, core, part, &snapshot, k, v)?;
                Ok(full)
            },
        )?;
        if full {
            break;
        }
    }
    let out = page.finish(&plan, core);
    core.charge(None, OpKind::Read, &out.consumed_capacity);
    Ok(out)
}
