//! The ops, one module per family. Each module holds the public entry points (argument checks,
//! device dispatch), the optimised CPU kernel, and a plain reference kernel that documents what
//! the fast one computes; the tests compare the two.

pub mod batch_norm;
pub mod concat;
pub mod conv;
pub mod elementwise;
pub mod matmul;
pub mod pad;
pub mod pool;
pub mod reduce;
pub mod sgd;
pub mod slice_scatter;
pub mod softmax;
