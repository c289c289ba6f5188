//! Reductions against the plain reference (f64 accumulation), on every axis subset of small
//! shapes, views, shapes above the parallel threshold, f32 and f64; accuracy of large f32 sums;
//! bit-identical results in rayon pools of 1 and 2 threads; error paths.

use unravel_tensor::ops::reduce::reference;
use unravel_tensor::{Float, Rng, Tensor, TensorError};

/// Asserts `|got − expected| ≤ tolerance · scale` elementwise, where `scale` bounds the
/// condition of each result (Σ|x| for sums), and NaNs agree.
fn assert_within<E: Float>(
    got: &Tensor<E>,
    expected: &Tensor<E>,
    scale: &Tensor<E>,
    tolerance: f64,
    what: &str,
) {
    assert_eq!(got.shape(), expected.shape(), "{what}: shape");
    let scales = scale.to_vec();
    for (i, (g, e)) in got.to_vec().into_iter().zip(expected.to_vec()).enumerate() {
        if g.is_nan() || e.is_nan() {
            assert!(
                g.is_nan() && e.is_nan(),
                "{what}[{i}]: got {g}, expected {e}"
            );
            continue;
        }
        let bound = tolerance * (scales[i % scales.len()].to_f64().abs() + 1e-30);
        assert!(
            (g.to_f64() - e.to_f64()).abs() <= bound,
            "{what}[{i}]: got {g}, expected {e}, bound {bound}"
        );
    }
}

/// All subsets of `0..rank` as axis lists (in a scrambled order, to check order does not matter).
fn axis_subsets(rank: usize) -> Vec<Vec<usize>> {
    (0..1usize << rank)
        .map(|bits| (0..rank).rev().filter(|a| bits & (1 << a) != 0).collect())
        .collect()
}

fn inputs<E: Float>(shape: &[usize], rng: &mut Rng) -> Vec<(&'static str, Tensor<E>)> {
    let rank = shape.len();
    let mut out = vec![("contiguous", Tensor::<E>::randn(shape, 0.5, 1.0, rng))];
    let reversed: Vec<usize> = shape.iter().rev().copied().collect();
    let axes: Vec<usize> = (0..rank).rev().collect();
    out.push((
        "permuted",
        Tensor::<E>::randn(&reversed, 0.5, 1.0, rng)
            .permute(&axes)
            .unwrap(),
    ));
    let mut doubled = shape.to_vec();
    doubled[rank - 1] *= 2;
    let base = Tensor::<E>::randn(&doubled, 0.5, 1.0, rng);
    out.push((
        "stepped",
        base.slice(rank - 1, 0, doubled[rank - 1], 2).unwrap(),
    ));
    let mut collapsed = shape.to_vec();
    collapsed[0] = 1;
    out.push((
        "broadcast",
        Tensor::<E>::randn(&collapsed, 0.5, 1.0, rng)
            .broadcast_to(shape)
            .unwrap(),
    ));
    out
}

fn check_against_reference<E: Float>(shape: &[usize], axis_sets: &[Vec<usize>], seed: u64) {
    let mut rng = Rng::seed_from(seed);
    let eps = E::EPSILON.to_f64();
    for (view, x) in inputs::<E>(shape, &mut rng) {
        let x_abs = x.abs().unwrap();
        for axes in axis_sets {
            for keepdim in [false, true] {
                let what =
                    |op: &str| format!("{op} {shape:?}({view}) axes {axes:?} keepdim {keepdim}");
                let count: usize = axes.iter().map(|&a| shape[a]).product();
                let scale = reference::sum(&x_abs, axes, keepdim);
                let log_n = (count.max(2) as f64).log2();
                let sum_tolerance = 4.0 * eps * log_n.max(16.0);

                let got = x.sum(axes, keepdim).unwrap();
                assert_within(
                    &got,
                    &reference::sum(&x, axes, keepdim),
                    &scale,
                    sum_tolerance,
                    &what("sum"),
                );

                let mean_scale = scale.mul_scalar(E::ONE / E::from_usize(count)).unwrap();
                let got = x.mean(axes, keepdim).unwrap();
                assert_within(
                    &got,
                    &reference::mean(&x, axes, keepdim),
                    &mean_scale,
                    sum_tolerance,
                    &what("mean"),
                );

                for correction in [0, 1] {
                    if count > correction {
                        let expected = reference::var(&x, axes, keepdim, correction);
                        let var_scale = reference::mean(&x.mul(&x).unwrap(), axes, keepdim)
                            .mul_scalar(E::from_usize(count) / E::from_usize(count - correction))
                            .unwrap();
                        let got = x.var(axes, keepdim, correction).unwrap();
                        assert_within(
                            &got,
                            &expected,
                            &var_scale,
                            8.0 * sum_tolerance,
                            &what("var"),
                        );
                    }
                }

                let zero = Tensor::<E>::zeros(&[1]);
                let got = x.max(axes, keepdim).unwrap();
                assert_within(
                    &got,
                    &reference::max(&x, axes, keepdim),
                    &zero,
                    0.0,
                    &what("max"),
                );
                let got = x.min(axes, keepdim).unwrap();
                assert_within(
                    &got,
                    &reference::min(&x, axes, keepdim),
                    &zero,
                    0.0,
                    &what("min"),
                );
            }
        }
    }
}

