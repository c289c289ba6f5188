//! The IDX format of MNIST and Fashion-MNIST (LeCun et al., "THE MNIST DATABASE of handwritten
//! digits"), gzipped or not.
//!
//! An IDX file is a header followed by the data, all integers big-endian:
//!
//! | bytes | content |
//! | --- | --- |
//! | 0–1 | zero |
//! | 2 | element type: `0x08` = unsigned byte (the only one these datasets use) |
//! | 3 | number of dimensions d (3 for images: count × rows × columns; 1 for labels) |
//! | 4 … 4+4d | each dimension as a `u32` |
//! | then | the elements, row-major, one byte each |
//!
//! So an image file starts with the magic number `0x00000803`, a label file with `0x00000801`.
//! The parsers below check every field and the exact length, and return a [`DataError`] that
//! names the file and the byte offset; they never panic, whatever the bytes.

use std::path::Path;

use crate::error::{DataError, Result};
use crate::gzip::decompress_if_gzip;

/// Magic number of an IDX file of unsigned-byte images: type `0x08`, 3 dimensions.
pub const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned-byte labels: type `0x08`, 1 dimension.
pub const IDX_LABELS_MAGIC: u32 = 0x0000_0801;

/// The images of an IDX file: `count` images of `rows × columns` bytes, row-major, one after
/// the other (`pixels.len() == count · rows · columns`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    pub count: usize,
    pub rows: usize,
    pub columns: usize,
    pub pixels: Vec<u8>,
}

/// Parses an IDX image file (magic `0x00000803`) from memory, gzipped or not.
///
/// `name` names the file in errors. Rows and columns must be at least 1; the length must be
/// exactly `16 + count · rows · columns` bytes.
///
/// ```
/// // Two 1×2 images.
/// let bytes = [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 10, 20, 30, 40];
/// let images = unravel_data::idx::parse_idx_images(&bytes, "tiny").unwrap();
/// assert_eq!((images.count, images.rows, images.columns), (2, 1, 2));
/// assert_eq!(images.pixels, [10, 20, 30, 40]);
/// assert!(unravel_data::idx::parse_idx_images(&bytes[..10], "tiny").is_err());
/// ```
pub fn parse_idx_images(bytes: &[u8], name: &str) -> Result<IdxImages> {
    let file = Path::new(name);
    let decoded = decompress_if_gzip(bytes, file)?;
    let (dimensions, header_len) = parse_header(&decoded, file, IDX_IMAGES_MAGIC, 3, "images")?;
    let (count, rows, columns) = (dimensions[0], dimensions[1], dimensions[2]);
    if rows == 0 || columns == 0 {
        return Err(DataError::Corrupt {
            file: file.to_path_buf(),
            offset: 8,
            what: format!("image size {rows}×{columns} has a zero side"),
        });
    }
    let pixels = take_payload(
        &decoded,
        file,
        header_len,
        [count, rows, columns],
        format!("{count} images of {rows}×{columns}"),
    )?;
    Ok(IdxImages {
        count,
        rows,
        columns,
        pixels,
    })
}

/// Parses an IDX label file (magic `0x00000801`) from memory, gzipped or not, and checks that
/// every label is below `classes`.
///
/// `name` names the file in errors; the length must be exactly `8 + count` bytes.
///
/// ```
/// let bytes = [0, 0, 8, 1, 0, 0, 0, 3, 4, 0, 9];
/// assert_eq!(unravel_data::idx::parse_idx_labels(&bytes, "tiny", 10).unwrap(), [4, 0, 9]);
/// // Label 9 is out of range for 5 classes; the error names byte 10.
/// let error = unravel_data::idx::parse_idx_labels(&bytes, "tiny", 5).unwrap_err();
/// assert!(error.to_string().contains("byte 10"));
/// ```
pub fn parse_idx_labels(bytes: &[u8], name: &str, classes: usize) -> Result<Vec<u8>> {
    let file = Path::new(name);
    let decoded = decompress_if_gzip(bytes, file)?;
    let (dimensions, header_len) = parse_header(&decoded, file, IDX_LABELS_MAGIC, 1, "labels")?;
    let count = dimensions[0];
    let labels = take_payload(
        &decoded,
        file,
        header_len,
        [count, 1, 1],
        format!("{count} labels"),
    )?;
    if let Some(position) = labels
        .iter()
        .position(|&label| usize::from(label) >= classes)
    {
        return Err(DataError::LabelOutOfRange {
            file: file.to_path_buf(),
            offset: (header_len + position) as u64,
            label: labels[position],
            classes,
        });
    }
    Ok(labels)
}

