//! Per-channel normalisation of pixels: a pixel byte p of channel c becomes
//!
//! ```text
//! x = (p / 255 − mean[c]) / std[c]
//! ```
//!
//! where mean and std are statistics of the pixels scaled to [0, 1]. Without normalisation the
//! loader yields `p / 255`.

use crate::dataset::Dataset;
use crate::error::{DataError, Result};

/// Per-channel mean and standard deviation of pixels scaled to [0, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct Normalization {
    mean: Vec<f64>,
    std: Vec<f64>,
}

/// Mean of Fashion-MNIST's 60 000 training images, pixels scaled to [0, 1]:
/// 3 431 114 169 / (47 040 000 · 255), correctly rounded to f64.
pub const FASHION_MNIST_MEAN: f64 = 0.2860405969887955;
/// Population standard deviation of Fashion-MNIST's training pixels scaled to [0, 1]
/// (√(N·Σp² − (Σp)²) / (N · 255) with N = 47 040 000, Σp = 3 431 114 169,
/// Σp² = 631 470 052 347), correctly rounded to f64 ([`Normalization::from_dataset`] gets it
/// within one ulp).
pub const FASHION_MNIST_STD: f64 = 0.3530242445149226;

impl Normalization {
    /// Given statistics, one mean and one std per channel. Fails if the lengths differ, a list
    /// is empty, or a value is not finite, or a std is not positive.
    ///
    /// ```
    /// let norm = unravel_data::Normalization::new(vec![0.5], vec![0.25]).unwrap();
    /// // (255/255 − 0.5) / 0.25
    /// assert_eq!(norm.apply(0, 255), 2.0);
    /// assert!(unravel_data::Normalization::new(vec![0.5], vec![0.0]).is_err());
    /// ```
    pub fn new(mean: Vec<f64>, std: Vec<f64>) -> Result<Self> {
        if mean.is_empty() || mean.len() != std.len() {
            return Err(DataError::config(
                "normalization",
                format!(
                    "{} means and {} stds; give one of each per channel",
                    mean.len(),
                    std.len()
                ),
            ));
        }
        if mean.iter().any(|value| !value.is_finite())
            || std.iter().any(|value| !value.is_finite() || *value <= 0.0)
        {
            return Err(DataError::config(
                "normalization",
                format!("mean {mean:?} and std {std:?} must be finite, std positive"),
            ));
        }
        Ok(Normalization { mean, std })
    }

    /// The statistics of Fashion-MNIST's training set, [`FASHION_MNIST_MEAN`] and
    /// [`FASHION_MNIST_STD`] (one grey channel).
    pub fn fashion_mnist() -> Self {
        Normalization {
            mean: vec![FASHION_MNIST_MEAN],
            std: vec![FASHION_MNIST_STD],
        }
    }

    /// Per-channel mean and population standard deviation of all pixels of `dataset`, scaled
    /// to [0, 1]:
    ///
    /// ```text
    /// mean[c] = Σp / (M·255),   std[c] = √(M·Σp² − (Σp)²) / (M·255)
    /// ```
    ///
    /// over the M = N·H·W pixels of channel c. The sums are exact integers, so the result does
    /// not depend on summation order. Fails if the dataset is empty or a channel is constant.
    ///
    /// ```
    /// use unravel_data::{Dataset, Normalization};
    /// // One 1×1×2 image with pixels 0 and 255: mean 0.5, std 0.5.
    /// let dataset = Dataset::new("toy", vec![0, 255], vec![0], [1, 1, 2], vec!["a".into()]).unwrap();
    /// let norm = Normalization::from_dataset(&dataset).unwrap();
    /// assert_eq!((norm.mean(), norm.std()), (&[0.5][..], &[0.5][..]));
    /// ```
    pub fn from_dataset(dataset: &Dataset) -> Result<Self> {
        let [channels, height, width] = dataset.image_shape();
        let plane = height * width;
        let mut sums = vec![0u128; channels];
        let mut sums_of_squares = vec![0u128; channels];
        for image in dataset.images().chunks_exact(channels * plane) {
            for (channel, pixels) in image.chunks_exact(plane).enumerate() {
                let (sum, sum_of_squares) = pixels.iter().fold((0u64, 0u64), |(s, q), &p| {
                    let p = u64::from(p);
                    (s + p, q + p * p)
                });
                sums[channel] += u128::from(sum);
                sums_of_squares[channel] += u128::from(sum_of_squares);
            }
        }
        let count = (dataset.len() * plane) as u128;
        if count == 0 {
            return Err(DataError::config(
                "normalization",
                format!(
                    "{} has no pixels to compute statistics from",
                    dataset.name()
                ),
            ));
        }
        let scale = count as f64 * 255.0;
        let mut mean = Vec::with_capacity(channels);
        let mut std = Vec::with_capacity(channels);
        for channel in 0..channels {
            // M·Σp² − (Σp)² ≥ 0 exactly (Cauchy–Schwarz), computed in integers.
            let spread = count * sums_of_squares[channel] - sums[channel] * sums[channel];
            mean.push(sums[channel] as f64 / scale);
            std.push((spread as f64).sqrt() / scale);
        }
        if let Some(channel) = std.iter().position(|&value| value <= 0.0) {
            return Err(DataError::config(
                "normalization",
                format!(
                    "channel {channel} of {} is constant (std 0); give the statistics instead",
                    dataset.name()
                ),
            ));
        }
        Ok(Normalization { mean, std })
    }

    /// Means per channel.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// Standard deviations per channel.
    pub fn std(&self) -> &[f64] {
        &self.std
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.mean.len()
    }

    /// `(pixel / 255 − mean[channel]) / std[channel]`, in f64.
    pub fn apply(&self, channel: usize, pixel: u8) -> f64 {
        (f64::from(pixel) / 255.0 - self.mean[channel]) / self.std[channel]
    }
}
