//! Veit et al. 2016 experiments: path counts against brute force, Kendall's τ against a
//! brute-force count, lesioned blocks against their shortcuts, the branch-routed backward
//! against an explicitly built single-path network (f64), copies that leave the original
//! untouched, the active-blocks hook, and typed errors for bad requests.

use approx::assert_relative_eq;
use unravel_autograd::{GradientRoute, Tape};
use unravel_resnet::config::{BlockKind, Layout, ResNetConfig, ShortcutKind, Stem, StrideOn};
use unravel_resnet::ensemble::{
    self, activate_all_blocks, activate_random_blocks, kendall_tau, lesion_each_block,
    lesion_random_blocks, lesioned_copy, paths::enumerate_paths, reorder_random_pairs,
    reordered_copy, LabelledBatch, PathGradientProbe, PathLengths, RandomLesionConfig,
    ReorderConfig,
};
use unravel_resnet::nn::{BatchNormConfig, Context, Mode, Module, StateMut, StateRef};
use unravel_resnet::{ResNet, ResnetError};
use unravel_tensor::ops::softmax::Reduction;
use unravel_tensor::{Rng, Tensor};

/// A tiny CIFAR-style network: 1 input channel, stages of `layers` blocks, widths 2 and 3.
fn tiny_config(block: BlockKind, shortcut: ShortcutKind, layers: &[usize]) -> ResNetConfig {
    ResNetConfig {
        block,
        layers: layers.to_vec(),
        widths: vec![2, 3][..layers.len()].to_vec(),
        stem: Stem::Cifar,
        stem_width: 2,
        in_channels: 1,
        num_classes: 3,
        shortcut,
        stride_on: StrideOn::ThreeByThree,
        batch_norm: BatchNormConfig::default(),
        zero_init_residual: false,
        layout: Layout::Torchvision,
    }
}

/// Random batch-norm parameters and running statistics, so that eval mode is not the identity.
fn randomise_batch_norms<E: unravel_tensor::Float>(model: &mut ResNet<E>, seed: u64) {
    let mut rng = Rng::seed_from(seed);
    model.visit_state_mut("", &mut |name, entry| match entry {
        StateMut::Buffer(buffer) if name.ends_with("running_var") => {
            *buffer = Tensor::rand_uniform(buffer.shape(), 0.5, 2.0, &mut rng);
        }
        StateMut::Buffer(buffer) => {
            *buffer = Tensor::randn(buffer.shape(), 0.0, 0.3, &mut rng);
        }
        StateMut::Parameter(p) if name.contains("bn") => {
            p.value = Tensor::rand_uniform(p.value.shape(), 0.5, 1.5, &mut rng);
        }
        _ => {}
    });
}

fn tiny_model(block: BlockKind, shortcut: ShortcutKind, layers: &[usize]) -> ResNet<f64> {
    let mut model = ResNet::<f64>::new(&tiny_config(block, shortcut, layers), 3).unwrap();
    randomise_batch_norms(&mut model, 4);
    model
}

fn test_set(batches: usize, seed: u64) -> Vec<LabelledBatch<f64>> {
    let mut rng = Rng::seed_from(seed);
    (0..batches)
        .map(|_| {
            let images = Tensor::randn(&[4, 1, 6, 6], 0.0, 1.0, &mut rng);
            let labels = (0..4).map(|_| rng.below(3)).collect();
            LabelledBatch::new(images, labels).unwrap()
        })
        .collect()
}

fn state_snapshot(model: &ResNet<f64>) -> Vec<(String, Vec<f64>, bool)> {
    let mut state = Vec::new();
    model.visit_state("", &mut |name, entry| {
        let (values, trainable) = match entry {
            StateRef::Parameter(p) => (p.value.to_vec(), p.trainable),
            StateRef::Buffer(b) => (b.to_vec(), true),
            StateRef::Counter(c) => (vec![c as f64], true),
        };
        state.push((name.to_string(), values, trainable));
    });
    state
}

