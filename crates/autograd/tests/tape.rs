//! The tape's behaviour: accumulation, release of saved tensors, reuse without growth, the
//! inference path, gradient routes, typed errors, f32 against f64, and that gradcheck fails on a
//! wrong gradient.

use std::sync::{Arc, Weak};

use unravel_autograd::gradcheck::{gradcheck, GradcheckOptions};
use unravel_autograd::{AutogradError, GradientRoute, Result, Tape, Var};
use unravel_tensor::ops::conv::Conv2dParams;
use unravel_tensor::ops::pool::Pool2dParams;
use unravel_tensor::ops::softmax::Reduction;
use unravel_tensor::{Float, Rng, Storage, Tensor};

const EPS: f64 = 1e-5;

/// The parameters of a small residual network, as plain tensors (what a model owns).
struct Parameters<E: Float> {
    stem: Tensor<E>,
    gamma: Tensor<E>,
    beta: Tensor<E>,
    conv: Tensor<E>,
    classifier: Tensor<E>,
}

impl<E: Float> Parameters<E> {
    fn new(rng: &mut Rng) -> Self {
        Parameters {
            stem: Tensor::randn(&[4, 3, 3, 3], 0.0, 0.3, rng),
            gamma: Tensor::randn(&[4], 1.0, 0.1, rng),
            beta: Tensor::randn(&[4], 0.0, 0.1, rng),
            conv: Tensor::randn(&[4, 4, 3, 3], 0.0, 0.3, rng),
            classifier: Tensor::randn(&[5, 4], 0.0, 0.3, rng),
        }
    }

    fn cast<T: Float>(&self) -> Parameters<T> {
        Parameters {
            stem: self.stem.cast(),
            gamma: self.gamma.cast(),
            beta: self.beta.cast(),
            conv: self.conv.cast(),
            classifier: self.classifier.cast(),
        }
    }
}

/// The loss, the parameter leaves, and the intermediate variables of one forward pass.
type Forward<E> = (Var<E>, Vec<Var<E>>, Vec<Var<E>>);

/// One forward pass: stem conv → bn → relu → max-pool → residual conv block → GAP → linear →
/// cross-entropy. Returns the loss, the parameter leaves, and every intermediate variable.
fn forward<E: Float>(
    tape: &Tape<E>,
    parameters: &Parameters<E>,
    image: &Tensor<E>,
    targets: &[usize],
) -> Result<Forward<E>> {
    let leaves: Vec<Var<E>> = [
        &parameters.stem,
        &parameters.gamma,
        &parameters.beta,
        &parameters.conv,
        &parameters.classifier,
    ]
    .iter()
    .map(|p| tape.leaf((*p).clone()))
    .collect();
    let same = Conv2dParams::square(1, 1, 1, 1);
    let x = tape.constant(image.clone());
    let mut intermediates = Vec::new();
    let mut keep = |v: Var<E>| {
        intermediates.push(v.clone());
        v
    };
    let stem = keep(x.conv2d(&leaves[0], None, &same)?);
    let (normalised, _) = stem.batch_norm_train(Some(&leaves[1]), Some(&leaves[2]), EPS)?;
    let normalised = keep(normalised);
    let activated = keep(normalised.relu()?);
    let pooled = keep(activated.max_pool2d(Pool2dParams::square(2, 2, 0))?);
    let residual = keep(pooled.conv2d(&leaves[3], None, &same)?);
    let sum = keep(residual.add(&pooled)?);
    let features = keep(sum.relu()?.global_avg_pool2d()?);
    let logits = keep(features.linear(&leaves[4], None)?);
    let loss = logits.cross_entropy(targets, Reduction::Mean)?;
    Ok((loss, leaves, intermediates))
}

fn weak_storages<E: Float>(vars: &[Var<E>]) -> Vec<Weak<Storage<E>>> {
    vars.iter()
        .map(|v| Arc::downgrade(v.value().storage()))
        .collect()
}

#[test]
fn a_variable_used_twice_gets_the_sum_of_its_gradients() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::from_vec(vec![2.0, -1.0], &[2]).unwrap());
    // y = 3x + x (the residual F(x) + x): dy/dx = 4.
    let y = x
        .mul_scalar(3.0)
        .unwrap()
        .add(&x)
        .unwrap()
        .sum_all()
        .unwrap();
    let gradients = tape.backward(&y).unwrap();
    assert_eq!(gradients.get(&x).unwrap().to_vec(), vec![4.0, 4.0]);
}

