//! Pooling: max-pool, average pool, global average pool. Each backward is a kernel of the tensor
//! crate (`unravel_tensor::ops::pool`):
//!
//! | forward                                  | backward                                                |
//! |------------------------------------------|---------------------------------------------------------|
//! | `y[i,j] = max over window(i,j) of x`     | `dx[argmax(i,j)] += dy[i,j]` — the gradient goes to the winner only |
//! | `y[i,j] = (1/k) Σ window(i,j) of x`      | `dx[h,w] += dy[i,j] / k` for every `(h,w)` in window(i,j) |
//! | `y[n,c] = (1/HW) Σ_{h,w} x[n,c,h,w]`     | `dx[n,c,h,w] = dy[n,c] / HW`                            |
//!
//! Max-pool is piecewise linear: within a region where the argmax does not change, `y[i,j]` is
//! just `x[argmax(i,j)]`, whose derivative is 1 for that element and 0 for the rest of the
//! window. Overlapping windows (stride < kernel) add their contributions.

use unravel_tensor::ops::pool::{
    avg_pool2d, avg_pool2d_backward, global_avg_pool2d, global_avg_pool2d_backward, max_pool2d,
    max_pool2d_backward, Pool2dParams,
};
use unravel_tensor::{Float, Indices, Tensor};

use crate::error::Result;
use crate::op::{BackwardRule, InputGradients, Op};
use crate::var::Var;

/// Record of a max-pool: the argmax of every window (not the input).
pub(crate) struct MaxPool2dRecord {
    input: Option<usize>,
    input_shape: Vec<usize>,
    argmax: Indices,
}

impl<E: Float> BackwardRule<E> for MaxPool2dRecord {
    fn name(&self) -> &'static str {
        "max_pool2d"
    }

    /// `dx[n, c, argmax[n, c, i, j]] += dy[n, c, i, j]`, zero elsewhere.
    fn backward(&self, grad_output: &Tensor<E>, gradients: &mut InputGradients<E>) -> Result<()> {
        gradients.give(self.input, || {
            Ok(max_pool2d_backward(
                grad_output,
                &self.argmax,
                &self.input_shape,
            )?)
        })
    }

    fn saved_tensors(&self) -> Vec<&Tensor<E>> {
        Vec::new()
    }

    fn saved_indices(&self) -> usize {
        self.argmax.numel()
    }
}

/// Record of an average pool: only the geometry.
pub(crate) struct AvgPool2dRecord {
    input: Option<usize>,
    input_shape: Vec<usize>,
    params: Pool2dParams,
    count_include_pad: bool,
}

impl<E: Float> BackwardRule<E> for AvgPool2dRecord {
    fn name(&self) -> &'static str {
        "avg_pool2d"
    }

    /// `dx[h, w] = Σ over windows (i, j) containing (h, w) of dy[i, j] / k(i, j)`, with `k` the
    /// forward's divisor.
    fn backward(&self, grad_output: &Tensor<E>, gradients: &mut InputGradients<E>) -> Result<()> {
        gradients.give(self.input, || {
            Ok(avg_pool2d_backward(
                grad_output,
                &self.input_shape,
                self.params,
                self.count_include_pad,
            )?)
        })
    }

    fn saved_tensors(&self) -> Vec<&Tensor<E>> {
        Vec::new()
    }
}

/// Record of a global average pool: the input's shape.
pub(crate) struct GlobalAvgPool2dRecord {
    input: Option<usize>,
    input_shape: Vec<usize>,
}

impl<E: Float> BackwardRule<E> for GlobalAvgPool2dRecord {
    fn name(&self) -> &'static str {
        "global_avg_pool2d"
    }

    /// `dx[n, c, h, w] = dy[n, c] / (H·W)`.
    fn backward(&self, grad_output: &Tensor<E>, gradients: &mut InputGradients<E>) -> Result<()> {
        gradients.give(self.input, || {
            Ok(global_avg_pool2d_backward(grad_output, &self.input_shape)?)
        })
    }

    fn saved_tensors(&self) -> Vec<&Tensor<E>> {
        Vec::new()
    }
}

impl<E: Float> Var<E> {
    /// Max-pool of `[N, C, H, W]` (padding is −∞). Backward routes each output's gradient to
    /// the input element that won its window; the record keeps only the argmax indices.
    pub fn max_pool2d(&self, params: Pool2dParams) -> Result<Var<E>> {
        let (value, argmax) = max_pool2d(self.value(), params)?;
        let input_shape = self.shape().to_vec();
        self.tape().record("max_pool2d", value, &[self], |inputs| {
            Op::MaxPool2d(MaxPool2dRecord {
                input: inputs[0],
                input_shape,
                argmax,
            })
        })
    }

    /// Average pool of `[N, C, H, W]`; `count_include_pad` as in PyTorch. Backward spreads each
    /// output's gradient evenly over its window.
    pub fn avg_pool2d(&self, params: Pool2dParams, count_include_pad: bool) -> Result<Var<E>> {
        let value = avg_pool2d(self.value(), params, count_include_pad)?;
        let input_shape = self.shape().to_vec();
        self.tape().record("avg_pool2d", value, &[self], |inputs| {
            Op::AvgPool2d(AvgPool2dRecord {
                input: inputs[0],
                input_shape,
                params,
                count_include_pad,
            })
        })
    }

    /// Mean over the spatial axes: `[N, C, H, W]` → `[N, C]` (ResNet's last pooling).
    pub fn global_avg_pool2d(&self) -> Result<Var<E>> {
        let value = global_avg_pool2d(self.value())?;
        let input_shape = self.shape().to_vec();
        self.tape()
            .record("global_avg_pool2d", value, &[self], |inputs| {
                Op::GlobalAvgPool2d(GlobalAvgPool2dRecord {
                    input: inputs[0],
                    input_shape,
                })
            })
    }
}
