//! Networks: state names (torchvision's and the seed's), seeded init, forward shapes agreeing
//! with the traced shapes for every block kind and shortcut option, option-A shortcut values,
//! lesions and gradient routes.

use unravel_autograd::{GradientRoute, Tape};
use unravel_resnet::config::{BlockKind, Layout, ResNetConfig, ShortcutKind, Stem, StrideOn};
use unravel_resnet::nn::{BatchNormConfig, Context, Mode, Module, StateRef};
use unravel_resnet::presets::{self, PresetOptions};
use unravel_resnet::summary::Summary;
use unravel_resnet::ResNet;
use unravel_tensor::{Rng, Tensor};

fn names(model: &dyn Module<f32>) -> Vec<String> {
    let mut names = Vec::new();
    model.visit_state("", &mut |name, _| names.push(name.to_string()));
    names
}

fn tiny(block: BlockKind, shortcut: ShortcutKind, stem: Stem, layout: Layout) -> ResNetConfig {
    ResNetConfig {
        block,
        layers: vec![2, 1],
        widths: vec![2, 3],
        stem,
        stem_width: 2,
        in_channels: 2,
        num_classes: 3,
        shortcut,
        stride_on: StrideOn::ThreeByThree,
        batch_norm: BatchNormConfig::default(),
        zero_init_residual: false,
        layout,
    }
}

#[test]
fn resnet18_has_torchvisions_state_dict() {
    let model = presets::build::<f32>("resnet18", &PresetOptions::default(), 0).unwrap();
    let names = names(&model);
    assert_eq!(names.len(), 122); // len(torchvision.models.resnet18().state_dict())
    assert_eq!(
        &names[..6],
        &[
            "conv1.weight",
            "bn1.weight",
            "bn1.bias",
            "bn1.running_mean",
            "bn1.running_var",
            "bn1.num_batches_tracked",
        ]
    );
    for name in [
        "layer2.0.downsample.0.weight",
        "layer2.0.downsample.1.running_var",
        "layer4.1.bn2.bias",
    ] {
        assert!(names.contains(&name.to_string()), "{name}");
    }
    assert_eq!(&names[120..], &["fc.weight", "fc.bias"]);
    assert!(!names.iter().any(|n| n.starts_with("layer1.0.downsample")));
}

#[test]
fn seed_preset_has_the_seeds_names_and_quirks() {
    let model = presets::build::<f32>("seed-resnet152", &PresetOptions::default(), 0).unwrap();
    let mut zero_weights = Vec::new();
    let mut names = Vec::new();
    model.visit_state("", &mut |name, entry| {
        names.push(name.to_string());
        if let StateRef::Parameter(p) = entry {
            if name.ends_with(".weight") && p.value.to_vec().iter().all(|&v| v == 0.0) {
                zero_weights.push(name.to_string());
            }
        }
    });
    for name in [
        "conv1.0.weight",
        "conv1.0.bias",
        "conv1.1.running_mean",
        "conv2_blocks.0.residual.0.weight",
        "conv2_blocks.0.shortcut.0.bias",
        "conv3_blocks.0.shortcut.1.weight",
        "conv5_blocks.2.residual.7.num_batches_tracked",
        "classifier.weight",
    ] {
        assert!(names.contains(&name.to_string()), "{name}");
    }
    // γ = 0 for the last BN (residual.7) of every one of the 50 blocks, and nothing else.
    assert_eq!(zero_weights.len(), 50);
    assert!(zero_weights
        .iter()
        .all(|n| n.ends_with("residual.7.weight")));
}

#[test]
fn same_seed_same_weights() {
    let state = |seed| {
        let model = presets::build::<f64>("resnet20", &PresetOptions::default(), seed).unwrap();
        let mut values = Vec::new();
        model.visit_state("", &mut |_, entry| {
            if let StateRef::Parameter(p) = entry {
                values.extend(p.value.to_vec());
            }
        });
        values
    };
    assert_eq!(state(7), state(7));
    assert_ne!(state(7), state(8));
}