#[test]
fn saved_tensors_are_released_as_soon_as_backward_has_run() {
    let mut rng = Rng::seed_from(1);
    let parameters = Parameters::<f64>::new(&mut rng);
    let image = Tensor::randn(&[2, 3, 6, 6], 0.0, 1.0, &mut rng);
    let tape = Tape::new();
    let (loss, _leaves, intermediates) = forward(&tape, &parameters, &image, &[1, 4]).unwrap();
    let before = tape.stats();
    assert!(before.saved_tensors > 0 && before.saved_elements > 0);
    let weak = weak_storages(&intermediates);
    drop(intermediates);
    // The tape's records keep some intermediates alive (the conv input, the relu output…).
    let alive_before = weak.iter().filter(|w| w.strong_count() > 0).count();
    assert!(alive_before > 0, "the records should hold some activations");

    tape.backward(&loss).unwrap();
    let after = tape.stats();
    assert_eq!(after.saved_tensors, 0, "{after:?}");
    assert_eq!(after.saved_elements, 0);
    assert_eq!(after.saved_indices, 0);
    assert_eq!(
        after.nodes, before.nodes,
        "backward releases records, not nodes"
    );
    // Nothing but `loss` itself refers to the activations any more: all freed.
    drop(loss);
    let alive_after = weak.iter().filter(|w| w.strong_count() > 0).count();
    assert_eq!(alive_after, 0, "{alive_after} activation buffers leaked");
}

#[test]
fn a_tape_reused_for_100_steps_does_not_grow() {
    let mut rng = Rng::seed_from(2);
    let parameters = Parameters::<f32>::new(&mut rng);
    let image = Tensor::randn(&[2, 3, 4, 4], 0.0, 1.0, &mut rng);
    let tape = Tape::new();
    let mut first_step_stats = None;
    let mut all_weak: Vec<Weak<Storage<f32>>> = Vec::new();
    for step in 0..100 {
        let (loss, leaves, intermediates) = forward(&tape, &parameters, &image, &[0, 3]).unwrap();
        all_weak.extend(weak_storages(&intermediates));
        drop(intermediates);
        let gradients = tape.backward(&loss).unwrap();
        assert_eq!(gradients.len(), leaves.len());
        let stats = tape.stats();
        assert_eq!(stats.saved_tensors, 0);
        match first_step_stats {
            None => first_step_stats = Some(stats),
            Some(first) => {
                assert_eq!(stats.nodes, first.nodes, "step {step}");
                assert_eq!(stats.node_capacity, first.node_capacity, "step {step}");
            }
        }
        drop((loss, gradients));
        tape.reset();
        assert!(tape.is_empty());
    }
    // Every activation buffer of all 100 steps has been freed: none is held by the tape.
    let alive = all_weak.iter().filter(|w| w.strong_count() > 0).count();
    assert_eq!(
        alive,
        0,
        "{alive} of {} activation buffers still alive",
        all_weak.len()
    );
}

#[test]
fn reset_without_backward_releases_everything() {
    let mut rng = Rng::seed_from(3);
    let parameters = Parameters::<f64>::new(&mut rng);
    let image = Tensor::randn(&[2, 3, 4, 4], 0.0, 1.0, &mut rng);
    let tape = Tape::new();
    let (loss, _, intermediates) = forward(&tape, &parameters, &image, &[0, 3]).unwrap();
    let weak = weak_storages(&intermediates);
    drop((loss, intermediates));
    assert!(weak.iter().any(|w| w.strong_count() > 0));
    tape.reset();
    assert_eq!(tape.stats().saved_tensors, 0);
    assert!(weak.iter().all(|w| w.strong_count() == 0));
}

