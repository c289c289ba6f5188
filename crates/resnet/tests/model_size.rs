//! The size of a network from its configuration alone: `ResNetConfig::parameter_count` agrees
//! with the built network for every preset and every block, shortcut, stem and layout, and
//! `validate` (so every builder) refuses a network above `MAX_PARAMETERS` with a typed error
//! before allocating anything.

use unravel_resnet::config::{
    BlockKind, Layout, ResNetConfig, ShortcutKind, Stem, StrideOn, MAX_PARAMETERS,
};
use unravel_resnet::nn::BatchNormConfig;
use unravel_resnet::presets::{self, PresetOptions, NAMES};
use unravel_resnet::{ResNet, ResnetError};

fn built_count(config: &ResNetConfig) -> usize {
    ResNet::<f32>::new(config, 0).unwrap().parameter_count()
}

#[test]
fn parameter_count_matches_every_preset() {
    for &name in NAMES {
        let mut options = PresetOptions {
            in_channels: Some(1),
            num_classes: Some(7),
            ..PresetOptions::default()
        };
        let full = presets::config(name, &options).unwrap();
        if full.widths.len() == 4 {
            // The ImageNet-sized presets at a sixteenth of their width (same structure).
            options.widths = Some(vec![4, 8, 16, 32]);
        }
        let config = presets::config(name, &options).unwrap();
        assert_eq!(
            config.parameter_count(),
            Some(built_count(&config)),
            "{name}"
        );
    }
    let resnet50 = presets::config("resnet50", &PresetOptions::default()).unwrap();
    assert_eq!(resnet50.parameter_count(), Some(25_557_032)); // torchvision's count
}

#[test]
fn parameter_count_matches_every_block_shortcut_stem_and_layout() {
    let blocks = [
        BlockKind::Basic,
        BlockKind::Bottleneck,
        BlockKind::Plain,
        BlockKind::PreActBasic,
        BlockKind::PreActBottleneck,
    ];
    let mut checked = 0;
    for block in blocks {
        for shortcut in [ShortcutKind::A, ShortcutKind::B, ShortcutKind::C] {
            for stem in [Stem::Cifar, Stem::ImageNet] {
                for layout in [Layout::Torchvision, Layout::Seed] {
                    let config = ResNetConfig {
                        block,
                        layers: vec![2, 0, 3],
                        widths: vec![2, 3, 5],
                        stem,
                        stem_width: 2,
                        in_channels: 2,
                        num_classes: 4,
                        shortcut,
                        stride_on: StrideOn::OneByOne,
                        batch_norm: BatchNormConfig::default(),
                        zero_init_residual: false,
                        layout,
                    };
                    // Combinations the builder refuses (option A dropping channels, the seed
                    // layout with pre-activation blocks or option A) have no count to compare.
                    if let Ok(model) = ResNet::<f32>::new(&config, 0) {
                        let count = model.parameter_count();
                        assert_eq!(config.parameter_count(), Some(count), "{config:?}");
                        checked += 1;
                    }
                }
            }
        }
    }
    // 30 torchvision networks, and the seed layout's 3 post-activation blocks with
    // projection shortcuts (B, C) on both stems.
    assert_eq!(checked, 30 + 12, "configurations built");
}

#[test]
fn networks_above_the_limit_are_refused_before_anything_is_allocated() {
    let widths = |w: usize| PresetOptions {
        widths: Some(vec![w; 3]),
        ..PresetOptions::default()
    };
    // resnet20 at width 2048 has about 680 million parameters: allowed (and not built here).
    let allowed = presets::config("resnet20", &widths(2048)).unwrap();
    assert!(allowed.parameter_count().unwrap() <= MAX_PARAMETERS);
    // At width 4096, 2.7 billion: refused. At 2^20, 36 TB of weights: refused, not an abort.
    for width in [1 << 20, usize::MAX / 2, 4096] {
        match presets::build::<f32>("resnet20", &widths(width), 0) {
            Err(ResnetError::Config(message)) => {
                assert!(
                    message.contains("parameters") && message.contains("2^31"),
                    "{message}"
                );
                assert!(message.contains(&format!("{width}")), "{message}");
            }
            Err(other) => panic!("width {width}: expected a configuration error, got {other}"),
            Ok(_) => panic!("width {width}: a network above the limit was built"),
        }
    }
    // A fixture spec claiming 2^60 blocks per stage is refused without counting them one by one.
    let spec = r#"{"block": "basic", "layers": [1152921504606846976], "widths": [16],
        "stem": "cifar", "stem_width": 16, "in_channels": 3, "num_classes": 10,
        "shortcut": "B"}"#;
    let error = ResNetConfig::from_spec_json(spec, None).unwrap_err();
    assert!(error.to_string().contains("parameters"), "{error}");
}
