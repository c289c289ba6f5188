//! Iterates over Fashion-MNIST in batches, as a training loop would, and prints what it sees.
//!
//! `cargo run --release -p unravel-data --example fashion_mnist_batches [DATA_DIR]`
//!
//! The data comes from DATA_DIR, else $UNRAVEL_DATA, else /usr/share/datasets/fashion-mnist/
//! (`apt-get install dataset-fashion-mnist`). Without it the example prints the error, which
//! says how to get the data.

use std::path::PathBuf;
use std::time::Instant;

use unravel_data::{
    load_dataset, Augmentation, BatchLoader, DataError, DatasetKind, LoaderConfig, Normalization,
    Split,
};

fn main() {
    let dir = std::env::args_os().nth(1).map(PathBuf::from);
    if let Err(error) = run(dir) {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}

fn run(dir: Option<PathBuf>) -> Result<(), DataError> {
    let started = Instant::now();
    let train = load_dataset(DatasetKind::FashionMnist, Split::Train, dir.as_deref())?;
    let test = load_dataset(DatasetKind::FashionMnist, Split::Test, dir.as_deref())?;
    println!(
        "loaded {} and {} images of {:?} in {:.2} s; classes {:?}",
        train.len(),
        test.len(),
        train.image_shape(),
        started.elapsed().as_secs_f64(),
        train.class_names()
    );
    let normalization = Normalization::from_dataset(&train)?;
    println!(
        "training-set mean {:?}, std {:?}",
        normalization.mean(),
        normalization.std()
    );

    let train_loader = BatchLoader::new(
        train,
        LoaderConfig::train(128, 42)
            .with_augmentation(Augmentation::paper())
            .with_normalization(normalization.clone()),
    )?;
    let test_loader = BatchLoader::new(
        test,
        LoaderConfig::test(1000).with_normalization(normalization),
    )?;

    for epoch in 0..2 {
        let started = Instant::now();
        let mut images_seen = 0;
        let mut label_counts = [0usize; 10];
        let mut first_labels = Vec::new();
        for (images, labels) in train_loader.epoch::<f32>(epoch) {
            // A training step would run here on images: Tensor<f32> [B, 1, 28, 28].
            images_seen += images.shape()[0];
            for &label in &labels {
                label_counts[label] += 1;
            }
            if first_labels.is_empty() {
                first_labels = labels[..8].to_vec();
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "epoch {epoch}: {} batches, {images_seen} images in {seconds:.2} s ({:.0} images/s), \
             first labels {first_labels:?}, per class {label_counts:?}",
            train_loader.num_batches(),
            images_seen as f64 / seconds
        );
    }
    let test_images: usize = test_loader
        .epoch::<f32>(0)
        .map(|(_, labels)| labels.len())
        .sum();
    println!(
        "test set: {test_images} images in {} batches",
        test_loader.num_batches()
    );
    Ok(())
}
