//! Pooling: fast kernels against the plain references, finite-difference checks of every
//! backward kernel (f64), non-contiguous inputs, thread-count independence and error paths.

use approx::relative_eq;
use unravel_tensor::ops::pool::{
    avg_pool2d, avg_pool2d_backward, global_avg_pool2d, global_avg_pool2d_backward, max_pool2d,
    max_pool2d_backward, reference, Pool2dParams,
};
use unravel_tensor::{Float, Rng, Tensor, TensorError};

mod common;
use common::*;

// ---- helpers ------------------------------------------------------------------------------

fn assert_close<E: Float>(actual: &[E], expected: &[E], tolerance: f64, what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: lengths differ");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        let (a, e) = (a.to_f64(), e.to_f64());
        assert!(
            relative_eq!(a, e, epsilon = tolerance, max_relative = tolerance),
            "{what}: element {i}: {a} vs {e}"
        );
    }
}

/// A `[n, c, h, w]` tensor in one of three layouts: contiguous, permuted (channels-last storage)
/// or narrowed (a window of a wider tensor). Values are distinct and spaced apart (a shuffled
/// `0.1·k` plus small noise), so max pooling has no ties and survives finite differences.
fn input<E: Float>(shape: [usize; 4], layout: usize, rng: &mut Rng) -> Tensor<E> {
    let [n, c, h, w] = shape;
    let numel = n * c * h * w;
    let mut ranks: Vec<usize> = (0..numel).collect();
    rng.shuffle(&mut ranks);
    let values: Vec<E> = ranks
        .iter()
        .map(|&r| E::from_f64(0.1 * r as f64 - 0.05 * numel as f64 + rng.uniform(-0.01, 0.01)))
        .collect();
    let dense = Tensor::from_vec(values.clone(), &shape).unwrap();
    match layout {
        0 => dense,
        1 => {
            // Stored as [n, h, w, c], viewed as [n, c, h, w].
            let stored = dense.permute(&[0, 2, 3, 1]).unwrap().contiguous();
            let view = stored.permute(&[0, 3, 1, 2]).unwrap();
            assert!(!view.is_contiguous() || c == 1 || h * w == 1);
            view
        }
        _ => {
            // Columns 2..2+w of a [n, c, h, w + 3] tensor.
            let mut wide = vec![E::from_f64(1e6); n * c * h * (w + 3)];
            for (i, v) in values.iter().enumerate() {
                let (row, col) = (i / w, i % w);
                wide[row * (w + 3) + 2 + col] = *v;
            }
            Tensor::from_vec(wide, &[n, c, h, w + 3])
                .unwrap()
                .narrow(3, 2, w)
                .unwrap()
        }
    }
}

/// Random valid pooling problems: sizes 1, primes and odd sizes, all kernel/stride/padding mixes.
fn problems(rng: &mut Rng, count: usize) -> Vec<([usize; 4], Pool2dParams)> {
    const SIZES: [usize; 8] = [1, 2, 3, 5, 7, 8, 11, 13];
    (0..count)
        .map(|_| {
            let kernel = [1 + rng.below(4), 1 + rng.below(4)];
            let padding = [rng.below(kernel[0] / 2 + 1), rng.below(kernel[1] / 2 + 1)];
            let stride = [1 + rng.below(3), 1 + rng.below(3)];
            let h = SIZES[rng.below(SIZES.len())].max(kernel[0] - 2 * padding[0]);
            let w = SIZES[rng.below(SIZES.len())].max(kernel[1] - 2 * padding[1]);
            let shape = [1 + rng.below(3), [1, 2, 3, 5][rng.below(4)], h, w];
            (shape, Pool2dParams::new(kernel, stride, padding))
        })
        .collect()
}

fn random_weights(len: usize, rng: &mut Rng) -> Vec<f64> {
    (0..len).map(|_| rng.uniform(-1.0, 1.0)).collect()
}

// ---- forward against the references --------------------------------------------------------

