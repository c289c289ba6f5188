//! Pad-crop-flip augmentation against a plain reference that materialises the padded image,
//! crops it and mirrors it, with the crop offsets and flips the loader's plan drew from the seed.

mod common;

use approx::assert_relative_eq;
use unravel_data::plan::{epoch_rng, EpochStream};
use unravel_data::{Augmentation, BatchLoader, Dataset, LoaderConfig, Normalization, Transform};

/// The image after padding `p` zeros (in the normalised domain) on each side, cropping
/// `out_h × out_w` at (top, left) and mirroring if `flip`: [C, out_h, out_w] in f64.
fn reference(
    image: &[u8],
    [channels, height, width]: [usize; 3],
    transform: Transform,
    [out_h, out_w]: [usize; 2],
    normalization: Option<&Normalization>,
) -> Vec<f64> {
    let p = transform.padding;
    let (padded_h, padded_w) = (height + 2 * p, width + 2 * p);
    let mut padded = vec![0.0; channels * padded_h * padded_w];
    for c in 0..channels {
        for y in 0..height {
            for x in 0..width {
                let pixel = image[(c * height + y) * width + x];
                let value = match normalization {
                    Some(norm) => norm.apply(c, pixel),
                    None => f64::from(pixel) / 255.0,
                };
                padded[(c * padded_h + y + p) * padded_w + x + p] = value;
            }
        }
    }
    let mut out = Vec::with_capacity(channels * out_h * out_w);
    for c in 0..channels {
        for y in 0..out_h {
            let mut row: Vec<f64> = (0..out_w)
                .map(|x| padded[(c * padded_h + transform.top + y) * padded_w + transform.left + x])
                .collect();
            if transform.flip {
                row.reverse();
            }
            out.extend(row);
        }
    }
    out
}

#[test]
fn a_hand_computed_crop() {
    // One 1×2×3 image [[1, 2, 3], [4, 5, 6]] (pixel bytes), padding 1, crop 2×3 at top 0,
    // left 2 of the padded 4×5 image, then mirrored.
    let dataset = Dataset::new(
        "toy",
        vec![1, 2, 3, 4, 5, 6],
        vec![0],
        [1, 2, 3],
        vec!["a".into()],
    )
    .unwrap();
    let augmentation = Augmentation {
        padding: 1,
        crop: Some((2, 3)),
        horizontal_flip: true,
    };
    let loader = BatchLoader::new(
        dataset,
        LoaderConfig::test(1).with_augmentation(augmentation),
    )
    .unwrap();
    let plan = loader.plan(0);
    let transform = plan.transform(0);
    let (images, _) = loader.batch::<f64>(&plan, 0);
    let got: Vec<f64> = images.to_vec().iter().map(|v| v * 255.0).collect();
    // Padded image rows: [0 0 0 0 0], [0 1 2 3 0], [0 4 5 6 0], [0 0 0 0 0].
    let padded = [
        [0.0, 0.0, 0.0, 0.0, 0.0],
        [0.0, 1.0, 2.0, 3.0, 0.0],
        [0.0, 4.0, 5.0, 6.0, 0.0],
        [0.0, 0.0, 0.0, 0.0, 0.0],
    ];
    let mut expected = Vec::new();
    for y in 0..2 {
        let mut row: Vec<f64> = (0..3)
            .map(|x| padded[transform.top + y][transform.left + x])
            .collect();
        if transform.flip {
            row.reverse();
        }
        expected.extend(row);
    }
    for (g, e) in got.iter().zip(&expected) {
        assert_relative_eq!(g, e, epsilon = 1e-12);
    }
    assert!(transform.top <= 2 && transform.left <= 2);
}

