//! 2-D convolution and its three gradients, each a kernel of the tensor crate
//! (`unravel_tensor::ops::conv`), built on im2col and the GEMM. Per image `n` and group, with
//! `cols_n = im2col(x_n): [C_in·kh·kw, oh·ow]` and `W: [C_out, C_in·kh·kw]`:
//!
//! ```text
//! forward   Y_n  = W · cols_n (+ b)              [C_out, oh·ow]
//! weight    dW   = Σ_n dY_n · cols_nᵀ            [C_out, C_in·kh·kw]
//! input     dX_n = col2im(Wᵀ · dY_n)             [C_in, H, W]
//! bias      db   = Σ_{n, oy, ox} dY[n, ·, oy, ox] [C_out]
//! ```
//!
//! `col2im` is the adjoint (transpose) of `im2col`: im2col copies each pixel into every column
//! that reads it, so its transpose adds every column entry back onto the pixel it came from.
//! `docs/conv-backprop.md` derives all three, with shapes and a worked example.

use unravel_tensor::ops::conv::{
    conv2d, conv2d_backward_bias, conv2d_backward_input, conv2d_backward_weight, Conv2dParams,
};
use unravel_tensor::{Float, Tensor};

use crate::error::{AutogradError, Result};
use crate::op::{BackwardRule, InputGradients, Op};
use crate::var::Var;

/// Record of a conv2d. The input is kept only if the weight needs a gradient, the weight only if
/// the input does (the first layer's image needs no gradient, so its conv keeps no weight).
pub(crate) struct Conv2dRecord<E: Float> {
    input: Option<usize>,
    weight: Option<usize>,
    bias: Option<usize>,
    input_shape: Vec<usize>,
    weight_shape: Vec<usize>,
    params: Conv2dParams,
    input_value: Option<Tensor<E>>,
    weight_value: Option<Tensor<E>>,
}

impl<E: Float> BackwardRule<E> for Conv2dRecord<E> {
    fn name(&self) -> &'static str {
        "conv2d"
    }

    /// `dX_n = col2im(Wᵀ·dY_n)`, `dW = Σ_n dY_n·cols_nᵀ`, `db = Σ_{n,oy,ox} dY`.
    fn backward(&self, grad_output: &Tensor<E>, gradients: &mut InputGradients<E>) -> Result<()> {
        gradients.give(self.input, || {
            let weight = saved(&self.weight_value)?;
            Ok(conv2d_backward_input(
                grad_output,
                weight,
                &self.input_shape,
                &self.params,
            )?)
        })?;
        gradients.give(self.weight, || {
            let input = saved(&self.input_value)?;
            Ok(conv2d_backward_weight(
                grad_output,
                input,
                &self.weight_shape,
                &self.params,
            )?)
        })?;
        gradients.give(self.bias, || Ok(conv2d_backward_bias(grad_output)?))
    }

    fn saved_tensors(&self) -> Vec<&Tensor<E>> {
        self.input_value.iter().chain(&self.weight_value).collect()
    }
}

fn saved<E: Float>(value: &Option<Tensor<E>>) -> Result<&Tensor<E>> {
    value.as_ref().ok_or_else(|| {
        AutogradError::invalid(
            "conv2d",
            "backward needs a tensor that was not saved (internal error)",
        )
    })
}

impl<E: Float> Var<E> {
    /// 2-D convolution (cross-correlation, as in PyTorch) of `[N, C_in, H, W]` with
    /// `weight: [C_out, C_in/G, kh, kw]` and an optional `bias: [C_out]`; stride, padding,
    /// dilation and groups in `params`.
    ///
    /// ```
    /// use unravel_autograd::Tape;
    /// use unravel_tensor::{ops::conv::Conv2dParams, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let image = tape.constant(Tensor::ones(&[1, 1, 3, 3]));  // data: no gradient
    /// let weight = tape.leaf(Tensor::ones(&[1, 1, 2, 2]));
    /// let y = image.conv2d(&weight, None, &Conv2dParams::default())?; // [1, 1, 2, 2]
    /// let gradients = tape.backward(&y.sum_all()?)?;
    /// // dW[ky, kx] = Σ over the 4 output positions of the pixel under that tap = 4.
    /// assert_eq!(gradients.get(&weight).unwrap().to_vec(), vec![4.0; 4]);
    /// # Ok::<(), unravel_autograd::AutogradError>(())
    /// ```
    pub fn conv2d(
        &self,
        weight: &Var<E>,
        bias: Option<&Var<E>>,
        params: &Conv2dParams,
    ) -> Result<Var<E>> {
        let value = conv2d(self.value(), weight.value(), bias.map(Var::value), params)?;
        let mut operands = vec![self, weight];
        operands.extend(bias);
        self.tape().record("conv2d", value, &operands, |inputs| {
            Op::Conv2d(Conv2dRecord {
                input: inputs[0],
                weight: inputs[1],
                bias: inputs.get(2).copied().flatten(),
                input_shape: self.shape().to_vec(),
                weight_shape: weight.shape().to_vec(),
                params: *params,
                input_value: inputs[1].map(|_| self.value().clone()),
                weight_value: inputs[0].map(|_| weight.value().clone()),
            })
        })
    }
}
