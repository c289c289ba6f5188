//! Named architectures: every network of He et al. 2015 (Tables 1 and 6), the pre-activation
//! networks of He et al. 2016 that Veit et al. 2016 lesion, and the seed's own model.
//!
//! | name | block | blocks per stage | widths | stem | shortcut |
//! |---|---|---|---|---|---|
//! | `resnet18` `resnet34` | basic | 2222, 3463 | 64–512 | ImageNet | B |
//! | `resnet50` `resnet101` `resnet152` | bottleneck (v1.5) | 3463, 3 4 23 3, 3 8 36 3 | 64–512 | ImageNet | B |
//! | `plain18` `plain34` | plain | 2222, 3463 | 64–512 | ImageNet | none |
//! | `resnet20` … `resnet1202` | basic | n n n, n = (depth − 2)/6 | 16 32 64 | CIFAR | A |
//! | `plain20` … `plain110` | plain | n n n | 16 32 64 | CIFAR | none |
//! | `preact-resnet20` `preact-resnet56` `preact-resnet110` | pre-act basic | n n n, n = (depth − 2)/6 | 16 32 64 | CIFAR | B |
//! | `preact-resnet164` | pre-act bottleneck | 18 18 18 | 16 32 64 (×4) | CIFAR | B |
//! | `seed-resnet34` | basic | 3463 | 64–512 | seed layout | B, biased |
//! | `seed-resnet101` `seed-resnet152` | bottleneck | 3 4 23 3, 3 8 36 3 | 64–512 | seed layout | B, biased |
//!
//! The seed presets keep the seed's quirks: a bias on the stem conv and on every projection
//! conv, the stride on the 3×3, γ = 0 for the last BN of every residual branch, and the seed's
//! module names (`conv2_blocks.0.residual.0.weight`).

use crate::config::{BlockKind, Layout, ResNetConfig, ShortcutKind, Stem, StrideOn};
use crate::error::{ResnetError, Result};
use crate::network::ResNet;
use crate::nn::BatchNormConfig;
use unravel_tensor::Float;

/// Every preset name, in the order `unravel presets` lists them.
pub const NAMES: &[&str] = &[
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "plain18",
    "plain34",
    "resnet20",
    "resnet32",
    "resnet44",
    "resnet56",
    "resnet110",
    "resnet1202",
    "plain20",
    "plain32",
    "plain44",
    "plain56",
    "plain110",
    "preact-resnet20",
    "preact-resnet56",
    "preact-resnet110",
    "preact-resnet164",
    "seed-resnet34",
    "seed-resnet101",
    "seed-resnet152",
];

/// Changes to a preset (anything left `None` keeps the preset's value).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PresetOptions {
    /// Base width of each stage (as many as the preset has stages).
    pub widths: Option<Vec<usize>>,
    /// Stem output channels (default: the first stage's width).
    pub stem_width: Option<usize>,
    /// Image channels (1 for Fashion-MNIST).
    pub in_channels: Option<usize>,
    pub num_classes: Option<usize>,
    pub zero_init_residual: Option<bool>,
    pub shortcut: Option<ShortcutKind>,
}

