//! Per-batch hooks: code that runs on the model before every training batch and after every
//! optimizer step — the place for experiments that change the network batch by batch.
//!
//! [`ActiveBlocks`] keeps the residual branch of only `m` random blocks per mini-batch; the
//! others compute their shortcut alone (the lesion of Veit et al. 2016 §3, applied during
//! training; stochastic depth, Huang et al. 2016, with a fixed number of surviving blocks).

use unravel_resnet::ensemble::{activate_all_blocks, activate_random_blocks};
use unravel_resnet::ResNet;
use unravel_tensor::{Float, Rng};

use crate::error::{Result, TrainError};

/// Runs around every training batch. Both methods default to doing nothing.
pub trait BatchHook<E: Float> {
    /// Before the forward pass of optimizer step `step` (0-based, counted over the whole run).
    fn before_batch(&mut self, _model: &mut ResNet<E>, _step: u64) -> Result<()> {
        Ok(())
    }

    /// After optimizer step `step`, with the batch's mean loss.
    fn after_batch(&mut self, _model: &mut ResNet<E>, _step: u64, _loss: f64) -> Result<()> {
        Ok(())
    }
}

/// An `--active-blocks m` the network cannot take (more than its blocks, or 0).
pub(crate) fn active_blocks_error(active: usize, error: impl std::fmt::Display) -> TrainError {
    TrainError::config(format!("--active-blocks {active}: {error}"))
}

/// Seed offset of the block-choice streams, so they never coincide with the data's.
const BLOCK_CHOICE_SEED: u64 = 0x5eed_b10c_u64;

/// Keeps the residual branch of `active` random blocks per mini-batch and lesions the others
/// (`unravel_resnet::ensemble::activate_random_blocks`); every block is whole again after the
/// step, each scaled by `active / n` (for evaluation; see `unravel_resnet::ensemble::active`).
///
/// The choice of step `t` comes from stream `t` of a generator keyed by the run's seed, so it
/// depends only on (seed, step): a resumed run draws the same blocks.
///
/// ```
/// use unravel_resnet::presets::{build, PresetOptions};
/// use unravel_train::hooks::{ActiveBlocks, BatchHook};
/// let options = PresetOptions { widths: Some(vec![2, 2, 2]), ..Default::default() };
/// let mut model = build::<f32>("resnet20", &options, 0)?;
/// let mut hook = ActiveBlocks::new(3, 7);
/// hook.before_batch(&mut model, 0)?;
/// assert_eq!(model.blocks_mut().iter().filter(|b| !b.lesioned).count(), 3);
/// hook.after_batch(&mut model, 0, 1.0)?;
/// // Every branch back, scaled by 3/9 for evaluation (stochastic depth's test rule).
/// assert!(model.blocks_mut().iter().all(|b| !b.lesioned && b.branch_scale == 3.0 / 9.0));
/// # Ok::<(), unravel_train::TrainError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ActiveBlocks {
    pub active: usize,
    seed: u64,
}

impl ActiveBlocks {
    /// Keep `active` blocks per batch, chosen from `seed`'s streams.
    pub fn new(active: usize, seed: u64) -> Self {
        ActiveBlocks { active, seed }
    }

    /// The generator of step `step`'s choice: stream `step` of a key derived from the seed.
    pub fn rng(&self, step: u64) -> Rng {
        let (key, _, _) = Rng::seed_from(self.seed ^ BLOCK_CHOICE_SEED).state();
        Rng::from_state(key, 0, step)
    }
}

impl<E: Float> BatchHook<E> for ActiveBlocks {
    fn before_batch(&mut self, model: &mut ResNet<E>, step: u64) -> Result<()> {
        if self.active == 0 {
            return Err(TrainError::config(
                "--active-blocks must be at least 1 (0 would train no residual branch)",
            ));
        }
        activate_random_blocks(model, self.active, &mut self.rng(step))
            .map_err(|e| active_blocks_error(self.active, e))?;
        Ok(())
    }

    fn after_batch(&mut self, model: &mut ResNet<E>, _step: u64, _loss: f64) -> Result<()> {
        activate_all_blocks(model, self.active).map_err(|e| active_blocks_error(self.active, e))
    }
}
