//! Reordering blocks at test time (Veit et al. 2016, §4, Fig. 5b): swap k random pairs of
//! blocks whose input and output shapes agree, and measure the test error against Kendall's τ
//! between the original and the new order. If the network were one deep chain, any swap would
//! break it; an ensemble of shallow paths degrades smoothly as τ falls.
//!
//! Every function here works on copies ([`duplicate`]): the caller's model is never changed.

use unravel_tensor::{Float, Rng};

use crate::ensemble::blocks::{model_blocks, swappable_pairs};
use crate::ensemble::copy::duplicate;
use crate::ensemble::evaluate::{error_rate, LabelledBatch};
use crate::ensemble::kendall::kendall_tau;
use crate::error::{ResnetError, Result};
use crate::network::ResNet;

/// A copy of `model` with the blocks swapped pair by pair, in the order given, and the new
/// order: `order[p]` is the original index of the block now at position p.
///
/// Errors: an index past the last block, or a pair whose shapes differ
/// ([`crate::ensemble::BlockInfo::can_swap_with`]).
///
/// ```
/// use unravel_resnet::{ensemble::reordered_copy, presets};
/// let options = presets::PresetOptions { widths: Some(vec![2, 3, 4]), ..Default::default() };
/// let model = presets::build::<f32>("resnet20", &options, 0)?;
/// let (_copy, order) = reordered_copy(&model, &[(0, 2), (4, 5)])?;
/// assert_eq!(order, vec![2, 1, 0, 3, 5, 4, 6, 7, 8]);
/// assert!(reordered_copy(&model, &[(2, 3)]).is_err()); // block 3 downsamples
/// # Ok::<(), unravel_resnet::ResnetError>(())
/// ```
pub fn reordered_copy<E: Float>(
    model: &ResNet<E>,
    swaps: &[(usize, usize)],
) -> Result<(ResNet<E>, Vec<usize>)> {
    let blocks = model_blocks(model);
    let mut order: Vec<usize> = (0..blocks.len()).collect();
    for &(a, b) in swaps {
        let (Some(first), Some(second)) = (blocks.get(a), blocks.get(b)) else {
            return Err(ResnetError::experiment(
                "reorder",
                format!(
                    "pair ({a}, {b}): the network has blocks 0 … {}",
                    blocks.len().saturating_sub(1)
                ),
            ));
        };
        if a != b && !first.can_swap_with(second) {
            return Err(ResnetError::experiment(
                "reorder",
                format!(
                    "blocks {a} and {b} cannot be swapped: their shapes differ \
                     (stage {} vs {}, {}→{} vs {}→{} channels, stride {} vs {})",
                    first.stage,
                    second.stage,
                    first.in_channels,
                    first.out_channels,
                    second.in_channels,
                    second.out_channels,
                    first.stride,
                    second.stride
                ),
            ));
        }
        order.swap(a, b);
    }
    let mut copy = duplicate(model)?;
    {
        let mut copied = copy.blocks_mut();
        for &(a, b) in swaps {
            let (low, high) = (a.min(b), a.max(b));
            if low == high {
                continue;
            }
            let (left, right) = copied.split_at_mut(high);
            std::mem::swap(&mut *left[low], &mut *right[0]);
        }
    }
    Ok((copy, order))
}

/// Settings of [`reorder_random_pairs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReorderConfig {
    /// k runs over 1 … `max_swaps`.
    pub max_swaps: usize,
    /// Random draws for each k.
    pub draws: usize,
    pub seed: u64,
}

impl Default for ReorderConfig {
    fn default() -> Self {
        ReorderConfig {
            max_swaps: 20,
            draws: 3,
            seed: 0,
        }
    }
}

/// One reordered network: how many swaps, the order, τ and the test error.
#[derive(Debug, Clone, PartialEq)]
pub struct Reordering {
    pub swaps: usize,
    pub order: Vec<usize>,
    pub kendall_tau: f64,
    pub error: f64,
}

/// For k = 1 … `max_swaps`, `draws` times: swap k pairs drawn uniformly (with replacement)
/// from the swappable pairs, in sequence, and measure the error and Kendall's τ.
///
/// Errors when no pair of blocks can be swapped, or when `draws` is 0.
pub fn reorder_random_pairs<E: Float>(
    model: &ResNet<E>,
    test: &[LabelledBatch<E>],
    config: &ReorderConfig,
) -> Result<Vec<Reordering>> {
    let blocks = model_blocks(model);
    let pairs = swappable_pairs(&blocks);
    if pairs.is_empty() {
        return Err(ResnetError::experiment(
            "reorder",
            "no two blocks have the same input and output shapes: nothing can be swapped",
        ));
    }
    if config.draws == 0 {
        return Err(ResnetError::experiment(
            "reorder",
            "at least one draw per k",
        ));
    }
    let identity: Vec<usize> = (0..blocks.len()).collect();
    let mut rng = Rng::seed_from(config.seed);
    let mut results = Vec::new();
    for swaps in 1..=config.max_swaps {
        for _ in 0..config.draws {
            let chosen: Vec<(usize, usize)> =
                (0..swaps).map(|_| pairs[rng.below(pairs.len())]).collect();
            let (mut copy, order) = reordered_copy(model, &chosen)?;
            let error = error_rate(&mut copy, test)?;
            results.push(Reordering {
                swaps,
                kendall_tau: kendall_tau(&identity, &order)?,
                order,
                error,
            });
        }
    }
    Ok(results)
}
