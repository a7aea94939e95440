//! Tags of a table (DynamoDB's `TagResource`): string keys to string values, kept in a
//! file `TAGS` in the table's directory and replaced atomically
//! ([`strata_fs::write_atomic`]). The format is specified in `docs/tags-format.md`.
//!
//! The file lives in the table's own directory, so the tags of a deleted table go with
//! its directory, and a table created again under the same name (a new id, a new
//! directory) starts without tags. The engine stores tags as given; the limits
//! (how many, how long, reserved prefixes) are the caller's rules.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use strata_fs::FileSystem;

use super::{Db, table_dir_name, validate_table_name};
use crate::table::DbError;

/// Tags of one table: key to value.
pub type Tags = BTreeMap<String, String>;

/// The tags file's name in a table's directory.
pub(crate) const TAGS_FILE: &str = "TAGS";
/// First eight bytes of a tags file.
const MAGIC: &[u8; 8] = b"STRATTAG";
/// The format version this build reads and writes.
const VERSION: u32 = 1;
use crate::framed::HEADER_LEN;

/// The bytes of a tags file holding `tags`.
pub(crate) fn encode(tags: &Tags) -> Vec<u8> {
    let mut body = Vec::new();
    put_u32(&mut body, len32(tags.len()));
    for (k, v) in tags {
        put_u32(&mut body, len32(k.len()));
        body.extend_from_slice(k.as_bytes());
        put_u32(&mut body, len32(v.len()));
        body.extend_from_slice(v.as_bytes());
    }
    crate::framed::encode(MAGIC, VERSION, &body)
}

/// Parses and checks a tags file's bytes (`path` names it in errors).
pub(crate) fn decode(bytes: &[u8], path: &Path) -> Result<Tags, DbError> {
    let corrupt = |offset: usize, reason: String| DbError::TagsCorrupt {
        path: path.to_path_buf(),
        offset: offset as u64,
        reason,
    };
    let (version, crc_at) =
        crate::framed::check(bytes, MAGIC).map_err(|(offset, reason)| corrupt(offset, reason))?;
    // Checked after the checksum: a flipped version byte is corruption, not a newer
    // file.
    if version != VERSION {
        return Err(corrupt(
            8,
            format!("format version {version}; this build reads version {VERSION}"),
        ));
    }
    let body = &bytes[..crc_at];
    let mut pos = HEADER_LEN;
    let count = read_u32(body, pos).ok_or_else(|| corrupt(pos, "no tag count".into()))?;
    pos += 4;
    let mut tags = Tags::new();
    for _ in 0..count {
        let at = pos;
        let key = read_str(body, &mut pos).map_err(|r| corrupt(at, r))?;
        let value_at = pos;
        let value = read_str(body, &mut pos).map_err(|r| corrupt(value_at, r))?;
        if tags.insert(key, value).is_some() {
            return Err(corrupt(at, "duplicate tag key".into()));
        }
    }
    if pos != body.len() {
        return Err(corrupt(
            pos,
            format!("{} bytes after the last tag", body.len() - pos),
        ));
    }
    Ok(tags)
}

fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn read_u32(buf: &[u8], at: usize) -> Option<u32> {
    let b = buf.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// A length-prefixed UTF-8 string at `*pos`, advancing `*pos` past it.
fn read_str(buf: &[u8], pos: &mut usize) -> Result<String, String> {
    let len = read_u32(buf, *pos).ok_or("truncated string length")? as usize;
    let start = *pos + 4;
    let end = start
        .checked_add(len)
        .filter(|&e| e <= buf.len())
        .ok_or_else(|| format!("string of {len} bytes runs past the body"))?;
    let s = std::str::from_utf8(&buf[start..end])
        .map_err(|e| format!("string is not UTF-8: {e}"))?
        .to_owned();
    *pos = end;
    Ok(s)
}

/// Reads the tags file at `path`; no file means no tags.
fn load(fs: &dyn FileSystem, path: &Path) -> Result<Tags, DbError> {
    if !fs.exists(path) {
        return Ok(Tags::new());
    }
    let bytes = fs.read_all(path).map_err(|e| DbError::io(path, e))?;
    decode(&bytes, path)
}

impl Db {
    /// The tags file of table `name`, checked to exist in an open database.
    fn tags_path(&self, name: &str) -> Result<PathBuf, DbError> {
        validate_table_name(name)?;
        let st = self.inner.state.read();
        let entry = st.entry(name)?;
        Ok(self
            .tables_dir()
            .join(table_dir_name(entry.id))
            .join(TAGS_FILE))
    }

    /// The tags of table `name` (empty if it has none). Tags are persisted with the
    /// table: they survive a reopen, and go when the table is deleted.
    ///
    /// ```
    /// use strata_engine::{Db, DbOptions, TableSpec};
    /// use strata_item::{KeySchema, KeyType};
    ///
    /// let db = Db::open("/strata-in-memory", DbOptions::in_memory())?;
    /// db.create_table(TableSpec::new("tbl", KeySchema::simple("pk", KeyType::S)))?;
    /// db.update_table_tags("tbl", |tags| {
    ///     tags.insert("env".into(), "test".into());
    /// })?;
    /// assert_eq!(db.table_tags("tbl")?.get("env").map(String::as_str), Some("test"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// A validation error for a bad name; [`DbError::TableNotFound`];
    /// [`DbError::Closed`]; [`DbError::TagsCorrupt`] for a damaged tags file; I/O
    /// errors.
    pub fn table_tags(&self, name: &str) -> Result<Tags, DbError> {
        let _ddl = self.inner.ddl.lock();
        let path = self.tags_path(name)?;
        load(self.inner.fs.as_ref(), &path)
    }

    /// Changes the tags of table `name`: `f` gets the current tags and may change
    /// them; if it did, the new set replaces the file atomically before this returns
    /// (an empty set removes the file). Updates of the tags are serialised with each
    /// other and with creating, updating and deleting tables. `f`'s result is
    /// returned (so `f` can refuse a change: leave the map as it was and return an
    /// error of its own).
    ///
    /// # Errors
    /// As [`Db::table_tags`]; I/O errors writing the file (the tags are then as
    /// before, or — if only the directory sync failed — possibly the new ones).
    pub fn update_table_tags<R>(
        &self,
        name: &str,
        f: impl FnOnce(&mut Tags) -> R,
    ) -> Result<R, DbError> {
        let _ddl = self.inner.ddl.lock();
        let path = self.tags_path(name)?;
        let fs = self.inner.fs.as_ref();
        let before = load(fs, &path)?;
        let mut tags = before.clone();
        let r = f(&mut tags);
        if tags != before {
            if tags.is_empty() {
                fs.remove_file(&path).map_err(|e| DbError::io(&path, e))?;
                if let Some(dir) = path.parent() {
                    fs.sync_dir(dir).map_err(|e| DbError::io(dir, e))?;
                }
            } else {
                strata_fs::write_atomic(fs, &path, &encode(&tags))
                    .map_err(|e| DbError::io(&path, e))?;
            }
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;

    fn sample() -> Tags {
        [("env", "test"), ("team", ""), ("ünï", "çødé")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    #[test]
    fn round_trips() {
        let p = Path::new("TAGS");
        assert_eq!(decode(&encode(&sample()), p).unwrap(), sample());
        assert_eq!(decode(&encode(&Tags::new()), p).unwrap(), Tags::new());
    }

    #[test]
    fn every_flipped_byte_and_truncation_is_detected() {
        let bytes = encode(&sample());
        let p = Path::new("TAGS");
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x40;
            assert!(
                matches!(decode(&b, p), Err(DbError::TagsCorrupt { .. })),
                "flip at {i}"
            );
            assert!(
                matches!(decode(&bytes[..i], p), Err(DbError::TagsCorrupt { .. })),
                "cut at {i}"
            );
        }
    }

    #[test]
    fn persisted_verified_and_corruption_reported_with_the_file() {
        use crate::{DbOptions, TableSpec};
        use strata_item::{KeySchema, KeyType};
        let opts = DbOptions::in_memory();
        let fs = std::sync::Arc::clone(&opts.fs);
        let db = Db::open(crate::IN_MEMORY_PATH, opts.clone()).unwrap();
        db.create_table(TableSpec::new("tbl", KeySchema::simple("pk", KeyType::S)))
            .unwrap();
        db.update_table_tags("tbl", |t| *t = sample()).unwrap();
        assert!(db.verify().unwrap().is_clean());
        db.close().unwrap();
        let db = Db::open(crate::IN_MEMORY_PATH, opts.clone()).unwrap();
        assert_eq!(db.table_tags("tbl").unwrap(), sample());
        // A damaged file is reported, with its path, by reads and by verify.
        let path = db.tags_path("tbl").unwrap();
        let mut bytes = fs.read_all(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        strata_fs::write_atomic(fs.as_ref(), &path, &bytes).unwrap();
        match db.table_tags("tbl") {
            Err(DbError::TagsCorrupt { path: p, .. }) => assert_eq!(p, path),
            other => panic!("{other:?}"),
        }
        assert!(!db.verify().unwrap().is_clean());
        // Removing every tag removes the file.
        db.update_table_tags("tbl", |t| t.clear()).unwrap_err();
        strata_fs::write_atomic(fs.as_ref(), &path, &encode(&sample())).unwrap();
        db.update_table_tags("tbl", |t| t.clear()).unwrap();
        assert!(!fs.exists(&path));
        assert!(db.table_tags("tbl").unwrap().is_empty());
    }
}
