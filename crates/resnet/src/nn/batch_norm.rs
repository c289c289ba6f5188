//! [`BatchNorm2d`] (Ioffe & Szegedy 2015) with PyTorch's semantics.
//!
//! ```text
//! train:  y = γ·(x − μ_B)/√(σ²_B + ε) + β      μ_B, σ²_B: batch mean and *biased* variance
//!         running_mean ← (1 − m)·running_mean + m·μ_B
//!         running_var  ← (1 − m)·running_var  + m·σ²_B·M/(M − 1)   (unbiased, M = N·H·W)
//!         num_batches_tracked ← num_batches_tracked + 1
//! eval:   y = γ·(x − running_mean)/√(running_var + ε) + β
//! ```

use unravel_autograd::Var;
use unravel_tensor::ops::batch_norm::update_running_statistics;
use unravel_tensor::{Float, Tensor};

use crate::error::Result;
use crate::nn::conv::check_image;
use crate::nn::module::{join_name, Context, Module, Parameter, StateMut, StateRef};
use crate::nn::module::{StateVisitor, StateVisitorMut};
use crate::summary::{saturating_product, Trace};

/// Batch norm's hyper-parameters (PyTorch's defaults: ε = 1e-5, momentum = 0.1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchNormConfig {
    pub eps: f64,
    pub momentum: f64,
}

impl Default for BatchNormConfig {
    fn default() -> Self {
        BatchNormConfig {
            eps: 1e-5,
            momentum: 0.1,
        }
    }
}

/// Per-channel batch norm of `[N, C, H, W]`; state `weight`, `bias` (if affine),
/// `running_mean`, `running_var`, `num_batches_tracked`, in PyTorch's order.
///
/// ```
/// use unravel_autograd::Tape;
/// use unravel_resnet::nn::{BatchNorm2d, BatchNormConfig, Context, Mode, Module};
/// use unravel_tensor::Tensor;
/// let mut bn = BatchNorm2d::<f64>::new(1, BatchNormConfig::default());
/// let tape = Tape::new();
/// let x = tape.constant(Tensor::from_vec(vec![1.0, 2.0, 3.0, 6.0], &[2, 1, 2, 1])?);
/// bn.forward(&mut Context::new(&tape, Mode::Train), &x)?;
/// assert!((bn.running_mean.to_vec()[0] - 0.3).abs() < 1e-12);       // 0.1 · 3
/// assert!((bn.running_var.to_vec()[0] - (0.9 + 0.1 * 14.0 / 3.0)).abs() < 1e-12); // unbiased
/// assert_eq!(bn.num_batches_tracked, 1);
/// # Ok::<(), unravel_resnet::ResnetError>(())
/// ```
#[derive(Debug)]
pub struct BatchNorm2d<E: Float> {
    pub weight: Option<Parameter<E>>,
    pub bias: Option<Parameter<E>>,
    pub running_mean: Tensor<E>,
    pub running_var: Tensor<E>,
    pub num_batches_tracked: i64,
    pub config: BatchNormConfig,
    pub channels: usize,
}

impl<E: Float> BatchNorm2d<E> {
    /// Affine batch norm: γ = 1, β = 0, running mean 0, running variance 1.
    pub fn new(channels: usize, config: BatchNormConfig) -> Self {
        BatchNorm2d {
            weight: Some(Parameter::new(Tensor::ones(&[channels]))),
            bias: Some(Parameter::new(Tensor::zeros(&[channels]))),
            running_mean: Tensor::zeros(&[channels]),
            running_var: Tensor::ones(&[channels]),
            num_batches_tracked: 0,
            config,
            channels,
        }
    }

    /// Sets γ to zero (the last BN of a residual branch, so the block starts as the identity).
    pub fn zero_weight(&mut self) {
        if let Some(weight) = &mut self.weight {
            weight.value = Tensor::zeros(&[self.channels]);
        }
    }

    /// This batch norm followed by a ReLU, `z = max(BN(x), 0)`, as one fused autograd node
    /// ([`Var::batch_norm_train_relu`], [`Var::batch_norm_eval_relu`]): the same output,
    /// gradients and running-statistics update as [`Module::forward`] then [`ReLU`](crate::nn::ReLU).
    pub fn forward_relu(&mut self, context: &mut Context<E>, input: &Var<E>) -> Result<Var<E>> {
        self.forward_node(context, input, true)
    }

