//! Batch normalisation (Ioffe & Szegedy 2015), in training and evaluation mode, over
//! `[N, C, *]` with per-channel statistics over `M = N·H·W` values.
//!
//! Training mode normalises with the batch's own mean μ and biased variance σ², so every output
//! depends on every input of its channel. Its backward is the closed form (derived in
//! `docs/conv-backprop.md` and in `unravel_tensor::ops::batch_norm`), one tensor-crate kernel,
//! not a replay of the forward's primitives:
//!
//! ```text
//! x̂ = (x − μ)·s,  s = 1/√(σ² + ε),  y = γ·x̂ + β
//! dβ = Σ dy      dγ = Σ dy·x̂      dx = (γ·s/M)·(M·dy − Σ dy − x̂·Σ dy·x̂)
//! ```
//!
//! The running statistics are not part of the graph: the forward returns the batch's μ and σ²
//! ([`BatchStatistics`]) and the layer updates its running estimates with
//! `unravel_tensor::ops::batch_norm::update_running_statistics`, outside the tape.
//!
//! Evaluation mode uses the running estimates, constants, so `dx = γ·s·dy`, `dγ = Σ dy·x̂`,
//! `dβ = Σ dy`.
//!
//! Fused with the ReLU after it (`batch_norm_train_relu`, `batch_norm_eval_relu`): one node for
//! `z = max(y, 0)`, saving `z`; backward `g = dy ⊙ [z > 0]`, then the batch norm's backward of
//! `g` — exactly the unfused batch norm and ReLU, values and gradients bit for bit.

use unravel_tensor::ops::batch_norm::{
    batch_norm_eval, batch_norm_eval_backward, batch_norm_eval_relu, batch_norm_eval_relu_backward,
    batch_norm_train, batch_norm_train_backward, batch_norm_train_relu,
    batch_norm_train_relu_backward,
};
use unravel_tensor::{Float, Tensor};

use crate::error::Result;
use crate::op::{BackwardRule, InputGradients, Op};
use crate::var::Var;

/// The batch statistics of a training-mode batch norm, for the running-statistics update.
#[derive(Debug, Clone)]
pub struct BatchStatistics<E: Float> {
    /// Per-channel batch mean μ, `[C]`.
    pub mean: Tensor<E>,
    /// Per-channel biased batch variance σ², `[C]` (the one used to normalise).
    pub variance: Tensor<E>,
    /// Values per channel, `M = N·H·W` (for the unbiased correction `M/(M − 1)`).
    pub count: usize,
}

/// Record of a training-mode batch norm: x, γ, and the batch's μ and s.
pub(crate) struct BatchNormTrainRecord<E: Float> {
    input: Option<usize>,
    weight: Option<usize>,
    bias: Option<usize>,
    input_value: Tensor<E>,
    weight_value: Option<Tensor<E>>,
    mean: Tensor<E>,
    inverse_std: Tensor<E>,
    /// The output `z = max(y, 0)` when fused with a ReLU (its mask for the backward).
    relu_output: Option<Tensor<E>>,
}

impl<E: Float> BackwardRule<E> for BatchNormTrainRecord<E> {
    fn name(&self) -> &'static str {
        match self.relu_output {
            Some(_) => "batch_norm_train_relu",
            None => "batch_norm_train",
        }
    }

    /// `dβ = Σ g`, `dγ = Σ g·x̂`, `dx = (γ·s/M)·(M·g − Σ g − x̂·Σ g·x̂)` per channel, with
    /// `g = dy`, or `g = dy ⊙ [z > 0]` when fused with a ReLU.
    fn backward(&self, grad_output: &Tensor<E>, gradients: &mut InputGradients<E>) -> Result<()> {
        let (x, weight) = (&self.input_value, self.weight_value.as_ref());
        let grads = match &self.relu_output {
            Some(z) => batch_norm_train_relu_backward(
                grad_output,
                z,
                x,
                weight,
                &self.mean,
                &self.inverse_std,
            )?,
            None => {
                batch_norm_train_backward(grad_output, x, weight, &self.mean, &self.inverse_std)?
            }
        };
        gradients.give(self.input, || Ok(grads.grad_input.clone()))?;
        gradients.give(self.weight, || Ok(grads.grad_weight.clone()))?;
        gradients.give(self.bias, || Ok(grads.grad_bias.clone()))
    }

    fn saved_tensors(&self) -> Vec<&Tensor<E>> {
        let mut saved = vec![&self.input_value, &self.mean, &self.inverse_std];
        saved.extend(&self.weight_value);
        saved.extend(&self.relu_output);
        saved
    }
}

/// Record of an evaluation-mode batch norm: x, γ, and the running statistics used.
pub(crate) struct BatchNormEvalRecord<E: Float> {
    input: Option<usize>,
    weight: Option<usize>,
    bias: Option<usize>,
    input_value: Tensor<E>,
    weight_value: Option<Tensor<E>>,
    running_mean: Tensor<E>,
    running_var: Tensor<E>,
    eps: f64,
    /// The output `z = max(y, 0)` when fused with a ReLU (its mask for the backward).
    relu_output: Option<Tensor<E>>,
}

