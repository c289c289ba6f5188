//! IDX reader: valid files read back exactly (gzipped and plain, in memory and from a
//! directory); each kind of broken file gives its error, naming the file and the offset.

mod common;

use std::path::Path;

use common::{gzip, idx_images, idx_labels, IdxSet};
use unravel_data::{
    load_dataset_from_dir, parse_idx_images, parse_idx_labels, DataError, DatasetKind, Split,
};

#[test]
fn valid_files_read_back_exactly_plain_and_gzipped() {
    let set = IdxSet::new(23, 7, 5, 3);
    for gzipped in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        set.write(dir.path(), gzipped);
        for kind in [DatasetKind::FashionMnist, DatasetKind::Mnist] {
            let train = load_dataset_from_dir(kind, Split::Train, dir.path()).unwrap();
            assert_eq!(train.len(), 23);
            assert_eq!(train.image_shape(), [1, 5, 3]);
            assert_eq!(train.images(), &set.train_pixels[..]);
            assert_eq!(train.labels(), &set.train_labels[..]);
            assert_eq!(train.class_names().len(), 10);
            let test = load_dataset_from_dir(kind, Split::Test, dir.path()).unwrap();
            assert_eq!(test.len(), 7);
            assert_eq!(test.images(), &set.test_pixels[..]);
            assert_eq!(test.labels(), &set.test_labels[..]);
        }
    }
}

#[test]
fn in_memory_parse_of_gzip_equals_plain() {
    let pixels = common::random_bytes(9, 4 * 2 * 6);
    let plain = idx_images(4, 2, 6, &pixels);
    let from_plain = parse_idx_images(&plain, "a").unwrap();
    let from_gzip = parse_idx_images(&gzip(&plain), "a.gz").unwrap();
    assert_eq!(from_plain, from_gzip);
    assert_eq!(
        (from_plain.count, from_plain.rows, from_plain.columns),
        (4, 2, 6)
    );
    assert_eq!(from_plain.pixels, pixels);
    let labels = [0, 9, 3, 3];
    assert_eq!(
        parse_idx_labels(&gzip(&idx_labels(&labels)), "l.gz", 10).unwrap(),
        labels
    );
}

#[test]
fn an_empty_file_of_zero_images_is_valid() {
    let images = parse_idx_images(&idx_images(0, 28, 28, &[]), "empty").unwrap();
    assert_eq!(images.count, 0);
    assert!(images.pixels.is_empty());
}

fn message_names(error: &DataError, file: &str) {
    let message = error.to_string();
    assert!(message.contains(file), "{message:?} does not name {file}");
    assert!(
        message.contains("apt-get install dataset-fashion-mnist"),
        "{message:?} does not say how to get the data"
    );
}

#[test]
fn bad_magic_number() {
    let mut bytes = idx_images(1, 2, 2, &[1, 2, 3, 4]);
    bytes[2] = 0x09; // element type 0x09 (signed byte) is not ours
    let error = parse_idx_images(&bytes, "imgs").unwrap_err();
    assert!(
        matches!(
            error,
            DataError::BadMagic {
                found: 0x0000_0903,
                expected: 0x0000_0803,
                ..
            }
        ),
        "{error:?}"
    );
    message_names(&error, "imgs");
    // A label file given as an image file.
    let error = parse_idx_images(&idx_labels(&[1, 2]), "labels-as-images").unwrap_err();
    assert!(matches!(
        error,
        DataError::WrongDimensions {
            found: 1,
            expected: 3,
            ..
        }
    ));
    // An image file given as a label file.
    let error = parse_idx_labels(&idx_images(1, 1, 1, &[0]), "images-as-labels", 10).unwrap_err();
    assert!(matches!(
        error,
        DataError::WrongDimensions {
            found: 3,
            expected: 1,
            ..
        }
    ));
    // Random leading bytes.
    let error = parse_idx_labels(b"PK\x03\x04rest", "zip", 10).unwrap_err();
    assert!(matches!(
        error,
        DataError::BadMagic {
            found: 0x504b_0304,
            ..
        }
    ));
}

#[test]
fn truncated_header() {
    let bytes = idx_images(3, 2, 2, &[0; 12]);
    for length in [0, 3, 4, 10, 15] {
        let error = parse_idx_images(&bytes[..length], "short").unwrap_err();
        let needed = if length < 4 { 4 } else { 16 };
        assert!(
            matches!(&error, DataError::Truncated { end, needed: n, .. }
                if *end == length as u64 && *n == needed),
            "{length}: {error:?}"
        );
        message_names(&error, "short");
    }
    let error = parse_idx_labels(&idx_labels(&[1])[..6], "labels", 10).unwrap_err();
    assert!(matches!(
        error,
        DataError::Truncated {
            end: 6,
            needed: 8,
            ..
        }
    ));
}

