//! One step of stochastic gradient descent with momentum, weight decay and Nesterov, PyTorch's
//! `torch.optim.SGD` rule, on either device (one `sgd.cu` kernel on a GPU):
//!
//! ```text
//! g  = ∇ + λ·p                               weight decay added to the gradient
//! b' = g                    (first step)     the momentum buffer starts equal to g
//! b' = μ·b + (1 − τ)·g      (later steps)    τ: dampening
//! p' = p − η·(nesterov ? g + μ·b' : b')      (μ = 0: p' = p − η·g)
//! ```

use crate::error::{Result, TensorError};
use crate::{Float, Tensor};

/// Hyper-parameters of [`sgd_momentum_step`], as in `torch.optim.SGD`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdParams {
    /// Learning rate η.
    pub lr: f64,
    /// Momentum μ (0: plain SGD).
    pub momentum: f64,
    /// Dampening τ.
    pub dampening: f64,
    /// Weight decay λ.
    pub weight_decay: f64,
    /// Nesterov momentum.
    pub nesterov: bool,
}

/// `(p', b')` after one step of the rule above on tensors of one shape and device;
/// `velocity = None` is the first step. With μ = 0 the returned `b'` is `g` (not needed by the
/// next step). The CPU arm computes in `E` in the order written above, so its results are
/// those of `unravel_resnet::sgd::Sgd`'s loop bit for bit.
///
/// ```
/// use unravel_tensor::ops::sgd::{sgd_momentum_step, SgdParams};
/// use unravel_tensor::Tensor;
/// let p = Tensor::<f64>::from_vec(vec![1.0], &[1])?;
/// let g = Tensor::<f64>::from_vec(vec![1.0], &[1])?;
/// let params = SgdParams { lr: 0.5, momentum: 0.9, dampening: 0.0, weight_decay: 0.0, nesterov: false };
/// let (p1, b1) = sgd_momentum_step(&p, &g, None, &params)?;
/// assert_eq!((p1.to_vec()[0], b1.to_vec()[0]), (0.5, 1.0));
/// let (p2, _) = sgd_momentum_step(&p1, &g, Some(&b1), &params)?;
/// assert!((p2.to_vec()[0] + 0.45).abs() < 1e-12); // b₂ = 1.9, p₂ = 0.5 − 0.95
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn sgd_momentum_step<E: Float>(
    param: &Tensor<E>,
    grad: &Tensor<E>,
    velocity: Option<&Tensor<E>>,
    params: &SgdParams,
) -> Result<(Tensor<E>, Tensor<E>)> {
    const OP: &str = "sgd_momentum_step";
    for other in [Some(grad), velocity].into_iter().flatten() {
        if other.shape() != param.shape() {
            return Err(TensorError::ShapeMismatch {
                op: OP,
                lhs: param.shape().to_vec(),
                rhs: other.shape().to_vec(),
            });
        }
        crate::ops::elementwise::check_same_device(OP, param, other)?;
    }
    #[cfg(feature = "cuda")]
    if crate::cuda::launch::is_cuda(param) {
        return crate::cuda::ops::sgd::sgd_momentum_step(param, grad, velocity, params);
    }
    let (lr, momentum, dampening, weight_decay) = (
        E::from_f64(params.lr),
        E::from_f64(params.momentum),
        E::from_f64(params.dampening),
        E::from_f64(params.weight_decay),
    );
    let values = param.to_vec_for(OP)?;
    // g = ∇ + λ·p
    let step: Vec<E> = grad
        .to_vec_for(OP)?
        .iter()
        .zip(&values)
        .map(|(&g, &p)| {
            if weight_decay != E::ZERO {
                g + weight_decay * p
            } else {
                g
            }
        })
        .collect();
    let (buffer, update) = if momentum != E::ZERO {
        let buffer: Vec<E> = match velocity {
            Some(previous) => previous
                .to_vec_for(OP)?
                .iter()
                .zip(&step)
                .map(|(&b, &g)| momentum * b + (E::ONE - dampening) * g)
                .collect(),
            None => step.clone(),
        };
        let update = if params.nesterov {
            step.iter()
                .zip(&buffer)
                .map(|(&g, &b)| g + momentum * b)
                .collect()
        } else {
            buffer.clone()
        };
        (buffer, update)
    } else {
        (step.clone(), step)
    };
    let updated: Vec<E> = values
        .iter()
        .zip(&update)
        .map(|(&p, &u)| p + -lr * u)
        .collect();
    Ok((
        Tensor::from_vec(updated, param.shape())?,
        Tensor::from_vec(buffer, param.shape())?,
    ))
}
