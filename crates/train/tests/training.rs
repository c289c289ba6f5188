//! The training loop on tiny synthetic data: determinism, exact resume (at an epoch boundary
//! and mid-epoch), the NaN stop, metrics files, checkpoint files, evaluation.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use unravel_resnet::nn::{Module, StateMut, StateRef};
use unravel_resnet::ResNet;
use unravel_tensor::Tensor;
use unravel_train::checkpoint::{self, CHECKPOINT_FILE};
use unravel_train::data::synthetic;
use unravel_train::evaluate::evaluate;
use unravel_train::hooks::BatchHook;
use unravel_train::{metrics, Outcome, TrainConfig, TrainError, Trainer};

/// resnet20 at widths 2-2-2 on 48 images of 8×8 in batches of 16: 3 steps per epoch.
fn config() -> TrainConfig {
    TrainConfig {
        arch: "resnet20".into(),
        widths: Some(vec![2, 2, 2]),
        dataset: "synthetic".into(),
        epochs: 3,
        batch_size: 16,
        lr: 0.05,
        ..TrainConfig::default()
    }
}

fn trainer(config: TrainConfig, dir: &Path) -> Trainer<f32> {
    Trainer::new(
        config,
        synthetic(48, 3, 8, 1).unwrap(),
        synthetic(24, 3, 8, 2).unwrap(),
        dir,
    )
    .unwrap()
}

/// Records every step's loss and raises `stop` after step `stop_after`.
struct Recorder {
    losses: Arc<Mutex<Vec<f64>>>,
    stop: Arc<AtomicBool>,
    stop_after: Option<u64>,
}

impl BatchHook<f32> for Recorder {
    fn after_batch(
        &mut self,
        _: &mut ResNet<f32>,
        step: u64,
        loss: f64,
    ) -> unravel_train::Result<()> {
        self.losses.lock().unwrap().push(loss);
        if self.stop_after == Some(step) {
            self.stop.store(true, Ordering::SeqCst);
        }
        Ok(())
    }
}

fn record(trainer: &mut Trainer<f32>, stop_after: Option<u64>) -> Arc<Mutex<Vec<f64>>> {
    let losses = Arc::new(Mutex::new(Vec::new()));
    trainer.add_hook(Box::new(Recorder {
        losses: losses.clone(),
        stop: trainer.stop.clone(),
        stop_after,
    }));
    losses
}

/// Every state entry's values, as bits.
fn state_bits(model: &dyn Module<f32>) -> Vec<(String, Vec<u64>)> {
    let mut state = Vec::new();
    model.visit_state("", &mut |name, entry| {
        let bits = match entry {
            StateRef::Parameter(p) => p
                .value
                .to_vec()
                .iter()
                .map(|v| v.to_bits() as u64)
                .collect(),
            StateRef::Buffer(b) => b.to_vec().iter().map(|v| v.to_bits() as u64).collect(),
            StateRef::Counter(c) => vec![c as u64],
        };
        state.push((name.to_string(), bits));
    });
    state
}

fn momentum_bits(trainer: &Trainer<f32>) -> Vec<(String, Vec<u32>)> {
    trainer
        .optimizer
        .momentum_buffers
        .iter()
        .map(|(name, t)| {
            (
                name.clone(),
                t.to_vec().iter().map(|v| v.to_bits()).collect(),
            )
        })
        .collect()
}

#[test]
fn same_seed_gives_the_same_loss_at_every_step() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut first = trainer(config(), a.path());
    let mut second = trainer(config(), b.path());
    let (la, lb) = (record(&mut first, None), record(&mut second, None));
    first.run().unwrap();
    second.run().unwrap();
    let (la, lb) = (la.lock().unwrap().clone(), lb.lock().unwrap().clone());
    assert_eq!(la.len(), 9);
    let bits = |l: &[f64]| l.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&la), bits(&lb));
    assert_eq!(state_bits(&first.model), state_bits(&second.model));
    // A different seed changes them (the test can fail).
    let c = tempfile::tempdir().unwrap();
    let mut third = trainer(
        TrainConfig {
            seed: 1,
            ..config()
        },
        c.path(),
    );
    let lc = record(&mut third, None);
    third.run().unwrap();
    assert_ne!(bits(&la), bits(&lc.lock().unwrap()));
}

