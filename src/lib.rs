//! # unravel
//!
//! A deep-learning engine written from scratch in Rust, built to reproduce, explain and measure
//! residual networks (He et al. 2015; Veit et al. 2016). This facade re-exports the workspace's
//! crates; the `unravel` binary is the command-line program.

pub use unravel_autograd as autograd;
pub use unravel_data as data;
pub use unravel_resnet as resnet;
pub use unravel_tensor as tensor;
pub use unravel_tensor::{Device, Float, Rng, Tensor, TensorError};

pub mod workloads;
