//! Training on short paths only (Veit et al. 2016, §5, "Training only short paths"): for each
//! mini-batch, keep the residual branch of exactly m randomly chosen blocks and skip the others
//! (each reduced to its shortcut, as in a lesion), so that every path used in the batch has
//! length at most m; evaluate with all blocks. The paper: 23 of 54 blocks per batch gives 5.96%
//! CIFAR-10 error against 6.10% for the full model.
//!
//! At test time every branch is kept but scaled by m/n ([`activate_all_blocks`]): during training
//! a branch was present in a fraction m/n of the batches, and the test network uses that
//! expectation, as stochastic depth does (Huang et al. 2016, eq. 5). Without the scaling the
//! test network adds all n branches where training only ever added m, and its activations (and
//! the batch-norm statistics they meet) are off the training distribution: a preact-ResNet-56
//! trained with 12 of 27 branches per batch gave 87% test error unscaled.
//!
//! This is the model side of `unravel train --active-blocks m`: call
//! [`activate_random_blocks`] before each training batch and [`activate_all_blocks`] before
//! evaluating and saving (and after loading such a model from a file).

use unravel_tensor::{Float, Rng};

use crate::config::BlockKind;
use crate::error::{ResnetError, Result};
use crate::network::ResNet;

/// Keeps the residual branch of `active` blocks drawn uniformly without replacement from
/// `rng`, unscaled, and skips the rest (`lesioned = true`). Returns the active blocks, in order.
///
/// Errors: `active` larger than the number of blocks, or a plain network (its blocks have no
/// shortcut to fall back on).
///
/// ```
/// use unravel_resnet::{ensemble::{activate_all_blocks, activate_random_blocks}, presets};
/// use unravel_tensor::Rng;
/// let options = presets::PresetOptions { widths: Some(vec![2, 3, 4]), ..Default::default() };
/// let mut model = presets::build::<f32>("resnet20", &options, 0)?;
/// let active = activate_random_blocks(&mut model, 4, &mut Rng::seed_from(0))?;
/// assert_eq!(active.len(), 4);
/// assert_eq!(model.blocks_mut().iter().filter(|b| b.lesioned).count(), 5);
/// activate_all_blocks(&mut model, 4)?;
/// assert!(model.blocks_mut().iter().all(|b| !b.lesioned && b.branch_scale == 4.0 / 9.0));
/// # Ok::<(), unravel_resnet::ResnetError>(())
/// ```
pub fn activate_random_blocks<E: Float>(
    model: &mut ResNet<E>,
    active: usize,
    rng: &mut Rng,
) -> Result<Vec<usize>> {
    if model.config.block == BlockKind::Plain {
        return Err(ResnetError::experiment(
            "active blocks",
            "a plain network has no shortcuts: its blocks cannot be skipped",
        ));
    }
    let mut blocks = model.blocks_mut();
    if active > blocks.len() {
        return Err(ResnetError::experiment(
            "active blocks",
            format!(
                "{active} active blocks asked for, the network has {}",
                blocks.len()
            ),
        ));
    }
    let mut indices: Vec<usize> = (0..blocks.len()).collect();
    rng.shuffle(&mut indices);
    let mut chosen = indices[..active].to_vec();
    chosen.sort_unstable();
    for block in blocks.iter_mut() {
        block.lesioned = true;
        block.branch_scale = 1.0;
    }
    for &index in &chosen {
        blocks[index].lesioned = false;
    }
    Ok(chosen)
}

/// Every block active again, each branch scaled by `active / n` (n: the number of blocks):
/// the test network of a model trained with `active` random branches per batch. `active = n`
/// gives the ordinary network.
///
/// Errors: `active` is 0 or larger than the number of blocks.
pub fn activate_all_blocks<E: Float>(model: &mut ResNet<E>, active: usize) -> Result<()> {
    let mut blocks = model.blocks_mut();
    let count = blocks.len();
    if active == 0 || active > count {
        return Err(ResnetError::experiment(
            "active blocks",
            format!("{active} active blocks asked for, the network has {count} (at least 1)"),
        ));
    }
    let scale = active as f64 / count as f64;
    for block in blocks.iter_mut() {
        block.lesioned = false;
        block.branch_scale = scale;
    }
    Ok(())
}
