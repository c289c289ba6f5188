//! [`ResNetConfig`]: everything that decides a network's architecture, and its JSON form (the
//! `spec` of a parity fixture, `../shared/fixtures/parity/README.md`).

use serde::Deserialize;

use crate::error::{ResnetError, Result};
use crate::nn::BatchNormConfig;

/// The residual unit repeated in every stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// Two 3×3 convs (He et al. 2015, Fig. 5 left), expansion 1.
    Basic,
    /// 1×1 → 3×3 → 1×1 (He et al. 2015, Fig. 5 right), expansion 4.
    Bottleneck,
    /// A basic block with no shortcut at all: the "plain" baselines of He et al. 2015, §4.1.
    Plain,
    /// Pre-activation basic block, BN → ReLU → conv twice (He et al. 2016, Fig. 4e).
    PreActBasic,
    /// Pre-activation bottleneck (He et al. 2016), expansion 4.
    PreActBottleneck,
}

impl BlockKind {
    /// Output channels per unit of stage width: 4 for bottlenecks, 1 otherwise.
    pub fn expansion(self) -> usize {
        match self {
            BlockKind::Bottleneck | BlockKind::PreActBottleneck => 4,
            _ => 1,
        }
    }

    /// Whether the block is pre-activation (He et al. 2016).
    pub fn is_pre_activation(self) -> bool {
        matches!(self, BlockKind::PreActBasic | BlockKind::PreActBottleneck)
    }
}

/// The layers before the first stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stem {
    /// 7×7 stride-2 pad-3 conv, BN, ReLU, 3×3 stride-2 pad-1 max-pool (He et al. 2015, Table 1).
    ImageNet,
    /// 3×3 stride-1 pad-1 conv, BN, ReLU (He et al. 2015, §4.2). Pre-activation networks keep
    /// only the conv: the first block's pre-activation normalises it.
    Cifar,
}

/// How a block's shortcut matches the residual branch's shape (He et al. 2015, §3.3, §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShortcutKind {
    /// Parameter-free: subsample by the stride, append zero channels.
    A,
    /// 1×1 conv + BN where the shape changes, identity elsewhere.
    B,
    /// 1×1 conv + BN on every block.
    C,
}

/// Which conv of a bottleneck carries the stride.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrideOn {
    /// The 3×3 (torchvision's "ResNet v1.5", the seed's choice).
    ThreeByThree,
    /// The first 1×1 (the paper's v1).
    OneByOne,
}

/// Module structure and state names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// torchvision's: `conv1`, `bn1`, `layer1.0.conv1`, `layer2.0.downsample.0`, `fc`.
    Torchvision,
    /// The seed's `ResNet` class: `conv1.0`, `conv2_blocks.0.residual.0`,
    /// `conv3_blocks.0.shortcut.0`, `classifier`; bias on the stem conv and on projection convs.
    Seed,
}

/// The most parameters a network may have: 2³¹, 8 GiB of `f32` weights before their gradients
/// and momentum (the largest preset, `resnet152`, has 60 million). [`ResNetConfig::validate`]
/// refuses more, so that a configuration read from a file (a checkpoint whose stored widths
/// lie) cannot make the builders allocate terabytes.
pub const MAX_PARAMETERS: usize = 1 << 31;

/// A residual (or plain) network's architecture.
#[derive(Debug, Clone, PartialEq)]
pub struct ResNetConfig {
    pub block: BlockKind,
    /// Blocks per stage, e.g. `[3, 4, 6, 3]`.
    pub layers: Vec<usize>,
    /// Base width of each stage; a stage outputs `width × expansion` channels.
    pub widths: Vec<usize>,
    pub stem: Stem,
    pub stem_width: usize,
    pub in_channels: usize,
    pub num_classes: usize,
    pub shortcut: ShortcutKind,
    pub stride_on: StrideOn,
    pub batch_norm: BatchNormConfig,
    /// γ = 0 for the last BN of every residual branch (Goyal et al. 2017).
    pub zero_init_residual: bool,
    pub layout: Layout,
}

