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
