//! Lesion studies at test time (Veit et al. 2016, §4, Fig. 3 and 5a).
//!
//! Deleting block i of a residual network turns `y_i = f_i(y_{i−1}) + s_i(y_{i−1})` into
//! `y_i = s_i(y_{i−1})`: the residual branch is gone and the shortcut stays — the identity for
//! most blocks, the subsampling (option A) or projection (option B/C) for a downsampling block.
//! In the unraveled view this removes exactly the half of the 2^n paths that pass through
//! f_i, and leaves the other half untouched.
//!
//! A plain block `y = relu(F(x))` has no shortcut: deleting it means removing it, `y = x`
//! (the ReLU of an input that is already a ReLU output), which only type-checks when the block
//! keeps the shape. Shape-changing plain blocks cannot be deleted and are reported as such.
//!
//! Every function here works on copies ([`duplicate`]): the caller's model is never changed.

use unravel_tensor::{Float, Rng};

use crate::config::BlockKind;
use crate::ensemble::blocks::{model_blocks, BlockInfo};
use crate::ensemble::copy::duplicate;
use crate::ensemble::evaluate::{error_rate, LabelledBatch};
use crate::ensemble::stats::Spread;
use crate::error::{ResnetError, Result};
use crate::network::ResNet;

/// Whether block `block` of `model` can be deleted (see the module documentation).
pub fn is_deletable<E: Float>(model: &ResNet<E>, block: &BlockInfo) -> bool {
    model.config.block != BlockKind::Plain || !block.is_downsampling()
}

/// A copy of `model` with the blocks in `deleted` lesioned (each reduced to its shortcut).
///
/// Errors: an index past the last block, a repeated index, or a shape-changing plain block.
///
/// ```
/// use unravel_resnet::{ensemble::lesioned_copy, presets};
/// let options = presets::PresetOptions { widths: Some(vec![2, 3, 4]), ..Default::default() };
/// let model = presets::build::<f32>("resnet20", &options, 0)?;
/// let mut lesioned = lesioned_copy(&model, &[0, 4])?;
/// let flags: Vec<bool> = lesioned.blocks_mut().iter().map(|b| b.lesioned).collect();
/// assert_eq!(flags.iter().filter(|&&f| f).count(), 2);
/// assert!(lesioned_copy(&model, &[9]).is_err()); // resnet20 has blocks 0 … 8
/// # Ok::<(), unravel_resnet::ResnetError>(())
/// ```
pub fn lesioned_copy<E: Float>(model: &ResNet<E>, deleted: &[usize]) -> Result<ResNet<E>> {
    let blocks = model_blocks(model);
    let mut marked = vec![false; blocks.len()];
    for &index in deleted {
        let Some(info) = blocks.get(index) else {
            return Err(ResnetError::experiment(
                "lesion",
                format!(
                    "block {index} does not exist: the network has {} blocks (0 … {})",
                    blocks.len(),
                    blocks.len().saturating_sub(1)
                ),
            ));
        };
        if marked[index] {
            return Err(ResnetError::experiment(
                "lesion",
                format!("block {index} is listed twice"),
            ));
        }
        if !is_deletable(model, info) {
            return Err(ResnetError::experiment(
                "lesion",
                format!(
                    "block {index} is a plain block that changes the shape \
                     ({} → {} channels, stride {}): without a shortcut it cannot be removed",
                    info.in_channels, info.out_channels, info.stride
                ),
            ));
        }
        marked[index] = true;
    }
    let mut copy = duplicate(model)?;
    for (block, &lesioned) in copy.blocks_mut().into_iter().zip(&marked) {
        block.lesioned = lesioned;
    }
    Ok(copy)
}

/// The test error with one block deleted (Fig. 3).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SingleLesion {
    pub block: BlockInfo,
    /// `None` for a block that cannot be deleted (a shape-changing plain block).
    pub error: Option<f64>,
}

/// Deletes each block in turn and measures the test error: Fig. 3 of the paper for a residual
/// network (only the downsampling blocks should matter), and the same for a plain network
/// (each deletion should bring the error towards chance).
pub fn lesion_each_block<E: Float>(
    model: &ResNet<E>,
    test: &[LabelledBatch<E>],
) -> Result<Vec<SingleLesion>> {
    let mut results = Vec::new();
    for block in model_blocks(model) {
        let error = if is_deletable(model, &block) {
            Some(error_rate(
                &mut lesioned_copy(model, &[block.index])?,
                test,
            )?)
        } else {
            None
        };
        results.push(SingleLesion { block, error });
    }
    Ok(results)
}

/// Settings of [`lesion_random_blocks`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandomLesionConfig {
    /// k runs over 1 … `max_deleted` (the paper: 20).
    pub max_deleted: usize,
    /// Random draws of k blocks for each k.
    pub draws: usize,
    pub seed: u64,
    /// Whether downsampling blocks may be drawn. Off by default: their deletion is a different
    /// effect (Fig. 3), and the smooth degradation of Fig. 5a is about the others.
    pub include_downsampling: bool,
}

impl Default for RandomLesionConfig {
    fn default() -> Self {
        RandomLesionConfig {
            max_deleted: 20,
            draws: 5,
            seed: 0,
            include_downsampling: false,
        }
    }
}

/// The test errors after deleting k random blocks, one per draw (Fig. 5a).
#[derive(Debug, Clone, PartialEq)]
pub struct RandomLesion {
    pub deleted: usize,
    /// The blocks deleted in each draw.
    pub draws: Vec<Vec<usize>>,
    pub errors: Vec<f64>,
    pub spread: Spread,
}

/// For k = 1 … `max_deleted`: `draws` times, delete k distinct blocks drawn uniformly (from a
/// seeded [`Rng`], in a fixed order) and measure the test error.
///
/// Errors when `max_deleted` is larger than the number of blocks that may be drawn, or when
/// `draws` is 0.
pub fn lesion_random_blocks<E: Float>(
    model: &ResNet<E>,
    test: &[LabelledBatch<E>],
    config: &RandomLesionConfig,
) -> Result<Vec<RandomLesion>> {
    let candidates: Vec<usize> = model_blocks(model)
        .iter()
        .filter(|b| is_deletable(model, b) && (config.include_downsampling || !b.is_downsampling()))
        .map(|b| b.index)
        .collect();
    if config.max_deleted > candidates.len() {
        return Err(ResnetError::experiment(
            "random lesion",
            format!(
                "cannot delete {} blocks: only {} may be drawn",
                config.max_deleted,
                candidates.len()
            ),
        ));
    }
    if config.draws == 0 {
        return Err(ResnetError::experiment(
            "random lesion",
            "at least one draw per k",
        ));
    }
    let mut rng = Rng::seed_from(config.seed);
    let mut results = Vec::new();
    for deleted in 1..=config.max_deleted {
        let mut draws = Vec::new();
        let mut errors = Vec::new();
        for _ in 0..config.draws {
            let mut pool = candidates.clone();
            rng.shuffle(&mut pool);
            let mut chosen = pool[..deleted].to_vec();
            chosen.sort_unstable();
            errors.push(error_rate(&mut lesioned_copy(model, &chosen)?, test)?);
            draws.push(chosen);
        }
        let spread = Spread::of(&errors);
        results.push(RandomLesion {
            deleted,
            draws,
            errors,
            spread,
        });
    }
    Ok(results)
}