impl ResNetConfig {
    /// Checks that the configuration can build a network.
    pub fn validate(&self) -> Result<()> {
        let fail = |message: String| Err(ResnetError::config(message));
        if self.layers.is_empty() || self.layers.len() != self.widths.len() {
            return fail(format!(
                "layers {:?} and widths {:?} must be non-empty and of equal length",
                self.layers, self.widths
            ));
        }
        if self.widths.contains(&0) || self.stem_width == 0 || self.in_channels == 0 {
            return fail("widths, stem width and input channels must be positive".into());
        }
        if self.num_classes == 0 {
            return fail("num_classes must be positive".into());
        }
        if !(0.0..=1.0).contains(&self.batch_norm.momentum) || self.batch_norm.eps <= 0.0 {
            return fail(format!(
                "batch norm needs 0 ≤ momentum ≤ 1 and ε > 0, got {:?}",
                self.batch_norm
            ));
        }
        if self.layout == Layout::Seed && self.block.is_pre_activation() {
            return fail("the seed layout has no pre-activation blocks".into());
        }
        // Before anything multiplies the widths (the option-A check below, the builders):
        // a configuration read from a file can claim any size.
        match self.parameter_count() {
            Some(count) if count <= MAX_PARAMETERS => {}
            count => {
                return fail(format!(
                    "layers {:?} with widths {:?} (stem width {}, {} input channels, {} classes) \
                     describe a network of {} parameters; at most {MAX_PARAMETERS} (2^31) are \
                     allowed",
                    self.layers,
                    self.widths,
                    self.stem_width,
                    self.in_channels,
                    self.num_classes,
                    count.map_or("more than usize::MAX".into(), |c| c.to_string()),
                ))
            }
        }
        if self.shortcut == ShortcutKind::A {
            let mut channels = self.stem_width;
            for width in &self.widths {
                let out = width * self.block.expansion();
                if out < channels {
                    return fail(format!(
                        "option-A shortcuts cannot reduce channels ({channels} → {out})"
                    ));
                }
                channels = out;
            }
        }
        Ok(())
    }

    /// Number of parameters (conv and linear weights and biases, batch-norm γ and β; not the
    /// running statistics) of the network this configuration builds, computed without building
    /// it; `None` if it overflows `usize`.
    ///
    /// ```
    /// use unravel_resnet::presets::{config, PresetOptions};
    /// assert_eq!(config("resnet20", &PresetOptions::default())?.parameter_count(), Some(269_722));
    /// # Ok::<(), unravel_resnet::ResnetError>(())
    /// ```
    pub fn parameter_count(&self) -> Option<usize> {
        let seed = self.layout == Layout::Seed;
        let kernel = match self.stem {
            Stem::ImageNet => 7,
            Stem::Cifar => 3,
        };
        let stem_bn = seed || !(self.block.is_pre_activation() && self.stem == Stem::Cifar);
        let mut total = sum(&[
            conv(self.in_channels, self.stem_width, kernel, seed),
            if stem_bn {
                bn(self.stem_width)
            } else {
                Some(0)
            },
        ])?;
        let mut channels = self.stem_width;
        for (stage, (&blocks, &width)) in self.layers.iter().zip(&self.widths).enumerate() {
            if blocks == 0 {
                continue;
            }
            let out = width.checked_mul(self.block.expansion())?;
            let first = self.block_parameters(channels, width, if stage > 0 { 2 } else { 1 })?;
            let rest = self.block_parameters(out, width, 1)?;
            total = sum(&[Some(total), Some(first), rest.checked_mul(blocks - 1)])?;
            channels = out;
        }
        let final_bn = if self.block.is_pre_activation() {
            bn(channels)
        } else {
            Some(0)
        };
        sum(&[
            Some(total),
            final_bn,
            conv(channels, self.num_classes, 1, true),
        ])
    }

    /// Parameters of one block of base width `width` taking `in_channels` channels.
    fn block_parameters(&self, in_channels: usize, width: usize, stride: usize) -> Option<usize> {
        let (i, w) = (in_channels, width);
        let out = w.checked_mul(self.block.expansion())?;
        let branch = match self.block {
            BlockKind::Basic | BlockKind::Plain => {
                sum(&[conv(i, w, 3, false), bn(w), conv(w, w, 3, false), bn(w)])
            }
            BlockKind::Bottleneck => sum(&[
                conv(i, w, 1, false),
                bn(w),
                conv(w, w, 3, false),
                bn(w),
                conv(w, out, 1, false),
                bn(out),
            ]),
            BlockKind::PreActBasic => {
                sum(&[bn(i), conv(i, w, 3, false), bn(w), conv(w, w, 3, false)])
            }
            BlockKind::PreActBottleneck => sum(&[
                bn(i),
                conv(i, w, 1, false),
                bn(w),
                conv(w, w, 3, false),
                bn(w),
                conv(w, out, 1, false),
            ]),
        };
        let projection = self.block != BlockKind::Plain
            && match self.shortcut {
                ShortcutKind::A => false,
                ShortcutKind::B => stride != 1 || i != out,
                ShortcutKind::C => true,
            };
        let shortcut = match (projection, self.block.is_pre_activation()) {
            (false, _) => Some(0),
            // A pre-activation block's projection is a bare 1×1 conv.
            (true, true) => conv(i, out, 1, self.layout == Layout::Seed),
            (true, false) => sum(&[conv(i, out, 1, self.layout == Layout::Seed), bn(out)]),
        };
        sum(&[branch, shortcut])
    }

