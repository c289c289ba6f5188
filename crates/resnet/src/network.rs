//! [`ResNet`]: stem, stages of residual blocks, global average pool, flatten, linear classifier
//! (He et al. 2015, Table 1 for ImageNet and §4.2 for CIFAR; He et al. 2016 for
//! pre-activation networks).

use unravel_autograd::{Tape, Var};
use unravel_tensor::{Float, Rng, Tensor};

use crate::block::{build_block, BlockOptions, ResidualBlock};
use crate::config::{Layout, ResNetConfig, ShortcutKind, Stem};
use crate::error::{ResnetError, Result};
use crate::nn::{
    forward_chain, join_name, trace_chain, visit_children, visit_children_mut, AdaptiveAvgPool2d,
    BatchNorm2d, Context, Conv2d, Linear, MaxPool2d, Mode, Module, Named, ReLU, Sequential,
    StateRef, StateVisitor, StateVisitorMut,
};
use crate::summary::Trace;

/// A residual (or plain) network built from a [`ResNetConfig`].
///
/// ```
/// use unravel_autograd::Tape;
/// use unravel_resnet::{presets, nn::{Context, Mode, Module}};
/// use unravel_tensor::{Rng, Tensor};
/// let mut model = presets::build::<f32>("resnet20", &presets::PresetOptions::default(), 0)?;
/// assert_eq!(model.parameter_count(), 269_722);
/// let tape = Tape::new();
/// let _no_grad = tape.no_grad();
/// let x = tape.constant(Tensor::randn(&[2, 3, 32, 32], 0.0, 1.0, &mut Rng::seed_from(1)));
/// let logits = model.forward(&mut Context::new(&tape, Mode::Eval), &x)?;
/// assert_eq!(logits.shape(), &[2, 10]);
/// # Ok::<(), unravel_resnet::ResnetError>(())
/// ```
pub struct ResNet<E: Float> {
    pub config: ResNetConfig,
    /// Everything up to and including the global average pool, as named children.
    pub features: Vec<Named<E>>,
    /// The classifier, after flattening.
    pub classifier: Named<E>,
}

impl<E: Float> ResNet<E> {
    /// Builds the network, initialised as torchvision does (see [`crate::init`]) from `seed`.
    pub fn new(config: &ResNetConfig, seed: u64) -> Result<Self> {
        config.validate()?;
        let mut rng = Rng::seed_from(seed);
        let rng = &mut rng;
        let seed_layout = config.layout == Layout::Seed;
        let pre_act = config.block.is_pre_activation();
        let bn = |channels| BatchNorm2d::<E>::new(channels, config.batch_norm);
        let mut features: Vec<Named<E>> = Vec::new();

        // Stem.
        let (kernel, stride, padding) = match config.stem {
            Stem::ImageNet => (7, 2, 3),
            Stem::Cifar => (3, 1, 1),
        };
        let conv1 = Conv2d::new(
            config.in_channels,
            config.stem_width,
            kernel,
            stride,
            padding,
            seed_layout,
            rng,
        );
        if seed_layout {
            let stem = Sequential::new()
                .push(conv1)
                .push(bn(config.stem_width))
                .push(ReLU);
            features.push(Named::new("conv1", stem));
        } else {
            features.push(Named::new("conv1", conv1));
            if !(pre_act && config.stem == Stem::Cifar) {
                features.push(Named::new("bn1", bn(config.stem_width)));
                features.push(Named::new("relu", ReLU));
            }
        }
        if config.stem == Stem::ImageNet {
            let name = if seed_layout { "conv2_pool" } else { "maxpool" };
            features.push(Named::new(name, MaxPool2d::new(3, 2, 1)));
        }

        // Stages.
        let mut channels = config.stem_width;
        for (stage, (&blocks, &width)) in config.layers.iter().zip(&config.widths).enumerate() {
            let mut sequence = Sequential::new();
            for index in 0..blocks {
                let stride = if stage > 0 && index == 0 { 2 } else { 1 };
                let options = BlockOptions {
                    kind: config.block,
                    in_channels: channels,
                    width,
                    stride,
                    shortcut: config.shortcut,
                    stride_on: config.stride_on,
                    batch_norm: config.batch_norm,
                    zero_init_residual: config.zero_init_residual,
                    layout: config.layout,
                };
                sequence = sequence.push(build_block::<E>(&options, rng)?);
                channels = width * config.block.expansion();
            }
            let name = if seed_layout {
                format!("conv{}_blocks", stage + 2)
            } else {
                format!("layer{}", stage + 1)
            };
            features.push(Named::new(name, sequence));
        }

        // Head.
        if pre_act {
            features.push(Named::new("final_bn", bn(channels)));
            features.push(Named::new("final_relu", ReLU));
        }
        let (pool_name, fc_name) = if seed_layout {
            ("gap", "classifier")
        } else {
            ("avgpool", "fc")
        };
        features.push(Named::new(pool_name, AdaptiveAvgPool2d));
        let classifier = Named::new(
            fc_name,
            Linear::new(channels, config.num_classes, true, rng),
        );
        if config.shortcut == ShortcutKind::A && seed_layout {
            return Err(ResnetError::config(
                "the seed layout uses projection shortcuts (B)",
            ));
        }
        Ok(ResNet {
            config: config.clone(),
            features,
            classifier,
        })
    }