fn check_forward<E: Float>(seed: u64) {
    let mut rng = Rng::seed_from(seed);
    let tolerance = if E::DTYPE == unravel_tensor::DType::F32 {
        1e-5
    } else {
        1e-12
    };
    for (case, (shape, params)) in problems(&mut rng, 60).into_iter().enumerate() {
        let x = input::<E>(shape, case % 3, &mut rng);
        let what = format!(
            "case {case}: shape {shape:?}, {params:?}, layout {}",
            case % 3
        );
        let (y, argmax) = max_pool2d(&x, params).unwrap();
        let (expected, expected_argmax) = reference::max_pool2d(&x, params).unwrap();
        assert_eq!(y.to_vec(), expected, "max_pool2d {what}");
        assert_eq!(
            argmax.as_slice(),
            &expected_argmax[..],
            "max_pool2d indices {what}"
        );
        assert_eq!(argmax.shape(), y.shape());
        for include_pad in [false, true] {
            let y = avg_pool2d(&x, params, include_pad).unwrap();
            let expected = reference::avg_pool2d(&x, params, include_pad).unwrap();
            assert_close(
                &y.to_vec(),
                &expected,
                tolerance,
                &format!("avg_pool2d({include_pad}) {what}"),
            );
        }
        let y = global_avg_pool2d(&x).unwrap();
        assert_eq!(y.shape(), &shape[..2]);
        assert_close(
            &y.to_vec(),
            &reference::global_avg_pool2d(&x).unwrap(),
            tolerance,
            &what,
        );
    }
}

#[test]
fn forward_matches_reference_f32() {
    check_forward::<f32>(1);
}

#[test]
fn forward_matches_reference_f64() {
    check_forward::<f64>(2);
}

#[test]
fn max_pool_semantics_by_hand() {
    // Ties: the first position in row-major order wins. Padding never wins, even over -1000.
    let x = Tensor::<f64>::from_vec(vec![-1000.0, -1000.0, 7.0, 7.0], &[1, 1, 2, 2]).unwrap();
    let (y, argmax) = max_pool2d(&x, Pool2dParams::square(2, 1, 1)).unwrap();
    assert_eq!(y.shape(), &[1, 1, 3, 3]);
    assert_eq!(
        y.to_vec(),
        vec![-1000.0, -1000.0, -1000.0, 7.0, 7.0, 7.0, 7.0, 7.0, 7.0]
    );
    assert_eq!(argmax.as_slice(), &[0, 0, 1, 2, 2, 3, 2, 2, 3]);
    // NaN propagates (as in PyTorch).
    let x = Tensor::<f32>::from_vec(vec![1.0, f32::NAN, 3.0, 2.0], &[1, 1, 2, 2]).unwrap();
    let (y, argmax) = max_pool2d(&x, Pool2dParams::square(2, 2, 0)).unwrap();
    assert!(y.to_vec()[0].is_nan());
    assert_eq!(argmax.as_slice(), &[1]);
}

#[test]
fn max_pool_ties_infinities_and_nans_match_reference() {
    // Values from {−∞, 0, 1, 2, NaN}: many ties, all-−∞ windows and NaNs, in both precisions.
    let mut rng = Rng::seed_from(8);
    for (case, (shape, params)) in problems(&mut rng, 40).into_iter().enumerate() {
        let choices = [f64::NEG_INFINITY, 0.0, 1.0, 2.0, f64::NAN];
        let values: Vec<f64> = (0..shape.iter().product::<usize>())
            .map(|_| {
                choices[if case % 2 == 0 {
                    rng.below(4)
                } else {
                    rng.below(5)
                }]
            })
            .collect();
        let x = Tensor::<f64>::from_vec(values, &shape).unwrap();
        let x32: Tensor<f32> = x.cast();
        let (expected, expected_argmax) = reference::max_pool2d(&x, params).unwrap();
        for (y, argmax) in [max_pool2d(&x, params).unwrap(), {
            let (y, argmax) = max_pool2d(&x32, params).unwrap();
            (y.cast(), argmax)
        }] {
            let what = format!("case {case}: {shape:?} {params:?}");
            assert_eq!(argmax.as_slice(), &expected_argmax[..], "{what}");
            for (a, e) in y.to_vec().iter().zip(&expected) {
                assert!(a == e || (a.is_nan() && e.is_nan()), "{what}: {a} vs {e}");
            }
        }
    }
}

