//! The catalog: which tables a database has, persisted in one file (`CATALOG`) that is
//! replaced atomically ([`strata_fs::write_atomic`]: temp file, fsync, rename, fsync of
//! the directory). The format is specified in `docs/catalog-format.md`.
//!
//! Writing the catalog is the commit point of `create_table` and `delete_table`: a
//! table's directory is made before the catalog names it and removed after the catalog
//! stops naming it; on open, directories the catalog does not name are removed. So a
//! crash leaves a table either fully there or fully gone.

use std::path::Path;

use strata_fs::FileSystem;
use strata_item::{KeyAttribute, KeySchema, KeyType};

use crate::table::{
    CapacityMode, DbError, GsiSpec, IndexProjection, LsiSpec, OnDemandThroughput,
    ProvisionedThroughput, TableDurability, TableSpec,
};

/// The catalog file's name in the database directory.
pub(crate) const CATALOG_FILE: &str = "CATALOG";
/// First eight bytes of a catalog.
pub(crate) const MAGIC: &[u8; 8] = b"STRATCAT";
/// The format version this build writes (4: on-demand maximum per table, provisioned
/// capacity per GSI).
pub(crate) const VERSION: u32 = 4;
/// The oldest format version this build reads (1: no global secondary indexes).
pub(crate) const MIN_VERSION: u32 = 1;
use crate::framed::HEADER_LEN;

/// One table in the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableEntry {
    /// Never reused.
    pub id: u64,
    /// Milliseconds since the Unix epoch.
    pub created_at_ms: u64,
    /// What the table was created with, with its GSIs as they are now.
    pub spec: TableSpec,
    /// The id of each GSI of `spec`, in the same order: its directory is
    /// `gsi/g<id:02>`. Never reused within the table.
    pub gsi_ids: Vec<u32>,
    /// The id the next GSI added to the table gets.
    pub next_gsi_id: u32,
}

impl TableEntry {
    /// An entry for a new table: its GSIs get ids 0, 1, ...
    pub(crate) fn new(id: u64, created_at_ms: u64, spec: TableSpec) -> TableEntry {
        let n = u32::try_from(spec.global_secondary_indexes.len()).unwrap_or(u32::MAX);
        TableEntry {
            id,
            created_at_ms,
            gsi_ids: (0..n).collect(),
            next_gsi_id: n,
            spec,
        }
    }
}

/// The decoded catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Catalog {
    /// The id the next created table gets.
    pub next_table_id: u64,
    /// The tables, in name order.
    pub tables: Vec<TableEntry>,
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog {
            next_table_id: 1,
            tables: Vec::new(),
        }
    }
}

