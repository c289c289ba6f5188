//! The differentiable ops, one file per op family. Each file holds the `Var` methods (forward:
//! the tensor crate's kernel, then a record on the tape) next to the records and backward rules,
//! whose doc comments state the equations.

pub(crate) mod arithmetic;
pub(crate) mod batch_norm;
pub(crate) mod conv;
pub(crate) mod fused;
pub(crate) mod linear;
pub(crate) mod matmul;
pub(crate) mod pool;
pub(crate) mod reduce;
pub(crate) mod shape;
pub(crate) mod softmax;
pub(crate) mod unary;
pub(crate) mod view;
