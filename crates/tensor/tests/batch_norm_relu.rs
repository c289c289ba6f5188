//! Batch norm fused with the ReLU after it (`batch_norm_{train,eval}_relu` and their backwards)
//! against the unfused pair it replaces — the batch norm, then [`Tensor::relu`] (forward) or
//! [`Tensor::relu_backward`] then the batch norm's backward — bit for bit, in f32 and f64, with
//! and without affine parameters, for channel counts 1, primes and SIMD widths, spatial sizes
//! around every vector width, contiguous, permuted (channels-last storage) and narrowed inputs;
//! and against the plain `f64` reference (normalise, then `max(·, 0)`) within rounding.

use unravel_tensor::ops::batch_norm::{
    batch_norm_eval, batch_norm_eval_backward, batch_norm_eval_relu, batch_norm_eval_relu_backward,
    batch_norm_train, batch_norm_train_backward, batch_norm_train_relu,
    batch_norm_train_relu_backward, reference,
};
use unravel_tensor::{DType, Float, Rng, Tensor};

/// Channel counts: 1, primes, and the f32/f64 vector widths around them.
const CHANNELS: [usize; 8] = [1, 2, 3, 4, 7, 8, 13, 17];
/// Spatial sizes (H·W, as `[H, W]`) around the vector widths: 1, 3, 4, 5, 8, 9, 15, 16, 17, 33.
const SPATIAL: [[usize; 2]; 10] = [
    [1, 1],
    [1, 3],
    [2, 2],
    [1, 5],
    [2, 4],
    [3, 3],
    [3, 5],
    [4, 4],
    [1, 17],
    [3, 11],
];

/// Bitwise equality (−0.0 ≠ +0.0), with shapes.
#[track_caller]
fn assert_same_bits<E: Float>(what: &str, got: &Tensor<E>, expected: &Tensor<E>) {
    assert_eq!(got.shape(), expected.shape(), "{what}: shapes");
    for (i, (a, b)) in got.to_vec().iter().zip(&expected.to_vec()).enumerate() {
        let same = a.to_f64().to_bits() == b.to_f64().to_bits();
        assert!(same, "{what}: element {i} is {a:?}, expected {b:?}");
    }
}

/// `shape` with values N(0.3, 1) (about a third negative after normalisation with β ≈ 0):
/// contiguous, permuted (channels-last storage viewed as `[N, C, H, W]`) or narrowed.
fn input<E: Float>(shape: [usize; 4], layout: usize, rng: &mut Rng) -> Tensor<E> {
    let [n, c, h, w] = shape;
    match layout {
        0 => Tensor::randn(&shape, 0.3, 1.0, rng),
        1 => Tensor::<E>::randn(&[n, h, w, c], 0.3, 1.0, rng)
            .permute(&[0, 3, 1, 2])
            .unwrap(),
        _ => Tensor::<E>::randn(&[n, c, h, w + 3], 0.3, 1.0, rng)
            .narrow(3, 1, w)
            .unwrap(),
    }
}

fn affine<E: Float>(channels: usize, rng: &mut Rng) -> (Tensor<E>, Tensor<E>) {
    (
        Tensor::rand_uniform(&[channels], 0.5, 1.5, rng),
        Tensor::rand_uniform(&[channels], -0.5, 0.5, rng),
    )
}

fn tolerance<E: Float>() -> f64 {
    if E::DTYPE == DType::F32 {
        2e-5
    } else {
        1e-11
    }
}

/// Every case: fused = unfused bit for bit, forward and backward, train and eval.
fn check_all<E: Float>(seed: u64) {
    let mut rng = Rng::seed_from(seed);
    let mut masked = 0usize;
    for (i, &channels) in CHANNELS.iter().enumerate() {
        for (j, &[h, w]) in SPATIAL.iter().enumerate() {
            let shape = [2 + (i + j) % 2, channels, h, w];
            for layout in 0..3 {
                let x = input::<E>(shape, layout, &mut rng);
                let (gamma, beta) = affine::<E>(channels, &mut rng);
                let dy = Tensor::<E>::randn(&shape, 0.0, 1.0, &mut rng);
                let params = if (i + j + layout) % 4 == 0 {
                    (None, None)
                } else {
                    (Some(&gamma), Some(&beta))
                };
                let what = format!("{:?} {shape:?} layout {layout}", E::DTYPE);
                masked += check_train(&what, &x, params, &dy);
                check_eval(&what, &x, params, &dy, &mut rng);
            }
        }
    }
    // The mask did real work: many outputs were clamped.
    assert!(masked > 1000, "only {masked} outputs were clamped");
}