impl Catalog {
    /// The table called `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&TableEntry> {
        self.tables.iter().find(|t| t.spec.name == name)
    }

    /// Reads and checks the catalog at `path`.
    pub(crate) fn load(fs: &dyn FileSystem, path: &Path) -> Result<Catalog, DbError> {
        let bytes = fs.read_all(path).map_err(|e| DbError::io(path, e))?;
        Catalog::decode(&bytes, path)
    }

    /// Writes the catalog to `path` atomically.
    pub(crate) fn store(&self, fs: &dyn FileSystem, path: &Path) -> Result<(), DbError> {
        strata_fs::write_atomic(fs, path, &self.encode()).map_err(|e| DbError::io(path, e))
    }

    /// The file's bytes.
    pub(crate) fn encode(&self) -> Vec<u8> {
        self.encode_version(VERSION)
    }

    /// The file's bytes in format `version` (older versions drop what they cannot
    /// hold: version 1 every GSI, versions 1 and 2 the GSI ids, versions 1 to 3 the
    /// on-demand maximum and the GSIs' provisioned capacity).
    fn encode_version(&self, version: u32) -> Vec<u8> {
        let mut body = Vec::with_capacity(256);
        put_u64(&mut body, self.next_table_id);
        put_u32(
            &mut body,
            u32::try_from(self.tables.len()).unwrap_or(u32::MAX),
        );
        for t in &self.tables {
            encode_table(&mut body, t, version);
        }
        crate::framed::encode(MAGIC, version, &body)
    }

    /// Parses and checks a catalog file's bytes.
    pub(crate) fn decode(bytes: &[u8], path: &Path) -> Result<Catalog, DbError> {
        let corrupt = |offset: usize, reason: String| DbError::CatalogCorrupt {
            path: path.to_path_buf(),
            offset: offset as u64,
            reason,
        };
        let (version, crc_at) = crate::framed::check(bytes, MAGIC)
            .map_err(|(offset, reason)| corrupt(offset, reason))?;
        // Checked after the checksum: a flipped version byte is corruption, not a
        // newer file.
        if !(MIN_VERSION..=VERSION).contains(&version) {
            return Err(DbError::CatalogVersion {
                path: path.to_path_buf(),
                found: version,
                supported: VERSION,
            });
        }
        let mut r = Reader {
            buf: &bytes[..crc_at],
            pos: HEADER_LEN,
        };
        let decoded = (|| -> Result<Catalog, (usize, String)> {
            let next_table_id = r.u64()?;
            let count = r.u32()?;
            let mut tables: Vec<TableEntry> = Vec::new();
            for _ in 0..count {
                let at = r.pos;
                let t = decode_table(&mut r, version)?;
                if t.id == 0 || t.id >= next_table_id {
                    return Err((
                        at,
                        format!("table id {} not below next id {next_table_id}", t.id),
                    ));
                }
                if tables
                    .iter()
                    .any(|o| o.id == t.id || o.spec.name == t.spec.name)
                {
                    return Err((
                        at,
                        format!("table {:?} (id {}) listed twice", t.spec.name, t.id),
                    ));
                }
                t.spec
                    .validate()
                    .map_err(|e| (at, format!("invalid table spec: {e}")))?;
                tables.push(t);
            }
            if r.pos != r.buf.len() {
                return Err((
                    r.pos,
                    format!("{} bytes after the last table", r.buf.len() - r.pos),
                ));
            }
            tables.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
            Ok(Catalog {
                next_table_id,
                tables,
            })
        })();
        decoded.map_err(|(offset, reason)| corrupt(offset, reason))
    }
}

fn put_u8(out: &mut Vec<u8>, v: u8) {
    out.push(v);
}
fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}
/// Strings in specs are validated to at most 255 bytes (names) or 65535 (attributes),
/// so a u16 length always fits.
fn put_str(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    let len = b.len().min(usize::from(u16::MAX));
    put_u16(out, len as u16);
    out.extend_from_slice(&b[..len]);
}
fn put_attr(out: &mut Vec<u8>, a: &KeyAttribute) {
    put_str(out, &a.name);
    put_u8(
        out,
        match a.key_type {
            KeyType::S => b'S',
            KeyType::N => b'N',
            KeyType::B => b'B',
        },
    );
}

fn encode_table(out: &mut Vec<u8>, t: &TableEntry, version: u32) {
    let s = &t.spec;
    put_u64(out, t.id);
    put_u64(out, t.created_at_ms);
    put_str(out, &s.name);
    put_u32(out, s.partitions);
    put_u8(
        out,
        match s.durability {
            TableDurability::Sync => 0,
            TableDurability::Buffered => 1,
        },
    );
    match s.capacity {
        CapacityMode::OnDemand => put_u8(out, 0),
        CapacityMode::Provisioned {
            read_capacity_units,
            write_capacity_units,
        } => {
            put_u8(out, 1);
            put_u64(out, read_capacity_units);
            put_u64(out, write_capacity_units);
        }
    }
    if version >= 4 {
        put_opt_u64(out, s.on_demand_throughput.max_read_request_units);
        put_opt_u64(out, s.on_demand_throughput.max_write_request_units);
    }
    put_key_schema(out, &s.key_schema);
    put_u8(
        out,
        u8::try_from(s.local_secondary_indexes.len()).unwrap_or(u8::MAX),
    );
    for lsi in &s.local_secondary_indexes {
        put_str(out, &lsi.name);
        put_attr(out, &lsi.sort_key);
        put_projection(out, &lsi.projection);
    }
    if version < 2 {
        return;
    }
    if version >= 3 {
        put_u32(out, t.next_gsi_id);
    }
    put_u8(
        out,
        u8::try_from(s.global_secondary_indexes.len()).unwrap_or(u8::MAX),
    );
    for (gsi, id) in s.global_secondary_indexes.iter().zip(&t.gsi_ids) {
        if version >= 3 {
            put_u32(out, *id);
        }
        put_str(out, &gsi.name);
        put_key_schema(out, &gsi.key_schema);
        put_u32(out, gsi.partitions);
        put_projection(out, &gsi.projection);
        if version >= 4 {
            match gsi.provisioned_throughput {
                None => put_u8(out, 0),
                Some(t) => {
                    put_u8(out, 1);
                    put_u64(out, t.read_capacity_units);
                    put_u64(out, t.write_capacity_units);
                }
            }
        }
    }
}

