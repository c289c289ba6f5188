//! [`Linear`]: `y = x·Wᵀ + b`, PyTorch's `nn.Linear`.

use unravel_autograd::Var;
use unravel_tensor::{Float, Rng};

use crate::error::{ResnetError, Result};
use crate::init::uniform_fan_in;
use crate::nn::module::{join_name, Context, Module, Parameter, StateMut, StateRef};
use crate::nn::module::{StateVisitor, StateVisitorMut};
use crate::summary::{saturating_product, Trace};

/// A fully connected layer; state `weight` `[out, in]`, `bias` `[out]`.
#[derive(Debug)]
pub struct Linear<E: Float> {
    pub weight: Parameter<E>,
    pub bias: Option<Parameter<E>>,
    pub in_features: usize,
    pub out_features: usize,
}

impl<E: Float> Linear<E> {
    /// PyTorch's default init: weight and bias `U(−1/√in, 1/√in)`, weight drawn first.
    ///
    /// ```
    /// use unravel_resnet::nn::Linear;
    /// use unravel_tensor::Rng;
    /// let fc = Linear::<f32>::new(512, 1000, true, &mut Rng::seed_from(1));
    /// let bound = 1.0 / 512f32.sqrt();
    /// assert!(fc.weight.value.to_vec().iter().all(|w| w.abs() <= bound));
    /// ```
    pub fn new(in_features: usize, out_features: usize, bias: bool, rng: &mut Rng) -> Self {
        let weight = Parameter::new(uniform_fan_in(
            &[out_features, in_features],
            in_features,
            rng,
        ));
        let bias = bias.then(|| Parameter::new(uniform_fan_in(&[out_features], in_features, rng)));
        Linear {
            weight,
            bias,
            in_features,
            out_features,
        }
    }
}

impl<E: Float> Module<E> for Linear<E> {
    fn kind(&self) -> &'static str {
        "Linear"
    }

    fn forward(&mut self, context: &mut Context<E>, input: &Var<E>) -> Result<Var<E>> {
        let weight = context.bind(&self.weight);
        let bias = self.bias.as_ref().map(|b| context.bind(b));
        Ok(input.linear(&weight, bias.as_ref())?)
    }

    fn visit_state(&self, prefix: &str, visitor: &mut StateVisitor<'_, E>) {
        visitor(
            &join_name(prefix, "weight"),
            StateRef::Parameter(&self.weight),
        );
        if let Some(bias) = &self.bias {
            visitor(&join_name(prefix, "bias"), StateRef::Parameter(bias));
        }
    }

    fn visit_state_mut(&mut self, prefix: &str, visitor: &mut StateVisitorMut<'_, E>) {
        visitor(
            &join_name(prefix, "weight"),
            StateMut::Parameter(&mut self.weight),
        );
        if let Some(bias) = &mut self.bias {
            visitor(&join_name(prefix, "bias"), StateMut::Parameter(bias));
        }
    }

    /// torchinfo's mult-adds: `N · (|W| + |b|)`.
    fn trace(&self, input_shape: &[usize], trace: &mut Trace) -> Result<Vec<usize>> {
        if input_shape.len() != 2 || input_shape[1] != self.in_features {
            return Err(ResnetError::Input {
                layer: "Linear".into(),
                message: format!(
                    "expected an input [N, {}], got shape {input_shape:?}",
                    self.in_features
                ),
            });
        }
        let mut params = 0;
        let mut trainable = 0;
        for parameter in std::iter::once(&self.weight).chain(&self.bias) {
            params += parameter.value.numel();
            if parameter.trainable {
                trainable += parameter.value.numel();
            }
        }
        let output = vec![input_shape[0], self.out_features];
        trace.leaf(
            self.kind(),
            &output,
            params,
            trainable,
            saturating_product(&[input_shape[0], params]),
        );
        Ok(output)
    }
}
