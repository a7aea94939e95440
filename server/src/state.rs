//! What every request shares: the database and where it lives (for ARNs).

use strata_engine::Db;

use crate::describe::Location;

/// The server's state.
#[derive(Debug)]
pub struct State {
    /// The database.
    pub db: Db,
    /// Region and account of ARNs.
    pub loc: Location,
}

impl State {
    /// State over `db`.
    pub fn new(db: Db, loc: Location) -> State {
        State { db, loc }
    }
}
