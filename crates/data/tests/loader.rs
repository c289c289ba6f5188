//! The batch loader: shuffles are permutations that change each epoch and depend only on the
//! seed and the epoch; the same seed gives identical batches; the prefetching loader equals the
//! synchronous one; partial batches; early drop; normalisation statistics.

mod common;

use approx::assert_relative_eq;
use unravel_data::{epoch_order, Augmentation, BatchLoader, Dataset, LoaderConfig, Normalization};

/// `count` 1×3×2 images; image i's first pixel is i (so it can be recognised in a batch), the
/// rest random; label i mod 7.
fn numbered_dataset(count: usize) -> Dataset {
    assert!(count <= 256);
    let mut images = common::random_bytes(17, count * 6);
    for index in 0..count {
        images[index * 6] = index as u8;
    }
    let labels = (0..count).map(|i| (i % 7) as u8).collect();
    let names = (0..7).map(|i| format!("class {i}")).collect();
    Dataset::new("numbered", images, labels, [1, 3, 2], names).unwrap()
}

/// The image indices of one epoch, read back from the first pixel of each image.
fn visited(loader: &BatchLoader, epoch: u64) -> Vec<usize> {
    loader
        .epoch::<f64>(epoch)
        .flat_map(|(images, labels)| {
            let values = images.to_vec();
            let per_image = values.len() / labels.len();
            let indices: Vec<usize> = values
                .chunks(per_image)
                .map(|image| (image[0] * 255.0).round() as usize)
                .collect();
            for (index, label) in indices.iter().zip(&labels) {
                assert_eq!(index % 7, *label);
            }
            indices
        })
        .collect()
}

#[test]
fn each_epoch_is_a_fresh_permutation() {
    let loader = BatchLoader::new(numbered_dataset(200), LoaderConfig::train(32, 11)).unwrap();
    let mut previous: Option<Vec<usize>> = None;
    for epoch in 0..4 {
        let order = visited(&loader, epoch);
        assert_eq!(order, loader.plan(epoch).order());
        assert_eq!(order, epoch_order(11, epoch, 200));
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..200).collect::<Vec<_>>());
        assert_ne!(order, (0..200).collect::<Vec<_>>());
        if let Some(previous) = &previous {
            assert_ne!(&order, previous, "epoch {epoch} repeats the one before");
        }
        previous = Some(order);
    }
    assert_ne!(epoch_order(11, 0, 200), epoch_order(12, 0, 200));
}

#[test]
fn an_epochs_order_depends_only_on_seed_and_epoch() {
    let loader = BatchLoader::new(numbered_dataset(100), LoaderConfig::train(10, 3)).unwrap();
    // Epoch 5 straight away (a resumed run) equals epoch 5 after epochs 0..5.
    let direct = visited(&loader, 5);
    for epoch in 0..5 {
        visited(&loader, epoch);
    }
    assert_eq!(visited(&loader, 5), direct);
    let fresh = BatchLoader::new(numbered_dataset(100), LoaderConfig::train(10, 3)).unwrap();
    assert_eq!(visited(&fresh, 5), direct);
}

#[test]
fn without_shuffle_the_order_is_the_files() {
    let loader = BatchLoader::new(numbered_dataset(50), LoaderConfig::test(8)).unwrap();
    assert_eq!(visited(&loader, 0), (0..50).collect::<Vec<_>>());
    assert_eq!(visited(&loader, 3), (0..50).collect::<Vec<_>>());
}

fn bits<E: Copy + Into<f64>>(values: Vec<E>) -> Vec<u64> {
    values.into_iter().map(|v| v.into().to_bits()).collect()
}

fn epoch_bits(loader: &BatchLoader, epoch: u64) -> Vec<(Vec<usize>, Vec<u64>, Vec<u64>)> {
    let batches32: Vec<_> = loader.epoch::<f32>(epoch).collect();
    let batches64: Vec<_> = loader.epoch::<f64>(epoch).collect();
    batches32
        .into_iter()
        .zip(batches64)
        .map(|((images32, labels32), (images64, labels64))| {
            assert_eq!(labels32, labels64);
            assert_eq!(images32.shape(), images64.shape());
            (labels32, bits(images32.to_vec()), bits(images64.to_vec()))
        })
        .collect()
}

fn augmented_config(prefetch: usize, seed: u64) -> LoaderConfig {
    LoaderConfig::train(16, seed)
        .with_augmentation(Augmentation::paper())
        .with_normalization(Normalization::new(vec![0.4], vec![0.3]).unwrap())
        .with_prefetch(prefetch)
}

