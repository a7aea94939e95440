//! `get_item`.

use super::core::TableCore;
use super::error::DbError;
use super::options::{GetOptions, GetOutput, KeyInput};
use super::request::{self, Exprs};
use super::write::{locate, resolve_key};
use crate::capacity::{ConsumedCapacity, OpKind, read_units};

pub(crate) fn get_item(
    core: &TableCore,
    key: KeyInput,
    opts: GetOptions,
) -> Result<GetOutput, DbError> {
    let parsed = request::parse(
        &opts.names,
        &Default::default(),
        Exprs {
            projection: opts.projection.as_ref(),
            ..Exprs::default()
        },
    )?;
    let key = resolve_key(core, &key)?;
    let loc = locate(core, key)?;
    let parts = core.partitions()?;
    let part = &parts[loc.partition as usize];
    core.admit(Some(loc.partition), OpKind::Read)?;
    let item = part.read(core, &loc.base_key, None)?;
    let mut cap = ConsumedCapacity::new(core.name());
    cap.add_table_read(read_units(
        item.as_ref().map_or(0, |i| i.size()),
        opts.consistent_read,
    ));
    core.charge(Some(loc.partition), OpKind::Read, &cap);
    let item = match (&parsed.projection, item) {
        (Some(p), Some(i)) => Some(p.apply(&i)),
        (_, i) => i,
    };
    Ok(GetOutput {
        item,
        consumed_capacity: cap,
    })
}
