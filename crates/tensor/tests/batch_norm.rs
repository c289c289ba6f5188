//! Batch norm: statistics against a two-pass f64 reference, outputs and gradients against the
//! plain references, finite differences (f64), running statistics with PyTorch's semantics,
//! thread-count independence and error paths.

use unravel_tensor::ops::batch_norm::{
    batch_norm_eval, batch_norm_eval_backward, batch_norm_train, batch_norm_train_backward,
    reference, update_running_statistics,
};
use unravel_tensor::{DType, Float, Rng, Tensor, TensorError};

mod common;
use common::*;

// ---- helpers ------------------------------------------------------------------------------

fn tolerance<E: Float>() -> f64 {
    if E::DTYPE == DType::F32 {
        2e-5
    } else {
        1e-11
    }
}

/// A tensor of `shape` with values N(mean, std²) in one of three layouts: contiguous, permuted
/// (channels-last storage viewed as channels-first) or narrowed along the last axis.
fn input<E: Float>(
    shape: &[usize],
    layout: usize,
    mean: f64,
    std: f64,
    rng: &mut Rng,
) -> Tensor<E> {
    match layout {
        0 => Tensor::randn(shape, mean, std, rng),
        1 => {
            // Channels moved last in storage: permute [N, C, *] → [N, *, C], copy, view back.
            let rank = shape.len();
            let mut stored_shape = vec![shape[0]];
            stored_shape.extend_from_slice(&shape[2..]);
            stored_shape.push(shape[1]);
            let stored = Tensor::<E>::randn(&stored_shape, mean, std, rng);
            let mut axes = vec![0, rank - 1];
            axes.extend(1..rank - 1);
            stored.permute(&axes).unwrap()
        }
        _ => {
            let last = shape.len() - 1;
            let mut wide = shape.to_vec();
            wide[last] += 3;
            Tensor::<E>::randn(&wide, mean, std, rng)
                .narrow(last, 1, shape[last])
                .unwrap()
        }
    }
}

/// Random `[N, C, *]` shapes: sizes 1, primes and odd sizes, ranks 2 to 4.
fn shapes(rng: &mut Rng, count: usize) -> Vec<Vec<usize>> {
    const SIZES: [usize; 7] = [1, 2, 3, 5, 7, 9, 13];
    (0..count)
        .map(|i| {
            let mut shape = vec![2 + rng.below(4), SIZES[rng.below(SIZES.len())]];
            for _ in 0..i % 3 {
                shape.push(SIZES[rng.below(SIZES.len())]);
            }
            shape
        })
        .collect()
}

fn channel_param<E: Float>(channels: usize, rng: &mut Rng, low: f64, high: f64) -> Tensor<E> {
    Tensor::rand_uniform(&[channels], low, high, rng)
}

fn to_f64<E: Float>(t: &Tensor<E>) -> Vec<f64> {
    t.to_vec().iter().map(|v| v.to_f64()).collect()
}

// ---- training forward ----------------------------------------------------------------------

fn check_train_forward<E: Float>(seed: u64) {
    let mut rng = Rng::seed_from(seed);
    for (case, shape) in shapes(&mut rng, 30).into_iter().enumerate() {
        let channels = shape[1];
        let x = input::<E>(&shape, case % 3, 0.5, 2.0, &mut rng);
        let weight = channel_param::<E>(channels, &mut rng, 0.5, 1.5);
        let bias = channel_param::<E>(channels, &mut rng, -1.0, 1.0);
        let affine = case % 2 == 0;
        let (w, b) = if affine {
            (Some(&weight), Some(&bias))
        } else {
            (None, None)
        };
        let result = batch_norm_train(&x, w, b, 1e-5).unwrap();
        let (y, mean, variance) = reference::batch_norm_train(&x, w, b, 1e-5).unwrap();
        let what = format!(
            "case {case}: shape {shape:?} layout {} affine {affine}",
            case % 3
        );
        assert_eq!(result.output.shape(), &shape[..]);
        assert_close(
            &result.output.to_vec(),
            &y,
            tolerance::<E>() * 4.0,
            &format!("output {what}"),
        );
        assert_close(
            &result.mean.to_vec(),
            &mean,
            tolerance::<E>(),
            &format!("mean {what}"),
        );
        assert_close(
            &result.variance.to_vec(),
            &variance,
            tolerance::<E>(),
            &format!("variance {what}"),
        );
        let inverse_std: Vec<f64> = variance.iter().map(|v| 1.0 / (v + 1e-5).sqrt()).collect();
        assert_close(
            &result.inverse_std.to_vec(),
            &inverse_std,
            tolerance::<E>(),
            &format!("inverse_std {what}"),
        );
    }
}