#[test]
fn same_seed_same_batches_and_prefetching_equals_synchronous() {
    let dataset = numbered_dataset(150);
    let synchronous = BatchLoader::new(dataset.clone(), augmented_config(0, 21)).unwrap();
    assert!(!synchronous.epoch::<f32>(0).is_prefetching());
    for prefetch in [1, 3] {
        let prefetching =
            BatchLoader::new(dataset.clone(), augmented_config(prefetch, 21)).unwrap();
        assert!(prefetching.epoch::<f32>(0).is_prefetching());
        for epoch in 0..3 {
            assert_eq!(
                epoch_bits(&synchronous, epoch),
                epoch_bits(&prefetching, epoch)
            );
        }
    }
    let other_seed = BatchLoader::new(dataset.clone(), augmented_config(0, 22)).unwrap();
    assert_ne!(epoch_bits(&synchronous, 0), epoch_bits(&other_seed, 0));
    // Batches built one by one on this thread equal the iterator's.
    let plan = synchronous.plan(2);
    for (index, (images, labels)) in synchronous.epoch::<f32>(2).enumerate() {
        let (one_images, one_labels) = synchronous.batch::<f32>(&plan, index);
        assert_eq!(labels, one_labels);
        assert_eq!(bits(images.to_vec()), bits(one_images.to_vec()));
    }
}

#[test]
fn f32_batches_are_f64_batches_rounded() {
    let loader = BatchLoader::new(numbered_dataset(40), augmented_config(1, 8)).unwrap();
    for ((images32, _), (images64, _)) in loader.epoch::<f32>(1).zip(loader.epoch::<f64>(1)) {
        for (a, b) in images32.to_vec().into_iter().zip(images64.to_vec()) {
            assert_eq!(a, b as f32);
        }
    }
}

#[test]
fn resuming_mid_epoch_gives_the_remaining_batches() {
    let loader = BatchLoader::new(numbered_dataset(100), augmented_config(2, 4)).unwrap();
    let whole = epoch_bits(&loader, 3);
    for first in [0, 1, 6, 7, 50] {
        let rest: Vec<_> = loader
            .epoch_from::<f64>(3, first)
            .map(|(images, labels)| (labels, bits(images.to_vec())))
            .collect();
        let expected: Vec<_> = whole
            .iter()
            .skip(first)
            .map(|(labels, _, images64)| (labels.clone(), images64.clone()))
            .collect();
        assert_eq!(rest, expected, "from batch {first}");
    }
}

#[test]
fn the_last_partial_batch_is_kept_or_dropped() {
    let dataset = numbered_dataset(50);
    let keep = BatchLoader::new(dataset.clone(), LoaderConfig::train(16, 0)).unwrap();
    assert_eq!(keep.num_batches(), 4);
    let sizes: Vec<usize> = keep
        .epoch::<f32>(0)
        .map(|(images, labels)| {
            assert_eq!(images.shape(), &[labels.len(), 1, 3, 2]);
            labels.len()
        })
        .collect();
    assert_eq!(sizes, [16, 16, 16, 2]);
    let drop = BatchLoader::new(
        dataset.clone(),
        LoaderConfig::train(16, 0).with_drop_last(true),
    )
    .unwrap();
    assert_eq!(drop.num_batches(), 3);
    let iterator = drop.epoch::<f32>(0);
    assert_eq!(iterator.len(), 3);
    assert_eq!(
        iterator.map(|(_, labels)| labels.len()).collect::<Vec<_>>(),
        [16, 16, 16]
    );
    // A batch larger than the dataset: one partial batch, or none when dropped.
    let big = BatchLoader::new(dataset.clone(), LoaderConfig::train(64, 0)).unwrap();
    assert_eq!(
        big.epoch::<f32>(0)
            .map(|(_, l)| l.len())
            .collect::<Vec<_>>(),
        [50]
    );
    let big_drop =
        BatchLoader::new(dataset, LoaderConfig::train(64, 0).with_drop_last(true)).unwrap();
    assert_eq!(big_drop.epoch::<f32>(0).count(), 0);
}

#[test]
fn dropping_a_prefetching_iterator_early_stops_its_thread() {
    let loader = BatchLoader::new(numbered_dataset(256), augmented_config(1, 1)).unwrap();
    // Dropped before the first batch, after one, and after a few: each drop joins the thread
    // (this test would hang if the thread stayed blocked on its full channel).
    drop(loader.epoch::<f32>(0));
    let mut batches = loader.epoch::<f32>(0);
    assert!(batches.next().is_some());
    drop(batches);
    let taken = loader.epoch::<f64>(1).take(3).count();
    assert_eq!(taken, 3);
    // Many short-lived iterators in a row.
    for epoch in 0..20 {
        let mut batches = loader.epoch::<f32>(epoch);
        batches.next();
    }
}