#[test]
fn every_axis_subset_matches_reference() {
    check_against_reference::<f32>(&[2, 3, 5, 17], &axis_subsets(4), 1);
    check_against_reference::<f64>(&[2, 3, 5, 17], &axis_subsets(4), 2);
    check_against_reference::<f32>(&[7, 1, 9], &axis_subsets(3), 3);
    check_against_reference::<f64>(&[16, 33], &axis_subsets(2), 4);
    check_against_reference::<f32>(&[1], &axis_subsets(1), 5);
}

#[test]
fn large_shapes_take_the_parallel_paths() {
    let axes: Vec<Vec<usize>> = vec![
        vec![2],
        vec![1],
        vec![0],
        vec![0, 2],
        vec![0, 1, 2],
        vec![1, 2],
    ];
    check_against_reference::<f32>(&[3, 70, 401], &axes, 6);
    let per_channel: Vec<Vec<usize>> = vec![vec![0, 2, 3], vec![1, 2, 3], vec![0, 1]];
    check_against_reference::<f64>(&[8, 16, 33, 31], &per_channel, 7);
}

#[test]
fn rank_zero_and_whole_tensor() {
    let s = Tensor::<f32>::scalar(3.0);
    assert_eq!(s.sum(&[], false).unwrap().item().unwrap(), 3.0);
    assert_eq!(s.sum_all().unwrap().item().unwrap(), 3.0);
    assert_eq!(s.max(&[], true).unwrap().item().unwrap(), 3.0);
    let mut rng = Rng::seed_from(8);
    let x = Tensor::<f64>::randn(&[5, 7, 11], 0.0, 1.0, &mut rng);
    let all = x.sum_all().unwrap();
    assert_eq!(all.shape(), &[] as &[usize]);
    let expected: f64 = x.to_vec().iter().sum();
    approx::assert_relative_eq!(all.item().unwrap(), expected, max_relative = 1e-12);
    approx::assert_relative_eq!(
        x.mean_all().unwrap().item().unwrap(),
        expected / 385.0,
        max_relative = 1e-12
    );
    // An empty axis list reduces nothing (NumPy's `axis=()`).
    assert_eq!(x.sum(&[], false).unwrap().to_vec(), x.to_vec());
}

#[test]
fn empty_reductions() {
    let x = Tensor::<f32>::zeros(&[3, 0]);
    assert_eq!(x.sum(&[1], false).unwrap().to_vec(), vec![0.0; 3]);
    assert!(x
        .mean(&[1], false)
        .unwrap()
        .to_vec()
        .iter()
        .all(|v| v.is_nan()));
    assert_eq!(x.sum(&[0], true).unwrap().shape(), &[1, 0]);
    assert_eq!(x.max(&[0], false).unwrap().shape(), &[0]);
    assert!(matches!(
        x.max(&[1], false),
        Err(TensorError::InvalidArgument { op: "max", .. })
    ));
    assert!(matches!(
        x.min(&[1], false),
        Err(TensorError::InvalidArgument { op: "min", .. })
    ));
    assert!(matches!(
        x.argmax(1, false),
        Err(TensorError::InvalidArgument { op: "argmax", .. })
    ));
    assert!(x.sum_all().unwrap().item().unwrap() == 0.0);
}

