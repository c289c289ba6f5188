//! Transparent gzip: a file that starts with the gzip magic bytes `1f 8b` is decompressed, any
//! other file is used as it is. Neither IDX (which starts with `00 00`) nor a CIFAR-10 record
//! (whose first byte is a label below 10) can start with `1f`, so the test is unambiguous.

use std::borrow::Cow;
use std::io::Read;
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::error::{DataError, Result};

/// The most bytes a gzipped data file may decompress to (1 GiB; CIFAR-10's largest file is
/// 30 MiB, Fashion-MNIST's 45 MiB), so a malicious file cannot exhaust memory.
pub const MAX_DECOMPRESSED_BYTES: u64 = 1 << 30;

/// Whether `bytes` start with the gzip magic number `1f 8b` (RFC 1952 §2.3.1).
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// `bytes` decompressed if they are gzip (all members, RFC 1952), else `bytes` unchanged.
///
/// `file` only names the source in errors.
///
/// ```
/// use std::io::Write;
/// let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
/// encoder.write_all(b"hello").unwrap();
/// let gz = encoder.finish().unwrap();
/// let path = std::path::Path::new("hello.gz");
/// assert_eq!(&*unravel_data::gzip::decompress_if_gzip(&gz, path).unwrap(), b"hello");
/// assert_eq!(&*unravel_data::gzip::decompress_if_gzip(b"plain", path).unwrap(), b"plain");
/// ```
pub fn decompress_if_gzip<'a>(bytes: &'a [u8], file: &Path) -> Result<Cow<'a, [u8]>> {
    decompress_with_limit(bytes, file, MAX_DECOMPRESSED_BYTES)
}

/// [`decompress_if_gzip`] with the size limit `limit` instead of [`MAX_DECOMPRESSED_BYTES`].
fn decompress_with_limit<'a>(bytes: &'a [u8], file: &Path, limit: u64) -> Result<Cow<'a, [u8]>> {
    if !is_gzip(bytes) {
        return Ok(Cow::Borrowed(bytes));
    }
    let mut decoded = Vec::new();
    let mut reader = MultiGzDecoder::new(bytes).take(limit + 1);
    reader
        .read_to_end(&mut decoded)
        .map_err(|error| DataError::Gzip {
            file: file.to_path_buf(),
            message: error.to_string(),
        })?;
    if decoded.len() as u64 > limit {
        return Err(DataError::Gzip {
            file: file.to_path_buf(),
            message: format!("decompresses to more than {limit} bytes"),
        });
    }
    Ok(Cow::Owned(decoded))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn output_beyond_the_limit_is_an_error() {
        let file = Path::new("bomb.gz");
        let compressed = gzip(&[0u8; 10_000]);
        assert_eq!(
            decompress_with_limit(&compressed, file, 10_000)
                .unwrap()
                .len(),
            10_000
        );
        let error = decompress_with_limit(&compressed, file, 9_999).unwrap_err();
        assert!(matches!(error, DataError::Gzip { .. }), "{error:?}");
        assert!(error.to_string().contains("more than 9999 bytes"));
    }

    #[test]
    fn several_members_are_concatenated() {
        let mut two = gzip(b"ab");
        two.extend(gzip(b"cd"));
        assert_eq!(
            &*decompress_if_gzip(&two, Path::new("two.gz")).unwrap(),
            b"abcd"
        );
    }
}
