//! Softmax family and cross-entropy: against the plain references (explicit Jacobians for the
//! backward kernels), finite differences (f64), stability, non-contiguous inputs, thread-count
//! independence and error paths.

use unravel_tensor::ops::softmax::{
    cross_entropy, cross_entropy_backward, log_softmax, log_softmax_backward, reference, softmax,
    softmax_backward, Reduction,
};
use unravel_tensor::{DType, Float, Rng, Tensor, TensorError};

mod common;
use common::*;

// ---- helpers ------------------------------------------------------------------------------

fn tolerance<E: Float>() -> f64 {
    if E::DTYPE == DType::F32 {
        1e-5
    } else {
        1e-12
    }
}

/// Random shapes of rank 1 to 4 with sizes 1, primes and odd sizes.
fn shapes(rng: &mut Rng, count: usize) -> Vec<Vec<usize>> {
    const SIZES: [usize; 7] = [1, 2, 3, 5, 7, 10, 13];
    (0..count)
        .map(|i| {
            (0..1 + i % 4)
                .map(|_| SIZES[rng.below(SIZES.len())])
                .collect()
        })
        .collect()
}

/// A tensor of `shape` with values N(0, 3²): contiguous, reversed-axes view, or narrowed.
fn input<E: Float>(shape: &[usize], layout: usize, rng: &mut Rng) -> Tensor<E> {
    match layout {
        0 => Tensor::randn(shape, 0.0, 3.0, rng),
        1 => {
            let reversed: Vec<usize> = shape.iter().rev().cloned().collect();
            let axes: Vec<usize> = (0..shape.len()).rev().collect();
            Tensor::<E>::randn(&reversed, 0.0, 3.0, rng)
                .permute(&axes)
                .unwrap()
        }
        _ => {
            let mut wide = shape.to_vec();
            wide[0] += 2;
            Tensor::<E>::randn(&wide, 0.0, 3.0, rng)
                .narrow(0, 1, shape[0])
                .unwrap()
        }
    }
}

// ---- forward and backward against the references -------------------------------------------

fn check_against_reference<E: Float>(seed: u64) {
    let mut rng = Rng::seed_from(seed);
    for (case, shape) in shapes(&mut rng, 40).into_iter().enumerate() {
        let x = input::<E>(&shape, case % 3, &mut rng);
        let grad_output = input::<E>(&shape, (case + 1) % 3, &mut rng);
        for axis in 0..shape.len() {
            let what = format!(
                "case {case}: shape {shape:?} axis {axis} layout {}",
                case % 3
            );
            for log in [false, true] {
                let y = if log {
                    log_softmax(&x, axis)
                } else {
                    softmax(&x, axis)
                }
                .unwrap();
                let expected = reference::softmax(&x, axis, log).unwrap();
                assert_close(
                    &y.to_vec(),
                    &expected,
                    tolerance::<E>(),
                    &format!("log={log} {what}"),
                );
                let dx = if log {
                    log_softmax_backward(&y, &grad_output, axis)
                } else {
                    softmax_backward(&y, &grad_output, axis)
                }
                .unwrap();
                let expected = reference::softmax_backward(&x, &grad_output, axis, log).unwrap();
                assert_close(
                    &dx.to_vec(),
                    &expected,
                    tolerance::<E>() * 10.0,
                    &format!("backward log={log} {what}"),
                );
            }
        }
    }
}

#[test]
fn matches_reference_f32() {
    check_against_reference::<f32>(20);
}

#[test]
fn matches_reference_f64() {
    check_against_reference::<f64>(21);
}

#[test]
fn stable_for_large_logits() {
    let x = Tensor::<f32>::from_vec(vec![1e4, 1e4 - 1.0, -1e4, 88.0, 89.0, 90.0], &[2, 3]).unwrap();
    let y = softmax(&x, 1).unwrap().to_vec();
    let log_y = log_softmax(&x, 1).unwrap().to_vec();
    assert!(y.iter().chain(&log_y).all(|v| v.is_finite()));
    let e = 1f64.exp();
    assert!((y[0] as f64 - e / (e + 1.0)).abs() < 1e-6);
    assert_eq!(y[2], 0.0);
    assert!((log_y[2] as f64 + 2e4).abs() < 1.0); // ≈ −20000, not −∞
    let rows: Vec<f32> = y.chunks(3).map(|r| r.iter().sum()).collect();
    assert!(rows.iter().all(|s| (s - 1.0).abs() < 1e-6));
}

// ---- finite differences (f64) -------------------------------------------------------------