#[test]
fn max_and_min_propagate_nan() {
    let x = Tensor::<f32>::from_vec(vec![1.0, f32::NAN, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
    let max = x.max(&[1], false).unwrap().to_vec();
    assert!(max[0].is_nan());
    assert_eq!(max[1], 6.0);
    assert!(x.min(&[0], false).unwrap().to_vec()[1].is_nan());
}

fn check_argmax<E: Float>(seed: u64) {
    let mut rng = Rng::seed_from(seed);
    for shape in [&[2, 3, 5, 17][..], &[33], &[4, 1], &[3, 70, 401]] {
        for (view, x) in inputs::<E>(shape, &mut rng) {
            // Few distinct values, so ties are common.
            let x = x.map(|v| E::from_f64((v.to_f64() * 2.0).round())).unwrap();
            for axis in 0..shape.len() {
                for keepdim in [false, true] {
                    let got = x.argmax(axis, keepdim).unwrap();
                    let expected = reference::argmax(&x, axis, keepdim);
                    assert_eq!(
                        got, expected,
                        "argmax {shape:?}({view}) axis {axis} keepdim {keepdim}"
                    );
                }
            }
        }
    }
    let x = Tensor::<E>::from_vec(
        [1.0, f64::NAN, 3.0, f64::NAN, 7.0, 7.0]
            .iter()
            .map(|&v| E::from_f64(v))
            .collect(),
        &[6],
    )
    .unwrap();
    assert_eq!(x.argmax(0, false).unwrap().as_slice(), &[1]);
    assert_eq!(
        x.narrow(0, 4, 2)
            .unwrap()
            .argmax(0, true)
            .unwrap()
            .as_slice(),
        &[0]
    );
}

#[test]
fn argmax_matches_reference_first_index_on_ties() {
    check_argmax::<f32>(9);
    check_argmax::<f64>(10);
}

/// A naive running f32 sum of 10⁷ × 0.1 drifts by more than 8 %; the cascade stays within a few
/// ulps of the f64 sum of the same f32 values.
#[test]
fn large_f32_sums_are_accurate() {
    let n = 10_000_000;
    let x = Tensor::<f32>::full(&[n], 0.1);
    let exact = 0.1f32 as f64 * n as f64;
    let naive: f32 = x.to_vec().iter().fold(0.0, |acc, &v| acc + v);
    assert!(
        ((naive as f64 - exact) / exact).abs() > 1e-2,
        "the naive sum should drift here"
    );
    let got = x.sum_all().unwrap().item().unwrap() as f64;
    assert!(
        ((got - exact) / exact).abs() < 1e-6,
        "cascade sum {got} vs {exact}"
    );

    let mut rng = Rng::seed_from(11);
    let x = Tensor::<f32>::rand_uniform(&[3_000_000], 0.0, 1.0, &mut rng);
    let exact: f64 = x.to_vec().iter().map(|&v| v as f64).sum();
    let got = x.sum(&[0], false).unwrap().item().unwrap() as f64;
    assert!(((got - exact) / exact).abs() < 1e-6, "{got} vs {exact}");

    // Per-channel sums (batch norm) and column sums: the run-combining path.
    let x = Tensor::<f32>::full(&[64, 2, 128, 128], 0.1);
    let exact = 0.1f32 as f64 * (64.0 * 128.0 * 128.0);
    for v in x.sum(&[0, 2, 3], false).unwrap().to_vec() {
        assert!(
            ((v as f64 - exact) / exact).abs() < 1e-6,
            "per-channel {v} vs {exact}"
        );
    }
    let x = Tensor::<f32>::full(&[1_000_000, 3], 0.1);
    let exact = 0.1f32 as f64 * 1e6;
    for v in x.sum(&[0], false).unwrap().to_vec() {
        assert!(
            ((v as f64 - exact) / exact).abs() < 1e-6,
            "column {v} vs {exact}"
        );
    }
}

#[test]
fn bit_identical_across_thread_counts() {
    let mut rng = Rng::seed_from(12);
    let x = Tensor::<f32>::randn(&[16, 8, 33, 65], 0.3, 2.0, &mut rng);
    let permuted = x.permute(&[0, 2, 1, 3]).unwrap();
    let run = || {
        let mut results: Vec<Vec<u32>> = Vec::new();
        let bits = |t: Tensor<f32>| t.to_vec().iter().map(|v| v.to_bits()).collect::<Vec<u32>>();
        results.push(bits(x.sum_all().unwrap()));
        for axes in [&[0, 2, 3][..], &[3], &[0], &[1, 2], &[0, 1, 2, 3]] {
            results.push(bits(x.sum(axes, false).unwrap()));
            results.push(bits(x.var(axes, false, 1).unwrap()));
            results.push(bits(permuted.mean(axes, true).unwrap()));
        }
        results.push(bits(
            x.add(&x.max(&[1], true).unwrap()).unwrap().exp().unwrap(),
        ));
        let argmax: Vec<u32> = x
            .argmax(2, false)
            .unwrap()
            .as_slice()
            .iter()
            .map(|&i| i as u32)
            .collect();
        results.push(argmax);
        results
    };
    let pool = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    };
    let single = pool(1).install(run);
    let double = pool(2).install(run);
    assert_eq!(single, double);
}

#[test]
fn sum_to_shape_undoes_broadcasting() {
    let mut rng = Rng::seed_from(13);
    let grad = Tensor::<f64>::randn(&[4, 3, 5, 7], 0.0, 1.0, &mut rng);
    let cases: &[(&[usize], &[usize])] = &[
        (&[1, 3, 1, 1], &[0, 2, 3]),
        (&[3, 1, 1], &[0, 2, 3]),
        (&[7], &[0, 1, 2]),
        (&[5, 1], &[0, 1, 3]),
        (&[4, 3, 5, 7], &[]),
        (&[], &[0, 1, 2, 3]),
        (&[1, 1, 1, 1], &[0, 1, 2, 3]),
    ];
    for &(shape, axes) in cases {
        let got = grad.sum_to_shape(shape).unwrap();
        assert_eq!(got.shape(), shape);
        let expected = reference::sum(&grad, axes, false);
        for (g, e) in got.to_vec().iter().zip(expected.to_vec()) {
            approx::assert_relative_eq!(*g, e, max_relative = 1e-12, epsilon = 1e-12);
        }
    }
    // Nothing broadcast: the gradient is passed through without a copy.
    let same = grad.sum_to_shape(&[4, 3, 5, 7]).unwrap();
    assert!(std::sync::Arc::ptr_eq(same.storage(), grad.storage()));
    for bad in [&[2, 3, 5, 7][..], &[3, 5], &[1, 4, 3, 5, 7]] {
        assert_eq!(
            grad.sum_to_shape(bad).unwrap_err(),
            TensorError::Broadcast {
                op: "sum_to_shape",
                lhs: bad.to_vec(),
                rhs: vec![4, 3, 5, 7]
            }
        );
    }
}

#[test]
fn axis_errors_name_the_op() {
    let x = Tensor::<f32>::zeros(&[2, 3]);
    for (op, result) in [
        ("sum", x.sum(&[2], false)),
        ("mean", x.mean(&[0, 5], true)),
        ("var", x.var(&[2], false, 0)),
        ("max", x.max(&[7], false)),
        ("min", x.min(&[2], false)),
    ] {
        assert!(
            matches!(result, Err(TensorError::AxisOutOfRange { op: o, rank: 2, .. }) if o == op),
            "{op}"
        );
    }
    assert!(matches!(
        x.argmax(2, false),
        Err(TensorError::AxisOutOfRange {
            op: "argmax",
            axis: 2,
            rank: 2
        })
    ));
    for (op, result) in [
        ("sum", x.sum(&[1, 1], false)),
        ("mean", x.mean(&[0, 1, 0], false)),
        ("var", x.var(&[1, 1], false, 0)),
        ("max", x.max(&[0, 0], false)),
        ("min", x.min(&[1, 1], false)),
    ] {
        match result {
            Err(TensorError::InvalidArgument { op: o, message }) => {
                assert_eq!(o, op);
                assert!(message.contains("twice"), "{message}");
            }
            other => panic!("{op}: expected a duplicate-axis error, got {other:?}"),
        }
    }
    // A broadcast view too large to materialise is refused when it is made (a ShapeOverflow,
    // not a panic), so no reduction ever sees one.
    assert!(matches!(
        Tensor::<f32>::zeros(&[1]).broadcast_to(&[usize::MAX / 4]),
        Err(TensorError::ShapeOverflow {
            op: "broadcast_to",
            ..
        })
    ));
    let error = x.var(&[0], false, 2).unwrap_err();
    assert!(
        matches!(error, TensorError::InvalidArgument { op: "var", .. }),
        "{error:?}"
    );
    assert!(x.var(&[0], false, 1).is_ok());
}
