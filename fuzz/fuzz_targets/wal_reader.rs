//! Arbitrary bytes as a WAL segment file: the reader returns records or an
//! error, never panics. When it reads the bytes as a clean segment, encoding
//! the records again gives back the same bytes (the format is canonical), up to
//! zero padding at the end.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_wal::{SegmentEnd, encode_segment_bytes, read_segment_bytes};

fuzz_target!(|data: &[u8]| {
    let Ok(seg) = read_segment_bytes(data) else {
        return;
    };
    let refs: Vec<&[u8]> = seg.records.iter().map(|r| &r[..]).collect();
    let again = encode_segment_bytes(seg.first_lsn, &refs);
    match seg.end {
        SegmentEnd::Clean => {
            assert!(data.len() >= again.len());
            assert_eq!(&data[..again.len()], &again[..]);
            assert!(data[again.len()..].iter().all(|&b| b == 0));
            assert!(data.len() - again.len() < 8);
        }
        SegmentEnd::Corrupt { good_len, offset, .. } => {
            assert_eq!(good_len as usize, again.len());
            assert_eq!(&data[..again.len()], &again[..]);
            assert!(offset as usize <= data.len());
            assert!(offset >= good_len);
        }
        _ => {}
    }
});