#[test]
fn truncated_data_and_trailing_bytes() {
    let bytes = idx_images(3, 2, 2, &[7; 12]);
    let error = parse_idx_images(&bytes[..27], "cut").unwrap_err();
    assert!(
        matches!(
            error,
            DataError::Truncated {
                end: 27,
                needed: 28,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("3 images of 2×2"));
    let mut long = bytes.clone();
    long.extend_from_slice(&[0, 0]);
    let error = parse_idx_images(&long, "long").unwrap_err();
    assert!(matches!(
        error,
        DataError::TrailingBytes {
            offset: 28,
            extra: 2,
            ..
        }
    ));
    let error = parse_idx_labels(&idx_labels(&[1, 2, 3])[..10], "labels", 10).unwrap_err();
    assert!(matches!(
        error,
        DataError::Truncated {
            end: 10,
            needed: 11,
            ..
        }
    ));
}

#[test]
fn huge_declared_sizes_are_an_error_not_an_allocation() {
    let bytes = idx_images(u32::MAX, u32::MAX, u32::MAX, &[1, 2, 3]);
    let error = parse_idx_images(&bytes, "huge").unwrap_err();
    assert!(matches!(
        error,
        DataError::Corrupt { .. } | DataError::Truncated { .. }
    ));
    let error = parse_idx_images(&idx_images(2, 0, 5, &[]), "flat").unwrap_err();
    assert!(
        matches!(error, DataError::Corrupt { offset: 8, .. }),
        "{error:?}"
    );
}

#[test]
fn label_out_of_range() {
    let error = parse_idx_labels(&idx_labels(&[0, 9, 10, 3]), "labels", 10).unwrap_err();
    assert!(
        matches!(
            error,
            DataError::LabelOutOfRange {
                offset: 10,
                label: 10,
                classes: 10,
                ..
            }
        ),
        "{error:?}"
    );
    message_names(&error, "labels");
}

#[test]
fn bad_gzip_stream() {
    let good = gzip(&idx_images(2, 4, 4, &common::random_bytes(5, 32)));
    // Cut short.
    let error = parse_idx_images(&good[..good.len() / 2], "cut.gz").unwrap_err();
    assert!(matches!(error, DataError::Gzip { .. }), "{error:?}");
    message_names(&error, "cut.gz");
    // The CRC-32 in the trailer does not match.
    let mut bad_crc = good.clone();
    let crc_at = bad_crc.len() - 8;
    bad_crc[crc_at] ^= 0xff;
    let error = parse_idx_images(&bad_crc, "crc.gz").unwrap_err();
    assert!(matches!(error, DataError::Gzip { .. }), "{error:?}");
    // Only the magic bytes.
    let error = parse_idx_labels(&[0x1f, 0x8b], "magic-only.gz", 10).unwrap_err();
    assert!(matches!(error, DataError::Gzip { .. }), "{error:?}");
}

/// Writes a valid set, breaks one file with `breaker`, and returns the error of loading the
/// training split.
fn load_with_broken(gzipped: bool, file: &str, breaker: impl Fn(Vec<u8>) -> Vec<u8>) -> DataError {
    let dir = tempfile::tempdir().unwrap();
    IdxSet::new(6, 2, 3, 3).write(dir.path(), gzipped);
    let name = if gzipped {
        format!("{file}.gz")
    } else {
        file.to_string()
    };
    let path = dir.path().join(&name);
    let bytes = std::fs::read(&path).unwrap();
    let bytes = if gzipped {
        let plain = unravel_data::gzip::decompress_if_gzip(&bytes, Path::new(&name)).unwrap();
        gzip(&breaker(plain.into_owned()))
    } else {
        breaker(bytes)
    };
    std::fs::write(&path, bytes).unwrap();
    let error =
        load_dataset_from_dir(DatasetKind::FashionMnist, Split::Train, dir.path()).unwrap_err();
    message_names(&error, &path.display().to_string());
    assert_eq!(error.file(), Some(path.as_path()));
    error
}

#[test]
fn broken_files_in_a_directory_name_the_file() {
    for gzipped in [false, true] {
        let error = load_with_broken(gzipped, "train-images-idx3-ubyte", |mut bytes| {
            bytes[3] = 2;
            bytes
        });
        assert!(
            matches!(error, DataError::WrongDimensions { .. }),
            "{error:?}"
        );
        let error = load_with_broken(gzipped, "train-images-idx3-ubyte", |mut bytes| {
            bytes[0] = 1;
            bytes
        });
        assert!(matches!(error, DataError::BadMagic { .. }), "{error:?}");
        let error = load_with_broken(gzipped, "train-images-idx3-ubyte", |bytes| {
            bytes[..12].to_vec()
        });
        assert!(matches!(
            error,
            DataError::Truncated {
                end: 12,
                needed: 16,
                ..
            }
        ));
        let error = load_with_broken(gzipped, "train-images-idx3-ubyte", |bytes| {
            bytes[..bytes.len() - 1].to_vec()
        });
        assert!(
            matches!(
                error,
                DataError::Truncated {
                    end: 69,
                    needed: 70,
                    ..
                }
            ),
            "{error:?}"
        );
        let error = load_with_broken(gzipped, "train-labels-idx1-ubyte", |mut bytes| {
            bytes[8 + 4] = 200;
            bytes
        });
        assert!(matches!(
            error,
            DataError::LabelOutOfRange {
                offset: 12,
                label: 200,
                ..
            }
        ));
    }
}
