//! What every request shares: the database, where it lives (for ARNs), and the
//! tables' tags.

use std::collections::{BTreeMap, HashMap};

use parking_lot::Mutex;
use strata_engine::Db;

use crate::describe::Location;

/// Tags of one table: key to value.
pub type Tags = BTreeMap<String, String>;

/// The server's state.
#[derive(Debug)]
pub struct State {
    /// The database.
    pub db: Db,
    /// Region and account of ARNs.
    pub loc: Location,
    /// Tags by (table name, table id): a table created again under the same name
    /// starts without tags. Kept in memory only (lost when the server stops).
    tags: Mutex<HashMap<(String, u64), Tags>>,
}

impl State {
    /// State over `db`.
    pub fn new(db: Db, loc: Location) -> State {
        State {
            db,
            loc,
            tags: Mutex::new(HashMap::new()),
        }
    }

    /// Runs `f` on the tags of table `(name, id)`.
    pub fn with_tags<R>(&self, name: &str, id: u64, f: impl FnOnce(&mut Tags) -> R) -> R {
        let mut all = self.tags.lock();
        let tags = all.entry((name.to_owned(), id)).or_default();
        let r = f(tags);
        if tags.is_empty() {
            all.remove(&(name.to_owned(), id));
        }
        r
    }

    /// Forgets the tags of a deleted table.
    pub fn drop_tags(&self, name: &str, id: u64) {
        self.tags.lock().remove(&(name.to_owned(), id));
    }
}