#[test]
fn no_grad_records_and_saves_nothing() {
    let mut rng = Rng::seed_from(4);
    let parameters = Parameters::<f64>::new(&mut rng);
    let image = Tensor::randn(&[2, 3, 4, 4], 0.0, 1.0, &mut rng);
    let tape = Tape::new();
    let (recorded_loss, _, _) = forward(&tape, &parameters, &image, &[0, 3]).unwrap();
    tape.reset();
    let loss = {
        let _no_grad = tape.no_grad();
        let (loss, leaves, _) = forward(&tape, &parameters, &image, &[0, 3]).unwrap();
        assert!(leaves.iter().all(|leaf| !leaf.requires_grad()));
        assert_eq!(tape.len(), 0);
        let stats = tape.stats();
        assert_eq!(
            stats.nodes + stats.saved_tensors + stats.saved_indices,
            0,
            "{stats:?}"
        );
        loss
    };
    assert!(tape.is_recording());
    assert!(!loss.requires_grad());
    // Same value as the recorded forward.
    assert_eq!(loss.value().to_vec(), recorded_loss.value().to_vec());
    assert!(matches!(
        tape.backward(&loss),
        Err(AutogradError::NotRecorded)
    ));
    // Constants only: nothing recorded either.
    let c = tape.constant(Tensor::<f64>::ones(&[3]));
    let y = c.relu().unwrap().mul(&c).unwrap();
    assert!(!y.requires_grad());
    assert!(tape.is_empty());
}

#[test]
fn gradient_routes_send_the_gradient_down_one_branch() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::from_vec(vec![1.0, 2.0], &[2]).unwrap());
    let residual_block = |route: GradientRoute| -> Result<Vec<f64>> {
        let branch = x.mul_scalar(5.0)?; // F(x) = 5x
        let y = branch.add(&x)?; // F(x) + x
        y.set_gradient_route(route)?;
        let loss = y.sum_all()?;
        Ok(tape.backward(&loss)?.get(&x).unwrap().to_vec())
    };
    assert_eq!(residual_block(GradientRoute::Both).unwrap(), vec![6.0, 6.0]);
    assert_eq!(
        residual_block(GradientRoute::LeftOnly).unwrap(),
        vec![5.0, 5.0]
    );
    assert_eq!(
        residual_block(GradientRoute::RightOnly).unwrap(),
        vec![1.0, 1.0]
    );
    // Only adds can be routed.
    let product = x.mul(&x).unwrap();
    assert!(matches!(
        product.set_gradient_route(GradientRoute::LeftOnly),
        Err(AutogradError::NotRoutable { op: "mul", .. })
    ));
    assert!(matches!(
        x.set_gradient_route(GradientRoute::LeftOnly),
        Err(AutogradError::NotRoutable { op: "leaf", .. })
    ));
}

#[test]
fn typed_errors_instead_of_panics() {
    let tape = Tape::<f64>::new();
    let other = Tape::<f64>::new();
    let x = tape.leaf(Tensor::ones(&[2, 3]));
    let y = other.leaf(Tensor::ones(&[2, 3]));
    // Backward from a non-scalar.
    assert!(matches!(
        tape.backward(&x.relu().unwrap()),
        Err(AutogradError::NotScalar { numel: 6, .. })
    ));
    // Variables of two tapes.
    assert!(matches!(
        x.add(&y),
        Err(AutogradError::ForeignTape { op: "add", .. })
    ));
    assert!(matches!(
        tape.backward(&y.sum_all().unwrap()),
        Err(AutogradError::ForeignTape { .. })
    ));
    // Shape errors from the tensor crate pass through.
    let z = tape.leaf(Tensor::ones(&[4]));
    assert!(matches!(x.add(&z), Err(AutogradError::Tensor(_))));
    assert!(matches!(x.linear(&z, None), Err(AutogradError::Tensor(_))));
    // A gradient of the wrong shape for backward_with_grad.
    assert!(matches!(
        tape.backward_with_grad(&x.relu().unwrap(), &Tensor::ones(&[3])),
        Err(AutogradError::Tensor(_))
    ));
    // Backward twice through released records.
    let loss = x.square().unwrap().sum_all().unwrap();
    tape.backward(&loss).unwrap();
    assert!(matches!(
        tape.backward(&loss),
        Err(AutogradError::AlreadyBackpropagated { op: "sum", .. })
    ));
    // A variable from before a reset.
    tape.reset();
    assert!(matches!(x.relu(), Err(AutogradError::StaleVariable { .. })));
    assert!(matches!(
        tape.retain_grad(&x),
        Err(AutogradError::StaleVariable { .. })
    ));
    // Errors display a message naming the problem.
    let message = tape.backward(&loss).unwrap_err().to_string();
    assert!(message.contains("reset"), "{message}");
}