#[test]
fn train_forward_matches_reference_f32() {
    check_train_forward::<f32>(10);
}

#[test]
fn train_forward_matches_reference_f64() {
    check_train_forward::<f64>(11);
}

#[test]
fn statistics_are_accurate_with_a_large_offset_in_f32() {
    // Mean 10⁴, std 1: E[x²] − μ² in f32 would lose every digit; two-pass f64 keeps them.
    let mut rng = Rng::seed_from(12);
    let x = Tensor::<f32>::randn(&[8, 3, 17, 19], 1e4, 1.0, &mut rng);
    let (mean, variance) = reference::batch_statistics(&x);
    let result = batch_norm_train(&x, None, None, 0.0).unwrap();
    // Exactly the reference rounded to f32.
    assert_close(&result.mean.to_vec(), &mean, 1e-7, "mean");
    assert_close(&result.variance.to_vec(), &variance, 1e-7, "variance");
    for v in &variance {
        assert!((v - 1.0).abs() < 0.1, "variance {v} should be near 1");
    }
}

// ---- running statistics and evaluation -----------------------------------------------------

#[test]
fn running_statistics_follow_pytorch() {
    // One channel with values 1, 2, 3, 6 (N = 2, H·W = 2): μ = 3, biased σ² = 3.5, unbiased 14/3.
    let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 6.0], &[2, 1, 2, 1]).unwrap();
    let result = batch_norm_train(&x, None, None, 1e-5).unwrap();
    assert_eq!(result.mean.to_vec(), vec![3.0]);
    assert_eq!(result.variance.to_vec(), vec![3.5]);
    let mut running_mean = Tensor::<f64>::zeros(&[1]);
    let mut running_var = Tensor::<f64>::ones(&[1]);
    update_running_statistics(
        &mut running_mean,
        &mut running_var,
        &result.mean,
        &result.variance,
        4,
        0.1,
    )
    .unwrap();
    // PyTorch: running_mean = 0.9·0 + 0.1·3, running_var = 0.9·1 + 0.1·(14/3).
    assert!((running_mean.to_vec()[0] - 0.3).abs() < 1e-15);
    assert!((running_var.to_vec()[0] - (0.9 + 0.1 * 14.0 / 3.0)).abs() < 1e-15);
    // A second step from those values, momentum 0.5.
    update_running_statistics(
        &mut running_mean,
        &mut running_var,
        &result.mean,
        &result.variance,
        4,
        0.5,
    )
    .unwrap();
    assert!((running_mean.to_vec()[0] - (0.5 * 0.3 + 0.5 * 3.0)).abs() < 1e-15);
    let expected_var = 0.5 * (0.9 + 0.1 * 14.0 / 3.0) + 0.5 * 14.0 / 3.0;
    assert!((running_var.to_vec()[0] - expected_var).abs() < 1e-14);
}

#[test]
fn running_statistics_do_not_touch_shared_storage() {
    let shared = Tensor::<f32>::zeros(&[2]);
    let mut running_mean = shared.clone();
    let mut running_var = Tensor::<f32>::ones(&[2]);
    let mean = Tensor::<f32>::from_vec(vec![1.0, 2.0], &[2]).unwrap();
    let variance = Tensor::<f32>::from_vec(vec![1.0, 1.0], &[2]).unwrap();
    update_running_statistics(
        &mut running_mean,
        &mut running_var,
        &mean,
        &variance,
        2,
        1.0,
    )
    .unwrap();
    assert_eq!(running_mean.to_vec(), vec![1.0, 2.0]);
    assert_eq!(running_var.to_vec(), vec![2.0, 2.0]);
    assert_eq!(shared.to_vec(), vec![0.0, 0.0]);
}