/// Training mode; returns how many outputs the ReLU clamped.
fn check_train<E: Float>(
    what: &str,
    x: &Tensor<E>,
    (gamma, beta): (Option<&Tensor<E>>, Option<&Tensor<E>>),
    dy: &Tensor<E>,
) -> usize {
    let eps = 1e-5;
    let fused = batch_norm_train_relu(x, gamma, beta, eps).unwrap();
    let plain = batch_norm_train(x, gamma, beta, eps).unwrap();
    let relu = plain.output.relu().unwrap();
    assert_same_bits(&format!("{what} train output"), &fused.output, &relu);
    assert_same_bits(&format!("{what} mean"), &fused.mean, &plain.mean);
    assert_same_bits(
        &format!("{what} variance"),
        &fused.variance,
        &plain.variance,
    );
    assert_same_bits(
        &format!("{what} inv std"),
        &fused.inverse_std,
        &plain.inverse_std,
    );
    // Against the plain f64 reference, BN then max(·, 0).
    let (y, _, _) = reference::batch_norm_train(x, gamma, beta, eps).unwrap();
    for (got, want) in fused.output.to_vec().iter().zip(&y) {
        let want = want.max(0.0);
        let error = (got.to_f64() - want).abs();
        assert!(
            error <= tolerance::<E>() * (1.0 + want.abs()),
            "{what}: {got:?} vs {want}"
        );
    }

    let grads = batch_norm_train_relu_backward(
        dy,
        &fused.output,
        x,
        gamma,
        &fused.mean,
        &fused.inverse_std,
    )
    .unwrap();
    let masked_dy = relu.relu_backward(dy).unwrap();
    let expected =
        batch_norm_train_backward(&masked_dy, x, gamma, &plain.mean, &plain.inverse_std).unwrap();
    assert_same_bits(
        &format!("{what} train dx"),
        &grads.grad_input,
        &expected.grad_input,
    );
    assert_same_bits(
        &format!("{what} train dγ"),
        &grads.grad_weight,
        &expected.grad_weight,
    );
    assert_same_bits(
        &format!("{what} train dβ"),
        &grads.grad_bias,
        &expected.grad_bias,
    );
    relu.to_vec().iter().filter(|v| **v == E::ZERO).count()
}

fn check_eval<E: Float>(
    what: &str,
    x: &Tensor<E>,
    (gamma, beta): (Option<&Tensor<E>>, Option<&Tensor<E>>),
    dy: &Tensor<E>,
    rng: &mut Rng,
) {
    let channels = x.shape()[1];
    let mean = Tensor::<E>::rand_uniform(&[channels], -0.5, 0.5, rng);
    let var = Tensor::<E>::rand_uniform(&[channels], 0.5, 2.0, rng);
    let eps = 1e-5;
    let fused = batch_norm_eval_relu(x, &mean, &var, gamma, beta, eps).unwrap();
    let relu = batch_norm_eval(x, &mean, &var, gamma, beta, eps)
        .unwrap()
        .relu()
        .unwrap();
    assert_same_bits(&format!("{what} eval output"), &fused, &relu);
    let grads = batch_norm_eval_relu_backward(dy, &fused, x, &mean, &var, gamma, eps).unwrap();
    let masked_dy = relu.relu_backward(dy).unwrap();
    let expected = batch_norm_eval_backward(&masked_dy, x, &mean, &var, gamma, eps).unwrap();
    assert_same_bits(
        &format!("{what} eval dx"),
        &grads.grad_input,
        &expected.grad_input,
    );
    assert_same_bits(
        &format!("{what} eval dγ"),
        &grads.grad_weight,
        &expected.grad_weight,
    );
    assert_same_bits(
        &format!("{what} eval dβ"),
        &grads.grad_bias,
        &expected.grad_bias,
    );
}

#[test]
fn fused_batch_norm_relu_equals_unfused_f32() {
    check_all::<f32>(91);
}

#[test]
fn fused_batch_norm_relu_equals_unfused_f64() {
    check_all::<f64>(92);
}

#[test]
fn fused_relu_keeps_nan_and_negative_zero_like_relu() {
    // Eval with μ = 0, s = 1, γ = 1, β = −0 is the identity (−0 stays −0), so the fused op is
    // relu itself: −0 is not < 0 and stays, NaN stays NaN.
    let v = [1.0, -2.0, 0.0, -0.0, f64::NAN, f64::NEG_INFINITY];
    let x = Tensor::<f64>::from_vec(v.to_vec(), &[1, 1, 6]).unwrap();
    let (mean, var) = (Tensor::zeros(&[1]), Tensor::ones(&[1]));
    let beta = Tensor::from_vec(vec![-0.0], &[1]).unwrap();
    let fused = batch_norm_eval_relu(&x, &mean, &var, None, Some(&beta), 0.0).unwrap();
    assert_same_bits("special values", &fused, &x.relu().unwrap());
    let unfused = batch_norm_eval(&x, &mean, &var, None, Some(&beta), 0.0).unwrap();
    assert_same_bits("vs unfused", &fused, &unfused.relu().unwrap());
    assert!(fused.to_vec()[4].is_nan());
    assert_eq!(fused.to_vec()[3].to_bits(), (-0.0f64).to_bits());
}

#[test]
fn fused_backward_rejects_a_mismatched_output() {
    let x = Tensor::<f64>::ones(&[2, 3, 4]);
    let forward = batch_norm_train_relu(&x, None, None, 1e-5).unwrap();
    let wrong = Tensor::<f64>::ones(&[2, 3, 5]);
    let result =
        batch_norm_train_relu_backward(&x, &wrong, &x, None, &forward.mean, &forward.inverse_std);
    assert!(result.is_err());
    let (mean, var) = (Tensor::zeros(&[3]), Tensor::ones(&[3]));
    assert!(batch_norm_eval_relu_backward(&x, &wrong, &x, &mean, &var, None, 0.0).is_err());
}
