//! A read-only listing of a tree's live SSTables per level, for tools
//! (`strata inspect`): what the current version holds, as the manifest
//! records it.

use super::ikey;
use super::tree::table_name;
use super::version::Version;

/// One live SSTable of a tree, as [`super::Tree::sst_files`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SstFileInfo {
    /// The level (0 = L0).
    pub level: usize,
    /// The file number.
    pub number: u64,
    /// The file name inside the tree's directory (`000042.sst`).
    pub file_name: String,
    /// The file size in bytes.
    pub size: u64,
    /// Entries (puts and deletes, every version of a key).
    pub entries: u64,
    /// The smallest user key (empty when the manifest's key is malformed).
    pub smallest_key: Vec<u8>,
    /// The largest user key (empty when the manifest's key is malformed).
    pub largest_key: Vec<u8>,
    /// The smallest sequence number in the file.
    pub smallest_seq: u64,
    /// The largest sequence number in the file.
    pub largest_seq: u64,
}

/// Every table of `version`, level by level, in the level's order (L0
/// newest first, deeper levels by key).
pub(crate) fn list(version: &Version) -> Vec<SstFileInfo> {
    let user = |ikey: &[u8]| ikey::unescape(ikey::escaped_part(ikey)).unwrap_or_default();
    let mut out = Vec::new();
    for (level, files) in version.levels.iter().enumerate() {
        for t in files {
            let m = &t.meta;
            out.push(SstFileInfo {
                level,
                number: m.number,
                file_name: table_name(m.number),
                size: m.size,
                entries: m.entries,
                smallest_key: user(&m.smallest),
                largest_key: user(&m.largest),
                smallest_seq: m.smallest_seq,
                largest_seq: m.largest_seq,
            });
        }
    }
    out
}

impl super::Tree {
    /// The live SSTables of the tree's current version, level by level
    /// (RocksDB: `GetLiveFilesMetaData`): number, size, entries, key range and
    /// sequence numbers, as the manifest records them. Read-only; the files
    /// may be compacted away right after the call.
    ///
    /// ```
    /// use strata_engine::{Tree, TreeOptions};
    /// use strata_engine::lsm::Durability;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let tree = Tree::open(dir.path(), TreeOptions::default())?;
    /// tree.put(b"a", b"1", Durability::Sync)?;
    /// tree.put(b"b", b"2", Durability::Sync)?;
    /// tree.flush()?;
    /// let files = tree.sst_files();
    /// assert_eq!(files.len(), 1);
    /// assert_eq!(files[0].level, 0);
    /// assert_eq!((files[0].smallest_key.as_slice(), files[0].largest_key.as_slice()), (&b"a"[..], &b"b"[..]));
    /// assert_eq!(files[0].entries, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sst_files(&self) -> Vec<SstFileInfo> {
        list(&self.inner.current_sv().version)
    }
}
