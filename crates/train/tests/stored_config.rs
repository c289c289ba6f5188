//! A training configuration read from a file is checked before anything is built from it: a
//! checkpoint whose stored `widths` describe a network of terabytes (while its tensors are
//! those of a tiny one), an unknown `arch` or an out-of-range value is an error naming the file
//! and the field, from `read_config`, `Trainer::resume` and `checkpoint::load` alike; so is a
//! stored progress that no run can reach.

use std::path::Path;

use unravel_resnet::presets;
use unravel_resnet::sgd::Sgd;
use unravel_resnet::weights::SafetensorsFile;
use unravel_train::checkpoint::{self, Progress, CHECKPOINT_FILE};
use unravel_train::data::synthetic;
use unravel_train::{TrainConfig, TrainError, Trainer};

/// resnet20 at widths 2-2-2 on synthetic 8×8 images.
fn config() -> TrainConfig {
    TrainConfig {
        arch: "resnet20".into(),
        widths: Some(vec![2, 2, 2]),
        dataset: "synthetic".into(),
        epochs: 2,
        batch_size: 16,
        ..TrainConfig::default()
    }
}

/// Writes a full training checkpoint of the tiny network of [`config`] to `path`, with
/// `stored` in its metadata instead of the configuration it was built from.
fn write_checkpoint(path: &Path, stored: &TrainConfig) {
    let model = presets::build::<f32>("resnet20", &config().preset_options(1, 3), 0).unwrap();
    let optimizer = Sgd::new(config().sgd());
    checkpoint::save(path, &model, &optimizer, stored, &Progress::default()).unwrap();
}

/// The error is a `Checkpoint` error on `path` whose message contains every one of `parts`.
fn expect_checkpoint_error(error: TrainError, path: &Path, parts: &[&str]) {
    match &error {
        TrainError::Checkpoint { path: p, message } => {
            assert_eq!(p, path, "{error}");
            for part in parts {
                assert!(message.contains(part), "`{part}` not in: {message}");
            }
        }
        other => panic!(
            "expected a checkpoint error on {}, got {other}",
            path.display()
        ),
    }
}

#[test]
fn a_checkpoint_whose_widths_describe_a_huge_network_is_refused_before_building() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(CHECKPOINT_FILE);
    // 2^20 channels per stage: 36 TB of weights, in a file of a few kilobytes.
    let lying = TrainConfig {
        widths: Some(vec![1 << 20; 3]),
        ..config()
    };
    write_checkpoint(&path, &lying);
    let file = SafetensorsFile::open(&path).unwrap();
    let error = checkpoint::read_config(&file).unwrap_err();
    expect_checkpoint_error(error, &path, &["`widths`", "1048576", "parameters", "2^31"]);
    // Resuming the run (what `unravel train --resume` does) fails the same way, before the
    // model is built (which would abort in the allocator).
    let train = synthetic(48, 3, 8, 1).unwrap();
    let test = synthetic(24, 3, 8, 2).unwrap();
    let error = Trainer::<f32>::resume(dir.path(), train, test)
        .err()
        .unwrap();
    expect_checkpoint_error(error, &path, &["`widths`", "parameters"]);
    let error = unravel_train::read_run_config(dir.path()).unwrap_err();
    expect_checkpoint_error(error, &path, &["`widths`"]);
}

#[test]
fn other_impossible_stored_configurations_name_their_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(CHECKPOINT_FILE);
    let cases: [(TrainConfig, &[&str]); 5] = [
        (
            TrainConfig {
                arch: "resnet21".into(),
                ..config()
            },
            &["`arch`", "unknown preset `resnet21`"],
        ),
        (
            TrainConfig {
                widths: Some(vec![2, 2]),
                ..config()
            },
            &["`widths`", "3 stages; got 2 widths"],
        ),
        (
            TrainConfig {
                widths: Some(vec![usize::MAX / 2; 3]),
                ..config()
            },
            &["`widths`", "parameters"],
        ),
        (
            TrainConfig {
                batch_size: 0,
                ..config()
            },
            &["stored training configuration", "--batch"],
        ),
        (
            TrainConfig {
                dtype: "f16".into(),
                ..config()
            },
            &["stored training configuration", "--dtype"],
        ),
    ];
    for (stored, parts) in cases {
        write_checkpoint(&path, &stored);
        let error = checkpoint::read_config(&SafetensorsFile::open(&path).unwrap()).unwrap_err();
        expect_checkpoint_error(error, &path, parts);
        // Loading the checkpoint into a model checks it the same way.
        let mut model = presets::build::<f32>("resnet20", &config().preset_options(1, 3), 0);
        let mut optimizer = Sgd::new(config().sgd());
        let error = checkpoint::load(&path, model.as_mut().unwrap(), &mut optimizer).unwrap_err();
        expect_checkpoint_error(error, &path, parts);
    }
    // The configuration the network was built from reads back as it was written.
    write_checkpoint(&path, &config());
    let file = SafetensorsFile::open(&path).unwrap();
    assert_eq!(checkpoint::read_config(&file).unwrap(), Some(config()));
}

#[test]
fn stored_progress_that_no_run_can_reach_names_its_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(CHECKPOINT_FILE);
    let model = presets::build::<f32>("resnet20", &config().preset_options(1, 3), 0).unwrap();
    let optimizer = Sgd::new(config().sgd());
    let cases = [
        (
            Progress {
                epoch: 3,
                ..Progress::default()
            },
            "`epoch`",
        ),
        (
            Progress {
                epoch_correct: 5,
                epoch_images: 4,
                ..Progress::default()
            },
            "`epoch_correct`",
        ),
        (
            Progress {
                step: u64::MAX,
                ..Progress::default()
            },
            "`step`",
        ),
        (
            Progress {
                epoch_images: u64::MAX,
                epoch_correct: 1,
                ..Progress::default()
            },
            "`epoch_images`",
        ),
    ];
    for (progress, field) in cases {
        checkpoint::save(&path, &model, &optimizer, &config(), &progress).unwrap();
        let mut into = presets::build::<f32>("resnet20", &config().preset_options(1, 3), 1);
        let mut sgd = Sgd::new(config().sgd());
        let error = checkpoint::load(&path, into.as_mut().unwrap(), &mut sgd).unwrap_err();
        expect_checkpoint_error(error, &path, &["stored progress", field]);
    }
    // A progress a run can reach (the end of the last epoch) loads.
    let done = Progress {
        epoch: 2,
        step: 6,
        ..Progress::default()
    };
    checkpoint::save(&path, &model, &optimizer, &config(), &done).unwrap();
    let mut into = presets::build::<f32>("resnet20", &config().preset_options(1, 3), 1).unwrap();
    let (_, loaded) = checkpoint::load(&path, &mut into, &mut Sgd::new(config().sgd())).unwrap();
    assert_eq!(loaded, done);
}

#[test]
fn more_steps_than_can_be_counted_are_a_configuration_error() {
    let endless = TrainConfig {
        epochs: usize::MAX / 2,
        ..config()
    };
    assert!(endless.validate().is_ok());
    match endless.schedule(3).err() {
        Some(TrainError::Config(message)) => assert!(message.contains("--epochs"), "{message}"),
        other => panic!("expected a configuration error, got {other:?}"),
    }
    assert!(config().schedule(3).is_ok());
}
