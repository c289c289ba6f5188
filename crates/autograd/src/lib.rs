//! # unravel-autograd
//!
//! A manual reverse-mode autograd: a tape records the ops of a forward pass, and every op's
//! backward rule is written out by hand next to its forward, with its equation in the doc
//! comment. No symbolic derivation, no macro-generated derivatives. Every rule is checked
//! against central finite differences in f64 by [`gradcheck`](crate::gradcheck::gradcheck), in CI.
//!
//! - [`Tape`]: the Wengert list. [`Tape::leaf`] makes a variable that requires a gradient,
//!   [`Tape::constant`] one that does not, [`Tape::no_grad`] turns recording off (inference),
//!   [`Tape::backward`] walks the list in reverse, [`Tape::reset`] empties it for the next step.
//! - [`Var`]: a tensor value plus its node; the ops are its methods (`ops/` has one file per
//!   family, forward and backward side by side).
//! - [`Gradients`]: ∂L/∂v for the leaves.
//! - [`gradcheck`]: numeric gradients by central differences.
//!
//! ```
//! use unravel_autograd::Tape;
//! use unravel_tensor::Tensor;
//! let tape = Tape::<f64>::new();
//! let x = tape.leaf(Tensor::from_vec(vec![1.0, 2.0], &[2])?);
//! let w = tape.leaf(Tensor::from_vec(vec![3.0, -1.0], &[2])?);
//! let loss = x.mul(&w)?.sum_all()?; // x·w
//! let gradients = tape.backward(&loss)?;
//! assert_eq!(gradients.get(&x).unwrap().to_vec(), vec![3.0, -1.0]); // ∂/∂x = w
//! assert_eq!(gradients.get(&w).unwrap().to_vec(), vec![1.0, 2.0]);  // ∂/∂w = x
//! # Ok::<(), unravel_autograd::AutogradError>(())
//! ```

mod backward;
pub mod error;
pub mod gradcheck;
mod gradients;
mod op;
mod ops;
mod tape;
mod var;

pub use error::{AutogradError, Result};
pub use gradients::Gradients;
pub use ops::arithmetic::GradientRoute;
pub use ops::batch_norm::BatchStatistics;
pub use tape::{NoGradGuard, Tape, TapeStats};
pub use var::{Var, VarId};