impl<E: Float> BackwardRule<E> for BatchNormEvalRecord<E> {
    fn name(&self) -> &'static str {
        match self.relu_output {
            Some(_) => "batch_norm_eval_relu",
            None => "batch_norm_eval",
        }
    }

    /// `dx = γ·s·g`, `dγ = Σ g·x̂`, `dβ = Σ g`, with `s = 1/√(σ²_running + ε)` and `g = dy`,
    /// or `g = dy ⊙ [z > 0]` when fused with a ReLU.
    fn backward(&self, grad_output: &Tensor<E>, gradients: &mut InputGradients<E>) -> Result<()> {
        let (x, weight) = (&self.input_value, self.weight_value.as_ref());
        let (mean, var) = (&self.running_mean, &self.running_var);
        let grads = match &self.relu_output {
            Some(z) => {
                batch_norm_eval_relu_backward(grad_output, z, x, mean, var, weight, self.eps)?
            }
            None => batch_norm_eval_backward(grad_output, x, mean, var, weight, self.eps)?,
        };
        gradients.give(self.input, || Ok(grads.grad_input.clone()))?;
        gradients.give(self.weight, || Ok(grads.grad_weight.clone()))?;
        gradients.give(self.bias, || Ok(grads.grad_bias.clone()))
    }

    fn saved_tensors(&self) -> Vec<&Tensor<E>> {
        let mut saved = vec![&self.input_value, &self.running_mean, &self.running_var];
        saved.extend(&self.weight_value);
        saved.extend(&self.relu_output);
        saved
    }
}

/// The operands of a batch norm, for the tape: input, then γ and β if present.
fn operands<'a, E: Float>(
    input: &'a Var<E>,
    weight: Option<&'a Var<E>>,
    bias: Option<&'a Var<E>>,
) -> (Vec<&'a Var<E>>, Option<usize>, Option<usize>) {
    let mut operands = vec![input];
    let weight_slot = weight.map(|w| {
        operands.push(w);
        operands.len() - 1
    });
    let bias_slot = bias.map(|b| {
        operands.push(b);
        operands.len() - 1
    });
    (operands, weight_slot, bias_slot)
}

impl<E: Float> Var<E> {
    /// Training-mode batch norm of `[N, C, *]` with per-channel γ (`weight`) and β (`bias`),
    /// `[C]` each (`None`: γ = 1, β = 0). Returns the output and the batch statistics, with
    /// which the layer updates its running estimates outside the graph.
    ///
    /// ```
    /// use unravel_autograd::Tape;
    /// use unravel_tensor::{ops::batch_norm::update_running_statistics, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.leaf(Tensor::from_vec(vec![1.0, 2.0, 3.0, 6.0], &[2, 1, 2, 1])?);
    /// let gamma = tape.leaf(Tensor::ones(&[1]));
    /// let beta = tape.leaf(Tensor::zeros(&[1]));
    /// let (y, statistics) = x.batch_norm_train(Some(&gamma), Some(&beta), 1e-5)?;
    /// let (mut running_mean, mut running_var) = (Tensor::zeros(&[1]), Tensor::ones(&[1]));
    /// update_running_statistics(&mut running_mean, &mut running_var, &statistics.mean,
    ///     &statistics.variance, statistics.count, 0.1)?;
    /// assert_eq!(statistics.mean.to_vec(), vec![3.0]);
    /// let gradients = tape.backward(&y.sum_all()?)?;
    /// // Σ y does not depend on x: normalisation removes any shift.
    /// assert!(gradients.get(&x).unwrap().to_vec().iter().all(|g| g.abs() < 1e-12));
    /// assert_eq!(gradients.get(&beta).unwrap().to_vec(), vec![4.0]);
    /// # Ok::<(), unravel_autograd::AutogradError>(())
    /// ```
    pub fn batch_norm_train(
        &self,
        weight: Option<&Var<E>>,
        bias: Option<&Var<E>>,
        eps: f64,
    ) -> Result<(Var<E>, BatchStatistics<E>)> {
        self.batch_norm_train_node(weight, bias, eps, false)
    }

    /// [`Var::batch_norm_train`] followed by a ReLU, `z = max(y, 0)`, as one node
    /// (`unravel_tensor::ops::batch_norm::batch_norm_train_relu`): the same values, gradients
    /// and batch statistics as `batch_norm_train` then [`Var::relu`]. Backward: `g = dy ⊙ [z > 0]`,
    /// then the batch norm's backward of `g` (saves `z` as well).
    ///
    /// ```
    /// use unravel_autograd::Tape;
    /// use unravel_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.leaf(Tensor::from_vec(vec![1.0, 3.0], &[2, 1])?);
    /// let (z, statistics) = x.batch_norm_train_relu(None, None, 0.0)?;
    /// assert_eq!(z.value().to_vec(), vec![0.0, 1.0]); // relu([−1, 1])
    /// assert_eq!(statistics.mean.to_vec(), vec![2.0]);
    /// let (y, _) = x.batch_norm_train(None, None, 0.0)?;
    /// let unfused = tape.backward(&y.relu()?.sum_all()?)?.get(&x).unwrap().clone();
    /// let fused = tape.backward(&z.sum_all()?)?.get(&x).unwrap().clone();
    /// assert_eq!(fused.to_vec(), unfused.to_vec());
    /// # Ok::<(), unravel_autograd::AutogradError>(())
    /// ```
    pub fn batch_norm_train_relu(
        &self,
        weight: Option<&Var<E>>,
        bias: Option<&Var<E>>,
        eps: f64,
    ) -> Result<(Var<E>, BatchStatistics<E>)> {
        self.batch_norm_train_node(weight, bias, eps, true)
    }

