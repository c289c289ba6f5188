//! Everything that defines a training run, saved in every checkpoint so a run can be resumed
//! and evaluated from its directory alone.

use serde::{Deserialize, Serialize};
use unravel_resnet::ensemble::activate_all_blocks;
use unravel_resnet::presets::{self, PresetOptions};
use unravel_resnet::sgd::SgdConfig;
use unravel_resnet::ResNet;
use unravel_tensor::Float;

use crate::error::{Result, TrainError};
use crate::hooks::active_blocks_error;
use crate::schedule::{Schedule, ScheduleKind};

/// A training run's configuration. The defaults are He et al. 2015 §4.2's CIFAR recipe
/// (SGD, momentum 0.9, weight decay 1e-4, batch 128, lr 0.1, ÷10 at 50% and 75%), on
/// Fashion-MNIST.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Preset name (`resnet20`, `plain56`, …).
    pub arch: String,
    /// Stage widths replacing the preset's (narrow nets for quick runs).
    pub widths: Option<Vec<usize>>,
    /// Dataset name (`fashion-mnist`, `mnist`, `cifar10`, or `synthetic` in tests).
    pub dataset: String,
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    pub nesterov: bool,
    pub schedule: ScheduleKind,
    /// Epochs of linear warm-up from `warmup_lr` to `lr` (may be fractional).
    pub warmup_epochs: f64,
    pub warmup_lr: f64,
    /// Seeds the weights, the shuffles and the augmentation.
    pub seed: u64,
    /// `f32` or `f64`.
    pub dtype: String,
    /// Pad-4 random crop and horizontal flip (He et al. 2015 §4.2).
    pub augment: bool,
    /// Train on the first N training images only.
    pub limit_train: Option<usize>,
    /// Test on the first N test images only.
    pub limit_test: Option<usize>,
    /// Keep the residual branch of only this many random blocks per mini-batch (the others
    /// compute their shortcut only; Veit et al. 2016 §5 style).
    #[serde(default)]
    pub active_blocks: Option<usize>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            arch: "resnet20".into(),
            widths: None,
            dataset: "fashion-mnist".into(),
            epochs: 30,
            batch_size: 128,
            lr: 0.1,
            momentum: 0.9,
            weight_decay: 1e-4,
            nesterov: false,
            schedule: ScheduleKind::Step,
            warmup_epochs: 0.0,
            warmup_lr: 0.01,
            seed: 0,
            dtype: "f32".into(),
            augment: true,
            limit_train: None,
            limit_test: None,
            active_blocks: None,
        }
    }
}

impl TrainConfig {
    /// Checks the values that do not depend on the data.
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(TrainError::config("--epochs must be at least 1"));
        }
        if self.batch_size == 0 {
            return Err(TrainError::config("--batch must be at least 1"));
        }
        if !matches!(self.dtype.as_str(), "f32" | "f64") {
            return Err(TrainError::config(format!(
                "--dtype must be f32 or f64, got `{}`",
                self.dtype
            )));
        }
        if !(self.warmup_epochs.is_finite() && self.warmup_epochs >= 0.0) {
            return Err(TrainError::config(format!(
                "--warmup-epochs must be finite and non-negative, got {}",
                self.warmup_epochs
            )));
        }
        if self.warmup_epochs > self.epochs as f64 {
            return Err(TrainError::config(format!(
                "--warmup-epochs {} is longer than --epochs {}",
                self.warmup_epochs, self.epochs
            )));
        }
        if self.limit_train == Some(0) || self.limit_test == Some(0) {
            return Err(TrainError::config(
                "--limit-train/--limit-test must be at least 1",
            ));
        }
        for (name, value) in [
            ("--lr", self.lr),
            ("--momentum", self.momentum),
            ("--weight-decay", self.weight_decay),
            ("--warmup-lr", self.warmup_lr),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(TrainError::config(format!(
                    "{name} must be finite and non-negative, got {value}"
                )));
            }
        }
        if self.nesterov && self.momentum <= 0.0 {
            return Err(TrainError::config("--nesterov needs a momentum above 0"));
        }
        Ok(())
    }

    /// The optimizer's hyper-parameters (the rate is overwritten at every step by the
    /// schedule).
    pub fn sgd(&self) -> SgdConfig {
        SgdConfig {
            lr: self.lr,
            momentum: self.momentum,
            dampening: 0.0,
            weight_decay: self.weight_decay,
            nesterov: self.nesterov,
        }
    }

    /// The learning-rate schedule for `steps_per_epoch` optimizer steps per epoch.
    pub fn schedule(&self, steps_per_epoch: usize) -> Result<Schedule> {
        let total = self
            .epochs
            .checked_mul(steps_per_epoch)
            .and_then(|steps| u64::try_from(steps).ok())
            .ok_or_else(|| {
                TrainError::config(format!(
                    "--epochs {} of {steps_per_epoch} steps each is more steps than can be counted",
                    self.epochs
                ))
            })?;
        let warmup = (self.warmup_epochs * steps_per_epoch as f64).round() as u64;
        Schedule::new(self.schedule, self.lr, total, warmup, self.warmup_lr)
    }

    /// The preset options for images of `channels` channels and `classes` classes.
    pub fn preset_options(&self, channels: usize, classes: usize) -> PresetOptions {
        PresetOptions {
            widths: self.widths.clone(),
            in_channels: Some(channels),
            num_classes: Some(classes),
            ..PresetOptions::default()
        }
    }

    /// This run's network for `channels`-channel images and `classes` classes, its weights
    /// drawn from `seed`. A run trained with `--active-blocks m` gets the test-time branch
    /// scale m/n (stochastic depth's rule; see `unravel_resnet::ensemble::active`), so that
    /// loading its weights into this model gives the network it was evaluated as.
    ///
    /// ```
    /// use unravel_train::TrainConfig;
    /// let config = TrainConfig {
    ///     widths: Some(vec![2, 2, 2]),
    ///     active_blocks: Some(3),
    ///     ..TrainConfig::default()
    /// };
    /// let model = config.build_model::<f32>(1, 10, 0)?; // resnet20: 9 blocks
    /// assert!(model.blocks().iter().all(|b| b.branch_scale == 3.0 / 9.0));
    /// # Ok::<(), unravel_train::TrainError>(())
    /// ```
    pub fn build_model<E: Float>(
        &self,
        channels: usize,
        classes: usize,
        seed: u64,
    ) -> Result<ResNet<E>> {
        let options = self.preset_options(channels, classes);
        let mut model = presets::build::<E>(&self.arch, &options, seed)?;
        if let Some(active) = self.active_blocks {
            activate_all_blocks(&mut model, active).map_err(|e| active_blocks_error(active, e))?;
        }
        Ok(model)
    }
}