    /// Moves every parameter and buffer to `device` (see [`crate::nn::move_to_device`]).
    pub fn to_device(&mut self, device: unravel_tensor::Device) -> Result<()> {
        crate::nn::move_to_device(self, device)
    }

    /// Where the parameters live (the CPU until [`ResNet::to_device`] moves them).
    pub fn device(&self) -> unravel_tensor::Device {
        crate::nn::device_of(self)
    }

    /// Number of parameters (trainable or not).
    pub fn parameter_count(&self) -> usize {
        let mut count = 0;
        self.visit_state("", &mut |_, entry| {
            if let StateRef::Parameter(p) = entry {
                count += p.value.numel();
            }
        });
        count
    }

    /// Every residual block, in forward order (for Veit et al.'s lesion and path experiments).
    pub fn blocks_mut(&mut self) -> Vec<&mut ResidualBlock<E>> {
        fn walk<'a, E: Float>(
            module: &'a mut dyn Module<E>,
            out: &mut Vec<&'a mut ResidualBlock<E>>,
        ) {
            // A block is a leaf of this walk: its children are layers, not blocks.
            if module.as_residual_block_mut().is_some() {
                if let Some(block) = module.as_residual_block_mut() {
                    out.push(block);
                }
                return;
            }
            for child in module.children_mut() {
                walk(child, out);
            }
        }
        let mut blocks = Vec::new();
        for child in &mut self.features {
            walk(&mut *child.module, &mut blocks);
        }
        blocks
    }

    /// Every residual block, in forward order, read-only.
    pub fn blocks(&self) -> Vec<&ResidualBlock<E>> {
        fn walk<'a, E: Float>(module: &'a dyn Module<E>, out: &mut Vec<&'a ResidualBlock<E>>) {
            match module.as_residual_block() {
                Some(block) => out.push(block),
                None => {
                    for child in module.children() {
                        walk(child, out);
                    }
                }
            }
        }
        let mut blocks = Vec::new();
        for child in &self.features {
            walk(&*child.module, &mut blocks);
        }
        blocks
    }

    /// Inference: eval mode, nothing recorded. `input` is `[N, C, H, W]` (copied to the model's
    /// device first); returns the logits `[N, classes]`, on that device.
    pub fn predict(&mut self, input: &Tensor<E>) -> Result<Tensor<E>> {
        let tape = Tape::new();
        let _no_grad = tape.no_grad();
        let x = tape.constant(input.to_device(self.device())?);
        Ok(self
            .forward(&mut Context::new(&tape, Mode::Eval), &x)?
            .into_value())
    }
}

impl<E: Float> Module<E> for ResNet<E> {
    fn kind(&self) -> &'static str {
        "ResNet"
    }

    fn forward(&mut self, context: &mut Context<E>, input: &Var<E>) -> Result<Var<E>> {
        let features = forward_chain(&mut self.features, context, input)?;
        // [N, C, 1, 1] → [N, C]
        let flat = features.flatten(1, 3)?;
        self.classifier.module.forward(context, &flat)
    }

    fn visit_state(&self, prefix: &str, visitor: &mut StateVisitor<'_, E>) {
        visit_children(&self.features, prefix, visitor);
        self.classifier
            .module
            .visit_state(&join_name(prefix, &self.classifier.name), visitor);
    }

    fn visit_state_mut(&mut self, prefix: &str, visitor: &mut StateVisitorMut<'_, E>) {
        visit_children_mut(&mut self.features, prefix, visitor);
        self.classifier
            .module
            .visit_state_mut(&join_name(prefix, &self.classifier.name), visitor);
    }

    fn trace(&self, input_shape: &[usize], trace: &mut Trace) -> Result<Vec<usize>> {
        let row = trace.open("ResNet");
        let features = trace_chain(&self.features, input_shape, trace)?;
        let flat = vec![features[0], features[1..].iter().product()];
        let output = self.classifier.module.trace(&flat, trace)?;
        trace.close(row, &output);
        Ok(output)
    }

    fn children_mut(&mut self) -> Vec<&mut dyn Module<E>> {
        let mut children: Vec<&mut dyn Module<E>> = self
            .features
            .iter_mut()
            .map(|c| &mut *c.module as &mut dyn Module<E>)
            .collect();
        children.push(&mut *self.classifier.module);
        children
    }

    fn children(&self) -> Vec<&dyn Module<E>> {
        let mut children: Vec<&dyn Module<E>> = self
            .features
            .iter()
            .map(|c| &*c.module as &dyn Module<E>)
            .collect();
        children.push(&*self.classifier.module);
        children
    }
}
