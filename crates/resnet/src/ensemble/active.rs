//! Training on short paths only (Veit et al. 2016, §5, "Training only short paths"): for each
//! mini-batch, keep the residual branch of exactly m randomly chosen blocks and skip the others
//! (each reduced to its shortcut, as in a lesion), so that every path used in the batch has
//! length at most m; evaluate with all blocks. The paper: 23 of 54 blocks per batch gives 5.96%
//! CIFAR-10 error against 6.10% for the full model.
//!
//! This is the model side of `unravel train --active-blocks m`: call
//! [`activate_random_blocks`] before each training batch and [`activate_all_blocks`] before
//! evaluating and saving.

use unravel_tensor::{Float, Rng};

use crate::config::BlockKind;
use crate::error::{ResnetError, Result};
use crate::network::ResNet;

/// Keeps the residual branch of `active` blocks drawn uniformly without replacement from
/// `rng`, and skips the rest (`lesioned = true`). Returns the active blocks, in order.
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
/// activate_all_blocks(&mut model);
/// assert!(model.blocks_mut().iter().all(|b| !b.lesioned));
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
    }
    for &index in &chosen {
        blocks[index].lesioned = false;
    }
    Ok(chosen)
}

/// Every block active again (no block lesioned): the full network, for evaluation.
pub fn activate_all_blocks<E: Float>(model: &mut ResNet<E>) {
    for block in model.blocks_mut() {
        block.lesioned = false;
    }
}