#[test]
fn an_empty_dataset_yields_no_batches() {
    let dataset = Dataset::new("empty", vec![], vec![], [1, 2, 2], vec!["a".into()]).unwrap();
    let loader = BatchLoader::new(dataset, LoaderConfig::train(4, 0)).unwrap();
    assert_eq!(loader.num_batches(), 0);
    assert_eq!(loader.epoch::<f32>(0).count(), 0);
}

#[test]
fn invalid_configurations_are_errors() {
    let dataset = numbered_dataset(10);
    assert!(BatchLoader::new(dataset.clone(), LoaderConfig::train(0, 0)).is_err());
    let three_channels = Normalization::new(vec![0.5; 3], vec![0.2; 3]).unwrap();
    let error = BatchLoader::new(
        dataset,
        LoaderConfig::train(2, 0).with_normalization(three_channels),
    )
    .unwrap_err();
    assert!(error.to_string().contains("3 channels"), "{error}");
    assert!(Normalization::new(vec![0.5], vec![-1.0]).is_err());
    assert!(Normalization::new(vec![0.5, 0.1], vec![1.0]).is_err());
    assert!(Normalization::new(vec![f64::NAN], vec![1.0]).is_err());
    assert!(Normalization::new(vec![], vec![]).is_err());
}

/// Two-pass f64 mean and population std of channel `channel` of all images, scaled to [0, 1].
fn reference_statistics(dataset: &Dataset, channel: usize) -> (f64, f64) {
    let [_, height, width] = dataset.image_shape();
    let plane = height * width;
    let values: Vec<f64> = (0..dataset.len())
        .flat_map(|i| dataset.image(i)[channel * plane..(channel + 1) * plane].to_vec())
        .map(|p| f64::from(p) / 255.0)
        .collect();
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let variance =
        values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / values.len() as f64;
    (mean, variance.sqrt())
}

#[test]
fn normalisation_statistics_match_a_two_pass_reference() {
    // Three channels with different distributions.
    let count = 37;
    let mut images = common::random_bytes(5, count * 3 * 5 * 4);
    for image in images.chunks_mut(60) {
        for value in &mut image[20..40] {
            *value /= 4; // channel 1 darker
        }
        for value in &mut image[40..60] {
            *value = 255 - *value / 8; // channel 2 bright, narrow
        }
    }
    let dataset = Dataset::new("rgb", images, vec![0; count], [3, 5, 4], vec!["a".into()]).unwrap();
    let normalization = Normalization::from_dataset(&dataset).unwrap();
    for channel in 0..3 {
        let (mean, std) = reference_statistics(&dataset, channel);
        assert_relative_eq!(normalization.mean()[channel], mean, max_relative = 1e-12);
        assert_relative_eq!(normalization.std()[channel], std, max_relative = 1e-12);
    }
    // The normalised, unaugmented epoch has mean 0 and std 1 in each channel.
    let loader = BatchLoader::new(
        dataset,
        LoaderConfig::test(8).with_normalization(normalization),
    )
    .unwrap();
    let mut sums = [0.0f64; 3];
    let mut squares = [0.0f64; 3];
    let mut counted = 0;
    for (images, labels) in loader.epoch::<f64>(0) {
        for image in images.to_vec().chunks(60) {
            for channel in 0..3 {
                for value in &image[channel * 20..(channel + 1) * 20] {
                    sums[channel] += value;
                    squares[channel] += value * value;
                }
            }
        }
        counted += labels.len() * 20;
    }
    for channel in 0..3 {
        let mean = sums[channel] / counted as f64;
        let variance = squares[channel] / counted as f64 - mean * mean;
        assert!(mean.abs() < 1e-12, "channel {channel} mean {mean}");
        assert_relative_eq!(variance, 1.0, max_relative = 1e-10);
    }
}

#[test]
fn a_constant_channel_has_no_statistics() {
    let dataset =
        Dataset::new("flat", vec![7; 8], vec![0, 0], [1, 2, 2], vec!["a".into()]).unwrap();
    assert!(Normalization::from_dataset(&dataset).is_err());
    let empty = Dataset::new("empty", vec![], vec![], [1, 2, 2], vec!["a".into()]).unwrap();
    assert!(Normalization::from_dataset(&empty).is_err());
}