/// Interrupts after step `stop_after`, resumes from the checkpoint, and compares the weights,
/// momentum buffers, losses and metrics with an uninterrupted run's.
fn resume_matches_uninterrupted(stop_after: u64) {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut whole = trainer(config(), a.path());
    let whole_losses = record(&mut whole, None);
    assert_eq!(whole.run().unwrap(), Outcome::Finished);

    let mut first = trainer(config(), b.path());
    let first_losses = record(&mut first, Some(stop_after));
    assert_eq!(first.run().unwrap(), Outcome::Interrupted);
    assert_eq!(first.progress.step, stop_after + 1);
    drop(first);

    let mut resumed = Trainer::<f32>::resume(
        b.path(),
        synthetic(48, 3, 8, 1).unwrap(),
        synthetic(24, 3, 8, 2).unwrap(),
    )
    .unwrap();
    let resumed_losses = record(&mut resumed, None);
    assert_eq!(resumed.run().unwrap(), Outcome::Finished);

    let mut losses = first_losses.lock().unwrap().clone();
    losses.extend(resumed_losses.lock().unwrap().iter());
    let bits = |l: &[f64]| l.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&losses), bits(&whole_losses.lock().unwrap()));
    assert_eq!(state_bits(&resumed.model), state_bits(&whole.model));
    assert_eq!(momentum_bits(&resumed), momentum_bits(&whole));
    let strip = |records: &[metrics::EpochRecord]| {
        records
            .iter()
            .map(|r| {
                (
                    r.epoch,
                    r.lr.to_bits(),
                    r.train_loss,
                    r.train_error,
                    r.test_loss.to_bits(),
                )
            })
            .collect::<Vec<_>>()
    };
    let (x, y) = (
        strip(&resumed.progress.records),
        strip(&whole.progress.records),
    );
    assert_eq!(x.len(), y.len());
    for (r, w) in x.iter().zip(&y) {
        assert_eq!((r.0, r.1, r.4), (w.0, w.1, w.4));
        // Sums of the same losses in a different grouping may differ in the last bit.
        assert!((r.2 - w.2).abs() < 1e-12 && (r.3 - w.3).abs() < 1e-12);
    }
}

#[test]
fn resume_at_an_epoch_boundary_is_bit_exact() {
    // Step 2 is the last of epoch 1: the run stops before epoch 2's first batch.
    resume_matches_uninterrupted(2);
}

#[test]
fn resume_mid_epoch_is_bit_exact() {
    resume_matches_uninterrupted(4);
}

/// Sets the first parameter to NaN before step `at`.
struct Poison {
    at: u64,
}

impl BatchHook<f32> for Poison {
    fn before_batch(&mut self, model: &mut ResNet<f32>, step: u64) -> unravel_train::Result<()> {
        if step == self.at {
            let mut done = false;
            model.visit_state_mut("", &mut |_, entry| {
                if let StateMut::Parameter(p) = entry {
                    if !done {
                        let shape = p.value.shape().to_vec();
                        p.value = Tensor::full(&shape, f32::NAN);
                        done = true;
                    }
                }
            });
        }
        Ok(())
    }
}

#[test]
fn a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = trainer(config(), dir.path());
    run.add_hook(Box::new(Poison { at: 4 }));
    let error = run.run().unwrap_err();
    match &error {
        TrainError::NonFiniteLoss {
            epoch,
            step,
            loss,
            checkpoint,
            ..
        } => {
            assert_eq!((*epoch, *step), (2, 4));
            assert!(!loss.is_finite());
            assert!(checkpoint.is_some());
        }
        other => panic!("expected NonFiniteLoss, got {other}"),
    }
    assert!(error.to_string().contains("diverged"));
    // The checkpoint is the one written after epoch 1, with finite weights.
    let mut model =
        unravel_resnet::presets::build::<f32>("resnet20", &config().preset_options(1, 3), 9)
            .unwrap();
    let mut sgd = unravel_resnet::sgd::Sgd::new(config().sgd());
    let (_, progress) =
        checkpoint::load(&dir.path().join(CHECKPOINT_FILE), &mut model, &mut sgd).unwrap();
    assert_eq!(
        (progress.epoch, progress.next_batch, progress.step),
        (1, 0, 3)
    );
    let mut finite = true;
    model.visit_state("", &mut |_, entry| {
        if let StateRef::Parameter(p) = entry {
            finite &= p.value.to_vec().iter().all(|v| v.is_finite());
        }
    });
    assert!(finite);
}

#[test]
fn metrics_are_written_after_every_epoch_as_csv_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = trainer(config(), dir.path());
    run.run().unwrap();
    let csv = std::fs::read_to_string(dir.path().join("metrics.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0], metrics::CSV_HEADER);
    let json = metrics::read(dir.path()).unwrap();
    assert_eq!(json, run.progress.records);
    for (k, record) in json.iter().enumerate() {
        assert_eq!(record.epoch, k + 1);
        assert!(lines[k + 1].starts_with(&format!("{},", k + 1)));
        assert!((0.0..=1.0).contains(&record.train_error));
        assert!((0.0..=1.0).contains(&record.test_error));
        assert!(record.train_loss.is_finite() && record.images_per_s > 0.0);
    }
    // Step schedule over 9 steps: epoch 3 ends at step 8 ≥ 75% → lr/100.
    assert!((json[2].lr - 0.0005).abs() < 1e-15);
    // Written atomically: no temporary file is left behind.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.contains(".tmp"), "left behind: {name}");
    }
    assert!(dir.path().join(unravel_train::WEIGHTS_FILE).exists());
}