fn check_eval<E: Float>(seed: u64) {
    let mut rng = Rng::seed_from(seed);
    for (case, shape) in shapes(&mut rng, 20).into_iter().enumerate() {
        let channels = shape[1];
        let x = input::<E>(&shape, case % 3, 0.0, 1.5, &mut rng);
        let running_mean = channel_param::<E>(channels, &mut rng, -1.0, 1.0);
        let running_var = channel_param::<E>(channels, &mut rng, 0.5, 2.0);
        let weight = channel_param::<E>(channels, &mut rng, 0.5, 1.5);
        let bias = channel_param::<E>(channels, &mut rng, -1.0, 1.0);
        let y = batch_norm_eval(
            &x,
            &running_mean,
            &running_var,
            Some(&weight),
            Some(&bias),
            1e-3,
        )
        .unwrap();
        let expected = reference::normalise(
            &x,
            &to_f64(&running_mean),
            &to_f64(&running_var),
            Some(&weight),
            Some(&bias),
            1e-3,
        );
        assert_close(
            &y.to_vec(),
            &expected,
            tolerance::<E>() * 4.0,
            &format!("eval case {case} {shape:?}"),
        );
    }
}

#[test]
fn eval_matches_reference_f32() {
    check_eval::<f32>(13);
}

#[test]
fn eval_matches_reference_f64() {
    check_eval::<f64>(14);
}

// ---- backward ------------------------------------------------------------------------------

fn check_train_backward<E: Float>(seed: u64) {
    let mut rng = Rng::seed_from(seed);
    for (case, shape) in shapes(&mut rng, 20).into_iter().enumerate() {
        let channels = shape[1];
        let x = input::<E>(&shape, case % 3, 0.3, 1.2, &mut rng);
        let weight = channel_param::<E>(channels, &mut rng, 0.5, 1.5);
        let grad_output = input::<E>(&shape, (case + 1) % 3, 0.0, 1.0, &mut rng);
        let w = if case % 2 == 0 { Some(&weight) } else { None };
        let forward = batch_norm_train(&x, w, None, 1e-5).unwrap();
        let grads =
            batch_norm_train_backward(&grad_output, &x, w, &forward.mean, &forward.inverse_std)
                .unwrap();
        let (dx, d_gamma, d_beta) = reference::batch_norm_train_backward(&grad_output, &x, w, 1e-5);
        let what = format!("case {case} {shape:?}");
        let tol = tolerance::<E>() * 10.0;
        assert_close(
            &grads.grad_input.to_vec(),
            &dx,
            tol,
            &format!("grad_input {what}"),
        );
        assert_close(
            &grads.grad_weight.to_vec(),
            &d_gamma,
            tol,
            &format!("grad_weight {what}"),
        );
        assert_close(
            &grads.grad_bias.to_vec(),
            &d_beta,
            tol,
            &format!("grad_bias {what}"),
        );
    }
}

#[test]
fn train_backward_matches_reference_f32() {
    check_train_backward::<f32>(15);
}

#[test]
fn train_backward_matches_reference_f64() {
    check_train_backward::<f64>(16);
}

#[test]
fn train_backward_finite_differences() {
    let mut rng = Rng::seed_from(17);
    for (case, shape) in [
        vec![2, 3],
        vec![3, 2, 5],
        vec![2, 3, 2, 3],
        vec![1, 2, 1, 7],
    ]
    .into_iter()
    .enumerate()
    {
        let channels = shape[1];
        let x = input::<f64>(&shape, case % 3, 0.2, 1.0, &mut rng);
        let weight = channel_param::<f64>(channels, &mut rng, 0.5, 1.5);
        let bias = channel_param::<f64>(channels, &mut rng, -1.0, 1.0);
        let eps = 1e-3;
        let forward = batch_norm_train(&x, Some(&weight), Some(&bias), eps).unwrap();
        let weights: Vec<f64> = (0..x.numel()).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let grad_output = Tensor::from_vec(weights.clone(), &shape).unwrap();
        let grads = batch_norm_train_backward(
            &grad_output,
            &x,
            Some(&weight),
            &forward.mean,
            &forward.inverse_std,
        )
        .unwrap();
        let what = format!("{shape:?}");
        let numeric_x = numerical_gradient(&x, &weights, |x| {
            batch_norm_train(x, Some(&weight), Some(&bias), eps)
                .unwrap()
                .output
                .to_vec()
        });
        assert_gradient(
            &grads.grad_input.to_vec(),
            &numeric_x,
            &format!("dx {what}"),
        );
        let numeric_gamma = numerical_gradient(&weight, &weights, |gamma| {
            batch_norm_train(&x, Some(gamma), Some(&bias), eps)
                .unwrap()
                .output
                .to_vec()
        });
        assert_gradient(
            &grads.grad_weight.to_vec(),
            &numeric_gamma,
            &format!("dγ {what}"),
        );
        let numeric_beta = numerical_gradient(&bias, &weights, |beta| {
            batch_norm_train(&x, Some(&weight), Some(beta), eps)
                .unwrap()
                .output
                .to_vec()
        });
        assert_gradient(
            &grads.grad_bias.to_vec(),
            &numeric_beta,
            &format!("dβ {what}"),
        );
    }
}

