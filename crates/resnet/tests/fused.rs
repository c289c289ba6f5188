//! The fused residual join `relu(F(x) + shortcut(x))` (one `add_relu` node) and the fused batch
//! norm + ReLU inside the module chains (one `batch_norm_{train,eval}_relu` node) against the
//! same networks forced onto the unfused ops: logits, loss, every parameter gradient, the
//! running statistics and the input gradient agree bit for bit, in train and eval mode, under
//! every gradient route (Veit et al.'s path experiments), for basic and bottleneck blocks,
//! pre-activation and plain networks, option-A and projection shortcuts, the seed layout and
//! scaled branches (`--active-blocks`); lesioned and plain blocks do not fuse their join; and
//! the tape shows that every fusable site was fused.

use unravel_autograd::Var;
use unravel_autograd::{GradientRoute, Tape};
use unravel_resnet::config::{BlockKind, Layout, ResNetConfig, ShortcutKind, Stem, StrideOn};
use unravel_resnet::nn::{
    named_gradients, BatchNorm2d, BatchNormConfig, Context, Conv2d, Mode, Module, Named, ReLU,
    Sequential, StateRef, StateVisitor, StateVisitorMut,
};
use unravel_resnet::summary::Trace;
use unravel_resnet::ResNet;
use unravel_resnet::Result as ResnetResult;
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

/// The model of `config` (seed 0), with only its blocks' output ReLUs hidden when `unfused`
/// (the batch norms still fuse with their ReLUs, in both).
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

/// The model of `config` (seed 0); when `unfused`, with its blocks' output ReLUs and every ReLU
/// that follows a batch norm in a module chain hidden in a `Sequential` (ReLU has no state, so
/// the state names do not change), so nothing can fuse them (`Module::is_relu` is false for a
/// wrapper). Also returns how many ReLUs were hidden: (output ReLUs, ReLUs after a batch norm).
/// The seed layout's chains sit inside `Sequential`s, out of reach here: only its join is
/// unfused (its batch norms fuse in both models; `sequential_chains_fuse` covers them).
fn unfused_model<E: Float>(config: &ResNetConfig) -> (ResNet<E>, usize, usize) {
    let mut model = ResNet::<E>::new(config, 0).unwrap();
    let (mut outputs, mut after_bn) = (0, 0);
    after_bn += hide_relus_after_batch_norms(&mut model.features);
    for block in model.blocks_mut() {
        if let Some(output) = &mut block.output {
            *output = Named::new("relu", Sequential::new().push(ReLU));
            outputs += 1;
        }
        after_bn += hide_relus_after_batch_norms(&mut block.pre_activation);
        after_bn += hide_relus_after_batch_norms(&mut block.branch);
    }
    (model, outputs, after_bn)
}

/// Wraps each ReLU that directly follows a batch norm in `chain`; returns how many.
fn hide_relus_after_batch_norms<E: Float>(chain: &mut [Named<E>]) -> usize {
    let mut hidden = 0;
    for index in 1..chain.len() {
        if chain[index - 1].module.kind() == "BatchNorm2d" && chain[index].module.is_relu() {
            chain[index].module = Box::new(Sequential::new().push(ReLU));
            hidden += 1;
        }
    }
    hidden
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
    let (mut unfused_model, outputs, after_bn) = unfused_model::<E>(config);
    let (unfused, nodes) = step(&mut unfused_model, mode, routes);
    assert_eq!(fused.len(), unfused.len(), "{what}: entries");
    for ((name, a), (other, b)) in fused.iter().zip(&unfused) {
        assert_eq!(name, other, "{what}");
        assert!(a == b, "{what}: {name} differs between fused and unfused");
    }
    // Each post-activation block records one add_relu node instead of an add and a relu, each
    // batch norm followed by a ReLU one batch_norm_*_relu node instead of two.
    let joins = if has_fused_join(config) { 4 } else { 0 };
    let expected_outputs = if config.block.is_pre_activation() {
        0
    } else {
        4
    };
    assert_eq!(outputs, expected_outputs, "{what}: output ReLUs");
    if config.layout == Layout::Torchvision {
        // The stem (unless pre-activation) and at least one per block.
        assert!(
            after_bn >= 4,
            "{what}: only {after_bn} batch norms before a ReLU"
        );
    }
    assert_eq!(
        fused_nodes + joins + after_bn,
        nodes,
        "{what}: the fused path was not taken"
    );
}