fn put_opt_u64(out: &mut Vec<u8>, v: Option<u64>) {
    match v {
        None => put_u8(out, 0),
        Some(v) => {
            put_u8(out, 1);
            put_u64(out, v);
        }
    }
}

fn put_key_schema(out: &mut Vec<u8>, k: &KeySchema) {
    put_attr(out, &k.partition_key);
    match &k.sort_key {
        None => put_u8(out, 0),
        Some(a) => {
            put_u8(out, 1);
            put_attr(out, a);
        }
    }
}

fn put_projection(out: &mut Vec<u8>, p: &IndexProjection) {
    match p {
        IndexProjection::KeysOnly => put_u8(out, 0),
        IndexProjection::Include(attrs) => {
            put_u8(out, 1);
            put_u16(out, u16::try_from(attrs.len()).unwrap_or(u16::MAX));
            for a in attrs {
                put_str(out, a);
            }
        }
        IndexProjection::All => put_u8(out, 2),
    }
}

type DecodeResult<T> = Result<T, (usize, String)>;

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> DecodeResult<&[u8]> {
        if self.buf.len() - self.pos < n {
            return Err((
                self.pos,
                format!(
                    "truncated: need {n} bytes, {} left",
                    self.buf.len() - self.pos
                ),
            ));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self) -> DecodeResult<u8> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> DecodeResult<u16> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> DecodeResult<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> DecodeResult<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn opt_u64(&mut self) -> DecodeResult<Option<u64>> {
        let at = self.pos;
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(self.u64()?)),
            other => Err((at, format!("bad optional-number flag {other}"))),
        }
    }
    fn string(&mut self) -> DecodeResult<String> {
        let at = self.pos;
        let len = usize::from(self.u16()?);
        let b = self.take(len)?;
        String::from_utf8(b.to_vec()).map_err(|_| (at, "string is not UTF-8".to_owned()))
    }
    fn key_schema(&mut self) -> DecodeResult<KeySchema> {
        let partition_key = self.attr()?;
        let at = self.pos;
        let sort_key = match self.u8()? {
            0 => None,
            1 => Some(self.attr()?),
            other => return Err((at, format!("bad sort-key flag {other}"))),
        };
        Ok(KeySchema {
            partition_key,
            sort_key,
        })
    }
    fn projection(&mut self) -> DecodeResult<IndexProjection> {
        let at = self.pos;
        Ok(match self.u8()? {
            0 => IndexProjection::KeysOnly,
            1 => {
                let n = self.u16()?;
                let mut attrs = Vec::with_capacity(usize::from(n));
                for _ in 0..n {
                    attrs.push(self.string()?);
                }
                IndexProjection::Include(attrs)
            }
            2 => IndexProjection::All,
            other => return Err((at, format!("unknown projection byte {other}"))),
        })
    }
    fn attr(&mut self) -> DecodeResult<KeyAttribute> {
        let name = self.string()?;
        let at = self.pos;
        let key_type = match self.u8()? {
            b'S' => KeyType::S,
            b'N' => KeyType::N,
            b'B' => KeyType::B,
            other => return Err((at, format!("unknown key type byte {other:#04x}"))),
        };
        Ok(KeyAttribute { name, key_type })
    }
}