    /// Parses a fixture's `spec` and `bn` JSON (see `../shared/fixtures/parity/README.md`).
    ///
    /// ```
    /// use unravel_resnet::config::{BlockKind, ResNetConfig};
    /// let spec = r#"{"block": "basic", "layers": [3, 3, 3], "widths": [16, 32, 64],
    ///     "stem": "cifar", "stem_width": 16, "in_channels": 3, "num_classes": 10,
    ///     "shortcut": "A", "stride_on": "3x3"}"#;
    /// let config = ResNetConfig::from_spec_json(spec, Some(r#"{"eps": 1e-05, "momentum": 0.1}"#))?;
    /// assert_eq!(config.block, BlockKind::Basic);
    /// assert_eq!(config.layers, vec![3, 3, 3]);
    /// # Ok::<(), unravel_resnet::ResnetError>(())
    /// ```
    pub fn from_spec_json(spec: &str, batch_norm: Option<&str>) -> Result<Self> {
        let spec: Spec =
            serde_json::from_str(spec).map_err(|e| ResnetError::config(format!("spec: {e}")))?;
        let block = match spec.block.as_str() {
            "basic" => BlockKind::Basic,
            "bottleneck" => BlockKind::Bottleneck,
            "plain" => BlockKind::Plain,
            "preact_basic" | "preact-basic" => BlockKind::PreActBasic,
            "preact_bottleneck" | "preact-bottleneck" => BlockKind::PreActBottleneck,
            other => {
                return Err(ResnetError::config(format!(
                    "spec: unknown block `{other}`"
                )))
            }
        };
        let stem = match spec.stem.as_str() {
            "imagenet" => Stem::ImageNet,
            "cifar" => Stem::Cifar,
            other => return Err(ResnetError::config(format!("spec: unknown stem `{other}`"))),
        };
        let shortcut = match spec.shortcut.as_str() {
            "A" | "a" => ShortcutKind::A,
            "B" | "b" => ShortcutKind::B,
            "C" | "c" => ShortcutKind::C,
            other => {
                return Err(ResnetError::config(format!(
                    "spec: unknown shortcut `{other}`"
                )))
            }
        };
        let stride_on = match spec.stride_on.as_deref().unwrap_or("3x3") {
            "3x3" => StrideOn::ThreeByThree,
            "1x1" => StrideOn::OneByOne,
            other => {
                return Err(ResnetError::config(format!(
                    "spec: unknown stride_on `{other}`"
                )))
            }
        };
        let batch_norm = match batch_norm {
            Some(text) => {
                let bn: BnSpec = serde_json::from_str(text)
                    .map_err(|e| ResnetError::config(format!("bn: {e}")))?;
                BatchNormConfig {
                    eps: bn.eps,
                    momentum: bn.momentum,
                }
            }
            None => BatchNormConfig::default(),
        };
        let config = ResNetConfig {
            block,
            layers: spec.layers,
            widths: spec.widths,
            stem,
            stem_width: spec.stem_width,
            in_channels: spec.in_channels,
            num_classes: spec.num_classes,
            shortcut,
            stride_on,
            batch_norm,
            zero_init_residual: false,
            layout: Layout::Torchvision,
        };
        config.validate()?;
        Ok(config)
    }
}

/// Parameters of a `k`×`k` conv from `i` to `o` channels, with a bias or not.
fn conv(i: usize, o: usize, k: usize, bias: bool) -> Option<usize> {
    i.checked_mul(o)?
        .checked_mul(k * k)?
        .checked_add(if bias { o } else { 0 })
}

/// Parameters of a batch norm over `c` channels (γ and β).
fn bn(c: usize) -> Option<usize> {
    c.checked_mul(2)
}

/// The checked sum of `parts` (`None` if any is `None` or the sum overflows).
fn sum(parts: &[Option<usize>]) -> Option<usize> {
    parts
        .iter()
        .try_fold(0usize, |total, &part| total.checked_add(part?))
}

#[derive(Deserialize)]
struct Spec {
    block: String,
    layers: Vec<usize>,
    widths: Vec<usize>,
    stem: String,
    stem_width: usize,
    in_channels: usize,
    num_classes: usize,
    shortcut: String,
    stride_on: Option<String>,
}

#[derive(Deserialize)]
struct BnSpec {
    eps: f64,
    momentum: f64,
}