#[test]
fn max_pool_long_rows_match_reference() {
    // Rows long enough for several blocks of the interior kernel, every stride path, with and
    // without a NaN in a later block.
    let mut rng = Rng::seed_from(9);
    for (stride, kernel, padding) in [(1, 3, 1), (2, 3, 1), (3, 5, 2), (2, 2, 0)] {
        for with_nan in [false, true] {
            let shape = [1, 2, 4, 301];
            let mut x = input::<f32>(shape, 0, &mut rng).to_vec();
            if with_nan {
                x[2 * 301 + 200] = f32::NAN;
            }
            let x = Tensor::from_vec(x, &shape).unwrap();
            let params = Pool2dParams::new([kernel; 2], [stride; 2], [padding; 2]);
            let (y, argmax) = max_pool2d(&x, params).unwrap();
            let (expected, expected_argmax) = reference::max_pool2d(&x, params).unwrap();
            assert_eq!(
                argmax.as_slice(),
                &expected_argmax[..],
                "{params:?} nan {with_nan}"
            );
            for (a, e) in y.to_vec().iter().zip(&expected) {
                assert!(
                    a == e || (a.is_nan() && e.is_nan()),
                    "{params:?}: {a} vs {e}"
                );
            }
        }
    }
}

#[test]
fn avg_pool_divisors_by_hand() {
    // 3×3 input of ones, kernel 3, stride 2, padding 1: every window holds 4 real elements out of 9.
    let x = Tensor::<f64>::ones(&[1, 1, 3, 3]);
    let params = Pool2dParams::square(3, 2, 1);
    assert_eq!(
        avg_pool2d(&x, params, true).unwrap().to_vec(),
        vec![4.0 / 9.0; 4]
    );
    assert_eq!(
        avg_pool2d(&x, params, false).unwrap().to_vec(),
        vec![1.0; 4]
    );
}

// ---- backward: finite differences (f64) and f32 consistency --------------------------------

#[test]
fn max_pool_backward_finite_differences() {
    let mut rng = Rng::seed_from(3);
    for (case, (shape, params)) in problems(&mut rng, 20).into_iter().enumerate() {
        let shape = [
            shape[0].min(2),
            shape[1].min(2),
            shape[2].min(7),
            shape[3].min(7),
        ];
        let shape = [
            shape[0],
            shape[1],
            shape[2].max(params.kernel[0]),
            shape[3].max(params.kernel[1]),
        ];
        let x = input::<f64>(shape, case % 3, &mut rng);
        let (y, argmax) = max_pool2d(&x, params).unwrap();
        let weights = random_weights(y.numel(), &mut rng);
        let grad_output = Tensor::from_vec(weights.clone(), y.shape()).unwrap();
        let analytic = max_pool2d_backward(&grad_output, &argmax, &shape).unwrap();
        let numeric =
            numerical_gradient(&x, &weights, |x| max_pool2d(x, params).unwrap().0.to_vec());
        assert_gradient(
            &analytic.to_vec(),
            &numeric,
            &format!("max_pool2d case {case} {shape:?} {params:?}"),
        );
    }
}

#[test]
fn avg_pool_backward_finite_differences() {
    let mut rng = Rng::seed_from(4);
    for (case, (shape, params)) in problems(&mut rng, 20).into_iter().enumerate() {
        let shape = [
            shape[0].min(2),
            shape[1].min(2),
            shape[2].min(7),
            shape[3].min(7),
        ];
        let shape = [
            shape[0],
            shape[1],
            shape[2].max(params.kernel[0]),
            shape[3].max(params.kernel[1]),
        ];
        let x = input::<f64>(shape, case % 3, &mut rng);
        for include_pad in [false, true] {
            let y = avg_pool2d(&x, params, include_pad).unwrap();
            let weights = random_weights(y.numel(), &mut rng);
            // A non-contiguous grad_output (a transposed copy viewed back).
            let grad_output = Tensor::from_vec(weights.clone(), y.shape())
                .unwrap()
                .transpose(2, 3)
                .unwrap()
                .contiguous()
                .transpose(2, 3)
                .unwrap();
            let analytic = avg_pool2d_backward(&grad_output, &shape, params, include_pad).unwrap();
            let numeric = numerical_gradient(&x, &weights, |x| {
                avg_pool2d(x, params, include_pad).unwrap().to_vec()
            });
            assert_gradient(
                &analytic.to_vec(),
                &numeric,
                &format!("avg_pool2d({include_pad}) case {case}"),
            );
        }
    }
}

