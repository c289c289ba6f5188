//! The fused `add_relu` against the unfused `add` then `relu` it replaces: the same values and,
//! under every gradient route (Veit et al.'s path experiments), the same gradients bit for bit
//! (f64), on a residual join `relu(F(x) + x)` with a broadcast operand; one node fewer on the
//! tape, the same saved tensors.

use unravel_autograd::{GradientRoute, Result, Tape, Var};
use unravel_tensor::{Rng, Tensor};

/// `relu(F(x) + shortcut)` with `F(x) = (x ⊙ w) · 2 − 0.3` and a per-column `shortcut = x + c`,
/// fused or not, routed; returns the loss value and the gradients of x, w and c.
fn residual_join(
    fused: bool,
    route: GradientRoute,
    inputs: &[Tensor<f64>; 4],
) -> Result<(f64, Vec<Vec<f64>>, usize)> {
    let tape = Tape::<f64>::new();
    let [x, w, c, weights] = inputs;
    let (x, w, c) = (
        tape.leaf(x.clone()),
        tape.leaf(w.clone()),
        tape.leaf(c.clone()),
    );
    let branch = x.mul(&w)?.mul_scalar(2.0)?.add_scalar(-0.3)?;
    let shortcut = x.add(&c)?; // c: [7] broadcast over [5, 7]
    let y: Var<f64> = if fused {
        let y = branch.add_relu(&shortcut)?;
        y.set_gradient_route(route)?;
        y
    } else {
        let sum = branch.add(&shortcut)?;
        sum.set_gradient_route(route)?;
        sum.relu()?
    };
    // A weighted sum, so every element's gradient differs.
    let loss = y.mul(&tape.constant(weights.clone()))?.sum_all()?;
    let nodes = tape.len();
    let gradients = tape.backward(&loss)?;
    let grad = |v: &Var<f64>| gradients.get(v).map(|g| g.to_vec()).unwrap_or_default();
    Ok((
        loss.value().to_vec()[0],
        vec![grad(&x), grad(&w), grad(&c)],
        nodes,
    ))
}

#[test]
fn routed_fused_backward_equals_routed_unfused_backward() {
    let mut rng = Rng::seed_from(90);
    let inputs = [
        Tensor::randn(&[5, 7], 0.0, 1.0, &mut rng),
        Tensor::randn(&[5, 7], 0.0, 1.0, &mut rng),
        Tensor::randn(&[7], 0.0, 1.0, &mut rng),
        Tensor::randn(&[5, 7], 0.0, 1.0, &mut rng),
    ];
    let mut seen = Vec::new();
    for route in [
        GradientRoute::Both,
        GradientRoute::LeftOnly,
        GradientRoute::RightOnly,
    ] {
        let (fused_loss, fused, fused_nodes) = residual_join(true, route, &inputs).unwrap();
        let (loss, unfused, nodes) = residual_join(false, route, &inputs).unwrap();
        assert_eq!(fused_loss.to_bits(), loss.to_bits(), "{route:?}: loss");
        assert_eq!(fused, unfused, "{route:?}: gradients of x, w, c");
        assert_eq!(fused_nodes + 1, nodes, "{route:?}: one node instead of two");
        seen.push(fused);
    }
    // The routes do differ (so the comparison above is not vacuous): the branch-only route
    // gives c no gradient, the skip-only route gives w none.
    assert!(seen[1][2].is_empty() && !seen[1][1].is_empty());
    assert!(seen[2][1].is_empty() && !seen[2][2].is_empty());
    assert_ne!(seen[0][0], seen[1][0]);
    assert_ne!(seen[0][0], seen[2][0]);
    // Some sums are clamped (the mask matters) and some are not.
    let sums = inputs[0]
        .mul(&inputs[1])
        .unwrap()
        .mul_scalar(2.0)
        .unwrap()
        .add_scalar(-0.3)
        .unwrap()
        .add(&inputs[0].add(&inputs[2]).unwrap())
        .unwrap()
        .to_vec();
    assert!(sums.iter().any(|&s| s < 0.0) && sums.iter().any(|&s| s > 0.0));
}

