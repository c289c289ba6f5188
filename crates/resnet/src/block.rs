//! [`ResidualBlock`]: one residual unit, `y = relu(F(x) + shortcut(x))` (He et al. 2015, Eq. 1
//! and 2), its plain variant `y = relu(F(x))`, and the pre-activation form
//! `y = F(relu(bn(x))) + shortcut(x)` (He et al. 2016, Eq. 3 and Fig. 4e).
//!
//! The builders in this file lay out each block the way torchvision (or the seed) names it, so
//! that state names match: `conv1`, `bn1`, `conv2`, `bn2`, (`conv3`, `bn3`), `downsample.0`,
//! `downsample.1`.

use unravel_autograd::{GradientRoute, Var};
use unravel_tensor::{Float, Rng};

use crate::config::{BlockKind, Layout, ShortcutKind, StrideOn};
use crate::error::{ResnetError, Result};
use crate::nn::{
    forward_chain, trace_chain, visit_children, visit_children_mut, BatchNorm2d, BatchNormConfig,
    Context, Conv2d, Identity, Module, Named, ReLU, Sequential, StateVisitor, StateVisitorMut,
    ZeroPadShortcut,
};
use crate::summary::Trace;

/// One residual (or plain) unit.
///
/// The forward pass runs, in this order (which is also the order of the summary's rows):
/// `pre_activation` (pre-activation blocks: `bn1`, `relu`), the shortcut if it reads the
/// pre-activation, the `branch` F, the shortcut if it reads the input, the add, `output`
/// (post-activation blocks: the final ReLU). When `output` is the plain [`ReLU`] module
/// ([`Module::is_relu`]) and both the branch and the shortcut run, the add and the ReLU are one
/// fused op ([`Var::add_relu`]); a wrapped or different `output` module runs separately.
pub struct ResidualBlock<E: Float> {
    kind: &'static str,
    pub pre_activation: Vec<Named<E>>,
    pub branch: Vec<Named<E>>,
    /// `None`: the identity (no module), or no shortcut at all for a plain block.
    pub shortcut: Option<Named<E>>,
    /// False for plain blocks: `y = relu(F(x))`.
    pub has_skip: bool,
    /// Whether the shortcut reads `relu(bn1(x))` instead of `x` (pre-activation projections).
    pub shortcut_reads_pre_activation: bool,
    pub output: Option<Named<E>>,
    /// Which operands of the residual add get its gradient (Veit et al. 2016, §4: the skip
    /// only, the branch only, or both, the true gradient).
    pub route: GradientRoute,
    /// Veit et al. (2016, §3) lesion: when set, the branch is deleted and the block computes
    /// only its shortcut, `y = shortcut(x)` (then the output ReLU, for post-activation blocks).
    pub lesioned: bool,
    /// Multiplies the residual branch: `y = shortcut(x) + branch_scale · F(x)`. 1 except at
    /// test time in a network trained with only m of its n branches per mini-batch
    /// (`--active-blocks m`), where it is m/n: each branch was present with probability m/n
    /// during training, and the test network uses its expectation — stochastic depth's test
    /// rule (Huang et al. 2016, eq. 5).
    pub branch_scale: f64,
}

impl<E: Float> ResidualBlock<E> {
    fn shortcut_value(&mut self, context: &mut Context<E>, input: &Var<E>) -> Result<Var<E>> {
        match &mut self.shortcut {
            Some(shortcut) => shortcut.module.forward(context, input),
            None => Ok(input.clone()),
        }
    }
}

