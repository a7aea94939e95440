//! The import checkpoint: a small JSON file recording how far into an input file
//! the acknowledged (durable) batches of `strata import` reached, so that an
//! interrupted import resumes there. Written atomically (temp file, fsync, rename,
//! directory fsync). Format: `docs/cli.md`, *Import checkpoint*.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use strata_fs::{FileSystem, RealFs, write_atomic};

use crate::error::CliError;

/// The value of the `format` member: the file's magic.
pub const FORMAT: &str = "strata-import-checkpoint";
/// The format version this build writes and reads.
pub const VERSION: u32 = 1;

/// Which input a checkpoint belongs to: its path, length and a CRC32 of its first
/// 64 KiB (a different or changed file is refused, not resumed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputId {
    /// The input file, absolute.
    pub path: PathBuf,
    /// Its length in bytes (as stored, compressed or not).
    pub len: u64,
    /// CRC32 of its first 64 KiB as stored.
    pub head_crc32: u32,
}

/// How much of the input to read for [`InputId::head_crc32`].
const HEAD_BYTES: u64 = 64 * 1024;

impl InputId {
    /// Identifies the file at `path`.
    pub fn of(path: &Path) -> Result<InputId, CliError> {
        use std::io::Read;
        let abs = std::fs::canonicalize(path).map_err(|e| CliError::io(path, e))?;
        let file = std::fs::File::open(&abs).map_err(|e| CliError::io(path, e))?;
        let len = file.metadata().map_err(|e| CliError::io(path, e))?.len();
        let mut head = Vec::new();
        file.take(HEAD_BYTES)
            .read_to_end(&mut head)
            .map_err(|e| CliError::io(path, e))?;
        let mut crc = flate2::Crc::new();
        crc.update(&head);
        Ok(InputId {
            path: abs,
            len,
            head_crc32: crc.sum(),
        })
    }
}

/// The checkpoint's contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`VERSION`].
    pub version: u32,
    /// The table imported into.
    pub table: String,
    /// The input.
    pub input: InputId,
    /// Lines of the input (1-based count) whose items are durably written.
    pub lines_done: u64,
    /// Byte offset in the (decompressed) input just after line `lines_done`.
    pub bytes_done: u64,
    /// Items written by the import so far (blank lines are not items).
    pub items_done: u64,
}

impl Checkpoint {
    /// A checkpoint at the start of `input`.
    pub fn start(table: &str, input: InputId) -> Checkpoint {
        Checkpoint {
            format: FORMAT.to_owned(),
            version: VERSION,
            table: table.to_owned(),
            input,
            lines_done: 0,
            bytes_done: 0,
            items_done: 0,
        }
    }

    /// Reads the checkpoint in `path`, if there is one.
    ///
    /// # Errors
    /// [`CliError::BadFile`] for a file that is not a checkpoint of this version.
    pub fn load(path: &Path) -> Result<Option<Checkpoint>, CliError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(CliError::io(path, e)),
        };
        let c: Checkpoint = serde_json::from_slice(&bytes).map_err(|e| {
            CliError::bad_file(
                path,
                format!("not an import checkpoint ({e}); remove it or pass --restart"),
            )
        })?;
        if c.format != FORMAT || c.version != VERSION {
            return Err(CliError::bad_file(
                path,
                format!(
                    "checkpoint format {:?} version {}, this build reads {FORMAT:?} version {VERSION}",
                    c.format, c.version
                ),
            ));
        }
        Ok(Some(c))
    }

    /// Replaces the checkpoint in `path` atomically and durably.
    pub fn store(&self, path: &Path) -> Result<(), CliError> {
        let text = serde_json::to_vec(self).map_err(|e| CliError::bad_file(path, e.to_string()))?;
        write_atomic(&RealFs::new(), path, &text).map_err(|e| CliError::io(path, e))
    }

    /// Removes the checkpoint in `path` (the import finished), durably.
    pub fn remove(path: &Path) -> Result<(), CliError> {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(CliError::io(path, e)),
        }
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
        if let Some(dir) = parent {
            RealFs::new()
                .sync_dir(dir)
                .map_err(|e| CliError::io(dir, e))?;
        }
        Ok(())
    }
}

/// The default checkpoint path: next to the database directory,
/// `<dir>.import-<table>.checkpoint`.
pub fn default_path(db_dir: &Path, table: &str) -> PathBuf {
    // Rebuilt from its components: a trailing separator would put the file
    // inside the directory.
    let mut p = db_dir.components().collect::<PathBuf>().into_os_string();
    p.push(format!(".import-{table}.checkpoint"));
    PathBuf::from(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_load_and_remove_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.json");
        std::fs::write(&input, b"{\"Item\":{}}\n").unwrap();
        let path = dir.path().join("cp");
        assert_eq!(Checkpoint::load(&path).unwrap(), None);
        let mut c = Checkpoint::start("t", InputId::of(&input).unwrap());
        c.lines_done = 3;
        c.bytes_done = 40;
        c.items_done = 2;
        c.store(&path).unwrap();
        assert_eq!(Checkpoint::load(&path).unwrap(), Some(c));
        Checkpoint::remove(&path).unwrap();
        assert_eq!(Checkpoint::load(&path).unwrap(), None);
    }

    #[test]
    fn a_foreign_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp");
        std::fs::write(&path, b"{\"format\":\"other\",\"version\":1}").unwrap();
        assert!(matches!(
            Checkpoint::load(&path),
            Err(CliError::BadFile { .. })
        ));
    }

    #[test]
    fn the_default_path_is_next_to_the_database() {
        assert_eq!(
            default_path(Path::new("/data/db/"), "users"),
            PathBuf::from("/data/db.import-users.checkpoint")
        );
    }
}