fn decode_table(r: &mut Reader<'_>, version: u32) -> DecodeResult<TableEntry> {
    let id = r.u64()?;
    let created_at_ms = r.u64()?;
    let name = r.string()?;
    let partitions = r.u32()?;
    let at = r.pos;
    let durability = match r.u8()? {
        0 => TableDurability::Sync,
        1 => TableDurability::Buffered,
        other => return Err((at, format!("unknown durability byte {other}"))),
    };
    let at = r.pos;
    let capacity = match r.u8()? {
        0 => CapacityMode::OnDemand,
        1 => CapacityMode::Provisioned {
            read_capacity_units: r.u64()?,
            write_capacity_units: r.u64()?,
        },
        other => return Err((at, format!("unknown capacity mode byte {other}"))),
    };
    let on_demand = if version >= 4 {
        OnDemandThroughput {
            max_read_request_units: r.opt_u64()?,
            max_write_request_units: r.opt_u64()?,
        }
    } else {
        OnDemandThroughput::default()
    };
    let key_schema = r.key_schema()?;
    let lsi_count = r.u8()?;
    let mut lsis = Vec::with_capacity(usize::from(lsi_count));
    for _ in 0..lsi_count {
        let name = r.string()?;
        let sort_key = r.attr()?;
        let projection = r.projection()?;
        lsis.push(LsiSpec {
            name,
            sort_key,
            projection,
        });
    }
    let mut gsis = Vec::new();
    let mut gsi_ids: Vec<u32> = Vec::new();
    let mut next_gsi_id = 0u32;
    if version >= 2 {
        if version >= 3 {
            next_gsi_id = r.u32()?;
        }
        let gsi_count = r.u8()?;
        for _ in 0..gsi_count {
            let at = r.pos;
            let id = if version >= 3 {
                r.u32()?
            } else {
                u32::try_from(gsis.len()).unwrap_or(u32::MAX)
            };
            if version >= 3 && (id >= next_gsi_id || gsi_ids.contains(&id)) {
                return Err((
                    at,
                    format!("GSI id {id} repeated or not below next id {next_gsi_id}"),
                ));
            }
            gsi_ids.push(id);
            let name = r.string()?;
            let key_schema = r.key_schema()?;
            let partitions = r.u32()?;
            let projection = r.projection()?;
            let mut gsi = GsiSpec::new(name, key_schema)
                .partitions(partitions)
                .projection(projection);
            if version >= 4 {
                let at = r.pos;
                match r.u8()? {
                    0 => {}
                    1 => {
                        gsi = gsi.provisioned(ProvisionedThroughput::new(r.u64()?, r.u64()?));
                    }
                    other => return Err((at, format!("bad GSI throughput flag {other}"))),
                }
            }
            gsis.push(gsi);
        }
    }
    let mut spec = TableSpec::new(name, key_schema)
        .partitions(partitions)
        .durability(durability)
        .capacity(capacity)
        .on_demand_throughput(on_demand);
    spec.local_secondary_indexes = lsis;
    if version < 3 {
        next_gsi_id = u32::try_from(gsis.len()).unwrap_or(u32::MAX);
    }
    spec.global_secondary_indexes = gsis;
    Ok(TableEntry {
        id,
        created_at_ms,
        spec,
        gsi_ids,
        next_gsi_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Catalog {
        let a = TableSpec::new(
            "alpha",
            KeySchema::composite("pk", KeyType::S, "sk", KeyType::N),
        )
        .partitions(7)
        .durability(TableDurability::Buffered)
        .capacity(CapacityMode::Provisioned {
            read_capacity_units: 5,
            write_capacity_units: 9,
        })
        .lsi(LsiSpec::new("by_x", "x", KeyType::B).projection(IndexProjection::KeysOnly))
        .lsi(
            LsiSpec::new("by_y", "y", KeyType::S)
                .projection(IndexProjection::Include(vec!["a".into(), "é".into()])),
        )
        .lsi(LsiSpec::new("by_z", "z", KeyType::N))
        .gsi(
            GsiSpec::new(
                "by_g",
                KeySchema::composite("g", KeyType::S, "h", KeyType::N),
            )
            .partitions(3)
            .projection(IndexProjection::Include(vec!["c".into()])),
        )
        .gsi(
            GsiSpec::new("by_k", KeySchema::simple("k", KeyType::B))
                .provisioned(ProvisionedThroughput::new(3, 4)),
        );
        let b = TableSpec::new("beta", KeySchema::simple("id", KeyType::B)).on_demand_throughput(
            OnDemandThroughput {
                max_read_request_units: None,
                max_write_request_units: Some(77),
            },
        );
        Catalog {
            next_table_id: 10,
            tables: vec![
                TableEntry {
                    gsi_ids: vec![4, 1],
                    next_gsi_id: 6,
                    ..TableEntry::new(3, 1_700_000_000_000, a)
                },
                TableEntry::new(9, 1, b),
            ],
        }
    }

    #[test]
    fn round_trip() {
        let c = sample();
        let bytes = c.encode();
        assert_eq!(&bytes[..8], MAGIC);
        assert_eq!(Catalog::decode(&bytes, Path::new("C")).unwrap(), c);
        let empty = Catalog::default();
        assert_eq!(
            Catalog::decode(&empty.encode(), Path::new("C")).unwrap(),
            empty
        );
    }

    #[test]
    fn every_flipped_byte_and_truncation_is_detected() {
        let bytes = sample().encode();
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x40;
            let err = Catalog::decode(&b, Path::new("C")).unwrap_err();
            assert!(
                matches!(err, DbError::CatalogCorrupt { .. }),
                "byte {i}: {err}"
            );
        }
        for len in 0..bytes.len() {
            assert!(
                Catalog::decode(&bytes[..len], Path::new("C")).is_err(),
                "len {len}"
            );
        }
    }

    #[test]
    fn newer_version_is_reported_as_such() {
        let mut b = sample().encode();
        b[8] = 5;
        let n = b.len();
        let crc = crc32fast::hash(&b[..n - 4]);
        b[n - 4..].copy_from_slice(&crc.to_le_bytes());
        let err = Catalog::decode(&b, Path::new("C")).unwrap_err();
        assert!(
            matches!(
                err,
                DbError::CatalogVersion {
                    found: 5,
                    supported: 4,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn versions_1_to_3_are_still_read() {
        // Version 3: no on-demand maximum, no GSI throughput.
        let mut c = sample();
        for t in &mut c.tables {
            t.spec.on_demand_throughput = OnDemandThroughput::default();
            for g in &mut t.spec.global_secondary_indexes {
                g.provisioned_throughput = None;
            }
        }
        let v3 = c.encode_version(3);
        assert_eq!(v3[8], 3);
        assert_eq!(Catalog::decode(&v3, Path::new("C")).unwrap(), c);
        // Version 2: GSIs without ids (their ids are their positions).
        let v2 = c.encode_version(2);
        assert_eq!(v2[8], 2);
        c.tables[0].gsi_ids = vec![0, 1];
        c.tables[0].next_gsi_id = 2;
        assert_eq!(Catalog::decode(&v2, Path::new("C")).unwrap(), c);
        // Version 1: no GSIs at all.
        for t in &mut c.tables {
            t.spec.global_secondary_indexes.clear();
            t.gsi_ids.clear();
            t.next_gsi_id = 0;
        }
        let v1 = c.encode_version(1);
        assert_eq!(v1[8], 1);
        assert_eq!(Catalog::decode(&v1, Path::new("C")).unwrap(), c);
    }

    #[test]
    fn repeated_gsi_ids_are_refused() {
        let mut c = sample();
        c.tables[0].gsi_ids = vec![4, 4];
        let err = Catalog::decode(&c.encode(), Path::new("C")).unwrap_err();
        assert!(matches!(err, DbError::CatalogCorrupt { .. }), "{err}");
        c.tables[0].gsi_ids = vec![4, 6];
        let err = Catalog::decode(&c.encode(), Path::new("C")).unwrap_err();
        assert!(matches!(err, DbError::CatalogCorrupt { .. }), "{err}");
    }

    #[test]
    fn structural_errors_carry_offsets() {
        // A well-checksummed body with an unknown durability byte.
        let mut c = sample();
        c.tables.truncate(1);
        let mut b = c.encode();
        // id(8) created(8) name(2+5) partitions(4) => durability at 16+8+4 + 8+8+7+4
        let at = HEADER_LEN + 12 + 8 + 8 + 7 + 4;
        b[at] = 7;
        let n = b.len();
        let crc = crc32fast::hash(&b[..n - 4]);
        b[n - 4..].copy_from_slice(&crc.to_le_bytes());
        match Catalog::decode(&b, Path::new("C")).unwrap_err() {
            DbError::CatalogCorrupt { offset, reason, .. } => {
                assert_eq!(offset, at as u64);
                assert!(reason.contains("durability"), "{reason}");
            }
            other => panic!("{other}"),
        }
    }
}