impl<E: Float> Module<E> for ResidualBlock<E> {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn forward(&mut self, context: &mut Context<E>, input: &Var<E>) -> Result<Var<E>> {
        let activated = forward_chain(&mut self.pre_activation, context, input)?;
        let mut shortcut = None;
        if self.has_skip && self.shortcut_reads_pre_activation {
            shortcut = Some(self.shortcut_value(context, &activated)?);
        }
        let branch = if self.lesioned {
            None
        } else {
            let branch = forward_chain(&mut self.branch, context, &activated)?;
            Some(if self.branch_scale == 1.0 {
                branch
            } else {
                branch.mul_scalar(E::from_f64(self.branch_scale))?
            })
        };
        if self.has_skip && !self.shortcut_reads_pre_activation {
            shortcut = Some(self.shortcut_value(context, input)?);
        }
        let mut y = match (branch, shortcut) {
            (Some(branch), Some(shortcut)) => {
                if branch.shape() != shortcut.shape() {
                    return Err(ResnetError::Input {
                        layer: self.kind.into(),
                        message: format!(
                            "residual branch {:?} and shortcut {:?} differ in shape",
                            branch.shape(),
                            shortcut.shape()
                        ),
                    });
                }
                // With a bare output ReLU, relu(F(x) + shortcut(x)) is one pass and one tape
                // node: the same values and gradients, routes included (applied after the ReLU
                // mask), as the add followed by the output ReLU below. Nothing observes the sum
                // in between.
                let fused = self.output.as_ref().is_some_and(|o| o.module.is_relu());
                let joined = if fused {
                    branch.add_relu(&shortcut)?
                } else {
                    branch.add(&shortcut)?
                };
                if self.route != GradientRoute::Both && joined.requires_grad() {
                    joined.set_gradient_route(self.route)?;
                }
                if fused {
                    return Ok(joined);
                }
                joined
            }
            (Some(branch), None) => branch,
            (None, Some(shortcut)) => shortcut,
            (None, None) => activated,
        };
        if let Some(output) = &mut self.output {
            y = output.module.forward(context, &y)?;
        }
        Ok(y)
    }

    fn visit_state(&self, prefix: &str, visitor: &mut StateVisitor<'_, E>) {
        visit_children(&self.pre_activation, prefix, visitor);
        visit_children(&self.branch, prefix, visitor);
        visit_children(self.shortcut.as_slice(), prefix, visitor);
    }

    fn visit_state_mut(&mut self, prefix: &str, visitor: &mut StateVisitorMut<'_, E>) {
        visit_children_mut(&mut self.pre_activation, prefix, visitor);
        visit_children_mut(&mut self.branch, prefix, visitor);
        visit_children_mut(self.shortcut.as_mut_slice(), prefix, visitor);
    }

    fn trace(&self, input_shape: &[usize], trace: &mut Trace) -> Result<Vec<usize>> {
        let row = trace.open(self.kind);
        let activated = trace_chain(&self.pre_activation, input_shape, trace)?;
        let mut shortcut = None;
        if self.has_skip && self.shortcut_reads_pre_activation {
            shortcut = Some(match &self.shortcut {
                Some(s) => s.module.trace(&activated, trace)?,
                None => activated.clone(),
            });
        }
        let branch = trace_chain(&self.branch, &activated, trace)?;
        if self.has_skip && !self.shortcut_reads_pre_activation {
            shortcut = Some(match &self.shortcut {
                Some(s) => s.module.trace(input_shape, trace)?,
                None => input_shape.to_vec(),
            });
        }
        if let Some(shortcut) = shortcut {
            if shortcut != branch {
                return Err(ResnetError::Input {
                    layer: self.kind.into(),
                    message: format!(
                        "residual branch {branch:?} and shortcut {shortcut:?} differ in shape"
                    ),
                });
            }
        }
        let output = match &self.output {
            Some(output) => output.module.trace(&branch, trace)?,
            None => branch,
        };
        trace.close(row, &output);
        Ok(output)
    }

    fn as_residual_block(&self) -> Option<&ResidualBlock<E>> {
        Some(self)
    }

    fn as_residual_block_mut(&mut self) -> Option<&mut ResidualBlock<E>> {
        Some(self)
    }
}