#[test]
fn conv_init_is_kaiming_fan_out_and_bn_is_one_zero() {
    let model = presets::build::<f64>("resnet18", &PresetOptions::default(), 3).unwrap();
    model.visit_state("", &mut |name, entry| {
        let StateRef::Parameter(p) = entry else {
            return;
        };
        let values = p.value.to_vec();
        let shape = p.value.shape();
        if name.starts_with("layer3.0.conv2.weight") {
            let fan_out = (shape[0] * shape[2] * shape[3]) as f64;
            let variance = values.iter().map(|v| v * v).sum::<f64>() / values.len() as f64;
            assert!(
                (variance * fan_out / 2.0 - 1.0).abs() < 0.02,
                "{name}: {variance}"
            );
        }
        if name == "bn1.weight" {
            assert!(values.iter().all(|&v| v == 1.0));
        }
        if name == "bn1.bias" {
            assert!(values.iter().all(|&v| v == 0.0));
        }
        if name == "fc.weight" {
            let bound = 1.0 / 512f64.sqrt();
            assert!(values.iter().all(|v| v.abs() <= bound));
        }
    });
}

#[test]
fn forward_shapes_match_the_trace_for_every_block_and_shortcut() {
    let blocks = [
        BlockKind::Basic,
        BlockKind::Bottleneck,
        BlockKind::Plain,
        BlockKind::PreActBasic,
        BlockKind::PreActBottleneck,
    ];
    let mut rng = Rng::seed_from(5);
    for block in blocks {
        for shortcut in [ShortcutKind::A, ShortcutKind::B, ShortcutKind::C] {
            for stem in [Stem::Cifar, Stem::ImageNet] {
                for stride_on in [StrideOn::ThreeByThree, StrideOn::OneByOne] {
                    let mut config = tiny(block, shortcut, stem, Layout::Torchvision);
                    config.stride_on = stride_on;
                    let mut model = ResNet::<f32>::new(&config, 1).unwrap();
                    let input_shape = [2, 2, 12, 12];
                    let summary = Summary::new(&model, &input_shape, 3).unwrap();
                    let x = Tensor::<f32>::randn(&input_shape, 0.0, 1.0, &mut rng);
                    for mode in [Mode::Train, Mode::Eval] {
                        let tape = Tape::new();
                        let y = model
                            .forward(&mut Context::new(&tape, mode), &tape.constant(x.clone()))
                            .unwrap();
                        assert_eq!(y.shape(), &summary.rows[0].output_shape[..], "{config:?}");
                        assert!(y.value().to_vec().iter().all(|v| v.is_finite()));
                    }
                    assert_eq!(summary.total_params, model.parameter_count());
                }
            }
        }
    }
}

#[test]
fn option_a_shortcut_subsamples_and_appends_zero_channels() {
    use unravel_resnet::nn::ZeroPadShortcut;
    let tape = Tape::<f64>::new();
    let values: Vec<f64> = (0..2 * 3 * 5 * 5).map(|v| v as f64).collect();
    let x = tape.constant(Tensor::from_vec(values, &[2, 3, 5, 5]).unwrap());
    let mut shortcut = ZeroPadShortcut {
        stride: 2,
        extra_channels: 2,
    };
    let y = shortcut
        .forward(&mut Context::new(&tape, Mode::Train), &x)
        .unwrap();
    assert_eq!(y.shape(), &[2, 5, 3, 3]);
    for n in 0..2 {
        for c in 0..5 {
            for i in 0..3 {
                for j in 0..3 {
                    let expected = if c < 3 {
                        x.value().get(&[n, c, 2 * i, 2 * j]).unwrap()
                    } else {
                        0.0
                    };
                    assert_eq!(y.value().get(&[n, c, i, j]).unwrap(), expected);
                }
            }
        }
    }
}

