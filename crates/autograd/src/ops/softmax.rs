//! Softmax, log-softmax and cross-entropy; the backward kernels are the tensor crate's
//! (`unravel_tensor::ops::softmax`):
//!
//! | forward                               | backward (y: the forward output)          | saved |
//! |---------------------------------------|-------------------------------------------|-------|
//! | `y = softmax(x)` along an axis        | `dxᵢ = yᵢ·(dyᵢ − Σⱼ dyⱼ·yⱼ)`              | `y`   |
//! | `y = log_softmax(x)` along an axis    | `dxᵢ = dyᵢ − exp(yᵢ)·Σⱼ dyⱼ`              | `y`   |
//! | `L = Σₙ −log_softmax(xₙ)[tₙ]` (or mean) | `dxₙ = dL·(softmax(xₙ) − onehot(tₙ))` (÷N for mean) | `x`, `t` |
//!
//! Cross-entropy is one node rather than `log_softmax` + gather + mean: its gradient
//! `softmax − onehot` is one pass and numerically tame, which is why every framework fuses it.

use unravel_tensor::ops::softmax::{
    cross_entropy, cross_entropy_backward, log_softmax, log_softmax_backward, softmax,
    softmax_backward, Reduction,
};
use unravel_tensor::{Float, Tensor};

use crate::error::Result;
use crate::op::{BackwardRule, InputGradients, Op};
use crate::var::Var;

/// Record of a softmax or log-softmax: its output and axis.
pub(crate) struct SoftmaxRecord<E: Float> {
    input: Option<usize>,
    output: Tensor<E>,
    axis: usize,
    log: bool,
}

impl<E: Float> BackwardRule<E> for SoftmaxRecord<E> {
    fn name(&self) -> &'static str {
        if self.log {
            "log_softmax"
        } else {
            "softmax"
        }
    }

    /// softmax: `dxᵢ = yᵢ·(dyᵢ − Σⱼ dyⱼ·yⱼ)`; log-softmax: `dxᵢ = dyᵢ − exp(yᵢ)·Σⱼ dyⱼ`.
    fn backward(&self, grad_output: &Tensor<E>, gradients: &mut InputGradients<E>) -> Result<()> {
        gradients.give(self.input, || {
            Ok(if self.log {
                log_softmax_backward(&self.output, grad_output, self.axis)?
            } else {
                softmax_backward(&self.output, grad_output, self.axis)?
            })
        })
    }

    fn saved_tensors(&self) -> Vec<&Tensor<E>> {
        vec![&self.output]
    }
}

/// Record of a cross-entropy: the logits and the targets.
pub(crate) struct CrossEntropyRecord<E: Float> {
    input: Option<usize>,
    logits: Tensor<E>,
    targets: Vec<usize>,
    reduction: Reduction,
}

impl<E: Float> BackwardRule<E> for CrossEntropyRecord<E> {
    fn name(&self) -> &'static str {
        "cross_entropy"
    }

    /// `dxₙ,c = dL·(softmax(xₙ)_c − [c = tₙ])`, divided by N for the mean.
    fn backward(&self, grad_output: &Tensor<E>, gradients: &mut InputGradients<E>) -> Result<()> {
        gradients.give(self.input, || {
            let grad_loss = grad_output.item()?;
            Ok(cross_entropy_backward(
                &self.logits,
                &self.targets,
                self.reduction,
                grad_loss,
            )?)
        })
    }

    fn saved_tensors(&self) -> Vec<&Tensor<E>> {
        vec![&self.logits]
    }

    fn saved_indices(&self) -> usize {
        self.targets.len()
    }
}

impl<E: Float> Var<E> {
    /// Softmax along `axis`. Backward: `dxᵢ = yᵢ·(dyᵢ − Σⱼ dyⱼ·yⱼ)` (saves the output).
    pub fn softmax(&self, axis: usize) -> Result<Var<E>> {
        let value = softmax(self.value(), axis)?;
        self.softmax_record("softmax", value, axis, false)
    }

    /// Log-softmax along `axis`. Backward: `dxᵢ = dyᵢ − exp(yᵢ)·Σⱼ dyⱼ` (saves the output).
    pub fn log_softmax(&self, axis: usize) -> Result<Var<E>> {
        let value = log_softmax(self.value(), axis)?;
        self.softmax_record("log_softmax", value, axis, true)
    }

    fn softmax_record(
        &self,
        name: &'static str,
        value: Tensor<E>,
        axis: usize,
        log: bool,
    ) -> Result<Var<E>> {
        let output = value.clone();
        self.tape().record(name, value, &[self], |inputs| {
            Op::Softmax(SoftmaxRecord {
                input: inputs[0],
                output,
                axis,
                log,
            })
        })
    }

    /// Cross-entropy of these logits `[N, C]` against class `targets` (N indices below C), as a
    /// scalar `[]`, averaged ([`Reduction::Mean`]) or summed over the batch. Backward:
    /// `dx = dL·(softmax(x) − onehot(t))` (÷N for the mean).
    ///
    /// ```
    /// use unravel_autograd::Tape;
    /// use unravel_tensor::{ops::softmax::Reduction, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let logits = tape.leaf(Tensor::zeros(&[1, 2]));
    /// let loss = logits.cross_entropy(&[1], Reduction::Mean)?;
    /// let gradients = tape.backward(&loss)?;
    /// assert_eq!(gradients.get(&logits).unwrap().to_vec(), vec![0.5, -0.5]);
    /// # Ok::<(), unravel_autograd::AutogradError>(())
    /// ```
    pub fn cross_entropy(&self, targets: &[usize], reduction: Reduction) -> Result<Var<E>> {
        let value = cross_entropy(self.value(), targets, reduction)?;
        self.tape()
            .record("cross_entropy", value, &[self], |inputs| {
                Op::CrossEntropy(CrossEntropyRecord {
                    input: inputs[0],
                    logits: self.value().clone(),
                    targets: targets.to_vec(),
                    reduction,
                })
            })
    }
}