#[test]
fn global_avg_pool_backward_finite_differences() {
    let mut rng = Rng::seed_from(5);
    for shape in [[1, 1, 1, 1], [2, 3, 5, 7], [3, 2, 1, 11]] {
        let x = input::<f64>(shape, 1, &mut rng);
        let weights = random_weights(shape[0] * shape[1], &mut rng);
        let grad_output = Tensor::from_vec(weights.clone(), &shape[..2]).unwrap();
        let analytic = global_avg_pool2d_backward(&grad_output, &shape).unwrap();
        let numeric = numerical_gradient(&x, &weights, |x| global_avg_pool2d(x).unwrap().to_vec());
        assert_gradient(
            &analytic.to_vec(),
            &numeric,
            &format!("global_avg_pool2d {shape:?}"),
        );
    }
}

#[test]
fn backward_f32_matches_f64() {
    let mut rng = Rng::seed_from(6);
    for (shape, params) in problems(&mut rng, 20) {
        let x = input::<f64>(shape, 0, &mut rng);
        let x32: Tensor<f32> = x.cast();
        let (y, argmax) = max_pool2d(&x, params).unwrap();
        let (_, argmax32) = max_pool2d(&x32, params).unwrap();
        assert_eq!(argmax, argmax32);
        let grad = Tensor::<f64>::randn(y.shape(), 0.0, 1.0, &mut rng);
        let grad32: Tensor<f32> = grad.cast();
        let expected = max_pool2d_backward(&grad, &argmax, &shape)
            .unwrap()
            .cast::<f32>();
        let actual = max_pool2d_backward(&grad32, &argmax32, &shape).unwrap();
        assert_close(
            &actual.to_vec(),
            &expected.to_vec(),
            1e-5,
            "max_pool2d_backward f32",
        );
        for include_pad in [false, true] {
            let expected = avg_pool2d_backward(&grad, &shape, params, include_pad)
                .unwrap()
                .cast::<f32>();
            let actual = avg_pool2d_backward(&grad32, &shape, params, include_pad).unwrap();
            assert_close(
                &actual.to_vec(),
                &expected.to_vec(),
                1e-5,
                "avg_pool2d_backward f32",
            );
        }
    }
}

// ---- large inputs: the parallel path, independent of the thread count ------------------------

#[test]
fn large_inputs_match_reference_for_any_thread_count() {
    let mut rng = Rng::seed_from(7);
    let shape = [2, 7, 47, 53]; // 34 874 elements: above the parallel threshold
    let x = input::<f32>(shape, 1, &mut rng);
    let params = Pool2dParams::square(3, 2, 1);
    let run = || {
        let (max, argmax) = max_pool2d(&x, params).unwrap();
        let avg = avg_pool2d(&x, params, true).unwrap();
        let global = global_avg_pool2d(&x).unwrap();
        let grad = Tensor::<f32>::ones(max.shape());
        let max_back = max_pool2d_backward(&grad, &argmax, &shape).unwrap();
        let avg_back = avg_pool2d_backward(&grad, &shape, params, false).unwrap();
        [
            max.to_vec(),
            avg.to_vec(),
            global.to_vec(),
            max_back.to_vec(),
            avg_back.to_vec(),
        ]
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
        for (a, b) in single.iter().zip(&many) {
            assert!(
                a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()),
                "{threads} threads differ"
            );
        }
    }
    let (expected, _) = reference::max_pool2d(&x, params).unwrap();
    assert_eq!(single[0], expected);
    assert_close(
        &single[1],
        &reference::avg_pool2d(&x, params, true).unwrap(),
        1e-5,
        "large avg_pool2d",
    );
    assert_close(
        &single[2],
        &reference::global_avg_pool2d(&x).unwrap(),
        1e-6,
        "large global_avg_pool2d",
    );
}

