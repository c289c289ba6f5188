//! The fused residual join `relu(F(x) + shortcut(x))` (one `add_relu` node) against the same
//! networks forced onto the unfused add and ReLU: logits, loss, every parameter gradient, the
//! running statistics and the input gradient agree bit for bit, in train and eval mode, under
//! every gradient route (Veit et al.'s path experiments), for basic and bottleneck blocks,
//! option-A and projection shortcuts, the seed layout and scaled branches (`--active-blocks`);
//! and lesioned and plain blocks are unaffected.

use unravel_autograd::{GradientRoute, Tape};
use unravel_resnet::config::{BlockKind, Layout, ResNetConfig, ShortcutKind, Stem, StrideOn};
use unravel_resnet::nn::{
    named_gradients, BatchNormConfig, Context, Mode, Module, Named, ReLU, Sequential, StateRef,
};
use unravel_resnet::ResNet;
use unravel_tensor::ops::softmax::Reduction;
use unravel_tensor::{Float, Rng, Tensor};

fn tiny(block: BlockKind, shortcut: ShortcutKind, layout: Layout) -> ResNetConfig {
    ResNetConfig {
        block,
        layers: vec![2, 2],
        widths: vec![3, 4],
        stem: Stem::Cifar,
        stem_width: 3,
        in_channels: 2,
        num_classes: 5,
        shortcut,
        stride_on: StrideOn::ThreeByThree,
        batch_norm: BatchNormConfig::default(),
        zero_init_residual: false,
        layout,
    }
}

/// The model of `config` (seed 0), with its blocks' output ReLUs hidden in a `Sequential` when
/// `unfused`, so the block cannot fuse them (`Module::is_relu` is false for a wrapper).
fn model<E: Float>(config: &ResNetConfig, unfused: bool) -> ResNet<E> {
    let mut model = ResNet::<E>::new(config, 0).unwrap();
    if unfused {
        for block in model.blocks_mut() {
            if let Some(output) = &mut block.output {
                *output = Named::new("relu", Sequential::new().push(ReLU));
            }
        }
    }
    model
}

/// Everything a training step computes, as bit patterns: loss, logits, input gradient, named
/// parameter gradients, and the state after the step's forward (running statistics); plus the
/// number of tape nodes.
fn step<E: Float>(
    model: &mut ResNet<E>,
    mode: Mode,
    routes: &[GradientRoute],
) -> (Vec<(String, Vec<u64>)>, usize) {
    for (block, &route) in model.blocks_mut().into_iter().zip(routes.iter().cycle()) {
        block.route = route;
    }
    let mut rng = Rng::seed_from(5);
    let images = Tensor::<E>::randn(&[4, 2, 9, 9], 0.0, 1.0, &mut rng);
    let tape = Tape::new();
    let input = tape.leaf(images);
    let mut context = Context::new(&tape, mode);
    let logits = model.forward(&mut context, &input).unwrap();
    let loss = logits
        .cross_entropy(&[0, 3, 1, 4], Reduction::Mean)
        .unwrap();
    let nodes = tape.len();
    let gradients = tape.backward(&loss).unwrap();
    let bits = |t: &Tensor<E>| t.to_vec().iter().map(|v| v.to_f64().to_bits()).collect();
    let mut out = vec![
        ("loss".to_string(), bits(loss.value())),
        ("logits".to_string(), bits(logits.value())),
        ("input".to_string(), bits(gradients.get(&input).unwrap())),
    ];
    let parameters = context.parameter_gradients(&gradients);
    for (name, gradient) in named_gradients(model, &parameters) {
        out.push((format!("grad {name}"), bits(&gradient)));
    }
    model.visit_state("", &mut |name, entry| {
        if let StateRef::Buffer(buffer) = entry {
            out.push((name.to_string(), bits(buffer)));
        }
    });
    (out, nodes)
}

