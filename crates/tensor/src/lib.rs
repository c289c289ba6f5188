//! # unravel-tensor
//!
//! Strided `f32`/`f64` tensors with hand-written CPU kernels: a BLIS-style packed SIMD GEMM,
//! im2col/col2im convolution, pooling, batch norm, elementwise ops with NumPy broadcasting and
//! reductions, all threaded with rayon.
//!
//! Layout of the crate: the data model (`dtype`, `device`, `layout`, `storage`, `tensor`,
//! `view`), then one module per kernel family. See `docs/ARCHITECTURE.md` for how an op flows
//! from the public API to its kernel.

pub(crate) mod buffer;
#[cfg(feature = "cuda")]
pub mod cuda;
pub mod device;
pub mod dtype;
pub mod error;
pub mod gemm;
pub mod indices;
pub mod layout;
pub mod ops;
pub mod random;
pub mod storage;
pub mod tensor;
pub mod view;

pub use device::Device;
pub use dtype::{DType, Float};
pub use error::{Result, TensorError};
pub use indices::Indices;
pub use layout::Layout;
pub use random::Rng;
pub use storage::Storage;
pub use tensor::Tensor;