// ---- error paths ---------------------------------------------------------------------------

#[test]
fn errors_on_bad_arguments() {
    let x = Tensor::<f32>::zeros(&[1, 2, 5, 5]);
    let ok = Pool2dParams::square(2, 2, 0);
    // Wrong rank.
    let flat = Tensor::<f32>::zeros(&[2, 5, 5]);
    assert!(matches!(
        max_pool2d(&flat, ok),
        Err(TensorError::Rank { expected: 4, .. })
    ));
    assert!(matches!(
        avg_pool2d(&flat, ok, true),
        Err(TensorError::Rank { .. })
    ));
    assert!(matches!(
        global_avg_pool2d(&flat),
        Err(TensorError::Rank { .. })
    ));
    // Zero kernel, zero stride, padding above half the kernel, kernel larger than padded input.
    is_invalid(
        max_pool2d(&x, Pool2dParams::new([0, 2], [1, 1], [0, 0])),
        "kernel",
    );
    is_invalid(
        max_pool2d(&x, Pool2dParams::new([2, 2], [1, 0], [0, 0])),
        "stride",
    );
    is_invalid(
        avg_pool2d(&x, Pool2dParams::new([3, 3], [1, 1], [2, 0]), true),
        "padding",
    );
    is_invalid(
        max_pool2d(&x, Pool2dParams::square(8, 1, 1)),
        "larger than the padded input",
    );
    // Empty channel or spatial axis.
    is_invalid(
        global_avg_pool2d(&Tensor::<f32>::zeros(&[1, 2, 0, 3])),
        "empty",
    );
    // Backward: grad_output shape, indices shape, index range, input_shape rank.
    let (y, argmax) = max_pool2d(&x, ok).unwrap();
    let wrong_grad = Tensor::<f32>::zeros(&[1, 3, 2, 2]);
    is_invalid(
        max_pool2d_backward(&wrong_grad, &argmax, &[1, 2, 5, 5]),
        "does not match",
    );
    let wrong_indices = unravel_tensor::Indices::new(vec![0; 4], &[1, 1, 2, 2]).unwrap();
    assert!(matches!(
        max_pool2d_backward(&y, &wrong_indices, &[1, 2, 5, 5]),
        Err(TensorError::ShapeMismatch { .. })
    ));
    let out_of_range = unravel_tensor::Indices::new(vec![25; 8], &[1, 2, 2, 2]).unwrap();
    is_invalid(
        max_pool2d_backward(&y, &out_of_range, &[1, 2, 5, 5]),
        "out of range",
    );
    assert!(matches!(
        max_pool2d_backward(&y, &argmax, &[2, 5, 5]),
        Err(TensorError::Rank { .. })
    ));
    is_invalid(
        avg_pool2d_backward(&y, &[usize::MAX, 2, 5, 5], ok, true),
        "more elements than usize",
    );
    assert!(matches!(
        avg_pool2d_backward(&wrong_grad, &[1, 2, 5, 5], ok, true),
        Err(TensorError::ShapeMismatch { .. })
    ));
    is_invalid(
        avg_pool2d_backward(&y, &[1, 2, 5, 5], Pool2dParams::square(2, 0, 0), true),
        "stride",
    );
    assert!(matches!(
        global_avg_pool2d_backward(&Tensor::<f32>::zeros(&[1, 3]), &[1, 2, 5, 5]),
        Err(TensorError::ShapeMismatch { .. })
    ));
}

#[test]
fn empty_batch_gives_empty_output() {
    let x = Tensor::<f64>::zeros(&[0, 3, 4, 4]);
    let (y, argmax) = max_pool2d(&x, Pool2dParams::square(2, 2, 0)).unwrap();
    assert_eq!(y.shape(), &[0, 3, 2, 2]);
    assert_eq!(argmax.numel(), 0);
    assert_eq!(global_avg_pool2d(&x).unwrap().shape(), &[0, 3]);
}