#[test]
fn a_lesioned_identity_block_passes_its_input_through_relu() {
    // Veit et al. (2016): deleting a block leaves its shortcut.
    let mut model = presets::build::<f64>("resnet20", &PresetOptions::default(), 0).unwrap();
    let blocks = model.blocks_mut();
    assert_eq!(blocks.len(), 9);
    let block = model.blocks_mut().into_iter().nth(1).unwrap();
    block.lesioned = true;
    let tape = Tape::<f64>::new();
    let x = Tensor::<f64>::randn(&[2, 16, 8, 8], 0.0, 1.0, &mut Rng::seed_from(2));
    let y = block
        .forward(
            &mut Context::new(&tape, Mode::Eval),
            &tape.constant(x.clone()),
        )
        .unwrap();
    let relu: Vec<f64> = x.to_vec().iter().map(|v| v.max(0.0)).collect();
    assert_eq!(y.value().to_vec(), relu);
}

#[test]
fn a_skip_only_route_sends_no_gradient_into_the_branch() {
    let config = tiny(
        BlockKind::Basic,
        ShortcutKind::B,
        Stem::Cifar,
        Layout::Torchvision,
    );
    let mut model = ResNet::<f64>::new(&config, 0).unwrap();
    for block in model.blocks_mut() {
        block.route = GradientRoute::RightOnly;
    }
    let tape = Tape::<f64>::new();
    let mut context = Context::new(&tape, Mode::Train);
    let x = Tensor::<f64>::randn(&[2, 2, 8, 8], 0.0, 1.0, &mut Rng::seed_from(3));
    let loss = model
        .forward(&mut context, &tape.constant(x))
        .unwrap()
        .sum_all()
        .unwrap();
    let gradients = context.parameter_gradients(&tape.backward(&loss).unwrap());
    let named = unravel_resnet::nn::named_gradients(&model, &gradients);
    // Only the identity path of layer1.1 is used, so its branch gets nothing, while the
    // projection (downsample) of layer2.0 is on the skip path and does.
    assert!(!named.iter().any(|(n, _)| n.starts_with("layer1.1.conv")));
    assert!(named
        .iter()
        .any(|(n, _)| n == "layer2.0.downsample.0.weight"));
    assert!(named.iter().any(|(n, _)| n == "fc.weight"));
}

#[test]
fn invalid_configurations_are_errors() {
    let mut config = tiny(
        BlockKind::Basic,
        ShortcutKind::A,
        Stem::Cifar,
        Layout::Torchvision,
    );
    config.widths = vec![4, 2];
    assert!(ResNet::<f32>::new(&config, 0).is_err()); // option A cannot drop channels
    config.widths = vec![2];
    assert!(ResNet::<f32>::new(&config, 0).is_err());
    let mut config = tiny(
        BlockKind::Basic,
        ShortcutKind::B,
        Stem::Cifar,
        Layout::Torchvision,
    );
    config.batch_norm.momentum = 2.0;
    assert!(ResNet::<f32>::new(&config, 0).is_err());
    let options = PresetOptions {
        widths: Some(vec![1, 2]),
        ..Default::default()
    };
    assert!(presets::build::<f32>("resnet20", &options, 0).is_err());
    // A batch of one 1×1 image cannot be batch-normalised in training mode.
    let mut model = ResNet::<f32>::new(
        &tiny(
            BlockKind::Basic,
            ShortcutKind::B,
            Stem::Cifar,
            Layout::Torchvision,
        ),
        0,
    )
    .unwrap();
    let tape = Tape::new();
    let x = tape.constant(Tensor::ones(&[1, 2, 1, 1]));
    assert!(model
        .forward(&mut Context::new(&tape, Mode::Train), &x)
        .is_err());
    let x = tape.constant(Tensor::ones(&[2, 3, 8, 8]));
    assert!(model
        .forward(&mut Context::new(&tape, Mode::Eval), &x)
        .is_err());
}
