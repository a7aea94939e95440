//! Fixed-width and varint encodings, and CRC masking.

/// Appends `v` as a little-endian fixed32.
#[inline]
pub(crate) fn put_fixed32(dst: &mut Vec<u8>, v: u32) {
    dst.extend_from_slice(&v.to_le_bytes());
}

/// Appends `v` as a little-endian fixed64.
#[inline]
pub(crate) fn put_fixed64(dst: &mut Vec<u8>, v: u64) {
    dst.extend_from_slice(&v.to_le_bytes());
}

/// Appends `v` as a varint (at most 10 bytes).
#[inline]
pub(crate) fn put_varint64(dst: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        dst.push((v as u8) | 0x80);
        v >>= 7;
    }
    dst.push(v as u8);
}

/// Appends `v` as a varint (at most 5 bytes).
#[inline]
pub(crate) fn put_varint32(dst: &mut Vec<u8>, v: u32) {
    put_varint64(dst, u64::from(v));
}

/// Reads a little-endian fixed32 at `pos`.
#[inline]
pub(crate) fn get_fixed32(src: &[u8], pos: usize) -> Option<u32> {
    let b = src.get(pos..pos.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Reads a little-endian fixed64 at `pos`.
#[inline]
pub(crate) fn get_fixed64(src: &[u8], pos: usize) -> Option<u64> {
    let b = src.get(pos..pos.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Some(u64::from_le_bytes(a))
}

/// Decodes a varint of at most `max_bytes` bytes at `pos` whose value must
/// fit in `bits` bits. Returns the value and the position after it.
#[inline]
fn get_varint(src: &[u8], pos: usize, max_bytes: usize, bits: u32) -> Option<(u64, usize)> {
    let mut result: u64 = 0;
    let mut p = pos;
    for i in 0..max_bytes.min(10) {
        let b = *src.get(p)?;
        p += 1;
        let shift = 7 * i as u32;
        let low = u64::from(b & 0x7f);
        if shift == 63 && low > 1 {
            return None; // bits would be lost off the top
        }
        result |= low << shift;
        if b & 0x80 == 0 {
            if bits < 64 && result >> bits != 0 {
                return None;
            }
            return Some((result, p));
        }
    }
    None
}

/// Decodes a varint32 at `pos`; `None` if truncated, too long or too large.
#[inline]
pub(crate) fn get_varint32(src: &[u8], pos: usize) -> Option<(u32, usize)> {
    // Fast path: one byte.
    if let Some(&b) = src.get(pos)
        && b < 0x80
    {
        return Some((u32::from(b), pos + 1));
    }
    let (v, p) = get_varint(src, pos, 5, 32)?;
    Some((u32::try_from(v).ok()?, p))
}

/// Decodes a varint64 at `pos`; `None` if truncated, too long or overflowing.
#[inline]
pub(crate) fn get_varint64(src: &[u8], pos: usize) -> Option<(u64, usize)> {
    if let Some(&b) = src.get(pos)
        && b < 0x80
    {
        return Some((u64::from(b), pos + 1));
    }
    get_varint(src, pos, 10, 64)
}

const MASK_DELTA: u32 = 0xa282_ead8;

/// Masks a CRC as LevelDB does, so CRCs of data containing CRCs stay well
/// distributed.
#[inline]
pub(crate) fn mask_crc(crc: u32) -> u32 {
    crc.rotate_right(15).wrapping_add(MASK_DELTA)
}

/// Zigzag-encodes a signed integer.
pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Decodes a zigzag-encoded integer.
pub(crate) fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_round_trip() {
        for v in [
            0u64,
            1,
            127,
            128,
            300,
            16383,
            16384,
            u32::MAX as u64,
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut b = Vec::new();
            put_varint64(&mut b, v);
            assert_eq!(get_varint64(&b, 0), Some((v, b.len())), "{v}");
            if let Ok(v32) = u32::try_from(v) {
                assert_eq!(get_varint32(&b, 0), Some((v32, b.len())));
            } else {
                assert_eq!(get_varint32(&b, 0), None);
            }
            // Truncated.
            assert_eq!(get_varint64(&b[..b.len() - 1], 0), None);
        }
    }

    #[test]
    fn varint_rejects_overlong_and_overflow() {
        // 11 continuation bytes.
        let b = [0x80u8; 11];
        assert_eq!(get_varint64(&b, 0), None);
        // 10 bytes whose last carries more than the top bit.
        let mut b = vec![0xffu8; 9];
        b.push(0x02);
        assert_eq!(get_varint64(&b, 0), None);
        let mut b = vec![0xffu8; 9];
        b.push(0x01);
        assert_eq!(get_varint64(&b, 0), Some((u64::MAX, 10)));
        // varint32 with 6 bytes.
        let b = [0x80u8, 0x80, 0x80, 0x80, 0x80, 0x00];
        assert_eq!(get_varint32(&b, 0), None);
        // varint32 value too large for 32 bits.
        let b = [0xffu8, 0xff, 0xff, 0xff, 0x1f];
        assert_eq!(get_varint32(&b, 0), None);
    }

    #[test]
    fn fixed_and_zigzag() {
        let mut b = Vec::new();
        put_fixed32(&mut b, 0xdead_beef);
        put_fixed64(&mut b, 0x0123_4567_89ab_cdef);
        assert_eq!(get_fixed32(&b, 0), Some(0xdead_beef));
        assert_eq!(get_fixed64(&b, 4), Some(0x0123_4567_89ab_cdef));
        assert_eq!(get_fixed64(&b, 5), None);
        assert_eq!(get_fixed32(&b, usize::MAX), None);
        for v in [0i64, 1, -1, 22, -22, i64::MAX, i64::MIN] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
        assert_ne!(mask_crc(0), 0);
    }
}
