//! Layers without state: [`ReLU`], [`MaxPool2d`], [`AdaptiveAvgPool2d`] (global average pool to
//! 1×1), [`Identity`], and the parameter-free "option A" shortcut [`ZeroPadShortcut`].

use unravel_autograd::Var;
use unravel_tensor::ops::pool::Pool2dParams;
use unravel_tensor::Float;

use crate::error::Result;
use crate::nn::conv::check_image;
use crate::nn::module::{Context, Module, StateVisitor, StateVisitorMut};
use crate::summary::Trace;

macro_rules! stateless {
    () => {
        fn visit_state(&self, _prefix: &str, _visitor: &mut StateVisitor<'_, E>) {}
        fn visit_state_mut(&mut self, _prefix: &str, _visitor: &mut StateVisitorMut<'_, E>) {}
    };
}

/// `y = max(x, 0)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReLU;

impl<E: Float> Module<E> for ReLU {
    fn kind(&self) -> &'static str {
        "ReLU"
    }
    fn forward(&mut self, _context: &mut Context<E>, input: &Var<E>) -> Result<Var<E>> {
        Ok(input.relu()?)
    }
    fn is_relu(&self) -> bool {
        true
    }
    stateless!();
    fn trace(&self, input_shape: &[usize], trace: &mut Trace) -> Result<Vec<usize>> {
        trace.leaf("ReLU", input_shape, 0, 0, 0);
        Ok(input_shape.to_vec())
    }
}

/// `y = x` (PyTorch's `nn.Identity`, the seed's shortcut when shapes agree).
#[derive(Debug, Clone, Copy, Default)]
pub struct Identity;

impl<E: Float> Module<E> for Identity {
    fn kind(&self) -> &'static str {
        "Identity"
    }
    fn forward(&mut self, _context: &mut Context<E>, input: &Var<E>) -> Result<Var<E>> {
        Ok(input.clone())
    }
    stateless!();
    fn trace(&self, input_shape: &[usize], trace: &mut Trace) -> Result<Vec<usize>> {
        trace.leaf("Identity", input_shape, 0, 0, 0);
        Ok(input_shape.to_vec())
    }
}

/// Max-pool over square windows (padding counts as −∞).
#[derive(Debug, Clone, Copy)]
pub struct MaxPool2d {
    pub params: Pool2dParams,
}

impl MaxPool2d {
    /// A `kernel×kernel` window moved by `stride`, padded by `padding` (ResNet's stem: 3, 2, 1).
    pub fn new(kernel: usize, stride: usize, padding: usize) -> Self {
        MaxPool2d {
            params: Pool2dParams::square(kernel, stride, padding),
        }
    }
}

impl<E: Float> Module<E> for MaxPool2d {
    fn kind(&self) -> &'static str {
        "MaxPool2d"
    }
    fn forward(&mut self, _context: &mut Context<E>, input: &Var<E>) -> Result<Var<E>> {
        check_image("MaxPool2d", input.shape(), None)?;
        Ok(input.max_pool2d(self.params)?)
    }
    stateless!();
    fn trace(&self, input_shape: &[usize], trace: &mut Trace) -> Result<Vec<usize>> {
        check_image("MaxPool2d", input_shape, None)?;
        let [oh, ow] = self
            .params
            .output_size("MaxPool2d", [input_shape[2], input_shape[3]])?;
        let output = vec![input_shape[0], input_shape[1], oh, ow];
        trace.leaf("MaxPool2d", &output, 0, 0, 0);
        Ok(output)
    }
}

/// Global average pool, `y[n, c, 0, 0] = (1/HW)·Σ_{h,w} x[n, c, h, w]` (PyTorch's
/// `AdaptiveAvgPool2d((1, 1))`).
#[derive(Debug, Clone, Copy, Default)]
pub struct AdaptiveAvgPool2d;

