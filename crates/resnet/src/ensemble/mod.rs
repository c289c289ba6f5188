//! Residual networks as ensembles of relatively shallow networks (Veit, Wilber, Belongie 2016,
//! arXiv 1605.06431), as library functions that run on any trained [`ResNet`](crate::ResNet):
//!
//! - [`paths`]: the unraveled view — 2^n paths, lengths Binomial(n, ½) (§3, Fig. 6a).
//! - [`blocks`]: which blocks downsample and which can be swapped.
//! - [`lesion`]: delete one block, or k random blocks, at test time (§4, Fig. 3 and 5a).
//! - [`reorder`]: swap k pairs of blocks; error against [`kendall`]'s τ (§4, Fig. 5b).
//! - [`path_gradients`]: the gradient carried by paths of each length (§5, Fig. 6b, 6c).
//! - [`active`]: train with the residual branch of only m random blocks per batch (§5).
//! - [`copy`], [`evaluate`], [`stats`]: copies (experiments never change the caller's
//!   model), test error, mean and spread.
//!
//! ```
//! use unravel_resnet::{ensemble, presets};
//! let config = presets::config("preact-resnet110", &Default::default())?;
//! let blocks = ensemble::block_infos(&config);
//! let paths = ensemble::PathLengths::new(blocks.len())?;
//! assert_eq!((blocks.len(), paths.mean()), (54, 27.0));
//! # Ok::<(), unravel_resnet::ResnetError>(())
//! ```

pub mod active;
pub mod blocks;
pub mod copy;
pub mod evaluate;
pub mod kendall;
pub mod lesion;
pub mod path_gradients;
pub mod paths;
pub mod reorder;
pub mod stats;

pub use active::{activate_all_blocks, activate_random_blocks};
pub use blocks::{block_infos, model_blocks, swappable_pairs, BlockInfo};
pub use copy::duplicate;
pub use evaluate::{error_rate, LabelledBatch};
pub use kendall::kendall_tau;
pub use lesion::{
    lesion_each_block, lesion_random_blocks, lesioned_copy, RandomLesion, RandomLesionConfig,
    SingleLesion,
};
pub use path_gradients::{
    norm, path_gradient_experiment, LengthGradient, PathGradientConfig, PathGradientProbe,
    PathGradients,
};
pub use paths::PathLengths;
pub use reorder::{reorder_random_pairs, reordered_copy, ReorderConfig, Reordering};
pub use stats::Spread;