    fn forward_node(
        &mut self,
        context: &mut Context<E>,
        input: &Var<E>,
        relu: bool,
    ) -> Result<Var<E>> {
        check_image("BatchNorm2d", input.shape(), Some(self.channels))?;
        let weight = self.weight.as_ref().map(|w| context.bind(w));
        let bias = self.bias.as_ref().map(|b| context.bind(b));
        let eps = self.config.eps;
        if context.is_training() {
            let (output, statistics) = if relu {
                input.batch_norm_train_relu(weight.as_ref(), bias.as_ref(), eps)?
            } else {
                input.batch_norm_train(weight.as_ref(), bias.as_ref(), eps)?
            };
            update_running_statistics(
                &mut self.running_mean,
                &mut self.running_var,
                &statistics.mean,
                &statistics.variance,
                statistics.count,
                self.config.momentum,
            )?;
            self.num_batches_tracked += 1;
            Ok(output)
        } else {
            let (mean, var) = (&self.running_mean, &self.running_var);
            let (weight, bias) = (weight.as_ref(), bias.as_ref());
            Ok(if relu {
                input.batch_norm_eval_relu(mean, var, weight, bias, eps)?
            } else {
                input.batch_norm_eval(mean, var, weight, bias, eps)?
            })
        }
    }

    fn counts(&self) -> (usize, usize) {
        let mut total = 0;
        let mut trainable = 0;
        for parameter in self.weight.iter().chain(&self.bias) {
            total += parameter.value.numel();
            if parameter.trainable {
                trainable += parameter.value.numel();
            }
        }
        (total, trainable)
    }
}

impl<E: Float> Module<E> for BatchNorm2d<E> {
    fn kind(&self) -> &'static str {
        "BatchNorm2d"
    }

    fn forward(&mut self, context: &mut Context<E>, input: &Var<E>) -> Result<Var<E>> {
        self.forward_node(context, input, false)
    }

    fn as_batch_norm_mut(&mut self) -> Option<&mut BatchNorm2d<E>> {
        Some(self)
    }

    fn visit_state(&self, prefix: &str, visitor: &mut StateVisitor<'_, E>) {
        if let Some(weight) = &self.weight {
            visitor(&join_name(prefix, "weight"), StateRef::Parameter(weight));
        }
        if let Some(bias) = &self.bias {
            visitor(&join_name(prefix, "bias"), StateRef::Parameter(bias));
        }
        visitor(
            &join_name(prefix, "running_mean"),
            StateRef::Buffer(&self.running_mean),
        );
        visitor(
            &join_name(prefix, "running_var"),
            StateRef::Buffer(&self.running_var),
        );
        visitor(
            &join_name(prefix, "num_batches_tracked"),
            StateRef::Counter(self.num_batches_tracked),
        );
    }

    fn visit_state_mut(&mut self, prefix: &str, visitor: &mut StateVisitorMut<'_, E>) {
        if let Some(weight) = &mut self.weight {
            visitor(&join_name(prefix, "weight"), StateMut::Parameter(weight));
        }
        if let Some(bias) = &mut self.bias {
            visitor(&join_name(prefix, "bias"), StateMut::Parameter(bias));
        }
        visitor(
            &join_name(prefix, "running_mean"),
            StateMut::Buffer(&mut self.running_mean),
        );
        visitor(
            &join_name(prefix, "running_var"),
            StateMut::Buffer(&mut self.running_var),
        );
        visitor(
            &join_name(prefix, "num_batches_tracked"),
            StateMut::Counter(&mut self.num_batches_tracked),
        );
    }

    /// torchinfo's mult-adds for a non-convolution layer with parameters: `N · |params|`.
    fn trace(&self, input_shape: &[usize], trace: &mut Trace) -> Result<Vec<usize>> {
        check_image("BatchNorm2d", input_shape, Some(self.channels))?;
        let (params, trainable) = self.counts();
        let mult_adds = saturating_product(&[input_shape[0], params]);
        trace.leaf(self.kind(), input_shape, params, trainable, mult_adds);
        Ok(input_shape.to_vec())
    }
}
