//! The differentiable ops, one file per family. Each file holds the `Var` methods (forward:
//! argument checks and the tensor crate's kernel) next to the records and backward rules, whose
//! doc comments state the equations.

pub(crate) mod view;