impl<E: Float> Module<E> for AdaptiveAvgPool2d {
    fn kind(&self) -> &'static str {
        "AdaptiveAvgPool2d"
    }
    fn forward(&mut self, _context: &mut Context<E>, input: &Var<E>) -> Result<Var<E>> {
        check_image("AdaptiveAvgPool2d", input.shape(), None)?;
        let (n, c) = (input.shape()[0], input.shape()[1]);
        // [N, C] → [N, C, 1, 1]
        Ok(input.global_avg_pool2d()?.reshape(&[n, c, 1, 1])?)
    }
    stateless!();
    fn trace(&self, input_shape: &[usize], trace: &mut Trace) -> Result<Vec<usize>> {
        check_image("AdaptiveAvgPool2d", input_shape, None)?;
        let output = vec![input_shape[0], input_shape[1], 1, 1];
        trace.leaf("AdaptiveAvgPool2d", &output, 0, 0, 0);
        Ok(output)
    }
}

/// He et al. (2015, §4.2) option A: the shortcut that changes shape without parameters. It
/// takes every `stride`-th pixel and appends `extra_channels` zero channels after the input's:
/// `y[n, c, i, j] = x[n, c, s·i, s·j]` for `c < C`, and 0 for `C ≤ c < C + extra`.
#[derive(Debug, Clone, Copy)]
pub struct ZeroPadShortcut {
    pub stride: usize,
    pub extra_channels: usize,
}

impl<E: Float> Module<E> for ZeroPadShortcut {
    fn kind(&self) -> &'static str {
        "ZeroPadShortcut"
    }
    fn forward(&mut self, _context: &mut Context<E>, input: &Var<E>) -> Result<Var<E>> {
        check_image("ZeroPadShortcut", input.shape(), None)?;
        let (h, w) = (input.shape()[2], input.shape()[3]);
        let mut x = input.clone();
        if self.stride > 1 {
            // [N, C, H, W] → [N, C, ⌈H/s⌉, ⌈W/s⌉]
            x = x.slice(2, 0, h, self.stride)?.slice(3, 0, w, self.stride)?;
        }
        if self.extra_channels > 0 {
            x = x.zero_pad_channels(0, self.extra_channels)?;
        }
        Ok(x)
    }
    stateless!();
    fn trace(&self, input_shape: &[usize], trace: &mut Trace) -> Result<Vec<usize>> {
        check_image("ZeroPadShortcut", input_shape, None)?;
        let stride = self.stride.max(1);
        let output = vec![
            input_shape[0],
            input_shape[1] + self.extra_channels,
            input_shape[2].div_ceil(stride),
            input_shape[3].div_ceil(stride),
        ];
        trace.leaf("ZeroPadShortcut", &output, 0, 0, 0);
        Ok(output)
    }
}

/// `[N, d₁, d₂, …] → [N, d₁·d₂·…]` (PyTorch's `nn.Flatten()`, `start_dim = 1`).
///
/// ```
/// use unravel_autograd::Tape;
/// use unravel_resnet::nn::{Context, Flatten, Mode, Module};
/// use unravel_tensor::Tensor;
/// let tape = Tape::<f32>::new();
/// let x = tape.constant(Tensor::ones(&[2, 8, 1, 1]));
/// let y = Flatten.forward(&mut Context::new(&tape, Mode::Eval), &x)?;
/// assert_eq!(y.shape(), &[2, 8]);
/// # Ok::<(), unravel_resnet::ResnetError>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Flatten;

impl<E: Float> Module<E> for Flatten {
    fn kind(&self) -> &'static str {
        "Flatten"
    }
    fn forward(&mut self, _context: &mut Context<E>, input: &Var<E>) -> Result<Var<E>> {
        let rank = input.shape().len();
        if rank <= 2 {
            return Ok(input.clone());
        }
        Ok(input.flatten(1, rank - 1)?)
    }
    stateless!();
    fn trace(&self, input_shape: &[usize], trace: &mut Trace) -> Result<Vec<usize>> {
        let output = match input_shape {
            [] => vec![1],
            [n] => vec![*n],
            [n, rest @ ..] => vec![*n, rest.iter().product()],
        };
        trace.leaf("Flatten", &output, 0, 0, 0);
        Ok(output)
    }
}
