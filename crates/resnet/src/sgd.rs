//! Stochastic gradient descent with momentum, weight decay and Nesterov, with PyTorch's
//! semantics (`torch.optim.SGD`), for each trainable parameter `p` with gradient `∇`:
//!
//! ```text
//! g ← ∇ + λ·p                                   weight decay added to the gradient
//! b ← g                          (first step)   the momentum buffer starts equal to g
//! b ← μ·b + (1 − τ)·g            (later steps)  τ: dampening
//! g ← g + μ·b  (Nesterov)   or   g ← b
//! p ← p − η·g
//! ```
//!
//! Parameters without a gradient (the loss does not depend on them) are skipped, as in PyTorch.
//! Each update is one call of `unravel_tensor::ops::sgd::sgd_momentum_step`, on the parameter's
//! device (one kernel on a GPU).
//! The momentum buffers are keyed by state name, so they can be saved with the weights
//! ([`crate::weights::save`]).

use std::collections::BTreeMap;

use unravel_tensor::ops::sgd::{sgd_momentum_step, SgdParams};
use unravel_tensor::{Device, Float, Tensor};

use crate::error::{ResnetError, Result};
use crate::nn::{Module, ParameterGradients, StateMut};

/// SGD's hyper-parameters (PyTorch's names and defaults, `lr` aside).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SgdConfig {
    /// Learning rate η.
    pub lr: f64,
    /// Momentum μ (0: plain SGD).
    pub momentum: f64,
    /// Dampening τ.
    pub dampening: f64,
    /// Weight decay λ (L2 penalty).
    pub weight_decay: f64,
    /// Nesterov momentum (needs μ > 0 and τ = 0).
    pub nesterov: bool,
}

impl Default for SgdConfig {
    fn default() -> Self {
        SgdConfig {
            lr: 0.1,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
        }
    }
}

/// The optimizer: its configuration and one momentum buffer per parameter name.
///
/// ```
/// use unravel_autograd::Tape;
/// use unravel_resnet::nn::{Context, Linear, Mode, Module};
/// use unravel_resnet::sgd::{Sgd, SgdConfig};
/// use unravel_tensor::{Rng, Tensor};
/// let mut layer = Linear::<f64>::new(1, 1, false, &mut Rng::seed_from(0));
/// layer.weight.value = Tensor::from_vec(vec![1.0], &[1, 1])?;
/// let mut sgd = Sgd::new(SgdConfig { lr: 0.5, momentum: 0.9, ..Default::default() });
/// for _ in 0..2 {
///     let tape = Tape::new();
///     let mut context = Context::new(&tape, Mode::Train);
///     let y = layer.forward(&mut context, &tape.constant(Tensor::ones(&[1, 1])))?;
///     let gradients = context.parameter_gradients(&tape.backward(&y.sum_all()?)?); // ∇ = 1
///     sgd.step(&mut layer, &gradients)?;
/// }
/// // b₁ = 1, p₁ = 0.5; b₂ = 0.9 + 1 = 1.9, p₂ = 0.5 − 0.95 = −0.45
/// assert!((layer.weight.value.to_vec()[0] + 0.45).abs() < 1e-12);
/// # Ok::<(), unravel_resnet::ResnetError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Sgd<E: Float> {
    pub config: SgdConfig,
    /// Momentum buffers by parameter name.
    pub momentum_buffers: BTreeMap<String, Tensor<E>>,
}

impl<E: Float> Sgd<E> {
    /// An optimizer with empty momentum buffers.
    pub fn new(config: SgdConfig) -> Self {
        Sgd {
            config,
            momentum_buffers: BTreeMap::new(),
        }
    }

    /// Moves the momentum buffers to `device` (where the model's parameters are), so the
    /// next step runs there.
    pub fn to_device(&mut self, device: Device) -> Result<()> {
        for buffer in self.momentum_buffers.values_mut() {
            *buffer = buffer.to_device(device)?;
        }
        Ok(())
    }

    fn validate(&self) -> Result<()> {
        let c = &self.config;
        let finite = [c.lr, c.momentum, c.dampening, c.weight_decay]
            .iter()
            .all(|v| v.is_finite() && *v >= 0.0);
        if !finite {
            return Err(ResnetError::config(format!(
                "SGD needs finite, non-negative hyper-parameters, got {c:?}"
            )));
        }
        if c.nesterov && (c.momentum <= 0.0 || c.dampening != 0.0) {
            return Err(ResnetError::config(
                "Nesterov momentum requires a momentum > 0 and zero dampening",
            ));
        }
        Ok(())
    }

    /// One update of every trainable parameter of `model` that has a gradient.
    pub fn step(
        &mut self,
        model: &mut dyn Module<E>,
        gradients: &ParameterGradients<E>,
    ) -> Result<()> {
        self.validate()?;
        let config = self.config;
        let params = SgdParams {
            lr: config.lr,
            momentum: config.momentum,
            dampening: config.dampening,
            weight_decay: config.weight_decay,
            nesterov: config.nesterov,
        };
        let buffers = &mut self.momentum_buffers;
        let mut failure = None;
        model.visit_state_mut("", &mut |name, entry| {
            let StateMut::Parameter(parameter) = entry else {
                return;
            };
            if !parameter.trainable || failure.is_some() {
                return;
            }
            let Some(gradient) = gradients.get(parameter.id()) else {
                return;
            };
            if gradient.shape() != parameter.value.shape() {
                failure = Some(ResnetError::config(format!(
                    "SGD: gradient of {name} has shape {:?}, the parameter {:?}",
                    gradient.shape(),
                    parameter.value.shape()
                )));
                return;
            }
            // A buffer of another shape (a different model loaded) starts afresh, as the first
            // step does.
            let previous = buffers
                .get(name)
                .filter(|b| b.shape() == parameter.value.shape());
            // One pass on the parameter's device (the `sgd.cu` kernel on a GPU).
            match sgd_momentum_step(&parameter.value, gradient, previous, &params) {
                Ok((value, buffer)) => {
                    parameter.value = value;
                    if config.momentum != 0.0 {
                        buffers.insert(name.to_string(), buffer);
                    }
                }
                Err(error) => failure = Some(error.into()),
            }
        });
        match failure {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}