#[track_caller]
fn assert_same<E: Float>(config: &ResNetConfig, mode: Mode, routes: &[GradientRoute], what: &str) {
    let (fused, fused_nodes) = step(&mut model::<E>(config, false), mode, routes);
    let (unfused, nodes) = step(&mut model::<E>(config, true), mode, routes);
    assert_eq!(fused.len(), unfused.len(), "{what}: entries");
    for ((name, a), (other, b)) in fused.iter().zip(&unfused) {
        assert_eq!(name, other, "{what}");
        assert!(a == b, "{what}: {name} differs between fused and unfused");
    }
    // Each of the four blocks records one add_relu node instead of an add and a relu.
    assert_eq!(
        fused_nodes + 4,
        nodes,
        "{what}: the fused path was not taken"
    );
}

#[test]
fn fused_blocks_equal_unfused_blocks_bit_for_bit() {
    use GradientRoute::{Both, LeftOnly, RightOnly};
    let configs = [
        (
            "basic, option A",
            tiny(BlockKind::Basic, ShortcutKind::A, Layout::Torchvision),
        ),
        (
            "basic, option B",
            tiny(BlockKind::Basic, ShortcutKind::B, Layout::Torchvision),
        ),
        (
            "bottleneck, option C",
            tiny(BlockKind::Bottleneck, ShortcutKind::C, Layout::Torchvision),
        ),
        (
            "seed layout",
            tiny(BlockKind::Basic, ShortcutKind::B, Layout::Seed),
        ),
    ];
    for (label, config) in &configs {
        for mode in [Mode::Train, Mode::Eval] {
            for routes in [
                &[Both][..],
                &[LeftOnly],
                &[RightOnly],
                &[LeftOnly, RightOnly, Both],
            ] {
                let what = format!("{label}, {mode:?}, routes {routes:?}");
                assert_same::<f64>(config, mode, routes, &format!("f64 {what}"));
            }
        }
        assert_same::<f32>(config, Mode::Train, &[Both], &format!("f32 {label}"));
    }
}

#[test]
fn a_scaled_branch_fuses_after_the_scale() {
    // --active-blocks' test network: y = relu(shortcut(x) + s·F(x)), fused or not.
    let config = tiny(BlockKind::Basic, ShortcutKind::B, Layout::Torchvision);
    let mut fused = model::<f64>(&config, false);
    let mut unfused = model::<f64>(&config, true);
    for model in [&mut fused, &mut unfused] {
        for block in model.blocks_mut() {
            block.branch_scale = 0.4;
        }
    }
    for routes in [&[GradientRoute::Both][..], &[GradientRoute::LeftOnly]] {
        let (a, fused_nodes) = step(&mut fused, Mode::Train, routes);
        let (b, nodes) = step(&mut unfused, Mode::Train, routes);
        assert!(a == b, "routes {routes:?}: fused and unfused differ");
        assert_eq!(fused_nodes + 4, nodes, "routes {routes:?}: not fused");
    }
}

#[test]
fn lesioned_and_plain_blocks_do_not_fuse() {
    // A lesioned block computes relu(shortcut) (no add); plain blocks have no shortcut.
    for (kind, lesion) in [(BlockKind::Basic, true), (BlockKind::Plain, false)] {
        let config = tiny(kind, ShortcutKind::B, Layout::Torchvision);
        let mut fused = model::<f64>(&config, false);
        let mut unfused = model::<f64>(&config, true);
        for model in [&mut fused, &mut unfused] {
            for block in model.blocks_mut() {
                block.lesioned = lesion;
            }
        }
        let (a, fused_nodes) = step(&mut fused, Mode::Train, &[GradientRoute::Both]);
        let (b, nodes) = step(&mut unfused, Mode::Train, &[GradientRoute::Both]);
        assert!(a == b, "{kind:?}: fused and unfused differ");
        assert_eq!(fused_nodes, nodes, "{kind:?}: nothing to fuse");
    }
}