    fn batch_norm_train_node(
        &self,
        weight: Option<&Var<E>>,
        bias: Option<&Var<E>>,
        eps: f64,
        relu: bool,
    ) -> Result<(Var<E>, BatchStatistics<E>)> {
        let (x, gamma, beta) = (self.value(), weight.map(Var::value), bias.map(Var::value));
        let (name, forward) = if relu {
            (
                "batch_norm_train_relu",
                batch_norm_train_relu(x, gamma, beta, eps)?,
            )
        } else {
            ("batch_norm_train", batch_norm_train(x, gamma, beta, eps)?)
        };
        let relu_output = relu.then(|| forward.output.clone());
        let count = self.value().numel() / self.shape()[1].max(1);
        let statistics = BatchStatistics {
            mean: forward.mean.clone(),
            variance: forward.variance,
            count,
        };
        let (operands, weight_slot, bias_slot) = operands(self, weight, bias);
        let output = self
            .tape()
            .record(name, forward.output, &operands, |inputs| {
                Op::BatchNormTrain(BatchNormTrainRecord {
                    input: inputs[0],
                    weight: weight_slot.and_then(|slot| inputs[slot]),
                    bias: bias_slot.and_then(|slot| inputs[slot]),
                    input_value: self.value().clone(),
                    weight_value: weight.map(|w| w.value().clone()),
                    mean: forward.mean,
                    inverse_std: forward.inverse_std,
                    relu_output,
                })
            })?;
        Ok((output, statistics))
    }

    /// Evaluation-mode batch norm with the running statistics (`[C]` constants):
    /// `y = γ·(x − μ_r)/√(σ²_r + ε) + β`.
    pub fn batch_norm_eval(
        &self,
        running_mean: &Tensor<E>,
        running_var: &Tensor<E>,
        weight: Option<&Var<E>>,
        bias: Option<&Var<E>>,
        eps: f64,
    ) -> Result<Var<E>> {
        self.batch_norm_eval_node((running_mean, running_var), weight, bias, eps, false)
    }

    /// [`Var::batch_norm_eval`] followed by a ReLU, `z = max(y, 0)`, as one node
    /// (`unravel_tensor::ops::batch_norm::batch_norm_eval_relu`): the same values and gradients
    /// as `batch_norm_eval` then [`Var::relu`]. Backward: `g = dy ⊙ [z > 0]`, then
    /// `dx = γ·s·g`, `dγ = Σ g·x̂`, `dβ = Σ g` (saves `z` as well).
    pub fn batch_norm_eval_relu(
        &self,
        running_mean: &Tensor<E>,
        running_var: &Tensor<E>,
        weight: Option<&Var<E>>,
        bias: Option<&Var<E>>,
        eps: f64,
    ) -> Result<Var<E>> {
        self.batch_norm_eval_node((running_mean, running_var), weight, bias, eps, true)
    }

    fn batch_norm_eval_node(
        &self,
        (running_mean, running_var): (&Tensor<E>, &Tensor<E>),
        weight: Option<&Var<E>>,
        bias: Option<&Var<E>>,
        eps: f64,
        relu: bool,
    ) -> Result<Var<E>> {
        let (x, gamma, beta) = (self.value(), weight.map(Var::value), bias.map(Var::value));
        let (name, value) = if relu {
            let value = batch_norm_eval_relu(x, running_mean, running_var, gamma, beta, eps)?;
            ("batch_norm_eval_relu", value)
        } else {
            let value = batch_norm_eval(x, running_mean, running_var, gamma, beta, eps)?;
            ("batch_norm_eval", value)
        };
        let relu_output = relu.then(|| value.clone());
        let (operands, weight_slot, bias_slot) = operands(self, weight, bias);
        self.tape().record(name, value, &operands, |inputs| {
            Op::BatchNormEval(BatchNormEvalRecord {
                input: inputs[0],
                weight: weight_slot.and_then(|slot| inputs[slot]),
                bias: bias_slot.and_then(|slot| inputs[slot]),
                input_value: self.value().clone(),
                weight_value: weight.map(|w| w.value().clone()),
                running_mean: running_mean.clone(),
                running_var: running_var.clone(),
                eps,
                relu_output,
            })
        })
    }
}
