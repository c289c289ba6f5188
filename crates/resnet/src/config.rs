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
