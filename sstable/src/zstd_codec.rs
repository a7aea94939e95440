//! zstd compression of data blocks, behind the default-on cargo feature `zstd`.
//!
//! With the feature, [`Compressor`] compresses and [`decompress`] decompresses. Without
//! it (`default-features = false`: no C build of libzstd), writing a zstd block and
//! reading one both fail with [`Unavailable`], which the callers turn into
//! [`crate::SstError::CompressionUnavailable`]; tables without compression (the
//! default) are unaffected.

/// Why zstd cannot be used by this build.
#[derive(Debug)]
pub(crate) enum ZstdError {
    /// The crate was built without its `zstd` feature.
    #[cfg_attr(feature = "zstd", allow(dead_code))]
    Unavailable,
    /// The zstd library failed (a damaged frame when reading).
    Failed(std::io::Error),
}

#[cfg(feature = "zstd")]
mod imp {
    use std::cell::RefCell;

    use super::ZstdError;

    /// A reusable zstd compressor of one level.
    pub(crate) struct Compressor(zstd::bulk::Compressor<'static>);

    impl Compressor {
        pub(crate) fn new(level: i32) -> Result<Compressor, ZstdError> {
            zstd::bulk::Compressor::new(level)
                .map(Compressor)
                .map_err(ZstdError::Failed)
        }

        /// Compresses `raw` into a new frame (with its content size).
        pub(crate) fn compress(&mut self, raw: &[u8]) -> Result<Vec<u8>, ZstdError> {
            let mut frame = Vec::with_capacity(zstd::zstd_safe::compress_bound(raw.len()));
            let n = self
                .0
                .compress_to_buffer(raw, &mut frame)
                .map_err(ZstdError::Failed)?;
            frame.truncate(n);
            Ok(frame)
        }
    }

    /// The content size a frame's header declares (`None`: no header, or no size).
    pub(crate) fn frame_content_size(frame: &[u8]) -> Result<Option<u64>, ZstdError> {
        Ok(zstd::zstd_safe::get_frame_content_size(frame)
            .ok()
            .flatten())
    }

    thread_local! {
        static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> =
            const { RefCell::new(None) };
    }

    /// Decompresses one frame of at most `raw_len` bytes (a decompressor per thread).
    pub(crate) fn decompress(src: &[u8], raw_len: usize) -> Result<Vec<u8>, ZstdError> {
        let mut out = Vec::with_capacity(raw_len);
        let run = |d: &mut zstd::bulk::Decompressor<'static>, out: &mut Vec<u8>| {
            d.decompress_to_buffer(src, out)
        };
        let n = DECOMPRESSOR
            .with(|cell| match cell.try_borrow_mut() {
                Ok(mut slot) => {
                    if slot.is_none() {
                        *slot = Some(zstd::bulk::Decompressor::new()?);
                    }
                    match slot.as_mut() {
                        Some(d) => run(d, &mut out),
                        None => Err(std::io::Error::other("no zstd decompressor")),
                    }
                }
                Err(_) => run(&mut zstd::bulk::Decompressor::new()?, &mut out),
            })
            .map_err(ZstdError::Failed)?;
        out.truncate(n);
        Ok(out)
    }
}

#[cfg(not(feature = "zstd"))]
mod imp {
    use super::ZstdError;

    /// Stands in for the zstd compressor in a build without the `zstd` feature.
    pub(crate) struct Compressor;

    impl Compressor {
        pub(crate) fn new(_level: i32) -> Result<Compressor, ZstdError> {
            Err(ZstdError::Unavailable)
        }

        pub(crate) fn compress(&mut self, _raw: &[u8]) -> Result<Vec<u8>, ZstdError> {
            Err(ZstdError::Unavailable)
        }
    }

    pub(crate) fn frame_content_size(_frame: &[u8]) -> Result<Option<u64>, ZstdError> {
        Err(ZstdError::Unavailable)
    }

    pub(crate) fn decompress(_src: &[u8], _raw_len: usize) -> Result<Vec<u8>, ZstdError> {
        Err(ZstdError::Unavailable)
    }
}

pub(crate) use imp::{Compressor, decompress, frame_content_size};