#[test]
fn backward_finite_differences() {
    let mut rng = Rng::seed_from(22);
    for (case, shape) in [vec![5], vec![3, 4], vec![2, 3, 5], vec![2, 1, 3, 2]]
        .into_iter()
        .enumerate()
    {
        let x = input::<f64>(&shape, case % 3, &mut rng);
        for axis in 0..shape.len() {
            let weights: Vec<f64> = (0..x.numel()).map(|_| rng.uniform(-1.0, 1.0)).collect();
            let grad_output = Tensor::from_vec(weights.clone(), &shape).unwrap();
            let y = softmax(&x, axis).unwrap();
            let analytic = softmax_backward(&y, &grad_output, axis).unwrap();
            let numeric = numerical_gradient(&x, &weights, |x| softmax(x, axis).unwrap().to_vec());
            assert_gradient(
                &analytic.to_vec(),
                &numeric,
                &format!("softmax {shape:?} axis {axis}"),
            );
            let y = log_softmax(&x, axis).unwrap();
            let analytic = log_softmax_backward(&y, &grad_output, axis).unwrap();
            let numeric =
                numerical_gradient(&x, &weights, |x| log_softmax(x, axis).unwrap().to_vec());
            assert_gradient(
                &analytic.to_vec(),
                &numeric,
                &format!("log_softmax {shape:?} axis {axis}"),
            );
        }
    }
}

#[test]
fn cross_entropy_finite_differences() {
    let mut rng = Rng::seed_from(23);
    for (n, c) in [(1, 1), (1, 4), (3, 5), (7, 2)] {
        let logits = Tensor::<f64>::randn(&[n, c], 0.0, 2.0, &mut rng);
        let targets: Vec<usize> = (0..n).map(|_| rng.below(c)).collect();
        for reduction in [Reduction::Mean, Reduction::Sum] {
            let grad_loss = rng.uniform(0.5, 2.0);
            let analytic = cross_entropy_backward(&logits, &targets, reduction, grad_loss).unwrap();
            let numeric = numerical_gradient(&logits, &[grad_loss], |x| {
                vec![cross_entropy(x, &targets, reduction)
                    .unwrap()
                    .item()
                    .unwrap()]
            });
            assert_gradient(
                &analytic.to_vec(),
                &numeric,
                &format!("[{n}, {c}] {reduction:?}"),
            );
        }
    }
}

// ---- cross-entropy against the reference ------------------------------------------------------

fn check_cross_entropy<E: Float>(seed: u64) {
    let mut rng = Rng::seed_from(seed);
    for (case, (n, c)) in [(1, 1), (2, 3), (5, 10), (13, 7), (64, 100)]
        .into_iter()
        .enumerate()
    {
        // Column-major logits viewed as [N, C]: a non-contiguous input on odd cases.
        let logits = if case % 2 == 1 {
            Tensor::<E>::randn(&[c, n], 0.0, 4.0, &mut rng)
                .transpose(0, 1)
                .unwrap()
        } else {
            Tensor::<E>::randn(&[n, c], 0.0, 4.0, &mut rng)
        };
        let targets: Vec<usize> = (0..n).map(|_| rng.below(c)).collect();
        let per_sample = reference::cross_entropy_per_sample(&logits, &targets).unwrap();
        let sum: f64 = per_sample.iter().sum();
        let loss = cross_entropy(&logits, &targets, Reduction::Sum).unwrap();
        assert!(loss.shape().is_empty(), "rank-0 loss");
        assert_close(&[loss.item().unwrap()], &[sum], tolerance::<E>(), "sum");
        let loss = cross_entropy(&logits, &targets, Reduction::Mean).unwrap();
        assert_close(
            &[loss.item().unwrap()],
            &[sum / n as f64],
            tolerance::<E>(),
            "mean",
        );
        // Gradient: (softmax − onehot)·g/N.
        let probabilities = reference::softmax(&logits, 1, false).unwrap();
        let expected: Vec<f64> = probabilities
            .iter()
            .enumerate()
            .map(|(i, p)| (p - if i % c == targets[i / c] { 1.0 } else { 0.0 }) * 2.0 / n as f64)
            .collect();
        let grad =
            cross_entropy_backward(&logits, &targets, Reduction::Mean, E::from_f64(2.0)).unwrap();
        assert_close(&grad.to_vec(), &expected, tolerance::<E>(), "gradient");
    }
}

#[test]
fn cross_entropy_matches_reference_f32() {
    check_cross_entropy::<f32>(24);
}

#[test]
fn cross_entropy_matches_reference_f64() {
    check_cross_entropy::<f64>(25);
}