#[test]
fn eval_backward_finite_differences() {
    let mut rng = Rng::seed_from(18);
    for (case, shape) in [
        vec![2, 3],
        vec![3, 2, 5],
        vec![2, 3, 2, 3],
        vec![1, 1, 1, 1],
    ]
    .into_iter()
    .enumerate()
    {
        let channels = shape[1];
        let x = input::<f64>(&shape, case % 3, 0.2, 1.0, &mut rng);
        let mean = channel_param::<f64>(channels, &mut rng, -1.0, 1.0);
        let var = channel_param::<f64>(channels, &mut rng, 0.5, 2.0);
        let weight = channel_param::<f64>(channels, &mut rng, 0.5, 1.5);
        let bias = channel_param::<f64>(channels, &mut rng, -1.0, 1.0);
        let weights: Vec<f64> = (0..x.numel()).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let grad_output = Tensor::from_vec(weights.clone(), &shape).unwrap();
        let grads =
            batch_norm_eval_backward(&grad_output, &x, &mean, &var, Some(&weight), 1e-5).unwrap();
        let forward = |x: &Tensor<f64>, gamma: &Tensor<f64>, beta: &Tensor<f64>| {
            batch_norm_eval(x, &mean, &var, Some(gamma), Some(beta), 1e-5)
                .unwrap()
                .to_vec()
        };
        let what = format!("{shape:?}");
        let numeric_x = numerical_gradient(&x, &weights, |x| forward(x, &weight, &bias));
        assert_gradient(
            &grads.grad_input.to_vec(),
            &numeric_x,
            &format!("dx {what}"),
        );
        let numeric_gamma =
            numerical_gradient(&weight, &weights, |gamma| forward(&x, gamma, &bias));
        assert_gradient(
            &grads.grad_weight.to_vec(),
            &numeric_gamma,
            &format!("dγ {what}"),
        );
        let numeric_beta = numerical_gradient(&bias, &weights, |beta| forward(&x, &weight, beta));
        assert_gradient(
            &grads.grad_bias.to_vec(),
            &numeric_beta,
            &format!("dβ {what}"),
        );
    }
}

// ---- thread-count independence -------------------------------------------------------------

#[test]
fn results_are_bit_identical_for_any_thread_count() {
    let mut rng = Rng::seed_from(19);
    // Both reduction layouts above the parallel threshold: long planes, and [N, C] rows.
    for shape in [vec![4, 6, 37, 41], vec![4099, 9]] {
        let channels = shape[1];
        let x = input::<f32>(&shape, 1, 3.0, 2.0, &mut rng);
        let weight = channel_param::<f32>(channels, &mut rng, 0.5, 1.5);
        let grad_output = Tensor::<f32>::randn(&shape, 0.0, 1.0, &mut rng);
        let run = || {
            let forward = batch_norm_train(&x, Some(&weight), None, 1e-5).unwrap();
            let grads = batch_norm_train_backward(
                &grad_output,
                &x,
                Some(&weight),
                &forward.mean,
                &forward.inverse_std,
            )
            .unwrap();
            let eval_grads = batch_norm_eval_backward(
                &grad_output,
                &x,
                &forward.mean,
                &forward.variance,
                None,
                1e-5,
            )
            .unwrap();
            [
                forward.output,
                forward.mean,
                forward.variance,
                grads.grad_input,
                grads.grad_weight,
                grads.grad_bias,
                eval_grads.grad_weight,
            ]
            .map(|t| t.to_vec().iter().map(|v| v.to_bits()).collect::<Vec<u32>>())
        };
        let single = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(run);
        for threads in [2, 3, 4] {
            let many = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(run);
            assert_eq!(single, many, "{shape:?} with {threads} threads");
        }
        // And the statistics are right.
        let (mean, variance) = reference::batch_statistics(&x);
        let result = batch_norm_train(&x, Some(&weight), None, 1e-5).unwrap();
        assert_close(&result.mean.to_vec(), &mean, 1e-6, "large mean");
        assert_close(&result.variance.to_vec(), &variance, 1e-6, "large variance");
    }
}

