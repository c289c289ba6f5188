//! One SGD step with momentum and weight decay on the GPU (`kernels/sgd.cu`), in one pass:
//! PyTorch's `torch.optim.SGD` rule.

use crate::cuda::kernels::SGD_MOMENTUM;
use crate::cuda::launch::{self, as_i64, common_device, launch, Output};
use crate::error::{Result, TensorError};
use crate::{Float, Tensor};

pub use crate::ops::sgd::SgdParams;

/// `(param', velocity')` after one step on GPU tensors of one shape:
///
/// ```text
/// g = grad + weight_decay·param
/// v' = momentum·v + (1 − dampening)·g     (v' = g on the first step: `velocity` = None)
/// param' = param − lr·(nesterov ? g + momentum·v' : v')
/// ```
pub fn sgd_momentum_step<E: Float>(
    param: &Tensor<E>,
    grad: &Tensor<E>,
    velocity: Option<&Tensor<E>>,
    params: &SgdParams,
) -> Result<(Tensor<E>, Tensor<E>)> {
    const OP: &str = "sgd_momentum_step";
    let device = common_device(OP, &[param, grad])?;
    for other in [Some(grad), velocity].into_iter().flatten() {
        if other.shape() != param.shape() {
            return Err(TensorError::ShapeMismatch {
                op: OP,
                lhs: param.shape().to_vec(),
                rhs: other.shape().to_vec(),
            });
        }
    }
    let first_step = velocity.is_none();
    let param = super::elementwise::contiguous(OP, param)?;
    let grad = super::elementwise::contiguous(OP, grad)?;
    let velocity = match velocity {
        Some(v) => {
            common_device(OP, &[&param, v])?;
            super::elementwise::contiguous(OP, v)?
        }
        // Not read on the first step; any buffer of the right size will do.
        None => grad.clone(),
    };
    let n = param.numel();
    let mut param_out = Output::<E>::new(OP, &device, n)?;
    let mut velocity_out = Output::<E>::new(OP, &device, n)?;
    if n > 0 {
        let (p, g, v) = (
            launch::dense_view(OP, &param)?,
            launch::dense_view(OP, &grad)?,
            launch::dense_view(OP, &velocity)?,
        );
        let count = as_i64(n);
        let (lr, momentum, dampening, weight_decay) = (
            E::from_f64(params.lr),
            E::from_f64(params.momentum),
            E::from_f64(params.dampening),
            E::from_f64(params.weight_decay),
        );
        let (nesterov, first_step) = (i32::from(params.nesterov), i32::from(first_step));
        let (mut p_out, mut v_out) = (param_out.view_mut(), velocity_out.view_mut());
        // grid: [ceil(n/256)], block: [256]; param', velocity': param.shape
        launch!(OP, device, SGD_MOMENTUM, E, launch::linear(n);
            &count, &p, &g, &v, &mut p_out, &mut v_out, &lr, &momentum, &dampening, &weight_decay,
            &nesterov, &first_step)?;
    }
    Ok((
        param_out.into_tensor(param.shape()),
        velocity_out.into_tensor(param.shape()),
    ))
}
