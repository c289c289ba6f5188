//! [`BlockInfo`]: what the experiments need to know about each residual block of a network,
//! read from its configuration: where it is, whether it changes the shape (a *downsampling*
//! block, the ones whose deletion hurts in Veit et al. 2016, Fig. 3 and §4), and which blocks
//! can be swapped for one another (§4, Fig. 5b).

use unravel_tensor::Float;

use crate::config::ResNetConfig;
use crate::network::ResNet;

/// One residual block of a network, in forward order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockInfo {
    /// Position among all blocks, from 0.
    pub index: usize,
    /// The stage it belongs to, from 0.
    pub stage: usize,
    /// Position inside its stage, from 0.
    pub index_in_stage: usize,
    pub in_channels: usize,
    pub out_channels: usize,
    pub stride: usize,
}

impl BlockInfo {
    /// Whether the block changes the shape of its input (stride ≠ 1 or a change of channels):
    /// its shortcut is then a subsampling (option A) or a projection (option B/C), never the
    /// identity.
    pub fn is_downsampling(&self) -> bool {
        self.stride != 1 || self.in_channels != self.out_channels
    }

    /// Whether two blocks can trade places: both keep the shape, in the same stage, so their
    /// inputs and outputs have the same shape (`[N, C, H, W]` equal). In the networks built
    /// here stages differ in width or resolution, so this is exactly "same input and output
    /// shapes".
    pub fn can_swap_with(&self, other: &BlockInfo) -> bool {
        !self.is_downsampling()
            && !other.is_downsampling()
            && self.stage == other.stage
            && self.in_channels == other.in_channels
    }
}

/// Every block of a network built from `config` (as [`ResNet::new`] lays them out: the first
/// block of every stage after the first has stride 2).
///
/// ```
/// use unravel_resnet::{ensemble::block_infos, presets};
/// let config = presets::config("preact-resnet110", &Default::default())?;
/// let blocks = block_infos(&config);
/// assert_eq!(blocks.len(), 54);
/// let downsampling: Vec<usize> =
///     blocks.iter().filter(|b| b.is_downsampling()).map(|b| b.index).collect();
/// assert_eq!(downsampling, vec![18, 36]);
/// # Ok::<(), unravel_resnet::ResnetError>(())
/// ```
pub fn block_infos(config: &ResNetConfig) -> Vec<BlockInfo> {
    let mut blocks = Vec::new();
    let mut channels = config.stem_width;
    for (stage, (&count, &width)) in config.layers.iter().zip(&config.widths).enumerate() {
        for index_in_stage in 0..count {
            let out_channels = width * config.block.expansion();
            blocks.push(BlockInfo {
                index: blocks.len(),
                stage,
                index_in_stage,
                in_channels: channels,
                out_channels,
                stride: if stage > 0 && index_in_stage == 0 {
                    2
                } else {
                    1
                },
            });
            channels = out_channels;
        }
    }
    blocks
}

/// [`block_infos`] of a built model.
pub fn model_blocks<E: Float>(model: &ResNet<E>) -> Vec<BlockInfo> {
    block_infos(&model.config)
}

/// Every unordered pair `(i, j)`, i < j, of blocks that [`BlockInfo::can_swap_with`] allows.
pub fn swappable_pairs(blocks: &[BlockInfo]) -> Vec<(usize, usize)> {
    let mut pairs = Vec::new();
    for (i, a) in blocks.iter().enumerate() {
        for b in &blocks[i + 1..] {
            if a.can_swap_with(b) {
                pairs.push((a.index, b.index));
            }
        }
    }
    pairs
}
