//! The CUDA arms of the tensor ops: each function here is called from the op's public entry
//! point when its operands live on a GPU, launches the kernels of `kernels/*.cu`, and returns a
//! GPU tensor. Shapes and arguments were validated by the entry point already.

pub mod conv;
mod conv_plan;
pub mod copy;
pub mod elementwise;
pub mod matmul;
pub mod normalization;
pub mod pool;
pub mod reduce;
pub mod select;
pub mod sgd;
pub mod softmax;

pub use matmul::GemmPrecision;
