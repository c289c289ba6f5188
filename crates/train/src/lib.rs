//! # unravel-train
//!
//! Training residual networks on real data, as He et al. 2015 §4.2 do on CIFAR-10: SGD with
//! momentum 0.9 and weight decay 1e-4, batch 128, learning rate 0.1 divided by 10 at 50% and
//! 75% of training (or cosine, with optional linear warm-up), pad-crop-flip augmentation, test
//! error after every epoch.
//!
//! - [`config`]: the run's [`TrainConfig`]; [`schedule`]: learning-rate schedules.
//! - [`data`]: datasets and loaders of a run (through `unravel-data`).
//! - [`trainer`]: the loop ([`Trainer`]), with per-batch [`hooks`] and a [`progress`] bar.
//! - [`checkpoint`]: atomic safetensors checkpoints and exact resume; [`metrics`]: per-epoch
//!   CSV/JSON; [`evaluate`]: accuracy and confusion matrix.
//!
//! ```
//! use unravel_train::{data::synthetic, Outcome, TrainConfig, Trainer};
//! let config = TrainConfig {
//!     arch: "resnet20".into(), widths: Some(vec![2, 2, 2]), dataset: "synthetic".into(),
//!     epochs: 1, batch_size: 8, augment: false, ..TrainConfig::default()
//! };
//! let run_dir = std::env::temp_dir().join(format!("unravel-doc-train-{}", std::process::id()));
//! let mut trainer = Trainer::<f32>::new(config, synthetic(16, 2, 8, 0)?, synthetic(8, 2, 8, 1)?, &run_dir)?;
//! assert_eq!(trainer.run()?, Outcome::Finished);
//! assert_eq!(trainer.progress.records.len(), 1);
//! assert!(run_dir.join("metrics.csv").exists() && run_dir.join("checkpoint.safetensors").exists());
//! # std::fs::remove_dir_all(&run_dir).ok();
//! # Ok::<(), unravel_train::TrainError>(())
//! ```

pub mod checkpoint;
pub mod config;
pub mod data;
pub mod error;
pub mod evaluate;
pub mod hooks;
pub mod metrics;
pub mod plot;
pub mod progress;
pub mod responses;
pub mod schedule;
pub mod step;
pub mod trainer;

pub use config::TrainConfig;
pub use error::{Result, TrainError};
pub use trainer::{read_run_config, Outcome, Trainer, WEIGHTS_FILE};
