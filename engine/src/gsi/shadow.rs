//! A GSI's shadow trees: one LSM tree per index partition under
//! `<table dir>/gsi/g<ordinal:02>/p<n:04>/`, opened with the table, sharing the Db's
//! resources, written with `Buffered` durability (see `docs/gsi-format.md` for why
//! that is enough). [`ShadowSink`] is the `strata_index::IndexSink` over them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use strata_fs::FileSystem;
use strata_index::{GsiDef, IndexSink, IndexStart, SinkOp, init_ops};

use crate::lsm::{Durability, Tree, TreeOptions, WriteBatch};

/// The directory of a table's GSIs.
pub(crate) const GSI_DIR: &str = "gsi";

/// The directory name of the GSI with catalog id `id` (never reused in its table).
pub(crate) fn gsi_dir_name(id: u32) -> String {
    format!("g{id:02}")
}

/// The directory of the GSI with catalog id `id`.
pub(crate) fn gsi_dir(table_dir: &Path, id: u32) -> PathBuf {
    table_dir.join(GSI_DIR).join(gsi_dir_name(id))
}

/// One open GSI: its definition and its partition trees.
#[derive(Debug)]
pub(crate) struct GsiShadow {
    pub def: GsiDef,
    pub trees: Vec<Tree>,
}

impl GsiShadow {
    /// Opens (`create`: creates and initialises with `create`'s [`IndexStart`]) the
    /// partition trees of `def` in `dir`. A new index's partitions get their header and
    /// checkpoints (or backfill progress), synced, before this returns (home partition
    /// last).
    pub(crate) fn open(
        fs: &Arc<dyn FileSystem>,
        dir: &Path,
        def: GsiDef,
        base_partitions: u32,
        opts: &TreeOptions,
        create: Option<&IndexStart>,
    ) -> Result<GsiShadow, (u32, crate::lsm::Error)> {
        let mut trees: Vec<Tree> = Vec::with_capacity(def.partitions as usize);
        for g in 0..def.partitions {
            let pdir = dir.join(crate::table::core::partition_dir_name(g));
            if create.is_none() && !fs.is_dir(&pdir) {
                close_all(&trees);
                return Err((
                    g,
                    crate::lsm::Error::InvalidArgument(format!(
                        "the catalog names index {} but its partition directory {} is missing",
                        def.name,
                        pdir.display()
                    )),
                ));
            }
            match Tree::open(&pdir, opts.clone()) {
                Ok(t) => trees.push(t),
                Err(e) => {
                    close_all(&trees);
                    return Err((g, e));
                }
            }
        }
        let shadow = GsiShadow { def, trees };
        if let Some(start) = create
            && let Err(e) = shadow.init(base_partitions, start)
        {
            close_all(&shadow.trees);
            return Err(e);
        }
        Ok(shadow)
    }

    /// Writes the init ops of a new index into every partition (home partition 0
    /// last) and syncs them.
    fn init(
        &self,
        base_partitions: u32,
        start: &IndexStart,
    ) -> Result<(), (u32, crate::lsm::Error)> {
        for g in (0..self.def.partitions).rev() {
            let ops = init_ops(&self.def, base_partitions, g, start)
                .map_err(|e| (g, crate::lsm::Error::InvalidArgument(e.to_string())))?;
            let tree = &self.trees[g as usize];
            tree.write(batch_of(&ops), Durability::Sync)
                .map_err(|e| (g, e))?;
        }
        Ok(())
    }

    /// Closes every partition tree; the first error.
    pub(crate) fn close(&self) -> Result<(), (u32, crate::lsm::Error)> {
        let mut first = None;
        for (g, t) in (0u32..).zip(&self.trees) {
            if let Err(e) = t.close() {
                first.get_or_insert((g, e));
            }
        }
        first.map_or(Ok(()), Err)
    }
}

fn close_all(trees: &[Tree]) {
    for t in trees {
        if let Err(e) = t.close() {
            tracing::warn!(error = %e, "closing an index partition after a failed open");
        }
    }
}

fn batch_of(ops: &[SinkOp]) -> WriteBatch {
    let mut b = WriteBatch::new();
    for op in ops {
        match op {
            SinkOp::Put { key, value } => b.put(key, value),
            SinkOp::Delete { key } => b.delete(key),
        };
    }
    b
}

/// [`IndexSink`] over a GSI's partition trees: one `WriteBatch` per apply (one WAL
/// record, so atomic across a crash), `Buffered` durability.
#[derive(Debug)]
pub(crate) struct ShadowSink<'a> {
    pub trees: &'a [Tree],
    /// Partitions written since the last [`ShadowSink::take_written`].
    written: Vec<bool>,
}

impl<'a> ShadowSink<'a> {
    pub(crate) fn new(trees: &'a [Tree]) -> ShadowSink<'a> {
        ShadowSink {
            trees,
            written: vec![false; trees.len()],
        }
    }

    /// The partitions written to (and forgets them).
    pub(crate) fn take_written(&mut self) -> Vec<u32> {
        let out = (0u32..)
            .zip(&self.written)
            .filter(|(_, w)| **w)
            .map(|(g, _)| g)
            .collect();
        self.written.iter_mut().for_each(|w| *w = false);
        out
    }

    pub(crate) fn tree(&self, partition: u32) -> Result<&'a Tree, crate::lsm::Error> {
        self.trees.get(partition as usize).ok_or_else(|| {
            crate::lsm::Error::InvalidArgument(format!("no index partition {partition}"))
        })
    }
}

impl IndexSink for ShadowSink<'_> {
    type Error = crate::lsm::Error;

    fn get(&self, partition: u32, key: &[u8]) -> Result<Option<Vec<u8>>, crate::lsm::Error> {
        self.tree(partition)?.get(key, None)
    }

    fn apply(&mut self, partition: u32, ops: &[SinkOp]) -> Result<(), crate::lsm::Error> {
        self.tree(partition)?
            .write(batch_of(ops), Durability::Buffered)?;
        if let Some(w) = self.written.get_mut(partition as usize) {
            *w = true;
        }
        Ok(())
    }
}