#[test]
fn add_relu_saves_only_its_output_and_skips_unneeded_gradients() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::from_vec(vec![1.0, -2.0, 3.0], &[3]).unwrap());
    let c = tape.constant(Tensor::from_vec(vec![0.5, 0.5, -4.0], &[3]).unwrap());
    let y = x.add_relu(&c).unwrap();
    assert_eq!(y.value().to_vec(), vec![1.5, 0.0, 0.0]);
    assert_eq!(tape.stats().saved_tensors, 1);
    // Routed to the constant only: nothing reaches x.
    y.set_gradient_route(GradientRoute::RightOnly).unwrap();
    let gradients = tape.backward(&y.sum_all().unwrap()).unwrap();
    assert!(gradients.get(&x).is_none());
    // Constants only: nothing recorded.
    let before = tape.len();
    assert!(!c.add_relu(&c).unwrap().requires_grad());
    assert_eq!(tape.len(), before);
}

/// `relu(BN(x))` fused or not, train or eval, through a weighted sum; returns the output's bits,
/// the gradients of x, γ, β, the batch statistics and the node count.
fn batch_norm_relu(fused: bool, train: bool, inputs: &[Tensor<f64>; 4]) -> (Vec<Vec<u64>>, usize) {
    let tape = Tape::<f64>::new();
    let [x, gamma, beta, weights] = inputs;
    let (x, gamma, beta) = (
        tape.leaf(x.clone()),
        tape.leaf(gamma.clone()),
        tape.leaf(beta.clone()),
    );
    let (g, b) = (Some(&gamma), Some(&beta));
    let (mean, var) = (
        Tensor::from_vec(vec![0.2, -0.1, 0.0], &[3]).unwrap(),
        Tensor::from_vec(vec![0.9, 1.3, 2.0], &[3]).unwrap(),
    );
    let mut statistics = Vec::new();
    let y = match (train, fused) {
        (true, true) => {
            let (y, s) = x.batch_norm_train_relu(g, b, 1e-5).unwrap();
            statistics = [s.mean, s.variance].to_vec();
            y
        }
        (true, false) => {
            let (y, s) = x.batch_norm_train(g, b, 1e-5).unwrap();
            statistics = [s.mean, s.variance].to_vec();
            y.relu().unwrap()
        }
        (false, true) => x.batch_norm_eval_relu(&mean, &var, g, b, 1e-5).unwrap(),
        (false, false) => x
            .batch_norm_eval(&mean, &var, g, b, 1e-5)
            .unwrap()
            .relu()
            .unwrap(),
    };
    let loss = y
        .mul(&tape.constant(weights.clone()))
        .unwrap()
        .sum_all()
        .unwrap();
    let nodes = tape.len();
    let gradients = tape.backward(&loss).unwrap();
    let bits = |t: &Tensor<f64>| t.to_vec().iter().map(|v| v.to_bits()).collect();
    let mut out = vec![bits(y.value())];
    for v in [&x, &gamma, &beta] {
        out.push(bits(gradients.get(v).unwrap()));
    }
    out.extend(statistics.iter().map(bits));
    (out, nodes)
}

#[test]
fn fused_batch_norm_relu_equals_unfused_bit_for_bit() {
    let mut rng = Rng::seed_from(91);
    let inputs = [
        Tensor::randn(&[4, 3, 5, 3], 0.2, 1.5, &mut rng),
        Tensor::rand_uniform(&[3], 0.5, 1.5, &mut rng),
        Tensor::rand_uniform(&[3], -0.5, 0.5, &mut rng),
        Tensor::randn(&[4, 3, 5, 3], 0.0, 1.0, &mut rng),
    ];
    for train in [true, false] {
        let (fused, fused_nodes) = batch_norm_relu(true, train, &inputs);
        let (unfused, nodes) = batch_norm_relu(false, train, &inputs);
        assert!(fused == unfused, "train {train}: fused and unfused differ");
        assert_eq!(
            fused_nodes + 1,
            nodes,
            "train {train}: one node instead of two"
        );
        // Some outputs are clamped (the mask matters) and some are not.
        let zeros = fused[0].iter().filter(|&&b| b == 0).count();
        assert!(
            zeros > 0 && zeros < fused[0].len(),
            "train {train}: {zeros} zeros"
        );
    }
}
