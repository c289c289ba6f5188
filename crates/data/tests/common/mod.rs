//! Builders of small IDX and CIFAR-10 files for the tests.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;

use unravel_tensor::Rng;

/// An IDX image file: magic 0x00000803, dims (count, rows, columns), then `pixels`.
pub fn idx_images(count: u32, rows: u32, columns: u32, pixels: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0, 0, 8, 3];
    for dimension in [count, rows, columns] {
        bytes.extend_from_slice(&dimension.to_be_bytes());
    }
    bytes.extend_from_slice(pixels);
    bytes
}

/// An IDX label file: magic 0x00000801, dim (count), then `labels`.
pub fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0, 0, 8, 1];
    bytes.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    bytes.extend_from_slice(labels);
    bytes
}

/// A CIFAR-10 batch: one record (label, 3072 pixels) per image.
pub fn cifar_records(labels: &[u8], pixels: &[u8]) -> Vec<u8> {
    assert_eq!(pixels.len(), labels.len() * 3072);
    let mut bytes = Vec::new();
    for (label, image) in labels.iter().zip(pixels.chunks_exact(3072)) {
        bytes.push(*label);
        bytes.extend_from_slice(image);
    }
    bytes
}

/// `bytes` gzipped.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// `count` random bytes from `seed`.
pub fn random_bytes(seed: u64, count: usize) -> Vec<u8> {
    let mut rng = Rng::seed_from(seed);
    (0..count).map(|_| rng.below(256) as u8).collect()
}

/// `count` random labels below `classes`.
pub fn random_labels(seed: u64, count: usize, classes: usize) -> Vec<u8> {
    let mut rng = Rng::seed_from(seed);
    (0..count).map(|_| rng.below(classes) as u8).collect()
}

/// A small MNIST-like dataset: the images, the labels and the four files' names with contents.
pub struct IdxSet {
    pub train_pixels: Vec<u8>,
    pub train_labels: Vec<u8>,
    pub test_pixels: Vec<u8>,
    pub test_labels: Vec<u8>,
    pub rows: u32,
    pub columns: u32,
}

impl IdxSet {
    pub fn new(train: u32, test: u32, rows: u32, columns: u32) -> Self {
        let size = (rows * columns) as usize;
        IdxSet {
            train_pixels: random_bytes(1, train as usize * size),
            train_labels: random_labels(2, train as usize, 10),
            test_pixels: random_bytes(3, test as usize * size),
            test_labels: random_labels(4, test as usize, 10),
            rows,
            columns,
        }
    }

    /// Writes the four files into `dir`, gzipped (`NAME.gz`) or plain.
    pub fn write(&self, dir: &Path, gzipped: bool) {
        let train_count = self.train_labels.len() as u32;
        let test_count = self.test_labels.len() as u32;
        let files = [
            (
                "train-images-idx3-ubyte",
                idx_images(train_count, self.rows, self.columns, &self.train_pixels),
            ),
            ("train-labels-idx1-ubyte", idx_labels(&self.train_labels)),
            (
                "t10k-images-idx3-ubyte",
                idx_images(test_count, self.rows, self.columns, &self.test_pixels),
            ),
            ("t10k-labels-idx1-ubyte", idx_labels(&self.test_labels)),
        ];
        for (name, bytes) in files {
            if gzipped {
                std::fs::write(dir.join(format!("{name}.gz")), gzip(&bytes)).unwrap();
            } else {
                std::fs::write(dir.join(name), bytes).unwrap();
            }
        }
    }
}
