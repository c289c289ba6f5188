//! The binary version of CIFAR-10 (Krizhevsky 2009, "Learning Multiple Layers of Features from
//! Tiny Images"): `data_batch_1.bin` … `data_batch_5.bin` (10 000 images each) and
//! `test_batch.bin`.
//!
//! A file is a sequence of 3073-byte records with no header: one label byte (0–9), then the
//! 32×32 image as 1024 red, 1024 green and 1024 blue bytes, each plane row-major. That is already
//! the [C, H, W] layout, so records are copied as they are. Gzipped files are accepted too.

use std::path::Path;

use crate::error::{DataError, Result};
use crate::gzip::decompress_if_gzip;

/// Channels, rows and columns of a CIFAR-10 image.
pub const CIFAR_IMAGE_SHAPE: [usize; 3] = [3, 32, 32];
/// Bytes of one image: 3 · 32 · 32.
pub const CIFAR_IMAGE_BYTES: usize = 3 * 32 * 32;
/// Bytes of one record: the label byte and the image.
pub const CIFAR_RECORD_BYTES: usize = 1 + CIFAR_IMAGE_BYTES;
/// Number of classes of CIFAR-10.
pub const CIFAR_CLASSES: usize = 10;

/// The records of one CIFAR-10 batch file: `labels.len()` images of [3, 32, 32] bytes, one after
/// the other in `images`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CifarBatch {
    pub images: Vec<u8>,
    pub labels: Vec<u8>,
}

/// Parses one CIFAR-10 binary batch from memory, gzipped or not.
///
/// `name` names the file in errors. The length must be a positive multiple of 3073 bytes and
/// every label below 10.
///
/// ```
/// let mut record = vec![7u8];
/// record.extend(std::iter::repeat(200u8).take(3072));
/// let batch = unravel_data::cifar::parse_cifar_batch(&record, "one_record.bin").unwrap();
/// assert_eq!(batch.labels, [7]);
/// assert_eq!(batch.images.len(), 3072);
/// assert!(unravel_data::cifar::parse_cifar_batch(&record[..3000], "short.bin").is_err());
/// ```
pub fn parse_cifar_batch(bytes: &[u8], name: &str) -> Result<CifarBatch> {
    let file = Path::new(name);
    let decoded = decompress_if_gzip(bytes, file)?;
    if decoded.is_empty() {
        return Err(DataError::Truncated {
            file: file.to_path_buf(),
            end: 0,
            needed: CIFAR_RECORD_BYTES as u64,
            what: "one CIFAR-10 record (1 label byte + 3072 pixel bytes)".to_string(),
        });
    }
    let complete = decoded.len() / CIFAR_RECORD_BYTES;
    let remainder = decoded.len() % CIFAR_RECORD_BYTES;
    if remainder != 0 {
        return Err(DataError::Truncated {
            file: file.to_path_buf(),
            end: decoded.len() as u64,
            needed: ((complete + 1) * CIFAR_RECORD_BYTES) as u64,
            what: format!(
                "record {} (3073 bytes from byte {}; {remainder} present)",
                complete,
                complete * CIFAR_RECORD_BYTES
            ),
        });
    }
    let mut images = Vec::with_capacity(complete * CIFAR_IMAGE_BYTES);
    let mut labels = Vec::with_capacity(complete);
    for (index, record) in decoded.chunks_exact(CIFAR_RECORD_BYTES).enumerate() {
        let label = record[0];
        if usize::from(label) >= CIFAR_CLASSES {
            return Err(DataError::LabelOutOfRange {
                file: file.to_path_buf(),
                offset: (index * CIFAR_RECORD_BYTES) as u64,
                label,
                classes: CIFAR_CLASSES,
            });
        }
        labels.push(label);
        images.extend_from_slice(&record[1..]);
    }
    Ok(CifarBatch { images, labels })
}
