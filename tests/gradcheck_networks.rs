//! Whole-network gradient checks in f64: for small networks of every block kind and shortcut
//! option (train-mode batch norm, a few pixels, few channels), the tape's gradient of the logits
//! with respect to the input and to every parameter tensor (a seeded sample of each one's
//! elements) against five-point central differences (`unravel_autograd::gradcheck`).

use std::cell::RefCell;

use unravel_autograd::gradcheck::{gradcheck, GradcheckOptions};
use unravel_autograd::{AutogradError, Var};
use unravel_resnet::config::{BlockKind, Layout, ResNetConfig, ShortcutKind, Stem, StrideOn};
use unravel_resnet::nn::{BatchNormConfig, Context, Mode, Module, StateRef};
use unravel_resnet::ResNet;
use unravel_tensor::{Rng, Tensor};

fn config(block: BlockKind, shortcut: ShortcutKind, stem: Stem) -> ResNetConfig {
    ResNetConfig {
        block,
        layers: vec![1, 1],
        widths: vec![2, 3],
        stem,
        stem_width: 2,
        in_channels: 2,
        num_classes: 3,
        shortcut,
        stride_on: StrideOn::ThreeByThree,
        batch_norm: BatchNormConfig::default(),
        zero_init_residual: false,
        layout: Layout::Torchvision,
    }
}

fn check(name: &str, config: &ResNetConfig, input_shape: &[usize]) {
    let model = RefCell::new(ResNet::<f64>::new(config, 17).unwrap());
    let mut parameters = Vec::new();
    model.borrow().visit_state("", &mut |name, entry| {
        if let StateRef::Parameter(p) = entry {
            parameters.push((name.to_string(), p.id(), p.value.clone()));
        }
    });
    let input = Tensor::<f64>::randn(input_shape, 0.0, 1.0, &mut Rng::seed_from(29));
    let inputs: Vec<Tensor<f64>> = std::iter::once(input)
        .chain(parameters.iter().map(|(_, _, value)| value.clone()))
        .collect();
    let options = GradcheckOptions {
        // A small step keeps the stencil off ReLU and max-pool kinks; the five-point stencil's
        // rounding error at h = 1e-5 is about 1e-11 here.
        step: 1e-5,
        tolerance: 1e-6,
        max_elements_per_input: Some(6),
        ..GradcheckOptions::default()
    };
    let report = gradcheck(
        |vars: &[Var<f64>]| {
            let mut model = model.borrow_mut();
            let mut context = Context::new(vars[0].tape(), Mode::Train);
            for ((_, id, _), var) in parameters.iter().zip(&vars[1..]) {
                context.override_parameter(*id, var.clone());
            }
            model
                .forward(&mut context, &vars[0])
                .map_err(|e| AutogradError::invalid("resnet forward", e.to_string()))
        },
        &inputs,
        &options,
    )
    .unwrap();
    let worst = report.worst.as_ref().map(|w| {
        parameters
            .get(w.input.wrapping_sub(1))
            .map_or("input", |p| p.0.as_str())
    });
    eprintln!(
        "{name}: {report} (worst in {worst:?}, {} parameter tensors)",
        parameters.len()
    );
    assert!(report.passed, "{name}: {report} (worst in {worst:?})");
    assert_eq!(
        report.elements_checked,
        inputs.iter().map(|t| t.numel().min(6)).sum::<usize>()
    );
}

#[test]
fn basic_blocks_with_every_shortcut() {
    for shortcut in [ShortcutKind::A, ShortcutKind::B, ShortcutKind::C] {
        check(
            &format!("basic {shortcut:?}"),
            &config(BlockKind::Basic, shortcut, Stem::Cifar),
            &[2, 2, 6, 6],
        );
    }
}

#[test]
fn bottleneck_blocks_with_either_stride_position_and_the_imagenet_stem() {
    for (shortcut, stride_on) in [
        (ShortcutKind::B, StrideOn::ThreeByThree),
        (ShortcutKind::C, StrideOn::OneByOne),
        (ShortcutKind::A, StrideOn::ThreeByThree),
    ] {
        let mut config = config(BlockKind::Bottleneck, shortcut, Stem::ImageNet);
        config.stride_on = stride_on;
        check(
            &format!("bottleneck {shortcut:?} {stride_on:?}"),
            &config,
            &[2, 2, 12, 12],
        );
    }
}

#[test]
fn plain_blocks() {
    check(
        "plain",
        &config(BlockKind::Plain, ShortcutKind::A, Stem::Cifar),
        &[2, 2, 6, 6],
    );
}

#[test]
fn pre_activation_blocks() {
    check(
        "preact basic B",
        &config(BlockKind::PreActBasic, ShortcutKind::B, Stem::Cifar),
        &[2, 2, 6, 6],
    );
    check(
        "preact basic A",
        &config(BlockKind::PreActBasic, ShortcutKind::A, Stem::Cifar),
        &[2, 2, 6, 6],
    );
    check(
        "preact bottleneck C",
        &config(BlockKind::PreActBottleneck, ShortcutKind::C, Stem::Cifar),
        &[2, 2, 6, 6],
    );
}

#[test]
fn the_seed_layout_with_biased_convs() {
    let mut config = config(BlockKind::Bottleneck, ShortcutKind::B, Stem::ImageNet);
    config.layout = Layout::Seed;
    check("seed bottleneck", &config, &[2, 2, 12, 12]);
    let mut config = self::config(BlockKind::Basic, ShortcutKind::B, Stem::ImageNet);
    config.layout = Layout::Seed;
    check("seed basic", &config, &[2, 2, 12, 12]);
}
