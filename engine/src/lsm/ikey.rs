//! Internal keys: a user key, a sequence number and a kind, encoded so that
//! plain bytewise comparison orders them by user key ascending, then sequence
//! number descending. The format is specified in `docs/internal-keys.md`.
//!
//! ```text
//! internal key = escape(user key) ++ big-endian u64 !(seq << 8 | kind)
//! escape(k)    = k with every 0x00 replaced by 0x00 0xFF, then 0x00 0x01
//! ```
//!
//! The escaped user key is prefix-free and order-preserving, so comparing
//! two internal keys bytewise compares the user keys first; for equal user
//! keys the inverted trailer puts the newest version first. SSTables are
//! built with `filter_ignore_suffix = 8`, so their bloom filters cover the
//! escaped user key.

/// A sequence number: every put or delete gets the next one, per tree.
pub type SeqNo = u64;

/// The largest sequence number that fits the 56 bits of the trailer.
pub const MAX_SEQNO: SeqNo = (1 << 56) - 1;

/// Bytes of the trailer appended to the escaped user key.
pub const TRAILER_LEN: usize = 8;

/// The terminator of an escaped user key.
pub(crate) const TERMINATOR: [u8; 2] = [0x00, 0x01];

/// What an entry records about its user key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ValueKind {
    /// A tombstone: the key is deleted as of this sequence number.
    Delete = 0,
    /// A value.
    Put = 1,
}

impl ValueKind {
    pub(crate) fn from_u8(b: u8) -> Option<ValueKind> {
        match b {
            0 => Some(ValueKind::Delete),
            1 => Some(ValueKind::Put),
            _ => None,
        }
    }
}

/// Kind byte used in seek keys: sorts before every real kind of the same
/// sequence number.
const SEEK_KIND: u64 = 0xFF;

/// Length of `escape(user_key)` including the terminator.
pub(crate) fn escaped_len(user_key: &[u8]) -> usize {
    user_key.len() + user_key.iter().filter(|&&b| b == 0).count() + TERMINATOR.len()
}

/// Appends `escape(user_key)` (with its terminator) to `out`.
pub(crate) fn escape_into(user_key: &[u8], out: &mut Vec<u8>) {
    let mut rest = user_key;
    while let Some(p) = rest.iter().position(|&b| b == 0) {
        out.extend_from_slice(&rest[..p]);
        out.extend_from_slice(&[0x00, 0xFF]);
        rest = &rest[p + 1..];
    }
    out.extend_from_slice(rest);
    out.extend_from_slice(&TERMINATOR);
}

/// The trailer for `seq` and `kind` (before inversion it is `seq << 8 | kind`).
#[inline]
pub(crate) fn trailer(seq: SeqNo, kind: u64) -> [u8; TRAILER_LEN] {
    (!((seq << 8) | kind)).to_be_bytes()
}

/// Appends the internal key for (`user_key`, `seq`, `kind`) to `out`.
pub(crate) fn encode_into(user_key: &[u8], seq: SeqNo, kind: ValueKind, out: &mut Vec<u8>) {
    escape_into(user_key, out);
    out.extend_from_slice(&trailer(seq, kind as u64));
}

/// The internal key for (`user_key`, `seq`, `kind`).
#[cfg(test)]
pub(crate) fn encode(user_key: &[u8], seq: SeqNo, kind: ValueKind) -> Vec<u8> {
    let mut out = Vec::with_capacity(escaped_len(user_key) + TRAILER_LEN);
    encode_into(user_key, seq, kind, &mut out);
    out
}

/// Appends a seek key: it sorts before every entry of `user_key` with a
/// sequence number `<= seq`, and after every entry with a larger one.
pub(crate) fn seek_key_into(user_key: &[u8], seq: SeqNo, out: &mut Vec<u8>) {
    escape_into(user_key, out);
    out.extend_from_slice(&trailer(seq, SEEK_KIND));
}

/// Appends the key sorting before every internal key of an escaped user key.
pub(crate) fn first_of_escaped(escaped: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(escaped);
    out.extend_from_slice(&[0u8; TRAILER_LEN]);
}

/// Appends the key sorting after every internal key of an escaped user key.
pub(crate) fn last_of_escaped(escaped: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(escaped);
    out.extend_from_slice(&[0xFFu8; TRAILER_LEN]);
}

/// A decoded internal key, borrowing the escaped user key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Parsed<'a> {
    /// `escape(user key)`, terminator included.
    pub escaped: &'a [u8],
    pub seq: SeqNo,
    pub kind: ValueKind,
}

