//! CIFAR-10 reader: valid batches read back exactly (gzipped and plain, the five training files
//! concatenated in order); broken ones give their error naming the file.

mod common;

use common::{cifar_records, gzip, random_bytes, random_labels};
use unravel_data::{load_dataset_from_dir, parse_cifar_batch, DataError, DatasetKind, Split};

#[test]
fn records_read_back_exactly() {
    let labels = random_labels(11, 4, 10);
    let pixels = random_bytes(12, 4 * 3072);
    let bytes = cifar_records(&labels, &pixels);
    for input in [bytes.clone(), gzip(&bytes)] {
        let batch = parse_cifar_batch(&input, "data_batch_1.bin").unwrap();
        assert_eq!(batch.labels, labels);
        assert_eq!(batch.images, pixels);
    }
}

#[test]
fn a_directory_of_batches_loads_in_file_order() {
    for gzipped in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut all_labels = Vec::new();
        let mut all_pixels = Vec::new();
        for (file, count) in [
            ("data_batch_1.bin", 2),
            ("data_batch_2.bin", 1),
            ("data_batch_3.bin", 3),
            ("data_batch_4.bin", 1),
            ("data_batch_5.bin", 2),
            ("test_batch.bin", 2),
        ] {
            let labels = random_labels(all_labels.len() as u64, count, 10);
            let pixels = random_bytes(100 + all_labels.len() as u64, count * 3072);
            let bytes = cifar_records(&labels, &pixels);
            if gzipped {
                std::fs::write(dir.path().join(format!("{file}.gz")), gzip(&bytes)).unwrap();
            } else {
                std::fs::write(dir.path().join(file), bytes).unwrap();
            }
            if file != "test_batch.bin" {
                all_labels.extend(labels);
                all_pixels.extend(pixels);
            }
        }
        let train = load_dataset_from_dir(DatasetKind::Cifar10, Split::Train, dir.path()).unwrap();
        assert_eq!(train.len(), 9);
        assert_eq!(train.image_shape(), [3, 32, 32]);
        assert_eq!(train.labels(), &all_labels[..]);
        assert_eq!(train.images(), &all_pixels[..]);
        assert_eq!(train.class_names()[0], "airplane");
        let test = load_dataset_from_dir(DatasetKind::Cifar10, Split::Test, dir.path()).unwrap();
        assert_eq!(test.len(), 2);
        // One batch file missing.
        std::fs::remove_file(dir.path().join(if gzipped {
            "data_batch_4.bin.gz"
        } else {
            "data_batch_4.bin"
        }))
        .unwrap();
        let error =
            load_dataset_from_dir(DatasetKind::Cifar10, Split::Train, dir.path()).unwrap_err();
        assert!(error.to_string().contains("data_batch_4.bin"), "{error}");
    }
}

#[test]
fn truncated_and_empty_files() {
    let bytes = cifar_records(&[1, 2], &random_bytes(3, 2 * 3072));
    let error = parse_cifar_batch(&bytes[..3073 + 100], "cut.bin").unwrap_err();
    assert!(
        matches!(
            &error,
            DataError::Truncated {
                end: 3173,
                needed: 6146,
                ..
            }
        ),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("cut.bin") && message.contains("record 1"),
        "{message}"
    );
    assert!(message.contains("from byte 3073"), "{message}");
    let error = parse_cifar_batch(&[], "empty.bin").unwrap_err();
    assert!(matches!(
        error,
        DataError::Truncated {
            end: 0,
            needed: 3073,
            ..
        }
    ));
    let error = parse_cifar_batch(&gzip(&bytes[..10]), "cut.bin.gz").unwrap_err();
    assert!(
        matches!(error, DataError::Truncated { end: 10, .. }),
        "{error:?}"
    );
}

#[test]
fn label_out_of_range_names_the_record_offset() {
    let bytes = cifar_records(&[1, 10, 2], &random_bytes(3, 3 * 3072));
    let error = parse_cifar_batch(&bytes, "bad_label.bin").unwrap_err();
    assert!(
        matches!(
            error,
            DataError::LabelOutOfRange {
                offset: 3073,
                label: 10,
                classes: 10,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("bad_label.bin"));
}

#[test]
fn bad_gzip_stream() {
    let bytes = gzip(&cifar_records(&[1], &random_bytes(3, 3072)));
    let error = parse_cifar_batch(&bytes[..bytes.len() - 3], "cut.bin.gz").unwrap_err();
    assert!(matches!(error, DataError::Gzip { .. }), "{error:?}");
    let mut garbled = bytes.clone();
    garbled[12] ^= 0x55;
    garbled[13] ^= 0x55;
    let error = parse_cifar_batch(&garbled, "garbled.bin.gz").unwrap_err();
    assert!(matches!(error, DataError::Gzip { .. }), "{error:?}");
    assert!(error.to_string().contains("garbled.bin.gz"));
}