#[test]
fn checkpoints_round_trip_and_a_failed_write_keeps_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = trainer(
        TrainConfig {
            epochs: 1,
            ..config()
        },
        dir.path(),
    );
    run.run().unwrap();
    let path = dir.path().join(CHECKPOINT_FILE);
    let before = std::fs::read(&path).unwrap();
    // Reload into a differently initialised model: everything matches.
    let mut other = trainer(
        TrainConfig {
            seed: 5,
            ..config()
        },
        tempfile::tempdir().unwrap().path(),
    );
    let (saved, progress) =
        checkpoint::load(&path, &mut other.model, &mut other.optimizer).unwrap();
    assert_eq!(
        saved,
        TrainConfig {
            epochs: 1,
            ..config()
        }
    );
    assert_eq!(progress, run.progress);
    assert_eq!(state_bits(&other.model), state_bits(&run.model));
    assert_eq!(momentum_bits(&other), momentum_bits(&run));
    // Saving into a directory that does not exist fails cleanly and leaves nothing.
    let missing = dir.path().join("missing").join(CHECKPOINT_FILE);
    assert!(checkpoint::save(
        &missing,
        &run.model,
        &run.optimizer,
        &run.config,
        &run.progress
    )
    .is_err());
    assert!(!missing.exists());
    assert_eq!(std::fs::read(&path).unwrap(), before);
    // A truncated checkpoint is an error naming the file, not a panic.
    let truncated = dir.path().join("truncated.safetensors");
    std::fs::write(&truncated, &before[..before.len() / 2]).unwrap();
    let error = checkpoint::load(&truncated, &mut other.model, &mut other.optimizer).unwrap_err();
    assert!(
        error.to_string().contains("truncated.safetensors"),
        "{error}"
    );
    // Resuming from a directory without a checkpoint says so.
    let empty = tempfile::tempdir().unwrap();
    let error = unravel_train::read_run_config(empty.path()).unwrap_err();
    assert!(error.to_string().contains("no checkpoint"), "{error}");
}

#[test]
fn the_confusion_matrix_counts_each_image_once_by_true_and_predicted_class() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = trainer(config(), dir.path());
    run.run().unwrap();
    let (_, loader) = unravel_train::data::loaders(
        &config(),
        synthetic(48, 3, 8, 1).unwrap(),
        synthetic(24, 3, 8, 2).unwrap(),
    )
    .unwrap();
    let evaluation = evaluate(&mut run.model, &loader).unwrap();
    assert_eq!(evaluation.images, 24);
    let total: u64 = evaluation.confusion.iter().flatten().sum();
    assert_eq!(total, 24);
    // Each row holds the images of one true class: 8 of each.
    for row in &evaluation.confusion {
        assert_eq!(row.iter().sum::<u64>(), 8);
    }
    // The same predictions one image at a time.
    let mut expected = vec![vec![0u64; 3]; 3];
    for (images, labels) in loader.epoch::<f32>(0) {
        for (i, &label) in labels.iter().enumerate() {
            let one = images.narrow(0, i, 1).unwrap().contiguous();
            let logits = run.model.predict(&one).unwrap().to_vec();
            let predicted =
                (0..3).fold(0, |best, k| if logits[k] > logits[best] { k } else { best });
            expected[label][predicted] += 1;
        }
    }
    assert_eq!(evaluation.confusion, expected);
    let diagonal: u64 = (0..3).map(|k| evaluation.confusion[k][k]).sum();
    assert_eq!(evaluation.accuracy, diagonal as f64 / 24.0);
    // This learnable data is learnt: better than chance after three epochs.
    assert!(
        evaluation.accuracy > 0.5,
        "accuracy {}",
        evaluation.accuracy
    );
}

#[test]
fn bad_configurations_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    for bad in [
        TrainConfig {
            epochs: 0,
            ..config()
        },
        TrainConfig {
            batch_size: 0,
            ..config()
        },
        TrainConfig {
            lr: f64::NAN,
            ..config()
        },
        TrainConfig {
            dtype: "f16".into(),
            ..config()
        },
        TrainConfig {
            warmup_epochs: 4.0,
            ..config()
        },
        TrainConfig {
            arch: "resnet21".into(),
            ..config()
        },
        TrainConfig {
            widths: Some(vec![2, 2]),
            ..config()
        },
    ] {
        let result = Trainer::<f32>::new(
            bad.clone(),
            synthetic(48, 3, 8, 1).unwrap(),
            synthetic(24, 3, 8, 2).unwrap(),
            dir.path(),
        );
        assert!(result.is_err(), "{bad:?} was accepted");
    }
    // More active blocks than the network has: refused when the model is built.
    let too_many = Trainer::<f32>::new(
        TrainConfig {
            active_blocks: Some(10),
            ..config()
        },
        synthetic(48, 3, 8, 1).unwrap(),
        synthetic(24, 3, 8, 2).unwrap(),
        dir.path(),
    );
    match too_many {
        Err(error) => assert!(error.to_string().contains("--active-blocks 10"), "{error}"),
        Ok(_) => panic!("--active-blocks 10 accepted for a 9-block network"),
    }
}