/// Checks the magic number and reads the `expected_dimensions` sizes; returns them and the
/// header length `4 + 4·d`.
fn parse_header(
    bytes: &[u8],
    file: &Path,
    magic: u32,
    expected_dimensions: u8,
    what: &'static str,
) -> Result<(Vec<usize>, usize)> {
    let Some(first_word) = read_u32(bytes, 0) else {
        return Err(truncated(file, bytes, 4, "the IDX magic number"));
    };
    let description = if magic == IDX_IMAGES_MAGIC {
        "IDX unsigned-byte images"
    } else {
        "IDX unsigned-byte labels"
    };
    // Bytes 0–2 (zero, zero, type 0x08) must match exactly; byte 3 is the dimension count.
    if first_word >> 8 != magic >> 8 {
        return Err(DataError::BadMagic {
            file: file.to_path_buf(),
            found: first_word,
            expected: magic,
            what: description,
        });
    }
    let found_dimensions = bytes[3];
    if found_dimensions != expected_dimensions {
        return Err(DataError::WrongDimensions {
            file: file.to_path_buf(),
            found: found_dimensions,
            expected: expected_dimensions,
            what,
        });
    }
    let header_len = 4 + 4 * usize::from(expected_dimensions);
    let mut dimensions = Vec::with_capacity(usize::from(expected_dimensions));
    for axis in 0..usize::from(expected_dimensions) {
        let value = read_u32(bytes, 4 + 4 * axis)
            .ok_or_else(|| truncated(file, bytes, header_len, "the IDX header"))?;
        dimensions.push(value as usize);
    }
    Ok((dimensions, header_len))
}

/// The `d0·d1·d2` bytes after the header, which must end the file exactly.
fn take_payload(
    bytes: &[u8],
    file: &Path,
    header_len: usize,
    dimensions: [usize; 3],
    what: String,
) -> Result<Vec<u8>> {
    let payload_len = dimensions
        .iter()
        .try_fold(1usize, |product, &side| product.checked_mul(side));
    let end = payload_len.and_then(|len| len.checked_add(header_len));
    let Some(end) = end else {
        return Err(DataError::Corrupt {
            file: file.to_path_buf(),
            offset: 4,
            what: format!("the declared sizes {dimensions:?} overflow the address space"),
        });
    };
    if bytes.len() < end {
        return Err(truncated(file, bytes, end, &format!("the header's {what}")));
    }
    if bytes.len() > end {
        return Err(DataError::TrailingBytes {
            file: file.to_path_buf(),
            offset: end as u64,
            extra: (bytes.len() - end) as u64,
        });
    }
    Ok(bytes[header_len..end].to_vec())
}

fn read_u32(bytes: &[u8], offset: usize) -> Option<u32> {
    let word = bytes.get(offset..offset.checked_add(4)?)?;
    Some(u32::from_be_bytes([word[0], word[1], word[2], word[3]]))
}

fn truncated(file: &Path, bytes: &[u8], needed: usize, what: &str) -> DataError {
    DataError::Truncated {
        file: file.to_path_buf(),
        end: bytes.len() as u64,
        needed: needed as u64,
        what: what.to_string(),
    }
}