// ---- error paths ---------------------------------------------------------------------------

#[test]
fn errors_on_bad_arguments() {
    let x = Tensor::<f32>::zeros(&[2, 3, 4, 4]);
    let c3 = Tensor::<f32>::ones(&[3]);
    let c4 = Tensor::<f32>::ones(&[4]);
    // Wrong rank.
    let flat = Tensor::<f32>::zeros(&[5]);
    assert!(matches!(
        batch_norm_train(&flat, None, None, 1e-5),
        Err(TensorError::Rank { .. })
    ));
    assert!(matches!(
        batch_norm_eval(&flat, &c3, &c3, None, None, 1e-5),
        Err(TensorError::Rank { .. })
    ));
    // Channel mismatch of each per-channel tensor.
    is_invalid(batch_norm_train(&x, Some(&c4), None, 1e-5), "weight");
    is_invalid(batch_norm_train(&x, None, Some(&c4), 1e-5), "bias");
    is_invalid(
        batch_norm_eval(&x, &c4, &c3, None, None, 1e-5),
        "running_mean",
    );
    is_invalid(
        batch_norm_eval(&x, &c3, &c4, None, None, 1e-5),
        "running_var",
    );
    // Empty batch and a single value per channel in training.
    is_invalid(
        batch_norm_train(&Tensor::<f32>::zeros(&[0, 3, 4, 4]), None, None, 1e-5),
        "empty batch",
    );
    is_invalid(
        batch_norm_train(&Tensor::<f32>::zeros(&[1, 3, 1, 1]), None, None, 1e-5),
        "more than one value",
    );
    is_invalid(
        batch_norm_train(&Tensor::<f32>::zeros(&[2, 0, 4]), None, None, 1e-5),
        "empty",
    );
    // Bad eps.
    is_invalid(batch_norm_train(&x, None, None, -1.0), "eps");
    is_invalid(batch_norm_eval(&x, &c3, &c3, None, None, f64::NAN), "eps");
    // Backward: grad shape, statistics shape.
    let grad = Tensor::<f32>::zeros(&[2, 3, 4, 5]);
    assert!(matches!(
        batch_norm_train_backward(&grad, &x, None, &c3, &c3),
        Err(TensorError::ShapeMismatch { .. })
    ));
    is_invalid(batch_norm_train_backward(&x, &x, None, &c4, &c3), "mean");
    is_invalid(
        batch_norm_train_backward(&x, &x, None, &c3, &c4),
        "inverse_std",
    );
    is_invalid(
        batch_norm_train_backward(
            &Tensor::<f32>::zeros(&[0, 3]),
            &Tensor::zeros(&[0, 3]),
            None,
            &c3,
            &c3,
        ),
        "empty batch",
    );
    assert!(matches!(
        batch_norm_eval_backward(&grad, &x, &c3, &c3, None, 1e-5),
        Err(TensorError::ShapeMismatch { .. })
    ));
    // Running statistics: shapes, count, momentum, rank.
    let (mut mean, mut var) = (c3.clone(), c3.clone());
    assert!(matches!(
        update_running_statistics(&mut mean, &mut var, &c4, &c3, 10, 0.1),
        Err(TensorError::ShapeMismatch { .. })
    ));
    is_invalid(
        update_running_statistics(&mut mean, &mut var, &c3, &c3, 1, 0.1),
        "count",
    );
    is_invalid(
        update_running_statistics(&mut mean, &mut var, &c3, &c3, 10, 1.5),
        "momentum",
    );
    let (mut scalar_mean, mut scalar_var) =
        (Tensor::<f32>::scalar(0.0), Tensor::<f32>::scalar(1.0));
    let scalar = Tensor::<f32>::scalar(1.0);
    assert!(matches!(
        update_running_statistics(&mut scalar_mean, &mut scalar_var, &scalar, &scalar, 10, 0.1),
        Err(TensorError::Rank { .. })
    ));
    assert_eq!(
        mean.to_vec(),
        vec![1.0; 3],
        "a failed update must not change the running mean"
    );
}

#[test]
fn eval_accepts_an_empty_batch() {
    let c2 = Tensor::<f64>::ones(&[2]);
    let y = batch_norm_eval(
        &Tensor::<f64>::zeros(&[0, 2, 3, 3]),
        &c2,
        &c2,
        None,
        None,
        1e-5,
    )
    .unwrap();
    assert_eq!(y.shape(), &[0, 2, 3, 3]);
}
