//! Reading DynamoDB's export format for `strata import`: the file (gzip detected by
//! its magic bytes `1f 8b`), line by line, each line `{"Item": {...}}` with the
//! item in DynamoDB JSON. Blank lines are skipped. Pure parsing is in
//! [`parse_line`], testable alone.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use strata_item::Item;
use strata_item::validate::validate_item;
use strata_item::{KeySchema, PrimaryKey};

use crate::error::CliError;

/// The first two bytes of a gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// One non-blank line of the input, parsed.
#[derive(Debug)]
pub struct Line {
    /// The line number (1-based).
    pub number: u64,
    /// Byte offset in the decompressed input just after this line.
    pub end: u64,
    /// The item.
    pub item: Item,
    /// Its primary key.
    pub key: PrimaryKey,
}

/// The lines of an input file, decompressed when it is gzip.
pub struct Input {
    path: PathBuf,
    reader: Box<dyn BufRead>,
    number: u64,
    offset: u64,
    buf: String,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Input")
            .field("path", &self.path)
            .field("line", &self.number)
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

impl Input {
    /// Opens `path`.
    pub fn open(path: &Path) -> Result<Input, CliError> {
        let mut file = File::open(path).map_err(|e| CliError::io(path, e))?;
        let mut magic = [0u8; 2];
        let mut got = 0;
        while got < 2 {
            match file.read(&mut magic[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(CliError::io(path, e)),
            }
        }
        let file = File::open(path).map_err(|e| CliError::io(path, e))?;
        let reader: Box<dyn BufRead> = if got == 2 && magic == GZIP_MAGIC {
            Box::new(BufReader::new(MultiGzDecoder::new(BufReader::new(file))))
        } else {
            Box::new(BufReader::new(file))
        };
        Ok(Input {
            path: path.to_path_buf(),
            reader,
            number: 0,
            offset: 0,
            buf: String::new(),
        })
    }

    /// The next non-blank line, parsed against `schema`; `None` at the end.
    ///
    /// # Errors
    /// [`CliError::Input`] with the line number for a line that is not an item
    /// of the table (or not UTF-8), [`CliError::Io`] for a read error (a damaged
    /// gzip stream among them).
    pub fn next_line(&mut self, schema: &KeySchema) -> Result<Option<Line>, CliError> {
        loop {
            self.buf.clear();
            let n = self.reader.read_line(&mut self.buf).map_err(|e| {
                if e.kind() == std::io::ErrorKind::InvalidData {
                    CliError::Input {
                        path: self.path.clone(),
                        line: self.number + 1,
                        reason: format!("not UTF-8 text ({e})"),
                    }
                } else {
                    CliError::io(&self.path, e)
                }
            })?;
            if n == 0 {
                return Ok(None);
            }
            self.number += 1;
            self.offset += n as u64;
            if self.buf.trim().is_empty() {
                continue;
            }
            let (item, key) = parse_line(&self.buf, schema).map_err(|reason| CliError::Input {
                path: self.path.clone(),
                line: self.number,
                reason,
            })?;
            return Ok(Some(Line {
                number: self.number,
                end: self.offset,
                item,
                key,
            }));
        }
    }

    /// Lines read so far (blank ones included).
    pub fn lines_read(&self) -> u64 {
        self.number
    }

    /// Bytes read so far (decompressed).
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

/// Parses one line of the export format into an item valid for `schema`
/// (DynamoDB's item rules: names, values, 400 KB; the key attributes present
/// with their declared types).
///
/// # Errors
/// What is wrong, for a message next to the line number.
pub fn parse_line(line: &str, schema: &KeySchema) -> Result<(Item, PrimaryKey), String> {
    let v: serde_json::Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let obj = v
        .as_object()
        .ok_or_else(|| "expected a JSON object {\"Item\": {...}}".to_owned())?;
    let item_json = obj
        .get("Item")
        .ok_or_else(|| "no \"Item\" member (expected {\"Item\": {...}})".to_owned())?;
    if let Some(other) = obj.keys().find(|k| *k != "Item") {
        return Err(format!("unexpected member {other:?} next to \"Item\""));
    }
    let item = Item::from_dynamo_json(item_json).map_err(|e| e.to_string())?;
    let key = validate_item(&item, Some(schema))
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "the item has no primary key".to_owned())?;
    Ok((item, key))
}

#[cfg(test)]
mod tests {
    use strata_item::{KeyType, item};

    use super::*;

    fn schema() -> KeySchema {
        KeySchema::composite("id", KeyType::S, "ts", KeyType::N)
    }

    #[test]
    fn a_valid_line_parses() {
        let (it, key) = parse_line(
            r#"{"Item": {"id": {"S": "a"}, "ts": {"N": "3"}, "x": {"BOOL": true}}}"#,
            &schema(),
        )
        .unwrap();
        assert_eq!(it, item! { "id" => "a", "ts" => 3, "x" => true });
        assert_eq!(key.partition, strata_item::AttributeValue::from("a"));
    }

    #[test]
    fn bad_lines_say_why() {
        let s = schema();
        let err = |l: &str| parse_line(l, &s).unwrap_err();
        assert!(err("{").contains("not JSON"), "{}", err("{"));
        assert!(err("[1]").contains("JSON object"));
        assert!(err(r#"{"id": {"S": "a"}}"#).contains("no \"Item\""));
        assert!(err(r#"{"Item": {"id": {"S": "a"}, "ts": {"N": 3}}}"#).contains("ts"));
        assert!(err(r#"{"Item": {"id": {"S": "a"}}}"#).contains("ts"));
        assert!(err(r#"{"Item": {"id": {"N": "1"}, "ts": {"N": "3"}}}"#).contains("id"));
        assert!(err(r#"{"Item": {"id": {"S": "a"}, "ts": {"N": "1"}}, "x": 1}"#).contains("\"x\""));
    }

    #[test]
    fn gzip_is_detected_by_its_magic() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let text = "{\"Item\": {\"id\": {\"S\": \"a\"}, \"ts\": {\"N\": \"1\"}}}\n\n{\"Item\": {\"id\": {\"S\": \"b\"}, \"ts\": {\"N\": \"2\"}}}\n";
        let plain = dir.path().join("plain.json");
        std::fs::write(&plain, text).unwrap();
        // Named .json, compressed all the same: the magic decides.
        let gz = dir.path().join("gz.json");
        let mut enc = flate2::write::GzEncoder::new(
            std::fs::File::create(&gz).unwrap(),
            flate2::Compression::fast(),
        );
        enc.write_all(text.as_bytes()).unwrap();
        enc.finish().unwrap();
        for p in [plain, gz] {
            let mut input = Input::open(&p).unwrap();
            let a = input.next_line(&schema()).unwrap().unwrap();
            assert_eq!((a.number, a.end), (1, text.find('\n').unwrap() as u64 + 1));
            let b = input.next_line(&schema()).unwrap().unwrap();
            assert_eq!(b.number, 3);
            assert_eq!(b.end, text.len() as u64);
            assert!(input.next_line(&schema()).unwrap().is_none());
        }
    }
}
