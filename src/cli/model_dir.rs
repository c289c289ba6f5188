//! Loading the trained model of a run directory (its configuration from the checkpoint, its
//! weights from `model.safetensors`, else the latest checkpoint), with the run's test loader.

use std::path::Path;

use unravel_data::BatchLoader;
use unravel_resnet::weights::{load_state, SafetensorsFile, MOMENTUM_PREFIX};
use unravel_resnet::ResNet;
use unravel_tensor::Float;
use unravel_train::checkpoint::CHECKPOINT_FILE;
use unravel_train::{data, read_run_config, TrainConfig, WEIGHTS_FILE};

use crate::cli::bench::CliResult;

/// The run's configuration, its trained model and its test loader (`limit_test` overrides the
/// run's).
pub fn load_run<E: Float>(
    run_dir: &Path,
    data_dir: Option<&Path>,
    limit_test: Option<usize>,
) -> CliResult<(TrainConfig, ResNet<E>, BatchLoader)> {
    let mut config = read_run_config(run_dir)?;
    config.limit_test = limit_test.or(config.limit_test);
    let (train, test) = data::load(&config, data_dir)?;
    let [channels, _, _] = test.image_shape();
    let mut model = config.build_model::<E>(channels, test.num_classes(), config.seed)?;
    let weights = run_dir.join(WEIGHTS_FILE);
    let path = if weights.exists() {
        weights
    } else {
        run_dir.join(CHECKPOINT_FILE)
    };
    let file = SafetensorsFile::open(&path)?;
    load_state(&mut model, &file, true, &|name| {
        !name.starts_with(MOMENTUM_PREFIX)
    })?;
    let (_, loader) = data::loaders(&config, train, test)?;
    Ok((config, model, loader))
}