#[test]
fn gradients_of_unused_and_retained_variables() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::from_vec(vec![1.0, -2.0], &[2]).unwrap());
    let unused = tape.leaf(Tensor::ones(&[3]));
    let hidden = x.mul_scalar(2.0).unwrap();
    tape.retain_grad(&hidden).unwrap();
    let loss = hidden.square().unwrap().sum_all().unwrap();
    let gradients = tape.backward(&loss).unwrap();
    assert_eq!(gradients.get(&hidden).unwrap().to_vec(), vec![4.0, -8.0]); // 2·hidden
    assert_eq!(gradients.get(&x).unwrap().to_vec(), vec![8.0, -16.0]);
    assert!(gradients.get(&unused).is_none());
    assert_eq!(gradients.get_or_zeros(&unused).to_vec(), vec![0.0; 3]);
    // A constant has no gradient; neither does a variable of another tape.
    assert!(gradients.get(&tape.constant(Tensor::ones(&[2]))).is_none());
    assert!(gradients
        .get(&Tape::new().leaf(Tensor::ones(&[2])))
        .is_none());
}

#[test]
fn f32_gradients_agree_with_f64() {
    let mut rng = Rng::seed_from(5);
    let parameters = Parameters::<f64>::new(&mut rng);
    let image = Tensor::<f64>::randn(&[3, 3, 6, 6], 0.0, 1.0, &mut rng);
    let targets = [2, 0, 4];
    let tape64 = Tape::new();
    let (loss64, leaves64, _) = forward(&tape64, &parameters, &image, &targets).unwrap();
    let gradients64 = tape64.backward(&loss64).unwrap();
    let tape32 = Tape::new();
    let (loss32, leaves32, _) = forward(
        &tape32,
        &parameters.cast::<f32>(),
        &image.cast::<f32>(),
        &targets,
    )
    .unwrap();
    let gradients32 = tape32.backward(&loss32).unwrap();
    approx::assert_relative_eq!(
        loss32.value().item().unwrap() as f64,
        loss64.value().item().unwrap(),
        max_relative = 1e-5
    );
    for (leaf32, leaf64) in leaves32.iter().zip(&leaves64) {
        let g32 = gradients32.get(leaf32).unwrap().to_vec();
        let g64 = gradients64.get(leaf64).unwrap().to_vec();
        let scale = g64.iter().fold(0.0f64, |m, g| m.max(g.abs()));
        assert!(scale > 0.0);
        for (a, b) in g32.iter().zip(&g64) {
            // Relative to the gradient's largest element: f32 rounding through ~10 ops.
            assert!(
                (*a as f64 - b).abs() <= 1e-4 * scale,
                "{a} vs {b} (scale {scale})"
            );
        }
    }
}

#[test]
fn gradcheck_fails_on_a_wrong_gradient() {
    // The function differentiates as 2x on the recording tape but evaluates as 2.001x when the
    // numeric check runs it without recording: the check must notice the 0.05 % discrepancy.
    let x = Tensor::from_vec(vec![0.3, -0.7, 1.1], &[3]).unwrap();
    let report = gradcheck(
        |v| {
            let factor = if v[0].tape().is_recording() {
                2.0
            } else {
                2.001
            };
            v[0].mul_scalar(factor)
        },
        std::slice::from_ref(&x),
        &GradcheckOptions::default(),
    )
    .unwrap();
    assert!(!report.passed, "{report}");
    let worst = report.worst.as_ref().unwrap();
    assert!((worst.analytic - worst.numeric).abs() > 1e-4);
    assert!(report.to_string().contains("FAILED"));
    // And the honest function passes.
    let report = gradcheck(|v| v[0].mul_scalar(2.0), &[x], &GradcheckOptions::default()).unwrap();
    assert!(report.passed, "{report}");
    assert_eq!(report.elements_checked, 3);
}

#[test]
fn gradcheck_samples_large_inputs() {
    let mut rng = Rng::seed_from(6);
    let x = Tensor::randn(&[40, 50], 0.0, 1.0, &mut rng);
    let options = GradcheckOptions {
        max_elements_per_input: Some(25),
        ..GradcheckOptions::default()
    };
    let report = gradcheck(|v| v[0].square(), &[x], &options).unwrap();
    assert!(report.passed, "{report}");
    assert_eq!(report.elements_checked, 25);
}
