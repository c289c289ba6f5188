//! The real Fashion-MNIST from the Debian package `dataset-fashion-mnist`. Skipped, with a
//! message, when /usr/share/datasets/fashion-mnist/ does not exist.

use std::path::Path;

use approx::assert_relative_eq;
use unravel_data::normalize::{FASHION_MNIST_MEAN, FASHION_MNIST_STD};
use unravel_data::{
    load_dataset_from_dir, BatchLoader, DatasetKind, LoaderConfig, Normalization, Split,
};

const DIR: &str = "/usr/share/datasets/fashion-mnist/";

#[test]
fn real_fashion_mnist_loads_with_its_published_counts() {
    let dir = Path::new(DIR);
    if !dir.is_dir() {
        println!("skipped: {DIR} does not exist (apt-get install dataset-fashion-mnist)");
        return;
    }
    let train = load_dataset_from_dir(DatasetKind::FashionMnist, Split::Train, dir).unwrap();
    let test = load_dataset_from_dir(DatasetKind::FashionMnist, Split::Test, dir).unwrap();
    assert_eq!((train.len(), test.len()), (60_000, 10_000));
    assert_eq!(train.image_shape(), [1, 28, 28]);
    assert_eq!(test.image_shape(), [1, 28, 28]);
    assert_eq!(train.class_counts(), vec![6000; 10]);
    assert_eq!(test.class_counts(), vec![1000; 10]);
    assert_eq!(train.class_names()[9], "Ankle boot");
    // The first labels of each split, as published with the dataset.
    assert_eq!(&train.labels()[..10], &[9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
    assert_eq!(&test.labels()[..10], &[9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);

    let normalization = Normalization::from_dataset(&train).unwrap();
    assert_relative_eq!(
        normalization.mean()[0],
        FASHION_MNIST_MEAN,
        max_relative = 1e-15
    );
    assert_relative_eq!(
        normalization.std()[0],
        FASHION_MNIST_STD,
        max_relative = 1e-15
    );
    // The constants are the exact values correctly rounded; from_dataset is within an ulp.
    let constants = Normalization::fashion_mnist();
    assert_relative_eq!(
        normalization.std()[0],
        constants.std()[0],
        max_relative = 1e-15
    );

    let loader = BatchLoader::new(
        test,
        LoaderConfig::test(1000).with_normalization(normalization),
    )
    .unwrap();
    let mut batches = 0;
    for (images, labels) in loader.epoch::<f32>(0) {
        assert_eq!(images.shape(), &[1000, 1, 28, 28]);
        assert!(labels.iter().all(|&label| label < 10));
        batches += 1;
    }
    assert_eq!(batches, 10);
}