/// What a block builder needs to know.
#[derive(Debug, Clone, Copy)]
pub struct BlockOptions {
    pub kind: BlockKind,
    pub in_channels: usize,
    /// The stage's base width (a bottleneck outputs 4×).
    pub width: usize,
    pub stride: usize,
    pub shortcut: ShortcutKind,
    pub stride_on: StrideOn,
    pub batch_norm: BatchNormConfig,
    pub zero_init_residual: bool,
    pub layout: Layout,
}

/// Builds one block, drawing its weights from `rng` in registration order.
///
/// ```
/// use unravel_resnet::block::{build_block, BlockOptions};
/// use unravel_resnet::config::{BlockKind, Layout, ShortcutKind, StrideOn};
/// use unravel_resnet::nn::{BatchNormConfig, Module};
/// use unravel_tensor::Rng;
/// let options = BlockOptions {
///     kind: BlockKind::Bottleneck, in_channels: 64, width: 64, stride: 1,
///     shortcut: ShortcutKind::B, stride_on: StrideOn::ThreeByThree,
///     batch_norm: BatchNormConfig::default(), zero_init_residual: false,
///     layout: unravel_resnet::config::Layout::Torchvision,
/// };
/// let block = build_block::<f32>(&options, &mut Rng::seed_from(0))?;
/// let mut names = Vec::new();
/// block.visit_state("layer1.0", &mut |name, _| names.push(name.to_string()));
/// assert!(names.contains(&"layer1.0.downsample.0.weight".to_string())); // 64 → 256 channels
/// # Ok::<(), unravel_resnet::ResnetError>(())
/// ```
pub fn build_block<E: Float>(options: &BlockOptions, rng: &mut Rng) -> Result<ResidualBlock<E>> {
    let o = options;
    let out_channels = o.width * o.kind.expansion();
    let bn = |channels: usize| BatchNorm2d::<E>::new(channels, o.batch_norm);
    let seed = o.layout == Layout::Seed;

    // The residual branch F, in torchvision's attribute order.
    let mut branch: Vec<Named<E>> = Vec::new();
    let mut pre_activation: Vec<Named<E>> = Vec::new();
    let kind_name;
    match o.kind {
        BlockKind::Basic | BlockKind::Plain => {
            kind_name = if o.kind == BlockKind::Plain {
                "PlainBlock"
            } else {
                "BasicBlock"
            };
            branch.push(Named::new(
                "conv1",
                Conv2d::new(o.in_channels, o.width, 3, o.stride, 1, false, rng),
            ));
            branch.push(Named::new("bn1", bn(o.width)));
            branch.push(Named::new("relu", ReLU));
            branch.push(Named::new(
                "conv2",
                Conv2d::new(o.width, o.width, 3, 1, 1, false, rng),
            ));
            let mut bn2 = bn(o.width);
            if o.zero_init_residual && o.kind == BlockKind::Basic {
                bn2.zero_weight();
            }
            branch.push(Named::new("bn2", bn2));
        }
        BlockKind::Bottleneck => {
            kind_name = "Bottleneck";
            let (stride_1x1, stride_3x3) = match o.stride_on {
                StrideOn::ThreeByThree => (1, o.stride),
                StrideOn::OneByOne => (o.stride, 1),
            };
            branch.push(Named::new(
                "conv1",
                Conv2d::new(o.in_channels, o.width, 1, stride_1x1, 0, false, rng),
            ));
            branch.push(Named::new("bn1", bn(o.width)));
            branch.push(Named::new("relu", ReLU));
            branch.push(Named::new(
                "conv2",
                Conv2d::new(o.width, o.width, 3, stride_3x3, 1, false, rng),
            ));
            branch.push(Named::new("bn2", bn(o.width)));
            branch.push(Named::new("relu", ReLU));
            branch.push(Named::new(
                "conv3",
                Conv2d::new(o.width, out_channels, 1, 1, 0, false, rng),
            ));
            let mut bn3 = bn(out_channels);
            if o.zero_init_residual {
                bn3.zero_weight();
            }
            branch.push(Named::new("bn3", bn3));
        }
        BlockKind::PreActBasic => {
            kind_name = "PreActBlock";
            pre_activation.push(Named::new("bn1", bn(o.in_channels)));
            pre_activation.push(Named::new("relu", ReLU));
            branch.push(Named::new(
                "conv1",
                Conv2d::new(o.in_channels, o.width, 3, o.stride, 1, false, rng),
            ));
            branch.push(Named::new("bn2", bn(o.width)));
            branch.push(Named::new("relu", ReLU));
            branch.push(Named::new(
                "conv2",
                Conv2d::new(o.width, o.width, 3, 1, 1, false, rng),
            ));
        }
        BlockKind::PreActBottleneck => {
            kind_name = "PreActBottleneck";
            let (stride_1x1, stride_3x3) = match o.stride_on {
                StrideOn::ThreeByThree => (1, o.stride),
                StrideOn::OneByOne => (o.stride, 1),
            };
            pre_activation.push(Named::new("bn1", bn(o.in_channels)));
            pre_activation.push(Named::new("relu", ReLU));
            branch.push(Named::new(
                "conv1",
                Conv2d::new(o.in_channels, o.width, 1, stride_1x1, 0, false, rng),
            ));
            branch.push(Named::new("bn2", bn(o.width)));
            branch.push(Named::new("relu", ReLU));
            branch.push(Named::new(
                "conv2",
                Conv2d::new(o.width, o.width, 3, stride_3x3, 1, false, rng),
            ));
            branch.push(Named::new("bn3", bn(o.width)));
            branch.push(Named::new("relu", ReLU));
            branch.push(Named::new(
                "conv3",
                Conv2d::new(o.width, out_channels, 1, 1, 0, false, rng),
            ));
        }
    }

    // The shortcut.
    let has_skip = o.kind != BlockKind::Plain;
    let changes_shape = o.stride != 1 || o.in_channels != out_channels;
    let pre_act = o.kind.is_pre_activation();
    let mut shortcut_reads_pre_activation = false;
    let shortcut: Option<Named<E>> = if !has_skip {
        None
    } else {
        let projection = match o.shortcut {
            ShortcutKind::A => false,
            ShortcutKind::B => changes_shape,
            ShortcutKind::C => true,
        };
        let name = if seed { "shortcut" } else { "downsample" };
        if projection {
            let mut sequence = Sequential::new().push(Conv2d::new(
                o.in_channels,
                out_channels,
                1,
                o.stride,
                0,
                seed,
                rng,
            ));
            if pre_act {
                // He et al. 2016: the projection of a pre-activation block is a bare 1×1 conv
                // of the pre-activated input.
                shortcut_reads_pre_activation = true;
            } else {
                sequence = sequence.push(bn(out_channels));
            }
            Some(Named::new(name, sequence))
        } else if changes_shape {
            if out_channels < o.in_channels {
                return Err(ResnetError::config(format!(
                    "option-A shortcut cannot reduce channels ({} → {out_channels})",
                    o.in_channels
                )));
            }
            Some(Named::new(
                name,
                ZeroPadShortcut {
                    stride: o.stride,
                    extra_channels: out_channels - o.in_channels,
                },
            ))
        } else if seed {
            Some(Named::new(name, Identity))
        } else {
            None
        }
    };

    let output = (!pre_act).then(|| Named::new("relu", ReLU));
    if seed {
        // The seed's block: `residual` (one Sequential), `shortcut`, `relu`.
        let mut residual = Sequential::new();
        for child in branch {
            residual.push_boxed(child.module);
        }
        branch = vec![Named::new("residual", residual)];
    }
    Ok(ResidualBlock {
        kind: kind_name,
        pre_activation,
        branch,
        shortcut,
        has_skip,
        shortcut_reads_pre_activation,
        output,
        route: GradientRoute::Both,
        lesioned: false,
        branch_scale: 1.0,
    })
}
