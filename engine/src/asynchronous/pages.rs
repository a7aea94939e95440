//! Async paginators: [`AsyncPages`] reads the pages of a query or scan one at a time
//! on tokio's blocking pool; [`AsyncItems`] yields their items.

use std::collections::VecDeque;

use strata_item::Item;

use super::blocking;
use crate::{DbError, PageIter, QueryOutput};

/// The pages of a query or scan, read one at a time on the blocking pool
/// ([`AsyncItems::pages`]); the async form of [`PageIter`] (the same empty pages
/// with `limit` and a filter). `next` yields `None` after the last page or an error.
/// Dropping a `next` future before it completes ends the iteration (the page it was
/// reading is lost with it).
#[derive(Debug)]
pub struct AsyncPages {
    pages: Option<PageIter>,
}

impl AsyncPages {
    /// The next page, `None` at the end.
    pub async fn next(&mut self) -> Option<Result<QueryOutput, DbError>> {
        let mut pages = self.pages.take()?;
        let read = blocking(move || {
            let page = pages.next();
            Ok((pages, page))
        })
        .await;
        match read {
            Ok((pages, page)) => {
                self.pages = Some(pages);
                page
            }
            Err(e) => Some(Err(e)),
        }
    }
}

/// The items of a query or scan across all pages (from [`AsyncTable::query_iter`](super::AsyncTable::query_iter) or
/// [`AsyncTable::scan_iter`](super::AsyncTable::scan_iter)); the async form of [`crate::ItemIter`]: `Ok(item)` for
/// each item in order or one `Err`, then `None`. Empty pages are skipped.
#[derive(Debug)]
pub struct AsyncItems {
    pages: AsyncPages,
    buffered: VecDeque<Item>,
}

impl AsyncItems {
    pub(super) fn new(pages: PageIter) -> AsyncItems {
        AsyncItems {
            pages: AsyncPages { pages: Some(pages) },
            buffered: VecDeque::new(),
        }
    }

    /// The pages instead of the items (those not read yet: call it before the first
    /// `next`).
    pub fn pages(self) -> AsyncPages {
        self.pages
    }

    /// The next item, `None` at the end. Reads the next page only when the items
    /// read so far are used up.
    pub async fn next(&mut self) -> Option<Result<Item, DbError>> {
        loop {
            if let Some(item) = self.buffered.pop_front() {
                return Some(Ok(item));
            }
            match self.pages.next().await? {
                Ok(page) => self.buffered.extend(page.items),
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// Every remaining item, or the first error.
    ///
    /// # Errors
    /// The first error a page read gave.
    pub async fn collect(mut self) -> Result<Vec<Item>, DbError> {
        let mut out = Vec::new();
        while let Some(item) = self.next().await {
            out.push(item?);
        }
        Ok(out)
    }
}
