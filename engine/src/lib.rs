//! Strata's database engine. For now: the byte-keyed LSM tree ([`lsm`]);
//! tables, queries and the `Db` handle build on it.

pub mod lsm;

pub use lsm::{Error, Tree, TreeOptions, WriteBatch};