/// Whether the blocks of `config` end in a fusable add + ReLU (post-activation, with a skip).
fn has_fused_join(config: &ResNetConfig) -> bool {
    matches!(config.block, BlockKind::Basic | BlockKind::Bottleneck)
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
        (
            "pre-activation basic, option B",
            tiny(BlockKind::PreActBasic, ShortcutKind::B, Layout::Torchvision),
        ),
        (
            "pre-activation bottleneck, option C",
            tiny(
                BlockKind::PreActBottleneck,
                ShortcutKind::C,
                Layout::Torchvision,
            ),
        ),
        (
            "plain",
            tiny(BlockKind::Plain, ShortcutKind::B, Layout::Torchvision),
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

/// A wrapper around a batch norm that records its output, as the `analyze responses` probe
/// does: it reports the batch norm's kind but is not the batch norm itself.
struct Recorder<E: Float> {
    inner: BatchNorm2d<E>,
    seen: std::rc::Rc<std::cell::RefCell<Vec<f64>>>,
}

impl<E: Float> Module<E> for Recorder<E> {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
    fn forward(&mut self, context: &mut Context<E>, input: &Var<E>) -> ResnetResult<Var<E>> {
        let y = self.inner.forward(context, input)?;
        let values = y.value().to_vec().iter().map(|v| v.to_f64()).collect();
        *self.seen.borrow_mut() = values;
        Ok(y)
    }
    fn visit_state(&self, prefix: &str, visitor: &mut StateVisitor<'_, E>) {
        self.inner.visit_state(prefix, visitor);
    }
    fn visit_state_mut(&mut self, prefix: &str, visitor: &mut StateVisitorMut<'_, E>) {
        self.inner.visit_state_mut(prefix, visitor);
    }
    fn trace(&self, input_shape: &[usize], trace: &mut Trace) -> ResnetResult<Vec<usize>> {
        self.inner.trace(input_shape, trace)
    }
}

/// `[conv, bn, relu, conv, bn, relu]` (seed 3), the second batch norm wrapped in a `Recorder`
/// when `record`, the ReLUs wrapped when `hide`.
fn chain(record: bool, hide: bool) -> (Sequential<f64>, std::rc::Rc<std::cell::RefCell<Vec<f64>>>) {
    let mut rng = Rng::seed_from(3);
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let relu = || -> Box<dyn Module<f64>> {
        if hide {
            Box::new(Sequential::new().push(ReLU))
        } else {
            Box::new(ReLU)
        }
    };
    let mut chain = Sequential::new();
    chain.push_boxed(Box::new(Conv2d::new(2, 3, 3, 1, 1, false, &mut rng)));
    chain.push_boxed(Box::new(BatchNorm2d::new(3, BatchNormConfig::default())));
    chain.push_boxed(relu());
    chain.push_boxed(Box::new(Conv2d::new(3, 3, 3, 1, 1, false, &mut rng)));
    let bn = BatchNorm2d::new(3, BatchNormConfig::default());
    if record {
        let seen = seen.clone();
        chain.push_boxed(Box::new(Recorder { inner: bn, seen }));
    } else {
        chain.push_boxed(Box::new(bn));
    }
    chain.push_boxed(relu());
    (chain, seen)
}

/// One step of `chain` in `mode`: (output, input gradient, named gradients, state), node count.
fn chain_step(chain: &mut Sequential<f64>, mode: Mode) -> (Vec<(String, Vec<u64>)>, usize) {
    let images = Tensor::<f64>::randn(&[3, 2, 5, 4], 0.0, 1.0, &mut Rng::seed_from(8));
    let tape = Tape::new();
    let input = tape.leaf(images);
    let mut context = Context::new(&tape, mode);
    let y = chain.forward(&mut context, &input).unwrap();
    let weights = Tensor::<f64>::randn(y.shape(), 0.0, 1.0, &mut Rng::seed_from(9));
    let loss = y.mul(&tape.constant(weights)).unwrap().sum_all().unwrap();
    let nodes = tape.len();
    let gradients = tape.backward(&loss).unwrap();
    let bits = |t: &Tensor<f64>| t.to_vec().iter().map(|v| v.to_bits()).collect();
    let mut out = vec![
        ("output".to_string(), bits(y.value())),
        ("input".to_string(), bits(gradients.get(&input).unwrap())),
    ];
    for (name, gradient) in named_gradients(chain, &context.parameter_gradients(&gradients)) {
        out.push((name, bits(&gradient)));
    }
    chain.visit_state("", &mut |name, entry| {
        if let StateRef::Buffer(buffer) = entry {
            out.push((name.to_string(), bits(buffer)));
        }
    });
    (out, nodes)
}

#[test]
fn sequential_chains_fuse() {
    for mode in [Mode::Train, Mode::Eval] {
        let (fused, fused_nodes) = chain_step(&mut chain(false, false).0, mode);
        let (unfused, nodes) = chain_step(&mut chain(false, true).0, mode);
        assert!(
            fused == unfused,
            "{mode:?}: fused and unfused chains differ"
        );
        assert_eq!(fused_nodes + 2, nodes, "{mode:?}: both batch norms fuse");
        // Two training steps in a row: the running statistics keep updating identically.
        let (mut a, mut b) = (chain(false, false).0, chain(false, true).0);
        chain_step(&mut a, Mode::Train);
        chain_step(&mut b, Mode::Train);
        assert!(
            chain_step(&mut a, mode).0 == chain_step(&mut b, mode).0,
            "{mode:?}: 2 steps"
        );
    }
}

#[test]
fn a_wrapped_batch_norm_steps_aside() {
    for mode in [Mode::Train, Mode::Eval] {
        let (mut recorded, seen) = chain(true, false);
        let (result, nodes) = chain_step(&mut recorded, mode);
        let (fused, fused_nodes) = chain_step(&mut chain(false, false).0, mode);
        // The wrapped batch norm runs unfused (one node more), with the same results.
        assert_eq!(
            nodes,
            fused_nodes + 1,
            "{mode:?}: the wrapper was fused through"
        );
        assert!(
            result == fused,
            "{mode:?}: the wrapped chain computes something else"
        );
        // The wrapper saw the batch norm's output before the ReLU: negatives included.
        assert!(
            seen.borrow().iter().any(|&v| v < 0.0),
            "{mode:?}: saw no negatives"
        );
    }
}