fn flags(model: &mut ResNet<f64>) -> Vec<(bool, GradientRoute)> {
    model
        .blocks_mut()
        .iter()
        .map(|b| (b.lesioned, b.route))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The unraveled view.

#[test]
fn path_counts_match_brute_force_enumeration() {
    for n in 0..=12 {
        let distribution = PathLengths::new(n).unwrap();
        let paths = enumerate_paths(n).unwrap();
        assert_eq!(paths.len() as u128, distribution.total_paths());
        let mut counts = vec![0u128; n + 1];
        for path in &paths {
            counts[path.iter().filter(|&&b| b).count()] += 1;
        }
        assert_eq!(distribution.counts(), &counts[..], "n = {n}");
        // Mean n/2, standard deviation √n/2.
        let brute_mean = paths
            .iter()
            .map(|p| p.iter().filter(|&&b| b).count() as f64)
            .sum::<f64>()
            / paths.len() as f64;
        assert_relative_eq!(distribution.mean(), brute_mean, epsilon = 1e-12);
        assert_relative_eq!(
            distribution.standard_deviation(),
            (n as f64).sqrt() / 2.0,
            epsilon = 1e-12
        );
    }
}

#[test]
fn fifty_four_blocks_have_the_papers_distribution() {
    let paths = PathLengths::new(54).unwrap();
    assert_eq!(paths.count(27), 1_946_939_425_648_112); // C(54, 27)
    assert_eq!(paths.counts().iter().sum::<u128>(), 1u128 << 54);
    assert_relative_eq!(
        paths.fraction_between(19, 35),
        0.980_165_673_271_931_7,
        epsilon = 1e-12
    );
    assert_relative_eq!(
        paths.fraction_between(5, 17),
        0.004_536_670_150_778_743,
        epsilon = 1e-12
    );
    let (low, high) = paths.central_range(0.95);
    assert!(paths.fraction_between(low, high) >= 0.95);
    assert!(
        paths.fraction_between(low + 1, high) < 0.95
            || paths.fraction_between(low, high - 1) < 0.95
    );
    // The largest exact count fits; one more block does not.
    let largest = PathLengths::new(127).unwrap();
    assert_eq!(largest.counts().iter().sum::<u128>(), 1u128 << 127);
    assert!(matches!(
        PathLengths::new(128),
        Err(ResnetError::Experiment { .. })
    ));
    assert!(enumerate_paths(21).is_err());
}

// ---------------------------------------------------------------------------------------------
// Kendall's τ.

fn brute_force_tau(a: &[usize], b: &[usize]) -> f64 {
    let position = |order: &[usize], item: usize| order.iter().position(|&x| x == item).unwrap();
    let n = a.len();
    let (mut concordant, mut discordant) = (0i64, 0i64);
    for i in 0..n {
        for j in i + 1..n {
            let da = position(a, i) as i64 - position(a, j) as i64;
            let db = position(b, i) as i64 - position(b, j) as i64;
            if da * db > 0 {
                concordant += 1;
            } else {
                discordant += 1;
            }
        }
    }
    (concordant - discordant) as f64 / (n * (n - 1) / 2) as f64
}

#[test]
fn kendall_tau_matches_a_brute_force_count() {
    let mut rng = Rng::seed_from(11);
    for n in [2, 3, 5, 8, 17, 31] {
        for _ in 0..20 {
            let mut a: Vec<usize> = (0..n).collect();
            let mut b: Vec<usize> = (0..n).collect();
            rng.shuffle(&mut a);
            rng.shuffle(&mut b);
            assert_relative_eq!(
                kendall_tau(&a, &b).unwrap(),
                brute_force_tau(&a, &b),
                epsilon = 1e-12
            );
        }
    }
    assert_eq!(kendall_tau(&[0], &[0]).unwrap(), 1.0);
    assert!(kendall_tau(&[0, 1], &[0, 0]).is_err());
    assert!(kendall_tau(&[0, 1], &[0, 1, 2]).is_err());
    assert!(kendall_tau(&[0, 2], &[0, 1]).is_err());
}

// ---------------------------------------------------------------------------------------------
// Lesions.

#[test]
fn a_lesioned_block_equals_its_shortcut() {
    let x = Tensor::<f64>::randn(&[2, 2, 6, 6], 0.0, 1.0, &mut Rng::seed_from(5));
    // Pre-activation with projections (the paper's network), option A and B post-activation.
    for (kind, shortcut) in [
        (BlockKind::PreActBasic, ShortcutKind::B),
        (BlockKind::Basic, ShortcutKind::A),
        (BlockKind::Basic, ShortcutKind::B),
        (BlockKind::PreActBottleneck, ShortcutKind::B),
    ] {
        let model = tiny_model(kind, shortcut, &[2, 1]);
        let mut lesioned = lesioned_copy(&model, &[0, 1, 2]).unwrap();
        let mut blocks = lesioned.blocks_mut();
        let mut input = x.clone();
        for block in blocks.iter_mut() {
            let tape = Tape::<f64>::new();
            let mut context = Context::new(&tape, Mode::Eval);
            let var = tape.constant(input.clone());
            let output = block.forward(&mut context, &var).unwrap().into_value();
            // The shortcut alone, applied by hand: to x, or to relu(bn1(x)) for a
            // pre-activation projection; the identity when there is no module.
            let mut reads = var.clone();
            if block.shortcut_reads_pre_activation {
                for layer in block.pre_activation.iter_mut() {
                    reads = layer.module.forward(&mut context, &reads).unwrap();
                }
            }
            let mut expected = match block.shortcut.as_mut() {
                Some(s) => s.module.forward(&mut context, &reads).unwrap(),
                None => reads,
            };
            if let Some(relu) = block.output.as_mut() {
                expected = relu.module.forward(&mut context, &expected).unwrap();
            }
            assert_eq!(output.shape(), expected.shape());
            for (a, b) in output.to_vec().iter().zip(expected.value().to_vec()) {
                assert_relative_eq!(*a, b, epsilon = 1e-12);
            }
            input = output;
        }
    }
}

#[test]
fn deleting_a_block_of_a_plain_network_removes_it() {
    let model = tiny_model(BlockKind::Plain, ShortcutKind::B, &[2, 1]);
    // Block 1 keeps the shape: removing it makes block 2 read block 0's output.
    let mut lesioned = lesioned_copy(&model, &[1]).unwrap();
    let x = Tensor::<f64>::randn(&[2, 2, 6, 6], 0.0, 1.0, &mut Rng::seed_from(6))
        .relu()
        .unwrap();
    let mut blocks = lesioned.blocks_mut();
    let tape = Tape::<f64>::new();
    let y = blocks[1]
        .forward(
            &mut Context::new(&tape, Mode::Eval),
            &tape.constant(x.clone()),
        )
        .unwrap();
    assert_eq!(y.value().to_vec(), x.to_vec());
    // Block 2 changes the shape: it cannot be deleted, and the whole-network lesion says so.
    assert!(matches!(
        lesioned_copy(&model, &[2]),
        Err(ResnetError::Experiment { .. })
    ));
    let single = lesion_each_block(&model, &test_set(1, 1)).unwrap();
    let deletable: Vec<bool> = single.iter().map(|s| s.error.is_some()).collect();
    assert_eq!(deletable, vec![true, true, false]);
}

#[test]
fn lesion_and_reorder_leave_the_original_untouched() {
    let mut model = tiny_model(BlockKind::PreActBasic, ShortcutKind::B, &[3, 2]);
    let test = test_set(2, 7);
    let before_state = state_snapshot(&model);
    let before_flags = flags(&mut model);
    let before_output = model.predict(&test[0].images).unwrap().to_vec();

    let single = lesion_each_block(&model, &test).unwrap();
    assert_eq!(single.len(), 5);
    assert!(single[3].block.is_downsampling());
    let config = RandomLesionConfig {
        max_deleted: 3,
        draws: 2,
        seed: 1,
        include_downsampling: true,
    };
    let random = lesion_random_blocks(&model, &test, &config).unwrap();
    assert_eq!(random.len(), 3);
    assert!(random
        .iter()
        .all(|r| r.draws.iter().all(|d| d.len() == r.deleted)));
    let reorder = ReorderConfig {
        max_swaps: 2,
        draws: 2,
        seed: 1,
    };
    let reordered = reorder_random_pairs(&model, &test, &reorder).unwrap();
    assert_eq!(reordered.len(), 4);
    let _ = ensemble::path_gradient_experiment(&model, &test[0], &Default::default()).unwrap();

    assert_eq!(state_snapshot(&model), before_state);
    assert_eq!(flags(&mut model), before_flags);
    assert_eq!(
        model.predict(&test[0].images).unwrap().to_vec(),
        before_output
    );
}

#[test]
fn random_lesions_are_seeded_and_distinct() {
    let model = tiny_model(BlockKind::Basic, ShortcutKind::A, &[3, 3]);
    let test = test_set(1, 2);
    let config = RandomLesionConfig {
        max_deleted: 4,
        draws: 3,
        seed: 9,
        include_downsampling: false,
    };
    let first = lesion_random_blocks(&model, &test, &config).unwrap();
    assert_eq!(first, lesion_random_blocks(&model, &test, &config).unwrap());
    for result in &first {
        for draw in &result.draws {
            assert!(!draw.contains(&3), "the downsampling block 3 was drawn");
            let mut unique = draw.clone();
            unique.dedup();
            assert_eq!(unique.len(), result.deleted);
        }
    }
    // Deleting all five non-downsampling blocks is allowed; six is not.
    let too_many = RandomLesionConfig {
        max_deleted: 6,
        ..config
    };
    assert!(matches!(
        lesion_random_blocks(&model, &test, &too_many),
        Err(ResnetError::Experiment { .. })
    ));
    assert!(lesioned_copy(&model, &[6]).is_err());
    assert!(lesioned_copy(&model, &[1, 1]).is_err());
}

// ---------------------------------------------------------------------------------------------
// Reordering.

#[test]
fn reordering_moves_the_blocks_and_swapping_back_restores_the_network() {
    let mut model = tiny_model(BlockKind::PreActBasic, ShortcutKind::B, &[3, 2]);
    let x = test_set(1, 3).remove(0).images;
    let original = model.predict(&x).unwrap().to_vec();
    let (mut swapped, order) = reordered_copy(&model, &[(0, 2)]).unwrap();
    assert_eq!(order, vec![2, 1, 0, 3, 4]);
    assert_ne!(swapped.predict(&x).unwrap().to_vec(), original);
    // The block now at position 0 carries the weights that were at position 2.
    let weight = |m: &ResNet<f64>, name: &str| {
        let mut value = Vec::new();
        m.visit_state("", &mut |n, e| {
            if let (true, StateRef::Parameter(p)) = (n == name, e) {
                value = p.value.to_vec();
            }
        });
        value
    };
    assert_eq!(
        weight(&swapped, "layer1.0.conv1.weight"),
        weight(&model, "layer1.2.conv1.weight")
    );
    let (mut back, order) = reordered_copy(&model, &[(0, 2), (2, 0)]).unwrap();
    assert_eq!(order, vec![0, 1, 2, 3, 4]);
    assert_eq!(back.predict(&x).unwrap().to_vec(), original);
    // Shapes must agree: block 3 downsamples.
    assert!(matches!(
        reordered_copy(&model, &[(2, 3)]),
        Err(ResnetError::Experiment { .. })
    ));
    assert!(reordered_copy(&model, &[(0, 5)]).is_err());
    // One block per stage: nothing to swap.
    let lone = tiny_model(BlockKind::PreActBasic, ShortcutKind::B, &[1, 1]);
    assert!(matches!(
        reorder_random_pairs(&lone, &test_set(1, 1), &ReorderConfig::default()),
        Err(ResnetError::Experiment { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Gradients of single paths.

/// ∂L/∂x through the explicitly built single-path network: the stem, then for each block
/// either its pre-activation and residual branch (in `branch_blocks`) or its shortcut alone,
/// then the head, each piece differentiated on its own tape at the activations of the full
/// network's forward pass, and the vector–Jacobian products chained by hand.
fn single_path_gradient(
    model: &mut ResNet<f64>,
    images: &Tensor<f64>,
    labels: &[usize],
    branch_blocks: &[usize],
) -> Tensor<f64> {
    // The full forward pass, keeping every block's input.
    let features = model.features.len();
    let tape = Tape::<f64>::new();
    let mut context = Context::new(&tape, Mode::Eval);
    let stem_output = model.features[0]
        .module
        .forward(&mut context, &tape.constant(images.clone()))
        .unwrap();
    let mut block_inputs = Vec::new();
    let mut h = stem_output;
    let stages = model.config.layers.len();
    for stage in 1..=stages {
        for child in model.features[stage].module.children_mut() {
            let block = child.as_residual_block_mut().unwrap();
            block_inputs.push(h.value().clone());
            h = block.forward(&mut context, &h).unwrap();
        }
    }
    // The head: ∂L/∂(last block's output).
    let tape = Tape::<f64>::new();
    let mut context = Context::new(&tape, Mode::Eval);
    let last = tape.leaf(h.value().clone());
    let mut y = last.clone();
    for feature in &mut model.features[stages + 1..features] {
        y = feature.module.forward(&mut context, &y).unwrap();
    }
    let logits = model
        .classifier
        .module
        .forward(&mut context, &y.flatten(1, 3).unwrap())
        .unwrap();
    let loss = logits.cross_entropy(labels, Reduction::Mean).unwrap();
    let mut gradient = tape.backward(&loss).unwrap().get(&last).unwrap().clone();
    // The blocks, last to first.
    let mut blocks = model.blocks_mut();
    for index in (0..blocks.len()).rev() {
        let block = &mut blocks[index];
        assert!(block.output.is_none(), "pre-activation blocks only");
        let tape = Tape::<f64>::new();
        let mut context = Context::new(&tape, Mode::Eval);
        let x = tape.leaf(block_inputs[index].clone());
        let mut activated = x.clone();
        for layer in block.pre_activation.iter_mut() {
            activated = layer.module.forward(&mut context, &activated).unwrap();
        }
        let out = if branch_blocks.contains(&index) {
            let mut f = activated;
            for layer in block.branch.iter_mut() {
                f = layer.module.forward(&mut context, &f).unwrap();
            }
            f
        } else {
            let reads = if block.shortcut_reads_pre_activation {
                activated
            } else {
                x.clone()
            };
            match block.shortcut.as_mut() {
                Some(s) => s.module.forward(&mut context, &reads).unwrap(),
                None => reads.mul_scalar(1.0).unwrap(),
            }
        };
        gradient = tape
            .backward_with_grad(&out, &gradient)
            .unwrap()
            .get(&x)
            .unwrap()
            .clone();
    }
    // The stem.
    let tape = Tape::<f64>::new();
    let mut context = Context::new(&tape, Mode::Eval);
    let x = tape.leaf(images.clone());
    let out = model.features[0].module.forward(&mut context, &x).unwrap();
    tape.backward_with_grad(&out, &gradient)
        .unwrap()
        .get(&x)
        .unwrap()
        .clone()
}

#[test]
fn the_branch_routed_backward_equals_the_single_path_networks_gradient() {
    let mut model = tiny_model(BlockKind::PreActBasic, ShortcutKind::B, &[2, 2]);
    let mut probe = PathGradientProbe::new(&model).unwrap();
    assert_eq!(probe.blocks(), 4);
    let batch = test_set(1, 8).remove(0);
    // Every one of the 16 paths, including the downsampling block's projection and branch.
    let mut total = Tensor::<f64>::zeros(batch.images.shape());
    for path in enumerate_paths(4).unwrap() {
        let chosen: Vec<usize> = (0..4).filter(|&i| path[i]).collect();
        let routed = probe
            .input_gradient(&batch.images, &batch.labels, &chosen)
            .unwrap();
        let explicit = single_path_gradient(&mut model, &batch.images, &batch.labels, &chosen);
        assert!(ensemble::norm(&routed) > 0.0);
        for (a, b) in routed.to_vec().iter().zip(explicit.to_vec()) {
            assert_relative_eq!(*a, b, epsilon = 1e-12, max_relative = 1e-9);
        }
        total = total.add(&routed).unwrap();
    }
    // The 16 path gradients sum to the true gradient (Veit et al. 2016, Eq. 3–4, unraveled).
    let tape = Tape::<f64>::new();
    let x = tape.leaf(batch.images.clone());
    let logits = model
        .forward(&mut Context::new(&tape, Mode::Eval), &x)
        .unwrap();
    let loss = logits
        .cross_entropy(&batch.labels, Reduction::Mean)
        .unwrap();
    let full = tape.backward(&loss).unwrap().get(&x).unwrap().clone();
    for (a, b) in total.to_vec().iter().zip(full.to_vec()) {
        assert_relative_eq!(*a, b, epsilon = 1e-12, max_relative = 1e-9);
    }
    // With batch statistics (train-mode batch norm) too: the paths still sum to the gradient.
    let mut train_probe = PathGradientProbe::new(&model).unwrap();
    train_probe.mode = Mode::Train;
    let mut total = Tensor::<f64>::zeros(batch.images.shape());
    for path in enumerate_paths(4).unwrap() {
        let chosen: Vec<usize> = (0..4).filter(|&i| path[i]).collect();
        let routed = train_probe
            .input_gradient(&batch.images, &batch.labels, &chosen)
            .unwrap();
        total = total.add(&routed).unwrap();
    }
    let mut copy = ensemble::duplicate(&model).unwrap();
    let tape = Tape::<f64>::new();
    let x = tape.leaf(batch.images.clone());
    let logits = copy
        .forward(&mut Context::new(&tape, Mode::Train), &x)
        .unwrap();
    let loss = logits
        .cross_entropy(&batch.labels, Reduction::Mean)
        .unwrap();
    let full_train = tape.backward(&loss).unwrap().get(&x).unwrap().clone();
    assert_ne!(full_train.to_vec(), full.to_vec());
    for (a, b) in total.to_vec().iter().zip(full_train.to_vec()) {
        assert_relative_eq!(*a, b, epsilon = 1e-12, max_relative = 1e-9);
    }
    assert!(probe
        .input_gradient(&batch.images, &batch.labels, &[4])
        .is_err());
    assert!(probe
        .input_gradient(&batch.images, &batch.labels, &[1, 1])
        .is_err());
}

#[test]
fn path_gradient_experiment_reports_every_length_and_rejects_bad_lengths() {
    let model = tiny_model(BlockKind::PreActBasic, ShortcutKind::B, &[3, 2]);
    let batch = test_set(1, 9).remove(0);
    let config = ensemble::PathGradientConfig {
        lengths: vec![],
        samples: 3,
        seed: 2,
        ..Default::default()
    };
    let result = ensemble::path_gradient_experiment(&model, &batch, &config).unwrap();
    assert_eq!(
        result
            .per_length
            .iter()
            .map(|g| g.length)
            .collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    assert!(result
        .per_length
        .iter()
        .all(|g| g.norms.len() == 3 && g.spread.mean > 0.0));
    let totals = result.total_gradient();
    assert_relative_eq!(totals[1].1, 10.0 * result.per_length[1].spread.mean); // C(5, 2) = 10
    let (low, high) = result.effective_range(0.5).unwrap();
    assert!(low <= high && high <= 5);
    assert_eq!(
        result,
        ensemble::path_gradient_experiment(&model, &batch, &config).unwrap()
    );
    let bad = ensemble::PathGradientConfig {
        lengths: vec![6],
        ..config
    };
    assert!(matches!(
        ensemble::path_gradient_experiment(&model, &batch, &bad),
        Err(ResnetError::Experiment { .. })
    ));
    let plain = tiny_model(BlockKind::Plain, ShortcutKind::B, &[2, 1]);
    assert!(PathGradientProbe::new(&plain).is_err());
}

// ---------------------------------------------------------------------------------------------
// Training on short paths.

#[test]
fn active_blocks_keep_exactly_m_branches_and_match_the_lesioned_network() {
    let mut model = tiny_model(BlockKind::PreActBasic, ShortcutKind::B, &[3, 2]);
    let x = test_set(1, 4).remove(0).images;
    let full = model.predict(&x).unwrap().to_vec();
    let mut rng = Rng::seed_from(3);
    for active in 0..=5 {
        let chosen = activate_random_blocks(&mut model, active, &mut rng).unwrap();
        assert_eq!(chosen.len(), active);
        let lesioned: Vec<usize> = (0..5).filter(|i| !chosen.contains(i)).collect();
        assert_eq!(
            model.blocks_mut().iter().filter(|b| b.lesioned).count(),
            5 - active
        );
        // A copy starts with every block active; lesion the same blocks explicitly.
        let mut reference = lesioned_copy(&model, &lesioned).unwrap();
        assert_eq!(
            model.predict(&x).unwrap().to_vec(),
            reference.predict(&x).unwrap().to_vec()
        );
    }
    // All five branches at scale 5/5: the ordinary network.
    activate_all_blocks(&mut model, 5).unwrap();
    assert_eq!(model.predict(&x).unwrap().to_vec(), full);
    for active in 0..=5 {
        let chosen = activate_random_blocks(&mut model, active, &mut rng).unwrap();
        let lesioned: Vec<usize> = (0..5).filter(|i| !chosen.contains(i)).collect();
        // A training step sees only the active branches' parameters.
        let tape = Tape::<f64>::new();
        let mut context = Context::new(&tape, Mode::Train);
        let labels = [0, 1, 2, 0];
        let loss = model
            .forward(&mut context, &tape.constant(x.clone()))
            .unwrap()
            .cross_entropy(&labels, Reduction::Mean)
            .unwrap();
        let gradients = context.parameter_gradients(&tape.backward(&loss).unwrap());
        let named = unravel_resnet::nn::named_gradients(&model, &gradients);
        for index in &lesioned {
            let (stage, position) = if *index < 3 {
                (1, *index)
            } else {
                (2, index - 3)
            };
            let prefix = format!("layer{stage}.{position}.conv");
            assert!(
                !named.iter().any(|(n, _)| n.starts_with(&prefix)),
                "{prefix}"
            );
        }
    }
    assert!(activate_random_blocks(&mut model, 6, &mut rng).is_err());
    assert!(activate_all_blocks(&mut model, 0).is_err());
    assert!(activate_all_blocks(&mut model, 6).is_err());
    let mut plain = tiny_model(BlockKind::Plain, ShortcutKind::B, &[2, 1]);
    assert!(activate_random_blocks(&mut plain, 1, &mut rng).is_err());
}

/// The test network of `--active-blocks m` (stochastic depth's rule): each block computes
/// `shortcut(x) + (m/n)·F(x)`, checked against the same sum built by hand from the block's own
/// branch and shortcut; copies (lesion, reorder) keep the scale; a training draw resets it.
#[test]
fn the_test_network_of_active_block_training_scales_every_branch_by_m_over_n() {
    let mut model = tiny_model(BlockKind::PreActBasic, ShortcutKind::B, &[3, 2]);
    let x = test_set(1, 4).remove(0).images;
    let full = model.predict(&x).unwrap();
    activate_all_blocks(&mut model, 2).unwrap();
    let scaled = model.predict(&x).unwrap();
    assert!(model.blocks().iter().all(|b| b.branch_scale == 2.0 / 5.0));
    assert_ne!(scaled.to_vec(), full.to_vec());

    // One block by hand: y = shortcut(x) + 0.4·branch(x), from the block's own modules.
    let tape = Tape::<f64>::new();
    let mut context = Context::new(&tape, Mode::Eval);
    let input = tape.constant(Tensor::randn(
        &[2, 2, 6, 6],
        0.0,
        1.0,
        &mut Rng::seed_from(9),
    ));
    let mut blocks = model.blocks_mut();
    let block = &mut blocks[1]; // identity shortcut, same shape
    let y = block.forward(&mut context, &input).unwrap().into_value();
    block.branch_scale = 1.0;
    let whole = block.forward(&mut context, &input).unwrap().into_value();
    block.lesioned = true;
    let shortcut = block.forward(&mut context, &input).unwrap().into_value();
    block.lesioned = false;
    block.branch_scale = 0.4;
    let (y, whole, shortcut) = (y.to_vec(), whole.to_vec(), shortcut.to_vec());
    for i in 0..y.len() {
        let expected = shortcut[i] + 0.4 * (whole[i] - shortcut[i]);
        assert!(
            (y[i] - expected).abs() < 1e-12,
            "{i}: {} vs {expected}",
            y[i]
        );
    }

    // Copies keep the scale, so lesions and reorderings see the same test network.
    let copy = ensemble::duplicate(&model).unwrap();
    assert!(copy.blocks().iter().all(|b| b.branch_scale == 0.4));
    let mut unlesioned = lesioned_copy(&model, &[]).unwrap();
    assert_eq!(unlesioned.predict(&x).unwrap().to_vec(), scaled.to_vec());

    // A training draw runs the active branches unscaled.
    activate_random_blocks(&mut model, 5, &mut Rng::seed_from(1)).unwrap();
    assert!(model.blocks().iter().all(|b| b.branch_scale == 1.0));
    assert_eq!(model.predict(&x).unwrap().to_vec(), full.to_vec());
}