#[test]
fn cross_entropy_by_hand() {
    // Logits (0, ln 3): probabilities (1/4, 3/4); losses ln 4 (target 0) and ln(4/3) (target 1).
    let logits = Tensor::<f64>::from_vec(vec![0.0, 3f64.ln(), 0.0, 3f64.ln()], &[2, 2]).unwrap();
    let loss = cross_entropy(&logits, &[0, 1], Reduction::Mean)
        .unwrap()
        .item()
        .unwrap();
    assert!((loss - (4f64.ln() + (4.0f64 / 3.0).ln()) / 2.0).abs() < 1e-15);
    let grad = cross_entropy_backward(&logits, &[0, 1], Reduction::Sum, 1.0)
        .unwrap()
        .to_vec();
    let expected = [-0.75, 0.75, 0.25, -0.25];
    assert!(
        grad.iter()
            .zip(expected)
            .all(|(g, e)| (g - e).abs() < 1e-15),
        "{grad:?}"
    );
}

// ---- thread-count independence -------------------------------------------------------------

#[test]
fn large_inputs_are_bit_identical_for_any_thread_count() {
    let mut rng = Rng::seed_from(26);
    let x = Tensor::<f32>::randn(&[67, 31, 17], 0.0, 3.0, &mut rng); // 35 309 elements
    let logits = Tensor::<f32>::randn(&[331, 101], 0.0, 3.0, &mut rng);
    let targets: Vec<usize> = (0..331).map(|_| rng.below(101)).collect();
    let run = || {
        let mut results = Vec::new();
        for axis in 0..3 {
            let y = softmax(&x, axis).unwrap();
            results.push(y.to_vec());
            results.push(softmax_backward(&y, &x, axis).unwrap().to_vec());
            let y = log_softmax(&x, axis).unwrap();
            results.push(log_softmax_backward(&y, &x, axis).unwrap().to_vec());
        }
        results.push(
            cross_entropy(&logits, &targets, Reduction::Mean)
                .unwrap()
                .to_vec(),
        );
        results.push(
            cross_entropy_backward(&logits, &targets, Reduction::Mean, 1.0)
                .unwrap()
                .to_vec(),
        );
        results
            .into_iter()
            .map(|r| r.iter().map(|v| v.to_bits()).collect::<Vec<u32>>())
            .collect::<Vec<_>>()
    };
    let single = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(run);
    for threads in [2, 3] {
        let many = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(run);
        assert_eq!(single, many, "{threads} threads");
    }
    for axis in 0..3 {
        let y = softmax(&x, axis).unwrap();
        assert_close(
            &y.to_vec(),
            &reference::softmax(&x, axis, false).unwrap(),
            1e-5,
            "large softmax",
        );
    }
}

// ---- error paths ---------------------------------------------------------------------------

#[test]
fn errors_on_bad_arguments() {
    let x = Tensor::<f32>::zeros(&[2, 3]);
    // Axis out of range.
    assert!(matches!(
        softmax(&x, 2),
        Err(TensorError::AxisOutOfRange {
            axis: 2,
            rank: 2,
            ..
        })
    ));
    assert!(matches!(
        log_softmax(&x, 5),
        Err(TensorError::AxisOutOfRange { .. })
    ));
    assert!(matches!(
        softmax_backward(&x, &x, 2),
        Err(TensorError::AxisOutOfRange { .. })
    ));
    // Backward shape mismatch.
    let other = Tensor::<f32>::zeros(&[3, 2]);
    assert!(matches!(
        softmax_backward(&x, &other, 1),
        Err(TensorError::ShapeMismatch { .. })
    ));
    assert!(matches!(
        log_softmax_backward(&x, &other, 1),
        Err(TensorError::ShapeMismatch { .. })
    ));
    // Cross-entropy: rank, length, empty batch, target range.
    let rank3 = Tensor::<f32>::zeros(&[2, 3, 1]);
    assert!(matches!(
        cross_entropy(&rank3, &[0, 0], Reduction::Mean),
        Err(TensorError::Rank { expected: 2, .. })
    ));
    is_invalid(cross_entropy(&x, &[0], Reduction::Mean), "targets");
    is_invalid(
        cross_entropy(&Tensor::<f32>::zeros(&[0, 3]), &[], Reduction::Mean),
        "empty batch",
    );
    is_invalid(cross_entropy(&x, &[0, 3], Reduction::Sum), "target 3");
    is_invalid(
        cross_entropy_backward(&x, &[0, 3], Reduction::Sum, 1.0),
        "target 3",
    );
    is_invalid(
        cross_entropy_backward(&x, &[0, 1, 2], Reduction::Mean, 1.0),
        "targets",
    );
    assert!(matches!(
        cross_entropy_backward(&rank3, &[0, 0], Reduction::Mean, 1.0),
        Err(TensorError::Rank { .. })
    ));
}