#[test]
fn batches_equal_the_reference_on_many_shapes() {
    // (channels, height, width, padding, crop)
    let cases = [
        (1, 1, 1, 0, None),
        (1, 1, 1, 4, None),
        (1, 5, 7, 4, None),
        (3, 32, 32, 4, None),
        (3, 13, 11, 2, Some((9, 15))),
        (2, 28, 28, 4, Some((24, 24))),
        (1, 3, 17, 1, Some((5, 19))),
    ];
    for (case, &(channels, height, width, padding, crop)) in cases.iter().enumerate() {
        let count = 9;
        let image_len = channels * height * width;
        let images = common::random_bytes(case as u64, count * image_len);
        let labels = common::random_labels(case as u64, count, 3);
        let dataset = Dataset::new(
            "random",
            images,
            labels,
            [channels, height, width],
            vec!["a".into(), "b".into(), "c".into()],
        )
        .unwrap();
        let normalization = if case % 2 == 0 {
            None
        } else {
            Some(Normalization::new(vec![0.3; channels], vec![0.2; channels]).unwrap())
        };
        for horizontal_flip in [false, true] {
            let augmentation = Augmentation {
                padding,
                crop,
                horizontal_flip,
            };
            let mut config =
                LoaderConfig::train(4, 99 + case as u64).with_augmentation(augmentation);
            config.normalization = normalization.clone();
            let loader = BatchLoader::new(dataset.clone(), config).unwrap();
            let [_, out_h, out_w] = loader.image_shape();
            let (crop_h, crop_w) = crop.unwrap_or((height, width));
            assert_eq!((out_h, out_w), (crop_h, crop_w));
            for epoch in 0..2 {
                let plan = loader.plan(epoch);
                let batches64: Vec<_> = loader.epoch::<f64>(epoch).collect();
                let batches32: Vec<_> = loader.epoch::<f32>(epoch).collect();
                for (position, &index) in plan.order().iter().enumerate() {
                    let transform = plan.transform(position);
                    assert_eq!(transform.padding, padding);
                    assert!(transform.top + out_h <= height + 2 * padding);
                    assert!(transform.left + out_w <= width + 2 * padding);
                    if !horizontal_flip {
                        assert!(!transform.flip);
                    }
                    let expected = reference(
                        dataset.image(index),
                        [channels, height, width],
                        transform,
                        [out_h, out_w],
                        normalization.as_ref(),
                    );
                    let (batch, within) = (position / 4, position % 4);
                    let out_len = channels * out_h * out_w;
                    let got64 = batches64[batch].0.to_vec();
                    let got32 = batches32[batch].0.to_vec();
                    assert_eq!(batches64[batch].1[within], dataset.label(index));
                    for k in 0..out_len {
                        assert_eq!(got64[within * out_len + k], expected[k], "case {case}");
                        assert_relative_eq!(
                            got32[within * out_len + k],
                            expected[k] as f32,
                            max_relative = 1e-6
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn transforms_are_the_documented_draws_of_the_epochs_augment_stream() {
    let augmentation = Augmentation::paper();
    let shape = [3, 32, 32];
    let dataset = Dataset::new(
        "c",
        vec![0; 50 * 3072],
        vec![0; 50],
        shape,
        vec!["a".into()],
    )
    .unwrap();
    let loader = BatchLoader::new(
        dataset,
        LoaderConfig::train(8, 5).with_augmentation(augmentation),
    )
    .unwrap();
    for epoch in [0, 1, 7] {
        let mut rng = epoch_rng(5, epoch, EpochStream::Augment);
        let plan = loader.plan(epoch);
        for (position, transform) in plan.transforms().unwrap().iter().enumerate() {
            let top = rng.below(9);
            let left = rng.below(9);
            let flip = rng.below(2) == 1;
            assert_eq!(
                (transform.top, transform.left, transform.flip),
                (top, left, flip),
                "epoch {epoch} position {position}"
            );
        }
    }
}

#[test]
fn offsets_and_flips_cover_their_ranges() {
    let augmentation = Augmentation::paper();
    let mut rng = unravel_tensor::Rng::seed_from(3);
    let mut tops = [0usize; 9];
    let mut lefts = [0usize; 9];
    let mut flips = 0;
    let draws = 9000;
    for _ in 0..draws {
        let transform = augmentation.draw([1, 28, 28], &mut rng);
        tops[transform.top] += 1;
        lefts[transform.left] += 1;
        flips += usize::from(transform.flip);
    }
    // Each of the 9 offsets ≈ 1000 times, flips ≈ 4500 (far looser than 5 standard deviations).
    for count in tops.iter().chain(&lefts) {
        assert!((800..1200).contains(count), "{tops:?} {lefts:?}");
    }
    assert!((4200..4800).contains(&flips), "{flips}");
}

#[test]
fn crops_that_do_not_fit_are_rejected() {
    let dataset = Dataset::new("toy", vec![0; 16], vec![0], [1, 4, 4], vec!["a".into()]).unwrap();
    for crop in [(0, 4), (4, 0), (13, 4), (4, 13)] {
        let augmentation = Augmentation {
            padding: 4,
            crop: Some(crop),
            horizontal_flip: false,
        };
        let config = LoaderConfig::train(1, 0).with_augmentation(augmentation);
        assert!(
            BatchLoader::new(dataset.clone(), config).is_err(),
            "{crop:?}"
        );
    }
    let fits = Augmentation {
        padding: 4,
        crop: Some((12, 12)),
        horizontal_flip: true,
    };
    assert!(BatchLoader::new(dataset, LoaderConfig::train(1, 0).with_augmentation(fits)).is_ok());
}
