//! [`Conv2d`]: 2-D convolution (cross-correlation, as PyTorch's `nn.Conv2d`),
//! `y[n, o] = b[o] + Σ_c W[o, c] ⋆ x[n, c]`, with stride and zero padding.

use unravel_autograd::Var;
use unravel_tensor::ops::conv::Conv2dParams;
use unravel_tensor::{Float, Rng};

use crate::error::{ResnetError, Result};
use crate::init::{kaiming_normal_fan_out, uniform_fan_in};
use crate::nn::module::{join_name, Context, Module, Parameter, StateMut, StateRef};
use crate::nn::module::{StateVisitor, StateVisitorMut};
use crate::summary::{saturating_product, Trace};

/// A square-kernel convolution layer; state `weight` `[C_out, C_in, k, k]` and optional `bias`
/// `[C_out]`.
///
/// ```
/// use unravel_resnet::nn::Conv2d;
/// use unravel_tensor::Rng;
/// let conv = Conv2d::<f32>::new(3, 64, 7, 2, 3, false, &mut Rng::seed_from(0));
/// assert_eq!(conv.weight.value.shape(), &[64, 3, 7, 7]);
/// assert_eq!(conv.output_hw([224, 224])?, [112, 112]);
/// # Ok::<(), unravel_resnet::ResnetError>(())
/// ```
#[derive(Debug)]
pub struct Conv2d<E: Float> {
    pub weight: Parameter<E>,
    pub bias: Option<Parameter<E>>,
    pub params: Conv2dParams,
    pub in_channels: usize,
    pub out_channels: usize,
    pub kernel: usize,
}

impl<E: Float> Conv2d<E> {
    /// Kaiming-normal (fan_out, ReLU) weight; bias, if any, `U(±1/√(C_in·k²))` as PyTorch.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        bias: bool,
        rng: &mut Rng,
    ) -> Self {
        let weight = kaiming_normal_fan_out(&[out_channels, in_channels, kernel, kernel], rng);
        let bias = bias.then(|| {
            Parameter::new(uniform_fan_in(
                &[out_channels],
                in_channels * kernel * kernel,
                rng,
            ))
        });
        Conv2d {
            weight: Parameter::new(weight),
            bias,
            params: Conv2dParams {
                stride: [stride; 2],
                padding: [padding; 2],
                ..Conv2dParams::default()
            },
            in_channels,
            out_channels,
            kernel,
        }
    }

    /// Output `[oh, ow]` for an input plane `[H, W]`: `oh = ⌊(H + 2p − k)/s⌋ + 1`.
    pub fn output_hw(&self, input_hw: [usize; 2]) -> Result<[usize; 2]> {
        Ok(self
            .params
            .output_size(input_hw, [self.kernel, self.kernel])?)
    }

    fn parameter_count(&self) -> usize {
        self.weight.value.numel() + self.bias.as_ref().map_or(0, |b| b.value.numel())
    }

    fn trainable_count(&self) -> usize {
        let weight = if self.weight.trainable {
            self.weight.value.numel()
        } else {
            0
        };
        let bias = self
            .bias
            .as_ref()
            .filter(|b| b.trainable)
            .map_or(0, |b| b.value.numel());
        weight + bias
    }
}

/// Checks a `[N, C, H, W]` shape with `C = channels`, naming the layer.
pub(crate) fn check_image(layer: &str, shape: &[usize], channels: Option<usize>) -> Result<()> {
    if shape.len() != 4 {
        return Err(ResnetError::Input {
            layer: layer.to_string(),
            message: format!("expected an input [N, C, H, W], got shape {shape:?}"),
        });
    }
    if let Some(channels) = channels {
        if shape[1] != channels {
            return Err(ResnetError::Input {
                layer: layer.to_string(),
                message: format!("expected {channels} input channels, got shape {shape:?}"),
            });
        }
    }
    Ok(())
}

impl<E: Float> Module<E> for Conv2d<E> {
    fn kind(&self) -> &'static str {
        "Conv2d"
    }

    fn forward(&mut self, context: &mut Context<E>, input: &Var<E>) -> Result<Var<E>> {
        check_image("Conv2d", input.shape(), Some(self.in_channels))?;
        let weight = context.bind(&self.weight);
        let bias = self.bias.as_ref().map(|b| context.bind(b));
        Ok(input.conv2d(&weight, bias.as_ref(), &self.params)?)
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

    /// torchinfo's mult-adds for a convolution: `(|W| + |b|) · N · oh · ow`.
    fn trace(&self, input_shape: &[usize], trace: &mut Trace) -> Result<Vec<usize>> {
        check_image("Conv2d", input_shape, Some(self.in_channels))?;
        let [oh, ow] = self.output_hw([input_shape[2], input_shape[3]])?;
        let output = vec![input_shape[0], self.out_channels, oh, ow];
        let params = self.parameter_count();
        let mult_adds = saturating_product(&[params, input_shape[0], oh, ow]);
        trace.leaf(
            self.kind(),
            &output,
            params,
            self.trainable_count(),
            mult_adds,
        );
        Ok(output)
    }
}
