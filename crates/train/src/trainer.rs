//! The training loop of He et al. 2015 §4.2: mini-batch SGD on the cross-entropy, the
//! learning rate set by the [`Schedule`] at every step, test error after every epoch, a
//! checkpoint and the metrics files written after every epoch.
//!
//! Determinism: with the same seed and thread count, every step computes the same loss bit for
//! bit (the ops split work independently of timing, and every random draw depends only on the
//! seed and the position in training). Resuming from a checkpoint — at an epoch boundary, or
//! mid-epoch after an interruption — continues with exactly the state an uninterrupted run
//! would have.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use unravel_data::{BatchLoader, Dataset};
use unravel_resnet::sgd::Sgd;
use unravel_resnet::ResNet;
use unravel_tensor::{Device, Float};

use crate::checkpoint::{self, Progress, CHECKPOINT_FILE};
use crate::config::TrainConfig;
use crate::data::loaders;
use crate::error::{Result, TrainError};
use crate::evaluate::{evaluate, score_batch, Evaluation};
use crate::hooks::{ActiveBlocks, BatchHook};
use crate::metrics::{self, EpochRecord};
use crate::progress::EpochBar;
use crate::step::forward_backward;

/// File name of the final weights in a run directory.
pub const WEIGHTS_FILE: &str = "model.safetensors";

/// How [`Trainer::run`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every epoch trained; the final weights are in [`WEIGHTS_FILE`].
    Finished,
    /// The stop flag was raised; a checkpoint of the exact position was saved.
    Interrupted,
}

/// A training run: model, optimizer, data, position, run directory.
pub struct Trainer<E: Float> {
    pub config: TrainConfig,
    pub model: ResNet<E>,
    pub optimizer: Sgd<E>,
    pub progress: Progress,
    pub run_dir: PathBuf,
    /// Raise it (e.g. from a Ctrl-C handler) to save a checkpoint and stop before the next
    /// batch.
    pub stop: Arc<AtomicBool>,
    /// Draw a progress bar (on stderr) and print a line per epoch.
    pub verbose: bool,
    /// Stop (as if interrupted, checkpoint saved) after this many epochs of this call to
    /// [`Trainer::run`]: for splitting a long run into sessions.
    pub stop_after_epochs: Option<usize>,
    /// Where to train: [`Trainer::run`] moves the model and the momentum buffers there first,
    /// and every batch is copied there (`Device::Cpu` by default; not part of the run's
    /// configuration, so a run can be resumed on another device).
    pub device: Device,
    train_loader: BatchLoader,
    test_loader: BatchLoader,
    hooks: Vec<Box<dyn BatchHook<E>>>,
    last_evaluation: Option<Evaluation>,
}

impl<E: Float> Trainer<E> {
    /// A fresh run of `config` on these datasets, writing into `run_dir` (created if needed).
    pub fn new(config: TrainConfig, train: Dataset, test: Dataset, run_dir: &Path) -> Result<Self> {
        config.validate()?;
        if train.is_empty() || test.is_empty() {
            return Err(TrainError::config(
                "the training and test sets must not be empty",
            ));
        }
        let [channels, _, _] = train.image_shape();
        let model = config.build_model::<E>(channels, train.num_classes(), config.seed)?;
        let optimizer = Sgd::new(config.sgd());
        let (train_loader, test_loader) = loaders(&config, train, test)?;
        std::fs::create_dir_all(run_dir).map_err(|e| TrainError::io(run_dir, e))?;
        let mut hooks: Vec<Box<dyn BatchHook<E>>> = Vec::new();
        if let Some(active) = config.active_blocks {
            hooks.push(Box::new(ActiveBlocks::new(active, config.seed)));
        }
        Ok(Trainer {
            config,
            model,
            optimizer,
            progress: Progress::default(),
            run_dir: run_dir.to_path_buf(),
            stop: Arc::new(AtomicBool::new(false)),
            verbose: false,
            stop_after_epochs: None,
            device: Device::Cpu,
            train_loader,
            test_loader,
            hooks,
            last_evaluation: None,
        })
    }

    /// Continues the run saved in `run_dir` (its configuration: [`read_run_config`]).
    pub fn resume(run_dir: &Path, train: Dataset, test: Dataset) -> Result<Self> {
        let path = run_dir.join(CHECKPOINT_FILE);
        let config = read_run_config(run_dir)?;
        let mut trainer = Trainer::new(config, train, test, run_dir)?;
        let (_, progress) = checkpoint::load(&path, &mut trainer.model, &mut trainer.optimizer)?;
        trainer.progress = progress;
        Ok(trainer)
    }

    /// Adds a hook that runs around every training batch (after the configured ones).
    pub fn add_hook(&mut self, hook: Box<dyn BatchHook<E>>) {
        self.hooks.push(hook);
    }

    /// The test loader (normalised with the training statistics).
    pub fn test_loader(&self) -> &BatchLoader {
        &self.test_loader
    }

    /// The evaluation after the last completed epoch of this process, if any.
    pub fn last_evaluation(&self) -> Option<&Evaluation> {
        self.last_evaluation.as_ref()
    }

    /// Path of the run's checkpoint.
    pub fn checkpoint_path(&self) -> PathBuf {
        self.run_dir.join(CHECKPOINT_FILE)
    }

    fn save_checkpoint(&self) -> Result<()> {
        checkpoint::save(
            &self.checkpoint_path(),
            &self.model,
            &self.optimizer,
            &self.config,
            &self.progress,
        )
    }

