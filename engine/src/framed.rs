//! The framing shared by the database's small whole-file records (`CATALOG`,
//! a table's `TAGS`): an 8-byte magic, a format version (u32 LE), the body's
//! length (u32 LE), the body, and a CRC-32 of everything before it (u32 LE).
//! Formats: `docs/catalog-format.md`, `docs/tags-format.md`.

/// Magic, version, body length.
pub(crate) const HEADER_LEN: usize = 16;

/// The framed file holding `body` in format `version`.
pub(crate) fn encode(magic: &[u8; 8], version: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + body.len() + 4);
    out.extend_from_slice(magic);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(body);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Checks a framed file's magic, length and checksum. Returns its version and
/// where its body ends (the body is `bytes[HEADER_LEN..end]`), or the offset
/// and reason of the first problem. The version is the caller's to check,
/// after the checksum (a flipped version byte is corruption, not a newer file).
pub(crate) fn check(bytes: &[u8], magic: &[u8; 8]) -> Result<(u32, usize), (usize, String)> {
    let u32_at = |at: usize| {
        bytes
            .get(at..at + 4)
            .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    if bytes.len() < HEADER_LEN + 4 {
        return Err((
            0,
            format!("file is {} bytes, shorter than a header", bytes.len()),
        ));
    }
    if &bytes[..8] != magic {
        return Err((
            0,
            format!("bad magic {:02x?}, expected {magic:02x?}", &bytes[..8]),
        ));
    }
    let body_len = u32_at(12) as usize;
    let end = HEADER_LEN.saturating_add(body_len);
    if bytes.len() != end.saturating_add(4) {
        return Err((
            12,
            format!(
                "body length {body_len} implies a {}-byte file, found {} bytes",
                end.saturating_add(4),
                bytes.len()
            ),
        ));
    }
    let stored = u32_at(end);
    let actual = crc32fast::hash(&bytes[..end]);
    if stored != actual {
        return Err((
            end,
            format!("checksum mismatch: stored {stored:#010x}, computed {actual:#010x}"),
        ));
    }
    Ok((u32_at(8), end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_damage_found() {
        let f = encode(b"TESTMAGC", 3, b"hello");
        assert_eq!(check(&f, b"TESTMAGC"), Ok((3, HEADER_LEN + 5)));
        assert!(check(&f, b"OTHERMAG").is_err());
        for i in 0..f.len() {
            let mut bad = f.clone();
            bad[i] ^= 0x40;
            assert!(check(&bad, b"TESTMAGC").is_err(), "flip at {i}");
        }
        for n in 0..f.len() {
            assert!(check(&f[..n], b"TESTMAGC").is_err(), "cut at {n}");
        }
    }
}
