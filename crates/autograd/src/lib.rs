//! # unravel-autograd
//!
//! A manual reverse-mode autograd: a tape records the ops of a forward pass, and every op's
//! backward rule is written out by hand next to its forward, with its equation in the doc
//! comment. No symbolic derivation, no macro-generated derivatives. Every rule is checked
//! against finite differences in f64 by [`gradcheck`](crate::gradcheck::gradcheck), in CI.
//!
//! - [`Tape`]: the Wengert list. [`Tape::leaf`] makes a variable that requires a gradient,
//!   [`Tape::constant`] one that does not, [`Tape::no_grad`] turns recording off (inference),
//!   [`Tape::backward`] walks the list in reverse, [`Tape::reset`] empties it for the next step.
//! - [`Var`]: a tensor value plus its node; the ops are its methods.
//! - [`Gradients`]: ∂L/∂v for the leaves.
//! - [`gradcheck`]: numeric gradients by central differences, and input generators that stay
//!   away from the kinks of ReLU and max-pool.
//! - [`GradientRoute`]: send a residual add's gradient down one branch only (Veit et al. 2016).
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
//!
//! ## The ops, by file
//!
//! | file (`src/ops/`) | `Var` methods |
//! |---|---|
//! | `arithmetic.rs` | `add` (routable), `sub`, `mul`, `div` with broadcasting; `add_scalar`, `mul_scalar`, `neg` |
//! | `unary.rs` | `relu`, `exp`, `log`, `sqrt`, `powf`, `square` |
//! | `fused.rs` | `add_relu` (`relu(a + b)` in one pass and one node, routable) |
//! | `reduce.rs` | `sum_all`, `mean_all`, `sum`, `mean` (over axes), `broadcast_to` |
//! | `view.rs` | `reshape`, `flatten`, `unsqueeze`, `squeeze`, `permute`, `transpose`, `slice` (stepped), `narrow` |
//! | `shape.rs` | `pad`, `zero_pad_channels` (option-A shortcut), `Var::concat` |
//! | `matmul.rs` | `matmul` (batched, broadcasting) |
//! | `linear.rs` | `linear` (`x·Wᵀ + b`) |
//! | `conv.rs` | `conv2d` (stride, padding, dilation, groups) |
//! | `pool.rs` | `max_pool2d`, `avg_pool2d`, `global_avg_pool2d` |
//! | `batch_norm.rs` | `batch_norm_train` (closed-form backward, returns the batch statistics), `batch_norm_eval`, and both fused with the ReLU after them (`batch_norm_train_relu`, `batch_norm_eval_relu`) |
//! | `softmax.rs` | `softmax`, `log_softmax`, `cross_entropy` (mean or sum) |
//!
//! ## Design
//!
//! - **Records, not closures.** Each op pushes one node holding an `Op` enum value: the
//!   inputs' node indices and exactly the tensors its backward needs (a conv keeps its input
//!   only if the weight needs a gradient, and its weight only if the input does). The list of
//!   variants in `op.rs` is the list of every differentiable op; each variant's rule is a named
//!   function in its family's file. The tape can inspect records: count what they hold
//!   ([`Tape::stats`]) or set a route on an add.
//! - **Creation order is topological order.** A node is appended after its inputs, so backward
//!   is a single loop from the output down, summing gradients into each input's slot.
//! - **Memory.** A record is dropped as soon as its backward has run; [`Tape::reset`] drops
//!   everything and keeps the allocation. Under [`Tape::no_grad`], or when every operand is a
//!   constant, nothing is recorded and nothing is saved.
//! - **Single-threaded tape, multi-threaded kernels.** The tape is an `Rc<RefCell<…>>`; the
//!   tensor kernels underneath use every core.
//! - **Errors, not panics.** Mixing tapes, using a variable after a reset, backward from a
//!   non-scalar, backward twice through released records: each is an [`AutogradError`].
//!
//! `docs/conv-backprop.md` derives the convolution, batch norm and pooling rules with a worked
//! example; `cargo run --release --example conv_backprop` prints it.

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
