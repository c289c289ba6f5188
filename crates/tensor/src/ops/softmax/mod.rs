//! The softmax family along one axis, and cross-entropy on top of it.
//!
//! ```text
//! softmax(x)ᵢ     = exp(xᵢ − m) / Σⱼ exp(xⱼ − m)           m = maxⱼ xⱼ
//! log_softmax(x)ᵢ = xᵢ − m − ln Σⱼ exp(xⱼ − m)
//! ```
//!
//! Subtracting the maximum changes nothing mathematically (it cancels) but keeps every
//! exponential in `(0, 1]`, so nothing overflows. Backward, with `y` the forward output:
//!
//! ```text
//! softmax:      dxᵢ = yᵢ·(dyᵢ − Σⱼ dyⱼ·yⱼ)          (∂yⱼ/∂xᵢ = yⱼ·(δᵢⱼ − yᵢ))
//! log_softmax:  dxᵢ = dyᵢ − exp(yᵢ)·Σⱼ dyⱼ          (∂yⱼ/∂xᵢ = δᵢⱼ − softmaxᵢ)
//! ```
//!
//! Cross-entropy of logits `[N, C]` against class targets is `−log_softmax(x)[t]` per sample,
//! and its gradient is `softmax(x) − onehot(t)` (see [`cross_entropy`]).
//!
//! Files: `kernels.rs` (softmax, log-softmax and their backward kernels), `cross_entropy.rs`,
//! [`reference`](mod@reference) (plain versions the tests compare against).

mod cross_entropy;
mod kernels;
pub mod reference;

pub use cross_entropy::{cross_entropy, cross_entropy_backward, Reduction};
pub use kernels::{log_softmax, log_softmax_backward, softmax, softmax_backward};
