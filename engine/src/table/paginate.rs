//! Paginators: [`Table::query_iter`] and [`Table::scan_iter`] follow
//! `last_evaluated_key` from page to page, so callers need not write the loop.

use std::collections::VecDeque;

use strata_item::Item;

use super::Table;
use super::error::DbError;
use super::options::{KeyConditionInput, QueryOptions, QueryOutput, ScanOptions};

#[derive(Debug, Clone)]
enum Request {
    Query(KeyConditionInput, QueryOptions),
    Scan(ScanOptions),
}

/// The pages of a query or a scan, one [`QueryOutput`] each (items, `count`,
/// `scanned_count`, consumed capacity, `last_evaluated_key`), from
/// [`ItemIter::pages`]. It reads a page only when asked for it; after the last page (no
/// `last_evaluated_key`) or an error it yields nothing more.
///
/// With a `limit` and a filter a page may be empty: `limit` caps the items *read* per
/// page, before the filter, so a page whose items all fail the filter has no items but
/// a `last_evaluated_key`. It is yielded like any other page (its `scanned_count` and
/// capacity are real); [`ItemIter`] skips it.
#[derive(Debug, Clone)]
pub struct PageIter {
    table: Table,
    request: Request,
    done: bool,
}

impl PageIter {
    fn read_page(&self) -> Result<QueryOutput, DbError> {
        match &self.request {
            Request::Query(kc, opts) => self.table.query(kc.clone(), opts.clone()),
            Request::Scan(opts) => self.table.scan(opts.clone()),
        }
    }
}

impl Iterator for PageIter {
    type Item = Result<QueryOutput, DbError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let page = self.read_page();
        match &page {
            Ok(p) if p.last_evaluated_key.is_some() => {
                let next = p.last_evaluated_key.clone();
                match &mut self.request {
                    Request::Query(_, opts) => opts.exclusive_start_key = next,
                    Request::Scan(opts) => opts.exclusive_start_key = next,
                }
            }
            _ => self.done = true,
        }
        Some(page)
    }
}

impl std::iter::FusedIterator for PageIter {}

/// The items of a query or a scan across all its pages, from [`Table::query_iter`]
/// or [`Table::scan_iter`]: `Ok(item)` for each item in order, or one `Err` (after
/// which it yields nothing more). Empty pages (see [`PageIter`]) are skipped. Call
/// [`ItemIter::pages`] for the pages themselves.
#[derive(Debug, Clone)]
pub struct ItemIter {
    pages: PageIter,
    buffered: VecDeque<Item>,
}

impl ItemIter {
    fn new(table: Table, request: Request) -> ItemIter {
        ItemIter {
            pages: PageIter {
                table,
                request,
                done: false,
            },
            buffered: VecDeque::new(),
        }
    }

    /// The pages instead of the items (those not read yet: call it before the
    /// first `next`).
    pub fn pages(self) -> PageIter {
        self.pages
    }
}

impl Iterator for ItemIter {
    type Item = Result<Item, DbError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.buffered.pop_front() {
                return Some(Ok(item));
            }
            match self.pages.next()? {
                Ok(page) => self.buffered.extend(page.items),
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

impl std::iter::FusedIterator for ItemIter {}

impl Table {
    /// Every item a query matches, across all pages: [`Table::query`] called again
    /// with each page's `last_evaluated_key` until there is none. `opts` works as for
    /// `query` (an index, a filter, reverse order; `limit` is the page size, not a
    /// total: use [`Iterator::take`] for that; `exclusive_start_key` is where the
    /// first page starts). PageIter are read lazily, one at a time.
    ///
    /// ```
    /// use strata_engine::{Db, PutOptions, QueryOptions, TableSpec};
    /// use strata_item::{item, KeySchema, KeyType};
    ///
    /// let db = Db::open_in_memory()?;
    /// db.create_table(TableSpec::new("log", KeySchema::composite("pk", KeyType::S, "seq", KeyType::N)))?;
    /// let log = db.table("log")?;
    /// for seq in 0..25 {
    ///     log.put_item(item! { "pk" => "a", "seq" => seq, "odd" => seq % 2 == 1 }, PutOptions::default())?;
    /// }
    /// // PageIter of 10 items read, newest first, odd ones only.
    /// let opts = QueryOptions::default().value(":a", "a").value(":t", true)
    ///     .filter("odd = :t").limit(10).reverse();
    /// let odd: Vec<_> = log.query_iter("pk = :a", opts.clone()).collect::<Result<_, _>>()?;
    /// assert_eq!(odd.len(), 12);
    /// assert_eq!(odd[0].get("seq"), Some(&23.into()));
    ///
    /// // Or page by page: three pages of 10, 10 and 5 items read.
    /// let scanned: Vec<usize> = log.query_iter("pk = :a", opts).pages()
    ///     .map(|p| p.map(|p| p.scanned_count)).collect::<Result<_, _>>()?;
    /// assert_eq!(scanned, vec![10, 10, 5]);
    /// # Ok::<(), strata_engine::DbError>(())
    /// ```
    ///
    /// Errors (a bad key condition, a missing index, storage errors) come as an `Err`
    /// item, after which the iterator ends.
    pub fn query_iter(
        &self,
        key_condition: impl Into<KeyConditionInput>,
        opts: QueryOptions,
    ) -> ItemIter {
        ItemIter::new(self.clone(), Request::Query(key_condition.into(), opts))
    }

    /// Every item a scan reads, across all pages (of the table, an index with
    /// `opts.index(..)`, or one segment with `opts.segment(..)`), as
    /// [`Table::query_iter`] does for queries.
    ///
    /// ```
    /// use strata_engine::{Db, PutOptions, ScanOptions, TableSpec};
    /// use strata_item::{item, KeySchema, KeyType};
    ///
    /// let db = Db::open_in_memory()?;
    /// db.create_table(TableSpec::new("things", KeySchema::simple("id", KeyType::N)))?;
    /// let things = db.table("things")?;
    /// for id in 0..30 {
    ///     things.put_item(item! { "id" => id }, PutOptions::default())?;
    /// }
    /// let n = things.scan_iter(ScanOptions::default().limit(7)).count();
    /// assert_eq!(n, 30);
    /// # Ok::<(), strata_engine::DbError>(())
    /// ```
    pub fn scan_iter(&self, opts: ScanOptions) -> ItemIter {
        ItemIter::new(self.clone(), Request::Scan(opts))
    }
}
