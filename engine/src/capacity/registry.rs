//! [`CapacityRegistry`]: the `Db`'s table capacities by table id, so that a table's
//! buckets and counters outlive the open cores that `update_table` replaces.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use super::clock::Clock;
use super::limiter::{BillingConfig, TableCapacity};
use super::options::CapacityOptions;

/// Every table's [`TableCapacity`], by table id.
#[derive(Debug)]
pub(crate) struct CapacityRegistry {
    clock: Arc<dyn Clock>,
    opts: CapacityOptions,
    tables: Mutex<HashMap<u64, Arc<TableCapacity>>>,
}

impl CapacityRegistry {
    pub(crate) fn new(clock: Arc<dyn Clock>, opts: CapacityOptions) -> CapacityRegistry {
        CapacityRegistry {
            clock,
            opts,
            tables: Mutex::new(HashMap::new()),
        }
    }

    /// The capacity of table `id`, made with `billing` or switched to it.
    ///
    /// # Errors
    /// Settings the buckets refuse.
    pub(crate) fn table(
        &self,
        id: u64,
        name: &str,
        partitions: u32,
        billing: &BillingConfig,
    ) -> Result<Arc<TableCapacity>, String> {
        let mut tables = self.tables.lock();
        if let Some(t) = tables.get(&id) {
            t.configure(billing)?;
            return Ok(Arc::clone(t));
        }
        let t = Arc::new(TableCapacity::new(
            name,
            partitions,
            Arc::clone(&self.clock),
            self.opts,
            billing,
        )?);
        tables.insert(id, Arc::clone(&t));
        Ok(t)
    }

    /// Forgets a deleted table.
    pub(crate) fn remove(&self, id: u64) {
        self.tables.lock().remove(&id);
    }
}
