//! Finding the data and loading whole datasets: the directory order (explicit, UNRAVEL_DATA,
//! default), subdirectories, and the file-level errors (missing file, empty or missing
//! directory, count mismatch, bad gzip on disk).

mod common;

use std::ffi::OsStr;

use common::{gzip, idx_labels, IdxSet};
use unravel_data::{
    load_dataset_from_dir, resolve_data_dir, DataError, DatasetKind, Split, HOW_TO_GET_DATA,
};

#[test]
fn explicit_directory_beats_the_environment_which_beats_the_default() {
    let explicit = tempfile::tempdir().unwrap();
    let from_environment = tempfile::tempdir().unwrap();
    let kind = DatasetKind::FashionMnist;
    let chosen = resolve_data_dir(
        kind,
        Some(explicit.path()),
        Some(from_environment.path().as_os_str()),
    )
    .unwrap();
    assert_eq!(chosen, explicit.path());
    let chosen = resolve_data_dir(kind, None, Some(from_environment.path().as_os_str())).unwrap();
    assert_eq!(chosen, from_environment.path());
    // An empty variable counts as unset; then Fashion-MNIST falls back to its default.
    match resolve_data_dir(kind, None, Some(OsStr::new(""))) {
        Ok(dir) => assert_eq!(
            dir,
            std::path::Path::new("/usr/share/datasets/fashion-mnist/")
        ),
        Err(error) => assert!(
            matches!(
                &error,
                DataError::MissingDirectory {
                    origin: "the default location",
                    ..
                }
            ),
            "{error:?}"
        ),
    }
}

#[test]
fn cifar_and_mnist_have_no_default_location() {
    for kind in [DatasetKind::Cifar10, DatasetKind::Mnist] {
        let error = resolve_data_dir(kind, None, None).unwrap_err();
        assert!(matches!(error, DataError::NoDataLocation { .. }));
        let message = error.to_string();
        assert!(
            message.contains("UNRAVEL_DATA") && message.contains("--data"),
            "{message}"
        );
    }
}

#[test]
fn a_missing_directory_is_named_with_where_it_came_from() {
    let parent = tempfile::tempdir().unwrap();
    let missing = parent.path().join("nowhere");
    let error =
        resolve_data_dir(DatasetKind::FashionMnist, None, Some(missing.as_os_str())).unwrap_err();
    assert!(matches!(
        &error,
        DataError::MissingDirectory {
            origin: "UNRAVEL_DATA",
            ..
        }
    ));
    let message = error.to_string();
    assert!(
        message.contains(&missing.display().to_string()),
        "{message}"
    );
    assert!(message.contains(HOW_TO_GET_DATA));
}

#[test]
fn the_datasets_usual_subdirectory_is_found() {
    let root = tempfile::tempdir().unwrap();
    let sub = root.path().join("fashion-mnist");
    std::fs::create_dir(&sub).unwrap();
    IdxSet::new(3, 2, 2, 2).write(&sub, true);
    let chosen = resolve_data_dir(DatasetKind::FashionMnist, Some(root.path()), None).unwrap();
    assert_eq!(chosen, sub);
    // A directory holding the files itself is used as it is.
    let chosen = resolve_data_dir(DatasetKind::FashionMnist, Some(&sub), None).unwrap();
    assert_eq!(chosen, sub);
}

#[test]
fn an_empty_directory_names_the_first_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let error =
        load_dataset_from_dir(DatasetKind::FashionMnist, Split::Train, dir.path()).unwrap_err();
    let DataError::MissingFile { file, also_tried } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(file, &dir.path().join("train-images-idx3-ubyte.gz"));
    assert_eq!(also_tried, &dir.path().join("train-images-idx3-ubyte"));
    assert!(error
        .to_string()
        .contains("apt-get install dataset-fashion-mnist"));
    let error = load_dataset_from_dir(DatasetKind::Cifar10, Split::Test, dir.path()).unwrap_err();
    assert_eq!(
        error.file(),
        Some(dir.path().join("test_batch.bin.gz").as_path())
    );
}

#[test]
fn a_missing_label_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    IdxSet::new(3, 2, 2, 2).write(dir.path(), false);
    std::fs::remove_file(dir.path().join("t10k-labels-idx1-ubyte")).unwrap();
    let error = load_dataset_from_dir(DatasetKind::Mnist, Split::Test, dir.path()).unwrap_err();
    assert!(
        matches!(&error, DataError::MissingFile { also_tried, .. }
            if also_tried == &dir.path().join("t10k-labels-idx1-ubyte")),
        "{error:?}"
    );
    // The training split is complete and still loads.
    assert!(load_dataset_from_dir(DatasetKind::Mnist, Split::Train, dir.path()).is_ok());
}

#[test]
fn image_and_label_counts_must_match() {
    let dir = tempfile::tempdir().unwrap();
    IdxSet::new(5, 2, 4, 4).write(dir.path(), true);
    std::fs::write(
        dir.path().join("train-labels-idx1-ubyte.gz"),
        gzip(&idx_labels(&[1, 2, 3, 4])),
    )
    .unwrap();
    let error =
        load_dataset_from_dir(DatasetKind::FashionMnist, Split::Train, dir.path()).unwrap_err();
    assert!(
        matches!(
            error,
            DataError::CountMismatch {
                images: 5,
                labels: 4,
                ..
            }
        ),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("train-images-idx3-ubyte.gz"), "{message}");
    assert!(message.contains("train-labels-idx1-ubyte.gz"), "{message}");
}

#[test]
fn a_corrupt_gzip_file_on_disk_is_named() {
    let dir = tempfile::tempdir().unwrap();
    IdxSet::new(5, 2, 4, 4).write(dir.path(), true);
    let path = dir.path().join("train-images-idx3-ubyte.gz");
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes.truncate(middle);
    std::fs::write(&path, bytes).unwrap();
    let error =
        load_dataset_from_dir(DatasetKind::FashionMnist, Split::Train, dir.path()).unwrap_err();
    assert!(matches!(error, DataError::Gzip { .. }), "{error:?}");
    assert_eq!(error.file(), Some(path.as_path()));
}

#[test]
fn gzipped_files_are_preferred_over_plain_ones() {
    let dir = tempfile::tempdir().unwrap();
    IdxSet::new(4, 2, 2, 2).write(dir.path(), false);
    let other = IdxSet {
        train_pixels: vec![9; 3 * 4],
        train_labels: vec![1, 1, 1],
        ..IdxSet::new(3, 2, 2, 2)
    };
    other.write(dir.path(), true);
    let train = load_dataset_from_dir(DatasetKind::FashionMnist, Split::Train, dir.path()).unwrap();
    assert_eq!(train.labels(), &[1, 1, 1]);
}