    /// One optimizer step on a batch; returns the batch's mean loss and correct predictions.
    fn train_step(
        &mut self,
        images: &unravel_tensor::Tensor<E>,
        labels: &[usize],
        lr: f64,
    ) -> Result<(f64, u64)> {
        let step = self.progress.step;
        for hook in &mut self.hooks {
            hook.before_batch(&mut self.model, step)?;
        }
        self.optimizer.config.lr = lr;
        let output = forward_backward(&mut self.model, images, labels)?;
        let loss_value = output.loss;
        if !loss_value.is_finite() {
            let checkpoint = self.checkpoint_path();
            return Err(TrainError::NonFiniteLoss {
                epoch: self.progress.epoch + 1,
                step,
                loss: loss_value,
                lr,
                checkpoint: checkpoint.exists().then_some(checkpoint),
            });
        }
        let classes = self.model.config.num_classes;
        let values: Vec<f64> = output.logits.to_vec().iter().map(|v| v.to_f64()).collect();
        let (_, predictions) = score_batch(&values, classes, labels)?;
        let correct = predictions
            .iter()
            .zip(labels)
            .filter(|(p, l)| p == l)
            .count() as u64;
        self.optimizer.step(&mut self.model, &output.gradients)?;
        for hook in &mut self.hooks {
            hook.after_batch(&mut self.model, step, loss_value)?;
        }
        Ok((loss_value, correct))
    }

    /// Trains until the configured number of epochs, or until [`Trainer::stop`] is raised.
    pub fn run(&mut self) -> Result<Outcome> {
        // The model (parameters, running statistics) and the optimizer's buffers live on the
        // training device; batches follow them (`forward_backward`, `ResNet::predict`).
        self.model.to_device(self.device)?;
        self.optimizer.to_device(self.device)?;
        let steps_per_epoch = self.train_loader.num_batches();
        let schedule = self.config.schedule(steps_per_epoch)?;
        let mut epochs_this_call = 0;
        while self.progress.epoch < self.config.epochs {
            if self.stop_after_epochs == Some(epochs_this_call) {
                return Ok(Outcome::Interrupted);
            }
            epochs_this_call += 1;
            let epoch = self.progress.epoch;
            let epoch_start = Instant::now();
            let carried_seconds = self.progress.epoch_train_seconds;
            let mut bar = EpochBar::new(
                self.verbose,
                epoch + 1,
                self.config.epochs,
                steps_per_epoch,
                self.progress.next_batch,
            );
            let batches = self
                .train_loader
                .epoch_from::<E>(epoch as u64, self.progress.next_batch);
            let train_start = Instant::now();
            let mut lr = schedule.lr(self.progress.step);
            for (images, labels) in batches {
                if self.stop.load(Ordering::SeqCst) {
                    self.progress.epoch_train_seconds += train_start.elapsed().as_secs_f64();
                    bar.abandon();
                    self.save_checkpoint()?;
                    return Ok(Outcome::Interrupted);
                }
                lr = schedule.lr(self.progress.step);
                let (loss, correct) = self.train_step(&images, &labels, lr)?;
                let p = &mut self.progress;
                p.epoch_loss_sum += loss * labels.len() as f64;
                p.epoch_correct += correct;
                p.epoch_images += labels.len() as u64;
                p.next_batch += 1;
                p.step += 1;
                let seconds = p.epoch_train_seconds + train_start.elapsed().as_secs_f64();
                bar.update(
                    p.epoch_loss_sum / p.epoch_images as f64,
                    p.epoch_correct as f64 / p.epoch_images as f64,
                    p.epoch_images as f64 / seconds.max(1e-9),
                );
            }
            self.progress.epoch_train_seconds += train_start.elapsed().as_secs_f64();
            bar.finish();
            let evaluation = evaluate(&mut self.model, &self.test_loader)?;
            let p = &mut self.progress;
            let images = p.epoch_images.max(1) as f64;
            let record = EpochRecord {
                epoch: epoch + 1,
                lr,
                train_loss: p.epoch_loss_sum / images,
                train_error: 1.0 - p.epoch_correct as f64 / images,
                test_loss: evaluation.loss,
                test_error: 1.0 - evaluation.accuracy,
                images_per_s: p.epoch_images as f64 / p.epoch_train_seconds.max(1e-9),
                seconds: carried_seconds + epoch_start.elapsed().as_secs_f64(),
            };
            if self.verbose {
                println!(
                    "epoch {:>3}/{}  lr {:.4}  train loss {:.4}  train error {:.2}%  test loss {:.4}  test error {:.2}%  {:.0} images/s",
                    record.epoch,
                    self.config.epochs,
                    record.lr,
                    record.train_loss,
                    100.0 * record.train_error,
                    record.test_loss,
                    100.0 * record.test_error,
                    record.images_per_s
                );
            }
            p.records.push(record);
            p.epoch += 1;
            p.next_batch = 0;
            p.epoch_loss_sum = 0.0;
            p.epoch_correct = 0;
            p.epoch_images = 0;
            p.epoch_train_seconds = 0.0;
            self.last_evaluation = Some(evaluation);
            metrics::write(&self.run_dir, &self.progress.records)?;
            self.save_checkpoint()?;
        }
        checkpoint::save_weights(&self.run_dir.join(WEIGHTS_FILE), &self.model, &self.config)?;
        Ok(Outcome::Finished)
    }
}

/// The configuration saved in the checkpoint of `run_dir`.
pub fn read_run_config(run_dir: &Path) -> Result<TrainConfig> {
    let path = run_dir.join(CHECKPOINT_FILE);
    if !path.exists() {
        return Err(TrainError::Checkpoint {
            path,
            message: "no checkpoint here: is this the directory of a training run?".into(),
        });
    }
    let file = unravel_resnet::weights::SafetensorsFile::open(&path)?;
    checkpoint::read_config(&file)?.ok_or_else(|| TrainError::Checkpoint {
        path,
        message: "not a training checkpoint (no configuration in its metadata)".into(),
    })
}