/// Splits an internal key. `None` when it is malformed (too short, no
/// terminator before the trailer, unknown kind).
#[inline]
pub(crate) fn parse(ikey: &[u8]) -> Option<Parsed<'_>> {
    if ikey.len() < TERMINATOR.len() + TRAILER_LEN {
        return None;
    }
    let (escaped, t) = ikey.split_at(ikey.len() - TRAILER_LEN);
    if escaped[escaped.len() - 2..] != TERMINATOR {
        return None;
    }
    let mut a = [0u8; TRAILER_LEN];
    a.copy_from_slice(t);
    let raw = !u64::from_be_bytes(a);
    let kind = ValueKind::from_u8((raw & 0xFF) as u8)?;
    Some(Parsed {
        escaped,
        seq: raw >> 8,
        kind,
    })
}

/// The escaped user key of an internal key (without parsing the trailer).
#[inline]
pub(crate) fn escaped_part(ikey: &[u8]) -> &[u8] {
    &ikey[..ikey.len().saturating_sub(TRAILER_LEN)]
}

/// Appends the user key encoded by `escaped` (terminator included) to `out`.
/// `false` when `escaped` is not a valid escaped key.
pub(crate) fn unescape_into(escaped: &[u8], out: &mut Vec<u8>) -> bool {
    let mut rest = escaped;
    loop {
        let Some(p) = rest.iter().position(|&b| b == 0) else {
            return false;
        };
        out.extend_from_slice(&rest[..p]);
        match rest.get(p + 1) {
            Some(0xFF) => {
                out.push(0);
                rest = &rest[p + 2..];
            }
            Some(0x01) => return p + 2 == rest.len(),
            _ => return false,
        }
    }
}

/// The user key encoded by `escaped`, or `None` when malformed.
pub(crate) fn unescape(escaped: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(escaped.len());
    unescape_into(escaped, &mut out).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn roundtrip() {
        for k in [&b""[..], b"a", b"\0", b"a\0b", b"\0\0", b"\xff\0\x01"] {
            let ik = encode(k, 42, ValueKind::Put);
            let p = parse(&ik).unwrap();
            assert_eq!(p.seq, 42);
            assert_eq!(p.kind, ValueKind::Put);
            assert_eq!(unescape(p.escaped).unwrap(), k);
            assert_eq!(p.escaped.len(), escaped_len(k));
        }
    }

    #[test]
    fn order_matches_user_then_seq_desc() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut items = Vec::new();
        for _ in 0..3000 {
            let len = rng.random_range(0..4);
            let k: Vec<u8> = (0..len)
                .map(|_| [0u8, 1, 0xFF, b'a'][rng.random_range(0..4)])
                .collect();
            let seq = rng.random_range(0..5u64);
            let kind = if rng.random_bool(0.5) {
                ValueKind::Put
            } else {
                ValueKind::Delete
            };
            items.push((k, seq, kind));
        }
        for w in items.windows(2) {
            let (a, b) = (&w[0], &w[1]);
            let expect =
                a.0.cmp(&b.0)
                    .then(b.1.cmp(&a.1))
                    .then((b.2 as u8).cmp(&(a.2 as u8)));
            let got = encode(&a.0, a.1, a.2).cmp(&encode(&b.0, b.1, b.2));
            assert_eq!(got, expect, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn seek_key_position() {
        let k = b"key";
        let s = {
            let mut v = Vec::new();
            seek_key_into(k, 10, &mut v);
            v
        };
        assert!(s < encode(k, 10, ValueKind::Put));
        assert!(s < encode(k, 10, ValueKind::Delete));
        assert!(s < encode(k, 3, ValueKind::Put));
        assert!(s > encode(k, 11, ValueKind::Put));
        assert!(s > encode(b"ke", 0, ValueKind::Put));
        assert!(s < encode(b"key\0", MAX_SEQNO, ValueKind::Put));
    }

    #[test]
    fn malformed() {
        assert!(parse(b"short").is_none());
        assert!(parse(&[1u8; 12]).is_none());
        assert!(unescape(b"a\0\x02").is_none());
        assert!(unescape(b"a\0\x01b").is_none());
        let mut bad_kind = encode(b"k", 1, ValueKind::Put);
        let n = bad_kind.len();
        bad_kind[n - 1] = !7;
        assert!(parse(&bad_kind).is_none());
    }
}