/// The architecture of preset `name`, with `options` applied.
///
/// ```
/// use unravel_resnet::presets::{config, PresetOptions};
/// let options = PresetOptions { in_channels: Some(1), ..Default::default() };
/// let cifar = config("resnet56", &options)?;
/// assert_eq!(cifar.layers, vec![9, 9, 9]);
/// assert_eq!(cifar.in_channels, 1);
/// # Ok::<(), unravel_resnet::ResnetError>(())
/// ```
pub fn config(name: &str, options: &PresetOptions) -> Result<ResNetConfig> {
    let imagenet = |block, layers: &[usize]| ResNetConfig {
        block,
        layers: layers.to_vec(),
        widths: vec![64, 128, 256, 512],
        stem: Stem::ImageNet,
        stem_width: 64,
        in_channels: 3,
        num_classes: 1000,
        shortcut: ShortcutKind::B,
        stride_on: StrideOn::ThreeByThree,
        batch_norm: BatchNormConfig::default(),
        zero_init_residual: false,
        layout: Layout::Torchvision,
    };
    let cifar = |block, n: usize, shortcut| ResNetConfig {
        block,
        layers: vec![n; 3],
        widths: vec![16, 32, 64],
        stem: Stem::Cifar,
        stem_width: 16,
        in_channels: 3,
        num_classes: 10,
        shortcut,
        stride_on: StrideOn::ThreeByThree,
        batch_norm: BatchNormConfig::default(),
        zero_init_residual: false,
        layout: Layout::Torchvision,
    };
    let seed = |block, layers: &[usize]| ResNetConfig {
        zero_init_residual: true,
        layout: Layout::Seed,
        ..imagenet(block, layers)
    };
    let cifar_depth = |prefix: &str| -> Option<usize> {
        let depth: usize = name.strip_prefix(prefix)?.parse().ok()?;
        matches!(depth, 20 | 32 | 44 | 56 | 110 | 1202).then_some((depth - 2) / 6)
    };
    let mut config = match name {
        "resnet18" => imagenet(BlockKind::Basic, &[2, 2, 2, 2]),
        "resnet34" => imagenet(BlockKind::Basic, &[3, 4, 6, 3]),
        "resnet50" => imagenet(BlockKind::Bottleneck, &[3, 4, 6, 3]),
        "resnet101" => imagenet(BlockKind::Bottleneck, &[3, 4, 23, 3]),
        "resnet152" => imagenet(BlockKind::Bottleneck, &[3, 8, 36, 3]),
        "plain18" => imagenet(BlockKind::Plain, &[2, 2, 2, 2]),
        "plain34" => imagenet(BlockKind::Plain, &[3, 4, 6, 3]),
        "preact-resnet110" => cifar(BlockKind::PreActBasic, 18, ShortcutKind::B),
        "preact-resnet164" => cifar(BlockKind::PreActBottleneck, 18, ShortcutKind::B),
        "seed-resnet34" => seed(BlockKind::Basic, &[3, 4, 6, 3]),
        "seed-resnet101" => seed(BlockKind::Bottleneck, &[3, 4, 23, 3]),
        "seed-resnet152" => seed(BlockKind::Bottleneck, &[3, 8, 36, 3]),
        _ => match (
            cifar_depth("resnet"),
            cifar_depth("plain"),
            cifar_depth("preact-resnet"),
        ) {
            (Some(n), _, _) => cifar(BlockKind::Basic, n, ShortcutKind::A),
            (_, Some(n), _) if n <= 18 => cifar(BlockKind::Plain, n, ShortcutKind::A),
            // Veit et al.'s network at other depths (27 blocks for 56 layers).
            (_, _, Some(n)) if n <= 18 => cifar(BlockKind::PreActBasic, n, ShortcutKind::B),
            _ => {
                return Err(ResnetError::UnknownPreset {
                    name: name.to_string(),
                    known: NAMES.iter().map(|n| n.to_string()).collect(),
                })
            }
        },
    };
    if let Some(widths) = &options.widths {
        if widths.len() != config.layers.len() {
            return Err(ResnetError::config(format!(
                "{name} has {} stages; got {} widths",
                config.layers.len(),
                widths.len()
            )));
        }
        config.widths = widths.clone();
        // Every preset's stem is as wide as its first stage.
        config.stem_width = widths[0];
    }
    if let Some(stem_width) = options.stem_width {
        config.stem_width = stem_width;
    }
    if let Some(in_channels) = options.in_channels {
        config.in_channels = in_channels;
    }
    if let Some(num_classes) = options.num_classes {
        config.num_classes = num_classes;
    }
    if let Some(zero_init) = options.zero_init_residual {
        config.zero_init_residual = zero_init;
    }
    if let Some(shortcut) = options.shortcut {
        config.shortcut = shortcut;
    }
    config.validate()?;
    Ok(config)
}

/// Builds preset `name` with weights drawn from `seed`.
pub fn build<E: Float>(name: &str, options: &PresetOptions, seed: u64) -> Result<ResNet<E>> {
    ResNet::new(&config(name, options)?, seed)
}

/// Number of parameters of the network `config` describes, checked by
/// [`ResNetConfig::validate`] and counted without building it
/// ([`ResNetConfig::parameter_count`]).
///
/// ```
/// use unravel_resnet::presets::{config, parameter_count, PresetOptions};
/// assert_eq!(parameter_count(&config("resnet32", &PresetOptions::default())?)?, 464_154);
/// # Ok::<(), unravel_resnet::ResnetError>(())
/// ```
pub fn parameter_count(config: &ResNetConfig) -> Result<usize> {
    config.validate()?;
    config
        .parameter_count()
        .ok_or_else(|| ResnetError::config("the parameter count overflows usize"))
}
